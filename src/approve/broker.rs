//! The broker: where the sockets live, and the guarded shell's side of asking a supervisor or
//! a watch console (see [`super::protocol`]).
//!
//! Sockets live in a per-user runtime directory, `${XDG_RUNTIME_DIR:-/tmp}/shellguard-UID`,
//! mode 0700 and owned by the user; a directory that anyone else could reach is refused. Both
//! ends check the other's credentials (`SO_PEERCRED`): same user or nothing.
//!
//! Asking never waits on a channel nobody serves: a socket file with no listener behind it,
//! or a listener too busy to take the connection, fails at once with
//! [`BrokerError::NotServed`], so the caller moves on to the next channel.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

use super::protocol::{Answer, Request};

/// How long a request waits for an answer by default: under Claude Code's 120 s command
/// timeout, so the refusal (with its approval id) reaches the agent before it kills the shell.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(100);

/// File name of the watch console's socket in the runtime directory.
pub const WATCH_SOCKET: &str = "watch.sock";

/// Longest line either side reads. Answers are a few hundred bytes; requests carry a command.
pub const MAX_LINE: usize = 1 << 20;

/// Why no answer came back. Every one of these means: the command does not run on this
/// channel's say-so.
#[derive(Debug)]
pub enum BrokerError {
    /// Nobody listens on the socket (no file, a stale file, a full queue): try the next
    /// channel at once.
    NotServed(io::Error),
    /// The process listening on the socket belongs to another user.
    Untrusted {
        uid: u32,
    },
    /// No answer within the wait.
    TimedOut,
    /// The server closed the connection without answering (the console quit).
    Closed,
    /// The server sent something other than the answer to this request.
    Protocol(String),
    Io(io::Error),
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerError::NotServed(e) => write!(f, "nobody is serving the socket ({e})"),
            BrokerError::Untrusted { uid } => {
                write!(f, "the socket is served by another user (uid {uid})")
            }
            BrokerError::TimedOut => f.write_str("no answer in time"),
            BrokerError::Closed => f.write_str("the server went away without answering"),
            BrokerError::Protocol(m) => write!(f, "unexpected reply: {m}"),
            BrokerError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BrokerError {}

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// `${XDG_RUNTIME_DIR:-/tmp}/shellguard-UID`, without creating or checking anything.
pub fn runtime_path(vars: &HashMap<String, String>) -> PathBuf {
    if let Some(m) = crate::enforced::current() {
        return m.runtime_dir.clone();
    }
    let base = vars
        .get("XDG_RUNTIME_DIR")
        .filter(|v| v.starts_with('/'))
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    base.join(format!("shellguard-{}", uid()))
}

/// The per-user runtime directory, created with mode 0700 if missing. Refused when it is not
/// a real directory, belongs to another user, or is open to group or others: whoever can
/// write there could put their own socket in place of ours.
pub fn runtime_dir(vars: &HashMap<String, String>) -> io::Result<PathBuf> {
    let dir = runtime_path(vars);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", dir.display()),
            ))
        }
    }
    check_private_dir(&dir)?;
    Ok(dir)
}

/// Whether `dir` is a directory (not a link to one) owned by us with no access for group or
/// others.
pub fn check_private_dir(dir: &Path) -> io::Result<()> {
    let md = fs::symlink_metadata(dir)?;
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {why}; refusing to use it", dir.display()),
        ))
    };
    if !md.file_type().is_dir() {
        return refuse("not a directory".into());
    }
    if md.uid() != uid() {
        return refuse(format!("owned by uid {}, not by you", md.uid()));
    }
    if md.mode() & 0o077 != 0 {
        return refuse(format!(
            "mode {:04o} lets group or others in (expected 0700)",
            md.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Where the watch console listens: `runtime_dir/watch.sock`.
pub fn watch_socket(vars: &HashMap<String, String>) -> PathBuf {
    runtime_path(vars).join(WATCH_SOCKET)
}

/// Whether a watch console of ours is listening right now. Cheap: one directory check and one
/// connection, closed at once (the console ignores a connection that sends nothing).
pub fn watch_is_served(vars: &HashMap<String, String>) -> bool {
    let path = watch_socket(vars);
    let Some(dir) = path.parent() else {
        return false;
    };
    check_private_dir(dir).is_ok() && connect(&path).is_ok()
}

/// The user id of the process at the other end of a Unix socket.
pub fn peer_uid(stream: &impl AsFd) -> io::Result<u32> {
    socket::getsockopt(stream, sockopt::PeerCredentials)
        .map(|c| c.uid())
        .map_err(io::Error::from)
}

/// Connects without ever blocking on the connection itself, and checks that the listener is
/// one of ours.
pub fn connect(path: &Path) -> Result<UnixStream, BrokerError> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| BrokerError::Io(e.into()))?;
    let addr = UnixAddr::new(path).map_err(|e| BrokerError::NotServed(e.into()))?;
    // A Unix socket connects at once or fails at once: ENOENT (no file), ECONNREFUSED (a
    // stale file), EAGAIN (a listener whose queue is full, i.e. not serving).
    socket::connect(fd.as_raw_fd(), &addr).map_err(|e| BrokerError::NotServed(e.into()))?;
    let stream = UnixStream::from(fd);
    let peer = peer_uid(&stream).map_err(BrokerError::Io)?;
    if peer != uid() {
        return Err(BrokerError::Untrusted { uid: peer });
    }
    stream.set_nonblocking(false).map_err(BrokerError::Io)?;
    Ok(stream)
}

/// Sends `req` to the server at `socket` and waits up to `wait` for its answer.
///
/// Only an answer carrying the request's own id and nonce comes back as `Ok`; anything else
/// is an error, and every error means the command is not approved by this channel.
pub fn ask(socket: &Path, req: &Request, wait: Duration) -> Result<Answer, BrokerError> {
    ask_checked(socket, req, wait, &|_| true)
}

/// `ask`, after checking the serving process (by its pid) with `server_ok`: a supervisor must
/// be one of our ancestors, a watch console must sit on a terminal. A server that fails the
/// check is `Untrusted`, and the command is not approved through it.
pub fn ask_checked(
    socket: &Path,
    req: &Request,
    wait: Duration,
    server_ok: &dyn Fn(u32) -> bool,
) -> Result<Answer, BrokerError> {
    let start = Instant::now();
    let deadline = start.checked_add(wait).unwrap_or(start + DEFAULT_WAIT);
    let stream = connect(socket)?;
    let creds = socket::getsockopt(&stream, sockopt::PeerCredentials)
        .map_err(|e| BrokerError::Io(e.into()))?;
    let pid = u32::try_from(creds.pid()).unwrap_or(0);
    if !server_ok(pid) {
        return Err(BrokerError::Untrusted { uid: creds.uid() });
    }
    let mut line = serde_json::to_vec(req).map_err(|e| BrokerError::Protocol(e.to_string()))?;
    line.push(b'\n');
    send_line(&stream, &line, deadline)?;
    let reply = read_line(&stream, deadline)?;
    let answer: Answer = serde_json::from_slice(&reply)
        .map_err(|e| BrokerError::Protocol(format!("not an answer: {e}")))?;
    if answer.id != req.id || answer.nonce != req.nonce {
        return Err(BrokerError::Protocol(format!(
            "answer for another request ({})",
            super::sanitize::for_display(&answer.id)
        )));
    }
    Ok(answer)
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

/// Writes a whole line. `MSG_NOSIGNAL`: a server that went away is an error, not a SIGPIPE
/// that kills the shell.
pub fn send_line(stream: &UnixStream, line: &[u8], deadline: Instant) -> Result<(), BrokerError> {
    let mut sent = 0;
    while sent < line.len() {
        let left = remaining(deadline).ok_or(BrokerError::TimedOut)?;
        stream
            .set_write_timeout(Some(left))
            .map_err(BrokerError::Io)?;
        match socket::send(stream.as_raw_fd(), &line[sent..], MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::EINTR) if crate::sys::interrupted().is_some() => {
                return Err(BrokerError::Closed)
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {}
            Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(BrokerError::Closed),
            Err(e) => return Err(BrokerError::Io(e.into())),
        }
    }
    Ok(())
}

/// Reads one line (without its newline) before `deadline`.
fn read_line(mut stream: &UnixStream, deadline: Instant) -> Result<Vec<u8>, BrokerError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = remaining(deadline).ok_or(BrokerError::TimedOut)?;
        stream
            .set_read_timeout(Some(left))
            .map_err(BrokerError::Io)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(BrokerError::Closed),
            Ok(n) => {
                let start = buf.len();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
                    buf.truncate(start + i);
                    return Ok(buf);
                }
                if buf.len() > MAX_LINE {
                    return Err(BrokerError::Protocol("reply too long".into()));
                }
            }
            // A signal that ends the shell ends the wait (`sys::interruptible`).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if crate::sys::interrupted().is_some() {
                    return Err(BrokerError::Closed);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(BrokerError::Closed)
            }
            Err(e) => return Err(BrokerError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sg-broker-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn runtime_dir_is_created_private_and_checked() {
        let base = temp("rt");
        let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), base.display().to_string())]);
        let dir = runtime_dir(&vars).unwrap();
        assert_eq!(dir, base.join(format!("shellguard-{}", uid())));
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(watch_socket(&vars), dir.join("watch.sock"));

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = runtime_dir(&vars).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("0755"), "{e}");
        assert!(!watch_is_served(&vars));

        // A link to a private directory is not the directory.
        fs::remove_dir(&dir).unwrap();
        let real = base.join("real");
        fs::DirBuilder::new().mode(0o700).create(&real).unwrap();
        std::os::unix::fs::symlink(&real, &dir).unwrap();
        assert!(runtime_dir(&vars).is_err());
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn relative_runtime_dir_falls_back_to_tmp() {
        let vars = HashMap::from([("XDG_RUNTIME_DIR".to_string(), "run".to_string())]);
        assert!(runtime_path(&vars).starts_with("/tmp"));
        assert!(runtime_path(&HashMap::new()).starts_with("/tmp"));
    }
}
