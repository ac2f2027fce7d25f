//! Asking a human: the terminal prompt, and the refusal message when nobody can be asked.
pub mod broker;
pub mod keys;
pub mod procs;
pub mod protocol;
pub mod refuse;
pub mod sanitize;
pub mod tty;
pub mod watch;

use std::ops::Range;
use std::time::Duration;

/// Everything the prompt shows about one command that needs an answer.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The whole command line as the agent gave it (not yet sanitised).
    pub command: String,
    /// Byte ranges of `command` that the matched rules point at (highlighted).
    pub highlights: Vec<Range<usize>>,
    /// One entry per matched rule, strictest first.
    pub matches: Vec<PromptMatch>,
    /// How long to wait for an answer before refusing.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct PromptMatch {
    pub rule_id: String,
    pub reason: String,
    pub suggestion: Option<String>,
    /// What the command would touch: resolved paths, resources.
    pub touches: Vec<String>,
}

/// The human's answer. Every way of not saying yes is a refusal, and says which.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `n`, Enter or Esc.
    Declined,
    /// Ctrl-C (or Ctrl-Z / Ctrl-\ / Ctrl-D) at the prompt.
    Interrupted,
    /// Nobody answered in time.
    TimedOut,
}
