//! Inline interpreter code (`python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`,
//! `deno eval`, `Rscript -e`, awk programs, and code fed to an interpreter on its standard
//! input) that hands a command line to the shell, starts a program, deletes files or
//! truncates them. What it would run is analysed as shell or as a command; what it would
//! delete becomes an `rm`; a file it truncates becomes a command writing that file by
//! redirection, so the same rules judge it as they judge the shell's own.
//!
//! This reads code by pattern, not by parsing each language: it finds the calls that start
//! processes, delete or overwrite files, and works out their arguments where the code says
//! what they are (`interp_expr`): literals, the home directory however it is spelled, paths
//! joined to it, a directory just made by a temp-dir constructor, a variable bound once to
//! one of these. An argument it cannot work out is unknown, and judged as such.

#[path = "interp_expr.rs"]
mod expr;

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

use self::expr::{floor, kwarg, node_module, positional, split_top, Env, Val};
use super::walk::{Frame, State, Walker};
use super::words::Value;
use super::wrappers::CmdCtx;
use super::{Arg, Command, FindingKind, Redirect, RedirectKind, Via};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Python,
    Node,
    Ruby,
    Perl,
    Php,
    Awk,
    Lua,
    R,
}

fn lang_of(prog: &str) -> Option<Lang> {
    let base = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match base {
        "python" | "pypy" | "python3-" => Lang::Python,
        "node" | "nodejs" | "bun" | "deno" => Lang::Node,
        "ruby" | "jruby" => Lang::Ruby,
        "perl" => Lang::Perl,
        "php" => Lang::Php,
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => Lang::Awk,
        "lua" | "luajit" => Lang::Lua,
        "Rscript" => Lang::R,
        _ => return None,
    })
}

pub(super) fn is_interpreter(prog: &str) -> bool {
    lang_of(prog).is_some()
}

fn lang_name(lang: Lang) -> String {
    format!("{lang:?}").to_ascii_lowercase()
}

/// How deep code run by code (`exec('…')`, `eval "…"`) is read.
const MAX_NESTED: u8 = 2;
/// Calls reported from one piece of code; beyond this the rest is not read, and says so.
const MAX_FOUND: usize = 500;

impl Walker<'_> {
    pub(super) fn interpreter(
        &mut self,
        cmd: &Command,
        prog: &str,
        cx: &CmdCtx,
        frame: &Frame,
        st: &State,
    ) {
        let Some(lang) = lang_of(prog) else { return };
        let args = cmd.args();
        let mut codes: Vec<&Arg> = Vec::new();
        let mut script_operand = false;
        let mut i = 0;
        let base = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        if base == "deno" {
            // `deno eval CODE`, `deno run - < code.ts`; `deno run x.ts` is a script file.
            let sub = args.first().map(|a| a.text.as_str());
            let mut j = 1;
            while args
                .get(j)
                .is_some_and(|a| a.text.starts_with('-') && a.text != "-")
            {
                j += 1;
            }
            match sub {
                Some("eval") => {
                    if let Some(c) = args.get(j) {
                        codes.push(c);
                    }
                }
                Some("run") => match args.get(j) {
                    Some(a) if a.text == "-" => {
                        return self.stdin_code(cmd, frame, st, Some("node"));
                    }
                    Some(_) => {
                        self.procsub_code(cmd, cx, j + 1, frame);
                        return;
                    }
                    None => return,
                },
                _ => return,
            }
            i = args.len();
        } else if lang == Lang::Awk {
            let mut program_file = false;
            while i < args.len() {
                let t = args[i].text.as_str();
                if t == "--" {
                    i += 1;
                    break;
                }
                if matches!(t, "-f" | "--file") {
                    program_file = true;
                }
                if matches!(
                    t,
                    "-F" | "-v" | "-f" | "--file" | "--assign" | "--field-separator"
                ) {
                    i += 2;
                    continue;
                }
                if t.starts_with('-') && t.len() > 1 {
                    i += 1;
                    continue;
                }
                break;
            }
            if !program_file {
                if let Some(p) = args.get(i) {
                    codes.push(p);
                }
            }
        } else {
            while i < args.len() {
                let a = &args[i];
                let t = a.text.as_str();
                if t == "--" || !t.starts_with('-') || t.len() == 1 {
                    script_operand = t != "-" && t != "--";
                    break;
                }
                let code_flag = match lang {
                    Lang::Python => t.ends_with('c') && !t.starts_with("--"),
                    Lang::Node => {
                        matches!(t, "-e" | "--eval" | "-p" | "--print" | "-pe")
                            || (t.starts_with('-') && !t.starts_with("--") && t.ends_with('e'))
                    }
                    Lang::Ruby | Lang::Perl => {
                        !t.starts_with("--")
                            && (t.ends_with('e') || t.ends_with('E'))
                            && !t.starts_with("-M")
                            && !t.starts_with("-r")
                            && !t.starts_with("-I")
                    }
                    Lang::Php => t == "-r" || t == "--run",
                    Lang::Lua | Lang::R => t == "-e",
                    Lang::Awk => false,
                };
                if code_flag {
                    if let Some(code) = args.get(i + 1) {
                        codes.push(code);
                    }
                    i += 2;
                    // Python ends its options at -c; the rest is sys.argv.
                    if lang == Lang::Python {
                        break;
                    }
                    continue;
                }
                if lang == Lang::Python && (t == "-m" || t.ends_with('m') && !t.starts_with("--")) {
                    return;
                }
                let takes_value = match lang {
                    Lang::Python => matches!(t, "-W" | "-X" | "--check-hash-based-pycs"),
                    Lang::Node => matches!(
                        t,
                        "-r" | "--require"
                            | "--import"
                            | "--loader"
                            | "--input-type"
                            | "--env-file"
                            | "-C"
                            | "--conditions"
                    ),
                    Lang::Ruby => matches!(t, "-r" | "-I" | "-C" | "-E" | "--encoding"),
                    Lang::Perl => matches!(t, "-I" | "-M" | "-m" | "-x"),
                    Lang::Php => matches!(t, "-c" | "-d" | "-f" | "-z"),
                    _ => false,
                };
                i += if takes_value { 2 } else { 1 };
            }
        }
        if codes.is_empty() {
            // `python3 - <<EOF`, `node < script.js` with a heredoc: the code is stdin.
            if !script_operand || args.get(i).is_some_and(|a| a.text == "-") {
                self.stdin_code(cmd, frame, st, Some(&lang_name(lang)));
            } else {
                // `python3 <(curl …)`: the script is what that list prints.
                self.procsub_code(cmd, cx, i + 1, frame);
            }
            return;
        }
        for code in codes {
            if code.dynamic {
                self.finding(
                    FindingKind::DynamicCode,
                    cmd.span.clone(),
                    format!("{prog} code only known when the line runs"),
                );
                continue;
            }
            self.inline_code(cmd, &lang_name(lang), &code.text.clone(), frame, st);
        }
    }

    /// Code in a language: find what it would run, delete or overwrite.
    pub(super) fn inline_code(
        &mut self,
        cmd: &Command,
        lang: &str,
        code: &str,
        frame: &Frame,
        st: &State,
    ) {
        let all = [
            Lang::Python,
            Lang::Node,
            Lang::Ruby,
            Lang::Perl,
            Lang::Php,
            Lang::Awk,
            Lang::Lua,
            Lang::R,
        ];
        let Some(l) = all.into_iter().find(|l| lang_name(*l) == lang) else {
            return;
        };
        let via = Via::Interpreter(lang.to_string());
        let home = match st.scope.assigned.get("HOME") {
            Some(Value::Known(h)) => Some(h.clone()),
            Some(Value::Unknown | Value::OneOf(_)) => None,
            None => self.ctx.vars.get("HOME").cloned(),
        }
        .filter(|h| h.starts_with('/'));
        let tmp = self
            .ctx
            .vars
            .get("TMPDIR")
            .filter(|t| t.starts_with('/') && t.len() > 1)
            .cloned()
            .unwrap_or_else(|| "/tmp".into());
        // After a chdir in the code, a relative path is relative to somewhere else.
        let moves = code.contains("chdir");
        let path_arg = |p: Option<String>| match p {
            Some(p) if !moves || p.starts_with('/') => {
                let glob = p.contains(['*', '?', '[']);
                Arg {
                    glob,
                    ..Arg::literal(p)
                }
            }
            _ => Arg::unknown(),
        };
        for found in scan(code, l, home, tmp) {
            match found {
                Found::Shell(Some(line)) => {
                    self.nested_code(cmd, &Arg::literal(line), via.clone(), frame, st, None);
                }
                Found::Argv(argv) => {
                    let argv = argv
                        .into_iter()
                        .map(|a| a.map(Arg::literal).unwrap_or_else(Arg::unknown))
                        .collect();
                    self.nested_argv(cmd, argv, via.clone(), frame, st);
                }
                Found::Shell(None) => {
                    self.finding(
                        FindingKind::DynamicCode,
                        cmd.span.clone(),
                        format!("{lang} runs a command line only known when it runs"),
                    );
                }
                Found::Delete { path, recursive } => {
                    let mut argv = vec![Arg::literal("rm")];
                    if recursive {
                        argv.push(Arg::literal("-r"));
                    }
                    argv.push(path_arg(path));
                    self.nested_argv(cmd, argv, via.clone(), frame, st);
                }
                Found::Write { path } => {
                    // Judged as the shell's `>` of the same file is.
                    let mut f = frame.clone();
                    f.via.push(via.clone());
                    let mut redirects = cmd.redirects.clone();
                    redirects.push(Redirect {
                        kind: RedirectKind::Write,
                        target: path_arg(path),
                    });
                    self.push(Command {
                        argv: vec![Arg::literal(lang)],
                        env: Vec::new(),
                        redirects,
                        stdin: cmd.stdin.clone(),
                        cwd: st.cwd.clone(),
                        span: cmd.span.clone(),
                        via: f.via,
                    });
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A command line handed to a shell (`None`: not known).
    Shell(Option<String>),
    /// A program and its arguments, started without a shell.
    Argv(Vec<Option<String>>),
    /// A file or tree deleted.
    Delete {
        path: Option<String>,
        recursive: bool,
    },
    /// A file truncated and written.
    Write { path: Option<String> },
}

/// Words without which code can do none of what this module looks for: code with none of
/// them (`print(1)`) is not scanned at all, and the regexes are not even compiled.
#[rustfmt::skip]
const NEEDLES: &[&str] = &[
    "system", "exec", "spawn", "open", "rm", "unlink", "remove", "delete", "write", "Write",
    "shell", "passthru", "run", "call", "getoutput", "Command", "`", "qx", "%x", "Popen",
    "file_put", "copyFile", "rimraf", "emptyDir", "eval",
];

fn calls() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            (?P<name>
              os\.system | os\.popen | os\.exec[lv]p?e? | os\.spawn[lv]p?e? | os\.posix_spawnp?
            | pty\.spawn | commands\.getoutput
            | subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)
            | shutil\.rmtree | os\.remove | os\.unlink | os\.rmdir | os\.removedirs
            | (?:io|codecs)\.open | File\.(?:open|new|write|binwrite|delete|unlink) | IO\.write
            | (?:child_process|cp|\)|proc|childProcess)\.(?:execSync|exec|spawnSync|spawn|execFileSync|execFile)
            | \bexecSync | \bspawnSync | \bexecFileSync | \bexecFile
            | \b(?:fs|fsp|fsPromises|fse|fsExtra)(?:\.promises)?\.(?:rmSync|rm|rmdirSync|rmdir|unlinkSync|unlink|removeSync|remove|emptyDirSync|emptyDir|writeFileSync|writeFile|createWriteStream|copyFileSync|copyFile)
            | \)\.(?:rmSync|rmdirSync|unlinkSync|removeSync|writeFileSync|rm|unlink|writeFile|rmdir|createWriteStream|copyFileSync)
            | \brimraf(?:\.sync|Sync)?
            | Deno\.(?:removeSync|remove|writeTextFileSync|writeTextFile|writeFileSync|writeFile|run|Command)
            | Bun\.(?:spawnSync|spawn|write)
            | FileUtils\.(?:rm_rf|rm_r|rm_f|rm|remove_dir|remove_entry_secure|remove_entry|remove_file|remove|rmtree|rmdir)
            | Dir\.(?:rmdir|delete|unlink)
            | IO\.popen | Open3\.\w+ | Kernel\.(?:system|exec|spawn)
            | \bshell_exec | \bpassthru | \bproc_open | \bpopen | \bfopen | \bfile_put_contents
            | \bsystem2? | \bexec | \bspawn | \beval | \bopen
            | \brmtree | \bremove_tree | \bunlink | \brmdir | \bfile\.remove
            | \bos\.execute | \bio\.popen | \bio\.open
            )
            \s*",
        )
        .expect("valid regex")
    })
}

/// Methods of a path object (`Path(p).unlink()`, `Pathname(p).rmtree`, `p.write_text(…)`).
fn path_methods() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\.\s*(unlink|rmdir|rmtree|write_text|write_bytes)\b").expect("valid regex")
    })
}

fn backticks() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"`([^`]*)`|%x\(([^)]*)\)|%x\{([^}]*)\}|\bqx\(([^)]*)\)|\bqx\{([^}]*)\}")
            .expect("valid regex")
    })
}

fn python_imports() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?m)^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n;]+)|import[ \t]+([\w.]+)[ \t]+as[ \t]+(\w+))",
        )
        .expect("valid regex")
    })
}

fn node_imports() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?:(?:const|let|var)\s+(?:(\w+)|\{([^}]*)\})\s*=\s*(?:await\s+)?(?:require|import)\(\s*['"]([\w:/-]+)['"]\s*\)|import\s+(?:\*\s+as\s+)?(?:(\w+)|\{([^}]*)\})\s+from\s+['"]([\w:/-]+)['"])"#,
        )
        .expect("valid regex")
    })
}

/// Names the code gives to the modules and functions this module knows.
fn aliases(env: &mut Env) {
    let code = env.code;
    let add_fn = |env: &mut Env, alias: &str, canon: String| {
        if env.functions.len() < 32 && !alias.is_empty() {
            env.functions.insert(alias.to_string(), canon);
        }
    };
    match env.lang {
        Lang::Python if code.contains("import") => {
            for c in python_imports().captures_iter(code).take(64) {
                if let (Some(m), Some(items)) = (c.get(1), c.get(2)) {
                    let items = items.as_str().trim_matches(|c| c == '(' || c == ')');
                    for item in items.split(',') {
                        let mut w = item.split_whitespace();
                        let (Some(name), alias) = (w.next(), w.nth(1)) else {
                            continue;
                        };
                        let alias = alias.unwrap_or(name);
                        add_fn(env, alias, format!("{}.{name}", m.as_str()));
                    }
                }
                if let (Some(m), Some(a)) = (c.get(3), c.get(4)) {
                    if env.modules.len() < 32 {
                        env.modules
                            .insert(a.as_str().to_string(), m.as_str().to_string());
                    }
                }
            }
        }
        Lang::Node if code.contains("require") || code.contains("import") => {
            for c in node_imports().captures_iter(code).take(64) {
                let Some(m) = c.get(3).or_else(|| c.get(6)) else {
                    continue;
                };
                let Some(m) = node_module(m.as_str()) else {
                    continue;
                };
                if let Some(a) = c.get(1).or_else(|| c.get(4)) {
                    if env.modules.len() < 32 {
                        env.modules.insert(a.as_str().to_string(), m.to_string());
                    }
                }
                if let Some(items) = c.get(2).or_else(|| c.get(5)) {
                    for item in items.as_str().split(',') {
                        let (name, alias) = match item.split_once(':') {
                            Some((n, a)) => (n.trim(), a.trim()),
                            None => match item.split_once(" as ") {
                                Some((n, a)) => (n.trim(), a.trim()),
                                None => (item.trim(), item.trim()),
                            },
                        };
                        add_fn(env, alias, format!("{m}.{name}"));
                    }
                }
            }
        }
        _ => {}
    }
}

/// What a call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DeleteTree,
    /// `fs.rm(p, {recursive: true})`: a tree only when asked.
    DeleteIfRecursive,
    Delete,
    /// A command line, or (several arguments, a list) a program and its arguments.
    Shell,
    /// `spawn(prog, [args])`.
    Spawn,
    Subprocess,
    /// `os.execvp(file, args)` and the like.
    PyExec,
    /// `open(p, "w")`.
    OpenMode,
    PerlOpen,
    /// The file written is argument N.
    Write(usize),
    /// Code in the same language (`exec('…')` in Python, `eval "…"` elsewhere).
    Code,
    /// `Deno.run({cmd: […]})`, `new Deno.Command(p, {args: […]})`, `Bun.spawn([…])`.
    Object,
    /// R's `system2(cmd, args)`.
    System2,
}

fn kind_of(name: &str, lang: Lang) -> Option<Kind> {
    let (module, last) = match name.rfind('.') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => ("", name),
    };
    let fsish = module == ")"
        || ["fs", "fsp", "fsPromises", "fse", "fsExtra"]
            .iter()
            .any(|m| module == *m || module.strip_prefix(m) == Some(".promises"));
    let child = matches!(
        module,
        "child_process" | "cp" | ")" | "proc" | "childProcess" | ""
    );
    Some(match (module, last) {
        ("shutil", "rmtree") | ("os", "removedirs") => Kind::DeleteTree,
        (_, "rmtree" | "remove_tree" | "rm_rf" | "rm_r" | "remove_dir" | "remove_entry")
        | (_, "remove_entry_secure" | "emptyDirSync" | "emptyDir")
            if module != "os" =>
        {
            Kind::DeleteTree
        }
        ("" | "rimraf", "rimraf" | "sync" | "rimrafSync") => Kind::DeleteTree,
        ("fse" | "fsExtra", "remove" | "removeSync") => Kind::DeleteTree,
        (_, "rm" | "rmSync" | "rmdir" | "rmdirSync") if fsish => Kind::DeleteIfRecursive,
        ("Deno", "remove" | "removeSync") => Kind::DeleteIfRecursive,
        ("", "unlink") if lang == Lang::R => Kind::DeleteIfRecursive,
        ("os", "remove" | "unlink" | "rmdir") | ("file", "remove") => Kind::Delete,
        ("File" | "Dir", "delete" | "unlink" | "rmdir") => Kind::Delete,
        ("FileUtils", "rm" | "rm_f" | "remove_file" | "remove" | "rmdir") => Kind::Delete,
        (_, "unlink" | "unlinkSync") if fsish || module.is_empty() => Kind::Delete,
        ("", "rmdir") => Kind::Delete,
        ("os", "system" | "popen") | ("commands", "getoutput") => Kind::Shell,
        ("subprocess", "getoutput" | "getstatusoutput") => Kind::Shell,
        ("os" | "io", "execute" | "popen") | ("IO", "popen") | ("Open3", _) => Kind::Shell,
        ("Kernel", "system" | "exec" | "spawn") => Kind::Shell,
        ("", "system" | "shell_exec" | "passthru" | "popen" | "proc_open") => Kind::Shell,
        ("", "system2") => Kind::System2,
        ("", "exec" | "eval") if lang == Lang::Python => Kind::Code,
        ("", "eval") => Kind::Code,
        ("", "exec" | "spawn") if lang != Lang::Node => Kind::Shell,
        (_, "execSync" | "exec") if child => Kind::Shell,
        (_, "spawn" | "spawnSync" | "execFile" | "execFileSync") if child => Kind::Spawn,
        ("subprocess", _) | ("pty", "spawn") => Kind::Subprocess,
        ("os", l) if l.starts_with("exec") || l.contains("spawn") => Kind::PyExec,
        ("Deno", "run" | "Command") | ("Bun", "spawn" | "spawnSync") => Kind::Object,
        (_, "writeFileSync" | "writeFile" | "createWriteStream") if fsish => Kind::Write(0),
        (_, "copyFileSync" | "copyFile") if fsish => Kind::Write(1),
        ("Deno", l) if l.starts_with("write") => Kind::Write(0),
        ("Bun", "write") | ("File" | "IO", "write" | "binwrite") => Kind::Write(0),
        ("", "file_put_contents") => Kind::Write(0),
        ("", "open") if lang == Lang::Perl => Kind::PerlOpen,
        ("" | "io" | "codecs", "open") | ("File", "open" | "new") | ("", "fopen") => Kind::OpenMode,
        _ => return None,
    })
}

/// Every process start, deletion and truncation in `code`.
fn scan(code: &str, lang: Lang, home: Option<String>, tmp: String) -> Vec<Found> {
    let mut env = Env::new(code, lang, home, tmp);
    let mut out = Vec::new();
    scan_in(&mut env, 0, &mut out);
    out
}

fn scan_in(env: &mut Env, nested: u8, out: &mut Vec<Found>) {
    let code = env.code;
    if !NEEDLES.iter().any(|n| code.contains(n)) {
        return;
    }
    aliases(env);
    let lang = env.lang;
    let bytes = code.as_bytes();
    // Call sites: (name, index just after the name). One place is read once.
    let mut sites: Vec<(String, usize)> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    for m in calls().captures_iter(code) {
        let Some(n) = m.name("name") else { continue };
        let name = n.as_str();
        // `re.exec(s)`, `db.open(…)`, `p.unlink()`: a method of some object, not the
        // function of that name (path objects' methods are read below).
        let bare = !name.contains('.');
        if bare && n.start() > 0 && matches!(bytes[n.start() - 1], b'.' | b'>' | b':') {
            continue;
        }
        // `require('fs').rmSync(…)`, not `Path(p).unlink()`.
        if name.starts_with(").") && !receiver(code, n.start() + 1).starts_with("require") {
            continue;
        }
        let at = m.get(0).map(|g| g.end()).unwrap_or(n.end());
        if seen.insert(at) {
            sites.push((name.to_string(), at));
        }
    }
    let mut alias_sites = Vec::new();
    for (alias, canon) in env.functions.iter() {
        for (i, _) in code.match_indices(alias.as_str()).take(1000) {
            let end = i + alias.len();
            let prev = i.checked_sub(1).map(|p| bytes[p]);
            if prev.is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$')) {
                continue;
            }
            let rest = &code[end..];
            let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if rest[ws..].starts_with('(') {
                alias_sites.push((canon.clone(), end + ws));
            }
        }
    }
    for (alias, module) in env.modules.iter() {
        let pat = format!("{alias}.");
        for (i, _) in code.match_indices(pat.as_str()).take(1000) {
            let prev = i.checked_sub(1).map(|p| bytes[p]);
            if prev.is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$')) {
                continue;
            }
            let start = i + pat.len();
            let rest = &code[start..];
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let after = &rest[len..];
            let ws = after.len() - after.trim_start_matches([' ', '\t']).len();
            if len > 0 && after[ws..].starts_with('(') {
                alias_sites.push((format!("{module}.{}", &rest[..len]), start + len + ws));
            }
        }
    }
    for (name, at) in alias_sites {
        if seen.insert(at) {
            sites.push((name, at));
        }
    }
    for (n, (name, at)) in sites.into_iter().enumerate() {
        if out.len() >= MAX_FOUND || n >= 4 * MAX_FOUND {
            out.push(Found::Shell(None));
            return;
        }
        let Some(kind) = kind_of(&name, lang) else {
            continue;
        };
        let rest = &code[at..];
        // Only calls: `name(` or, in Ruby and Perl, `name "…"`, `name $x`.
        let (args, paren) = match rest.strip_prefix('(') {
            Some(r) => (r, true),
            None => (rest, false),
        };
        if !paren {
            let qualified = name.contains('.') || name.contains("::");
            let ok = args.starts_with(['\'', '"', '[', '`'])
                || args.starts_with("glob")
                || (lang == Lang::Perl && args.starts_with(['$', '@']))
                || (matches!(lang, Lang::Ruby | Lang::Perl)
                    && qualified
                    && args.starts_with(|c: char| c.is_ascii_alphabetic()));
            if !ok || !matches!(lang, Lang::Ruby | Lang::Perl | Lang::Php | Lang::Lua) {
                continue;
            }
        }
        let (parts, _) = split_top(args, paren);
        call(env, kind, &name, &parts, nested, out);
    }
    for m in path_methods().captures_iter(code) {
        let (Some(all), Some(meth)) = (m.get(0), m.get(1)) else {
            continue;
        };
        let recv = receiver(code, all.start());
        let head = recv.split(['.', '(']).next().unwrap_or("");
        if recv.is_empty()
            || matches!(
                head,
                "os" | "fs"
                    | "fsp"
                    | "fsPromises"
                    | "fse"
                    | "fsExtra"
                    | "shutil"
                    | "FileUtils"
                    | "File"
                    | "Dir"
                    | "Deno"
                    | "require"
                    | "rimraf"
            )
        {
            continue;
        }
        let path = env.eval(recv, 0).str();
        out.push(match meth.as_str() {
            "rmtree" => Found::Delete {
                path,
                recursive: true,
            },
            "unlink" | "rmdir" => Found::Delete {
                path,
                recursive: false,
            },
            _ => Found::Write { path },
        });
    }
    if matches!(lang, Lang::Ruby | Lang::Perl | Lang::Php | Lang::Node)
        && (code.contains('`') || code.contains("%x") || code.contains("qx"))
    {
        for c in backticks().captures_iter(code) {
            let Some(whole) = c.get(0) else { continue };
            // In JavaScript a template literal is a string; only zx's and Bun's `$`…``
            // run one.
            if lang == Lang::Node
                && !(whole.as_str().starts_with('`')
                    && whole.start() > 0
                    && bytes[whole.start() - 1] == b'$')
            {
                continue;
            }
            if let Some(inner) = (1..=5).find_map(|i| c.get(i)) {
                let s = inner.as_str();
                let quoted = if lang == Lang::Node || lang == Lang::Ruby {
                    format!("`{s}`")
                } else {
                    format!("\"{s}\"")
                };
                let v = if lang == Lang::Perl || lang == Lang::Php {
                    // qx interpolates like a double-quoted string.
                    env.eval(&quoted, 0).str()
                } else if s.contains("#{") || s.contains("${") {
                    env.eval(&quoted, 0).str()
                } else {
                    Some(s.to_string())
                };
                out.push(Found::Shell(v));
            }
        }
    }
}

/// The text of the receiver before a method call at `dot` (`Path.home() / "x"` in
/// `(Path.home() / "x").write_text`), read back over names, dots and balanced brackets.
fn receiver(code: &str, dot: usize) -> &str {
    let bytes = code.as_bytes();
    let mut i = dot;
    let stop = dot.saturating_sub(512);
    while i > stop {
        let b = bytes[i - 1];
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$') {
            i -= 1;
        } else if b == b')' || b == b']' {
            let open = if b == b')' { b'(' } else { b'[' };
            let mut depth = 0usize;
            let mut j = i;
            let mut found = None;
            while j > stop {
                j -= 1;
                if bytes[j] == b {
                    depth += 1;
                } else if bytes[j] == open {
                    depth -= 1;
                    if depth == 0 {
                        found = Some(j);
                        break;
                    }
                }
            }
            match found {
                Some(j) => i = j,
                None => return "",
            }
        } else {
            break;
        }
    }
    code.get(i..dot).unwrap_or("").trim_start_matches('.')
}

/// One call of a known kind with its argument texts.
fn call(env: &mut Env, kind: Kind, name: &str, parts: &[&str], nested: u8, out: &mut Vec<Found>) {
    let lang = env.lang;
    let pos = positional(parts);
    let eval = |env: &mut Env, i: usize| pos.get(i).map(|p| env.eval(p, 0));
    let flatten = |vals: Vec<Val>| -> Vec<Option<String>> {
        let mut argv = Vec::new();
        for v in vals {
            match v {
                Val::Str(s) => argv.push(Some(s)),
                Val::List(l) => argv.extend(l),
                Val::Unknown => argv.push(None),
            }
        }
        argv
    };
    let recursive_asked = || {
        parts.iter().skip(1).any(|p| {
            let p = p.replace(' ', "");
            p.contains("recursive:true")
                || p.contains("recursive=TRUE")
                || p.contains("recursive=T")
        })
    };
    match kind {
        Kind::DeleteTree | Kind::DeleteIfRecursive | Kind::Delete => {
            let recursive = match kind {
                Kind::DeleteTree => true,
                Kind::DeleteIfRecursive => recursive_asked(),
                _ => false,
            };
            // Perl's `unlink LIST` and Ruby's `FileUtils.rm_rf([a, b])` take many.
            let many = matches!(lang, Lang::Perl | Lang::Ruby);
            let take = if many { pos.len().max(1) } else { 1 };
            for i in 0..take {
                let paths = match eval(env, i) {
                    Some(Val::List(l)) => l,
                    Some(Val::Str(s)) => vec![Some(s)],
                    _ => vec![None],
                };
                for path in paths {
                    out.push(Found::Delete { path, recursive });
                }
            }
        }
        Kind::Shell => {
            // Ruby's `system({"ENV" => "x"}, …)`: the environment is not the command.
            let skip =
                usize::from(lang == Lang::Ruby && pos.first().is_some_and(|p| p.starts_with('{')));
            let n = pos.len().saturating_sub(skip);
            if n == 0 {
                return;
            }
            if n > 1 && matches!(lang, Lang::Perl | Lang::Ruby) {
                let vals = (skip..pos.len()).filter_map(|i| eval(env, i)).collect();
                out.push(Found::Argv(flatten(vals)));
                return;
            }
            match eval(env, skip) {
                Some(Val::Str(s)) => out.push(Found::Shell(Some(s))),
                Some(Val::List(l)) => out.push(Found::Argv(l)),
                _ => out.push(Found::Shell(None)),
            }
        }
        Kind::Spawn => {
            let prog = eval(env, 0).unwrap_or(Val::Unknown);
            let list = match eval(env, 1) {
                Some(Val::List(l)) => l,
                Some(_) if pos.get(1).is_some_and(|p| p.starts_with('[')) => vec![None],
                _ => Vec::new(),
            };
            let shell = parts
                .iter()
                .any(|p| p.replace(' ', "").contains("shell:true"));
            match prog {
                Val::Str(s) if shell || (list.is_empty() && s.contains(' ')) => {
                    let mut line = s;
                    for a in &list {
                        match a {
                            Some(a) => {
                                line.push(' ');
                                line.push_str(a);
                            }
                            None => {
                                out.push(Found::Shell(None));
                                return;
                            }
                        }
                    }
                    out.push(Found::Shell(Some(line)));
                }
                Val::Str(s) => {
                    let mut argv = vec![Some(s)];
                    argv.extend(list);
                    out.push(Found::Argv(argv));
                }
                _ => out.push(Found::Argv(vec![None])),
            }
        }
        Kind::Subprocess => {
            let shell = parts
                .iter()
                .any(|p| kwarg(p).is_some_and(|(k, v)| k == "shell" && v == "True"));
            match eval(env, 0) {
                Some(Val::List(l)) if !shell => out.push(Found::Argv(l)),
                Some(Val::List(l)) => out.push(Found::Shell(l.into_iter().next().flatten())),
                Some(Val::Str(s)) => out.push(Found::Shell(Some(s))),
                Some(Val::Unknown) => out.push(Found::Shell(None)),
                None => {
                    // `subprocess.run(args=[…])`
                    if let Some((_, v)) = parts
                        .iter()
                        .find_map(|p| kwarg(p).filter(|(k, _)| *k == "args"))
                    {
                        out.push(match env.eval(v, 0) {
                            Val::List(l) => Found::Argv(l),
                            Val::Str(s) => Found::Shell(Some(s)),
                            Val::Unknown => Found::Shell(None),
                        });
                    }
                }
            }
        }
        Kind::PyExec => {
            let last = name.rsplit('.').next().unwrap_or(name);
            let first = usize::from(last.starts_with("spawn"));
            let suffix = last
                .trim_start_matches("posix_")
                .trim_start_matches("exec")
                .trim_start_matches("spawn");
            let prog = eval(env, first).and_then(Val::str);
            let mut argv = vec![prog];
            if suffix.starts_with('v') || last.starts_with("posix_spawn") {
                match eval(env, first + 1) {
                    Some(Val::List(l)) => argv.extend(l.into_iter().skip(1)),
                    Some(_) => argv.push(None),
                    None => {}
                }
            } else {
                let end = if suffix.ends_with('e') {
                    pos.len().saturating_sub(1)
                } else {
                    pos.len()
                };
                for i in first + 2..end {
                    argv.push(eval(env, i).and_then(Val::str));
                }
            }
            out.push(Found::Argv(argv));
        }
        Kind::OpenMode => {
            let mode = pos
                .get(1)
                .copied()
                .or_else(|| {
                    parts
                        .iter()
                        .find_map(|p| kwarg(p).filter(|(k, _)| *k == "mode").map(|(_, v)| v))
                })
                .map(|m| env.eval(m, 0));
            if let Some(Val::Str(m)) = mode {
                if m.contains('w') {
                    let path = eval(env, 0).and_then(Val::str);
                    out.push(Found::Write { path });
                }
            }
        }
        Kind::PerlOpen => {
            let mode = eval(env, 1);
            match (pos.len(), mode) {
                (n, Some(Val::Str(m))) if n >= 3 => {
                    let m = m.trim();
                    if m == "-|" || m == "|-" {
                        if n == 3 {
                            out.push(Found::Shell(eval(env, 2).and_then(Val::str)));
                        } else {
                            let vals = (2..n).filter_map(|i| eval(env, i)).collect();
                            out.push(Found::Argv(flatten(vals)));
                        }
                    } else if (m.starts_with('>') && !m.starts_with(">>")) || m.starts_with("+>") {
                        out.push(Found::Write {
                            path: eval(env, 2).and_then(Val::str),
                        });
                    }
                }
                (2, Some(Val::Str(spec))) => {
                    let spec = spec.trim();
                    if let Some(c) = spec.strip_prefix('|') {
                        out.push(Found::Shell(Some(c.trim().to_string())));
                    } else if let Some(c) = spec.strip_suffix('|') {
                        out.push(Found::Shell(Some(c.trim().to_string())));
                    } else if spec.starts_with(">>") {
                    } else if let Some(p) =
                        spec.strip_prefix("+>").or_else(|| spec.strip_prefix('>'))
                    {
                        out.push(Found::Write {
                            path: Some(p.trim().to_string()),
                        });
                    }
                }
                (2, _) => out.push(Found::Write { path: None }),
                _ => {}
            }
        }
        Kind::Write(i) => {
            let flags = parts
                .iter()
                .skip(i + 1)
                .any(|p| p.contains("FILE_APPEND") || p.contains("append"));
            if !flags {
                out.push(Found::Write {
                    path: eval(env, i).and_then(Val::str),
                });
            }
        }
        Kind::Code => {
            if nested < MAX_NESTED {
                // A literal in the code was read with it already.
                if let Some(Val::Str(inner)) = eval(env, 0).filter(|v| match v {
                    Val::Str(s) => !env.code.contains(s.as_str()),
                    _ => false,
                }) {
                    let mut sub = Env::new(&inner, lang, env.home.clone(), env.tmp.clone());
                    scan_in(&mut sub, nested + 1, out);
                }
            }
        }
        Kind::Object => {
            // `new Deno.Command(prog, {args: […]})`, `Deno.run({cmd: […]})`, `Bun.spawn([…])`.
            let mut argv = Vec::new();
            if name.ends_with("Command") {
                argv.push(eval(env, 0).and_then(Val::str));
                if let Some(l) = parts.get(1).and_then(|p| key_list(env, p, "args")) {
                    argv.extend(l);
                }
            } else {
                match eval(env, 0) {
                    Some(Val::List(l)) => argv = l,
                    _ => match parts.first().and_then(|p| key_list(env, p, "cmd")) {
                        Some(l) => argv = l,
                        None => argv.push(None),
                    },
                }
            }
            out.push(Found::Argv(argv));
        }
        Kind::System2 => {
            let mut argv = vec![eval(env, 0).and_then(Val::str)];
            let args = pos.get(1).copied().or_else(|| {
                parts
                    .iter()
                    .find_map(|p| kwarg(p).filter(|(k, _)| *k == "args").map(|(_, v)| v))
            });
            if let Some(a) = args {
                match env.eval(a, 0) {
                    Val::List(l) => argv.extend(l),
                    Val::Str(s) => argv.push(Some(s)),
                    Val::Unknown => argv.push(None),
                }
            }
            out.push(Found::Argv(argv));
        }
    }
}

/// The list after `key:` in an object literal (`{cmd: ["rm", p]}`).
fn key_list(env: &mut Env, obj: &str, key: &str) -> Option<Vec<Option<String>>> {
    let at = obj.find(key)?;
    let rest = obj[at + key.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    if !rest.starts_with('[') {
        return Some(vec![None]);
    }
    let (parts, used) = split_top(&rest[1..], true);
    let list = &rest[..floor(rest, used + 1)];
    let _ = parts;
    match env.eval(list, 0) {
        Val::List(l) => Some(l),
        _ => Some(vec![None]),
    }
}

/// A quoted string at the start of `s` (with an optional r/b/u/f prefix): its value and the
/// bytes it took.
fn string_literal(s: &str) -> Option<(String, usize)> {
    let mut start = 0;
    let bytes = s.as_bytes();
    while start < 2
        && start < bytes.len()
        && matches!(bytes[start], b'r' | b'b' | b'u' | b'f' | b'R' | b'B')
    {
        start += 1;
    }
    let q = *bytes.get(start)?;
    if !matches!(q, b'\'' | b'"' | b'`') {
        return None;
    }
    let raw = start > 0 && matches!(bytes[0], b'r' | b'R');
    let triple = s[start..].starts_with(&format!("{0}{0}{0}", q as char));
    let open = if triple { 3 } else { 1 };
    let mut out = String::new();
    let body = &s[start + open..];
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && !raw {
            if let Some((_, n)) = chars.next() {
                match n {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'x' | '0'..='7' => {
                        // `\x20`, `\040`: hex and octal escapes hide spaces and letters.
                        let (radix, max) = if n == 'x' { (16, 2) } else { (8, 2) };
                        let mut v = if n == 'x' {
                            0
                        } else {
                            n.to_digit(8).unwrap_or(0)
                        };
                        let mut peek = chars.clone();
                        let mut used = 0;
                        while used < max {
                            match peek.next().and_then(|(_, d)| d.to_digit(radix)) {
                                Some(d) => {
                                    v = v * radix + d;
                                    used += 1;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(v).unwrap_or('?'));
                    }
                    other => out.push(other),
                }
            }
            continue;
        }
        if c as u32 == q as u32 {
            if triple {
                if body[i..].starts_with(&format!("{0}{0}{0}", q as char)) {
                    return Some((out, start + open + i + 3));
                }
            } else {
                return Some((out, start + open + i + 1));
            }
        }
        out.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(s: &str) -> Found {
        Found::Shell(Some(s.into()))
    }

    fn del(p: &str, recursive: bool) -> Found {
        Found::Delete {
            path: Some(p.into()),
            recursive,
        }
    }

    fn argv(a: &[&str]) -> Found {
        Found::Argv(a.iter().map(|s| Some(s.to_string())).collect())
    }

    fn scan_as(lang: Lang, code: &str) -> Vec<Found> {
        scan(code, lang, Some("/h".into()), "/tmp".into())
    }

    #[test]
    fn scan_table() {
        use Lang::*;
        let write = |p: &str| Found::Write {
            path: Some(p.into()),
        };
        let cases: &[(Lang, &str, Vec<Found>)] = &[
            (Python, "import os; os.system('rm -rf /')", vec![shell("rm -rf /")]),
            (
                Python,
                "import subprocess; subprocess.run(['rm', '-rf', '/home/u'])",
                vec![argv(&["rm", "-rf", "/home/u"])],
            ),
            (Python, "import shutil; shutil.rmtree('/etc')", vec![del("/etc", true)]),
            (Python, "import os; os.remove(\"/etc/passwd\")", vec![del("/etc/passwd", false)]),
            (Node, "require('child_process').execSync('rm -rf /')", vec![shell("rm -rf /")]),
            (Node, "require('fs').rmSync('/x', {recursive: true})", vec![del("/x", true)]),
            (Ruby, "require 'fileutils'; FileUtils.rm_rf('/home/user')", vec![del("/home/user", true)]),
            (Ruby, "system('rm -rf /home/user')", vec![shell("rm -rf /home/user")]),
            (Perl, "print `ls`", vec![shell("ls")]),
            (Python, "print('hello')", vec![]),
            (Python, "os.system(cmd)", vec![Found::Shell(None)]),
            (Python, "os.system('rm -rf ' + p)", vec![Found::Shell(None)]),
            (Awk, "BEGIN { system(\"rm -rf /\") }", vec![shell("rm -rf /")]),
            (Awk, "BEGIN { system(\"rm\\x20-rf\\040/\") }", vec![shell("rm -rf /")]),
            (Perl, "unlink glob(\"/etc/*\");", vec![del("/etc/*", false)]),
            // The home directory however it is spelled, and paths below it.
            (Python, "import os; shutil.rmtree(os.path.expanduser('~'))", vec![del("/h", true)]),
            (Python, "shutil.rmtree(os.path.join(os.environ['HOME'], 'docs'))", vec![del("/h/docs", true)]),
            (Python, "from pathlib import Path\nshutil.rmtree(Path.home() / '.config')", vec![del("/h/.config", true)]),
            (Python, "h = os.getenv('HOME')\nos.system(f'rm -rf {h}')", vec![shell("rm -rf /h")]),
            (Python, "Path('~/.ssh').expanduser().joinpath('id').unlink()", vec![del("/h/.ssh/id", false)]),
            (Node, "fs.rmSync(require('os').homedir(), {recursive: true})", vec![del("/h", true)]),
            (Node, "fs.rmSync(`${process.env.HOME}/x`, {recursive: true})", vec![del("/h/x", true)]),
            (Node, "const os = require('os'); const p = path.join(os.homedir(), '.aws'); fs.rmSync(p, {recursive:true, force:true})", vec![del("/h/.aws", true)]),
            (Ruby, "FileUtils.rm_rf(File.join(Dir.home, 'x'))", vec![del("/h/x", true)]),
            (Ruby, "FileUtils.remove_dir(File.expand_path('~'))", vec![del("/h", true)]),
            (Perl, "use File::Path; remove_tree(\"$ENV{HOME}/x\");", vec![del("/h/x", true)]),
            (Node, "Deno.removeSync(Deno.env.get('HOME'), {recursive: true})", vec![del("/h", true)]),
            // Aliases.
            (Python, "from shutil import rmtree as r\nr('/srv')", vec![del("/srv", true)]),
            (Python, "import subprocess as sp\nsp.check_call(['rm', '-rf', '/srv'])", vec![argv(&["rm", "-rf", "/srv"])]),
            (Python, "from os import remove\nremove('/etc/hosts')", vec![del("/etc/hosts", false)]),
            (Node, "const { rmSync: kill } = require('fs'); kill('/srv', {recursive: true})", vec![del("/srv", true)]),
            (Node, "const { spawnSync } = require('child_process'); spawnSync('rm', ['-rf', '/srv'])", vec![argv(&["rm", "-rf", "/srv"])]),
            (Python, "os.execvp('rm', ['rm', '-rf', '/srv'])", vec![argv(&["rm", "-rf", "/srv"])]),
            (Perl, "system('rm', '-rf', $ENV{HOME})", vec![argv(&["rm", "-rf", "/h"])]),
            // Truncating writes.
            (Python, "open(os.path.expanduser('~/.bashrc'), 'w').write('x')", vec![write("/h/.bashrc")]),
            (Python, "open('/etc/hosts', mode='wb')", vec![write("/etc/hosts")]),
            (Python, "open('/etc/hosts')", vec![]),
            (Python, "open('log.txt', 'a')", vec![]),
            (Python, "(Path.home() / '.profile').write_text('x')", vec![write("/h/.profile")]),
            (Node, "fs.writeFileSync('/etc/hosts', 'x')", vec![write("/etc/hosts")]),
            (Ruby, "File.write('/etc/hosts', 'x')", vec![write("/etc/hosts")]),
            (Perl, "open(my $fh, '>', '/etc/hosts')", vec![write("/etc/hosts")]),
            (Perl, "open(FH, \">>/etc/hosts\")", vec![]),
            // Temp directories made by the code are temp.
            (Python, "d = tempfile.mkdtemp()\nshutil.rmtree(d)", vec![del("/tmp/tmpXXXXXXXX", true)]),
            (Python, "with tempfile.TemporaryDirectory() as t:\n    shutil.rmtree(os.path.join(t, 'x'))", vec![del("/tmp/tmpXXXXXXXX/x", true)]),
            (Python, "tmp = Path(tempfile.mkdtemp())\nshutil.rmtree(tmp)", vec![del("/tmp/tmpXXXXXXXX", true)]),
            (Node, "const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'x-'));\nfs.rmSync(dir, { recursive: true, force: true });", vec![del("/tmp/tmpXXXXXXXX", true)]),
            (Ruby, "Dir.mktmpdir do |d|\n  FileUtils.rm_rf(d)\nend", vec![del("/tmp/tmpXXXXXXXX", true)]),
            (Perl, "my $d = tempdir(CLEANUP => 1); rmtree($d);", vec![del("/tmp/tmpXXXXXXXX", true)]),
            // ...but not once the name is bound again, or is a parameter.
            (Python, "d = tempfile.mkdtemp()\nd = sys.argv[1]\nshutil.rmtree(d)", vec![Found::Delete { path: None, recursive: true }]),
            (Python, "d = tempfile.mkdtemp()\ndef f(d):\n    shutil.rmtree(d)\n", vec![Found::Delete { path: None, recursive: true }]),
            (Python, "d = tempfile.mkdtemp()\nfor d in dirs:\n    shutil.rmtree(d)\n", vec![Found::Delete { path: None, recursive: true }]),
            (Python, "d = tempfile.mkdtemp()\nd += '/../..'\nshutil.rmtree(d)", vec![Found::Delete { path: None, recursive: true }]),
            (Python, "d = get()\nshutil.rmtree(d)", vec![Found::Delete { path: None, recursive: true }]),
            // Python's exec and eval run Python.
            (Python, "exec(open('setup.py').read())", vec![]),
            (Python, "exec('print(1)')", vec![]),
            (Python, "exec(\"import os; os.system('reboot')\")", vec![shell("reboot")]),
            (Node, "const m = /a/.exec(s); console.log(`x ${m}`)", vec![]),
            (Node, "await $`rm -rf /srv`", vec![shell("rm -rf /srv")]),
            (Python, "db.open('x', 'w')", vec![]),
            (Php, "file_put_contents('/etc/hosts', 'x');", vec![write("/etc/hosts")]),
            (Node, "require('fs').createWriteStream('/etc/passwd')", vec![write("/etc/passwd")]),
            (Ruby, "x = `rm -rf #{Dir.home}`", vec![shell("rm -rf /h")]),
            (Node, "const rimraf = require('rimraf')", vec![]),
            (Node, "fs.rmSync(path.join(__dirname, 'dist'), {recursive: true})", vec![del("./dist", true)]),
        ];
        let mut wrong = Vec::new();
        for (lang, code, want) in cases {
            let got = scan_as(*lang, code);
            if &got != want {
                wrong.push(format!("{lang:?} {code:?}: want {want:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    }

    /// Large and odd input: bounded, and no slicing inside a character.
    #[test]
    fn hostile_code_is_bounded() {
        let big = "é = x\nshutil.rmtree(é)\n".repeat(5000);
        let t = std::time::Instant::now();
        let found = scan_as(Lang::Python, &big);
        assert!(found.len() <= MAX_FOUND + 1);
        let odd = "os.system(\"ü".to_string() + &"(".repeat(10000);
        scan_as(Lang::Python, &odd);
        let nested = "x = ".to_string()
            + &"(".repeat(5000)
            + "'/'"
            + &")".repeat(5000)
            + "\nshutil.rmtree(x)";
        scan_as(Lang::Python, &nested);
        let names: String = (0..3000)
            .map(|i| format!("v{i} = v{}\nshutil.rmtree(v{i})\n", i + 1))
            .collect();
        scan_as(Lang::Python, &names);
        assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    }
}
