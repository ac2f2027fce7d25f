//! The approval prompt on the controlling terminal.
//!
//! Everything goes through `/dev/tty`, never stdin/stdout: stdin belongs to the agent (reading it
//! would steal the agent's input, and the agent could answer its own question through it), and
//! stdout may be a pipe the agent reads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crossterm::style::{Attribute, Color, ContentStyle, PrintStyledContent, Stylize};
use crossterm::terminal::{Clear, ClearType};
use crossterm::{cursor, queue, style};
use nix::sys::termios::{self, FlushArg, SetArg, Termios};

use super::keys::{Key, KeyReader};
use super::sanitize::{escape, for_display};
use super::{Answer, PromptRequest, Refusal};

/// Asks the human on the controlling terminal whether to run `req.command`.
///
/// Returns an error when there is no terminal to ask (or it fails mid-prompt); the caller must
/// treat that as a refusal. Type-ahead is discarded before asking, so only keys pressed after the
/// prompt appeared count, and keys left over after the answer are discarded too, so they cannot
/// answer whatever the approved command asks next.
pub fn ask(req: &PromptRequest) -> io::Result<Answer> {
    let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    let guard = RawGuard::enter(&tty)?;

    let deadline = Instant::now().checked_add(req.timeout);
    let mut out = &tty;
    draw(&mut out, req)?;
    let mut shown = remaining_secs(deadline);
    draw_question(&mut out, shown)?;
    out.flush()?;

    let mut keys = KeyReader::new(tty.as_fd());
    let answer = loop {
        let now = Instant::now();
        let left = match deadline {
            Some(d) if d <= now => break Answer::No(Refusal::TimedOut),
            Some(d) => Some(d - now),
            None => None,
        };
        // Wake when the displayed whole seconds change, so the countdown stays honest even
        // after an ignored key broke the rhythm.
        let wait = left.map_or(Duration::from_secs(1), |l| {
            let frac = l - Duration::from_secs(l.as_secs());
            if frac.is_zero() {
                l.min(Duration::from_secs(1))
            } else {
                frac
            }
        });
        match keys.next(wait)? {
            Some(Key::Yes) => break Answer::Yes,
            Some(Key::No | Key::Declined) => break Answer::No(Refusal::Declined),
            Some(Key::Interrupted) => break Answer::No(Refusal::Interrupted),
            // This prompt offers no "for a while"; a reply to a query of its own it never sent.
            Some(
                Key::Other | Key::YesForAWhile | Key::FenceReply | Key::Up | Key::Down | Key::Quit,
            ) => {
                // Best effort: a missed beep is no reason to abandon the prompt.
                let _ = out.write_all(b"\x07").and_then(|()| out.flush());
            }
            None => {}
        }
        let secs = remaining_secs(deadline);
        if secs != shown {
            shown = secs;
            draw_question(&mut out, shown)?;
            out.flush()?;
        }
    };

    // The decision is made; failing to print it must not turn it into something else.
    let _ = draw_outcome(&mut out, answer);
    drop(guard);
    Ok(answer)
}

/// Raw mode on the opened tty, undone on every exit path including unwinding.
struct RawGuard<'a> {
    tty: &'a File,
    saved: Termios,
}

impl<'a> RawGuard<'a> {
    fn enter(tty: &'a File) -> io::Result<Self> {
        let saved = termios::tcgetattr(tty.as_fd())?;
        let mut raw = saved.clone();
        // Raw: bytes arrive one by one, Ctrl-C/Ctrl-Z are bytes rather than signals (so the
        // human's "stop" becomes a refusal instead of killing us half-way), no echo.
        termios::cfmakeraw(&mut raw);
        let guard = RawGuard { tty, saved };
        termios::tcsetattr(tty.as_fd(), SetArg::TCSANOW, &raw)?;
        // Keys typed before the question was visible were not answers to it.
        termios::tcflush(tty.as_fd(), FlushArg::TCIFLUSH)?;
        Ok(guard)
    }
}

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        // Colours and cursor first, while still raw, so nothing the shell prints afterwards
        // inherits our styling.
        let _ = reset_style(&mut self.tty);
        // Leftover keys (the "es" of a typed "yes") would otherwise be read by the approved
        // command or the shell as input.
        let _ = termios::tcflush(self.tty.as_fd(), FlushArg::TCIFLUSH);
        let _ = termios::tcsetattr(self.tty.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn reset_style(out: &mut impl Write) -> io::Result<()> {
    queue!(
        out,
        style::SetAttribute(Attribute::Reset),
        style::ResetColor,
        cursor::Show
    )?;
    out.flush()
}

/// The prompt's content: header, command, and each rule with what it touches and a safer
/// way. Shared with the supervisor's prompt, which adds who asked. Every piece of text that
/// came from the request is sanitised.
pub(crate) fn draw(out: &mut impl Write, req: &PromptRequest) -> io::Result<()> {
    queue!(
        out,
        style::SetAttribute(Attribute::Reset),
        style::ResetColor,
        cursor::Show,
        PrintStyledContent(
            "shellguard: this command needs your approval"
                .bold()
                .yellow()
        ),
        style::Print("\r\n")
    )?;
    let shown = elide_lines(&req.command, &req.highlights);
    draw_command(out, &shown.0, &shown.1)?;
    // What the rules asked about, on its own, after the agent's wrapper around it: on a long
    // line (Codex's snapshot prelude runs to a hundred lines) it is what the human must see.
    let mut parts: Vec<&str> = req
        .highlights
        .iter()
        .filter_map(|r| req.command.get(r.clone()))
        .filter(|p| !p.is_empty())
        .collect();
    parts.dedup();
    if !parts.is_empty() && parts.iter().map(|p| p.len()).sum::<usize>() < req.command.trim().len()
    {
        for p in parts {
            queue!(out, PrintStyledContent("  asked about:".bold()))?;
            let whole = std::iter::once(0..p.len()).collect::<Vec<_>>();
            draw_command(out, p, &whole)?;
        }
    }
    for m in &req.matches {
        queue!(
            out,
            style::Print("  "),
            PrintStyledContent(format!("rule {}", for_display(&m.rule_id)).bold()),
            style::Print(format!(": {}\r\n", for_display(&m.reason)))
        )?;
        if !m.touches.is_empty() {
            let touches: Vec<String> = m.touches.iter().map(|t| for_display(t)).collect();
            queue!(
                out,
                style::Print(format!("    touches: {}\r\n", touches.join(", ")))
            )?;
        }
        if let Some(s) = &m.suggestion {
            queue!(
                out,
                style::Print("    "),
                PrintStyledContent("safer:".green()),
                style::Print(format!(" {}\r\n", for_display(s)))
            )?;
        }
    }
    Ok(())
}

/// Lines shown of a long command: the first and last few, and every line a rule asked about.
const KEEP_LINES: usize = 3;
const LONG_COMMAND: usize = 12;

/// `command` with the middle of a long text left out where no rule asked about anything, and
/// the highlight ranges moved to match.
fn elide_lines(
    command: &str,
    highlights: &[std::ops::Range<usize>],
) -> (String, Vec<std::ops::Range<usize>>) {
    let lines: Vec<(usize, &str)> = command
        .split('\n')
        .scan(0usize, |at, l| {
            let start = *at;
            *at += l.len() + 1;
            Some((start, l))
        })
        .collect();
    if lines.len() <= LONG_COMMAND {
        return (command.to_string(), highlights.to_vec());
    }
    let asked = |start: usize, len: usize| {
        highlights
            .iter()
            .any(|r| r.start < start + len.max(1) && start < r.end)
    };
    let mut out = String::new();
    let mut moved = Vec::new();
    let mut skipped = 0usize;
    let n = lines.len();
    for (i, (start, line)) in lines.iter().enumerate() {
        let keep = i < KEEP_LINES || i + KEEP_LINES >= n || asked(*start, line.len());
        if !keep {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push_str(&format!("… {skipped} lines no rule asked about …\n"));
            skipped = 0;
        }
        let at = out.len();
        for r in highlights {
            let (a, b) = (r.start.max(*start), r.end.min(start + line.len()));
            if a < b {
                moved.push(at + a - start..at + b - start);
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    (out, moved)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    Plain,
    Escaped,
    LineBreak,
}

/// The command, escaped, with highlighted byte ranges of the original string. Highlighting is
/// decided per original character, before escaping, so ranges stay meaningful however much a
/// character grows; a range that cuts into a character highlights the whole character.
fn draw_command(
    out: &mut impl Write,
    command: &str,
    highlights: &[std::ops::Range<usize>],
) -> io::Result<()> {
    let highlighted = |start: usize, len: usize| {
        highlights
            .iter()
            .any(|r| r.start < r.end && r.start < start + len && start < r.end)
    };

    // Runs of characters that share a style, flushed when the style changes.
    let mut run = String::new();
    let mut run_style: Option<(Piece, bool)> = None;
    queue!(out, style::Print("  $ "))?;
    for (i, c) in command.char_indices() {
        let hl = highlighted(i, c.len_utf8());
        let (piece, text) = match escape(c) {
            Some(_) if c == '\n' => (Piece::LineBreak, "\r\n    ".to_owned()),
            Some(esc) => (Piece::Escaped, esc),
            None => (Piece::Plain, c.to_string()),
        };
        // A line break never carries highlight colour into the indentation.
        let key = (piece, hl && piece != Piece::LineBreak);
        if run_style != Some(key) {
            if let Some(prev) = run_style {
                emit_run(out, prev, &run)?;
            }
            run.clear();
            run_style = Some(key);
        }
        run.push_str(&text);
    }
    if let Some(prev) = run_style {
        emit_run(out, prev, &run)?;
    }
    queue!(out, style::Print("\r\n"))
}

fn emit_run(out: &mut impl Write, (piece, hl): (Piece, bool), text: &str) -> io::Result<()> {
    let mut st = ContentStyle::new();
    if piece == Piece::Escaped {
        // Sets escapes apart from literal backslashes typed in the command.
        st = st.magenta().underlined();
    }
    if hl {
        st = st.red().bold().reverse();
    }
    queue!(out, PrintStyledContent(st.apply(text)))
}

fn remaining_secs(deadline: Option<Instant>) -> Option<u64> {
    deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now());
        // Round up: "0s" while time remains would look like a hang.
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    })
}

fn draw_question(out: &mut impl Write, secs: Option<u64>) -> io::Result<()> {
    draw_question_with(out, "y/N", secs)
}

/// The question line with its countdown, redrawn in place; `choices` lists the keys
/// (`y/N`, or the supervisor's `y/a/N`).
pub(crate) fn draw_question_with(
    out: &mut impl Write,
    choices: &str,
    secs: Option<u64>,
) -> io::Result<()> {
    let countdown = secs.map(|s| format!(" ({s}s)")).unwrap_or_default();
    queue!(
        out,
        style::Print("\r"),
        Clear(ClearType::UntilNewLine),
        PrintStyledContent("Run it?".bold()),
        style::Print(format!(" [{choices}]{countdown} "))
    )
}

fn draw_outcome(out: &mut impl Write, answer: Answer) -> io::Result<()> {
    let (word, color) = match answer {
        Answer::Yes => ("approved", Color::Green),
        Answer::No(Refusal::Declined) => ("refused", Color::Red),
        Answer::No(Refusal::Interrupted) => ("refused (interrupted)", Color::Red),
        Answer::No(Refusal::TimedOut) => ("refused (no answer in time)", Color::Red),
    };
    queue!(
        out,
        style::Print("\r"),
        Clear(ClearType::UntilNewLine),
        PrintStyledContent("Run it?".bold()),
        style::Print(" [y/N] "),
        PrintStyledContent(word.with(color).bold()),
        style::Print("\r\n")
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    #[test]
    fn drawing_survives_any_highlight_ranges() {
        let command = "a\u{202e}é\n\x1b[2J🚀z";
        let len = command.len();
        let edges: Vec<usize> = (0..=len + 2).chain([usize::MAX - 1, usize::MAX]).collect();
        for &start in &edges {
            for &end in &edges {
                let mut out = Vec::new();
                draw_command(
                    &mut out,
                    command,
                    &[start..end, Range { start: 3, end: 1 }, 0..0],
                )
                .unwrap();
                let text = String::from_utf8(out).unwrap();
                assert!(!text.contains('\u{202e}'), "{start}..{end}: {text:?}");
                assert!(!text.contains("\x1b[2J"), "{start}..{end}: {text:?}");
                assert!(
                    text.contains("\\u{202e}") && text.contains("\\e"),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn a_long_line_keeps_what_was_asked_about() {
        let mut command: String = (0..40).map(|i| format!("X{i}=1\n")).collect();
        let at = command.len();
        command.push_str("exec /bin/bash -c 'rm -r ~/p'");
        let hl: Vec<std::ops::Range<usize>> = std::iter::once(at + 19..at + 28).collect();
        let (shown, moved) = elide_lines(&command, &hl);
        assert!(
            shown.starts_with("X0=1\nX1=1\nX2=1\n… 35 lines no rule asked about …\n"),
            "{shown}"
        );
        assert!(shown.ends_with("exec /bin/bash -c 'rm -r ~/p'"), "{shown}");
        assert_eq!(&shown[moved[0].clone()], "rm -r ~/p");
        // Short lines are shown whole.
        assert_eq!(elide_lines("a\nb", &[]).0, "a\nb");
    }

    #[test]
    fn countdown_rounds_up() {
        assert_eq!(remaining_secs(None), None);
        let soon = Instant::now() + Duration::from_millis(1500);
        assert_eq!(remaining_secs(Some(soon)), Some(2));
        let past = Instant::now();
        assert_eq!(remaining_secs(Some(past)), Some(0));
    }
}
