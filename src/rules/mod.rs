//! Rules: which analysed commands need a human, and why.
//!
//! A rule matches one analysed command by structure (program, subcommand after the
//! program's global options, flags in any spelling, operands, path classes, SQL) or one
//! finding of the analyser. The strictest decision among all matches wins.

mod matcher;
pub mod schema;
mod sql;

use std::borrow::Cow;
use std::sync::OnceLock;

pub(crate) use matcher::glob_alts;
pub use matcher::{evaluate, Match, Verdict};
pub use schema::{Clobber, Decision, ProgramDef, RuleDef, RulesFile};

mod builtin {
    #![allow(clippy::all)]
    use super::schema::{Clobber, Decision, ProgramDef, RuleDef};
    use std::borrow::Cow;
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// Where a rule comes from, for messages and `rules list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin { line: usize },
    File { path: String, line: usize },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin { line } => write!(f, "rules.toml:{line} (built in)"),
            Origin::File { path, line } => write!(f, "{path}:{line}"),
        }
    }
}

/// A set of rules ready to match: program specs and rules, with regexes compiled on first use.
pub struct RuleSet {
    pub programs: Cow<'static, [ProgramDef]>,
    pub rules: Cow<'static, [RuleDef]>,
    pub origins: Vec<Origin>,
    regexes: Vec<OnceLock<Option<regex::Regex>>>,
}

impl RuleSet {
    /// The rules compiled into the binary from `rules.toml`.
    pub fn builtin() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        SET.get_or_init(|| RuleSet {
            programs: Cow::Borrowed(builtin::PROGRAMS),
            rules: Cow::Borrowed(builtin::RULES),
            origins: builtin::RULE_LINES
                .iter()
                .map(|&line| Origin::Builtin { line })
                .collect(),
            regexes: (0..builtin::RULES.len()).map(|_| OnceLock::new()).collect(),
        })
    }

    pub fn new(programs: Vec<ProgramDef>, rules: Vec<RuleDef>, origins: Vec<Origin>) -> Self {
        let n = rules.len();
        RuleSet {
            programs: Cow::Owned(programs),
            rules: Cow::Owned(rules),
            origins,
            regexes: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The program spec for a name or alias.
    pub fn program(&self, name: &str) -> Option<&ProgramDef> {
        self.programs
            .iter()
            .find(|p| p.name == name || p.aliases.iter().any(|a| a == name))
    }

    /// The compiled `arg_regex` of rule `i` (compiled the first time a command reaches it).
    fn regex(&self, i: usize) -> Option<&regex::Regex> {
        let src = self.rules[i].arg_regex.as_deref()?;
        self.regexes[i]
            .get_or_init(|| regex::Regex::new(src).ok())
            .as_ref()
    }
}
