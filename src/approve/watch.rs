//! `shellguard watch`: a console the human keeps open in another terminal. Guarded shells that
//! have no supervisor send their requests here; the console lists them live and answers each
//! with a key pressed on its own terminal.
//!
//! Three layers, the outer ones thin:
//! - [`WatchCore`]: the pending requests, the selection, answering, expiry. No I/O; every
//!   method takes the time, so it is tested without sockets or a terminal.
//! - [`Server`]: the socket. Accepts same-user connections, reads one request from each, keeps
//!   the connection open while the request waits, writes the answer. Client input is only ever
//!   parsed as a request: nothing a client sends answers anything.
//! - [`watch_main`]: the terminal: alternate screen, keys, drawing.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event;
use crossterm::style::{Attribute, Color, ContentStyle, PrintStyledContent, Stylize};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, execute, queue, style};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{self, MsgFlags};

use super::broker::{self, MAX_LINE};
use super::keys::{Key, KeyReader};
use super::protocol::{Answer, Request, Verdict};
use super::sanitize::{escape, for_display};

/// "Approve and remember" lasts this long.
pub const REMEMBER_SECS: u64 = 600;

/// After the selection moves by itself (a request arrived into an empty list, or the selected
/// one left), approval keys wait this long: a key meant for the old request, or a repeated
/// key, must not approve a request the human has not seen.
pub const ARM_DELAY: Duration = Duration::from_millis(700);

/// A connection has this long to send its request.
const READ_LIMIT: Duration = Duration::from_secs(5);

/// More pending requests than this and new ones are turned away (their shells refuse).
const MAX_PENDING: usize = 256;

/// Longest wait a request may ask for.
const MAX_WAIT_SECS: u64 = 24 * 60 * 60;

// ---------------------------------------------------------------------------------------------
// The core.

/// One request waiting for the human, with the connection it came on.
#[derive(Debug)]
pub struct Pending<C> {
    pub req: Request,
    pub arrived: Instant,
    /// When the asking shell gives up on its own.
    pub expires: Instant,
    pub conn: C,
}

/// Why a key did not answer anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    NothingPending,
    /// The selection changed by itself a moment ago; press again once it has been seen.
    JustChanged,
}

/// Why a request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    DuplicateId,
    TooMany,
}

/// The pending requests, in arrival order, and which one is selected.
#[derive(Debug)]
pub struct WatchCore<C> {
    pending: Vec<Pending<C>>,
    selected: usize,
    /// Approval keys count from this instant on.
    armed_at: Instant,
}

impl<C> WatchCore<C> {
    pub fn new(now: Instant) -> Self {
        WatchCore {
            pending: Vec::new(),
            selected: 0,
            armed_at: now,
        }
    }

    pub fn pending(&self) -> &[Pending<C>] {
        &self.pending
    }

    pub fn selected_index(&self) -> Option<usize> {
        (!self.pending.is_empty()).then_some(self.selected)
    }

    pub fn selected(&self) -> Option<&Pending<C>> {
        self.pending.get(self.selected)
    }

    /// Whether an approval key would count now.
    pub fn is_armed(&self, now: Instant) -> bool {
        now >= self.armed_at
    }

    /// Takes a new request. A duplicate id (which would make "answer by id" ambiguous) or one
    /// too many is turned away, handing the connection back to be closed.
    pub fn add(&mut self, conn: C, req: Request, now: Instant) -> Result<(), (C, Rejected)> {
        if self.pending.len() >= MAX_PENDING {
            return Err((conn, Rejected::TooMany));
        }
        if self.pending.iter().any(|p| p.req.id == req.id) {
            return Err((conn, Rejected::DuplicateId));
        }
        let wait = Duration::from_secs(req.wait_secs.min(MAX_WAIT_SECS));
        let expires = now.checked_add(wait).unwrap_or(now);
        if self.pending.is_empty() {
            self.selected = 0;
            self.disarm(now);
        }
        self.pending.push(Pending {
            req,
            arrived: now,
            expires,
            conn,
        });
        Ok(())
    }

    fn disarm(&mut self, now: Instant) {
        self.armed_at = now.checked_add(ARM_DELAY).unwrap_or(now);
    }

    /// The human moved the selection: what is selected now is what they look at.
    pub fn select_next(&mut self, now: Instant) {
        if self.selected + 1 < self.pending.len() {
            self.selected += 1;
            self.armed_at = now;
        }
    }

    pub fn select_prev(&mut self, now: Instant) {
        if self.selected > 0 && !self.pending.is_empty() {
            self.selected -= 1;
            self.armed_at = now;
        }
    }

    fn remove(&mut self, index: usize, now: Instant) -> Pending<C> {
        let p = self.pending.remove(index);
        if index < self.selected {
            self.selected -= 1;
        } else if index == self.selected {
            // The neighbour slides under the cursor: not something the human chose.
            if self.selected >= self.pending.len() {
                self.selected = self.pending.len().saturating_sub(1);
            }
            self.disarm(now);
        }
        p
    }

    fn answer_at(
        &mut self,
        index: usize,
        verdict: Verdict,
        remember_secs: Option<u64>,
        now: Instant,
    ) -> (C, Answer, Request) {
        let p = self.remove(index, now);
        let answer = Answer {
            id: p.req.id.clone(),
            nonce: p.req.nonce.clone(),
            verdict,
            remember_secs: remember_secs.filter(|_| verdict == Verdict::Approve),
        };
        (p.conn, answer, p.req)
    }

    /// The human's key for the selected request. Refusing always counts; approving only once
    /// the selection has been on screen (see [`ARM_DELAY`]).
    pub fn answer_selected(
        &mut self,
        verdict: Verdict,
        remember_secs: Option<u64>,
        now: Instant,
    ) -> Result<(C, Answer, Request), Unanswered> {
        if self.pending.is_empty() {
            return Err(Unanswered::NothingPending);
        }
        if verdict == Verdict::Approve && !self.is_armed(now) {
            return Err(Unanswered::JustChanged);
        }
        Ok(self.answer_at(self.selected, verdict, remember_secs, now))
    }

    /// Answers the request with this id, wherever it is in the list.
    pub fn answer(
        &mut self,
        id: &str,
        verdict: Verdict,
        remember_secs: Option<u64>,
        now: Instant,
    ) -> Option<(C, Answer, Request)> {
        let i = self.pending.iter().position(|p| p.req.id == id)?;
        Some(self.answer_at(i, verdict, remember_secs, now))
    }

    /// Drops the requests whose shells have given up waiting.
    pub fn expire(&mut self, now: Instant) -> Vec<Pending<C>> {
        self.drop_where(now, |p| p.expires <= now)
    }

    /// Drops the requests for which `gone` says so (their shell hung up).
    pub fn drop_where(
        &mut self,
        now: Instant,
        mut gone: impl FnMut(&mut Pending<C>) -> bool,
    ) -> Vec<Pending<C>> {
        let mut dropped = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if gone(&mut self.pending[i]) {
                dropped.push(self.remove(i, now));
            } else {
                i += 1;
            }
        }
        dropped
    }
}

/// A client's line, read as a request and nothing else. An `Answer`, junk, or a request with
/// an id that could not be typed back is `None`.
pub fn parse_request(line: &[u8]) -> Option<Request> {
    let req: Request = serde_json::from_slice(line).ok()?;
    let id_ok = !req.id.is_empty()
        && req.id.len() <= 64
        && req
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let nonce_ok = !req.nonce.is_empty() && req.nonce.len() <= 256;
    (id_ok && nonce_ok).then_some(req)
}

// ---------------------------------------------------------------------------------------------
// The socket.

/// What happened on the socket since last time.
#[derive(Debug)]
pub enum Event {
    Arrived(String),
    /// The shell's wait ran out.
    Expired(Request),
    /// The shell hung up (killed, or the agent's own timeout).
    Gone(Request),
    /// A connection that was turned away, and why.
    Rejected(String),
    /// The socket file is gone or is no longer ours: no shell can reach this console.
    SocketLost(String),
}

struct Incoming {
    stream: UnixStream,
    buf: Vec<u8>,
    since: Instant,
}

/// The watch console's socket: one listener, the connections still sending their request,
/// and the pending requests with their connections.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    ino: (u64, u64),
    _lock: Flock<File>,
    uid: u32,
    incoming: Vec<Incoming>,
    pub core: WatchCore<UnixStream>,
    /// Where approvals to remember are recorded for shells that cannot write them (inside an
    /// enforced `shellguard run`).
    state_dir: Option<PathBuf>,
    /// The socket was found gone or replaced (said once).
    lost: bool,
}

impl Server {
    /// Binds `socket` (in a directory already checked private). Only one console serves a
    /// socket: a second one gets `AddrInUse`. A socket file left by a console that died is
    /// replaced.
    pub fn bind(socket: &Path, now: Instant) -> io::Result<Server> {
        let lock_path = socket.with_extension("lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                "another watch console is already running",
            )
        })?;
        if broker::connect(socket).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another watch console is already serving the socket",
            ));
        }
        match fs::remove_file(socket) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(socket)?;
        fs::set_permissions(socket, fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let md = fs::symlink_metadata(socket)?;
        Ok(Server {
            listener,
            path: socket.to_path_buf(),
            ino: (md.dev(), md.ino()),
            _lock: lock,
            uid: nix::unistd::getuid().as_raw(),
            incoming: Vec::new(),
            core: WatchCore::new(now),
            state_dir: None,
            lost: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record "approve and remember" answers for enforced shells in `state_dir`.
    pub fn record_remembered_in(&mut self, state_dir: PathBuf) {
        self.state_dir = Some(state_dir);
    }

    /// Whether `path` still names the socket we listen on.
    fn still_ours(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|md| (md.dev(), md.ino()) == self.ino)
    }

    fn remember_for_enforced(&self, answer: &Answer, req: &Request) {
        if let (Some(state), Some(secs), true, Verdict::Approve) = (
            &self.state_dir,
            answer.remember_secs,
            req.enforced,
            answer.verdict,
        ) {
            let _ = crate::policy::approvals::remember(
                state,
                &crate::policy::approvals::Line::of(req),
                secs,
                "watch",
            );
        }
    }

    /// Accepts connections, reads requests, and drops requests whose shells have given up
    /// or hung up. Never blocks.
    pub fn service(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if !self.lost && !self.still_ours() {
            self.lost = true;
            events.push(Event::SocketLost(format!(
                "{} was removed or replaced: shells can no longer reach this console; quit (q) and start it again",
                self.path.display()
            )));
        }
        self.accept(now, &mut events);
        self.read_incoming(now, &mut events);
        for p in self.core.expire(now) {
            events.push(Event::Expired(p.req));
        }
        for p in self.core.drop_where(now, |p| hung_up(&mut p.conn)) {
            events.push(Event::Gone(p.req));
        }
        events
    }

    fn accept(&mut self, now: Instant, events: &mut Vec<Event>) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            match broker::peer_uid(&stream) {
                Ok(uid) if uid == self.uid => {}
                Ok(uid) => {
                    events.push(Event::Rejected(format!(
                        "a process of uid {uid} tried to connect"
                    )));
                    continue;
                }
                Err(_) => continue,
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.incoming.push(Incoming {
                stream,
                buf: Vec::new(),
                since: now,
            });
        }
    }

    fn read_incoming(&mut self, now: Instant, events: &mut Vec<Event>) {
        let mut still = Vec::new();
        for mut inc in std::mem::take(&mut self.incoming) {
            let mut chunk = [0u8; 8192];
            let mut closed = false;
            loop {
                match inc.stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        inc.buf.extend_from_slice(&chunk[..n]);
                        if inc.buf.contains(&b'\n') || inc.buf.len() > MAX_LINE {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            if let Some(end) = inc.buf.iter().position(|&b| b == b'\n') {
                match parse_request(&inc.buf[..end]) {
                    Some(req) => {
                        let id = req.id.clone();
                        match self.core.add(inc.stream, req, now) {
                            Ok(()) => events.push(Event::Arrived(id)),
                            Err((_, why)) => events.push(Event::Rejected(format!(
                                "request {} turned away: {}",
                                for_display(&id),
                                match why {
                                    Rejected::DuplicateId => "another pending request has its id",
                                    Rejected::TooMany => "too many pending requests",
                                }
                            ))),
                        }
                    }
                    None => events.push(Event::Rejected(
                        "a connection sent something that is not a request".into(),
                    )),
                }
            } else if inc.buf.len() > MAX_LINE {
                events.push(Event::Rejected("a request too long to show".into()));
            } else if closed {
                // A connection that sent nothing: `watch_is_served` checking we are here.
                if !inc.buf.is_empty() {
                    events.push(Event::Rejected(
                        "a connection closed before sending a whole request".into(),
                    ));
                }
            } else if now.saturating_duration_since(inc.since) < READ_LIMIT {
                still.push(inc);
            }
        }
        self.incoming = still;
    }

    /// Answers the selected request (see [`WatchCore::answer_selected`]) and sends the answer.
    pub fn answer_selected(
        &mut self,
        verdict: Verdict,
        remember_secs: Option<u64>,
        now: Instant,
    ) -> Result<(Answer, Request), Unanswered> {
        let (conn, answer, req) = self.core.answer_selected(verdict, remember_secs, now)?;
        self.remember_for_enforced(&answer, &req);
        send_answer(&conn, &answer);
        Ok((answer, req))
    }

    /// Answers the request with this id and sends the answer.
    pub fn answer(
        &mut self,
        id: &str,
        verdict: Verdict,
        remember_secs: Option<u64>,
        now: Instant,
    ) -> Option<(Answer, Request)> {
        let (conn, answer, req) = self.core.answer(id, verdict, remember_secs, now)?;
        self.remember_for_enforced(&answer, &req);
        send_answer(&conn, &answer);
        Some((answer, req))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only our own socket file: not one a later console put in its place.
        if let Ok(md) = fs::symlink_metadata(&self.path) {
            if (md.dev(), md.ino()) == self.ino {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// Best effort: a shell that has gone away cannot be told, and needs not be.
fn send_answer(conn: &UnixStream, answer: &Answer) {
    let Ok(mut line) = serde_json::to_vec(answer) else {
        return;
    };
    line.push(b'\n');
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
    let mut sent = 0;
    while sent < line.len() {
        match socket::send(conn.as_raw_fd(), &line[sent..], MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Whether the shell at the other end has closed its side. Bytes it sends after its request
/// are read and ignored.
fn hung_up(conn: &mut UnixStream) -> bool {
    let mut buf = [0u8; 512];
    match conn.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The terminal.

const USAGE_LINE: &str = "usage: shellguard watch";

/// `shellguard watch`: serve the watch socket and answer requests from this terminal until
/// `q` or Ctrl-C. Pending requests are not answered on quitting: their shells see the
/// connection close and refuse on their own.
pub fn watch_main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    match args {
        [] => {}
        [h] if h == "-h" || h == "--help" => {
            println!("{USAGE_LINE}\n\nLists the requests of guarded shells that need an approval, live; answer each with a key (y approve, a approve and remember {} minutes, n refuse, q quit).", REMEMBER_SECS / 60);
            return 0;
        }
        _ => {
            eprintln!("{USAGE_LINE}");
            return 2;
        }
    }
    let tty_ok = crate::policy::approvals::human_terminal(
        io::stdin().is_terminal(),
        io::stdout().is_terminal(),
        vars,
    );
    if let Err(why) = tty_ok {
        eprintln!("shellguard watch: {why}.");
        return 2;
    }
    let dir = match broker::runtime_dir(vars) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("shellguard watch: {e}");
            return 2;
        }
    };
    let socket = dir.join(broker::WATCH_SOCKET);
    let mut server = match Server::bind(&socket, Instant::now()) {
        Ok(mut s) => {
            if let Some(state) = crate::policy::trust::state_dir(vars) {
                s.record_remembered_in(state);
            }
            s
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            eprintln!("shellguard watch: {e} ({}).", socket.display());
            return 2;
        }
        Err(e) => {
            eprintln!(
                "shellguard watch: cannot listen on {}: {e}",
                socket.display()
            );
            return 2;
        }
    };
    // Termination signals become a clean exit (terminal restored, socket removed) instead of
    // a terminal left raw in the alternate screen.
    let signals = block_signals();
    let result =
        Screen::enter().and_then(|mut screen| console(&mut server, &mut screen, signals.as_ref()));
    let pending = server.core.pending().len();
    drop(server);
    match result {
        Ok(()) => {
            if pending > 0 {
                // The terminal may be gone: what cannot be printed is not a reason to panic.
                let _ = writeln!(
                    io::stdout(),
                    "shellguard watch: stopped; {pending} pending request{} will be refused by {}.",
                    if pending == 1 { "" } else { "s" },
                    if pending == 1 {
                        "its shell"
                    } else {
                        "their shells"
                    }
                );
            }
            0
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "shellguard watch: {e}");
            1
        }
    }
}

fn block_signals() -> Option<SignalFd> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set.thread_block().ok()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()
}

/// The terminal in raw mode on the alternate screen; restored on drop, whatever the exit.
struct Screen {
    out: io::BufWriter<io::Stdout>,
}

impl Screen {
    fn enter() -> io::Result<Screen> {
        terminal::enable_raw_mode()?;
        let mut s = Screen {
            out: io::BufWriter::with_capacity(1 << 16, io::stdout()),
        };
        execute!(
            s.out,
            terminal::EnterAlternateScreen,
            terminal::DisableLineWrap,
            cursor::Hide,
            event::EnableBracketedPaste
        )?;
        // Keys typed before the console was up answer nothing.
        let _ = nix::sys::termios::tcflush(io::stdin(), nix::sys::termios::FlushArg::TCIFLUSH);
        Ok(s)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(
            self.out,
            event::DisableBracketedPaste,
            style::SetAttribute(Attribute::Reset),
            style::ResetColor,
            cursor::Show,
            terminal::EnableLineWrap,
            terminal::LeaveAlternateScreen
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// What the last key or socket event did, shown on the bottom line.
struct Status {
    text: String,
    style: ContentStyle,
}

fn console(server: &mut Server, screen: &mut Screen, signals: Option<&SignalFd>) -> io::Result<()> {
    let mut status = Status {
        text: format!("listening on {}", server.path().display()),
        style: ContentStyle::new().dim(),
    };
    let mut dirty = true;
    let mut last_draw = Instant::now();
    let stdin = io::stdin();
    let mut keys = KeyReader::new(stdin.as_fd());
    loop {
        let now = Instant::now();
        let mut bell = false;
        for ev in server.service(now) {
            dirty = true;
            match ev {
                Event::Arrived(id) => {
                    bell = true;
                    status = Status {
                        text: format!("new request {id}"),
                        style: ContentStyle::new().yellow(),
                    };
                }
                Event::Expired(r) => {
                    status = Status {
                        text: format!("{}: the shell stopped waiting and refused it", r.id),
                        style: ContentStyle::new().dim(),
                    };
                }
                Event::Gone(r) => {
                    status = Status {
                        text: format!("{}: the shell went away", r.id),
                        style: ContentStyle::new().dim(),
                    };
                }
                Event::Rejected(why) => {
                    status = Status {
                        text: why,
                        style: ContentStyle::new().red(),
                    };
                }
                Event::SocketLost(why) => {
                    bell = true;
                    status = Status {
                        text: why,
                        style: ContentStyle::new().red().bold(),
                    };
                }
            }
        }
        if let Some(sig) = signals {
            if matches!(sig.read_signal(), Ok(Some(_))) {
                return Ok(());
            }
        }
        if bell {
            screen.out.write_all(b"\x07")?;
        }
        if dirty || now.saturating_duration_since(last_draw) >= Duration::from_millis(500) {
            let (w, h) = terminal::size().unwrap_or((80, 24));
            let lines = render(&server.core, &status, usize::from(w), usize::from(h), now);
            paint(&mut screen.out, &lines)?;
            dirty = false;
            last_draw = now;
        }
        // The terminal's bytes are read here, not by a library that retries a hung-up
        // terminal forever: end of file or a hang-up ends the console.
        let Some(key) = keys.next(Duration::from_millis(100))? else {
            continue;
        };
        dirty = true;
        let now = Instant::now();
        match key_action(key) {
            Action::Quit => return Ok(()),
            Action::Up => server.core.select_prev(now),
            Action::Down => server.core.select_next(now),
            Action::Answer(verdict, remember) => {
                status = match server.answer_selected(verdict, remember, now) {
                    Ok((a, r)) => answered_status(&a, &r),
                    Err(Unanswered::NothingPending) => Status {
                        text: "nothing to answer".into(),
                        style: ContentStyle::new().dim(),
                    },
                    Err(Unanswered::JustChanged) => {
                        screen.out.write_all(b"\x07")?;
                        Status {
                            text: "the selection just changed: look, then press again".into(),
                            style: ContentStyle::new().yellow(),
                        }
                    }
                };
            }
            Action::None => {}
        }
    }
}

fn answered_status(a: &Answer, r: &Request) -> Status {
    let cmd = for_display(&r.command);
    match (a.verdict, a.remember_secs) {
        (Verdict::Approve, Some(s)) => Status {
            text: format!("{}: approved, and for {} min: {cmd}", r.id, s / 60),
            style: ContentStyle::new().green(),
        },
        (Verdict::Approve, None) => Status {
            text: format!("{}: approved: {cmd}", r.id),
            style: ContentStyle::new().green(),
        },
        _ => Status {
            text: format!("{}: refused: {cmd}", r.id),
            style: ContentStyle::new().red(),
        },
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Action {
    Quit,
    Up,
    Down,
    Answer(Verdict, Option<u64>),
    None,
}

/// The console's keys, from the decoder every prompt uses: a terminal's reply or a paste
/// never answers, and Enter or Esc answer nothing here.
fn key_action(k: Key) -> Action {
    match k {
        Key::Quit | Key::Interrupted => Action::Quit,
        Key::Up => Action::Up,
        Key::Down => Action::Down,
        Key::Yes => Action::Answer(Verdict::Approve, None),
        Key::YesForAWhile => Action::Answer(Verdict::Approve, Some(REMEMBER_SECS)),
        Key::No => Action::Answer(Verdict::Refuse, None),
        Key::Declined | Key::FenceReply | Key::Other => Action::None,
    }
}

/// One screen line: styled pieces.
type Line = Vec<(ContentStyle, String)>;

fn plain(s: impl Into<String>) -> (ContentStyle, String) {
    (ContentStyle::new(), s.into())
}

/// The whole screen for `core`, `height` lines of at most `width` characters. Every piece of
/// text that came from a client is sanitised here.
fn render<C>(
    core: &WatchCore<C>,
    status: &Status,
    width: usize,
    height: usize,
    now: Instant,
) -> Vec<Line> {
    let width = width.max(20);
    let height = height.max(6);
    let mut lines: Vec<Line> = Vec::new();
    let n = core.pending().len();
    lines.push(vec![
        (ContentStyle::new().bold(), "shellguard watch".into()),
        plain(format!(
            " · {n} pending · ↑↓ select · y approve · a approve, remember {} min · n refuse · q quit",
            REMEMBER_SECS / 60
        )),
    ]);
    if n == 0 {
        lines.push(vec![(
            ContentStyle::new().dim(),
            "No pending requests. Commands that need your approval in shells without a supervisor show up here."
                .into(),
        )]);
    } else {
        lines.push(vec![(
            ContentStyle::new().dim(),
            format!(
                "  {:<8}  {:>5}  {:<12}  {:<24}  {:<24}  COMMAND",
                "ID", "AGE", "AGENT", "DIRECTORY", "RULES"
            ),
        )]);
        // The list gets up to half the screen; the selected request's details the rest.
        let rows = ((height - 3) / 2).max(1).min(n);
        let sel = core.selected_index().unwrap_or(0);
        let first = (sel + 1).saturating_sub(rows).min(n - rows);
        for (i, p) in core.pending().iter().enumerate().skip(first).take(rows) {
            let rules: Vec<String> = p.req.rules.iter().map(|r| r.id.clone()).collect();
            let text = format!(
                "{} {:<8}  {:>4}s  {:<12}  {:<24}  {:<24}  {}",
                if i == sel { '>' } else { ' ' },
                fit(&for_display(&p.req.id), 8),
                now.saturating_duration_since(p.arrived).as_secs(),
                fit(&for_display(p.req.agent.as_deref().unwrap_or("-")), 12),
                fit_left(&for_display(&p.req.cwd), 24),
                fit(&for_display(&rules.join(",")), 24),
                for_display(&asked_parts(&p.req).join(" ; "))
            );
            let st = if i == sel {
                ContentStyle::new().reverse()
            } else {
                ContentStyle::new()
            };
            lines.push(vec![(st, text)]);
        }
        lines.push(vec![(ContentStyle::new().dim(), "─".repeat(width))]);
        if let Some(p) = core.selected() {
            // The details are wrapped, never cut at the edge: what is at stake comes first.
            let mut more = Vec::new();
            detail(&mut more, p, now);
            lines.extend(more.into_iter().flat_map(|l| wrap(l, width)));
        }
    }
    lines.truncate(height - 1);
    while lines.len() < height - 1 {
        lines.push(Vec::new());
    }
    lines.push(vec![(status.style, for_display(&status.text))]);
    lines.into_iter().map(|l| clip(l, width)).collect()
}

/// The parts of the command that the rules asked about, in order: the agent's own command
/// rather than the scaffolding it wraps around every command (`source …snapshot… && eval '…'
/// && pwd -P >| /tmp/…`). The whole command when no part is marked.
fn asked_parts(r: &Request) -> Vec<String> {
    let mut ranges: Vec<(usize, usize)> = r
        .highlights
        .iter()
        .copied()
        .filter(|(a, b)| a < b)
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some((_, end)) if a <= *end => *end = (*end).max(b),
            _ => merged.push((a, b)),
        }
    }
    let parts: Vec<String> = merged
        .into_iter()
        .filter_map(|(a, b)| r.command.get(a..b).map(str::to_string))
        .collect();
    if parts.is_empty() {
        vec![r.command.clone()]
    } else {
        parts
    }
}

/// `line` split into lines of at most `width` characters, the later ones indented.
fn wrap(line: Line, width: usize) -> Vec<Line> {
    const INDENT: &str = "      ";
    let mut out = Vec::new();
    let mut cur: Line = Vec::new();
    let mut left = width;
    for (st, text) in line {
        let mut rest: &str = &text;
        while !rest.is_empty() {
            if left == 0 {
                out.push(std::mem::take(&mut cur));
                cur.push(plain(INDENT));
                left = width.saturating_sub(INDENT.len()).max(1);
            }
            let take = rest.char_indices().nth(left).map_or(rest.len(), |(i, _)| i);
            let (piece, tail) = rest.split_at(take);
            left -= piece.chars().count();
            cur.push((st, piece.to_string()));
            rest = tail;
        }
    }
    out.push(cur);
    out
}

fn detail<C>(lines: &mut Vec<Line>, p: &Pending<C>, now: Instant) {
    let r = &p.req;
    lines.push(vec![
        (
            ContentStyle::new().bold(),
            format!("request {}", for_display(&r.id)),
        ),
        plain(format!(
            " · agent {} · pid {} · waiting {}s, refused in {}s",
            for_display(r.agent.as_deref().unwrap_or("unknown")),
            r.pid,
            now.saturating_duration_since(p.arrived).as_secs(),
            p.expires.saturating_duration_since(now).as_secs()
        )),
    ]);
    lines.push(vec![plain(format!("  in {}", for_display(&r.cwd)))]);
    let parts = asked_parts(r);
    for part in &parts {
        command_lines(lines, part, &[(0, part.len())]);
    }
    for m in &r.rules {
        lines.push(vec![
            plain("  "),
            (
                ContentStyle::new().bold(),
                format!("rule {}", for_display(&m.id)),
            ),
            plain(format!(
                " ({}): {}",
                for_display(&m.decision),
                for_display(&m.reason)
            )),
        ]);
        if !m.touches.is_empty() {
            let t: Vec<String> = m.touches.iter().map(|t| for_display(t)).collect();
            lines.push(vec![plain(format!("    touches: {}", t.join(", ")))]);
        }
        if let Some(s) = &m.suggest {
            lines.push(vec![
                plain("    "),
                (ContentStyle::new().green(), "safer:".into()),
                plain(format!(" {}", for_display(s))),
            ]);
        }
    }
    if parts.len() != 1 || parts[0] != r.command {
        lines.push(vec![(
            ContentStyle::new().dim(),
            "  the whole line, as sent:".into(),
        )]);
        command_lines(lines, &r.command, &r.highlights);
    }
}

/// The command with its real line breaks, escapes set apart, highlighted ranges marked.
fn command_lines(lines: &mut Vec<Line>, command: &str, highlights: &[(usize, usize)]) {
    let hl = |start: usize, len: usize| {
        highlights
            .iter()
            .any(|&(s, e)| s < e && s < start + len && start < e)
    };
    let mut line: Line = vec![plain("  $ ")];
    for (i, c) in command.char_indices() {
        if c == '\n' {
            lines.push(std::mem::replace(&mut line, vec![plain("    ")]));
            continue;
        }
        let (mut st, text) = match escape(c) {
            Some(esc) => (ContentStyle::new().magenta().underlined(), esc),
            None => (ContentStyle::new(), c.to_string()),
        };
        if hl(i, c.len_utf8()) {
            st = st.red().bold().reverse();
        }
        match line.last_mut() {
            Some((s, t)) if *s == st => t.push_str(&text),
            _ => line.push((st, text)),
        }
    }
    lines.push(line);
}

/// At most `w` characters, `…` marking a cut.
fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `w` characters, keeping the end (for directories).
fn fit_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - w.saturating_sub(1)));
    out
}

fn clip(line: Line, width: usize) -> Line {
    let mut left = width;
    let mut out = Vec::new();
    for (st, text) in line {
        if left == 0 {
            break;
        }
        let n = text.chars().count();
        if n <= left {
            left -= n;
            out.push((st, text));
        } else {
            out.push((st, text.chars().take(left).collect()));
            left = 0;
        }
    }
    out
}

fn paint(out: &mut impl Write, lines: &[Line]) -> io::Result<()> {
    queue!(out, cursor::MoveTo(0, 0))?;
    for (row, line) in lines.iter().enumerate() {
        queue!(
            out,
            cursor::MoveTo(0, u16::try_from(row).unwrap_or(u16::MAX))
        )?;
        for (st, text) in line {
            queue!(out, PrintStyledContent(st.apply(text.as_str())))?;
        }
        queue!(
            out,
            style::SetAttribute(Attribute::Reset),
            style::SetForegroundColor(Color::Reset),
            Clear(ClearType::UntilNewLine)
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approve::protocol::RuleInfo;

    fn req(id: &str, wait: u64) -> Request {
        Request {
            id: id.into(),
            nonce: format!("nonce-{id}"),
            command: format!("rm -rf /tmp/{id}"),
            cwd: "/p".into(),
            what: None,
            agent: Some("codex".into()),
            rules: vec![RuleInfo {
                id: "fs.rm-recursive".into(),
                reason: "deletes a tree".into(),
                decision: "confirm".into(),
                suggest: Some("mv it away".into()),
                touches: vec!["/tmp/x".into()],
            }],
            highlights: vec![(7, 14)],
            pid: 42,
            wait_secs: wait,
            enforced: false,
        }
    }

    #[test]
    fn lists_answers_by_id_and_expires() {
        let t0 = Instant::now();
        let mut core = WatchCore::new(t0);
        core.add(1, req("aaaa", 100), t0).unwrap();
        core.add(2, req("bbbb", 5), t0).unwrap();
        core.add(3, req("cccc", 100), t0).unwrap();
        assert_eq!(
            core.add(4, req("bbbb", 100), t0).unwrap_err(),
            (4, Rejected::DuplicateId)
        );
        let ids: Vec<&str> = core.pending().iter().map(|p| p.req.id.as_str()).collect();
        assert_eq!(ids, ["aaaa", "bbbb", "cccc"]);

        let (conn, a, r) = core
            .answer("cccc", Verdict::Approve, Some(600), t0)
            .unwrap();
        assert_eq!(
            (conn, a.verdict, a.remember_secs),
            (3, Verdict::Approve, Some(600))
        );
        assert_eq!((a.id.as_str(), a.nonce.as_str()), ("cccc", "nonce-cccc"));
        assert_eq!(r.command, "rm -rf /tmp/cccc");
        assert!(core.answer("cccc", Verdict::Approve, None, t0).is_none());

        // Refusing never carries a memory.
        let (_, a, _) = core.answer("aaaa", Verdict::Refuse, Some(600), t0).unwrap();
        assert_eq!((a.verdict, a.remember_secs), (Verdict::Refuse, None));

        assert!(core.expire(t0 + Duration::from_secs(4)).is_empty());
        let gone = core.expire(t0 + Duration::from_secs(5));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].req.id, "bbbb");
        assert!(core.pending().is_empty());
        assert_eq!(
            core.answer_selected(Verdict::Approve, None, t0 + Duration::from_secs(9))
                .unwrap_err(),
            Unanswered::NothingPending
        );
    }

    #[test]
    fn approval_keys_wait_after_the_selection_moves_by_itself() {
        let t0 = Instant::now();
        let mut core = WatchCore::new(t0);
        core.add(1, req("aaaa", 100), t0).unwrap();
        // A request arriving into an empty list: a key already on its way is not an answer.
        assert_eq!(
            core.answer_selected(Verdict::Approve, None, t0)
                .unwrap_err(),
            Unanswered::JustChanged
        );
        let t1 = t0 + ARM_DELAY;
        core.add(2, req("bbbb", 100), t1).unwrap();
        // Arrivals while something is selected leave the selection alone.
        assert_eq!(core.selected().unwrap().req.id, "aaaa");
        let (c, a, _) = core.answer_selected(Verdict::Approve, None, t1).unwrap();
        assert_eq!((c, a.verdict), (1, Verdict::Approve));
        // The neighbour slid under the cursor: a repeated `y` must not approve it.
        assert_eq!(core.selected().unwrap().req.id, "bbbb");
        assert_eq!(
            core.answer_selected(Verdict::Approve, None, t1)
                .unwrap_err(),
            Unanswered::JustChanged
        );
        // Refusing is always allowed.
        let (c, a, _) = core.answer_selected(Verdict::Refuse, None, t1).unwrap();
        assert_eq!((c, a.verdict), (2, Verdict::Refuse));
    }

    #[test]
    fn selection_follows_the_human_and_survives_removals() {
        let t0 = Instant::now();
        let mut core = WatchCore::new(t0);
        for (i, id) in ["a1", "b2", "c3", "d4"].iter().enumerate() {
            core.add(i, req(id, 100), t0).unwrap();
        }
        core.select_next(t0);
        core.select_next(t0);
        assert_eq!(core.selected().unwrap().req.id, "c3");
        // Moving by hand arms at once.
        assert!(core.is_armed(t0));
        // Removing one above keeps the same request selected.
        core.answer("a1", Verdict::Refuse, None, t0).unwrap();
        assert_eq!(core.selected().unwrap().req.id, "c3");
        assert!(core.is_armed(t0));
        core.select_next(t0);
        core.select_next(t0);
        assert_eq!(core.selected().unwrap().req.id, "d4");
        // The last one leaving moves the cursor up, disarmed.
        let gone = core.drop_where(t0, |p| p.conn == 3);
        assert_eq!(gone.len(), 1);
        assert_eq!(core.selected().unwrap().req.id, "c3");
        assert!(!core.is_armed(t0));
        core.select_prev(t0);
        core.select_prev(t0);
        assert_eq!(core.selected().unwrap().req.id, "b2");
    }

    #[test]
    fn client_input_is_only_ever_a_request() {
        let answer = Answer {
            id: "aaaa".into(),
            nonce: "n".into(),
            verdict: Verdict::Approve,
            remember_secs: Some(600),
        };
        let line = serde_json::to_vec(&answer).unwrap();
        assert!(parse_request(&line).is_none());
        assert!(parse_request(b"y").is_none());
        assert!(parse_request(b"{}").is_none());
        assert!(parse_request(b"\xff\xfe").is_none());
        let mut r = req("aaaa", 1);
        assert!(parse_request(&serde_json::to_vec(&r).unwrap()).is_some());
        r.id = "a b\x1b".into();
        assert!(parse_request(&serde_json::to_vec(&r).unwrap()).is_none());
        r.id = "ok".into();
        r.nonce = String::new();
        assert!(parse_request(&serde_json::to_vec(&r).unwrap()).is_none());
    }

    #[test]
    fn screen_shows_everything_sanitised() {
        let t0 = Instant::now();
        let mut core = WatchCore::new(t0);
        let mut hostile = req("aaaa", 100);
        hostile.command = "echo hi\x1b[2J; rm -rf ~ \u{202e}gnp.exe\nsecond".into();
        hostile.cwd = "/p\x1b]0;x\x07".into();
        hostile.rules[0].reason = "r\x1b[31m".into();
        core.add(1, hostile, t0).unwrap();
        core.add(2, req("bbbb", 100), t0).unwrap();
        let status = Status {
            text: "ok\x1b[2J".into(),
            style: ContentStyle::new(),
        };
        let lines = render(&core, &status, 100, 30, t0 + Duration::from_secs(3));
        assert_eq!(lines.len(), 30);
        let text: String = lines
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect::<String>() + "\n")
            .collect();
        assert!(!text.contains('\x1b') && !text.contains('\u{202e}') && !text.contains('\x07'));
        assert!(text.contains("\\u{202e}"), "{text}");
        assert!(text.contains("  $ echo hi\\e[2J"), "{text}");
        assert!(text.contains("    second"), "{text}");
        assert!(
            text.contains("rule fs.rm-recursive (confirm): r\\e[31m"),
            "{text}"
        );
        assert!(text.contains("touches: /tmp/x") && text.contains("safer: mv it away"));
        assert!(text.contains(">aaaa") || text.contains("> aaaa"), "{text}");
        assert!(text.contains("   3s"), "{text}");
        assert!(text.contains("bbbb"));
        for l in &lines {
            let n: usize = l.iter().map(|(_, t)| t.chars().count()).sum();
            assert!(n <= 100);
        }
        // Tiny terminals still get a status line and no panic.
        let lines = render(&core, &status, 5, 2, t0);
        assert!(!lines.is_empty());
    }

    #[test]
    fn the_agents_command_comes_first_and_nothing_is_cut() {
        let t0 = Instant::now();
        let mut core = WatchCore::new(t0);
        let mut r = req("aaaa", 100);
        let inner = "rm -r ~/precious/photos-2009-2024/originals";
        r.command = format!(
            "source /home/u/.claude/shell-snapshots/snapshot-bash-1764751234567-abcdef.sh 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval '{inner}' < /dev/null && pwd -P >| /tmp/claude-9f3a-cwd"
        );
        let at = r.command.find(inner).unwrap();
        r.highlights = vec![(at, at + inner.len())];
        core.add(1, r.clone(), t0).unwrap();
        let status = Status {
            text: String::new(),
            style: ContentStyle::new(),
        };
        let lines = render(&core, &status, 100, 40, t0);
        let rows: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
            .collect();
        for row in &rows {
            assert!(row.chars().count() <= 100, "{row}");
        }
        // The list shows the agent's command, not the wrapper's start.
        assert!(
            rows.iter()
                .any(|l| l.starts_with("> aaaa") && l.contains("rm -r ~/pr")),
            "{rows:#?}"
        );
        // The details give it first, then the whole line, wrapped: every character is there.
        let detail: String = rows
            .iter()
            .skip_while(|l| !l.starts_with("request aaaa"))
            .map(|l| l.trim_start())
            .collect();
        let first = detail.find(inner).expect("the command in full");
        assert!(first < detail.find("rule fs.rm-recursive").unwrap());
        let whole: String = r.command.chars().filter(|c| !c.is_whitespace()).collect();
        let shown: String = detail.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(shown.contains(&whole), "{rows:#?}");
    }

    #[test]
    fn keys() {
        let k = |bytes: &[u8]| {
            let mut d = super::super::keys::KeyDecoder::new();
            let mut out: Vec<Action> = bytes
                .iter()
                .filter_map(|&b| d.feed(b))
                .map(key_action)
                .collect();
            out.extend(d.idle().map(key_action));
            out
        };
        assert_eq!(k(b"y"), [Action::Answer(Verdict::Approve, None)]);
        assert_eq!(k(b"Y"), [Action::Answer(Verdict::Approve, None)]);
        assert_eq!(k(b"a"), [Action::Answer(Verdict::Approve, Some(600))]);
        assert_eq!(k(b"n"), [Action::Answer(Verdict::Refuse, None)]);
        assert_eq!(k(b"\x03"), [Action::Quit]);
        assert_eq!(k(b"q"), [Action::Quit]);
        // Alt-y, a terminal's reply holding a y, a pasted y: none answers.
        assert_eq!(k(b"\x1by"), [Action::None]);
        assert_eq!(k(b"\x1b]0;y\x07"), []);
        assert_eq!(k(b"\x1b[200~y\x1b[201~"), []);
        assert_eq!(k(b"x"), [Action::None]);
        assert_eq!(k(b"\r"), [Action::None]);
        assert_eq!(k(b"\x1b"), [Action::None]);
        assert_eq!(k(b"\x1b[A"), [Action::Up]);
        assert_eq!(k(b"\x1bOB"), [Action::Down]);
        assert_eq!(k(b"kj"), [Action::Up, Action::Down]);
    }

    #[test]
    fn fitting() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit_left("/home/u/project", 8), "…project");
    }
}
