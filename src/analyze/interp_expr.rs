//! The values of expressions in interpreter code, as far as they can be told without running
//! it: string literals and their concatenation, template strings, the home directory however
//! a language spells it, paths joined to it, a directory a temp-dir constructor just made,
//! and variables bound once to any of these.
//!
//! Everything else is unknown. All work is bounded: an expression is read from a slice of at
//! most `MAX_EXPR` bytes, variables resolve at most `MAX_DEPTH` deep, and at most
//! `MAX_LOOKUPS` distinct names are looked up in one piece of code (each lookup is a linear
//! scan), so a large heredoc costs a few linear passes.

use std::collections::HashMap;

use super::Lang;

const MAX_EXPR: usize = 4096;
const MAX_DEPTH: u8 = 8;
const MAX_LOOKUPS: usize = 128;
/// Modules and builtins that code does not rebind: not looked up as variables.
const WELL_KNOWN: &[&str] = &[
    "os",
    "sys",
    "shutil",
    "pathlib",
    "tempfile",
    "subprocess",
    "process",
    "require",
    "File",
    "Dir",
    "FileUtils",
    "ENV",
    "Deno",
    "Bun",
    "Path",
    "Pathname",
    "str",
    "String",
    "io",
    "$ENV",
    "Sys",
    "IO",
    "Kernel",
    "console",
    "print",
    "open",
];
/// How far back and forward an occurrence of a name is read to tell how it is used.
const CONTEXT: usize = 256;

/// A value: a string (a path or a command line), a list of them, or unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Val {
    Str(String),
    List(Vec<Option<String>>),
    Unknown,
}

impl Val {
    pub(super) fn str(self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What a piece of an expression denotes while it is being read.
#[derive(Debug, Clone)]
enum Term {
    Val(Val),
    /// A module, an object or a function named by a dotted path (`os.path.join`).
    Ns(String),
    /// A method or property of a value, not yet called (`p.expanduser`).
    Member(Val, String),
}

/// How a name is bound in the code.
#[derive(Debug, Clone)]
enum Binding {
    /// `NAME = EXPR` (the text of EXPR).
    Expr(String),
    /// Bound by a construct whose value is a new temporary directory (`with
    /// tempfile.TemporaryDirectory() as t`, `Dir.mktmpdir do |d|`).
    Temp,
    /// A parameter, a loop variable, a tuple target, a compound assignment...
    Other,
}

pub(super) struct Env<'c> {
    pub code: &'c str,
    pub lang: Lang,
    pub home: Option<String>,
    pub tmp: String,
    /// `import shutil as sh`, `const cp = require('child_process')`: alias → module.
    pub modules: HashMap<String, String>,
    /// `from shutil import rmtree as r`: alias → module.function.
    pub functions: HashMap<String, String>,
    vars: HashMap<String, Option<Term>>,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// The largest char boundary of `s` not above `n`.
pub(super) fn floor(s: &str, n: usize) -> usize {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// The largest char boundary of `s` not below `n` (or the length).
fn ceil(s: &str, n: usize) -> usize {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n += 1;
    }
    n
}

/// Split the text after an opening bracket (or, without one, a statement) at its top-level
/// commas, up to the closing bracket (or the end of the statement). Returns the parts and
/// how many bytes were read, including the closer.
pub(super) fn split_top<'a>(s: &'a str, bracketed: bool) -> (Vec<&'a str>, usize) {
    let bytes = s.as_bytes();
    let limit = bytes.len().min(MAX_EXPR);
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut i = 0;
    let push = |parts: &mut Vec<&'a str>, a: usize, b: usize| {
        if let Some(p) = s.get(a..b) {
            let p = p.trim();
            if !p.is_empty() {
                parts.push(p);
            }
        }
    };
    while i < limit {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    push(&mut parts, start, i);
                    return (parts, i + 1);
                }
                depth -= 1;
            }
            b',' if depth == 0 => {
                push(&mut parts, start, i);
                start = i + 1;
            }
            b'\n' | b';' if depth == 0 && !bracketed => {
                push(&mut parts, start, i);
                return (parts, i);
            }
            _ => {}
        }
        i += 1;
    }
    let end = floor(s, i);
    push(&mut parts, start.min(end), end);
    (parts, end)
}

/// `name=value` (a keyword argument), not `a == b`.
pub(super) fn kwarg(part: &str) -> Option<(&str, &str)> {
    let i = part.find('=')?;
    let (k, v) = (part[..i].trim(), &part[i + 1..]);
    if k.is_empty() || !k.bytes().all(is_ident) || v.starts_with(['=', '>', '~']) {
        return None;
    }
    Some((k, v.trim()))
}

/// The arguments that are not keyword arguments.
pub(super) fn positional<'a>(parts: &[&'a str]) -> Vec<&'a str> {
    parts
        .iter()
        .copied()
        .filter(|p| kwarg(p).is_none())
        .collect()
}

fn join(base: &str, part: &str) -> String {
    if part.starts_with('/') || base.is_empty() {
        return part.to_string();
    }
    format!("{}/{}", base.trim_end_matches('/'), part)
}

impl<'c> Env<'c> {
    pub(super) fn new(code: &'c str, lang: Lang, home: Option<String>, tmp: String) -> Self {
        Env {
            code,
            lang,
            home,
            tmp,
            modules: HashMap::new(),
            functions: HashMap::new(),
            vars: HashMap::new(),
        }
    }

    /// A directory a temp-dir constructor makes: below the temp directory, new.
    pub(super) fn new_temp(&self) -> String {
        format!("{}/tmpXXXXXXXX", self.tmp.trim_end_matches('/'))
    }

    fn expand_tilde(&self, s: &str) -> Val {
        if s == "~" {
            return self.home.clone().map(Val::Str).unwrap_or(Val::Unknown);
        }
        if let Some(rest) = s.strip_prefix("~/") {
            return match &self.home {
                Some(h) => Val::Str(join(h, rest)),
                None => Val::Unknown,
            };
        }
        if s.starts_with('~') {
            return Val::Unknown;
        }
        Val::Str(s.to_string())
    }

    fn env_var(&self, key: &Val) -> Val {
        match key {
            Val::Str(k) if k == "HOME" || k == "USERPROFILE" => {
                self.home.clone().map(Val::Str).unwrap_or(Val::Unknown)
            }
            Val::Str(k) if matches!(k.as_str(), "TMPDIR" | "TMP" | "TEMP") => {
                Val::Str(self.tmp.clone())
            }
            Val::Str(k) if k == "PWD" => Val::Str(".".into()),
            _ => Val::Unknown,
        }
    }

    /// The value of an expression (one argument, already split from its neighbours).
    pub(super) fn eval(&mut self, s: &str, depth: u8) -> Val {
        match self.expr(s, depth) {
            Term::Val(v) => v,
            t => self.finish(t),
        }
    }

    fn expr(&mut self, s: &str, depth: u8) -> Term {
        if depth > MAX_DEPTH {
            return Term::Val(Val::Unknown);
        }
        let s = &s[..floor(s, MAX_EXPR)];
        let mut s = s.trim();
        for kw in ["await ", "new ", "yield "] {
            if let Some(r) = s.strip_prefix(kw) {
                s = r.trim_start();
            }
        }
        let (first, mut rest) = self.term(s, depth);
        let mut acc = first;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                return acc;
            }
            let (op, after) = if let Some(r) = rest.strip_prefix("..") {
                if self.lang != Lang::Lua {
                    return Term::Val(Val::Unknown);
                }
                ('+', r)
            } else if let Some(r) = rest.strip_prefix('+') {
                ('+', r)
            } else if let Some(r) = rest.strip_prefix('/') {
                if r.starts_with(['/', '=']) {
                    return Term::Val(Val::Unknown);
                }
                ('/', r)
            } else if let Some(r) = rest.strip_prefix('.') {
                if !matches!(self.lang, Lang::Perl | Lang::Php) {
                    return Term::Val(Val::Unknown);
                }
                ('+', r)
            } else {
                return Term::Val(Val::Unknown);
            };
            let left = self.finish(acc);
            let (right, r) = self.term(after.trim_start(), depth);
            let right = self.finish(right);
            acc = Term::Val(match (left, right) {
                (Val::Str(a), Val::Str(b)) if op == '+' => Val::Str(a + &b),
                (Val::Str(a), Val::Str(b)) => Val::Str(join(&a, &b)),
                _ => Val::Unknown,
            });
            rest = r;
        }
    }

    /// One operand and the text after it.
    fn term<'s>(&mut self, s: &'s str, depth: u8) -> (Term, &'s str) {
        let Some(&b) = s.as_bytes().first() else {
            return (Term::Val(Val::Unknown), "");
        };
        if let Some((v, used)) = super::string_literal(s) {
            let val = match self.interpolate(s, &v, depth) {
                Some(v) => Val::Str(v),
                None => Val::Unknown,
            };
            return self.postfix(Term::Val(val), &s[used..], depth);
        }
        if b == b'(' {
            let (parts, used) = split_top(&s[1..], true);
            let t = if parts.len() == 1 {
                self.expr(parts[0], depth + 1)
            } else {
                Term::Val(Val::Unknown)
            };
            let rest = s.get(1 + used..).unwrap_or("");
            return self.postfix(t, rest, depth);
        }
        if b == b'[' {
            let (parts, used) = split_top(&s[1..], true);
            let items = parts
                .iter()
                .map(|p| self.eval(p, depth + 1).str())
                .collect();
            let rest = s.get(1 + used..).unwrap_or("");
            return self.postfix(Term::Val(Val::List(items)), rest, depth);
        }
        if is_ident(b) || b == b'@' {
            let end = self.ident_end(s, 0);
            let name = &s[..end];
            let start = if let Some(f) = self.functions.get(name) {
                Term::Ns(f.clone())
            } else if let Some(m) = self.modules.get(name) {
                Term::Ns(m.clone())
            } else if name.bytes().all(|c| c.is_ascii_digit()) {
                Term::Val(Val::Unknown)
            } else if WELL_KNOWN.contains(&name) {
                Term::Ns(name.to_string())
            } else {
                match self.var(name, depth) {
                    Some(t) => t,
                    None => Term::Ns(name.to_string()),
                }
            };
            return self.postfix(start, &s[end..], depth);
        }
        (Term::Val(Val::Unknown), "")
    }

    fn ident_end(&self, s: &str, from: usize) -> usize {
        let bytes = s.as_bytes();
        let mut i = from;
        if bytes.get(i) == Some(&b'@') {
            i += 1;
        }
        while i < bytes.len() {
            if is_ident(bytes[i]) {
                i += 1;
            } else if bytes[i] == b':'
                && bytes.get(i + 1) == Some(&b':')
                && bytes.get(i + 2).is_some_and(|c| c.is_ascii_alphabetic())
            {
                i += 2;
            } else {
                break;
            }
        }
        i
    }

    /// Member accesses, calls and subscripts after an operand.
    fn postfix<'s>(&mut self, mut t: Term, mut s: &'s str, depth: u8) -> (Term, &'s str) {
        for _ in 0..32 {
            let r = s.trim_start_matches([' ', '\t']);
            // `.` is concatenation in Perl and PHP, `..` in Lua.
            let dot = r
                .strip_prefix('.')
                .filter(|r| !matches!(self.lang, Lang::Perl | Lang::Php) && !r.starts_with('.'));
            let member = r
                .strip_prefix("->")
                .or_else(|| r.strip_prefix("?."))
                .or(dot)
                .or_else(|| r.strip_prefix("::"));
            if let Some(r) = member {
                let r = r.trim_start();
                let end = self.ident_end(r, 0);
                if end == 0 {
                    return (Term::Val(Val::Unknown), "");
                }
                let name = &r[..end];
                t = match self.settle(t) {
                    Term::Ns(ns) if ns.len() < 200 => Term::Ns(format!("{ns}.{name}")),
                    Term::Val(v) => Term::Member(v, name.to_string()),
                    _ => Term::Val(Val::Unknown),
                };
                s = &r[end..];
                continue;
            }
            if let Some(r) = r.strip_prefix('(') {
                let (parts, used) = split_top(r, true);
                t = self.call(t, &parts, depth);
                s = r.get(used..).unwrap_or("");
                continue;
            }
            let subscript = r.strip_prefix('[').or_else(|| {
                if self.lang == Lang::Perl {
                    r.strip_prefix('{')
                } else {
                    None
                }
            });
            if let Some(r) = subscript {
                let (parts, used) = split_top(r, true);
                let key = match parts.as_slice() {
                    [k] if k.bytes().all(is_ident) => Val::Str(k.to_string()),
                    [k] => self.eval(k, depth + 1),
                    _ => Val::Unknown,
                };
                t = match self.settle(t) {
                    Term::Ns(ns) if is_environ(&ns) => Term::Val(self.env_var(&key)),
                    _ => Term::Val(Val::Unknown),
                };
                s = r.get(used..).unwrap_or("");
                continue;
            }
            break;
        }
        (t, s)
    }

    /// A member that is not called is a property.
    fn settle(&mut self, t: Term) -> Term {
        match t {
            Term::Member(v, m) => Term::Val(self.property(v, &m)),
            t => t,
        }
    }

    fn property(&self, v: Val, m: &str) -> Val {
        let Val::Str(s) = v else { return Val::Unknown };
        match m {
            // `TemporaryDirectory().name` is the directory; `Path(p).name` the last part.
            "name" if s == self.new_temp() => Val::Str(s),
            "name" => Val::Str(s.rsplit('/').next().unwrap_or("").to_string()),
            "parent" => match s.trim_end_matches('/').rfind('/') {
                Some(0) => Val::Str("/".into()),
                Some(i) => Val::Str(s[..i].to_string()),
                None => Val::Str(".".into()),
            },
            "path" => Val::Str(s),
            _ => Val::Unknown,
        }
    }

    /// A name at the end of an expression that denotes a value (`process.env.HOME`).
    fn finish(&mut self, t: Term) -> Val {
        match self.settle(t) {
            Term::Val(v) => v,
            Term::Ns(ns) => {
                let ns = ns.as_str();
                if let Some(key) = ns
                    .strip_prefix("process.env.")
                    .or_else(|| ns.strip_prefix("Deno.env."))
                {
                    return self.env_var(&Val::Str(key.to_string()));
                }
                match ns {
                    "Dir.home" => self.env_var(&Val::Str("HOME".into())),
                    "Dir.mktmpdir" => Val::Str(self.new_temp()),
                    "Dir.tmpdir" => Val::Str(self.tmp.clone()),
                    "Dir.pwd" => Val::Str(".".into()),
                    "sys.executable" => Val::Str("python3".into()),
                    // Code given with -e or on stdin runs as if from the working directory.
                    "__dirname" if self.lang == Lang::Node => Val::Str(".".into()),
                    "process.execPath" => Val::Str("node".into()),
                    "$^X" => Val::Str("perl".into()),
                    _ => Val::Unknown,
                }
            }
            Term::Member(..) => Val::Unknown,
        }
    }

    fn call(&mut self, t: Term, parts: &[&str], depth: u8) -> Term {
        match t {
            Term::Ns(ns) => self.function(&ns, parts, depth),
            Term::Member(v, m) => Term::Val(self.method(v, &m, parts, depth)),
            Term::Val(_) => Term::Val(Val::Unknown),
        }
    }

    fn args(&mut self, parts: &[&str], depth: u8) -> Vec<Val> {
        positional(parts)
            .iter()
            .map(|p| self.eval(p, depth + 1))
            .collect()
    }

    fn join_all(&self, args: &[Val]) -> Val {
        let mut out: Option<String> = None;
        for a in args {
            match a {
                Val::Str(s) => {
                    out = Some(match out {
                        None => s.clone(),
                        Some(b) => join(&b, s),
                    })
                }
                _ => return Val::Unknown,
            }
        }
        out.map(Val::Str).unwrap_or(Val::Unknown)
    }

    fn function(&mut self, ns: &str, parts: &[&str], depth: u8) -> Term {
        let ns = ns.strip_prefix("pathlib.").unwrap_or(ns);
        let ns = ns.strip_prefix("File::Temp.").unwrap_or(ns);
        if ns == "require" || ns == "import" {
            let m = match self.args(parts, depth).first() {
                Some(Val::Str(m)) => node_module(m),
                _ => None,
            };
            return match m {
                Some(m) => Term::Ns(m.to_string()),
                None => Term::Val(Val::Unknown),
            };
        }
        let v = match ns {
            "Path.home" | "os.homedir" | "homedir" | "Dir.home" => {
                self.env_var(&Val::Str("HOME".into()))
            }
            "os.getenv" | "os.environ.get" | "environ.get" | "getenv" | "Sys.getenv"
            | "ENV.fetch" | "Deno.env.get" | "process.env.get" => {
                match self.args(parts, depth).first() {
                    Some(k) => self.env_var(k),
                    None => Val::Unknown,
                }
            }
            "os.path.expanduser" | "expanduser" | "path.expand" => {
                match self.args(parts, depth).first() {
                    Some(Val::Str(s)) => self.expand_tilde(s),
                    _ => Val::Unknown,
                }
            }
            "File.expand_path" => {
                let args = self.args(parts, depth);
                match args.as_slice() {
                    [Val::Str(s)] => self.expand_tilde(s),
                    [Val::Str(s), Val::Str(base)] if !s.starts_with('~') => {
                        self.join_all(&[Val::Str(base.clone()), Val::Str(s.clone())])
                    }
                    [Val::Str(s), _] if s.starts_with('~') => self.expand_tilde(s),
                    _ => Val::Unknown,
                }
            }
            "glob" => match self.args(parts, depth).first() {
                Some(Val::Str(s)) => self.expand_tilde(s),
                _ => Val::Unknown,
            },
            "os.path.join" | "path.join" | "path.posix.join" | "path.resolve" | "File.join"
            | "file.path" | "File::Spec.catfile" | "File::Spec.catdir" | "Path" | "PurePath"
            | "PosixPath" | "Pathname" | "Pathname.new" | "os.path.abspath"
            | "os.path.realpath" | "os.path.normpath" | "path.normalize" | "normalizePath"
            | "realpath" | "str" | "String" | "os.fspath" | "URL" => {
                let args = self.args(parts, depth);
                self.join_all(&args)
            }
            "c" | "list" if self.lang == Lang::R => {
                let args = self.args(parts, depth);
                Val::List(args.into_iter().map(Val::str).collect())
            }
            "os.path.dirname" | "path.dirname" | "File.dirname" | "dirname" => {
                match self.args(parts, depth).first() {
                    Some(v @ Val::Str(_)) => self.property(v.clone(), "parent"),
                    _ => Val::Unknown,
                }
            }
            "paste0" => {
                let args = self.args(parts, depth);
                let mut out = String::new();
                for a in args {
                    match a {
                        Val::Str(s) => out.push_str(&s),
                        _ => return Term::Val(Val::Unknown),
                    }
                }
                Val::Str(out)
            }
            "tempfile.mkdtemp"
            | "mkdtemp"
            | "tempfile.TemporaryDirectory"
            | "TemporaryDirectory"
            | "tempfile.NamedTemporaryFile"
            | "NamedTemporaryFile"
            | "tempfile.mktemp"
            | "fs.mkdtempSync"
            | "fs.mkdtemp"
            | "fs.promises.mkdtemp"
            | "mkdtempSync"
            | "Dir.mktmpdir"
            | "Deno.makeTempDirSync"
            | "Deno.makeTempDir"
            | "Deno.makeTempFileSync"
            | "Deno.makeTempFile"
            | "tempdir"
            | "newdir"
            | "tempfile"
            | "Tempfile.new"
            | "Tempfile.create" => Val::Str(self.new_temp()),
            "tempfile.gettempdir"
            | "gettempdir"
            | "os.tmpdir"
            | "tmpdir"
            | "sys_get_temp_dir"
            | "Dir.tmpdir" => Val::Str(self.tmp.clone()),
            "os.getcwd" | "getcwd" | "process.cwd" | "Dir.pwd" | "Deno.cwd" | "getwd" => {
                Val::Str(".".into())
            }
            _ => Val::Unknown,
        };
        Term::Val(v)
    }

    fn method(&mut self, v: Val, m: &str, parts: &[&str], depth: u8) -> Val {
        match (&v, m) {
            (Val::Str(s), "expanduser" | "expand_path") => self.expand_tilde(s),
            (
                Val::Str(_),
                "resolve" | "absolute" | "as_posix" | "toString" | "to_s" | "to_path" | "realpath"
                | "cleanpath" | "__fspath__",
            ) => v,
            (Val::Str(s), "joinpath" | "join") => {
                let mut args = vec![Val::Str(s.clone())];
                args.extend(self.args(parts, depth));
                self.join_all(&args)
            }
            (Val::List(items), "join") => {
                let sep = match self.args(parts, depth).first() {
                    Some(Val::Str(s)) => s.clone(),
                    None => ",".into(),
                    _ => return Val::Unknown,
                };
                let mut out = Vec::new();
                for i in items {
                    match i {
                        Some(s) => out.push(s.as_str()),
                        None => return Val::Unknown,
                    }
                }
                Val::Str(out.join(&sep))
            }
            _ => Val::Unknown,
        }
    }

    /// Template strings, f-strings and interpolating quotes: the text with each
    /// interpolation replaced by its value (`None` when one is unknown).
    fn interpolate(&mut self, raw: &str, v: &str, depth: u8) -> Option<String> {
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < 2 && bytes.get(i).is_some_and(|b| b.is_ascii_alphabetic()) {
            i += 1;
        }
        let prefix = raw[..i].to_ascii_lowercase();
        let quote = *bytes.get(i)?;
        let kind = match self.lang {
            Lang::Node if quote == b'`' => Interp::Dollar,
            Lang::Python if prefix.contains('f') => Interp::Brace,
            Lang::Ruby if quote == b'"' || quote == b'`' => Interp::Hash,
            Lang::Perl | Lang::Php if quote == b'"' => Interp::Sigil,
            _ => return Some(v.to_string()),
        };
        let mut out = String::new();
        let mut rest = v;
        for _ in 0..64 {
            let (open, skip) = match kind {
                Interp::Dollar => (rest.find("${"), 2),
                Interp::Hash => (rest.find("#{"), 2),
                Interp::Brace => (rest.find('{'), 1),
                Interp::Sigil => (rest.find(['$', '@']), 0),
            };
            let Some(at) = open else {
                out.push_str(rest);
                return Some(out);
            };
            out.push_str(&rest[..at]);
            let after = &rest[at + skip..];
            if kind == Interp::Brace && after.starts_with('{') {
                out.push('{');
                rest = &after[1..];
                continue;
            }
            if kind == Interp::Sigil {
                // `$name`, `$name{KEY}`, `$name['KEY']`, `${name}`, `{$name}`; `@name` is a
                // Perl array.
                let after_sigil = &after[1..];
                let end = self.ident_end(after_sigil, 0);
                if end == 0 && !after_sigil.starts_with('{') {
                    out.push_str(&after[..1]);
                    rest = after_sigil;
                    continue;
                }
                if after.starts_with('@') {
                    if self.lang == Lang::Perl {
                        return None;
                    }
                    out.push('@');
                    rest = after_sigil;
                    continue;
                }
                let mut stop = 1 + end;
                if end == 0 {
                    // `${name}`
                    let close = after.find('}')?;
                    let inner = format!("${}", after[2..close].trim());
                    out.push_str(&self.eval(&inner, depth + 1).str()?);
                    rest = &after[close + 1..];
                    continue;
                }
                let tail = &after[stop..];
                if let Some(close) = tail
                    .strip_prefix('{')
                    .and_then(|t| t.find('}'))
                    .filter(|_| self.lang == Lang::Perl)
                {
                    stop += close + 2;
                } else if tail.starts_with('[') {
                    stop += tail.find(']')? + 1;
                }
                out.push_str(&self.eval(&after[..stop], depth + 1).str()?);
                rest = &after[stop..];
                continue;
            }
            let close = matching_brace(after)?;
            let mut inner = &after[..close];
            if kind == Interp::Brace {
                if let Some(c) = inner.find(['!', ':', '=']) {
                    inner = &inner[..c];
                }
            }
            out.push_str(&self.eval(inner, depth + 1).str()?);
            rest = &after[close + 1..];
        }
        None
    }

    /// The value of a variable bound once in the code; `None` when the name is never bound
    /// (a module or a builtin).
    fn var(&mut self, name: &str, depth: u8) -> Option<Term> {
        if let Some(t) = self.vars.get(name) {
            return t.clone();
        }
        if self.vars.len() >= MAX_LOOKUPS || depth > MAX_DEPTH {
            return Some(Term::Val(Val::Unknown));
        }
        // Mark it while it resolves, so `a = a + "x"` ends.
        self.vars
            .insert(name.to_string(), Some(Term::Val(Val::Unknown)));
        let bindings = self.bindings(name);
        let t = match bindings.as_slice() {
            [] => None,
            [Binding::Expr(e)] => Some(self.expr(e, depth + 1)),
            [Binding::Temp] => Some(Term::Val(Val::Str(self.new_temp()))),
            _ => Some(Term::Val(Val::Unknown)),
        };
        self.vars.insert(name.to_string(), t.clone());
        t
    }

    /// Every place `name` is bound (up to a few: more than one makes it unknown anyway).
    fn bindings(&self, name: &str) -> Vec<Binding> {
        let code = self.code;
        let bytes = code.as_bytes();
        let mut out = Vec::new();
        let sigil = name.starts_with(['$', '@']);
        for (at, _) in code.match_indices(name) {
            let end = at + name.len();
            let before = at.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| is_ident(b) || (!sigil && b == b'.'))
                || bytes.get(end).is_some_and(|&b| is_ident(b))
            {
                continue;
            }
            if let Some(b) = self.binding_at(at, end) {
                out.push(b);
                if out.len() > 2 {
                    break;
                }
            }
        }
        out
    }

    /// How the occurrence of a name at `at..end` binds it, if it does.
    fn binding_at(&self, at: usize, end: usize) -> Option<Binding> {
        let code = self.code;
        let from = ceil(code, at.saturating_sub(CONTEXT));
        let line_start = code[from..at]
            .rfind(['\n', ';'])
            .map(|i| from + i + 1)
            .unwrap_or(from);
        let prefix = &code[line_start..at];
        let to = floor(code, end + CONTEXT);
        let line_end = code[end..to]
            .find(['\n', ';'])
            .map(|i| end + i)
            .unwrap_or(to);
        let suffix = &code[end..line_end];
        let ptrim = prefix.trim();
        let strim = suffix.trim_start();

        // An assignment: `NAME = EXPR`, with at most a declaring keyword before it.
        let lhs_like = prefix.bytes().all(|b| {
            is_ident(b) || matches!(b, b' ' | b'\t' | b',' | b'(' | b'[' | b'{' | b'*' | b'@')
        });
        if lhs_like {
            let simple = matches!(
                ptrim,
                "" | "const" | "let" | "var" | "my" | "our" | "local" | "export const"
            );
            let after_targets = strim.trim_start_matches(|c: char| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '$' | '@' | ',' | ' ' | '\t' | ')' | ']' | '}')
            });
            if let Some(rhs) = strim.strip_prefix('=') {
                if !rhs.starts_with(['=', '>', '~']) {
                    if !simple {
                        return Some(Binding::Other);
                    }
                    // The right side runs to the end of the statement, brackets included.
                    let (parts, used) = split_top(&code[end..], false);
                    let _ = parts;
                    let stmt = &code[end..end + used];
                    let rhs = stmt.trim_start().strip_prefix('=').unwrap_or("");
                    return Some(Binding::Expr(rhs.trim().to_string()));
                }
            }
            if after_targets.len() < strim.len() {
                if let Some(r) = after_targets.strip_prefix('=') {
                    if !r.starts_with(['=', '>', '~']) {
                        return Some(Binding::Other);
                    }
                }
            }
            // `x += 1`, `x ||= y`, `x := y`, `x: T = y`, `s << "x"`, `$s =~ s/…//`.
            let compound = [
                "+=", "-=", "*=", "/=", ".=", "|=", "&=", "%=", "||=", "&&=", "??=", ":=", "<<",
                "=~", "^=",
            ];
            if compound.iter().any(|c| strim.starts_with(c))
                || (strim.starts_with(':') && strim.contains('='))
            {
                return Some(Binding::Other);
            }
        }
        let words = |text: &str, w: &[&str]| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|x| w.contains(&x))
        };
        if ptrim.ends_with(" as") || ptrim == "as" {
            // `with tempfile.TemporaryDirectory() as t`: bound to the new directory.
            if let Some(w) = ptrim.rfind("with ") {
                let e = ptrim.get(w + 5..ptrim.len() - 2).unwrap_or("").trim();
                let e = e.rsplit(',').next().unwrap_or(e).trim();
                if is_temp_constructor(e) {
                    return Some(Binding::Temp);
                }
            }
            return Some(Binding::Other);
        }
        // `do |d|`, `{ |a, d|`: a block parameter.
        if prefix.bytes().filter(|&b| b == b'|').count() % 2 == 1 {
            if prefix.contains("mktmpdir") && !prefix.contains(',') {
                return Some(Binding::Temp);
            }
            return Some(Binding::Other);
        }
        // `for d in …`, `for (const d of …)`, `foreach my $d (…)`: a loop variable.
        if let Some(f) = ["for", "foreach"]
            .iter()
            .filter_map(|k| find_word(prefix, k).map(|i| i + k.len()))
            .max()
        {
            let p = &prefix[f..];
            if !(words(p, &["in", "of"]) || self.lang == Lang::Perl && p.contains('(')) {
                return Some(Binding::Other);
            }
        }
        // Parameters: `def f(d)`, `function (d)`, `lambda d:`, `sub { my ($d) = @_ }`,
        // `(d) =>`, `d =>`.
        for k in ["def", "function", "fn", "lambda", "sub"] {
            if let Some(i) = find_word(prefix, k) {
                let p = &prefix[i..];
                let open = p.bytes().filter(|&b| b == b'(').count();
                let close = p.bytes().filter(|&b| b == b')').count();
                if (open > close && !p.contains('{')) || (k == "lambda" && !p.contains(':')) {
                    return Some(Binding::Other);
                }
            }
        }
        let to_arrow = strim.trim_start_matches(|c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | ',' | ' ' | '\t' | ')' | ':')
        });
        if to_arrow.starts_with("=>") && self.lang == Lang::Node {
            return Some(Binding::Other);
        }
        if words(
            ptrim,
            &["global", "nonlocal", "del", "unset", "catch", "except"],
        ) {
            return Some(Binding::Other);
        }
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Interp {
    Dollar,
    Hash,
    Brace,
    Sigil,
}

/// The index of the `}` closing a brace opened just before `s`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate().take(MAX_EXPR) {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn find_word(text: &str, w: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.match_indices(w)
        .filter(|(i, _)| {
            (*i == 0 || !is_ident(bytes[i - 1]))
                && bytes.get(i + w.len()).is_none_or(|&b| !is_ident(b))
        })
        .map(|(i, _)| i)
        .last()
}

fn is_environ(ns: &str) -> bool {
    matches!(
        ns,
        "os.environ" | "environ" | "ENV" | "process.env" | "$ENV" | "$_SERVER" | "$_ENV" | "%ENV"
    )
}

fn is_temp_constructor(e: &str) -> bool {
    let e = e.trim();
    [
        "tempfile.TemporaryDirectory(",
        "TemporaryDirectory(",
        "tempfile.mkdtemp(",
    ]
    .iter()
    .any(|p| e.starts_with(p))
}

/// A Node module's name as the scanner knows it.
pub(super) fn node_module(m: &str) -> Option<&'static str> {
    Some(match m.strip_prefix("node:").unwrap_or(m) {
        "fs" => "fs",
        "fs/promises" => "fs.promises",
        "fs-extra" => "fse",
        "child_process" => "child_process",
        "os" => "os",
        "path" => "path",
        _ => return None,
    })
}
