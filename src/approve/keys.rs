//! One strict key decoder for every prompt that approves (the terminal prompt, the
//! supervisor's, the watch console, `approve` and `trust --tools`): a yes is only ever a
//! literal `y` or `a` typed outside any escape sequence, terminal reply string or bracketed
//! paste.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};

/// What a key pressed at the prompt means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `y`
    Yes,
    /// `a`: yes, and remember it for a while (at the prompts that offer it).
    YesForAWhile,
    /// `n`.
    No,
    /// Enter or Esc: a refusal at the prompts, nothing at the watch console.
    Declined,
    /// Up arrow or `k`; Down arrow or `j`; `q`: the watch console's keys, nothing elsewhere.
    Up,
    Down,
    Quit,
    /// Ctrl-C, Ctrl-D, Ctrl-Z or Ctrl-\.
    Interrupted,
    /// The terminal's answer to the supervisor's own status query (`ESC [ 0 n`): everything
    /// before it was typed, or sent by the terminal, before the prompt was on the screen.
    FenceReply,
    /// Any other key: not an answer.
    Other,
}

/// Longest CSI parameter string kept; longer sequences are dropped whole.
const MAX_SEQ: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Esc,
    Csi,
    /// `ESC O`: one more byte (arrows and keypad in application mode).
    Ss3,
    /// OSC, DCS, SOS, PM or APC string: skipped whole up to BEL or ST, however long. Terminal
    /// replies (a window title report, a clipboard read) arrive as such strings, and their
    /// contents must never count as keys.
    Str,
    StrEsc,
    /// Raw bytes of an X10 mouse report (`ESC [ M` and three bytes, any of which may be `y`).
    Mouse(u8),
}

/// Turns the raw bytes from the human's terminal into keys. Yes is only ever a literal `y` or
/// `a` typed outside any escape sequence or bracketed paste; everything that is not clearly a
/// key is ignored, and the keys a human presses to stop things always refuse.
#[derive(Debug)]
pub struct KeyDecoder {
    state: State,
    params: Vec<u8>,
    pasting: bool,
}

impl Default for KeyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyDecoder {
    pub fn new() -> Self {
        KeyDecoder {
            state: State::Ground,
            params: Vec::new(),
            pasting: false,
        }
    }

    /// Whether the last byte was an ESC that is a lone Esc press unless more follows at once.
    pub fn awaiting_escape(&self) -> bool {
        matches!(self.state, State::Esc | State::StrEsc)
    }

    /// Nothing followed within the grace time: an ESC on its own was the Esc key, and a half
    /// key sequence is dropped.
    pub fn idle(&mut self) -> Option<Key> {
        match self.state {
            State::Esc | State::StrEsc => {
                self.state = State::Ground;
                (!self.pasting).then_some(Key::Declined)
            }
            State::Csi | State::Ss3 | State::Mouse(_) => {
                self.state = State::Ground;
                None
            }
            State::Ground | State::Str => None,
        }
    }

    pub fn feed(&mut self, b: u8) -> Option<Key> {
        match self.state {
            State::Ground => self.ground(b),
            State::Esc => self.after_esc(b),
            State::Csi => self.csi(b),
            State::Ss3 => {
                self.state = State::Ground;
                match b {
                    b'A' => self.arrow(Key::Up),
                    b'B' => self.arrow(Key::Down),
                    _ => self.other(),
                }
            }
            State::Str => {
                match b {
                    0x07 | 0x18 | 0x1a => self.state = State::Ground,
                    0x1b => self.state = State::StrEsc,
                    0x03 | 0x04 | 0x1c => return self.stop(),
                    _ => {}
                }
                None
            }
            State::StrEsc => {
                if b == b'\\' {
                    self.state = State::Ground;
                    None
                } else {
                    // An ESC inside a string ends it and begins a new sequence.
                    self.state = State::Esc;
                    self.after_esc(b)
                }
            }
            State::Mouse(n) => {
                self.state = if n > 1 {
                    State::Mouse(n - 1)
                } else {
                    State::Ground
                };
                None
            }
        }
    }

    fn ground(&mut self, b: u8) -> Option<Key> {
        if b == 0x1b {
            self.state = State::Esc;
            return None;
        }
        if self.pasting {
            // Pasted text is not an answer, however many `y`s it holds.
            return None;
        }
        Some(match b {
            b'y' | b'Y' => Key::Yes,
            b'a' | b'A' => Key::YesForAWhile,
            b'n' | b'N' => Key::No,
            b'\r' | b'\n' => Key::Declined,
            b'k' => Key::Up,
            b'j' => Key::Down,
            b'q' | b'Q' => Key::Quit,
            0x03 | 0x04 | 0x1a | 0x1c => Key::Interrupted,
            _ => Key::Other,
        })
    }

    fn after_esc(&mut self, b: u8) -> Option<Key> {
        match b {
            b'[' => {
                self.params.clear();
                self.state = State::Csi;
                None
            }
            b'O' => {
                self.state = State::Ss3;
                None
            }
            b']' | b'P' | b'X' | b'^' | b'_' => {
                self.state = State::Str;
                None
            }
            // ESC ESC: the first was a lone Esc press.
            0x1b => (!self.pasting).then_some(Key::Declined),
            0x03 | 0x04 | 0x1a | 0x1c => self.stop(),
            // Alt+key arrives as ESC then the key: not an answer.
            _ => {
                self.state = State::Ground;
                self.other()
            }
        }
    }

    fn csi(&mut self, b: u8) -> Option<Key> {
        match b {
            0x40..=0x7e => {
                self.state = State::Ground;
                self.csi_final(b)
            }
            0x18 | 0x1a => {
                self.state = State::Ground;
                None
            }
            0x03 | 0x04 | 0x1c => self.stop(),
            0x1b => {
                self.state = State::Esc;
                None
            }
            _ => {
                if self.params.len() >= MAX_SEQ {
                    // Too long to be a key: drop it, and what remains of it is ignored as
                    // ordinary bytes would be, which cannot approve (no letters in parameters).
                    self.state = State::Ground;
                } else {
                    self.params.push(b);
                }
                None
            }
        }
    }

    fn csi_final(&mut self, fin: u8) -> Option<Key> {
        let params = std::mem::take(&mut self.params);
        match (fin, params.as_slice()) {
            (b'~', b"200") => {
                self.pasting = true;
                None
            }
            (b'~', b"201") => {
                self.pasting = false;
                None
            }
            (b'n', b"0" | b"3") => Some(Key::FenceReply),
            (b'A', b"") => self.arrow(Key::Up),
            (b'B', b"") => self.arrow(Key::Down),
            (b'M', b"") => {
                self.state = State::Mouse(3);
                None
            }
            // Kitty keyboard protocol, in case the terminal still has it on: Esc, Enter and
            // Ctrl-C refuse; nothing in this form approves.
            (b'u', p) if !self.pasting => {
                let text = String::from_utf8_lossy(p);
                let mut parts = text.split(';');
                let code = parts
                    .next()
                    .and_then(|c| c.split(':').next()?.parse::<u32>().ok());
                let mods = parts
                    .next()
                    .and_then(|m| m.split(':').next()?.parse::<u32>().ok())
                    .unwrap_or(1);
                let ctrl = mods.saturating_sub(1) & 4 != 0;
                Some(match code {
                    Some(27 | 13) => Key::Declined,
                    Some(99 | 100 | 122 | 92) if ctrl => Key::Interrupted,
                    _ => Key::Other,
                })
            }
            _ => self.other(),
        }
    }

    fn other(&self) -> Option<Key> {
        (!self.pasting).then_some(Key::Other)
    }

    fn arrow(&self, k: Key) -> Option<Key> {
        (!self.pasting).then_some(k)
    }

    fn stop(&mut self) -> Option<Key> {
        self.state = State::Ground;
        Some(Key::Interrupted)
    }
}

/// How long a lone ESC waits for the rest of an escape sequence. Terminals send a key's whole
/// sequence in one burst; a human cannot type the next key this fast.
const ESC_GRACE: Duration = Duration::from_millis(30);

/// Keys from a raw terminal's byte stream, through the decoder. Reads one byte at a time so
/// that whatever follows an answer stays in the kernel's queue, where the prompt's flush
/// discards it. A terminal that hangs up (end of file, `POLLHUP`) is an error: nobody is left
/// to answer.
pub struct KeyReader<'a> {
    fd: BorrowedFd<'a>,
    decoder: KeyDecoder,
}

impl<'a> KeyReader<'a> {
    pub fn new(fd: BorrowedFd<'a>) -> Self {
        KeyReader {
            fd,
            decoder: KeyDecoder::new(),
        }
    }

    /// The next key, or `None` if `wait` passed without one.
    pub fn next(&mut self, wait: Duration) -> io::Result<Option<Key>> {
        let deadline = Instant::now() + wait;
        loop {
            // A lone ESC is the Esc key unless the rest of a sequence follows at once.
            let left = if self.decoder.awaiting_escape() {
                ESC_GRACE
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match self.read_byte(left)? {
                Some(b) => {
                    if let Some(k) = self.decoder.feed(b) {
                        return Ok(Some(k));
                    }
                }
                None if self.decoder.awaiting_escape() => {
                    if let Some(k) = self.decoder.idle() {
                        return Ok(Some(k));
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// One byte if it arrives within `wait`.
    fn read_byte(&mut self, wait: Duration) -> io::Result<Option<u8>> {
        let start = Instant::now();
        loop {
            let left = wait.saturating_sub(start.elapsed());
            // Round up so a sub-millisecond remainder waits instead of spinning.
            let ms = left.as_micros().div_ceil(1000).min(u128::from(u16::MAX));
            let ms = u16::try_from(ms).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.fd, PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                // A signal that ends the shell ends the wait (`sys::interruptible`); another,
                // such as SIGWINCH (window resized), does not.
                Err(nix::errno::Errno::EINTR) if crate::sys::interrupted().is_some() => {
                    return Err(io::Error::from(io::ErrorKind::Interrupted))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(0) => return Ok(None),
                Ok(_) => {}
            }
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            if !revents.intersects(PollFlags::POLLIN) {
                if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
                {
                    return Err(hung_up());
                }
                continue;
            }
            let mut byte = [0u8; 1];
            match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), &mut byte) {
                Ok(0) => return Err(hung_up()),
                Ok(_) => return Ok(Some(byte[0])),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Asks `question` (one line) on the terminal and waits for one key, read through the
/// decoder from `input` (the terminal, in raw mode only while waiting). `y` is yes; `n`,
/// Enter, Esc and Ctrl-C are no; keys typed before the question was shown, a terminal's
/// replies and pasted text count for nothing. `output` (the same terminal) shows the question
/// and then the answer.
pub fn confirm(input: BorrowedFd, output: &mut impl io::Write, question: &str) -> io::Result<bool> {
    use nix::sys::termios::{self, FlushArg, SetArg};
    let saved = termios::tcgetattr(input)?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(input, SetArg::TCSANOW, &raw)?;
    termios::tcflush(input, FlushArg::TCIFLUSH)?;
    // Bracketed paste on, so that a pasted `y` arrives marked as pasted.
    let _ = write!(output, "\x1b[?2004h{question}").and_then(|()| output.flush());
    let mut keys = KeyReader::new(input);
    let answer = loop {
        match keys.next(Duration::from_secs(60)) {
            Ok(Some(Key::Yes)) => break Ok(true),
            Ok(Some(Key::No | Key::Declined | Key::Interrupted)) => break Ok(false),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    let _ = output.write_all(b"\x1b[?2004l");
    let _ = termios::tcflush(input, FlushArg::TCIFLUSH);
    termios::tcsetattr(input, SetArg::TCSANOW, &saved)?;
    let _ = writeln!(
        output,
        "{}",
        if matches!(answer, Ok(true)) { "y" } else { "n" }
    );
    answer
}

fn hung_up() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal hung up")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut d = KeyDecoder::new();
        let mut out: Vec<Key> = bytes.iter().filter_map(|&b| d.feed(b)).collect();
        out.extend(d.idle());
        out
    }

    #[test]
    fn plain_answers() {
        assert_eq!(keys(b"y"), [Key::Yes]);
        assert_eq!(keys(b"A"), [Key::YesForAWhile]);
        assert_eq!(keys(b"n"), [Key::No]);
        assert_eq!(keys(b"\r"), [Key::Declined]);
        assert_eq!(keys(b"\x03"), [Key::Interrupted]);
        assert_eq!(keys(b"\x1b"), [Key::Declined]);
        assert_eq!(keys(b"x"), [Key::Other]);
    }

    #[test]
    fn terminal_replies_never_approve() {
        // Window title report, clipboard read, DECRQSS, X10 mouse at column 89, DA1.
        for reply in [
            &b"\x1b]lyy\x1b\\"[..],
            b"\x1b]52;c;eXl5\x07",
            b"\x1bP1$ryy\x1b\\",
            b"\x1b[Myyy",
            b"\x1b[?62;22c",
            b"\x1b[200~yyy\x1b[201~",
            b"\x1bOy",
            b"\x1by",
        ] {
            let k = keys(reply);
            assert!(
                !k.contains(&Key::Yes) && !k.contains(&Key::YesForAWhile),
                "{reply:?}: {k:?}"
            );
        }
    }

    #[test]
    fn stop_keys_refuse_even_inside_a_sequence() {
        assert_eq!(keys(b"\x1b]ab\x03"), [Key::Interrupted]);
        assert_eq!(keys(b"\x1b[12\x03"), [Key::Interrupted]);
        assert_eq!(keys(b"\x1b[99;5u"), [Key::Interrupted]);
        assert_eq!(keys(b"\x1b[27u"), [Key::Declined]);
    }

    #[test]
    fn fence_reply_is_recognised() {
        assert_eq!(keys(b"\x1b[0ny"), [Key::FenceReply, Key::Yes]);
    }
}
