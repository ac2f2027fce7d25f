//! Inline interpreter code (`python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`, awk
//! programs, and interpreter heredocs) that hands a command line to the shell or deletes
//! files. What it would run is analysed as shell; what it would delete becomes an `rm`.
//!
//! This reads code by pattern, not by parsing each language: it finds the calls that start
//! processes or delete files and takes their literal arguments. A call whose argument is not
//! a literal is reported as code only known when it runs.

use std::sync::OnceLock;

use regex::Regex;

use super::walk::{Frame, State, Walker};
use super::{Arg, Command, FindingKind, Via};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Python,
    Node,
    Ruby,
    Perl,
    Php,
    Awk,
    Lua,
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
        _ => return None,
    })
}

pub(super) fn is_interpreter(prog: &str) -> bool {
    lang_of(prog).is_some()
}

impl Walker<'_> {
    pub(super) fn interpreter(&mut self, cmd: &Command, prog: &str, frame: &Frame, st: &State) {
        let Some(lang) = lang_of(prog) else { return };
        let args = cmd.args();
        let mut codes: Vec<&Arg> = Vec::new();
        let mut script_operand = false;
        let mut i = 0;
        if lang == Lang::Awk {
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
                    Lang::Lua => t == "-e",
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
                let name = format!("{lang:?}").to_ascii_lowercase();
                self.stdin_code(cmd, frame, st, Some(&name));
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
            self.inline_code(
                cmd,
                &format!("{lang:?}").to_ascii_lowercase(),
                &code.text.clone(),
                frame,
                st,
            );
        }
    }

    /// Code in a language: find what it would run or delete.
    pub(super) fn inline_code(
        &mut self,
        cmd: &Command,
        lang: &str,
        code: &str,
        frame: &Frame,
        st: &State,
    ) {
        let via = Via::Interpreter(lang.to_string());
        for found in scan(code) {
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
                    argv.push(match path {
                        Some(p) => {
                            let glob = p.contains(['*', '?', '[']);
                            Arg {
                                glob,
                                ..Arg::literal(p)
                            }
                        }
                        None => Arg::unknown(),
                    });
                    self.nested_argv(cmd, argv, via.clone(), frame, st);
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A command line handed to a shell (`None`: not a literal).
    Shell(Option<String>),
    /// A program and its arguments, started without a shell.
    Argv(Vec<Option<String>>),
    /// A file or tree deleted.
    Delete {
        path: Option<String>,
        recursive: bool,
    },
}

fn calls() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            (?P<name>
              os\.system | os\.popen | os\.exec[lv]p?e? | os\.spawn[lv]p?e? | pty\.spawn | commands\.getoutput
            | subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)
            | shutil\.rmtree | os\.remove | os\.unlink | os\.rmdir | os\.removedirs
            | (?:child_process|cp|\)|proc|childProcess)\.(?:execSync|exec|spawnSync|spawn|execFileSync|execFile)
            | \bexecSync | \bspawnSync | \bexecFileSync
            | \bfs(?:\.promises|Extra|e)?\.(?:rmSync|rm|rmdirSync|rmdir|unlinkSync|unlink|removeSync|remove|emptyDirSync)
            | \)\.(?:rmSync|rmdirSync|unlinkSync|removeSync)
            | \brimraf(?:\.sync)?
            | FileUtils\.(?:rm_rf|rm_r|rm_f|rm|remove_dir|remove_entry_secure|remove_entry|remove_file|remove|rmtree|rmdir)
            | File\.(?:delete|unlink) | Dir\.(?:rmdir|delete|unlink)
            | IO\.popen | Open3\.\w+ | Kernel\.(?:system|exec|spawn|`)
            | \bshell_exec | \bpassthru | \bproc_open | \bpopen
            | \bsystem | \bexec | \bspawn
            | \brmtree | \bremove_tree | \bunlink | \brmdir
            | \bos\.execute | \bio\.popen
            )
            \s*",
        )
        .expect("valid regex")
    })
}

fn backticks() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"`([^`]*)`|%x\(([^)]*)\)|%x\{([^}]*)\}|\bqx\(([^)]*)\)|\bqx\{([^}]*)\}")
            .expect("valid regex")
    })
}

fn path_unlink() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"Path\(\s*[rbuf]?(['"])([^'"]*)['"]\s*\)\.(unlink|rmdir)"#)
            .expect("valid regex")
    })
}

/// Every process start and deletion in `code`.
fn scan(code: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for m in calls().captures_iter(code) {
        let name = m.name("name").map(|n| n.as_str()).unwrap_or("");
        let rest = &code[m.get(0).map(|g| g.end()).unwrap_or(0)..];
        // Only calls: `name(` or, in Ruby/Perl, `name "…"`.
        let (args, paren) = match rest.strip_prefix('(') {
            Some(r) => (r, true),
            None => (rest, false),
        };
        if !paren && !args.starts_with(['\'', '"', '[']) && !args.starts_with("glob") {
            continue;
        }
        let first = literal_arg(args);
        let recursive_delete = matches!(
            name.rsplit('.').next().unwrap_or(name),
            "rmtree"
                | "rm_rf"
                | "rm_r"
                | "remove_dir"
                | "remove_entry"
                | "remove_entry_secure"
                | "remove_tree"
                | "removeSync"
                | "emptyDirSync"
        ) || name.starts_with("rimraf")
            || (name.starts_with("fs") && name.ends_with(".remove"))
            || name.contains("removedirs")
            || ((name.ends_with("rmSync")
                || name.ends_with(".rm")
                || name.ends_with("rmdirSync")
                || name.ends_with(".rmdir"))
                && call_text(args).contains("recursive"));
        let is_delete = name.contains("rmtree")
            || name.contains("remove")
            || name.contains("unlink")
            || name.contains("rmdir")
            || name.contains("rm_")
            || name.ends_with(".rm")
            || name.ends_with("rmSync")
            || name.starts_with("rimraf")
            || name.ends_with("delete")
            || name == "FileUtils.rm"
            || name.ends_with("emptyDirSync");
        if is_delete && !name.contains("remove_file") || name == "FileUtils.remove_file" {
            let path = match first {
                Some(Literal::Str(s)) => Some(s),
                _ => None,
            };
            out.push(Found::Delete {
                path,
                recursive: recursive_delete,
            });
            continue;
        }
        // Starting a process.
        match first {
            Some(Literal::Str(s)) => {
                let spawn_like = name.ends_with("spawn")
                    || name.ends_with("spawnSync")
                    || name.ends_with("execFile")
                    || name.ends_with("execFileSync")
                    || name.starts_with("os.exec")
                    || name.starts_with("os.spawn");
                if spawn_like {
                    // spawn(prog, [args]): the argument list follows the program.
                    let after = skip_literal(args);
                    let list = after
                        .trim_start()
                        .strip_prefix(',')
                        .map(str::trim_start)
                        .and_then(|r| match literal_arg(r) {
                            Some(Literal::List(l)) => Some(l),
                            _ => None,
                        });
                    let mut argv = vec![Some(s)];
                    if let Some(l) = list {
                        argv.extend(l);
                    }
                    if argv.len() == 1 && argv[0].as_deref().is_some_and(|p| p.contains(' ')) {
                        out.push(Found::Shell(argv.pop().flatten()));
                    } else {
                        out.push(Found::Argv(argv));
                    }
                } else {
                    out.push(Found::Shell(Some(s)));
                }
            }
            Some(Literal::List(l)) => out.push(Found::Argv(l)),
            None => out.push(Found::Shell(None)),
        }
    }
    for c in backticks().captures_iter(code) {
        let inner = (1..=5)
            .find_map(|i| c.get(i))
            .map(|m| m.as_str().to_string());
        if let Some(s) = inner {
            let dynamic = s.contains("#{") || s.contains("${") && !s.contains("$(");
            out.push(Found::Shell(if dynamic { None } else { Some(s) }));
        }
    }
    for c in path_unlink().captures_iter(code) {
        out.push(Found::Delete {
            path: c.get(2).map(|m| m.as_str().to_string()),
            recursive: false,
        });
    }
    out
}

enum Literal {
    Str(String),
    List(Vec<Option<String>>),
}

/// The text of a call's arguments up to its closing parenthesis (roughly).
fn call_text(args: &str) -> &str {
    let end = args.find(')').unwrap_or(args.len());
    &args[..end]
}

/// A string literal or a list of them at the start of `s`.
fn literal_arg(s: &str) -> Option<Literal> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('[') {
        let mut items = Vec::new();
        let mut r = rest.trim_start();
        loop {
            if r.starts_with(']') || r.is_empty() {
                break;
            }
            match string_literal(r) {
                Some((v, used)) => {
                    items.push(Some(v));
                    r = &r[used..];
                }
                None => {
                    items.push(None);
                    let next = r.find([',', ']']).unwrap_or(r.len());
                    r = &r[next..];
                }
            }
            r = r.trim_start();
            match r.strip_prefix(',') {
                Some(x) => r = x.trim_start(),
                None => break,
            }
        }
        return Some(Literal::List(items));
    }
    // Perl's `unlink glob("/etc/*")`: the pattern's reach is what counts.
    if let Some(rest) = s.strip_prefix("glob(").or_else(|| s.strip_prefix("glob ")) {
        return string_literal(rest.trim_start()).map(|(v, _)| Literal::Str(v));
    }
    let (v, used) = string_literal(s)?;
    // `"rm -rf " + path` is not a literal.
    let after = s[used..].trim_start();
    if after.starts_with('+')
        || after.starts_with('.') && !after.starts_with(".then")
        || after.starts_with('%')
    {
        return None;
    }
    if v.contains("#{")
        || (s.starts_with('`') && v.contains("${"))
        || s.starts_with("f\"")
        || s.starts_with("f'")
    {
        return None;
    }
    Some(Literal::Str(v))
}

/// How many bytes a literal at the start of `s` takes (0 when none).
fn skip_literal(s: &str) -> &str {
    let t = s.trim_start();
    match string_literal(t) {
        Some((_, used)) => &t[used..],
        None => t,
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

    #[test]
    fn scan_table() {
        let cases: &[(&str, Vec<Found>)] = &[
            ("import os; os.system('rm -rf /')", vec![shell("rm -rf /")]),
            (
                "import subprocess; subprocess.run(['rm', '-rf', '/home/u'])",
                vec![Found::Argv(vec![
                    Some("rm".into()),
                    Some("-rf".into()),
                    Some("/home/u".into()),
                ])],
            ),
            (
                "import shutil; shutil.rmtree('/etc')",
                vec![Found::Delete {
                    path: Some("/etc".into()),
                    recursive: true,
                }],
            ),
            (
                "import os; os.remove(\"/etc/passwd\")",
                vec![Found::Delete {
                    path: Some("/etc/passwd".into()),
                    recursive: false,
                }],
            ),
            (
                "require('child_process').execSync('rm -rf /')",
                vec![shell("rm -rf /")],
            ),
            (
                "require('fs').rmSync('/x', {recursive: true})",
                vec![Found::Delete {
                    path: Some("/x".into()),
                    recursive: true,
                }],
            ),
            (
                "require 'fileutils'; FileUtils.rm_rf('/home/user')",
                vec![Found::Delete {
                    path: Some("/home/user".into()),
                    recursive: true,
                }],
            ),
            (
                "system('rm -rf /home/user')",
                vec![shell("rm -rf /home/user")],
            ),
            ("print `ls`", vec![shell("ls")]),
            ("print('hello')", vec![]),
            ("os.system(cmd)", vec![Found::Shell(None)]),
            ("os.system('rm -rf ' + p)", vec![Found::Shell(None)]),
            ("BEGIN { system(\"rm -rf /\") }", vec![shell("rm -rf /")]),
            (
                "BEGIN { system(\"rm\\x20-rf\\040/\") }",
                vec![shell("rm -rf /")],
            ),
            (
                "unlink glob(\"/etc/*\");",
                vec![Found::Delete {
                    path: Some("/etc/*".into()),
                    recursive: false,
                }],
            ),
        ];
        for (code, want) in cases {
            assert_eq!(&scan(code), want, "code {code:?}");
        }
    }
}
