//! The shell's own command line, read the way the shell itself reads it.
//!
//! shellguard never rewrites argv: after analysis it execs the real shell with the words it was
//! given. So this parser has one job, to say what code that shell will run, and it must say it
//! exactly as the shell would, or the analysis looks at one command while the shell runs
//! another. The rules follow bash 5.2's `shell.c` (`parse_long_options`, `parse_shell_options`,
//! `main`) and dash 0.5's `options.c` (`procargs`, `options`); each was checked against the real
//! shells. `sh` is dash on Debian and Ubuntu, and dash accepts letters bash rejects (`-V`, `-I`),
//! so reading a `sh` command line with bash's rules would mistake a command dash runs for a
//! usage error: hence [`Dialect`].
//!
//! Things outside argv that also decide what runs are the caller's business: `BASH_ENV`, `ENV`,
//! `POSIXLY_CORRECT`, startup files, and what stdin or a script file holds. (Inside an
//! enforced `shellguard run`, `crate::startup` judges `BASH_ENV` and changed profile files.)

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Which shell's option rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// GNU bash 5.2, under any name (also when invoked as `sh`).
    Bash,
    /// dash, and the ash family whose option loop it shares.
    Dash,
}

/// Which standard streams are terminals. bash and dash each look at two of them to decide
/// whether a shell with no command is interactive, and not at the same two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ttys {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Ttys {
    /// The terminals this process has now; the real shell, exec'd in place, inherits them.
    pub fn probe() -> Ttys {
        use std::io::IsTerminal;
        Ttys {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }

    /// No terminal at all, as when an agent runs `bash -c` through pipes.
    pub const NONE: Ttys = Ttys {
        stdin: false,
        stdout: false,
        stderr: false,
    };

    /// All three, as in a terminal session.
    pub const ALL: Ttys = Ttys {
        stdin: true,
        stdout: true,
        stderr: true,
    };

    fn interactive_terminal(self, dialect: Dialect) -> bool {
        match dialect {
            // POSIX words it as stdin and stderr; bash follows that.
            Dialect::Bash => self.stdin && self.stderr,
            Dialect::Dash => self.stdin && self.stdout,
        }
    }
}

/// Where the shell's code will come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-c TEXT [ARG0 [POSITIONAL…]]`: `arg0` becomes `$0`, the rest `$1…`.
    Command {
        text: String,
        arg0: Option<String>,
        positional: Vec<String>,
        /// dash only: given `-s` too, dash goes on to read commands from stdin once `text` has
        /// run (with the same `$0` and positional parameters). bash ignores `-s` beside `-c`.
        then_stdin: bool,
    },
    /// `FILE ARGS…`: the file is read as a script (also with `-i`, which bash then honours
    /// for the script).
    Script { path: PathBuf, args: Vec<String> },
    /// Commands are read from a stdin that is not interactive: `-s`, or no operand.
    Stdin { positional: Vec<String> },
    /// An interactive shell: `-i` with no operand (or with `-s`), or no operand on a terminal.
    /// Commands come from stdin, typed or not.
    Interactive,
    /// The shell runs no code from the command line, stdin or a script. Exec it untouched and
    /// let it print whatever it prints, usage errors included.
    NoRun(NoRun),
}

/// Why a command line runs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRun {
    /// `--help`: printed before any short option is looked at.
    Help,
    /// `--version`, likewise.
    Version,
    /// `-n` or `-o noexec`: commands are read and parsed, never run. Interactive shells
    /// honour it too when it comes from the command line (bash 5.2 and dash alike).
    NoExec,
    /// `-D`, `--dump-strings`, `--dump-po-strings`: bash lists `$"…"` strings and runs nothing.
    DumpStrings,
    /// `--pretty-print` on a script or non-interactive stdin prints it instead of running it.
    /// (With `-c` bash ignores it and runs the command, so that is a [`Source::Command`].)
    PrettyPrint,
    /// The shell will refuse the command line and exit with status 2.
    Usage(UsageError),
}

/// A command line the shell rejects before running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// `-c` with no word left for the command.
    MissingCommand,
    /// A long option that takes a value (`--rcfile`, `--init-file`) came last.
    MissingValue(String),
    /// `--NAME` that is no long option of bash's.
    InvalidLongOption(String),
    /// A letter that is no option, with the sign it came with (`-z`, `+-`).
    InvalidOption(String),
}

/// What a shell command line means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashArgs {
    pub source: Source,
    /// POSIX mode: `--posix`, `-o posix` (`+o posix` undoes them), or invoked as `sh` (which
    /// bash turns on after option processing, so `+o posix` cannot undo it); always for dash.
    /// `POSIXLY_CORRECT` in the environment also turns it on; that is not looked at here.
    pub posix: bool,
    /// Login shell: `-l`/`+l`, `--login`, or an argv[0] starting with `-`.
    pub login: bool,
    /// The final state of `-i`/`+i` (and dash's `-o interactive`).
    pub interactive_flag: bool,
    /// `-r`, `--restricted`, or invoked as `rbash` (bash only).
    pub restricted: bool,
    /// `--rcfile FILE` / `--init-file FILE`, the last one given.
    pub rcfile: Option<PathBuf>,
    /// Single-letter options in the order given, `-o NAME` forms with a letter included
    /// (`-o noglob` is `('f', true)`). Letters mean what they mean in the dialect: `E` is
    /// errtrace to bash and emacs mode to dash.
    pub flags: Vec<(char, bool)>,
    /// `-o NAME` / `+o NAME` without a letter (`pipefail`, `posix`, …), in order.
    pub set_options: Vec<(String, bool)>,
    /// `-O NAME` / `+O NAME` (bash's shopt; `extglob` changes how bash parses), in order.
    pub shopt_options: Vec<(String, bool)>,
}

impl BashArgs {
    /// The last setting of a `-O` shopt option, if the command line gave one.
    pub fn shopt(&self, name: &str) -> Option<bool> {
        self.shopt_options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|&(_, on)| on)
    }

    /// The last setting of a letter option (or its `-o` name), if the command line gave one.
    pub fn flag(&self, letter: char) -> Option<bool> {
        self.flags
            .iter()
            .rev()
            .find(|(l, _)| *l == letter)
            .map(|&(_, on)| on)
    }
}

/// A command line that means something, but that shellguard cannot hand to the analyser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BashArgsError {
    /// A word the analyser would need as text (command, `$0`, positional parameters) is not
    /// UTF-8. `index` counts argv[0] as 0.
    NotUtf8 { index: usize },
}

impl fmt::Display for BashArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BashArgsError::NotUtf8 { index } => {
                write!(f, "shell argument {index} is not valid UTF-8")
            }
        }
    }
}

impl std::error::Error for BashArgsError {}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::MissingCommand => write!(f, "-c: option requires an argument"),
            UsageError::MissingValue(name) => write!(f, "{name}: option requires an argument"),
            UsageError::InvalidLongOption(word) | UsageError::InvalidOption(word) => {
                write!(f, "{word}: invalid option")
            }
        }
    }
}

/// Reads bash's arguments (`args` excludes argv[0]). `invoked_as_sh` is whether argv[0]'s
/// name is `sh`; see [`parse_invocation`] to derive that, and login, from argv[0] itself.
pub fn parse(
    args: &[OsString],
    invoked_as_sh: bool,
    ttys: Ttys,
) -> Result<BashArgs, BashArgsError> {
    let name = Argv0 {
        sh: invoked_as_sh,
        ..Argv0::default()
    };
    parse_args(Dialect::Bash, args, name, ttys)
}

/// Reads a whole argv, argv[0] included, as `dialect`'s shell would: a leading `-` on argv[0]
/// makes a login shell, the name `sh` makes bash POSIX, the name `rbash` makes it restricted.
pub fn parse_invocation(
    dialect: Dialect,
    argv: &[OsString],
    ttys: Ttys,
) -> Result<BashArgs, BashArgsError> {
    let (name, args) = match argv.split_first() {
        Some((argv0, rest)) => (Argv0::of(argv0), rest),
        None => (Argv0::default(), argv),
    };
    parse_args(dialect, args, name, ttys)
}

/// What the shell takes from its own name.
#[derive(Debug, Clone, Copy, Default)]
struct Argv0 {
    login: bool,
    sh: bool,
    rbash: bool,
}

impl Argv0 {
    fn of(argv0: &OsStr) -> Argv0 {
        let bytes = argv0.as_bytes();
        // bash tests the whole argv[0] for the `-`, then strips it from the basename.
        let login = bytes.first() == Some(&b'-');
        let mut base = match bytes.iter().rposition(|&b| b == b'/') {
            Some(slash) => &bytes[slash + 1..],
            None => bytes,
        };
        if login {
            base = base.strip_prefix(b"-").unwrap_or(base);
        }
        Argv0 {
            login,
            sh: base == b"sh",
            rbash: base.strip_prefix(b"-").unwrap_or(base) == b"rbash",
        }
    }
}

/// bash 5.2's long options (`--wordexp` and `--protected` are not compiled into release builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Long {
    Help,
    Version,
    Login,
    Posix,
    Restricted,
    Verbose,
    Dump,
    PrettyPrint,
    RcFile,
    /// Options that change startup or editing, not what runs from the command line.
    Other,
}

fn long_option(name: &[u8]) -> Option<Long> {
    Some(match name {
        b"help" => Long::Help,
        b"version" => Long::Version,
        b"login" => Long::Login,
        b"posix" => Long::Posix,
        b"restricted" => Long::Restricted,
        b"verbose" => Long::Verbose,
        b"dump-strings" | b"dump-po-strings" => Long::Dump,
        b"pretty-print" => Long::PrettyPrint,
        b"rcfile" | b"init-file" => Long::RcFile,
        b"debug" | b"debugger" | b"noediting" | b"noprofile" | b"norc" => Long::Other,
        _ => return None,
    })
}

/// Letters handled by bash's `change_flag` (the `set` flags plus `-i` and `-r`).
const BASH_FLAGS: &[u8] = b"abefhikmnprtuvxBCEHPT";
/// Letters handled by dash's `setoption` (`s` among them: dash's `+s` turns stdin off).
const DASH_FLAGS: &[u8] = b"abefimnpsuvxCEIV";

/// `-o` names that are letters in disguise.
fn o_letter(dialect: Dialect, name: &str) -> Option<u8> {
    let letter = match (dialect, name) {
        (_, "allexport") => b'a',
        (_, "errexit") => b'e',
        (_, "monitor") => b'm',
        (_, "noclobber") => b'C',
        (_, "noexec") => b'n',
        (_, "noglob") => b'f',
        (_, "notify") => b'b',
        (_, "nounset") => b'u',
        (_, "privileged") => b'p',
        (_, "verbose") => b'v',
        (_, "xtrace") => b'x',
        (Dialect::Bash, "braceexpand") => b'B',
        (Dialect::Bash, "errtrace") => b'E',
        (Dialect::Bash, "functrace") => b'T',
        (Dialect::Bash, "hashall") => b'h',
        (Dialect::Bash, "histexpand") => b'H',
        (Dialect::Bash, "keyword") => b'k',
        (Dialect::Bash, "onecmd") => b't',
        (Dialect::Bash, "physical") => b'P',
        (Dialect::Dash, "ignoreeof") => b'I',
        (Dialect::Dash, "interactive") => b'i',
        (Dialect::Dash, "stdin") => b's',
        (Dialect::Dash, "vi") => b'V',
        (Dialect::Dash, "emacs") => b'E',
        _ => return None,
    };
    Some(letter)
}

#[derive(Debug, Default)]
struct State {
    want_command: bool,
    read_stdin: bool,
    interactive: Option<bool>,
    login: bool,
    noexec: bool,
    dump: bool,
    pretty_print: bool,
    posix: Option<bool>,
    restricted: bool,
    rcfile: Option<PathBuf>,
    flags: Vec<(char, bool)>,
    set_options: Vec<(String, bool)>,
    shopt_options: Vec<(String, bool)>,
}

impl State {
    fn flag(&mut self, letter: u8, on: bool) {
        match letter {
            b'n' => self.noexec = on,
            b'i' => self.interactive = Some(on),
            b'r' => self.restricted = on,
            b's' => self.read_stdin = on,
            _ => {}
        }
        self.flags.push((char::from(letter), on));
    }

    fn set_o(&mut self, dialect: Dialect, name: &OsStr, on: bool) {
        // An unknown name makes the shell exit, but a name unknown to this table may be known to
        // the shell actually exec'd; analysing a command that will not run is the cheap mistake.
        let name = name.to_string_lossy().into_owned();
        match o_letter(dialect, &name) {
            Some(letter) => self.flag(letter, on),
            None => {
                if dialect == Dialect::Bash && name == "posix" {
                    self.posix = Some(on);
                }
                self.set_options.push((name, on));
            }
        }
    }
}

fn no_run(why: NoRun) -> BashArgs {
    BashArgs {
        source: Source::NoRun(why),
        posix: false,
        login: false,
        interactive_flag: false,
        restricted: false,
        rcfile: None,
        flags: Vec::new(),
        set_options: Vec::new(),
        shopt_options: Vec::new(),
    }
}

fn usage(err: UsageError) -> Result<BashArgs, BashArgsError> {
    Ok(no_run(NoRun::Usage(err)))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_args(
    dialect: Dialect,
    args: &[OsString],
    name: Argv0,
    ttys: Ttys,
) -> Result<BashArgs, BashArgsError> {
    let mut st = State {
        login: name.login,
        restricted: dialect == Dialect::Bash && name.rbash,
        ..State::default()
    };
    let mut i = 0;

    if dialect == Dialect::Bash {
        // Long options are only recognised before the first short one, and also with a
        // single dash (`-login`, `-norc`, `-version`): bash strips one `-` and compares.
        let (mut help, mut version) = (false, false);
        while let Some(word) = args.get(i) {
            let word = word.as_bytes();
            if word.first() != Some(&b'-') {
                break;
            }
            let double = word.len() > 2 && word[1] == b'-';
            let name = if double { &word[2..] } else { &word[1..] };
            match long_option(name) {
                Some(Long::RcFile) => {
                    i += 1;
                    match args.get(i) {
                        Some(value) => st.rcfile = Some(PathBuf::from(value)),
                        None => return usage(UsageError::MissingValue(lossy(name))),
                    }
                }
                Some(opt) => match opt {
                    Long::Help => help = true,
                    Long::Version => version = true,
                    Long::Login => st.login = true,
                    Long::Posix => st.posix = Some(true),
                    Long::Restricted => st.restricted = true,
                    Long::Verbose => st.flags.push(('v', true)),
                    Long::Dump => st.dump = true,
                    Long::PrettyPrint => st.pretty_print = true,
                    Long::RcFile | Long::Other => {}
                },
                None if double => return usage(UsageError::InvalidLongOption(lossy(word))),
                // `--` and `-`, or a bundle of letters: the short options' turn.
                None => break,
            }
            i += 1;
        }
        // Both exit before the short options are even looked at, help first.
        if help {
            return Ok(no_run(NoRun::Help));
        }
        if version {
            return Ok(no_run(NoRun::Version));
        }
    }

    while let Some(word) = args.get(i) {
        let word = word.as_bytes();
        let on = match word.first() {
            Some(b'-') => true,
            Some(b'+') => false,
            _ => break,
        };
        if word == b"-" || word == b"--" {
            i += 1;
            break;
        }
        // Each `o`/`O` in a bundle takes the next unused word: `-oo pipefail nounset`.
        let mut next = i + 1;
        for &letter in &word[1..] {
            match letter {
                // The sign is ignored for these: `+c` still wants a command, `+l` still logs in.
                b'c' => st.want_command = true,
                b'l' => st.login = true,
                b's' if dialect == Dialect::Bash => st.read_stdin = true,
                b'D' if dialect == Dialect::Bash => st.dump = true,
                // Without a name both list the options and carry on.
                b'o' => {
                    if let Some(name) = args.get(next) {
                        st.set_o(dialect, name, on);
                        next += 1;
                    }
                }
                b'O' if dialect == Dialect::Bash => {
                    if let Some(name) = args.get(next) {
                        st.shopt_options
                            .push((name.to_string_lossy().into_owned(), on));
                        next += 1;
                    }
                }
                _ => {
                    let known = match dialect {
                        Dialect::Bash => BASH_FLAGS,
                        Dialect::Dash => DASH_FLAGS,
                    };
                    if !known.contains(&letter) {
                        let sign = if on { '-' } else { '+' };
                        let shown = format!("{sign}{}", lossy(&[letter]));
                        return usage(UsageError::InvalidOption(shown));
                    }
                    st.flag(letter, on);
                }
            }
        }
        i = next;
    }

    let operands = &args[i..];
    let text = |k: usize| -> Result<String, BashArgsError> {
        let index = i + k + 1;
        operands[k]
            .to_str()
            .map(str::to_owned)
            .ok_or(BashArgsError::NotUtf8 { index })
    };
    let texts = |from: usize| -> Result<Vec<String>, BashArgsError> {
        (from..operands.len()).map(text).collect()
    };

    if st.want_command && operands.is_empty() {
        return usage(UsageError::MissingCommand);
    }
    let source = if st.dump {
        Source::NoRun(NoRun::DumpStrings)
    } else if st.noexec {
        Source::NoRun(NoRun::NoExec)
    } else if st.want_command {
        Source::Command {
            text: text(0)?,
            arg0: if operands.len() > 1 {
                Some(text(1)?)
            } else {
                None
            },
            positional: texts(2)?,
            then_stdin: dialect == Dialect::Dash && st.read_stdin,
        }
    } else {
        let from_stdin = st.read_stdin || operands.is_empty();
        let interactive = match dialect {
            Dialect::Bash => {
                st.interactive == Some(true) || (from_stdin && ttys.interactive_terminal(dialect))
            }
            // dash only asks the terminal when neither -i nor +i was given.
            Dialect::Dash => st
                .interactive
                .unwrap_or(from_stdin && ttys.interactive_terminal(dialect)),
        };
        if from_stdin && interactive {
            Source::Interactive
        } else if st.pretty_print && !interactive {
            Source::NoRun(NoRun::PrettyPrint)
        } else if from_stdin {
            Source::Stdin {
                positional: texts(0)?,
            }
        } else {
            Source::Script {
                path: PathBuf::from(&operands[0]),
                args: texts(1)?,
            }
        }
    };

    Ok(BashArgs {
        source,
        posix: match dialect {
            // bash turns POSIX mode on for `sh` after the options are processed.
            Dialect::Bash => name.sh || st.posix.unwrap_or(false),
            Dialect::Dash => true,
        },
        login: st.login,
        interactive_flag: st.interactive.unwrap_or(false),
        restricted: st.restricted,
        rcfile: st.rcfile,
        flags: st.flags,
        set_options: st.set_options,
        shopt_options: st.shopt_options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn bash(words: &[&str]) -> BashArgs {
        parse(&os(words), false, Ttys::NONE).unwrap()
    }

    fn bash_tty(words: &[&str]) -> BashArgs {
        parse(&os(words), false, Ttys::ALL).unwrap()
    }

    fn dash(words: &[&str], ttys: Ttys) -> BashArgs {
        let mut argv = vec!["sh"];
        argv.extend_from_slice(words);
        parse_invocation(Dialect::Dash, &os(&argv), ttys).unwrap()
    }

    fn cmd(text: &str, arg0: Option<&str>, positional: &[&str]) -> Source {
        Source::Command {
            text: text.to_owned(),
            arg0: arg0.map(str::to_owned),
            positional: positional.iter().map(|s| s.to_string()).collect(),
            then_stdin: false,
        }
    }

    fn c(text: &str) -> Source {
        cmd(text, None, &[])
    }

    fn script(path: &str, args: &[&str]) -> Source {
        Source::Script {
            path: PathBuf::from(path),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn stdin(positional: &[&str]) -> Source {
        Source::Stdin {
            positional: positional.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn bad(err: UsageError) -> Source {
        Source::NoRun(NoRun::Usage(err))
    }

    fn invalid(word: &str) -> Source {
        bad(UsageError::InvalidOption(word.to_owned()))
    }

    const CLAUDE: &str =
        "source /tmp/snap.sh 2>/dev/null || true && eval 'ls' < /dev/null && pwd -P >| /tmp/cwd";
    const CODEX_WRAP: &str = ". \"$1\" && shift && exec \"$@\"";
    const GEMINI: &str = "shopt -u promptvars nullglob extglob nocaseglob dotglob; { ls; }; __code=$?; pgrep -g 0 >/tmp/p; exit $__code;";

    #[test]
    fn sources() {
        use NoRun::*;
        #[rustfmt::skip]
        let cases: Vec<(Vec<&str>, Source)> = vec![
            // Agents' own forms.
            (vec!["-c", "-l", CLAUDE], c(CLAUDE)),
            (vec!["-lc", "ls -la"], c("ls -la")),
            (vec!["-c", CODEX_WRAP, "codex-shell-snapshot", "/tmp/snap", "bash", "-lc", "ls"],
             cmd(CODEX_WRAP, Some("codex-shell-snapshot"), &["/tmp/snap", "bash", "-lc", "ls"])),
            (vec!["-c", GEMINI], c(GEMINI)),
            (vec!["-n"], Source::NoRun(NoExec)),
            (vec!["-n", "script.sh"], Source::NoRun(NoExec)),
            (vec!["--version"], Source::NoRun(Version)),
            (vec!["script.sh", "a", "b"], script("script.sh", &["a", "b"])),
            (vec!["-s", "a", "b"], stdin(&["a", "b"])),
            (vec!["-eo", "pipefail", "-c", "ls"], c("ls")),
            (vec!["-O", "extglob", "-c", "ls"], c("ls")),
            // Bundles, and options after -c: the command is the first operand.
            (vec!["-cl", "ls"], c("ls")),
            (vec!["-ec", "ls"], c("ls")),
            (vec!["-xec", "ls", "zero", "one"], cmd("ls", Some("zero"), &["one"])),
            (vec!["-c", "ls", "-l", "x"], cmd("ls", Some("-l"), &["x"])),
            (vec!["-c", "-e", "-o", "nounset", "+x", "ls"], c("ls")),
            (vec!["-oe", "pipefail", "-c", "ls"], c("ls")),
            (vec!["-oo", "pipefail", "nounset", "-c", "ls"], c("ls")),
            (vec!["+c", "ls"], c("ls")),
            (vec!["+", "-c", "ls"], c("ls")),
            (vec!["-c", ""], c("")),
            // `--` and `-` end options; after them even `-c` is an operand.
            (vec!["-c", "--", "ls"], c("ls")),
            (vec!["-c", "-", "ls", "x"], cmd("ls", Some("x"), &[])),
            (vec!["-", "-c", "ls"], script("-c", &["ls"])),
            (vec!["--", "--login"], script("--login", &[])),
            (vec!["-"], stdin(&[])),
            (vec!["-", "a"], script("a", &[])),
            (vec!["-s", "--", "-x", "b"], stdin(&["-x", "b"])),
            // -c beats -s; the operands go to $0 and on.
            (vec!["-s", "-c", "ls", "x", "y"], cmd("ls", Some("x"), &["y"])),
            (vec!["-c", "ls", "-s", "y"], cmd("ls", Some("-s"), &["y"])),
            (vec!["+s", "a"], stdin(&["a"])),
            (vec![], stdin(&[])),
            (vec![""], script("", &[])),
            // Long options, also with one dash, only before the first short option.
            (vec!["--login", "-c", "ls"], c("ls")),
            (vec!["-login", "-c", "ls"], c("ls")),
            (vec!["-norc", "-c", "ls"], c("ls")),
            (vec!["--noprofile", "--norc", "--noediting", "--debug", "--debugger", "-c", "ls"], c("ls")),
            (vec!["--restricted", "--verbose", "--posix", "-c", "ls"], c("ls")),
            (vec!["--rcfile", "-c", "-c", "ls"], c("ls")),
            (vec!["-rcfile", "/dev/null", "-c", "ls"], c("ls")),
            (vec!["--init-file", "f", "-i"], Source::Interactive),
            (vec!["--rcfile", "f", "-i"], Source::Interactive),
            (vec!["-version"], Source::NoRun(Version)),
            (vec!["-help"], Source::NoRun(Help)),
            (vec!["--help", "--version"], Source::NoRun(Help)),
            (vec!["--version", "--help"], Source::NoRun(Help)),
            (vec!["--version", "-z"], Source::NoRun(Version)),
            (vec!["--version", "-c"], Source::NoRun(Version)),
            (vec!["--dump-strings", "-c", "ls"], Source::NoRun(DumpStrings)),
            (vec!["--dump-po-strings", "-c", "ls"], Source::NoRun(DumpStrings)),
            (vec!["-D", "-c", "ls"], Source::NoRun(DumpStrings)),
            (vec!["+D", "-c", "ls"], Source::NoRun(DumpStrings)),
            (vec!["--pretty-print", "-c", "ls"], c("ls")),
            (vec!["--pretty-print", "s.sh"], Source::NoRun(PrettyPrint)),
            (vec!["--pretty-print", "-s"], Source::NoRun(PrettyPrint)),
            (vec!["--pretty-print", "-i"], Source::Interactive),
            (vec!["--pretty-print", "-i", "s.sh"], script("s.sh", &[])),
            // noexec, however it is spelled, and undone.
            (vec!["-n", "-c", "ls"], Source::NoRun(NoExec)),
            (vec!["-nc", "ls"], Source::NoRun(NoExec)),
            (vec!["-o", "noexec", "-c", "ls"], Source::NoRun(NoExec)),
            (vec!["-n", "+n", "-c", "ls"], c("ls")),
            (vec!["-n", "+o", "noexec", "-c", "ls"], c("ls")),
            (vec!["-n", "-i"], Source::NoRun(NoExec)),
            (vec!["-n", "-i", "-c", "ls"], Source::NoRun(NoExec)),
            // -i makes the shell interactive but still runs a command or a script.
            (vec!["-i"], Source::Interactive),
            (vec!["-i", "-c", "ls"], c("ls")),
            (vec!["-i", "s.sh", "a"], script("s.sh", &["a"])),
            (vec!["-i", "-s", "a"], Source::Interactive),
            (vec!["-i", "+i"], stdin(&[])),
            // Usage errors: bash prints them, shellguard execs and lets it.
            (vec!["-c"], bad(UsageError::MissingCommand)),
            (vec!["-c", "-l"], bad(UsageError::MissingCommand)),
            (vec!["-co"], bad(UsageError::MissingCommand)),
            (vec!["-s", "-c"], bad(UsageError::MissingCommand)),
            (vec!["--rcfile"], bad(UsageError::MissingValue("rcfile".into()))),
            (vec!["--version", "--rcfile"], bad(UsageError::MissingValue("rcfile".into()))),
            (vec!["--bogus", "-c", "ls"], bad(UsageError::InvalidLongOption("--bogus".into()))),
            (vec!["--version", "--bogus"], bad(UsageError::InvalidLongOption("--bogus".into()))),
            (vec!["--rcfile=f", "-c", "ls"], bad(UsageError::InvalidLongOption("--rcfile=f".into()))),
            (vec!["--wordexp", "$(ls)"], bad(UsageError::InvalidLongOption("--wordexp".into()))),
            (vec!["-x", "--norc", "-c", "ls"], invalid("--")),
            (vec!["-c", "--norc", "ls"], invalid("--")),
            (vec!["-x-", "-c", "ls"], invalid("--")),
            (vec!["++", "-c", "ls"], invalid("++")),
            (vec!["+-", "-c", "ls"], invalid("+-")),
            (vec!["-z", "-c", "ls"], invalid("-z")),
            (vec!["-l", "-z", "-c", "ls"], invalid("-z")),
            (vec!["-V", "-c", "ls"], invalid("-V")),
            // An unknown -o / -O name makes bash exit, but is analysed anyway (see set_o).
            (vec!["-o", "bogus", "-c", "ls"], c("ls")),
            (vec!["-O", "bogus", "-c", "ls"], c("ls")),
            (vec!["-o", "-c", "ls"], script("ls", &[])),
            // `-login` after a short option is letters: l, o (eating `-c`), g is invalid.
            (vec!["-x", "-login", "-c", "ls"], invalid("-g")),
        ];
        for (words, want) in cases {
            assert_eq!(bash(&words).source, want, "bash {words:?}");
        }
    }

    #[test]
    fn terminals() {
        // bash needs stdin and stderr on a terminal, dash stdin and stdout.
        let tty_no_stderr = Ttys {
            stderr: false,
            ..Ttys::ALL
        };
        let tty_no_stdout = Ttys {
            stdout: false,
            ..Ttys::ALL
        };
        #[rustfmt::skip]
        let cases: Vec<(Dialect, &[&str], Ttys, Source)> = vec![
            (Dialect::Bash, &[], Ttys::ALL, Source::Interactive),
            (Dialect::Bash, &["-s", "a"], Ttys::ALL, Source::Interactive),
            (Dialect::Bash, &[], tty_no_stderr, stdin(&[])),
            (Dialect::Bash, &[], tty_no_stdout, Source::Interactive),
            (Dialect::Bash, &["+i"], Ttys::ALL, Source::Interactive),
            (Dialect::Bash, &["s.sh"], Ttys::ALL, script("s.sh", &[])),
            (Dialect::Bash, &["-c", "ls"], Ttys::ALL, c("ls")),
            (Dialect::Bash, &["--pretty-print"], Ttys::ALL, Source::Interactive),
            (Dialect::Dash, &[], Ttys::ALL, Source::Interactive),
            (Dialect::Dash, &[], tty_no_stderr, Source::Interactive),
            (Dialect::Dash, &[], tty_no_stdout, stdin(&[])),
            (Dialect::Dash, &["+i"], Ttys::ALL, stdin(&[])),
        ];
        for (dialect, words, ttys, want) in cases {
            let got = match dialect {
                Dialect::Bash => parse(&os(words), false, ttys).unwrap(),
                Dialect::Dash => dash(words, ttys),
            };
            assert_eq!(got.source, want, "{dialect:?} {words:?} {ttys:?}");
        }
        assert_eq!(bash_tty(&["-c", "ls"]).source, c("ls"));
    }

    #[test]
    fn dash_sources() {
        #[rustfmt::skip]
        let cases: Vec<(Vec<&str>, Source)> = vec![
            (vec!["-c", "-l", "ls"], c("ls")),
            (vec!["-c", "ls", "zero", "one"], cmd("ls", Some("zero"), &["one"])),
            // dash accepts letters bash rejects, and rejects bash's long options.
            (vec!["-V", "-c", "ls"], c("ls")),
            (vec!["-I", "-c", "ls"], c("ls")),
            (vec!["-E", "-c", "ls"], c("ls")),
            (vec!["-D", "-c", "ls"], invalid("-D")),
            (vec!["-O", "extglob", "-c", "ls"], invalid("-O")),
            (vec!["-r", "-c", "ls"], invalid("-r")),
            (vec!["--login", "-c", "ls"], invalid("--")),
            (vec!["--version"], invalid("--")),
            (vec!["-", "-c", "ls"], script("-c", &["ls"])),
            (vec!["-c", "-", "ls"], c("ls")),
            (vec!["-n", "-c", "ls"], Source::NoRun(NoRun::NoExec)),
            (vec!["-o", "noexec", "-c", "ls"], Source::NoRun(NoRun::NoExec)),
            (vec!["-c"], bad(UsageError::MissingCommand)),
            // dash's +s turns stdin off again; bash's does not.
            (vec!["-s", "+s", "s.sh"], script("s.sh", &[])),
            (vec!["-o", "stdin", "s.sh"], stdin(&["s.sh"])),
            // dash runs the command, then reads stdin; -o stdin is -s.
            (vec!["-s", "-c", "ls", "x", "y"], Source::Command {
                text: "ls".into(), arg0: Some("x".into()), positional: vec!["y".into()], then_stdin: true,
            }),
            (vec!["-c", "-o", "stdin", "ls"], Source::Command {
                text: "ls".into(), arg0: None, positional: vec![], then_stdin: true,
            }),
            (vec!["-s", "+s", "-c", "ls"], c("ls")),
            (vec!["-n", "-s", "-c", "ls"], Source::NoRun(NoRun::NoExec)),
            (vec!["+c", "ls"], c("ls")),
        ];
        for (words, want) in cases {
            assert_eq!(dash(&words, Ttys::NONE).source, want, "dash {words:?}");
        }
        assert_eq!(bash(&["-s", "+s", "s.sh"]).source, stdin(&["s.sh"]));
    }

    #[test]
    fn settings() {
        let a = bash(&[
            "--login", "-O", "extglob", "+O", "dotglob", "-eo", "pipefail", "-c", "ls",
        ]);
        assert!(a.login && !a.posix && !a.interactive_flag);
        assert_eq!(a.shopt("extglob"), Some(true));
        assert_eq!(a.shopt("dotglob"), Some(false));
        assert_eq!(a.shopt("nullglob"), None);
        assert_eq!(a.flag('e'), Some(true));
        assert_eq!(a.set_options, vec![("pipefail".to_owned(), true)]);

        let a = bash(&["-o", "noglob", "+o", "braceexpand", "-c", "ls"]);
        assert_eq!(a.flags, vec![('f', true), ('B', false)]);

        assert!(bash(&["+l", "-c", "ls"]).login);
        assert!(bash(&["-lc", "ls"]).login);
        assert!(bash(&["--posix", "-c", "ls"]).posix);
        assert!(bash(&["-o", "posix", "-c", "ls"]).posix);
        assert!(!bash(&["--posix", "+o", "posix", "-c", "ls"]).posix);
        // As sh, bash enters POSIX mode after the options, so +o posix cannot undo it.
        assert!(
            parse(&os(&["+o", "posix", "-c", "ls"]), true, Ttys::NONE)
                .unwrap()
                .posix
        );
        assert!(bash(&["-i", "-c", "ls"]).interactive_flag);
        assert!(!bash(&["-i", "+i", "-c", "ls"]).interactive_flag);
        assert!(bash(&["--restricted", "-c", "ls"]).restricted);
        assert!(bash(&["-r", "-c", "ls"]).restricted);
        let a = bash(&["--rcfile", "a", "--init-file", "b", "-i"]);
        assert_eq!(a.rcfile, Some(PathBuf::from("b")));
        assert_eq!(a.source, Source::Interactive);
    }

    #[test]
    fn argv0() {
        let inv = |argv: &[&str]| parse_invocation(Dialect::Bash, &os(argv), Ttys::NONE).unwrap();
        assert!(inv(&["sh", "-c", "ls"]).posix);
        assert!(inv(&["/usr/bin/sh", "-c", "ls"]).posix);
        let a = inv(&["-sh", "-c", "ls"]);
        assert!(a.posix && a.login);
        let a = inv(&["-bash", "-c", "ls"]);
        assert!(!a.posix && a.login);
        assert!(!inv(&["SH", "-c", "ls"]).posix);
        assert!(!inv(&["/x/-sh", "-c", "ls"]).posix);
        assert!(inv(&["rbash", "-c", "ls"]).restricted);
        assert!(!inv(&["bash", "-c", "ls"]).login);
        assert_eq!(inv(&[]).source, stdin(&[]));
        assert!(dash(&["-c", "ls"], Ttys::NONE).posix);
    }

    #[test]
    fn non_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'l', 0xff]);
        let args = vec![OsString::from("-c"), bad.clone()];
        assert_eq!(
            parse(&args, false, Ttys::NONE),
            Err(BashArgsError::NotUtf8 { index: 2 })
        );
        let args = vec![
            OsString::from("-c"),
            "ls".into(),
            "zero".into(),
            bad.clone(),
        ];
        assert_eq!(
            parse(&args, false, Ttys::NONE),
            Err(BashArgsError::NotUtf8 { index: 4 })
        );
        // A script's path need not be text; its arguments must.
        let args = vec![bad.clone()];
        let a = parse(&args, false, Ttys::NONE).unwrap();
        assert_eq!(
            a.source,
            Source::Script {
                path: PathBuf::from(bad.clone()),
                args: vec![]
            }
        );
        // Nothing to analyse when bash refuses first.
        let args = vec![OsString::from("--bogus"), "-c".into(), bad];
        assert!(matches!(
            parse(&args, false, Ttys::NONE).unwrap().source,
            Source::NoRun(NoRun::Usage(_))
        ));
    }
}
