//! `shellguard run` driven through a real pseudo-terminal.
//!
//! The test plays the human's terminal: it opens an outer pty, starts the supervisor in it and
//! feeds everything the supervisor writes into a `vt100` parser, so assertions can look at the
//! screen a human would see. It also answers the terminal status query (`ESC [ 5 n`), as real
//! terminals do.
//!
//! Three roles are this same test binary, re-run with an environment variable:
//! - the supervisor (`run_entry`): calls `shellguard::supervise::run_main`;
//! - the fake agent (`agent_entry`): prints markers, echoes every byte it reads as `IN:xx`, and
//!   on `g` starts a guarded "shell";
//! - that shell (`client_entry`): started in a new session (no controlling terminal, as Claude
//!   Code and Codex do), it asks the supervisor over `$SHELLGUARD_SUPERVISOR` and prints the
//!   answer, which the agent prints in turn.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use shellguard::approve::protocol::{self, Answer, Request, RuleInfo, Verdict};

const RUN_ENV: &str = "SG_TEST_RUN";
const AGENT_ENV: &str = "SG_TEST_AGENT";
const CLIENT_ENV: &str = "SG_TEST_CLIENT";

const WAIT: Duration = Duration::from_secs(20);
const PROMPT_TITLE: &str = "needs your approval";

/// Bytes the print agent writes: colour, a UTF-8 character, a title, a cursor move.
const EXACT: &[u8] = b"START\x1b[31mred\x1b[0m \xe2\x82\xac \x1b]0;title\x07\x1b[5CEND";

// ---------------------------------------------------------------------------------------------
// The child roles.

fn reexec_args(entry: &str) -> Vec<String> {
    vec![
        entry.to_owned(),
        "--exact".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
        "-q".into(),
    ]
}

fn test_exe() -> PathBuf {
    std::env::current_exe().expect("test binary")
}

#[test]
fn run_entry() {
    let Ok(args) = std::env::var(RUN_ENV) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("run args");
    let code = shellguard::supervise::run_main(&args);
    std::process::exit(i32::from(code));
}

fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes()).unwrap();
    o.flush().unwrap();
}

#[test]
fn agent_entry() {
    let Ok(mode) = std::env::var(AGENT_ENV) else {
        return;
    };
    match mode.as_str() {
        "print" => agent_print(),
        "sleep" => {
            out("SLEEPING\r\n");
            thread::sleep(Duration::from_secs(30));
            std::process::exit(0);
        }
        "winch" => agent_winch(),
        "ask" => agent_ask(false),
        "ask-tui" => agent_ask(true),
        other => panic!("unknown agent mode {other}"),
    }
}

fn agent_print() {
    for var in ["SHELL", "CLAUDE_CODE_SHELL", protocol::SUPERVISOR_ENV] {
        out(&format!(
            "ENV {var}={}\r\n",
            std::env::var(var).unwrap_or_else(|_| "<unset>".into())
        ));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    out(&format!(
        "ENV PATH0={}\r\n",
        path.split(':').next().unwrap_or_default()
    ));
    let mut o = std::io::stdout().lock();
    o.write_all(EXACT).unwrap();
    o.write_all(b"\r\n").unwrap();
    o.flush().unwrap();
    drop(o);
    if std::env::var("SG_TEST_KILL").is_ok() {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).unwrap();
        thread::sleep(Duration::from_secs(5));
    }
    let code: i32 = std::env::var("SG_TEST_EXIT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    std::process::exit(code);
}

fn agent_winch() {
    use signal_hook::consts::SIGWINCH;
    let print_size = || {
        let (cols, rows) = crossterm::terminal::size().unwrap();
        out(&format!("SIZE {rows} {cols}\r\n"));
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGWINCH]).unwrap();
    print_size();
    thread::spawn(|| {
        thread::sleep(WAIT);
        std::process::exit(3);
    });
    for _ in signals.forever() {
        print_size();
    }
}

/// Raw mode on the agent's terminal, so that every byte that reaches it is seen (and none is
/// echoed by the line discipline instead).
fn agent_raw() {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let stdin = std::io::stdin();
    let mut t = tcgetattr(&stdin).unwrap();
    cfmakeraw(&mut t);
    tcsetattr(&stdin, SetArg::TCSANOW, &t).unwrap();
}

fn agent_ask(tui: bool) {
    agent_raw();
    if tui {
        out("\x1b[?1049h\x1b[H\x1b[2J\x1b[6;11HTUI-MARKER\x1b[8;1HAGENT READY\r\n");
    } else {
        out("MARKER-BEFORE\r\nAGENT READY\r\n");
    }
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 256];
    loop {
        let n = stdin.read(&mut buf).unwrap();
        if n == 0 {
            std::process::exit(4);
        }
        for &b in &buf[..n] {
            match b {
                b'g' => {
                    thread::spawn(run_client);
                }
                b'q' => std::process::exit(0),
                _ => out(&format!("IN:{b:02x}\r\n")),
            }
        }
    }
}

/// Starts the guarded "shell" the way Claude Code does: a new session, stdin from /dev/null.
fn run_client() {
    let mut cmd = Command::new(test_exe());
    cmd.args(reexec_args("client_entry"))
        .env(CLIENT_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("RESULT") || line.starts_with("TTY") {
            out(&format!("CLIENT {line}\r\n"));
        }
    }
    let status = child.wait().unwrap();
    out(&format!("CLIENT EXIT {}\r\n", status.code().unwrap_or(-1)));
}

fn demo_request(wait_secs: u64) -> Request {
    Request {
        id: protocol::new_id(),
        nonce: protocol::new_nonce(),
        command: "rm -rf /tmp/sg-demo-target".into(),
        cwd: "/tmp".into(),
        what: None,
        agent: Some("fake-agent".into()),
        rules: vec![RuleInfo {
            id: "fs.rm-recursive".into(),
            reason: "deletes a directory tree".into(),
            decision: "confirm".into(),
            suggest: Some("mv /tmp/sg-demo-target ~/.trash/".into()),
            touches: vec!["/tmp/sg-demo-target".into()],
        }],
        highlights: vec![(7, 26)],
        pid: std::process::id(),
        wait_secs,
        enforced: false,
    }
}

#[test]
fn client_entry() {
    if std::env::var(CLIENT_ENV).is_err() {
        return;
    }
    let tty = fs::File::open("/dev/tty").is_ok();
    println!("TTY {}", if tty { "yes" } else { "none" });
    let wait: u64 = std::env::var("SG_TEST_WAIT")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(20);
    let sock = std::env::var(protocol::SUPERVISOR_ENV).expect("supervisor socket");
    let req = demo_request(wait);
    let mut stream = UnixStream::connect(&sock).expect("connect");
    let mut line = serde_json::to_vec(&req).unwrap();
    line.push(b'\n');
    stream.write_all(&line).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(wait + 5)))
        .unwrap();
    let mut answer = String::new();
    let _ = BufReader::new(&stream).read_line(&mut answer);
    match serde_json::from_str::<Answer>(answer.trim_end()) {
        Ok(a) => {
            let verdict = match a.verdict {
                Verdict::Approve => "approve",
                Verdict::Refuse => "refuse",
                Verdict::Timeout => "timeout",
            };
            let remember = a.remember_secs.map_or("none".into(), |s| s.to_string());
            let matched = a.id == req.id && a.nonce == req.nonce;
            println!("RESULT verdict={verdict} remember={remember} match={matched}");
        }
        Err(_) => println!("RESULT none"),
    }
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------------------
// The human's side.

struct Shared {
    raw: Vec<u8>,
    parser: vt100::Parser,
    dsr_replies: usize,
    auto_dsr: bool,
}

struct Session {
    master: Box<dyn MasterPty + Send>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn Child + Send + Sync>,
    shared: Arc<Mutex<Shared>>,
    dir: PathBuf,
}

fn temp_dir(case: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sg-sup-{}-{}-{case}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("run")).unwrap();
    fs::set_permissions(dir.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// `run [--] <this binary as the agent>` with the agent's mode and extra environment.
fn run_args(mode: &str) -> Vec<String> {
    let mut a = vec![
        "--".to_owned(),
        "/usr/bin/env".to_owned(),
        format!("{AGENT_ENV}={mode}"),
        test_exe().to_string_lossy().into_owned(),
    ];
    a.extend(reexec_args("agent_entry"));
    a
}

fn uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

impl Session {
    fn start(case: &str, mode: &str, env: &[(&str, &str)]) -> Session {
        let dir = temp_dir(case);
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(test_exe());
        cmd.args(reexec_args("run_entry"));
        cmd.env(RUN_ENV, serde_json::to_string(&run_args(mode)).unwrap());
        cmd.env("SHELLGUARD_TEST_BIN", env!("CARGO_BIN_EXE_shellguard"));
        cmd.env("XDG_RUNTIME_DIR", dir.join("run"));
        cmd.env("XDG_DATA_HOME", dir.join("data"));
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove(protocol::SUPERVISOR_ENV);
        cmd.env_remove(AGENT_ENV);
        cmd.env_remove(CLIENT_ENV);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(&dir);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let shared = Arc::new(Mutex::new(Shared {
            raw: Vec::new(),
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(24).unwrap(),
                std::num::NonZeroU16::new(80).unwrap(),
                0,
            ),
            dsr_replies: 0,
            auto_dsr: true,
        }));
        let mut reader = pair.master.try_clone_reader().unwrap();
        {
            let shared = Arc::clone(&shared);
            let writer = Arc::clone(&writer);
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut s = shared.lock().unwrap();
                    let from = s.raw.len().saturating_sub(3);
                    s.raw.extend_from_slice(&buf[..n]);
                    s.parser.process(&buf[..n]);
                    let queries = count(&s.raw[from..], b"\x1b[5n");
                    if queries > 0 && s.auto_dsr {
                        let mut w = writer.lock().unwrap();
                        for _ in 0..queries {
                            w.write_all(b"\x1b[0n").unwrap();
                        }
                        w.flush().unwrap();
                        s.dsr_replies += queries;
                    }
                }
            });
        }
        Session {
            master: pair.master,
            writer,
            child,
            shared,
            dir,
        }
    }

    fn screen(&self) -> String {
        self.shared.lock().unwrap().parser.screen().contents()
    }

    fn rows(&self) -> Vec<String> {
        let s = self.shared.lock().unwrap();
        let (_, cols) = s.parser.screen().size();
        s.parser.screen().rows(0, cols.get()).collect()
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().unwrap().raw).into_owned()
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&Session) -> bool) {
        let give_up = Instant::now() + WAIT;
        while !cond(self) {
            if Instant::now() > give_up {
                panic!(
                    "timed out waiting for {what}\n--- screen ---\n{}\n--- raw ---\n{:?}",
                    self.screen(),
                    self.raw()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_raw(&self, needle: &str) {
        self.wait_for(needle, |s| s.raw().contains(needle));
    }

    fn wait_screen(&self, needle: &str) {
        self.wait_for(needle, |s| s.screen().contains(needle));
    }

    /// The prompt is on screen and the terminal has answered its status query, so keys typed
    /// from now on count.
    fn wait_prompt(&self, replies_before: usize) {
        self.wait_for("the prompt", |s| {
            s.screen().contains(PROMPT_TITLE)
                && s.shared.lock().unwrap().dsr_replies > replies_before
        });
    }

    fn dsr_replies(&self) -> usize {
        self.shared.lock().unwrap().dsr_replies
    }

    fn send(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    }

    /// Types `key` until the agent reports reading it (keys right after an answer are dropped).
    fn type_until_agent_reads(&self, key: u8) {
        let echo = format!("IN:{key:02x}");
        let give_up = Instant::now() + WAIT;
        while !self.raw().contains(&echo) {
            assert!(Instant::now() < give_up, "the agent never read {key:?}");
            self.send(&[key]);
            thread::sleep(Duration::from_millis(300));
        }
    }

    fn agent_inputs(&self) -> Vec<String> {
        self.raw()
            .split("IN:")
            .skip(1)
            .map(|s| s.chars().take(2).collect())
            .collect()
    }

    fn wait_exit(&mut self) -> u32 {
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader catch the last bytes.
                thread::sleep(Duration::from_millis(100));
                return status.exit_code();
            }
            assert!(
                Instant::now() < give_up,
                "supervisor did not exit\n{}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.join("run").join(format!("shellguard-{}", uid()))
    }

    fn socket(&self) -> PathBuf {
        let pid = self.child.process_id().unwrap();
        self.socket_dir().join(format!("sup-{pid}.sock"))
    }

    fn result_line(&self) -> String {
        let raw = self.raw();
        let at = raw.find("CLIENT RESULT").expect("a result");
        raw[at..].lines().next().unwrap().to_owned()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn output_and_exit_status_pass_through() {
    let mut s = Session::start("print", "print", &[("SG_TEST_EXIT", "7")]);
    assert_eq!(s.wait_exit(), 7);
    let raw = s.shared.lock().unwrap().raw.clone();
    assert!(
        raw.windows(EXACT.len()).any(|w| w == EXACT),
        "bytes changed on the way: {:?}",
        String::from_utf8_lossy(&raw)
    );
    let text = s.raw();
    let shims = s.dir.join("data/shellguard/shims");
    let bash = shims.join("bash");
    assert!(
        text.contains(&format!("ENV SHELL={}", bash.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("ENV CLAUDE_CODE_SHELL={}", bash.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("ENV PATH0={}", shims.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ENV {}={}",
            protocol::SUPERVISOR_ENV,
            s.socket().display()
        )),
        "{text}"
    );
    // The shims were created as install.sh would, pointing at the running binary.
    for name in ["bash", "sh"] {
        assert_eq!(fs::read_link(shims.join(name)).unwrap(), test_exe());
    }
    // The socket is gone and the runtime directory is private.
    assert!(!s.socket().exists());
    let mode = fs::metadata(s.socket_dir()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // The terminal is back in cooked mode.
    let t = s.master.get_termios().unwrap();
    let lflags = u64::from(t.local_flags.bits());
    let want = u64::from(libc::ICANON | libc::ECHO | libc::ISIG);
    assert_eq!(lflags & want, want, "terminal left raw");
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let mut s = Session::start("kill", "print", &[("SG_TEST_KILL", "1")]);
    assert_eq!(s.wait_exit(), 128 + 15);
}

#[test]
fn ctrl_c_reaches_the_agent() {
    let mut s = Session::start("ctrlc", "sleep", &[]);
    s.wait_screen("SLEEPING");
    s.send(b"\x03");
    assert_eq!(s.wait_exit(), 128 + 2);
}

#[test]
fn resize_reaches_the_agent() {
    let s = Session::start("winch", "winch", &[]);
    s.wait_raw("SIZE 24 80");
    s.master
        .resize(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    s.wait_raw("SIZE 30 100");
}

/// The common shape: agent ready, screen noted, request started, prompt shown, `keys` typed.
fn ask(s: &Session, keys: &[u8]) -> Vec<String> {
    s.wait_screen("AGENT READY");
    let before = s.rows();
    s.send(b"g");
    s.wait_prompt(0);
    assert!(
        !s.screen().contains("AGENT READY"),
        "prompt drawn over the agent's screen"
    );
    let screen = s.screen();
    for shown in [
        "rm -rf /tmp/sg-demo-target",
        "rule fs.rm-recursive",
        "deletes a directory tree",
        "touches: /tmp/sg-demo-target",
        "safer:",
        "in /tmp",
        "fake-agent",
        "[y/a/N]",
    ] {
        assert!(screen.contains(shown), "{shown:?} not in prompt:\n{screen}");
    }
    s.send(keys);
    s.wait_raw("CLIENT EXIT");
    before
}

fn assert_restored(s: &Session, before: &[String]) {
    s.wait_for("the agent's screen back", |s| {
        !s.screen().contains(PROMPT_TITLE)
    });
    let after = s.rows();
    for (i, row) in before.iter().enumerate() {
        if !row.trim().is_empty() {
            assert_eq!(
                &after[i],
                row,
                "row {i} not restored\nbefore:\n{}\nafter:\n{}",
                before.join("\n"),
                after.join("\n")
            );
        }
    }
}

#[test]
fn approve_with_y_and_keys_never_reach_the_agent() {
    let mut s = Session::start("approve", "ask", &[]);
    let before = ask(&s, b"xy");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=approve remember=none match=true"
    );
    assert!(s.raw().contains("CLIENT TTY none"), "client had a terminal");
    assert_restored(&s, &before);
    s.wait_screen("CLIENT EXIT 0");
    s.type_until_agent_reads(b'z');
    let inputs = s.agent_inputs();
    assert!(
        inputs.iter().all(|k| k == "7a"),
        "keys typed at the prompt reached the agent: {inputs:?}"
    );
    s.send(b"q");
    assert_eq!(s.wait_exit(), 0);
}

#[test]
fn refuse_with_n() {
    let s = Session::start("refuse", "ask", &[]);
    let before = ask(&s, b"n");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=refuse remember=none match=true"
    );
    assert_restored(&s, &before);
}

#[test]
fn a_allows_for_ten_minutes() {
    let s = Session::start("always", "ask", &[]);
    ask(&s, b"a");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=approve remember=600 match=true"
    );
}

#[test]
fn no_answer_in_time_is_a_timeout() {
    let s = Session::start("timeout", "ask", &[("SG_TEST_WAIT", "2")]);
    let started = Instant::now();
    let before = ask(&s, b"");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=timeout remember=none match=true"
    );
    // Answered before the shell's own 2 s were up.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_restored(&s, &before);
}

#[test]
fn full_screen_agent_is_repainted() {
    let s = Session::start("tui", "ask-tui", &[]);
    s.wait_screen("AGENT READY");
    let marker_row = 5;
    assert!(s.rows()[marker_row].starts_with("          TUI-MARKER"));
    let before = ask(&s, b"y");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=approve remember=none match=true"
    );
    assert_restored(&s, &before);
    assert!(s.rows()[marker_row].starts_with("          TUI-MARKER"));
}

#[test]
fn keys_before_the_prompt_was_visible_do_not_answer() {
    let s = Session::start("fence", "ask", &[]);
    s.shared.lock().unwrap().auto_dsr = false;
    s.wait_screen("AGENT READY");
    s.send(b"g");
    s.wait_screen(PROMPT_TITLE);
    s.wait_raw("\x1b[5n");
    // A terminal's reply to something the agent asked earlier (a window title report holding
    // "y"), and a `y`, both ahead of the reply to the supervisor's own status query.
    s.send(b"\x1b]ly\x1b\\y");
    thread::sleep(Duration::from_millis(300));
    s.send(b"\x1b[0n");
    thread::sleep(Duration::from_millis(300));
    assert!(s.screen().contains(PROMPT_TITLE), "answered by early keys");
    assert!(!s.raw().contains("CLIENT RESULT"));
    // Ctrl-C at the prompt refuses, and does not reach the agent.
    s.send(b"\x03");
    s.wait_raw("CLIENT EXIT");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=refuse remember=none match=true"
    );
    s.type_until_agent_reads(b'z');
    // What was read before the reply was sent before the prompt was visible: it was meant for
    // the agent, and reaches it; Ctrl-C, after the reply, does not.
    assert_eq!(
        s.agent_inputs(),
        ["1b", "5d", "6c", "79", "1b", "5c", "79", "7a"]
    );
}

#[test]
fn requests_are_answered_one_at_a_time() {
    let s = Session::start("queue", "ask", &[]);
    s.wait_screen("AGENT READY");
    s.send(b"gg");
    s.wait_prompt(0);
    s.send(b"y");
    s.wait_for("the second prompt", |s| {
        s.dsr_replies() >= 2 && s.screen().contains(PROMPT_TITLE)
    });
    s.send(b"n");
    s.wait_for("both answers", |s| {
        count(s.raw().as_bytes(), b"CLIENT EXIT") == 2
    });
    let raw = s.raw();
    assert!(raw.contains("CLIENT RESULT verdict=approve remember=none match=true"));
    assert!(raw.contains("CLIENT RESULT verdict=refuse remember=none match=true"));
}

#[test]
fn nothing_but_a_request_gets_an_answer() {
    let s = Session::start("garbage", "ask", &[]);
    s.wait_screen("AGENT READY");
    let sock = s.socket();
    let req = demo_request(20);
    let answer = Answer {
        id: req.id.clone(),
        nonce: req.nonce.clone(),
        verdict: Verdict::Approve,
        remember_secs: Some(600),
    };
    let mut oversized = vec![b'{'; shellguard::supervise::MAX_REQUEST + 10];
    oversized.push(b'\n');
    let cases: Vec<Vec<u8>> = vec![
        b"hello\n".to_vec(),
        format!("{}\n", serde_json::to_string(&answer).unwrap()).into_bytes(),
        b"{\"verdict\":\"approve\"}\n".to_vec(),
        oversized,
        // A request cut short, then the writing side closed.
        serde_json::to_vec(&req).unwrap()[..20].to_vec(),
    ];
    for bytes in cases {
        let mut c = UnixStream::connect(&sock).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(&bytes);
        let _ = c.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        let _ = c.read_to_end(&mut reply);
        assert!(
            reply.is_empty(),
            "got a reply: {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    thread::sleep(Duration::from_millis(200));
    assert!(
        !s.screen().contains(PROMPT_TITLE),
        "garbage raised a prompt"
    );
    // The broker still answers a real request.
    s.send(b"g");
    s.wait_prompt(0);
    s.send(b"n");
    s.wait_raw("CLIENT EXIT");
    assert_eq!(
        s.result_line(),
        "CLIENT RESULT verdict=refuse remember=none match=true"
    );
}

#[test]
fn refuses_a_runtime_dir_open_to_others() {
    let dir = temp_dir("opendir");
    let runtime = dir.join("run").join(format!("shellguard-{}", uid()));
    fs::create_dir_all(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o755)).unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(test_exe());
    cmd.args(reexec_args("run_entry"));
    cmd.env(RUN_ENV, serde_json::to_string(&run_args("print")).unwrap());
    cmd.env("SHELLGUARD_TEST_BIN", env!("CARGO_BIN_EXE_shellguard"));
    cmd.env("XDG_RUNTIME_DIR", dir.join("run"));
    cmd.env("XDG_DATA_HOME", dir.join("data"));
    cmd.env_remove(protocol::SUPERVISOR_ENV);
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let collected = Arc::new(Mutex::new(Vec::new()));
    {
        let collected = Arc::clone(&collected);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
    }
    let status = child.wait().unwrap();
    thread::sleep(Duration::from_millis(100));
    let text = String::from_utf8_lossy(&collected.lock().unwrap()).into_owned();
    assert_eq!(status.exit_code(), 125, "{text}");
    assert!(text.contains("must be 0700"), "{text}");
    assert!(!text.contains("ENV SHELL"), "the agent ran: {text}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn without_a_terminal_it_still_proxies() {
    let dir = temp_dir("pipes");
    let output = Command::new(test_exe())
        .args(reexec_args("run_entry"))
        .env(RUN_ENV, serde_json::to_string(&run_args("print")).unwrap())
        .env("SHELLGUARD_TEST_BIN", env!("CARGO_BIN_EXE_shellguard"))
        .env("SG_TEST_EXIT", "3")
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove(protocol::SUPERVISOR_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        output.stdout.windows(EXACT.len()).any(|w| w == EXACT),
        "{:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    // Nobody to ask here: no broker, and the agent's shells are told of none.
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("ENV {}=<unset>", protocol::SUPERVISOR_ENV)),
        "{text}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors() {
    for args in [vec![], vec!["--".to_owned()], vec!["-x".to_owned()]] {
        assert_eq!(shellguard::supervise::run_main(&args), 2, "{args:?}");
    }
    assert_eq!(
        shellguard::supervise::run_main(&["sg-no-such-agent-xyz".to_owned()]),
        127
    );
}
