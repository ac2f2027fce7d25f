//! The broker protocol: how a guarded shell asks a supervisor (`shellguard run`) or a watch
//! console (`shellguard watch`) for a human's answer.
//!
//! One JSON object per line over a Unix stream socket. The guarded shell connects, sends one
//! `Request`, and waits for one `Answer` carrying the same id and nonce. The server only
//! answers what a human decided at its own keyboard; there is no message by which a client
//! approves anything.

use serde::{Deserialize, Serialize};

/// Environment variable naming the supervisor's socket (set by `shellguard run`).
pub const SUPERVISOR_ENV: &str = "SHELLGUARD_SUPERVISOR";

/// One matched rule, as shown to the human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub reason: String,
    pub decision: String,
    #[serde(default)]
    pub suggest: Option<String>,
    #[serde(default)]
    pub touches: Vec<String>,
}

/// The rules of `d` a human is asked about (those that do not allow it), and where each is
/// in the command.
pub fn asked_about(d: &crate::policy::Decided) -> (Vec<RuleInfo>, Vec<(usize, usize)>) {
    let strict = d
        .found
        .iter()
        .filter(|m| m.decision != crate::rules::Decision::Allow);
    strict
        .map(|m| {
            let rule = RuleInfo {
                id: m.rule_id.clone(),
                reason: m.reason.clone(),
                decision: m.decision.as_str().to_string(),
                suggest: m.suggest.clone(),
                touches: m.touches.clone(),
            };
            (rule, (m.span.start, m.span.end))
        })
        .unzip()
}

/// A guarded shell's question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Short id shown to the human and named in the refusal (`shellguard approve ID`).
    pub id: String,
    /// Random, echoed in the answer: an answer for another request cannot be replayed.
    pub nonce: String,
    pub command: String,
    pub cwd: String,
    /// What the command would do that needs a human (`policy::approvals::what`), so that an
    /// approval to remember also lets through a retry that does the same in other words.
    #[serde(default)]
    pub what: Option<String>,
    /// The agent detected from the environment (`claude-code`, `codex`, …), if any.
    #[serde(default)]
    pub agent: Option<String>,
    pub rules: Vec<RuleInfo>,
    /// Byte ranges of `command` to highlight.
    #[serde(default)]
    pub highlights: Vec<(usize, usize)>,
    /// Process id of the asking shell.
    pub pid: u32,
    /// Seconds the shell will wait before refusing on its own.
    pub wait_secs: u64,
    /// The shell runs inside an enforced `shellguard run`, where it cannot write shellguard's
    /// state: the server records an approval it is told to remember.
    #[serde(default)]
    pub enforced: bool,
}

/// What the human said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Refuse,
    Timeout,
}

/// The server's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub id: String,
    pub nonce: String,
    pub verdict: Verdict,
    /// "Allow for N minutes": the identical command in the same directory passes without
    /// asking until then.
    #[serde(default)]
    pub remember_secs: Option<u64>,
}

/// Reads one line (without its newline) from `stream`, as a server reads a client: the whole
/// line must arrive within `within` and be at most `max` bytes, else `None` (and the caller
/// drops the connection). A connection closed before the newline is `None` too.
pub fn read_line_within(
    stream: &std::os::unix::net::UnixStream,
    within: std::time::Duration,
    max: usize,
) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut line = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut reader = stream;
    loop {
        let left = within.checked_sub(start.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let n = match reader.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        if let Some(end) = chunk[..n].iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            return (line.len() <= max).then_some(line);
        }
        line.extend_from_slice(&chunk[..n]);
        if line.len() > max {
            return None;
        }
    }
}

/// A fresh request id: short enough to type, random enough not to collide.
pub fn new_id() -> String {
    let mut b = [0u8; 4];
    fill_random(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn new_nonce() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    // No /dev/urandom: time and pid still make ids distinct, if guessable.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        ^ u128::from(std::process::id());
    for (i, x) in buf.iter_mut().enumerate() {
        *x = (seed >> ((i % 16) * 8)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_one_json_line() {
        let r = Request {
            id: new_id(),
            nonce: new_nonce(),
            command: "rm -rf ~/x\nmore".into(),
            cwd: "/p".into(),
            what: None,
            agent: Some("claude-code".into()),
            rules: vec![RuleInfo {
                id: "fs.rm-recursive".into(),
                reason: "r".into(),
                decision: "confirm".into(),
                suggest: None,
                touches: vec![],
            }],
            highlights: vec![(0, 9)],
            pid: 1,
            wait_secs: 100,
            enforced: false,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
        assert_eq!(r.id.len(), 8);
        assert_ne!(new_nonce(), new_nonce());
    }
}
