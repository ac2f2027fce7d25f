//! The audit log: one JSON line per decision, appended to a per-user file (and, on request,
//! sent to the system log).
//!
//! Every guarded command pays for this, so an append is one `open`, one `flock`, one `write`
//! and one `close`. Concurrent shells never interleave lines: each record is written whole by
//! a single `write(2)` while its writer holds an exclusive `flock` on the file, which also
//! covers lines longer than `PIPE_BUF` (a long heredoc) that `O_APPEND` alone would not.
//!
//! The file is kept bounded: once it passes [`MAX_LOG_BYTES`] the writer holding the lock
//! renames it to `audit.jsonl.1` (replacing the previous one), and the next append starts a
//! new file. A writer that opened the old file just before the rename still writes into it,
//! under its lock, so no record is lost; `shellguard log` reads the rotated file first.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::analyze::Analysis;
use crate::policy::{Decided, Mode};

/// Past this size the log is rotated to `audit.jsonl.1`.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// Where the system log listens.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// How long an append waits for another writer's lock before writing without it. Writers
/// hold it for one `write`, so only a stuck process makes anyone wait this long.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Longest syslog message sent: rsyslog's default `maxMessageSize` is 8 KiB, and a message cut
/// there would no longer be JSON.
const SYSLOG_MAX: usize = 8000;

/// Who or what let a command run (or refused it): the values of [`Record::approved_by`].
pub mod approver {
    /// A human at the shell's own terminal.
    pub const TTY: &str = "tty";
    /// A human at the supervisor (`shellguard run`, the interactive shell).
    pub const SUPERVISOR: &str = "supervisor";
    /// A human at a `shellguard watch` console.
    pub const WATCH: &str = "watch";
    /// An exec named by a shell line (or program) a human approved just before: asked once.
    pub const APPROVED_LINE: &str = "approved-line";
    /// `shellguard approve ID`, for the retry of a refused command.
    pub const APPROVE_CMD: &str = "approve-cmd";
    /// An earlier "allow for N minutes" answer for the identical command.
    pub const MEMORY: &str = "memory";
    /// Observe mode: logged, not blocked.
    pub const OBSERVE_MODE: &str = "observe-mode";
    /// An installed tool's own script with the content the human trusted
    /// (`shellguard trust --tools`): run unread.
    pub const TRUSTED_TOOL: &str = "trusted-tool";
    /// A shell script of the system's own (`policy::tools::is_system_script`): judged by
    /// how it was invoked, run unread.
    pub const SYSTEM_SCRIPT: &str = "system-script";
}

/// One matched rule in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHit {
    pub id: String,
    /// `allow`, `confirm` or `deny`: what this rule alone says.
    pub decision: String,
}

/// One decision, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339, UTC, milliseconds: `2026-05-01T12:34:56.789Z`.
    pub time: String,
    /// The agent detected from the environment ([`detect_agent`]).
    #[serde(default)]
    pub agent: Option<String>,
    pub cwd: String,
    /// The text judged, exactly.
    pub command: String,
    /// The argv of each command found in it (words only known at run time are left out).
    #[serde(default)]
    pub commands: Vec<Vec<String>>,
    /// Every rule that matched, strictest first.
    #[serde(default)]
    pub rules: Vec<RuleHit>,
    /// `allow`, `confirm` or `deny`.
    pub decision: String,
    /// `ran` or `refused`.
    pub outcome: String,
    /// See [`approver`]; `None` when nobody had to (allowed) or nobody did (refused).
    #[serde(default)]
    pub approved_by: Option<String>,
    /// The approval request id (the one a refusal names for `shellguard approve ID`).
    #[serde(default)]
    pub request_id: Option<String>,
    /// `observe`, `default` or `strict`.
    pub mode: String,
    /// Written by an enforced `shellguard run` for a guard inside its tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced: Option<bool>,
    /// A program started directly (judged by the exec gate of an enforced `shellguard run`),
    /// not a shell line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecOrigin>,
    /// Set when the record was too long to keep whole ([`MAX_RECORD_BYTES`]): `command` then
    /// holds its head and tail, and this the whole text's length and SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
}

/// What a record too long to keep whole left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// The whole command's length in bytes.
    pub bytes: usize,
    /// The whole command's SHA-256, hex: to match it against a script kept elsewhere.
    pub sha256: String,
    /// How many of the commands found are left out of `commands`.
    pub commands_left_out: usize,
}

/// Longest record written whole. A longer one (a 1 MB script) keeps the head and tail of its
/// command and as many of its commands as fit.
pub const MAX_RECORD_BYTES: usize = 32 * 1024;
/// How much of a cut command's head, and of its tail, is kept.
const KEEP_EACH_END: usize = 6 * 1024;
/// How much of the found commands' words a cut record keeps.
const KEEP_COMMANDS: usize = 12 * 1024;

/// Where a judged exec came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOrigin {
    /// The calling process, as the supervisor numbers it.
    pub pid: u32,
    /// The program that made the call.
    pub parent: String,
    /// The file the kernel would run (links resolved).
    pub path: String,
}

impl Record {
    /// A record of `decided` for `command` run in `cwd`, stamped now, with the agent detected
    /// from `vars`. The outcome starts as `ran` (or `refused` for a deny outside observe mode)
    /// with no approver; the caller fills in what the asking step found out.
    pub fn new(
        command: &str,
        cwd: &str,
        analysis: &Analysis,
        decided: &Decided,
        mode: Mode,
        vars: &HashMap<String, String>,
    ) -> Record {
        let refused = !decided.observe && decided.decision == crate::rules::Decision::Deny;
        Record {
            time: now_rfc3339(),
            agent: detect_agent(vars),
            cwd: cwd.to_string(),
            command: command.to_string(),
            commands: analysis
                .commands
                .iter()
                .map(|c| c.argv.iter().map(|a| a.text.clone()).collect())
                .collect(),
            rules: decided
                .found
                .iter()
                .map(|f| RuleHit {
                    id: f.rule_id.clone(),
                    decision: f.decision.as_str().to_string(),
                })
                .collect(),
            decision: decided.decision.as_str().to_string(),
            outcome: if refused { "refused" } else { "ran" }.to_string(),
            approved_by: decided.observe.then(|| approver::OBSERVE_MODE.to_string()),
            request_id: None,
            mode: mode.as_str().to_string(),
            enforced: None,
            exec: None,
            cut: None,
        }
    }

    /// The record as one line of JSON, without the newline. JSON escapes every control
    /// character, so a multi-line command still makes one line. A record past
    /// [`MAX_RECORD_BYTES`] is written cut ([`Record::cut_to_size`]).
    pub fn to_line(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        let line = serde_json::to_string(self).unwrap_or_default();
        if line.len() <= MAX_RECORD_BYTES || self.cut.is_some() {
            return line;
        }
        let mut cut = self.clone();
        cut.cut_to_size();
        serde_json::to_string(&cut).unwrap_or_default()
    }

    /// Keep the command's head and tail (with its length and hash in `cut`) and as many of
    /// the commands found as fit, each word at most 1 KiB.
    pub fn cut_to_size(&mut self) {
        let bytes = self.command.len();
        let sha256 = crate::policy::trust::hash(self.command.as_bytes());
        if bytes > 2 * KEEP_EACH_END {
            let head = floor_char(&self.command, KEEP_EACH_END);
            let tail = ceil_char(&self.command, bytes - KEEP_EACH_END);
            self.command = format!(
                "{}\n… {} bytes left out …\n{}",
                &self.command[..head],
                tail - head,
                &self.command[tail..]
            );
        }
        let mut budget = KEEP_COMMANDS;
        let total = self.commands.len();
        let mut kept = Vec::new();
        for argv in std::mem::take(&mut self.commands) {
            let argv: Vec<String> = argv
                .into_iter()
                .map(|w| {
                    if w.len() > 1024 {
                        format!("{}…", &w[..floor_char(&w, 1024)])
                    } else {
                        w
                    }
                })
                .collect();
            let size: usize = argv.iter().map(|w| w.len() + 4).sum();
            if size > budget {
                break;
            }
            budget -= size;
            kept.push(argv);
        }
        self.cut = Some(Cut {
            bytes,
            sha256,
            commands_left_out: total - kept.len(),
        });
        self.commands = kept;
    }
}

/// The largest char boundary at or below `i`.
fn floor_char(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or above `i`.
fn ceil_char(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The agent whose shell this is, from the variables agents set for the commands they run.
/// A specific marker wins over `TERM_PROGRAM`, which only says which editor's terminal it is.
pub fn detect_agent(vars: &HashMap<String, String>) -> Option<String> {
    let set = |k: &str| vars.get(k).is_some_and(|v| !v.is_empty());
    let name = if vars.get("AGENT").is_some_and(|v| v == "amp") {
        // Amp also sets CLAUDECODE.
        "amp"
    } else if vars.get("CLAUDECODE").is_some_and(|v| v == "1") || set("CLAUDE_CODE_ENTRYPOINT") {
        "claude-code"
    } else if vars
        .iter()
        // CODEX_SANDBOX, CODEX_CI, CODEX_THREAD_ID, CODEX_SANDBOX_NETWORK_DISABLED…, but not
        // CODEX_HOME, which users export in their own shell profile.
        .any(|(k, v)| k.starts_with("CODEX_") && k != "CODEX_HOME" && !v.is_empty())
    {
        "codex"
    } else if set("GEMINI_CLI") {
        "gemini-cli"
    } else if set("QWEN_CODE") {
        "qwen-code"
    } else if set("CURSOR_AGENT") {
        "cursor"
    } else if vars
        .iter()
        .any(|(k, v)| k.starts_with("AIDER_") && !v.is_empty())
    {
        "aider"
    } else {
        match vars.get("TERM_PROGRAM").map(String::as_str) {
            Some("vscode") => "vscode",
            Some("kiro") => "kiro",
            _ => return None,
        }
    };
    Some(name.to_string())
}

/// `<state dir>/audit.jsonl` (`~/.local/state/shellguard/audit.jsonl`).
pub fn log_path(vars: &HashMap<String, String>) -> Option<PathBuf> {
    crate::policy::trust::state_dir(vars).map(|d| d.join("audit.jsonl"))
}

/// Where a log is rotated to.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// Append `rec` to the log at `path` as one line: a single `write(2)` under an exclusive
/// `flock`, on a file created `0600` (its directory `0700`) if missing. A symlink at `path`
/// is refused rather than followed.
pub fn append(path: &Path, rec: &Record) -> io::Result<()> {
    let mut line = rec.to_line().into_bytes();
    line.push(b'\n');
    let file = match open_log(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            }
            open_log(path)?
        }
        other => other?,
    };
    let mut locked = match lock(file)? {
        Ok(locked) => locked,
        Err(mut file) => {
            // Someone has held the lock for seconds (a stopped process, `flock FILE sleep`):
            // the command must not hang on its log line, and O_APPEND still keeps the line
            // whole against every writer that is not the one stuck.
            return file.write_all(&line);
        }
    };
    // One write in practice; `write_all` only loops on a short write, still under the lock.
    locked.write_all(&line)?;
    let meta = locked.metadata()?;
    if meta.len() > MAX_LOG_BYTES {
        // Only while `path` still names the file we hold locked: then no other writer can be
        // rotating it at the same time, and a newer file is never clobbered.
        if std::fs::symlink_metadata(path)
            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        {
            std::fs::rename(path, rotated_path(path))?;
        }
    }
    Ok(())
}

/// The note of lost records, in the private runtime directory.
pub const LOST_FILE: &str = "audit-lost";
/// Past this size the note of lost records stops growing (its count becomes "at least").
const LOST_MAX: u64 = 64 * 1024;

/// A record could not be written to `log` (`err`): said on stderr once per process — once
/// per shell, once per supervisor — and noted in the runtime directory, where `shellguard
/// log` finds it, reports it and clears it. Never fails: this is the report of a failure.
pub fn report_lost(log: &Path, err: &io::Error) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        let _ = writeln!(
            io::stderr(),
            "shellguard: the audit log cannot be written ({}: {err}). Commands are still \
             judged, but not recorded; `shellguard log` says how many records were lost.",
            log.display()
        );
    }
    let vars: HashMap<String, String> = std::env::vars().collect();
    let Ok(dir) = crate::approve::broker::runtime_dir(&vars) else {
        return;
    };
    let line = format!("{} {}: {err}\n", now_rfc3339(), log.display());
    let _ = append_small(&dir.join(LOST_FILE), line.as_bytes(), LOST_MAX);
}

/// Appends `bytes` to the regular file of ours at `path` unless it has reached `max`.
fn append_small(path: &Path, bytes: &[u8], max: u64) -> io::Result<()> {
    let mut f = open_log(path)?;
    if f.metadata()?.len() >= max {
        return Ok(());
    }
    f.write_all(bytes)
}

/// What the note of lost records says: how many, and the first and last of them. With
/// `clear` (a human read it at a terminal of their own) it is removed, so each loss is
/// reported once to them; an agent reading the log leaves it for the human.
pub fn lost_records(vars: &HashMap<String, String>, clear: bool) -> Option<String> {
    let dir = crate::approve::broker::runtime_path(vars);
    crate::approve::broker::check_private_dir(&dir).ok()?;
    let path = dir.join(LOST_FILE);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    if clear {
        let _ = std::fs::remove_file(&path);
    }
    let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    let (&(first, _), &(last, why)) = (lines.first()?, lines.last()?);
    let why = crate::approve::sanitize::for_display(why);
    let at_least = if meta.len() >= LOST_MAX {
        "at least "
    } else {
        ""
    };
    Some(match lines.len() {
        1 => format!("1 audit record could not be written, at {first} ({why})"),
        n => format!(
            "{at_least}{n} audit records could not be written, from {first} to {last} (the last: {why})"
        ),
    })
}

/// The exclusive lock on `file`, or `file` back if it stays taken for [`LOCK_WAIT`].
fn lock(file: File) -> io::Result<Result<Flock<File>, File>> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_micros(50);
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(Ok(locked)),
            Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => file = f,
            Err((_, e)) => return Err(e.into()),
        }
        if Instant::now() >= deadline {
            return Ok(Err(file));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// The log, opened for appending. Only a regular file this user owns is a log: a FIFO put in
/// its place would block the open (and every command) until a reader came, so it is opened
/// without blocking and anything that is not a regular file of ours is an error.
fn open_log(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a regular file owned by you", path.display()),
        ));
    }
    Ok(file)
}

/// Send `rec` to the system log (`/dev/log`): `<PRI>shellguard[PID]: JSON`, facility
/// `authpriv` (command lines can carry secrets), severity `notice` for a refusal and `info`
/// otherwise. Never blocks: a system log that is absent or backed up is an error the caller
/// may ignore. A record too long for common syslog daemons is sent with its command cut short
/// and its `commands` left out, so it is still JSON.
pub fn to_syslog(rec: &Record) -> io::Result<()> {
    to_syslog_at(Path::new(SYSLOG_SOCKET), rec)
}

/// [`to_syslog`] to another socket (tests).
pub fn to_syslog_at(socket: &Path, rec: &Record) -> io::Result<()> {
    let msg = syslog_message(rec, std::process::id());
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.send_to(msg.as_bytes(), socket)?;
    Ok(())
}

/// The datagram [`to_syslog`] sends.
pub fn syslog_message(rec: &Record, pid: u32) -> String {
    const AUTHPRIV: u32 = 10;
    const NOTICE: u32 = 5;
    const INFO: u32 = 6;
    let severity = if rec.outcome == "refused" {
        NOTICE
    } else {
        INFO
    };
    let prefix = format!("<{}>shellguard[{pid}]: ", AUTHPRIV * 8 + severity);
    let mut body = rec.to_line();
    if prefix.len() + body.len() > SYSLOG_MAX {
        let mut short = rec.clone();
        short.commands.clear();
        let total = short.command.len();
        let mut cut = total.min(SYSLOG_MAX / 2);
        while !short.command.is_char_boundary(cut) {
            cut -= 1;
        }
        short.command.truncate(cut);
        short
            .command
            .push_str(&format!("…[{} more bytes]", total - cut));
        body = short.to_line();
    }
    prefix + &body
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 UTC with milliseconds (`1970-01-01T00:00:00.000Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    macro_rules! agents {
        ($($env:expr => $want:expr;)*) => {{
            let mut wrong = Vec::new();
            $( let env: &[(&str, &str)] = &$env;
               let got = detect_agent(&vars(env));
               let want: Option<&str> = $want;
               if got.as_deref() != want { wrong.push(format!("{env:?}: want {want:?}, got {got:?}")); } )*
            assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
        }};
    }

    #[test]
    fn agents_are_detected_from_their_variables() {
        agents! {
            [("CLAUDECODE", "1")] => Some("claude-code");
            [("CLAUDECODE", "0")] => None;
            [("CLAUDE_CODE_ENTRYPOINT", "cli")] => Some("claude-code");
            [("CLAUDECODE", "1"), ("AGENT", "amp")] => Some("amp");
            [("CLAUDECODE", "1"), ("TERM_PROGRAM", "vscode")] => Some("claude-code");
            [("CODEX_SANDBOX", "seatbelt")] => Some("codex");
            [("CODEX_CI", "1")] => Some("codex");
            [("CODEX_SANDBOX_NETWORK_DISABLED", "1")] => Some("codex");
            [("CODEX_THREAD_ID", "t")] => Some("codex");
            [("CODEX_HOME", "/home/u/.codex")] => None;
            [("CODEX_CI", "")] => None;
            [("GEMINI_CLI", "1")] => Some("gemini-cli");
            [("CURSOR_AGENT", "1")] => Some("cursor");
            [("CURSOR_AGENT", "1"), ("TERM_PROGRAM", "vscode")] => Some("cursor");
            [("AIDER_MODEL", "gpt")] => Some("aider");
            [("TERM_PROGRAM", "vscode")] => Some("vscode");
            [("TERM_PROGRAM", "kiro")] => Some("kiro");
            [("TERM_PROGRAM", "iTerm.app")] => None;
            [("HOME", "/home/u"), ("PATH", "/bin")] => None;
            [] => None;
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |s: u64, ms: u64| {
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
        assert_eq!(at(1_777_638_896, 789), "2026-05-01T12:34:56.789Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z");
        assert!(now_rfc3339().starts_with("20"));
    }

    #[test]
    fn a_log_that_is_not_a_regular_file_never_blocks() {
        use std::fs;
        let dir = std::env::temp_dir().join(format!("sg-audit-fifo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit.jsonl");
        nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = Instant::now();
        let err = append(&log, &record("echo hi", "ran")).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "blocked");
        assert!(
            matches!(err.raw_os_error(), Some(libc::ENXIO))
                || err.kind() == io::ErrorKind::InvalidData,
            "{err}"
        );
        fs::remove_file(&log).unwrap();
        fs::create_dir(&log).unwrap();
        assert!(append(&log, &record("echo hi", "ran")).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    fn record(command: &str, outcome: &str) -> Record {
        Record {
            time: now_rfc3339(),
            agent: Some("codex".into()),
            cwd: "/p".into(),
            command: command.into(),
            commands: vec![vec!["rm".into(), "-rf".into(), "x".into()]],
            rules: vec![RuleHit {
                id: "fs.rm".into(),
                decision: "deny".into(),
            }],
            decision: "deny".into(),
            outcome: outcome.into(),
            approved_by: None,
            request_id: Some("ab12cd34".into()),
            mode: "default".into(),
            enforced: None,
            exec: None,
            cut: None,
        }
    }

    #[test]
    fn a_very_long_record_keeps_head_tail_and_hash() {
        // A 1 MB script of many commands, with multi-byte characters at the cut points.
        let script: String = (0..40_000).map(|i| format!("echo é{i} ü\n")).collect();
        let mut r = record(&script, "ran");
        r.commands = (0..40_000)
            .map(|i| vec!["echo".to_string(), format!("é{i}"), "ü".to_string()])
            .collect();
        r.commands[0].push("ü".repeat(100_000));
        let line = r.to_line();
        assert!(line.len() <= MAX_RECORD_BYTES, "{}", line.len());
        let back: Record = serde_json::from_str(&line).unwrap();
        assert!(back.command.starts_with("echo é0 ü\necho é1 ü\n"));
        assert!(back.command.ends_with("echo é39999 ü\n"));
        assert!(back.command.contains(" bytes left out "));
        let cut = back.cut.expect("cut");
        assert_eq!(cut.bytes, script.len());
        assert_eq!(cut.sha256, crate::policy::trust::hash(script.as_bytes()));
        assert_eq!(cut.commands_left_out, 40_000 - back.commands.len());
        assert!(back.commands.len() > 100, "{}", back.commands.len());
        assert!(back.commands[0][3].len() <= 1024 + 3);
        // A short record is written whole, as before.
        let short = record("ls", "ran");
        assert_eq!(
            serde_json::from_str::<Record>(&short.to_line()).unwrap(),
            short
        );
    }

    #[test]
    fn a_record_is_one_line_that_round_trips() {
        let r = record("echo a\nrm -rf x\r\u{2028}\u{1b}[2J", "refused");
        let line = r.to_line();
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
    }

    #[test]
    fn record_new_fills_in_the_decision() {
        let mut ctx = crate::analyze::Context {
            cwd: Some("/nonexistent-sg/p".into()),
            ..Default::default()
        };
        ctx.vars
            .insert("HOME".into(), "/nonexistent-sg/home".into());
        ctx.vars.insert("GEMINI_CLI".into(), "1".into());
        let paths = crate::guard::path_context(&ctx);
        let policy = crate::policy::Policy::builtin_only();
        let cmd = "ls; rm -rf /";
        let a = crate::analyze::analyze(cmd, &ctx);
        let d = policy.decide(&a, &paths, cmd);
        let r = Record::new(cmd, "/nonexistent-sg/p", &a, &d, Mode::Default, &ctx.vars);
        assert_eq!(r.agent.as_deref(), Some("gemini-cli"));
        assert_eq!(r.decision, "deny");
        assert_eq!(r.outcome, "refused");
        assert_eq!(r.commands, vec![vec!["ls"], vec!["rm", "-rf", "/"]]);
        assert!(
            r.rules.iter().any(|h| h.decision == "deny"),
            "{:?}",
            r.rules
        );
        assert_eq!(r.mode, "default");
    }

    #[test]
    fn syslog_messages_have_priority_tag_and_stay_short() {
        let m = syslog_message(&record("rm -rf x", "refused"), 42);
        assert!(m.starts_with("<85>shellguard[42]: {"), "{m}");
        let m = syslog_message(&record("ls", "ran"), 42);
        assert!(m.starts_with("<86>shellguard[42]: {"), "{m}");
        let long = format!("echo {}", "é".repeat(10_000));
        let m = syslog_message(&record(&long, "ran"), 1);
        assert!(m.len() <= SYSLOG_MAX, "{}", m.len());
        let json = m.split_once(": ").unwrap().1;
        let r: Record = serde_json::from_str(json).unwrap();
        assert!(r.command.ends_with("more bytes]") && r.commands.is_empty());
    }

    #[test]
    fn a_stuck_lock_delays_but_does_not_stop_the_line() {
        let dir = std::env::temp_dir().join(format!("sg-audit-stuck-{}", std::process::id()));
        let path = dir.join("audit.jsonl");
        append(&path, &record("first", "ran")).unwrap();
        let held = Flock::lock(File::open(&path).unwrap(), FlockArg::LockExclusive).unwrap();
        let start = Instant::now();
        append(&path, &record("second", "ran")).unwrap();
        assert!(start.elapsed() >= LOCK_WAIT);
        drop(held);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn append_creates_private_files_and_rotates() {
        let dir = std::env::temp_dir().join(format!("sg-audit-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("state/shellguard/audit.jsonl");
        append(&path, &record("ls", "ran")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // A log past the limit is moved aside after the write that crossed it.
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        f.set_len(MAX_LOG_BYTES + 1).unwrap();
        append(&path, &record("second", "ran")).unwrap();
        assert!(!path.exists());
        assert!(rotated_path(&path).exists());
        append(&path, &record("third", "ran")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        // A symlink in place of the log is not followed.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), &path).unwrap();
        assert!(append(&path, &record("x", "ran")).is_err());
        assert!(!dir.join("elsewhere").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
