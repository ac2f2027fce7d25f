//! What a human has just approved, so that the execs it names are not asked about again.
//!
//! When a guard runs a line a human approved (or an approval remembered), it tells the
//! supervisor which rules, with which targets, were approved; when the exec gate holds a
//! program for approval, the answer is kept the same way. An exec below that process (or by
//! it) whose every rule was among them, on targets among theirs, runs without a second
//! question. Anything else the line's programs do is still asked about.

use std::sync::Mutex;

/// How far up the process tree a grant is looked for.
const MAX_DEPTH: usize = 128;
/// Grants kept at once (the oldest go first; dead processes' go whenever one is added).
const MAX_GRANTS: usize = 1024;

#[derive(Debug)]
struct Grant {
    pid: u32,
    /// The process's start time: a pid reused by another process holds no grant.
    start: u64,
    /// Rule id and the paths it was approved for (none: whatever the rule reached).
    rules: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Default)]
pub struct Grants(Mutex<Vec<Grant>>);

impl Grants {
    /// Process `pid` (the supervisor's numbering) and what it runs from now on may do what
    /// `rules` say without asking again.
    pub fn add(&self, pid: u32, rules: Vec<(String, Vec<String>)>) {
        let Some((_, start)) = stat(pid) else { return };
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.retain(|x| stat(x.pid).is_some_and(|(_, s)| s == x.start));
        if g.len() >= MAX_GRANTS {
            g.remove(0);
        }
        g.push(Grant { pid, start, rules });
    }

    /// Whether an exec by `pid` that matched `rules` was already approved above it.
    pub fn covers(&self, pid: u32, rules: &[(String, Vec<String>)]) -> bool {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_empty() || rules.is_empty() {
            return false;
        }
        let mut p = pid;
        for _ in 0..MAX_DEPTH {
            let Some((ppid, start)) = stat(p) else {
                return false;
            };
            if g.iter()
                .any(|x| x.pid == p && x.start == start && covered(x, rules))
            {
                return true;
            }
            if ppid <= 1 {
                return false;
            }
            p = ppid;
        }
        false
    }
}

fn covered(g: &Grant, rules: &[(String, Vec<String>)]) -> bool {
    rules.iter().all(|(rule, targets)| {
        g.rules.iter().any(|(id, touches)| {
            id == rule && (touches.is_empty() || targets.iter().all(|t| touches.contains(t)))
        })
    })
}

/// Parent pid and start time of `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold anything, ')' too: the fields start after the last one.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // state is field 3 of the man page; ppid 4; starttime 22.
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((ppid, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, touches: &[&str]) -> (String, Vec<String>) {
        (id.into(), touches.iter().map(|t| t.to_string()).collect())
    }

    #[test]
    fn a_grant_covers_its_own_rules_and_targets_below_it() {
        let g = Grants::default();
        let me = std::process::id();
        let parent = stat(me).unwrap().0;
        assert!(!g.covers(me, &[rule("fs.rm-recursive", &["/h/x"])]));
        g.add(
            parent,
            vec![
                rule("fs.rm-recursive", &["/h/x"]),
                rule("git.push-force", &[]),
            ],
        );
        assert!(g.covers(me, &[rule("fs.rm-recursive", &["/h/x"])]));
        assert!(g.covers(me, &[rule("git.push-force", &[])]));
        assert!(
            !g.covers(me, &[rule("fs.rm-recursive", &["/h/y"])]),
            "another target"
        );
        assert!(
            !g.covers(me, &[rule("git.reset-hard", &[])]),
            "another rule"
        );
        assert!(!g.covers(me, &[]), "nothing to cover");
        let g = Grants::default();
        g.add(me, vec![rule("fs.rm-recursive", &[])]);
        assert!(
            g.covers(me, &[rule("fs.rm-recursive", &["/any"])]),
            "unknown targets were approved as such"
        );
        assert!(
            !g.covers(parent, &[rule("fs.rm-recursive", &["/any"])]),
            "not above the approved process"
        );
    }
}
