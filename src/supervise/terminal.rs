//! The human's terminal: raw mode while the agent runs, and putting it back on every way out,
//! a panic included.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Mutex;

use nix::sys::termios::{self, FlushArg, SetArg, Termios};

/// Leaves the prompt's own alternate screen and the input modes it set.
pub const LEAVE_PROMPT: &[u8] = b"\x1b[0m\x1b[?2004l\x1b[<u\x1b[?1049l\x1b[?25h\r\n";

/// What must be undone if the process dies unexpectedly (a panic in any thread).
struct Emergency {
    termios: Option<Termios>,
    socket: Option<PathBuf>,
    prompt_shown: bool,
}

static EMERGENCY: Mutex<Emergency> = Mutex::new(Emergency {
    termios: None,
    socket: None,
    prompt_shown: false,
});

fn with_emergency(f: impl FnOnce(&mut Emergency)) {
    let mut guard = match EMERGENCY.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard);
}

/// A panic anywhere ends the supervisor: the terminal is put back first, so the message is
/// readable and the shell the human returns to works. (The agent loses its terminal and gets
/// SIGHUP from the kernel, as when a terminal window is closed.)
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_now();
        previous(info);
        std::process::exit(101);
    }));
}

/// Undoes whatever is registered, once. Never blocks: a panic may have happened while the
/// lock was held.
pub fn restore_now() {
    let Ok(mut e) = EMERGENCY.try_lock() else {
        return;
    };
    if std::mem::take(&mut e.prompt_shown) {
        let mut out = io::stdout();
        let _ = out.write_all(LEAVE_PROMPT).and_then(|()| out.flush());
    }
    if let Some(saved) = e.termios.take() {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &saved);
    }
    if let Some(socket) = e.socket.take() {
        let _ = std::fs::remove_file(socket);
    }
}

pub fn register_socket(path: Option<PathBuf>) {
    with_emergency(|e| e.socket = path);
}

pub fn set_prompt_shown(shown: bool) {
    with_emergency(|e| e.prompt_shown = shown);
}

/// Raw mode on stdin's terminal: every byte (Ctrl-C, Ctrl-Z, Ctrl-\ included) goes to the
/// agent's pty, whose own line discipline turns them into signals for the agent.
pub struct RawMode {
    saved: Termios,
    raw: Termios,
}

impl RawMode {
    pub fn enter() -> io::Result<RawMode> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        with_emergency(|e| e.termios = Some(saved.clone()));
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode { saved, raw })
    }

    /// After SIGCONT: whoever stopped us may have put the terminal back to cooked mode.
    pub fn reapply(&self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.raw);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
        with_emergency(|e| e.termios = None);
    }
}

/// Discards what was typed but not yet read.
pub fn flush_typeahead() {
    let _ = termios::tcflush(io::stdin().as_fd(), FlushArg::TCIFLUSH);
}
