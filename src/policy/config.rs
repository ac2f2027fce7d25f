//! Configuration files: the user's, the project's and the managed one. Same rule language as
//! `rules.toml`, plus settings that tighten or loosen the built-in rules.
//!
//! Errors carry `file:line:col` and a did-you-mean; a file with errors is never silently
//! ignored (see `policy::Policy::load`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analyze::{FindingKind, PathClass};
use crate::rules::{Decision, ProgramDef, RuleDef};

/// How much a layer wants shellguard to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decide and log, never block.
    Observe,
    /// The rules decide.
    Default,
    /// Anything not allowed by a rule or the known-safe list is confirmed.
    Strict,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Observe => "observe",
            Mode::Default => "default",
            Mode::Strict => "strict",
        }
    }
}

/// One configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `default`, `strict` or `observe`.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Seconds to wait at the terminal prompt.
    #[serde(default)]
    pub prompt_timeout: Option<u64>,
    /// Seconds a request waits for a supervisor or watch console (default 100).
    #[serde(default)]
    pub approval_timeout: Option<u64>,
    /// `"agent"`: the terminal belongs to the agent (tmux harnesses), never ask on it.
    #[serde(default)]
    pub tty: Option<TtyOwner>,
    /// Also send every audit record to the system log (user and managed layers).
    #[serde(default)]
    pub syslog: Option<bool>,
    /// The real shell to exec (user and managed layers only).
    #[serde(default)]
    pub real_shell: Option<PathBuf>,
    /// Program specs for programs the rules below name.
    #[serde(default, rename = "program")]
    pub programs: Vec<ProgramDef>,
    /// Rules added by this layer.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleDef>,
    /// Commands or rule ids let through, optionally only in some directories.
    #[serde(default, rename = "allow")]
    pub allows: Vec<Allow>,
    /// A new decision for an existing rule: raising tightens, lowering loosens.
    #[serde(default, rename = "set")]
    pub sets: Vec<SetDecision>,
    /// Rule ids to drop (loosening).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Programs added to strict mode's known-safe list (loosening).
    #[serde(default)]
    pub safe: Vec<String>,
}

/// `[[allow]]`: an exact command line, or a rule id, allowed where `paths` say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    /// Directories (globs, `~` allowed) the working directory must be in. Empty: anywhere
    /// for the user layer, the project for a project file.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Who owns the terminal a guarded shell runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtyOwner {
    Human,
    Agent,
}

/// `[[set]]`: `rule = "git.push-force"`, `decision = "deny"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDecision {
    pub rule: String,
    pub decision: Decision,
}

/// A configuration error with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Parse and check a configuration file's text. Every problem found is returned, each with
/// its place; a file with any error is not used as written.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, Vec<ConfigError>> {
    let file: ConfigFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            return Err(vec![ConfigError {
                path: path.to_path_buf(),
                line,
                col,
                message: with_suggestion(e.message()),
            }]);
        }
    };
    let errors = check(path, text, &file);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// What serde cannot see: regexes that do not compile, unknown path classes and findings,
/// duplicate ids, rules that match nothing, allow entries that name nothing.
fn check(path: &Path, text: &str, f: &ConfigFile) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut err = |needle: &str, message: String| {
        let (line, col) = find(text, needle);
        errors.push(ConfigError {
            path: path.to_path_buf(),
            line,
            col,
            message,
        });
    };
    let mut seen: Vec<&str> = Vec::new();
    for r in &f.rules {
        let id_needle = format!("\"{}\"", r.id);
        if seen.contains(&r.id.as_ref()) {
            err(&id_needle, format!("duplicate rule id `{}`", r.id));
        }
        seen.push(&r.id);
        if let Some(re) = &r.arg_regex {
            if let Err(e) = regex::Regex::new(re) {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                err(re, format!("rule `{}`: bad arg_regex: {first}", r.id));
            }
        }
        for p in r.paths.iter().chain(r.redirect_paths.iter()) {
            if PathClass::from_id(p).is_none() {
                let ids: Vec<&str> = PathClass::ALL.iter().map(|c| c.id()).collect();
                err(
                    &format!("\"{p}\""),
                    format!(
                        "rule `{}`: unknown path class `{p}`{}",
                        r.id,
                        did_you_mean(p, &ids)
                    ),
                );
            }
        }
        if let Some(k) = &r.finding {
            if !FindingKind::ALL.iter().any(|f| f.id() == k) {
                let ids: Vec<&str> = FindingKind::ALL.iter().map(|f| f.id()).collect();
                err(
                    &format!("\"{k}\""),
                    format!(
                        "rule `{}`: unknown finding `{k}`{}",
                        r.id,
                        did_you_mean(k, &ids)
                    ),
                );
            }
        }
        let patterns = r
            .flags
            .iter()
            .chain(r.not_flags.iter())
            .chain(r.args.iter())
            .chain(r.not_args.iter())
            .chain(r.subcommand.iter())
            .chain(r.redirect.iter());
        for p in patterns {
            if p.split('|').any(str::is_empty) {
                err(
                    &format!("\"{p}\""),
                    format!("rule `{}`: `{p}` has an empty alternative", r.id),
                );
            }
        }
        if r.program.is_empty()
            && r.finding.is_none()
            && r.redirect.is_empty()
            && r.redirect_paths.is_empty()
        {
            err(
                &id_needle,
                format!(
                    "rule `{}` names no program, finding or redirect, so it would match nothing",
                    r.id
                ),
            );
        }
    }
    for a in &f.allows {
        if a.command.is_none() == a.rule.is_none() {
            err(
                "[[allow]]",
                "an [[allow]] needs exactly one of `command` or `rule`".into(),
            );
        }
    }
    errors
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn find(text: &str, needle: &str) -> (usize, usize) {
    text.find(needle)
        .map(|i| line_col(text, i))
        .unwrap_or((1, 1))
}

/// toml's messages list the accepted words (`expected one of `a`, `b``); suggest the nearest.
fn with_suggestion(message: &str) -> String {
    let message = message.trim();
    let (Some(found), Some(rest)) = (
        backquoted(message).first().cloned(),
        message.split_once("expected"),
    ) else {
        return message.to_string();
    };
    let expected = backquoted(rest.1);
    let refs: Vec<&str> = expected.iter().map(String::as_str).collect();
    format!("{message}{}", did_you_mean(&found, &refs))
}

fn backquoted(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// ` (did you mean `x`?)` when a known word is close to `word`.
pub fn did_you_mean(word: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    match best {
        Some((_, k)) => format!(" (did you mean `{k}`?)"),
        None => String::new(),
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("cfg.toml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn error_table() {
        let cases: &[(&str, &str)] = &[
            ("mode = \"stric\"", "cfg.toml:1:8: unknown variant `stric`, expected one of `observe`, `default`, `strict` (did you mean `strict`?)"),
            ("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\ncomand = [\"x\"]", "cfg.toml:5:1: unknown field `comand`"),
            ("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogram = [\"x\"]\narg_regex = \"(\"", "cfg.toml:6:14: rule `a`: bad arg_regex"),
            ("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogram = [\"x\"]\npaths = [\"hme\"]", "did you mean `home`?"),
            ("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogram = [\"x\"]\n[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogram = [\"y\"]", "duplicate rule id `a`"),
            ("[[rule]]\nid = \"a\"\ndecision = \"maybe\"\nreason = \"r\"", "cfg.toml:3:12: unknown variant `maybe`"),
            ("[[allow]]\npaths = [\"~/x\"]", "needs exactly one of `command` or `rule`"),
            ("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogram = [\"x\"]\nflags = [\"-f|\"]", "cfg.toml:6:10: rule `a`: `-f|` has an empty alternative"),
        ];
        for (text, want) in cases {
            let got = errors(text);
            assert!(
                got.iter().any(|g| g.contains(want)),
                "for {text:?}\nwant {want:?}\ngot {got:?}"
            );
        }
        assert!(errors("mode = \"strict\"\n[[allow]]\nrule = \"git.push-force\"").is_empty());
    }

    #[test]
    fn unknown_field_suggests_the_nearest() {
        let got =
            errors("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nreason = \"r\"\nprogam = [\"x\"]");
        assert!(got[0].contains("did you mean `program`?"), "{got:?}");
    }
}
