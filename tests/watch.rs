//! The broker client, the watch console's socket side, and the console itself on a real pty.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use shellguard::approve::broker::{self, BrokerError};
use shellguard::approve::protocol::{new_id, new_nonce, Answer, Request, RuleInfo, Verdict};
use shellguard::approve::watch::{self, Event, Server, ARM_DELAY};
use shellguard::policy::approvals;

/// Generous: the suite must never hang, but a loaded 2-core machine is slow.
const PATIENCE: Duration = Duration::from_secs(20);

fn temp_dir(case: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sg-watch-{}-{}-{case}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn request(command: &str, wait_secs: u64) -> Request {
    Request {
        id: new_id(),
        nonce: new_nonce(),
        command: command.into(),
        cwd: "/home/u/project".into(),
        what: None,
        agent: Some("claude-code".into()),
        rules: vec![RuleInfo {
            id: "fs.rm-recursive".into(),
            reason: "deletes a directory tree".into(),
            decision: "confirm".into(),
            suggest: Some("mv it to the trash".into()),
            touches: vec!["/home/u/project/build".into()],
        }],
        highlights: vec![(0, command.len())],
        pid: std::process::id(),
        wait_secs,
        enforced: false,
    }
}

// ---------------------------------------------------------------------------------------------
// The client against a hand-written server.

/// A one-connection server: reads the request, then replies with whatever `reply` makes of it
/// (`None`: close without answering; `Some("")`: keep the connection open, never answer).
fn serve_once(
    sock: &Path,
    reply: impl FnOnce(&Request) -> Option<String> + Send + 'static,
) -> thread::JoinHandle<Option<Request>> {
    let listener = UnixListener::bind(sock).unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().ok()?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).ok()?;
        let req: Request = serde_json::from_str(&line).ok()?;
        match reply(&req) {
            Some(r) if r.is_empty() => thread::sleep(Duration::from_secs(3)),
            Some(r) => {
                let _ = (&stream).write_all(r.as_bytes());
                thread::sleep(Duration::from_millis(200));
            }
            None => {}
        }
        Some(req)
    })
}

fn answer_line(req: &Request, verdict: Verdict) -> String {
    let a = Answer {
        id: req.id.clone(),
        nonce: req.nonce.clone(),
        verdict,
        remember_secs: None,
    };
    serde_json::to_string(&a).unwrap() + "\n"
}

#[test]
fn ask_gets_the_servers_approval() {
    let dir = temp_dir("approve");
    let sock = dir.join("s.sock");
    let server = serve_once(&sock, |r| Some(answer_line(r, Verdict::Approve)));
    let req = request("rm -rf build", 10);
    let a = broker::ask(&sock, &req, Duration::from_secs(10)).unwrap();
    assert_eq!(a.verdict, Verdict::Approve);
    assert_eq!(
        server.join().unwrap().unwrap(),
        req,
        "the request arrives whole"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ask_gets_the_servers_refusal() {
    let dir = temp_dir("refuse");
    let sock = dir.join("s.sock");
    let _server = serve_once(&sock, |r| Some(answer_line(r, Verdict::Refuse)));
    let a = broker::ask(&sock, &request("x", 10), Duration::from_secs(10)).unwrap();
    assert_eq!(a.verdict, Verdict::Refuse);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ask_times_out() {
    let dir = temp_dir("timeout");
    let sock = dir.join("s.sock");
    let _server = serve_once(&sock, |_| Some(String::new()));
    let start = Instant::now();
    let e = broker::ask(&sock, &request("x", 1), Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, BrokerError::TimedOut), "{e:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ask_reports_a_server_that_goes_away() {
    let dir = temp_dir("closed");
    let sock = dir.join("s.sock");
    let _server = serve_once(&sock, |_| None);
    let e = broker::ask(&sock, &request("x", 10), Duration::from_secs(10)).unwrap_err();
    assert!(matches!(e, BrokerError::Closed), "{e:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ask_rejects_an_answer_for_another_request() {
    let dir = temp_dir("nonce");
    let sock = dir.join("s.sock");
    let _server = serve_once(&sock, |r| {
        let mut other = r.clone();
        other.nonce = new_nonce();
        Some(answer_line(&other, Verdict::Approve))
    });
    let e = broker::ask(&sock, &request("x", 10), Duration::from_secs(10)).unwrap_err();
    assert!(matches!(e, BrokerError::Protocol(_)), "{e:?}");

    let sock2 = dir.join("s2.sock");
    let _server = serve_once(&sock2, |r| {
        let mut other = r.clone();
        other.id = new_id();
        Some(answer_line(&other, Verdict::Approve))
    });
    let e = broker::ask(&sock2, &request("x", 10), Duration::from_secs(10)).unwrap_err();
    assert!(matches!(e, BrokerError::Protocol(_)), "{e:?}");

    let sock3 = dir.join("s3.sock");
    let _server = serve_once(&sock3, |_| Some("approve\n".into()));
    let e = broker::ask(&sock3, &request("x", 10), Duration::from_secs(10)).unwrap_err();
    assert!(matches!(e, BrokerError::Protocol(_)), "{e:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn nobody_serving_fails_fast() {
    let dir = temp_dir("stale");
    let missing = dir.join("none.sock");
    let start = Instant::now();
    let e = broker::ask(&missing, &request("x", 100), Duration::from_secs(100)).unwrap_err();
    assert!(matches!(e, BrokerError::NotServed(_)), "{e:?}");

    // A socket file whose listener is gone (a console that was killed).
    let stale = dir.join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let e = broker::ask(&stale, &request("x", 100), Duration::from_secs(100)).unwrap_err();
    assert!(matches!(e, BrokerError::NotServed(_)), "{e:?}");

    // Not even a socket.
    let file = dir.join("file.sock");
    fs::write(&file, "").unwrap();
    let e = broker::ask(&file, &request("x", 100), Duration::from_secs(100)).unwrap_err();
    assert!(matches!(e, BrokerError::NotServed(_)), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn runtime_dir_must_be_private() {
    let base = temp_dir("rt");
    let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
    let dir = broker::runtime_dir(&vars).unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(broker::runtime_dir(&vars).is_err());
    assert!(!broker::watch_is_served(&vars));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(broker::runtime_dir(&vars).is_ok());
    assert!(!broker::watch_is_served(&vars), "nobody serves it yet");
    let _ = fs::remove_dir_all(&base);
}

// ---------------------------------------------------------------------------------------------
// The console's socket side, without a terminal.

/// Services `server` until `pred` accepts an event (or gives up).
fn service_until(server: &mut Server, mut pred: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let give_up = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while Instant::now() < give_up {
        let evs = server.service(Instant::now());
        let done = evs.iter().any(&mut pred);
        seen.extend(evs);
        if done {
            return seen;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!("never happened; saw {seen:?}");
}

#[test]
fn watch_server_answers_by_id() {
    let dir = temp_dir("srv");
    let sock = dir.join("watch.sock");
    let mut server = Server::bind(&sock, Instant::now()).unwrap();

    let req = request("rm -rf build", 30);
    let id = req.id.clone();
    let s = sock.clone();
    let client = thread::spawn(move || broker::ask(&s, &req, Duration::from_secs(30)));
    service_until(&mut server, |e| matches!(e, Event::Arrived(i) if *i == id));
    let p = &server.core.pending()[0];
    assert_eq!(
        (p.req.command.as_str(), p.req.id.as_str()),
        ("rm -rf build", id.as_str())
    );

    let (a, r) = server
        .answer(&id, Verdict::Approve, Some(600), Instant::now())
        .unwrap();
    assert_eq!((a.verdict, r.id.as_str()), (Verdict::Approve, id.as_str()));
    let got = client.join().unwrap().unwrap();
    assert_eq!(
        (got.verdict, got.remember_secs),
        (Verdict::Approve, Some(600))
    );
    assert!(server.core.pending().is_empty());

    // And a refusal.
    let req = request("rm -rf dist", 30);
    let id = req.id.clone();
    let s = sock.clone();
    let client = thread::spawn(move || broker::ask(&s, &req, Duration::from_secs(30)));
    service_until(&mut server, |e| matches!(e, Event::Arrived(i) if *i == id));
    server
        .answer(&id, Verdict::Refuse, None, Instant::now())
        .unwrap();
    assert_eq!(client.join().unwrap().unwrap().verdict, Verdict::Refuse);

    drop(server);
    assert!(!sock.exists(), "the console removes its socket");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_console_whose_socket_is_removed_or_replaced_says_so_at_once() {
    let dir = temp_dir("lost");
    let sock = dir.join("watch.sock");
    let mut server = Server::bind(&sock, Instant::now()).unwrap();
    assert!(server.service(Instant::now()).is_empty());
    fs::remove_file(&sock).unwrap();
    let evs = server.service(Instant::now());
    assert!(
        matches!(evs.as_slice(), [Event::SocketLost(why)] if why.contains("removed or replaced")),
        "{evs:?}"
    );
    // Said once, not on every pass.
    assert!(server.service(Instant::now()).is_empty());

    // A file put in its place is not ours either.
    let sock = dir.join("watch2.sock");
    let mut server = Server::bind(&sock, Instant::now()).unwrap();
    fs::remove_file(&sock).unwrap();
    let _other = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let evs = server.service(Instant::now());
    assert!(matches!(evs.as_slice(), [Event::SocketLost(_)]), "{evs:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn watch_server_drops_expired_and_abandoned_requests() {
    let dir = temp_dir("expire");
    let sock = dir.join("watch.sock");
    let mut server = Server::bind(&sock, Instant::now()).unwrap();

    // Asks for a 1 s wait: the console drops it when the shell gives up.
    let req = request("rm -rf a", 1);
    let s = sock.clone();
    let client = thread::spawn(move || broker::ask(&s, &req, Duration::from_secs(1)));
    service_until(&mut server, |e| matches!(e, Event::Arrived(_)));
    // Dropped either way: at its deadline, or (on a loaded machine, when the console's pass
    // comes late) as soon as the shell that gave up has hung up.
    service_until(&mut server, |e| {
        matches!(e, Event::Expired(_) | Event::Gone(_))
    });
    assert!(server.core.pending().is_empty());
    assert!(client.join().unwrap().is_err());

    // A shell that hangs up (killed by its agent) leaves the list.
    let mut raw = UnixStream::connect(&sock).unwrap();
    let line = serde_json::to_string(&request("rm -rf b", 60)).unwrap() + "\n";
    raw.write_all(line.as_bytes()).unwrap();
    service_until(&mut server, |e| matches!(e, Event::Arrived(_)));
    drop(raw);
    service_until(&mut server, |e| matches!(e, Event::Gone(_)));
    assert!(server.core.pending().is_empty());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn client_input_never_approves_anything() {
    let dir = temp_dir("junk");
    let sock = dir.join("watch.sock");
    let mut server = Server::bind(&sock, Instant::now()).unwrap();

    // A real request waits...
    let req = request("rm -rf build", 30);
    let (id, nonce) = (req.id.clone(), req.nonce.clone());
    let s = sock.clone();
    let client = thread::spawn(move || broker::ask(&s, &req, Duration::from_secs(3)));
    service_until(&mut server, |e| matches!(e, Event::Arrived(_)));

    // ...and another client sends an answer to it, then junk.
    let forged = Answer {
        id: id.clone(),
        nonce,
        verdict: Verdict::Approve,
        remember_secs: Some(600),
    };
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all((serde_json::to_string(&forged).unwrap() + "\n").as_bytes())
        .unwrap();
    service_until(&mut server, |e| matches!(e, Event::Rejected(_)));
    let mut c2 = UnixStream::connect(&sock).unwrap();
    c2.write_all(b"y\n").unwrap();
    service_until(&mut server, |e| matches!(e, Event::Rejected(_)));
    // A duplicate of the pending id is turned away too.
    let mut dup = request("rm -rf /", 30);
    dup.id = id.clone();
    let mut c3 = UnixStream::connect(&sock).unwrap();
    c3.write_all((serde_json::to_string(&dup).unwrap() + "\n").as_bytes())
        .unwrap();
    service_until(&mut server, |e| matches!(e, Event::Rejected(_)));

    assert_eq!(server.core.pending().len(), 1);
    assert_eq!(server.core.pending()[0].req.command, "rm -rf build");
    // The forger's connection got nothing back but a close.
    let mut buf = Vec::new();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.read_to_end(&mut buf);
    assert!(buf.is_empty());

    // The waiting shell still has no answer: it times out.
    let give_up = Instant::now() + PATIENCE;
    while !client.is_finished() && Instant::now() < give_up {
        server.service(Instant::now());
        thread::sleep(Duration::from_millis(10));
    }
    let e = client.join().unwrap().unwrap_err();
    assert!(matches!(e, BrokerError::TimedOut), "{e:?}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn one_console_per_socket_and_stale_sockets_are_replaced() {
    let dir = temp_dir("bind");
    let sock = dir.join("watch.sock");
    drop(UnixListener::bind(&sock).unwrap());
    let first = Server::bind(&sock, Instant::now()).expect("replaces a stale socket");
    let e = Server::bind(&sock, Instant::now())
        .err()
        .expect("second console");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    drop(first);
    assert!(Server::bind(&sock, Instant::now()).is_ok());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn watch_is_served_only_while_a_console_runs() {
    let base = temp_dir("served");
    let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
    let dir = broker::runtime_dir(&vars).unwrap();
    assert!(!broker::watch_is_served(&vars));
    let mut server = Server::bind(&dir.join("watch.sock"), Instant::now()).unwrap();
    assert_eq!(broker::watch_socket(&vars), dir.join("watch.sock"));
    assert!(broker::watch_is_served(&vars));
    // The probe is not a request.
    let evs = server.service(Instant::now());
    assert!(server.core.pending().is_empty(), "{evs:?}");
    drop(server);
    assert!(!broker::watch_is_served(&vars));
    let _ = fs::remove_dir_all(&base);
}

#[test]
fn watch_needs_a_terminal() {
    let base = temp_dir("notty");
    let mut vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        vars.insert("SHELLGUARD_TTY".into(), "agent".into());
    }
    assert_eq!(watch::watch_main(&[], &vars), 2);
    assert!(!broker::watch_is_served(&vars));
    let _ = fs::remove_dir_all(&base);
}

// ---------------------------------------------------------------------------------------------
// The console on a real pty.

const CHILD_ENV: &str = "SHELLGUARD_WATCH_CHILD";

/// Only does anything when `console_on_a_pty` started this binary as the console.
#[test]
fn watch_child_entry() {
    let Ok(runtime) = std::env::var(CHILD_ENV) else {
        return;
    };
    // Only what the console needs: no agent markers from whoever runs the tests.
    let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), runtime.clone())]);
    let code = watch::watch_main(&[], &vars);
    fs::write(Path::new(&runtime).join("exit"), code.to_string()).unwrap();
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn console_on_a_pty_answers_with_keys() {
    let base = temp_dir("pty");
    let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "watch_child_entry",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.cwd(std::env::current_dir().unwrap());
    cmd.env(CHILD_ENV, &base);
    for v in ["CLAUDECODE", "SHELLGUARD_TTY", "SHELLGUARD_SUPERVISOR"] {
        cmd.env_remove(v);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let sink = Arc::clone(&output);
    let reading = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut keys = pair.master.take_writer().unwrap();
    let screen_has = |needle: &str| contains(&output.lock().unwrap(), needle.as_bytes());
    let wait_for = |what: &dyn Fn() -> bool, name: &str| {
        let give_up = Instant::now() + PATIENCE;
        while !what() {
            assert!(
                Instant::now() < give_up,
                "{name} never happened; screen:\n{}",
                String::from_utf8_lossy(&output.lock().unwrap())
            );
            thread::sleep(Duration::from_millis(10));
        }
    };

    wait_for(&|| broker::watch_is_served(&vars), "console serving");
    wait_for(&|| screen_has("No pending requests"), "empty list shown");

    let mut ask = |command: &str, key: &[u8]| -> Answer {
        let req = request(command, 30);
        let sock = broker::watch_socket(&vars);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(broker::ask(&sock, &req, Duration::from_secs(30)));
        });
        wait_for(&|| screen_has(command), "request shown");
        // Let the console arm the new selection, as a human would take a moment to read.
        thread::sleep(ARM_DELAY + Duration::from_millis(300));
        keys.write_all(key).unwrap();
        keys.flush().unwrap();
        rx.recv_timeout(PATIENCE)
            .expect("an answer in time")
            .expect("an answer")
    };

    let a = ask("rm -rf /tmp/sg-watch-first", b"y");
    assert_eq!((a.verdict, a.remember_secs), (Verdict::Approve, None));
    assert!(
        contains(&output.lock().unwrap(), b"\x07"),
        "a bell on arrival"
    );
    let a = ask("rm -rf /tmp/sg-watch-second", b"n");
    assert_eq!(a.verdict, Verdict::Refuse);
    let a = ask("rm -rf /tmp/sg-watch-third", b"a");
    assert_eq!((a.verdict, a.remember_secs), (Verdict::Approve, Some(600)));

    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let give_up = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("console did not quit");
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(fs::read_to_string(base.join("exit")).unwrap(), "0");
    // Everything the console wrote, up to the end (the reader stops when the pty closes).
    while !reading.is_finished() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(10));
    }
    let raw = output.lock().unwrap().clone();
    // Entered and left the alternate screen; the cursor came back.
    assert!(contains(&raw, b"\x1b[?1049h") && contains(&raw, b"\x1b[?1049l"));
    assert!(contains(&raw, b"\x1b[?25h"));
    assert!(!broker::watch_is_served(&vars));
    assert!(!broker::watch_socket(&vars).exists());
    let _ = fs::remove_dir_all(&base);
}

// ---------------------------------------------------------------------------------------------
// `shellguard approve ID` on a real pty.

const APPROVE_ENV: &str = "SHELLGUARD_APPROVE_CHILD";

/// Only does anything when `approve_on_a_pty` started this binary.
#[test]
fn approve_child_entry() {
    let Ok(state_home) = std::env::var(APPROVE_ENV) else {
        return;
    };
    let vars = HashMap::from([("XDG_STATE_HOME".to_string(), state_home.clone())]);
    let args: Vec<String> = std::env::var("SHELLGUARD_APPROVE_ARGS")
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    let code = approvals::approve_main(&args, &vars);
    fs::write(Path::new(&state_home).join("exit"), code.to_string()).unwrap();
}

/// Runs `approve_main(args)` on a pty, types `keys` once `[y/N]` shows, returns the exit code
/// and the screen.
fn approve_on_pty(state_home: &Path, args: &str, keys: &[u8]) -> (String, String) {
    let _ = fs::remove_file(state_home.join("exit"));
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "approve_child_entry",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.cwd(std::env::current_dir().unwrap());
    cmd.env(APPROVE_ENV, state_home);
    cmd.env("SHELLGUARD_APPROVE_ARGS", args);
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let sink = Arc::clone(&output);
    let reading = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut writer = pair.master.take_writer().unwrap();
    let give_up = Instant::now() + PATIENCE;
    if !keys.is_empty() {
        while !contains(&output.lock().unwrap(), b"[y/N]") {
            assert!(Instant::now() < give_up, "no question asked");
            thread::sleep(Duration::from_millis(10));
        }
        writer.write_all(keys).unwrap();
        writer.flush().unwrap();
    }
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("approve did not finish");
        }
        thread::sleep(Duration::from_millis(10));
    }
    while !reading.is_finished() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(10));
    }
    let code = fs::read_to_string(state_home.join("exit")).unwrap_or_default();
    let screen = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    (code, screen)
}

#[test]
fn approve_on_a_pty_lets_the_identical_retry_through() {
    let base = temp_dir("approve-pty");
    let state = base.join("shellguard");
    approvals::record_refused(
        &state,
        "0badc0de",
        &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u/p"),
        &["fs.rm-recursive".to_string()],
    )
    .unwrap();

    // Unknown id: exit 1, nothing asked.
    let (code, screen) = approve_on_pty(&base, "deadbeef", b"");
    assert_eq!(code, "1", "{screen}");
    assert!(
        screen.contains("no refused request with id deadbeef"),
        "{screen}"
    );

    // Shown, then declined: nothing remembered.
    let (code, screen) = approve_on_pty(&base, "0badc0de", b"n\r");
    assert_eq!(code, "1", "{screen}");
    assert!(screen.contains("$ rm -rf /tmp/sg-approve") && screen.contains("in /home/u/p"));
    assert!(approvals::is_remembered(
        &state,
        &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u/p"),
        |_| None
    )
    .is_none());

    // A terminal's reply and a paste, each holding a `y`, then `n`: not approved.
    let (code, screen) = approve_on_pty(&base, "0badc0de", b"\x1b]0;y\x07\x1b[200~y\r\x1b[201~n");
    assert_eq!(code, "1", "{screen}");
    assert!(screen.contains("Not approved"), "{screen}");
    assert!(approvals::is_remembered(
        &state,
        &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u/p"),
        |_| None
    )
    .is_none());

    // Approved for 5 minutes: the identical command in the same directory passes, no other.
    let (code, screen) = approve_on_pty(&base, "0badc0de --for 5", b"y\r");
    assert_eq!(code, "0", "{screen}");
    assert!(screen.contains("for 5 minutes"), "{screen}");
    assert_eq!(
        approvals::is_remembered(
            &state,
            &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u/p"),
            |_| None
        )
        .as_deref(),
        Some("approve 0badc0de")
    );
    assert!(approvals::is_remembered(
        &state,
        &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u"),
        |_| None
    )
    .is_none());

    // `deny ID` takes it back.
    let vars = HashMap::from([("XDG_STATE_HOME".to_string(), base.display().to_string())]);
    assert_eq!(approvals::deny_main(&["0badc0de".to_string()], &vars), 0);
    assert!(approvals::is_remembered(
        &state,
        &approvals::Line::text("rm -rf /tmp/sg-approve", "/home/u/p"),
        |_| None
    )
    .is_none());
    let _ = fs::remove_dir_all(&base);
}

/// A console in a tmux window whose terminal then disappears (`tmux kill-server`) or that is
/// sent SIGTERM: it ends at once, frees its socket and lock, and never spins.
#[test]
fn the_console_ends_when_its_terminal_goes_away_or_on_sigterm() {
    let base = temp_dir("hangup");
    let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
    let socket = format!("sg-watch-test-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux")
    };
    let start = || -> u32 {
        let cmd = format!(
            "env -u CLAUDECODE -u SHELLGUARD_SUPERVISOR XDG_RUNTIME_DIR={} {} watch",
            base.display(),
            env!("CARGO_BIN_EXE_shellguard")
        );
        let out = tmux(&["new-session", "-d", "-x", "100", "-y", "30", &cmd]);
        assert!(out.status.success(), "{out:?}");
        let give_up = Instant::now() + PATIENCE;
        while !broker::watch_is_served(&vars) {
            assert!(Instant::now() < give_up, "the console never served");
            thread::sleep(Duration::from_millis(20));
        }
        let out = tmux(&["list-panes", "-F", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let ends = |pid: u32, how: &str| {
        let give_up = Instant::now() + Duration::from_secs(3);
        let proc = PathBuf::from(format!("/proc/{pid}"));
        while proc.exists() {
            let stat = fs::read_to_string(proc.join("stat")).unwrap_or_default();
            // Reaped by nobody once tmux is gone: a zombie has ended.
            if stat.split_whitespace().nth(2) == Some("Z") {
                break;
            }
            assert!(
                Instant::now() < give_up,
                "{how}: the console is still running"
            );
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!broker::watch_is_served(&vars), "{how}: still served");
    };

    let pid = start();
    let _ = tmux(&["kill-server"]);
    ends(pid, "terminal gone");
    // Its lock went with it: a new console starts, and SIGTERM ends that one.
    let pid = start();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    ends(pid, "SIGTERM");
    let _ = tmux(&["kill-server"]);
    let _ = fs::remove_dir_all(&base);
}
