//! The supervisor's side of the seccomp filter. It answers the calls the filter holds:
//!
//! - **a guard's request for its real shell** (`openat` on the magic directory descriptor).
//!   The answer is a descriptor of the real shell file (opened for reading: the kernel will
//!   not hand over an `O_PATH` one), opened by the supervisor outside the tree (inside, every
//!   shell path is the guard), placed into the caller with close-on-exec. It goes only to a
//!   caller whose executable is the sandbox's own copy of the guard and that lives in the
//!   sandbox's mount namespace; everyone else gets EPERM. The guard is execute-only, so it is
//!   never dumpable: nothing else in the tree can read or write its memory to make it ask for
//!   something it did not judge.
//! - **every `execve` and `execveat`** of the tree: the exec gate. The program file and the
//!   argument vector are read from the caller (`execs`) and judged by the same rules as the
//!   same words in a shell (`judge`). An allowed exec goes on untouched; a refused one fails
//!   with EACCES (a shell reports 126) and the refusal paragraph goes to the caller's stderr;
//!   one that needs a human waits, held in the kernel, while the human is asked at the
//!   supervisor's prompt or a watch console, and nothing else in the tree waits with it.
//!   Execs of the guard (any shell, and scripts for one) are the guard's to judge, and the
//!   guard's own exec of its real shell is let through at once.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::execs::{self, Call, Fails, NotScripts, Program, Root};
use super::grants::Grants;
use super::judge::{Answer, Judge, Query};
use crate::approve::protocol::{self, Request, Verdict};
use crate::audit::{approver, ExecOrigin};
use crate::enforced::SUPERVISOR_DIRFD;
use crate::rules::Decision;
use crate::sys::kernel::{self, Notification};

/// What identifies a real guard in the tree.
#[derive(Debug, Clone, Copy)]
pub struct GuardId {
    pub dev: u64,
    pub ino: u64,
    pub mnt_ns: u64,
}

impl GuardId {
    /// Whether `p` is the guard's file (every shell path in the tree leads to it).
    fn is_file(&self, p: &Program) -> bool {
        p.dev == self.dev && p.ino == self.ino
    }
}

/// Asks the human at the supervisor's own prompt; `None` when it cannot (no terminal, the
/// agent gone, too many waiting).
pub type Prompt = Arc<dyn Fn(&Request) -> Option<protocol::Answer> + Send + Sync>;

/// Where the exec gate asks and writes.
pub struct Channels {
    pub prompt: Option<Prompt>,
    /// A `shellguard watch` console's socket, asked when the supervisor has no prompt.
    pub watch: PathBuf,
    pub audit_log: PathBuf,
    pub state_dir: PathBuf,
}

/// Everything the gate serves with.
pub struct Gate {
    pub listener: OwnedFd,
    pub guard: GuardId,
    /// The binary the sandbox's init runs: its first exec starts the agent the human named.
    pub starter: (u64, u64),
    pub shells: Vec<OwnedFd>,
    pub judge: Judge,
    pub grants: Arc<Grants>,
    pub channels: Channels,
}

/// Serves the listener on a thread of its own until the tree is gone.
pub fn spawn(gate: Gate) {
    thread::spawn(move || serve(gate));
}

struct Served {
    listener: Arc<OwnedFd>,
    guard: GuardId,
    starter: Option<(u64, u64)>,
    refused: Arc<Refused>,
    quiet: Quiet,
    root: Option<Root>,
    not_scripts: NotScripts,
    shells: Vec<OwnedFd>,
    shell_ids: Vec<(u64, u64)>,
    judge: Judge,
    grants: Arc<Grants>,
    channels: Arc<Channels>,
}

fn serve(gate: Gate) {
    let shell_ids = gate
        .shells
        .iter()
        .filter_map(|f| {
            let m = std::fs::metadata(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()?;
            Some((m.dev(), m.ino()))
        })
        .collect();
    let mut s = Served {
        listener: Arc::new(gate.listener),
        guard: gate.guard,
        starter: Some(gate.starter),
        refused: Arc::new(Refused::default()),
        quiet: Quiet::default(),
        root: None,
        not_scripts: NotScripts::default(),
        shells: gate.shells,
        shell_ids,
        judge: gate.judge,
        grants: gate.grants,
        channels: Arc::new(gate.channels),
    };
    let _ = kernel::notif_sync_wake_up(s.listener.as_fd());
    loop {
        let n = match kernel::notif_receive(s.listener.as_fd()) {
            Ok(n) => n,
            // The caller died between being held and being read: nothing to answer.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            // No process uses the filter any more (or the descriptor broke): done.
            Err(_) => return,
        };
        let answer = match i64::from(n.nr) {
            libc::SYS_openat => s.on_shell_request(&n),
            libc::SYS_execve | libc::SYS_execveat => s.on_exec(&n),
            _ => Reply::Fail(libc::EPERM),
        };
        s.reply(&n, answer);
    }
}

/// The answer to one held call.
enum Reply {
    Continue,
    Fail(i32),
    GiveShell(usize),
    /// Answered later, by a thread that asks the human.
    Later,
    /// The caller went away meanwhile.
    Nobody,
}

impl Served {
    fn reply(&self, n: &Notification, r: Reply) {
        let fd = self.listener.as_fd();
        let sent = match r {
            Reply::Continue => kernel::notif_continue(fd, n.id),
            Reply::Fail(e) => kernel::notif_fail(fd, n.id, e),
            Reply::GiveShell(i) => kernel::notif_give_fd(fd, n.id, self.shells[i].as_fd()),
            Reply::Later | Reply::Nobody => Ok(()),
        };
        never_leave_held(fd, n, sent);
    }

    fn on_shell_request(&self, n: &Notification) -> Reply {
        let is_request = (n.args[0] as u32) == SUPERVISOR_DIRFD as u32;
        let shell = usize::try_from(n.args[3])
            .ok()
            .filter(|&i| i < self.shells.len());
        match (is_request, shell) {
            (true, Some(i)) if is_guard(n.pid, self.guard) => {
                if kernel::notif_still_valid(self.listener.as_fd(), n.id) {
                    Reply::GiveShell(i)
                } else {
                    Reply::Nobody
                }
            }
            _ => Reply::Fail(libc::EPERM),
        }
    }

    fn on_exec(&mut self, n: &Notification) -> Reply {
        let fd = self.listener.as_fd();
        // The first exec in the tree is its init starting the agent: the human's own command.
        if let Some(starter) = self.starter.take() {
            let exe = std::fs::metadata(format!("/proc/{}/exe", n.pid));
            if exe.is_ok_and(|m| (m.dev(), m.ino()) == starter) {
                return Reply::Continue;
            }
        }
        let empty_path = n.args[4] & libc::AT_EMPTY_PATH as u64 != 0;
        if i64::from(n.nr) == libc::SYS_execveat && empty_path && self.guard_runs_its_shell(n) {
            return Reply::Continue;
        }
        let mut call = match Call::read(n.pid, n.nr, &n.args) {
            Ok(c) => c,
            Err(Fails(e)) => return Reply::Fail(e),
        };
        if self.root.is_none() {
            match Root::of(n.pid) {
                Ok(r) => self.root = Some(r),
                Err(Fails(e)) => return Reply::Fail(e),
            }
        }
        let Some(root) = &self.root else {
            return Reply::Fail(libc::EIO);
        };
        let first = match call.open(root) {
            Ok(p) => p,
            Err(Fails(e)) => return Reply::Fail(e),
        };
        if let Err(Fails(e)) = call.read_argv() {
            return Reply::Fail(e);
        }
        let guard = self.guard;
        let (program, argv) = execs::final_program(
            &call,
            root,
            first,
            |p| guard.is_file(p),
            &mut self.not_scripts,
        );
        // A shell, or a script for one: the guard judges it, whole.
        if guard.is_file(&program) {
            return Reply::Continue;
        }
        let mut query = query(&call, &program, argv);
        // Letting it go on needs no check that the caller is still the one held: if it died
        // meanwhile, the answer goes nowhere.
        if self.quiet.knows(&query) {
            return Reply::Continue;
        }
        // Anything more (a message, a question) must be about the caller still waiting, not
        // a process that took its number after it died.
        if !kernel::notif_still_valid(fd, n.id) {
            return Reply::Nobody;
        }
        query.origin.parent = call
            .caller_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(answer) = self.judge.ask(&query) else {
            tell(fd, n, &String::from_utf8_lossy(crate::sys::REFUSAL));
            return Reply::Fail(libc::EACCES);
        };
        let log = |a: &Answer, outcome: &str, by: Option<&str>, id: Option<&str>| {
            a.log(&self.channels.audit_log, outcome, by, id);
        };
        if answer.quiet {
            self.quiet.learn(&query);
        }
        if let Some(by) = &answer.approved_by {
            log(&answer, "ran", Some(by), None);
            return Reply::Continue;
        }
        // The C library tries the next directory of PATH after a refusal: the same question
        // again, already answered.
        if answer.decision != Decision::Allow && self.refused.recently(n.pid, &answer.command) {
            return Reply::Fail(libc::EACCES);
        }
        match answer.decision {
            Decision::Allow => {
                log(&answer, "ran", None, None);
                Reply::Continue
            }
            Decision::Deny => {
                let msg = answer.refusals.as_ref().map(|r| r.denied.as_str());
                tell(fd, n, msg.unwrap_or_default());
                log(&answer, "refused", None, None);
                self.refused.note(n.pid, &answer.command);
                Reply::Fail(libc::EACCES)
            }
            Decision::Confirm => {
                let rules: Vec<(String, Vec<String>)> = answer
                    .rules
                    .iter()
                    .map(|r| (r.id.clone(), r.touches.clone()))
                    .collect();
                if self.grants.covers(n.pid, &rules) {
                    log(&answer, "ran", Some(approver::APPROVED_LINE), None);
                    return Reply::Continue;
                }
                let held = Held {
                    listener: Arc::clone(&self.listener),
                    grants: Arc::clone(&self.grants),
                    channels: Arc::clone(&self.channels),
                    refused: Arc::clone(&self.refused),
                };
                // Shown as who asks: the program that starts it, and that no shell is between.
                let parent = base_name(query.origin.parent.as_bytes());
                let who = format!("{parent} starting {} directly", query.origin.path);
                let (n, cwd) = (*n, query.cwd);
                thread::spawn(move || ask(&held, &n, &answer, &cwd, who));
                Reply::Later
            }
        }
    }

    /// The guard's `execveat(fd, "", …, AT_EMPTY_PATH)` of the real shell the supervisor gave
    /// it: it has judged what that shell will run.
    fn guard_runs_its_shell(&self, n: &Notification) -> bool {
        let fd = n.args[0] as i32;
        if fd < 0 || !is_guard(n.pid, self.guard) {
            return false;
        }
        // Not through /proc/PID/fd: the guard is not dumpable, so that directory is closed to
        // us, but the descriptor itself can be had.
        let Ok(file) = execs::their_fd(n.pid, fd) else {
            return false;
        };
        let Ok(m) = std::fs::metadata(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
            return false;
        };
        self.shell_ids.contains(&(m.dev(), m.ino()))
    }
}

/// Never leave a caller held: if the answer could not be given, fail the call. (ENOENT: the
/// caller was killed meanwhile, and there is nobody to answer.)
fn never_leave_held(fd: BorrowedFd<'_>, n: &Notification, sent: std::io::Result<()>) {
    if let Err(e) = sent {
        if e.raw_os_error() != Some(libc::ENOENT) {
            let _ = kernel::notif_fail(fd, n.id, libc::EIO);
        }
    }
}

fn base_name(p: &[u8]) -> String {
    let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
    String::from_utf8_lossy(name).into_owned()
}

/// The query for `argv` run as `program`: judged under every name the program goes by.
fn query(call: &Call, program: &Program, argv: Vec<Vec<u8>>) -> Query {
    let followed_script = argv != call.argv;
    let real = program.real.as_os_str().as_bytes();
    let mut names = Vec::new();
    if followed_script {
        names.extend(argv.first().map(|a| base_name(a)));
    } else if !call.empty_path {
        names.push(base_name(&call.path));
    }
    names.push(base_name(real));
    if !followed_script {
        names.extend(argv.first().map(|a| base_name(a)));
    }
    names.retain(|n| !n.is_empty());
    names.dedup();
    let mut uniq: Vec<String> = Vec::new();
    for n in names {
        if !uniq.contains(&n) {
            uniq.push(n);
        }
    }
    let unreadable = argv.iter().any(|a| std::str::from_utf8(a).is_err());
    let rest: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let variants = uniq
        .into_iter()
        .map(|name| std::iter::once(name).chain(rest.iter().cloned()).collect())
        .collect();
    let lossy = |p: Option<PathBuf>| p.map(|p| p.to_string_lossy().into_owned());
    Query {
        variants,
        unreadable,
        cwd: lossy(call.cwd()).unwrap_or_else(|| "/".into()),
        // Filled in only when the judge is asked (see `Served::on_exec`).
        origin: ExecOrigin {
            pid: call.pid,
            parent: String::new(),
            path: program.real.to_string_lossy().into_owned(),
        },
    }
}

/// Programs the judge found no rule can match, by directory: the exec gate's fast path.
/// An entry stands for [`QUIET_FOR`], so that a rule added to a configuration meanwhile
/// takes effect within that time.
#[derive(Default)]
struct Quiet(std::collections::HashMap<(String, String), Instant>);

const QUIET_FOR: Duration = Duration::from_secs(2);
/// Entries kept at once (all are dropped when full: they are only a cache).
const MAX_QUIET: usize = 4096;
/// Arguments past this size, or with this much bracket nesting in them, are always judged
/// (the analyser's own limits are what matters for them).
const QUIET_ARGS_MAX: usize = 256 * 1024;
const QUIET_BRACKETS_MAX: usize = 32;

impl Quiet {
    fn knows(&self, q: &Query) -> bool {
        let plain = || {
            let words = q.variants.first().map_or(&[][..], |v| &v[..]);
            let size: usize = words.iter().map(String::len).sum();
            let brackets = words
                .iter()
                .flat_map(|w| w.bytes())
                .filter(|b| matches!(b, b'(' | b'{' | b'[' | b'`'))
                .count();
            size < QUIET_ARGS_MAX && brackets < QUIET_BRACKETS_MAX
        };
        !q.unreadable
            && q.variants.iter().all(|v| {
                v.first().is_some_and(|name| {
                    self.0
                        .get(&(q.cwd.clone(), name.clone()))
                        .is_some_and(|t| t.elapsed() < QUIET_FOR)
                })
            })
            && plain()
    }

    fn learn(&mut self, q: &Query) {
        if self.0.len() >= MAX_QUIET {
            self.0.clear();
        }
        let now = Instant::now();
        for v in &q.variants {
            if let Some(name) = v.first() {
                self.0.insert((q.cwd.clone(), name.clone()), now);
            }
        }
    }
}

/// Execs refused lately, by process and command.
#[derive(Default)]
struct Refused(std::sync::Mutex<Vec<(u32, String, Instant)>>);

/// How long a refusal stands for the same process retrying the same command.
const REFUSAL_STANDS: Duration = Duration::from_secs(5);

impl Refused {
    fn note(&self, pid: u32, command: &str) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        v.retain(|(_, _, t)| now.duration_since(*t) < REFUSAL_STANDS);
        v.push((pid, command.to_string(), now));
    }

    fn recently(&self, pid: u32, command: &str) -> bool {
        let v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.iter()
            .any(|(p, c, t)| *p == pid && c == command && t.elapsed() < REFUSAL_STANDS)
    }
}

/// What a thread that asks about a held exec needs.
struct Held {
    listener: Arc<OwnedFd>,
    grants: Arc<Grants>,
    channels: Arc<Channels>,
    refused: Arc<Refused>,
}

/// Asks a human about a held exec, then lets it go on or fails it. Runs on a thread of its
/// own: the rest of the tree goes on meanwhile.
fn ask(held: &Held, n: &Notification, a: &Answer, cwd: &str, who: String) {
    let (fd, grants, ch) = (held.listener.as_fd(), &held.grants, &held.channels);
    let id = a.id.clone().unwrap_or_else(protocol::new_id);
    let req = Request {
        id: id.clone(),
        nonce: protocol::new_nonce(),
        command: a.command.clone(),
        cwd: cwd.to_string(),
        what: a.what.clone(),
        agent: Some(who),
        rules: a.rules.clone(),
        highlights: a.highlights.clone(),
        pid: n.pid,
        wait_secs: a.wait_secs,
        enforced: true,
    };
    // Recorded before asking: should the supervisor be killed mid-question, this remains.
    a.log(&ch.audit_log, "asked", None, Some(&id));
    let heard = ask_channels(ch, &req);
    let log = |outcome: &str, by: Option<&str>, rid: Option<&str>| {
        a.log(&ch.audit_log, outcome, by, rid);
    };
    let refusals = a.refusals.clone().unwrap_or_default();
    let later = |why: &str| {
        let rules: Vec<String> = a.rules.iter().map(|r| r.id.clone()).collect();
        let line = crate::policy::approvals::Line {
            command: &a.command,
            cwd,
            what: a.what.as_deref(),
        };
        let kept = crate::policy::approvals::record_refused(&ch.state_dir, &id, &line, &rules);
        log("refused", None, kept.is_ok().then_some(id.as_str()));
        match kept {
            Ok(()) => tell(fd, n, why),
            Err(e) => tell(
                fd,
                n,
                &crate::approve::refuse::unkept(
                    why,
                    &id,
                    &format!("{}: {e}", ch.state_dir.display()),
                ),
            ),
        }
        held.refused.note(n.pid, &a.command);
        kernel::notif_fail(fd, n.id, libc::EACCES)
    };
    let sent = match heard {
        Some((Verdict::Approve, who)) => {
            let rules = a
                .rules
                .iter()
                .map(|r| (r.id.clone(), r.touches.clone()))
                .collect();
            grants.add(n.pid, rules);
            log("ran", Some(who), Some(&id));
            kernel::notif_continue(fd, n.id)
        }
        Some((Verdict::Refuse, _)) => {
            log("refused", None, Some(&id));
            tell(fd, n, &refusals.declined);
            held.refused.note(n.pid, &a.command);
            kernel::notif_fail(fd, n.id, libc::EACCES)
        }
        Some((Verdict::Timeout, _)) => later(&refusals.timed_out),
        None => later(&refusals.no_one),
    };
    never_leave_held(fd, n, sent);
}

/// The supervisor's prompt, else a watch console, else nobody.
fn ask_channels(ch: &Channels, req: &Request) -> Option<(Verdict, &'static str)> {
    if let Some(prompt) = &ch.prompt {
        if let Some(answer) = prompt(req) {
            return Some((answer.verdict, approver::SUPERVISOR));
        }
    }
    let wait = Duration::from_secs(req.wait_secs);
    match crate::approve::broker::ask_checked(
        &ch.watch,
        req,
        wait,
        &crate::approve::procs::has_terminal,
    ) {
        Ok(answer) => Some((answer.verdict, approver::WATCH)),
        Err(crate::approve::broker::BrokerError::TimedOut) => {
            Some((Verdict::Timeout, approver::WATCH))
        }
        Err(_) => None,
    }
}

/// Refusal paragraphs being written; past this many, more are dropped rather than queued.
const MAX_TELLING: usize = 16;
/// A paragraph longer than this is cut (one pipe write stays whole).
const MAX_TELL: usize = 4000;

/// Writes `msg` to the stderr of the caller of `n` (which stays held meanwhile, so the
/// descriptor is the right process's), without ever making the gate wait on it.
fn tell(listener: BorrowedFd<'_>, n: &Notification, msg: &str) {
    static TELLING: AtomicUsize = AtomicUsize::new(0);
    if msg.is_empty() {
        return;
    }
    let Ok(pidfd) = kernel::pidfd_open(n.pid) else {
        return;
    };
    if !kernel::notif_still_valid(listener, n.id) {
        return;
    }
    let Ok(err) = kernel::pidfd_getfd(pidfd.as_fd(), 2) else {
        return;
    };
    let mut bytes = msg.as_bytes()[..msg.len().min(MAX_TELL)].to_vec();
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    let write = move |err: OwnedFd, ms: u16| {
        use nix::poll::{poll, PollFd, PollFlags};
        use std::io::Write;
        let mut fds = [PollFd::new(err.as_fd(), PollFlags::POLLOUT)];
        let ready = matches!(poll(&mut fds, ms), Ok(n) if n > 0);
        if ready {
            let _ = std::fs::File::from(err).write(&bytes);
        }
        ready
    };
    // Written before the caller hears of the refusal, so that it is there when the caller
    // reads its stderr; only a stderr that cannot take it now waits, on a thread of its own.
    let Ok(again) = err.try_clone() else { return };
    if write(err, 0) {
        return;
    }
    if TELLING.fetch_add(1, Ordering::SeqCst) >= MAX_TELLING {
        TELLING.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    thread::spawn(move || {
        write(again, 2000);
        TELLING.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Whether process `pid` (our numbering) runs the sandbox's guard in the sandbox's mount
/// namespace.
pub fn is_guard(pid: u32, guard: GuardId) -> bool {
    let exe = std::fs::metadata(format!("/proc/{pid}/exe"));
    let ns = std::fs::metadata(format!("/proc/{pid}/ns/mnt"));
    matches!((exe, ns), (Ok(exe), Ok(ns))
        if exe.dev() == guard.dev && exe.ino() == guard.ino && ns.ino() == guard.mnt_ns)
}
