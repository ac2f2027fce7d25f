//! `shellguard __sandbox-init`: the agent's first process under an enforced `shellguard run`.
//!
//! Started by the supervisor in the agent's pty, it builds the boundary and then starts the
//! agent inside it:
//!
//! ```text
//! supervisor ── init (outer: waits, forwards SIGTERM/SIGHUP)
//!                └─ init (pid 1 of a new pid namespace: mounts, drops every capability,
//!                   sets no_new_privs, installs the filter, hands the filter's listener to
//!                   the supervisor, then reaps)
//!                     └─ the agent
//! ```
//!
//! Every step that fails is reported to the supervisor on the control socket, which refuses
//! to start the agent and says why; nothing of the agent runs before the boundary is whole.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{Ready, Spec, SPEC_ENV};
use crate::enforced::{GUARD, MANIFEST};
use crate::sys::kernel::{self, Forked};

/// Exit status when the boundary could not be built (the supervisor says why).
const SETUP_FAILED: u8 = 125;

/// Entry point of `shellguard __sandbox-init`.
pub fn init_main() -> u8 {
    let Some(spec) = std::env::var(SPEC_ENV)
        .ok()
        .and_then(|s| serde_json::from_str::<Spec>(&s).ok())
    else {
        eprintln!("shellguard: __sandbox-init is started by `shellguard run`, not by hand");
        return 2;
    };
    // Nothing of the spec reaches the agent.
    std::env::remove_var(SPEC_ENV);
    // If the supervisor goes, so does the tree: the inner init dies with us, and with it
    // every process of its pid namespace.
    let _ = kernel::set_parent_death_signal(libc::SIGKILL);
    if nix::unistd::getppid().as_raw() == 1 {
        return SETUP_FAILED;
    }
    let control = match UnixStream::connect(&spec.control) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "shellguard: cannot reach the supervisor at {}: {e}",
                spec.control.display()
            );
            return SETUP_FAILED;
        }
    };
    match outer(&spec, &control) {
        Ok(code) => code,
        Err(step) => {
            report(&control, &Ready::Failed(step));
            SETUP_FAILED
        }
    }
}

/// A failed step: what it was for, and the error.
fn step<T>(what: &str, r: Result<T, impl std::fmt::Display>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn outer(spec: &Spec, control: &UnixStream) -> Result<u8, String> {
    kernel::ignore_terminal_signals();
    step(
        "a new user namespace (unshare CLONE_NEWUSER)",
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID),
    )?;
    step(
        "/proc/self/setgroups",
        std::fs::write("/proc/self/setgroups", "deny"),
    )?;
    step(
        "/proc/self/uid_map",
        std::fs::write("/proc/self/uid_map", format!("{0} {0} 1\n", spec.uid)),
    )?;
    step(
        "/proc/self/gid_map",
        std::fs::write("/proc/self/gid_map", format!("{0} {0} 1\n", spec.gid)),
    )?;
    let forwarded = forwarded_signals();
    step("blocking signals", forwarded.thread_block())?;
    match step("fork", kernel::fork())? {
        Forked::Child => {
            let code = match inner(spec, control) {
                Ok(code) => code,
                Err(step) => {
                    report(control, &Ready::Failed(step));
                    SETUP_FAILED
                }
            };
            std::process::exit(i32::from(code));
        }
        Forked::Parent(child) => Ok(reap_until(child, &forwarded)),
    }
}

/// pid 1 of the new pid namespace.
fn inner(spec: &Spec, control: &UnixStream) -> Result<u8, String> {
    let _ = kernel::set_parent_death_signal(libc::SIGKILL);
    let none: Option<&str> = None;
    step(
        "making mounts private",
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none),
    )
    .map_err(with_apparmor_hint)?;
    for dir in &spec.pinned {
        step(
            &format!("pinning {}", dir.display()),
            mount(
                Some(dir),
                dir,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            ),
        )?;
    }
    for dir in &spec.read_only {
        bind_read_only(dir, dir)?;
    }
    let sbx = &spec.sandbox_dir;
    step(
        &format!("a tmpfs at {}", sbx.display()),
        mount(
            Some("tmpfs"),
            sbx,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        ),
    )?;
    let guard = sbx.join(GUARD);
    step(
        "copying the guard",
        std::fs::copy(&spec.guard_source, &guard),
    )?;
    // Execute-only: the guard cannot be read, so every guard process is born non-dumpable
    // (no /proc/PID/mem, no tracing) and the file cannot be copied and altered.
    step(
        "making the guard execute-only",
        std::fs::set_permissions(&guard, std::fs::Permissions::from_mode(0o111)),
    )?;
    let manifest = step("the manifest", serde_json::to_vec(&spec.manifest))?;
    step(
        "writing the manifest",
        std::fs::write(sbx.join(MANIFEST), manifest),
    )?;
    for (real, name) in &spec.views {
        let at = sbx.join(name);
        step(
            &format!("creating {}", at.display()),
            std::fs::create_dir(&at),
        )?;
        bind_read_only(real, &at)?;
    }
    step(
        "making the sandbox directory read-only",
        mount(
            none,
            sbx,
            none,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            none,
        ),
    )?;
    step(
        "making the sandbox mount read-only",
        mount(
            none,
            sbx,
            none,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV,
            none,
        ),
    )?;
    for file in &spec.cover {
        step(
            &format!("mounting the guard over {}", file.display()),
            mount(Some(&guard), file, none, MsFlags::MS_BIND, none),
        )?;
    }
    step(
        "a /proc for the new pid namespace",
        mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            none,
        ),
    )?;
    let guard_meta = step("the guard's identity", std::fs::metadata(&guard))?;
    let mnt_ns = step(
        "the mount namespace's identity",
        std::fs::metadata("/proc/self/ns/mnt"),
    )?;
    step("dropping capabilities", kernel::drop_all_capabilities())?;
    step("setting no_new_privs", kernel::set_no_new_privs())?;
    let listener = step(
        "a seccomp filter with a user-notification listener",
        kernel::install_seccomp(&super::filter::program(spec.exec_gate), true),
    )?
    .ok_or("the kernel gave no seccomp listener")?;
    // The supervisor holds the listener before any of the agent runs: without it the guard
    // could get no shell, and nothing would answer for the tree.
    step(
        "handing the seccomp listener to the supervisor",
        report_ready(
            control,
            &Ready::Ok {
                guard_dev: guard_meta.dev(),
                guard_ino: guard_meta.ino(),
                mnt_ns: mnt_ns.ino(),
            },
            &listener,
        ),
    )?;
    drop(listener);
    let forwarded = forwarded_signals();
    match step("fork", kernel::fork())? {
        Forked::Child => exec_agent(spec),
        Forked::Parent(agent) => Ok(reap_until(agent, &forwarded)),
    }
}

/// Binds `from` at `to` and makes that mount read-only, keeping the flags the kernel will not
/// let a user namespace drop (nosuid, nodev, noexec, atime).
fn bind_read_only(from: &Path, to: &Path) -> Result<(), String> {
    let none: Option<&str> = None;
    step(
        &format!("binding {} read-only", to.display()),
        mount(
            Some(from),
            to,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        ),
    )?;
    let kept = step(&format!("statvfs {}", to.display()), statvfs(to))?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if kept.contains(st) {
            flags |= ms;
        }
    }
    step(
        &format!("making {} read-only", to.display()),
        mount(none, to, none, flags, none),
    )
}

fn with_apparmor_hint(e: String) -> String {
    let restricted =
        std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
            .is_ok_and(|s| s.trim() == "1");
    if restricted {
        format!("{e} (AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns = 1)")
    } else {
        e
    }
}

fn exec_agent(spec: &Spec) -> ! {
    kernel::reset_signals();
    let program = spec.program.clone();
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(&program).args(&spec.args),
    );
    let _ = writeln!(
        io::stderr(),
        "shellguard run: cannot start {}: {err}",
        program.display()
    );
    std::process::exit(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}

/// What the init processes pass on to their child; the terminal's own signals reach the
/// agent directly and are ignored here.
fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set
}

/// Reaps every child (orphans included, as pid 1 must) and forwards signals to `child`
/// until it exits; returns its status as a shell reports it.
fn reap_until(child: Pid, set: &SigSet) -> u8 {
    let Ok(fd) = SignalFd::new(set) else {
        // No signalfd: at least wait for the child.
        return status_code(waitpid(child, None));
    };
    loop {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(st) if st.pid() == Some(child) => return status_code(Ok(st)),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        match fd.read_signal() {
            Ok(Some(info)) => {
                let sig = info.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    if let Ok(s) = Signal::try_from(sig) {
                        let _ = kill(child, s);
                    }
                }
            }
            Ok(None) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return status_code(waitpid(child, None)),
        }
    }
}

fn status_code(st: nix::Result<WaitStatus>) -> u8 {
    match st {
        Ok(WaitStatus::Exited(_, code)) => u8::try_from(code & 0xff).unwrap_or(1),
        Ok(WaitStatus::Signaled(_, sig, _)) => 128u8.saturating_add(sig as u8),
        _ => 1,
    }
}

fn report(control: &UnixStream, ready: &Ready) {
    let mut line = serde_json::to_vec(ready).unwrap_or_default();
    line.push(b'\n');
    let _ = (&*control).write_all(&line);
}

fn report_ready(control: &UnixStream, ready: &Ready, listener: &OwnedFd) -> io::Result<()> {
    let mut line = serde_json::to_vec(ready)?;
    line.push(b'\n');
    let fds = [listener.as_fd().as_raw_fd()];
    let iov = [io::IoSlice::new(&line)];
    let sent = sendmsg::<()>(
        control.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    if sent == line.len() {
        Ok(())
    } else {
        Err(io::Error::other("the report was cut short"))
    }
}
