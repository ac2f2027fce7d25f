//! The broker: a Unix socket on which guarded shells ask the supervisor for a human's answer.
//!
//! The socket lives in a per-user runtime directory (mode 0700, owned by us, refused otherwise)
//! and only connections from our own user are read. A connection carries exactly one
//! `Request` line; anything else (garbage, an `Answer`, an oversized or slow line) closes it
//! without a reply. Nothing a client sends can approve anything: answers come only from the
//! keyboard, in the proxy loop.

use std::fs::{self, DirBuilder};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::proxy::Event;
use crate::approve::protocol::{Answer, Request, Verdict};

/// Longest request line read; a longer one closes the connection.
pub const MAX_REQUEST: usize = 1024 * 1024;
/// A client must deliver its whole request line within this time.
const READ_WITHIN: Duration = Duration::from_secs(5);
/// Connections being read at once; more are closed at once.
const MAX_READERS: usize = 32;
/// Longest wait honoured, whatever the request says.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// `${XDG_RUNTIME_DIR:-/tmp}/shellguard-$UID`, created with mode 0700 if missing. An existing
/// one must be a real directory (not a link), owned by us and closed to group and others.
pub fn runtime_dir() -> Result<PathBuf, String> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|b| !b.is_empty() && Path::new(b).is_absolute())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let uid = nix::unistd::geteuid().as_raw();
    let dir = base.join(format!("shellguard-{uid}"));
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    check_private_dir(&dir, uid)?;
    Ok(dir)
}

fn check_private_dir(dir: &Path, uid: u32) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid {
        return Err(format!(
            "{} belongs to uid {}, not to us (uid {uid})",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to other users (mode {:o}); it must be 0700",
            dir.display(),
            meta.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// The socket file; removed when dropped.
pub struct Socket {
    pub path: PathBuf,
    listener: Option<UnixListener>,
}

impl Socket {
    /// Binds `sup-<pid>.sock` in `dir`, replacing a stale file of that name (a dead process of
    /// ours with the same pid).
    pub fn bind(dir: &Path) -> io::Result<Socket> {
        let path = dir.join(format!("sup-{}.sock", std::process::id()));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(&path)?;
        // The directory already keeps others out; this is belt and braces.
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
        Ok(Socket {
            path,
            listener: Some(listener),
        })
    }

    /// Accepts connections on a thread of its own; each valid request becomes an
    /// `Event::Request` for the proxy loop.
    pub fn serve(&mut self, events: Sender<Event>) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let uid = nix::unistd::geteuid().as_raw();
        let readers = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for conn in listener.incoming() {
                let stream = match conn {
                    Ok(s) => s,
                    Err(_) => {
                        // Out of file descriptors and the like: do not spin.
                        thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                if readers.fetch_add(1, Ordering::SeqCst) >= MAX_READERS {
                    readers.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let events = events.clone();
                let readers = Arc::clone(&readers);
                thread::spawn(move || {
                    let request = read_request(&stream, uid);
                    readers.fetch_sub(1, Ordering::SeqCst);
                    if let Some(req) = request {
                        let _ = events.send(Event::Request(Box::new(Pending::new(req, stream))));
                    }
                });
            }
        });
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// One request line from a client of our own user, or `None` (and the connection is dropped).
fn read_request(stream: &UnixStream, uid: u32) -> Option<Request> {
    let creds = getsockopt(stream, PeerCredentials).ok()?;
    if creds.uid() != uid {
        return None;
    }
    let line = crate::approve::protocol::read_line_within(stream, READ_WITHIN, MAX_REQUEST)?;
    let req: Request = serde_json::from_slice(&line).ok()?;
    valid(&req).then_some(req)
}

fn valid(req: &Request) -> bool {
    let short = |s: &str, max: usize| !s.is_empty() && s.len() <= max;
    short(&req.id, 64) && short(&req.nonce, 256) && !req.command.is_empty()
}

/// Puts `req` to the human at this supervisor's prompt, as a shell's request would be, and
/// waits for the answer; `None` if the prompt dropped it (the agent gone, too many waiting).
pub fn ask_here(events: &Sender<Event>, req: &Request) -> Option<Answer> {
    let (ours, theirs) = UnixStream::pair().ok()?;
    events
        .send(Event::Request(Box::new(Pending::new(req.clone(), ours))))
        .ok()?;
    let wait = Duration::from_secs(req.wait_secs).min(MAX_WAIT) + Duration::from_secs(5);
    let line = crate::approve::protocol::read_line_within(&theirs, wait, 64 * 1024)?;
    let answer: Answer = serde_json::from_slice(&line).ok()?;
    (answer.id == req.id && answer.nonce == req.nonce).then_some(answer)
}

/// A request waiting for its answer, with the connection to answer on.
#[derive(Debug)]
pub struct Pending {
    pub req: Request,
    stream: UnixStream,
    received: Instant,
}

impl Pending {
    pub fn new(req: Request, stream: UnixStream) -> Self {
        Pending {
            req,
            stream,
            received: Instant::now(),
        }
    }

    /// When the supervisor answers "timeout": a little before the asking shell gives up on its
    /// own, so that it hears the answer rather than nothing.
    pub fn deadline(&self) -> Instant {
        let wait = Duration::from_secs(self.req.wait_secs).min(MAX_WAIT);
        let margin = (wait / 4).min(Duration::from_secs(2));
        self.received + wait - margin
    }

    /// Whether the asking shell has gone away (closed its end).
    pub fn withdrawn(&self) -> bool {
        let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, 0u16) {
            Ok(n) if n > 0 => fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
            _ => false,
        }
    }

    /// Sends the answer, best effort: a shell that has gone away has nobody to tell.
    pub fn answer(mut self, verdict: Verdict, remember_secs: Option<u64>) {
        let answer = Answer {
            id: self.req.id.clone(),
            nonce: self.req.nonce.clone(),
            verdict,
            remember_secs,
        };
        let Ok(mut line) = serde_json::to_vec(&answer) else {
            return;
        };
        line.push(b'\n');
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(2)));
        let _ = self
            .stream
            .write_all(&line)
            .and_then(|()| self.stream.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_runtime_dir_open_to_others() {
        let base = std::env::temp_dir().join(format!("sg-broker-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_private_dir(&base, uid).unwrap_err().contains("0700"));
        fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_private_dir(&base, uid).is_ok());
        assert!(check_private_dir(&base, uid.wrapping_add(1))
            .unwrap_err()
            .contains("belongs to"));
        let link = base.with_extension("link");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&base, &link).unwrap();
        assert!(check_private_dir(&link, uid)
            .unwrap_err()
            .contains("not a directory"));
        fs::remove_file(&link).unwrap();
        fs::remove_dir_all(&base).unwrap();
    }
}
