//! The enforced supervisor, end to end: `shellguard run` hosting a fake agent
//! (`tests/enforce/agent.py`) that tries every way around the guard, as root and as an ordinary
//! user (`sgtest`, created when the tests run as root and it is missing).
//!
//! Each attack must end with the victim (`~/precious`) intact, shellguard's configuration and
//! state unchanged (the audit log only grown) and no approval recorded.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use serde_json::Value;

const AGENT: &str = include_str!("enforce/agent.py");
const TEST_USER: &str = "sgtest";
const PYTHON: &str = "/usr/bin/python3";
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
struct User {
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Who the tests run as: ourselves, and as root also the unprivileged test user.
fn users() -> Vec<Option<User>> {
    if !is_root() {
        return vec![None];
    }
    static CREATED: OnceLock<User> = OnceLock::new();
    let user = *CREATED.get_or_init(|| {
        if nix::unistd::User::from_name(TEST_USER)
            .ok()
            .flatten()
            .is_none()
        {
            let st = Command::new("useradd")
                .args([
                    "--system",
                    "--shell",
                    "/bin/bash",
                    "--no-create-home",
                    TEST_USER,
                ])
                .status()
                .expect("useradd");
            // Another test may have created it meanwhile.
            assert!(
                st.success()
                    || nix::unistd::User::from_name(TEST_USER)
                        .ok()
                        .flatten()
                        .is_some(),
                "cannot create the test user {TEST_USER}"
            );
        }
        let u = nix::unistd::User::from_name(TEST_USER)
            .unwrap()
            .expect("test user");
        User {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }
    });
    vec![None, Some(user)]
}

/// The binary, copied where every user can run it (the build tree may be private). One copy
/// per build, reused by later runs, so runs do not leave copies behind.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let source = Path::new(env!("CARGO_BIN_EXE_shellguard"));
        let meta = fs::metadata(source).unwrap();
        let stamp = format!("{} {}.{}", meta.len(), meta.mtime(), meta.mtime_nsec());
        let dir = PathBuf::from(format!("/tmp/sg-enforce-bin-{}", nix::unistd::getuid()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("shellguard");
        let stamp_file = dir.join("stamp");
        if fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) || !bin.exists()
        {
            // A new name, then a rename: a run that has the old copy open keeps it.
            let tmp = dir.join(format!("shellguard.{}", std::process::id()));
            fs::copy(source, &tmp).unwrap();
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&tmp, &bin).unwrap();
            fs::write(&stamp_file, &stamp).unwrap();
        }
        bin
    })
}

/// A shell script of the system's own, as root installs one (under /usr, root's, writable by
/// nobody else), that runs a program named only when it runs: read, it would be asked about.
/// Only root can make one.
fn system_script() -> Option<&'static Path> {
    static SCRIPT: OnceLock<Option<PathBuf>> = OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            if !is_root() {
                return None;
            }
            let dir = Path::new("/usr/local/lib/shellguard-test");
            fs::create_dir_all(dir).unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
            let script = dir.join("run-named");
            let tmp = dir.join(format!("run-named.{}", std::process::id()));
            fs::write(&tmp, "#!/bin/sh\nprog=$1; shift\n\"$prog\" \"$@\"\n").unwrap();
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&tmp, &script).unwrap();
            Some(script)
        })
        .as_deref()
}

/// A home with a victim, a configuration and some state, owned by the user the agent runs as.
struct World {
    root: PathBuf,
    home: PathBuf,
    runtime: PathBuf,
    user: Option<User>,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl World {
    fn new(user: Option<User>) -> World {
        let root = PathBuf::from(format!(
            "/tmp/sg-enforce-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        let home = root.join("home");
        let runtime = root.join("run");
        for d in [
            home.join("precious/deep"),
            home.join(".config/shellguard"),
            home.join(".local/state/shellguard"),
            root.join("work"),
            runtime.clone(),
        ] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(home.join("precious/deep/photo.jpg"), b"years of photos").unwrap();
        fs::write(
            home.join(".config/shellguard/config.toml"),
            "prompt_timeout = 50\n",
        )
        .unwrap();
        fs::write(
            home.join(".local/state/shellguard/audit.jsonl"),
            "{\"seed\":true}\n",
        )
        .unwrap();
        fs::write(root.join("agent.py"), AGENT).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
        if let Some(u) = user {
            let st = Command::new("chown")
                .args(["-R", &format!("{}:{}", u.uid, u.gid)])
                .arg(&root)
                .status()
                .unwrap();
            assert!(st.success());
        }
        World {
            root,
            home,
            runtime,
            user,
        }
    }

    fn uid(&self) -> u32 {
        self.user
            .map_or_else(|| nix::unistd::getuid().as_raw(), |u| u.uid)
    }

    fn who(&self) -> String {
        match self.user {
            Some(_) => TEST_USER.to_string(),
            None => format!("uid {}", self.uid()),
        }
    }

    /// argv run as the world's user.
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(u) = self.user {
            v.extend([
                "setpriv".to_string(),
                format!("--reuid={}", u.uid),
                format!("--regid={}", u.gid),
                "--clear-groups".to_string(),
                "--".to_string(),
            ]);
        }
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    fn env(&self) -> Vec<(String, String)> {
        let bin_dir = binary().parent().unwrap().display().to_string();
        let system = system_script().map(|p| ("SG_SYSTEM_SCRIPT".into(), p.display().to_string()));
        system
            .into_iter()
            .chain(vec![
                ("HOME".into(), self.home.display().to_string()),
                (
                    "PATH".into(),
                    format!("{bin_dir}:/usr/local/bin:/usr/bin:/bin"),
                ),
                ("XDG_RUNTIME_DIR".into(), self.runtime.display().to_string()),
                ("TERM".into(), "xterm-256color".into()),
                ("LANG".into(), "C.UTF-8".into()),
                (
                    "SG_WORK".into(),
                    self.root.join("work").display().to_string(),
                ),
                ("SG_BIN".into(), "shellguard".into()),
                ("SG_BIN_PATH".into(), binary().display().to_string()),
                (
                    "SG_RUNTIME".into(),
                    self.runtime
                        .join(format!("shellguard-{}", self.uid()))
                        .display()
                        .to_string(),
                ),
            ])
            .collect()
    }

    /// `argv` in the agent's work directory with the world's environment only, no input,
    /// output captured.
    fn command(&self, argv: &[String]) -> Command {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .envs(self.env())
            .current_dir(self.root.join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn agent_args(&self, scenario: &str) -> Vec<String> {
        let agent = self.root.join("agent.py").display().to_string();
        let bin = binary().display().to_string();
        self.argv(&[&bin, "run", "--", PYTHON, &agent, scenario])
    }

    /// `shellguard run -- python3 agent.py SCENARIO` without a terminal; its results.
    fn run_agent(&self, scenario: &str) -> (i32, String, BTreeMap<String, Value>) {
        let argv = self.agent_args(scenario);
        let mut cmd = self.command(&argv);
        let child = cmd.spawn().expect("spawn shellguard run");
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code().unwrap_or(-1),
            text.clone(),
            results(&text),
        )
    }

    fn victim_intact(&self) -> bool {
        fs::read(self.home.join("precious/deep/photo.jpg")).is_ok_and(|b| b == b"years of photos")
    }

    /// Every file of shellguard's configuration and state but the audit log.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for dir in [".config/shellguard", ".local/state/shellguard"] {
            for e in fs::read_dir(self.home.join(dir)).unwrap().flatten() {
                let p = e.path();
                if p.file_name().is_some_and(|n| n == "audit.jsonl") {
                    continue;
                }
                if p.is_file() {
                    out.insert(p.clone(), fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    fn audit(&self) -> String {
        fs::read_to_string(self.home.join(".local/state/shellguard/audit.jsonl")).unwrap()
    }

    fn approvals(&self) -> String {
        fs::read_to_string(self.home.join(".local/state/shellguard/approvals")).unwrap_or_default()
    }

    /// The human approves request `id` in a terminal of their own, outside the tree.
    fn approve_outside(&self, id: &str) {
        let bin = binary().display().to_string();
        let mut human = Pty::spawn(&self.argv(&[&bin, "approve", id]), &self.env(), &self.root);
        human.wait_for("[y/N]");
        human.send(b"y\r");
        assert_eq!(human.wait_exit(), 0, "{}", human.screen());
    }

    /// The state checks every attack ends with.
    fn assert_untouched(&self, before: &BTreeMap<PathBuf, Vec<u8>>, shown: &str) {
        assert!(
            self.victim_intact(),
            "{}: the victim is gone\n{shown}",
            self.who()
        );
        let after = self.snapshot();
        for (path, bytes) in before {
            assert_eq!(
                after.get(path),
                Some(bytes),
                "{}: {} changed\n{shown}",
                self.who(),
                path.display()
            );
        }
        assert!(
            self.audit().starts_with("{\"seed\":true}\n"),
            "{}: the audit log was rewritten\n{shown}",
            self.who()
        );
        assert!(
            !self.approvals().contains("\"kind\":\"allow\""),
            "{}: an approval was recorded: {}\n{shown}",
            self.who(),
            self.approvals()
        );
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn results(text: &str) -> BTreeMap<String, Value> {
    text.lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// Refused by a guard (exit 126) or by the exec gate (the exec failed; `rc` is null when the
/// caller raised instead), with the refusal paragraph on the stderr the command had.
fn refused(r: &Value) -> bool {
    r["rc"].as_i64() != Some(0)
        && r["err"]
            .as_str()
            .is_some_and(|e| e.contains("shellguard: refused"))
}

fn failed(r: &Value) -> bool {
    r["ok"] == Value::Bool(false) || r["rc"].as_i64().is_some_and(|c| c != 0)
}

#[test]
fn every_shell_by_any_path_is_judged() {
    for user in users() {
        let w = World::new(user);
        let before = w.snapshot();
        let (code, text, r) = w.run_agent("shells");
        assert_eq!(code, 0, "{}: {text}", w.who());
        let destructive = [
            "bash -lc (Codex)",
            "sh -c (mini-swe-agent)",
            "usr/bin/bash",
            "usr/bin/sh",
            "subprocess shell=True",
            "make recipe",
            "npm-run-style sh -c (node)",
            "#!/bin/bash ./x.sh",
            "env bash",
            "BASH_ENV",
            "exported function",
            "changed profile, login shell",
        ];
        for name in destructive {
            let got = r
                .get(name)
                .unwrap_or_else(|| panic!("{}: no {name:?} in\n{text}", w.who()));
            assert!(refused(got), "{}: {name} was not refused: {got}", w.who());
            assert!(
                got["err"].as_str().unwrap().contains("fs.rm-recursive"),
                "{}: {name}: {got}",
                w.who()
            );
        }
        let login = r
            .iter()
            .find(|(k, _)| k.starts_with("login shell"))
            .expect("login shell result");
        assert!(refused(login.1), "{}: {}: {}", w.who(), login.0, login.1);
        if let Some(d) = r.get("dash") {
            assert!(refused(d), "{}: dash: {d}", w.who());
        }
        let interactive = &r["interactive bash"];
        assert_eq!(interactive["rc"], 126, "{}: {interactive}", w.who());
        assert!(!interactive["out"].as_str().unwrap().contains("typed-line"));
        assert!(interactive["err"]
            .as_str()
            .unwrap()
            .contains("interactive shell inside"));
        assert_eq!(r["benign"]["rc"], 0, "{}: {}", w.who(), r["benign"]);
        let plain = &r["changed profile, no login"];
        assert_eq!(plain["out"], "not-login\n", "{}: {plain}", w.who());
        assert_eq!(r["benign"]["out"], "benign-ok\n");
        assert_eq!(r["benign sh"]["out"], "SH-OK\n", "{}", r["benign sh"]);
        if system_script().is_some() {
            let sys = &r["system script"];
            assert_eq!(sys["out"], "system-script-ok\n", "{}: {sys}", w.who());
            let copy = &r["agent's copy of the system script"];
            assert!(refused(copy), "{}: {copy}", w.who());
        }
        w.assert_untouched(&before, &text);
        // The guards' records reached the log through the supervisor.
        let audit = w.audit();
        assert!(
            audit.contains("\"enforced\":true") && audit.contains("echo benign-ok"),
            "{}: {audit}",
            w.who()
        );
    }
}

#[test]
fn the_guards_own_state_is_out_of_reach() {
    for user in users() {
        let w = World::new(user);
        let before = w.snapshot();
        let (code, text, r) = w.run_agent("tamper");
        assert_eq!(code, 0, "{}: {text}", w.who());
        assert!(!r.is_empty(), "{}: no results\n{text}", w.who());
        for (name, got) in &r {
            assert!(failed(got), "{}: {name} succeeded: {got}\n{text}", w.who());
        }
        assert_eq!(
            fs::read_to_string(w.home.join(".config/shellguard/config.toml")).unwrap(),
            "prompt_timeout = 50\n"
        );
        assert!(w.home.join(".config").is_dir() && w.home.join(".local/state").is_dir());
        w.assert_untouched(&before, &text);
    }
}

#[test]
fn approval_authority_lives_outside_the_tree() {
    for user in users() {
        let w = World::new(user);
        let before = w.snapshot();
        let (code, text, r) = w.run_agent("authority");
        assert_eq!(code, 0, "{}: {text}", w.who());
        assert!(
            refused(&r["refused first"]),
            "{}: {}",
            w.who(),
            r["refused first"]
        );
        // Through `script` the guard itself refuses the command line; started directly (no
        // shell to read it), the subcommand refuses because it runs inside the tree.
        for name in ["script approve", "script trust", "script watch"] {
            let got = &r[name];
            let out = format!("{}{}", got["out"], got["err"]);
            assert!(
                out.contains("refused"),
                "{}: {name} was not refused: {got}",
                w.who()
            );
        }
        for name in [
            "deny --all",
            "pty.spawn approve",
            "pty.spawn trust",
            "pty.spawn watch",
        ] {
            let got = &r[name];
            let out = format!("{}{}", got["out"], got["err"]);
            assert!(
                out.contains("refused") && out.contains("shellguard run"),
                "{}: {name} was not refused: {got}",
                w.who()
            );
        }
        for name in [
            "retry after the fake approvals",
            "fake supervisor",
            "nested run",
            "nested run --unenforced",
        ] {
            assert!(refused(&r[name]), "{}: {name}: {}", w.who(), r[name]);
        }
        assert_eq!(
            r["fake supervisor asked"],
            0,
            "{}: a server inside the tree was consulted",
            w.who()
        );
        w.assert_untouched(&before, &text);
        // The refusals the human could approve outside were recorded by the supervisor.
        let id = r["id"].as_str().unwrap();
        assert!(w.approvals().contains(id), "{}: {}", w.who(), w.approvals());
    }
}

#[test]
fn no_new_privileges_and_no_way_back() {
    for user in users() {
        let w = World::new(user);
        let before = w.snapshot();
        let (code, text, r) = w.run_agent("escape");
        assert_eq!(code, 0, "{}: {text}", w.who());
        let su = &r["su"];
        assert_eq!(su["rc"], 126, "{}: su: {su}", w.who());
        let su_err = su["err"].as_str().unwrap();
        assert!(
            su_err.contains("set-user-ID") && su_err.contains("shellguard run"),
            "{}: {su_err}",
            w.who()
        );
        if let Some(sudo) = r.get("sudo") {
            assert!(
                sudo["err"].as_str().unwrap().contains("shellguard run"),
                "{sudo}"
            );
        }
        for name in [
            "unshare -Ur",
            "umount the config view",
            "mount over the config",
            "mem of pid 1",
        ] {
            assert!(failed(&r[name]), "{}: {name} worked: {}", w.who(), r[name]);
        }
        assert_eq!(r["ptrace"]["rc"], -1, "{}: {}", w.who(), r["ptrace"]);
        assert_eq!(r["ptrace"]["errno"], nix::libc::EPERM, "{}", r["ptrace"]);
        // A pid namespace of its own: the agent's init is 1 and the agent 2; nothing else.
        let pids: Vec<u64> = r["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
        assert!(
            pids.starts_with(&[1, 2]) && pids.len() < 10,
            "{}: {pids:?}",
            w.who()
        );
        w.assert_untouched(&before, &text);
    }
}

#[test]
fn the_supervisor_cannot_be_signalled_from_inside() {
    for user in users() {
        let w = World::new(user);
        let argv = w.agent_args("escape");
        // setpriv execs, so the child's pid is the supervisor's.
        let mut cmd = w.command(&argv);
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        // The pid is only known after spawning, so the agent reads it from a file it waits for.
        let pid_file = w.root.join("work/sup.pid");
        cmd.env("SG_SUP_PID_FILE", &pid_file);
        let child = cmd.spawn().unwrap();
        tx.send(child.id()).unwrap();
        fs::write(&pid_file, rx.recv().unwrap().to_string()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let r = results(&text);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", w.who());
        let kill = &r["kill the supervisor"];
        assert!(failed(kill), "{}: {kill}", w.who());
    }
}

// ---------------------------------------------------------------------------------------------
// A human at a real terminal.

struct Pty {
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(argv: &[String], env: &[(String, String)], cwd: &Path) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(cwd);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let sink = Arc::clone(&output);
        let answer = Arc::clone(&writer);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                // Answer the status query as a terminal does.
                if buf[..n].windows(4).any(|w| w == b"\x1b[5n") {
                    let mut w = answer.lock().unwrap();
                    let _ = w.write_all(b"\x1b[0n");
                    let _ = w.flush();
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        struct Shared(Arc<Mutex<Box<dyn Write + Send>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.lock().unwrap().flush()
            }
        }
        Pty {
            writer: Box::new(Shared(writer)),
            child,
            output,
            _master: pair.master,
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_for(&mut self, needle: &str) {
        let give_up = Instant::now() + WAIT;
        while Instant::now() < give_up {
            if self.screen().contains(needle) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("{needle:?} never appeared:\n{}", self.screen());
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self) -> u32 {
        let give_up = Instant::now() + WAIT;
        while Instant::now() < give_up {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.exit_code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("did not exit:\n{}", self.screen());
    }
}

impl Drop for Pty {
    /// A test that fails half-way leaves nothing running (a watch console whose terminal is
    /// gone would keep its socket).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn supervised(w: &World, scenario: &[&str]) -> Pty {
    let mut args = w.agent_args(scenario[0]);
    args.extend(scenario[1..].iter().map(|s| s.to_string()));
    Pty::spawn(&args, &w.env(), &w.root.join("work"))
}

/// The supervisor SIGKILLed while its prompt is up: nothing runs, and the request is on
/// record. Enforced, the supervisor wrote it before asking (only it writes the log there);
/// advisory, the waiting shell writes its refusal as its terminal hangs up.
#[test]
fn a_supervisor_killed_mid_question_leaves_the_request_on_record() {
    for user in users() {
        for (mode, outcome) in [("enforced", "asked"), ("--unenforced", "refused")] {
            let w = World::new(user);
            let mut args = w.agent_args("ask");
            args.push("path".into());
            if mode == "--unenforced" {
                let run = args.iter().position(|a| a == "run").unwrap();
                args.insert(run + 1, mode.into());
            }
            let mut p = Pty::spawn(&args, &w.env(), &w.root.join("work"));
            p.wait_for("needs your approval");
            let pid = p.child.process_id().expect("supervisor pid");
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            let _ = p.child.wait();
            let give_up = Instant::now() + WAIT;
            let on_record = |audit: &str| {
                audit.lines().any(|l| {
                    l.contains("rm -r \\\"$HOME/precious\\\"")
                        && l.contains(&format!("\"outcome\":\"{outcome}\""))
                        && l.contains("\"request_id\":\"")
                })
            };
            while !on_record(&w.audit()) {
                assert!(
                    Instant::now() < give_up,
                    "{} {mode}: no {outcome} line:\n{}",
                    w.who(),
                    w.audit()
                );
                thread::sleep(Duration::from_millis(50));
            }
            assert!(w.victim_intact(), "{} {mode}", w.who());
        }
    }
}

#[test]
fn the_human_answers_at_the_supervisor_and_the_answer_takes() {
    for user in users() {
        // No: the command does not run.
        let w = World::new(user);
        let mut p = supervised(&w, &["ask"]);
        p.wait_for("needs your approval");
        thread::sleep(Duration::from_millis(600));
        p.send(b"n");
        p.wait_for("AGENT-RC=126");
        assert_eq!(p.wait_exit(), 0, "{}", p.screen());
        assert!(w.victim_intact(), "{}: refused, yet deleted", w.who());

        // Yes: it runs.
        let w = World::new(user);
        let mut p = supervised(&w, &["ask"]);
        p.wait_for("needs your approval");
        thread::sleep(Duration::from_millis(600));
        p.send(b"y");
        p.wait_for("AGENT-RC=0");
        assert_eq!(p.wait_exit(), 0, "{}", p.screen());
        assert!(!w.victim_intact(), "{}: approved, yet not run", w.who());
        // The `rm` the approved line started was not asked about a second time.
        let audit = w.audit();
        assert!(
            audit.lines().any(|l| l.contains("\"exec\":{")
                && l.contains("\"approved_by\":\"approved-line\"")
                && l.contains("/bin/rm")),
            "{}: {audit}",
            w.who()
        );

        // Yes, and remember: the supervisor records it, and the identical retry passes.
        let w = World::new(user);
        let mut p = supervised(&w, &["ask", "twice"]);
        p.wait_for("needs your approval");
        thread::sleep(Duration::from_millis(600));
        p.send(b"a");
        p.wait_for("AGENT-RC2=0");
        assert_eq!(p.wait_exit(), 0, "{}", p.screen());
        assert!(!w.victim_intact());
        assert!(
            w.approvals().contains("\"kind\":\"allow\""),
            "{}: {}",
            w.who(),
            w.approvals()
        );
        assert!(
            w.audit().contains("\"approved_by\":\"memory\""),
            "{}",
            w.audit()
        );
    }
}

#[test]
fn a_program_started_directly_waits_for_the_human() {
    for user in users() {
        for lang in ["python", "node"] {
            // No: the exec fails, and nothing is deleted.
            let w = World::new(user);
            let mut p = supervised(&w, &["ask-exec", lang]);
            p.wait_for("needs your approval");
            assert!(p.screen().contains("rm -r"), "{}", p.screen());
            assert!(p.screen().contains("directly"), "{}", p.screen());
            thread::sleep(Duration::from_millis(600));
            p.send(b"n");
            p.wait_for("AGENT-EXC=");
            assert_eq!(p.wait_exit(), 0, "{}", p.screen());
            assert!(
                w.victim_intact(),
                "{} {lang}: refused, yet deleted",
                w.who()
            );

            // Yes: the held exec goes on.
            let w = World::new(user);
            let mut p = supervised(&w, &["ask-exec", lang]);
            p.wait_for("needs your approval");
            thread::sleep(Duration::from_millis(600));
            p.send(b"y");
            p.wait_for("AGENT-RC=0");
            assert_eq!(p.wait_exit(), 0, "{}", p.screen());
            assert!(
                !w.victim_intact(),
                "{} {lang}: approved, yet not run",
                w.who()
            );
            let audit = w.audit();
            assert!(
                audit
                    .lines()
                    .any(|l| l.contains("\"exec\":{")
                        && l.contains("\"approved_by\":\"supervisor\"")),
                "{} {lang}: {audit}",
                w.who()
            );
        }
    }
}

/// An exec refused with nobody to ask keeps its id: once the human approves it outside, the
/// identical retry runs.
#[test]
fn an_exec_approved_outside_runs_on_retry() {
    for user in users() {
        let w = World::new(user);
        let (code, text, _) = w.run_agent("ask-exec");
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("AGENT-EXC="), "{}: {text}", w.who());
        let id: String = w
            .audit()
            .lines()
            .filter(|l| l.contains("\"exec\":{") && l.contains("\"outcome\":\"refused\""))
            .find_map(|l| {
                serde_json::from_str::<Value>(l).ok()?["request_id"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_else(|| panic!("{}: no refused exec with an id in {}", w.who(), w.audit()));
        assert!(w.victim_intact());
        w.approve_outside(&id);
        let (code, text, _) = w.run_agent("ask-exec");
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("AGENT-RC=0"), "{}: {text}", w.who());
        assert!(!w.victim_intact(), "{}: approved, yet not run", w.who());
    }
}

#[test]
fn an_approval_given_outside_takes_inside() {
    for user in users() {
        let w = World::new(user);
        // Nobody to ask: refused, with an id.
        let (code, text, _) = w.run_agent("ask");
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("AGENT-RC=126"), "{}: {text}", w.who());
        let id: String = text
            .split("Request id ")
            .nth(1)
            .expect("a request id")
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        assert!(w.victim_intact());
        w.approve_outside(&id);
        // The identical retry inside now runs.
        let (code, text, _) = w.run_agent("ask");
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("AGENT-RC=0"), "{}: {text}", w.who());
        assert!(!w.victim_intact(), "{}: approved, yet not run", w.who());
    }
}

#[test]
fn a_watch_console_outside_keeps_working() {
    for user in users() {
        let w = World::new(user);
        let bin = binary().display().to_string();
        let mut watch = Pty::spawn(&w.argv(&[&bin, "watch"]), &w.env(), &w.root);
        watch.wait_for("listening on");
        let sock = w.runtime.join(format!("shellguard-{}/watch.sock", w.uid()));
        let id = fs::metadata(&sock).map(|m| (m.dev(), m.ino())).unwrap();
        // Without a terminal the supervisor has no prompt: requests go to the watch console.
        let argv = w.agent_args("ask");
        let mut cmd = w.command(&argv);
        let child = cmd.spawn().unwrap();
        watch.wait_for("precious");
        thread::sleep(Duration::from_millis(700));
        watch.send(b"n");
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("AGENT-RC=126"), "{}: {text}", w.who());
        assert!(w.victim_intact());
        // Consoles started inside the tree cannot take the socket over.
        let (code, text, r) = w.run_agent("fake-watch");
        assert_eq!(code, 0, "{text}");
        for name in ["script watch", "pty.spawn watch"] {
            let got = &r[name];
            assert!(
                format!("{}{}", got["out"], got["err"]).contains("refused"),
                "{name}: {got}"
            );
        }
        assert_eq!(
            fs::metadata(&sock).map(|m| (m.dev(), m.ino())).unwrap(),
            id,
            "the watch socket was replaced"
        );
        watch.send(b"q");
        watch.wait_exit();
    }
}

#[test]
fn without_user_namespaces_run_refuses_to_start_and_says_why() {
    // A user namespace of our own in which no further one may be created.
    let bin = binary().display().to_string();
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces || exit 99; \
         {bin} run -- /bin/true </dev/null; echo rc=$?; \
         {bin} run --unenforced -- /bin/echo ran </dev/null; echo rc=$?"
    );
    let out = Command::new("unshare")
        .args(["-Ur", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("rc=125"), "{text}");
    assert!(text.contains("user namespaces are disabled"), "{text}");
    assert!(text.contains("--unenforced"), "{text}");
    assert!(text.contains("ran") && text.contains("rc=0"), "{text}");
    assert!(text.contains("advisory guard only"), "{text}");
}

/// Known bypass (README, "Known bypasses and limits"): native code the agent builds and
/// preloads into the guard (`LD_PRELOAD`) runs as the guard before any judgement, so it can
/// ask for the real shell. It is the "program's own system calls" class: such code could
/// delete the files itself. A statically linked guard would close this path; when it does,
/// this test fails and the table must change.
#[test]
fn known_bypass_native_code_preloaded_into_the_guard() {
    let w = World::new(None);
    let so = w.root.join("work/preload.so");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/enforce/preload.c");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(src)
        .status()
        .expect("cc (the Rust toolchain's linker) is needed");
    assert!(st.success());
    let bin = binary().display().to_string();
    let preload = format!("LD_PRELOAD={}", so.display());
    let argv = w.argv(&[
        &bin,
        "run",
        "--",
        "/usr/bin/env",
        &preload,
        "/bin/bash",
        "-c",
        "true",
    ]);
    let out = w.command(&argv).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UNGUARDED-SHELL"), "{text}");
}

/// Known limits (README, "Known bypasses and limits"): the exec gate judges what a program is
/// started with, by its name; it does not see what a program does with its own system calls
/// (`shutil.rmtree`), nor that a program under a name no rule knows is a copy of `rm`.
#[test]
fn known_limit_what_programs_do_themselves() {
    let w = World::new(None);
    let (code, text, r) = w.run_agent("limits");
    assert_eq!(code, 0, "{text}");
    assert_eq!(r["shutil.rmtree"]["ok"], true, "{text}");
    assert_eq!(r["a copy of rm named tidy"]["rc"], 0, "{text}");
    assert_eq!(r["other left"], serde_json::json!([]), "{text}");
}

/// The exec gate: a program started directly, with no shell in between (Python's
/// `subprocess`, Node's `execFileSync`, `os.execvp`, the recipes `make` runs without a shell,
/// `rm` behind a link named `ls`), is judged as the same words in a shell would be. With
/// nobody to ask, a confirm is refused with an id, the paragraph reaches the caller's stderr
/// and the caller sees EACCES; harmless execs run untouched.
#[test]
fn programs_started_without_a_shell_are_judged() {
    for user in users() {
        let w = World::new(user);
        let before = w.snapshot();
        let (code, text, r) = w.run_agent("execs");
        assert_eq!(code, 0, "{}: {text}", w.who());
        for name in [
            "python subprocess rm",
            "make simple recipe",
            "rm behind a link named ls",
        ] {
            let got = &r[name];
            assert!(refused(got), "{}: {name} was not refused: {got}", w.who());
            assert!(
                got["err"].as_str().unwrap().contains("fs.rm-recursive")
                    && got["err"].as_str().unwrap().contains("Request id"),
                "{}: {name}: {got}",
                w.who()
            );
        }
        assert!(
            r["python subprocess rm"]["err"]
                .as_str()
                .unwrap()
                .contains("Permission denied"),
            "the caller sees EACCES: {}",
            r["python subprocess rm"]
        );
        let node = &r["node execFileSync rm"];
        assert_ne!(node["rc"], 0, "{}: {node}", w.who());
        assert!(
            node["err"].as_str().unwrap().contains("EACCES"),
            "{}: {node}",
            w.who()
        );
        assert_eq!(
            r["os.execvp git push --force"],
            100 + libc::EACCES,
            "{}: {text}",
            w.who()
        );
        assert_eq!(
            r["other left"],
            serde_json::json!(["a", "b", "c", "d"]),
            "{}: {text}",
            w.who()
        );
        assert_eq!(r["storm ok"], 200, "{}: {text}", w.who());
        assert_eq!(r["benign direct exec"]["rc"], 0, "{}: {text}", w.who());
        let audit = w.audit();
        let execs: Vec<Value> = audit
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("exec").is_some())
            .collect();
        // Recorded when asked, then with what came of it.
        assert!(
            execs
                .iter()
                .any(|v| v["command"] == "git push --force origin main" && v["outcome"] == "asked"),
            "{}: {audit}",
            w.who()
        );
        let push = execs
            .iter()
            .find(|v| v["command"] == "git push --force origin main" && v["outcome"] != "asked")
            .unwrap_or_else(|| panic!("{}: no exec record for the push in {audit}", w.who()));
        assert_eq!(push["outcome"], "refused");
        assert!(push["request_id"].is_string(), "{push}");
        assert!(
            push["exec"]["pid"].as_u64().is_some_and(|p| p > 1),
            "{push}"
        );
        assert!(
            push["exec"]["parent"].as_str().unwrap().contains("python"),
            "{push}"
        );
        assert!(
            push["exec"]["path"].as_str().unwrap().ends_with("/git"),
            "{push}"
        );
        assert!(
            !audit.contains("\"command\":\"true\""),
            "execs no rule matched are not logged"
        );
        w.assert_untouched(&before, &text);
    }
}

/// Outside `run`, as an ordinary user whose state directory is read-only, then unreadable:
/// allowed commands run as before, and what cannot be recorded is said, not lost silently.
#[test]
fn a_state_directory_that_cannot_be_written_changes_no_decision() {
    for user in users() {
        let Some(_) = user else {
            // Root writes through any mode: only an ordinary user meets this fault.
            continue;
        };
        let w = World::new(user);
        let state = w.home.join(".local/state/shellguard");
        let bin = binary().display().to_string();
        // Read-only as a read-only file system would make it, the log included.
        fs::set_permissions(state.join("audit.jsonl"), fs::Permissions::from_mode(0o400)).unwrap();
        for mode in [0o500, 0o000] {
            fs::set_permissions(&state, fs::Permissions::from_mode(mode)).unwrap();
            let run = |line: &str| {
                let out = w
                    .command(&w.argv(&[&bin, "-c", line]))
                    .env("CLAUDECODE", "1")
                    .output()
                    .unwrap();
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            };
            let (code, out, err) = run("echo still-runs");
            assert_eq!(
                (code, out.as_str()),
                (Some(0), "still-runs\n"),
                "{mode:o}: {err}"
            );
            assert!(
                err.contains("the audit log cannot be written"),
                "{mode:o}: {err}"
            );
            let (code, _, err) = run("rm -r \"$HOME/precious\"");
            assert_eq!(code, Some(126), "{mode:o}: {err}");
            assert!(
                err.contains("Approving it later is not possible") && !err.contains("Request id"),
                "{mode:o}: {err}"
            );
            assert!(w.victim_intact());
        }
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    }
}
