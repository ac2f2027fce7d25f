//! Installed tools' own shell scripts: pyenv's and rbenv's shims and commands, asdf's shims,
//! conda's scripts. They start with `#!/usr/bin/env bash`, so with the shims first on `PATH`
//! every one of them runs through the guard, and the way they work — `exec "$command_path"
//! "$@"`, `$READLINK "$1"` — is exactly what the guard must ask about in an agent's code.
//!
//! `shellguard trust --tools`, typed by the human, records the SHA-256 of every shell script
//! under the tools' directories (in the state directory, which an agent under `shellguard
//! run` cannot write). A script run through the guard whose real path lies under such a
//! directory and whose content has a recorded hash runs untouched. Anything an agent writes
//! or changes there has another hash and is judged like any other script; a script with a
//! recorded content anywhere else is judged too. A tool updated later is judged until the
//! human trusts it again (`shellguard doctor` says so).

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::trust::hash;

/// Where version managers and environment tools keep their scripts, under `HOME` unless
/// their own variable says otherwise.
const HOME_ROOTS: &[&str] = &[
    ".pyenv",
    ".rbenv",
    ".nodenv",
    ".goenv",
    ".jenv",
    ".asdf",
    ".nvm",
    ".sdkman",
    "miniconda3",
    "anaconda3",
    "miniforge3",
    "mambaforge",
];
const ROOT_VARS: &[&str] = &[
    "PYENV_ROOT",
    "RBENV_ROOT",
    "NODENV_ROOT",
    "GOENV_ROOT",
    "ASDF_DIR",
    "ASDF_DATA_DIR",
    "NVM_DIR",
    "SDKMAN_DIR",
];
const SYSTEM_ROOTS: &[&str] = &["/opt/conda"];

/// Directories inside a tool's tree that hold what it installed for the user (interpreters,
/// packages, caches), not the tool's own scripts: not walked.
const SKIP_DIRS: &[&str] = &[
    "versions",
    "envs",
    "pkgs",
    "lib",
    "include",
    "share",
    "node_modules",
    "cache",
    "sources",
    "candidates",
    "installs",
    "downloads",
    ".git",
];

/// How deep, how many entries and how large a script `--tools` looks at.
const MAX_DEPTH: usize = 4;
const MAX_ENTRIES: usize = 50_000;
const MAX_SCRIPT: u64 = 1024 * 1024;

/// The tools' directories that exist, with links resolved.
pub fn roots(vars: &HashMap<String, String>) -> Vec<PathBuf> {
    let home = vars.get("HOME").filter(|h| h.starts_with('/'));
    let mut out: Vec<PathBuf> = Vec::new();
    let candidates = ROOT_VARS
        .iter()
        .filter_map(|v| {
            vars.get(*v)
                .filter(|p| p.starts_with('/'))
                .map(PathBuf::from)
        })
        .chain(
            HOME_ROOTS
                .iter()
                .filter_map(|r| home.map(|h| Path::new(h).join(r))),
        )
        .chain(SYSTEM_ROOTS.iter().map(PathBuf::from));
    for c in candidates {
        // The filesystem root or a whole home is no tool's directory.
        let Ok(real) = fs::canonicalize(&c) else {
            continue;
        };
        if real.parent().is_none() || home.is_some_and(|h| real == Path::new(h)) {
            continue;
        }
        if real.is_dir() && !out.contains(&real) {
            out.push(real);
        }
    }
    out
}

/// Whether `head` starts a script for a POSIX shell: `#!/bin/sh`, `#!/usr/bin/env bash`, ….
pub fn is_shell_script(head: &[u8]) -> bool {
    let Some(line) = head.strip_prefix(b"#!") else {
        return false;
    };
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return false;
    };
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let interp = if base(first) == "env" {
        match words.find(|w| !w.starts_with('-')) {
            Some(w) => base(w),
            None => return false,
        }
    } else {
        base(first)
    };
    matches!(interp.as_str(), "sh" | "bash" | "dash")
}

/// A script's path and content.
pub type Script = (PathBuf, Vec<u8>);

/// Every shell script under `root`, with its content.
pub fn scripts(root: &Path) -> Vec<Script> {
    let mut out = Vec::new();
    let mut seen = 0usize;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return out;
            }
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            if ft.is_dir() {
                let name = e.file_name();
                let skip = SKIP_DIRS.iter().any(|s| name == *s);
                if depth + 1 < MAX_DEPTH && !skip {
                    stack.push((path, depth + 1));
                }
            } else if ft.is_file() {
                if let Some(content) = read_script(&path) {
                    out.push((path, content));
                }
            }
        }
    }
    out.sort();
    out
}

fn read_script(path: &Path) -> Option<Vec<u8>> {
    let mut f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    if len > MAX_SCRIPT {
        return None;
    }
    let mut head = [0u8; 128];
    let n = f.read(&mut head).ok()?;
    if !is_shell_script(&head[..n]) {
        return None;
    }
    let mut content = head[..n].to_vec();
    f.read_to_end(&mut content).ok()?;
    Some(content)
}

/// Where the system's own programs live: a script there, in files and directories only root
/// can change, is a program of the system like the binaries beside it.
const SYSTEM_DIRS: &[&str] = &["/usr/", "/bin/", "/sbin/", "/lib/"];

/// Whether the script at `path` is the system's own: under a system directory, and the file
/// and every directory above it owned by root and writable by nobody else. Such a script is
/// judged as a program is, by how it is invoked (the line that runs it, the exec gate), not
/// by what is inside (`lsb_release`, which Codex runs at every start, holds `eval set --
/// "$options"`). An agent running as an ordinary user cannot change it; one running as root
/// needs a write into the system's directories first, which is judged.
pub fn is_system_script(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(real) = fs::canonicalize(path) else {
        return false;
    };
    if !SYSTEM_DIRS.iter().any(|d| real.starts_with(d)) {
        return false;
    }
    // Inside `shellguard run`'s boundary only the user's own id is mapped: root's files show
    // the kernel's overflow id. Owned by that, the file is root's or another unmapped user's,
    // never the agent's, which is what matters here.
    let me = nix::unistd::geteuid().as_raw();
    let unmapped = crate::enforced::current()
        .is_some()
        .then(overflow_uid)
        .filter(|&o| o != me);
    let by_root = |uid: u32| uid == 0 || Some(uid) == unmapped;
    let only_root =
        |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| by_root(m.uid()) && m.mode() & 0o022 == 0);
    let file_ok = fs::metadata(&real).is_ok_and(|m| m.is_file()) && only_root(&real);
    file_ok && real.ancestors().skip(1).all(only_root)
}

/// The record: `HASH ROOT` lines.
pub struct ToolTrust {
    file: PathBuf,
}

impl ToolTrust {
    pub fn new(state_dir: &Path) -> Self {
        ToolTrust {
            file: state_dir.join("trusted-tools"),
        }
    }

    fn entries(&self) -> Vec<(String, PathBuf)> {
        fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(h, r)| (h.to_string(), PathBuf::from(r)))
            .collect()
    }

    /// Whether the script at `path` (as run) with `content` is a tool's, trusted as it is.
    pub fn is_trusted(&self, path: &Path, content: &[u8]) -> bool {
        let entries = self.entries();
        if entries.is_empty() {
            return false;
        }
        let Ok(real) = fs::canonicalize(path) else {
            return false;
        };
        let h = hash(content);
        entries
            .iter()
            .any(|(eh, root)| *eh == h && real.starts_with(root))
    }

    /// Replace the record for `root` with these scripts' hashes.
    pub fn record(&self, root: &Path, scripts: &[Script]) -> std::io::Result<usize> {
        let mut lines: Vec<String> = self
            .entries()
            .into_iter()
            .filter(|(_, r)| r != root)
            .map(|(h, r)| format!("{h} {}", r.display()))
            .collect();
        let mut hashes: Vec<String> = scripts.iter().map(|(_, c)| hash(c)).collect();
        hashes.sort();
        hashes.dedup();
        let n = hashes.len();
        lines.extend(
            hashes
                .into_iter()
                .map(|h| format!("{h} {}", root.display())),
        );
        super::trust::write_atomically(&self.file, &(lines.join("\n") + "\n"))?;
        Ok(n)
    }

    /// For each tool's directory: its shell scripts, and those of them whose content is not
    /// recorded for it (new, or changed since `trust --tools`).
    pub fn standing(&self, roots: &[PathBuf]) -> Vec<Standing> {
        let entries = self.entries();
        roots
            .iter()
            .map(|root| {
                let found = scripts(root);
                let untrusted = found
                    .iter()
                    .filter(|(_, content)| {
                        let h = hash(content);
                        !entries.iter().any(|(eh, r)| *eh == h && r == root)
                    })
                    .map(|(path, _)| path.clone())
                    .collect();
                Standing {
                    root: root.clone(),
                    scripts: found.len(),
                    untrusted,
                }
            })
            .filter(|s| s.scripts > 0)
            .collect()
    }
}

/// One tool's directory as `doctor` and `setup` report it.
#[derive(Debug)]
pub struct Standing {
    pub root: PathBuf,
    pub scripts: usize,
    pub untrusted: Vec<PathBuf>,
}

/// What a person should know about the installed tools' scripts, or `None` when all of them
/// run as trusted (or there are none): `doctor` and `setup` print it.
pub fn advice(vars: &HashMap<String, String>) -> Option<String> {
    let state = super::trust::state_dir(vars)?;
    let standing = ToolTrust::new(&state).standing(&roots(vars));
    let open: Vec<&Standing> = standing
        .iter()
        .filter(|s| !s.untrusted.is_empty())
        .collect();
    if open.is_empty() {
        return None;
    }
    let mut s = String::from(
        "Installed tools whose shell scripts are not trusted as they are now: with the shims \
         first on PATH they run through the guard like an agent's own scripts, and a version \
         manager's way of working (`exec \"$command_path\" \"$@\"`) is refused.\n",
    );
    for o in open {
        let first = o
            .untrusted
            .first()
            .and_then(|p| p.strip_prefix(&o.root).ok())
            .map(|p| format!(", {}…", p.display()))
            .unwrap_or_default();
        let how = if o.untrusted.len() == o.scripts {
            format!(
                "{} script{}, none trusted",
                o.scripts,
                if o.scripts == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "{} of {} scripts new or changed since trusted",
                o.untrusted.len(),
                o.scripts
            )
        };
        s.push_str(&format!("  {}: {how}{first}\n", o.root.display()));
    }
    s.push_str(
        "If these are the tools you installed, run `shellguard trust --tools` in a terminal \
         of your own: they then run unread, and anything written there later is judged.\n",
    );
    Some(s)
}

/// The installed tool's directory `path` (a script run through the guard) lies in.
pub fn root_of(path: &Path, vars: &HashMap<String, String>) -> Option<PathBuf> {
    let real = fs::canonicalize(path).ok()?;
    roots(vars).into_iter().find(|r| real.starts_with(r))
}

/// `shellguard trust --tools [--yes]`: the human trusts the installed tools' scripts as
/// they are now. Needs a terminal (as every trust does), shows what it found, and asks
/// unless `--yes`.
pub fn trust_main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    use std::io::IsTerminal;
    let yes = match args {
        [] => false,
        [y] if y == "--yes" => true,
        _ => {
            eprintln!("usage: shellguard trust --tools [--yes]   (in a terminal)");
            return 2;
        }
    };
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        eprintln!("shellguard trust --tools: must be run by a person in a terminal");
        return 2;
    }
    let Some(state) = super::trust::state_dir(vars) else {
        eprintln!("shellguard trust --tools: no HOME to keep the record in");
        return 2;
    };
    let found: Vec<(PathBuf, Vec<Script>)> = roots(vars)
        .into_iter()
        .map(|r| {
            let s = scripts(&r);
            (r, s)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if found.is_empty() {
        println!("no installed tool with shell scripts found (looked for pyenv, rbenv, nodenv, goenv, jenv, asdf, nvm, sdkman, conda)");
        return 0;
    }
    for (root, s) in &found {
        println!("{}: {} shell scripts", root.display(), s.len());
    }
    if !yes {
        let stdin = std::io::stdin();
        let yes = crate::approve::keys::confirm(
            std::os::fd::AsFd::as_fd(&stdin),
            &mut std::io::stdout(),
            "--- let these scripts, with exactly this content, run unread? [y/N] ",
        );
        if !matches!(yes, Ok(true)) {
            println!("not trusted");
            return 1;
        }
    }
    let store = ToolTrust::new(&state);
    for (root, s) in &found {
        if let Err(e) = store.record(root, s) {
            eprintln!("shellguard trust --tools: cannot record trust: {e}");
            return 1;
        }
    }
    println!("trusted; a script changed or added there later is judged until you run this again");
    0
}

/// The owner files of unmapped users show inside a user namespace.
fn overflow_uid() -> u32 {
    fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_scripts_by_their_first_line() {
        for yes in [
            &b"#!/bin/sh\nx"[..],
            b"#!/usr/bin/env bash\n",
            b"#! /bin/bash -e\n",
            b"#!/usr/bin/env -S bash -e\n",
            b"#!/bin/dash",
        ] {
            assert!(is_shell_script(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b"#!/usr/bin/env python3\n"[..],
            b"#!/usr/bin/perl\n",
            b"echo hi\n",
            b"#!\n",
            b"\x7fELF",
        ] {
            assert!(!is_shell_script(no), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn system_scripts_are_the_systems_only_where_only_root_can_write() {
        // A shell script the system ships, where one is found here.
        let shipped = ["/usr/bin/lsb_release", "/usr/bin/ldd", "/usr/bin/zcat"]
            .into_iter()
            .map(Path::new)
            .find(|p| read_script(p).is_some());
        if let Some(p) = shipped {
            assert!(is_system_script(p), "{}", p.display());
        }
        let tmp = std::env::temp_dir().join(format!("sg-sys-{}", std::process::id()));
        fs::write(&tmp, "#!/bin/sh\n").unwrap();
        assert!(!is_system_script(&tmp));
        let _ = fs::remove_file(&tmp);
        assert!(!is_system_script(Path::new("/nonexistent/usr/bin/x")));
    }

    #[test]
    fn trusted_by_content_under_the_tools_directory_only() {
        let base = std::env::temp_dir().join(format!("sg-tools-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join(".pyenv");
        fs::create_dir_all(root.join("libexec")).unwrap();
        fs::create_dir_all(root.join("versions/3.11/bin")).unwrap();
        let tool = root.join("libexec/pyenv");
        fs::write(
            &tool,
            "#!/usr/bin/env bash\nexec \"$command_path\" \"$@\"\n",
        )
        .unwrap();
        fs::write(root.join("libexec/helper.py"), "#!/usr/bin/env python3\n").unwrap();
        fs::write(root.join("versions/3.11/bin/x"), "#!/bin/sh\n").unwrap();
        let root = fs::canonicalize(&root).unwrap();
        let found = scripts(&root);
        assert_eq!(found.len(), 1, "{found:?}");

        let state = base.join("state");
        let t = ToolTrust::new(&state);
        let content = fs::read(&tool).unwrap();
        assert!(!t.is_trusted(&tool, &content));
        assert_eq!(t.record(&root, &found).unwrap(), 1);
        assert!(t.is_trusted(&tool, &content));
        let standing = |t: &ToolTrust| t.standing(std::slice::from_ref(&root));
        assert!(standing(&t)[0].untrusted.is_empty());
        // Changed by anyone: judged again.
        let changed = b"#!/usr/bin/env bash\nrm -rf ~\n";
        assert!(!t.is_trusted(&tool, changed));
        fs::write(&tool, changed).unwrap();
        assert_eq!(standing(&t)[0].untrusted, vec![tool.clone()]);
        assert_eq!(standing(&t)[0].scripts, 1);
        // The same content outside the tool's directory is not the tool.
        let elsewhere = base.join("copy");
        fs::write(&elsewhere, &content).unwrap();
        assert!(!t.is_trusted(&elsewhere, &content));
        let _ = fs::remove_dir_all(&base);
    }
}
