//! Reading a configuration file (rules, program specs, allows, settings) must not panic,
//! whatever the file: it parses or fails with a place. A file that parses must then be
//! usable as a layer of the policy without panicking.
#![no_main]

use std::path::Path;
use std::sync::{Once, OnceLock};

use libfuzzer_sys::fuzz_target;
use shellguard::analyze::{analyze, Analysis, Context, PathContext};
use shellguard::policy::{config, Layer, LayerKind, Policy};
use shellguard::rules::{Decision, Origin, RuleSet, RulesFile};

/// Panics known and not fixed yet: (file the panic is in, text of its message). Shared with
/// `tests/fuzz_analyze.rs`; remove an entry once it is fixed.
const KNOWN_PANICS: &[(&str, &str)] = &[
    // A rule with an empty flag alternative (`flags = ["-f|"]`).
    ("src/rules/matcher.rs", "out of bounds of ``"),
];

const COMMANDS: &[&str] = &[
    "rm -rf ./build ~/x /",
    "git push --force origin main",
    "git status -s",
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
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libfuzzer-sys's hook aborts (a crash); let the known panics unwind instead.
        let crash = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            let payload = info.payload();
            let msg = (payload.downcast_ref::<&str>().copied())
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !KNOWN_PANICS
                .iter()
                .any(|(f, m)| file.ends_with(f) && msg.contains(m))
            {
                crash(info);
            }
        }));
    });
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // The rules schema on its own, as the build script reads `rules.toml`.
    let _ = toml::from_str::<RulesFile>(text);
    let path = Path::new("/nonexistent-sg/proj/.shellguard.toml");
    let file = match config::parse(path, text) {
        Ok(f) => f,
        Err(errs) => {
            assert!(!errs.is_empty());
            assert!(errs.iter().all(|e| e.line >= 1 && e.col >= 1), "{errs:?}");
            return;
        }
    };
    let mut policy = Policy::builtin_only();
    let origins = (file.rules.iter())
        .map(|r| Origin::File {
            path: path.display().to_string(),
            line: r.id.len(),
        })
        .collect();
    let mut programs = file.programs.clone();
    programs.extend(policy.builtin.programs.iter().cloned());
    let rules = RuleSet::new(programs, file.rules.clone(), origins);
    policy.mode = file.mode.unwrap_or(policy.mode);
    policy.layers.push(Layer {
        kind: [LayerKind::Managed, LayerKind::User, LayerKind::Project][flags as usize % 3],
        path: path.to_path_buf(),
        file,
        may_loosen: flags & 4 != 0,
        rules,
    });
    let paths = PathContext::new(Some("/nonexistent-sg/proj".into()), None, None);
    for (t, a) in samples() {
        let Ok(d) = std::panic::catch_unwind(|| policy.decide(a, &paths, t)) else {
            return; // a known panic (any other aborted in the hook)
        };
        let strictest = d.found.iter().map(|f| f.decision).max();
        assert_eq!(d.decision, strictest.unwrap_or(Decision::Allow));
    }
});
