//! Trust in project files: `shellguard trust` records the SHA-256 of a project's
//! `.shellguard.toml` in the user's state directory. A project file may loosen the rules only
//! while its content still has that hash.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The per-user state directory: `$XDG_STATE_HOME/shellguard` or `~/.local/state/shellguard`.
pub fn state_dir(vars: &std::collections::HashMap<String, String>) -> Option<PathBuf> {
    if let Some(m) = crate::enforced::current() {
        // Inside an enforced tree: the supervisor's read-only view, whatever the environment.
        return Some(m.state_dir.clone());
    }
    let base = match vars.get("XDG_STATE_HOME").filter(|v| v.starts_with('/')) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(vars.get("HOME").filter(|h| !h.is_empty())?).join(".local/state"),
    };
    Some(base.join("shellguard"))
}

pub fn hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `HASH PATH` lines, one per trusted file.
pub struct TrustStore {
    file: PathBuf,
}

impl TrustStore {
    pub fn new(state_dir: &Path) -> Self {
        TrustStore {
            file: state_dir.join("trusted"),
        }
    }

    fn entries(&self) -> Vec<(String, String)> {
        let Ok(text) = fs::read_to_string(&self.file) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .collect()
    }

    /// Whether `path` was trusted with exactly this content.
    pub fn is_trusted(&self, path: &Path, content: &[u8]) -> bool {
        let h = hash(content);
        let p = path.to_string_lossy();
        self.entries().iter().any(|(eh, ep)| *eh == h && *ep == p)
    }

    /// Whether `path` was trusted with some other content (so it changed since).
    pub fn was_trusted(&self, path: &Path) -> bool {
        let p = path.to_string_lossy();
        self.entries().iter().any(|(_, ep)| *ep == p)
    }

    /// Record `content` as the trusted content of `path`, replacing an older record.
    pub fn trust(&self, path: &Path, content: &[u8]) -> std::io::Result<()> {
        let p = path.to_string_lossy().into_owned();
        let mut lines: Vec<String> = self
            .entries()
            .into_iter()
            .filter(|(_, ep)| *ep != p)
            .map(|(h, ep)| format!("{h} {ep}"))
            .collect();
        lines.push(format!("{} {p}", hash(content)));
        write_atomically(&self.file, &(lines.join("\n") + "\n"))
    }
}

/// Messages said once: each key (a file and its content hash) is remembered after the first
/// time, so a changed file is reported once, not on every command.
pub fn say_once(state_dir: &Path, key: &str) -> bool {
    let file = state_dir.join("said");
    let text = fs::read_to_string(&file).unwrap_or_default();
    if text.lines().any(|l| l == key) {
        return false;
    }
    let _ = fs::create_dir_all(state_dir);
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(&file) {
        let _ = writeln!(f, "{key}");
    }
    true
}

pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
        std::process::id()
    ));
    let written = fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk must not leave a half-written file behind.
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_follows_content() {
        let dir = std::env::temp_dir().join(format!("sg-trust-{}", std::process::id()));
        let store = TrustStore::new(&dir);
        let p = Path::new("/proj/.shellguard.toml");
        assert!(!store.is_trusted(p, b"a"));
        store.trust(p, b"a").unwrap();
        assert!(store.is_trusted(p, b"a"));
        assert!(!store.is_trusted(p, b"b"));
        assert!(store.was_trusted(p));
        store.trust(p, b"b").unwrap();
        assert!(store.is_trusted(p, b"b") && !store.is_trusted(p, b"a"));
        assert!(say_once(&dir, "k1"));
        assert!(!say_once(&dir, "k1"));
        let _ = fs::remove_dir_all(&dir);
    }
}
