//! The pipeline for one piece of shell text: analyse, match, decide, ask, and say what to do.

use std::time::Duration;

use crate::analyze::{self, Analysis, Context, PathContext};
use crate::approve::{self, refuse, Answer, PromptMatch, PromptRequest, Refusal};
use crate::rules::{evaluate, Decision, RuleSet, Verdict};
use crate::sys::AnalysisLimits;

/// Wall time allowed for one analysis before the input is called hostile.
const ANALYSIS_MS: u64 = 1500;

/// Default wait for a human at the terminal prompt.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the analysis and the rules say about a text.
pub struct Judgement {
    pub analysis: Analysis,
    pub verdict: Verdict,
}

/// Analyse and match `text`, bounded in time and memory (hostile input exits 126 inside).
pub fn judge(text: &str, ctx: &Context, set: &RuleSet) -> Judgement {
    let mut limits = AnalysisLimits::arm(ANALYSIS_MS);
    let analysis = analyze::analyze(text, ctx);
    let paths = path_context(ctx);
    let verdict = evaluate(&analysis, set, &paths, text);
    limits.disarm();
    Judgement { analysis, verdict }
}

pub fn path_context(ctx: &Context) -> PathContext {
    let var = |k: &str| ctx.vars.get(k).filter(|v| !v.is_empty()).map(Into::into);
    PathContext::new(ctx.cwd.clone(), var("HOME"), var("TMPDIR"))
}

/// What to do with the command.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Run,
    /// Refused: the paragraph for stderr.
    Refuse(String),
}

/// Decide, asking a human on the terminal when the rules say so.
pub fn decide(text: &str, j: &Judgement, set: &RuleSet) -> Outcome {
    match j.verdict.decision {
        Decision::Allow => Outcome::Run,
        Decision::Deny => Outcome::Refuse(refuse::message(&j.verdict, set, refuse::Why::Denied)),
        Decision::Confirm => {
            let req = prompt_request(text, &j.verdict, set);
            match approve::tty::ask(&req) {
                Ok(Answer::Yes) => Outcome::Run,
                Ok(Answer::No(Refusal::TimedOut)) => {
                    Outcome::Refuse(refuse::message(&j.verdict, set, refuse::Why::TimedOut))
                }
                Ok(Answer::No(_)) => {
                    Outcome::Refuse(refuse::message(&j.verdict, set, refuse::Why::Declined))
                }
                Err(_) => {
                    Outcome::Refuse(refuse::message(&j.verdict, set, refuse::Why::NoOneToAsk))
                }
            }
        }
    }
}

fn prompt_timeout() -> Duration {
    std::env::var("SHELLGUARD_PROMPT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(PROMPT_TIMEOUT)
}

pub fn prompt_request(text: &str, v: &Verdict, set: &RuleSet) -> PromptRequest {
    let strict: Vec<_> = v
        .matches
        .iter()
        .filter(|m| m.decision != Decision::Allow)
        .collect();
    PromptRequest {
        command: text.to_string(),
        highlights: strict.iter().map(|m| m.span.clone()).collect(),
        matches: strict
            .iter()
            .map(|m| {
                let r = &set.rules[m.rule];
                PromptMatch {
                    rule_id: r.id.to_string(),
                    reason: r.reason.to_string(),
                    suggestion: r.suggest.as_ref().map(|s| s.to_string()),
                    touches: m.touches.clone(),
                }
            })
            .collect(),
        timeout: prompt_timeout(),
    }
}
