//! The kinds of SQL statement in a text, for rules about databases.
//!
//! Not a SQL parser: comments and string literals are blanked, the text is split into
//! statements at `;`, and each statement is classified by its leading keywords. Good enough
//! to tell `DELETE FROM t` from `DELETE FROM t WHERE …` and to ignore `'DROP TABLE'` in data.

/// Statement kinds found in `sql`, as the ids rules use.
///
/// Each parenthesised part is judged on its own words, so a `WHERE` in a subquery does not
/// stand for the statement's (`UPDATE t SET a = (SELECT … WHERE …)` updates every row), and a
/// `DELETE` or `UPDATE` inside a common table expression is found (`WITH gone AS (DELETE FROM
/// t RETURNING *) SELECT …`). A leading `WITH` is passed over to the statement it introduces.
pub fn kinds(sql: &str) -> Vec<&'static str> {
    let clean = blank(sql);
    let mut out = Vec::new();
    for stmt in clean.split(';') {
        for (nested, words) in scopes(stmt) {
            if let Some(k) = classify(&words, nested) {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
    }
    out
}

/// The words of a statement, grouped by parentheses: the statement's own words first
/// (`false`), then each parenthesised part's (`true`), the words of parts inside a part not
/// among its own. Unbalanced parentheses are read as far as they go.
fn scopes(stmt: &str) -> Vec<(bool, Vec<String>)> {
    let mut done: Vec<(bool, Vec<String>)> = Vec::new();
    let mut open: Vec<Vec<String>> = vec![Vec::new()];
    let mut word = String::new();
    let flush = |word: &mut String, open: &mut Vec<Vec<String>>| {
        if !word.is_empty() {
            if let Some(top) = open.last_mut() {
                top.push(std::mem::take(word).to_ascii_uppercase());
            }
            word.clear();
        }
    };
    for c in stmt.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut open);
        match c {
            '(' => open.push(Vec::new()),
            ')' if open.len() > 1 => {
                if let Some(part) = open.pop() {
                    done.push((true, part));
                }
            }
            _ => {}
        }
    }
    flush(&mut word, &mut open);
    let mut rest = open.into_iter();
    let mut out = vec![(false, rest.next().unwrap_or_default())];
    out.extend(rest.map(|w| (true, w)));
    out.extend(done);
    out
}

/// The kind of one statement (or, `nested`, one parenthesised part) from its own words.
fn classify(words: &[String], nested: bool) -> Option<&'static str> {
    let start = if words.first().map(String::as_str) == Some("WITH") {
        // Past the names of the common table expressions (their bodies are parts of their
        // own) to the statement they are for.
        const VERBS: &[&str] = &[
            "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE",
        ];
        words.iter().position(|w| VERBS.contains(&w.as_str()))?
    } else {
        0
    };
    let words = &words[start..];
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let has = |k: &str| words.iter().any(|x| x == k);
    match w(0) {
        // Only data-changing statements stand in parentheses, and a quoted column named
        // `delete` is not one: such a statement has its FROM or SET.
        "DROP" | "TRUNCATE" | "ALTER" if nested => None,
        "DELETE" if nested && !has("FROM") => None,
        "UPDATE" if nested && !has("SET") => None,
        "DROP" => match w(1) {
            "DATABASE" | "SCHEMA" => Some("drop-database"),
            _ => Some("drop"),
        },
        "TRUNCATE" => Some("truncate"),
        "DELETE" if !has("WHERE") => Some("delete-all"),
        "UPDATE" if !has("WHERE") => Some("update-all"),
        "ALTER" if has("DROP") => Some("alter-drop"),
        _ => None,
    }
}

/// A dot-command of sqlite3 or duckdb that does more than set how output looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dot {
    /// `.read FILE`: runs the SQL in FILE.
    Read(String),
    /// `.shell CMD`, `.system CMD`: runs a shell command.
    Shell(String),
}

/// A sqlite3 or duckdb script split into its SQL and its dot-commands. As the clients read
/// it, a line is a dot-command when it starts with `.` and no statement is half written.
pub fn dot_script(text: &str) -> (String, Vec<Dot>) {
    let mut sql = String::with_capacity(text.len());
    let mut dots = Vec::new();
    let mut pending = false;
    for line in text.lines() {
        let t = line.trim_start();
        if !pending && t.starts_with('.') {
            let (cmd, arg) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            let arg = unquote(arg.trim());
            match cmd {
                ".read" => dots.push(Dot::Read(arg)),
                ".shell" | ".system" => dots.push(Dot::Shell(arg)),
                _ => {}
            }
            continue;
        }
        sql.push_str(line);
        sql.push('\n');
        let b = blank(line);
        match b.rfind(';') {
            Some(i) => pending = !b[i + 1..].trim().is_empty(),
            None => pending = pending || !b.trim().is_empty(),
        }
    }
    (sql, dots)
}

/// A dot-command's argument as the client reads it: one pair of quotes taken off.
fn unquote(s: &str) -> String {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    s.to_string()
}

/// Files of SQL larger than this are not read: a human looks instead.
pub const MAX_FILE: u64 = 256 * 1024;

/// What a file of SQL named on a command line holds, as far as it can be read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSql {
    /// Not there: the client fails and runs nothing.
    Missing,
    Text(String),
    /// There but not read: too large, not a regular file, or not readable.
    Unread,
}

/// Read a file of SQL the client would run (symbolic links followed, as the client does).
pub fn read_file(path: &std::path::Path) -> FileSql {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileSql::Missing,
        Err(_) => return FileSql::Unread,
    };
    // Never open a FIFO or a device: reading one could block or consume its data.
    if !meta.is_file() || meta.len() > MAX_FILE {
        return FileSql::Unread;
    }
    let mut bytes = Vec::new();
    match std::fs::File::open(path).map(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes)) {
        Ok(Ok(_)) if bytes.len() as u64 <= MAX_FILE => {
            FileSql::Text(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => FileSql::Unread,
    }
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
            ("WITH x AS (SELECT 1) SELECT * FROM x", &[]),
            (
                "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
                &["delete-all"],
            ),
            (
                "with s as (select id from a where b) delete from t",
                &["delete-all"],
            ),
            (
                "WITH RECURSIVE s(n) AS (SELECT 1) UPDATE t SET x = 1",
                &["update-all"],
            ),
            (
                "WITH s AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM s)",
                &[],
            ),
            (
                "WITH u AS (UPDATE t SET a = 1 WHERE id = 2 RETURNING *) SELECT * FROM u",
                &[],
            ),
            (
                "UPDATE t SET a = (SELECT max(b) FROM u WHERE u.id = 1)",
                &["update-all"],
            ),
            ("DELETE FROM t WHERE id IN (SELECT id FROM u)", &[]),
            ("SELECT * FROM t FOR UPDATE", &[]),
            (
                "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
                &[],
            ),
            ("SELECT coalesce(a, (b)) FROM t)) (((", &[]),
            ("((((DELETE FROM t", &["delete-all"]),
            ("INSERT INTO t (\"delete\", \"update\") VALUES (1, 2)", &[]),
        ];
        for (sql, want) in cases {
            assert_eq!(kinds(sql), *want, "sql {sql:?}");
        }
    }

    #[test]
    fn dot_commands_are_set_apart() {
        use super::{dot_script, Dot};
        let (sql, dots) = dot_script(
            ".headers on\n.mode csv\nSELECT 1;\n  .read 'more.sql'\nDELETE FROM t\n.tables\nWHERE a;\n.shell rm -rf x\n.system ls",
        );
        assert_eq!(sql, "SELECT 1;\nDELETE FROM t\n.tables\nWHERE a;\n");
        assert_eq!(
            dots,
            vec![
                Dot::Read("more.sql".into()),
                Dot::Shell("rm -rf x".into()),
                Dot::Shell("ls".into())
            ]
        );
        assert_eq!(
            kinds(&dot_script(".mode box\nDELETE FROM t;").0),
            ["delete-all"]
        );
    }
}
