//! Valid bash that brush-parser rejects, rewritten into text it reads the same way.
//!
//! Tried only after a parse has failed, so a rewrite can never change how text that parses
//! is read. Each rewrite keeps every other byte where it was (spans stay true) and gives text
//! whose commands are those bash would run:
//! - `select NAME in WORDS; do …; done` is a `for` loop to the analysis (it runs its body
//!   with NAME set to one of WORDS); brush has no `select`.
//! - A backslash ending the input is a literal backslash to bash; brush calls it an
//!   unterminated escape. It is read as a blank: the word loses a backslash, which changes
//!   no path's class and no program's name.

use brush_parser::Token;

/// A rewrite of `src` that may parse, or `None` when none applies.
pub(super) fn repaired(src: &str) -> Option<String> {
    let mut out = src.to_owned();
    let mut changed = false;
    if ends_in_lone_backslash(src) {
        out.pop();
        out.push(' ');
        changed = true;
    }
    if src.contains("select") {
        if let Ok(tokens) = brush_parser::tokenize_str(&out) {
            let mut starts = Vec::new();
            let mut at_command = true;
            for t in &tokens {
                match t {
                    Token::Word(w, span) => {
                        if at_command && w == "select" {
                            starts.push(span.start.index);
                        }
                        at_command = starts_command(w);
                    }
                    Token::Operator(op, _) => {
                        at_command = op != ")" && !op.starts_with('<') && !op.starts_with('>')
                    }
                }
            }
            for start in starts {
                let Some(at) = byte_of_char(&out, start) else {
                    continue;
                };
                if out.get(at..at + 6) == Some("select") {
                    out.replace_range(at..at + 6, "for   ");
                    changed = true;
                }
            }
        }
    }
    changed.then_some(out)
}

/// Words after which the next word starts a command.
fn starts_command(word: &str) -> bool {
    matches!(
        word,
        "do" | "then" | "else" | "elif" | "if" | "while" | "until" | "{" | "!" | "time"
    )
}

fn ends_in_lone_backslash(src: &str) -> bool {
    let trailing = src.bytes().rev().take_while(|&b| b == b'\\').count();
    trailing % 2 == 1
}

fn byte_of_char(text: &str, char_index: usize) -> Option<usize> {
    if text.is_ascii() {
        return (char_index <= text.len()).then_some(char_index);
    }
    text.char_indices().nth(char_index).map(|(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::repaired;

    #[test]
    fn only_what_brush_misreads_is_rewritten() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "select x in a b; do echo $x; done",
                Some("for    x in a b; do echo $x; done"),
            ),
            (
                "ls; select f in *; do rm \"$f\"; break; done",
                Some("ls; for    f in *; do rm \"$f\"; break; done"),
            ),
            ("echo select x in a", None),
            ("psql -c 'select 1'", None),
            ("echo hi \\", Some("echo hi  ")),
            ("echo hi \\\\", None),
            ("ls", None),
        ];
        for (src, want) in cases {
            assert_eq!(repaired(src).as_deref(), *want, "{src:?}");
        }
    }
}
