//! Approval memory, like sudo's timestamp: an approval given late (`shellguard approve ID`
//! after the shell had already refused) or "allow for N minutes" at a prompt lets the
//! identical command in the same directory through for a limited time. Also the register of
//! refused requests that `shellguard approve ID` looks up.
//!
//! Both live in `<state_dir>/approvals`, one JSON object per line, mode 0600, rewritten whole
//! under a file lock (`approvals.lock`) and replaced atomically, so readers need no lock.
//!
//! Time is the boot clock (`CLOCK_BOOTTIME`, seconds since boot): the same in every process,
//! never moved by wall-clock changes, and counting suspend. Entries carry the kernel's boot id,
//! so a reboot (which restarts the clock) ends them all.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::analyze::{Analysis, Stdin, Via};
use crate::approve::sanitize::{for_display, for_display_multiline};
use crate::policy::Decided;
use crate::rules::Decision;

/// How long `shellguard approve ID` and "allow for a while" last by default.
pub const DEFAULT_REMEMBER_SECS: u64 = 10 * 60;

/// How long a refused request can still be approved by id.
pub const REFUSED_KEEP_SECS: u64 = 24 * 60 * 60;

/// At most this many refused requests are kept (the oldest go first), so an agent that keeps
/// trying cannot grow the file without bound.
const MAX_REFUSED: usize = 1000;

/// Longest `--for`: a day.
const MAX_MINUTES: u64 = 24 * 60;

/// Exit status of a usage error or of a place where approving is not allowed.
const USAGE: u8 = 2;

/// Seconds since boot, suspend included. Falls back to the monotonic clock where there is no
/// boot clock (both are system-wide).
pub fn boot_secs() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .or_else(|_| clock_gettime(ClockId::CLOCK_MONOTONIC))
        .map(|t| u64::try_from(t.tv_sec()).unwrap_or(0))
        .unwrap_or(0)
}

/// This boot's identity: entries written before a reboot have a clock that no longer means
/// anything.
fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A command line asked about, as approvals know it.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub command: &'a str,
    pub cwd: &'a str,
    /// What it would do that needs a human ([`what`]); `None` when that cannot be told.
    pub what: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// The line a request asks about.
    pub fn of(req: &'a crate::approve::protocol::Request) -> Self {
        Line {
            command: &req.command,
            cwd: &req.cwd,
            what: req.what.as_deref(),
        }
    }

    /// Known only by its text.
    pub fn text(command: &'a str, cwd: &'a str) -> Self {
        Line {
            command,
            cwd,
            what: None,
        }
    }
}

/// What a line would do that needs a human, as one key: for every match that asks, the rule
/// and the command it matched as the analysis sees it (words, assignments, redirections,
/// input, working directory, the constructs around it, what it touches), in order, with the
/// directory the line runs in. The agents' scaffolding around a command (Claude Code's
/// `pwd -P >| /tmp/claude-XXXX-cwd`, Gemini CLI's `_bgpids_file=/tmp/gemini-shell-XXXXXX/…`)
/// matches no rule and so is not part of it; any change to what the asking commands would
/// run is.
///
/// `None` when a command that asks is not fully known before it runs (a word from a variable
/// or a substitution, input from another program, a finding rather than a command): then
/// only the identical text is the same line.
pub fn what(analysis: &Analysis, decided: &Decided, cwd: &str) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut any = false;
    for f in decided
        .found
        .iter()
        .filter(|f| f.decision == Decision::Confirm)
    {
        let mut commands = analysis
            .commands
            .iter()
            .filter(|c| c.span == f.span)
            .peekable();
        commands.peek()?;
        for c in commands {
            let known = |a: &crate::analyze::Arg| !a.dynamic;
            let fixed = c.argv.iter().all(known)
                && c.env.iter().all(|(_, v)| known(v))
                && c.redirects.iter().all(|r| known(&r.target))
                && !matches!(c.stdin, Stdin::Program(_) | Stdin::Found(_))
                && c.cwd.is_some();
            if !fixed {
                return None;
            }
            // An array, not an object: its text does not depend on how maps are ordered.
            let item = serde_json::json!([
                f.rule_id,
                c.argv
                    .iter()
                    .map(|a| (a.text.as_str(), a.glob, a.quoted))
                    .collect::<Vec<_>>(),
                c.env
                    .iter()
                    .map(|(k, v)| (k, v.text.as_str()))
                    .collect::<Vec<_>>(),
                c.redirects
                    .iter()
                    .map(|r| (format!("{:?}", r.kind), r.target.text.as_str()))
                    .collect::<Vec<_>>(),
                format!("{:?}", c.stdin),
                c.cwd,
                format!("{:?}", what_reaches(&c.via)),
                f.touches,
            ]);
            let _ = writeln!(out, "{item}");
            any = true;
        }
    }
    if !any {
        return None;
    }
    out.push('\0');
    out.push_str(cwd);
    let mut h = Sha256::new();
    h.update(out.as_bytes());
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The layers a command is reached through that change what runs (`sudo`, `ssh HOST`,
/// `docker exec`, `xargs`). A shell handed the text (`bash -c`, `eval`, a heredoc, `exec`,
/// `command`) runs the same command: Codex sends a command bare until its shell snapshot is
/// ready and inside its wrapper (`exec '/bin/bash' -c CMD`) after, and an approval of one is
/// an approval of the other.
fn what_reaches(via: &[Via]) -> Vec<&Via> {
    via.iter()
        .filter(|v| match v {
            Via::ShellString(_) | Via::Eval | Via::Heredoc(_) => false,
            Via::Wrapper(w) => !matches!(w.as_str(), "exec" | "command" | "builtin"),
            _ => true,
        })
        .collect()
}

/// The memory key of a command run in a directory.
pub fn key(command: &str, cwd: &str) -> String {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0u8]);
    h.update(cwd.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Entry {
    /// The identical command in the same directory passes without asking until `expires`.
    Allow {
        key: String,
        boot: String,
        created: u64,
        expires: u64,
        by: String,
        /// The request this approval answered, when known (`shellguard deny ID`).
        #[serde(default)]
        id: Option<String>,
        command: String,
        cwd: String,
        /// What the command would do that needed the approval ([`what`]), when it can be told:
        /// a retry that does the same passes whatever else its text says.
        #[serde(default)]
        what: Option<String>,
    },
    /// A request refused because nobody answered: `shellguard approve ID` can still allow it.
    Refused {
        id: String,
        boot: String,
        created: u64,
        expires: u64,
        command: String,
        cwd: String,
        rules: Vec<String>,
        #[serde(default)]
        what: Option<String>,
    },
}

impl Entry {
    fn live(&self, boot: &str, now: u64) -> bool {
        let (b, created, expires) = match self {
            Entry::Allow {
                boot,
                created,
                expires,
                ..
            }
            | Entry::Refused {
                boot,
                created,
                expires,
                ..
            } => (boot, *created, *expires),
        };
        b == boot && created <= now && now < expires
    }
}

/// A refused request, as `shellguard approve ID` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub id: String,
    pub command: String,
    pub cwd: String,
    pub rules: Vec<String>,
    /// Boot-clock second it was refused.
    pub at: u64,
    pub what: Option<String>,
}

/// A remembered approval, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub handle: String,
    pub id: Option<String>,
    pub command: String,
    pub cwd: String,
    pub by: String,
    pub secs_left: u64,
}

/// The approvals file of one state directory, seen at one instant (`now`, boot seconds).
pub struct Approvals {
    dir: PathBuf,
    boot: String,
    now: u64,
    max_refused: usize,
}

impl Approvals {
    /// The store in `state`, at the current boot-clock time.
    pub fn open(state: &Path) -> Self {
        Self::at(state, boot_secs())
    }

    /// The store in `state`, as if the boot clock read `now`.
    pub fn at(state: &Path, now: u64) -> Self {
        Approvals {
            dir: state.to_path_buf(),
            boot: boot_id(),
            now,
            max_refused: MAX_REFUSED,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("approvals")
    }

    /// Live entries. A file that another user owns or could write is ignored: it could only
    /// have been put there to approve something.
    fn load(&self) -> Vec<Entry> {
        let path = self.file();
        let Ok(md) = fs::symlink_metadata(&path) else {
            return Vec::new();
        };
        if !md.is_file() || md.uid() != nix::unistd::getuid().as_raw() || md.mode() & 0o022 != 0 {
            return Vec::new();
        }
        let Ok(text) = fs::read_to_string(&path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
            .filter(|e| e.live(&self.boot, self.now))
            .collect()
    }

    /// Read, change and write back the live entries under the lock. Expired entries are
    /// pruned on every write.
    fn update<R>(&self, f: impl FnOnce(&mut Vec<Entry>) -> R) -> io::Result<R> {
        fs::create_dir_all(&self.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join("approvals.lock"))?;
        let _lock =
            Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))?;
        let mut entries = self.load();
        let r = f(&mut entries);
        let refused = entries
            .iter()
            .filter(|e| matches!(e, Entry::Refused { .. }))
            .count();
        let mut excess = refused.saturating_sub(self.max_refused);
        entries.retain(|e| {
            let drop = excess > 0 && matches!(e, Entry::Refused { .. });
            excess -= usize::from(drop);
            !drop
        });
        let mut text = String::new();
        for e in &entries {
            text.push_str(&serde_json::to_string(e).map_err(io::Error::other)?);
            text.push('\n');
        }
        let tmp = self.dir.join(format!(".approvals.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = (|| {
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            drop(f);
            fs::rename(&tmp, self.file())
        })();
        if written.is_err() {
            // A full disk must not leave a half-written file behind.
            let _ = fs::remove_file(&tmp);
        }
        written.map(|()| r)
    }

    /// Let `line` through for `secs` seconds. `by` says who approved (shown in the audit
    /// log); `id` is the request answered, when known.
    pub fn remember(&self, line: &Line, secs: u64, by: &str, id: Option<&str>) -> io::Result<()> {
        let k = key(line.command, line.cwd);
        let entry = Entry::Allow {
            key: k.clone(),
            boot: self.boot.clone(),
            created: self.now,
            expires: self.now.saturating_add(secs),
            by: by.to_string(),
            id: id.map(str::to_string),
            command: line.command.to_string(),
            cwd: line.cwd.to_string(),
            what: line.what.map(str::to_string),
        };
        self.update(|entries| {
            entries.retain(|e| !matches!(e, Entry::Allow { key, .. } if *key == k));
            entries.push(entry);
        })
    }

    /// Who approved `line`, if that approval is still running: the identical command in the
    /// same directory, or one that does the same there. `does` tells what an approved
    /// command would do now ([`what`] of its analysis): an entry is believed only when its
    /// own text, analysed again, does what `line` does, so an entry whose `what` was forged
    /// lets nothing through.
    pub fn is_remembered(
        &self,
        line: &Line,
        does: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let k = key(line.command, line.cwd);
        let entries = self.load();
        let exact = entries.iter().find_map(|e| match e {
            Entry::Allow { key, by, .. } if *key == k => Some(by.clone()),
            _ => None,
        });
        if exact.is_some() {
            return exact;
        }
        let want = line.what?;
        entries.into_iter().find_map(|e| match e {
            Entry::Allow {
                by,
                command,
                cwd,
                what: Some(w),
                ..
            } if w == want && cwd == line.cwd && does(&command).as_deref() == Some(want) => {
                Some(by)
            }
            _ => None,
        })
    }

    /// Keep a refused request for a day, so that `shellguard approve ID` can find it.
    pub fn record_refused(&self, id: &str, line: &Line, rules: &[String]) -> io::Result<()> {
        let entry = Entry::Refused {
            id: id.to_string(),
            boot: self.boot.clone(),
            created: self.now,
            expires: self.now.saturating_add(REFUSED_KEEP_SECS),
            command: line.command.to_string(),
            cwd: line.cwd.to_string(),
            rules: rules.to_vec(),
            what: line.what.map(str::to_string),
        };
        self.update(|entries| {
            entries.retain(|e| !matches!(e, Entry::Refused { id: i, .. } if i == id));
            entries.push(entry);
        })
    }

    /// The refused request with this id, if it is still kept.
    pub fn refused(&self, id: &str) -> Option<Refused> {
        self.load().into_iter().find_map(|e| match e {
            Entry::Refused {
                id: i,
                created,
                command,
                cwd,
                rules,
                what,
                ..
            } if i == id => Some(Refused {
                id: i,
                command,
                cwd,
                rules,
                at: created,
                what,
            }),
            _ => None,
        })
    }

    /// Approve the refused request `id` for `secs`: its identical retry passes. The request
    /// leaves the register (it has its answer). `None` when no such request is kept.
    pub fn approve(&self, id: &str, secs: u64, by: &str) -> io::Result<Option<Refused>> {
        let Some(r) = self.refused(id) else {
            return Ok(None);
        };
        let k = key(&r.command, &r.cwd);
        let allow = Entry::Allow {
            key: k.clone(),
            boot: self.boot.clone(),
            created: self.now,
            expires: self.now.saturating_add(secs),
            by: by.to_string(),
            id: Some(id.to_string()),
            command: r.command.clone(),
            cwd: r.cwd.clone(),
            what: r.what.clone(),
        };
        self.update(|entries| {
            entries.retain(|e| match e {
                Entry::Allow { key, .. } => *key != k,
                Entry::Refused { id: i, .. } => i != id,
            });
            entries.push(allow);
        })?;
        Ok(Some(r))
    }

    /// Revoke every remembered approval. Returns how many there were.
    pub fn revoke_all(&self) -> io::Result<usize> {
        self.update(|entries| {
            let before = entries.len();
            entries.retain(|e| !matches!(e, Entry::Allow { .. }));
            before - entries.len()
        })
    }

    /// Revoke what `id` names: approvals given to request `id` (or whose handle, the start of
    /// their key, is `id`), and the refused request `id` so it cannot be approved later.
    /// Returns how many entries went.
    pub fn revoke(&self, id: &str) -> io::Result<usize> {
        self.update(|entries| {
            let before = entries.len();
            entries.retain(|e| match e {
                Entry::Allow { key, id: i, .. } => {
                    i.as_deref() != Some(id) && !(id.len() >= 8 && key.starts_with(id))
                }
                Entry::Refused { id: i, .. } => i != id,
            });
            before - entries.len()
        })
    }

    /// The approvals still running.
    pub fn remembered(&self) -> Vec<Remembered> {
        self.load()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Allow {
                    key,
                    expires,
                    by,
                    id,
                    command,
                    cwd,
                    ..
                } => Some(Remembered {
                    handle: key[..8.min(key.len())].to_string(),
                    id,
                    command,
                    cwd,
                    by,
                    secs_left: expires.saturating_sub(self.now),
                }),
                Entry::Refused { .. } => None,
            })
            .collect()
    }
}

/// Let `line` through for `secs` seconds from now.
pub fn remember(state: &Path, line: &Line, secs: u64, by: &str) -> io::Result<()> {
    Approvals::open(state).remember(line, secs, by, None)
}

/// Who approved `line` (see [`Approvals::is_remembered`]), while that approval lasts.
pub fn is_remembered(
    state: &Path,
    line: &Line,
    does: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    Approvals::open(state).is_remembered(line, does)
}

/// Keep a refused request (by id, for a day) for `shellguard approve ID`.
pub fn record_refused(state: &Path, id: &str, line: &Line, rules: &[String]) -> io::Result<()> {
    Approvals::open(state).record_refused(id, line, rules)
}

/// Environment variables that say the process runs below a coding agent.
pub fn agent_marker(vars: &HashMap<String, String>) -> Option<String> {
    let mut names: Vec<&String> = vars
        .keys()
        .filter(|k| {
            matches!(k.as_str(), "CLAUDECODE" | "GEMINI_CLI" | "QWEN_CODE" | "CURSOR_AGENT")
                // CODEX_HOME is the user's own setting for where Codex keeps its files.
                || (k.starts_with("CODEX_") && k.as_str() != "CODEX_HOME")
        })
        .collect();
    names.sort();
    names.first().map(|s| (*s).clone())
}

/// Whether this is a real terminal with a human at it and no agent above: where approvals
/// may be given. `Err` says why not.
pub fn human_terminal(
    stdin_tty: bool,
    stdout_tty: bool,
    vars: &HashMap<String, String>,
) -> Result<(), String> {
    if !stdin_tty || !stdout_tty {
        return Err("it needs a terminal: type it yourself, in a terminal of your own".into());
    }
    if vars.get("SHELLGUARD_TTY").map(String::as_str) == Some("agent") {
        return Err("this terminal is marked as agent-owned (SHELLGUARD_TTY=agent)".into());
    }
    if vars.contains_key(crate::approve::protocol::SUPERVISOR_ENV) {
        return Err(format!(
            "{} is set: this runs below an agent under `shellguard run`",
            crate::approve::protocol::SUPERVISOR_ENV
        ));
    }
    if let Some(name) = agent_marker(vars) {
        return Err(format!(
            "{name} is set: this looks like it runs below a coding agent; use a terminal of your own"
        ));
    }
    Ok(())
}

/// A request id as typed: short, plain characters only.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

struct ApproveArgs {
    id: String,
    minutes: u64,
    yes: bool,
}

fn parse_approve(args: &[String]) -> Result<ApproveArgs, String> {
    let mut id = None;
    let mut minutes = DEFAULT_REMEMBER_SECS / 60;
    let mut yes = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--for" {
            Some(it.next().ok_or("--for needs a number of minutes")?.clone())
        } else {
            a.strip_prefix("--for=").map(str::to_string)
        };
        if let Some(v) = value {
            minutes = v
                .parse::<u64>()
                .ok()
                .filter(|m| (1..=MAX_MINUTES).contains(m))
                .ok_or_else(|| {
                    format!(
                        "--for takes minutes from 1 to {MAX_MINUTES}, not '{}'",
                        for_display(&v)
                    )
                })?;
        } else if a == "-y" || a == "--yes" {
            yes = true;
        } else if a.starts_with('-') {
            return Err(format!("unknown option '{}'", for_display(a)));
        } else if id.is_some() {
            return Err("one request id at a time".into());
        } else if valid_id(a) {
            id = Some(a.to_ascii_lowercase());
        } else {
            return Err(format!("'{}' is not a request id", for_display(a)));
        }
    }
    let id = id.ok_or("which request? give its id")?;
    Ok(ApproveArgs { id, minutes, yes })
}

/// `shellguard approve ID [--for MINUTES] [--yes]`: approve a request that was refused because
/// nobody could be asked. Only typed by a human in a real terminal not below an agent. Shows
/// the command and asks to confirm (unless `--yes`), then lets its identical retry in the same
/// directory through for MINUTES (default 10).
pub fn approve_main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    const USAGE_LINE: &str = "usage: shellguard approve ID [--for MINUTES] [--yes]";
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE_LINE}");
        return 0;
    }
    let a = match parse_approve(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shellguard approve: {e}\n{USAGE_LINE}");
            return USAGE;
        }
    };
    if let Err(why) = human_terminal(io::stdin().is_terminal(), io::stdout().is_terminal(), vars) {
        eprintln!("shellguard approve: refused: {why}. Nothing was approved.");
        return USAGE;
    }
    let Some(state) = super::trust::state_dir(vars) else {
        eprintln!("shellguard approve: no state directory (set HOME or XDG_STATE_HOME)");
        return USAGE;
    };
    let store = Approvals::open(&state);
    let Some(r) = store.refused(&a.id) else {
        eprintln!(
            "shellguard approve: no refused request with id {} (requests can be approved for {} hours after they were refused, until a reboot)",
            a.id,
            REFUSED_KEEP_SECS / 3600
        );
        return 1;
    };
    println!("request {}:", r.id);
    let mut first = true;
    for line in for_display_multiline(&r.command).split('\n') {
        println!("  {} {line}", if first { "$" } else { " " });
        first = false;
    }
    println!("  in {}", for_display(&r.cwd));
    if !r.rules.is_empty() {
        let rules: Vec<String> = r.rules.iter().map(|x| for_display(x)).collect();
        println!("  rules: {}", rules.join(", "));
    }
    if !a.yes {
        let _ = io::stdout().flush();
        let stdin = io::stdin();
        let yes = crate::approve::keys::confirm(
            stdin.as_fd(),
            &mut io::stdout(),
            &format!(
                "Let this exact command run in that directory for {} minutes? [y/N] ",
                a.minutes
            ),
        );
        if !matches!(yes, Ok(true)) {
            println!("Not approved.");
            return 1;
        }
    }
    match store.approve(&a.id, a.minutes * 60, &format!("approve {}", a.id)) {
        Ok(Some(_)) => {
            println!(
                "Approved for {} minutes: the agent may now retry the identical command. Revoke with `shellguard deny {}`.",
                a.minutes, a.id
            );
            0
        }
        Ok(None) => {
            eprintln!("shellguard approve: request {} is gone", a.id);
            1
        }
        Err(e) => {
            eprintln!(
                "shellguard approve: cannot write {}: {e}",
                state.join("approvals").display()
            );
            1
        }
    }
}

/// `shellguard deny --all` revokes every remembered approval; `shellguard deny ID` revokes the
/// approval of request ID (or with that handle) and forgets the refused request ID.
pub fn deny_main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    const USAGE_LINE: &str = "usage: shellguard deny --all | shellguard deny ID";
    let Some(state) = super::trust::state_dir(vars) else {
        eprintln!("shellguard deny: no state directory (set HOME or XDG_STATE_HOME)");
        return USAGE;
    };
    let store = Approvals::open(&state);
    match args {
        [h] if h == "-h" || h == "--help" => {
            println!("{USAGE_LINE}");
            0
        }
        [all] if all == "--all" => match store.revoke_all() {
            Ok(n) => {
                println!("Revoked {n} remembered approval{}.", plural(n));
                0
            }
            Err(e) => {
                eprintln!("shellguard deny: {e}");
                1
            }
        },
        [id] if valid_id(id) => match store.revoke(&id.to_ascii_lowercase()) {
            Ok(0) => {
                eprintln!("shellguard deny: nothing remembered under {id}");
                1
            }
            Ok(_) => {
                println!("Revoked {id}.");
                0
            }
            Err(e) => {
                eprintln!("shellguard deny: {e}");
                1
            }
        },
        _ => {
            let list = store.remembered();
            if !list.is_empty() {
                eprintln!("Remembered approvals:");
                for r in &list {
                    eprintln!(
                        "  {}  {}m{:02}s left  {}  in {}  (by {})",
                        r.id.as_deref().unwrap_or(&r.handle),
                        r.secs_left / 60,
                        r.secs_left % 60,
                        for_display(&r.command),
                        for_display(&r.cwd),
                        for_display(&r.by)
                    );
                }
            }
            eprintln!("{USAGE_LINE}");
            USAGE
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sg-approvals-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_approval_by_what_runs_is_believed_only_when_its_text_does_that() {
        let s = Approvals::at(&temp("what"), 100);
        let approved = Line {
            command: "echo harmless",
            cwd: "/p",
            what: Some("k1"),
        };
        s.remember(&approved, 600, "watch", None).unwrap();
        let asking = Line {
            command: "rm -rf ~",
            cwd: "/p",
            what: Some("k1"),
        };
        // The stored text does something else now: a forged or stale key lets nothing through.
        assert_eq!(s.is_remembered(&asking, |_| Some("k2".into())), None);
        assert_eq!(s.is_remembered(&asking, |_| None), None);
        // It does the same: the approval takes, in the same directory only.
        let same = |t: &str| (t == "echo harmless").then(|| "k1".to_string());
        assert_eq!(s.is_remembered(&asking, same).as_deref(), Some("watch"));
        let elsewhere = Line {
            cwd: "/q",
            ..asking
        };
        assert_eq!(s.is_remembered(&elsewhere, same), None);
        let unknown = Line {
            what: None,
            ..asking
        };
        assert_eq!(s.is_remembered(&unknown, same), None);
    }

    #[test]
    fn remembers_identical_command_and_directory_only() {
        let dir = temp("mem");
        let s = Approvals::at(&dir, 1000);
        assert_eq!(
            s.is_remembered(&Line::text("rm -rf build", "/p"), |_| None),
            None
        );
        s.remember(&Line::text("rm -rf build", "/p"), 600, "watch", None)
            .unwrap();
        assert_eq!(
            s.is_remembered(&Line::text("rm -rf build", "/p"), |_| None)
                .as_deref(),
            Some("watch")
        );
        assert_eq!(
            s.is_remembered(&Line::text("rm -rf build ", "/p"), |_| None),
            None
        );
        assert_eq!(
            s.is_remembered(&Line::text("rm -rf build", "/q"), |_| None),
            None
        );
        // The NUL separator: moving text between command and directory is another key.
        assert_ne!(key("a", "b/c"), key("ab", "/c"));

        assert!(Approvals::at(&dir, 1599)
            .is_remembered(&Line::text("rm -rf build", "/p"), |_| None)
            .is_some());
        assert!(Approvals::at(&dir, 1600)
            .is_remembered(&Line::text("rm -rf build", "/p"), |_| None)
            .is_none());
        // A clock earlier than the approval: another boot's clock, not a valid approval.
        assert!(Approvals::at(&dir, 999)
            .is_remembered(&Line::text("rm -rf build", "/p"), |_| None)
            .is_none());

        let mode = fs::metadata(dir.join("approvals")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn expired_entries_are_pruned_on_write() {
        let dir = temp("prune");
        Approvals::at(&dir, 10)
            .remember(&Line::text("a", "/"), 5, "x", None)
            .unwrap();
        Approvals::at(&dir, 100)
            .remember(&Line::text("b", "/"), 5, "x", None)
            .unwrap();
        let text = fs::read_to_string(dir.join("approvals")).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"command\":\"b\""));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_refused_register_is_bounded() {
        let dir = temp("bounded");
        let mut s = Approvals::at(&dir, 1);
        s.max_refused = 20;
        s.remember(&Line::text("keep", "/"), 600, "x", None)
            .unwrap();
        for i in 0..25 {
            s.record_refused(&format!("id{i}"), &Line::text("c", "/"), &[])
                .unwrap();
        }
        assert!(s.refused("id0").is_none());
        assert!(s.refused("id5").is_some());
        assert!(s.refused("id24").is_some());
        assert!(s
            .is_remembered(&Line::text("keep", "/"), |_| None)
            .is_some());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_others_can_write_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("perm");
        let s = Approvals::at(&dir, 10);
        s.remember(&Line::text("a", "/"), 50, "x", None).unwrap();
        let f = dir.join("approvals");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o622)).unwrap();
        assert_eq!(s.is_remembered(&Line::text("a", "/"), |_| None), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn refused_requests_can_be_approved_by_id_then_revoked() {
        let dir = temp("refused");
        let s = Approvals::at(&dir, 50);
        s.record_refused(
            "1a2b3c4d",
            &Line::text("rm -rf ~/x", "/p"),
            &["fs.rm-recursive".into()],
        )
        .unwrap();
        let r = s.refused("1a2b3c4d").unwrap();
        assert_eq!((r.command.as_str(), r.cwd.as_str()), ("rm -rf ~/x", "/p"));
        assert!(s.refused("ffffffff").is_none());
        assert!(Approvals::at(&dir, 50 + REFUSED_KEEP_SECS)
            .refused("1a2b3c4d")
            .is_none());

        let later = Approvals::at(&dir, 500);
        assert!(later
            .approve("1a2b3c4d", 600, "approve 1a2b3c4d")
            .unwrap()
            .is_some());
        assert_eq!(
            later
                .is_remembered(&Line::text("rm -rf ~/x", "/p"), |_| None)
                .as_deref(),
            Some("approve 1a2b3c4d")
        );
        // Approved once: it left the register.
        assert!(later.refused("1a2b3c4d").is_none());
        assert_eq!(later.remembered().len(), 1);

        assert_eq!(later.revoke("1a2b3c4d").unwrap(), 1);
        assert!(later
            .is_remembered(&Line::text("rm -rf ~/x", "/p"), |_| None)
            .is_none());
        assert_eq!(later.revoke("1a2b3c4d").unwrap(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn deny_all_revokes_every_approval() {
        let dir = temp("denyall");
        let s = Approvals::at(&dir, 1);
        s.remember(&Line::text("a", "/"), 600, "watch", None)
            .unwrap();
        s.remember(&Line::text("b", "/"), 600, "run", None).unwrap();
        s.record_refused("cafe0001", &Line::text("c", "/"), &[])
            .unwrap();
        // By handle: the start of the key, as `shellguard deny` lists it.
        let handle = key("b", "/")[..8].to_string();
        assert_eq!(s.revoke(&handle).unwrap(), 1);
        assert!(s.is_remembered(&Line::text("b", "/"), |_| None).is_none());
        assert_eq!(s.revoke_all().unwrap(), 1);
        assert!(s.is_remembered(&Line::text("a", "/"), |_| None).is_none());
        // Refused requests are not approvals: still there to approve.
        assert!(s.refused("cafe0001").is_some());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn deny_main_all_clears_through_the_state_dir() {
        let base = temp("denymain");
        let vars = HashMap::from([("XDG_STATE_HOME".to_string(), base.display().to_string())]);
        let state = super::super::trust::state_dir(&vars).unwrap();
        remember(&state, &Line::text("rm -rf build", "/p"), 600, "watch").unwrap();
        assert!(is_remembered(&state, &Line::text("rm -rf build", "/p"), |_| None).is_some());
        assert_eq!(deny_main(&["--all".into()], &vars), 0);
        assert!(is_remembered(&state, &Line::text("rm -rf build", "/p"), |_| None).is_none());
        assert_eq!(deny_main(&["nosuchid".into()], &vars), 1);
        assert_eq!(deny_main(&[], &vars), USAGE);
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn approving_needs_a_human_terminal_without_an_agent_above() {
        let none = HashMap::new();
        let with = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        assert!(human_terminal(true, true, &none).is_ok());
        assert!(human_terminal(false, true, &none).is_err());
        assert!(human_terminal(true, false, &none).is_err());
        assert!(human_terminal(true, true, &with("SHELLGUARD_TTY", "agent")).is_err());
        assert!(human_terminal(true, true, &with("SHELLGUARD_TTY", "human")).is_ok());
        assert!(human_terminal(true, true, &with("SHELLGUARD_SUPERVISOR", "/x")).is_err());
        for v in [
            "CLAUDECODE",
            "CODEX_SANDBOX",
            "CODEX_CI",
            "GEMINI_CLI",
            "CURSOR_AGENT",
        ] {
            let e = human_terminal(true, true, &with(v, "1")).unwrap_err();
            assert!(e.contains(v), "{e}");
        }
        assert!(human_terminal(true, true, &with("CODEX_HOME", "/h")).is_ok());
    }

    #[test]
    fn approve_main_refuses_without_a_terminal() {
        // Under `cargo test` stdin is not a terminal (or, when it is, the agent marker
        // refuses): either way nothing is approved.
        let base = temp("approvemain");
        let mut vars = HashMap::from([("XDG_STATE_HOME".to_string(), base.display().to_string())]);
        let state = super::super::trust::state_dir(&vars).unwrap();
        record_refused(&state, "feedf00d", &Line::text("rm -rf /p/x", "/p"), &[]).unwrap();
        if io::stdin().is_terminal() && io::stdout().is_terminal() {
            vars.insert("SHELLGUARD_TTY".into(), "agent".into());
        }
        assert_eq!(
            approve_main(&["feedf00d".into(), "--yes".into()], &vars),
            USAGE
        );
        assert!(is_remembered(&state, &Line::text("rm -rf /p/x", "/p"), |_| None).is_none());
        assert!(Approvals::open(&state).refused("feedf00d").is_some());
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn approve_arguments() {
        let p = |a: &[&str]| parse_approve(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let a = p(&["1A2B3C4D"]).unwrap();
        assert_eq!((a.id.as_str(), a.minutes, a.yes), ("1a2b3c4d", 10, false));
        let a = p(&["--for", "30", "abc", "-y"]).unwrap();
        assert_eq!((a.id.as_str(), a.minutes, a.yes), ("abc", 30, true));
        assert_eq!(p(&["--for=5", "abc"]).unwrap().minutes, 5);
        assert!(p(&["abc", "--for", "0"]).is_err());
        assert!(p(&["abc", "--for", "99999"]).is_err());
        assert!(p(&["abc", "--for"]).is_err());
        assert!(p(&[]).is_err());
        assert!(p(&["a b"]).is_err());
        assert!(p(&["abc", "def"]).is_err());
        assert!(p(&["--bogus", "abc"]).is_err());
    }
}
