//! Matching analysed commands against rules.

use std::cell::OnceCell;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::analyze::paths::resolve;
use crate::analyze::{Analysis, Arg, Command, PathContext, RedirectKind, Stdin};

use super::schema::{Clobber, Decision, ProgramDef, RuleDef};
use super::{sql, RuleSet};

/// One rule that matched one command (or one finding).
#[derive(Debug, Clone)]
pub struct Match {
    /// Index of the rule in its set.
    pub rule: usize,
    pub decision: Decision,
    /// The command it matched, as written (or the finding's text).
    pub text: String,
    /// Byte range of `text` in the analysed input.
    pub span: Range<usize>,
    /// What the command would touch: resolved paths, SQL statement kinds.
    pub touches: Vec<String>,
}

/// The decision for a whole line and the matches behind it, strictest first.
#[must_use]
#[derive(Debug, Clone)]
pub struct Verdict {
    pub decision: Decision,
    pub matches: Vec<Match>,
}

const DEFAULT_HELP: &[&str] = &["-h", "--help", "help"];

/// Judge every command and finding of an analysis.
pub fn evaluate(a: &Analysis, set: &RuleSet, paths: &PathContext, source: &str) -> Verdict {
    let mut matches = Vec::new();
    // Found only when a file of SQL is missing, which few lines have.
    let named = OnceCell::new();
    for (n, cmd) in a.commands.iter().enumerate() {
        let named = Named {
            line: a,
            all: &named,
            by: n,
        };
        let view = View::new(cmd, set, named);
        for (i, rule) in set.rules.iter().enumerate() {
            if rule.finding.is_some() {
                continue;
            }
            if let Some(touches) = matches_command(rule, i, set, &view, paths) {
                matches.push(Match {
                    rule: i,
                    decision: rule.decision,
                    text: text_of(source, &cmd.span, cmd),
                    span: cmd.span.clone(),
                    touches,
                });
            }
        }
    }
    for f in &a.findings {
        for (i, rule) in set.rules.iter().enumerate() {
            if rule.finding.as_deref() == Some(f.kind.id()) {
                matches.push(Match {
                    rule: i,
                    decision: rule.decision,
                    text: source.get(f.span.clone()).unwrap_or(source).to_string(),
                    span: f.span.clone(),
                    touches: vec![f.detail.clone()],
                });
            }
        }
    }
    matches.sort_by(|a, b| {
        b.decision
            .cmp(&a.decision)
            .then(a.span.start.cmp(&b.span.start))
    });
    // The same rule on the same text twice (a command and its `sudo` wrapper) is one match.
    matches.dedup_by(|a, b| a.rule == b.rule && a.span == b.span);
    let decision = matches
        .iter()
        .map(|m| m.decision)
        .max()
        .unwrap_or(Decision::Allow);
    Verdict { decision, matches }
}

fn text_of(source: &str, span: &Range<usize>, cmd: &Command) -> String {
    match source.get(span.clone()) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => cmd
            .argv
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Files a line names: written by a redirection (`None`), or an operand of its n-th command.
/// A file missing now may be made by one of them before a command reads it.
fn named_files(a: &Analysis) -> Vec<(Option<usize>, PathBuf)> {
    let mut out = Vec::new();
    for (n, c) in a.commands.iter().enumerate() {
        let cwd = c.cwd.as_deref();
        for r in &c.redirects {
            if r.kind != RedirectKind::Read && !r.target.dynamic {
                out.extend(resolve(&r.target.text, cwd).map(|p| (None, p)));
            }
        }
        for w in c.args() {
            if !w.dynamic && !w.glob && !w.text.is_empty() && !w.text.starts_with('-') {
                out.extend(resolve(&w.text, cwd).map(|p| (Some(n), p)));
            }
        }
    }
    out
}

/// The files a line names, seen from its `by`-th command.
#[derive(Clone, Copy)]
struct Named<'a> {
    line: &'a Analysis,
    all: &'a OnceCell<Vec<(Option<usize>, PathBuf)>>,
    by: usize,
}

impl Named<'_> {
    /// Whether something else in the line may write `path`: a redirection, or another
    /// command naming it (`curl -o x.sql URL && psql -f x.sql`).
    fn elsewhere(&self, path: &Path) -> bool {
        self.all
            .get_or_init(|| named_files(self.line))
            .iter()
            .any(|(n, p)| p == path && *n != Some(self.by))
    }
}

/// A command read through its program's spec: flags, operands, subcommand.
struct View<'c> {
    cmd: &'c Command,
    program: Option<String>,
    spec: Option<&'c ProgramDef>,
    /// Flags before `--`.
    flags: Vec<&'c Arg>,
    /// The word after each flag, which is its value if it takes one (`-X DELETE`).
    flag_next: Vec<Option<&'c Arg>>,
    /// Short options of this program that take a value (`b` for `-b NAME`).
    value_letters: String,
    /// Whether a `--` ended the options (`git checkout -- PATHS`).
    double_dash: bool,
    /// Operands, in order (subcommand words first).
    operands: Vec<&'c Arg>,
    help: bool,
    /// Files the rest of the line names.
    named: Named<'c>,
    /// The kinds of SQL the command would run, found once for all rules.
    sql: OnceCell<Vec<&'static str>>,
}

impl<'c> View<'c> {
    fn new(cmd: &'c Command, set: &'c RuleSet, named: Named<'c>) -> Self {
        let program = cmd.program().map(str::to_string);
        let spec = program.as_deref().and_then(|p| set.program(p));
        let program = spec.map(|s| s.name.to_string()).or(program);
        let value_opt = |t: &str| {
            spec.is_some_and(|s| {
                s.value_options.iter().any(|v| v == t) || s.option_values.iter().any(|v| v == t)
            })
        };
        let mut flags = Vec::new();
        let mut flag_next = Vec::new();
        let mut operands = Vec::new();
        let args = cmd.args();
        let mut i = 0;
        let mut ended = false;
        while i < args.len() {
            let a = &args[i];
            if ended {
                operands.push(a);
            } else if a.text == "--" && !a.quoted {
                // `git -- reset --hard`: a `--` among global options does not end them.
                let global =
                    operands.is_empty() && spec.is_some_and(|s| !s.value_options.is_empty());
                ended = !global;
            } else if a.text.len() > 1 && a.text.starts_with('-') && !a.dynamic {
                flags.push(a);
                flag_next.push(args.get(i + 1));
                if value_opt(&a.text) {
                    i += 1;
                }
            } else {
                operands.push(a);
            }
            i += 1;
        }
        let help_words: Vec<&str> = match spec.and_then(|s| s.help.as_ref()) {
            Some(h) => h.iter().map(|x| x.as_ref()).collect(),
            None => DEFAULT_HELP.to_vec(),
        };
        let help = flags
            .iter()
            .any(|f| help_words.contains(&f.text.as_str()) && f.text.starts_with('-'))
            || operands
                .first()
                .is_some_and(|o| o.text == "help" && help_words.contains(&"help"))
            || (spec.is_some_and(|s| s.help_last)
                && operands.last().is_some_and(|o| o.text == "help"));
        let value_letters = spec
            .map(|s| {
                s.value_options
                    .iter()
                    .chain(s.option_values.iter())
                    .filter(|o| o.len() == 2 && o.starts_with('-'))
                    .filter_map(|o| o.chars().nth(1))
                    .collect()
            })
            .unwrap_or_default();
        View {
            cmd,
            program,
            spec,
            value_letters,
            flags,
            flag_next,
            double_dash: ended,
            operands,
            help,
            named,
            sql: OnceCell::new(),
        }
    }
}

impl View<'_> {
    /// Whether any flag of the command matches a group like `-f|--force` or `-X=DELETE`.
    fn has_flag(&self, group: &str) -> bool {
        self.flags.iter().zip(&self.flag_next).any(|(f, next)| {
            let next = next.filter(|n| !n.dynamic).map(|n| n.text.as_str());
            flag_matches(group, &f.text, next, &self.value_letters)
        })
    }
}

fn matches_command(
    rule: &RuleDef,
    i: usize,
    set: &RuleSet,
    v: &View,
    paths: &PathContext,
) -> Option<Vec<String>> {
    if rule.unnamed_programs {
        return unnamed(rule, set, v);
    }
    let mut touches = Vec::new();
    let program_rule = !rule.program.is_empty();
    if program_rule {
        let prog = v.program.as_deref()?;
        if !rule.program.iter().any(|p| p == prog) {
            return None;
        }
        if v.help {
            return None;
        }
    } else if rule.redirect.is_empty() && rule.redirect_paths.is_empty() {
        // A rule about no program and no redirect would match everything: not a rule.
        return None;
    }
    let ignore_case = v.spec.is_some_and(|s| s.ignore_case);
    let k = rule.subcommand.len();
    if k > 0 {
        if v.operands.len() < k {
            return None;
        }
        for (pat, word) in rule.subcommand.iter().zip(&v.operands) {
            if word.dynamic || !glob_alts(pat, &word.text, ignore_case) {
                return None;
            }
        }
    }
    for group in rule.flags.iter() {
        if group == "--" {
            if !v.double_dash {
                return None;
            }
            continue;
        }
        if !v.has_flag(group) {
            return None;
        }
    }
    for group in rule.not_flags.iter() {
        if v.has_flag(group) {
            return None;
        }
    }
    let rest: &[&Arg] = v.operands.get(k..).unwrap_or(&[]);
    // The operands `paths` and `args` look at: all, or only the first or the last.
    let chosen: Vec<&Arg> = match rule.path_operands.as_deref() {
        Some("last") => rest.last().copied().into_iter().collect(),
        // A destination: the last of two or more (`ln -sf /x/y` alone makes ./y).
        Some("dest") if rest.len() >= 2 => rest.last().copied().into_iter().collect(),
        Some("dest") => Vec::new(),
        Some("first") => rest.first().copied().into_iter().collect(),
        _ => rest.to_vec(),
    };
    if !rule.args.is_empty()
        && !chosen
            .iter()
            .any(|a| rule.args.iter().any(|p| glob_alts(p, &a.text, ignore_case)))
    {
        return None;
    }
    if rest.iter().any(|a| {
        rule.not_args
            .iter()
            .any(|p| glob_alts(p, &a.text, ignore_case))
    }) {
        return None;
    }
    if !rule.paths.is_empty() || !rule.files.is_empty() {
        let mut hit = false;
        for &a in &chosen {
            if a.text.is_empty() && !a.dynamic {
                continue;
            }
            let (class, resolved) = paths.classify_arg(a, v.cmd.cwd.as_deref());
            let by_class = rule.paths.iter().any(|p| p == class.id());
            let by_file = !rule.files.is_empty()
                && !a.dynamic
                && resolved.as_deref().is_some_and(|p| {
                    rule.files
                        .iter()
                        .any(|g| file_glob(g, &p.to_string_lossy(), paths.home.as_deref()))
                });
            let lost = match rule.clobber {
                Some(how) => clobbered(how, a, resolved.as_deref()),
                None => true,
            };
            if (by_class || by_file) && lost {
                hit = true;
                touches.push(match resolved {
                    Some(p) => format!("{} ({})", p.display(), class.id()),
                    None => format!("{} ({})", shown(a), class.id()),
                });
            }
        }
        if !hit {
            return None;
        }
    }
    if !rule.redirect.is_empty() || !rule.redirect_paths.is_empty() {
        let mut hit = false;
        for r in &v.cmd.redirects {
            if r.kind == RedirectKind::Read || harmless_device(&r.target) {
                continue;
            }
            if rule.clobber.is_some() && r.kind != RedirectKind::Write {
                continue;
            }
            let (class, resolved) = paths.classify_arg(&r.target, v.cmd.cwd.as_deref());
            let text = resolved
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| r.target.text.clone());
            let by_glob = !rule.redirect.is_empty()
                && !r.target.dynamic
                && rule
                    .redirect
                    .iter()
                    .any(|p| file_glob(p, &text, paths.home.as_deref()));
            let by_class = !rule.redirect_paths.is_empty()
                && rule.redirect_paths.iter().any(|p| p == class.id());
            let lost = match rule.clobber {
                Some(how) => clobbered(how, &r.target, resolved.as_deref()),
                None => true,
            };
            if (by_glob || by_class) && lost {
                hit = true;
                touches.push(format!("{text} ({})", class.id()));
            }
        }
        if !hit {
            return None;
        }
    }
    if !rule.sql.is_empty() {
        let mut hit = false;
        for &kind in v.sql.get_or_init(|| sql_kinds(v)) {
            if rule.sql.iter().any(|s| s == kind) {
                hit = true;
                touches.push(format!("SQL {kind}"));
            }
        }
        if !hit {
            return None;
        }
    }
    if rule.arg_regex.is_some() {
        let re = set.regex(i)?;
        if !rest.iter().any(|a| re.is_match(&a.text)) {
            return None;
        }
    }
    Some(touches)
}

/// Pseudo-files that writing to destroys nothing.
/// Flags that take away a tool's own last question: shown with the match.
const NO_QUESTION_FLAGS: &[&str] = &[
    "-y",
    "--yes",
    "-f",
    "--force",
    "-q",
    "--quiet",
    "--auto-approve",
    "--assume-yes",
    "--no-confirm",
    "--no-prompt",
    "--non-interactive",
    "--noconfirm",
    "--skip-confirmation",
];

/// Words that are verbs of their own: a destructive word after one of them is its object
/// (`notes add delete this`, `todo list remove`), not the subcommand.
const OTHER_VERBS: &[&str] = &[
    "add",
    "create",
    "new",
    "init",
    "set",
    "get",
    "list",
    "ls",
    "show",
    "describe",
    "info",
    "status",
    "run",
    "exec",
    "start",
    "stop",
    "open",
    "edit",
    "update",
    "search",
    "find",
    "log",
    "logs",
    "print",
    "echo",
    "say",
    "write",
    "send",
    "post",
    "put",
    "commit",
    "comment",
    "note",
    "message",
    "msg",
    "tag",
    "label",
    "rename",
    "move",
    "copy",
    "help",
    "test",
    "check",
    "diff",
    "explain",
    "docs",
    "doc",
    "man",
    "version",
    "config",
    "completion",
];

/// An `unnamed_programs` rule: a program that no rule of `set` names, and not one the rule
/// leaves alone, whose subcommand words (a plain word, or plain words then it) match.
fn unnamed(rule: &RuleDef, set: &RuleSet, v: &View) -> Option<Vec<String>> {
    let prog = v.program.as_deref()?;
    if v.help {
        return None;
    }
    let base = prog.rsplit('/').next().unwrap_or(prog);
    // Wrappers, shells and interpreters are judged by what they run, which the analyser
    // has already put in front of the rules as commands of their own (`sudo rm -rf x`).
    if base.contains('=')
        || crate::analyze::reads_beyond_words(base)
        || rule.not_program.iter().any(|p| glob_alts(p, base, false))
    {
        return None;
    }
    let named = |p: &str| p == prog || p == base;
    if set.program(base).is_some()
        || set
            .rules
            .iter()
            .any(|r| !r.unnamed_programs && r.program.iter().any(|p| named(p)))
    {
        return None;
    }
    if rule.not_flags.iter().any(|g| v.has_flag(g)) {
        return None;
    }
    let pattern = rule.subcommand.first()?;
    let within = rule.verb_within.unwrap_or(1).max(1) as usize;
    let plain = |t: &str| {
        !t.is_empty()
            && t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let mut words = Vec::new();
    for w in v.operands.iter().take(within) {
        if w.dynamic || !plain(&w.text) || OTHER_VERBS.contains(&w.text.as_str()) {
            return None;
        }
        words.push(w.text.as_str());
        if glob_alts(pattern, &w.text, true) {
            let mut touches = vec![format!("{base} {}", words.join(" "))];
            touches.extend(
                v.flags
                    .iter()
                    .filter(|f| {
                        let name = f.text.split('=').next().unwrap_or(&f.text);
                        NO_QUESTION_FLAGS.contains(&name)
                    })
                    .map(|f| f.text.clone()),
            );
            return Some(touches);
        }
    }
    None
}

/// Whether writing `a` (resolved to `path`) the way `how` says loses what is in a file.
/// Unknown names and places count; a name missing from a directory that exists is a new
/// file, and a directory is not written over (a file is made inside it, or it fails).
fn clobbered(how: Clobber, a: &Arg, path: Option<&Path>) -> bool {
    if harmless_device(a) {
        return false;
    }
    let Some(path) = path.filter(|_| !a.dynamic && !a.glob) else {
        return true;
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            !path.parent().is_some_and(Path::is_dir)
        }
        Err(_) => true,
        Ok(m) if m.file_type().is_symlink() => match how {
            Clobber::Replace => false,
            // Written through: a dangling link makes a new file, a link to a directory
            // fails or writes inside it.
            Clobber::Write => std::fs::metadata(path).is_ok_and(|t| !t.is_dir()),
        },
        Ok(m) => !m.is_dir(),
    }
}

/// A glob over a resolved path, with `a|b` alternatives; `~/` at the start of one is the
/// home directory (and matches nothing when it is not known).
fn file_glob(pattern: &str, path: &str, home: Option<&Path>) -> bool {
    pattern.split('|').any(|p| match p.strip_prefix("~/") {
        Some(rest) => home.is_some_and(|h| {
            let h = h.to_string_lossy();
            glob(&format!("{}/{rest}", h.trim_end_matches('/')), path)
        }),
        None => glob(p, path),
    })
}

fn harmless_device(a: &Arg) -> bool {
    !a.dynamic
        && (matches!(
            a.text.as_str(),
            "/dev/null"
                | "/dev/stdout"
                | "/dev/stderr"
                | "/dev/stdin"
                | "/dev/tty"
                | "/dev/zero"
                | "/dev/full"
                | "/dev/random"
                | "/dev/urandom"
        ) || a.text.starts_with("/dev/fd/")
            || a.text.starts_with("/dev/pts/"))
}

fn shown(a: &Arg) -> String {
    if a.dynamic {
        if a.text.is_empty() {
            "a value known only when it runs".into()
        } else {
            format!("{}…", a.text)
        }
    } else {
        a.text.clone()
    }
}

/// The SQL a client would run: option values, an operand, or its standard input; each
/// with whether part of it is only known when it runs.
fn sql_texts(v: &View) -> Vec<(String, bool)> {
    let Some(spec) = v.spec else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let args = v.cmd.args();
    for (i, a) in args.iter().enumerate() {
        for opt in spec.sql_options.iter() {
            if a.text == *opt {
                if let Some(val) = args.get(i + 1) {
                    out.push((val.text.clone(), val.dynamic));
                }
            } else if let Some(val) = a.text.strip_prefix(opt.as_ref()) {
                if opt.starts_with("--") {
                    if let Some(val) = val.strip_prefix('=') {
                        out.push((val.to_string(), a.dynamic));
                    }
                } else if !val.is_empty() && opt.len() == 2 {
                    out.push((val.to_string(), a.dynamic));
                }
            }
        }
    }
    if let Some(n) = spec.sql_operand {
        // Operands here exclude option values the spec knows about; every one from the
        // n-th on is run (`sqlite3 DB .tables 'DELETE FROM t'`).
        let first = (n as usize).saturating_sub(1);
        out.extend(
            v.operands
                .iter()
                .skip(first)
                .map(|a| (a.text.clone(), a.dynamic)),
        );
    }
    if spec.sql_stdin {
        if let Stdin::Text(t) = &v.cmd.stdin {
            // A heredoc's unknown parts are not marked: its text is taken as it stands.
            out.push((t.clone(), false));
        }
    }
    out
}

/// Files of SQL named on the command line: option values (`psql -f FILE`) and standard
/// input read from a file (`mysql db < dump.sql`).
fn sql_files(v: &View, spec: &ProgramDef) -> Vec<Arg> {
    let mut out = Vec::new();
    let args = v.cmd.args();
    for (i, a) in args.iter().enumerate() {
        for opt in spec.sql_file_options.iter() {
            if a.text == *opt && !a.dynamic {
                out.push(args.get(i + 1).cloned().unwrap_or_else(Arg::unknown));
            } else if let Some(val) = a.text.strip_prefix(opt.as_ref()) {
                let val = if opt.starts_with("--") {
                    val.strip_prefix('=')
                } else {
                    Some(val).filter(|v| !v.is_empty() && opt.len() == 2)
                };
                if let Some(val) = val {
                    out.push(Arg {
                        text: val.to_string(),
                        ..a.clone()
                    });
                }
            }
        }
    }
    if spec.sql_stdin && v.cmd.stdin == Stdin::Inherited {
        out.extend(
            v.cmd
                .redirects
                .iter()
                .filter(|r| r.kind == RedirectKind::Read)
                .map(|r| r.target.clone()),
        );
    }
    // `-f -` is standard input, judged as text when the line gives it.
    out.retain(|a| a.dynamic || a.text != "-");
    out
}

/// How deep `.read` inside a file read is followed, and how many files one command may
/// make the guard read.
const MAX_READ_DEPTH: usize = 4;
const MAX_READ_FILES: usize = 16;

/// The kinds of SQL a client command would run: its SQL text, the dot-commands in it, and
/// the files of SQL it reads. `unread-file` stands for a file that is there but could not
/// be judged, `shell-command` for a shell command run from inside the client.
fn sql_kinds(v: &View) -> Vec<&'static str> {
    let Some(spec) = v.spec else {
        return Vec::new();
    };
    let mut j = SqlJudge {
        dots: spec.dot_commands,
        cwd: v.cmd.cwd.as_deref(),
        named: v.named,
        files: 0,
        out: Vec::new(),
    };
    for (text, dynamic) in sql_texts(v) {
        j.text(&text, dynamic, 0);
    }
    for f in sql_files(v, spec) {
        j.file(&f, 0);
    }
    j.out
}

struct SqlJudge<'a> {
    dots: bool,
    cwd: Option<&'a Path>,
    named: Named<'a>,
    files: usize,
    out: Vec<&'static str>,
}

impl SqlJudge<'_> {
    fn add(&mut self, kind: &'static str) {
        if !self.out.contains(&kind) {
            self.out.push(kind);
        }
    }

    /// Judge SQL text; `dynamic`: part of it is only known when it runs, so a file it names
    /// may be another.
    fn text(&mut self, text: &str, dynamic: bool, depth: usize) {
        if !self.dots {
            sql::kinds(text).into_iter().for_each(|k| self.add(k));
            return;
        }
        let (sql_text, dots) = sql::dot_script(text);
        sql::kinds(&sql_text).into_iter().for_each(|k| self.add(k));
        for d in dots {
            match d {
                // `.read '|CMD'` reads what CMD prints.
                sql::Dot::Read(f) if f.starts_with('|') => self.add("shell-command"),
                sql::Dot::Read(_) if dynamic => self.add("unread-file"),
                sql::Dot::Read(f) => self.file(&Arg::literal(f), depth + 1),
                sql::Dot::Shell(_) => self.add("shell-command"),
            }
        }
    }

    fn file(&mut self, f: &Arg, depth: usize) {
        if harmless_device(f) {
            return;
        }
        let path = resolve(&f.text, self.cwd).filter(|_| !f.dynamic && !f.glob);
        let Some(path) = path else {
            return self.add("unread-file");
        };
        if depth > MAX_READ_DEPTH || self.files >= MAX_READ_FILES {
            return self.add("unread-file");
        }
        self.files += 1;
        match sql::read_file(&path) {
            sql::FileSql::Missing if self.named.elsewhere(&path) => self.add("unread-file"),
            sql::FileSql::Missing => {}
            sql::FileSql::Unread => self.add("unread-file"),
            sql::FileSql::Text(t) => self.text(&t, false, depth),
        }
    }
}

/// Whether a flag word matches a group like `-f|--force`.
///
/// Long options also match as `--flag=value` and as the unambiguous prefixes getopt_long and
/// git accept (`--forc`): an ambiguous prefix fails without running, so any prefix of two or
/// more letters counts, for `flags` and `not_flags` alike. A short flag also matches inside a
/// bundle (`-rf`), up to the first letter in `value_letters`, whose rest is that option's
/// value (`-bfeature` is `-b feature`, not `-f`); a number (`-15`) is one option, not a
/// bundle. An alternative `OPT=GLOB` matches option OPT with a value matching GLOB (ASCII
/// case ignored), written `--opt=V`, `--opt V`, `-X V` or `-XV`; `next` is the word after
/// the flag.
fn flag_matches(group: &str, flag: &str, next: Option<&str>, value_letters: &str) -> bool {
    group
        .split('|')
        .any(|alt| match alt.get(1..).and_then(|a| a.split_once('=')) {
            Some((opt, pat)) => {
                let opt = &alt[..opt.len() + 1];
                flag_value(opt, flag, next).is_some_and(|v| glob_alts(pat, v, true))
            }
            None => flag_name_matches(alt, flag, value_letters),
        })
}

/// The value `flag` (followed by `next`) gives option `opt`, if `flag` is that option.
fn flag_value<'a>(opt: &str, flag: &'a str, next: Option<&'a str>) -> Option<&'a str> {
    if opt.starts_with("--") || opt.len() > 2 {
        // Long options (also single-dash ones like `-chdir`): `--opt=V` or `--opt V`.
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        if !flag_name_matches(opt, name, "") {
            return None;
        }
        return value.or(next);
    }
    if flag == opt {
        return next;
    }
    flag.strip_prefix(opt).filter(|v| !v.is_empty())
}

fn flag_name_matches(alt: &str, flag: &str, value_letters: &str) -> bool {
    if let Some(long) = alt.strip_prefix("--") {
        let Some(f) = flag.strip_prefix("--") else {
            return false;
        };
        let name = f.split_once('=').map_or(f, |(n, _)| n);
        return name == long || (name.len() >= 2 && long.starts_with(name));
    }
    if alt.len() > 2 {
        // Single-dash long options (`-auto-approve`, `-delete`), also with `--` or `=`.
        let f = flag.strip_prefix("--").map(|f| format!("-{f}"));
        let f = f.as_deref().unwrap_or(flag);
        return f == alt || f.strip_prefix(alt).is_some_and(|r| r.starts_with('='));
    }
    if flag == alt {
        return true;
    }
    let Some(letter) = alt.get(1..).and_then(|a| a.chars().next()) else {
        return false;
    };
    if !flag.starts_with('-') || flag.starts_with("--") || flag.len() <= 2 {
        return false;
    }
    if flag[1..].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    for c in flag[1..].chars() {
        if c == letter {
            return true;
        }
        if !c.is_ascii_alphanumeric() || value_letters.contains(c) {
            return false;
        }
    }
    false
}

/// Glob with `*` and `?`, and `a|b` alternatives.
pub(crate) fn glob_alts(pattern: &str, text: &str, ignore_case: bool) -> bool {
    pattern.split('|').any(|p| {
        if ignore_case {
            glob(&p.to_ascii_lowercase(), &text.to_ascii_lowercase())
        } else {
            glob(p, text)
        }
    })
}

fn glob(p: &str, t: &str) -> bool {
    let p = p.as_bytes();
    let t = t.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_table() {
        let cases = [
            ("-f|--force", "-f", true),
            ("-f|--force", "--force", true),
            ("-f|--force", "-rf", true),
            ("-f|--force", "--force-with-lease", false),
            ("--force-with-lease", "--force-with-lease=main", true),
            ("-r", "-R", false),
            ("-auto-approve", "-auto-approve", true),
            ("-auto-approve", "--auto-approve", true),
            ("-auto-approve", "-auto-approve=true", true),
            ("-d", "-delete", true),
            ("-delete", "-d", false),
            ("--force", "--forc", true),
            ("--hard", "--ha", true),
            ("--force", "--f", false),
            ("-f", "-bfeature", false),
            ("-f", "-xfb", true),
            ("-1", "-15", false),
            ("-1", "-1", true),
            ("--dry-run", "--dry-r", true),
        ];
        for (group, flag, want) in cases {
            assert_eq!(
                flag_matches(group, flag, None, "bc"),
                want,
                "{group} vs {flag}"
            );
        }
        let valued = [
            ("-X=DELETE|--method=DELETE", "-X", Some("DELETE"), true),
            ("-X=DELETE|--method=DELETE", "-X", Some("delete"), true),
            ("-X=DELETE|--method=DELETE", "-X", Some("GET"), false),
            ("-X=DELETE|--method=DELETE", "-XDELETE", None, true),
            ("-X=DELETE|--method=DELETE", "--method=DELETE", None, true),
            (
                "-X=DELETE|--method=DELETE",
                "--method",
                Some("DELETE"),
                true,
            ),
            ("-X=DELETE|--method=DELETE", "--meth", Some("DELETE"), true),
            (
                "-X=DELETE|--method=DELETE",
                "--method=GET",
                Some("DELETE"),
                false,
            ),
            ("--acl=public-*", "--acl", Some("public-read"), true),
            ("--acl=public-*", "--acl", Some("private"), false),
            ("-chdir=x", "-chdir=x", None, true),
            ("-chdir=x", "--chdir", Some("x"), true),
        ];
        for (group, flag, next, want) in valued {
            assert_eq!(
                flag_matches(group, flag, next, ""),
                want,
                "{group} vs {flag} {next:?}"
            );
        }
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("delete-*", "delete-bucket", true),
            ("delete-*", "describe-x", false),
            ("*", "", true),
            ("a|b", "b", true),
            ("+*", "+main", true),
            ("s?", "s3", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_alts(p, t, false), want, "{p} vs {t}");
        }
    }
}
