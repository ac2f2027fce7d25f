//! Reading a rules file must not panic, whatever the file; a file that reads must match
//! commands without panicking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shellguard::analyze::{analyze, Analysis, Context, PathContext};
use shellguard::rules::{evaluate, Origin, RuleSet, RulesFile};

const COMMANDS: &[&str] = &[
    "rm -rf ./build ~/x /",
    "git push --force origin main",
    "sudo -u root git reset --hard",
    "psql -c 'DROP TABLE users'",
    "kubectl -n prod delete pod x",
    "terraform destroy -auto-approve",
    "echo x > /etc/passwd",
    "find . -name '*.pyc' -delete",
    "$CMD",
    "echo 'unterminated",
];

fn samples() -> &'static [(String, Analysis)] {
    static S: OnceLock<Vec<(String, Analysis)>> = OnceLock::new();
    S.get_or_init(|| {
        let ctx = Context {
            cwd: Some("/nonexistent-sg/proj".into()),
            ..Context::default()
        };
        COMMANDS
            .iter()
            .map(|c| (c.to_string(), analyze(c, &ctx)))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = toml::from_str::<RulesFile>(text) else {
        return;
    };
    let origins = (0..file.rules.len())
        .map(|line| Origin::Builtin { line })
        .collect();
    let set = RuleSet::new(file.programs, file.rules, origins);
    let paths = PathContext::new(Some("/nonexistent-sg/proj".into()), None, None);
    for (t, a) in samples() {
        let _ = evaluate(a, &set, &paths, t);
    }
});
