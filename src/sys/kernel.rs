//! Kernel calls the enforced supervisor needs and no safe crate wraps: capabilities, the
//! seccomp filter and its user-notification descriptor, `execveat` of a descriptor, `fork`.
//!
//! Each function is one system call (or a short fixed sequence) with its arguments checked
//! here; callers see `io::Result` and never a raw pointer.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// One BPF instruction, as `struct sock_filter`.
pub type BpfInsn = libc::sock_filter;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: every option used here takes integer arguments only; unused ones are zero.
    let ret = unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    check(libc::c_long::from(ret)).map(drop)
}

/// `PR_SET_DUMPABLE`: a process that is not dumpable cannot be traced, and its memory and
/// descriptors under `/proc` are closed to processes of the same user.
pub fn set_dumpable(on: bool) -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(on))
}

/// `PR_SET_PDEATHSIG`: `sig` is delivered when the parent thread exits.
pub fn set_parent_death_signal(sig: libc::c_int) -> io::Result<()> {
    prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong)
}

/// `PR_SET_NO_NEW_PRIVS`: no exec after this gains privileges (setuid bits and file
/// capabilities are ignored); it cannot be unset, and children inherit it.
pub fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// Drops every capability for good: the bounding set (so no exec can bring one back, root's
/// included), the ambient set, then the effective, permitted and inheritable sets.
pub fn drop_all_capabilities() -> io::Result<()> {
    let last: libc::c_ulong = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63);
    for cap in 0..=last {
        match prctl(libc::PR_CAPBSET_DROP, cap) {
            Ok(()) => {}
            // Capabilities past what this kernel knows.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    // SAFETY: integer arguments only.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    // EINVAL: a kernel without ambient capabilities, so there are none to clear.
    if ret < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(io::Error::last_os_error());
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads one header and, for version 3, two data records; both live on
    // this stack frame for the whole call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    check(ret).map(drop)
}

/// Installs `filter` on the calling thread (and, through `TSYNC`-free inheritance, on every
/// process it starts). With `listener`, returns the user-notification descriptor through
/// which a supervisor answers the system calls the filter sends it. `no_new_privs` must be
/// set first.
pub fn install_seccomp(filter: &[BpfInsn], listener: bool) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(filter.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp filter too long"))?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr().cast_mut(),
    };
    let flags = if listener {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    let fd = check(ret)?;
    if listener {
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("bad listener fd"))?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    } else {
        Ok(None)
    }
}

/// One system call held by the filter, waiting for the supervisor's answer.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    pub id: u64,
    /// The caller's process id, as the supervisor's pid namespace numbers it.
    pub pid: u32,
    pub nr: i32,
    pub args: [u64; 6],
}

fn notif_ioctl<T>(fd: BorrowedFd<'_>, request: libc::Ioctl, arg: *mut T) -> io::Result<()> {
    loop {
        // SAFETY: `arg` points at a live value of the type the request expects.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) };
        if ret >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Waits for the next held system call.
pub fn notif_receive(fd: BorrowedFd<'_>) -> io::Result<Notification> {
    // SAFETY: an all-zero `seccomp_notif` is valid, and RECV requires it zeroed.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    notif_ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n)?;
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
        args: n.data.args,
    })
}

/// Whether the held call `id` is still waiting (its process has not died, its pid not been
/// reused): checked after reading anything about the caller from `/proc`.
pub fn notif_still_valid(fd: BorrowedFd<'_>, id: u64) -> bool {
    let mut id = id;
    notif_ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id).is_ok()
}

/// Fails the held call with `errno`.
pub fn notif_fail(fd: BorrowedFd<'_>, id: u64, errno: i32) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    notif_ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp)
}

/// Asks the kernel to switch straight to the held caller when it is answered (Linux 6.6):
/// the caller waits less for each answer. Older kernels refuse; nothing else changes.
pub fn notif_sync_wake_up(fd: BorrowedFd<'_>) -> io::Result<()> {
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`.
    const SYNC_WAKE_UP: libc::c_ulong = 1;
    // SAFETY: this request takes its argument by value, not through a pointer.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SYNC_WAKE_UP,
        )
    };
    check(libc::c_long::from(ret)).map(drop)
}

/// Lets the held call `id` go on as if the filter had allowed it. The kernel reads the call's
/// arguments again from the caller's memory: what was judged is what the caller passed unless
/// another thread of it changed that memory meanwhile (a race the README's threat model names).
pub fn notif_continue(fd: BorrowedFd<'_>, id: u64) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    notif_ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp)
}

/// A descriptor for process `pid` (our numbering): it keeps naming that process even after
/// the number is reused.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    let fd = check(ret)?;
    // SAFETY: a descriptor the kernel just handed to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A copy of descriptor `target` of the process `pidfd` names (same open file).
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, target: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    let fd = check(ret)?;
    // SAFETY: a descriptor the kernel just handed to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Completes the held call by giving the caller a copy of `file` (close-on-exec) as the
/// call's return value. Needs Linux 5.14.
pub fn notif_give_fd(fd: BorrowedFd<'_>, id: u64, file: BorrowedFd<'_>) -> io::Result<()> {
    let src = u32::try_from(file.as_raw_fd()).map_err(|_| io::Error::other("bad fd"))?;
    let mut add = libc::seccomp_notif_addfd {
        id,
        flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
        srcfd: src,
        newfd: 0,
        newfd_flags: libc::O_CLOEXEC as u32,
    };
    notif_ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut add)
}

/// `openat(dirfd, "", O_PATH | O_CLOEXEC, mode)` with a `dirfd` that names no open file: the
/// enforced sandbox's filter holds exactly this call for the supervisor, which answers it with
/// a descriptor. `mode` carries the caller's question.
pub fn open_from_supervisor(dirfd: RawFd, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated empty path; the other arguments are integers.
    let ret = unsafe {
        libc::openat(
            dirfd,
            c"".as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    let fd = check(libc::c_long::from(ret))?;
    // SAFETY: a descriptor the kernel just handed to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `execveat(file, "", argv, environ, AT_EMPTY_PATH)`: runs the program `file` refers to with
/// this process's environment. Returns only on failure.
pub fn exec_fd(file: BorrowedFd<'_>, argv: &[CString]) -> io::Error {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: `ptrs` is a NULL-terminated array of NUL-terminated strings that outlive the
    // call; `environ` is the C library's own environment array.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            file.as_raw_fd(),
            c"".as_ptr(),
            ptrs.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        );
    }
    io::Error::last_os_error()
}

/// Takes ownership of `fd`, a descriptor the kernel has just placed in this process for us
/// (received with `SCM_RIGHTS`): nothing else refers to it.
pub fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: per the contract above, the descriptor is open and owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The two sides of a `fork`.
pub enum Forked {
    Parent(nix::unistd::Pid),
    Child,
}

/// `fork`. Only called by the sandbox's init processes, which are single-threaded.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the callers are single-threaded (checked by the kernel for `unshare` of a user
    // namespace just before), so the child holds no lock another thread could own.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Resets every signal's disposition to the default and unblocks all of them, so a program
/// started next inherits none of its starter's choices.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

/// Ignores the terminal's job-control and interrupt signals in an init process (they are
/// meant for the agent, which gets them from the terminal itself).
pub fn ignore_terminal_signals() {
    for sig in [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ] {
        // SAFETY: SIG_IGN is always a valid disposition.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}
