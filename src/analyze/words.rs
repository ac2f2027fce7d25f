//! One raw shell word to the argv words bash would make of it: quotes removed, `~` and
//! known variables expanded, unknown parts marked, substitutions handed back to be analysed.

use std::collections::HashMap;

use brush_parser::word::{Parameter, ParameterExpr, SpecialParameter, TildeExpr, WordPiece};
use brush_parser::ParserOptions;

use super::Arg;

/// What a variable holds at this point of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Known(String),
    /// One path matching this glob pattern (a `for` variable over `dir/*`): quoted, it is one
    /// word in the pattern's place; unquoted, the matched name may split into any words.
    OneOf(String),
    /// Set to something that cannot be known here.
    Unknown,
}

/// The variables and parameters in scope while a word is expanded.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    /// Assignments seen in the text so far (they shadow the environment).
    pub assigned: HashMap<String, Value>,
    /// `$0`, and `$1…` when the invocation gave them; `None` = unknown (inside a function).
    pub arg0: Option<String>,
    pub positional: Option<Vec<String>>,
}

/// A substitution found inside a word: its text is shell code that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Substitution {
    pub code: String,
}

pub(super) struct Expander<'a> {
    pub scope: &'a Scope,
    pub env: &'a HashMap<String, String>,
    pub cwd: Option<&'a std::path::Path>,
    pub options: &'a ParserOptions,
}

/// Words made of one raw word, plus the code of any substitutions in it.
#[derive(Debug, Default)]
pub(super) struct Expanded {
    pub args: Vec<Arg>,
    pub substitutions: Vec<Substitution>,
}

impl Expander<'_> {
    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.scope.assigned.get(name) {
            return Some(v.clone());
        }
        if name == "PWD" {
            if let Some(cwd) = self.cwd {
                return Some(Value::Known(cwd.to_string_lossy().into_owned()));
            }
        }
        self.env.get(name).map(|v| Value::Known(v.clone()))
    }

    fn home(&self) -> Option<String> {
        match self.lookup("HOME") {
            Some(Value::Known(h)) => Some(h),
            _ => None,
        }
    }

    /// Expand one raw word. Unparseable words come back as one unknown word.
    pub fn expand(&self, raw: &str) -> Expanded {
        let mut out = Builder::default();
        match brush_parser::word::parse(raw, self.options) {
            Ok(pieces) => {
                for p in &pieces {
                    self.piece(&p.piece, false, &mut out);
                }
            }
            Err(_) => {
                out.cur.dynamic = true;
                out.touched = true;
                // The text may still hide a substitution; keep its code for analysis.
                if raw.contains("$(") || raw.contains('`') {
                    out.subs.push(Substitution {
                        code: raw.to_owned(),
                    });
                }
            }
        }
        out.finish()
    }

    /// Expand the body of a heredoc whose delimiter was not quoted: only `$…` and `` `…` ``
    /// are special there.
    pub fn expand_heredoc(&self, body: &str) -> Expanded {
        let mut out = Builder::default();
        match brush_parser::word::parse_heredoc(body, self.options) {
            Ok(pieces) => {
                for p in &pieces {
                    self.piece(&p.piece, true, &mut out);
                }
            }
            Err(_) => {
                out.cur.dynamic = true;
                out.touched = true;
            }
        }
        let mut e = out.finish();
        // A heredoc is one text, never split into words.
        if e.args.len() > 1 {
            let dynamic = e.args.iter().any(|a| a.dynamic);
            let text = e
                .args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            e.args = vec![Arg {
                text,
                dynamic,
                glob: false,
                quoted: true,
            }];
        }
        e
    }

    /// The command substitutions inside arithmetic or other text where only `$…` and
    /// `` `…` `` are special. Text that does not parse is kept whole, to be analysed as code.
    pub fn substitutions_in(&self, text: &str) -> Vec<Substitution> {
        match brush_parser::word::parse_heredoc(text, self.options) {
            Ok(pieces) => {
                let mut out = Builder::default();
                for p in &pieces {
                    self.piece(&p.piece, true, &mut out);
                }
                out.subs
            }
            Err(_) => vec![Substitution {
                code: text.to_owned(),
            }],
        }
    }

    fn piece(&self, piece: &WordPiece, quoted: bool, out: &mut Builder) {
        out.touched = true;
        match piece {
            WordPiece::Text(t) => {
                if !quoted && t.contains(['*', '?', '[']) {
                    out.cur.glob = true;
                }
                if !quoted && t.contains('{') && (t.contains(',') || t.contains("..")) {
                    out.cur.glob = true;
                }
                out.cur.text.push_str(t);
            }
            WordPiece::SingleQuotedText(t) => {
                out.cur.quoted = true;
                out.cur.text.push_str(t);
            }
            WordPiece::AnsiCQuotedText(t) => {
                out.cur.quoted = true;
                out.cur.text.push_str(&decode_ansi_c(t));
            }
            WordPiece::DoubleQuotedSequence(seq) | WordPiece::GettextDoubleQuotedSequence(seq) => {
                out.cur.quoted = true;
                for p in seq {
                    self.piece(&p.piece, true, out);
                }
            }
            WordPiece::EscapeSequence(s) => {
                out.cur.quoted = true;
                let rest = s.strip_prefix('\\').unwrap_or(s);
                if rest != "\n" {
                    out.cur.text.push_str(rest);
                }
            }
            WordPiece::TildeExpansion(t) => match t {
                TildeExpr::Home => match self.home() {
                    Some(h) => out.cur.text.push_str(&h),
                    None => out.cur.dynamic = true,
                },
                TildeExpr::UserHome(user) => match user_home(user) {
                    Some(h) => out.cur.text.push_str(&h),
                    None => out.cur.dynamic = true,
                },
                TildeExpr::WorkingDir => match self.cwd {
                    Some(c) => out.cur.text.push_str(&c.to_string_lossy()),
                    None => out.cur.dynamic = true,
                },
                _ => out.cur.dynamic = true,
            },
            WordPiece::ParameterExpansion(expr) => self.parameter(expr, quoted, out),
            WordPiece::CommandSubstitution(code) => {
                out.cur.dynamic = true;
                out.subs.push(Substitution { code: code.clone() });
            }
            WordPiece::BackquotedCommandSubstitution(code) => {
                out.cur.dynamic = true;
                out.subs.push(Substitution {
                    code: code.replace("\\`", "`"),
                });
            }
            WordPiece::ArithmeticExpression(e) => {
                out.cur.dynamic = true;
                // `$(( $(cmd) / 60 ))` runs cmd; the rest is arithmetic, not a command line.
                if e.value.contains("$(") || e.value.contains('`') {
                    out.subs.extend(self.substitutions_in(&e.value));
                }
            }
        }
    }

    fn parameter(&self, expr: &ParameterExpr, quoted: bool, out: &mut Builder) {
        let (param, indirect) = match expr {
            ParameterExpr::Parameter {
                parameter,
                indirect,
            } => (parameter, *indirect),
            ParameterExpr::UseDefaultValues {
                parameter: Parameter::Named(name),
                indirect: false,
                default_value,
                ..
            } => {
                // `${TMPDIR:-/tmp}`: the value when set, else the default, when either is known.
                match self.lookup(name) {
                    Some(Value::Known(v)) if !v.is_empty() => out.push_value(&v, quoted),
                    None => {
                        let d = self.expand(default_value.as_deref().unwrap_or(""));
                        out.subs.extend(d.substitutions);
                        match d.args.as_slice() {
                            [] => {}
                            [one] if !one.dynamic => out.push_value(&one.text, quoted),
                            _ => out.cur.dynamic = true,
                        }
                    }
                    _ => out.cur.dynamic = true,
                }
                return;
            }
            other => {
                // Only the plain form is resolved; the others are dynamic, but any code in
                // their operands (`${X:-$(rm -rf /)}`) still runs.
                out.cur.dynamic = true;
                for text in operand_texts(other) {
                    let inner = self.expand(text);
                    out.subs.extend(inner.substitutions);
                }
                return;
            }
        };
        if indirect {
            out.cur.dynamic = true;
            return;
        }
        match param {
            Parameter::Named(name) => match self.lookup(name) {
                Some(Value::Known(v)) => out.push_value(&v, quoted),
                Some(Value::OneOf(p)) if quoted => {
                    out.cur.text.push_str(&p);
                    out.cur.glob = true;
                }
                _ => out.cur.dynamic = true,
            },
            Parameter::Positional(0) => match &self.scope.arg0 {
                Some(v) => out.push_value(v, quoted),
                None => out.cur.dynamic = true,
            },
            Parameter::Positional(n) => match &self.scope.positional {
                Some(p) => {
                    let v = p.get(*n as usize - 1).cloned().unwrap_or_default();
                    out.push_value(&v, quoted)
                }
                None => out.cur.dynamic = true,
            },
            Parameter::Special(SpecialParameter::ShellName) => match &self.scope.arg0 {
                Some(v) => out.push_value(v, quoted),
                None => out.cur.dynamic = true,
            },
            Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate }) => {
                match &self.scope.positional {
                    Some(p) if quoted && !concatenate => out.push_fields(p),
                    Some(p) => out.push_value(&p.join(" "), quoted),
                    None => out.cur.dynamic = true,
                }
            }
            _ => out.cur.dynamic = true,
        }
    }
}

/// The operand strings of a parameter expression, which bash expands (and so may run).
fn operand_texts(expr: &ParameterExpr) -> Vec<&str> {
    fn opt(o: &Option<String>) -> Vec<&str> {
        o.as_deref().into_iter().collect()
    }
    match expr {
        ParameterExpr::UseDefaultValues { default_value, .. }
        | ParameterExpr::AssignDefaultValues { default_value, .. } => opt(default_value),
        ParameterExpr::IndicateErrorIfNullOrUnset { error_message, .. } => opt(error_message),
        ParameterExpr::UseAlternativeValue {
            alternative_value, ..
        } => opt(alternative_value),
        ParameterExpr::RemoveSmallestSuffixPattern { pattern, .. }
        | ParameterExpr::RemoveLargestSuffixPattern { pattern, .. }
        | ParameterExpr::RemoveSmallestPrefixPattern { pattern, .. }
        | ParameterExpr::RemoveLargestPrefixPattern { pattern, .. } => opt(pattern),
        ParameterExpr::ReplaceSubstring {
            pattern,
            replacement,
            ..
        } => {
            let mut v = vec![pattern.as_str()];
            v.extend(replacement.as_deref());
            v
        }
        _ => Vec::new(),
    }
}

#[derive(Default)]
struct Builder {
    args: Vec<Arg>,
    cur: Arg,
    subs: Vec<Substitution>,
    /// Whether anything was added to `cur` (an empty quoted word is still a word).
    touched: bool,
}

impl Default for Arg {
    fn default() -> Self {
        Arg::literal("")
    }
}

impl Builder {
    /// A variable's value: split into fields and globbed when unquoted, as bash does.
    fn push_value(&mut self, v: &str, quoted: bool) {
        if quoted {
            self.cur.text.push_str(v);
            return;
        }
        if v.contains(['*', '?', '[']) {
            self.cur.glob = true;
        }
        let mut fields = v.split([' ', '\t', '\n']).filter(|f| !f.is_empty());
        if v.starts_with([' ', '\t', '\n']) && self.touched_text() {
            self.break_field();
        }
        if let Some(first) = fields.next() {
            self.cur.text.push_str(first);
        }
        for f in fields {
            self.break_field();
            self.cur.text.push_str(f);
        }
        if v.ends_with([' ', '\t', '\n']) {
            self.break_field();
        }
    }

    /// `"$@"`: one word per positional parameter.
    fn push_fields(&mut self, fields: &[String]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.break_field();
            }
            self.cur.text.push_str(f);
        }
        if fields.is_empty() && self.cur.text.is_empty() {
            // `"$@"` with no parameters is no word at all.
            self.touched = false;
        }
    }

    fn touched_text(&self) -> bool {
        !self.cur.text.is_empty()
    }

    fn break_field(&mut self) {
        if !self.cur.text.is_empty() || self.cur.dynamic {
            let done = std::mem::take(&mut self.cur);
            self.args.push(done);
        }
    }

    fn finish(mut self) -> Expanded {
        // An empty quoted word (`''`) is still a word; an empty unquoted one is none.
        let keep =
            !self.cur.text.is_empty() || (self.touched && (self.cur.dynamic || self.cur.quoted));
        if keep {
            self.args.push(self.cur);
        }
        Expanded {
            args: self.args,
            substitutions: self.subs,
        }
    }
}

fn user_home(user: &str) -> Option<String> {
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
}

/// Decode the body of `$'…'`.
pub(super) fn decode_ansi_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut n = 0u32;
                let mut digits = 0;
                while digits < max {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            n = n * 16 + d;
                            chars.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    out.push('\\');
                    out.push(e);
                } else if let Some(ch) = char::from_u32(n) {
                    out.push(ch);
                }
            }
            '0'..='7' => {
                let mut n = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                if let Some(ch) = char::from_u32(n & 0xff) {
                    out.push(ch);
                }
            }
            'c' => {
                if let Some(x) = chars.next() {
                    out.push(char::from_u32((x as u32) & 0x1f).unwrap_or('?'));
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(raw: &str) -> Vec<String> {
        let env: HashMap<String, String> = [
            ("HOME".to_string(), "/home/u".to_string()),
            ("SPACED".to_string(), "-rf /".to_string()),
        ]
        .into_iter()
        .collect();
        let scope = Scope {
            positional: Some(vec!["a b".into(), "c".into()]),
            arg0: Some("name".into()),
            ..Scope::default()
        };
        let opts = ParserOptions::default();
        let x = Expander {
            scope: &scope,
            env: &env,
            cwd: Some(std::path::Path::new("/p")),
            options: &opts,
        };
        x.expand(raw)
            .args
            .into_iter()
            .map(|a| {
                let mut s = a.text;
                if a.dynamic {
                    s.push('?');
                }
                if a.glob {
                    s.push('*');
                }
                s
            })
            .collect()
    }

    macro_rules! cases {
        ($($raw:expr => [$($w:expr),*];)*) => {
            $( assert_eq!(words($raw), vec![$($w.to_string()),*] as Vec<String>, "word {:?}", $raw); )*
        };
    }

    #[test]
    fn expansion_table() {
        cases! {
            "plain" => ["plain"];
            "'-rf'" => ["-rf"];
            r#""a b""# => ["a b"];
            r"\git" => ["git"];
            "~/x" => ["/home/u/x"];
            "$HOME/.ssh" => ["/home/u/.ssh"];
            "\"$HOME\"" => ["/home/u"];
            "$SPACED" => ["-rf", "/"];
            "\"$SPACED\"" => ["-rf /"];
            "$UNSET/x" => ["/x?"];
            "\"$@\"" => ["a b", "c"];
            "$@" => ["a", "b", "c"];
            "$0" => ["name"];
            "$1" => ["a", "b"];
            "$(whoami)" => ["?"];
            "*.o" => ["*.o*"];
            "'*.o'" => ["*.o"];
            "$'\\x72m'" => ["rm"];
            "''" => [""];
            "$PWD/a" => ["/p/a"];
            "/{etc,usr}" => ["/{etc,usr}*"];
        }
    }

    #[test]
    fn substitutions_are_collected() {
        let env = HashMap::new();
        let scope = Scope::default();
        let opts = ParserOptions::default();
        let x = Expander {
            scope: &scope,
            env: &env,
            cwd: None,
            options: &opts,
        };
        let codes = |raw: &str| {
            x.expand(raw)
                .substitutions
                .into_iter()
                .map(|s| s.code)
                .collect::<Vec<_>>()
        };
        assert_eq!(codes("a$(rm -rf /)b"), vec!["rm -rf /"]);
        assert_eq!(codes("\"`rm x`\""), vec!["rm x"]);
        assert_eq!(codes("${X:-$(rm -rf /)}"), vec!["rm -rf /"]);
        assert!(codes("'$(rm -rf /)'").is_empty());
    }
}
