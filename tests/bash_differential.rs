//! Compares `cli::bash::parse` with the real bash on many generated command lines: what the
//! parser says bash will run must be what bash runs. Spawns a few thousand shells, so it is
//! ignored by default: `cargo test --test bash_differential -- --ignored`.

use std::ffi::OsString;
use std::io::Write;
use std::process::{Command, Stdio};

use shellguard::cli::bash::{parse, parse_invocation, Dialect, NoRun, Source, Ttys};

/// A word that prints one line whether bash runs it as `-c` text (`C:$0:$#`) or, as the name
/// of a script file, runs that file (`S:$#`).
const PROBE: &str = "echo \"C:$0:$#\"";
const STDIN: &str = "echo \"I:$#\"\n";

const BASH_WORDS: &[&str] = &[
    "-c",
    "-l",
    "-lc",
    "-cl",
    "-s",
    "+s",
    "-n",
    "+n",
    "-e",
    "-eo",
    "-o",
    "pipefail",
    "-O",
    "extglob",
    "--",
    "-",
    "--login",
    "-login",
    "--norc",
    "--version",
    "--bogus",
    "-z",
    "+c",
    "-i",
    "+i",
    "-D",
    "--pretty-print",
    "--rcfile",
    "/dev/null",
    "A",
    PROBE,
    PROBE,
];

const DASH_WORDS: &[&str] = &[
    "-c", "-l", "-lc", "-cl", "-s", "+s", "-n", "+n", "-e", "-eo", "-o", "errexit", "stdin",
    "noexec", "--", "-", "--login", "-V", "-I", "-z", "+c", "-i", "+i", "-D", "A", PROBE, PROBE,
];

/// What the parser predicts shows on stdout; `None` for "no marker at all".
fn predict(source: &Source, argv0: &str) -> Option<String> {
    match source {
        Source::Command {
            text,
            arg0,
            positional,
            then_stdin,
        } => {
            let mut lines = Vec::new();
            if text == PROBE {
                let zero = arg0.as_deref().unwrap_or(argv0);
                lines.push(format!("C:{zero}:{}", positional.len()));
            }
            if *then_stdin {
                lines.push(format!("I:{}", positional.len()));
            }
            (!lines.is_empty()).then(|| lines.join("|"))
        }
        Source::Script { path, args } if path.as_os_str() == PROBE => {
            Some(format!("S:{}", args.len()))
        }
        Source::Stdin { positional } => Some(format!("I:{}", positional.len())),
        // Interactive shells read the same stdin; $# is not predicted.
        Source::Interactive => Some("I:".to_owned()),
        _ => None,
    }
}

fn run(shell: &str, words: &[&str], dir: &std::path::Path) -> (String, Option<i32>) {
    let mut child = Command::new(shell)
        .args(words)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("BASH_ENV")
        .env_remove("ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A shell that exits early closes the pipe; that is fine.
    let _ = child.stdin.take().unwrap().write_all(STDIN.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let marker = text
        .lines()
        .filter(|l| l.starts_with("C:") || l.starts_with("S:") || l.starts_with("I:"))
        .collect::<Vec<_>>()
        .join("|");
    (marker, out.status.code())
}

fn words(alphabet: &[&'static str], mut n: u64, len: usize) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(alphabet[(n % alphabet.len() as u64) as usize]);
        n /= alphabet.len() as u64;
    }
    out
}

fn differential(dialect: Dialect, shell: &str, alphabet: &[&'static str]) {
    let dir = std::env::temp_dir().join(format!("shellguard-diff-{shell}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(PROBE);
    std::fs::write(&script, "echo \"S:$#\"\n").unwrap();

    let mut failures = Vec::new();
    // Every sequence up to length 2, then a deterministic spread of longer ones.
    let mut cases: Vec<Vec<&str>> = vec![vec![]];
    for len in 1..=2 {
        let total = (alphabet.len() as u64).pow(len as u32);
        cases.extend((0..total).map(|n| words(alphabet, n, len)));
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..1500 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 3 + (seed % 4) as usize;
        cases.push(words(alphabet, seed >> 8, len));
    }

    for case in &cases {
        let argv: Vec<OsString> = std::iter::once(shell)
            .chain(case.iter().copied())
            .map(OsString::from)
            .collect();
        let parsed = match dialect {
            Dialect::Bash => parse(&argv[1..], false, Ttys::NONE),
            Dialect::Dash => parse_invocation(dialect, &argv, Ttys::NONE),
        }
        .unwrap();
        let want = predict(&parsed.source, shell);
        let (got, code) = run(shell, case, &dir);
        let ok = match (&want, &parsed.source) {
            (Some(w), Source::Interactive) => got.starts_with(w.as_str()),
            (Some(w), _) => got == *w,
            // Usually 2; under `-e` bash 5.2 exits 1 on a usage error.
            (None, Source::NoRun(NoRun::Usage(_))) => got.is_empty() && code != Some(0),
            (None, _) => got.is_empty(),
        };
        // An unknown -o/-O name is analysed although the shell rejects it: the safe direction.
        let conservative = want.is_some() && got.is_empty() && code == Some(2)
            // A failing command under -e stops dash before it reads stdin: that is runtime.
            || parsed.flag('e') == Some(true)
                && want.as_deref().is_some_and(|w| w.starts_with(got.as_str()));
        if !ok && !conservative {
            failures.push(format!(
                "{shell} {case:?}: parsed {:?}, shell printed {got:?} (exit {code:?})",
                parsed.source
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore]
fn bash_agrees() {
    differential(Dialect::Bash, "bash", BASH_WORDS);
}

#[test]
#[ignore]
fn dash_agrees() {
    differential(Dialect::Dash, "dash", DASH_WORDS);
}
