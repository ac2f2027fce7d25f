//! The decision for a line: the built-in rules, then the layers a user, a project and an
//! administrator add on top.
//!
//! Layers, in order: built-in; managed (`/etc/shellguard/config.toml`, honoured only if
//! root-owned and not writable by others); user (`$XDG_CONFIG_HOME/shellguard/config.toml`);
//! project (`.shellguard.toml` at the project root). Tightening (new rules, a raised
//! decision, `mode = "strict"`) applies from every layer. Loosening (allow entries, a lowered
//! decision, disabled rules, a looser mode, known-safe additions) applies from the managed and
//! user layers, and from a project file only while the human's `shellguard trust` covers its
//! exact content. Nothing loosens what the managed layer sets.

pub mod approvals;
pub mod config;
pub mod tools;
pub mod trust;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analyze::{Analysis, Command, Context, PathContext, RedirectKind};
use crate::rules::{evaluate, Decision, RuleSet};

pub use config::{ConfigError, ConfigFile, Mode};

/// Where a layer's file lives, and how far it may loosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LayerKind {
    Managed,
    User,
    Project,
}

impl LayerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Managed => "managed",
            LayerKind::User => "user",
            LayerKind::Project => "project",
        }
    }
}

pub struct Layer {
    pub kind: LayerKind,
    pub path: PathBuf,
    pub file: ConfigFile,
    /// Whether this layer's loosening parts apply.
    pub may_loosen: bool,
    /// The rules this layer adds, ready to match.
    pub rules: RuleSet,
}

/// A rule that matched, with everything needed to show it: self-contained, whatever set or
/// layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub rule_id: String,
    pub reason: String,
    pub suggest: Option<String>,
    /// `rules.toml:12 (built in)`, `/home/u/.config/shellguard/config.toml:4`.
    pub origin: String,
    /// The layer that declared the rule (`None`: built in).
    pub layer: Option<LayerKind>,
    pub decision: Decision,
    pub text: String,
    pub span: Range<usize>,
    pub touches: Vec<String>,
}

/// The final word on a line.
#[must_use]
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    /// Strictest first.
    pub found: Vec<Found>,
    /// Observe mode: the decision is logged, nothing is blocked.
    pub observe: bool,
}

/// Everything the layers say, loaded for one invocation.
pub struct Policy {
    pub builtin: &'static RuleSet,
    pub layers: Vec<Layer>,
    /// Files that could not be used: the line then fails closed.
    pub errors: Vec<ConfigError>,
    /// Things to say once on stderr (a trusted file changed, a managed file ignored).
    pub notes: Vec<String>,
    pub mode: Mode,
    pub prompt_timeout: Duration,
    pub real_shell: Option<PathBuf>,
    /// Send audit records to the system log too.
    pub syslog: bool,
    /// How long a request waits for a supervisor or watch console.
    pub approval_timeout: Duration,
    /// The terminal belongs to the agent: never prompt on it.
    pub agent_tty: bool,
    /// shellguard's own files, which nothing run through it may change.
    pub protected: Vec<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

const DEFAULT_PROMPT_TIMEOUT: u64 = 60;
const MANAGED_PATH: &str = "/etc/shellguard/config.toml";
/// The managed configuration's directory.
pub const MANAGED_DIR: &str = "/etc/shellguard";

/// Programs (or `program subcommand`) strict mode lets through without a rule saying so.
const KNOWN_SAFE: &[&str] = &[
    "ls",
    "cat",
    "head",
    "tail",
    "less",
    "more",
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "ag",
    "echo",
    "printf",
    "pwd",
    "cd",
    "pushd",
    "popd",
    "true",
    "false",
    "test",
    "[",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "diff",
    "cmp",
    "file",
    "stat",
    "which",
    "type",
    "date",
    "whoami",
    "id",
    "uname",
    "hostname",
    "df",
    "du",
    "tree",
    "jq",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "env",
    "printenv",
    "sleep",
    "source",
    ".",
    "shopt",
    "set",
    "export",
    "exit",
    "return",
    "eval",
    "command",
    "builtin",
    "pgrep",
    "ps",
    "man",
    "git status",
    "git log",
    "git diff",
    "git show",
    "git rev-parse",
    "git blame",
    "git ls-files",
    "git describe",
    "git fetch",
    "git branch",
    "git remote",
    "git config",
    "cargo build",
    "cargo test",
    "cargo check",
    "cargo clippy",
    "cargo fmt",
    "cargo doc",
    "cargo tree",
    "cargo metadata",
    "go build",
    "go test",
    "go vet",
    "npm test",
    "pytest",
    "make test",
];

impl Policy {
    /// Built-in rules only: what `rules test` and the tests of the catalogue use.
    pub fn builtin_only() -> Policy {
        Policy {
            builtin: RuleSet::builtin(),
            layers: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
            mode: Mode::Default,
            prompt_timeout: Duration::from_secs(DEFAULT_PROMPT_TIMEOUT),
            real_shell: None,
            syslog: false,
            approval_timeout: crate::approve::broker::DEFAULT_WAIT,
            agent_tty: false,
            protected: Vec::new(),
            state_dir: None,
        }
    }

    /// Load every layer that applies to a line run in `ctx`.
    pub fn load(ctx: &Context, paths: &PathContext) -> Policy {
        let mut p = Policy::builtin_only();
        let vars = &ctx.vars;
        p.state_dir = trust::state_dir(vars);
        let enforced = crate::enforced::current();
        let config_dir = match (
            enforced,
            vars.get("XDG_CONFIG_HOME").filter(|v| v.starts_with('/')),
        ) {
            // Inside an enforced tree the supervisor says where, not the environment.
            (Some(m), _) => Some(m.config_dir.clone()),
            (None, Some(x)) => Some(PathBuf::from(x).join("shellguard")),
            (None, None) => vars
                .get("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".config/shellguard")),
        };
        let managed = managed_path(vars);
        let project = paths.project_root().map(|r| r.join(".shellguard.toml"));

        p.protected.extend(config_dir.iter().cloned());
        p.protected.extend(p.state_dir.iter().cloned());
        if let Some(dir) = managed.parent() {
            p.protected.push(dir.to_path_buf());
        }
        p.protected.extend(project.iter().cloned());
        p.protected.push(crate::approve::broker::runtime_path(vars));
        if let Some(m) = enforced {
            p.protected.extend([
                m.real_config_dir.clone(),
                m.real_state_dir.clone(),
                m.real_runtime_dir.clone(),
                PathBuf::from(MANAGED_DIR),
            ]);
        }

        p.load_layer(LayerKind::Managed, &managed);
        if let Some(dir) = &config_dir {
            p.load_layer(LayerKind::User, &dir.join("config.toml"));
        }
        if let Some(file) = &project {
            p.load_layer(LayerKind::Project, file);
        }
        p.settle_settings();
        p
    }

    fn load_layer(&mut self, kind: LayerKind, path: &Path) {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.errors.push(ConfigError {
                    path: path.to_path_buf(),
                    line: 1,
                    col: 1,
                    message: format!("cannot read: {e}"),
                });
                return;
            }
        };
        // Inside an enforced tree the supervisor checked the managed directory before making
        // its view (whose owner a user namespace may show as nobody).
        if kind == LayerKind::Managed && crate::enforced::current().is_none() && !root_owned(path) {
            self.note_once(
                &format!("managed-ignored {}", trust::hash(&bytes)),
                format!("shellguard: ignoring {}: a managed configuration must be owned by root and not writable by others", path.display()),
            );
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        let file = match config::parse(path, &text) {
            Ok(f) => f,
            Err(errs) => {
                self.errors.extend(errs);
                return;
            }
        };
        let may_loosen = match kind {
            LayerKind::Managed | LayerKind::User => true,
            LayerKind::Project => {
                let trusted = self
                    .state_dir
                    .as_ref()
                    .is_some_and(|d| trust::TrustStore::new(d).is_trusted(path, &bytes));
                if !trusted && loosens(&file) {
                    let changed = self
                        .state_dir
                        .as_ref()
                        .is_some_and(|d| trust::TrustStore::new(d).was_trusted(path));
                    let msg = if changed {
                        format!("shellguard: {} changed since you trusted it: its loosening settings no longer apply (its tightening ones still do). Run `shellguard trust` in that project to trust the new content.", path.display())
                    } else {
                        format!("shellguard: {} has settings that loosen the rules; they apply only after you run `shellguard trust` in that project (its tightening settings already apply).", path.display())
                    };
                    self.note_once(
                        &format!("untrusted {} {}", path.display(), trust::hash(&bytes)),
                        msg,
                    );
                }
                trusted
            }
        };
        let origins = file
            .rules
            .iter()
            .map(|r| crate::rules::Origin::File {
                path: path.display().to_string(),
                line: line_of(&text, &format!("\"{}\"", r.id)),
            })
            .collect();
        // The layer's program specs first, then the built-in ones its rules may rely on.
        let mut programs = file.programs.clone();
        programs.extend(self.builtin.programs.iter().cloned());
        let rules = RuleSet::new(programs, file.rules.clone(), origins);
        self.layers.push(Layer {
            kind,
            path: path.to_path_buf(),
            file,
            may_loosen,
            rules,
        });
    }

    fn note_once(&mut self, key: &str, msg: String) {
        let fresh = match &self.state_dir {
            Some(d) => trust::say_once(d, key),
            None => true,
        };
        if fresh {
            self.notes.push(msg);
        }
    }

    /// Mode, timeout and real shell from the layers.
    fn settle_settings(&mut self) {
        let mut mode = Mode::Default;
        let mut floor = Mode::Observe;
        for l in &self.layers {
            if let Some(m) = l.file.mode {
                // Stricter always; looser only from a layer that may loosen, and never
                // below what the managed layer set.
                let tightens = m > mode;
                let loosens = m < mode && l.may_loosen && m >= floor;
                if tightens || loosens {
                    mode = m;
                }
                if l.kind == LayerKind::Managed {
                    floor = m;
                    mode = m;
                }
            }
            if let Some(t) = l.file.prompt_timeout {
                self.prompt_timeout = Duration::from_secs(t);
            }
            if let Some(t) = l.file.approval_timeout {
                self.approval_timeout = Duration::from_secs(t);
            }
            if let Some(owner) = l.file.tty {
                // Marking the terminal as the agent's tightens; only a loosening layer may
                // say it is a human's after another said otherwise.
                let agent = owner == config::TtyOwner::Agent;
                if agent || l.may_loosen {
                    self.agent_tty = agent;
                }
            }
            if let Some(on) = l.file.syslog {
                // Turning the system log on is the team's choice; a project may only add it.
                if l.kind != LayerKind::Project || on {
                    self.syslog = on;
                }
            }
            if let Some(s) = &l.file.real_shell {
                if l.kind != LayerKind::Project {
                    self.real_shell = Some(s.clone());
                }
            }
        }
        if let Ok(t) = std::env::var("SHELLGUARD_PROMPT_TIMEOUT") {
            if let Ok(t) = t.parse() {
                self.prompt_timeout = Duration::from_secs(t);
            }
        }
        self.mode = mode;
    }

    /// Whether a command run as `prog`, with plain arguments (no redirection, no shell
    /// syntax), is allowed with no rule matched whatever the arguments are: no rule of any
    /// layer names it, the analyser reads nothing beyond its words, it is not one of the
    /// programs self-protection watches, and the mode is not strict. The exec gate lets such
    /// programs through without a full judgement.
    pub fn quiet_program(&self, prog: &str) -> bool {
        let named = |set: &RuleSet| {
            set.program(prog).is_some()
                || set
                    .rules
                    .iter()
                    .any(|r| r.program.iter().any(|p| p == prog))
        };
        // A rule for the long tail may match any program it does not leave alone, by its
        // arguments alone.
        let long_tail = |set: &RuleSet| {
            set.rules.iter().any(|r| {
                r.unnamed_programs
                    && !r
                        .not_program
                        .iter()
                        .any(|p| crate::rules::glob_alts(p, prog, false))
            })
        };
        self.mode != Mode::Strict
            && prog != "shellguard"
            && !WRITERS.contains(&prog)
            && !crate::analyze::reads_beyond_words(prog)
            && !named(self.builtin)
            && !self.layers.iter().any(|l| named(&l.rules))
            && !long_tail(self.builtin)
            && !self.layers.iter().any(|l| long_tail(&l.rules))
    }

    /// Judge an analysed line.
    pub fn decide(&self, a: &Analysis, paths: &PathContext, source: &str) -> Decided {
        let mut found = Vec::new();
        collect(&mut found, a, self.builtin, None, paths, source);
        for l in &self.layers {
            collect(&mut found, a, &l.rules, Some(l.kind), paths, source);
        }
        self.protect(&mut found, a, source);

        let loosening: Vec<&Layer> = self.layers.iter().filter(|l| l.may_loosen).collect();
        let cwd = paths.start_dir.as_deref();
        found.retain(|f| {
            if f.rule_id.starts_with("self.") {
                return true;
            }
            // The long tail is judged by a word alone: `safe = ["TOOL", "TOOL SUBCOMMAND"]`
            // in a loosening layer says which of those words are routine here.
            let long_tail = self
                .builtin
                .rules
                .iter()
                .chain(self.layers.iter().flat_map(|l| l.rules.rules.iter()))
                .any(|r| r.unnamed_programs && r.id == f.rule_id);
            if long_tail
                && a.commands
                    .iter()
                    .filter(|c| c.span == f.span)
                    .any(|c| self.layer_safe(c))
            {
                return false;
            }
            !loosening.iter().any(|l| {
                let reach = f
                    .layer
                    .is_none_or(|k| k != LayerKind::Managed || l.kind == LayerKind::Managed);
                reach
                    && (l.file.disable.contains(&f.rule_id)
                        || l.file.allows.iter().any(|al| {
                            in_scope(al, l, cwd, paths)
                                && (al.rule.as_deref() == Some(f.rule_id.as_str())
                                    || al
                                        .command
                                        .as_deref()
                                        .is_some_and(|c| c.trim() == source.trim()))
                        }))
            })
        });
        for f in &mut found {
            f.decision = self.adjusted(f);
        }
        if !self.errors.is_empty() {
            // A broken file fails closed: whatever any rule would judge is asked about.
            for f in &mut found {
                f.decision = f.decision.max(Decision::Confirm);
            }
        }
        if self.mode == Mode::Strict && found.iter().all(|f| f.decision == Decision::Allow) {
            for c in &a.commands {
                if !self.known_safe(c) && !found.iter().any(|f| f.span == c.span) {
                    found.push(Found {
                        rule_id: "mode.strict".into(),
                        reason: "strict mode: this program is not on the known-safe list and no rule allows it".into(),
                        suggest: Some("add it to `safe = [...]` in your config if it is routine".into()),
                        origin: "mode = \"strict\"".into(),
                        layer: None,
                        decision: Decision::Confirm,
                        text: source.get(c.span.clone()).unwrap_or(source).to_string(),
                        span: c.span.clone(),
                        touches: Vec::new(),
                    });
                }
            }
        }
        found.sort_by(|a, b| {
            b.decision
                .cmp(&a.decision)
                .then(a.span.start.cmp(&b.span.start))
        });
        let decision = found
            .iter()
            .map(|f| f.decision)
            .max()
            .unwrap_or(Decision::Allow);
        Decided {
            decision,
            found,
            observe: self.mode == Mode::Observe,
        }
    }

    /// A rule's decision after every layer's `[[set]]`: raises always count; lowering counts
    /// from loosening layers, never below what the managed layer says.
    fn adjusted(&self, f: &Found) -> Decision {
        let mut lowered = f.decision;
        let mut raised = f.decision;
        let mut floor = Decision::Allow;
        for l in &self.layers {
            for s in l.file.sets.iter().filter(|s| s.rule == f.rule_id) {
                if s.decision > f.decision {
                    raised = raised.max(s.decision);
                } else if l.may_loosen
                    && !(f.layer == Some(LayerKind::Managed) && l.kind != LayerKind::Managed)
                {
                    lowered = lowered.min(s.decision);
                }
                if l.kind == LayerKind::Managed {
                    floor = floor.max(s.decision);
                }
            }
        }
        if raised > f.decision {
            raised
        } else {
            lowered.max(floor)
        }
    }

    fn known_safe(&self, c: &Command) -> bool {
        if c.program().is_none() {
            return c.argv.is_empty();
        }
        KNOWN_SAFE.iter().any(|e| names(e, c)) || self.layer_safe(c)
    }

    /// Whether a loosening layer's `safe = [...]` names this command's program, or its
    /// program and first word.
    fn layer_safe(&self, c: &Command) -> bool {
        self.layers
            .iter()
            .filter(|l| l.may_loosen)
            .any(|l| l.file.safe.iter().any(|e| names(e, c)))
    }

    /// shellguard's own files are off limits to what runs through it, and so are `trust`,
    /// `approve` and `watch`, which only a human at a terminal may run.
    fn protect(&self, found: &mut Vec<Found>, a: &Analysis, source: &str) {
        for c in &a.commands {
            let Some((id, reason, decision)) = self.protected_hit(c) else {
                continue;
            };
            found.push(Found {
                rule_id: id.into(),
                reason,
                suggest: None,
                origin: "built in".into(),
                layer: None,
                decision,
                text: source.get(c.span.clone()).unwrap_or(source).to_string(),
                span: c.span.clone(),
                touches: Vec::new(),
            });
        }
    }

    fn protected_hit(&self, c: &Command) -> Option<(&'static str, String, Decision)> {
        if c.program() == Some("shellguard") {
            let sub = c
                .args()
                .iter()
                .find(|x| !x.text.starts_with('-'))
                .map(|x| x.text.as_str());
            match sub {
                Some("trust" | "approve" | "watch" | "setup") => {
                    return Some((
                        "self.approve",
                        "`shellguard trust`, `approve`, `watch` and `setup` are for a human at a terminal, not for commands run through shellguard".into(),
                        Decision::Deny,
                    ))
                }
                // A supervisor started from below would answer its own prompts on a
                // terminal the agent controls.
                Some("run") => {
                    return Some((
                        "self.run",
                        "starts a new supervisor, whose prompts go to whatever terminal runs it".into(),
                        Decision::Confirm,
                    ))
                }
                _ => {}
            }
        }
        if self.protected.is_empty() {
            return None;
        }
        let writes = c
            .redirects
            .iter()
            .filter(|r| r.kind != RedirectKind::Read)
            .map(|r| &r.target);
        let changes_files = c.program().is_some_and(|p| WRITERS.contains(&p));
        let operands = c
            .args()
            .iter()
            .filter(|x| changes_files && !x.text.starts_with('-'));
        for arg in writes.chain(operands) {
            if arg.dynamic {
                continue;
            }
            let Some(t) = crate::analyze::paths::resolve(arg.glob_prefix(), c.cwd.as_deref())
            else {
                continue;
            };
            if let Some(p) = self.protected.iter().find(|p| t.starts_with(p)) {
                return Some((
                    "self.protect",
                    format!(
                        "changes shellguard's own configuration, trust or approval files ({})",
                        p.display()
                    ),
                    Decision::Deny,
                ));
            }
        }
        None
    }
}

/// Programs whose operands are files they change.
const WRITERS: &[&str] = &[
    "rm", "mv", "cp", "tee", "sed", "truncate", "ln", "chmod", "chown", "chgrp", "dd", "install",
    "rsync", "touch", "unlink", "shred", "rmdir", "mkdir", "perl", "vi", "vim", "nano", "ed",
    "patch",
];

fn collect(
    out: &mut Vec<Found>,
    a: &Analysis,
    set: &RuleSet,
    layer: Option<LayerKind>,
    paths: &PathContext,
    source: &str,
) {
    if set.rules.is_empty() {
        return;
    }
    let v = evaluate(a, set, paths, source);
    for m in v.matches {
        let r = &set.rules[m.rule];
        out.push(Found {
            rule_id: r.id.to_string(),
            reason: r.reason.to_string(),
            suggest: r.suggest.as_ref().map(|s| s.to_string()),
            origin: set.origins[m.rule].to_string(),
            layer,
            decision: m.decision,
            text: m.text,
            span: m.span,
            touches: m.touches,
        });
    }
}

/// Whether an `[[allow]]` applies where the line starts.
fn in_scope(al: &config::Allow, layer: &Layer, cwd: Option<&Path>, paths: &PathContext) -> bool {
    let Some(cwd) = cwd else { return false };
    if al.paths.is_empty() {
        return match layer.kind {
            LayerKind::Project => layer
                .path
                .parent()
                .is_some_and(|root| cwd.starts_with(root)),
            _ => true,
        };
    }
    al.paths.iter().any(|p| {
        let p = match p.strip_prefix("~/") {
            Some(rest) => match &paths.home {
                Some(h) => h.join(rest).to_string_lossy().into_owned(),
                None => return false,
            },
            None => p.clone(),
        };
        let base = p.trim_end_matches("/*").trim_end_matches("/**");
        cwd.starts_with(base) || crate::rules::glob_alts(&p, &cwd.to_string_lossy(), false)
    })
}

/// Whether a file says anything that loosens.
fn loosens(f: &ConfigFile) -> bool {
    !f.allows.is_empty()
        || !f.disable.is_empty()
        || !f.safe.is_empty()
        || f.mode.is_some_and(|m| m < Mode::Default)
        || f.sets.iter().any(|s| s.decision < Decision::Deny)
        || f.rules.iter().any(|r| r.decision == Decision::Allow)
}

/// Whether a `safe` entry, `PROG` or `PROG SUBCOMMAND`, names command `c` (by the program's
/// file name and its first word that is not an option).
fn names(entry: &str, c: &Command) -> bool {
    let Some(p) = c.program() else {
        return false;
    };
    let p = p.rsplit('/').next().unwrap_or(p);
    let sub = c
        .args()
        .iter()
        .find(|a| !a.text.starts_with('-'))
        .map(|a| a.text.as_str());
    match entry.split_once(' ') {
        Some((prog, s)) => prog == p && sub == Some(s),
        None => entry == p,
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|i| text[..i].matches('\n').count() + 1)
        .unwrap_or(1)
}

fn managed_path(vars: &std::collections::HashMap<String, String>) -> PathBuf {
    if let Some(m) = crate::enforced::current() {
        return m.managed_dir.join("config.toml");
    }
    // The unit tests point the managed file elsewhere; no build of the program reads the
    // variable (debug or release), so an agent cannot move the administrator's policy away.
    if cfg!(test) {
        if let Some(p) = vars.get("SHELLGUARD_TEST_MANAGED_CONFIG") {
            return PathBuf::from(p);
        }
    }
    PathBuf::from(MANAGED_PATH)
}

pub(crate) fn root_owned(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ok = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0);
    ok(path) && path.parent().is_none_or(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A scratch world: a home, a project, a state dir and config files, all in a temp dir.
    struct World {
        root: PathBuf,
        ctx: Context,
    }

    impl World {
        fn new(name: &str) -> World {
            let root =
                std::env::temp_dir().join(format!("sg-policy-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("home/.config/shellguard")).unwrap();
            fs::create_dir_all(root.join("proj/.git")).unwrap();
            let mut ctx = Context {
                cwd: Some(root.join("proj")),
                ..Context::default()
            };
            let home = root.join("home").to_string_lossy().into_owned();
            ctx.vars.insert("HOME".into(), home);
            ctx.vars.insert(
                "SHELLGUARD_TEST_MANAGED_CONFIG".into(),
                root.join("etc/config.toml").to_string_lossy().into_owned(),
            );
            World { root, ctx }
        }

        fn user(&self, text: &str) -> &Self {
            fs::write(self.root.join("home/.config/shellguard/config.toml"), text).unwrap();
            self
        }

        fn project(&self, text: &str) -> &Self {
            fs::write(self.root.join("proj/.shellguard.toml"), text).unwrap();
            self
        }

        fn managed(&self, text: &str) -> &Self {
            fs::create_dir_all(self.root.join("etc")).unwrap();
            fs::write(self.root.join("etc/config.toml"), text).unwrap();
            self
        }

        fn trust_project(&self) {
            let p = self.root.join("proj/.shellguard.toml");
            let state = trust::state_dir(&self.ctx.vars).unwrap();
            trust::TrustStore::new(&state)
                .trust(&p, &fs::read(&p).unwrap())
                .unwrap();
        }

        fn policy(&self) -> (Policy, PathContext) {
            let paths = crate::guard::path_context(&self.ctx);
            (Policy::load(&self.ctx, &paths), paths)
        }

        fn decide(&self, cmd: &str) -> Decision {
            let (p, paths) = self.policy();
            let a = crate::analyze::analyze(cmd, &self.ctx);
            p.decide(&a, &paths, cmd).decision
        }
    }

    impl Drop for World {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    const PROD_RULE: &str = "[[rule]]\nid = \"local.kubectl-prod\"\ndecision = \"deny\"\nreason = \"production cluster\"\nprogram = [\"kubectl\"]\nflags = [\"--context=prod*\"]\n";

    #[test]
    fn the_long_tail_is_asked_about_until_a_trusted_layer_calls_it_routine() {
        let w = World::new("long-tail");
        assert_eq!(w.decide("pm2 delete all"), Decision::Confirm);
        assert_eq!(w.decide("vagrant destroy -f"), Decision::Confirm);
        // A project that says `pm2 delete` is routine, once trusted: that word only.
        w.project("safe = [\"pm2 delete\"]\n");
        assert_eq!(w.decide("pm2 delete all"), Decision::Confirm, "untrusted");
        w.trust_project();
        assert_eq!(w.decide("pm2 delete all"), Decision::Allow);
        assert_eq!(w.decide("pm2 flush"), Decision::Confirm);
        assert_eq!(w.decide("vagrant destroy -f"), Decision::Confirm);
        // The exec gate's fast path never skips a program the long tail may judge.
        let (p, _) = w.policy();
        assert!(!p.quiet_program("vagrant"));
        assert!(p.quiet_program("cc1"));
    }

    #[test]
    fn project_tightening_applies_without_trust() {
        let w = World::new("tighten");
        w.project(PROD_RULE);
        assert_eq!(w.decide("kubectl --context=prod get pods"), Decision::Deny);
        assert_eq!(
            w.decide("kubectl --context prod-eu get pods"),
            Decision::Deny
        );
        assert_eq!(w.decide("kubectl --context dev get pods"), Decision::Allow);
    }

    #[test]
    fn project_loosening_needs_trust_and_stops_when_the_file_changes() {
        let w = World::new("trust");
        w.project("[[allow]]\nrule = \"iac.terraform-destroy\"\n");
        assert!(w
            .policy()
            .0
            .notes
            .iter()
            .any(|n| n.contains("shellguard trust")));
        assert!(w.policy().0.notes.is_empty(), "said once");
        assert_eq!(
            w.decide("terraform destroy"),
            Decision::Confirm,
            "untrusted: loosening ignored"
        );
        w.trust_project();
        assert_eq!(
            w.decide("terraform destroy"),
            Decision::Allow,
            "trusted: loosening applies"
        );
        w.project("[[allow]]\nrule = \"iac.terraform-destroy\"\n\n[[set]]\nrule = \"git.push-force\"\ndecision = \"deny\"\n");
        assert_eq!(
            w.decide("terraform destroy"),
            Decision::Confirm,
            "changed: loosening stops"
        );
        assert_eq!(
            w.decide("git push --force"),
            Decision::Deny,
            "changed: tightening still applies"
        );
        let (p, _) = w.policy();
        assert!(
            p.notes.is_empty()
                || p.notes
                    .iter()
                    .any(|n| n.contains("changed since you trusted it"))
        );
    }

    #[test]
    fn user_layer_loosens_but_not_below_the_managed_layer() {
        let w = World::new("managed");
        w.user("[[set]]\nrule = \"git.push-force\"\ndecision = \"allow\"\n\n[[set]]\nrule = \"git.reset-hard\"\ndecision = \"allow\"\n");
        assert_eq!(w.decide("git push --force"), Decision::Allow);
        w.managed("[[set]]\nrule = \"git.push-force\"\ndecision = \"confirm\"\n");
        assert_eq!(
            w.decide("git push --force"),
            Decision::Confirm,
            "managed floor"
        );
        assert_eq!(
            w.decide("git reset --hard"),
            Decision::Allow,
            "other loosening still applies"
        );
        w.managed("mode = \"strict\"\n");
        w.user("mode = \"observe\"\n");
        assert_eq!(
            w.policy().0.mode,
            Mode::Strict,
            "user cannot loosen the managed mode"
        );
    }

    #[test]
    fn strict_and_observe_modes() {
        let w = World::new("modes");
        w.project("mode = \"strict\"\n");
        assert_eq!(w.decide("ls -la"), Decision::Allow);
        assert_eq!(w.decide("git status"), Decision::Allow);
        assert_eq!(w.decide("frobnicate --all"), Decision::Confirm);
        w.project("");
        w.user("mode = \"observe\"\n");
        let (p, paths) = w.policy();
        let a = crate::analyze::analyze("rm -rf ~", &w.ctx);
        let d = p.decide(&a, &paths, "rm -rf ~");
        assert!(
            d.observe && d.decision == Decision::Deny,
            "{:?} {:?}",
            p.mode,
            d
        );
    }

    #[test]
    fn a_broken_file_fails_closed() {
        let w = World::new("broken");
        w.user("[[rule]]\nid = \"x\"\ndecison = \"deny\"\n");
        let (p, _) = w.policy();
        assert!(
            p.errors[0].to_string().contains("config.toml:3:1"),
            "{}",
            p.errors[0]
        );
        assert_eq!(
            w.decide("ls"),
            Decision::Allow,
            "routine commands still run"
        );
        assert_eq!(w.decide("git branch -d x"), Decision::Allow);
        assert_eq!(w.decide("terraform plan -destroy"), Decision::Allow);
        // A rule that would allow-match or confirm is asked about.
        assert_eq!(w.decide("git reset --hard"), Decision::Confirm);
    }

    #[test]
    fn shellguards_own_files_are_protected() {
        let w = World::new("protect");
        let cfg = w.root.join("home/.config/shellguard/config.toml");
        let cases = [
            format!("rm {}", cfg.display()),
            "echo 'mode = \"observe\"' > ~/.config/shellguard/config.toml".to_string(),
            "mv .shellguard.toml x".to_string(),
            "sed -i s/strict/observe/ .shellguard.toml".to_string(),
            "rm -rf ~/.local/state/shellguard".to_string(),
            "shellguard trust".to_string(),
            "bash -c 'shellguard approve 12'".to_string(),
            "shellguard watch".to_string(),
        ];
        for c in &cases {
            assert_eq!(w.decide(c), Decision::Deny, "{c}");
        }
        assert_eq!(w.decide("shellguard run -- claude"), Decision::Confirm);
        assert_eq!(w.decide("cat .shellguard.toml"), Decision::Allow);
        assert_eq!(w.decide("shellguard check -- ls"), Decision::Allow);
    }

    /// The README's three worked examples, as shipped in `examples/config/`.
    #[test]
    fn readme_examples_work_as_documented() {
        let w = World::new("examples");
        w.project(include_str!("../../examples/config/kubectl-prod.toml"));
        assert_eq!(
            w.decide("kubectl --context prod delete pod x"),
            Decision::Deny
        );
        assert_eq!(
            w.decide("kubectl --context staging get pods"),
            Decision::Allow
        );

        w.project(include_str!("../../examples/config/sandbox-terraform.toml"));
        assert_eq!(
            w.decide("terraform destroy"),
            Decision::Confirm,
            "before trust"
        );
        w.trust_project();
        assert_eq!(
            w.decide("terraform destroy -auto-approve"),
            Decision::Allow,
            "after trust"
        );
        assert_eq!(
            w.decide("git push --force"),
            Decision::Confirm,
            "only what it allows"
        );

        w.project("");
        w.user(include_str!("../../examples/config/company-cli.toml"));
        assert_eq!(
            w.decide("acme --profile prod db delete-instance x"),
            Decision::Confirm
        );
        assert_eq!(w.decide("acme db describe-instance x"), Decision::Allow);
        for name in ["kubectl-prod", "company-cli"] {
            let path = PathBuf::from(format!("examples/config/{name}.toml"));
            let text = fs::read_to_string(&path).unwrap();
            let f = config::parse(&path, &text).unwrap();
            let mut programs = f.programs.clone();
            programs.extend(RuleSet::builtin().programs.iter().cloned());
            let origins = f
                .rules
                .iter()
                .map(|_| crate::rules::Origin::Builtin { line: 0 })
                .collect();
            let set = RuleSet::new(programs, f.rules, origins);
            let failures = crate::cli::manage::self_test(&set);
            assert!(failures.is_empty(), "{name}: {failures:?}");
        }
    }

    #[test]
    fn a_managed_file_not_owned_by_root_is_ignored() {
        let w = World::new("managed-owner");
        w.managed("[[set]]\nrule = \"git.push-force\"\ndecision = \"deny\"\n");
        assert_eq!(
            w.decide("git push --force"),
            Decision::Deny,
            "root-owned: honoured"
        );
        let file = w.root.join("etc/config.toml");
        if nix::unistd::getuid().is_root() {
            nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        }
        let (p, _) = w.policy();
        assert!(
            p.notes.iter().any(|n| n.contains("must be owned by root")),
            "{:?}",
            p.notes
        );
        assert_eq!(
            w.decide("git push --force"),
            Decision::Confirm,
            "not root-owned: ignored"
        );
        // Writable by others: ignored too.
        if nix::unistd::getuid().is_root() {
            nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
            assert_eq!(w.decide("git push --force"), Decision::Confirm);
        }
    }
}
