//! Brace expansion of one raw word, as bash does it before any other expansion:
//! `{rm,-rf,x}` is the three words `rm -rf x`, `a{b,c}d` is `abd acd`, `{1..3}` is `1 2 3`.
//!
//! Works on the raw text, so quoting, `${…}`, `$(…)` and backquotes are honoured: braces
//! inside them are not expanded here. The number of words is bounded; past it the word is
//! unknown, which asks rather than guesses.

/// What brace expansion makes of a raw word.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Braces {
    /// No brace expression: the word stays as it is.
    None,
    /// The raw words it becomes, in order.
    Words(Vec<String>),
    /// More words than are worth analysing one by one.
    TooMany,
}

/// Words one expansion may make; bash's limit is memory, ours is the analysis budget.
const MAX_WORDS: usize = 256;
/// A sequence longer than this is not spelled out.
const MAX_SEQUENCE: i64 = 256;

pub(super) fn expand(raw: &str) -> Braces {
    let opens = raw.bytes().filter(|&b| b == b'{').count();
    if opens == 0 {
        return Braces::None;
    }
    // Each `{` may scan to the end of the word: bound the product, not just the length.
    if opens.saturating_mul(raw.len()) > 1 << 22 {
        return Braces::TooMany;
    }
    let mut out = Vec::new();
    match expand_into(raw, &mut out, 0) {
        Ok(true) => Braces::Words(out),
        Ok(false) => Braces::None,
        Err(()) => Braces::TooMany,
    }
}

/// Expand the first brace expression of `raw` and, recursively, what follows. `Ok(false)`
/// when `raw` has none (it is then pushed whole).
fn expand_into(raw: &str, out: &mut Vec<String>, depth: usize) -> Result<bool, ()> {
    if depth > 32 {
        return Err(());
    }
    let Some((open, close, parts)) = first_expression(raw) else {
        push(out, raw.to_owned())?;
        return Ok(false);
    };
    let (pre, post) = (&raw[..open], &raw[close + 1..]);
    for part in parts {
        // The part itself may hold braces (`{a,b{c,d}}`), and so may the text after.
        let joined = format!("{pre}{part}{post}");
        expand_into(&joined, out, depth + 1)?;
    }
    Ok(true)
}

fn push(out: &mut Vec<String>, w: String) -> Result<(), ()> {
    if out.len() >= MAX_WORDS {
        return Err(());
    }
    out.push(w);
    Ok(())
}

/// The first `{…}` that bash would expand: its byte positions and its alternatives.
fn first_expression(raw: &str) -> Option<(usize, usize, Vec<String>)> {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' => i = skip_single(b, i),
            b'"' => i = skip_double(b, i),
            b'`' => i = skip_backquote(b, i),
            b'$' if b.get(i + 1) == Some(&b'{') || b.get(i + 1) == Some(&b'(') => {
                i = skip_group(b, i + 1);
            }
            b'{' => {
                if let Some((close, parts)) = expression_at(raw, i) {
                    return Some((i, close, parts));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The expression opening at `open`, if it is one: a top-level comma list or a sequence.
fn expression_at(raw: &str, open: usize) -> Option<(usize, Vec<String>)> {
    let b = raw.as_bytes();
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' => i = skip_single(b, i),
            b'"' => i = skip_double(b, i),
            b'`' => i = skip_backquote(b, i),
            b'$' if b.get(i + 1) == Some(&b'{') || b.get(i + 1) == Some(&b'(') => {
                i = skip_group(b, i + 1);
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b'}' => {
                let body = &raw[open + 1..i];
                if !commas.is_empty() {
                    let mut parts = Vec::new();
                    let mut from = open + 1;
                    for &c in &commas {
                        parts.push(raw[from..c].to_owned());
                        from = c + 1;
                    }
                    parts.push(raw[from..i].to_owned());
                    return Some((i, parts));
                }
                return sequence(body).map(|parts| (i, parts));
            }
            b',' if depth == 0 => {
                commas.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// `1..5`, `05..1..2`, `a..e`: the words of a sequence expression.
fn sequence(body: &str) -> Option<Vec<String>> {
    let mut it = body.split("..");
    let (from, to) = (it.next()?, it.next()?);
    let step = match it.next() {
        Some(s) => s.parse::<i64>().ok()?.checked_abs()?.max(1),
        None => 1,
    };
    if it.next().is_some() {
        return None;
    }
    if let (Ok(a), Ok(z)) = (from.parse::<i64>(), to.parse::<i64>()) {
        if a.abs_diff(z) / step.unsigned_abs() > MAX_SEQUENCE as u64 {
            return None;
        }
        let width = if [from, to]
            .iter()
            .any(|s| s.trim_start_matches('-').starts_with('0') && s.len() > 1)
        {
            from.len().max(to.len())
        } else {
            0
        };
        let mut words = Vec::new();
        let mut n = a;
        loop {
            words.push(format!("{n:0width$}"));
            if n == z {
                break;
            }
            n = if a < z { n + step } else { n - step };
            if (a < z && n > z) || (a > z && n < z) {
                break;
            }
        }
        return Some(words);
    }
    let (mut fc, mut tc) = (from.chars(), to.chars());
    match (fc.next(), fc.next(), tc.next(), tc.next()) {
        (Some(a), None, Some(z), None) if a.is_ascii_alphabetic() && z.is_ascii_alphabetic() => {
            let (a, z) = (a as u8, z as u8);
            let step = u8::try_from(step).ok()?;
            let mut words = Vec::new();
            let mut n = a;
            loop {
                words.push((n as char).to_string());
                if n == z {
                    break;
                }
                n = if a < z {
                    n.checked_add(step)?
                } else {
                    n.checked_sub(step)?
                };
                if (a < z && n > z) || (a > z && n < z) {
                    break;
                }
            }
            Some(words)
        }
        _ => None,
    }
}

fn skip_single(b: &[u8], i: usize) -> usize {
    b[i + 1..]
        .iter()
        .position(|&c| c == b'\'')
        .map_or(b.len(), |p| i + 1 + p + 1)
}

fn skip_double(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_backquote(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'`' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// From an opening `{` or `(` after `$`, past its match (quotes inside honoured).
fn skip_group(b: &[u8], open: usize) -> usize {
    let (o, c) = (b[open], if b[open] == b'{' { b'}' } else { b')' });
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' => i = skip_single(b, i),
            b'"' => i = skip_double(b, i),
            x if x == o => {
                depth += 1;
                i += 1;
            }
            x if x == c => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::{expand, Braces};

    fn words(raw: &str) -> Vec<String> {
        match expand(raw) {
            Braces::Words(w) => w,
            Braces::None => vec![raw.to_owned()],
            Braces::TooMany => vec!["<too many>".into()],
        }
    }

    #[test]
    fn as_bash_expands_them() {
        let table: &[(&str, &str)] = &[
            ("{rm,-rf,x}", "rm -rf x"),
            ("a{b,c}d", "abd acd"),
            ("/{etc,usr}", "/etc /usr"),
            ("{a,b{c,d}}", "a bc bd"),
            ("{a,b}{1,2}", "a1 a2 b1 b2"),
            ("{1..4}", "1 2 3 4"),
            ("{4..1..2}", "4 2"),
            ("{01..03}", "01 02 03"),
            ("{a..c}", "a b c"),
            ("{,x}", " x"),
            ("{a}", "{a}"),
            ("{}", "{}"),
            ("'{a,b}'", "'{a,b}'"),
            ("\"{a,b}\"", "\"{a,b}\""),
            ("\\{a,b}", "\\{a,b}"),
            ("${x:-{a,b}}", "${x:-{a,b}}"),
            ("$(echo {a,b})", "$(echo {a,b})"),
            ("x{'a,b',c}", "x'a,b' xc"),
            ("{1..9999999}", "{1..9999999}"),
            ("{a..9}", "{a..9}"),
        ];
        for (raw, want) in table {
            assert_eq!(words(raw).join(" "), *want, "{raw:?}");
        }
    }

    #[test]
    fn hostile_input_is_bounded() {
        assert_eq!(expand(&"{a,b}".repeat(20)), Braces::TooMany);
        let deep = format!("{}x{}", "{a,".repeat(5000), "}".repeat(5000));
        assert!(matches!(expand(&deep), Braces::TooMany | Braces::Words(_)));
        assert_eq!(expand("{"), Braces::None);
        assert_eq!(expand("{a,b"), Braces::None);
        assert_eq!(
            expand("é{à,ü}"),
            Braces::Words(vec!["éà".into(), "éü".into()])
        );
    }
}
