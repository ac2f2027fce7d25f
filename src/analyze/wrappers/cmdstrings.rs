//! Programs told on their command line to run another command for you: make's `--eval`,
//! tar's `--to-command` and compressors, sed's `e`, ssh's `ProxyCommand`, rsync's `-e`,
//! scp's `-S`, vim's `-c '!cmd'`, less's `+!cmd`, expect's `spawn`, zip's `-TT`,
//! package-runner deleters (`rimraf`), and any `--*-command=` option. What they run is
//! analysed like a command of the line; what cannot be known is a dynamic-code finding.

use super::super::walk::{Frame, State, Walker};
use super::super::{Arg, Command, FindingKind, Stdin, Via};
use super::scripts::{self, Run};

/// A value taken from within a word (`--opt=VALUE`), keeping what is known of the word.
fn part(of: &Arg, text: &str) -> Arg {
    Arg {
        text: text.to_string(),
        ..of.clone()
    }
}

/// The values of options among `args` (up to `--`): `--long=V`, `--long V`, `-s V`, `-sV`.
pub(in crate::analyze) fn option_values(args: &[Arg], long: &[&str], short: &[&str]) -> Vec<Arg> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let t = a.text.as_str();
        if t == "--" {
            break;
        }
        if let Some((opt, v)) = t.split_once('=').filter(|(o, _)| o.starts_with("--")) {
            if long.contains(&opt) {
                found.push(part(a, v));
            }
        } else if long.contains(&t) || short.contains(&t) {
            if let Some(v) = args.get(i + 1) {
                found.push(v.clone());
            }
            i += 1;
        } else if let Some(s) = short
            .iter()
            .find(|s| !t.starts_with("--") && t.len() > 2 && t.starts_with(*s))
        {
            found.push(part(a, &t[s.len()..]));
        }
        i += 1;
    }
    found
}

/// Programs whose options hold data (text, patterns, SQL), never a command of this machine.
const DATA_PROGRAMS: &[&str] = &[
    "echo",
    "printf",
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "ag",
    "ack",
    "git",
    "jq",
    "yq",
    "logger",
    "notify-send",
    "mysql",
    "mariadb",
    "psql",
    "sqlite3",
    "sed",
    "awk",
    "cat",
    "tee",
    "man",
    "help",
    "info",
    "shellguard",
    "[",
    "test",
    "expr",
    "curl",
    "wget",
    "gh",
    "glab",
    "gdb",
    "lldb",
];

/// Deleters fetched by package runners or installed: judged as `rm -rf PATH…`.
const DELETERS: &[&str] = &["rimraf", "rmrf", "del-cli", "premove"];

pub(in crate::analyze) fn handles(prog: &str) -> bool {
    DELETERS.contains(&prog)
        || matches!(
            prog,
            "make"
                | "gmake"
                | "tar"
                | "gtar"
                | "bsdtar"
                | "sed"
                | "gsed"
                | "vim"
                | "vi"
                | "nvim"
                | "view"
                | "ex"
                | "gvim"
                | "vimdiff"
                | "rvim"
                | "ed"
                | "less"
                | "man"
                | "expect"
                | "tclsh"
                | "wish"
                | "zip"
                | "rsync"
                | "scp"
                | "sftp"
                | "entr"
                | "fd"
                | "fdfind"
        )
}

impl Walker<'_> {
    /// Judge what a program reads from its command line as commands to run.
    pub(in crate::analyze) fn command_strings(
        &mut self,
        cmd: &Command,
        prog: &str,
        frame: &Frame,
        st: &State,
    ) {
        let args = cmd.args();
        match prog {
            "make" | "gmake" => self.make(cmd, frame, st),
            "tar" | "gtar" | "bsdtar" => self.tar(cmd, frame, st),
            "sed" | "gsed" => self.sed(cmd, frame, st),
            "vim" | "vi" | "nvim" | "view" | "ex" | "gvim" | "vimdiff" | "rvim" => {
                self.vim(cmd, frame, st)
            }
            "ed" => {
                if let Stdin::Text(t) = &cmd.stdin {
                    let runs = t.lines().flat_map(scripts::ex_runs).collect();
                    self.judge_runs(cmd, runs, &Arg::literal(""), "ed", frame, st);
                }
            }
            "less" => {
                for a in args.iter().filter(|a| a.text.starts_with('+')) {
                    let runs = scripts::less_runs(&a.text);
                    self.judge_runs(cmd, runs, a, "less +", frame, st);
                }
            }
            "man" => {
                for v in option_values(args, &["--pager"], &["-P"]) {
                    self.code_value(cmd, &v, "man --pager", frame, st);
                }
            }
            "expect" | "tclsh" | "wish" => self.expect(cmd, frame, st),
            "zip" => {
                for v in option_values(args, &["--unzip-command"], &["-TT"]) {
                    self.code_value(cmd, &v, "zip -TT", frame, st);
                }
            }
            "rsync" => self.rsync(cmd, frame, st),
            "scp" | "sftp" => self.scp(cmd, prog, frame, st),
            "entr" => self.entr(cmd, frame, st),
            "fd" | "fdfind" => self.fd(cmd, frame, st),
            p if DELETERS.contains(&p) => self.deleter(cmd, frame, st),
            _ => self.command_options(cmd, prog, frame, st),
        }
    }

    fn code_value(&mut self, cmd: &Command, code: &Arg, via: &str, frame: &Frame, st: &State) {
        self.nested_code(
            cmd,
            code,
            Via::CommandString(via.to_string()),
            frame,
            st,
            None,
        );
    }

    /// What a script read from `from` runs, judged.
    fn judge_runs(
        &mut self,
        cmd: &Command,
        runs: Vec<Run>,
        from: &Arg,
        via: &str,
        frame: &Frame,
        st: &State,
    ) {
        for run in runs {
            match run {
                Run::Code(text) => {
                    let code = Arg {
                        text,
                        dynamic: from.dynamic,
                        glob: false,
                        quoted: true,
                    };
                    self.code_value(cmd, &code, via, frame, st);
                }
                Run::Argv(words) => {
                    let argv = words
                        .into_iter()
                        .map(|w| match w {
                            Some(t) if !from.dynamic => Arg {
                                quoted: true,
                                ..Arg::literal(t)
                            },
                            _ => Arg::unknown(),
                        })
                        .collect();
                    self.nested_argv(cmd, argv, Via::CommandString(via.to_string()), frame, st);
                }
                Run::Unknown(why) => self.finding(FindingKind::DynamicCode, cmd.span.clone(), why),
            }
        }
    }

    /// `make --eval=TEXT`, `-E TEXT`, `-f -` with a heredoc, `SHELL=PROG`.
    fn make(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        for text in option_values(args, &["--eval"], &["-E"]) {
            let runs = scripts::make_runs(&text.text);
            self.judge_runs(cmd, runs, &text, "make --eval", frame, st);
        }
        let from_stdin = option_values(args, &["--file", "--makefile"], &["-f"])
            .iter()
            .any(|f| f.text == "-" || f.text == "/dev/stdin");
        if let (true, Stdin::Text(t)) = (from_stdin, &cmd.stdin) {
            let runs = scripts::make_runs(t);
            self.judge_runs(cmd, runs, &Arg::literal(""), "make -f -", frame, st);
        }
        for a in args {
            if let Some(shell) = a.text.strip_prefix("SHELL=") {
                // Every recipe line is handed to it (recipes in a makefile are not read).
                self.code_value(cmd, &part(a, shell), "make SHELL", frame, st);
            }
        }
    }

    /// tar's options that name a program or command line it runs, in every form tar reads
    /// them: `--opt=V`, `--opt V`, unique abbreviations, `-I V` and `-IV`, bundles (`-cIzstd`)
    /// and old-style letters whose values follow in order (`tar cfI a.tar zstd`).
    fn tar(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        /// Short options that take a value.
        const VALUE_LETTERS: &str = "bCfFgHIKLNTVX";
        /// Long options whose value runs, with the shortest prefix tar accepts for each.
        const LONG: &[(&str, usize)] = &[
            ("--to-command", 4),
            ("--use-compress-program", 4),
            ("--rsh-command", 4),
            ("--info-script", 5),
            ("--new-volume-script", 6),
            ("--checkpoint-action", 13),
        ];
        let mut runs: Vec<(String, Arg)> = Vec::new();
        let mut i = 0;
        let mut pending: Vec<char> = Vec::new();
        if let Some(first) = args.first() {
            if !first.text.starts_with('-') && !first.dynamic {
                pending = first
                    .text
                    .chars()
                    .filter(|c| VALUE_LETTERS.contains(*c))
                    .collect();
                i = 1;
            }
        }
        for letter in pending {
            if let Some(v) = args.get(i) {
                if matches!(letter, 'I' | 'F') {
                    runs.push((format!("tar -{letter}"), v.clone()));
                }
            }
            i += 1;
        }
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                i += 1;
                continue;
            }
            // A value known only when it runs still names its option: `--opt="$CMD"`.
            if t.starts_with("--") {
                let (name, inline) = match t.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (t, None),
                };
                let opt = LONG
                    .iter()
                    .find(|(full, min)| name.len() >= *min && full.starts_with(name));
                if let Some((full, _)) = opt {
                    let value = match inline {
                        Some(v) => Some(part(a, v)),
                        None => {
                            i += 1;
                            args.get(i).cloned()
                        }
                    };
                    if let Some(v) = value {
                        if *full == "--checkpoint-action" {
                            if let Some(code) = v.text.strip_prefix("exec=") {
                                runs.push((full.to_string(), part(&v, code)));
                            }
                        } else {
                            runs.push((full.to_string(), v));
                        }
                    }
                }
            } else if t.starts_with('-') && t.len() > 1 && !a.dynamic {
                for (j, c) in t.char_indices().skip(1) {
                    if VALUE_LETTERS.contains(c) {
                        let rest = &t[j + c.len_utf8()..];
                        let value = if rest.is_empty() {
                            i += 1;
                            args.get(i).cloned()
                        } else {
                            Some(part(a, rest))
                        };
                        if let (Some(v), true) = (value, matches!(c, 'I' | 'F')) {
                            runs.push((format!("tar -{c}"), v));
                        }
                        break;
                    }
                }
            }
            i += 1;
        }
        for (via, code) in runs {
            self.code_value(cmd, &code, &via, frame, st);
        }
    }

    /// sed scripts from `-e`, `--expression`, or the first operand; `-f` files are not read.
    fn sed(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let mut scripts: Vec<&Arg> = Vec::new();
        let mut owned: Vec<Arg> = Vec::new();
        let mut given = false;
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                if !given {
                    if let Some(s) = args.get(i + 1) {
                        scripts.push(s);
                    }
                }
                break;
            }
            if t == "--sandbox" {
                // sed refuses `e`, `r` and `w` in this mode.
                return;
            }
            if let Some(s) = t.strip_prefix("--expression=") {
                owned.push(part(a, s));
                given = true;
            } else if t == "--expression" {
                if let Some(s) = args.get(i + 1) {
                    scripts.push(s);
                }
                given = true;
                i += 1;
            } else if t.starts_with("--file") {
                given = true;
                i += usize::from(t == "--file");
            } else if t == "--line-length" {
                i += 1;
            } else if t.starts_with("--") {
            } else if t.starts_with('-') && t.len() > 1 && !a.dynamic {
                for (j, c) in t.char_indices().skip(1) {
                    let rest = &t[j + c.len_utf8()..];
                    match c {
                        // `-i` takes a suffix glued to it only: `-ie` is `-i` with suffix `e`.
                        'i' => break,
                        'e' | 'f' | 'l' => {
                            let value = if rest.is_empty() {
                                i += 1;
                                args.get(i).cloned()
                            } else {
                                Some(part(a, rest))
                            };
                            if c != 'l' {
                                given = true;
                            }
                            if let (Some(v), 'e') = (value, c) {
                                owned.push(v);
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            } else if !given {
                scripts.push(a);
                given = true;
            }
            i += 1;
        }
        let all: Vec<&Arg> = scripts.into_iter().chain(owned.iter()).collect();
        if all.is_empty() {
            return;
        }
        let text = all
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let from = Arg {
            dynamic: all.iter().any(|a| a.dynamic),
            ..Arg::literal("")
        };
        let runs = scripts::sed_runs(&text);
        self.judge_runs(cmd, runs, &from, "sed e", frame, st);
    }

    /// vim's `-c CMD`, `--cmd CMD`, `+CMD`; in ex mode, a script on standard input.
    fn vim(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let mut ex_mode = cmd.program() == Some("ex");
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                break;
            }
            let command = if t == "-c" || t == "--cmd" {
                i += 1;
                args.get(i).cloned()
            } else if let Some(c) = t.strip_prefix("-c").filter(|c| !c.is_empty()) {
                Some(part(a, c))
            } else if let Some(c) = t.strip_prefix('+') {
                // `+N` and `+/pattern` move the cursor.
                (!c.starts_with('/') && !c.starts_with('?')).then(|| part(a, c))
            } else if t == "--remote-send" || t == "--remote-expr" {
                self.finding(
                    FindingKind::DynamicCode,
                    cmd.span.clone(),
                    "keys or expressions sent to another vim may run commands",
                );
                None
            } else {
                if matches!(t, "-e" | "-E" | "-es" | "-Es") {
                    ex_mode = true;
                }
                if matches!(
                    t,
                    "-S" | "-s" | "-u" | "-U" | "-i" | "-T" | "-W" | "-w" | "--servername"
                ) {
                    i += 1;
                }
                None
            };
            if let Some(c) = command {
                let runs = scripts::ex_runs(&c.text);
                self.judge_runs(cmd, runs, &c, "vim -c", frame, st);
            }
            i += 1;
        }
        if let (true, Stdin::Text(t)) = (ex_mode, &cmd.stdin) {
            let runs = t.lines().flat_map(scripts::ex_runs).collect();
            self.judge_runs(cmd, runs, &Arg::literal(""), "ex script", frame, st);
        }
    }

    /// `expect -c SCRIPT` (several allowed); with no script file, a script on standard input.
    fn expect(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let inline = option_values(args, &[], &["-c"]);
        for s in &inline {
            let runs = scripts::tcl_runs(&s.text);
            self.judge_runs(cmd, runs, s, "expect -c", frame, st);
        }
        let mut i = 0;
        let mut file = false;
        while i < args.len() {
            let t = args[i].text.as_str();
            if matches!(t, "-c" | "-D") {
                i += 2;
                continue;
            }
            if t == "-f" || (!t.starts_with('-') && t != "-") {
                file = true;
                break;
            }
            i += 1;
        }
        if let (false, true, Stdin::Text(t)) = (file, inline.is_empty(), &cmd.stdin) {
            let runs = scripts::tcl_runs(t);
            self.judge_runs(cmd, runs, &Arg::literal(""), "expect", frame, st);
        }
    }

    /// `rsync -e CMD` / `--rsh=CMD` runs CMD here; `--rsync-path=CMD` runs on the other end.
    fn rsync(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        const VALUE_LETTERS: &str = "eBfTM";
        let mut local: Vec<Arg> = option_values(args, &["--rsh"], &[]);
        for (i, a) in args.iter().enumerate() {
            let t = a.text.as_str();
            if t == "--" {
                break;
            }
            if !t.starts_with('-') || t.starts_with("--") || a.dynamic {
                continue;
            }
            for (j, c) in t.char_indices().skip(1) {
                if VALUE_LETTERS.contains(c) {
                    let rest = &t[j + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        args.get(i + 1).cloned()
                    } else {
                        Some(part(a, rest))
                    };
                    if let (Some(v), 'e') = (value, c) {
                        local.push(v);
                    }
                    break;
                }
            }
        }
        for code in local {
            self.code_value(cmd, &code, "rsync -e", frame, st);
        }
        let mut remote = st.clone();
        remote.cwd = None;
        for code in option_values(args, &["--rsync-path"], &[]) {
            self.nested_code(
                cmd,
                &code,
                Via::Remote("rsync --rsync-path".into()),
                frame,
                &remote,
                None,
            );
        }
    }

    /// scp's and sftp's `-S PROGRAM` (run in place of ssh), sftp's `-D SERVER`, and the
    /// ssh options they pass on.
    fn scp(&mut self, cmd: &Command, prog: &str, frame: &Frame, st: &State) {
        let args = cmd.args();
        let short: &[&str] = if prog == "sftp" {
            &["-S", "-D"]
        } else {
            &["-S"]
        };
        for p in option_values(args, &[], short) {
            // It is started with ssh's arguments, which are not modelled here.
            let argv = vec![p, Arg::unknown()];
            self.nested_argv(
                cmd,
                argv,
                Via::CommandString(format!("{prog} -S")),
                frame,
                st,
            );
        }
        let opts = option_values(args, &[], &["-o"]);
        self.ssh_config_options(cmd, &opts, None, frame, st);
    }

    /// ssh `-o` options that hold command lines: `ProxyCommand`, `LocalCommand`,
    /// `KnownHostsCommand` run here, `RemoteCommand` on the host.
    pub(in crate::analyze) fn ssh_config_options(
        &mut self,
        cmd: &Command,
        opts: &[Arg],
        host: Option<&str>,
        frame: &Frame,
        st: &State,
    ) {
        for o in opts {
            let t = o.text.trim_start();
            let split = t
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(t.len());
            let key = t[..split].to_ascii_lowercase();
            let value = t[split..].trim_start_matches(|c: char| c == '=' || c.is_whitespace());
            let value = part(o, value);
            match key.as_str() {
                "proxycommand" | "localcommand" | "knownhostscommand" if value.text != "none" => {
                    self.code_value(cmd, &value, &format!("ssh {key}"), frame, st);
                }
                "remotecommand" => {
                    let mut remote = st.clone();
                    remote.cwd = None;
                    let via = Via::Remote(host.unwrap_or("ssh").to_string());
                    self.nested_code(cmd, &value, via, frame, &remote, None);
                }
                _ => {}
            }
        }
    }

    /// `entr -s CMD` hands CMD to a shell; otherwise entr runs its operands, `/_` standing
    /// for the file that changed.
    fn entr(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let mut shell = false;
        let mut i = 0;
        while i < args.len() {
            let t = args[i].text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if !t.starts_with('-') || t.len() == 1 || args[i].dynamic {
                break;
            }
            shell |= t.contains('s');
            i += 1;
        }
        let rest = &args[i.min(args.len())..];
        if rest.is_empty() {
            return;
        }
        let via = Via::Wrapper("entr".into());
        if shell {
            return self.nested_code(cmd, &rest[0], via, frame, st, None);
        }
        let argv = rest
            .iter()
            .map(|a| {
                if a.text == "/_" {
                    Arg::unknown()
                } else {
                    a.clone()
                }
            })
            .collect();
        self.nested_argv(cmd, argv, via, frame, st);
    }

    /// `fd PATTERN [PATH…] -x|-X CMD ARGS…`: CMD runs on each entry found below PATH.
    fn fd(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let Some(x) = args
            .iter()
            .position(|a| matches!(a.text.as_str(), "-x" | "--exec" | "-X" | "--exec-batch"))
        else {
            return;
        };
        const VALUE: &[&str] = &[
            "-e",
            "--extension",
            "-t",
            "--type",
            "-d",
            "--max-depth",
            "--min-depth",
            "-E",
            "--exclude",
            "-S",
            "--size",
            "--changed-within",
            "--changed-before",
            "-o",
            "--owner",
            "-j",
            "--threads",
            "--base-directory",
            "--search-path",
            "-c",
            "--color",
            "--ignore-file",
            "--max-results",
        ];
        let mut operands: Vec<&Arg> = Vec::new();
        let mut searched: Vec<&Arg> = Vec::new();
        let mut filtered = false;
        let mut i = 0;
        while i < x {
            let t = args[i].text.as_str();
            if matches!(t, "-e" | "--extension" | "-g" | "--glob") {
                filtered = true;
            }
            if t == "--search-path" {
                if let Some(p) = args.get(i + 1) {
                    searched.push(p);
                }
            }
            if t.starts_with('-') && t.len() > 1 && !args[i].dynamic {
                i += if VALUE.contains(&t) { 2 } else { 1 };
                continue;
            }
            operands.push(&args[i]);
            i += 1;
        }
        if let Some(pattern) = operands.first() {
            filtered |= !matches!(pattern.text.as_str(), "" | "." | "^" | ".*");
            searched.extend(&operands[1..]);
        }
        // Unfiltered, fd hands on every entry below each place: as good as the place.
        let places = super::find_targets(&searched, filtered);
        let end = args[x + 1..]
            .iter()
            .position(|a| a.text == ";")
            .map_or(args.len(), |p| x + 1 + p);
        let mut argv = Vec::new();
        let mut placed = false;
        for a in &args[x + 1..end] {
            if a.text == "{}" {
                argv.extend(places.iter().cloned());
                placed = true;
            } else if a.text.contains('{') && a.text.contains('}') {
                argv.push(Arg::unknown());
                placed = true;
            } else {
                argv.push(a.clone());
            }
        }
        if !placed {
            argv.extend(places.iter().cloned());
        }
        if super::is_remover(&argv) {
            argv.insert(1, Arg::literal("-r"));
        }
        self.nested_argv(cmd, argv, Via::Wrapper("fd -x".into()), frame, st);
    }

    /// `rimraf PATH…` and its kin delete trees: `rm -rf PATH…` (del-cli takes globs).
    fn deleter(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let args = cmd.args();
        let globs = cmd.program() == Some("del-cli");
        let mut argv = vec![Arg::literal("rm"), Arg::literal("-rf")];
        let mut options = true;
        let mut glob_mode = globs;
        for a in args {
            let t = a.text.as_str();
            if options && t == "--" {
                options = false;
                continue;
            }
            if options && t.starts_with('-') && !a.dynamic {
                if matches!(t, "-h" | "--help" | "-d" | "--dry-run" | "--version") {
                    return;
                }
                if t == "-G" || t == "--glob" {
                    // Operands are patterns.
                    glob_mode = true;
                }
                continue;
            }
            if globs && t.starts_with('!') {
                // A pattern left out of the deletion.
                continue;
            }
            let glob = a.glob || (glob_mode && t.contains(['*', '?', '[', '{']));
            argv.push(Arg { glob, ..a.clone() });
        }
        if argv.len() > 2 {
            self.nested_argv(cmd, argv, Via::Wrapper("rimraf".into()), frame, st);
        }
    }

    /// Options of any program whose name says they take a command (`--pre-command=`,
    /// `--exec-cmd`, `--exec`, `--shell-command`): the value is judged as a command line.
    fn command_options(&mut self, cmd: &Command, prog: &str, frame: &Frame, st: &State) {
        if DATA_PROGRAMS.contains(&prog) {
            return;
        }
        let args = cmd.args();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            let t = a.text.as_str();
            if t == "--" {
                break;
            }
            let (name, inline) = match t.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (t, None),
            };
            if !name.starts_with("--")
                || !takes_command(&name[2..])
                || (a.dynamic && inline.is_none())
            {
                i += 1;
                continue;
            }
            let value = match inline {
                Some(v) => Some(part(a, v)),
                None => args
                    .get(i + 1)
                    .filter(|v| !v.text.starts_with('-'))
                    .cloned(),
            };
            if let Some(v) = value {
                i += usize::from(inline.is_none());
                self.code_value(cmd, &v, &format!("{prog} {name}"), frame, st);
            }
            i += 1;
        }
    }
}

/// Whether a long option's name says its value is a command line.
fn takes_command(name: &str) -> bool {
    // SQL, not shell (`mysql --init-command`).
    if name == "init-command" {
        return false;
    }
    matches!(name, "exec" | "shell-command")
        || name
            .strip_suffix("-command")
            .or_else(|| name.strip_suffix("-cmd"))
            .is_some_and(|p| !p.is_empty() && !p.starts_with("no-"))
}
