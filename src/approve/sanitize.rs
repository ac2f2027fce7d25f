//! Making untrusted text safe to show on a terminal.
//!
//! The human approves what they *see*, so the text must not be able to change what they see:
//! no terminal control sequences (clear screen, move cursor, overwrite), no bidi overrides that
//! reorder characters, no invisible characters that hide or join words, no exotic spaces that
//! make one argument look like two. Each such character is replaced by a visible escape.
//!
//! Backslashes are deliberately left alone: doubling them would misrepresent every ordinary
//! shell command (`find -name \*.o`). The prompt styles escapes differently from literal text
//! so the two can still be told apart.

use std::fmt::Write as _;

/// One line of text: newlines are shown as `\n`, tabs as `\t`, and every character that could
/// disguise the text on a terminal as a visible escape (`\e`, `\r`, `\x08`, `\x7f`, `\u{202e}`).
pub fn for_display(s: &str) -> String {
    render(s, false)
}

/// Like [`for_display`], but newlines stay real line breaks, for showing multi-line commands
/// (heredocs, `&&` chains split over lines) as they were written.
pub fn for_display_multiline(s: &str) -> String {
    render(s, true)
}

fn render(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match escape(c) {
            Some(_) if keep_newlines && c == '\n' => out.push('\n'),
            Some(esc) => out.push_str(&esc),
            None => out.push(c),
        }
    }
    out
}

/// The visible escape for `c`, or `None` when `c` is safe to print as itself.
/// A newline is reported as needing escape; multi-line callers decide to keep it.
pub(crate) fn escape(c: char) -> Option<String> {
    let esc = match c {
        '\n' => "\\n".to_owned(),
        '\t' => "\\t".to_owned(),
        '\r' => "\\r".to_owned(),
        '\x1b' => "\\e".to_owned(),
        '\0'..='\x1f' | '\x7f' => format!("\\x{:02x}", c as u32),
        _ if is_disguising(c) => {
            let mut s = String::new();
            // Writing to a String cannot fail.
            let _ = write!(s, "\\u{{{:x}}}", c as u32);
            s
        }
        _ => return None,
    };
    Some(esc)
}

/// Characters beyond ASCII controls that a terminal may render invisibly, as spacing that is not
/// a plain space, or as an instruction (C1 controls include CSI, which some terminals honour).
fn is_disguising(c: char) -> bool {
    let cp = c as u32;
    matches!(
        cp,
        // C1 controls (U+009B is an 8-bit CSI), NBSP, soft hyphen.
        0x80..=0x9f | 0xa0 | 0xad
        // Combining grapheme joiner.
        | 0x34f
        // Arabic format chars, including the Arabic letter mark (bidi).
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        // Hangul fillers render as blank letters.
        | 0x115f | 0x1160 | 0x3164 | 0xffa0
        // Ogham space mark, Khmer invisible vowels, Mongolian selectors and vowel separator.
        | 0x1680 | 0x17b4 | 0x17b5 | 0x180b..=0x180f
        // Unicode spaces, zero-width space/non-joiner/joiner, LRM, RLM.
        | 0x2000..=0x200f
        // Line/paragraph separators, bidi embeddings and overrides, narrow NBSP.
        | 0x2028..=0x202f
        // Medium math space, word joiner, invisible operators, bidi isolates, deprecated formats.
        | 0x205f..=0x206f
        // Braille blank, ideographic space.
        | 0x2800 | 0x3000
        // Variation selectors, byte order mark / zero-width no-break space.
        | 0xfe00..=0xfe0f | 0xfeff
        // Specials: unassigned, interlinear annotation.
        | 0xfff0..=0xfffb
        // Supplementary format chars (Kaithi, Egyptian, shorthand, musical).
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        // Tags and variation selectors supplement.
        | 0xe0000..=0xe0fff
    ) || (cp & 0xfffe) == 0xfffe // noncharacters U+xFFFE / U+xFFFF in every plane
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_table() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("ls -la", "ls -la"),
            ("", ""),
            ("echo héllo 日本 🚀", "echo héllo 日本 🚀"),
            ("find . -name \\*.o", "find . -name \\*.o"),
            ("a\nb", "a\\nb"),
            ("a\tb", "a\\tb"),
            ("a\rb", "a\\rb"),
            ("\x1b[2Jrm -rf /", "\\e[2Jrm -rf /"),
            ("ab\x08\x08cd", "ab\\x08\\x08cd"),
            ("x\x7fy", "x\\x7fy"),
            ("\0\x01\x07", "\\x00\\x01\\x07"),
            ("\u{9b}2J", "\\u{9b}2J"),
            ("\u{85}", "\\u{85}"),
            ("rm \u{202e}fdp.exe", "rm \\u{202e}fdp.exe"),
            ("\u{202a}\u{202b}\u{202c}\u{202d}", "\\u{202a}\\u{202b}\\u{202c}\\u{202d}"),
            ("\u{2066}\u{2067}\u{2068}\u{2069}", "\\u{2066}\\u{2067}\\u{2068}\\u{2069}"),
            ("\u{200e}\u{200f}\u{61c}", "\\u{200e}\\u{200f}\\u{61c}"),
            ("r\u{200b}m", "r\\u{200b}m"),
            ("\u{200c}\u{200d}\u{2060}\u{feff}", "\\u{200c}\\u{200d}\\u{2060}\\u{feff}"),
            ("rm -rf ./build\u{a0}/", "rm -rf ./build\\u{a0}/"),
            ("a\u{3000}b\u{2003}c", "a\\u{3000}b\\u{2003}c"),
            ("soft\u{ad}hyphen", "soft\\u{ad}hyphen"),
            ("\u{2028}\u{2029}", "\\u{2028}\\u{2029}"),
            ("tag\u{e0041}", "tag\\u{e0041}"),
            ("vs\u{fe0f}", "vs\\u{fe0f}"),
            ("\u{3164}\u{2800}", "\\u{3164}\\u{2800}"),
            ("\u{fffe}\u{10ffff}", "\\u{fffe}\\u{10ffff}"),
        ];
        for (input, want) in cases {
            assert_eq!(for_display(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn multiline_table() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("a\nb", "a\nb"),
            ("cat <<EOF\nhi\nEOF", "cat <<EOF\nhi\nEOF"),
            ("a\r\nb", "a\\r\nb"),
            ("a\tb\n", "a\\tb\n"),
            ("\x1b]0;title\x07\n", "\\e]0;title\\x07\n"),
            ("x\u{202e}\ny", "x\\u{202e}\ny"),
            ("\u{85}", "\\u{85}"),
        ];
        for (input, want) in cases {
            assert_eq!(for_display_multiline(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn output_never_contains_a_control_or_format_char() {
        let all: String = (0u32..0x11_0000).filter_map(char::from_u32).collect();
        for (i, line) in [for_display(&all), for_display_multiline(&all)]
            .iter()
            .enumerate()
        {
            for c in line.chars() {
                let allowed_newline = i == 1 && c == '\n';
                assert!(
                    allowed_newline || (!c.is_control() && escape(c).is_none()),
                    "{c:?} survived sanitising"
                );
            }
        }
    }
}
