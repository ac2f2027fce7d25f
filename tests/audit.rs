//! The audit log: concurrent appends, `shellguard log` output (plain, JSON, following) and
//! the system-log sender.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use shellguard::audit::{self, Record, RuleHit};
use shellguard::cli::log::{self, Options};

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sg-audit-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn log(&self) -> PathBuf {
        self.0.join("state/shellguard/audit.jsonl")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn record(command: &str, rule: &str) -> Record {
    Record {
        time: audit::now_rfc3339(),
        agent: Some("claude-code".into()),
        cwd: "/home/u/proj".into(),
        command: command.into(),
        commands: vec![command.split(' ').map(String::from).collect()],
        rules: vec![RuleHit {
            id: rule.into(),
            decision: "confirm".into(),
        }],
        decision: "confirm".into(),
        outcome: "ran".into(),
        approved_by: Some("tty".into()),
        request_id: Some("ab12cd34".into()),
        mode: "default".into(),
        enforced: None,
        exec: None,
        cut: None,
    }
}

/// A long command (past PIPE_BUF) that says who wrote it, so loss and damage both show.
fn long_command(writer: &str, seq: usize) -> String {
    let filler: String = (0..5000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    format!("echo {writer} {seq} {filler}\nline two")
}

const WRITERS_PER_PROCESS: usize = 2;
const PROCESSES: usize = 4;
const RECORDS: usize = 500;
const CHILD_ENV: &str = "SG_AUDIT_TEST_CHILD";

/// Run in a child process by `concurrent_writers_never_interleave_or_lose_lines`: append
/// from two threads to the log named in the environment. A no-op in a normal test run.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (path, proc_id) = spec.split_once('|').unwrap();
    let path = PathBuf::from(path);
    let handles: Vec<_> = (0..WRITERS_PER_PROCESS)
        .map(|t| {
            let path = path.clone();
            let writer = format!("p{proc_id}t{t}");
            thread::spawn(move || {
                for seq in 0..RECORDS {
                    let r = record(&long_command(&writer, seq), "test.long");
                    audit::append(&path, &r).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn concurrent_writers_never_interleave_or_lose_lines() {
    let s = Scratch::new("concurrent");
    let path = s.log();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads=1", "--quiet"])
                .env(CHILD_ENV, format!("{}|{p}", path.display()))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let text = fs::read_to_string(&path).unwrap();
    let mut seen = HashSet::new();
    let mut count = 0;
    for line in text.lines() {
        let r: Record = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {count} is not a record ({e}): {:.200}", line));
        let mut words = r.command.split(' ');
        let (writer, seq) = (words.nth(1).unwrap(), words.next().unwrap());
        assert_eq!(
            r.command,
            long_command(writer, seq.parse().unwrap()),
            "damaged"
        );
        assert!(seen.insert((writer.to_string(), seq.to_string())), "twice");
        count += 1;
    }
    assert_eq!(count, PROCESSES * WRITERS_PER_PROCESS * RECORDS);
    assert!(text.ends_with('\n'));
}

#[test]
fn appending_is_cheap() {
    let s = Scratch::new("cost");
    let path = s.log();
    let r = record("git reset --hard HEAD~1", "git.reset-hard");
    audit::append(&path, &r).unwrap();
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        audit::append(&path, &r).unwrap();
    }
    let each = start.elapsed() / n;
    eprintln!("audit::append: {each:?} per record");
    // The target is well under 100 µs; this bound only catches something badly wrong on a
    // loaded machine with an unoptimised build.
    assert!(each < Duration::from_millis(2), "{each:?}");
}

fn write_log(path: &Path, lines: &[String]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn shown(path: &Path, opts: &Options) -> String {
    let mut out = Vec::new();
    log::show(path, opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_output_is_the_file() {
    let s = Scratch::new("json");
    let path = s.log();
    for i in 0..5 {
        audit::append(&path, &record(&format!("rm -rf build{i}"), "fs.rm")).unwrap();
    }
    let opts = Options {
        json: true,
        ..Options::default()
    };
    assert_eq!(shown(&path, &opts), fs::read_to_string(&path).unwrap());
    let last2 = Options {
        json: true,
        last: Some(2),
        ..Options::default()
    };
    let text = fs::read_to_string(&path).unwrap();
    let tail: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(shown(&path, &last2), tail.join("\n") + "\n");
}

#[test]
fn readable_output_names_command_rule_and_approver() {
    let s = Scratch::new("readable");
    let path = s.log();
    let mut r = record("git reset --hard\u{1b}[2J", "git.reset-hard");
    r.outcome = "refused".into();
    r.approved_by = None;
    audit::append(&path, &r).unwrap();
    audit::append(&path, &record("terraform destroy", "iac.terraform-destroy")).unwrap();
    let out = shown(&path, &Options::default());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("$ git reset --hard\\e[2J"), "{out}");
    assert!(lines[0].contains("rules: git.reset-hard"), "{out}");
    assert!(lines[0].contains("refused") && lines[0].contains("claude-code"));
    assert!(lines[0].contains("/home/u/proj") && lines[0].contains("id: ab12cd34"));
    assert!(lines[1].contains("$ terraform destroy") && lines[1].contains("by: tty"));
    assert!(!out.contains('\x1b'), "no colour off a terminal");
}

#[test]
fn malformed_and_unfinished_lines_do_not_break_the_log() {
    let s = Scratch::new("malformed");
    let path = s.log();
    let good = record("ls", "x").to_line();
    write_log(&path, &[good.clone(), "not json \u{1b}]0;x".into(), good]);
    // A record still being written (no newline yet) is not shown.
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"time\":")
        .unwrap();
    let out = shown(&path, &Options::default());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[1], "?? not a record: not json \\e]0;x");
    assert!(lines[2].contains("$ ls"));
}

#[test]
fn the_rotated_file_is_read_first() {
    let s = Scratch::new("rotated");
    let path = s.log();
    write_log(&audit::rotated_path(&path), &[record("old", "x").to_line()]);
    write_log(&path, &[record("new", "x").to_line()]);
    let out = shown(&path, &Options::default());
    let old = out.find("$ old").unwrap();
    assert!(old < out.find("$ new").unwrap(), "{out}");
}

/// A `Write` the test can read while the follower writes to it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "never saw {needle:?} in:\n{}",
                self.text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn follow_picks_up_appends_rotation_and_truncation() {
    let s = Scratch::new("follow");
    let path = s.log();
    for i in 0..30 {
        audit::append(&path, &record(&format!("before{i:02}"), "x")).unwrap();
    }
    let out = Shared::default();
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (path, mut out, stop) = (path.clone(), out.clone(), stop.clone());
        thread::spawn(move || {
            let opts = log::parse(&["--follow".to_string()]).unwrap().unwrap();
            log::follow(&path, &opts, &mut out, &|| stop.load(Ordering::Relaxed))
        })
    };
    out.wait_for("$ before29");
    let start = out.text();
    assert_eq!(start.lines().count(), 20, "the last 20 first:\n{start}");
    assert!(start.contains("$ before10") && !start.contains("$ before09"));

    audit::append(&path, &record("after-start", "git.reset-hard")).unwrap();
    out.wait_for("$ after-start");

    // Rotation: the old file is renamed, a new one started.
    fs::rename(&path, audit::rotated_path(&path)).unwrap();
    audit::append(&path, &record("after-rotation", "x")).unwrap();
    out.wait_for("$ after-rotation");

    // Truncation: followed again from the top.
    fs::write(&path, "").unwrap();
    thread::sleep(log::POLL_INTERVAL * 2);
    audit::append(&path, &record("after-truncation", "x")).unwrap();
    out.wait_for("$ after-truncation");

    stop.store(true, Ordering::Relaxed);
    follower.join().unwrap().unwrap();
    let text = out.text();
    for needle in ["after-start", "after-rotation", "after-truncation"] {
        assert_eq!(text.matches(needle).count(), 1, "{needle} once:\n{text}");
    }
}

#[test]
fn follow_waits_for_a_log_that_does_not_exist_yet() {
    let s = Scratch::new("follow-new");
    let path = s.log();
    let out = Shared::default();
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (path, mut out, stop) = (path.clone(), out.clone(), stop.clone());
        thread::spawn(move || {
            let opts = Options {
                follow: true,
                json: true,
                ..Options::default()
            };
            log::follow(&path, &opts, &mut out, &|| stop.load(Ordering::Relaxed))
        })
    };
    thread::sleep(log::POLL_INTERVAL);
    audit::append(&path, &record("first", "x")).unwrap();
    out.wait_for("\"command\":\"first\"");
    stop.store(true, Ordering::Relaxed);
    follower.join().unwrap().unwrap();
}

#[test]
fn main_rejects_bad_arguments_and_missing_home() {
    let vars = std::collections::HashMap::new();
    assert_eq!(log::main(&["--bogus".to_string()], &vars), 2);
    assert_eq!(log::main(&["-n".to_string(), "x".to_string()], &vars), 2);
    assert_eq!(log::main(&[], &vars), 1, "no state directory");
}

#[test]
fn syslog_gets_the_same_record() {
    let s = Scratch::new("syslog");
    let sock_path = s.0.join("log.sock");
    let server = UnixDatagram::bind(&sock_path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    let mut r = record("rm -rf ~/x", "fs.rm-home");
    r.decision = "deny".into();
    r.outcome = "refused".into();
    audit::to_syslog_at(&sock_path, &r).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = server.recv(&mut buf).unwrap();
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    let prefix = format!("<85>shellguard[{}]: ", std::process::id());
    let json = msg.strip_prefix(&prefix).unwrap_or_else(|| panic!("{msg}"));
    assert_eq!(json, r.to_line());

    audit::to_syslog_at(&sock_path, &record("ls", "x")).unwrap();
    let n = server.recv(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n]).unwrap().starts_with("<86>"));

    assert!(audit::to_syslog_at(&s.0.join("absent.sock"), &r).is_err());
}
