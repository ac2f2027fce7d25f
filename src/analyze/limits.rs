//! Bounds on what the analyser accepts, so hostile input ends in a refusal, never a crash.
//!
//! brush-parser recurses once per nesting level and overflows the stack near ten thousand
//! levels; a cheap scan rejects deep nesting before the parser sees it. Time and memory are
//! bounded for the whole analysis by the process (see `sys`).

/// Largest text analysed; bigger input is refused as too complex.
pub const MAX_INPUT: usize = 4 * 1024 * 1024;

/// Deepest nesting of brackets, quotes-in-substitutions, heredocs and nested shell strings.
pub const MAX_DEPTH: usize = 64;

/// Most commands one analysis will report before it calls the input too complex.
pub const MAX_COMMANDS: usize = 100_000;

/// The deepest run of nested `(`, `{`, `[`, `$(` and backquotes in `text`, without reading
/// quotes: an over-estimate is harmless (it only refuses earlier), an under-estimate is not
/// possible for the constructs that make the parser recurse.
pub fn nesting_depth(text: &str) -> usize {
    let mut depth: usize = 0;
    let mut max = 0;
    let mut backquote = false;
    for b in text.bytes() {
        match b {
            b'(' | b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            b'`' => {
                backquote = !backquote;
                if backquote {
                    depth += 1;
                    max = max.max(depth);
                } else {
                    depth = depth.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    max
}

/// Keywords that open a compound command also make the parser recurse.
pub fn keyword_depth(text: &str) -> usize {
    let mut depth: usize = 0;
    let mut max = 0;
    for w in text.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|') {
        match w {
            "if" | "while" | "until" | "for" | "case" | "select" => {
                depth += 1;
                max = max.max(depth);
            }
            "fi" | "done" | "esac" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_not_length() {
        assert_eq!(nesting_depth("echo (a) (b) (c)"), 1);
        assert_eq!(nesting_depth("$( $( $(x) ) )"), 3);
        assert_eq!(nesting_depth("`a`"), 1);
        assert_eq!(nesting_depth(&"(".repeat(10_000)), 10_000);
        assert_eq!(keyword_depth("if a; then if b; then c; fi; fi"), 2);
    }
}
