//! The rule language: what a rules file may say. Shared by the build script (which turns
//! the built-in `rules.toml` into static data, so no command pays for parsing TOML) and by
//! the runtime loader of user and project files.
//!
//! Every string is a `Cow<'static, str>`: borrowed for the built-in set, owned when read from
//! a file at run time.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub type Str = Cow<'static, str>;
pub type List = Cow<'static, [Str]>;

/// What happens to a command. Ordered: the strictest decision of a line wins.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Confirm,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Deny => "deny",
        }
    }
}

/// How a program's command line is read: which global options take a value (so they are
/// skipped when looking for the subcommand), where SQL text comes from, what asks for help.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramDef {
    pub name: Str,
    /// Other names of the same program (`tofu` for `terraform`).
    #[serde(default)]
    pub aliases: List,
    /// Global options that take the next word as a value (`-C DIR`, `--profile NAME`).
    #[serde(default)]
    pub value_options: List,
    /// Options of any position that take a value (so the value is not an operand).
    #[serde(default)]
    pub option_values: List,
    /// Words that ask for help; default `-h`, `--help`, `help` as the subcommand.
    #[serde(default)]
    pub help: Option<List>,
    /// `help` as the last operand also asks for help (`aws ec2 terminate-instances help`).
    #[serde(default)]
    pub help_last: bool,
    /// Options whose value is SQL (`-c`, `--command`, `-e`).
    #[serde(default)]
    pub sql_options: List,
    /// Which operand (1-based, after options) is SQL, if any (`sqlite3 DB SQL` → 2).
    #[serde(default)]
    pub sql_operand: Option<u32>,
    /// SQL may arrive on standard input (heredoc, here-string, pipe).
    #[serde(default)]
    pub sql_stdin: bool,
    /// Subcommands compare without case (`redis-cli flushall`).
    #[serde(default)]
    pub ignore_case: bool,
    /// Options whose value names a file of SQL the client runs (`psql -f FILE`).
    #[serde(default)]
    pub sql_file_options: List,
    /// The client reads `.command` lines between statements (sqlite3, duckdb): `.read FILE`
    /// runs a file of SQL, `.shell CMD` and `.system CMD` a shell command.
    #[serde(default)]
    pub dot_commands: bool,
}

/// How a rule's files lose what is in them (`clobber`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clobber {
    /// The file's contents are written over, through a symbolic link (`> F`, `cp /dev/null
    /// F`, `tee F`, `truncate -s 0 F`).
    Write,
    /// The name is replaced (`ln -sf T F`): a link there loses nothing but itself.
    Replace,
}

/// One rule: a matcher over an analysed command, a decision, and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// `area.what`, unique: `git.reset-hard`.
    pub id: Str,
    pub decision: Decision,
    pub reason: Str,
    /// A safer way to do the same thing, shown with the prompt.
    #[serde(default)]
    pub suggest: Option<Str>,

    /// Program names (or aliases declared under `[[program]]`); empty: any command.
    #[serde(default)]
    pub program: List,
    /// Patterns for the words after the program's global options, in order
    /// (`["s3", "rm"]`, `["*", "delete-*"]`). A pattern is a glob; `a|b` are alternatives.
    #[serde(default)]
    pub subcommand: List,
    /// Flag groups that must all be present; a group is alternatives `-f|--force`. A short
    /// flag also matches inside a bundle (`-rf`); a long flag also as `--flag=value`.
    #[serde(default)]
    pub flags: List,
    /// Flag groups none of which may be present (`-n|--dry-run`).
    #[serde(default)]
    pub not_flags: List,
    /// Patterns of which at least one operand (after the subcommand) must match.
    #[serde(default)]
    pub args: List,
    /// Patterns no operand may match.
    #[serde(default)]
    pub not_args: List,
    /// Path classes of which at least one operand must be (`system`, `home`, …).
    #[serde(default)]
    pub paths: List,
    /// Globs over the resolved paths of the same operands (`~/` is the home directory): an
    /// operand that matches one counts as one in `paths` would (`*.sqlite`).
    #[serde(default)]
    pub files: List,
    /// Which operands are paths: `all` (default), `last` (`mv X DEST`) or `first`.
    #[serde(default)]
    pub path_operands: Option<Str>,
    /// Only files whose contents would be lost count, for `paths`, `files`, `redirect` and
    /// `redirect_paths`: not a name missing from a directory that exists (a new file), not a
    /// directory, not `/dev/null` and the like, and of redirections only those that empty
    /// the file (`>`, `>|`, `&>`; not `>>`).
    #[serde(default)]
    pub clobber: Option<Clobber>,
    /// Redirection targets (globs) written to by the command, any program.
    #[serde(default)]
    pub redirect: List,
    /// Path classes of redirection targets written to.
    #[serde(default)]
    pub redirect_paths: List,
    /// SQL statement kinds reaching the program (`drop`, `truncate`, `delete-all`, …).
    #[serde(default)]
    pub sql: List,
    /// A finding of the analyser (`dynamic-program`, `remote-code`, `fork-bomb`, …).
    #[serde(default)]
    pub finding: Option<Str>,
    /// Last resort: a regex over the operands (after the subcommand), one at a time.
    #[serde(default)]
    pub arg_regex: Option<Str>,
    /// The long tail: the rule is about programs that no rule of its set names and that are
    /// not in `not_program`, judged by their subcommand words alone. Its one `subcommand`
    /// pattern may match any of the first `verb_within` operands, each before it a plain
    /// word (`openstack server delete ID`, `kaggle d delete NAME`).
    #[serde(default)]
    pub unnamed_programs: bool,
    /// Programs (globs) an `unnamed_programs` rule leaves alone: those whose operands are
    /// data (`echo`, `grep`), and the well-known harmless uses (`cargo remove`).
    #[serde(default)]
    pub not_program: List,
    #[serde(default)]
    pub verb_within: Option<u32>,

    /// Commands this rule must catch, and commands it must let pass: the rule's own tests.
    #[serde(default)]
    pub catch: List,
    #[serde(default)]
    pub pass: List,
}

/// A rules file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default, rename = "program")]
    pub programs: Vec<ProgramDef>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleDef>,
}
