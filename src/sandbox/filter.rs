//! The seccomp filter every process of the enforced tree runs under.
//!
//! It does five things, and lets every other system call through untouched:
//! - holds the guard's request for its real shell (`openat` with [`SUPERVISOR_DIRFD`]) for
//!   the supervisor, which answers it only for the guard (see `gate`);
//! - holds every `execve` and `execveat` for the supervisor's exec gate, which judges the
//!   program and its arguments before the exec goes on (see `gate`);
//! - refuses what would let the tree reach into another process: `ptrace`,
//!   `process_vm_readv|writev`, `pidfd_getfd`;
//! - refuses a new user namespace (`unshare`/`clone` with `CLONE_NEWUSER`; `clone3`, whose
//!   flags a filter cannot read, answers ENOSYS so the C library falls back to `clone`): in
//!   one, the tree would hold capabilities again, over mounts of its own;
//! - refuses `TIOCSTI`, which would type into the terminal the tree shares.
//!
//! A system call from another architecture's table (x32, i386 on x86_64) kills the process:
//! its numbers mean other calls, so none of the checks above would hold.

use crate::enforced::SUPERVISOR_DIRFD;
use crate::sys::kernel::BpfInsn;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little-endian).
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i
}

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const fn ret_errno(e: i32) -> u32 {
    0x0005_0000 | (e as u32 & 0xffff)
}

/// The audit architecture the filter is written for; other architectures cannot enforce.
#[cfg(target_arch = "x86_64")]
const ARCH: Option<u32> = Some(0xc000_003e);
#[cfg(target_arch = "aarch64")]
const ARCH: Option<u32> = Some(0xc000_00b7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCH: Option<u32> = None;

/// Whether this build has a filter for the machine it runs on.
pub fn supported() -> bool {
    ARCH.is_some()
}

/// x32 system calls on x86_64 carry this bit.
const X32_BIT: u32 = 0x4000_0000;

fn stmt(code: u16, k: u32) -> BpfInsn {
    BpfInsn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> BpfInsn {
    BpfInsn { code, jt, jf, k }
}

fn nr(n: libc::c_long) -> u32 {
    n as u32
}

/// `nr == call` → `ret` (a refusal, or the supervisor's to answer).
fn refuse(p: &mut Vec<BpfInsn>, call: libc::c_long, ret: u32) {
    p.push(jump(JEQ_K, nr(call), 0, 1));
    p.push(stmt(RET_K, ret));
}

/// `nr == call` → (argument `arg` passes `test` against `k` → `ret`, else allow). `test` is
/// `JSET_K` (any bit of `k` set) or `JEQ_K` (equal to `k`).
fn on_arg(p: &mut Vec<BpfInsn>, call: libc::c_long, arg: u32, test: u16, k: u32, ret: u32) {
    p.push(jump(JEQ_K, nr(call), 0, 4));
    p.push(stmt(LD_W_ABS, off_arg(arg)));
    p.push(jump(test, k, 0, 1));
    p.push(stmt(RET_K, ret));
    p.push(stmt(RET_K, RET_ALLOW));
}

/// The whole program; without `exec_gate`, execs are not held (for measuring what the gate
/// costs, nothing else).
pub fn program(exec_gate: bool) -> Vec<BpfInsn> {
    // Unsupported architectures never get here (`supported` is checked first); a filter that
    // kills everything is the safe answer if one does.
    let arch = ARCH.unwrap_or(0);
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, arch, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
    ];
    if cfg!(target_arch = "x86_64") {
        p.push(jump(JGE_K, X32_BIT, 0, 1));
        p.push(stmt(RET_K, RET_KILL_PROCESS));
    }
    on_arg(
        &mut p,
        libc::SYS_openat,
        0,
        JEQ_K,
        SUPERVISOR_DIRFD as u32,
        RET_USER_NOTIF,
    );
    if exec_gate {
        refuse(&mut p, libc::SYS_execve, RET_USER_NOTIF);
        refuse(&mut p, libc::SYS_execveat, RET_USER_NOTIF);
    }
    let eperm = ret_errno(libc::EPERM);
    refuse(&mut p, libc::SYS_ptrace, eperm);
    refuse(&mut p, libc::SYS_process_vm_readv, eperm);
    refuse(&mut p, libc::SYS_process_vm_writev, eperm);
    refuse(&mut p, libc::SYS_pidfd_getfd, eperm);
    refuse(&mut p, libc::SYS_clone3, ret_errno(libc::ENOSYS));
    let newuser = libc::CLONE_NEWUSER as u32;
    on_arg(&mut p, libc::SYS_unshare, 0, JSET_K, newuser, eperm);
    on_arg(&mut p, libc::SYS_clone, 0, JSET_K, newuser, eperm);
    on_arg(
        &mut p,
        libc::SYS_ioctl,
        1,
        JEQ_K,
        libc::TIOCSTI as u32,
        eperm,
    );
    p.push(stmt(RET_K, RET_ALLOW));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the program uses, so the filter's decisions are
    /// tested without installing it.
    fn run(p: &[BpfInsn], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            let off = off_arg(i as u32) as usize;
            data[off..off + 4].copy_from_slice(&a.to_le_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = p[pc];
            pc += 1;
            match insn.code {
                LD_W_ABS => {
                    let k = insn.k as usize;
                    acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                }
                RET_K => return insn.k,
                JEQ_K | JGE_K | JSET_K => {
                    let taken = match insn.code {
                        JEQ_K => acc == insn.k,
                        JGE_K => acc >= insn.k,
                        _ => acc & insn.k != 0,
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn call(n: libc::c_long, args: [u32; 6]) -> u32 {
        run(&program(true), ARCH.unwrap(), n as u32, args)
    }

    #[test]
    fn decisions() {
        let magic = SUPERVISOR_DIRFD as u32;
        let at_fdcwd = libc::AT_FDCWD as u32;
        assert_eq!(
            call(libc::SYS_openat, [magic, 0, 0, 3, 0, 0]),
            RET_USER_NOTIF
        );
        assert_eq!(call(libc::SYS_openat, [at_fdcwd, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(call(libc::SYS_openat, [5, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(call(libc::SYS_ptrace, [0; 6]), ret_errno(libc::EPERM));
        assert_eq!(
            call(libc::SYS_process_vm_writev, [0; 6]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(call(libc::SYS_clone3, [0; 6]), ret_errno(libc::ENOSYS));
        let newuser = libc::CLONE_NEWUSER as u32;
        let newns = libc::CLONE_NEWNS as u32;
        assert_eq!(
            call(libc::SYS_unshare, [newuser | newns, 0, 0, 0, 0, 0]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(call(libc::SYS_unshare, [newns, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            call(libc::SYS_clone, [newuser, 0, 0, 0, 0, 0]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(
            call(libc::SYS_clone, [libc::SIGCHLD as u32, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        let tiocsti = libc::TIOCSTI as u32;
        assert_eq!(
            call(libc::SYS_ioctl, [0, tiocsti, 0, 0, 0, 0]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(
            call(libc::SYS_ioctl, [0, libc::TIOCGWINSZ as u32, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(call(libc::SYS_execve, [0; 6]), RET_USER_NOTIF);
        assert_eq!(call(libc::SYS_execveat, [3, 0, 0, 0, 0, 0]), RET_USER_NOTIF);
        let ungated = program(false);
        assert_eq!(
            run(&ungated, ARCH.unwrap(), libc::SYS_execve as u32, [0; 6]),
            RET_ALLOW
        );
        assert_eq!(call(libc::SYS_write, [1, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            run(&program(true), 0x4000_0003, 1, [0; 6]),
            RET_KILL_PROCESS
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                run(&program(true), ARCH.unwrap(), X32_BIT | 1, [0; 6]),
                RET_KILL_PROCESS
            );
        }
    }
}
