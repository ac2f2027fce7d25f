//! Drives the approval prompt through a real pseudo-terminal.
//!
//! Each test re-runs this test binary as a child whose controlling terminal is a fresh pty; in
//! the child, `probe_child_entry` calls `ask()` and writes the outcome to a result file, because
//! the pty output interleaves the prompt with the test harness's own chatter.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use shellguard::approve::{tty, Answer, PromptMatch, PromptRequest, Refusal};

const CASE_ENV: &str = "SHELLGUARD_PROBE_CASE";
const RESULT_ENV: &str = "SHELLGUARD_PROBE_RESULT";
const GO_ENV: &str = "SHELLGUARD_PROBE_GO";

/// Generous bounds: the suite must never hang, but a loaded 2-core machine is slow.
const SCREEN_WAIT: Duration = Duration::from_secs(20);
const EXIT_WAIT: Duration = Duration::from_secs(20);

const PLAIN_COMMAND: &str = "rm -rf /tmp/shellguard-demo";
/// Where the path sits in `PLAIN_COMMAND`: the part the rule points at.
const PLAIN_PATH: Range<usize> = 7..27;
/// Clears the screen and reverses the rest of the line if printed raw; the second line checks
/// that multi-line commands keep their line breaks.
const HOSTILE_COMMAND: &str = "echo hi\x1b[2J; rm -rf ~ \u{202e}gnp.exe\nsecond line";

// ---------------------------------------------------------------------------------------------
// The child side.

fn request(case: &str) -> PromptRequest {
    let plain_match = PromptMatch {
        rule_id: "fs.rm-recursive".into(),
        reason: "deletes a directory tree".into(),
        suggestion: Some("mv /tmp/shellguard-demo ~/.trash/".into()),
        touches: vec!["/tmp/shellguard-demo".into(), "/tmp/other".into()],
    };
    match case {
        "hostile" => PromptRequest {
            command: HOSTILE_COMMAND.into(),
            // Cuts into the 3-byte U+202E, runs past the end, and one range is reversed.
            highlights: vec![23..25, 30..1000, Range { start: 9, end: 3 }],
            matches: vec![PromptMatch {
                rule_id: "rule\x1b[31m".into(),
                reason: "reason\x1b]0;owned\x07".into(),
                suggestion: None,
                touches: vec![],
            }],
            timeout: Duration::from_secs(20),
        },
        "timeout" => PromptRequest {
            command: PLAIN_COMMAND.into(),
            highlights: vec![PLAIN_PATH],
            matches: vec![plain_match],
            timeout: Duration::from_secs(1),
        },
        _ => PromptRequest {
            command: PLAIN_COMMAND.into(),
            highlights: vec![PLAIN_PATH],
            matches: vec![plain_match],
            timeout: Duration::from_secs(20),
        },
    }
}

/// Only does anything when a parent test started this binary as a probe.
#[test]
fn probe_child_entry() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    let result_path = PathBuf::from(std::env::var_os(RESULT_ENV).expect("result path"));
    if let Some(go) = std::env::var_os(GO_ENV) {
        println!("PROBE_WAITING");
        let give_up = Instant::now() + SCREEN_WAIT;
        while !Path::new(&go).exists() && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(10));
        }
    }

    let before = termios_of_tty();
    let started = Instant::now();
    let answer = tty::ask(&request(&case));
    let elapsed = started.elapsed();
    let after = termios_of_tty();
    let leftover = tty_has_input(Duration::from_millis(150));

    let answer = match answer {
        Ok(Answer::Yes) => "Yes".to_owned(),
        Ok(Answer::No(r)) => format!("{r:?}"),
        Err(e) => format!("Err({:?})", e.kind()),
    };
    let restored = before.is_some() && before == after;
    let report = format!(
        "ANSWER={answer}\nRESTORED={restored}\nLEFTOVER={leftover}\nELAPSED_MS={}\n",
        elapsed.as_millis()
    );
    let tmp = result_path.with_extension("tmp");
    fs::write(&tmp, report).expect("write result");
    fs::rename(&tmp, &result_path).expect("publish result");
}

type TermiosFields = (u64, u64, u64, u64, Vec<u8>);

fn termios_of_tty() -> Option<TermiosFields> {
    use nix::sys::termios::tcgetattr;
    let tty = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let t = tcgetattr(&tty).ok()?;
    Some((
        u64::from(t.input_flags.bits()),
        u64::from(t.output_flags.bits()),
        u64::from(t.control_flags.bits()),
        u64::from(t.local_flags.bits()),
        t.control_chars.to_vec(),
    ))
}

/// Whether anything is waiting to be read from the terminal (after `ask` it must not be).
fn tty_has_input(wait: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let Ok(tty) = fs::File::open("/dev/tty") else {
        return false;
    };
    let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

// ---------------------------------------------------------------------------------------------
// The parent side.

struct Probe {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    dir: PathBuf,
    go: Option<PathBuf>,
}

struct Outcome {
    fields: HashMap<String, String>,
    /// Everything the child wrote to the terminal, escape sequences included.
    raw: Vec<u8>,
}

impl Outcome {
    fn answer(&self) -> &str {
        self.field("ANSWER")
    }
    fn field(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .map(String::as_str)
            .unwrap_or("<missing>")
    }
    fn screen(&self) -> String {
        strip_ansi(&self.raw)
    }
    /// Every run must leave the terminal exactly as it found it.
    fn assert_restored(&self) {
        assert_eq!(self.field("RESTORED"), "true", "termios not restored");
    }
}

fn temp_dir(case: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shellguard-pty-{}-{}-{case}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

impl Probe {
    fn spawn(case: &str) -> Probe {
        Probe::spawn_with(case, false)
    }

    /// With `gated`, the child waits for `release()` before asking, so the test can put bytes in
    /// the terminal's input queue first.
    fn spawn_with(case: &str, gated: bool) -> Probe {
        let dir = temp_dir(case);
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 100,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(std::env::current_exe().expect("current exe"));
        cmd.args([
            "--exact",
            "probe_child_entry",
            "--nocapture",
            "--test-threads=1",
        ]);
        cmd.cwd(std::env::current_dir().expect("cwd"));
        cmd.env(CASE_ENV, case);
        cmd.env(RESULT_ENV, dir.join("result"));
        let go = gated.then(|| dir.join("go"));
        if let Some(go) = &go {
            cmd.env(GO_ENV, go);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn probe");
        // Only the child may hold the slave, so the reader sees EOF when the child is gone.
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
        Probe {
            master: pair.master,
            writer,
            child,
            output,
            dir,
            go,
        }
    }

    fn raw(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    fn wait_for(&mut self, needle: &str) {
        let give_up = Instant::now() + SCREEN_WAIT;
        while Instant::now() < give_up {
            if contains(&self.raw(), needle.as_bytes()) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!(
            "{needle:?} never appeared; terminal showed:\n{}",
            String::from_utf8_lossy(&self.raw())
        );
    }

    fn wait_for_prompt(&mut self) {
        self.wait_for("Run it?");
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    fn release(&mut self) {
        let go = self.go.as_ref().expect("spawned gated");
        fs::write(go, b"").expect("release probe");
    }

    fn finish(mut self) -> Outcome {
        let give_up = Instant::now() + EXIT_WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= give_up {
                let _ = self.child.kill();
                panic!(
                    "probe did not exit; terminal showed:\n{}",
                    String::from_utf8_lossy(&self.raw())
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        let raw = self.raw();
        assert!(
            status.success(),
            "probe failed ({status:?}); terminal showed:\n{}",
            String::from_utf8_lossy(&raw)
        );
        let text = fs::read_to_string(self.dir.join("result")).unwrap_or_default();
        let fields = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let _ = fs::remove_dir_all(&self.dir);
        Outcome { fields, raw }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The text a human would read: real escape sequences removed (a sanitised `\e` is two
/// printable characters and stays).
fn strip_ansi(raw: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == 0x1b && i + 1 < raw.len() {
            i += 1;
            if raw[i] == b'[' {
                i += 1;
                while i < raw.len() && !(0x40..=0x7e).contains(&raw[i]) {
                    i += 1;
                }
            }
            i += 1;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// Answers `keys` at the prompt of a plain request and returns the outcome.
fn answer_with(keys: &[u8]) -> Outcome {
    let mut p = Probe::spawn("plain");
    p.wait_for_prompt();
    p.send(keys);
    p.finish()
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn y_approves() {
    for key in [b"y", b"Y"] {
        let out = answer_with(key);
        assert_eq!(out.answer(), "Yes");
        assert!(out.screen().contains("approved"), "{}", out.screen());
        out.assert_restored();
    }
}

#[test]
fn n_declines() {
    let out = answer_with(b"n");
    assert_eq!(out.answer(), format!("{:?}", Refusal::Declined));
    assert!(out.screen().contains("refused"), "{}", out.screen());
    out.assert_restored();
}

#[test]
fn enter_declines() {
    let out = answer_with(b"\r");
    assert_eq!(out.answer(), "Declined");
    out.assert_restored();
}

#[test]
fn lone_esc_declines() {
    let out = answer_with(b"\x1b");
    assert_eq!(out.answer(), "Declined");
    out.assert_restored();
}

#[test]
fn interrupt_keys_refuse_as_interrupted() {
    // Ctrl-C, Ctrl-D, Ctrl-Z, Ctrl-\ arrive as bytes in raw mode, not as signals.
    for key in [0x03u8, 0x04, 0x1a, 0x1c] {
        let out = answer_with(&[key]);
        assert_eq!(out.answer(), "Interrupted", "key {key:#04x}");
        assert!(out.screen().contains("refused"), "{}", out.screen());
        out.assert_restored();
    }
}

#[test]
fn silence_times_out() {
    let mut p = Probe::spawn("timeout");
    p.wait_for_prompt();
    let out = p.finish();
    assert_eq!(out.answer(), "TimedOut");
    let ms: u64 = out.field("ELAPSED_MS").parse().expect("elapsed");
    assert!((900..3000).contains(&ms), "timed out after {ms}ms");
    assert!(out.screen().contains("refused"), "{}", out.screen());
    out.assert_restored();
}

#[test]
fn typeahead_is_discarded() {
    let mut p = Probe::spawn_with("plain", true);
    // Typed before the prompt exists, as if the human (or the agent) had raced ahead.
    p.send(b"yyy");
    p.wait_for("PROBE_WAITING");
    // The terminal echoes input as its line discipline receives it, so once the echo is back
    // the keys are certainly queued where `ask` could read them.
    p.wait_for("yyy");
    p.release();
    p.wait_for_prompt();
    p.send(b"n");
    let out = p.finish();
    assert_eq!(out.answer(), "Declined");
    out.assert_restored();
}

#[test]
fn keys_after_the_answer_are_discarded() {
    // "es\n" must not be left for the approved command or the shell to read.
    let out = answer_with(b"yes\n");
    assert_eq!(out.answer(), "Yes");
    assert_eq!(out.field("LEFTOVER"), "false");
    out.assert_restored();
}

#[test]
fn arrow_keys_are_ignored() {
    let mut p = Probe::spawn("plain");
    p.wait_for_prompt();
    // Up arrow, then a function key (SS3 form), well apart so neither is a lone Esc.
    p.send(b"\x1b[A");
    thread::sleep(Duration::from_millis(200));
    p.send(b"\x1bOP");
    thread::sleep(Duration::from_millis(200));
    p.send(b"y");
    let out = p.finish();
    assert_eq!(out.answer(), "Yes");
    out.assert_restored();
}

#[test]
fn pasted_text_is_not_an_answer() {
    let mut p = Probe::spawn("plain");
    p.wait_for_prompt();
    p.send(b"\x1b[200~yes\r\x1b[201~");
    thread::sleep(Duration::from_millis(200));
    p.send(b"n");
    let out = p.finish();
    assert_eq!(out.answer(), "Declined");
    out.assert_restored();
}

#[test]
fn window_resize_does_not_disturb_the_prompt() {
    let mut p = Probe::spawn("plain");
    p.wait_for_prompt();
    for cols in [60, 120, 80] {
        p.master
            .resize(PtySize {
                rows: 30,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        thread::sleep(Duration::from_millis(50));
    }
    p.send(b"y");
    let out = p.finish();
    assert_eq!(out.answer(), "Yes");
    out.assert_restored();
}

#[test]
fn screen_shows_command_and_rule_details() {
    let mut p = Probe::spawn("plain");
    p.wait_for_prompt();
    p.send(b"n");
    let out = p.finish();
    let screen = out.screen();
    for want in [
        "shellguard: this command needs your approval",
        "$ rm -rf /tmp/shellguard-demo",
        "rule fs.rm-recursive: deletes a directory tree",
        "touches: /tmp/shellguard-demo, /tmp/other",
        "safer: mv /tmp/shellguard-demo ~/.trash/",
        "Run it? [y/N] (",
    ] {
        assert!(screen.contains(want), "missing {want:?} in:\n{screen}");
    }
    // The highlighted range is drawn in reverse video, and only the range.
    let raw = String::from_utf8_lossy(&out.raw).into_owned();
    assert!(
        raw.contains("\x1b[7m/tmp/shellguard-demo\x1b[0m"),
        "highlight missing in {raw:?}"
    );
    assert!(!raw.contains("\x1b[7mrm"), "{raw:?}");
    out.assert_restored();
}

#[test]
fn hostile_command_is_shown_escaped() {
    let mut p = Probe::spawn("hostile");
    p.wait_for_prompt();
    p.send(b"n");
    let out = p.finish();
    assert_eq!(out.answer(), "Declined");
    assert!(
        !contains(&out.raw, b"\x1b[2J"),
        "raw clear-screen reached the tty"
    );
    assert!(
        !contains(&out.raw, "\u{202e}".as_bytes()),
        "raw bidi override reached the tty"
    );
    assert!(!contains(&out.raw, b"\x1b]0;"), "raw OSC reached the tty");
    let screen = out.screen();
    for want in [
        "$ echo hi\\e[2J; rm -rf ~ \\u{202e}gnp.exe\n    second line",
        "rule rule\\e[31m: reason\\e]0;owned\\x07",
    ] {
        assert!(screen.contains(want), "missing {want:?} in:\n{screen}");
    }
    out.assert_restored();
}

#[test]
fn no_controlling_terminal_is_an_error() {
    // setsid(1) puts the probe in a new session with no controlling terminal at all.
    let dir = temp_dir("nontty");
    let mut child = std::process::Command::new("setsid")
        .arg("--wait")
        .arg(std::env::current_exe().expect("current exe"))
        .args(["--exact", "probe_child_entry", "--test-threads=1"])
        .env(CASE_ENV, "plain")
        .env(RESULT_ENV, dir.join("result"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run setsid");
    let give_up = Instant::now() + EXIT_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= give_up {
            let _ = child.kill();
            panic!("probe without a terminal did not exit");
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    let text = fs::read_to_string(dir.join("result")).expect("result");
    let _ = fs::remove_dir_all(&dir);
    assert!(text.contains("ANSWER=Err("), "{text}");
}
