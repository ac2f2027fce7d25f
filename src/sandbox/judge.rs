//! The exec gate's judge: a process of its own, `shellguard __exec-judge`, that the
//! supervisor hands each held exec's argument vector to and that answers with the same
//! judgement the guard gives the same words written in a shell.
//!
//! Why a process and not a thread of the supervisor: the analysis of hostile input is bounded
//! the way the guard bounds it (a timer, a heap cap and a stack-overflow handler that end the
//! process), which is only safe in a process that has nothing else to lose. If the judge dies
//! on an input, that exec is refused as too complex and the next one gets a new judge; the
//! supervisor, and with it the agent's whole tree, never goes down with it.
//!
//! One JSON line each way per exec over the judge's stdin and stdout.

use std::io::{self, BufRead, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use serde::{Deserialize, Serialize};

use crate::analyze::Context;
use crate::approve::protocol::{self, RuleInfo};
use crate::approve::refuse::{self, Why};
use crate::audit::{self, approver, ExecOrigin};
use crate::guard::{judge, path_context};
use crate::policy::{approvals, Policy};
use crate::rules::Decision;

/// The hidden subcommand the supervisor starts the judge with.
pub const SUBCOMMAND: &str = "__exec-judge";

/// Longest the supervisor waits for one answer before it gives the judge up for stuck. The
/// judge's own analysis limit is 1.5 s; loading a configuration is the rest.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// One exec to judge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    /// The argument vector under each name the program goes by (the path it was called by,
    /// the file that path leads to, its `argv[0]`): the strictest judgement counts.
    pub variants: Vec<Vec<String>>,
    /// Some argument was not UTF-8 text: whatever else, a human must look.
    pub unreadable: bool,
    pub cwd: String,
    pub origin: ExecOrigin,
}

/// The refusal paragraphs the caller's stderr may get, by what happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Refusals {
    pub denied: String,
    pub declined: String,
    pub timed_out: String,
    pub no_one: String,
}

/// The judgement of one exec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub decision: Decision,
    /// The words judged, as shell text: what the human is shown, and the key an approval is
    /// remembered under.
    pub command: String,
    /// What it would do that needs a human (`approvals::what`): the second key of an
    /// approval to remember.
    #[serde(default)]
    pub what: Option<String>,
    /// Who already let it run without asking (observe mode, an approval remembered).
    pub approved_by: Option<String>,
    /// The rules that did not allow it, for the prompt and for grants.
    pub rules: Vec<RuleInfo>,
    pub highlights: Vec<(usize, usize)>,
    /// The audit record (outcome still to fill in), when any rule matched.
    pub record: Option<audit::Record>,
    /// For a refusal: the request id a human can approve later, and the paragraphs.
    pub id: Option<String>,
    pub refusals: Option<Refusals>,
    pub wait_secs: u64,
    /// Every name the program goes by is one no rule can match here, whatever the arguments
    /// (`Policy::quiet_program`): the gate may let it through in this directory without
    /// asking again for a while.
    pub quiet: bool,
}

impl Answer {
    /// Appends the audit record, when there is one, with what happened. A log that cannot be
    /// written never changes what the exec gate answers.
    pub fn log(&self, audit_log: &Path, outcome: &str, by: Option<&str>, id: Option<&str>) {
        if let Some(mut rec) = self.record.clone() {
            rec.outcome = outcome.into();
            rec.approved_by = by.map(str::to_string);
            rec.request_id = id.map(str::to_string);
            if let Err(e) = audit::append(audit_log, &rec) {
                audit::report_lost(audit_log, &e);
            }
        }
    }
}

/// Entry point of `shellguard __exec-judge`: answers queries on stdin until it closes.
pub fn judge_main() -> u8 {
    let stdin = io::stdin();
    let mut out = io::stdout().lock();
    let ctx = Context::from_process();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return 0 };
        let Ok(q) = serde_json::from_str::<Query>(&line) else {
            return 2;
        };
        let a = answer(&q, &ctx);
        let Ok(mut bytes) = serde_json::to_vec(&a) else {
            return 1;
        };
        bytes.push(b'\n');
        if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
            return 0;
        }
    }
    0
}

/// Shell text for `words`, each quoted so the shell reads it back as that one word.
pub fn as_text(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The judgement of `q` in the judge's own environment (the human's: `HOME` and `TMPDIR`
/// for path classes come from there, not from the agent's).
pub fn answer(q: &Query, base: &Context) -> Answer {
    let mut ctx = base.clone();
    ctx.cwd = Some(PathBuf::from(&q.cwd));
    let paths = path_context(&ctx);
    let policy = Policy::load(&ctx, &paths);
    let mut best: Option<(String, crate::guard::Judgement)> = None;
    for words in &q.variants {
        let text = as_text(words);
        let mut j = judge(&text, &ctx, &policy, &paths);
        if q.unreadable {
            j.mark_unreadable(&text, &policy, &paths);
        }
        let stricter = best
            .as_ref()
            .is_none_or(|(_, b)| j.decided.decision > b.decided.decision);
        if stricter {
            best = Some((text, j));
        }
    }
    let (text, j) = best.unwrap_or_else(|| {
        let text = String::new();
        let j = judge(&text, &ctx, &policy, &paths);
        (text, j)
    });
    let d = &j.decided;
    let what = approvals::what(&j.analysis, d, &q.cwd);
    let quiet = d.decision == Decision::Allow
        && d.found.is_empty()
        && q.variants
            .iter()
            .all(|v| v.first().is_some_and(|p| policy.quiet_program(p)));
    let mut approved_by = d.observe.then(|| approver::OBSERVE_MODE.to_string());
    if d.decision == Decision::Confirm && approved_by.is_none() {
        let line = approvals::Line {
            command: &text,
            cwd: &q.cwd,
            what: what.as_deref(),
        };
        let does = |t: &str| {
            let j = judge(t, &ctx, &policy, &paths);
            approvals::what(&j.analysis, &j.decided, &q.cwd)
        };
        approved_by = policy
            .state_dir
            .as_deref()
            .and_then(|s| approvals::is_remembered(s, &line, does))
            .map(|_| approver::MEMORY.to_string());
    }
    let (rules, highlights) = protocol::asked_about(d);
    let record = (!d.found.is_empty() || d.decision != Decision::Allow).then(|| {
        let mut r = audit::Record::new(&text, &q.cwd, &j.analysis, d, policy.mode, &ctx.vars);
        r.enforced = Some(true);
        r.exec = Some(q.origin.clone());
        r
    });
    let needs_human = d.decision != Decision::Allow && approved_by.is_none();
    let id = (needs_human && d.decision == Decision::Confirm).then(protocol::new_id);
    let refusals = needs_human.then(|| Refusals {
        denied: refuse::message(d, Why::Denied, None),
        declined: refuse::message(d, Why::Declined, id.as_deref()),
        timed_out: refuse::message(d, Why::TimedOut, id.as_deref()),
        no_one: refuse::message(d, Why::NoOneToAsk, id.as_deref()),
    });
    Answer {
        decision: d.decision,
        command: text.clone(),
        what,
        approved_by,
        rules,
        highlights,
        record,
        id,
        refusals,
        wait_secs: policy.approval_timeout.as_secs(),
        quiet,
    }
}

/// The supervisor's end: starts the judge when needed, and a new one after one dies.
pub struct Judge {
    exe: PathBuf,
    running: Option<Running>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    pending: Vec<u8>,
}

impl Judge {
    pub fn new(exe: &Path) -> Judge {
        Judge {
            exe: exe.to_path_buf(),
            running: None,
        }
    }

    /// The judge's answer, or `None` when it died or stuck on this query (the exec is then
    /// refused as too complex to judge).
    pub fn ask(&mut self, q: &Query) -> Option<Answer> {
        let mut line = serde_json::to_vec(q).ok()?;
        line.push(b'\n');
        if self.running.is_none() {
            self.running = self.start().ok();
        }
        let r = self.running.as_mut()?;
        let answer = r
            .stdin
            .write_all(&line)
            .ok()
            .and_then(|()| r.read_line(Instant::now() + ANSWER_WITHIN))
            .and_then(|l| serde_json::from_slice::<Answer>(&l).ok());
        if answer.is_none() {
            if let Some(mut r) = self.running.take() {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
        answer
    }

    fn start(&self) -> io::Result<Running> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(&self.exe)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Not in the terminal's process group: keys meant for the agent are not for it.
            .process_group(0)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("stdout"))?;
        Ok(Running {
            child,
            stdin,
            stdout,
            pending: Vec::new(),
        })
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

impl Running {
    fn read_line(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let rest = self.pending.split_off(end + 1);
                let mut line = std::mem::replace(&mut self.pending, rest);
                line.pop();
                return Some(line);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX).max(1);
            let mut fds = [PollFd::new(self.stdout.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return None,
            }
            match self.stdout.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn query(words: &[&str], cwd: &str) -> Query {
        Query {
            variants: vec![words.iter().map(|w| w.to_string()).collect()],
            unreadable: false,
            cwd: cwd.into(),
            origin: ExecOrigin {
                pid: 1,
                parent: "/usr/bin/python3".into(),
                path: "/usr/bin/rm".into(),
            },
        }
    }

    fn ctx() -> Context {
        let mut vars = HashMap::new();
        vars.insert("HOME".into(), "/nonexistent-sg/home".into());
        Context {
            vars,
            ..Context::default()
        }
    }

    #[test]
    fn an_argv_is_judged_as_the_same_words_in_a_shell() {
        let a = answer(&query(&["rm", "-rf", "/nonexistent-sg/home"], "/"), &ctx());
        assert_eq!(a.decision, Decision::Deny);
        assert!(a.refusals.unwrap().denied.contains("refused"));
        let rec = a.record.unwrap();
        assert_eq!(rec.exec.unwrap().parent, "/usr/bin/python3");
        let a = answer(&query(&["git", "push", "--force"], "/tmp"), &ctx());
        assert_eq!(a.decision, Decision::Confirm);
        assert!(a.id.is_some());
        assert_eq!(a.command, "git push --force");
        let a = answer(&query(&["cc1", "-quiet", "x.c"], "/tmp"), &ctx());
        assert_eq!(a.decision, Decision::Allow);
        assert!(a.record.is_none(), "nothing matched: nothing to log");
        assert!(a.quiet, "no rule can match cc1");
        for (words, why) in [
            (&["git", "status"][..], "git has rules"),
            (&["rm", "x"][..], "a writer"),
            (&["python3", "x.py"][..], "an interpreter"),
            (&["env", "FOO=1", "cc1"][..], "a wrapper"),
            (&["sh", "-c", "true"][..], "a shell"),
            (&["cd", "/"][..], "a builtin's name"),
        ] {
            assert!(!answer(&query(words, "/tmp"), &ctx()).quiet, "{why}");
        }
    }

    #[test]
    fn words_keep_their_boundaries() {
        // One argument with a space and a semicolon is one word, not two commands.
        let a = answer(&query(&["echo", "x; rm -rf /"], "/tmp"), &ctx());
        assert_eq!(a.decision, Decision::Allow);
        assert_eq!(as_text(&["a b".into(), "$x".into()]), "'a b' '$x'");
        // Wrappers are judged by what they run.
        let a = answer(
            &query(
                &["python3", "-c", "import shutil; shutil.rmtree('/etc')"],
                "/tmp",
            ),
            &ctx(),
        );
        assert_eq!(a.decision, Decision::Deny);
        let a = answer(&query(&["ssh", "web1", "rm -rf /srv/app"], "/tmp"), &ctx());
        assert_ne!(a.decision, Decision::Allow);
    }

    #[test]
    fn the_strictest_name_counts() {
        let mut q = query(&["ls", "-rf", "/nonexistent-sg/home"], "/");
        q.variants.push(vec![
            "rm".into(),
            "-rf".into(),
            "/nonexistent-sg/home".into(),
        ]);
        assert_eq!(answer(&q, &ctx()).decision, Decision::Deny);
    }
}
