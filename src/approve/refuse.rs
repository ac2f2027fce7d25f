//! The message an agent reads when a command is refused: which rule, why, what to do next.

use crate::policy::Decided;

use super::sanitize::for_display;

/// Why nothing ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A rule denies it.
    Denied,
    /// It needs a human's approval and nobody could be asked.
    NoOneToAsk,
    /// The human said no (or did not answer).
    Declined,
    TimedOut,
}

/// One short paragraph for stderr. The agent is told to stop, not to find a way around.
pub fn message(d: &Decided, why: Why, request_id: Option<&str>) -> String {
    let Some(first) = d.found.first() else {
        return "shellguard: refused. Nothing was run.\n".into();
    };
    let mut s = format!(
        "shellguard: refused `{}` (rule {}): {}.",
        for_display(shorten(&first.text)),
        first.rule_id,
        first.reason
    );
    let others: Vec<&str> = d.found[1..]
        .iter()
        .filter(|m| m.decision != crate::rules::Decision::Allow)
        .map(|m| m.rule_id.as_str())
        .filter(|id| *id != first.rule_id)
        .collect();
    if !others.is_empty() {
        s.push_str(&format!(" Also matched: {}.", dedup(others).join(", ")));
    }
    s.push_str(" Nothing was run. ");
    s.push_str(match why {
        Why::Denied => "This is denied by policy: if it is really meant, ask the user to run it themselves.",
        Why::NoOneToAsk => "It needs a human's approval and there is no terminal, supervisor or watch console to ask on: ask the user to approve it or to run it themselves.",
        Why::Declined => "The user declined it.",
        Why::TimedOut => "Nobody answered the approval request in time: ask the user about it.",
    });
    if let Some(id) = request_id {
        s.push_str(&later(id));
    }
    s.push_str(" Do not look for another way to do the same thing.");
    if let Some(safer) = &first.suggest {
        s.push_str(&format!(" A safer alternative: {safer}."));
    }
    s.push('\n');
    s
}

/// The sentence that tells the human how to approve request `id` later.
fn later(id: &str) -> String {
    format!(
        " Request id {id}: the user can type `shellguard approve {id}` in their own terminal, after which the identical command, run again from the same directory, goes through."
    )
}

/// `message` for request `id` when the request could not be kept (`why`: a full or
/// read-only state directory): no id nobody could approve, but why approving later is not
/// possible.
pub fn unkept(message: &str, id: &str, why: &str) -> String {
    message.replacen(
        &later(id),
        &format!(
            " Approving it later is not possible: shellguard could not keep the request ({}). The user can fix that, after which running the command again asks anew, or run it themselves.",
            for_display(why)
        ),
        1,
    )
}

fn shorten(s: &str) -> &str {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = Vec::new();
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(*x);
            true
        }
    });
    v
}
