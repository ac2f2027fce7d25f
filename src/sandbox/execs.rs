//! What a held `execve` or `execveat` asks for, read from the caller while it waits: the
//! program file, found the way the caller's own mount namespace finds it, and the argument
//! vector the program would get.
//!
//! The supervisor reads the caller's memory (it owns the tree's user namespace, so the kernel
//! lets it) and opens the file through `/proc/PID/root`, resolving inside that root, so the
//! guard mounted over a shell is seen as the guard and a link named `ls` that points at `rm`
//! as `rm`.

use std::ffi::OsStr;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use crate::sys::kernel;

/// Most bytes of arguments read for one exec (the kernel's own limit is a quarter of the
/// stack limit, 2 MiB by default, environment included).
const MAX_ARG_BYTES: usize = 4 << 20;
/// Most arguments read for one exec.
const MAX_ARGS: usize = 1 << 18;
/// `#!` lines followed, as the kernel follows them (it stops at 4 levels too).
const MAX_SCRIPT_DEPTH: usize = 4;
/// The kernel reads this much of a file to find its `#!` line.
const SHEBANG_BYTES: usize = 256;

/// Why the call could not be read: the kernel would fail it the same way, so it is failed
/// with this errno without being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fails(pub i32);

/// One held exec.
#[derive(Debug)]
pub struct Call {
    pub pid: u32,
    /// The path as the caller passed it (empty for `execveat(fd, "", AT_EMPTY_PATH)`).
    pub path: Vec<u8>,
    /// Empty until [`Call::read_argv`].
    pub argv: Vec<Vec<u8>>,
    argv_at: u64,
    /// `execveat`'s directory descriptor, when it is not `AT_FDCWD`.
    pub dirfd: Option<i32>,
    /// `execveat(fd, "", …, AT_EMPTY_PATH)`: the program is the file `dirfd` is open on.
    pub empty_path: bool,
}

impl Call {
    /// Reads the call's path from the caller's memory. `nr` and `args` are the held call's.
    /// The arguments are read later, once the program is known to exist: a search along
    /// `PATH` tries many names that do not.
    pub fn read(pid: u32, nr: i32, args: &[u64; 6]) -> Result<Call, Fails> {
        let (dirfd, path_at, argv_at, flags) = if i64::from(nr) == libc::SYS_execveat {
            (args[0] as i32, args[1], args[2], args[4])
        } else {
            (libc::AT_FDCWD, args[0], args[1], 0)
        };
        let mut budget = MAX_ARG_BYTES;
        let path = read_cstrs(pid, &[path_at], &mut budget)?
            .pop()
            .unwrap_or_default();
        Ok(Call {
            pid,
            empty_path: path.is_empty() && flags & libc::AT_EMPTY_PATH as u64 != 0,
            path,
            argv: Vec::new(),
            argv_at,
            dirfd: (dirfd != libc::AT_FDCWD).then_some(dirfd),
        })
    }

    /// Reads the argument vector (as the kernel does, after finding the program).
    pub fn read_argv(&mut self) -> Result<(), Fails> {
        let mut budget = MAX_ARG_BYTES.saturating_sub(self.path.len() + 1);
        let at = read_pointers(self.pid, self.argv_at)?;
        self.argv = read_cstrs(self.pid, &at, &mut budget)?;
        Ok(())
    }

    /// The program file, opened (`O_PATH`) as the caller would find it; `Err` with the errno
    /// the exec would fail with when there is none.
    pub fn open(&self, root: &Root) -> Result<Program, Fails> {
        let pid = self.pid;
        if self.empty_path {
            let fd = self.dirfd.ok_or(Fails(libc::EBADF))?;
            return Program::from_fd(their_fd(pid, fd)?, None);
        }
        if self.path.is_empty() {
            return Err(Fails(libc::ENOENT));
        }
        let path = Path::new(OsStr::from_bytes(&self.path));
        if path.is_absolute() {
            return Program::open_in(pid, root, path);
        }
        let base = match self.dirfd {
            Some(fd) => {
                let dir = their_fd(pid, fd)?;
                format!("/proc/self/fd/{}", dir.as_raw_fd())
            }
            None => format!("/proc/{pid}/cwd"),
        };
        match std::fs::read_link(&base) {
            Ok(dir)
                if dir.is_absolute() && !dir.as_os_str().as_bytes().ends_with(b" (deleted)") =>
            {
                Program::open_in(pid, root, &dir.join(path))
            }
            // A directory that is gone or out of reach: resolve from the directory itself.
            _ => Program::open_plain(&Path::new(&base).join(path)),
        }
    }

    /// The caller's working directory (for path classes).
    pub fn cwd(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/cwd", self.pid)).ok()
    }

    /// The program the caller runs now (the parent of what it execs, for the audit log).
    pub fn caller_exe(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/exe", self.pid)).ok()
    }
}

/// The root directory of the tree's processes, where their absolute paths start. None of
/// them can change it (no capabilities: no `chroot`, no new mount namespace), so it is
/// opened once.
pub struct Root(OwnedFd);

impl Root {
    /// Process `pid`'s root.
    pub fn of(pid: u32) -> Result<Root, Fails> {
        let fd = nix::fcntl::open(
            format!("/proc/{pid}/root").as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Fails(e as i32))?;
        Ok(Root(kernel::adopt_fd(fd)))
    }

    /// `path` opened (`O_PATH`) inside this root, as a process whose root it is would find it.
    fn open(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, Fails> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | flags)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT);
        let mut tries = 0;
        loop {
            match nix::fcntl::openat2(self.0.as_raw_fd(), path, how) {
                Ok(fd) => return Ok(kernel::adopt_fd(fd)),
                // A rename elsewhere raced the lookup: the kernel asks to try again.
                Err(nix::errno::Errno::EAGAIN) if tries < 3 => tries += 1,
                Err(e) => return Err(Fails(e as i32)),
            }
        }
    }
}

/// The program file an exec would run.
#[derive(Debug)]
pub struct Program {
    pub fd: OwnedFd,
    pub dev: u64,
    pub ino: u64,
    /// Its change time: the same file with the same change time has the same content.
    pub ctime: (i64, i64),
    /// Where it is, links resolved (for its name).
    pub real: PathBuf,
}

impl Program {
    /// `path` (absolute, in the caller's terms) resolved inside the caller's root.
    fn open_in(pid: u32, root: &Root, path: &Path) -> Result<Program, Fails> {
        // Names for the calling process resolve to the caller here, not to us.
        let bytes = path.as_os_str().as_bytes();
        for prefix in [&b"/proc/self/"[..], b"/proc/thread-self/", b"/dev/fd/"] {
            if let Some(rest) = bytes.strip_prefix(prefix) {
                let sub = if prefix == b"/dev/fd/" { "fd/" } else { "" };
                let at = format!("/proc/{pid}/{sub}{}", String::from_utf8_lossy(rest));
                return Program::open_plain(Path::new(&at));
            }
        }
        // The last name not followed first: most programs are no link, and then the name
        // they were called by is their own (no readlink needed).
        let fd = root.open(path, OFlag::O_NOFOLLOW)?;
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| Fails(e as i32))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Program::from_fd(root.open(path, OFlag::empty())?, None);
        }
        Program::from_stat(fd, &st, Some(path.to_path_buf()))
    }

    /// `path` resolved the ordinary way (a `/proc/PID/…` link, which leads into the caller's
    /// namespace by itself).
    fn open_plain(path: &Path) -> Result<Program, Fails> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Fails(e as i32))?;
        Program::from_fd(kernel::adopt_fd(fd), None)
    }

    /// `real`: where the file is, when known without asking (else read from the descriptor).
    fn from_fd(fd: OwnedFd, real: Option<PathBuf>) -> Result<Program, Fails> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| Fails(e as i32))?;
        Program::from_stat(fd, &st, real)
    }

    fn from_stat(fd: OwnedFd, st: &libc::stat, real: Option<PathBuf>) -> Result<Program, Fails> {
        // Only a regular file can be run (the kernel says EACCES for anything else), and
        // only a regular file is safe to open and read here: a FIFO would block, a device
        // may act on being opened.
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Fails(libc::EACCES));
        }
        let real = real.unwrap_or_else(|| {
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
        });
        Ok(Program {
            fd,
            dev: st.st_dev,
            ino: st.st_ino,
            ctime: (st.st_ctime, st.st_ctime_nsec),
            real,
        })
    }

    /// The interpreter line, when the file is a `#!` script: the interpreter and its one
    /// optional argument, as the kernel splits them.
    pub fn shebang(&self) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let mut f = std::fs::File::open(format!("/proc/self/fd/{}", self.fd.as_raw_fd())).ok()?;
        let mut buf = [0u8; SHEBANG_BYTES];
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        parse_shebang(&buf[..n])
    }
}

/// The kernel's reading of a `#!` line (fs/binfmt_script.c): after `#!`, blanks, the
/// interpreter up to the next blank, then everything up to the end of the line, blanks at
/// both ends trimmed, as one argument.
pub fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = head.strip_prefix(b"#!")?;
    let line = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => &rest[..end],
        None => rest,
    };
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = trim(line, blank);
    if line.is_empty() {
        return None;
    }
    let (interp, arg) = match line.iter().position(blank) {
        Some(i) => (&line[..i], trim(&line[i..], blank)),
        None => (line, &[][..]),
    };
    Some((interp.to_vec(), (!arg.is_empty()).then(|| arg.to_vec())))
}

fn trim(mut s: &[u8], blank: impl Fn(&u8) -> bool) -> &[u8] {
    while s.first().is_some_and(&blank) {
        s = &s[1..];
    }
    while s.last().is_some_and(&blank) {
        s = &s[..s.len() - 1];
    }
    s
}

/// What the kernel will run for `call` once it has followed the `#!` lines: the argument
/// vector the final program gets (its first word the program's own name) and that program.
/// `is_guard` stops at the guard: a script whose interpreter is a shell is the guard's to
/// judge, whole.
pub fn final_program(
    call: &Call,
    root: &Root,
    first: Program,
    is_guard: impl Fn(&Program) -> bool,
    plain: &mut NotScripts,
) -> (Program, Vec<Vec<u8>>) {
    let mut program = first;
    let mut argv = call.argv.clone();
    // What the kernel passes as the script's name: the path as given.
    let mut script_name = if call.empty_path {
        format!("/dev/fd/{}", call.dirfd.unwrap_or(-1)).into_bytes()
    } else {
        call.path.clone()
    };
    for _ in 0..MAX_SCRIPT_DEPTH {
        if is_guard(&program) || plain.knows(&program) {
            break;
        }
        let Some((interp, arg)) = program.shebang() else {
            plain.learn(&program);
            break;
        };
        let Ok(next) = Program::open_in(call.pid, root, Path::new(OsStr::from_bytes(&interp)))
        else {
            break;
        };
        let mut new_argv = vec![interp.clone()];
        new_argv.extend(arg);
        new_argv.push(script_name);
        new_argv.extend(argv.into_iter().skip(1));
        argv = new_argv;
        script_name = interp;
        program = next;
    }
    (program, argv)
}

/// A copy of descriptor `fd` of process `pid`. Through a pidfd rather than `/proc/PID/fd`,
/// which is closed to us for a process that is not dumpable (the guard).
pub fn their_fd(pid: u32, fd: i32) -> Result<OwnedFd, Fails> {
    let pidfd = kernel::pidfd_open(pid).map_err(|e| Fails(errno(&e)))?;
    kernel::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), fd).map_err(|e| Fails(errno(&e)))
}

/// Files known to hold no `#!` line, by identity and change time (content cannot change
/// without the change time changing): not read again.
#[derive(Default)]
pub struct NotScripts(std::collections::HashSet<(u64, u64, i64, i64)>);

/// Files remembered at once (all are forgotten when full: it is only a cache).
const MAX_NOT_SCRIPTS: usize = 4096;

impl NotScripts {
    fn knows(&self, p: &Program) -> bool {
        self.0.contains(&(p.dev, p.ino, p.ctime.0, p.ctime.1))
    }

    fn learn(&mut self, p: &Program) {
        if self.0.len() >= MAX_NOT_SCRIPTS {
            self.0.clear();
        }
        self.0.insert((p.dev, p.ino, p.ctime.0, p.ctime.1));
    }
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The C strings at `ptrs`: the first bytes of all of them in one read, then the rest of the
/// few that are longer.
fn read_cstrs(pid: u32, ptrs: &[u64], budget: &mut usize) -> Result<Vec<Vec<u8>>, Fails> {
    const FIRST: usize = 256;
    /// Remote pieces per read (the kernel takes up to 1024).
    const PER_READ: usize = 512;
    let pid_t = Pid::from_raw(i32::try_from(pid).map_err(|_| Fails(libc::ESRCH))?);
    let mut out = Vec::with_capacity(ptrs.len());
    for chunk in ptrs.chunks(PER_READ) {
        if chunk.contains(&0) {
            return Err(Fails(libc::EFAULT));
        }
        // Never across a page boundary: the next page may not be mapped.
        let lens: Vec<usize> = chunk
            .iter()
            .map(|&p| (4096 - (p % 4096) as usize).min(FIRST))
            .collect();
        let mut buf = vec![0u8; lens.iter().sum()];
        let remote: Vec<RemoteIoVec> = chunk
            .iter()
            .zip(&lens)
            .map(|(&p, &len)| RemoteIoVec {
                base: p as usize,
                len,
            })
            .collect();
        // A piece that cannot be read ends the read there; those are read one by one.
        let got = process_vm_readv(pid_t, &mut [IoSliceMut::new(&mut buf)], &remote).unwrap_or(0);
        let mut off = 0;
        for (&p, &len) in chunk.iter().zip(&lens) {
            let piece = (off + len <= got).then(|| &buf[off..off + len]);
            match piece.and_then(|b| b.iter().position(|&c| c == 0).map(|end| &b[..end])) {
                Some(s) => {
                    *budget = budget.checked_sub(s.len() + 1).ok_or(Fails(libc::E2BIG))?;
                    out.push(s.to_vec());
                }
                None => out.push(read_cstr(pid, p, budget)?),
            }
            off += len;
        }
    }
    Ok(out)
}

fn read_cstr(pid: u32, mut at: u64, budget: &mut usize) -> Result<Vec<u8>, Fails> {
    if at == 0 {
        return Err(Fails(libc::EFAULT));
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // Never across a page boundary: the next page may not be mapped.
        let room = 4096 - (at % 4096) as usize;
        let n = read_mem(pid, at, &mut buf[..room])?;
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            *budget = budget.checked_sub(end + 1).ok_or(Fails(libc::E2BIG))?;
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > *budget {
            return Err(Fails(libc::E2BIG));
        }
        at += n as u64;
    }
}

fn read_pointers(pid: u32, mut at: u64) -> Result<Vec<u64>, Fails> {
    // A NULL argv is taken by Linux as an empty one.
    if at == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // Up to the page's end (the next page may not be mapped); a pointer that straddles
        // it is read across.
        let room = 4096 - (at % 4096) as usize;
        let want = if room < 8 { 8 } else { room - room % 8 };
        let n = read_mem(pid, at, &mut buf[..want])?;
        if n < 8 {
            return Err(Fails(libc::EFAULT));
        }
        for chunk in buf[..n - n % 8].chunks_exact(8) {
            let p = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            if p == 0 {
                return Ok(out);
            }
            out.push(p);
            if out.len() > MAX_ARGS {
                return Err(Fails(libc::E2BIG));
            }
        }
        at += (n - n % 8) as u64;
    }
}

fn read_mem(pid: u32, at: u64, buf: &mut [u8]) -> Result<usize, Fails> {
    let remote = [RemoteIoVec {
        base: usize::try_from(at).map_err(|_| Fails(libc::EFAULT))?,
        len: buf.len(),
    }];
    let pid = Pid::from_raw(i32::try_from(pid).map_err(|_| Fails(libc::ESRCH))?);
    match process_vm_readv(pid, &mut [IoSliceMut::new(buf)], &remote) {
        Ok(0) => Err(Fails(libc::EFAULT)),
        Ok(n) => Ok(n),
        Err(e) => Err(Fails(e as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_split_as_the_kernel_splits_them() {
        let s = |b: &[u8]| parse_shebang(b);
        assert_eq!(s(b"#!/bin/sh\necho"), Some((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            s(b"#! /usr/bin/env  -S rm -rf x \nrest"),
            Some((b"/usr/bin/env".to_vec(), Some(b"-S rm -rf x".to_vec())))
        );
        assert_eq!(
            s(b"#!/bin/rm\t-rf"),
            Some((b"/bin/rm".to_vec(), Some(b"-rf".to_vec())))
        );
        assert_eq!(s(b"#!\n"), None);
        assert_eq!(s(b"\x7fELF"), None);
    }

    #[test]
    fn reads_its_own_arguments_back() {
        // Our own memory is as good a test subject as any process's.
        let pid = std::process::id();
        let words = [c"rm", c"-rf", c"/tmp/x y"];
        let ptrs: Vec<u64> = words.iter().map(|w| w.as_ptr() as u64).chain([0]).collect();
        let path = c"/usr/bin/rm";
        let args = [path.as_ptr() as u64, ptrs.as_ptr() as u64, 0, 0, 0, 0];
        let mut call = Call::read(pid, libc::SYS_execve as i32, &args).unwrap();
        assert_eq!(call.path, b"/usr/bin/rm");
        call.read_argv().unwrap();
        assert_eq!(
            call.argv,
            vec![b"rm".to_vec(), b"-rf".to_vec(), b"/tmp/x y".to_vec()]
        );
        let bad = [8u64, ptrs.as_ptr() as u64, 0, 0, 0, 0];
        assert_eq!(
            Call::read(pid, libc::SYS_execve as i32, &bad).unwrap_err(),
            Fails(libc::EFAULT)
        );
    }

    #[test]
    fn finds_the_program_through_links_and_says_why_not() {
        let dir = std::env::temp_dir().join(format!("sg-execs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("real-tool");
        std::fs::write(&target, "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("ls")).unwrap();
        let call = |p: &Path| Call {
            pid: std::process::id(),
            path: p.as_os_str().as_bytes().to_vec(),
            argv: vec![b"ls".to_vec()],
            argv_at: 0,
            dirfd: None,
            empty_path: false,
        };
        let root = Root::of(std::process::id()).unwrap();
        let prog = call(&dir.join("ls")).open(&root).unwrap();
        assert_eq!(prog.real.file_name().unwrap(), "real-tool");
        assert_eq!(prog.shebang(), Some((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            call(&dir.join("missing")).open(&root).unwrap_err(),
            Fails(libc::ENOENT)
        );
        assert_eq!(call(&dir).open(&root).unwrap_err(), Fails(libc::EACCES));
        let plain = call(&dir.join("real-tool")).open(&root).unwrap();
        assert_eq!(
            plain.real,
            dir.join("real-tool"),
            "no link: the name it was called by"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
