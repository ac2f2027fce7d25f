//! The supervisor's side of the seccomp filter: it answers the one call the filter holds, a
//! guard's request for the real shell it stands on.
//!
//! The answer is a descriptor of the real shell file (opened for reading: the kernel will not
//! hand over an `O_PATH` one), opened by the supervisor outside the
//! tree (inside, every shell path is the guard), placed into the caller with close-on-exec.
//! It goes only to a caller whose executable is the sandbox's own copy of the guard and that
//! lives in the sandbox's mount namespace; the caller is stopped in the system call while
//! this is checked, so it cannot become something else meanwhile. Everyone else gets EPERM.
//! The guard is execute-only, so it is never dumpable: nothing else in the tree can read or
//! write its memory to make it ask for something it did not judge.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::thread;

use crate::enforced::SUPERVISOR_DIRFD;
use crate::sys::kernel;

/// What identifies a real guard in the tree.
#[derive(Debug, Clone, Copy)]
pub struct GuardId {
    pub dev: u64,
    pub ino: u64,
    pub mnt_ns: u64,
}

/// Serves `listener` on a thread of its own until the tree is gone.
pub fn spawn(listener: OwnedFd, guard: GuardId, shells: Vec<OwnedFd>) {
    thread::spawn(move || serve(&listener, guard, &shells));
}

fn serve(listener: &OwnedFd, guard: GuardId, shells: &[OwnedFd]) {
    loop {
        let n = match kernel::notif_receive(listener.as_fd()) {
            Ok(n) => n,
            // The caller died between being held and being read: nothing to answer.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            // No process uses the filter any more (or the descriptor broke): done.
            Err(_) => return,
        };
        let is_request =
            i64::from(n.nr) == libc::SYS_openat && (n.args[0] as u32) == SUPERVISOR_DIRFD as u32;
        let shell = usize::try_from(n.args[3]).ok().and_then(|i| shells.get(i));
        let answer = match (is_request, shell) {
            (true, Some(shell)) if is_guard(n.pid, guard) => {
                if !kernel::notif_still_valid(listener.as_fd(), n.id) {
                    continue;
                }
                kernel::notif_give_fd(listener.as_fd(), n.id, shell.as_fd())
            }
            _ => kernel::notif_fail(listener.as_fd(), n.id, libc::EPERM),
        };
        // Never leave a caller held: if the answer could not be given, fail the call.
        // (ENOENT: the caller was killed meanwhile, and there is nobody to answer.)
        if let Err(e) = answer {
            if e.raw_os_error() != Some(libc::ENOENT) {
                let _ = kernel::notif_fail(listener.as_fd(), n.id, libc::EIO);
            }
        }
    }
}

/// Whether process `pid` (our numbering) runs the sandbox's guard in the sandbox's mount
/// namespace.
fn is_guard(pid: u32, guard: GuardId) -> bool {
    let exe = std::fs::metadata(format!("/proc/{pid}/exe"));
    let ns = std::fs::metadata(format!("/proc/{pid}/ns/mnt"));
    matches!((exe, ns), (Ok(exe), Ok(ns))
        if exe.dev() == guard.dev && exe.ino() == guard.ino && ns.ino() == guard.mnt_ns)
}
