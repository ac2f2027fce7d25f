//! Path classes: how far a path reaches beyond the work at hand (policy.md, "Path classes").
//!
//! Paths are resolved lexically against the working directory at that point of the line:
//! `~`, variables and `..` were already expanded by the word expander, symlinks are not
//! followed. The project root is found lazily, only when a rule asks about a path.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use super::Arg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathClass {
    /// `/`, `/*`, the system directories, `/home` itself.
    System,
    /// `$HOME` itself.
    HomeRoot,
    /// Below `$HOME` but outside the project; `~user`.
    Home,
    /// The project's top directory, `*` at its top, or its `.git`.
    ProjectRoot,
    /// Below the project root (not `.git`).
    Inside,
    /// Below `/tmp`, `/var/tmp` or `$TMPDIR`.
    Temp,
    /// Anything else.
    Elsewhere,
    /// Not known before it runs.
    Unknown,
}

impl PathClass {
    pub fn id(self) -> &'static str {
        match self {
            PathClass::System => "system",
            PathClass::HomeRoot => "home-root",
            PathClass::Home => "home",
            PathClass::ProjectRoot => "project-root",
            PathClass::Inside => "inside",
            PathClass::Temp => "temp",
            PathClass::Elsewhere => "elsewhere",
            PathClass::Unknown => "unknown",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }

    pub const ALL: [PathClass; 8] = [
        PathClass::System,
        PathClass::HomeRoot,
        PathClass::Home,
        PathClass::ProjectRoot,
        PathClass::Inside,
        PathClass::Temp,
        PathClass::Elsewhere,
        PathClass::Unknown,
    ];
}

/// policy.md's root & system class (`/lib*` spelled out).
const SYSTEM_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc",
    "/root", "/sbin", "/sys", "/usr", "/var", "/home", "/Users", "/System",
];

/// The last component the analyser gives to what a filtered `find START -name …` finds.
pub const FIND_FILTERED: &str = "/{found}";

/// Where the line starts and the directories that give paths their class.
#[derive(Debug, Default)]
pub struct PathContext {
    pub start_dir: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub tmpdir: Option<PathBuf>,
    project_root: OnceLock<Option<PathBuf>>,
}

impl PathContext {
    pub fn new(start_dir: Option<PathBuf>, home: Option<PathBuf>, tmpdir: Option<PathBuf>) -> Self {
        PathContext {
            start_dir,
            home: home.map(|h| normalize(&h)),
            tmpdir: tmpdir.filter(|t| t.is_absolute()).map(|t| normalize(&t)),
            project_root: OnceLock::new(),
        }
    }

    /// The nearest ancestor of the start directory holding `.git` or `.shellguard.toml`;
    /// with none, the start directory itself. Never `/`, the home directory or one of its
    /// ancestors, or a system directory: a shell started in `/` or `~` (or below a dotfiles
    /// repository in `~`) has no project, so nothing there counts as inside one.
    pub fn project_root(&self) -> Option<&Path> {
        self.project_root
            .get_or_init(|| {
                let start = normalize(self.start_dir.as_deref()?);
                let found = start
                    .ancestors()
                    .filter(|d| self.may_be_project(d))
                    .find(|d| {
                        d.join(".git").symlink_metadata().is_ok()
                            || d.join(".shellguard.toml").symlink_metadata().is_ok()
                    });
                match found {
                    Some(f) => Some(f.to_path_buf()),
                    None if self.may_be_project(&start) => Some(start),
                    None => None,
                }
            })
            .as_deref()
    }

    fn may_be_project(&self, d: &Path) -> bool {
        if d == Path::new("/") || d.components().count() < 3 {
            // `/` and top-level directories (`/etc`, `/home`, `/srv`) are never a project.
            return false;
        }
        if let Some(home) = self.home.as_deref() {
            if home.starts_with(d) {
                return false;
            }
        }
        const NEVER: &[&str] = &[
            "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
            "/sbin", "/sys", "/usr",
        ];
        !NEVER.iter().any(|n| d.starts_with(n))
    }

    /// Class of a path argument, read in `cwd` (`None`: unknown working directory).
    pub fn classify_arg(&self, arg: &Arg, cwd: Option<&Path>) -> (PathClass, Option<PathBuf>) {
        let prefix = arg.glob_prefix();
        if arg.dynamic {
            // A known system prefix stays system (`/etc/$X`); anything else is unknown.
            let p = Path::new(prefix);
            if p.is_absolute() && prefix.len() > 1 {
                let n = normalize(p);
                if self.classify_path(&n) == PathClass::System && n != Path::new("/") {
                    return (PathClass::System, Some(n));
                }
            }
            return (PathClass::Unknown, None);
        }
        if let Some(dir) = arg.text.strip_suffix(FIND_FILTERED).filter(|_| !arg.glob) {
            // What a filtered `find DIR -name … -delete` reaches: entries below DIR, which
            // inside the project root count as inside the project (policy.md).
            return match resolve(if dir.is_empty() { "/" } else { dir }, cwd) {
                Some(d)
                    if Some(d.as_path()) == self.project_root()
                        || self.classify_path(&d) == PathClass::Inside =>
                {
                    (PathClass::Inside, Some(d))
                }
                Some(d) => (self.classify_children(&d), Some(d)),
                None => (PathClass::Unknown, None),
            };
        }
        if is_remote(&arg.text) {
            // `host:path` (scp, rsync): another machine's files.
            return (PathClass::Elsewhere, None);
        }
        let path = if arg.glob {
            // `dir/*`, `dir/pre*`: everything in dir. `*` alone: everything in cwd.
            let dir = match prefix.rfind('/') {
                Some(i) => &prefix[..=i],
                None => "",
            };
            match resolve(dir, cwd) {
                Some(d) => {
                    let class = self.classify_children(&d);
                    return (class, Some(d));
                }
                None => return (PathClass::Unknown, None),
            }
        } else {
            resolve(&arg.text, cwd)
        };
        match path {
            Some(p) => (self.classify_path(&p), Some(p)),
            None => (PathClass::Unknown, None),
        }
    }

    /// The class of what a glob over `dir`'s entries reaches.
    fn classify_children(&self, dir: &Path) -> PathClass {
        if dir == Path::new("/") {
            return PathClass::System;
        }
        if Some(dir) == self.home.as_deref() {
            return PathClass::Home;
        }
        if Some(dir) == self.project_root() {
            return PathClass::ProjectRoot;
        }
        if dir == Path::new("/tmp")
            || dir == Path::new("/var/tmp")
            || Some(dir) == self.tmpdir.as_deref()
        {
            return PathClass::Temp;
        }
        match self.classify_path(dir) {
            // Children of the home directory or of a system directory stay in that class.
            PathClass::HomeRoot => PathClass::Home,
            PathClass::ProjectRoot => PathClass::Inside,
            c => c,
        }
    }

    /// The class of an absolute, normalised path.
    pub fn classify_path(&self, p: &Path) -> PathClass {
        if p == Path::new("/") {
            return PathClass::System;
        }
        if Some(p) == self.home.as_deref() {
            return PathClass::HomeRoot;
        }
        let project = self.project_root();
        if let Some(root) = project {
            if p == root {
                return PathClass::ProjectRoot;
            }
            if let Ok(rest) = p.strip_prefix(root) {
                if rest.starts_with(".git") {
                    return PathClass::ProjectRoot;
                }
                return PathClass::Inside;
            }
        }
        // The home directory wins over temp: a home under /tmp is still a home.
        if let Some(home) = self.home.as_deref() {
            if p == home {
                return PathClass::HomeRoot;
            }
            if p.starts_with(home) {
                return PathClass::Home;
            }
        }
        for t in [
            Some(Path::new("/tmp")),
            Some(Path::new("/var/tmp")),
            self.tmpdir.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if p != t && p.starts_with(t) {
                return PathClass::Temp;
            }
        }
        if p == Path::new("/tmp") || p == Path::new("/var/tmp") {
            return PathClass::Elsewhere;
        }
        // Other users' homes: /home/NAME, /Users/NAME.
        let mut comps = p.components().skip(1);
        if let (Some(Component::Normal(top)), Some(_)) = (comps.next(), comps.next()) {
            if top == "home" || top == "Users" {
                return PathClass::Home;
            }
        }
        if SYSTEM_DIRS.iter().any(|d| p.starts_with(d)) {
            return PathClass::System;
        }
        PathClass::Elsewhere
    }
}

/// `host:path` or `user@host:path`, as scp and rsync write a remote file.
fn is_remote(text: &str) -> bool {
    match text.find(':') {
        Some(i) => i > 0 && !text[..i].contains('/'),
        None => false,
    }
}

/// Resolve `text` against `cwd` lexically; `None` when it is relative and `cwd` is unknown.
pub fn resolve(text: &str, cwd: Option<&Path>) -> Option<PathBuf> {
    let p = Path::new(text);
    if p.is_absolute() {
        return Some(normalize(p));
    }
    Some(normalize(&cwd?.join(p)))
}

/// Remove `.`, `..` and repeated slashes without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(arg: &str, glob: bool, dynamic: bool) -> PathClass {
        let ctx = PathContext::new(
            Some("/nonexistent-sg/proj".into()),
            Some("/nonexistent-sg/home".into()),
            None,
        );
        let a = Arg {
            text: arg.into(),
            dynamic,
            glob,
            quoted: false,
        };
        ctx.classify_arg(&a, Some(Path::new("/nonexistent-sg/proj")))
            .0
    }

    macro_rules! cases {
        ($($arg:expr, $glob:expr, $dynamic:expr => $class:ident;)*) => {
            $( assert_eq!(class($arg, $glob, $dynamic), PathClass::$class, "path {:?}", $arg); )*
        };
    }

    #[test]
    fn class_table() {
        cases! {
            "/", false, false => System;
            "/*", true, false => System;
            "/etc", false, false => System;
            "/usr/local/lib", false, false => System;
            "/var/tmp/x", false, false => Temp;
            "/var/tmp", false, false => Elsewhere;
            "/tmp/x", false, false => Temp;
            "/tmp", false, false => Elsewhere;
            "/tmp/*", true, false => Temp;
            "/nonexistent-sg/home", false, false => HomeRoot;
            "/nonexistent-sg/home/", false, false => HomeRoot;
            "/nonexistent-sg/home/Documents", false, false => Home;
            "/nonexistent-sg/home/*", true, false => Home;
            "/home/someone", false, false => Home;
            ".", false, false => ProjectRoot;
            "*", true, false => ProjectRoot;
            ".git", false, false => ProjectRoot;
            "build", false, false => Inside;
            "./src/../build", false, false => Inside;
            "build/*", true, false => Inside;
            "..", false, false => Elsewhere;
            "../other", false, false => Elsewhere;
            "/srv/data", false, false => Elsewhere;
            "/data/x", false, false => Elsewhere;
            "x", false, true => Unknown;
            "/nonexistent-sg/proj/../home", false, false => HomeRoot;
            "/etc/x", false, true => System;
            "/", false, true => Unknown;
        }
    }
}

#[cfg(test)]
mod project_tests {
    use super::*;

    fn root(start: &str, home: &str) -> Option<PathBuf> {
        PathContext::new(Some(start.into()), Some(home.into()), None)
            .project_root()
            .map(Path::to_path_buf)
    }

    #[test]
    fn no_project_in_system_or_home_directories() {
        assert_eq!(root("/", "/root"), None);
        assert_eq!(root("/home", "/home/u"), None);
        assert_eq!(root("/home/u", "/home/u"), None);
        assert_eq!(root("/usr/lib/x", "/home/u"), None);
        assert_eq!(root("/etc", "/home/u"), None);
        assert_eq!(
            root("/nonexistent-sg/a/b", "/home/u"),
            Some("/nonexistent-sg/a/b".into())
        );
        assert_eq!(
            root("/home/u/nonexistent-sg", "/home/u"),
            Some("/home/u/nonexistent-sg".into())
        );
        let ctx = PathContext::new(Some("/".into()), Some("/root".into()), None);
        let arg = Arg::literal("/etc");
        assert_eq!(
            ctx.classify_arg(&arg, Some(Path::new("/"))).0,
            PathClass::System
        );
    }
}
