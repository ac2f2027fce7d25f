//! The supervisor writes what guards in the tree cannot: their audit lines and the refused
//! requests that `shellguard approve ID` later shows. The tree sees shellguard's state
//! directory read-only, so the log only grows, through here, and only by whole records.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::enforced::{Note, MAX_NOTE};

/// Connections read at once; more wait in the listen queue.
const MAX_READERS: usize = 16;
/// A client must deliver its note within this time.
const READ_WITHIN: Duration = Duration::from_secs(5);

/// The socket file; removed when dropped.
pub struct Records {
    pub path: PathBuf,
    listener: Option<UnixListener>,
}

impl Records {
    pub fn bind(dir: &Path) -> io::Result<Records> {
        let path = dir.join(format!("rec-{}.sock", std::process::id()));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        Ok(Records {
            path,
            listener: Some(listener),
        })
    }

    /// Serves on a thread of its own: audit lines go to `audit_log`, refused requests to the
    /// approvals register in `state_dir`.
    pub fn serve(&mut self, audit_log: PathBuf, state_dir: PathBuf) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let uid = nix::unistd::getuid().as_raw();
        let readers = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(stream) = conn else {
                    thread::sleep(Duration::from_millis(50));
                    continue;
                };
                if readers.fetch_add(1, Ordering::SeqCst) >= MAX_READERS {
                    // Read this one here: slower, but nothing is dropped.
                    readers.fetch_sub(1, Ordering::SeqCst);
                    handle(&stream, uid, &audit_log, &state_dir);
                    continue;
                }
                let readers = Arc::clone(&readers);
                let (audit_log, state_dir) = (audit_log.clone(), state_dir.clone());
                thread::spawn(move || {
                    handle(&stream, uid, &audit_log, &state_dir);
                    readers.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn handle(stream: &UnixStream, uid: u32, audit_log: &Path, state_dir: &Path) {
    let Ok(creds) =
        nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
    else {
        return;
    };
    if creds.uid() != uid {
        return;
    }
    let Some(note) = read_note(stream) else {
        return;
    };
    match note {
        Note::Audit(value) => {
            let Ok(mut rec) = serde_json::from_value::<crate::audit::Record>(value) else {
                return;
            };
            rec.enforced = Some(true);
            let _ = crate::audit::append(audit_log, &rec);
        }
        Note::Refused {
            id,
            command,
            cwd,
            rules,
        } => {
            if id.is_empty() || id.len() > 64 {
                return;
            }
            let _ =
                crate::policy::approvals::record_refused(state_dir, &id, &command, &cwd, &rules);
        }
    }
}

fn read_note(stream: &UnixStream) -> Option<Note> {
    let line = crate::approve::protocol::read_line_within(stream, READ_WITHIN, MAX_NOTE)?;
    serde_json::from_slice(&line).ok()
}
