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

use super::gate::{self, GuardId};
use super::grants::Grants;
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
    /// approvals register in `state_dir`, a guard's grants to `grants`.
    pub fn serve(
        &mut self,
        audit_log: PathBuf,
        state_dir: PathBuf,
        grants: Arc<Grants>,
        guard: GuardId,
    ) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let uid = nix::unistd::getuid().as_raw();
        let to = Arc::new(To {
            uid,
            audit_log,
            state_dir,
            grants,
            guard,
        });
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
                    handle(&stream, &to);
                    continue;
                }
                let readers = Arc::clone(&readers);
                let to = Arc::clone(&to);
                thread::spawn(move || {
                    handle(&stream, &to);
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

/// Where notes go.
struct To {
    uid: u32,
    audit_log: PathBuf,
    state_dir: PathBuf,
    grants: Arc<Grants>,
    guard: GuardId,
}

fn handle(stream: &UnixStream, to: &To) {
    let Ok(creds) =
        nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
    else {
        return;
    };
    if creds.uid() != to.uid {
        return;
    }
    let (audit_log, state_dir) = (to.audit_log.as_path(), to.state_dir.as_path());
    let Some(note) = read_note(stream) else {
        return;
    };
    match note {
        Note::Audit(value) => {
            let Ok(mut rec) = serde_json::from_value::<crate::audit::Record>(value) else {
                return;
            };
            rec.enforced = Some(true);
            if let Err(e) = crate::audit::append(audit_log, &rec) {
                crate::audit::report_lost(audit_log, &e);
            }
        }
        Note::Refused {
            id,
            command,
            cwd,
            rules,
            what,
        } => {
            if id.is_empty() || id.len() > 64 {
                return;
            }
            let line = crate::policy::approvals::Line {
                command: &command,
                cwd: &cwd,
                what: what.as_deref(),
            };
            // The guard waits for the answer: with no request kept, its refusal must not give
            // an id that `approve` cannot find.
            let kept = crate::policy::approvals::record_refused(state_dir, &id, &line, &rules);
            let mut w = stream;
            let _ = std::io::Write::write_all(&mut w, if kept.is_ok() { b"ok\n" } else { b"no\n" });
        }
        Note::Grant { rules } => {
            // Only the guard grants, and only before it becomes the shell it judged for: the
            // peer is checked while it waits for this answer.
            let Ok(pid) = u32::try_from(creds.pid()) else {
                return;
            };
            if !gate::is_guard(pid, to.guard) || rules.len() > 256 {
                return;
            }
            to.grants.add(pid, rules);
            let mut w = stream;
            let _ = std::io::Write::write_all(&mut w, b"ok\n");
        }
        Note::Covered { rules } => {
            let covered = u32::try_from(creds.pid())
                .is_ok_and(|pid| gate::is_guard(pid, to.guard) && to.grants.covers(pid, &rules));
            let mut w = stream;
            let _ = std::io::Write::write_all(&mut w, if covered { b"ok\n" } else { b"no\n" });
        }
    }
}

fn read_note(stream: &UnixStream) -> Option<Note> {
    let line = crate::approve::protocol::read_line_within(stream, READ_WITHIN, MAX_NOTE)?;
    serde_json::from_slice(&line).ok()
}
