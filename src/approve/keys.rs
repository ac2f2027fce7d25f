//! One strict key decoder for every prompt that approves (the terminal prompt, the
//! supervisor's, the watch console's keys are crossterm's): a yes is only ever a literal `y`
//! or `a` typed outside any escape sequence, terminal reply string or bracketed paste.

/// What a key pressed at the prompt means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `y`
    Yes,
    /// `a`: yes, and remember it for a while (at the prompts that offer it).
    YesForAWhile,
    /// `n`, Enter or Esc.
    Declined,
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
                self.other()
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
            b'n' | b'N' | b'\r' | b'\n' => Key::Declined,
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

    fn stop(&mut self) -> Option<Key> {
        self.state = State::Ground;
        Some(Key::Interrupted)
    }
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
        assert_eq!(keys(b"n"), [Key::Declined]);
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
