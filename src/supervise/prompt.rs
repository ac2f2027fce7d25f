//! The supervisor's prompt: what the human sees, and which keys answer it.
//!
//! The content is the same as the `/dev/tty` prompt's (`crate::approve::tty`): the command
//! sanitised with the rules' highlights, each rule's id and reason, what it touches and a safer
//! alternative. The supervisor adds who asked (agent, pid, request id, directory) and a third
//! answer, "allow for 10 minutes".
//!
//! The content itself is drawn by `approve::tty::draw`. The key decoder here is stricter than
//! tty.rs's (terminal replies such as title reports are never read as keys).

use std::io::{self, Write};
use std::time::Duration;

use crossterm::style::{PrintStyledContent, Stylize};
use crossterm::{queue, style};

use crate::approve::protocol::Request;
use crate::approve::sanitize::for_display;
use crate::approve::{PromptMatch, PromptRequest};

/// "Allow for N minutes" at the prompt: the `a` key.
pub const REMEMBER_SECS: u64 = 600;

/// Who asked, shown under the rules.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// The request id, as named in a refusal (`shellguard approve ID`).
    pub id: &'a str,
    /// The asking shell's working directory.
    pub cwd: &'a str,
    pub agent: Option<&'a str>,
    pub pid: u32,
}

impl<'a> About<'a> {
    pub fn of(req: &'a Request) -> Self {
        About {
            id: &req.id,
            cwd: &req.cwd,
            agent: req.agent.as_deref(),
            pid: req.pid,
        }
    }
}

/// The broker's request as the prompt shows it.
pub fn prompt_request(req: &Request, timeout: Duration) -> PromptRequest {
    PromptRequest {
        command: req.command.clone(),
        highlights: req.highlights.iter().map(|&(s, e)| s..e).collect(),
        matches: req
            .rules
            .iter()
            .map(|r| PromptMatch {
                rule_id: r.id.clone(),
                reason: r.reason.clone(),
                suggestion: r.suggest.clone(),
                touches: r.touches.clone(),
            })
            .collect(),
        timeout,
    }
}

/// The whole prompt except the question line, from the current cursor position. Every piece of
/// text that came from the request is sanitised: the agent chooses the command, and could
/// otherwise draw over the prompt.
pub fn draw_prompt(out: &mut impl Write, req: &PromptRequest, about: &About) -> io::Result<()> {
    crate::approve::tty::draw(out, req)?;
    let agent = about.agent.map(for_display);
    let asker = match agent {
        Some(a) => format!("{a} (pid {})", about.pid),
        None => format!("pid {}", about.pid),
    };
    queue!(
        out,
        style::Print(format!("  in {}\r\n", for_display(about.cwd))),
        style::Print(format!(
            "  asked by {asker}, request {}\r\n",
            for_display(about.id)
        )),
        style::Print("  "),
        PrintStyledContent("y".bold()),
        style::Print(" run it   "),
        PrintStyledContent("a".bold()),
        style::Print(format!(
            " run it, and allow it here for {} min   ",
            REMEMBER_SECS / 60
        )),
        PrintStyledContent("n".bold()),
        style::Print(" do not run it\r\n")
    )?;
    Ok(())
}

/// The question line with its countdown, redrawn in place (with the `a` choice).
pub fn draw_question(out: &mut impl Write, secs: Option<u64>) -> io::Result<()> {
    crate::approve::tty::draw_question_with(out, "y/a/N", secs)
}

pub use crate::approve::keys::{Key, KeyDecoder};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_shows_everything_sanitised() {
        let req = Request {
            id: "ab\x1b[2J".into(),
            nonce: "n".into(),
            command: "rm -rf ~/x\x1b[2J".into(),
            cwd: "/p\u{202e}".into(),
            what: None,
            agent: Some("codex\x07".into()),
            rules: vec![crate::approve::protocol::RuleInfo {
                id: "fs.rm".into(),
                reason: "deletes\x1b]0;t\x07".into(),
                decision: "confirm".into(),
                suggest: Some("trash ~/x".into()),
                touches: vec!["/home/u/x".into()],
            }],
            highlights: vec![(7, 10)],
            pid: 42,
            wait_secs: 10,
            enforced: false,
        };
        let mut out = Vec::new();
        draw_prompt(
            &mut out,
            &prompt_request(&req, Duration::from_secs(1)),
            &About::of(&req),
        )
        .unwrap();
        draw_question(&mut out, Some(9)).unwrap();
        let text = String::from_utf8(out).unwrap();
        for bad in ["\x1b[2J", "\u{202e}", "\x07", "\x1b]0"] {
            assert!(!text.contains(bad), "{bad:?} in {text:?}");
        }
        for good in [
            "fs.rm",
            "/home/u/x",
            "trash ~/x",
            "pid 42",
            "codex",
            "/p",
            "(9s)",
            "10 min",
        ] {
            assert!(text.contains(good), "{good:?} missing from {text:?}");
        }
    }
}
