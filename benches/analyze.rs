//! The cost of judging a command: analysis plus the policy's decision (built-in rules and
//! self-protection), the path every allowed command takes before shellguard execs bash
//! (`guard::judge` without its time and memory limits, which cost a few syscalls).
//!
//! Run: `cargo bench --bench analyze` (all), or e.g. `cargo bench --bench analyze -- script`.
//! The `script` group reports throughput in bytes per second: equal throughput at 10 KB,
//! 100 KB and 1 MB means the cost grows linearly with the length of the script.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shellguard::analyze::{analyze, Context, PathContext};
use shellguard::policy::Policy;
use shellguard::rules::{evaluate, Decision, RuleSet};

/// A 60-byte command shaped like what Claude Code sends once its wrapper is unwrapped.
const SHORT: &str = "cd src && git status --short && git diff --stat | tail -n 20";

/// Claude Code's full wrapper around a command, as `bash -c -l` receives it.
const CLAUDE_WRAPPED: &str = "source /tmp/snap 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval 'git status --short' < /dev/null && pwd -P >| /tmp/cwdfile";

/// Single commands an agent typically sends, each on a different part of the analyser.
const SINGLES: &[(&str, &str)] = &[
    ("ls", "ls -la"),
    ("grep_pipe", "grep -rn \"TODO\" src/ | head -n 20"),
    (
        "cargo_test",
        "cd /srv/proj && cargo test --all-targets 2>&1 | tail -n 40",
    ),
    ("rm_build", "rm -rf ./build ./dist \"$HOME/.cache/proj\""),
    ("find_exec", "find . -name '*.pyc' -exec rm -f {} \\;"),
    (
        "heredoc_commit",
        "git commit -m \"$(cat <<'EOF'\nFix the parser\n\nCo-Authored-By: agent\nEOF\n)\"",
    ),
    (
        "python_c",
        "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"name\"])' < package.json",
    ),
    (
        "ssh_remote",
        "ssh build@ci 'cd /srv/app && git pull && systemctl restart app'",
    ),
    (
        "psql_delete",
        "psql \"$DATABASE_URL\" -c \"DELETE FROM sessions WHERE expires < now()\"",
    ),
    (
        "xargs_sed",
        "git ls-files '*.rs' | xargs -n 50 sed -i 's/foo_bar/fooBar/g'",
    ),
];

/// About 1 KB of a realistic build script: functions, pipes, loops, heredocs, `$(…)`,
/// conditionals, `case`, arrays, arithmetic. Repeated to build scripts of any size.
const SCRIPT_BLOCK: &str = r#"
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
build_one() {
  local dir="$1"
  ( cd "$dir" && make -j"$(nproc)" all 2>&1 | tee "build-$(basename "$dir").log" )
}
for d in src/*/; do
  if [ -f "$d/Makefile" ]; then build_one "$d" || log "failed: $d"; fi
done
count=$(find . -name '*.c' -newer Makefile | wc -l)
case "$count" in
  0) log "nothing changed" ;;
  [1-9]|[1-9][0-9]) log "rebuilt $count files" ;;
  *) log "large rebuild: $count" ;;
esac
while read -r name version; do
  echo "dep $name at $version" >> deps.txt
done < <(grep -v '^#' requirements.txt | sed 's/==/ /')
cat > config.env <<EOF
BUILD_ID=${BUILD_ID:-local}
COMMIT=$(git rev-parse --short HEAD)
EOF
files=(a.txt b.txt "c d.txt")
for f in "${files[@]}"; do test -e "$f" && wc -c "$f"; done
total=$(( ${#files[@]} * 2 + 1 ))
git log --oneline -n 5 | awk '{print $1}' | sort -u > /tmp/recent.txt
rm -rf ./build/tmp && mkdir -p ./build/tmp
"#;

/// `SCRIPT_BLOCK` repeated up to `size` bytes (whole blocks only).
fn script(size: usize) -> String {
    let mut s = String::from("#!/bin/bash\nset -euo pipefail\n");
    while s.len() + SCRIPT_BLOCK.len() <= size {
        s.push_str(SCRIPT_BLOCK);
    }
    s
}

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn context() -> Context {
    let mut ctx = Context {
        cwd: Some(project()),
        ..Context::default()
    };
    for (k, v) in [
        ("HOME", "/home/agent"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("TMPDIR", "/tmp"),
        ("USER", "agent"),
    ] {
        ctx.vars.insert(k.into(), v.into());
    }
    ctx
}

/// What `guard::judge` does, minus arming the limits.
fn judge(text: &str, ctx: &Context, policy: &Policy) -> Decision {
    let analysis = analyze(text, ctx);
    policy.decide(&analysis, &path_context(ctx), text).decision
}

/// As `guard::path_context`: a new one per text, so the project root is looked up each time.
fn path_context(ctx: &Context) -> PathContext {
    PathContext::new(
        ctx.cwd.clone(),
        ctx.vars.get("HOME").map(Into::into),
        ctx.vars.get("TMPDIR").map(Into::into),
    )
}

/// The policy of a process with no config files (`HOME` does not exist): built-in rules only.
fn load_policy(ctx: &Context) -> Policy {
    Policy::load(ctx, &path_context(ctx))
}

fn bench_short(c: &mut Criterion) {
    let ctx = context();
    let policy = load_policy(&ctx);
    // Compile whatever the rule set compiles lazily, as the first command of a process would.
    let _ = judge(CLAUDE_WRAPPED, &ctx, &policy);
    assert_eq!(SHORT.len(), 60);
    assert_eq!(judge(SHORT, &ctx, &policy), Decision::Allow);
    assert_eq!(judge(CLAUDE_WRAPPED, &ctx, &policy), Decision::Allow);

    let mut g = c.benchmark_group("command");
    g.throughput(Throughput::Bytes(SHORT.len() as u64));
    g.bench_function("claude_60B", |b| {
        b.iter(|| judge(black_box(SHORT), &ctx, &policy))
    });
    g.bench_function("analyze_only_60B", |b| {
        b.iter(|| analyze(black_box(SHORT), &ctx))
    });
    let analysis = analyze(SHORT, &ctx);
    g.bench_function("decide_only_60B", |b| {
        b.iter(|| {
            let paths = path_context(&ctx);
            policy.decide(black_box(&analysis), &paths, SHORT).decision
        })
    });
    g.bench_function("builtin_rules_only_60B", |b| {
        b.iter(|| {
            let paths = path_context(&ctx);
            evaluate(black_box(&analysis), RuleSet::builtin(), &paths, SHORT).decision
        })
    });
    g.throughput(Throughput::Bytes(CLAUDE_WRAPPED.len() as u64));
    g.bench_function("claude_wrapped", |b| {
        b.iter(|| judge(black_box(CLAUDE_WRAPPED), &ctx, &policy))
    });
    g.finish();

    // Once per process, before the first judgement.
    let mut g = c.benchmark_group("process");
    g.bench_function("context_from_process", |b| b.iter(Context::from_process));
    g.bench_function("policy_load", |b| b.iter(|| load_policy(black_box(&ctx))));
    g.finish();
}

fn bench_singles(c: &mut Criterion) {
    let ctx = context();
    let policy = load_policy(&ctx);
    let mut g = c.benchmark_group("single");
    for (name, cmd) in SINGLES {
        let _ = judge(cmd, &ctx, &policy);
        g.bench_function(*name, |b| b.iter(|| judge(black_box(cmd), &ctx, &policy)));
    }
    g.finish();
}

fn bench_scripts(c: &mut Criterion) {
    let ctx = context();
    let policy = load_policy(&ctx);
    let mut g = c.benchmark_group("script");
    g.sample_size(10);
    for size in [10 << 10, 100 << 10, 1 << 20] {
        let text = script(size);
        // The script is an ordinary build script: it must be judged, not refused as too
        // complex (which would be a cheap early exit and measure nothing).
        let a = analyze(&text, &ctx);
        assert!(a.findings.is_empty(), "{:?}", &a.findings[..1]);
        let _ = judge(&text, &ctx, &policy);
        g.throughput(Throughput::Bytes(text.len() as u64));
        let label = format!("{}KB", size >> 10);
        g.bench_with_input(BenchmarkId::from_parameter(label), &text, |b, t| {
            b.iter(|| judge(black_box(t), &ctx, &policy))
        });
    }
    g.finish();
}

/// What the exec gate's judge does for one held exec: load the policy for the caller's
/// directory, judge the argument vector (limits armed, as in the judge process), and build
/// the answer. The IPC around it is in `bench/enforce.sh`'s whole-process figures.
fn bench_exec(c: &mut Criterion) {
    use shellguard::audit::ExecOrigin;
    use shellguard::sandbox::judge::{answer, Query};
    let ctx = context();
    let query = |words: &[&str]| Query {
        variants: vec![words.iter().map(|w| w.to_string()).collect()],
        unreadable: false,
        cwd: project().display().to_string(),
        origin: ExecOrigin {
            pid: 2,
            parent: "/usr/bin/make".into(),
            path: format!("/usr/bin/{}", words[0]),
        },
    };
    let mut g = c.benchmark_group("exec");
    for (name, words, want) in [
        (
            "cc_allowed",
            &["cc", "-O0", "-c", "src/f1.c", "-o", "out/f1.o"][..],
            Decision::Allow,
        ),
        (
            "git_status_allowed",
            &["git", "status", "--short"][..],
            Decision::Allow,
        ),
        (
            "git_push_force_confirm",
            &["git", "push", "--force", "origin", "main"][..],
            Decision::Confirm,
        ),
    ] {
        let q = query(words);
        assert_eq!(answer(&q, &ctx).decision, want, "{name}");
        g.bench_function(name, |b| b.iter(|| answer(black_box(&q), &ctx)));
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_short,
    bench_singles,
    bench_scripts,
    bench_exec
);
criterion_main!(benches);
