//! The enforced boundary of `shellguard run` (Linux).
//!
//! What it guarantees for every process of the agent's tree, by the kernel and whatever the
//! process is (a shell, Python, a compiled program):
//!
//! 1. **Every shell is the guard.** The guard is mounted over every shell file on the
//!    system's usual paths (`bash`, `sh`, `dash`, `zsh`, … in `/bin`, `/usr/bin`,
//!    `/usr/local/bin`, and `/etc/shells`), so `/bin/bash -lc`, `/bin/sh -c`, `#!/bin/bash`,
//!    `env bash` and the passwd login shell all start the guard. The real shells are not on
//!    any path in the tree: the guard receives its real shell as a descriptor from the
//!    supervisor (`gate`), which gives one only to the guard.
//! 2. **shellguard's own state is read-only.** The user's configuration, state (trust store,
//!    approvals, audit log) and runtime directories, the managed directory and the installed
//!    binary are read-only mounts; every directory above them is pinned by a mount, so it
//!    cannot be renamed or removed to put another in its place. Guards read their
//!    configuration from fixed read-only views (`enforced::Manifest`), never from paths the
//!    environment names, and hand their audit lines and refused requests to the supervisor
//!    (`records`), which writes them.
//! 3. **No way back.** The tree runs in its own user, mount and pid namespaces with every
//!    capability dropped (bounding set included) and `no_new_privs` set; its seccomp filter
//!    (`filter`) refuses a new user namespace, `ptrace` and the other ways into another
//!    process's memory, and `TIOCSTI`. It cannot see or signal the supervisor (another pid
//!    namespace), and if the supervisor dies the whole tree is killed.
//! 4. **No new privileges.** Set-user-ID programs cannot elevate (`no_new_privs`); the guard
//!    is mounted over those in the bin directories and in `/usr/lib` and `/usr/libexec` (two
//!    levels deep) so that they say why instead of failing obscurely.
//!
//! 5. **Every exec is judged.** The filter holds every `execve` and `execveat` for the
//!    supervisor's exec gate (`gate`, `execs`, `judge`): the program and its arguments are
//!    judged as the same words in a shell, and a confirm waits for the human.
//!
//! What it does not do: see what a program does through its own system calls
//! (`shutil.rmtree`), or calls to remote APIs. See the README's threat model.

mod execs;
mod filter;
mod gate;
mod grants;
mod init;
pub mod judge;
mod records;

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

use crate::enforced::{self, Manifest, Shell};
pub use gate::Prompt;
pub use init::init_main;
pub use judge::{judge_main, SUBCOMMAND as JUDGE_SUBCOMMAND};

/// The hidden subcommand the supervisor starts in the agent's pty.
pub const INIT_SUBCOMMAND: &str = "__sandbox-init";
/// Carries the [`Spec`] to the init process (removed before the agent starts).
pub const SPEC_ENV: &str = "SHELLGUARD_SANDBOX_SPEC";

/// Set to `1` in the supervisor's own environment, this runs the boundary without the exec
/// gate: the benchmark's baseline, never a setting (`bench/enforce.sh`).
pub const BENCH_NO_EXEC_GATE: &str = "SHELLGUARD_BENCH_NO_EXEC_GATE";

/// How long the init process has to build the boundary.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Shell names the guard is mounted over, where a file of that name exists.
const SHELL_NAMES: &[&str] = &[
    "bash", "rbash", "sh", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "yash", "posh",
];
/// Where shells and set-user-ID programs are looked for.
const BIN_DIRS: &[&str] = &[
    "/bin",
    "/usr/bin",
    "/usr/local/bin",
    "/sbin",
    "/usr/sbin",
    "/usr/local/sbin",
];

/// Everything the init process needs, computed by the supervisor.
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    /// Socket on which the init process reports (see [`Ready`]).
    pub control: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// The shellguard binary copied into the sandbox as the guard.
    pub guard_source: PathBuf,
    pub sandbox_dir: PathBuf,
    /// Directories bound onto themselves so they cannot be renamed or removed.
    pub pinned: Vec<PathBuf>,
    /// Directories made read-only where they are.
    pub read_only: Vec<PathBuf>,
    /// Read-only views inside the sandbox directory: (real directory, name).
    pub views: Vec<(PathBuf, String)>,
    /// Files the guard is mounted over.
    pub cover: Vec<PathBuf>,
    pub manifest: Manifest,
    /// Hold every exec for the gate. Off only for measuring what the gate costs
    /// ([`BENCH_NO_EXEC_GATE`]).
    pub exec_gate: bool,
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// The init process's report.
#[derive(Debug, Serialize, Deserialize)]
pub enum Ready {
    /// Built; the seccomp listener travels with this message.
    Ok {
        guard_dev: u64,
        guard_ino: u64,
        mnt_ns: u64,
    },
    /// This step failed; the agent was not started.
    Failed(String),
}

/// Why enforcement is not possible here, for the human.
#[derive(Debug)]
pub struct Unavailable(pub String);

/// A boundary ready to be built around `program`.
pub struct Prepared {
    spec: Spec,
    shells: Vec<OwnedFd>,
    control: UnixListener,
    control_path: PathBuf,
    records: records::Records,
    audit_log: PathBuf,
    state_dir: PathBuf,
}

/// The boundary while the agent runs; its sockets go away when this is dropped.
pub struct Running {
    _records: records::Records,
}

/// The shellguard binary to copy as the guard: this one, or `SHELLGUARD_TEST_BIN` (for tests
/// whose supervisor is a test binary). Only the supervisor's own environment is read here,
/// which is the human's, never the agent's.
fn guard_source() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("SHELLGUARD_TEST_BIN") {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe()
}

/// What this kernel lacks for enforcement, checked before anything is started.
pub fn preflight() -> Result<(), Unavailable> {
    if !filter::supported() {
        return Err(Unavailable(format!(
            "this build has no seccomp filter for {} (x86_64 and aarch64 only)",
            std::env::consts::ARCH
        )));
    }
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    if (major, minor) < (5, 14) {
        return Err(Unavailable(format!(
            "Linux 5.14 or newer is needed (seccomp user notification that hands over a \
             descriptor); this kernel is {release}"
        )));
    }
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err(Unavailable(
            "user namespaces are disabled (user.max_user_namespaces = 0)".into(),
        ));
    }
    if read("/proc/sys/kernel/yama/ptrace_scope").as_deref() == Some("3") {
        return Err(Unavailable(
            "Yama forbids reading another process's memory (kernel.yama.ptrace_scope = 3), \
             which the exec gate needs to read what a program is started with"
                .into(),
        ));
    }
    let root = nix::unistd::geteuid().is_root();
    if !root && read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(Unavailable(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
                .into(),
        ));
    }
    if !root
        && read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return Err(Unavailable(
            "AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns = 1); an AppArmor profile that \
             allows `userns` for shellguard, or setting that sysctl to 0, lifts it"
                .into(),
        ));
    }
    Ok(())
}

/// Creates `dir` (mode 0700, parents as needed) if missing.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Canonical path and identity of each existing file among `candidates`, first one wins.
fn unique_files(candidates: impl IntoIterator<Item = PathBuf>) -> Vec<(PathBuf, (u64, u64))> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in candidates {
        let Ok(real) = std::fs::canonicalize(&c) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if !meta.is_file() || !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        out.push((real, (meta.dev(), meta.ino())));
    }
    out
}

fn shells(guard: (u64, u64)) -> Vec<Shell> {
    let listed = std::fs::read_to_string("/etc/shells").unwrap_or_default();
    let from_list = listed
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| SHELL_NAMES.contains(&n))
        })
        .collect::<Vec<_>>();
    let candidates = bin_dirs()
        .into_iter()
        .flat_map(|d| SHELL_NAMES.iter().map(move |n| d.join(n)))
        .chain(from_list);
    unique_files(candidates)
        .into_iter()
        // An installed shim (a link to shellguard named bash) is not a shell.
        .filter(|(_, id)| *id != guard)
        .filter_map(|(path, _)| {
            let name = path.file_name()?.to_str()?.to_string();
            // A multi-call binary (busybox) is more than a shell: covering it would break
            // every other program it is.
            SHELL_NAMES
                .contains(&name.as_str())
                .then_some(Shell { path, name })
        })
        .collect()
}

/// [`BIN_DIRS`] that exist, each once (`/bin` is often `/usr/bin`).
fn bin_dirs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for d in BIN_DIRS {
        if let Ok(real) = std::fs::canonicalize(d) {
            if !out.contains(&real) {
                out.push(real);
            }
        }
    }
    out
}

/// Where set-user-ID helpers live besides the bin directories (`ssh-keysign`,
/// `dbus-daemon-launch-helper`, `polkit-agent-helper-1`), looked into two levels deep.
const HELPER_DIRS: &[&str] = &["/usr/lib", "/usr/libexec"];

fn setuid_programs() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    for dir in bin_dirs() {
        setuid_in(&dir, 0, &mut candidates);
    }
    for dir in HELPER_DIRS {
        setuid_in(Path::new(dir), 1, &mut candidates);
    }
    unique_files(candidates)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Set-user-ID files in `dir`, and in its subdirectories `depth` levels down (links are not
/// followed).
fn setuid_in(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        // The directory entry's own type: no stat for what is not a file or a directory.
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && depth > 0 {
            setuid_in(&e.path(), depth - 1, out);
        } else if kind.is_file() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.permissions().mode() & 0o4000 != 0 {
                out.push(e.path());
            }
        }
    }
}

/// Every ancestor of `dirs` below `/`, parents first.
fn ancestors(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        for a in d.ancestors().skip(1) {
            if a.parent().is_some() && !out.iter().any(|o| o == a) {
                out.push(a.to_path_buf());
            }
        }
    }
    out.sort_by_key(|p| p.components().count());
    out
}

/// The sandbox directory's parent, `/tmp/shellguard-UID`, created private if missing.
fn sandbox_parent(sbx: &Path) -> io::Result<PathBuf> {
    let parent = sbx
        .parent()
        .ok_or_else(|| io::Error::other("no parent"))?
        .to_path_buf();
    match std::fs::DirBuilder::new().mode(0o700).create(&parent) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    crate::approve::broker::check_private_dir(&parent)?;
    match std::fs::DirBuilder::new().mode(0o700).create(sbx) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    Ok(parent)
}

/// Works out the boundary for `program args`, creating what must exist so it can be made
/// read-only (shellguard's directories) and the sockets the tree will use.
pub fn prepare(
    program: &Path,
    args: &[String],
    supervisor_socket: Option<&Path>,
    vars: &std::collections::HashMap<String, String>,
) -> Result<Prepared, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let source = guard_source().map_err(|e| fail("cannot tell where shellguard is", &e))?;
    let source = std::fs::canonicalize(&source).unwrap_or(source);
    let source_meta = std::fs::metadata(&source)
        .map_err(|e| fail(&format!("cannot read {}", source.display()), &e))?;
    let guard_id = (source_meta.dev(), source_meta.ino());

    let home = vars.get("HOME").filter(|h| h.starts_with('/'));
    let config_dir = match vars.get("XDG_CONFIG_HOME").filter(|v| v.starts_with('/')) {
        Some(x) => PathBuf::from(x).join("shellguard"),
        None => PathBuf::from(home.ok_or("HOME is not set to an absolute path")?)
            .join(".config/shellguard"),
    };
    let state_dir = crate::policy::trust::state_dir(vars).ok_or("HOME is not set")?;
    for d in [&config_dir, &state_dir] {
        ensure_dir(d).map_err(|e| fail(&format!("cannot create {}", d.display()), &e))?;
    }
    let runtime_dir = crate::approve::broker::runtime_dir(vars).map_err(|e| e.to_string())?;
    let sandbox_dir = enforced::sandbox_dir();
    let sandbox_parent = sandbox_parent(&sandbox_dir)
        .map_err(|e| fail(&format!("cannot prepare {}", sandbox_dir.display()), &e))?;
    let managed = PathBuf::from(crate::policy::MANAGED_DIR);
    if !managed.exists() && nix::unistd::geteuid().is_root() {
        // Root could otherwise create it from inside, as a policy of its own choosing.
        let _ = std::fs::DirBuilder::new().mode(0o755).create(&managed);
    }
    let data_dir = match vars.get("XDG_DATA_HOME").filter(|v| v.starts_with('/')) {
        Some(x) => Some(PathBuf::from(x).join("shellguard")),
        None => home.map(|h| PathBuf::from(h).join(".local/share/shellguard")),
    };

    let mut read_only = vec![config_dir.clone(), state_dir.clone(), runtime_dir.clone()];
    if sandbox_parent != runtime_dir {
        read_only.push(sandbox_parent.clone());
    }
    // The managed layer counts only when root owns it (as outside the tree).
    let managed_ok = managed.is_dir() && crate::policy::root_owned(&managed.join("."));
    if managed.is_dir() {
        read_only.push(managed.clone());
    }
    if let Some(d) = data_dir.filter(|d| d.is_dir()) {
        read_only.push(d);
    }
    let read_only: Vec<PathBuf> = read_only
        .into_iter()
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
        .collect();
    let pinned = ancestors(&read_only);

    let shells = shells(guard_id);
    if shells.is_empty() {
        return Err("no shell found to guard (looked for bash, sh, dash, … in /bin, /usr/bin, /usr/local/bin)".into());
    }
    let mut shell_fds = Vec::new();
    for s in &shells {
        let file = std::fs::File::open(&s.path)
            .map_err(|e| fail(&format!("cannot open {}", s.path.display()), &e))?;
        shell_fds.push(OwnedFd::from(file));
    }
    let setuid = setuid_programs();
    let mut cover: Vec<PathBuf> = shells.iter().map(|s| s.path.clone()).collect();
    cover.extend(setuid.iter().cloned());
    cover.push(source.clone());

    let records = records::Records::bind(&runtime_dir)
        .map_err(|e| fail(&format!("cannot listen in {}", runtime_dir.display()), &e))?;
    let control_path = runtime_dir.join(format!("ctl-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&control_path);
    let control = UnixListener::bind(&control_path)
        .map_err(|e| fail(&format!("cannot listen on {}", control_path.display()), &e))?;

    let view = |name: &str| sandbox_dir.join(name);
    let in_view = |p: &Path| p.file_name().map(|f| view("run").join(f));
    let mut views = vec![
        (config_dir.clone(), "config".to_string()),
        (state_dir.clone(), "state".to_string()),
        (runtime_dir.clone(), "run".to_string()),
    ];
    if managed_ok {
        views.push((managed.clone(), "managed".to_string()));
    }
    let manifest = Manifest {
        supervisor: supervisor_socket.and_then(in_view),
        records: in_view(&records.path).ok_or("bad records socket path")?,
        config_dir: view("config"),
        state_dir: view("state"),
        runtime_dir: view("run"),
        managed_dir: view("managed"),
        real_config_dir: config_dir,
        real_state_dir: state_dir.clone(),
        real_runtime_dir: runtime_dir,
        shells,
        setuid,
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let spec = Spec {
        control: control_path.clone(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        guard_source: source,
        sandbox_dir,
        pinned,
        read_only,
        views,
        cover,
        manifest,
        exec_gate: vars.get(BENCH_NO_EXEC_GATE).map(String::as_str) != Some("1"),
        program: program.to_path_buf(),
        args: args.to_vec(),
    };
    Ok(Prepared {
        spec,
        shells: shell_fds,
        control,
        control_path,
        records,
        audit_log: state_dir.join("audit.jsonl"),
        state_dir,
    })
}

impl Prepared {
    /// The program the supervisor starts in the pty, its arguments, and the variable that
    /// carries the spec.
    pub fn init_command(&self) -> Result<(PathBuf, Vec<String>, String), String> {
        let spec = serde_json::to_string(&self.spec).map_err(|e| e.to_string())?;
        Ok((
            self.spec.guard_source.clone(),
            vec![INIT_SUBCOMMAND.to_string()],
            spec,
        ))
    }

    /// Waits for the init process `pid` to report, then serves the tree, asking the human
    /// about held execs through `prompt` when there is one. An error means the agent was not
    /// started: the caller says why and stops.
    pub fn start(self, pid: u32, prompt: Option<Prompt>) -> Result<Running, String> {
        let result = self.wait_ready(pid);
        let _ = std::fs::remove_file(&self.control_path);
        let (listener, guard) = result?;
        let grants = std::sync::Arc::new(grants::Grants::default());
        let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
        let starter = std::fs::metadata(&self.spec.guard_source)
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or_default();
        gate::spawn(gate::Gate {
            listener,
            guard,
            starter,
            shells: self.shells,
            judge: judge::Judge::new(&self.spec.guard_source),
            grants: std::sync::Arc::clone(&grants),
            channels: gate::Channels {
                prompt,
                watch: crate::approve::broker::watch_socket(&vars),
                audit_log: self.audit_log.clone(),
                state_dir: self.state_dir.clone(),
            },
        });
        let mut records = self.records;
        records.serve(self.audit_log, self.state_dir, grants, guard);
        Ok(Running { _records: records })
    }

    fn wait_ready(&self, pid: u32) -> Result<(OwnedFd, gate::GuardId), String> {
        let deadline = Instant::now() + READY_WITHIN;
        self.control
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        let stream = loop {
            match self.control.accept() {
                Ok((s, _)) => {
                    let creds = nix::sys::socket::getsockopt(
                        &s,
                        nix::sys::socket::sockopt::PeerCredentials,
                    )
                    .map_err(|e| e.to_string())?;
                    if u32::try_from(creds.pid()).ok() == Some(pid) {
                        break s;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.to_string()),
            }
            if Instant::now() >= deadline || !alive(pid) {
                return Err("the sandbox's init process did not report".into());
            }
            // Wake on the connection, or every 50 ms to see whether the init process died.
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&self.control),
                PollFlags::POLLIN,
            )];
            let _ = poll(&mut fds, 50u16);
        };
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&stream),
            PollFlags::POLLIN,
        )];
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let ready = poll(&mut fds, ms).map_err(|e| e.to_string())?;
        if ready == 0 {
            return Err("the sandbox's init process did not report in time".into());
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| e.to_string())?;
        let mut listener = None;
        for c in msg.cmsgs().map_err(|e| e.to_string())? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    let fd = crate::sys::kernel::adopt_fd(fd);
                    if listener.is_none() {
                        listener = Some(fd);
                    }
                }
            }
        }
        let n = msg.bytes;
        let line = &buf[..n];
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        match serde_json::from_slice::<Ready>(line) {
            Ok(Ready::Ok {
                guard_dev,
                guard_ino,
                mnt_ns,
            }) => {
                let listener = listener.ok_or("the init process sent no seccomp listener")?;
                Ok((
                    listener,
                    gate::GuardId {
                        dev: guard_dev,
                        ino: guard_ino,
                        mnt_ns,
                    },
                ))
            }
            Ok(Ready::Failed(step)) => Err(step),
            Err(_) if n == 0 => Err("the sandbox's init process exited without a report".into()),
            Err(e) => Err(format!("unreadable report from the init process: {e}")),
        }
    }
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // A zombie still "exists"; look at its state instead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_come_parents_first_without_the_root() {
        let a = ancestors(&[
            PathBuf::from("/home/u/.config/shellguard"),
            PathBuf::from("/tmp/shellguard-1"),
        ]);
        assert_eq!(
            a,
            ["/home", "/tmp", "/home/u", "/home/u/.config"]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn finds_this_machines_shells() {
        let found = shells((0, 0));
        assert!(
            found.iter().any(|s| s.name == "bash"),
            "bash is installed here: {found:?}"
        );
        for s in &found {
            assert!(s.path.is_absolute() && std::fs::metadata(&s.path).is_ok());
        }
    }
}
