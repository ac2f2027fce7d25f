//! Inside an enforced `shellguard run`: how a guard knows it is there, and where the
//! supervisor put what it may read.
//!
//! The supervisor mounts a read-only tmpfs at [`sandbox_dir`] in the agent's mount namespace
//! and writes [`MANIFEST`] into it. Nothing in the tree can create, change or hide that mount
//! (no capabilities, no new user namespace), so a guard that finds the manifest on a read-only
//! mount at that fixed place is inside an enforced tree, whatever its environment says: the
//! locations of shellguard's configuration and state come from the manifest, never from
//! `XDG_*` or `HOME`, and the only approval channels are the supervisor and a watch console
//! started outside the tree.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// File name of the manifest in the sandbox directory.
pub const MANIFEST: &str = "manifest.json";
/// File name of the guard's own copy (execute-only) in the sandbox directory.
pub const GUARD: &str = "shellguard";
/// `dirfd` of the one `openat` the sandbox's seccomp filter holds for the supervisor: a guard
/// asks for the real shell with it. Positive and far above any descriptor a process has.
pub const SUPERVISOR_DIRFD: i32 = 0x5347_4144;

/// Where the supervisor's read-only view of shellguard's state is mounted: a fixed place,
/// derived from the user id alone.
pub fn sandbox_dir() -> PathBuf {
    PathBuf::from(format!(
        "/tmp/shellguard-{}/sandbox",
        nix::unistd::getuid().as_raw()
    ))
}

/// One shell whose path the guard stands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shell {
    /// The real file's path (where the guard is mounted over it).
    pub path: PathBuf,
    /// Its file name with links resolved: `bash`, `dash`, `zsh`, …
    pub name: String,
}

/// What the supervisor tells every guard in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The supervisor's prompt socket, when it has a terminal to ask on.
    pub supervisor: Option<PathBuf>,
    /// The socket on which guards hand their audit lines and refused requests to the
    /// supervisor, which writes them where the tree cannot.
    pub records: PathBuf,
    /// Read-only views of the user's configuration, state and runtime directories and of the
    /// managed directory, inside the sandbox directory.
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
    pub managed_dir: PathBuf,
    /// The same directories where the human knows them (protected from writes in place, and
    /// named in messages).
    pub real_config_dir: PathBuf,
    pub real_state_dir: PathBuf,
    pub real_runtime_dir: PathBuf,
    /// The shells the guard is mounted over, by index (a guard asks for its real shell by
    /// this index).
    pub shells: Vec<Shell>,
    /// Set-user-ID programs the guard stands in for: under `no_new_privs` they could not gain
    /// their privileges anyway, so they explain that instead of failing obscurely.
    pub setuid: Vec<PathBuf>,
    /// When the boundary was built (seconds since the epoch): shell startup files changed
    /// since then are judged with the command (`crate::startup`).
    #[serde(default)]
    pub started: u64,
}

impl Manifest {
    /// The index of the shell whose path we were started through, else the first shell named
    /// `want` (`bash` or `sh`).
    pub fn shell_index(&self, exe: Option<&Path>, want: &str) -> Option<usize> {
        if let Some(exe) = exe {
            if let Some(i) = self.shells.iter().position(|s| s.path == exe) {
                return Some(i);
            }
        }
        let by_path = |p: &str| self.shells.iter().position(|s| s.path == Path::new(p));
        match want {
            "sh" => by_path("/bin/sh")
                .or_else(|| by_path("/usr/bin/sh"))
                .or_else(|| self.shells.iter().position(|s| s.name == "dash"))
                .or_else(|| self.shells.iter().position(|s| s.name == "bash")),
            _ => self.shells.iter().position(|s| s.name == want),
        }
    }
}

/// The manifest when this process runs inside an enforced tree. Read once per process.
pub fn current() -> Option<&'static Manifest> {
    static CURRENT: OnceLock<Option<Manifest>> = OnceLock::new();
    CURRENT.get_or_init(|| load(&sandbox_dir())).as_ref()
}

fn load(dir: &Path) -> Option<Manifest> {
    // Outside a tree the directory is an ordinary (writable) one, or missing: one failed
    // statvfs and we are done.
    let vfs = nix::sys::statvfs::statvfs(dir).ok()?;
    if !vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return None;
    }
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Our own executable's path as the kernel recorded it at exec: for a guard mounted over a
/// shell, that shell's path.
pub fn exe_path() -> Option<PathBuf> {
    std::fs::read_link("/proc/self/exe").ok()
}

/// What a guard hands the supervisor to write, since it cannot write it itself: one JSON line
/// per connection on [`Manifest::records`]. None of it approves anything; the worst a forged
/// one can do is add a line to the log or a request the human is then shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Note {
    /// An audit record (`audit::Record` as JSON).
    Audit(serde_json::Value),
    /// A refused request, kept so that `shellguard approve ID` can show and approve it.
    Refused {
        id: String,
        command: String,
        cwd: String,
        rules: Vec<String>,
        #[serde(default)]
        what: Option<String>,
    },
    /// A guard is about to run a line a human approved (or an approval remembered): the
    /// programs it starts may do what these rules (id, approved targets) matched without
    /// being asked about again at exec. Taken only from a guard, and answered `ok`.
    Grant { rules: Vec<(String, Vec<String>)> },
    /// A guard asks whether a line a human approved in this process (or an ancestor) already
    /// covers what these rules matched: a shell the approved line starts (Codex ends its
    /// wrapper with `exec /bin/bash -c CMD`) is not asked about the same command twice.
    /// Answered `ok` only to a guard, and only when a grant covers it; `no` otherwise.
    Covered { rules: Vec<(String, Vec<String>)> },
}

/// Hands `note` to the supervisor and waits (briefly) until it says it has taken it: what
/// runs next depends on it.
pub fn send_and_wait(records: &Path, note: &Note) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut line = serde_json::to_vec(note)?;
    line.push(b'\n');
    let mut stream = std::os::unix::net::UnixStream::connect(records)?;
    stream.set_write_timeout(Some(std::time::Duration::from_secs(2)))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    stream.write_all(&line)?;
    let mut ack = [0u8; 3];
    stream.read_exact(&mut ack)?;
    if &ack == b"ok\n" {
        Ok(())
    } else {
        Err(std::io::Error::other("not taken"))
    }
}

/// Longest note the supervisor reads.
pub const MAX_NOTE: usize = 2 << 20;

/// Hands `note` to the supervisor. A guard never waits on this for long: the supervisor
/// reads it on a thread of its own.
pub fn send(records: &Path, note: &Note) -> std::io::Result<()> {
    use std::io::Write;
    let mut line = serde_json::to_vec(note)?;
    line.push(b'\n');
    let mut stream = std::os::unix::net::UnixStream::connect(records)?;
    stream.set_write_timeout(Some(std::time::Duration::from_secs(2)))?;
    stream.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let shell = |p: &str, n: &str| Shell {
            path: p.into(),
            name: n.into(),
        };
        Manifest {
            supervisor: None,
            records: "/r".into(),
            config_dir: "/c".into(),
            state_dir: "/s".into(),
            runtime_dir: "/rt".into(),
            managed_dir: "/m".into(),
            real_config_dir: "/rc".into(),
            real_state_dir: "/rs".into(),
            real_runtime_dir: "/rr".into(),
            shells: vec![
                shell("/usr/bin/bash", "bash"),
                shell("/usr/bin/dash", "dash"),
            ],
            setuid: vec![],
            started: 0,
        }
    }

    #[test]
    fn a_guard_finds_its_real_shell_by_path_then_by_name() {
        let m = manifest();
        assert_eq!(
            m.shell_index(Some(Path::new("/usr/bin/dash")), "bash"),
            Some(1)
        );
        assert_eq!(
            m.shell_index(Some(Path::new("/x/shellguard")), "bash"),
            Some(0)
        );
        assert_eq!(m.shell_index(None, "sh"), Some(1));
        assert_eq!(m.shell_index(None, "zsh"), None);
    }

    #[test]
    fn a_writable_directory_is_not_a_sandbox() {
        let dir = std::env::temp_dir().join(format!("sg-enforced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = serde_json::to_string(&manifest()).unwrap();
        std::fs::write(dir.join(MANIFEST), text).unwrap();
        assert_eq!(load(&dir), None, "a manifest anyone could write is ignored");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
