//! Management subcommands: `check`, `explain`, `rules list|test`.

use std::io::Write;

use serde_json::json;

use crate::analyze::{Context, Via};
use crate::approve::sanitize::for_display;
use crate::guard::{judge, Judgement};
use crate::rules::RuleSet;

/// Words that name a management subcommand when shellguard is run under its own name.
pub const SUBCOMMANDS: &[&str] = &[
    "check", "explain", "rules", "run", "watch", "approve", "deny", "log", "init", "trust",
];

/// Exit status of a usage error.
const USAGE: u8 = 2;

pub fn main(sub: &str, args: &[String]) -> u8 {
    match sub {
        "check" => check(args),
        "explain" => explain(args),
        "rules" => rules(args),
        other => {
            eprintln!("shellguard {other}: not available in this version");
            USAGE
        }
    }
}

/// `check [--json] [--] CMD`: judge CMD as `-c CMD` would, run nothing.
fn check(args: &[String]) -> u8 {
    let mut json_out = false;
    let mut rest = args;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "--json" => json_out = true,
            "--" => {
                rest = &rest[1..];
                break;
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    let [cmd] = rest else {
        eprintln!("usage: shellguard check [--json] [--] COMMAND");
        return USAGE;
    };
    let set = RuleSet::builtin();
    let j = judge(cmd, &Context::from_process(), set);
    if json_out {
        println!("{}", to_json(&j, set));
    } else {
        println!("{}", j.verdict.decision.as_str());
        for m in &j.verdict.matches {
            let r = &set.rules[m.rule];
            println!(
                "  {} {}: {} [{}]",
                m.decision.as_str(),
                r.id,
                r.reason,
                for_display(&m.text)
            );
        }
    }
    0
}

fn to_json(j: &Judgement, set: &RuleSet) -> serde_json::Value {
    json!({
        "decision": j.verdict.decision.as_str(),
        "matches": j.verdict.matches.iter().map(|m| {
            let r = &set.rules[m.rule];
            json!({
                "rule": r.id,
                "decision": m.decision.as_str(),
                "reason": r.reason,
                "suggest": r.suggest,
                "command": m.text,
                "span": [m.span.start, m.span.end],
                "touches": m.touches,
            })
        }).collect::<Vec<_>>(),
        "commands": j.analysis.commands.iter().map(|c| json!({
            "argv": c.argv.iter().map(|a| if a.dynamic { format!("{}…", a.text) } else { a.text.clone() }).collect::<Vec<_>>(),
            "via": c.via.iter().map(via_text).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "findings": j.analysis.findings.iter().map(|f| json!({
            "kind": f.kind.id(), "detail": f.detail, "span": [f.span.start, f.span.end],
        })).collect::<Vec<_>>(),
    })
}

fn via_text(v: &Via) -> String {
    match v {
        Via::Substitution => "$(…)".into(),
        Via::ProcessSubstitution => "<(…)".into(),
        Via::ShellString(s) => format!("{s} -c"),
        Via::Eval => "eval".into(),
        Via::Trap => "trap".into(),
        Via::Wrapper(w) => w.clone(),
        Via::Heredoc(p) => format!("script fed to {p}"),
        Via::Remote(h) => format!("remote {h}"),
        Via::Interpreter(l) => format!("{l} code"),
        Via::Pipe(p) => format!("piped to {p}"),
        Via::CommandString(s) => format!("command string {s}"),
    }
}

/// `explain CMD`: the same judgement, for people.
fn explain(args: &[String]) -> u8 {
    let rest: &[String] = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let [cmd] = rest else {
        eprintln!("usage: shellguard explain COMMAND");
        return USAGE;
    };
    let set = RuleSet::builtin();
    let j = judge(cmd, &Context::from_process(), set);
    let mut out = String::new();
    out.push_str(&format!("decision: {}\n", j.verdict.decision.as_str()));
    out.push_str(&format!(
        "commands found ({}):\n",
        j.analysis.commands.len()
    ));
    for c in &j.analysis.commands {
        let argv: Vec<String> = c
            .argv
            .iter()
            .map(|a| {
                let t = for_display(&a.text);
                if a.dynamic {
                    format!("{t}<dynamic>")
                } else {
                    t
                }
            })
            .collect();
        let via = if c.via.is_empty() {
            String::new()
        } else {
            format!(
                "  (via {})",
                c.via.iter().map(via_text).collect::<Vec<_>>().join(" > ")
            )
        };
        let cwd = c
            .cwd
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "unknown".into());
        out.push_str(&format!("  - {}{}  [in {}]\n", argv.join(" "), via, cwd));
    }
    for f in &j.analysis.findings {
        out.push_str(&format!(
            "finding {}: {}\n",
            f.kind.id(),
            for_display(&f.detail)
        ));
    }
    if j.verdict.matches.is_empty() {
        out.push_str("no rule matched: runs without asking\n");
    }
    for m in &j.verdict.matches {
        let r = &set.rules[m.rule];
        out.push_str(&format!(
            "rule {} ({}): {}\n",
            r.id,
            m.decision.as_str(),
            r.reason
        ));
        out.push_str(&format!("  matched: {}\n", for_display(&m.text)));
        for t in &m.touches {
            out.push_str(&format!("  touches: {}\n", for_display(t)));
        }
        if let Some(s) = &r.suggest {
            out.push_str(&format!("  safer: {s}\n"));
        }
        out.push_str(&format!("  from: {}\n", set.origins[m.rule]));
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    0
}

fn rules(args: &[String]) -> u8 {
    let set = RuleSet::builtin();
    match args.first().map(String::as_str) {
        Some("list") | None => {
            for (i, r) in set.rules.iter().enumerate() {
                println!(
                    "{:<32} {:<8} {}  ({})",
                    r.id,
                    r.decision.as_str(),
                    r.reason,
                    set.origins[i]
                );
            }
            0
        }
        Some("test") => {
            let failures = self_test(set);
            for f in &failures {
                println!("{f}");
            }
            let n: usize = set.rules.iter().map(|r| r.catch.len() + r.pass.len()).sum();
            println!("{} examples, {} failed", n, failures.len());
            u8::from(!failures.is_empty())
        }
        Some(other) => {
            eprintln!("shellguard rules: unknown action `{other}` (list, test)");
            USAGE
        }
    }
}

/// Run every rule's `catch` and `pass` examples through the real analyser, from a fixed
/// project directory, and say which fail and where the rule is.
pub fn self_test(set: &RuleSet) -> Vec<String> {
    let mut ctx = Context::from_process();
    ctx.cwd = Some("/nonexistent-shellguard-project".into());
    ctx.vars
        .insert("HOME".into(), "/nonexistent-shellguard-home".into());
    ctx.vars.remove("TMPDIR");
    ctx.vars.remove("DIR");
    ctx.vars.remove("CMD");
    ctx.vars.remove("X");
    ctx.vars.remove("TOOL");
    let mut failures = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        for (examples, must_catch) in [(&r.catch, true), (&r.pass, false)] {
            for ex in examples.iter() {
                let j = judge(ex, &ctx, set);
                let hit = j.verdict.matches.iter().any(|m| m.rule == i);
                let decision = j.verdict.decision;
                let ok = if must_catch { hit } else { !hit };
                if !ok {
                    failures.push(format!(
                        "{}: rule {}: {} example {:?} {} (line decision: {})",
                        set.origins[i],
                        r.id,
                        if must_catch { "catch" } else { "pass" },
                        ex,
                        if must_catch {
                            "was not caught"
                        } else {
                            "was caught"
                        },
                        decision.as_str()
                    ));
                }
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_catch_and_pass_their_examples() {
        let failures = self_test(RuleSet::builtin());
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn builtin_rule_ids_are_unique_and_patterns_compile() {
        let set = RuleSet::builtin();
        let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_ref()).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule ids");
        for r in set.rules.iter() {
            if let Some(re) = &r.arg_regex {
                assert!(regex::Regex::new(re).is_ok(), "rule {}: bad regex", r.id);
            }
            for p in r.paths.iter().chain(r.redirect_paths.iter()) {
                assert!(
                    crate::analyze::PathClass::from_id(p).is_some(),
                    "rule {}: unknown path class {p}",
                    r.id
                );
            }
            if let Some(f) = &r.finding {
                assert!(
                    crate::analyze::FindingKind::ALL.iter().any(|k| k.id() == f),
                    "rule {}: unknown finding {f}",
                    r.id
                );
            }
        }
    }
}
