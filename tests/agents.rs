//! The real agent CLIs, end to end, against a mock model server on 127.0.0.1.
//!
//! Each agent (Claude Code, Gemini CLI, Codex CLI, mini-swe-agent, Qwen Code) is installed by
//! `tests/agents/install.sh` into `target/agents` (or `$SHELLGUARD_AGENTS_DIR`) and started
//! with the setup the README gives: under `shellguard run`, and for Claude Code, Gemini CLI
//! and Qwen Code also set up by hand (`CLAUDE_CODE_SHELL` in `~/.claude/settings.json`, the
//! shims first on `PATH`). The "model" (`tests/agents/mockmodel.py`) asks for one shell command per turn and
//! records every tool result the agent sends back, so each test reads exactly what the model
//! saw. shellguard is the release build, installed by the README's `install.sh` into a
//! temporary HOME per test.
//!
//! A missing agent (or node) skips its tests with the reason on stderr; with `CI` set it
//! fails them.
//!
//! Knobs: `SHELLGUARD_AGENTS_DIR` (where the agents are), `SHELLGUARD_AGENTS_BIN` (a prebuilt
//! shellguard to test instead of building the release binary, e.g. an older commit's),
//! `SG_AGENTS_KEEP=1` (keep each test's directory: the audit log, the approvals, the mock's
//! request log in `mock/log/`). `agent_facts` (ignored) prints what each agent's shell sees.

#[path = "agents/common.rs"]
mod common;

use std::io::Write;

use common::{normalize, refused, request_id, Agent, Prompt, Pty, Setup, World, BENIGN};

/// (a) A benign command's output reaches the model exactly as without shellguard.
fn benign_output_is_unchanged(agent: Agent) {
    if !agent.ready() {
        return;
    }
    let baseline = benign_run(agent, Setup::Plain);
    // mini-swe-agent sends the output inside JSON, with its newlines escaped.
    let ab = baseline.contains("a\nb\n") || baseline.contains(r"a\nb\n");
    assert!(
        ab && baseline.contains("notes.txt") && baseline.contains("42"),
        "{}: the benign command did not run: {baseline:?}",
        agent.name()
    );
    for setup in agent.guarded_setups() {
        let got = benign_run(agent, setup);
        assert_eq!(
            got,
            baseline,
            "{} {setup:?}: the model saw something else than without shellguard",
            agent.name()
        );
    }
}

/// The benign command's tool result (normalised), checking that shellguard judged it.
fn benign_run(agent: Agent, setup: Setup) -> String {
    let w = World::new(agent);
    let mock = w.mock(vec![BENIGN.into()], setup);
    let (code, out) = w.run(&mock, setup);
    assert_eq!(code, 0, "{} {setup:?}: exit status\n{out}", agent.name());
    let results = mock.results();
    assert_eq!(
        results.len(),
        1,
        "{} {setup:?}: {results:?}\n{out}",
        agent.name()
    );
    let judged = w
        .audit()
        .iter()
        .any(|r| r["command"].as_str().is_some_and(|c| c.contains("expr 6")));
    assert_eq!(
        judged,
        setup != Setup::Plain,
        "{} {setup:?}: shellguard judged the command: {judged}",
        agent.name()
    );
    normalize(&results[0])
}

/// (b) A destructive command is refused: the model gets shellguard's refusal and its request
/// id, and the victim stays.
fn destructive_is_refused(agent: Agent) {
    if !agent.ready() {
        return;
    }
    for setup in agent.guarded_setups() {
        let w = World::new(agent);
        let mock = w.mock(vec![w.destructive().into()], setup);
        let (code, out) = w.run(&mock, setup);
        assert_eq!(code, 0, "{} {setup:?}: exit status\n{out}", agent.name());
        let results = mock.results();
        assert_eq!(
            results.len(),
            1,
            "{} {setup:?}: {results:?}\n{out}",
            agent.name()
        );
        assert!(
            refused(&results[0]),
            "{} {setup:?}: not refused: {:?}",
            agent.name(),
            results[0]
        );
        let id = request_id(&results[0])
            .unwrap_or_else(|| panic!("{} {setup:?}: no request id", agent.name()));
        assert!(
            w.audit().iter().any(|r| r["request_id"] == id.as_str()
                && r["outcome"] == "refused"
                && r["command"]
                    .as_str()
                    .is_some_and(|c| c.contains(&w.destructive()))),
            "{} {setup:?}: request {id} is not in the audit log",
            agent.name()
        );
        assert!(
            w.victim_intact(),
            "{} {setup:?}: the victim is gone",
            agent.name()
        );
    }
}

/// Answers the prompt about the destructive command with `key`, and every other prompt
/// (the agent's own scaffolding) with `n`. Returns that prompt and the others.
fn answer_victim_prompt(p: &mut Pty, w: &World, key: &[u8]) -> (Prompt, Vec<Prompt>) {
    let victim = w.victim.display().to_string();
    let mut others = Vec::new();
    loop {
        let prompt = p.next_prompt(common::AGENT_WAIT).unwrap_or_else(|| {
            panic!(
                "{}: the agent ended without a prompt about {victim}:\n{}",
                w.agent.name(),
                p.text()
            )
        });
        if prompt.text.contains(&victim) {
            p.send(key);
            return (prompt, others);
        }
        p.send(b"n");
        others.push(prompt);
    }
}

/// (c) Under `shellguard run` in a terminal: the supervisor asks; `n` keeps the victim, `y`
/// deletes it.
fn the_supervisor_asks(agent: Agent) {
    if !agent.ready() {
        return;
    }
    for (key, runs) in [(b"n", false), (b"y", true)] {
        let w = World::new(agent);
        let mock = w.mock(vec![w.destructive().into()], Setup::Run);
        let mut p = w.spawn_pty(&mock, Setup::Run);
        let (prompt, others) = answer_victim_prompt(&mut p, &w, key);
        for o in &others {
            let first: String = o.text.lines().take(3).collect::<Vec<_>>().join(" | ");
            let _ = writeln!(
                std::io::stderr(),
                "note: {}: the supervisor also asked about request {}, answered n: {first}",
                agent.name(),
                o.id
            );
        }
        let results = mock.wait_results(1, &|| p.text());
        let code = p.wait_exit(common::AGENT_WAIT);
        let key = String::from_utf8_lossy(key);
        let what = format!(
            "{} `{key}`: exit {code}, results {results:?}, other prompts {others:?}\n{}",
            agent.name(),
            p.text()
        );
        assert_eq!(code, 0, "{what}");
        assert_eq!(w.victim_intact(), !runs, "{what}");
        assert_eq!(refused(&results[0]), !runs, "{what}");
        if !runs {
            // The refusal names the request the human declined.
            assert_eq!(request_id(&results[0]), Some(prompt.id), "{what}");
        }
    }
}

/// (d) After a refusal with an id, the human types `shellguard approve ID` in a terminal of
/// their own; the agent's identical retry (the model asks again on its next turn) runs.
fn approved_later_the_retry_runs(agent: Agent) {
    if !agent.ready() {
        return;
    }
    let mut failures = Vec::new();
    for setup in agent.guarded_setups() {
        let w = World::new(agent);
        let mock = w.mock(
            vec![w.destructive().into(), w.held(&w.destructive())],
            setup,
        );
        let agent_run = w.spawn(&mock, setup);
        let first = mock.wait_results(1, &|| agent_run.output())[0].clone();
        assert!(
            refused(&first),
            "{} {setup:?}: not refused: {first:?}",
            agent.name()
        );
        let id = request_id(&first).expect("a request id");
        assert!(w.victim_intact());
        w.approve(&id);
        w.go();
        let (code, out) = agent_run.wait();
        let results = mock.results();
        assert_eq!(code, 0, "{} {setup:?}: exit status\n{out}", agent.name());
        assert_eq!(
            results.len(),
            2,
            "{} {setup:?}: {results:?}\n{out}",
            agent.name()
        );
        if refused(&results[1]) || w.victim_intact() {
            failures.push(format!(
                "{} {setup:?}: approved {id}, yet the identical retry was refused again: {:?}\n\
                 the commands shellguard saw: {:?}",
                agent.name(),
                results[1],
                commands_seen(&w)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// (d) `a` at the supervisor's prompt runs the command and remembers it: the identical retry
/// runs with no prompt.
fn allowed_for_a_while_the_retry_runs_unasked(agent: Agent) {
    if !agent.ready() {
        return;
    }
    let w = World::new(agent);
    let mock = w.mock(
        vec![w.destructive().into(), w.held(&w.destructive())],
        Setup::Run,
    );
    let mut p = w.spawn_pty(&mock, Setup::Run);
    answer_victim_prompt(&mut p, &w, b"a");
    let first = mock.wait_results(1, &|| p.text())[0].clone();
    assert!(
        !refused(&first) && !w.victim_intact(),
        "{}: `a` did not run it: {first:?}\n{}",
        agent.name(),
        p.text()
    );
    // The victim again, for the retry to delete.
    w.make_victim();
    w.go();
    let victim = w.victim.display().to_string();
    let mut asked_again = None;
    while let Some(prompt) = p.next_prompt(common::AGENT_WAIT) {
        if prompt.text.contains(&victim) {
            asked_again = Some(prompt.clone());
        }
        p.send(b"n");
    }
    let code = p.wait_exit(common::AGENT_WAIT);
    let results = mock.results();
    assert_eq!(code, 0, "{}: exit status\n{}", agent.name(), p.text());
    assert!(
        asked_again.is_none() && !w.victim_intact() && results.len() == 2 && !refused(&results[1]),
        "{}: allowed for 10 minutes, yet the identical retry was asked about again ({:?}); \
         results {results:?}\nthe commands shellguard saw: {:?}",
        agent.name(),
        asked_again.map(|p| p.text),
        commands_seen(&w)
    );
    assert!(
        w.audit().iter().any(|r| r["approved_by"] == "memory"),
        "{}: no approval from memory in the audit log",
        agent.name()
    );
}

/// Nothing of the agent's own scaffolding (start-up probes, shell snapshots) is refused or
/// asked about under `shellguard run`: a benign session leaves only allowed commands.
fn scaffolding_is_not_refused(agent: Agent) {
    if !agent.ready() {
        return;
    }
    let w = World::new(agent);
    let mock = w.mock(vec![BENIGN.into()], Setup::Run);
    let (code, out) = w.run(&mock, Setup::Run);
    assert_eq!(code, 0, "{}: exit status\n{out}", agent.name());
    let audit = w.audit();
    let flagged: Vec<String> = audit
        .iter()
        .filter(|r| r["decision"] != "allow")
        .map(|r| {
            let rules: Vec<&str> = r["rules"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["id"].as_str()).collect())
                .unwrap_or_default();
            let cmd: String = r["command"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            format!("{} {rules:?}: {cmd:?}", r["outcome"])
        })
        .collect();
    assert!(
        flagged.is_empty(),
        "{}: shellguard flagged the agent's own commands:\n{}",
        agent.name(),
        flagged.join("\n")
    );
}

/// The command lines shellguard judged (from the audit log), for failure messages.
fn commands_seen(w: &World) -> Vec<String> {
    w.audit()
        .iter()
        .filter(|r| {
            r["command"]
                .as_str()
                .is_some_and(|c| c.contains(&w.victim.display().to_string()))
        })
        .map(|r| {
            format!(
                "{} by {}: {}",
                r["outcome"],
                r["approved_by"],
                r["command"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

macro_rules! agent_tests {
    ($module:ident, $agent:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn benign_output_is_unchanged() {
                super::benign_output_is_unchanged($agent);
            }

            #[test]
            fn destructive_is_refused() {
                super::destructive_is_refused($agent);
            }

            #[test]
            fn the_supervisor_asks() {
                super::the_supervisor_asks($agent);
            }

            #[test]
            fn approved_later_the_retry_runs() {
                super::approved_later_the_retry_runs($agent);
            }

            #[test]
            fn allowed_for_a_while_the_retry_runs_unasked() {
                super::allowed_for_a_while_the_retry_runs_unasked($agent);
            }

            #[test]
            fn scaffolding_is_not_refused() {
                super::scaffolding_is_not_refused($agent);
            }
        }
    };
}

agent_tests!(claude, Agent::Claude);
agent_tests!(gemini, Agent::Gemini);
agent_tests!(codex, Agent::Codex);
agent_tests!(mini_swe_agent, Agent::Mini);
agent_tests!(qwen, Agent::Qwen);

/// What each agent's shell sees: its argv (the wrapper around the command), its parent's, the
/// environment, the terminal, the process group and session. Not a check: run it to re-record
/// the facts when an agent changes,
/// `cargo test --test agents -- --ignored --nocapture agent_facts`.
#[test]
#[ignore]
fn agent_facts() {
    // No `$(`: Gemini CLI refuses command substitution of any kind.
    let probe =
        "echo \"pid $$ ppid $PPID\"; echo '--- argv of $$:'; tr '\\0' '\\n' < /proc/$$/cmdline; \
                 echo; echo '--- argv of the parent:'; tr '\\0' '\\n' < /proc/$PPID/cmdline; echo; \
                 echo '--- env:'; env | sort; echo '--- tty:'; tty; ls -l /proc/$$/fd; \
                 ps -o pid,pgid,sid,tty,args -p $$ -p $PPID";
    for agent in [
        Agent::Claude,
        Agent::Gemini,
        Agent::Codex,
        Agent::Mini,
        Agent::Qwen,
    ] {
        if !agent.ready() {
            continue;
        }
        let w = World::new(agent);
        let mock = w.mock(vec![probe.into()], Setup::Plain);
        let (code, out) = w.run(&mock, Setup::Plain);
        let results = mock.results();
        eprintln!(
            "===== {} (exit {code})\n{}\n----- agent output:\n{out}",
            agent.name(),
            results.first().map_or("(no result)", |r| r.as_str())
        );
    }
}
