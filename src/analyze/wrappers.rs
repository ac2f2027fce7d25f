//! Programs that run other commands: shells and `eval`, wrappers (`sudo`, `env`, `xargs`, …),
//! `find -exec`, `ssh HOST CMD`, `kubectl|docker exec`, command strings that programs run
//! for you (`GIT_SSH_COMMAND`, git `!` aliases; the others, from make's `--eval` to sed's
//! `e`, in `cmdstrings`, their little languages read in `scripts`), and interpreters' inline
//! code.
//!
//! Each found command is analysed like a command of the line itself, with a `Via` that says
//! how it was reached.

use super::walk::{Frame, State, Walker};
use super::{Arg, Command, FindingKind, Stdin, Via};

mod cmdstrings;
mod scripts;

/// Details of one simple command that only the walker saw.
pub(super) struct CmdCtx<'a> {
    /// For each argv word, the code of the substitutions it was made from.
    pub arg_subs: &'a [Vec<String>],
    /// argv positions filled by `<(…)`, and the program that produces their content.
    pub procsubs: &'a [(usize, Option<String>)],
}

/// Variables whose value some program runs as a command line.
pub(super) const COMMAND_STRING_VARS: &[&str] = &[
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "SUDO_EDITOR",
    "LESSOPEN",
    "LESSCLOSE",
    "PROMPT_COMMAND",
    "BASH_ENV",
    "ENV",
    "RSYNC_RSH",
    "RSYNC_CONNECT_PROG",
    "CVS_RSH",
    "SVN_SSH",
    "GIT_PROXY_COMMAND",
];

/// git configuration keys whose value git runs as a command line.
const GIT_COMMAND_KEYS: &[&str] = &[
    "core.sshcommand",
    "core.pager",
    "core.editor",
    "core.fsmonitor",
    "core.hookspath",
    "sequence.editor",
    "diff.external",
    "credential.helper",
    "gpg.program",
    "pager.",
];

const SHELLS: &[&str] = &[
    "bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "rbash",
];

/// Programs that fetch from the network: what they print is code nobody has read.
pub(super) fn is_fetcher(p: &str) -> bool {
    matches!(
        p,
        "curl"
            | "wget"
            | "fetch"
            | "http"
            | "https"
            | "xh"
            | "aria2c"
            | "lynx"
            | "links"
            | "nc"
            | "ncat"
            | "socat"
    )
}

/// Programs whose output is a transformation of input nobody sees here.
fn is_decoder(p: &str) -> bool {
    matches!(
        p,
        "base64"
            | "base32"
            | "basenc"
            | "xxd"
            | "openssl"
            | "gunzip"
            | "zcat"
            | "gzip"
            | "bzip2"
            | "bzcat"
            | "xz"
            | "xzcat"
            | "zstd"
            | "zstdcat"
            | "rev"
            | "tr"
            | "uudecode"
            | "od"
            | "python"
            | "python3"
            | "perl"
            | "ruby"
            | "node"
            | "awk"
            | "sed"
    )
}

/// How a wrapper program is read: which options take a value, how many operands come before
/// the command, and which options carry a whole command line.
struct WrapperSpec {
    names: &'static [&'static str],
    /// Options that take the next word as their value (short ones also glued: `-uroot`).
    value_opts: &'static [&'static str],
    /// Operands before the command (`timeout 10 CMD`, `chroot DIR CMD`).
    operands: usize,
    /// Options whose value is a shell command line (`su -c CMD`).
    string_opts: &'static [&'static str],
    /// Options that mean no command runs (`command -v`).
    no_run_opts: &'static [&'static str],
    /// `NAME=VALUE` words before the command are environment assignments (`env`).
    assignments: bool,
    /// The command's words are joined into one shell line (`watch`, `su`'s operands are not).
    joins: bool,
    /// Words after the options are not a command at all (`su USER`).
    no_argv: bool,
}

const fn spec(names: &'static [&'static str], value_opts: &'static [&'static str]) -> WrapperSpec {
    WrapperSpec {
        names,
        value_opts,
        operands: 0,
        string_opts: &[],
        no_run_opts: &[],
        assignments: false,
        joins: false,
        no_argv: false,
    }
}

/// The wrappers of policy.md (an open list: add a row to extend it).
static WRAPPERS: &[WrapperSpec] = &[
    WrapperSpec {
        no_run_opts: &[
            "-l",
            "--list",
            "-v",
            "--validate",
            "-k",
            "-K",
            "--remove-timestamp",
            "--reset-timestamp",
            "-V",
            "--version",
            "-e",
            "--edit",
        ],
        ..spec(
            &["sudo"],
            &[
                "-u",
                "--user",
                "-g",
                "--group",
                "-p",
                "--prompt",
                "-C",
                "--close-from",
                "-h",
                "--host",
                "-r",
                "--role",
                "-t",
                "--type",
                "-U",
                "--other-user",
                "-D",
                "--chdir",
                "-T",
                "--command-timeout",
                "-R",
                "--chroot",
            ],
        )
    },
    spec(&["doas"], &["-u", "-C"]),
    WrapperSpec {
        string_opts: &["-c", "--command", "--session-command"],
        no_argv: true,
        ..spec(
            &["su"],
            &[
                "-s",
                "--shell",
                "-g",
                "--group",
                "-G",
                "--supp-group",
                "-w",
                "--whitelist-environment",
            ],
        )
    },
    WrapperSpec {
        string_opts: &["-c", "--command", "--session-command"],
        ..spec(
            &["runuser"],
            &[
                "-u",
                "--user",
                "-g",
                "--group",
                "-G",
                "--supp-group",
                "-s",
                "--shell",
                "-w",
            ],
        )
    },
    WrapperSpec {
        assignments: true,
        // `env -S 'CMD ARGS'` splits the string into the command and its arguments.
        string_opts: &["-S", "--split-string"],
        ..spec(
            &["env"],
            &[
                "-u",
                "--unset",
                "-C",
                "--chdir",
                "--block-signal",
                "--default-signal",
                "--ignore-signal",
                "-a",
                "--argv0",
            ],
        )
    },
    WrapperSpec {
        no_run_opts: &["-v", "-V"],
        ..spec(&["command"], &[])
    },
    spec(
        &[
            "builtin",
            "nohup",
            "setsid",
            "unbuffer",
            "caffeinate",
            "dbus-run-session",
            "catchsegv",
            "proxychains",
            "proxychains4",
            "torsocks",
            "tsocks",
            "rlwrap",
            "faketime-never",
            "eatmydata",
            "fakeroot",
            "linux32",
            "linux64",
            "setarch-never",
        ],
        &[],
    ),
    spec(&["exec"], &["-a"]),
    spec(&["nice"], &["-n", "--adjustment"]),
    spec(&["time"], &["-f", "--format", "-o", "--output"]),
    spec(
        &["stdbuf"],
        &["-i", "--input", "-o", "--output", "-e", "--error"],
    ),
    spec(
        &["ionice"],
        &[
            "-c",
            "--class",
            "-n",
            "--classdata",
            "-p",
            "--pid",
            "-P",
            "--pgid",
            "-u",
            "--uid",
        ],
    ),
    WrapperSpec {
        operands: 1,
        ..spec(
            &["chrt"],
            &[
                "-T",
                "--sched-runtime",
                "-P",
                "--sched-period",
                "-D",
                "--sched-deadline",
            ],
        )
    },
    WrapperSpec {
        operands: 1,
        ..spec(&["taskset"], &[])
    },
    WrapperSpec {
        operands: 1,
        string_opts: &["-c", "--command"],
        ..spec(
            &["flock"],
            &["-w", "--wait", "--timeout", "-E", "--conflict-exit-code"],
        )
    },
    WrapperSpec {
        operands: 1,
        ..spec(
            &["timeout", "gtimeout"],
            &["-s", "--signal", "-k", "--kill-after"],
        )
    },
    WrapperSpec {
        joins: true,
        ..spec(
            &["watch"],
            &[
                "-n",
                "--interval",
                "-d",
                "-q",
                "--equexit",
                "-s",
                "--shotsfile",
            ],
        )
    },
    WrapperSpec {
        string_opts: &["-c", "--command"],
        no_argv: true,
        ..spec(
            &["script"],
            &[
                "-I",
                "--log-in",
                "-O",
                "--log-out",
                "-B",
                "--log-io",
                "-T",
                "--log-timing",
                "-t",
                "--timing",
                "-m",
                "--logging-format",
                "-E",
                "--echo",
            ],
        )
    },
    spec(&["busybox"], &[]),
    WrapperSpec {
        operands: 1,
        ..spec(&["chroot"], &["--userspec", "--groups"])
    },
    spec(
        &["nsenter"],
        &[
            "-t", "--target", "-S", "--setuid", "-G", "--setgid", "-r", "--root", "-w", "--wd",
        ],
    ),
    spec(
        &["strace", "ltrace"],
        &[
            "-o", "-e", "-p", "-s", "-u", "-a", "-E", "-O", "-P", "-S", "-X", "-b",
        ],
    ),
    spec(
        &["systemd-run"],
        &[
            "-u",
            "--unit",
            "-p",
            "--property",
            "--description",
            "--slice",
            "-E",
            "--setenv",
            "--uid",
            "--gid",
            "-M",
            "--machine",
            "--working-directory",
            "--on-calendar",
            "--on-active",
        ],
    ),
    spec(&["sshpass"], &["-p", "-f", "-d", "-e"]),
    spec(&["firejail", "bwrap"], &[]),
    spec(
        &["xvfb-run"],
        &[
            "-n",
            "--server-num",
            "-s",
            "--server-args",
            "-e",
            "--error-file",
            "-f",
            "--auth-file",
            "-p",
        ],
    ),
    spec(&["valgrind"], &[]),
    spec(&["dotenv", "op-run-never"], &["-f", "-e", "-c"]),
];

/// Two-word wrappers: `uv run CMD`, `bundle exec CMD`, …
static SUBCOMMAND_WRAPPERS: &[(&str, &str, &[&str])] = &[
    (
        "uv",
        "run",
        &[
            "--with",
            "--python",
            "-p",
            "--project",
            "--directory",
            "--env-file",
            "--group",
            "--extra",
            "--package",
            "--index",
            "--from",
        ],
    ),
    ("uvx", "", &["--with", "--python", "--from", "-p"]),
    // Package runners: judged by the tool they run (`npx cdk destroy`).
    (
        "npx",
        "",
        &["-p", "--package", "-c", "--call", "-w", "--workspace"],
    ),
    ("pnpx", "", &[]),
    ("bunx", "", &["-p", "--package"]),
    ("pnpm", "dlx", &["--package", "-C", "--dir"]),
    ("yarn", "dlx", &["-p", "--package"]),
    (
        "npm",
        "x",
        &["-c", "--call", "-w", "--workspace", "--package"],
    ),
    ("pipx", "run", &["--spec", "--python", "--pip-args"]),
    ("poetry", "run", &[]),
    ("pipenv", "run", &[]),
    ("pdm", "run", &[]),
    ("hatch", "run", &[]),
    ("bundle", "exec", &[]),
    ("pnpm", "exec", &["-C", "--dir", "--filter"]),
    ("yarn", "exec", &[]),
    (
        "npm",
        "exec",
        &["-c", "--call", "-w", "--workspace", "--package"],
    ),
    ("conda", "run", &["-n", "--name", "-p", "--prefix", "--cwd"]),
    ("mamba", "run", &["-n", "--name", "-p", "--prefix"]),
    ("micromamba", "run", &["-n", "--name", "-p", "--prefix"]),
    ("mise", "exec", &["-C", "--cd"]),
    ("rtx", "exec", &[]),
    ("asdf", "exec", &[]),
    ("direnv", "exec", &[]),
    ("nix", "shell", &[]),
    ("devbox", "run", &[]),
    ("aws-vault", "exec", &["-d", "--duration", "-r", "--region"]),
    ("op", "run", &["--env-file"]),
    ("doppler", "run", &["-p", "--project", "-c", "--config"]),
    ("infisical", "run", &["--env", "--path", "--projectId"]),
];

/// Environment set-up idioms that are `eval`ed by design (policy.md, "Never flagged").
const EVAL_IDIOMS: &[&str] = &[
    "ssh-agent",
    "minikube",
    "docker-machine",
    "direnv",
    "pyenv",
    "rbenv",
    "nodenv",
    "jenv",
    "goenv",
    "plenv",
    "brew",
    "starship",
    "zoxide",
    "fnm",
    "conda",
    "mamba",
    "micromamba",
    "opam",
    "dircolors",
    "gdircolors",
    "thefuck",
    "mise",
    "rtx",
    "keychain",
    "gpg-agent",
    "luarocks",
    "rustup",
    "pipenv",
    "poetry",
    "register-python-nodeconfig",
    "navi",
    "atuin",
    "mcfly",
    "fzf",
    "gh",
    "kubectl",
    "helm",
    "oh-my-posh",
    "nvm",
    "asdf",
    "devbox",
    "nix",
    "ruby",
    "chruby",
    "scmpuff",
    "hub",
    "aws",
    "gcloud",
    "pulumi",
    "direnv",
    "resize",
    "tset",
    "lesspipe",
    "lesspipe.sh",
    "locale",
    "dbus-launch",
];

/// Builtins and keywords the walker reads for their effect on the line or the code they run
/// (`cd`, `export`, `command`, …): a program that happens to have such a name is read the same
/// way.
const BUILTINS: &[&str] = &[
    ".",
    "alias",
    "builtin",
    "case",
    "cd",
    "command",
    "coproc",
    "declare",
    "do",
    "done",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "export",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "if",
    "in",
    "let",
    "local",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "read",
    "readarray",
    "readonly",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "then",
    "time",
    "trap",
    "typeset",
    "unalias",
    "unset",
    "until",
    "while",
];

/// Whether the analysis of a command run as `prog` reads more than its words as plain
/// arguments: a shell, a wrapper, an interpreter, a program whose arguments hold command
/// strings, or a name the walker treats as a builtin.
pub(super) fn reads_beyond_words(prog: &str) -> bool {
    SHELLS.contains(&prog)
        || BUILTINS.contains(&prog)
        || matches!(
            prog,
            "eval"
                | "source"
                | "trap"
                | "xargs"
                | "parallel"
                | "find"
                | "ssh"
                | "kubectl"
                | "oc"
                | "docker"
                | "podman"
                | "nerdctl"
                | "git"
                | "rg"
        )
        || super::interp::is_interpreter(prog)
        || WRAPPERS.iter().any(|w| w.names.contains(&prog))
        || SUBCOMMAND_WRAPPERS.iter().any(|(p, _, _)| *p == prog)
        || is_fetcher(prog)
        || is_decoder(prog)
        || cmdstrings::handles(prog)
}

impl Walker<'_> {
    /// Look inside a command that runs other commands.
    pub(super) fn unwrap(&mut self, cmd: &Command, cx: &CmdCtx, frame: &Frame, st: &State) {
        let Some(prog) = cmd.program() else { return };
        let prog = prog.to_string();
        let args = cmd.args();
        if SHELLS.contains(&prog.as_str()) {
            return self.shell(cmd, cx, frame, st);
        }
        match prog.as_str() {
            "eval" => return self.eval(cmd, cx, frame, st),
            "source" | "." => {
                // `. /dev/stdin <<EOF`: the script is the input, like `bash -s`.
                if let Some(first) = args.first() {
                    if matches!(
                        first.text.as_str(),
                        "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
                    ) {
                        let rest = &args[1..];
                        let pos =
                            (!rest.is_empty() && !rest.iter().any(|a| a.dynamic)).then(|| {
                                (
                                    st.scope.arg0.clone(),
                                    rest.iter().map(|a| a.text.clone()).collect(),
                                )
                            });
                        let mut sub = st.clone();
                        if !rest.is_empty() && pos.is_none() {
                            sub.scope.positional = None;
                        }
                        return self.stdin_script(cmd, frame, &sub, None, pos);
                    }
                    self.procsub_code(cmd, cx, 1, frame);
                }
                return;
            }
            "trap" => return self.trap(cmd, frame, st),
            "xargs" => return self.xargs(cmd, frame, st),
            "parallel" => return self.parallel(cmd, frame, st),
            "find" => return self.find_exec(cmd, frame, st),
            "ssh" => return self.ssh(cmd, frame, st),
            "kubectl" | "oc" => return self.container_exec(cmd, frame, st, true),
            "docker" | "podman" | "nerdctl" => return self.container_exec(cmd, frame, st, false),
            "git" => return self.git_strings(cmd, frame, st),
            p if cmdstrings::handles(p) => return self.command_strings(cmd, p, frame, st),
            "rg" => {
                if let Some(i) = args.iter().position(|a| a.text == "--pre") {
                    if let Some(p) = args.get(i + 1) {
                        self.nested_argv(
                            cmd,
                            vec![p.clone()],
                            Via::CommandString("rg --pre".into()),
                            frame,
                            st,
                        );
                    }
                }
                for a in args {
                    if let Some(p) = a.text.strip_prefix("--pre=") {
                        self.nested_argv(
                            cmd,
                            vec![Arg {
                                text: p.to_string(),
                                ..a.clone()
                            }],
                            Via::CommandString("rg --pre".into()),
                            frame,
                            st,
                        );
                    }
                }
                return;
            }
            _ => {}
        }
        if super::interp::is_interpreter(&prog) {
            return self.interpreter(cmd, &prog, cx, frame, st);
        }
        if let Some(spec) = WRAPPERS.iter().find(|w| w.names.contains(&prog.as_str())) {
            return self.wrapper(cmd, spec, frame, st);
        }
        for (p, sub, value_opts) in SUBCOMMAND_WRAPPERS {
            if *p == prog {
                let rest: &[Arg] = if sub.is_empty() {
                    args
                } else {
                    match args.first() {
                        Some(a) if a.text == *sub => &args[1..],
                        _ => continue,
                    }
                };
                let start = skip_options(rest, value_opts);
                if start < rest.len() {
                    let inner = rest[start..].to_vec();
                    self.nested_argv(
                        cmd,
                        inner,
                        Via::Wrapper(format!("{p} {sub}").trim().to_string()),
                        frame,
                        st,
                    );
                }
                return;
            }
        }
        // Any other program: its options that say they take a command.
        self.command_strings(cmd, &prog, frame, st);
    }

    /// Analyse `argv` as a command run by `outer`.
    pub(super) fn nested_argv(
        &mut self,
        outer: &Command,
        argv: Vec<Arg>,
        via: Via,
        frame: &Frame,
        st: &State,
    ) {
        if argv.is_empty() {
            return;
        }
        let mut f = frame.clone();
        f.via.push(via);
        let inner = Command {
            argv,
            env: Vec::new(),
            redirects: outer.redirects.clone(),
            stdin: outer.stdin.clone(),
            cwd: st.cwd.clone(),
            span: outer.span.clone(),
            via: f.via.clone(),
        };
        if inner.argv[0].dynamic && !inner.argv[0].text.is_empty() {
            // `xargs` input as a command name, for one.
        }
        if inner.program().is_none() {
            self.finding(
                FindingKind::DynamicProgram,
                outer.span.clone(),
                "the program to run is only known when the line runs",
            );
        }
        self.push(inner.clone());
        let no_subs: Vec<Vec<String>> = vec![Vec::new(); inner.argv.len()];
        let cx = CmdCtx {
            arg_subs: &no_subs,
            procsubs: &[],
        };
        self.unwrap(&inner, &cx, &f, st);
    }

    /// Analyse `code` as shell text run by `outer`.
    pub(super) fn nested_code(
        &mut self,
        outer: &Command,
        code: &Arg,
        via: Via,
        frame: &Frame,
        st: &State,
        positional: Option<(Option<String>, Vec<String>)>,
    ) {
        if code.dynamic {
            self.finding(
                FindingKind::DynamicCode,
                outer.span.clone(),
                "shell code only known when the line runs",
            );
            return;
        }
        let f = self.sub_frame(frame, &code.text, outer.span.clone(), via);
        let mut sub = st.clone();
        if let Some((arg0, pos)) = positional {
            sub.scope.arg0 = arg0;
            sub.scope.positional = Some(pos);
        }
        if outer.stdin != Stdin::Inherited {
            let start = self.out.commands.len();
            self.text(&code.text, &f, &mut sub);
            for c in &mut self.out.commands[start..] {
                if c.stdin == Stdin::Inherited {
                    c.stdin = outer.stdin.clone();
                }
            }
        } else {
            self.text(&code.text, &f, &mut sub);
        }
    }

    /// Code a shell or interpreter reads from its standard input.
    pub(super) fn stdin_code(
        &mut self,
        cmd: &Command,
        frame: &Frame,
        st: &State,
        lang: Option<&str>,
    ) {
        self.stdin_script(cmd, frame, st, lang, None)
    }

    /// `stdin_code`, with the positional parameters the script sees when they are known
    /// (`sh -s -- A B`, `. /dev/stdin A B`).
    fn stdin_script(
        &mut self,
        cmd: &Command,
        frame: &Frame,
        st: &State,
        lang: Option<&str>,
        positional: Option<(Option<String>, Vec<String>)>,
    ) {
        match &cmd.stdin {
            Stdin::Inherited => {}
            Stdin::Text(t) => {
                let arg = Arg::literal(t.clone());
                match lang {
                    None => self.nested_code(
                        cmd,
                        &arg,
                        Via::Heredoc(cmd.program().unwrap_or("sh").to_string()),
                        frame,
                        st,
                        positional,
                    ),
                    Some(l) => self.inline_code(cmd, l, &t.clone(), frame, st),
                }
            }
            Stdin::Program(Some(p)) if is_fetcher(p) => {
                self.finding(
                    FindingKind::RemoteCode,
                    cmd.span.clone(),
                    format!("code downloaded by `{p}` is run without being read"),
                );
            }
            Stdin::Program(Some(p)) if p == "cat" || p == "tee" || p == "head" || p == "tail" => {}
            Stdin::Found(_) => self.finding(
                FindingKind::DynamicCode,
                cmd.span.clone(),
                "file names printed by `find` are run as code",
            ),
            Stdin::Program(p) => {
                let from = p
                    .as_deref()
                    .map(|p| format!(" from `{p}`"))
                    .unwrap_or_default();
                if p.as_deref().is_none_or(is_decoder) || !matches!(p.as_deref(), Some("cat")) {
                    self.finding(
                        FindingKind::DynamicCode,
                        cmd.span.clone(),
                        format!("code produced at run time{from} is run without being read"),
                    );
                }
            }
        }
    }

    /// A file operand filled by `<(…)`: the code is whatever that list prints.
    pub(super) fn procsub_code(
        &mut self,
        cmd: &Command,
        cx: &CmdCtx,
        argv_index: usize,
        _frame: &Frame,
    ) -> bool {
        for (i, producer) in cx.procsubs {
            if *i == argv_index {
                match producer.as_deref() {
                    // `source <(kubectl completion bash)` and the like are set-up idioms.
                    Some(p) if EVAL_IDIOMS.contains(&p) => {}
                    Some(p) if is_fetcher(p) => self.finding(
                        FindingKind::RemoteCode,
                        cmd.span.clone(),
                        format!("code downloaded by `{p}` is run without being read"),
                    ),
                    _ => self.finding(
                        FindingKind::DynamicCode,
                        cmd.span.clone(),
                        "code produced at run time is run without being read",
                    ),
                }
                return true;
            }
        }
        false
    }

    fn shell(&mut self, cmd: &Command, cx: &CmdCtx, frame: &Frame, st: &State) {
        let args = cmd.args();
        let mut i = 0;
        let mut command_mode = false;
        let mut read_stdin = false;
        while i < args.len() {
            let a = &args[i].text;
            if a == "--" || a == "-" {
                i += 1;
                break;
            }
            if let Some(long) = a.strip_prefix("--") {
                if matches!(long, "rcfile" | "init-file") {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 && !args[i].dynamic {
                let flags = &a[1..];
                if a.starts_with('-') && flags.contains('c') {
                    command_mode = true;
                }
                if a.starts_with('-') && flags.contains('s') {
                    read_stdin = true;
                }
                if a.starts_with('-') && flags.contains('n') {
                    // noexec: the shell reads the code and runs none of it.
                    return;
                }
                // `-o opt`, `-O opt`: the option name is the next word.
                let takes = flags.chars().filter(|c| matches!(c, 'o' | 'O')).count();
                i += 1 + takes;
                continue;
            }
            break;
        }
        let operands = &args[i.min(args.len())..];
        if command_mode {
            let Some(code) = operands.first() else { return };
            let pos = if operands[1..].iter().any(|a| a.dynamic) {
                None
            } else {
                let name = operands.get(1).map(|a| a.text.clone());
                let rest = operands
                    .get(2..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|a| a.text.clone())
                    .collect();
                Some((name, rest))
            };
            let via = Via::ShellString(cmd.program().unwrap_or("sh").to_string());
            match pos {
                Some(p) => self.nested_code(cmd, code, via, frame, st, Some(p)),
                None => {
                    let mut sub = st.clone();
                    sub.scope.positional = None;
                    sub.scope.arg0 = None;
                    self.nested_code(cmd, code, via, frame, &sub, None)
                }
            }
            return;
        }
        if operands.is_empty() || read_stdin {
            // The script's `$1…` are the operands (`sh -s -- DIR <<EOF … "$1"`).
            let mut sub = st.clone();
            let pos = if operands.iter().any(|a| a.dynamic) {
                sub.scope.positional = None;
                None
            } else {
                Some((
                    Some(cmd.program().unwrap_or("sh").to_string()),
                    operands.iter().map(|a| a.text.clone()).collect(),
                ))
            };
            return self.stdin_script(cmd, frame, &sub, None, pos);
        }
        // `bash <(curl …)`: the script file is the output of a program.
        self.procsub_code(cmd, cx, i + 1, frame);
    }

    fn eval(&mut self, cmd: &Command, cx: &CmdCtx, frame: &Frame, st: &State) {
        let args = cmd.args();
        if args.is_empty() {
            return;
        }
        if args.iter().any(|a| a.dynamic) {
            // `eval "$(ssh-agent -s)"` and the other set-up idioms are routine.
            let idiom = args.iter().enumerate().all(|(i, a)| {
                if !a.dynamic {
                    return true;
                }
                let subs = cx.arg_subs.get(i + 1).map(Vec::as_slice).unwrap_or(&[]);
                !subs.is_empty() && subs.iter().all(|code| is_eval_idiom(code))
            });
            if !idiom {
                self.finding(
                    FindingKind::DynamicCode,
                    cmd.span.clone(),
                    "`eval` of text only known when the line runs",
                );
            }
            return;
        }
        let code = args
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.nested_code(cmd, &Arg::literal(code), Via::Eval, frame, st, None);
    }

    fn trap(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let Some(action) = args.first() else { return };
        if action.text.starts_with('-') && !action.dynamic {
            return;
        }
        if args.len() < 2 {
            return;
        }
        self.nested_code(cmd, action, Via::Trap, frame, st, None);
    }

    fn wrapper(&mut self, cmd: &Command, spec: &WrapperSpec, frame: &Frame, st: &State) {
        let args = cmd.args();
        let name = cmd.program().unwrap_or_default().to_string();
        let mut i = 0;
        let mut st2 = st.clone();
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if t == "-" && spec.assignments {
                // `env -` is `env -i`.
                i += 1;
                continue;
            }
            if spec.no_run_opts.contains(&t) || short_bundle_has(t, spec.no_run_opts) {
                return;
            }
            if let Some(n) = self.string_opt(cmd, args, i, spec, frame, st) {
                i += n;
                continue;
            }
            if let Some((opt, value)) = t.split_once('=') {
                // (`--command=CMD` was judged by `string_opt` above.)
                if opt.starts_with("--") {
                    i += 1;
                    continue;
                }
                if spec.assignments && !t.starts_with('-') {
                    let v = Arg {
                        text: value.to_string(),
                        ..a.clone()
                    };
                    self.note_command_string(opt, &v, &cmd.span, frame, st);
                    i += 1;
                    continue;
                }
            }
            if t.starts_with('-') && t.len() > 1 && !a.dynamic {
                if name == "env" && (t == "-C" || t == "--chdir") {
                    if let Some(d) = args.get(i + 1) {
                        st2.cwd = if d.dynamic {
                            None
                        } else {
                            super::paths::resolve(&d.text, st.cwd.as_deref())
                        };
                    }
                }
                if spec.value_opts.contains(&t) {
                    i += 2;
                } else if !t.starts_with("--")
                    && t.len() > 2
                    && spec
                        .value_opts
                        .iter()
                        .any(|v| v.len() == 2 && t.starts_with(v))
                {
                    // `-uroot`: value glued to a short option.
                    i += 1;
                } else {
                    i += 1;
                }
                continue;
            }
            break;
        }
        // Options after the operands still count where the wrapper takes them there:
        // `su deploy -c CMD`, `flock FILE -c CMD`, `script -q log -c CMD`.
        if !spec.string_opts.is_empty() {
            let mut j = if spec.no_argv { i } else { i + spec.operands };
            while j < args.len() {
                if let Some(n) = self.string_opt(cmd, args, j, spec, frame, st) {
                    j += n;
                } else if spec.no_argv || args[j].text.starts_with('-') {
                    j += 1;
                } else {
                    break;
                }
            }
        }
        if spec.no_argv {
            return;
        }
        let rest = &args[i.min(args.len())..];
        let rest = rest.get(spec.operands.min(rest.len())..).unwrap_or(&[]);
        if rest.is_empty() {
            return;
        }
        if spec.joins {
            // `watch` hands the words, joined, to `sh -c`; read them both ways, since the
            // quoting that kept a word whole is gone by then.
            let code = Arg::joined(rest);
            self.nested_code(cmd, &code, Via::Wrapper(name.clone()), frame, &st2, None);
        }
        self.nested_argv(cmd, rest.to_vec(), Via::Wrapper(name), frame, &st2);
    }

    /// A wrapper's option whose value is a command line, at `args[i]`: judged as code, and
    /// how many words it took. Also in a bundle of short options (`script -qc CMD`).
    fn string_opt(
        &mut self,
        cmd: &Command,
        args: &[Arg],
        i: usize,
        spec: &WrapperSpec,
        frame: &Frame,
        st: &State,
    ) -> Option<usize> {
        let a = &args[i];
        let t = a.text.as_str();
        if a.dynamic || !t.starts_with('-') {
            return None;
        }
        let name = cmd.program().unwrap_or_default().to_string();
        if let Some((opt, value)) = t.split_once('=') {
            if !opt.starts_with("--") || !spec.string_opts.contains(&opt) {
                return None;
            }
            let code = Arg {
                text: value.to_string(),
                ..a.clone()
            };
            self.nested_code(cmd, &code, Via::Wrapper(name), frame, st, None);
            return Some(1);
        }
        let bundled = !t.starts_with("--")
            && t.len() > 2
            && spec
                .string_opts
                .iter()
                .any(|o| o.len() == 2 && t.ends_with(&o[1..]));
        if !spec.string_opts.contains(&t) && !bundled {
            return None;
        }
        if let Some(code) = args.get(i + 1) {
            self.nested_code(cmd, code, Via::Wrapper(name), frame, st, None);
        }
        Some(2)
    }

    fn xargs(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        const VALUE: &[&str] = &[
            "-a",
            "--arg-file",
            "-d",
            "--delimiter",
            "-E",
            "-I",
            "-L",
            "-n",
            "--max-args",
            "-P",
            "--max-procs",
            "-s",
            "--max-chars",
            "--process-slot-var",
            "--replace",
            "--max-lines",
            "--eof",
        ];
        let mut i = 0;
        let mut replace: Option<String> = None;
        while i < args.len() {
            let t = args[i].text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if !t.starts_with('-') || t.len() == 1 {
                break;
            }
            if t == "-I" || t == "-J" {
                replace = args.get(i + 1).map(|a| a.text.clone());
                i += 2;
                continue;
            }
            if let Some(r) = t.strip_prefix("--replace=") {
                replace = Some(r.to_string());
            } else if t == "-i" || t == "--replace" {
                replace = Some("{}".into());
            } else if let Some(r) = t.strip_prefix("-I") {
                replace = Some(r.to_string());
            }
            i += if VALUE.contains(&t) { 2 } else { 1 };
        }
        let mut inner: Vec<Arg> = args[i.min(args.len())..].to_vec();
        if inner.is_empty() {
            return;
        }
        // What xargs reads is split and quoted its own way: always unknown here, even when a
        // literal is piped in (and the words may become a shell's code: `xargs sh -c`).
        // Names from `find START …` are entries reached from START, as with `-exec`.
        let found = match &cmd.stdin {
            Stdin::Found(places) if !places.is_empty() => Some(places.clone()),
            _ => None,
        };
        match replace {
            Some(r) if !r.is_empty() && inner.iter().any(|a| a.text.contains(&r)) => {
                let mut with = Vec::new();
                for a in std::mem::take(&mut inner) {
                    match &found {
                        Some(places) if a.text == r => with.extend(places.iter().cloned()),
                        _ if a.text.contains(&r) => with.push(Arg { dynamic: true, ..a }),
                        _ => with.push(a),
                    }
                }
                inner = with;
            }
            // Without the replacement string in the command, judge it as if the input were
            // appended: an over-reading that can only ask more.
            _ => match &found {
                Some(places) => inner.extend(places.iter().cloned()),
                None => inner.push(Arg::unknown()),
            },
        }
        if found.is_some() && is_remover(&inner) {
            // find hands rm every entry of the tree: as good as `rm -r`.
            inner.insert(1, Arg::literal("-r"));
        }
        let mut c = cmd.clone();
        c.stdin = Stdin::Inherited;
        self.nested_argv(&c, inner, Via::Wrapper("xargs".into()), frame, st);
    }

    fn parallel(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let sep = args
            .iter()
            .position(|a| a.text == ":::" || a.text == "::::" || a.text == ":::+");
        let (before, after) = match sep {
            Some(s) => (&args[..s], &args[s + 1..]),
            None => (args, &[][..]),
        };
        let start = skip_options(
            before,
            &[
                "-j",
                "--jobs",
                "-S",
                "--sshlogin",
                "--joblog",
                "-a",
                "--arg-file",
                "--delay",
                "--timeout",
                "--results",
                "--tmpdir",
                "--workdir",
                "-N",
                "-n",
                "--max-args",
                "-L",
                "-d",
                "--delimiter",
                "-I",
                "--colsep",
                "-C",
            ],
        );
        let command = &before[start.min(before.len())..];
        if command.is_empty() {
            // `parallel ::: 'cmd1' 'cmd2'`: the arguments are the commands.
            for a in after.iter().filter(|a| !a.text.starts_with(":::")) {
                self.nested_code(cmd, a, Via::Wrapper("parallel".into()), frame, st, None);
            }
            return;
        }
        // One run per input value, `{}` replaced or the value appended. After `::::` the
        // words are files the values are read from.
        let mut values: Vec<Arg> = Vec::new();
        let mut from_files = sep.is_some_and(|s| args[s].text == "::::");
        for a in after {
            match a.text.as_str() {
                ":::" | ":::+" => from_files = false,
                "::::" | "::::+" => from_files = true,
                _ if from_files => values.push(Arg::unknown()),
                _ => values.push(a.clone()),
            }
        }
        if values.is_empty() {
            values.push(Arg::unknown());
        }
        if let [template] = command {
            if template
                .text
                .contains(|c: char| c.is_whitespace() || ";|&<>$`".contains(c))
            {
                // A quoted template is a shell line, values quoted into it.
                for value in values.iter().take(16) {
                    let code = parallel_line(template, value);
                    self.nested_code(cmd, &code, Via::Wrapper("parallel".into()), frame, st, None);
                }
                return;
            }
        }
        for value in values.iter().take(16) {
            let mut argv = Vec::new();
            let mut used = false;
            for w in command {
                if w.text == "{}" {
                    argv.push(value.clone());
                    used = true;
                } else if w.text.contains("{}") {
                    used = true;
                    argv.push(Arg {
                        text: w.text.replace("{}", &value.text),
                        dynamic: w.dynamic || value.dynamic,
                        ..w.clone()
                    });
                } else {
                    argv.push(w.clone());
                }
            }
            if !used {
                argv.push(value.clone());
            }
            self.nested_argv(cmd, argv, Via::Wrapper("parallel".into()), frame, st);
        }
    }

    /// `find START … -exec CMD {} ;` and `-delete`: judged by START (policy.md). An
    /// unfiltered find reaches START itself; one filtered by name or path first reaches
    /// only entries below START.
    fn find_exec(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let starts: Vec<&Arg> = args
            .iter()
            .take_while(|a| {
                !(a.text.starts_with('-') || a.text == "(" || a.text == "!") || a.dynamic
            })
            .collect();
        let targets = |filtered: bool| find_targets(&starts, filtered);
        let mut filtered = false;
        let local = starts_here(&starts);
        let mut i = starts.len();
        while i < args.len() {
            let t = args[i].text.as_str();
            if FIND_FILTERS.contains(&t) || (local && is_local_filter(t)) {
                filtered = true;
            }
            if matches!(t, "-exec" | "-execdir" | "-ok" | "-okdir") {
                let end = args[i + 1..]
                    .iter()
                    .position(|a| a.text == ";" || a.text == "+")
                    .map(|p| i + 1 + p)
                    .unwrap_or(args.len());
                let reached = targets(filtered);
                let mut inner = Vec::new();
                for a in &args[i + 1..end] {
                    if a.text == "{}" {
                        inner.extend(reached.iter().cloned());
                    } else if a.text.contains("{}") {
                        inner.push(Arg {
                            dynamic: true,
                            ..a.clone()
                        });
                    } else {
                        inner.push(a.clone());
                    }
                }
                // find hands rm every entry of the tree: as good as `rm -r`.
                if is_remover(&inner) {
                    inner.insert(1, Arg::literal("-r"));
                }
                self.nested_argv(cmd, inner, Via::Wrapper("find -exec".into()), frame, st);
                i = end + 1;
                continue;
            }
            if t == "-delete" {
                let mut argv = vec![Arg::literal("rm"), Arg::literal("-r")];
                argv.extend(targets(filtered));
                self.nested_argv(cmd, argv, Via::Wrapper("find -delete".into()), frame, st);
            }
            if args[i].dynamic && !starts.iter().any(|s| std::ptr::eq(*s, &args[i])) {
                // A word only known at run time (`xargs find DIR -delete` appends one) may be
                // another start point.
                let mut argv = vec![Arg::literal("rm"), Arg::literal("-r"), Arg::unknown()];
                if args
                    .iter()
                    .any(|a| a.text == "-delete" || a.text.starts_with("-exec"))
                {
                    argv.truncate(3);
                    self.nested_argv(cmd, argv, Via::Wrapper("find -delete".into()), frame, st);
                }
            }
            if matches!(t, "-fprint" | "-fprint0" | "-fls" | "-fprintf") {
                // find truncates and writes these files itself.
                if let Some(file) = args.get(i + 1) {
                    let mut c = cmd.clone();
                    c.argv = Vec::new();
                    c.redirects = vec![super::Redirect {
                        kind: super::RedirectKind::Write,
                        target: file.clone(),
                    }];
                    self.push(c);
                }
            }
            i += 1 + find_operands(t);
        }
    }

    fn ssh(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        const VALUE: &[&str] = &[
            "-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O",
            "-o", "-p", "-Q", "-R", "-S", "-W", "-w",
        ];
        let mut i = 0;
        let mut opts: Vec<Arg> = Vec::new();
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if !t.starts_with('-') || t.len() == 1 {
                break;
            }
            // In a bundle, the first letter that takes a value takes the rest of the word
            // (`-oProxyCommand=…`, `-p22`) or, last, the next word (`-vp 22`).
            let mut takes_next = false;
            for (j, c) in t.char_indices().skip(1) {
                if VALUE.iter().any(|v| v.ends_with(c)) && !t.starts_with("--") {
                    let rest = &t[j + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        takes_next = true;
                        args.get(i + 1).cloned()
                    } else {
                        Some(Arg {
                            text: rest.to_string(),
                            ..a.clone()
                        })
                    };
                    if let (Some(v), 'o') = (value, c) {
                        opts.push(v);
                    }
                    break;
                }
            }
            i += if takes_next { 2 } else { 1 };
        }
        let host_name = args.get(i).map(|h| h.text.clone());
        self.ssh_config_options(cmd, &opts, host_name.as_deref(), frame, st);
        let Some(host) = args.get(i) else { return };
        let rest = &args[i + 1..];
        if rest.is_empty() {
            return self.stdin_code(cmd, frame, st, None);
        }
        let code = Arg::joined(rest);
        let mut remote = st.clone();
        remote.cwd = None;
        self.nested_code(
            cmd,
            &code,
            Via::Remote(host.text.clone()),
            frame,
            &remote,
            None,
        );
    }

    /// `kubectl exec POD -- CMD`, `docker exec CONTAINER CMD`.
    fn container_exec(&mut self, cmd: &Command, frame: &Frame, st: &State, kube: bool) {
        let args = cmd.args();
        let Some(pos) = args.iter().position(|a| a.text == "exec") else {
            return;
        };
        let rest = &args[pos + 1..];
        let inner: Vec<Arg> = if kube {
            match rest.iter().position(|a| a.text == "--") {
                Some(d) => rest[d + 1..].to_vec(),
                None => return,
            }
        } else {
            let start = skip_options(
                rest,
                &[
                    "-e",
                    "--env",
                    "--env-file",
                    "-u",
                    "--user",
                    "-w",
                    "--workdir",
                    "--detach-keys",
                ],
            );
            rest.get(start + 1..).unwrap_or(&[]).to_vec()
        };
        let mut remote = st.clone();
        remote.cwd = None;
        let name = cmd.program().unwrap_or_default().to_string();
        self.nested_argv(
            cmd,
            inner,
            Via::Remote(format!("{name} exec")),
            frame,
            &remote,
        );
    }

    /// git runs some configuration values as command lines.
    fn git_strings(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        // Configuration given for this one run: `-c k=v`, and the environment forms.
        let mut config: Vec<(String, Arg)> = Vec::new();
        for (name, value) in &cmd.env {
            if name == "GIT_CONFIG_PARAMETERS" {
                for part in value.text.split(['\'', ' ']).filter(|p| p.contains('=')) {
                    if let Some((k, v)) = part.split_once('=') {
                        config.push((
                            k.to_string(),
                            Arg {
                                text: v.to_string(),
                                ..value.clone()
                            },
                        ));
                    }
                }
            }
            if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
                let val = cmd
                    .env
                    .iter()
                    .find(|(k, _)| k.strip_prefix("GIT_CONFIG_VALUE_") == Some(n));
                if let Some((_, v)) = val {
                    config.push((value.text.clone(), v.clone()));
                }
            }
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if !t.starts_with('-') || a.dynamic {
                break;
            }
            let kv = if t == "-c" {
                i += 1;
                args.get(i).cloned()
            } else if let Some(rest) = t.strip_prefix("-c") {
                Some(Arg {
                    text: rest.to_string(),
                    ..a.clone()
                })
            } else {
                if matches!(
                    t,
                    "-C" | "--git-dir"
                        | "--work-tree"
                        | "--namespace"
                        | "--super-prefix"
                        | "--config-env"
                        | "--exec-path"
                        | "--list-cmds"
                ) && !t.contains('=')
                {
                    i += 1;
                }
                None
            };
            if let Some(kv) = kv {
                if let Some((k, v)) = kv.text.split_once('=') {
                    config.push((
                        k.to_string(),
                        Arg {
                            text: v.to_string(),
                            ..kv.clone()
                        },
                    ));
                }
            }
            i += 1;
        }
        for (k, v) in &config {
            self.git_value(cmd, k, v, frame, st);
        }
        // An alias given for this run stands for its expansion.
        if let Some(sub) = args.get(i) {
            let alias = config
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(&format!("alias.{}", sub.text)));
            if let Some((_, v)) = alias {
                if !v.text.starts_with('!') {
                    let mut argv = vec![cmd.argv[0].clone()];
                    argv.extend(v.text.split_whitespace().map(|w| Arg {
                        text: w.to_string(),
                        ..v.clone()
                    }));
                    argv.extend(args[i + 1..].iter().cloned());
                    self.nested_argv(
                        cmd,
                        argv,
                        Via::CommandString(format!("git alias {}", sub.text)),
                        frame,
                        st,
                    );
                }
            }
        }
        // `git config [--global] KEY VALUE`, `git rebase --exec CMD`
        let positionals: Vec<&Arg> = args[i.min(args.len())..].iter().collect();
        match positionals.first().map(|a| a.text.as_str()) {
            Some("config") => {
                let rest: Vec<&Arg> = positionals[1..]
                    .iter()
                    .copied()
                    .filter(|a| !a.text.starts_with('-'))
                    .collect();
                if let [k, v, ..] = rest.as_slice() {
                    self.git_value(cmd, &k.text, v, frame, st);
                }
            }
            Some("rebase") | Some("bisect") => {
                for (j, a) in positionals.iter().enumerate() {
                    if a.text == "--exec" || a.text == "-x" {
                        if let Some(code) = positionals.get(j + 1) {
                            self.nested_code(
                                cmd,
                                code,
                                Via::CommandString("git --exec".into()),
                                frame,
                                st,
                                None,
                            );
                        }
                    } else if let Some(code) = a.text.strip_prefix("--exec=") {
                        self.nested_code(
                            cmd,
                            &Arg {
                                text: code.to_string(),
                                ..(*a).clone()
                            },
                            Via::CommandString("git --exec".into()),
                            frame,
                            st,
                            None,
                        );
                    }
                }
                if positionals.first().map(|a| a.text.as_str()) == Some("bisect")
                    && positionals.get(1).map(|a| a.text.as_str()) == Some("run")
                {
                    let inner: Vec<Arg> = positionals[2..].iter().map(|a| (*a).clone()).collect();
                    self.nested_argv(cmd, inner, Via::Wrapper("git bisect run".into()), frame, st);
                }
            }
            Some(sub) => {
                let sub = sub.to_string();
                self.git_subcommand(cmd, &sub, &args[i + 1..], frame, st);
            }
            None => {}
        }
    }

    /// Subcommands that take a command line as an option or operands.
    fn git_subcommand(
        &mut self,
        cmd: &Command,
        sub: &str,
        rest: &[Arg],
        frame: &Frame,
        st: &State,
    ) {
        let (long, short): (&[&str], &[&str]) = match sub {
            "difftool" => (&["--extcmd"], &["-x"]),
            "filter-branch" => (
                &[
                    "--setup",
                    "--env-filter",
                    "--tree-filter",
                    "--index-filter",
                    "--parent-filter",
                    "--msg-filter",
                    "--commit-filter",
                    "--tag-name-filter",
                ],
                &[],
            ),
            // Local transports run these here (`git clone --upload-pack=CMD ./repo`).
            "clone" => (&["--upload-pack"], &["-u"]),
            "fetch" | "pull" | "ls-remote" => (&["--upload-pack"], &[]),
            "push" | "send-pack" => (&["--receive-pack", "--exec"], &[]),
            "archive" => (&["--exec"], &[]),
            "send-email" => (
                &["--sendmail-cmd", "--to-cmd", "--cc-cmd", "--header-cmd"],
                &[],
            ),
            "grep" => (&["--open-files-in-pager"], &[]),
            "submodule" => {
                let Some(f) = rest.iter().position(|a| a.text == "foreach") else {
                    return;
                };
                let start = f
                    + 1
                    + rest[f + 1..]
                        .iter()
                        .take_while(|a| a.text.starts_with('-'))
                        .count();
                if start < rest.len() {
                    let code = Arg::joined(&rest[start..]);
                    let via = Via::CommandString("git submodule foreach".into());
                    self.nested_code(cmd, &code, via, frame, st, None);
                }
                return;
            }
            _ => return,
        };
        let mut values = cmdstrings::option_values(rest, long, short);
        if sub == "grep" {
            // `-O` takes its value glued only (alone it means the pager).
            values.extend(rest.iter().filter_map(|a| {
                let v = a.text.strip_prefix("-O").filter(|v| !v.is_empty())?;
                Some(Arg {
                    text: v.to_string(),
                    ..a.clone()
                })
            }));
        }
        for v in values {
            let via = Via::CommandString(format!("git {sub}"));
            self.nested_code(cmd, &v, via, frame, st, None);
        }
    }

    fn git_value(&mut self, cmd: &Command, key: &str, value: &Arg, frame: &Frame, st: &State) {
        let k = key.to_ascii_lowercase();
        let via = Via::CommandString(format!("git {key}"));
        if k.starts_with("alias.") {
            if let Some(code) = value.text.strip_prefix('!') {
                let code = Arg {
                    text: code.to_string(),
                    ..value.clone()
                };
                self.nested_code(cmd, &code, via, frame, st, None);
            }
            return;
        }
        if GIT_COMMAND_KEYS
            .iter()
            .any(|g| k == *g || (g.ends_with('.') && k.starts_with(g)))
        {
            self.nested_code(cmd, value, via, frame, st, None);
        }
    }
}

/// GNU parallel's command line for one value: `{}` is the value, shell-quoted; the other
/// replacement strings (`{.}`, `{/}`, `{1}`, …) are parts of it, known only when it runs.
fn parallel_line(template: &Arg, value: &Arg) -> Arg {
    const UNKNOWN: &str = "${__parallel_value__}";
    let quoted = if value.dynamic {
        UNKNOWN.to_string()
    } else {
        shlex::try_quote(&value.text)
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| UNKNOWN.to_string())
    };
    let t = &template.text;
    let mut line = String::new();
    let mut used = false;
    let mut rest = t.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        let Some(close) = close else { break };
        let inner = &rest[open + 1..close];
        let replacement = inner.is_empty()
            || inner
                .chars()
                .all(|c| c.is_ascii_digit() || "./#%".contains(c));
        line.push_str(&rest[..open]);
        if !replacement {
            line.push_str(&rest[open..=close]);
        } else if inner.is_empty() {
            line.push_str(&quoted);
        } else {
            line.push_str(UNKNOWN);
        }
        used |= replacement;
        rest = &rest[close + 1..];
    }
    line.push_str(rest);
    if !used {
        line.push(' ');
        line.push_str(&quoted);
    }
    Arg {
        text: line,
        dynamic: template.dynamic,
        glob: false,
        quoted: true,
    }
}

/// Whether `argv` runs a program that deletes the files it is given.
pub(super) fn is_remover(argv: &[Arg]) -> bool {
    argv.first()
        .is_some_and(|p| matches!(p.text.rsplit('/').next(), Some("rm" | "unlink" | "shred")))
}

/// The places a `find` with these arguments reaches, as operands for what it hands them to:
/// each START (`.` when none), or the entries below it when a name or path test filters
/// them; unknown when START is only known at run time.
pub(super) fn find_reaches(args: &[Arg]) -> Vec<Arg> {
    let starts: Vec<&Arg> = args
        .iter()
        .take_while(|a| !(a.text.starts_with('-') || a.text == "(" || a.text == "!") || a.dynamic)
        .collect();
    let local = starts_here(&starts);
    let filtered = args
        .iter()
        .any(|a| FIND_FILTERS.contains(&a.text.as_str()) || (local && is_local_filter(&a.text)));
    find_targets(&starts, filtered)
}

/// Whether every place a find starts from is the working directory or below it (`.`,
/// `src`): there, a test on what an entry is (its size, owner, age) leaves the project's
/// tree itself alone, while in the home directory or a system one it may reach everything.
fn starts_here(starts: &[&Arg]) -> bool {
    starts
        .iter()
        .all(|s| !s.dynamic && !s.text.starts_with('/') && !s.text.split('/').any(|c| c == ".."))
}

/// What `find` from `starts` hands on: each START itself, or, `filtered` by a name or path
/// test, only entries below it; unknown when a START is only known at run time.
pub(super) fn find_targets(starts: &[&Arg], filtered: bool) -> Vec<Arg> {
    let target = |s: Option<&Arg>| -> Arg {
        match s {
            Some(s) if s.dynamic => Arg::unknown(),
            Some(s) if filtered => Arg::literal(format!(
                "{}{}",
                s.text.trim_end_matches('/'),
                super::paths::FIND_FILTERED
            )),
            Some(s) => Arg::literal(s.text.clone()),
            None if filtered => Arg::literal(format!(".{}", super::paths::FIND_FILTERED)),
            None => Arg::literal("."),
        }
    };
    if starts.is_empty() {
        vec![target(None)]
    } else {
        starts.iter().map(|s| target(Some(s))).collect()
    }
}

/// find tests that narrow what a find reaches to a few chosen entries, wherever it starts: by
/// name or path, one inode, empty files and directories.
const FIND_FILTERS: &[&str] = &[
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-regex",
    "-iregex",
    "-wholename",
    "-iwholename",
    "-lname",
    "-ilname",
    "-inum",
    "-samefile",
    "-empty",
];

/// A find test on what an entry is, which filters a find that starts in the working
/// directory (see `starts_here`).
fn is_local_filter(test: &str) -> bool {
    FIND_LOCAL_FILTERS.contains(&test) || (test.starts_with("-newer") && test.len() == 8)
}

const FIND_LOCAL_FILTERS: &[&str] = &[
    "-links", "-size", "-user", "-group", "-uid", "-gid", "-nouser", "-nogroup", "-perm", "-newer",
    "-anewer", "-cnewer", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-used",
    "-fstype", "-context",
];

/// How many words a find primary takes after itself.
fn find_operands(primary: &str) -> usize {
    match primary {
        "-name" | "-iname" | "-path" | "-ipath" | "-regex" | "-iregex" | "-wholename"
        | "-iwholename" | "-lname" | "-ilname" | "-type" | "-xtype" | "-user" | "-group"
        | "-uid" | "-gid" | "-perm" | "-size" | "-mtime" | "-mmin" | "-atime" | "-amin"
        | "-ctime" | "-cmin" | "-newer" | "-anewer" | "-cnewer" | "-maxdepth" | "-mindepth"
        | "-fprint" | "-fprint0" | "-fls" | "-printf" | "-samefile" | "-inum" | "-links"
        | "-used" | "-context" | "-fstype" | "-regextype" | "-files0-from" => 1,
        "-fprintf" => 2,
        p if p.starts_with("-newer") && p.len() == 8 => 1,
        _ => 0,
    }
}

fn is_eval_idiom(code: &str) -> bool {
    // The program word as the shell reads it: `conda run` writes `'/opt/conda/bin/conda'`.
    let words =
        shlex::split(code).unwrap_or_else(|| code.split_whitespace().map(str::to_string).collect());
    let first = words.first().map(String::as_str).unwrap_or("");
    let first = first.rsplit('/').next().unwrap_or(first);
    EVAL_IDIOMS.contains(&first)
}

/// Whether a short-option bundle (`-pv`) holds one of `opts` (`-v`).
fn short_bundle_has(word: &str, opts: &[&str]) -> bool {
    word.len() > 2
        && word.starts_with('-')
        && !word.starts_with("--")
        && opts
            .iter()
            .any(|o| o.len() == 2 && o.starts_with('-') && word[1..].contains(&o[1..]))
}

/// Index of the first word after a run of options (`-x`, `--flag`, `--opt VALUE`).
fn skip_options(args: &[Arg], value_opts: &[&str]) -> usize {
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "--" {
            return i + 1;
        }
        if !t.starts_with('-') || t.len() == 1 || args[i].dynamic {
            return i;
        }
        i += if value_opts.contains(&t) { 2 } else { 1 };
    }
    i
}
