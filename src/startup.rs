//! Code the real shell runs before the command it was given: functions exported in its
//! environment (`BASH_FUNC_name%%`), `BASH_ENV`, and a login shell's profile files. Inside an enforced `shellguard run` the agent can write both (the variable
//! in its environment, the files in the user's home), so they would be a way to run shell code
//! nobody judged. There they are judged with the command:
//!
//! - functions bash imports from the environment (a `ls` that deletes), always;
//! - the file `BASH_ENV` names (a non-interactive bash, outside POSIX mode), always: the agent
//!   chose it;
//! - a login shell's profile files (`/etc/profile` and `/etc/profile.d/*.sh`, then bash's
//!   `~/.bash_profile`, `~/.bash_login`, `~/.profile` and the `~/.bashrc` Debian's profile
//!   sources), but only those changed since the boundary was built: the ones the human had
//!   before are theirs.
//!
//! Their text is put before the command's, each behind a comment naming the file, so the
//! prompt shows the human what would really run.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cli::bash::Dialect;

/// What a shell invocation will read before its command, as far as it matters here.
pub struct Startup<'a> {
    pub dialect: Dialect,
    pub posix: bool,
    pub login: bool,
    pub vars: &'a HashMap<String, String>,
    /// Files whose status changed at or after this time (seconds since the epoch) are judged.
    pub since: u64,
}

/// A word the analyser can only call unknown: stands for a startup file it cannot know.
const UNKNOWN: &str = "\"$BASH_ENV\"";

impl Startup<'_> {
    /// The text to judge before the command's own, empty when nothing applies.
    pub fn code(&self) -> String {
        let mut out = String::new();
        if let Some(env) = self.env_file() {
            match env {
                Some(path) => append(&mut out, &path, "BASH_ENV"),
                None => {
                    out.push_str("# BASH_ENV names a file only known when bash runs\n");
                    out.push_str(UNKNOWN);
                    out.push('\n');
                }
            }
        }
        if self.dialect == Dialect::Bash {
            // bash defines every function exported in its environment before it runs anything.
            let mut exported: Vec<(&str, &String)> = self
                .vars
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.strip_prefix("BASH_FUNC_")?.strip_suffix("%%")?;
                    v.starts_with("()").then_some((name, v))
                })
                .collect();
            exported.sort();
            for (name, body) in exported {
                out.push_str(&format!(
                    "# {name}: a function exported in the environment
"
                ));
                out.push_str(&format!("{name} {body}\n"));
            }
        }
        if self.login {
            for path in self.profile_files() {
                let changed = std::fs::metadata(&path)
                    .is_ok_and(|m| u64::try_from(m.ctime()).unwrap_or(0) >= self.since);
                if changed {
                    append(&mut out, &path, "changed during this session");
                }
            }
        }
        out
    }

    /// `Some(Some(path))`: bash reads this file first; `Some(None)`: it reads a file named by
    /// an expansion; `None`: no such file.
    fn env_file(&self) -> Option<Option<PathBuf>> {
        if self.dialect != Dialect::Bash || self.posix || self.vars.contains_key("POSIXLY_CORRECT")
        {
            return None;
        }
        let value = self.vars.get("BASH_ENV").filter(|v| !v.is_empty())?;
        if value.contains(['$', '`']) {
            return Some(None);
        }
        Some(Some(PathBuf::from(value)))
    }

    fn profile_files(&self) -> Vec<PathBuf> {
        let mut files = vec![PathBuf::from("/etc/profile")];
        if let Ok(entries) = std::fs::read_dir("/etc/profile.d") {
            let mut d: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sh"))
                .collect();
            d.sort();
            files.extend(d);
        }
        let Some(home) = self.vars.get("HOME").filter(|h| h.starts_with('/')) else {
            return files;
        };
        let home = Path::new(home);
        if self.dialect == Dialect::Bash && !self.posix {
            let first = [".bash_profile", ".bash_login", ".profile"]
                .iter()
                .map(|n| home.join(n))
                .find(|p| p.exists());
            files.extend(first);
            files.push(home.join(".bashrc"));
        } else {
            files.push(home.join(".profile"));
        }
        files
    }
}

fn append(out: &mut String, path: &Path, why: &str) {
    // A file bash cannot read, it skips; so do we.
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    out.push_str(&format!("# {} ({why}), run first:\n", path.display()));
    out.push_str(&String::from_utf8_lossy(&bytes));
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sg-startup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn bash_env_is_judged_with_the_command_and_profiles_only_once_changed() {
        let home = scratch("home");
        let evil = home.join("evil.sh");
        std::fs::write(&evil, "rm -rf ~/precious\n").unwrap();
        std::fs::write(home.join(".profile"), "echo old profile\n").unwrap();
        let mut vars = HashMap::from([("HOME".to_string(), home.display().to_string())]);
        let s = |vars: &HashMap<String, String>, login: bool, since: u64| {
            Startup {
                dialect: Dialect::Bash,
                posix: false,
                login,
                vars,
                since,
            }
            .code()
        };
        assert_eq!(s(&vars, false, 0), "");
        vars.insert("BASH_FUNC_ls%%".into(), "() {  rm -rf ~/x\n}".into());
        let code = s(&vars, false, 0);
        assert!(code.contains("ls () {  rm -rf ~/x"), "{code}");
        vars.remove("BASH_FUNC_ls%%");
        vars.insert("BASH_ENV".into(), evil.display().to_string());
        let code = s(&vars, false, u64::MAX);
        assert!(
            code.contains("rm -rf ~/precious") && code.contains("BASH_ENV"),
            "{code}"
        );
        vars.insert("BASH_ENV".into(), "$HOME/x".into());
        assert!(s(&vars, false, u64::MAX).contains(UNKNOWN));
        vars.remove("BASH_ENV");
        // A login shell: the profile counts only once it changed after `since`.
        assert!(!s(&vars, true, u64::MAX).contains("old profile"));
        assert!(s(&vars, true, 0).contains("old profile"));
        // dash has no BASH_ENV.
        vars.insert("BASH_ENV".into(), evil.display().to_string());
        let dash = Startup {
            dialect: Dialect::Dash,
            posix: true,
            login: false,
            vars: &vars,
            since: 0,
        };
        assert_eq!(dash.code(), "");
        let _ = std::fs::remove_dir_all(&home);
    }
}
