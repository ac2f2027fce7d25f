//! From shell text to the list of every command that would run.
//!
//! `analyze` parses bash with brush-parser and walks the tree, following every place bash
//! would start a command: lists, pipelines, compound commands, substitutions, redirection
//! targets, heredocs fed to shells, `bash -c`, wrappers like `sudo` and `xargs`, `ssh HOST CMD`
//! and inline interpreter code. It knows nothing about rules: it reports what would run, with
//! each word unquoted and its dynamic parts marked, and the findings that make a line
//! unknowable (a command name from a variable, input that does not parse).

mod braces;
mod interp;
mod limits;
pub mod paths;
mod recover;
mod walk;
mod words;
mod wrappers;

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

pub use limits::{MAX_DEPTH, MAX_INPUT};
pub use paths::{PathClass, PathContext};

/// One word of a command after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The word as bash would pass it, as far as it can be known. Dynamic parts (a variable
    /// with no known value, `$(…)`) are left out; `dynamic` says there were some.
    pub text: String,
    /// Part of the word is only known when it runs.
    pub dynamic: bool,
    /// The word has an unquoted glob (`*`, `?`, `[…]`) or brace expansion, so bash may turn
    /// it into many words. `glob_prefix` is the literal part before the first such character.
    pub glob: bool,
    /// Some part of the word was quoted or escaped (so `'-rf'` is still a flag to rm, but
    /// `"*"` is not a glob).
    pub quoted: bool,
}

impl Arg {
    pub fn literal(text: impl Into<String>) -> Self {
        Arg {
            text: text.into(),
            dynamic: false,
            glob: false,
            quoted: false,
        }
    }

    /// A word whose value nobody can know before it runs.
    pub fn unknown() -> Self {
        Arg {
            text: String::new(),
            dynamic: true,
            glob: false,
            quoted: false,
        }
    }

    /// Words joined with spaces into one: an assignment's value, or the command line that
    /// `watch` and `ssh` hand to a shell (the words were unquoted once already, which is
    /// what that shell reads).
    pub fn joined(args: &[Arg]) -> Arg {
        Arg {
            text: args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            dynamic: args.iter().any(|a| a.dynamic),
            glob: false,
            quoted: true,
        }
    }

    /// The literal text before the first glob character (the whole text if none).
    pub fn glob_prefix(&self) -> &str {
        if !self.glob {
            return &self.text;
        }
        let cut = self
            .text
            .find(['*', '?', '[', '{'])
            .unwrap_or(self.text.len());
        &self.text[..cut]
    }
}

/// What a command reads on its standard input, when the line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Stdin {
    /// Not redirected or piped by this line.
    #[default]
    Inherited,
    /// Literal text: a heredoc, a here-string, or `echo`/`printf`/`cat <<…` piped in.
    Text(String),
    /// Produced at run time by another command (named when known), e.g. `curl … | sh`.
    Program(Option<String>),
    /// The names `find` prints: entries reached from these places (`find / -name x | xargs
    /// rm` reaches what `find / -name x -exec rm {} +` does).
    Found(Vec<Arg>),
}

/// A redirection of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Arg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    Read,
    /// `>`, `>|`, `&>`: the target is truncated.
    Write,
    Append,
    ReadWrite,
}

/// How a command came to be found: the chain of constructs it sits inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Substitution,
    ProcessSubstitution,
    ShellString(String),
    Eval,
    Trap,
    Wrapper(String),
    Heredoc(String),
    Remote(String),
    Interpreter(String),
    Pipe(String),
    CommandString(String),
}

/// One command that would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// argv; `argv[0]` is the program as written (`/usr/bin/git`, `git`).
    pub argv: Vec<Arg>,
    /// Assignments written before the command (`FOO=1 cmd`).
    pub env: Vec<(String, Arg)>,
    pub redirects: Vec<Redirect>,
    pub stdin: Stdin,
    /// The working directory it would run in; `None` when a `cd` to an unknown place came first.
    pub cwd: Option<PathBuf>,
    /// Byte range in the analysed input that this command comes from (for nested commands,
    /// the enclosing text when the exact place cannot be told).
    pub span: Range<usize>,
    pub via: Vec<Via>,
}

impl Command {
    /// The program's name: the last path component of argv[0], if it is known.
    pub fn program(&self) -> Option<&str> {
        let first = self.argv.first()?;
        if first.dynamic || first.text.is_empty() {
            return None;
        }
        Some(first.text.rsplit('/').next().unwrap_or(&first.text))
    }

    pub fn args(&self) -> &[Arg] {
        self.argv.get(1..).unwrap_or(&[])
    }
}

/// Something about the line that makes part of it unknowable or suspect, independent of any
/// rule about a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub span: Range<usize>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The input is not valid shell (or uses syntax the parser cannot read).
    ParseError,
    /// Input beyond the analyser's limits (size, nesting, time, memory).
    TooComplex,
    /// The program to run comes from a variable or a substitution.
    DynamicProgram,
    /// `eval`, `source`, a shell or an interpreter given code that is not literal.
    DynamicCode,
    /// Code fetched from the network and handed to a shell or interpreter.
    RemoteCode,
    /// A function that calls itself into the background through a pipe.
    ForkBomb,
}

impl FindingKind {
    /// The stable name rules use to refer to this finding.
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::ParseError => "parse-error",
            FindingKind::TooComplex => "too-complex",
            FindingKind::DynamicProgram => "dynamic-program",
            FindingKind::DynamicCode => "dynamic-code",
            FindingKind::RemoteCode => "remote-code",
            FindingKind::ForkBomb => "fork-bomb",
        }
    }

    pub const ALL: [FindingKind; 6] = [
        FindingKind::ParseError,
        FindingKind::TooComplex,
        FindingKind::DynamicProgram,
        FindingKind::DynamicCode,
        FindingKind::RemoteCode,
        FindingKind::ForkBomb,
    ];
}

/// The result of analysing one piece of shell text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub commands: Vec<Command>,
    pub findings: Vec<Finding>,
}

/// What the analyser knows about the world the text will run in.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Directory the shell starts in.
    pub cwd: Option<PathBuf>,
    /// Variables the shell starts with (its environment).
    pub vars: HashMap<String, String>,
    /// `$0` and the positional parameters (`-c CMD NAME ARGS…`).
    pub arg0: Option<String>,
    pub positional: Vec<String>,
    /// Read the text as `sh` would (POSIX mode).
    pub posix: bool,
}

impl Context {
    /// The context of the running process: its directory and environment.
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Context {
            cwd: std::env::current_dir().ok(),
            vars,
            ..Context::default()
        }
    }
}

/// Whether the judgement of a command run as `prog` can depend on more than a rule about
/// `prog` itself: the analyser reads its arguments as code or as other commands (shells,
/// wrappers, interpreters, `find`, `xargs`, `git`, …), or as a builtin's.
pub fn reads_beyond_words(prog: &str) -> bool {
    wrappers::reads_beyond_words(prog)
}

/// Analyse shell text: every command it would run, and what cannot be known.
///
/// Never panics: brush-parser has a few inputs it panics on (numbers that overflow in a
/// redirection or a `~N`); those become a parse-error finding, so the line is asked about
/// like any other input that cannot be read.
pub fn analyze(text: &str, ctx: &Context) -> Analysis {
    quiet_panics_in_analysis();
    IN_ANALYSIS.with(|f| f.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        walk::analyze_top(text, ctx)
    }));
    IN_ANALYSIS.with(|f| f.set(false));
    result.unwrap_or_else(|_| Analysis {
        commands: Vec::new(),
        findings: vec![Finding {
            kind: FindingKind::ParseError,
            span: 0..text.len(),
            detail: "the shell parser failed on this input".into(),
        }],
    })
}

thread_local! {
    static IN_ANALYSIS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A panic caught inside the analysis is an expected outcome, not a crash report: keep it
/// off stderr (which belongs to the command), and leave every other panic to the usual hook.
fn quiet_panics_in_analysis() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ANALYSIS.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}
