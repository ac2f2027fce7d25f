//! The pty host's loop: bytes between the human's terminal and the agent's pty, and the prompt.
//!
//! Everything arrives as an [`Event`] on one channel (pty output, keystrokes, signals, broker
//! requests, the agent's exit) and is handled on one thread, so the order of output and prompt
//! on the screen is simply the order of events.
//!
//! While a prompt is up, the agent's output is held back (and still fed to a `vt100` parser that
//! tracks the agent's screen), and keystrokes go to the prompt, never to the agent. When the
//! agent is on the main screen the prompt is drawn on the terminal's own alternate screen, so
//! leaving it gives back the main screen and its scrollback exactly; when the agent is itself
//! full-screen (on the alternate screen), its screen is repainted from the parser's copy. Then
//! the held output follows, byte for byte.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use portable_pty::{MasterPty, PtySize};

use super::broker::Pending;
use super::prompt::{self, About, Key, KeyDecoder, REMEMBER_SECS};
use super::terminal::{self, RawMode};
use crate::approve::protocol::Verdict;
use crate::approve::PromptRequest;

/// How long a lone ESC waits for the rest of a key's sequence (as in approve::tty).
const ESC_GRACE: Duration = Duration::from_millis(30);
/// How long a request waits for the agent's output to reach the end of an escape sequence
/// before the prompt cuts in anyway (with CAN, which aborts any sequence).
const SEQUENCE_GRACE: Duration = Duration::from_millis(100);
/// If the terminal never answers the status query, keys count after this long.
const FENCE_FALLBACK: Duration = Duration::from_secs(1);
/// Keys pressed just after an answer (the "es" of "yes") go nowhere.
const AFTER_ANSWER: Duration = Duration::from_millis(150);
/// After the agent exits, output still arriving (from its children) is passed on this long.
const DRAIN_QUIET: Duration = Duration::from_millis(200);
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// After SIGTERM/SIGHUP/SIGQUIT is passed on, how long the agent has to exit before we do.
const SIGNAL_GRACE: Duration = Duration::from_secs(3);
/// Requests waiting behind the one on screen; more are dropped (the shell falls back).
const MAX_QUEUE: usize = 64;
/// Agent output held while a prompt is up, beyond which the agent is made to wait.
const MAX_HELD: usize = 16 * 1024 * 1024;
/// Scrollback is never repainted, so the parser keeps none.
const PARSER_SCROLLBACK: usize = 0;

/// Opens the prompt's screen: attributes reset, mouse reporting off (an X10 mouse report can
/// contain a `y`), bracketed paste on (pasted text is not an answer), the kitty keyboard
/// protocol pushed to legacy keys, cursor shown, screen cleared.
const PROMPT_MODES: &[u8] = b"\x1b[0m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?2004h\x1b[>0u\x1b[?25h\x1b[H\x1b[2J";
/// Undoes the prompt's modes (the agent's own are restored from the parser afterwards).
const PROMPT_MODES_OFF: &[u8] = b"\x1b[0m\x1b[?2004l\x1b[<u";
/// Device status report: the terminal answers `ESC [ 0 n`, after everything sent before it.
const STATUS_QUERY: &[u8] = b"\x1b[5n";
/// Length of the reply the key decoder recognises (`ESC [ 0 n` or `ESC [ 3 n`).
const FENCE_REPLY_LEN: usize = 4;
/// Input kept for the agent while waiting for the fence reply.
const MAX_EARLY: usize = 64 * 1024;

pub enum Event {
    Output(Vec<u8>),
    OutputClosed,
    Input(Vec<u8>),
    InputClosed,
    Signal(i32),
    Request(Box<Pending>),
    Exited(u8),
}

/// Bounds the agent output in flight: the pty reader waits while too much is held.
#[derive(Default)]
pub struct Credit {
    outstanding: Mutex<usize>,
    freed: Condvar,
}

impl Credit {
    fn take(&self, n: usize) {
        let mut g = self.outstanding.lock().unwrap_or_else(|p| p.into_inner());
        while *g >= MAX_HELD {
            g = self.freed.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        *g += n;
    }

    fn give(&self, n: usize) {
        let mut g = self.outstanding.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.saturating_sub(n);
        self.freed.notify_all();
    }
}

pub fn spawn_output_reader(mut pty: Box<dyn Read + Send>, tx: Sender<Event>, credit: Arc<Credit>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pty.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    credit.take(n);
                    if tx.send(Event::Output(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: every process holding the pty's other end has gone.
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::OutputClosed);
    });
}

pub fn spawn_input_reader(mut input: File, tx: Sender<Event>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Event::Input(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::InputClosed);
    });
}

/// Writes to the agent's pty on a thread of its own: an agent that does not read its input must
/// not stall the loop (and with it the prompt).
pub fn spawn_agent_writer(mut pty: Box<dyn Write + Send>) -> Sender<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for bytes in rx {
            if pty.write_all(&bytes).and_then(|()| pty.flush()).is_err() {
                break;
            }
        }
    });
    tx
}

/// Reaps the agent and reports its status the way a shell would: the exit code, or 128 + the
/// signal that killed it.
pub fn spawn_waiter(pid: Pid, tx: Sender<Event>) {
    thread::spawn(move || loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => {
                let _ = tx.send(Event::Exited(u8::try_from(code & 0xff).unwrap_or(1)));
                return;
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                let _ = tx.send(Event::Exited(128u8.saturating_add(sig as u8)));
                return;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                let _ = tx.send(Event::Exited(1));
                return;
            }
        }
    });
}

pub fn spawn_signals(tx: Sender<Event>) -> std::io::Result<()> {
    use signal_hook::consts::signal::{
        SIGCONT, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGWINCH,
    };
    let mut signals = signal_hook::iterator::Signals::new([
        SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGCONT, SIGPIPE,
    ])?;
    thread::spawn(move || {
        for sig in signals.forever() {
            if tx.send(Event::Signal(sig)).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Where the agent's output stream stands: only between escape sequences (and between the
/// bytes of one UTF-8 character) can the prompt cut in without garbling what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Seq {
    #[default]
    Ground,
    Utf8(u8),
    Esc,
    EscInter,
    Csi,
    Str,
    StrEsc,
}

#[derive(Debug, Default)]
struct Boundary {
    state: Seq,
}

impl Boundary {
    fn at_boundary(&self) -> bool {
        self.state == Seq::Ground
    }

    fn feed_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.feed(b);
        }
    }

    /// Feeds bytes up to the first boundary; how many that took, if one was reached.
    fn until_boundary(&mut self, bytes: &[u8]) -> Option<usize> {
        if self.at_boundary() {
            return Some(0);
        }
        for (i, &b) in bytes.iter().enumerate() {
            self.feed(b);
            if self.at_boundary() {
                return Some(i + 1);
            }
        }
        None
    }

    fn feed(&mut self, b: u8) {
        use Seq::*;
        self.state = match (self.state, b) {
            (Utf8(n), 0x80..=0xbf) => {
                if n > 1 {
                    Utf8(n - 1)
                } else {
                    Ground
                }
            }
            (Utf8(_), _) => {
                self.state = Ground;
                return self.feed(b);
            }
            (_, 0x18 | 0x1a) => Ground,
            (Str, 0x07) => Ground,
            (Str, 0x1b) => StrEsc,
            (Str, _) => Str,
            (StrEsc, b'\\') => Ground,
            (StrEsc, _) => {
                self.state = Esc;
                return self.feed(b);
            }
            (_, 0x1b) => Esc,
            (Ground, 0xc2..=0xdf) => Utf8(1),
            (Ground, 0xe0..=0xef) => Utf8(2),
            (Ground, 0xf0..=0xf4) => Utf8(3),
            (Ground, _) => Ground,
            (Esc, b'[') => Csi,
            (Esc, b']' | b'P' | b'X' | b'^' | b'_') => Str,
            (Esc, 0x20..=0x2f) => EscInter,
            (Esc | EscInter | Csi, 0x00..=0x1f) => self.state,
            (Esc, _) => Ground,
            (EscInter, 0x20..=0x2f) => EscInter,
            (EscInter, _) => Ground,
            (Csi, 0x40..=0x7e) => Ground,
            (Csi, _) => Csi,
        };
    }
}

struct Prompt {
    pending: Pending,
    request: PromptRequest,
    /// The agent's screen when the prompt opened, to put back.
    at_open: vt100::Screen,
    /// The agent was on the main screen, so the prompt is on the terminal's alternate screen.
    own_alt: bool,
    keys: KeyDecoder,
    /// Until the terminal answers the status query, keys were typed (or replies sent) before
    /// the prompt was visible, and do not count.
    fenced_until: Option<Instant>,
    /// Bytes read before the first fence reply: typed (or sent by the terminal) before the
    /// prompt was on screen, so meant for the agent, which gets them once the reply proves it.
    /// `None` once that is settled either way.
    early: Option<Vec<u8>>,
    deadline: Instant,
    shown_secs: u64,
    last_input: Instant,
}

pub struct Proxy {
    master: Box<dyn MasterPty + Send>,
    agent: Pid,
    to_agent: Sender<Vec<u8>>,
    out: File,
    raw: Option<RawMode>,
    credit: Arc<Credit>,
    /// The agent's screen as the agent has drawn it, prompt or not.
    parser: vt100::Parser,
    boundary: Boundary,
    queue: VecDeque<Pending>,
    prompt: Option<Prompt>,
    held: Vec<u8>,
    want_since: Option<Instant>,
    discard_input_until: Option<Instant>,
    exit_code: Option<u8>,
    drain_until: Option<Instant>,
    drain_cap: Option<Instant>,
    output_closed: bool,
    force_exit: Option<(Instant, u8)>,
    out_broken: bool,
    stdin_is_tty: bool,
    /// The interactive shell's session directory: when set, Enter typed into a shell that
    /// never registered there (`sh`, `env -i bash --norc`) is held until the human says yes.
    gate_dir: Option<std::path::PathBuf>,
    /// The Enter being held: the request shown for it, the bytes from the Enter on, and the
    /// other end of the request's stream (kept open so the request is not "withdrawn").
    gated: Option<(String, Vec<u8>, std::os::unix::net::UnixStream)>,
    /// The state directory in which "approve and remember" answers to shells inside the
    /// enforced tree are recorded (they cannot write there themselves).
    remember_in: Option<std::path::PathBuf>,
}

/// Programs that read command lines from the terminal, as `/proc/PID/comm` names them.
const SHELL_NAMES: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "yash", "posh", "tcsh", "csh",
    "busybox", "rbash",
];

fn new_parser(rows: u16, cols: u16) -> vt100::Parser {
    vt100::Parser::new(nz(rows), nz(cols), PARSER_SCROLLBACK)
}

fn nz(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

/// What the loop is connected to.
pub struct Wiring {
    pub master: Box<dyn MasterPty + Send>,
    pub agent: Pid,
    pub to_agent: Sender<Vec<u8>>,
    /// The human's terminal (stdout).
    pub out: File,
    /// Raw mode on stdin, when stdin is a terminal.
    pub raw: Option<RawMode>,
    pub credit: Arc<Credit>,
    pub size: PtySize,
    pub stdin_is_tty: bool,
    /// See `Proxy::gate_dir`.
    pub gate_dir: Option<std::path::PathBuf>,
    /// See `Proxy::remember_in`.
    pub remember_in: Option<std::path::PathBuf>,
}

impl Proxy {
    pub fn new(w: Wiring) -> Self {
        Proxy {
            master: w.master,
            agent: w.agent,
            to_agent: w.to_agent,
            out: w.out,
            raw: w.raw,
            credit: w.credit,
            parser: new_parser(w.size.rows, w.size.cols),
            boundary: Boundary::default(),
            queue: VecDeque::new(),
            prompt: None,
            held: Vec::new(),
            want_since: None,
            discard_input_until: None,
            exit_code: None,
            drain_until: None,
            drain_cap: None,
            output_closed: false,
            force_exit: None,
            out_broken: false,
            stdin_is_tty: w.stdin_is_tty,
            gate_dir: w.gate_dir,
            gated: None,
            remember_in: w.remember_in,
        }
    }

    /// Runs until the agent has exited (and its output is passed on); returns the exit status.
    pub fn run(mut self, events: Receiver<Event>) -> u8 {
        loop {
            let now = Instant::now();
            self.tick(now);
            if let Some(code) = self.finished(now) {
                self.close_prompt(None);
                // Shells still waiting hear nothing, and fall back to their other channels.
                self.queue.clear();
                return code;
            }
            let wait = if self.prompt.is_some()
                || self.want_since.is_some()
                || self.exit_code.is_some()
                || self.force_exit.is_some()
            {
                Duration::from_millis(20)
            } else {
                Duration::from_secs(1)
            };
            match events.recv_timeout(wait) {
                Ok(ev) => self.on_event(ev, Instant::now()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return self.exit_code.unwrap_or(1),
            }
        }
    }

    fn finished(&self, now: Instant) -> Option<u8> {
        if let Some((at, code)) = self.force_exit {
            if now >= at {
                return Some(self.exit_code.unwrap_or(code));
            }
        }
        let code = self.exit_code?;
        let drained = self.output_closed
            || self.drain_until.is_some_and(|t| now >= t)
            || self.drain_cap.is_some_and(|t| now >= t);
        drained.then_some(code)
    }

    fn on_event(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::Output(bytes) => self.on_output(&bytes, now),
            Event::OutputClosed => self.output_closed = true,
            Event::Input(bytes) => self.on_input(&bytes, now),
            Event::InputClosed => {
                // A terminal that reads end-of-file has hung up; a pipe or /dev/null simply
                // has nothing more to say.
                if self.stdin_is_tty {
                    self.hang_up(now);
                }
            }
            Event::Signal(sig) => self.on_signal(sig, now),
            Event::Request(p) => {
                if self.exit_code.is_some() || self.queue.len() >= MAX_QUEUE {
                    return;
                }
                self.queue.push_back(*p);
                if self.prompt.is_none() && self.want_since.is_none() {
                    self.want_since = Some(now);
                    if self.boundary.at_boundary() {
                        self.open_prompt(now);
                    }
                }
            }
            Event::Exited(code) => {
                self.exit_code = Some(code);
                self.drain_until = Some(now + DRAIN_QUIET);
                self.drain_cap = Some(now + DRAIN_MAX);
                self.close_prompt(None);
                self.queue.clear();
                self.want_since = None;
            }
        }
    }

    fn on_output(&mut self, bytes: &[u8], now: Instant) {
        if self.exit_code.is_some() {
            self.drain_until = Some(now + DRAIN_QUIET);
        }
        if self.prompt.is_some() {
            self.hold(bytes);
            return;
        }
        if self.want_since.is_some() {
            if let Some(n) = self.boundary.until_boundary(bytes) {
                self.pass(&bytes[..n], false);
                self.open_prompt(now);
                if self.prompt.is_some() {
                    self.hold(&bytes[n..]);
                } else {
                    self.pass(&bytes[n..], true);
                }
                return;
            }
            self.pass(bytes, false);
            return;
        }
        self.pass(bytes, true);
    }

    /// Passes agent output to the terminal (`track`: also through the boundary tracker).
    fn pass(&mut self, bytes: &[u8], track: bool) {
        if bytes.is_empty() {
            return;
        }
        self.parser.process(bytes);
        if track {
            self.boundary.feed_all(bytes);
        }
        self.write_out(bytes);
        self.credit.give(bytes.len());
    }

    fn hold(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.held.extend_from_slice(bytes);
    }

    fn write_out(&mut self, bytes: &[u8]) {
        if self.out_broken {
            return;
        }
        if self
            .out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .is_err()
        {
            self.out_broken = true;
            self.hang_up(Instant::now());
        }
    }

    fn on_input(&mut self, bytes: &[u8], now: Instant) {
        if self.prompt.is_some() {
            self.prompt_input(bytes, now);
            return;
        }
        if self.discard_input_until.is_some_and(|t| now < t) {
            return;
        }
        self.discard_input_until = None;
        if self.gate_dir.is_some() && self.gated.is_none() {
            if let Some(pos) = bytes.iter().position(|&b| b == b'\r' || b == b'\n') {
                if let Some((pgid, what)) = self.unguarded_foreground() {
                    let _ = self.to_agent.send(bytes[..pos].to_vec());
                    self.hold_enter(pgid, what, bytes[pos..].to_vec(), now);
                    return;
                }
            }
        }
        let _ = self.to_agent.send(bytes.to_vec());
    }

    /// The terminal's foreground process, when it is a shell that never registered with this
    /// session: a line typed into it would run without the gate.
    fn unguarded_foreground(&self) -> Option<(i32, String)> {
        let dir = self.gate_dir.as_ref()?;
        let pgid = self.master.process_group_leader()?;
        let comm = std::fs::read_to_string(format!("/proc/{pgid}/comm")).ok()?;
        let comm = comm.trim();
        if !SHELL_NAMES.contains(&comm) || dir.join("shells").join(pgid.to_string()).exists() {
            return None;
        }
        // A bash started from a guarded shell inherits the exported gate (`PS0`) and this
        // session's variable: it is guarded from its first line, before it registers at its
        // first prompt.
        if comm == "bash" {
            let environ = std::fs::read(format!("/proc/{pgid}/environ")).unwrap_or_default();
            let mut host = format!("{}=", crate::interactive::HOST_ENV).into_bytes();
            host.extend_from_slice(dir.as_os_str().as_encoded_bytes());
            let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
            let in_session = vars.contains(&host.as_slice());
            let gated = vars.iter().any(|v| {
                v.starts_with(b"PS0=")
                    && v.windows(crate::interactive::CHECK_SUBCOMMAND.len())
                        .any(|w| w == crate::interactive::CHECK_SUBCOMMAND.as_bytes())
            });
            if in_session && gated {
                return None;
            }
        }
        Some((pgid, comm.to_string()))
    }

    /// Hold the Enter (and what follows it) behind a prompt of our own.
    fn hold_enter(&mut self, pgid: i32, what: String, held: Vec<u8>, now: Instant) {
        use crate::approve::protocol::{new_id, new_nonce, Request, RuleInfo};
        let Ok((ours, theirs)) = std::os::unix::net::UnixStream::pair() else {
            return;
        };
        let cwd = std::fs::read_link(format!("/proc/{pgid}/cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let req = Request {
            id: format!("enter-{}", new_id()),
            nonce: new_nonce(),
            command: format!("(the line you typed into `{what}`)"),
            cwd,
            what: None,
            agent: None,
            rules: vec![RuleInfo {
                id: "interactive.unguarded-shell".into(),
                reason: format!("`{what}` (pid {pgid}) was not started under the guard: the line you typed would run unchecked"),
                decision: "confirm".into(),
                suggest: Some("leave that shell and type the command in the guarded one".into()),
                touches: Vec::new(),
            }],
            highlights: Vec::new(),
            pid: u32::try_from(pgid).unwrap_or(0),
            wait_secs: 60,
            enforced: false,
        };
        self.gated = Some((req.id.clone(), held, theirs));
        self.queue.push_front(Pending::new(req, ours));
        self.want_since.get_or_insert(now);
    }

    fn on_signal(&mut self, sig: i32, now: Instant) {
        use signal_hook::consts::signal::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
        match sig {
            SIGWINCH => self.resize(),
            SIGCONT => {
                if let Some(raw) = &self.raw {
                    raw.reapply();
                }
                self.resize();
            }
            SIGINT => self.signal_agent(Signal::SIGINT),
            SIGHUP => self.hang_up(now),
            SIGTERM | SIGQUIT => {
                let s = if sig == SIGTERM {
                    Signal::SIGTERM
                } else {
                    Signal::SIGQUIT
                };
                self.signal_agent(s);
                self.force_exit
                    .get_or_insert((now + SIGNAL_GRACE, 128u8.saturating_add(sig as u8)));
            }
            _ => {}
        }
    }

    /// Our terminal is gone: tell the agent as the kernel would, and leave soon.
    fn hang_up(&mut self, now: Instant) {
        if self.force_exit.is_some() {
            return;
        }
        self.signal_agent(Signal::SIGHUP);
        self.force_exit = Some((now + SIGNAL_GRACE, 128 + Signal::SIGHUP as u8));
    }

    fn signal_agent(&self, sig: Signal) {
        let _ = kill(self.agent, sig);
    }

    fn resize(&mut self) {
        let Ok((cols, rows)) = crossterm::terminal::size() else {
            return;
        };
        if cols == 0 || rows == 0 {
            return;
        }
        let _ = self.master.resize(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        });
        self.parser.screen_mut().set_size(nz(rows), nz(cols));
        if let Some(p) = &mut self.prompt {
            p.at_open.set_size(nz(rows), nz(cols));
            self.redraw_prompt();
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.prompt.is_none() {
            if let Some(since) = self.want_since {
                if self.boundary.at_boundary() || now.duration_since(since) >= SEQUENCE_GRACE {
                    self.open_prompt(now);
                }
            }
            return;
        }
        let Some(p) = &mut self.prompt else {
            return;
        };
        if now >= p.deadline {
            self.close_prompt(Some((Verdict::Timeout, None)));
            return;
        }
        if p.pending.withdrawn() {
            self.close_prompt(None);
            return;
        }
        if p.fenced_until.is_some_and(|t| now >= t) {
            // No reply: the terminal cannot tell us what came first, so nothing read so far
            // counts, for the prompt or for the agent.
            p.fenced_until = None;
            p.early = None;
        }
        if p.keys.awaiting_escape() && now.duration_since(p.last_input) >= ESC_GRACE {
            if let Some(key) = p.keys.idle() {
                if self.on_key(key) {
                    return;
                }
            }
        }
        let Some(p) = &mut self.prompt else {
            return;
        };
        let secs = remaining_secs(p.deadline, now);
        if secs != p.shown_secs {
            p.shown_secs = secs;
            let mut buf = Vec::new();
            let _ = prompt::draw_question(&mut buf, Some(secs));
            self.write_out(&buf);
        }
    }

    fn open_prompt(&mut self, now: Instant) {
        self.want_since = None;
        while let Some(pending) = self.queue.pop_front() {
            let deadline = pending.deadline();
            if deadline <= now {
                pending.answer(Verdict::Timeout, None);
                continue;
            }
            if pending.withdrawn() {
                continue;
            }
            let request = prompt::prompt_request(&pending.req, deadline - now);
            let at_open = self.parser.screen().clone();
            let own_alt = !at_open.alternate_screen();
            let mut buf = Vec::new();
            if !self.boundary.at_boundary() {
                // CAN: ends whatever sequence the agent left unfinished.
                buf.push(0x18);
                self.boundary = Boundary::default();
            }
            if own_alt {
                buf.extend_from_slice(b"\x1b[?1049h");
            }
            let shown_secs = remaining_secs(deadline, now);
            self.prompt = Some(Prompt {
                pending,
                request,
                at_open,
                own_alt,
                keys: KeyDecoder::new(),
                fenced_until: Some(now + FENCE_FALLBACK),
                early: Some(Vec::new()),
                deadline,
                shown_secs,
                last_input: now,
            });
            terminal::set_prompt_shown(true);
            // Keys typed so far were meant for the agent, not for a question not yet asked.
            // (Before the status query goes out: its answer must not be flushed with them.)
            terminal::flush_typeahead();
            self.write_out(&buf);
            self.redraw_prompt();
            return;
        }
    }

    /// Draws the whole prompt on a cleared screen, then asks the terminal for its status: its
    /// answer marks the point after which keys were pressed with the prompt in view.
    fn redraw_prompt(&mut self) {
        let Some(p) = &mut self.prompt else {
            return;
        };
        let mut buf = Vec::from(PROMPT_MODES);
        let _ = prompt::draw_prompt(&mut buf, &p.request, &About::of(&p.pending.req));
        let _ = prompt::draw_question(&mut buf, Some(p.shown_secs));
        buf.extend_from_slice(STATUS_QUERY);
        p.keys = KeyDecoder::new();
        p.fenced_until = Some(Instant::now() + FENCE_FALLBACK);
        self.write_out(&buf);
    }

    fn prompt_input(&mut self, bytes: &[u8], now: Instant) {
        for &b in bytes {
            let Some(p) = &mut self.prompt else {
                return;
            };
            p.last_input = now;
            let fenced = p.fenced_until.is_some();
            if fenced {
                if let Some(early) = &mut p.early {
                    if early.len() < MAX_EARLY {
                        early.push(b);
                    }
                }
            }
            let key = p.keys.feed(b);
            if fenced && key == Some(Key::FenceReply) {
                p.fenced_until = None;
                if let Some(mut early) = p.early.take() {
                    // Everything before the reply (`ESC [ 0 n`, four bytes) goes to the agent.
                    early.truncate(early.len().saturating_sub(FENCE_REPLY_LEN));
                    if !early.is_empty() {
                        let _ = self.to_agent.send(early);
                    }
                }
                continue;
            }
            if let Some(key) = key {
                if self.on_key(key) {
                    // The rest of what was typed answers nothing and reaches no one.
                    return;
                }
            }
        }
    }

    /// Handles one key at the prompt; true when it answered.
    fn on_key(&mut self, key: Key) -> bool {
        let Some(p) = &mut self.prompt else {
            return false;
        };
        if key == Key::FenceReply || p.fenced_until.is_some() {
            return false;
        }
        let answer = match key {
            Key::Yes => (Verdict::Approve, None),
            Key::YesForAWhile => (Verdict::Approve, Some(REMEMBER_SECS)),
            Key::No | Key::Declined | Key::Interrupted => (Verdict::Refuse, None),
            Key::Other | Key::FenceReply | Key::Up | Key::Down | Key::Quit => {
                self.write_out(b"\x07");
                return false;
            }
        };
        self.close_prompt(Some(answer));
        true
    }

    /// Answers (or, with `None`, abandons) the request on screen, gives the agent its screen
    /// back and passes on what it wrote meanwhile.
    fn close_prompt(&mut self, answer: Option<(Verdict, Option<u64>)>) {
        let Some(p) = self.prompt.take() else {
            return;
        };
        let gate_answer = match &self.gated {
            Some((id, _, _)) if *id == p.pending.req.id => {
                self.gated.take().map(|(_, held, _)| held)
            }
            _ => None,
        };
        let approved = matches!(answer, Some((Verdict::Approve, _)));
        if let (Some(state), Some((Verdict::Approve, Some(secs))), true) =
            (&self.remember_in, answer, p.pending.req.enforced)
        {
            // A shell inside the enforced tree cannot write its state: record it for it.
            let req = &p.pending.req;
            let _ = crate::policy::approvals::remember(
                state,
                &crate::policy::approvals::Line::of(req),
                secs,
                crate::audit::approver::SUPERVISOR,
            );
        }
        if let Some((verdict, remember)) = answer {
            p.pending.answer(verdict, remember);
        }
        if let Some(held) = gate_answer {
            // Yes: the Enter goes through. No: the typed line is killed (Ctrl-U), not run.
            let _ = self.to_agent.send(if approved { held } else { vec![0x15] });
        }
        let mut buf = Vec::from(PROMPT_MODES_OFF);
        if p.own_alt {
            buf.extend_from_slice(b"\x1b[?1049l");
            buf.extend_from_slice(p.at_open.input_mode_formatted().as_bytes());
            buf.extend_from_slice(if p.at_open.hide_cursor() {
                b"\x1b[?25l"
            } else {
                b"\x1b[?25h"
            });
        } else {
            buf.extend_from_slice(p.at_open.state_formatted().as_bytes());
            buf.extend_from_slice(p.at_open.cursor_state_formatted().as_bytes());
            buf.extend_from_slice(p.at_open.attributes_formatted().as_bytes());
        }
        let held = std::mem::take(&mut self.held);
        self.boundary.feed_all(&held);
        buf.extend_from_slice(&held);
        self.write_out(&buf);
        terminal::set_prompt_shown(false);
        self.credit.give(held.len());
        terminal::flush_typeahead();
        let now = Instant::now();
        self.discard_input_until = Some(now + AFTER_ANSWER);
        if !self.queue.is_empty() && self.exit_code.is_none() {
            self.want_since = Some(now);
        }
    }
}

/// Whole seconds left, rounded up: "0s" while time remains would look like a hang.
fn remaining_secs(deadline: Instant, now: Instant) -> u64 {
    let left = deadline.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_waits_for_sequences_and_characters() {
        let mut b = Boundary::default();
        assert_eq!(b.until_boundary(b"abc"), Some(0));
        b.feed_all(b"x\x1b[3");
        assert!(!b.at_boundary());
        assert_eq!(b.until_boundary(b"1mtail"), Some(2));
        b.feed_all(b"\x1b]0;title");
        assert_eq!(b.until_boundary(b"more\x07rest"), Some(5));
        b.feed_all(b"\x1b]8;;http://x\x1b");
        assert_eq!(b.until_boundary(b"\\"), Some(1));
        b.feed_all("é".as_bytes().split_at(1).0);
        assert!(!b.at_boundary());
        assert_eq!(b.until_boundary(&"é".as_bytes()[1..]), Some(1));
        b.feed_all(b"\x1b(");
        assert_eq!(b.until_boundary(b"B"), Some(1));
        b.feed_all(b"\x1b[12");
        assert_eq!(b.until_boundary(b"\x18"), Some(1));
    }
}
