//! The little languages in which programs are told to run commands: sed scripts (`e`,
//! `s///e`), ex commands (vim `-c`, `+CMD`, ed), less's `+` commands, Tcl (`expect -c`)
//! and makefile text (`make --eval`). Each reader finds what would run, as a shell line or
//! an argv, or says that something runs whose text cannot be known here.
//!
//! They read only as far as needed to tell a command from data (a regex, a replacement, a
//! file name), and never fail: text they cannot follow yields what was found up to there.

/// Something a script makes its program run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::analyze) enum Run {
    /// A command line handed to a shell.
    Code(String),
    /// A program and its arguments, started without a shell (`None`: known only when it runs).
    Argv(Vec<Option<String>>),
    /// A command runs whose text is not in the script (sed's pattern space, a Vim expression).
    Unknown(&'static str),
}

/// Calls (`$(shell …)`, `system(…)`) read in one text; text with more is not read further.
const MAX_CALLS: usize = 64;

/// Nesting the readers follow (`exe`, `g/…/cmd`, Tcl braces) before giving up on the text.
const MAX_NEST: usize = 8;

// ---------------------------------------------------------------------------------------
// sed

/// What a sed script runs: GNU `e COMMAND`, bare `e` (the pattern space), and the `e` flag of
/// `s///e` (the pattern space after the substitution).
pub(in crate::analyze) fn sed_runs(script: &str) -> Vec<Run> {
    let c: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut p = 0;
    let n = c.len();
    // Text up to an unescaped `delim`, and the index after it (None: unterminated).
    let delimited = |mut p: usize, delim: char| -> Option<(String, usize)> {
        let mut s = String::new();
        while p < n {
            if c[p] == '\\' && p + 1 < n {
                s.push('\\');
                s.push(c[p + 1]);
                p += 2;
                continue;
            }
            if c[p] == delim {
                return Some((s, p + 1));
            }
            s.push(c[p]);
            p += 1;
        }
        None
    };
    let to_eol = |mut p: usize| -> (String, usize) {
        let mut s = String::new();
        while p < n && c[p] != '\n' {
            s.push(c[p]);
            p += 1;
        }
        (s, p)
    };
    let skip_blank = |mut p: usize| {
        while p < n && (c[p] == ' ' || c[p] == '\t') {
            p += 1;
        }
        p
    };
    // One address, and the index after it.
    let address = |p: usize| -> Option<usize> {
        let mut q = p;
        if q < n && c[q].is_ascii_digit() {
            while q < n && (c[q].is_ascii_digit() || c[q] == '~') {
                q += 1;
            }
            return Some(q);
        }
        if q < n && c[q] == '$' {
            return Some(q + 1);
        }
        let delim = match c.get(q) {
            Some('/') => '/',
            Some('\\') => *c.get(q + 1)?,
            _ => return None,
        };
        q += if delim == '/' { 1 } else { 2 };
        let (_, mut q) = delimited(q, delim)?;
        while q < n && matches!(c[q], 'I' | 'M') {
            q += 1;
        }
        Some(q)
    };
    'commands: while p < n {
        while p < n && (c[p].is_whitespace() || c[p] == ';') {
            p += 1;
        }
        if p >= n {
            break;
        }
        if c[p] == '#' {
            p = to_eol(p).1;
            continue;
        }
        if let Some(q) = address(p) {
            p = skip_blank(q);
            if p < n && c[p] == ',' {
                p = skip_blank(p + 1);
                if p < n && matches!(c[p], '+' | '~') {
                    p += 1;
                    while p < n && c[p].is_ascii_digit() {
                        p += 1;
                    }
                } else {
                    match address(p) {
                        Some(q) => p = q,
                        None => break,
                    }
                }
            }
        }
        p = skip_blank(p);
        while p < n && c[p] == '!' {
            p = skip_blank(p + 1);
        }
        let Some(&cmd) = c.get(p) else { break };
        p += 1;
        match cmd {
            '{' | '}' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x'
            | 'z' | 'F' => {}
            'l' | 'q' | 'Q' | 'L' => {
                p = skip_blank(p);
                while p < n && c[p].is_ascii_digit() {
                    p += 1;
                }
            }
            'a' | 'i' | 'c' => {
                // Text to the end of the line; a backslash carries it over a newline.
                while p < n && c[p] != '\n' {
                    p += if c[p] == '\\' { 2 } else { 1 };
                }
            }
            'r' | 'R' | 'w' | 'W' => p = to_eol(p).1,
            'b' | 't' | 'T' | ':' | 'v' => {
                while p < n && c[p] != '\n' && c[p] != ';' {
                    p += 1;
                }
            }
            'e' => {
                let (command, q) = to_eol(skip_blank(p));
                p = q;
                if command.trim().is_empty() {
                    out.push(Run::Unknown(
                        "sed's `e` runs the text of each line as a command",
                    ));
                } else {
                    out.push(Run::Code(command));
                }
            }
            'y' => {
                let Some(&delim) = c.get(p) else { break };
                let Some((_, q)) = delimited(p + 1, delim) else {
                    break;
                };
                let Some((_, q)) = delimited(q, delim) else {
                    break;
                };
                p = q;
            }
            's' => {
                let Some(&delim) = c.get(p) else { break };
                if delim == '\n' || delim == '\\' {
                    break;
                }
                let Some((regex, q)) = delimited(p + 1, delim) else {
                    break;
                };
                let Some((replacement, q)) = delimited(q, delim) else {
                    break;
                };
                p = q;
                let mut exec = false;
                while p < n {
                    match c[p] {
                        'g' | 'p' | 'i' | 'I' | 'm' | 'M' => p += 1,
                        d if d.is_ascii_digit() => p += 1,
                        'e' => {
                            exec = true;
                            p += 1;
                        }
                        'w' => {
                            p = to_eol(p).1;
                            break;
                        }
                        ' ' | '\t' | '\n' | ';' | '}' | '#' => break,
                        _ => {
                            // Not sed as GNU sed reads it: it refuses the script.
                            if exec {
                                break;
                            }
                            break 'commands;
                        }
                    }
                }
                if exec {
                    substitution_runs(&regex, &replacement, &mut out);
                }
            }
            _ => break,
        }
    }
    out
}

/// `s/REGEX/REPLACEMENT/e` runs the pattern space after the substitution: the replacement
/// itself when the regex takes the whole line, and something only the input knows otherwise.
fn substitution_runs(regex: &str, replacement: &str, out: &mut Vec<Run>) {
    let mut text = String::new();
    let mut literal = true;
    let mut chars = replacement.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '&' => literal = false,
            '\\' => match chars.next() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some(d) if d.is_ascii_digit() => literal = false,
                Some('L' | 'U' | 'l' | 'u' | 'E') => literal = false,
                Some(other) => text.push(other),
                None => {}
            },
            other => text.push(other),
        }
    }
    let whole_line = matches!(regex, ".*" | "^.*" | ".*$" | "^.*$" | "^.*\\$");
    if !text.trim().is_empty() {
        out.push(Run::Code(text));
    }
    if !literal || !whole_line {
        out.push(Run::Unknown(
            "sed's `s///e` runs each line, as substituted, as a command",
        ));
    }
}

// ---------------------------------------------------------------------------------------
// ex (vim -c, +CMD, --cmd; ed and ex scripts)

/// What an ex command line runs (several commands may be joined with `|`).
pub(in crate::analyze) fn ex_runs(line: &str) -> Vec<Run> {
    let mut out = Vec::new();
    ex_line(line, &mut out, 0);
    out
}

/// Vim's command-name abbreviations: `name` is `full` cut after at least `min` letters.
fn abbrev(name: &str, full: &str, min: usize) -> bool {
    name.len() >= min && full.starts_with(name)
}

/// Vim functions that run a command line given as their first argument.
const EX_RUNNERS: &[&str] = &[
    "system",
    "systemlist",
    "jobstart",
    "job_start",
    "termopen",
    "term_start",
];

/// Ex options whose value is a program vim runs.
const EX_PROGRAM_OPTIONS: &[&str] = &[
    "makeprg",
    "mp",
    "grepprg",
    "gp",
    "shell",
    "sh",
    "equalprg",
    "ep",
    "formatprg",
    "fp",
    "keywordprg",
    "kp",
];

fn ex_line(line: &str, out: &mut Vec<Run>, depth: usize) {
    if depth > MAX_NEST {
        out.push(Run::Unknown("ex commands nested too deeply to read"));
        return;
    }
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(|c: char| c == ':' || c == '|' || c.is_whitespace());
        rest = skip_ex_range(rest).trim_start();
        if let Some(shell) = rest.strip_prefix('!') {
            // `:!cmd`, `:{range}!filter`: the rest of the line is the shell's.
            push_code(shell, out);
            return;
        }
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        let after = &rest[name_len..];
        // `name!` is the forced form; it runs nothing more.
        let args = after.strip_prefix('!').unwrap_or(after);
        let modifier = [
            ("silent", 3),
            ("unsilent", 3),
            ("noautocmd", 3),
            ("keepalt", 5),
            ("keepjumps", 5),
            ("keepmarks", 3),
            ("keeppatterns", 5),
            ("lockmarks", 3),
            ("noswapfile", 3),
            ("sandbox", 3),
            ("verbose", 4),
            ("vertical", 4),
            ("topleft", 2),
            ("botright", 2),
            ("aboveleft", 3),
            ("belowright", 3),
            ("leftabove", 5),
            ("rightbelow", 6),
            ("tab", 3),
            ("hide", 3),
            ("confirm", 4),
            ("browse", 3),
        ]
        .iter()
        .any(|(full, min)| abbrev(name, full, *min));
        if name.is_empty() {
            // `&&`, `<`, `>`, `=`, `@a`, a search: no shell here.
        } else if modifier {
            rest = args;
            continue;
        } else if abbrev(name, "read", 1) && name.len() <= 4 {
            if let Some(shell) = skip_ex_opts(args).strip_prefix('!') {
                push_code(shell, out);
                return;
            }
        } else if abbrev(name, "write", 1) && name.len() <= 5 {
            // `:w !cmd` pipes to cmd; `:w!` is a forced write.
            if let Some(shell) = skip_ex_opts(args).strip_prefix('!') {
                push_code(shell, out);
                let first = shell.split_whitespace().next().unwrap_or("");
                let first = first.rsplit('/').next().unwrap_or(first);
                if super::SHELLS.contains(&first) || super::super::interp::is_interpreter(first) {
                    out.push(Run::Unknown("vim hands the file to a shell as its script"));
                }
                return;
            }
        } else if abbrev(name, "execute", 3) {
            let expr = args.trim();
            match single_string(expr) {
                Some((s, tail)) if tail.trim().is_empty() => ex_line(&s, out, depth + 1),
                _ => out.push(Run::Unknown(
                    "vim `:execute` runs a command built at run time",
                )),
            }
            return;
        } else if abbrev(name, "normal", 4) {
            if args.contains([':', '!']) {
                out.push(Run::Unknown("vim `:normal` keys that may run commands"));
            }
            return;
        } else if abbrev(name, "global", 1) || abbrev(name, "vglobal", 1) {
            let a = args.trim_start();
            if let Some(delim) = a.chars().next() {
                let body = &a[delim.len_utf8()..];
                let end = body.find(delim).map(|i| i + delim.len_utf8());
                if let Some(e) = end {
                    ex_line(&body[e..], out, depth + 1);
                }
            }
            return;
        } else if [
            "windo",
            "bufdo",
            "tabdo",
            "argdo",
            "cdo",
            "cfdo",
            "ldo",
            "lfdo",
            "folddoopen",
            "folddoclosed",
        ]
        .contains(&name)
        {
            ex_line(args, out, depth + 1);
            return;
        } else if abbrev(name, "terminal", 3) {
            let cmd = skip_ex_opts(args);
            if !cmd.trim().is_empty() {
                // (Alone, it opens an interactive shell.)
                push_code(cmd, out);
            }
            return;
        } else if abbrev(name, "autocmd", 2) {
            let words: Vec<&str> = args.split_whitespace().collect();
            // [group] event pattern [++once] [++nested] command
            let event_like = |w: &str| {
                w == "*"
                    || w.split(',')
                        .all(|e| e.starts_with(|c: char| c.is_ascii_uppercase()))
            };
            let mut k = if words.first().is_some_and(|w| !event_like(w)) {
                1
            } else {
                0
            };
            k += 2;
            while words.get(k).is_some_and(|w| w.starts_with("++")) {
                k += 1;
            }
            if k < words.len() {
                ex_line(&words[k..].join(" "), out, depth + 1);
            }
            return;
        } else if [
            "lua", "luado", "luafile", "py", "python", "py3", "python3", "pyx", "pythonx", "pydo",
            "py3do", "pyxdo", "perl", "perldo", "ruby", "rubydo", "rubyfile", "mz", "mzscheme",
            "tcl", "tcldo",
        ]
        .contains(&name)
        {
            out.push(Run::Unknown("vim runs code in another language"));
            return;
        } else if ["se", "set", "setl", "setlocal", "setg", "setglobal"].contains(&name) {
            for word in split_ex_words(args) {
                if let Some((opt, value)) = word.split_once(['=', ':']) {
                    let opt = opt.trim_end_matches(['+', '-', '^']);
                    if EX_PROGRAM_OPTIONS.contains(&opt) && !value.is_empty() {
                        out.push(Run::Code(value.to_string()));
                    }
                }
            }
        }
        // Function calls anywhere in this command (`call system('…')`, `\=system(…)`).
        let end = ex_command_end(rest);
        ex_calls(&rest[..end], out);
        rest = &rest[end..];
    }
}

/// A shell line after `!`: empty, it is one only known when it runs (`!` repeats the last
/// one; a variable's value was left out of the text).
fn push_code(shell: &str, out: &mut Vec<Run>) {
    if shell.trim().is_empty() {
        out.push(Run::Unknown("a shell command only known when it runs"));
    } else {
        out.push(Run::Code(shell.to_string()));
    }
}

/// Past `++opt` arguments (`:r ++enc=utf8 !cmd`, `:terminal ++close cmd`).
fn skip_ex_opts(s: &str) -> &str {
    let mut s = s.trim_start();
    while s.starts_with("++") {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        s = s[end..].trim_start();
    }
    s
}

/// Past a line range: numbers, `.`, `$`, `%`, marks, `/pat/`, `?pat?`, offsets.
fn skip_ex_range(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' | b'.' | b'$' | b'%' | b',' | b';' | b'+' | b'-' | b' ' | b'\t' => i += 1,
            b'\'' if i + 1 < b.len() => i += 2,
            b'\\' if i + 1 < b.len() && matches!(b[i + 1], b'/' | b'?' | b'&') => i += 2,
            d @ (b'/' | b'?') => {
                i += 1;
                while i < b.len() && b[i] != d {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            _ => break,
        }
    }
    s.get(i.min(s.len())..).unwrap_or("")
}

/// Where the ex command starting `s` ends: at a `|` outside strings.
fn ex_command_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'|') => return i,
            (None, q @ (b'\'' | b'"')) => quote = Some(q),
            (Some(b'"'), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// A Vim string literal at the start of `s` (`'…'` with `''` for a quote, `"…"` with
/// backslash escapes), and what follows it.
fn single_string(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, q) = chars.next()?;
    if q != '\'' && q != '"' {
        return None;
    }
    let mut text = String::new();
    let mut chars = chars.peekable();
    while let Some((i, ch)) = chars.next() {
        if ch == q {
            if q == '\'' && chars.peek().map(|(_, c)| *c) == Some('\'') {
                chars.next();
                text.push('\'');
                continue;
            }
            return Some((text, &s[i + 1..]));
        }
        if q == '"' && ch == '\\' {
            match chars.next() {
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, c)) => text.push(c),
                None => return None,
            }
            continue;
        }
        text.push(ch);
    }
    None
}

fn ex_calls(s: &str, out: &mut Vec<Run>) {
    let mut calls = 0;
    for f in EX_RUNNERS {
        let mut from = 0;
        while let Some(i) = s[from..].find(f) {
            calls += 1;
            if calls > MAX_CALLS {
                out.push(Run::Unknown(
                    "more vim function calls than shellguard reads",
                ));
                return;
            }
            let at = from + i;
            from = at + f.len();
            let before = s[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '#') {
                continue;
            }
            let Some(call) = s[from..].trim_start().strip_prefix('(') else {
                continue;
            };
            match single_string(call.trim_start()) {
                Some((code, tail)) if tail.trim_start().starts_with([')', ',']) => {
                    push_code(&code, out)
                }
                _ => out.push(Run::Unknown("vim runs a command built at run time")),
            }
        }
    }
}

/// `:set` arguments, split on unescaped blanks, `\ ` unescaped.
fn split_ex_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '|' => break,
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

// ---------------------------------------------------------------------------------------
// less

/// What less's start-up commands (`+CMD`, `++CMD`) run: `!cmd`, and `|m cmd` (a pipe from a
/// mark).
pub(in crate::analyze) fn less_runs(commands: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut rest = commands.trim_start_matches('+');
    while let Some(ch) = rest.chars().next() {
        match ch {
            '!' => {
                push_code(&rest[1..], &mut out);
                break;
            }
            '|' => {
                let cmd = rest[1..].get(1..).unwrap_or("");
                push_code(cmd, &mut out);
                break;
            }
            // A search, a file name, an option's value: the rest is data.
            '/' | '?' | '&' | ':' | 's' | 'o' | 'O' | 'm' | '\'' => break,
            '-' | '_' => rest = rest.get(2..).unwrap_or(""),
            c => rest = &rest[c.len_utf8()..],
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Tcl (expect)

/// One word of a Tcl command: its text, and whether part of it is known only when it runs.
type TclWord = (String, bool);

/// What a Tcl script (expect) runs: `spawn ARGV`, `exec ARGV | ARGV`, `system LINE`,
/// `open "|ARGV"`, also inside braces and brackets.
pub(in crate::analyze) fn tcl_runs(script: &str) -> Vec<Run> {
    let mut out = Vec::new();
    tcl_script(script, &mut out, 0);
    out
}

fn tcl_script(script: &str, out: &mut Vec<Run>, depth: usize) {
    if depth > MAX_NEST {
        out.push(Run::Unknown("Tcl nested too deeply to read"));
        return;
    }
    let c: Vec<char> = script.chars().collect();
    let mut p = 0;
    while p < c.len() {
        while p < c.len() && (c[p].is_whitespace() || c[p] == ';') {
            p += 1;
        }
        if p < c.len() && c[p] == '#' {
            while p < c.len() && c[p] != '\n' {
                p += 1;
            }
            continue;
        }
        let mut words: Vec<TclWord> = Vec::new();
        while p < c.len() && c[p] != '\n' && c[p] != ';' {
            if c[p] == ' ' || c[p] == '\t' {
                p += 1;
                continue;
            }
            if c[p] == '\\' && c.get(p + 1) == Some(&'\n') {
                p += 2;
                continue;
            }
            let (word, q) = tcl_word(&c, p, out, depth);
            words.push(word);
            p = q;
        }
        tcl_command(&words, out);
    }
}

/// One word from `p`: braces keep their text (read again as a script, since expect's
/// actions are scripts), quotes and bare words substitute `$var` and `[cmd]`.
fn tcl_word(c: &[char], mut p: usize, out: &mut Vec<Run>, depth: usize) -> (TclWord, usize) {
    let mut text = String::new();
    let mut dynamic = false;
    if c[p] == '{' {
        let mut level = 0usize;
        while p < c.len() {
            match c[p] {
                '\\' => {
                    text.push('\\');
                    if let Some(&n) = c.get(p + 1) {
                        text.push(n);
                    }
                    p += 2;
                    continue;
                }
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        p += 1;
                        break;
                    }
                }
                _ => {}
            }
            if level > 1 || c[p] != '{' {
                text.push(c[p]);
            }
            p += 1;
        }
        tcl_script(&text, out, depth + 1);
        return ((text, false), p);
    }
    let quoted = c[p] == '"';
    if quoted {
        p += 1;
    }
    while p < c.len() {
        let ch = c[p];
        if quoted && ch == '"' {
            p += 1;
            break;
        }
        if !quoted && (ch.is_whitespace() || ch == ';') {
            break;
        }
        match ch {
            '\\' => {
                match c.get(p + 1) {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some(&n) => text.push(n),
                    None => {}
                }
                p += 2;
            }
            '$' => {
                dynamic = true;
                p += 1;
                if c.get(p) == Some(&'{') {
                    while p < c.len() && c[p] != '}' {
                        p += 1;
                    }
                    p += 1;
                } else {
                    while p < c.len() && (c[p].is_alphanumeric() || c[p] == '_' || c[p] == ':') {
                        p += 1;
                    }
                }
            }
            '[' => {
                let start = p + 1;
                let mut level = 0usize;
                while p < c.len() {
                    match c[p] {
                        '\\' => p += 1,
                        '[' => level += 1,
                        ']' => {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    p += 1;
                }
                let inner: String = c[start..p.min(c.len())].iter().collect();
                tcl_script(&inner, out, depth + 1);
                dynamic = true;
                p += 1;
            }
            _ => {
                text.push(ch);
                p += 1;
            }
        }
    }
    ((text, dynamic), p)
}

fn tcl_command(words: &[TclWord], out: &mut Vec<Run>) {
    let Some((name, false)) = words.first() else {
        return;
    };
    let argv = |ws: &[TclWord]| -> Vec<Option<String>> {
        ws.iter()
            .map(|(t, d)| if *d { None } else { Some(t.clone()) })
            .collect()
    };
    match name.as_str() {
        "spawn" => {
            let mut k = 1;
            while let Some((w, false)) = words.get(k) {
                if !w.starts_with('-') {
                    break;
                }
                k += if matches!(w.as_str(), "-open" | "-leaveopen" | "-ignore") {
                    2
                } else {
                    1
                };
            }
            if k < words.len() {
                out.push(Run::Argv(argv(&words[k..])));
            }
        }
        "exec" => {
            let mut k = 1;
            while let Some((w, false)) = words.get(k) {
                if w == "--" {
                    k += 1;
                    break;
                }
                if !w.starts_with('-') {
                    break;
                }
                k += 1;
            }
            let mut part: Vec<TclWord> = Vec::new();
            let mut skip_next = false;
            for w in words.get(k..).unwrap_or(&[]) {
                if skip_next {
                    skip_next = false;
                    continue;
                }
                let t = w.0.as_str();
                if !w.1 && (t == "|" || t == "|&") {
                    if !part.is_empty() {
                        out.push(Run::Argv(argv(&part)));
                    }
                    part.clear();
                } else if !w.1 && (t.starts_with(['<', '>']) || t.starts_with("2>")) {
                    // A redirection; its file is glued or the next word.
                    skip_next = t.trim_start_matches(['<', '>', '2', '&', '@']).is_empty();
                } else if t != "&" || w.1 {
                    part.push(w.clone());
                }
            }
            if !part.is_empty() {
                out.push(Run::Argv(argv(&part)));
            }
        }
        "system" => {
            let rest = &words[1..];
            if rest.iter().any(|w| w.1) {
                out.push(Run::Unknown(
                    "expect's `system` of a command built at run time",
                ));
            } else if !rest.is_empty() {
                let line: Vec<&str> = rest.iter().map(|w| w.0.as_str()).collect();
                out.push(Run::Code(line.join(" ")));
            }
        }
        "open" => {
            if let Some((w, d)) = words.get(1) {
                if let Some(pipe) = w.strip_prefix('|') {
                    if *d {
                        out.push(Run::Unknown("Tcl `open |…` of a command built at run time"));
                    } else {
                        let argv = pipe.split_whitespace().map(|s| Some(s.to_string()));
                        out.push(Run::Argv(argv.collect()));
                    }
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// make

/// Stands for a make variable's value in a recipe: a shell variable nobody sets, so the
/// word it sits in is known only when it runs.
const MAKE_VALUE: &str = "${__make_variable__}";

/// What makefile text runs: recipe lines (after `TARGET: ;` or tab-led under a rule),
/// `$(shell …)` and `VAR != …`. Make's own references become unknown words; `$$` is `$`.
pub(in crate::analyze) fn make_runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut in_rule = false;
    for (shell, _) in make_shell_calls(text) {
        out.push(Run::Code(make_to_shell(&shell)));
    }
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for line in joined.lines() {
        if let Some(recipe) = line.strip_prefix('\t') {
            if in_rule {
                push_recipe(recipe, &mut out);
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        in_rule = false;
        // The first `:` or `=` outside `$(…)` tells a rule from an assignment.
        let b = line.as_bytes();
        let mut level = 0usize;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'(' | b'{' => level += 1,
                b')' | b'}' => level = level.saturating_sub(1),
                b'!' if level == 0 && b.get(i + 1) == Some(&b'=') => {
                    push_recipe(&line[i + 2..], &mut out);
                    break;
                }
                b'=' if level == 0 => break,
                b':' if level == 0 => {
                    if matches!(b.get(i + 1), Some(b'=')) || line[i..].starts_with("::=") {
                        break;
                    }
                    let after = &line[i + 1..];
                    let semi = after.find(';');
                    let eq = after.find('=');
                    if eq.is_some_and(|e| semi.is_none_or(|s| e < s)) {
                        // `target: VAR = value`
                        break;
                    }
                    in_rule = true;
                    if let Some(s) = semi {
                        push_recipe(&after[s + 1..], &mut out);
                    }
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

fn push_recipe(recipe: &str, out: &mut Vec<Run>) {
    let r =
        recipe.trim_start_matches(|c: char| c == '@' || c == '-' || c == '+' || c.is_whitespace());
    if !r.trim().is_empty() {
        out.push(Run::Code(make_to_shell(r)));
    }
}

/// `$(shell CMD)` and `${shell CMD}` anywhere in the text, with where they end.
fn make_shell_calls(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    // Each call is read to its end: a bound keeps nested calls from costing n².
    while i + 1 < b.len() && found.len() < MAX_CALLS {
        if b[i] == b'$' && matches!(b[i + 1], b'(' | b'{') {
            let close = if b[i + 1] == b'(' { b')' } else { b'}' };
            let start = i + 2;
            if text[start..].starts_with("shell ") || text[start..].starts_with("shell\t") {
                let mut level = 1usize;
                let mut j = start;
                while j < b.len() {
                    if b[j] == b[i + 1] {
                        level += 1;
                    } else if b[j] == close {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                found.push((text[start + 6..j.min(b.len())].to_string(), j));
            }
        }
        i += 1;
    }
    found
}

/// A recipe as the shell gets it: `$$` is `$`; `$(RM)` is `rm -f`; other references to
/// make's variables are unknown words.
fn make_to_shell(recipe: &str) -> String {
    let mut s = String::new();
    let b = recipe.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let ch = recipe[i..].chars().next().unwrap_or(' ');
            s.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                s.push('$');
                i += 2;
            }
            Some(&open @ (b'(' | b'{')) => {
                let close = if open == b'(' { b')' } else { b'}' };
                let mut level = 1usize;
                let mut j = i + 2;
                while j < b.len() {
                    if b[j] == open {
                        level += 1;
                    } else if b[j] == close {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                let name = recipe.get(i + 2..j.min(b.len())).unwrap_or("");
                s.push_str(match name {
                    "RM" => "rm -f",
                    "MAKE" => "make",
                    _ => MAKE_VALUE,
                });
                i = j + 1;
            }
            Some(_) => {
                s.push_str(MAKE_VALUE);
                i += 1 + recipe[i + 1..].chars().next().map_or(1, char::len_utf8);
            }
            None => i += 1,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Run {
        Run::Code(s.into())
    }

    #[test]
    fn sed_scripts() {
        assert_eq!(sed_runs("s/a/b/g"), vec![]);
        assert_eq!(sed_runs("/re/d;s/e/E/2;y/abc/xyz/"), vec![]);
        assert_eq!(sed_runs("1,/^end$/{s/x/y/;p};$!N"), vec![]);
        assert_eq!(sed_runs(":a;N;$!ba;s/\\n/ /g"), vec![]);
        assert_eq!(sed_runs("/x/a hello e world"), vec![]);
        assert_eq!(sed_runs("1e rm -rf ~"), vec![code("rm -rf ~")]);
        assert_eq!(sed_runs("s/.*/ls/e"), vec![code("ls")]);
        assert!(matches!(sed_runs("e")[..], [Run::Unknown(_)]));
        assert!(matches!(sed_runs("s/x/&/e")[..], [Run::Unknown(_)]));
        assert_eq!(sed_runs("s|x|y|w out.txt"), vec![]);
    }

    #[test]
    fn ex_commands() {
        for quiet in [
            "set nu",
            "q",
            "wq",
            "%s/a/b/g",
            "42",
            "w! out",
            "normal gg",
            "e file",
        ] {
            assert_eq!(ex_runs(quiet), vec![], "{quiet}");
        }
        assert_eq!(ex_runs("!make"), vec![code("make")]);
        assert_eq!(ex_runs(":silent !ls | q"), vec![code("ls | q")]);
        assert_eq!(ex_runs("r !date"), vec![code("date")]);
        assert_eq!(ex_runs("%!sort"), vec![code("sort")]);
        assert_eq!(ex_runs("call system('rm x')"), vec![code("rm x")]);
        assert_eq!(ex_runs("exe '!ls'"), vec![code("ls")]);
        assert_eq!(ex_runs("g/x/!ls"), vec![code("ls")]);
        assert_eq!(ex_runs("set makeprg=rm\\ x"), vec![code("rm x")]);
    }

    /// Every reader takes any text: unterminated, unbalanced, multi-byte, deeply nested.
    #[test]
    fn readers_take_any_text() {
        let alphabet: Vec<char> = "se/\\!|{}[]$()\"';:\n\t &#+-0é字ab=xrwgpI.*^~,"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut texts: Vec<String> = vec![
            "{".repeat(5000),
            "[".repeat(5000),
            "$(shell ".repeat(2000),
            "exe '".repeat(500),
            "system('".repeat(500),
            "s/".repeat(3000),
            "g/x/".repeat(500),
        ];
        for _ in 0..3000 {
            let len = (seed % 40) as usize;
            let mut t = String::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                t.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            texts.push(t);
        }
        for t in &texts {
            let _ = (
                sed_runs(t),
                ex_runs(t),
                less_runs(t),
                tcl_runs(t),
                make_runs(t),
            );
        }
    }

    #[test]
    fn tcl_and_make() {
        assert_eq!(
            tcl_runs("spawn ssh host; expect \"$ \" { send \"ls\\r\" }"),
            vec![Run::Argv(vec![Some("ssh".into()), Some("host".into())])]
        );
        assert_eq!(
            tcl_runs("exec rm -rf /x 2> /dev/null"),
            vec![Run::Argv(vec![
                Some("rm".into()),
                Some("-rf".into()),
                Some("/x".into())
            ])]
        );
        assert_eq!(make_runs("x:;rm -rf $$HOME"), vec![code("rm -rf $HOME")]);
        assert_eq!(make_runs("all:\n\t@echo hi\nX = 1"), vec![code("echo hi")]);
        assert_eq!(make_runs("X := 1\nY = $(X)"), vec![]);
        assert_eq!(make_runs("X := $(shell ls)"), vec![code("ls")]);
    }
}
