//! Management subcommands: `check`, `explain`, `rules list|test`.

use std::io::Write;

use serde_json::json;

use crate::analyze::{Context, Via};
use crate::approve::sanitize::{for_display, for_display_multiline};
use crate::guard::{judge, path_context, Judgement};
use crate::policy::Policy;
use crate::rules::RuleSet;

/// Words that name a management subcommand when shellguard is run under its own name.
pub const SUBCOMMANDS: &[&str] = &[
    "check",
    "explain",
    "rules",
    "run",
    "watch",
    "approve",
    "deny",
    "log",
    "init",
    "trust",
    "setup",
    "doctor",
    crate::interactive::CHECK_SUBCOMMAND,
];

/// Subcommands that approve, trust, revoke or serve approvals, or change what guards the agents
/// (`setup`): never from inside an enforced tree, whatever terminal it fakes. (`doctor` only
/// looks, and says so when it runs inside one.)
const HUMAN_ONLY: &[&str] = &["approve", "trust", "deny", "watch", "init", "setup"];

/// Exit status of a usage error.
const USAGE: u8 = 2;

pub fn main(sub: &str, args: &[String]) -> u8 {
    // Like any Unix filter: a reader that goes away (`| head -1`) ends us quietly.
    crate::sys::restore_inherited_signals();
    if crate::enforced::current().is_some() && HUMAN_ONLY.contains(&sub) {
        eprintln!(
            "shellguard {sub}: refused: inside `shellguard run` only the human gives approvals \
             and trust, at the supervisor's prompt or by running `shellguard {sub}` in a \
             terminal outside the agent's session. Nothing was changed."
        );
        return crate::shell::REFUSED;
    }
    match sub {
        "check" => check(args),
        "explain" => explain(args),
        "rules" => rules(args),
        "trust" => trust_cmd(args),
        "log" => crate::cli::log::main(args, &Context::from_process().vars),
        "watch" => crate::approve::watch::watch_main(args, &Context::from_process().vars),
        "run" => crate::supervise::run_main(args),
        crate::interactive::CHECK_SUBCOMMAND => crate::interactive::check_line_main(args),
        "approve" => crate::policy::approvals::approve_main(args, &Context::from_process().vars),
        "deny" => crate::policy::approvals::deny_main(args, &Context::from_process().vars),
        "setup" => crate::cli::setup::main(args, &Context::from_process().vars),
        "doctor" => crate::cli::doctor::main(args),
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
    if json_out {
        let ctx = Context::from_process();
        // Input beyond the analysis limits ends the process before `to_json` can run: the
        // object for that refusal is ready beforehand, so `--json` always prints one.
        let mut report = json!({
            "decision": "deny",
            "matches": [{
                "rule": "unknown.too-complex",
                "decision": "deny",
                "reason": "the input is beyond what shellguard analyses (time, memory or nesting), so what it would do cannot be told",
                "suggest": null,
                "origin": "built in",
                "command": cmd,
                "span": [0, cmd.len()],
                "touches": [],
            }],
            "mode": crate::policy::Policy::load(&ctx, &path_context(&ctx)).mode.as_str(),
            "config_errors": [],
            "commands": [],
            "findings": [{"kind": "too-complex", "detail": "analysis limits reached", "span": [0, cmd.len()]}],
        })
        .to_string()
        .into_bytes();
        report.push(b'\n');
        crate::sys::report_on_limits(report);
    }
    let (j, policy) = judge_here(cmd);
    if json_out {
        println!("{}", to_json(&j, &policy));
    } else {
        println!("{}", j.decided.decision.as_str());
        for m in &j.decided.found {
            println!(
                "  {} {}: {} [{}]",
                m.decision.as_str(),
                m.rule_id,
                m.reason,
                for_display(&m.text)
            );
        }
        for e in &policy.errors {
            println!("  config error: {e}");
        }
    }
    0
}

/// Judge `cmd` as `-c CMD` would from here, with every layer that applies here.
fn judge_here(cmd: &str) -> (Judgement, Policy) {
    let ctx = Context::from_process();
    let paths = path_context(&ctx);
    let policy = Policy::load(&ctx, &paths);
    for n in &policy.notes {
        eprintln!("{n}");
    }
    for e in &policy.errors {
        eprintln!("shellguard: {e}");
    }
    let j = judge(cmd, &ctx, &policy, &paths);
    (j, policy)
}

fn to_json(j: &Judgement, policy: &Policy) -> serde_json::Value {
    json!({
        "decision": j.decided.decision.as_str(),
        "mode": policy.mode.as_str(),
        "matches": j.decided.found.iter().map(|m| {
            json!({
                "rule": m.rule_id,
                "decision": m.decision.as_str(),
                "reason": m.reason,
                "suggest": m.suggest,
                "origin": m.origin,
                "command": m.text,
                "span": [m.span.start, m.span.end],
                "touches": m.touches,
            })
        }).collect::<Vec<_>>(),
        "config_errors": policy.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
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
    let (j, policy) = judge_here(cmd);
    let mut out = String::new();
    out.push_str(&format!("decision: {}\n", j.decided.decision.as_str()));
    if policy.mode != crate::policy::Mode::Default {
        out.push_str(&format!("mode: {}\n", policy.mode.as_str()));
    }
    for l in &policy.layers {
        out.push_str(&format!(
            "layer: {} {}{}\n",
            l.kind.as_str(),
            l.path.display(),
            if l.may_loosen {
                ""
            } else {
                " (not trusted: tightening only)"
            }
        ));
    }
    for e in &policy.errors {
        out.push_str(&format!("config error: {e}\n"));
    }
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
    if j.decided.found.is_empty() {
        out.push_str("no rule matched: runs without asking\n");
    }
    for m in &j.decided.found {
        out.push_str(&format!(
            "rule {} ({}): {}\n",
            m.rule_id,
            m.decision.as_str(),
            m.reason
        ));
        out.push_str(&format!("  matched: {}\n", for_display(&m.text)));
        for t in &m.touches {
            out.push_str(&format!("  touches: {}\n", for_display(t)));
        }
        if let Some(s) = &m.suggest {
            out.push_str(&format!("  safer: {s}\n"));
        }
        out.push_str(&format!("  from: {}\n", m.origin));
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    0
}

fn rules(args: &[String]) -> u8 {
    match args.first().map(String::as_str) {
        Some("list") | None => {
            let ctx = Context::from_process();
            let paths = path_context(&ctx);
            let policy = Policy::load(&ctx, &paths);
            let sets = std::iter::once((policy.builtin, "built in".to_string())).chain(
                policy.layers.iter().map(|l| {
                    (
                        &l.rules,
                        format!(
                            "{} layer{}",
                            l.kind.as_str(),
                            if l.may_loosen { "" } else { ", not trusted" }
                        ),
                    )
                }),
            );
            for (set, layer) in sets {
                for (i, r) in set.rules.iter().enumerate() {
                    println!(
                        "{:<32} {:<8} {}  ({}; {})",
                        r.id,
                        r.decision.as_str(),
                        r.reason,
                        set.origins[i],
                        layer
                    );
                }
            }
            for e in &policy.errors {
                println!("config error: {e}");
            }
            0
        }
        Some("test") => {
            let (set, owned);
            match args.get(1) {
                None => set = RuleSet::builtin(),
                Some(file) => {
                    let path = std::path::Path::new(file);
                    let text = match std::fs::read_to_string(path) {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("shellguard rules test: {file}: {e}");
                            return USAGE;
                        }
                    };
                    let parsed = match crate::policy::config::parse(path, &text) {
                        Ok(f) => f,
                        Err(errs) => {
                            for e in errs {
                                println!("{e}");
                            }
                            return 1;
                        }
                    };
                    let origins = parsed
                        .rules
                        .iter()
                        .map(|r| crate::rules::Origin::File {
                            path: file.clone(),
                            line: text
                                .find(&format!("\"{}\"", r.id))
                                .map(|i| text[..i].matches('\n').count() + 1)
                                .unwrap_or(1),
                        })
                        .collect();
                    let mut programs = parsed.programs.clone();
                    programs.extend(RuleSet::builtin().programs.iter().cloned());
                    owned = RuleSet::new(programs, parsed.rules, origins);
                    set = &owned;
                }
            }
            let failures = self_test(set);
            for f in &failures {
                println!("{f}");
            }
            let n: usize = set.rules.iter().map(|r| r.catch.len() + r.pass.len()).sum();
            println!(
                "{} rules, {} examples, {} failed",
                set.rules.len(),
                n,
                failures.len()
            );
            u8::from(!failures.is_empty())
        }
        Some(other) => {
            eprintln!("shellguard rules: unknown action `{other}` (list, test [FILE])");
            USAGE
        }
    }
}

/// `trust`: record the project file's content as trusted, so its loosening settings apply.
/// Only a human at a terminal may do this (and the guarded shell denies running it).
fn trust_cmd(args: &[String]) -> u8 {
    use std::io::IsTerminal;
    if let Some(rest) = args.strip_prefix(&["--tools".to_string()]) {
        return crate::policy::tools::trust_main(rest, &Context::from_process().vars);
    }
    if !args.is_empty() {
        eprintln!("usage: shellguard trust [--tools [--yes]]   (in a terminal)");
        return USAGE;
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        eprintln!("shellguard trust: must be run by a person in a terminal");
        return USAGE;
    }
    let ctx = Context::from_process();
    let paths = path_context(&ctx);
    let Some(file) = paths.project_root().map(|r| r.join(".shellguard.toml")) else {
        eprintln!("shellguard trust: no project here");
        return USAGE;
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("shellguard trust: {}: {e}", file.display());
            return USAGE;
        }
    };
    if let Err(errs) = crate::policy::config::parse(&file, &String::from_utf8_lossy(&bytes)) {
        for e in errs {
            eprintln!("{e}");
        }
        eprintln!("shellguard trust: fix the file first; nothing was trusted");
        return 1;
    }
    let Some(state) = crate::policy::trust::state_dir(&ctx.vars) else {
        eprintln!("shellguard trust: no HOME to keep the record in");
        return USAGE;
    };
    print!(
        "{}",
        for_display_multiline(&String::from_utf8_lossy(&bytes))
    );
    println!();
    let stdin = std::io::stdin();
    let yes = crate::approve::keys::confirm(
        std::os::fd::AsFd::as_fd(&stdin),
        &mut std::io::stdout(),
        &format!(
            "--- trust {} with exactly this content? [y/N] ",
            file.display()
        ),
    );
    if !matches!(yes, Ok(true)) {
        println!("not trusted");
        return 1;
    }
    match crate::policy::trust::TrustStore::new(&state).trust(&file, &bytes) {
        Ok(()) => {
            println!(
                "trusted {} ({})",
                file.display(),
                crate::policy::trust::hash(&bytes)
            );
            0
        }
        Err(e) => {
            eprintln!("shellguard trust: cannot record trust: {e}");
            1
        }
    }
}

/// Run every rule's `catch` and `pass` examples through the real analyser, from a fixed
/// project directory, and say which fail and where the rule is.
pub fn self_test(set: &RuleSet) -> Vec<String> {
    let mut ctx = Context::from_process();
    ctx.cwd = Some("/nonexistent-shellguard/project".into());
    ctx.vars
        .insert("HOME".into(), "/nonexistent-shellguard/home".into());
    ctx.vars.remove("TMPDIR");
    ctx.vars.remove("DIR");
    ctx.vars.remove("CMD");
    ctx.vars.remove("X");
    ctx.vars.remove("TOOL");
    let paths = path_context(&ctx);
    let mut failures = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        for (examples, must_catch) in [(&r.catch, true), (&r.pass, false)] {
            for ex in examples.iter() {
                let analysis = crate::analyze::analyze(ex, &ctx);
                let v = crate::rules::evaluate(&analysis, set, &paths, ex);
                let hit = v.matches.iter().any(|m| m.rule == i);
                let decision = v.decision;
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
            assert!(
                r.catch.len() >= 3 && r.pass.len() >= 2,
                "rule {}: needs at least 3 catch and 2 pass examples",
                r.id
            );
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
