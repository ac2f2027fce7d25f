//! Finding the real shell, and becoming it.
//!
//! shellguard is installed as `bash` and `sh` in a shims directory that comes first on `PATH`,
//! so a plain `PATH` lookup finds shellguard again and execs itself forever. Candidates are
//! therefore compared with our own executable by file identity (device and inode, symlinks
//! followed), never by name: the shims are symlinks with the real shells' names.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{access, AccessFlags};

/// Which shell the caller asked for, by the name it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    Bash,
    Sh,
}

impl ShellKind {
    /// The file name looked up on `PATH`.
    pub fn name(self) -> &'static str {
        match self {
            ShellKind::Bash => "bash",
            ShellKind::Sh => "sh",
        }
    }

    /// Where the shell lives when `PATH` does not say (agents often run with a bare `PATH`).
    fn fallbacks(self) -> &'static [&'static str] {
        match self {
            ShellKind::Bash => &["/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"],
            ShellKind::Sh => &["/bin/sh", "/usr/bin/sh"],
        }
    }
}

/// `sh` if argv[0]'s basename is `sh` (or `-sh`, as a login shell is named), else bash.
pub fn shell_kind(argv0: &OsStr) -> ShellKind {
    let bytes = argv0.as_bytes();
    let base = match bytes.iter().rposition(|&b| b == b'/') {
        Some(slash) => &bytes[slash + 1..],
        None => bytes,
    };
    // Same reading as bash's own: the login `-` only counts at the very start of argv[0].
    let base = if bytes.first() == Some(&b'-') {
        base.strip_prefix(b"-").unwrap_or(base)
    } else {
        base
    };
    if base == b"sh" {
        ShellKind::Sh
    } else {
        ShellKind::Bash
    }
}

/// A file's identity: `(st_dev, st_ino)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `path` leads to, through any symlinks.
    pub fn of(path: &Path) -> io::Result<FileId> {
        let meta = std::fs::metadata(path)?;
        Ok(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The running executable. `/proc/self/exe` names the very inode we run from, even when it
    /// was reached through a symlink or has since been replaced; `current_exe` is the fallback
    /// where `/proc` is not mounted.
    pub fn current_exe() -> io::Result<FileId> {
        FileId::of(Path::new("/proc/self/exe"))
            .or_else(|_| std::env::current_exe().and_then(|exe| FileId::of(&exe)))
    }
}

/// Why the real shell could not be found or run.
#[derive(Debug)]
pub enum ExecError {
    /// Nothing on `PATH` or in the usual places is a shell other than shellguard.
    NotFound {
        name: &'static str,
        searched: Vec<PathBuf>,
    },
    /// The configured shell cannot be looked at.
    ConfiguredMissing {
        path: PathBuf,
        source: io::Error,
    },
    /// The configured shell is shellguard (often: the configuration names the shim).
    ConfiguredIsSelf {
        path: PathBuf,
    },
    /// The configured shell is a directory or lacks execute permission.
    ConfiguredNotExecutable {
        path: PathBuf,
    },
    /// Our own executable cannot be identified, so a candidate might be ourselves.
    SelfUnknown {
        source: io::Error,
    },
    /// A path or argument holds a NUL byte, which no exec can pass. `index` counts argv[0] as 0.
    NulInArgument {
        index: usize,
    },
    NulInPath {
        path: PathBuf,
    },
    /// `execv` itself failed.
    Exec {
        path: PathBuf,
        source: nix::Error,
    },
    /// Inside an enforced tree: the supervisor did not hand over the real shell, or it could
    /// not be started from the descriptor it gave.
    Supervised {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotFound { name, searched } => {
                write!(f, "cannot find the real {name}: tried ")?;
                for (k, path) in searched.iter().enumerate() {
                    let sep = if k == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", path.display())?;
                }
                write!(
                    f,
                    " (shellguard itself is skipped); configure the real shell's path"
                )
            }
            ExecError::ConfiguredMissing { path, source } => {
                write!(f, "configured real shell {}: {source}", path.display())
            }
            ExecError::ConfiguredIsSelf { path } => write!(
                f,
                "configured real shell {} is shellguard itself; point it at the real shell",
                path.display()
            ),
            ExecError::ConfiguredNotExecutable { path } => write!(
                f,
                "configured real shell {} is not an executable file",
                path.display()
            ),
            ExecError::SelfUnknown { source } => write!(
                f,
                "cannot identify shellguard's own executable, so cannot tell it from the real shell: {source}"
            ),
            ExecError::NulInArgument { index } => {
                write!(f, "argument {index} contains a NUL byte")
            }
            ExecError::NulInPath { path } => {
                write!(f, "shell path {} contains a NUL byte", path.display())
            }
            ExecError::Exec { path, source } => {
                write!(f, "cannot execute {}: {source}", path.display())
            }
            ExecError::Supervised { path, source } => write!(
                f,
                "cannot start the real {} through the supervisor of `shellguard run`: {source} (is the supervisor still running?)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ExecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExecError::ConfiguredMissing { source, .. } | ExecError::SelfUnknown { source } => {
                Some(source)
            }
            ExecError::Exec { source, .. } => Some(source),
            ExecError::Supervised { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The shell a guard becomes once it has judged the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealShell {
    /// A file found on `PATH`, in the usual places, or configured.
    Path(PathBuf),
    /// Inside an enforced `shellguard run`, where no path in the tree leads to a real shell:
    /// shell number `index` of the supervisor's manifest, handed over as a descriptor.
    Supervised {
        index: u32,
        /// Where it lives outside the tree (for messages).
        path: PathBuf,
        /// Its file name: `bash`, `dash`, …
        name: String,
    },
}

/// The real shell for `kind`: inside an enforced tree the supervisor's (nothing the
/// environment or a configuration says can change it); else [`find_real_shell`].
pub fn real_shell(kind: ShellKind, configured: Option<&Path>) -> Result<RealShell, ExecError> {
    if let Some(m) = crate::enforced::current() {
        let exe = crate::enforced::exe_path();
        let index =
            m.shell_index(exe.as_deref(), kind.name())
                .ok_or_else(|| ExecError::NotFound {
                    name: kind.name(),
                    searched: m.shells.iter().map(|s| s.path.clone()).collect(),
                })?;
        let shell = &m.shells[index];
        return Ok(RealShell::Supervised {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            path: shell.path.clone(),
            name: shell.name.clone(),
        });
    }
    find_real_shell(kind, configured).map(RealShell::Path)
}

/// The real shell to exec for `kind`: `configured` if given, else the first `bash`/`sh` on
/// `$PATH` that is not shellguard, else the usual absolute locations.
pub fn find_real_shell(kind: ShellKind, configured: Option<&Path>) -> Result<PathBuf, ExecError> {
    let me = FileId::current_exe().map_err(|source| ExecError::SelfUnknown { source })?;
    let path_var = std::env::var_os("PATH");
    find_real_shell_in(kind, configured, path_var.as_deref(), me)
}

/// [`find_real_shell`] with `PATH` and our own identity given, so tests need not touch the
/// process environment.
pub fn find_real_shell_in(
    kind: ShellKind,
    configured: Option<&Path>,
    path_var: Option<&OsStr>,
    me: FileId,
) -> Result<PathBuf, ExecError> {
    if let Some(path) = configured {
        // An explicit choice that fails is reported, not silently swapped for another shell.
        let id = FileId::of(path).map_err(|source| ExecError::ConfiguredMissing {
            path: path.to_path_buf(),
            source,
        })?;
        if id == me {
            return Err(ExecError::ConfiguredIsSelf {
                path: path.to_path_buf(),
            });
        }
        if !is_executable_file(path) {
            return Err(ExecError::ConfiguredNotExecutable {
                path: path.to_path_buf(),
            });
        }
        return Ok(path.to_path_buf());
    }

    let on_path = path_var
        .map(|var| std::env::split_paths(var).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        // An empty or relative entry means the current directory, which the agent controls:
        // a `bash` planted there would run every later command unchecked.
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(kind.name()));
    let fallbacks = kind.fallbacks().iter().map(PathBuf::from);

    let mut searched = Vec::new();
    for candidate in on_path.chain(fallbacks) {
        if searched.contains(&candidate) {
            continue;
        }
        let usable = FileId::of(&candidate).is_ok_and(|id| id != me)
            && is_executable_file(&candidate)
            && !is_another_copy(&candidate);
        if usable {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    Err(ExecError::NotFound {
        name: kind.name(),
        searched,
    })
}

/// Whether `candidate` is a link to another copy of shellguard (a second install's shims on
/// the same `PATH`): each copy passing over only itself would exec the other, and that one
/// the first, forever. Real shells are rarely links, so this costs one `lstat` in the usual
/// case. A copy installed under a shell's name as a plain file is not recognised (README).
fn is_another_copy(candidate: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(candidate).is_ok_and(|m| m.file_type().is_symlink());
    is_link
        && std::fs::canonicalize(candidate).is_ok_and(|target| {
            target
                .file_name()
                .is_some_and(|n| n.as_bytes().starts_with(b"shellguard"))
        })
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
        && access(path, AccessFlags::X_OK).is_ok()
}

/// Replaces this process with `real`, passing `argv` exactly as given, argv[0] included, so that
/// `$0` and the prefix of bash's own messages are what they would be without shellguard. The
/// environment, open descriptors, process group and session all carry over untouched. Returns
/// only if the exec failed.
pub fn exec_shell(real: &RealShell, argv: &[OsString]) -> ExecError {
    match real {
        RealShell::Path(p) => exec_path(p, argv),
        RealShell::Supervised { index, path, .. } => exec_supervised(*index, path, argv),
    }
}

fn c_args(argv: &[OsString], fallback: &CString) -> Result<Vec<CString>, ExecError> {
    let mut args = Vec::with_capacity(argv.len().max(1));
    for (index, arg) in argv.iter().enumerate() {
        match CString::new(arg.as_bytes()) {
            Ok(arg) => args.push(arg),
            Err(_) => return Err(ExecError::NulInArgument { index }),
        }
    }
    if args.is_empty() {
        args.push(fallback.clone());
    }
    Ok(args)
}

fn exec_supervised(index: u32, path: &Path, argv: &[OsString]) -> ExecError {
    let Ok(shown) = CString::new(path.as_os_str().as_bytes()) else {
        return ExecError::NulInPath {
            path: path.to_path_buf(),
        };
    };
    let args = match c_args(argv, &shown) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let fd =
        match crate::sys::kernel::open_from_supervisor(crate::enforced::SUPERVISOR_DIRFD, index) {
            Ok(fd) => fd,
            Err(source) => {
                return ExecError::Supervised {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
    crate::sys::restore_inherited_signals();
    use std::os::fd::AsFd;
    ExecError::Supervised {
        path: path.to_path_buf(),
        source: crate::sys::kernel::exec_fd(fd.as_fd(), &args),
    }
}

fn exec_path(real: &Path, argv: &[OsString]) -> ExecError {
    let path = match CString::new(real.as_os_str().as_bytes()) {
        Ok(path) => path,
        Err(_) => {
            return ExecError::NulInPath {
                path: real.to_path_buf(),
            }
        }
    };
    // A caller exec'd with an empty argv gives bash no name; the path is the least surprising one.
    let args = match c_args(argv, &path) {
        Ok(a) => a,
        Err(e) => return e,
    };
    crate::sys::restore_inherited_signals();
    match nix::unistd::execv(&path, &args) {
        Ok(never) => match never {},
        Err(source) => ExecError::Exec {
            path: real.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// A scratch directory per test; tests share one process, so names carry the test's name.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("shellguard-exec-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// A subdirectory holding a symlink named `name` to this test executable: a shim.
        fn shim(&self, sub: &str, name: &str) -> PathBuf {
            let dir = self.0.join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            symlink(std::env::current_exe().unwrap(), dir.join(name)).unwrap();
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn me() -> FileId {
        FileId::current_exe().unwrap()
    }

    fn join_paths(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).unwrap()
    }

    #[test]
    fn kind_from_argv0() {
        for (argv0, kind) in [
            ("sh", ShellKind::Sh),
            ("/bin/sh", ShellKind::Sh),
            ("-sh", ShellKind::Sh),
            ("-/usr/bin/sh", ShellKind::Sh),
            ("bash", ShellKind::Bash),
            ("/usr/bin/bash", ShellKind::Bash),
            ("-bash", ShellKind::Bash),
            ("/x/-sh", ShellKind::Bash),
            ("SH", ShellKind::Bash),
            ("shellguard", ShellKind::Bash),
            ("", ShellKind::Bash),
        ] {
            assert_eq!(shell_kind(OsStr::new(argv0)), kind, "{argv0:?}");
        }
    }

    #[test]
    fn self_identity_follows_symlinks() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me(), FileId::of(&exe).unwrap());
        let scratch = Scratch::new("identity");
        let shim = scratch.shim("shims", "bash").join("bash");
        assert_eq!(FileId::of(&shim).unwrap(), me());
    }

    #[test]
    fn skips_shim_first_on_path() {
        let scratch = Scratch::new("shim-first");
        let shims = scratch.shim("shims", "bash");
        let path = join_paths(&[&shims, Path::new("/usr/bin"), Path::new("/bin")]);
        let real = find_real_shell_in(ShellKind::Bash, None, Some(&path), me()).unwrap();
        assert_ne!(real, shims.join("bash"));
        assert!(
            real.starts_with("/usr/bin") || real.starts_with("/bin"),
            "{real:?}"
        );
        assert_ne!(FileId::of(&real).unwrap(), me());
    }

    #[test]
    fn only_shims_falls_back() {
        let scratch = Scratch::new("only-shims");
        let shims = scratch.shim("shims", "bash");
        symlink(std::env::current_exe().unwrap(), shims.join("sh")).unwrap();
        let path = join_paths(&[&shims]);
        let bash = find_real_shell_in(ShellKind::Bash, None, Some(&path), me()).unwrap();
        assert!(
            ShellKind::Bash
                .fallbacks()
                .contains(&bash.to_str().unwrap()),
            "{bash:?}"
        );
        let sh = find_real_shell_in(ShellKind::Sh, None, Some(&path), me()).unwrap();
        assert!(
            ShellKind::Sh.fallbacks().contains(&sh.to_str().unwrap()),
            "{sh:?}"
        );
        let none = find_real_shell_in(ShellKind::Bash, None, None, me()).unwrap();
        assert!(ShellKind::Bash
            .fallbacks()
            .contains(&none.to_str().unwrap()));
    }

    #[test]
    fn skips_another_copy_of_itself() {
        // A second install: its own binary, its own shims, both before the real shell.
        let scratch = Scratch::new("two-copies");
        let ours = scratch.shim("shims", "bash");
        let other_bin = scratch.0.join("other/bin");
        std::fs::create_dir_all(&other_bin).unwrap();
        let copy = other_bin.join("shellguard");
        std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        let theirs = scratch.0.join("other/shims");
        std::fs::create_dir_all(&theirs).unwrap();
        symlink(&copy, theirs.join("bash")).unwrap();
        for order in [[&ours, &theirs], [&theirs, &ours]] {
            let path = join_paths(&[order[0], order[1], Path::new("/usr/bin"), Path::new("/bin")]);
            let real = find_real_shell_in(ShellKind::Bash, None, Some(&path), me()).unwrap();
            assert!(
                real.starts_with("/usr/bin") || real.starts_with("/bin"),
                "{real:?}"
            );
        }
        // As the other copy sees it: our shims are passed over too.
        let path = join_paths(&[&ours, Path::new("/usr/bin")]);
        let as_copy = FileId::of(&copy).unwrap();
        let real = find_real_shell_in(ShellKind::Bash, None, Some(&path), as_copy).unwrap();
        assert_eq!(real, Path::new("/usr/bin/bash"));
    }

    #[test]
    fn skips_every_candidate_that_is_self() {
        // Pretend to be the real bash: every path to that file must be passed over.
        let bash = Path::new("/bin/bash");
        let pretend = FileId::of(bash).unwrap();
        let path = join_paths(&[Path::new("/usr/bin"), Path::new("/bin")]);
        match find_real_shell_in(ShellKind::Bash, None, Some(&path), pretend) {
            Ok(found) => assert_ne!(FileId::of(&found).unwrap(), pretend, "{found:?}"),
            Err(ExecError::NotFound { name, searched }) => {
                assert_eq!(name, "bash");
                assert!(searched.contains(&PathBuf::from("/usr/bin/bash")));
                assert!(searched.contains(&PathBuf::from("/bin/bash")));
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn skips_directories_unexecutables_and_relative_entries() {
        let scratch = Scratch::new("unusable");
        let plain = scratch.0.join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::write(plain.join("bash"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(plain.join("bash"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let dir = scratch.0.join("dir");
        std::fs::create_dir_all(dir.join("bash")).unwrap();
        let mut path = OsString::from(":relative:");
        path.push(join_paths(&[&plain, &dir, Path::new("/usr/bin")]));
        let real = find_real_shell_in(ShellKind::Bash, None, Some(&path), me()).unwrap();
        assert_eq!(real, PathBuf::from("/usr/bin/bash"));

        // With the real bash playing ourselves, nothing is left; nothing relative was tried.
        let pretend = FileId::of(Path::new("/usr/bin/bash")).unwrap();
        if let Err(ExecError::NotFound { searched, .. }) =
            find_real_shell_in(ShellKind::Bash, None, Some(&path), pretend)
        {
            assert!(searched.iter().all(|p| p.is_absolute()), "{searched:?}");
            assert!(searched.contains(&plain.join("bash")));
            assert!(searched.contains(&dir.join("bash")));
        }
    }

    #[test]
    fn configured_path_wins() {
        let scratch = Scratch::new("configured");
        let shims = scratch.shim("shims", "bash");
        let path = join_paths(&[&shims, Path::new("/usr/bin")]);
        let real = find_real_shell_in(
            ShellKind::Bash,
            Some(Path::new("/bin/sh")),
            Some(&path),
            me(),
        );
        assert_eq!(real.unwrap(), PathBuf::from("/bin/sh"));
    }

    #[test]
    fn configured_self_is_an_error() {
        let scratch = Scratch::new("configured-self");
        let shim = scratch.shim("shims", "bash").join("bash");
        let err = find_real_shell_in(ShellKind::Bash, Some(&shim), None, me()).unwrap_err();
        assert!(matches!(err, ExecError::ConfiguredIsSelf { .. }), "{err:?}");
        assert!(err.to_string().contains("is shellguard itself"), "{err}");
        let exe = std::env::current_exe().unwrap();
        let err = find_real_shell_in(ShellKind::Bash, Some(&exe), None, me()).unwrap_err();
        assert!(matches!(err, ExecError::ConfiguredIsSelf { .. }), "{err:?}");
    }

    #[test]
    fn configured_but_unusable_is_an_error() {
        let scratch = Scratch::new("configured-bad");
        let missing = scratch.0.join("no-such-bash");
        let err = find_real_shell_in(ShellKind::Bash, Some(&missing), None, me()).unwrap_err();
        assert!(
            matches!(err, ExecError::ConfiguredMissing { .. }),
            "{err:?}"
        );
        let err = find_real_shell_in(ShellKind::Bash, Some(&scratch.0), None, me()).unwrap_err();
        assert!(
            matches!(err, ExecError::ConfiguredNotExecutable { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn exec_failures_come_back() {
        let scratch = Scratch::new("exec");
        let missing = scratch.0.join("no-such-shell");
        let missing = RealShell::Path(missing);
        let err = exec_shell(&missing, &[OsString::from("bash"), OsString::from("-c")]);
        assert!(
            matches!(
                err,
                ExecError::Exec {
                    source: nix::Error::ENOENT,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("no-such-shell"), "{err}");
        let err = exec_shell(&missing, &[OsString::from("bash"), OsString::from("a\0b")]);
        assert!(
            matches!(err, ExecError::NulInArgument { index: 1 }),
            "{err:?}"
        );
    }
}
