//! The command-line contract, end to end: the built `shellguard` binary against the real bash.
//!
//! Every test spawns the binary (by its own name, or through temp links named `bash`/`sh`),
//! usually detached from any terminal (`setsid` in the child, stdin `/dev/null`), the way
//! Claude Code and Codex start their shells. Scratch files live in unique temp directories that
//! are removed afterwards; nothing here mutates this process's environment, so the tests are
//! safe to run in parallel. Every child runs under a deadline and is killed if it overstays.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

const SG: &str = env!("CARGO_BIN_EXE_shellguard");

/// Generous: a loaded 2-core machine is slow, but nothing may hang the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The refusal paragraph's fixed phrases (overview.md: names the rule, says what to do next).
const NOTHING_RAN: &str = "Nothing was run";
const NO_WORKAROUND: &str = "Do not look for another way";

// =============================================================================================
// Harness: temp dirs, real shells, and a fluent runner.

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sg-cli-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A directory removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Under the system temp dir (path class "temp": fine for anything that is not a victim).
    fn new(tag: &str) -> Scratch {
        Scratch::under(&std::env::temp_dir(), tag)
    }

    /// In cargo's per-target temp dir, beside the checkout. Which path class that is depends
    /// on where the checkout lives (below /tmp it is "temp"), so no test may rely on it.
    fn in_target(tag: &str) -> Scratch {
        Scratch::under(Path::new(env!("CARGO_TARGET_TMPDIR")), tag)
    }

    fn under(base: &Path, tag: &str) -> Scratch {
        let path = base.join(unique(tag));
        fs::create_dir_all(&path).expect("create scratch dir");
        // Canonical, so it compares equal to what `pwd -P` prints.
        let path = fs::canonicalize(&path).expect("canonical scratch dir");
        Scratch { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.join(rel);
        fs::create_dir_all(&p).expect("mkdir");
        p
    }

    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir parent");
        }
        fs::write(&p, content).expect("write file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A directory of links named `bash` and `sh` pointing at the shellguard binary, as install.sh
/// lays them out.
struct Shims {
    dir: Scratch,
}

impl Shims {
    fn new() -> Shims {
        let dir = Scratch::new("shims");
        for name in ["bash", "sh"] {
            std::os::unix::fs::symlink(SG, dir.join(name)).expect("symlink shim");
        }
        Shims { dir }
    }

    fn bash(&self) -> PathBuf {
        self.dir.join("bash")
    }

    fn sh(&self) -> PathBuf {
        self.dir.join("sh")
    }

    /// `PATH` with the shims first, as an agent's environment would have it.
    fn path_var(&self) -> OsString {
        let mut p = self.dir.path().as_os_str().to_owned();
        p.push(":");
        p.push(std::env::var_os("PATH").unwrap_or_default());
        p
    }
}

/// The first executable `name` on this process's `PATH` (which has no shims on it).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn real_bash() -> PathBuf {
    which("bash").unwrap_or_else(|| PathBuf::from("/bin/bash"))
}

fn real_sh() -> PathBuf {
    which("sh").unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

#[derive(Clone)]
enum Fd3 {
    Closed,
    /// A pipe whose write end is the child's fd 3; what arrives is in `Out::fd3`.
    Pipe,
    /// A file opened for reading as the child's fd 3.
    File(PathBuf),
}

/// One process to run: program, argv (argv[0] separately), cwd, env, stdin, fd 3.
#[derive(Clone)]
struct Sg {
    program: PathBuf,
    arg0: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    stdin: Option<Vec<u8>>,
    /// Keep the stdin pipe open until the child exits, as agents that spawn with a pipe do.
    hold_stdin: bool,
    fd3: Fd3,
    detach: bool,
    /// Signals set to SIG_IGN before exec (as `nohup` or a non-interactive shell's `&` do).
    ignored_signals: Vec<libc::c_int>,
    timeout: Duration,
}

struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: ExitStatus,
    fd3: Vec<u8>,
    pid: u32,
    elapsed: Duration,
}

impl Sg {
    /// The shellguard binary, started by its own path.
    fn new() -> Sg {
        Sg::at(Path::new(SG))
    }

    /// `program`, started with argv[0] equal to its path (as execvp(path) would).
    fn at(program: &Path) -> Sg {
        Sg {
            program: program.to_path_buf(),
            arg0: program.as_os_str().to_owned(),
            args: Vec::new(),
            cwd: None,
            // A developer's own configuration must not change what the tests see.
            env: vec![("SHELLGUARD_REAL_SHELL".into(), None)],
            env_clear: false,
            stdin: None,
            hold_stdin: false,
            fd3: Fd3::Closed,
            detach: true,
            ignored_signals: Vec::new(),
            timeout: RUN_TIMEOUT,
        }
    }

    /// The same argv, argv[0] included, given to another program (the real shell).
    fn program(mut self, program: &Path) -> Sg {
        self.program = program.to_path_buf();
        self
    }

    fn arg0(mut self, arg0: impl AsRef<OsStr>) -> Sg {
        self.arg0 = arg0.as_ref().to_owned();
        self
    }

    fn arg(mut self, a: impl AsRef<OsStr>) -> Sg {
        self.args.push(a.as_ref().to_owned());
        self
    }

    fn args<I, S>(mut self, args: I) -> Sg
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    fn cwd(mut self, dir: &Path) -> Sg {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Sg {
        self.env
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self
    }

    fn env_clear(mut self) -> Sg {
        self.env_clear = true;
        self.env.clear();
        self
    }

    fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Sg {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    /// A stdin pipe that stays open (and unwritten, unless `stdin` gave bytes) until the
    /// child exits.
    fn stdin_held_open(mut self) -> Sg {
        self.hold_stdin = true;
        self
    }

    fn ignore_signal(mut self, sig: libc::c_int) -> Sg {
        self.ignored_signals.push(sig);
        self
    }

    fn fd3_pipe(mut self) -> Sg {
        self.fd3 = Fd3::Pipe;
        self
    }

    fn fd3_file(mut self, path: &Path) -> Sg {
        self.fd3 = Fd3::File(path.to_path_buf());
        self
    }

    fn timeout(mut self, d: Duration) -> Sg {
        self.timeout = d;
        self
    }

    /// Stay in the test's session and process group (no `setsid`).
    fn attached(mut self) -> Sg {
        self.detach = false;
        self
    }

    fn describe(&self) -> String {
        let mut s = format!("{:?} (argv0 {:?})", self.program, self.arg0);
        for a in &self.args {
            s.push_str(&format!(" {a:?}"));
        }
        s
    }

    fn run(&self) -> Out {
        let mut cmd = Command::new(&self.program);
        cmd.arg0(&self.arg0).args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.stdin(if self.stdin.is_some() || self.hold_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());

        let (fd3_parent, fd3_child): (Option<OwnedFd>, Option<OwnedFd>) = match &self.fd3 {
            Fd3::Closed => (None, None),
            Fd3::Pipe => {
                // CLOEXEC, so children spawned by other tests in parallel do not inherit it.
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
                (Some(r), Some(w))
            }
            Fd3::File(p) => (
                None,
                Some(OwnedFd::from(fs::File::open(p).expect("open fd3 file"))),
            ),
        };
        let detach = self.detach;
        let child_fd = fd3_child.as_ref().map(AsRawFd::as_raw_fd);
        let ignored = self.ignored_signals.clone();
        // SAFETY: only async-signal-safe calls (setsid, signal, dup2, fcntl) between fork and
        // exec; `ignored` was allocated before the fork and is only read.
        unsafe {
            cmd.pre_exec(move || {
                if detach && libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                for &sig in &ignored {
                    libc::signal(sig, libc::SIG_IGN);
                }
                if let Some(fd) = child_fd {
                    let r = if fd == 3 {
                        libc::fcntl(3, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(fd, 3)
                    };
                    if r == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }

        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.describe()));
        drop(fd3_child);
        let pid = child.id();
        // Dropped once the child has exited: a held stdin pipe closes then.
        let (release_stdin, held) = mpsc::channel::<()>();
        if let Some(mut w) = child.stdin.take() {
            let bytes = self.stdin.clone().unwrap_or_default();
            let hold = self.hold_stdin;
            // The child may exit without reading: a broken pipe is not an error here.
            thread::spawn(move || {
                let _ = w.write_all(&bytes);
                if hold {
                    let _ = held.recv();
                }
            });
        }
        let out_rx = drain(child.stdout.take().expect("stdout pipe"));
        let err_rx = drain(child.stderr.take().expect("stderr pipe"));
        let fd3_rx = fd3_parent.map(|r| drain(fs::File::from(r)));

        let deadline = started + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                if detach {
                    // SAFETY: the child leads its own process group; kill all of it.
                    unsafe {
                        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
                    }
                }
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not finish within {:?}",
                    self.describe(),
                    self.timeout
                );
            }
            thread::sleep(Duration::from_millis(2));
        };
        let elapsed = started.elapsed();
        drop(release_stdin);
        let collect = |rx: mpsc::Receiver<Vec<u8>>, what: &str| {
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{what} of {} stayed open", self.describe()))
        };
        Out {
            stdout: collect(out_rx, "stdout"),
            stderr: collect(err_rx, "stderr"),
            fd3: fd3_rx.map(|rx| collect(rx, "fd 3")).unwrap_or_default(),
            status,
            pid,
            elapsed,
        }
    }

    /// Runs through shellguard and then, with the identical argv/env/cwd/stdin, through
    /// `real`; returns a description of every difference (empty: byte for byte the same).
    fn diff_against(&self, real: &Path) -> (Out, Vec<String>) {
        let ours = self.run();
        let theirs = self.clone().program(real).run();
        let mut diffs = Vec::new();
        if ours.status.code() != theirs.status.code()
            || ours.status.signal() != theirs.status.signal()
        {
            diffs.push(format!(
                "status: shellguard {:?}, real {:?}",
                ours.status, theirs.status
            ));
        }
        for (name, a, b) in [
            ("stdout", &ours.stdout, &theirs.stdout),
            ("stderr", &ours.stderr, &theirs.stderr),
        ] {
            if a != b {
                diffs.push(format!(
                    "{name}:\n  shellguard: {:?}\n  real:       {:?}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ));
            }
        }
        let diffs = diffs
            .into_iter()
            .map(|d| format!("{}: {d}", self.describe()))
            .collect();
        (ours, diffs)
    }

    /// Asserts the run is byte for byte what `real` does with the same argv; returns ours.
    fn same_as(&self, real: &Path) -> Out {
        let (ours, diffs) = self.diff_against(real);
        assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
        ours
    }
}

fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn show(&self) -> String {
        format!(
            "status {:?}\nstdout: {:?}\nstderr: {:?}",
            self.status,
            self.out(),
            self.err()
        )
    }

    /// Refused: exit 126, nothing on stdout, and one paragraph on stderr that names `rule`,
    /// says nothing ran and tells the agent not to work around it.
    fn assert_refused(&self, rule: &str) {
        assert_eq!(self.code(), Some(126), "{}", self.show());
        assert!(self.stdout.is_empty(), "stdout not empty: {}", self.show());
        let err = self.err();
        assert!(err.ends_with('\n'), "{}", self.show());
        assert_eq!(
            err.trim_end_matches('\n').lines().count(),
            1,
            "not one paragraph: {}",
            self.show()
        );
        assert!(
            err.starts_with("shellguard: refused"),
            "stderr does not start with the refusal: {}",
            self.show()
        );
        for want in [rule, NOTHING_RAN, NO_WORKAROUND] {
            assert!(err.contains(want), "missing {want:?}: {}", self.show());
        }
    }
}

/// `shellguard check --json -- CMD` from `cwd`, parsed.
fn check_json(cmd: &str, cwd: &Path) -> serde_json::Value {
    let out = Sg::new()
        .args(["check", "--json", "--", cmd])
        .cwd(cwd)
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json printed no JSON ({e}): {}", out.show()))
}

/// Safety interlock: before a test runs something destructive through shellguard expecting a
/// refusal, make sure shellguard would refuse it, so a regression fails the test instead of
/// running the command.
fn require_decision(cmd: &str, cwd: &Path, want: &str) {
    let v = check_json(cmd, cwd);
    assert_eq!(
        v["decision"], want,
        "precondition: shellguard check must say {want} for {cmd:?} in {cwd:?}; not running it. {v}"
    );
}

/// A git repository with one commit and an uncommitted change to `tracked.txt`.
fn git_repo_with_change(s: &Scratch) -> PathBuf {
    let repo = s.mkdir("repo");
    let git = |args: &[&str]| {
        let out = Sg::at(&which("git").expect("git on PATH"))
            .arg0("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .cwd(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", s.path())
            .run();
        assert_eq!(out.code(), Some(0), "git {args:?}: {}", out.show());
    };
    git(&["init", "-q"]);
    fs::write(repo.join("tracked.txt"), "committed\n").unwrap();
    git(&["add", "tracked.txt"]);
    git(&["commit", "-q", "-m", "one"]);
    fs::write(repo.join("tracked.txt"), "uncommitted work\n").unwrap();
    repo
}

fn assert_change_survived(repo: &Path) {
    assert_eq!(
        fs::read_to_string(repo.join("tracked.txt")).unwrap(),
        "uncommitted work\n",
        "the uncommitted change was discarded: the command ran"
    );
}

/// A project whose `.git` directory is the victim: `rm -rf .git` from the project is a
/// recursive delete of the project's own history, "project root" to shellguard (confirm)
/// wherever the checkout lives — even below /tmp, where a sibling directory would count as
/// temp and be allowed.
struct ProjectAndVictim {
    _root: Scratch,
    project: PathBuf,
    victim: PathBuf,
}

impl ProjectAndVictim {
    fn new() -> ProjectAndVictim {
        let root = Scratch::in_target("victim");
        let project = root.mkdir("project");
        let victim = project.join(".git");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("precious.txt"), "keep me\n").unwrap();
        ProjectAndVictim {
            _root: root,
            project,
            victim,
        }
    }

    fn assert_victim_intact(&self) {
        assert_eq!(
            fs::read_to_string(self.victim.join("precious.txt"))
                .ok()
                .as_deref(),
            Some("keep me\n"),
            "the victim directory was touched: the command ran"
        );
    }
}

const RM_VICTIM: &str = "rm -rf .git";

// =============================================================================================
// 1. Same as bash, byte for byte.

/// A case of the table: argv after argv[0], and stdin.
struct Case {
    args: Vec<&'static str>,
    stdin: Option<&'static str>,
    cwd_scripts: bool,
    login_home: bool,
}

fn case(args: &[&'static str]) -> Case {
    Case {
        args: args.to_vec(),
        stdin: None,
        cwd_scripts: false,
        login_home: false,
    }
}

impl Case {
    fn stdin(mut self, s: &'static str) -> Case {
        self.stdin = Some(s);
        self
    }
    /// Run in a directory holding `script.sh`.
    fn in_scripts(mut self) -> Case {
        self.cwd_scripts = true;
        self
    }
    /// A login shell: give it an empty `HOME` so the developer's dotfiles do not run.
    fn login(mut self) -> Case {
        self.login_home = true;
        self
    }
}

const SCRIPT: &str = "echo \"script:$0:$#:$1:$2\"\necho to-stderr >&2\nexit 5\n";

fn allowed_bash_cases() -> Vec<Case> {
    vec![
        case(&["-c", "echo out; echo err >&2"]),
        case(&["-c", "true"]),
        case(&["-c", "false"]),
        case(&["-c", "echo before; exit 3"]),
        case(&["-c", "sg-no-such-command-xyz --flag"]),
        case(&["-c", "printf 'a\\0b\\377\\n'; printf 'no newline' >&2"]),
        case(&["-c", "echo \"[$0] [$#] [$*]\""]),
        case(&["-c", "echo \"[$0] [$#] [$1] [$2]\"", "NAME", "a", "b c"]),
        case(&["-c", "echo \"[$0] [$#]\"", "--", "x"]),
        case(&["-lc", "shopt -q login_shell && echo login; echo \"$0\""]).login(),
        case(&[
            "-c",
            "-l",
            "shopt -q login_shell && echo login; echo \"$0\"",
        ])
        .login(),
        case(&["-c", "-l", "echo \"[$0] [$1]\"", "N", "one"]).login(),
        case(&["-e", "-c", "echo one; false; echo not-reached"]),
        case(&["-ec", "false; echo not-reached"]),
        case(&["-o", "pipefail", "-c", "false | true"]),
        case(&["-c", "false | true"]),
        case(&[
            "-O",
            "extglob",
            "-c",
            "shopt extglob; x=ab; echo ${x/@(a|z)/-}",
        ]),
        case(&["+O", "extglob", "-c", "shopt extglob"]),
        case(&["--norc", "--noprofile", "-c", "echo plain"]),
        case(&["-x", "-c", "echo traced; y=2; echo \"$y\" >&2"]),
        case(&["-c", "set -x; echo traced; : \"$0\""]),
        case(&["-c", "read a; read b; echo \"got:$a:$b\"; cat"]).stdin("one\ntwo\nrest\n"),
        case(&["script.sh", "a", "b c"]).in_scripts(),
        case(&["./script.sh"]).in_scripts(),
        case(&["--norc", "script.sh", "x"]).in_scripts(),
        case(&["no-such-script.sh"]).in_scripts(),
        case(&["-s", "a", "b"]).stdin("echo \"stdin:$#:$1:$2\"; echo e >&2; exit 4\n"),
        case(&[]).stdin("echo \"piped:$0:$#\"\nexit 6\n"),
        // The script reads the rest of its own stdin: bash must get it as from a pipe.
        case(&[]).stdin("read x\nhello from stdin\necho \"got:$x\"\n"),
        case(&["-s"]).stdin("read x\nline-two\necho \"got:$x\"; cat\nline-four\n"),
        case(&["-c", "echo \"$-\" | tr -d 'hB'"]),
        case(&["-s"]),
        case(&[]).stdin(""),
        // Same open file descriptors, file mode mask and limits as bash was given.
        case(&["-c", "ls /proc/$$/fd; :"]),
        case(&["-c", "ls /proc/self/fd"]),
        case(&["-c", "umask; ulimit -a"]),
    ]
}

fn run_case_table(program: &Path, arg0: &OsStr, cases: Vec<Case>, real: &Path) -> Vec<String> {
    let scripts = Scratch::new("scripts");
    scripts.write("script.sh", SCRIPT);
    fs::set_permissions(scripts.join("script.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let home = Scratch::new("home");
    let mut failures = Vec::new();
    for c in cases {
        let mut sg = Sg::at(program).arg0(arg0).args(&c.args);
        if c.cwd_scripts {
            sg = sg.cwd(scripts.path());
        }
        if c.login_home {
            sg = sg.env("HOME", home.path());
        }
        if let Some(input) = c.stdin {
            sg = sg.stdin(input);
        }
        let (ours, diffs) = sg.diff_against(real);
        failures.extend(diffs);
        if ours.code() == Some(126) {
            failures.push(format!("{}: refused: {}", sg.describe(), ours.err()));
        }
    }
    failures
}

#[test]
fn allowed_commands_behave_byte_for_byte_like_bash() {
    let real = real_bash();
    let failures = run_case_table(Path::new(SG), OsStr::new(SG), allowed_bash_cases(), &real);
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn allowed_commands_through_a_bash_link_behave_byte_for_byte_like_bash() {
    let shims = Shims::new();
    let real = real_bash();
    let mut failures = run_case_table(
        &shims.bash(),
        shims.bash().as_os_str(),
        allowed_bash_cases(),
        &real,
    );
    // argv[0] exactly "bash", as an agent gets from a PATH lookup.
    failures.extend(run_case_table(
        &shims.bash(),
        OsStr::new("bash"),
        allowed_bash_cases(),
        &real,
    ));
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn exit_statuses_pass_through() {
    for (cmd, want) in [
        ("true", 0),
        ("false", 1),
        ("exit 3", 3),
        ("sg-no-such-command-xyz", 127),
        ("exit 125", 125),
    ] {
        let out = Sg::new().args(["-c", cmd]).run();
        assert_eq!(out.code(), Some(want), "{cmd}: {}", out.show());
    }
}

#[test]
fn bash_link_version_is_the_real_bash_version() {
    let shims = Shims::new();
    let out = Sg::at(&shims.bash()).arg("--version").same_as(&real_bash());
    assert_eq!(out.code(), Some(0));
    assert!(
        out.out().starts_with("GNU bash, version "),
        "{}",
        out.show()
    );
    // Also with argv[0] "bash" (found on PATH) and as the first of several options.
    Sg::at(&shims.bash())
        .arg0("bash")
        .args(["--version", "-c", "echo not-run"])
        .same_as(&real_bash());
}

#[test]
fn bash_link_usage_errors_are_the_real_bash_errors() {
    let shims = Shims::new();
    let real = real_bash();
    let mut failures = Vec::new();
    for args in [
        &["-c"][..],
        &["--bogus"],
        &["-Z", "-c", "echo x"],
        &["-o", "no-such-option", "-c", "echo x"],
        &["-O", "no-such-shopt", "-c", "echo x"],
        &["--rcfile"],
    ] {
        for arg0 in [shims.bash().into_os_string(), OsString::from("bash")] {
            let sg = Sg::at(&shims.bash()).arg0(&arg0).args(args);
            let (ours, diffs) = sg.diff_against(&real);
            failures.extend(diffs);
            if ours.code() == Some(126) {
                failures.push(format!("{}: refused", sg.describe()));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn bash_link_gives_subcommand_names_their_bash_meaning() {
    // Through a link named bash, `check` is a script file name, not a subcommand.
    let shims = Shims::new();
    let dir = Scratch::new("subcmd");
    let out = Sg::at(&shims.bash())
        .arg0("bash")
        .args(["check", "--json", "--", "echo hi"])
        .cwd(dir.path())
        .same_as(&real_bash());
    assert_eq!(out.code(), Some(127), "{}", out.show());
    dir.write("check", "echo \"I am the check script: $*\"\n");
    let out = Sg::at(&shims.bash())
        .arg0("bash")
        .args(["check", "x", "y"])
        .cwd(dir.path())
        .same_as(&real_bash());
    assert_eq!(out.out(), "I am the check script: x y\n");
}

#[test]
fn sh_link_behaves_like_the_real_sh() {
    let shims = Shims::new();
    let real = real_sh();
    let mut failures = Vec::new();
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["-c", "echo $0"], None),
        (vec!["-c", "echo \"[$0] [$#] [$1]\"", "NAME", "a"], None),
        (vec!["-c", "echo ${BASH_VERSION:-not-bash}"], None),
        // A bash-ism: dash says "[[: not found" (127); bash would print y.
        (vec!["-c", "[[ 1 == 1 ]] && echo y"], None),
        (vec!["-c", "echo out; echo err >&2; exit 7"], None),
        (vec!["-e", "-c", "false; echo not-reached"], None),
        (vec!["-c"], None),
        (vec!["-s", "a", "b"], Some("echo \"stdin:$#:$1:$2\"\n")),
        (vec![], Some("echo piped; exit 4\n")),
    ];
    for (args, stdin) in cases {
        for arg0 in [shims.sh().into_os_string(), OsString::from("sh")] {
            let mut sg = Sg::at(&shims.sh()).arg0(&arg0).args(&args);
            if let Some(s) = stdin {
                sg = sg.stdin(s);
            }
            let (ours, diffs) = sg.diff_against(&real);
            failures.extend(diffs);
            if ours.code() == Some(126) {
                failures.push(format!("{}: refused: {}", sg.describe(), ours.err()));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn syntax_error_is_refused_and_nothing_runs() {
    // Unparseable means unknown, so shellguard asks; with no terminal that is a refusal. bash
    // itself would run the first line before failing on the second.
    let dir = Scratch::new("syntax");
    for text in [
        "touch SENTINEL\nif then fi fi",
        "touch SENTINEL; echo 'unterminated",
        "touch SENTINEL\necho $((1 +))\n(",
    ] {
        let out = Sg::new().args(["-c", text]).cwd(dir.path()).run();
        out.assert_refused("unknown.parse-error");
        assert!(!dir.join("SENTINEL").exists(), "{text:?} ran");
    }
}

// =============================================================================================
// 2. execve in place.

#[test]
fn execs_in_place_same_pid_parent_group_and_session() {
    // Field 3 onwards of /proc/PID/stat (after "(comm) "): state ppid pgrp session.
    let script = "read -r s < /proc/$$/stat; s=${s##*) }; set -- $s; echo \"$$ $2 $3 $4\"";
    let out = Sg::new().args(["-c", script]).attached().run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    // SAFETY: plain queries about this process.
    let (pgrp, sid) = unsafe { (libc::getpgrp(), libc::getsid(0)) };
    let want = format!("{} {} {} {}\n", out.pid, std::process::id(), pgrp, sid);
    assert_eq!(
        out.out(),
        want,
        "want `pid ppid pgrp sid` of the process we spawned: no fork, no setsid, no setpgid"
    );
}

#[test]
fn detached_shell_keeps_the_pid_it_was_spawned_with() {
    let out = Sg::new().args(["-c", "echo $$"]).run();
    assert_eq!(out.out(), format!("{}\n", out.pid), "{}", out.show());
}

#[test]
fn environment_is_passed_untouched() {
    let home = Scratch::new("envhome");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let base = || {
        Sg::new()
            .env_clear()
            .env("PATH", &path)
            .env("HOME", home.path())
            .env("LANG", "C")
            .env("SG_PLAIN", "value")
            .env("SG_SPACES", "  two  spaces ")
            .env("SG_NEWLINE", "line1\nline2")
            .env("SG_QUOTES", "it's \"quoted\" $HOME `x`")
            .env("SG_EMPTY", "")
            .env("BASH_FUNC_sgfn%%", "() {  echo from-exported-function\n}")
            .env("SHLVL", "4")
            .env("CLAUDECODE", "1")
    };
    let real = real_bash();
    let out = base().args(["-c", "env"]).same_as(&real);
    let env = out.out();
    for want in [
        "SG_PLAIN=value\n",
        "SG_NEWLINE=line1\nline2\n",
        "SG_EMPTY=\n",
    ] {
        assert!(env.contains(want), "missing {want:?} in:\n{env}");
    }
    // The same through bash's own view, and the exported function still imports.
    base()
        .args(["-c", "export -p; sgfn; echo \"$SHLVL\""])
        .same_as(&real);
    // An environment with nothing at all in it (no PATH, no HOME).
    Sg::new()
        .env_clear()
        .args(["-c", "env; echo \"[$PATH]\""])
        .same_as(&real);
}

#[test]
fn stdin_is_not_swallowed() {
    let out = Sg::new()
        .args(["-c", "read x; echo \"got:$x\"; cat"])
        .stdin("first line\nsecond line\n")
        .same_as(&real_bash());
    assert_eq!(out.out(), "got:first line\nsecond line\n");
    // A large stdin arrives whole.
    let big: String = (0..20000).map(|i| format!("line {i}\n")).collect();
    let out = Sg::new().args(["-c", "wc -l"]).stdin(&big).run();
    assert_eq!(out.out().trim(), "20000", "{}", out.show());
}

#[test]
fn stdin_pipe_held_open_does_not_block_a_command() {
    // Claude Code spawns with stdin a pipe it never closes: `-c` must not wait for its end.
    let shims = Shims::new();
    for sg in [
        Sg::new(),
        Sg::at(&shims.bash()).arg0("bash"),
        Sg::at(&shims.sh()).arg0("sh"),
    ] {
        let out = sg
            .args(["-c", "echo quick"])
            .stdin_held_open()
            .timeout(Duration::from_secs(10))
            .run();
        assert_eq!(out.out(), "quick\n", "{}", out.show());
        assert_eq!(out.code(), Some(0));
    }
}

#[test]
#[ignore = "bug: a script streamed on a stdin pipe that stays open (a persistent bash session over pipes) never runs: shellguard reads stdin to EOF before running anything, where bash runs each command as it arrives"]
fn script_streamed_on_an_open_stdin_pipe_runs_as_it_arrives() {
    let shims = Shims::new();
    let mut cmd = Command::new(shims.bash());
    cmd.arg0("bash")
        .env_remove("SHELLGUARD_REAL_SHELL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let _ = tx.send(got.clone());
        }
    });
    stdin.write_all(b"echo first\n").unwrap();
    stdin.flush().unwrap();
    let first = rx.recv_timeout(Duration::from_secs(5));
    // Clean up before judging: end the session, then make sure the child is gone.
    drop(stdin);
    let give_up = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: the child leads its own process group.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.wait();
    assert_eq!(
        first.ok().as_deref(),
        Some(&b"first\n"[..]),
        "the first command did not run while the session was open"
    );
}

#[test]
fn sigpipe_is_not_ignored_in_bash() {
    Sg::new()
        .args([
            "-c",
            "grep '^SigIgn' /proc/$$/status; yes | head -1; echo \"${PIPESTATUS[@]}\"",
        ])
        .same_as(&real_bash());
}

#[test]
fn inherited_ignored_signals_reach_bash() {
    Sg::new()
        .ignore_signal(libc::SIGHUP)
        .ignore_signal(libc::SIGALRM)
        .args(["-c", "grep -E '^Sig(Ign|Blk)' /proc/$$/status; :"])
        .same_as(&real_bash());
}

#[test]
fn file_descriptor_3_stays_open() {
    let out = Sg::new()
        .args(["-c", "echo via3 >&3; echo out"])
        .fd3_pipe()
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert_eq!(out.out(), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.fd3), "via3\n");
    // And readable: a snapshot passed on fd 3, as Cursor does.
    let dir = Scratch::new("fd3");
    let snap = dir.write("snap", "from fd 3\n");
    let out = Sg::new().args(["-c", "cat <&3"]).fd3_file(&snap).run();
    assert_eq!(out.out(), "from fd 3\n", "{}", out.show());
}

#[test]
fn shims_first_on_path_never_recurse() {
    let shims = Shims::new();
    let run = |arg0: &str, program: PathBuf, cmd: &str| {
        Sg::at(&program)
            .arg0(arg0)
            .args(["-c", cmd])
            .env("PATH", shims.path_var())
            .run()
    };
    let out = run(
        "bash",
        shims.bash(),
        "bash -c 'bash -c \"echo nested\"'; sh -c 'echo \"sh:$0\"'; command -v bash",
    );
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert_eq!(
        out.out(),
        format!("nested\nsh:sh\n{}\n", shims.bash().display()),
        "{}",
        out.show()
    );
    // sh → bash → sh, all through the shims.
    let out = run("sh", shims.sh(), "bash -c 'sh -c \"echo deep\"'");
    assert_eq!(out.out(), "deep\n", "{}", out.show());
    assert_eq!(out.code(), Some(0));
    // Started by its own name with the shims first, too.
    let out = Sg::new()
        .args(["-c", "echo own-name"])
        .env("PATH", shims.path_var())
        .run();
    assert_eq!(out.out(), "own-name\n", "{}", out.show());
}

// =============================================================================================
// 3. Refusals with no terminal.

#[test]
fn confirm_without_terminal_refuses_git_reset_hard() {
    let s = Scratch::new("reset");
    let repo = git_repo_with_change(&s);
    let out = Sg::new()
        .args(["-c", "touch SENTINEL; git reset --hard"])
        .cwd(&repo)
        .run();
    out.assert_refused("git.reset-hard");
    assert!(out.err().contains("no terminal"), "{}", out.show());
    assert!(!repo.join("SENTINEL").exists(), "the line ran");
    assert_change_survived(&repo);
}

#[test]
fn confirm_without_terminal_refuses_rm_outside_the_project() {
    let pv = ProjectAndVictim::new();
    let line = format!("touch SENTINEL; {RM_VICTIM}");
    require_decision(&line, &pv.project, "confirm");
    let out = Sg::new().args(["-c", &line]).cwd(&pv.project).run();
    out.assert_refused("fs.rm-recursive");
    assert!(!pv.project.join("SENTINEL").exists(), "the line ran");
    pv.assert_victim_intact();
}

#[test]
fn deny_refuses_and_nothing_in_the_line_runs() {
    let dir = Scratch::new("deny");
    let line = "touch SENTINEL; rm -rf /";
    require_decision(line, dir.path(), "deny");
    let shims = Shims::new();
    let script = dir.write("danger.sh", &format!("{line}\n"));
    let runs = [
        Sg::new().args(["-c", line]),
        Sg::at(&shims.bash()).args(["-c", line]),
        Sg::at(&shims.bash()).arg0("bash").args(["-lc", line]),
        Sg::at(&shims.sh()).arg0("sh").args(["-c", line]),
        Sg::new().arg(&script),
        Sg::new().arg("-s").stdin(format!("{line}\n")),
        Sg::new().stdin(format!("{line}\n")),
    ];
    for sg in runs {
        let out = sg.clone().cwd(dir.path()).env("HOME", dir.path()).run();
        out.assert_refused("fs.rm-recursive-system");
        assert!(
            out.err().contains("denied by policy"),
            "{}: {}",
            sg.describe(),
            out.show()
        );
        assert!(
            !dir.join("SENTINEL").exists(),
            "{}: the line ran",
            sg.describe()
        );
    }
}

// =============================================================================================
// 4. Agents' invocation forms (agents.md), with no terminal and stdin /dev/null.

/// Claude Code's wrapper around one command.
fn claude_line(snapshot: &Path, cmd: &str, cwd_file: &Path) -> String {
    assert!(!cmd.contains('\''), "keep CMD free of single quotes");
    format!(
        "source '{}' 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval '{cmd}' < /dev/null && pwd -P >| {}",
        snapshot.display(),
        cwd_file.display()
    )
}

#[test]
fn claude_code_wrapper_runs_an_allowed_command_like_bash() {
    let shims = Shims::new();
    let s = Scratch::new("claude");
    let home = s.mkdir("home");
    let project = s.mkdir("project");
    fs::write(project.join("file-in-project"), "").unwrap();
    let snapshot = s.write(
        "snapshot-bash-1.sh",
        "export SNAP_VAR=from-snapshot\nsnapfn() { echo in-snapfn; }\n",
    );
    let cwd_file = s.join("claude-4f2a-cwd");
    let line = claude_line(&snapshot, "echo \"$SNAP_VAR\"; snapfn; ls", &cwd_file);
    for with_login in [true, false] {
        let mut sg = Sg::at(&shims.bash()).arg("-c");
        if with_login {
            sg = sg.arg("-l");
        }
        let sg = sg.arg(&line).cwd(&project).env("HOME", &home);
        let ours = sg.run();
        assert_eq!(ours.code(), Some(0), "{}", ours.show());
        assert_eq!(
            ours.out(),
            "from-snapshot\nin-snapfn\nfile-in-project\n",
            "{}",
            ours.show()
        );
        assert_eq!(
            fs::read_to_string(&cwd_file).expect("cwd file written"),
            format!("{}\n", project.display())
        );
        fs::remove_file(&cwd_file).unwrap();
        sg.same_as(&real_bash());
        fs::remove_file(&cwd_file).unwrap();
    }
}

#[test]
fn claude_code_wrapper_refuses_a_destructive_command() {
    let shims = Shims::new();
    let pv = ProjectAndVictim::new();
    let s = Scratch::new("claude-refuse");
    let snapshot = s.write("snapshot-bash-1.sh", "export SNAP_VAR=1\n");
    let cwd_file = s.join("claude-9c1e-cwd");
    let line = claude_line(
        &snapshot,
        &format!("touch SENTINEL; {RM_VICTIM}"),
        &cwd_file,
    );
    require_decision(&line, &pv.project, "confirm");
    for with_login in [true, false] {
        let mut sg = Sg::at(&shims.bash()).arg("-c");
        if with_login {
            sg = sg.arg("-l");
        }
        let out = sg.arg(&line).cwd(&pv.project).env("HOME", s.path()).run();
        out.assert_refused("fs.rm-recursive");
        assert!(!pv.project.join("SENTINEL").exists(), "the line ran");
        assert!(!cwd_file.exists(), "the wrapper ran");
        pv.assert_victim_intact();
    }
}

#[test]
fn claude_code_snapshot_build_and_probes_are_silent_and_identical() {
    let shims = Shims::new();
    let s = Scratch::new("claude-snap");
    let home = s.mkdir("home");
    fs::write(
        home.join(".bashrc"),
        "alias ll='ls -l'\nmyfn() { echo hi; }\nexport FROM_RC=1\n",
    )
    .unwrap();
    let snap = s.join("snapshot-bash-77.sh");
    let script = format!(
        r##"SNAPSHOT_FILE={snap}
source "$HOME/.bashrc" < /dev/null
echo "# Snapshot file" >| "$SNAPSHOT_FILE"
echo "# Unset all aliases to avoid conflicts with functions" >> "$SNAPSHOT_FILE"
echo "unalias -a 2>/dev/null || true" >> "$SNAPSHOT_FILE"
echo "# Functions" >> "$SNAPSHOT_FILE"
declare -F | cut -d' ' -f3 | grep -vE '^_' | while read -r func; do
  declare -f "$func" >> "$SNAPSHOT_FILE"
done
echo "# Shell Options" >> "$SNAPSHOT_FILE"
shopt -p | head -n 1000 >> "$SNAPSHOT_FILE"
set -o | grep "on" | awk '{{print "set -o " $1}}' | head -n 1000 >> "$SNAPSHOT_FILE"
echo "shopt -s expand_aliases" >> "$SNAPSHOT_FILE"
echo "# Aliases" >> "$SNAPSHOT_FILE"
alias | sed 's/^alias //g' | sed 's/^/alias -- /' | head -n 1000 >> "$SNAPSHOT_FILE"
echo "export PATH=$(printf '%q' "$PATH")" >> "$SNAPSHOT_FILE"
"##,
        snap = snap.display()
    );
    let build = Sg::at(&shims.bash())
        .args(["-c", "-l", &script])
        .cwd(s.path())
        .env("HOME", &home);
    let ours = build.run();
    assert_eq!(ours.code(), Some(0), "{}", ours.show());
    let ours_snap = fs::read_to_string(&snap).expect("snapshot written");
    assert!(ours_snap.contains("alias -- ll='ls -l'"), "{ours_snap}");
    assert!(ours_snap.contains("myfn ()"), "{ours_snap}");
    fs::remove_file(&snap).unwrap();
    build.same_as(&real_bash());
    assert_eq!(fs::read_to_string(&snap).unwrap(), ours_snap);

    // The probes.
    Sg::at(&shims.bash()).arg("--version").same_as(&real_bash());
    let out = Sg::at(&shims.bash())
        .args(["-c", "env"])
        .cwd(s.path())
        .env("CLAUDECODE", "1")
        .same_as(&real_bash());
    assert!(out.out().contains("CLAUDECODE=1\n"));
}

fn codex_forms(sh: &Path, snapshot: &Path, cmd: &str) -> Vec<Sg> {
    let sh_s = sh.as_os_str();
    vec![
        Sg::at(sh).args([OsStr::new("-lc"), OsStr::new(cmd)]),
        Sg::at(sh).args([OsStr::new("-c"), OsStr::new(cmd)]),
        Sg::at(sh).args([
            OsStr::new("-c"),
            OsStr::new(". \"$1\" && shift && exec \"$@\""),
            OsStr::new("codex-shell-snapshot"),
            snapshot.as_os_str(),
            sh_s,
            OsStr::new("-lc"),
            OsStr::new(cmd),
        ]),
    ]
}

#[test]
fn codex_forms_run_an_allowed_command_like_bash() {
    let shims = Shims::new();
    let s = Scratch::new("codex");
    let home = s.mkdir("home");
    let snapshot = s.write("codex-snapshot.sh", "export SNAP_VAR=codex-snap\n");
    let cmd = "echo \"codex:${SNAP_VAR:-unset}:$0\"; printf '%s\\n' one two >&2; exit 3";
    let mut failures = Vec::new();
    for sg in codex_forms(&shims.bash(), &snapshot, cmd) {
        let sg = sg.cwd(s.path()).env("HOME", &home).env("CODEX_CI", "1");
        let (ours, diffs) = sg.diff_against(&real_bash());
        failures.extend(diffs);
        if ours.code() != Some(3) {
            failures.push(format!("{}: {}", sg.describe(), ours.show()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    // The snapshot form really ran the snapshot, then the shim again as `bash -lc CMD`.
    let out = codex_forms(&shims.bash(), &snapshot, cmd)[2]
        .clone()
        .env("HOME", &home)
        .run();
    assert_eq!(
        out.out(),
        format!("codex:codex-snap:{}\n", shims.bash().display())
    );
}

#[test]
fn codex_forms_refuse_a_destructive_command() {
    let shims = Shims::new();
    let s = Scratch::new("codex-refuse");
    let repo = git_repo_with_change(&s);
    // Sourcing the snapshot leaves a mark, so a refusal of the inner shell alone would show.
    let snapshot = s.write("codex-snapshot.sh", "touch SNAPSHOT_SOURCED\n");
    let cmd = "touch SENTINEL; git reset --hard";
    for sg in codex_forms(&shims.bash(), &snapshot, cmd) {
        let out = sg.clone().cwd(&repo).env("HOME", s.path()).run();
        out.assert_refused("git.reset-hard");
        for mark in ["SENTINEL", "SNAPSHOT_SOURCED"] {
            assert!(
                !repo.join(mark).exists(),
                "{}: {mark} exists, the line ran",
                sg.describe()
            );
        }
        assert_change_survived(&repo);
    }
}

fn gemini_line(cmd: &str, pgrep_file: &Path) -> String {
    let tail = if which("pgrep").is_some() {
        format!("pgrep -g 0 >{} 2>&1; ", pgrep_file.display())
    } else {
        String::new()
    };
    format!(
        "shopt -u promptvars nullglob extglob nocaseglob dotglob; {{ {cmd}; }}; __code=$?; {tail}exit $__code;"
    )
}

#[test]
fn gemini_wrapper_allowed_and_refused() {
    let shims = Shims::new();
    let s = Scratch::new("gemini");
    let pgrep_file = s.join("shell_pgrep_a1b2c3.tmp");
    // `bash` looked up on PATH, which has the shims first.
    let gemini = |line: &str, cwd: &Path| {
        Sg::at(&shims.bash())
            .arg0("bash")
            .args(["-c", line])
            .cwd(cwd)
            .env("PATH", shims.path_var())
            .env("GEMINI_CLI", "1")
    };
    let line = gemini_line("echo gem; echo err >&2; (exit 4)", &pgrep_file);
    let out = gemini(&line, s.path()).same_as(&real_bash());
    assert_eq!(out.code(), Some(4), "{}", out.show());
    assert_eq!(out.out(), "gem\n");

    let repo = git_repo_with_change(&s);
    let _ = fs::remove_file(&pgrep_file);
    let line = gemini_line("touch SENTINEL; git reset --hard", &pgrep_file);
    let out = gemini(&line, &repo).run();
    out.assert_refused("git.reset-hard");
    assert!(!repo.join("SENTINEL").exists(), "the line ran");
    assert!(!pgrep_file.exists(), "the wrapper ran");
    assert_change_survived(&repo);
}

#[test]
fn cursor_like_shell_with_a_snapshot_on_fd3() {
    let shims = Shims::new();
    let s = Scratch::new("cursor");
    let snap = s.write("snap", "CURSOR_SNAP=loaded\n");
    let cursor = |cmd: &str, cwd: &Path| {
        Sg::at(&shims.bash())
            .args(["-c", cmd])
            .cwd(cwd)
            .fd3_file(&snap)
            .env("SHELL", shims.bash())
            .env("CURSOR_AGENT", "1")
    };
    let out = cursor(". /dev/fd/3; echo \"$CURSOR_SNAP\"; ls -d .", s.path()).same_as(&real_bash());
    assert_eq!(out.out(), "loaded\n.\n", "{}", out.show());
    // fd 3 also reaches the commands themselves.
    let out = cursor("cat <&3", s.path()).run();
    assert_eq!(out.out(), "CURSOR_SNAP=loaded\n", "{}", out.show());

    let pv = ProjectAndVictim::new();
    let line = format!(". /dev/fd/3; touch SENTINEL; {RM_VICTIM}");
    require_decision(&line, &pv.project, "confirm");
    let out = cursor(&line, &pv.project).run();
    out.assert_refused("fs.rm-recursive");
    assert!(!pv.project.join("SENTINEL").exists(), "the line ran");
    pv.assert_victim_intact();
}

#[test]
fn aider_shell_env_and_kiro_bash_c() {
    let shims = Shims::new();
    let s = Scratch::new("aider");
    let aider = |cmd: &str, cwd: &Path| {
        // `$SHELL -c CMD`: argv[0] is the value of $SHELL.
        Sg::at(&shims.bash())
            .args(["-c", cmd])
            .cwd(cwd)
            .env("SHELL", shims.bash())
    };
    let kiro = |cmd: &str, cwd: &Path| {
        Sg::at(&shims.bash())
            .arg0("bash")
            .args(["-c", cmd])
            .cwd(cwd)
            .env("PATH", shims.path_var())
    };
    let allowed = "echo \"$0 says hi\"; echo warn >&2; exit 2";
    for (name, run) in [
        ("aider", &aider as &dyn Fn(&str, &Path) -> Sg),
        ("kiro", &kiro),
    ] {
        let out = run(allowed, s.path()).same_as(&real_bash());
        assert_eq!(out.code(), Some(2), "{name}: {}", out.show());

        let pv = ProjectAndVictim::new();
        let line = format!("touch SENTINEL; {RM_VICTIM}");
        let out = run(&line, &pv.project).run();
        out.assert_refused("fs.rm-recursive");
        assert!(
            !pv.project.join("SENTINEL").exists(),
            "{name}: the line ran"
        );
        pv.assert_victim_intact();
    }
}

// =============================================================================================
// 5. check / explain / rules.

#[test]
fn check_json_confirm_names_rule_reason_command_and_span() {
    let dir = Scratch::new("check");
    // A multi-byte prefix and odd spacing: the span must index the text as given, in bytes.
    let text = "echo é && git   reset   --hard   ";
    let out = Sg::new()
        .args(["check", "--json", "--", text])
        .cwd(dir.path())
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert!(out.stderr.is_empty(), "{}", out.show());
    assert_eq!(
        out.out().trim_end().lines().count(),
        1,
        "one JSON object per line"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["decision"], "confirm", "{v}");
    let matches = v["matches"].as_array().expect("matches array");
    let m = matches
        .iter()
        .find(|m| m["rule"] == "git.reset-hard")
        .unwrap_or_else(|| panic!("no git.reset-hard match: {v}"));
    assert!(m["reason"].as_str().is_some_and(|r| !r.is_empty()), "{m}");
    let command = m["command"].as_str().expect("command");
    assert!(
        command.starts_with("git") && command.ends_with("--hard"),
        "{m}"
    );
    let span: Vec<usize> = m["span"]
        .as_array()
        .expect("span")
        .iter()
        .map(|n| n.as_u64().expect("number") as usize)
        .collect();
    assert_eq!(span.len(), 2, "{m}");
    assert_eq!(
        text.get(span[0]..span[1]),
        Some(command),
        "span {span:?} does not index the command text"
    );
}

#[test]
fn check_json_allow_has_no_matches() {
    let dir = Scratch::new("check-allow");
    let v = check_json("echo hi", dir.path());
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["matches"].as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn check_says_deny_and_never_runs_the_command() {
    let dir = Scratch::new("check-deny");
    let out = Sg::new()
        .args(["check", "--", "touch SENTINEL; rm -rf /"])
        .cwd(dir.path())
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert_eq!(out.out().lines().next(), Some("deny"), "{}", out.show());
    assert!(
        out.out().contains("fs.rm-recursive-system"),
        "{}",
        out.show()
    );
    // Allowed commands are not run either.
    for args in [
        vec!["check", "touch SENTINEL"],
        vec!["check", "--json", "touch SENTINEL"],
        vec!["explain", "touch SENTINEL"],
    ] {
        let out = Sg::new().args(&args).cwd(dir.path()).run();
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.show());
        assert!(!out.stdout.is_empty());
    }
    assert!(!dir.join("SENTINEL").exists(), "check or explain ran it");
}

#[test]
fn explain_lists_nested_commands_with_their_via() {
    // HOME outside the working directory, so `~` is home-root.
    let root = Scratch::in_target("explain");
    let home = root.mkdir("home");
    let work = root.mkdir("work");
    fs::create_dir(work.join(".git")).unwrap();
    let out = Sg::new()
        .args(["explain", "sudo bash -c \"rm -rf ~\""])
        .cwd(&work)
        .env("HOME", &home)
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    let text = out.out();
    assert!(text.contains("decision: deny"), "{text}");
    for outer in ["- sudo bash -c rm -rf ~", "- bash -c rm -rf ~  (via sudo)"] {
        assert!(text.contains(outer), "{outer:?} not listed:\n{text}");
    }
    let rm_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("- rm -rf"))
        .unwrap_or_else(|| panic!("nested rm not listed:\n{text}"));
    assert!(
        rm_line.contains(&format!("rm -rf {}", home.display())),
        "~ not resolved to HOME: {rm_line}"
    );
    assert!(rm_line.contains("(via sudo > bash -c)"), "{rm_line}");
    assert!(
        text.contains("rule fs.rm-recursive-system (deny)"),
        "{text}"
    );
}

#[test]
fn rm_rf_home_is_denied_even_when_home_is_in_a_temp_dir() {
    // Containers and CI often run with HOME=/tmp/something. Judged with `check` only: never run.
    let home = Scratch::new("tmp-home");
    let work = Scratch::in_target("tmp-home-work");
    for cmd in ["rm -rf ~", "rm -rf $HOME", "rm -rf \"$HOME\"/"] {
        let out = Sg::new()
            .args(["check", "--json", "--", cmd])
            .cwd(work.path())
            .env("HOME", home.path())
            .run();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(
            v["decision"],
            "deny",
            "{cmd} with HOME={:?}: {v}",
            home.path()
        );
    }
}

#[test]
fn system_and_home_paths_never_count_as_inside_the_project() {
    // An agent started in `/` (a container's default working directory) or in `/home`, or
    // with HOME below its project. Judged with `check` only: never run.
    let root = Scratch::in_target("root-cwd");
    let home = root.mkdir("home");
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (PathBuf::from("/"), "rm -rf /etc", "deny"),
        (PathBuf::from("/"), "rm -rf /usr/lib", "deny"),
        (PathBuf::from("/"), "rm -rf ~", "deny"),
        (PathBuf::from("/"), "rm -rf /home/someone", "confirm"),
        (PathBuf::from("/home"), "rm -rf /home/someone", "confirm"),
        // The project root is an ancestor of $HOME.
        (root.path().to_path_buf(), "rm -rf ~", "deny"),
    ];
    let mut wrong = Vec::new();
    for (cwd, cmd, want) in cases {
        if !cwd.is_dir() {
            continue;
        }
        if cwd == root.path() {
            fs::create_dir_all(cwd.join(".git")).unwrap();
        }
        let out = Sg::new()
            .args(["check", "--json", "--", cmd])
            .cwd(&cwd)
            .env("HOME", &home)
            .run();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if v["decision"] != want {
            wrong.push(format!(
                "in {cwd:?}: {cmd}: want {want}, got {}",
                v["decision"]
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn rules_test_passes_and_rules_list_names_the_rules() {
    let out = Sg::new().args(["rules", "test"]).run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert!(out.out().contains(" 0 failed"), "{}", out.show());

    let out = Sg::new().args(["rules", "list"]).run();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    let ids: Vec<&str> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok()?.split_whitespace().next())
        .collect();
    for want in [
        "fs.rm-recursive-system",
        "fs.rm-recursive",
        "git.reset-hard",
    ] {
        assert!(ids.contains(&want), "{want} not listed: {ids:?}");
    }
}

// =============================================================================================
// 6. Hostile input: refused fast, never a crash, never run.

/// The heap-hungry triggers take up to the analysis cap (hundreds of MB); one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

const HOSTILE_BOUND: Duration = Duration::from_secs(2);

fn assert_hostile_refused(label: &str, sg: Sg, dir: &Path) {
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let _ = fs::remove_file(dir.join("SENTINEL"));
    let out = sg.cwd(dir).timeout(Duration::from_secs(20)).run();
    assert_eq!(
        out.code(),
        Some(126),
        "{label}: want exit 126 (a signal death shows as None): status {:?}, stderr {:.300}",
        out.status,
        out.err()
    );
    assert!(out.stdout.is_empty(), "{label}: stdout {:.200}", out.out());
    let err = out.err();
    assert!(
        err.starts_with("shellguard: refused"),
        "{label}: {err:.300}"
    );
    assert!(err.contains(NOTHING_RAN), "{label}: {err:.300}");
    assert!(
        !dir.join("SENTINEL").exists(),
        "{label}: something in the line ran"
    );
    assert!(
        out.elapsed < HOSTILE_BOUND,
        "{label}: took {:?}, bound {HOSTILE_BOUND:?}",
        out.elapsed
    );
}

#[test]
fn hostile_deep_nesting_is_refused_quickly() {
    let dir = Scratch::new("hostile-nest");
    let n = 10_000;
    let cases = [
        ("10k nested (", format!("touch SENTINEL; {}", "(".repeat(n))),
        (
            "10k nested ( closed",
            format!("touch SENTINEL; {}true{}", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "10k nested $(",
            format!("touch SENTINEL; echo {}", "$(".repeat(n)),
        ),
        (
            "10k nested $( closed",
            format!(
                "touch SENTINEL; echo {}true{}",
                "$(".repeat(n),
                ")".repeat(n)
            ),
        ),
        (
            "10k nested {",
            format!("touch SENTINEL; {}true; {}", "{ ".repeat(n), "} ".repeat(n)),
        ),
        (
            "5k nested if",
            format!(
                "touch SENTINEL; {}true; {}",
                "if true; then ".repeat(5000),
                "fi; ".repeat(5000)
            ),
        ),
        (
            "3k nested while",
            format!(
                "touch SENTINEL; {}true; {}",
                "while false; do ".repeat(3000),
                "done; ".repeat(3000)
            ),
        ),
        (
            "10k nested arithmetic",
            format!(
                "touch SENTINEL; echo $(({}1{}))",
                "(".repeat(n),
                ")".repeat(n)
            ),
        ),
        (
            "10k backquotes",
            format!("touch SENTINEL; {}", "`".repeat(n)),
        ),
    ];
    for (label, text) in cases {
        assert_hostile_refused(label, Sg::new().args(["-c", &text]), dir.path());
    }
}

#[test]
fn hostile_heredoc_allocation_trigger_is_refused_quickly() {
    let dir = Scratch::new("hostile-heredoc");
    for text in [
        "cat <<E$[\t\t\t\t",
        "touch SENTINEL; cat <<E$[\t\t\t\t",
        "touch SENTINEL; cat <<E$[\t\t",
        "<<E$[\t\t\t\t",
        "touch SENTINEL\n<<E$[\t\t\t",
        "touch SENTINEL; cat <<E$[\t\t\t\t\t\t\t\t\t\t\t\t\t",
    ] {
        assert_hostile_refused(
            &format!("{text:?}"),
            Sg::new().args(["-c", text]),
            dir.path(),
        );
    }
}

#[test]
fn hostile_5mb_command_is_refused_quickly() {
    // Linux caps one argument at 128 KiB (MAX_ARG_STRLEN), so a 5 MB command can only arrive
    // as a script file or on stdin.
    let dir = Scratch::new("hostile-big");
    let mut text = String::from("touch SENTINEL; ");
    while text.len() < 5 * 1024 * 1024 {
        text.push_str("echo hello world; ");
    }
    let script = dir.write("big.sh", &text);
    assert_hostile_refused("5 MB script file", Sg::new().arg(&script), dir.path());
    assert_hostile_refused(
        "5 MB script on stdin (-s)",
        Sg::new().arg("-s").stdin(&text),
        dir.path(),
    );
    assert_hostile_refused("5 MB script piped", Sg::new().stdin(&text), dir.path());
    let shims = Shims::new();
    assert_hostile_refused(
        "5 MB script through the bash link",
        Sg::at(&shims.bash()).arg0("bash").arg(&script),
        dir.path(),
    );
}

// =============================================================================================
// 7. The prompt through the binary, on a real pty.

const PTY_WAIT: Duration = Duration::from_secs(20);

struct Pty {
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    /// `argv` with the pty as controlling terminal, stdin, stdout and stderr.
    fn spawn(argv: &[&OsStr], cwd: &Path, env: &[(&str, &str)]) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(argv[0]);
        cmd.args(&argv[1..]);
        cmd.cwd(cwd);
        cmd.env_remove("SHELLGUARD_REAL_SHELL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn on pty");
        drop(pair.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let sink = Arc::clone(&output);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().expect("pty writer");
        Pty {
            writer,
            child,
            output,
            _master: pair.master,
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_for(&mut self, needle: &str) {
        let give_up = Instant::now() + PTY_WAIT;
        while Instant::now() < give_up {
            if self.screen().contains(needle) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // Exited: one last look, the reader may lag.
                thread::sleep(Duration::from_millis(100));
                assert!(
                    self.screen().contains(needle),
                    "exited ({st:?}) before {needle:?} appeared; terminal showed:\n{}",
                    self.screen()
                );
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!(
            "{needle:?} never appeared; terminal showed:\n{}",
            self.screen()
        );
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write pty");
        self.writer.flush().expect("flush pty");
    }

    /// Exit code and everything shown on the terminal.
    fn finish(mut self) -> (u32, String) {
        let give_up = Instant::now() + PTY_WAIT;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() >= give_up {
                let _ = self.child.kill();
                panic!("did not exit; terminal showed:\n{}", self.screen());
            }
            thread::sleep(Duration::from_millis(10));
        };
        // Let the reader catch the last bytes.
        thread::sleep(Duration::from_millis(100));
        (status.exit_code(), self.screen())
    }
}

impl Drop for Pty {
    /// A failed assertion must not leave a shell waiting at its prompt.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// `shellguard -c 'rm -rf .git'` in a project, on a pty, up to the prompt.
fn prompt_for_rm(pv: &ProjectAndVictim, timeout_secs: &str) -> Pty {
    require_decision(RM_VICTIM, &pv.project, "confirm");
    let mut p = Pty::spawn(
        &[OsStr::new(SG), OsStr::new("-c"), OsStr::new(RM_VICTIM)],
        &pv.project,
        &[("SHELLGUARD_PROMPT_TIMEOUT", timeout_secs)],
    );
    p.wait_for("Run it?");
    assert!(
        p.screen().contains("fs.rm-recursive"),
        "prompt does not name the rule:\n{}",
        p.screen()
    );
    p
}

#[test]
fn pty_prompt_y_runs_the_command() {
    let pv = ProjectAndVictim::new();
    let mut p = prompt_for_rm(&pv, "20");
    p.send(b"y");
    let (code, screen) = p.finish();
    assert_eq!(code, 0, "terminal showed:\n{screen}");
    assert!(
        !pv.victim.exists(),
        "approved, yet the victim is still there"
    );
}

#[test]
fn pty_prompt_terminal_replies_never_answer() {
    // What a terminal sends back unasked or in reply to queries: a title report (OSC), a
    // DCS string, an APC string, a pasted `y`, a mouse report whose bytes include `y`.
    let pv = ProjectAndVictim::new();
    let mut p = prompt_for_rm(&pv, "20");
    for reply in [
        &b"\x1b]0;y\x07"[..],
        b"\x1b]11;rgb:yyyy/0000/0000\x1b\\",
        b"\x1bPy\x1b\\",
        b"\x1b_y\x1b\\",
        b"\x1b[200~y\x1b[201~",
        b"\x1b[Myyy",
    ] {
        p.send(reply);
    }
    p.send(b"n");
    let (code, screen) = p.finish();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    assert!(screen.contains("declined"), "{screen}");
    pv.assert_victim_intact();
}

#[test]
fn pty_prompt_n_refuses() {
    let pv = ProjectAndVictim::new();
    let mut p = prompt_for_rm(&pv, "20");
    p.send(b"n");
    let (code, screen) = p.finish();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    assert!(screen.contains("declined"), "{screen}");
    assert!(screen.contains(NOTHING_RAN), "{screen}");
    pv.assert_victim_intact();
}

#[test]
fn pty_prompt_ctrl_c_refuses() {
    let pv = ProjectAndVictim::new();
    let mut p = prompt_for_rm(&pv, "20");
    p.send(&[0x03]);
    let (code, screen) = p.finish();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    pv.assert_victim_intact();
}

#[test]
fn pty_prompt_silence_times_out_and_refuses() {
    let pv = ProjectAndVictim::new();
    let p = prompt_for_rm(&pv, "2");
    let shown = Instant::now();
    let (code, screen) = p.finish();
    let waited = shown.elapsed();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(10),
        "timed out after {waited:?}, want about 2s"
    );
    assert!(screen.contains("in time"), "{screen}");
    pv.assert_victim_intact();
}

#[test]
fn pty_prompt_reads_the_terminal_not_stdin() {
    // stdin is a file holding "y": the answer must come from the terminal all the same, and
    // the approved command must still find its stdin unread.
    let pv = ProjectAndVictim::new();
    let stdin_file = pv.project.join("stdin.txt");
    fs::write(&stdin_file, "y\npayload\n").unwrap();
    let cmd = format!("{RM_VICTIM}; read a; read b; echo \"got:$a:$b\" > got.txt");
    require_decision(&cmd, &pv.project, "confirm");
    let launch = |pv: &ProjectAndVictim| {
        // The real sh only redirects stdin and execs shellguard; the pty stays the terminal.
        Pty::spawn(
            &[
                real_sh().as_os_str(),
                OsStr::new("-c"),
                OsStr::new("exec \"$0\" -c \"$1\" < \"$2\""),
                OsStr::new(SG),
                OsStr::new(&cmd),
                stdin_file.as_os_str(),
            ],
            &pv.project,
            &[("SHELLGUARD_PROMPT_TIMEOUT", "20")],
        )
    };
    // "n" on the terminal wins over the "y" waiting on stdin.
    let mut p = launch(&pv);
    p.wait_for("Run it?");
    p.send(b"n");
    let (code, screen) = p.finish();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    pv.assert_victim_intact();
    assert!(!pv.project.join("got.txt").exists());

    // "y" on the terminal: the command runs and reads stdin from its first byte.
    let mut p = launch(&pv);
    p.wait_for("Run it?");
    p.send(b"y");
    let (code, screen) = p.finish();
    assert_eq!(code, 0, "terminal showed:\n{screen}");
    assert!(!pv.victim.exists());
    assert_eq!(
        fs::read_to_string(pv.project.join("got.txt")).unwrap(),
        "got:y:payload\n"
    );
}

#[test]
fn pty_allowed_command_prints_nothing_extra() {
    let dir = Scratch::new("pty-allow");
    let p = Pty::spawn(
        &[
            OsStr::new(SG),
            OsStr::new("-c"),
            OsStr::new("echo hi; exit 7"),
        ],
        dir.path(),
        &[],
    );
    let (code, screen) = p.finish();
    assert_eq!(code, 7);
    assert_eq!(screen, "hi\r\n", "only the command's own output may appear");
}

// =============================================================================================
// Audit: every decision leaves one line.

#[test]
fn every_decision_is_audited_with_its_outcome() {
    let home = Scratch::new("audit-home");
    let pv = ProjectAndVictim::new();
    let ran = Sg::new()
        .args(["-c", "echo audited"])
        .cwd(&pv.project)
        .env("HOME", home.path())
        .env("CLAUDECODE", "1")
        .run();
    assert_eq!(ran.out(), "audited\n", "{}", ran.show());
    let refused = Sg::new()
        .args(["-c", RM_VICTIM])
        .cwd(&pv.project)
        .env("HOME", home.path())
        .run();
    refused.assert_refused("fs.rm-recursive");
    pv.assert_victim_intact();
    let log =
        fs::read_to_string(home.join(".local/state/shellguard/audit.jsonl")).expect("audit log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["command"], "echo audited");
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[0]["outcome"], "ran");
    assert_eq!(lines[0]["agent"], "claude-code");
    assert_eq!(lines[1]["command"], RM_VICTIM);
    assert_eq!(lines[1]["decision"], "confirm");
    assert_eq!(lines[1]["outcome"], "refused");
    assert_eq!(lines[1]["rules"][0]["id"], "fs.rm-recursive");
    let shown = Sg::new()
        .args(["log", "-n", "1"])
        .env("HOME", home.path())
        .run();
    assert!(
        shown.out().contains("rm -rf .git") && shown.out().contains("fs.rm-recursive"),
        "{}",
        shown.show()
    );
}

// =============================================================================================
// Approvals that reach a human with no terminal: the watch console, `approve ID`, memory.

/// A home and a runtime dir of our own, so consoles, approvals and logs do not mix.
struct Human {
    _root: Scratch,
    home: PathBuf,
    runtime: PathBuf,
}

impl Human {
    fn new() -> Human {
        let root = Scratch::new("human");
        let home = root.mkdir("home");
        let runtime = root.mkdir("run");
        Human {
            _root: root,
            home,
            runtime,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.home.to_string_lossy().into_owned()),
            (
                "XDG_RUNTIME_DIR",
                self.runtime.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// A guarded command as an agent runs it: no terminal, in the background.
    fn agent_runs(&self, line: &str, cwd: &Path) -> thread::JoinHandle<Out> {
        let mut sg = Sg::new().args(["-c", line]).cwd(cwd).env("CLAUDECODE", "1");
        for (k, v) in self.env() {
            sg = sg.env(k, &v);
        }
        thread::spawn(move || sg.run())
    }

    /// `shellguard ARGS…` typed by the human in a terminal of their own: exit status and
    /// screen.
    fn types(&self, args: &[&str]) -> (u32, String) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut argv = vec![OsStr::new(SG)];
        argv.extend(args.iter().map(OsStr::new));
        Pty::spawn(&argv, &self.home, &env).finish()
    }

    fn console(&self) -> Pty {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut p = Pty::spawn(&[OsStr::new(SG), OsStr::new("watch")], &self.home, &env);
        p.wait_for("No pending requests");
        p
    }
}

#[test]
fn watch_console_approves_and_refuses_with_a_key() {
    let human = Human::new();
    let mut console = human.console();
    // Approved with `y`: the command runs.
    let pv = ProjectAndVictim::new();
    let agent = human.agent_runs(RM_VICTIM, &pv.project);
    console.wait_for("fs.rm-recursive");
    thread::sleep(Duration::from_millis(900)); // the console arms its keys after a moment
    console.send(b"y");
    let out = agent.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert!(
        !pv.victim.exists(),
        "approved, yet the victim is still there"
    );
    // Refused with `n`: exit 126, nothing ran.
    let pv = ProjectAndVictim::new();
    let agent = human.agent_runs(&format!("touch SENTINEL; {RM_VICTIM}"), &pv.project);
    thread::sleep(Duration::from_millis(300));
    console.wait_for("touch SENTINEL");
    thread::sleep(Duration::from_millis(900));
    console.send(b"n");
    let out = agent.join().unwrap();
    out.assert_refused("fs.rm-recursive");
    assert!(out.err().contains("declined"), "{}", out.show());
    assert!(!pv.project.join("SENTINEL").exists(), "the line ran");
    pv.assert_victim_intact();
    console.send(b"q");
    let _ = console.finish();
}

#[test]
fn unanswered_request_is_refused_with_an_id_that_approve_lets_through_once() {
    let human = Human::new();
    let cfg = human.home.join(".config/shellguard");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(cfg.join("config.toml"), "approval_timeout = 1\n").unwrap();
    let _console = human.console();
    let pv = ProjectAndVictim::new();
    let started = Instant::now();
    let out = human.agent_runs(RM_VICTIM, &pv.project).join().unwrap();
    out.assert_refused("fs.rm-recursive");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waited {:?}",
        started.elapsed()
    );
    pv.assert_victim_intact();
    let err = out.err();
    let id = err
        .split("shellguard approve ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no request id in: {err}"))
        .to_string();
    // The agent cannot approve its own request through the guarded shell.
    let own = human
        .agent_runs(&format!("shellguard approve {id} --yes"), &pv.project)
        .join()
        .unwrap();
    own.assert_refused("self.approve");
    // The human approves it in a terminal of their own.
    let (code, screen) = human.types(&["approve", &id, "--yes"]);
    assert_eq!(code, 0, "approve failed:\n{screen}");
    // The identical retry from the same directory now runs; another command does not.
    let other = human
        .agent_runs("rm -rf .git/..", &pv.project)
        .join()
        .unwrap();
    assert_eq!(other.code(), Some(126), "{}", other.show());
    let retry = human.agent_runs(RM_VICTIM, &pv.project).join().unwrap();
    assert_eq!(retry.code(), Some(0), "{}", retry.show());
    assert!(!pv.victim.exists());
}

#[test]
fn an_agents_terminal_is_never_asked_on() {
    let human = Human::new();
    let env = human.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("SHELLGUARD_PROMPT_TIMEOUT", "20"));
    // A program that runs a command on a pseudo-terminal of its own, as Gemini CLI, Codex
    // and aider do, under an agent's name and under another.
    let relay = "#!/usr/bin/python3\nimport pty, sys\nsys.exit(pty.spawn(sys.argv[1:]) >> 8)\n";
    let bin = human.home.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for name in ["gemini", "relay"] {
        fs::write(bin.join(name), relay).unwrap();
    }
    let python = OsStr::new("/usr/bin/python3");
    let (sg, c, rm) = (OsStr::new(SG), OsStr::new("-c"), OsStr::new(RM_VICTIM));
    let gemini = bin.join("gemini");
    let other = bin.join("relay");
    let refused_without_asking = |argv: &[&OsStr], env: &[(&str, &str)], what: &str| {
        let pv = ProjectAndVictim::new();
        let started = Instant::now();
        let (code, screen) = Pty::spawn(argv, &pv.project, env).finish();
        assert_eq!(code, 126, "{what}: terminal showed:\n{screen}");
        assert!(
            !screen.contains("Run it?"),
            "{what}: asked on the agent's terminal:\n{screen}"
        );
        assert!(
            screen.contains("shellguard approve "),
            "{what}: no request id:\n{screen}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: waited"
        );
        pv.assert_victim_intact();
    };
    // The agent's variables are set: whatever runs the command may answer on its terminal.
    for marker in ["GEMINI_CLI", "CLAUDECODE", "CODEX_CI"] {
        let mut env = env.clone();
        env.push((marker, "1"));
        refused_without_asking(&[sg, c, rm], &env, marker);
    }
    // No variable, but an agent holds the terminal's master side.
    refused_without_asking(
        &[python, gemini.as_os_str(), sg, c, rm],
        &env,
        "an agent's pty",
    );
    // The same relay under another name is a terminal like any other: the human is asked.
    let pv = ProjectAndVictim::new();
    let mut p = Pty::spawn(&[python, other.as_os_str(), sg, c, rm], &pv.project, &env);
    p.wait_for("Run it?");
    p.send(b"n");
    let (code, screen) = p.finish();
    assert_eq!(code, 126, "terminal showed:\n{screen}");
    pv.assert_victim_intact();
}

#[test]
fn installed_tools_scripts_run_once_trusted_and_only_as_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let human = Human::new();
    let shims = Shims::new();
    // A version manager's dispatcher, as pyenv's: it runs a program only known when it runs.
    let libexec = human.home.join(".pyenv/libexec");
    fs::create_dir_all(&libexec).unwrap();
    let tool = libexec.join("pyenv");
    let script =
        "#!/usr/bin/env bash\nset -e\ncommand_path=\"$(type -P \"$1\")\"; shift\nexec \"$command_path\" \"$@\"\n";
    let install = |path: &Path, text: &str| {
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    };
    install(&tool, script);
    // Started as a tool is: by its path, the kernel reading `#!/usr/bin/env bash`, which finds
    // the shim first on PATH.
    let run = |path: &Path| {
        let mut cmd = std::process::Command::new(path);
        cmd.args(["echo", "from-the-tool"])
            .current_dir(&human.home)
            .env("PATH", shims.path_var())
            .env("CLAUDECODE", "1")
            .stdin(std::process::Stdio::null());
        for (k, v) in human.env() {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let hint = "`shellguard trust --tools`";
    let before = run(&tool);
    assert_eq!(before.status.code(), Some(126), "{before:?}");
    let said = String::from_utf8_lossy(&before.stderr);
    assert!(said.contains("unknown.dynamic-program"), "{said}");
    // The refusal says whose script it is and what lets it run.
    assert!(
        said.contains(".pyenv, whose scripts") && said.contains(hint),
        "{said}"
    );
    // So do doctor and setup, before anything is refused.
    let (_, screen) = human.types(&["doctor"]);
    assert!(
        screen.contains(".pyenv: 1 script, none trusted"),
        "{screen}"
    );
    assert!(screen.contains(hint), "{screen}");

    let (code, screen) = human.types(&["trust", "--tools", "--yes"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains(".pyenv: 1 shell scripts"), "{screen}");
    let (_, screen) = human.types(&["doctor"]);
    assert!(!screen.contains(".pyenv"), "{screen}");

    let after = run(&tool);
    assert_eq!(after.status.code(), Some(0), "{after:?}");
    assert_eq!(String::from_utf8_lossy(&after.stdout), "from-the-tool\n");

    // The same code anywhere else is not the tool: judged, and nothing says to trust it.
    let copy = human.home.join("copy");
    install(&copy, script);
    let elsewhere = run(&copy);
    assert_eq!(elsewhere.status.code(), Some(126));
    assert!(!String::from_utf8_lossy(&elsewhere.stderr).contains(hint));
    // A script added to the tool's directory, or the tool changed, by anyone: judged.
    let added = libexec.join("pyenv-new");
    install(&added, &script.replace("set -e", "set -eu"));
    assert_eq!(run(&added).status.code(), Some(126));
    let (_, screen) = human.types(&["doctor"]);
    assert!(
        screen.contains(".pyenv: 1 of 2 scripts new or changed since trusted"),
        "{screen}"
    );
    install(&tool, &script.replace("set -e", "set -e; true"));
    assert_eq!(run(&tool).status.code(), Some(126));
}

#[test]
fn a_request_waits_less_than_the_agent_does() {
    // mini-swe-agent kills a command after 30 s and marks its commands' environment with
    // nothing of its own: known by its name, it gets its refusal (with the id) in time.
    let human = Human::new();
    let mut console = human.console();
    let pv = ProjectAndVictim::new();
    let bin = human.home.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let mini = bin.join("mini");
    fs::write(
        &mini,
        "#!/usr/bin/python3\nimport subprocess, sys\nsys.exit(subprocess.run(sys.argv[1:]).returncode)\n",
    )
    .unwrap();
    let mut sg = Sg::at(Path::new("/usr/bin/python3"))
        .args([mini.to_str().unwrap(), SG, "-c", RM_VICTIM])
        .cwd(&pv.project);
    for (k, v) in human.env() {
        sg = sg.env(k, &v);
    }
    let agent = thread::spawn(move || sg.run());
    console.wait_for("fs.rm-recursive");
    let screen = console.screen();
    let left: u64 = screen
        .split("refused in ")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no wait shown:\n{screen}"));
    assert!(
        (20..=25).contains(&left),
        "waits {left}s under mini:\n{screen}"
    );
    thread::sleep(Duration::from_millis(900));
    console.send(b"n");
    let out = agent.join().unwrap();
    assert_eq!(out.code(), Some(126), "{}", out.show());
    pv.assert_victim_intact();
    console.send(b"q");
    let _ = console.finish();
}

/// Claude Code's wrapper around a command, with the random file it writes every time.
fn claude_wrapped(cmd: &str, n: u32) -> String {
    format!(
        "source /tmp/claude-shell-snapshot-{n} 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval '{cmd}' < /dev/null && pwd -P >| /tmp/claude-{n:04x}-cwd"
    )
}

/// Codex CLI 0.171: a command bare until its shell snapshot is ready (the first, here), then
/// inside its wrapper, which ends in `exec '/bin/bash' -c CMD`.
fn codex_wrapped(cmd: &str, n: u32) -> String {
    if n == 1001 {
        return cmd.to_string();
    }
    format!(
        "__CODEX_SNAPSHOT_OVERRIDE_SET_0=\"${{CODEX_THREAD_ID+x}}\"\nif . '/tmp/codex-snapshot-{n}.sh' >/dev/null 2>&1; then :; fi\nexec '/bin/bash' -c '{}'",
        cmd.replace('\'', "'\"'\"'")
    )
}

/// Gemini CLI 0.61's wrapper, with its random directory.
fn gemini_wrapped(cmd: &str, n: u32) -> String {
    format!(
        "shopt -u promptvars nullglob extglob nocaseglob dotglob; _bgpids_file=/tmp/gemini-shell-{n}/bgpids.tmp\n(\n  trap 'jobs -p > \"$_bgpids_file\"' EXIT\n{cmd}\n)\n__code=$?\nexit $__code"
    )
}

#[test]
fn an_approval_takes_through_the_agents_own_wrappers_and_no_further() {
    type Wrap = fn(&str, u32) -> String;
    for (agent, wrap) in [
        ("claude", claude_wrapped as Wrap),
        ("gemini", gemini_wrapped as Wrap),
        ("codex", codex_wrapped as Wrap),
    ] {
        let human = Human::new();
        let pv = ProjectAndVictim::new();
        let run = |line: &str| human.agent_runs(line, &pv.project).join().unwrap();
        let out = run(&wrap(RM_VICTIM, 1001));
        out.assert_refused("fs.rm-recursive");
        let err = out.err();
        let id = err
            .split("shellguard approve ")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_else(|| panic!("{agent}: no request id in: {err}"))
            .to_string();
        let (code, screen) = human.types(&["approve", &id, "--yes"]);
        assert_eq!(code, 0, "{agent}: approve failed:\n{screen}");
        // Whatever changes what would run is asked about again, in the new wrapper too.
        for other in [
            "rm -rf .git/hooks",
            "rm -rf .git; rm -rf ~/elsewhere",
            "cd .. && rm -rf project/.git",
            "rm -rf .git 2>/dev/null",
            "rm -rf \"$(cat list)\"",
            "printf .git | xargs rm -rf",
            "sudo rm -rf .git",
        ] {
            let out = run(&wrap(other, 2002));
            assert_eq!(
                out.code(),
                Some(126),
                "{agent}: `{other}` ran:\n{}",
                out.show()
            );
            pv.assert_victim_intact();
        }
        // The retry, in a wrapper with a new random path, does what was approved: it runs.
        let retry = run(&wrap(RM_VICTIM, 3003));
        assert_eq!(retry.code(), Some(0), "{agent}: {}", retry.show());
        assert!(
            !pv.victim.exists(),
            "{agent}: the approved retry did not run"
        );
    }
}

#[test]
fn writing_to_the_watch_socket_approves_nothing() {
    use std::os::unix::net::UnixStream;
    let human = Human::new();
    let _console = human.console();
    let pv = ProjectAndVictim::new();
    let cfg = human.home.join(".config/shellguard");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(cfg.join("config.toml"), "approval_timeout = 2\n").unwrap();
    let agent = human.agent_runs(RM_VICTIM, &pv.project);
    thread::sleep(Duration::from_millis(500));
    // An agent that finds the socket and "answers" for every id it can guess.
    let sock = fs::read_dir(&human.runtime)
        .unwrap()
        .flatten()
        .map(|d| d.path().join("watch.sock"))
        .find(|p| p.exists())
        .expect("watch socket");
    for line in [
        "{\"id\":\"x\",\"nonce\":\"x\",\"verdict\":\"approve\"}\n",
        "y\n",
        "approve\n",
    ] {
        if let Ok(mut s) = UnixStream::connect(&sock) {
            let _ = s.write_all(line.as_bytes());
        }
    }
    let out = agent.join().unwrap();
    out.assert_refused("fs.rm-recursive");
    pv.assert_victim_intact();
}

/// `shellguard run` hosting a fake agent that starts `$SHELL -c CMD` in a new session, with no
/// terminal, as Claude Code does: the prompt appears on the outer terminal.
fn supervised_agent(human: &Human, pv: &ProjectAndVictim, line: &str) -> Pty {
    // The detached shell's line lives in a script file: under the enforced supervisor the
    // agent's own `sh -c` is a guarded shell too, and only the detached one should ask.
    fs::write(pv.project.join("detached.sh"), format!("{line}\n")).unwrap();
    let agent =
        "echo AGENT-START; setsid sh ./detached.sh </dev/null; echo AGENT-EXIT=$?; sleep 0.3"
            .to_string();
    let env = human.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut p = Pty::spawn(
        &[
            OsStr::new(SG),
            OsStr::new("run"),
            OsStr::new("--"),
            OsStr::new("sh"),
            OsStr::new("-c"),
            OsStr::new(&agent),
        ],
        &pv.project,
        &env,
    );
    p.wait_for("AGENT-START");
    p.wait_for("fs.rm-recursive");
    thread::sleep(Duration::from_millis(1200));
    p
}

#[test]
fn supervisor_prompt_approves_and_refuses_a_detached_shell() {
    let human = Human::new();
    let pv = ProjectAndVictim::new();
    let mut p = supervised_agent(&human, &pv, RM_VICTIM);
    p.send(b"y");
    p.wait_for("AGENT-EXIT=0");
    let (code, screen) = p.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !pv.victim.exists(),
        "approved, yet the victim is still there"
    );

    let pv = ProjectAndVictim::new();
    let mut p = supervised_agent(&human, &pv, RM_VICTIM);
    p.send(b"n");
    p.wait_for("AGENT-EXIT=126");
    let (code, screen) = p.finish();
    assert_eq!(code, 0, "{screen}");
    pv.assert_victim_intact();
    // The agent's own output is still on the restored screen, unchanged.
    assert!(screen.contains("AGENT-START"), "{screen}");
}

#[test]
fn a_fake_supervisor_in_the_environment_approves_nothing() {
    let human = Human::new();
    let pv = ProjectAndVictim::new();
    // A server the agent started earlier (a separate process, not an ancestor of the
    // shell), answering "approve" to everything.
    let sock = human.runtime.join("fake.sock");
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fake_supervisor_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SG_FAKE_SUPERVISOR_SOCK", &sock)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = Instant::now();
    while !sock.exists() && up.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
    }
    let mut sg = Sg::new()
        .args(["-c", RM_VICTIM])
        .cwd(&pv.project)
        .env("SHELLGUARD_SUPERVISOR", sock.to_string_lossy().as_ref());
    for (k, v) in human.env() {
        sg = sg.env(k, &v);
    }
    let out = sg.run();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.code(), Some(126), "{}", out.show());
    assert!(out.err().contains("fs.rm-recursive"), "{}", out.show());
    assert!(
        out.err()
            .contains("is not a supervisor this shell can trust"),
        "{}",
        out.show()
    );
    pv.assert_victim_intact();
}

/// The fake supervisor of the test above, when run as its own process.
#[test]
fn fake_supervisor_entry() {
    use std::os::unix::net::UnixListener;
    let Some(sock) = std::env::var_os("SG_FAKE_SUPERVISOR_SOCK") else {
        return;
    };
    let listener = UnixListener::bind(&sock).unwrap();
    for conn in listener.incoming().flatten() {
        let mut line = String::new();
        let mut r = std::io::BufReader::new(&conn);
        let _ = std::io::BufRead::read_line(&mut r, &mut line);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let answer = format!(
            "{{\"id\":{},\"nonce\":{},\"verdict\":\"approve\"}}\n",
            v["id"], v["nonce"]
        );
        let _ = (&conn).write_all(answer.as_bytes());
    }
}

#[test]
fn allow_for_ten_minutes_remembers_the_identical_command_until_deny_all() {
    let human = Human::new();
    let pv = ProjectAndVictim::new();
    let line = "rm -rf .git/x";
    fs::create_dir_all(pv.project.join(".git/x")).unwrap();
    let mut console = human.console();
    let agent = human.agent_runs(line, &pv.project);
    console.wait_for("fs.rm-recursive");
    thread::sleep(Duration::from_millis(900));
    console.send(b"a");
    let out = agent.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.show());
    console.send(b"q");
    let _ = console.finish();
    // No console now: the identical command in the same directory passes from memory...
    fs::create_dir_all(pv.project.join(".git/x")).unwrap();
    let again = human.agent_runs(line, &pv.project).join().unwrap();
    assert_eq!(again.code(), Some(0), "{}", again.show());
    assert!(!pv.project.join(".git/x").exists());
    // ...a different one does not...
    let other = human
        .agent_runs("rm -rf .git/y", &pv.project)
        .join()
        .unwrap();
    assert_eq!(other.code(), Some(126), "{}", other.show());
    // ...and `deny --all` forgets.
    let mut deny = Sg::new().args(["deny", "--all"]);
    for (k, v) in human.env() {
        deny = deny.env(k, &v);
    }
    assert_eq!(deny.run().code(), Some(0));
    fs::create_dir_all(pv.project.join(".git/x")).unwrap();
    let forgotten = human.agent_runs(line, &pv.project).join().unwrap();
    assert_eq!(forgotten.code(), Some(126), "{}", forgotten.show());
    assert!(pv.project.join(".git/x").exists());
}

#[test]
fn help_under_its_own_name_is_shellguards_and_through_the_link_is_bashs() {
    let own = Sg::new().arg("--help").run();
    assert_eq!(own.code(), Some(0));
    for sub in [
        "check", "explain", "rules", "run", "watch", "approve", "deny", "log", "trust",
    ] {
        assert!(
            own.out().contains(&format!("  {sub}")),
            "{sub} missing:\n{}",
            own.out()
        );
    }
    let shims = Shims::new();
    Sg::at(&shims.bash())
        .arg0("bash")
        .arg("--help")
        .same_as(&real_bash());
}

#[test]
fn a_log_that_cannot_be_written_is_said_once_and_changes_nothing_else() {
    let human = Human::new();
    let pv = ProjectAndVictim::new();
    let state = human.home.join(".local/state/shellguard");
    // Under `ulimit -f 0` every write to a file fails: the log, a kept request, all of them.
    let limited = |line: &str| {
        let mut sg = Sg::at(Path::new("/bin/bash"))
            .args(["-c", "ulimit -f 0; exec \"$0\" -c \"$1\"", SG, line])
            .cwd(&pv.project)
            .env("CLAUDECODE", "1");
        for (k, v) in human.env() {
            sg = sg.env(k, &v);
        }
        sg.run()
    };
    let said = "the audit log cannot be written";
    let out = limited("echo one; echo two");
    assert_eq!(out.code(), Some(0), "{}", out.show());
    assert_eq!(out.out(), "one\ntwo\n");
    assert_eq!(out.err().matches(said).count(), 1, "{}", out.show());
    // What the command sees is bash's: a write past the limit still kills the writer.
    let kill = "sh -c 'echo x > f'; echo rc=$?";
    let bash = Sg::at(Path::new("/bin/bash"))
        .args(["-c", &format!("ulimit -f 0; {kill}")])
        .cwd(&pv.project)
        .run();
    assert_eq!(bash.out(), "rc=153\n", "{}", bash.show());
    assert_eq!(limited(kill).out(), bash.out());

    // Refused with no request kept: no id nobody could approve, but why, and nothing left.
    let out = limited(RM_VICTIM);
    assert_eq!(out.code(), Some(126), "{}", out.show());
    pv.assert_victim_intact();
    let err = out.err();
    assert!(err.contains("Approving it later is not possible"), "{err}");
    assert!(
        err.contains("File too large") && !err.contains("Request id"),
        "{err}"
    );
    let left: Vec<_> = fs::read_dir(&state)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with(".approvals")),
        "{left:?}"
    );

    // The log's path taken by a directory, then by a link to /dev/full: commands run, and
    // the human's `shellguard log` says what is missing, once.
    let log = state.join("audit.jsonl");
    let _ = fs::remove_file(&log);
    fs::create_dir_all(&log).unwrap();
    let out = human.agent_runs("echo a", &pv.project).join().unwrap();
    assert_eq!((out.code(), out.out()), (Some(0), "a\n".into()));
    assert!(out.err().contains(said), "{}", out.show());
    fs::remove_dir(&log).unwrap();
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let out = human.agent_runs("echo b", &pv.project).join().unwrap();
    assert_eq!((out.code(), out.out()), (Some(0), "b\n".into()));
    let (_, screen) = human.types(&["log"]);
    assert!(
        screen.contains("2 audit records could not be written"),
        "{screen}"
    );
    let (_, screen) = human.types(&["log"]);
    assert!(!screen.contains("could not be written"), "{screen}");
}

/// A full disk, for real: the state directory on a 64 KiB tmpfs filled to the brim (in a
/// mount namespace of the test's own, so no privilege is needed). Allowed commands run, a
/// refusal says why it cannot be approved later, and no temporary file is left.
#[test]
fn a_full_disk_under_the_state_directory_changes_no_decision() {
    let human = Human::new();
    let pv = ProjectAndVictim::new();
    let state = human.home.join(".local/state/shellguard");
    fs::create_dir_all(&state).unwrap();
    let script = "mount -t tmpfs -o size=64k none \"$STATE\" || exit 99\n\
                  head -c 200000 /dev/zero > \"$STATE/fill\" 2>/dev/null\n\
                  \"$SG\" -c 'echo still-runs'; echo \"rc=$?\"\n\
                  \"$SG\" -c \"$RM\"; echo \"rc=$?\"\n\
                  ls -A \"$STATE\"";
    let mut sg = Sg::at(Path::new("/usr/bin/unshare"))
        .args(["-rm", "/bin/sh", "-c", script])
        .cwd(&pv.project)
        .env("STATE", state.to_str().unwrap())
        .env("SG", SG)
        .env("RM", RM_VICTIM)
        .env("CLAUDECODE", "1");
    for (k, v) in human.env() {
        sg = sg.env(k, &v);
    }
    let out = sg.run();
    if out.code() == Some(99) || out.err().contains("unshare failed") {
        eprintln!("skipped: no user and mount namespaces here: {}", out.show());
        return;
    }
    assert_eq!(
        out.out().lines().take(3).collect::<Vec<_>>(),
        ["still-runs", "rc=0", "rc=126"],
        "{}",
        out.show()
    );
    let err = out.err();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("Approving it later is not possible"), "{err}");
    assert!(!err.contains("Request id"), "{err}");
    // What is left in the state directory: the filler and files that exist whole, no
    // half-written temporary file.
    let stdout = out.out();
    let left: Vec<&str> = stdout.lines().skip(3).collect();
    assert!(!left.iter().any(|n| n.starts_with('.')), "{left:?}");
    pv.assert_victim_intact();
}
