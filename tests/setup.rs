//! `shellguard setup` and `shellguard doctor`, run for real in throwaway homes: real files, the
//! test build of the binary with its shims linked in as `install.sh` links them, and fake agent
//! programs on `PATH` (doctor only looks for their names and asks for `--version`). Each run
//! gets only the environment a test gives it.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shellguard");
const CANARY: &str = "shellguard-doctor-canary-";

/// A throwaway machine: `home/` (with the shims in `home/.local/share/shellguard/shims`, where
/// `install.sh` puts them), `bin/` for fake agents, `work/` to run in. Removed when dropped.
struct Machine {
    root: PathBuf,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn says(&self, what: &str) -> bool {
        self.stdout.contains(what) || self.stderr.contains(what)
    }

    fn expect(&self, code: i32, what: &[&str]) -> &Out {
        let missing: Vec<&&str> = what.iter().filter(|w| !self.says(w)).collect();
        assert!(
            self.code == code && missing.is_empty(),
            "want exit {code} and {missing:?}; got exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Machine {
    fn new(tag: &str) -> Machine {
        let root =
            std::env::temp_dir().join(format!("shellguard-setup-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let m = Machine { root };
        for d in ["home", "bin", "work", "state", "config"] {
            fs::create_dir_all(m.path(d)).unwrap();
        }
        let shims = m.shims();
        fs::create_dir_all(&shims).unwrap();
        symlink(BIN, shims.join("bash")).unwrap();
        symlink(BIN, shims.join("sh")).unwrap();
        m
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    fn shims(&self) -> PathBuf {
        self.path("home/.local/share/shellguard/shims")
    }

    fn shim(&self) -> PathBuf {
        self.shims().join("bash")
    }

    fn settings(&self) -> PathBuf {
        self.path("home/.claude/settings.json")
    }

    fn audit_log(&self) -> PathBuf {
        self.path("state/shellguard/audit.jsonl")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    /// A fake agent: prints a version, and leaves a mark if it is ever run for anything else.
    fn agent(&self, name: &str) {
        let mark = self.path(&format!("ran-{name}"));
        let p = self.write(
            &format!("bin/{name}"),
            &format!(
                "#!/bin/sh\n\
                 if [ \"$1\" = --version ]; then echo '{name} 1.2.3'; exit 0; fi\n\
                 echo \"$@\" > '{}'\n",
                mark.display()
            ),
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn was_run(&self, name: &str) -> bool {
        self.path(&format!("ran-{name}")).exists()
    }

    /// The fake agents, then the system: no shims on it.
    fn plain_path(&self) -> OsString {
        format!("{}:/usr/bin:/bin", self.path("bin").display()).into()
    }

    fn shims_first_path(&self) -> OsString {
        format!(
            "{}:{}:/usr/bin:/bin",
            self.path("bin").display(),
            self.shims().display()
        )
        .into()
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, self.plain_path(), &[])
    }

    fn run_with(&self, args: &[&str], path: OsString, extra: &[(&str, &str)]) -> Out {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(self.path("work"))
            .env_clear()
            .env("HOME", self.home())
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("PATH", path)
            .env("SHELL", "/bin/bash")
            .envs(extra.iter().copied())
            .output()
            .expect("run shellguard");
        Out::from(out)
    }

    /// The canary records shellguard wrote (the proof doctor looks for), as raw lines.
    fn canary_records(&self) -> Vec<String> {
        fs::read_to_string(self.audit_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(CANARY))
            .map(str::to_string)
            .collect()
    }

    /// Every file under `home/`, with its content: what "changed nothing" is checked against.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let mut entries: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for p in entries {
                let meta = fs::symlink_metadata(&p).unwrap();
                if meta.is_dir() {
                    out.push((p.clone(), Vec::new()));
                    walk(&p, out);
                } else if meta.is_file() {
                    out.push((p.clone(), fs::read(&p).unwrap()));
                } else {
                    out.push((p.clone(), b"link".to_vec()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.home(), &mut out);
        out
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn claude_setup_writes_an_absolute_path_keeps_everything_else_and_undoes_byte_for_byte() {
    let m = Machine::new("claude");
    let original = "{\n    \"model\": \"opus\",\n    \"permissions\": {\"allow\": [\"Bash(ls:*)\"]},\n    \"env\": {\n        \"FOO\": \"1\"\n    }\n}";
    let settings = m.write("home/.claude/settings.json", original);
    fs::set_permissions(&settings, fs::Permissions::from_mode(0o640)).unwrap();
    let shim = m.shim().display().to_string();

    let out = m.run(&["setup", "claude"]);
    out.expect(
        0,
        &[
            "+++ ",
            &format!("+        \"CLAUDE_CODE_SHELL\": \"{shim}\""),
            "--undo claude",
        ],
    );
    let after = fs::read_to_string(&settings).unwrap();
    assert_eq!(
        after,
        format!(
            "{{\n    \"model\": \"opus\",\n    \"permissions\": {{\"allow\": [\"Bash(ls:*)\"]}},\n    \"env\": {{\n        \"FOO\": \"1\",\n        \"CLAUDE_CODE_SHELL\": \"{shim}\"\n    }}\n}}"
        ),
        "only the member was added, in the file's own layout"
    );
    let v: serde_json::Value = serde_json::from_str(&after).unwrap();
    let written = v["env"]["CLAUDE_CODE_SHELL"].as_str().unwrap();
    assert!(
        Path::new(written).is_absolute() && !written.contains('~'),
        "{written}"
    );
    assert_eq!(mode(&settings), 0o640, "the mode is kept");

    // A second run changes nothing.
    let snap = m.snapshot();
    m.run(&["setup", "claude"])
        .expect(0, &["already set up", "Nothing was changed"]);
    assert_eq!(m.snapshot(), snap);

    // Undo puts back the very bytes.
    m.run(&["setup", "--undo", "claude"])
        .expect(0, &["restored", "exactly as it was"]);
    assert_eq!(fs::read_to_string(&settings).unwrap(), original);
    assert_eq!(mode(&settings), 0o640);
    m.run(&["setup", "--undo", "claude"])
        .expect(0, &["nothing to undo"]);
    assert_eq!(fs::read_to_string(&settings).unwrap(), original);
}

#[test]
fn claude_setup_creates_the_file_and_undo_removes_it() {
    let m = Machine::new("claude-new");
    m.run(&["setup", "claude", "--dry-run"])
        .expect(0, &["--- /dev/null", "dry run"]);
    assert!(!m.settings().exists(), "a dry run writes nothing");
    m.run(&["setup", "claude"]).expect(0, &["wrote"]);
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(m.settings()).unwrap()).unwrap();
    assert_eq!(
        v["env"]["CLAUDE_CODE_SHELL"],
        m.shim().display().to_string()
    );
    m.run(&["setup", "--undo", "claude"])
        .expect(0, &["removed", "+++ /dev/null"]);
    assert!(!m.settings().exists());
    assert!(
        !m.path("home/.claude").exists(),
        "the directory setup made goes too"
    );
}

#[test]
fn setup_names_the_installed_tools_whose_scripts_the_guard_would_refuse() {
    let m = Machine::new("tools");
    // rbenv's dispatcher, as installed: with the shims first on PATH it runs through the guard.
    let tool = m.write(
        "home/.rbenv/libexec/rbenv",
        "#!/usr/bin/env bash\ncommand_path=\"$(type -P \"rbenv-$1\")\"\nexec \"$command_path\" \"$@\"\n",
    );
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let said = [
        ".rbenv: 1 script, none trusted",
        "`shellguard trust --tools`",
    ];
    m.run(&["setup", "claude"])
        .expect(0, &["wrote"])
        .expect(0, &said);
    m.run(&["setup", "claude", "--dry-run"]).expect(0, &said);
    // Undoing changes nothing about them: not said there.
    let out = m.run(&["setup", "--undo", "claude"]);
    assert!(!out.says(".rbenv"), "{}", out.stdout);
}

#[test]
fn a_malformed_settings_file_is_refused_untouched() {
    let m = Machine::new("malformed");
    for bad in [
        "{\"model\": \"opus\",}",
        "[1, 2]",
        "{\"env\": [\"CLAUDE_CODE_SHELL\"]}",
        "{\"env\": {\"CLAUDE_CODE_SHELL\": 1}}",
    ] {
        let p = m.write("home/.claude/settings.json", bad);
        for args in [&["setup", "claude"][..], &["setup", "claude", "--dry-run"]] {
            let out = m.run(args);
            out.expect(1, &["nothing was changed"]);
            assert_eq!(fs::read_to_string(&p).unwrap(), bad, "{args:?}");
        }
        assert!(!m
            .path("state/shellguard/setup")
            .join("claude-settings.json")
            .exists());
    }
    let p = m.write("home/.claude/settings.json", "{}");
    fs::write(&p, b"{\"model\": \"\xff\"}").unwrap();
    m.run(&["setup", "claude"]).expect(1, &["not UTF-8"]);
    assert_eq!(fs::read(&p).unwrap(), b"{\"model\": \"\xff\"}");
}

#[test]
fn a_linked_settings_file_is_written_through_the_link() {
    let m = Machine::new("linked");
    let real = m.write("dotfiles/claude.json", "{\n  \"model\": \"opus\"\n}\n");
    fs::create_dir_all(m.path("home/.claude")).unwrap();
    symlink(&real, m.settings()).unwrap();
    m.run(&["setup", "claude"]).expect(0, &["wrote"]);
    assert!(fs::symlink_metadata(m.settings())
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&real)
        .unwrap()
        .contains("CLAUDE_CODE_SHELL"));
    m.run(&["setup", "--undo", "claude"])
        .expect(0, &["restored"]);
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        "{\n  \"model\": \"opus\"\n}\n"
    );
    assert!(fs::symlink_metadata(m.settings())
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn undo_takes_out_only_what_setup_wrote_and_nothing_once_it_is_gone() {
    let m = Machine::new("undo-edited");
    let settings = m.write(
        "home/.claude/settings.json",
        "{\n  \"model\": \"opus\"\n}\n",
    );
    m.run(&["setup", "claude"]).expect(0, &["wrote"]);
    // Claude Code (or the user) edits another key: undo keeps that edit.
    let edited = fs::read_to_string(&settings)
        .unwrap()
        .replace("\"opus\"", "\"sonnet\"");
    fs::write(&settings, &edited).unwrap();
    m.run(&["setup", "--undo", "claude"])
        .expect(0, &["edits made to it since are kept"]);
    assert_eq!(
        fs::read_to_string(&settings).unwrap(),
        "{\n  \"model\": \"sonnet\"\n}\n"
    );

    // The value setup wrote was changed since: undo explains and changes nothing.
    m.run(&["setup", "claude"]).expect(0, &["wrote"]);
    let other = fs::read_to_string(&settings)
        .unwrap()
        .replace(&m.shim().display().to_string(), "/usr/bin/zsh");
    fs::write(&settings, &other).unwrap();
    m.run(&["setup", "--undo", "claude"]).expect(
        1,
        &["no longer sets CLAUDE_CODE_SHELL", "nothing was changed"],
    );
    assert_eq!(fs::read_to_string(&settings).unwrap(), other);
}

#[test]
fn doctor_proves_claude_fail_open_with_a_tilde_path_and_guarded_after_setup() {
    let m = Machine::new("doctor-claude");
    m.agent("claude");

    // Nothing configured: Claude Code runs $SHELL, plain bash.
    let out = m.run(&["doctor"]);
    out.expect(
        1,
        &[
            "Claude Code",
            "claude 1.2.3",
            "NOT GUARDED",
            "FAIL-OPEN",
            "shellguard setup claude",
            "shellguard run -- claude",
        ],
    );
    assert!(m.canary_records().is_empty(), "plain bash leaves no record");

    // The path as a human writes it by hand: the shim is really there once `~` is expanded, but
    // Claude Code does not expand it.
    m.write(
        "home/.claude/settings.json",
        "{\"env\": {\"CLAUDE_CODE_SHELL\": \"~/.local/share/shellguard/shims/bash\"}}\n",
    );
    assert!(m.home().join(".local/share/shellguard/shims/bash").exists());
    m.run(&["doctor", "claude"]).expect(
        1,
        &[
            "FAIL-OPEN SETUP",
            "does not expand `~`",
            "silently runs /",
            "NOT GUARDED",
        ],
    );
    assert!(m.canary_records().is_empty());

    // setup fixes it; the canary then passes through the shellguard binary.
    m.run(&["setup", "claude"]).expect(
        0,
        &[
            "-{\"env\": {\"CLAUDE_CODE_SHELL\": \"~/.local",
            &format!(
                "+{{\"env\": {{\"CLAUDE_CODE_SHELL\": \"{}\"}}}}",
                m.shim().display()
            ),
        ],
    );
    let out = m.run(&["doctor", "claude"]);
    out.expect(
        0,
        &[
            "GUARDED: shellguard judged the canary",
            "that file is shellguard",
            "1 guarded",
        ],
    );
    assert!(!out.says("NOT GUARDED"), "{}", out.stdout);
    let records = m.canary_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let rec: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    let judged = rec["command"].as_str().unwrap();
    assert!(
        judged.contains("eval ") && judged.contains("pwd -P >|") && judged.contains("-snapshot.sh"),
        "run with Claude Code's wrapper: {judged}"
    );
    assert_eq!(rec["decision"], "allow");
    assert_eq!(rec["outcome"], "ran");
    assert!(!m.was_run("claude"), "doctor runs only `claude --version`");
}

#[test]
fn doctor_follows_path_order_for_gemini_and_setup_puts_the_shims_first() {
    let m = Machine::new("doctor-gemini");
    m.agent("gemini");
    m.run_with(&["doctor", "gemini"], m.plain_path(), &[])
        .expect(
            1,
            &[
                "`bash` looked up on PATH: /usr/bin/bash",
                "NOT GUARDED",
                "shellguard setup gemini",
                "shellguard run -- gemini",
            ],
        );
    let out = m.run_with(&["doctor", "gemini"], m.shims_first_path(), &[]);
    out.expect(0, &["GUARDED: shellguard judged the canary"]);
    let records = m.canary_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].contains("_bgpids_file="),
        "Gemini's wrapper: {}",
        records[0]
    );

    // setup writes the block into ~/.bashrc; a shell reading it has the shims first.
    let bashrc = m.write("home/.bashrc", "alias ll='ls -l'\n");
    m.run(&["setup", "gemini"]).expect(
        0,
        &["+# >>> shellguard setup", "shellguard setup --undo gemini"],
    );
    let snap = m.snapshot();
    m.run(&["setup", "gemini"]).expect(0, &["already set up"]);
    m.run(&["setup", "qwen"]).expect(0, &["already set up"]);
    assert_eq!(m.snapshot(), snap);
    let path = Command::new("/bin/bash")
        .args([
            "-c",
            "source ~/.bashrc; source ~/.bashrc; printf %s \"$PATH\"",
        ])
        .env_clear()
        .env("HOME", m.home())
        .env("PATH", m.plain_path())
        .output()
        .unwrap();
    let path = String::from_utf8(path.stdout).unwrap();
    assert_eq!(
        path,
        format!(
            "{}:{}",
            m.shims().display(),
            m.plain_path().to_string_lossy()
        ),
        "first, and once"
    );
    m.run_with(&["doctor", "gemini"], path.into(), &[])
        .expect(0, &["GUARDED: shellguard judged the canary"]);
    m.run(&["setup", "--undo", "gemini"])
        .expect(0, &["exactly as it was"]);
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "alias ll='ls -l'\n");
    assert!(!m.was_run("gemini"));
}

#[test]
fn codex_and_mini_are_guarded_only_under_run_and_setup_only_advises() {
    let m = Machine::new("doctor-codex");
    m.agent("codex");
    m.agent("mini");
    // Shims first on PATH and $SHELL the shim: neither agent looks at them.
    let shim = m.shim().display().to_string();
    let out = m.run_with(&["doctor"], m.shims_first_path(), &[("SHELL", &shim)]);
    out.expect(
        1,
        &[
            "Codex CLI",
            "the login shell of your passwd entry",
            "guarded only under `shellguard run -- codex`",
            "chsh -s",
            "mini-swe-agent",
            "/bin/sh by absolute path",
            "guarded only under `shellguard run -- mini`",
            "NOT GUARDED (codex, mini-swe-agent)",
        ],
    );
    assert!(
        !m.was_run("codex") && !m.was_run("mini"),
        "mini is never run, not even --version"
    );

    let snap = m.snapshot();
    m.run(&["setup", "codex"]).expect(
        0,
        &[
            "nothing to configure",
            "shellguard run -- codex",
            "never changes /etc/passwd",
        ],
    );
    m.run(&["setup", "mini"])
        .expect(0, &["nothing to configure", "shellguard run -- mini"]);
    m.run(&["setup", "--undo", "codex"])
        .expect(0, &["nothing to undo"]);
    assert_eq!(m.snapshot(), snap, "advice only: nothing written");
}

#[test]
fn aider_gets_its_shell_from_dotenv() {
    let m = Machine::new("aider");
    m.agent("aider");
    let env_file = m.write(
        "home/.env",
        "OPENAI_API_KEY=sk-test\nSHELL=~/.local/share/shellguard/shims/bash\n",
    );
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o600)).unwrap();
    m.run(&["doctor", "aider"]).expect(
        1,
        &[
            "FAIL-OPEN SETUP",
            "no such program",
            "NOT GUARDED",
            "shellguard setup aider",
        ],
    );
    m.run(&["setup", "aider"]).expect(
        0,
        &[&format!("+SHELL='{}'", m.shim().display()), "wins over it"],
    );
    assert_eq!(mode(&env_file), 0o600, "a file of secrets stays private");
    m.run(&["doctor", "aider"])
        .expect(0, &["GUARDED: shellguard judged the canary"]);
    m.run(&["setup", "--undo", "aider"])
        .expect(0, &["exactly as it was"]);
    assert_eq!(
        fs::read_to_string(&env_file).unwrap(),
        "OPENAI_API_KEY=sk-test\nSHELL=~/.local/share/shellguard/shims/bash\n"
    );
}

#[test]
fn setup_is_for_the_human() {
    let m = Machine::new("human");
    let snap = m.snapshot();
    m.run_with(&["setup", "claude"], m.plain_path(), &[("CLAUDECODE", "1")])
        .expect(2, &["refused", "CLAUDECODE", "Nothing was changed"]);
    assert_eq!(m.snapshot(), snap);
    // A dry run only reads.
    m.run_with(
        &["setup", "claude", "--dry-run"],
        m.plain_path(),
        &[("CLAUDECODE", "1")],
    )
    .expect(0, &["dry run"]);
    assert_eq!(m.snapshot(), snap);
}

#[test]
fn usage_and_help() {
    let m = Machine::new("usage");
    m.run(&["setup"])
        .expect(2, &["which agent?", "usage: shellguard setup"]);
    m.run(&["setup", "vim"]).expect(2, &["unknown agent `vim`"]);
    m.run(&["setup", "claude", "gemini"])
        .expect(2, &["one agent at a time"]);
    m.run(&["setup", "claude", "--force"])
        .expect(2, &["unknown option"]);
    m.run(&["doctor", "vim"])
        .expect(2, &["unknown agent `vim`"]);
    m.run(&["doctor"]).expect(0, &["No agent found on PATH"]);
    m.run(&["setup", "all"])
        .expect(0, &["No agent found on PATH"]);
    let help = m.run(&["--help"]);
    help.expect(
        0,
        &["setup AGENT [--dry-run] [--undo]", "doctor [AGENT...]"],
    );
    m.run(&["setup", "--help"])
        .expect(0, &["usage: shellguard setup"]);
    m.run(&["doctor", "--help"])
        .expect(0, &["usage: shellguard doctor", "Exit status"]);
}
