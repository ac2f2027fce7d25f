//! The kinds of SQL statement in a text, for rules about databases.
//!
//! Not a SQL parser: comments and string literals are blanked, the text is split into
//! statements at `;`, and each statement is classified by its leading keywords. Good enough
//! to tell `DELETE FROM t` from `DELETE FROM t WHERE …` and to ignore `'DROP TABLE'` in data.

/// Statement kinds found in `sql`, as the ids rules use.
pub fn kinds(sql: &str) -> Vec<&'static str> {
    let clean = blank(sql);
    let mut out = Vec::new();
    for stmt in clean.split(';') {
        let words: Vec<String> = stmt
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .filter(|w| !w.is_empty())
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
        let has = |k: &str| words.iter().any(|x| x == k);
        let kind = match w(0) {
            "DROP" => match w(1) {
                "DATABASE" | "SCHEMA" => Some("drop-database"),
                _ => Some("drop"),
            },
            "TRUNCATE" => Some("truncate"),
            "DELETE" if !has("WHERE") => Some("delete-all"),
            "UPDATE" if !has("WHERE") => Some("update-all"),
            "ALTER" if has("DROP") => Some("alter-drop"),
            _ => None,
        };
        if let Some(k) = kind {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// Replace comments and string literals with spaces.
fn blank(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A quoted string ends at an unpaired quote ('' is a quote inside).
                while let Some(n) = chars.next() {
                    if n == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    if n == '\\' {
                        chars.next();
                    }
                }
                out.push_str("''");
            }
            '-' if chars.peek() == Some(&'-') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                out.push('\n');
            }
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                out.push('\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::kinds;

    #[test]
    fn kinds_table() {
        let cases: &[(&str, &[&str])] = &[
            ("DROP TABLE users", &["drop"]),
            ("drop database prod;", &["drop-database"]),
            ("DROP SCHEMA public CASCADE", &["drop-database"]),
            ("TRUNCATE orders", &["truncate"]),
            ("DELETE FROM sessions", &["delete-all"]),
            ("DELETE FROM sessions WHERE expires < now()", &[]),
            ("UPDATE users SET admin = true", &["update-all"]),
            ("UPDATE users SET a = 1 WHERE id = 2", &[]),
            ("ALTER TABLE t DROP COLUMN c", &["alter-drop"]),
            ("SELECT 'DROP TABLE x'", &[]),
            ("SELECT 1; -- DROP TABLE x", &[]),
            ("/* DROP TABLE x */ SELECT 1", &[]),
            ("SELECT 1; DROP TABLE x", &["drop"]),
            ("INSERT INTO t VALUES ('it''s; DROP TABLE x')", &[]),
        ];
        for (sql, want) in cases {
            assert_eq!(kinds(sql), *want, "sql {sql:?}");
        }
    }
}
