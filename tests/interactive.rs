//! The guarded interactive shell (`shellguard -i`), driven through tmux as a person or an agent
//! would: keys with `send-keys`, the screen with `capture-pane`. Each test has its own tmux
//! server, HOME, runtime directory and project (a git checkout whose `.git` is the victim).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SG: &str = env!("CARGO_BIN_EXE_shellguard");
const WAIT: Duration = Duration::from_secs(20);
const ASK: &str = "Run it? [y/a/N]";

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Session {
    root: PathBuf,
    socket: String,
}

impl Session {
    /// `shellguard -i` in a fresh tmux server, in a fresh project, prompt `U$ ` from ~/.bashrc.
    fn start(name: &str) -> Option<Session> {
        if !have_tmux() {
            // CI installs tmux (`.ci/run`): there, a missing tmux is a failure, not a skip.
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            eprintln!("tmux not found: skipping");
            return None;
        }
        let root = std::env::temp_dir().join(format!("sg-inter-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["home", "proj", "run", "data", "state", "config"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(
            root.join("home/.bashrc"),
            "PS1='U$ '\nHISTCONTROL=ignoreboth\nPROMPT_COMMAND=\"${PROMPT_COMMAND:+$PROMPT_COMMAND;}echo -n\"\n",
        )
        .unwrap();
        let proj = root.join("proj");
        let git = Command::new("git")
            .args(["init", "-q", "."])
            .current_dir(&proj)
            .status();
        if !git.is_ok_and(|s| s.success()) {
            std::fs::create_dir_all(proj.join(".git/objects")).unwrap();
            std::fs::write(proj.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        }
        let socket = format!("sg-inter-{}-{name}", std::process::id());
        let r = root.display();
        let cmd = format!(
            "cd {r}/proj && env HOME={r}/home XDG_RUNTIME_DIR={r}/run XDG_DATA_HOME={r}/data \
             XDG_STATE_HOME={r}/state XDG_CONFIG_HOME={r}/config TERM=xterm-256color {SG} -i; \
             echo EXIT=$?; sleep 30"
        );
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
            ])
            .args(["-y", "40", "-s", "t", &cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        let s = Session { root, socket };
        s.wait_for("first prompt", |screen| screen.contains("U$ "));
        Some(s)
    }

    fn proj(&self) -> PathBuf {
        self.root.join("proj")
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Types `text` literally, then Enter.
    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            if start.elapsed() > WAIT {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the n-th prompt on the screen (the screen is cleared first by the caller).
    fn prompts(&self) -> usize {
        self.screen()
            .lines()
            .filter(|l| l.starts_with("U$"))
            .count()
    }

    fn wait_prompts(&self, n: usize) {
        self.wait_for(&format!("{n} prompts"), |s| {
            s.lines().filter(|l| l.starts_with("U$")).count() >= n
        });
    }

    fn ask_and_answer(&self, key: &str) {
        self.wait_for("the host's question", |s| s.contains(ASK));
        self.keys(&[key]);
        self.wait_for("the question to close", |s| !s.contains(ASK));
        // Keys sent just after an answer are dropped on purpose (the "es" of "yes", and
        // type-ahead is discarded), so the next line waits a moment.
        std::thread::sleep(Duration::from_millis(500));
    }

    fn clear(&self) {
        self.line("clear");
        self.wait_for("a cleared screen", |s| {
            s.lines().filter(|l| !l.trim().is_empty()).count() == 1
        });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

#[test]
fn allowed_lines_run_and_the_exit_status_is_bashs() {
    let Some(s) = Session::start("allowed") else {
        return;
    };
    s.line("echo hel''lo");
    s.wait_for("hello", |x| x.lines().any(|l| l == "hello"));
    s.line("for i in 1 2; do");
    s.line("echo n$i");
    s.line("done");
    s.wait_for("the loop", |x| x.contains("n1\nn2"));
    s.line("exit 7");
    s.wait_for("exit status", |x| x.contains("EXIT=7"));
}

#[test]
fn a_refused_line_runs_none_of_its_commands() {
    let Some(s) = Session::start("refused") else {
        return;
    };
    s.line("touch A; rm -rf .git; touch B");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("refused `rm -rf .git`"));
    s.wait_prompts(2);
    assert!(!exists(&s.proj().join("A")), "A was created");
    assert!(!exists(&s.proj().join("B")), "B was created");
    assert!(exists(&s.proj().join(".git")), ".git was deleted");
    // The shell goes on, still guarded.
    s.line("echo still here");
    s.wait_for("next line", |x| x.lines().any(|l| l == "still here"));
}

#[test]
fn an_approved_line_runs_whole() {
    let Some(s) = Session::start("approved") else {
        return;
    };
    s.line("touch A; rm -rf .git; touch B");
    s.ask_and_answer("y");
    s.wait_prompts(2);
    s.wait_for("B", |_| exists(&s.proj().join("B")));
    assert!(exists(&s.proj().join("A")));
    assert!(!exists(&s.proj().join(".git")));
}

#[test]
fn heredocs_are_checked_whole() {
    let Some(s) = Session::start("heredoc") else {
        return;
    };
    s.line("cat <<EOF");
    s.line("heredoc body");
    s.line("EOF");
    s.wait_for("the heredoc", |x| x.lines().any(|l| l == "heredoc body"));
    s.line("bash <<EOF");
    s.line("touch C");
    s.line("rm -rf .git");
    s.line("EOF");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("refused"));
    assert!(!exists(&s.proj().join("C")));
    assert!(exists(&s.proj().join(".git")));
    // Backslash continuation.
    s.line("touch D; \\");
    s.line("rm -rf .git");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.matches("refused").count() >= 2);
    assert!(!exists(&s.proj().join("D")));
}

#[test]
fn child_shells_are_guarded_too() {
    let Some(s) = Session::start("nested") else {
        return;
    };
    for (i, child) in ["bash", "bash --norc", "exec bash --norc --noprofile"]
        .iter()
        .enumerate()
    {
        s.line(child);
        // Let the child become the terminal's foreground first: a line typed before that
        // reaches a shell the host cannot yet tell apart from an unguarded one (it holds it).
        std::thread::sleep(Duration::from_millis(400));
        s.line(&format!("PS1='U$ '; echo level{i}"));
        s.wait_for("the child's first line", |x| {
            x.lines().any(|l| l == format!("level{i}"))
        });
        let victim = format!("N{i}");
        s.line(&format!("touch {victim}; rm -rf .git"));
        s.ask_and_answer("n");
        s.wait_for("refusal", |x| {
            x.matches("refused `rm -rf .git`").count() > i
        });
        assert!(
            !exists(&s.proj().join(&victim)),
            "{child}: {victim} created"
        );
        assert!(exists(&s.proj().join(".git")));
    }
}

#[test]
fn tampering_lines_are_asked_about() {
    let Some(s) = Session::start("tamper") else {
        return;
    };
    let lines = [
        "shopt -u promptvars",
        "trap 'touch T' DEBUG",
        "enable -n kill",
        r#"bind '"\C-m": accept-line'"#,
        "unset PS0",
        "fc -s",
        "history() { echo 1 ls; }",
        "declare +r PS0",
        "sh",
        "env -i bash --norc",
    ];
    for (i, l) in lines.iter().enumerate() {
        s.clear();
        s.line(l);
        s.ask_and_answer("n");
        s.wait_for(&format!("refusal of {l}"), |x| x.contains("refused"));
        let _ = i;
    }
    // The gate still holds.
    s.clear();
    s.line("touch Z; rm -rf .git");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("refused"));
    assert!(!exists(&s.proj().join("Z")));
    assert!(!exists(&s.proj().join("T")));
}

#[test]
fn lines_kept_out_of_history_fail_safe() {
    let Some(s) = Session::start("nohist") else {
        return;
    };
    // ~/.bashrc asked for ignoreboth; a leading space does not hide a line.
    s.line(" touch S; rm -rf .git");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("refused"));
    assert!(!exists(&s.proj().join("S")));
    s.clear();
    s.line("set +o history");
    s.wait_prompts(2);
    s.line("touch H");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("interactive.unread"));
    assert!(!exists(&s.proj().join("H")));
    let _ = s.prompts();
}

#[test]
fn job_control_full_screen_programs_and_resizing_work() {
    let Some(s) = Session::start("jobs") else {
        return;
    };
    s.line("sleep 100");
    std::thread::sleep(Duration::from_millis(500));
    s.keys(&["C-z"]);
    s.wait_for("the job to stop", |x| x.contains("Stopped"));
    s.line("bg; jobs");
    s.wait_for("the job running", |x| x.contains("Running"));
    s.line("fg");
    std::thread::sleep(Duration::from_millis(500));
    s.keys(&["C-c"]);
    s.clear();
    s.line("seq 200 | less");
    s.wait_for("less", |x| {
        x.lines().last().is_some_and(|l| l.starts_with(':'))
    });
    s.keys(&["q"]);
    // Typed before less has quit, `clear` would be keys for less.
    s.wait_for("less to quit", |x| {
        !x.lines().last().is_some_and(|l| l.starts_with(':'))
    });
    s.clear();
    // Full-screen editors and monitors run on the pty as under plain bash.
    s.line("vim -u NONE -N notes.txt");
    s.wait_for("vim", |x| x.contains("\"notes.txt\" [New]"));
    s.keys(&["i", "from vim", "Escape", ":wq", "Enter"]);
    s.wait_for("vim to exit", |x| x.contains("U$"));
    s.wait_for("the file vim wrote", |_| {
        std::fs::read_to_string(s.proj().join("notes.txt")).is_ok_and(|t| t == "from vim\n")
    });
    s.clear();
    s.line("top -d 1");
    s.wait_for("top", |x| x.contains("load average"));
    s.keys(&["q"]);
    // Typed before top has quit, `clear` would be keys for top (`c`, `l`, `r` …).
    s.wait_for("top to quit", |x| !x.contains("load average"));
    s.clear();
    s.line("echo after-top");
    s.wait_for("the shell back", |x| x.contains("after-top"));
    s.clear();
    let ok = Command::new("tmux")
        .args([
            "-L",
            &s.socket,
            "resize-window",
            "-t",
            "t",
            "-x",
            "90",
            "-y",
            "30",
        ])
        .status()
        .unwrap()
        .success();
    if ok {
        std::thread::sleep(Duration::from_millis(300));
        s.line("stty size");
        s.wait_for("the new size", |x| x.lines().any(|l| l == "30 90"));
    }
}

#[test]
fn switching_off_kill_does_not_stop_a_refusal() {
    let Some(s) = Session::start("enable") else {
        return;
    };
    s.line("enable -n kill");
    s.ask_and_answer("y");
    s.line("touch K; rm -rf .git; touch L");
    s.ask_and_answer("n");
    s.wait_for("refusal", |x| x.contains("refused `rm -rf .git`"));
    assert!(!exists(&s.proj().join("K")));
    assert!(!exists(&s.proj().join("L")));
    assert!(exists(&s.proj().join(".git")));
}

#[test]
fn a_shell_that_never_registered_is_held_at_enter() {
    let Some(s) = Session::start("unregistered") else {
        return;
    };
    for shell in ["sh", "env -i bash --norc --noprofile"] {
        s.clear();
        // Starting it is asked about; say yes this time.
        s.line(shell);
        s.ask_and_answer("y");
        // Each line typed into it is held at Enter: no, and it does not run...
        s.line("touch HELD");
        s.ask_and_answer("n");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!exists(&s.proj().join("HELD")), "{shell}: a held line ran");
        // ...yes, and it does.
        s.line("touch LET");
        s.ask_and_answer("y");
        s.wait_for("the approved line to run", |_| {
            exists(&s.proj().join("LET"))
        });
        let _ = std::fs::remove_file(s.proj().join("LET"));
        s.line("exit");
        s.ask_and_answer("y");
        // Back in the guarded shell: lines are judged again, not held.
        s.line("echo back-$((40+2))");
        s.wait_for("the guarded shell", |x| x.contains("back-42"));
    }
}

#[test]
fn edit_and_execute_keys_are_unbound() {
    let Some(s) = Session::start("cxe") else {
        return;
    };
    // C-x C-e (emacs mode) and `v` (vi command mode) would run the edited text without PS0.
    s.keys(&["-l", "touch CXE"]);
    s.keys(&["C-x", "C-e"]);
    std::thread::sleep(Duration::from_millis(700));
    let screen = s.screen();
    assert!(!screen.contains("~"), "an editor opened:\n{screen}");
    s.keys(&["C-c"]);
    s.line("set -o vi");
    std::thread::sleep(Duration::from_millis(300));
    s.keys(&["-l", "touch CXV"]);
    s.keys(&["Escape", "v"]);
    std::thread::sleep(Duration::from_millis(700));
    let screen = s.screen();
    assert!(!screen.contains("~"), "an editor opened:\n{screen}");
    s.keys(&["C-c"]);
    s.line("echo still-here");
    s.wait_for("the shell", |x| x.contains("still-here"));
    assert!(!exists(&s.proj().join("CXE")) && !exists(&s.proj().join("CXV")));
}
