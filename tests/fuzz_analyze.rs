//! Property tests: the analyser and the matcher never panic, whatever the text, and the rule
//! loader never panics, whatever the rules file.
//!
//! Inputs come from a small xorshift generator (no dependency, reproducible from a seed):
//! soups of shell tokens, real commands with characters inserted, deleted and duplicated,
//! commands nested in one another, and random bytes and code points.
//!
//! brush-parser is known to allocate without bound or overflow the stack on a few short
//! inputs (parser.md); the shell survives them because `guard::judge` bounds time and memory
//! and exits 126. Here `analyze` and `evaluate` run unbounded, so they run in a child process
//! (this test binary again) with an address-space limit and a watchdog. A panic fails the
//! test. A child that dies or hangs is a known parser fault, not a failure, as long as the
//! real binary refuses that input: the test checks `shellguard check` exits 126 on it.
//!
//! More cases: `SHELLGUARD_FUZZ_CASES=1000000 SHELLGUARD_FUZZ_SEED=7 cargo test --release
//! --test fuzz_analyze -- --nocapture`.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

use shellguard::analyze::{analyze, Analysis, Context, PathContext};
use shellguard::policy::{config, Layer, LayerKind, Policy};
use shellguard::rules::{evaluate, Decision, Origin, RuleSet, RulesFile, Verdict};

/// Inputs per run of `cargo test`; at least 20,000.
const DEFAULT_CASES: u64 = 20_000;
/// Longest generated input, in bytes.
const MAX_LEN: usize = 2000;
/// An analysis slower than this is reported (not failed): nothing short should take long.
const SLOW: Duration = Duration::from_millis(100);
/// A child silent for this long is stuck on one input.
const HANG: Duration = Duration::from_secs(10);
/// Address space for the child: far above what a 2 KB input needs.
const CHILD_MEMORY: u64 = 256 << 20;

/// Panics known and not fixed yet: (file the panic is in, text of its message). They are
/// reported, not failed, so the test guards against new ones; each has a case in
/// `known_faults_are_judged` (ignored until fixed). Remove an entry once it is fixed.
/// `fuzz/fuzz_targets/analyze.rs` keeps the same list.
const KNOWN_PANICS: &[(&str, &str)] = &[];

fn is_known_panic(msg: &str) -> bool {
    let (file, text) = msg.split_once(": ").unwrap_or((msg, ""));
    let file = file.split(':').next().unwrap_or(file);
    KNOWN_PANICS
        .iter()
        .any(|(f, m)| file.ends_with(f) && text.contains(m))
}

const CHILD_ENV: &str = "SHELLGUARD_FUZZ_CHILD";
const TEST_NAME: &str = "analyser_never_panics";

// ---------------------------------------------------------------------------------------
// The generator.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so neighbouring seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "'",
    "\"",
    "$(",
    ")",
    "(",
    "`",
    "<<",
    "<<-",
    "<<<",
    "<(",
    ">(",
    "{",
    "}",
    ";",
    ";;",
    ";&",
    "|",
    "|&",
    "||",
    "&&",
    "&",
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "for",
    "in",
    "do",
    "done",
    "while",
    "until",
    "case",
    "esac",
    "function",
    "select",
    "time",
    "coproc",
    "!",
    "\\",
    "\n",
    "\t",
    " ",
    "  ",
    "$",
    "${",
    "${#",
    "${x:-",
    "${x//",
    "$((",
    "))",
    "((",
    "[[",
    "]]",
    "[",
    "]",
    "=",
    "+=",
    "#",
    "*",
    "?",
    "~",
    "~root",
    ">",
    ">>",
    ">|",
    "2>",
    "2>&1",
    "<",
    "&>",
    "<&0",
    "EOF",
    "'EOF'",
    "E",
    "x",
    "a=b",
    "-rf",
    "-c",
    "--",
    "-",
    "/",
    "/*",
    "~/",
    "..",
    ".",
    "$HOME",
    "$@",
    "\"$@\"",
    "$1",
    "$*",
    "$?",
    "$$",
    "$0",
    "$[",
    "@(x|y)",
    "!(*.o)",
    "{a,b}",
    "{1..3}",
    "rm",
    "git",
    "reset",
    "--hard",
    "clean",
    "-fdx",
    "push",
    "--force",
    "sudo",
    "bash",
    "sh",
    "zsh",
    "eval",
    "exec",
    "command",
    "builtin",
    "xargs",
    "-I{}",
    "find",
    "-exec",
    "-delete",
    "\\;",
    "ssh",
    "host",
    "python3",
    "node",
    "-e",
    "perl",
    "psql",
    "DROP TABLE t",
    "DELETE FROM t",
    "cd",
    "pushd",
    "popd",
    "export",
    "local",
    "declare",
    "alias",
    "unalias",
    "source",
    "trap",
    "env",
    "nohup",
    "timeout",
    "kubectl",
    "delete",
    "terraform",
    "destroy",
    "docker",
    "dd",
    "of=/dev/sda",
    "mkfs",
    "chmod",
    "-R",
    "777",
    "curl",
    "|sh",
    "echo",
    "printf",
    "read",
    "shopt",
    "-s",
    "extglob",
    "set",
    "-o",
    "posix",
    "é",
    "日本",
    "🦀",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "\r",
    "\0",
    "\x1b[31m",
    "\u{7f}",
    "0",
    "2",
    "99999999999",
    "99999999999999999999",
    "-é",
    "-v",
];

/// Real commands, mutated and nested by the generator.
const SEEDS: &[&str] = &[
    "ls -la",
    "git status --short",
    "source /tmp/snap 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval 'git status --short' < /dev/null && pwd -P >| /tmp/cwdfile",
    "shopt -u promptvars nullglob extglob nocaseglob dotglob; { ls; }; __code=$?; pgrep -g 0 >/tmp/shell_pgrep_1.tmp 2>&1; exit $__code;",
    "rm -rf ./build \"$HOME/.cache/x\" ~/tmp/*",
    "find . -name '*.pyc' -exec rm -f {} \\;",
    "echo / | xargs -I{} rm -rf {}",
    "git commit -m \"$(cat <<'EOF'\nFix it\n\nCo-Authored-By: x\nEOF\n)\"",
    "cat > f.txt <<EOF\n$HOME ${USER:-x} $(date)\nEOF",
    "python3 - <<EOF\nimport shutil\nshutil.rmtree('/')\nEOF",
    "python3 -c 'import os; os.system(\"rm -rf ~\")'",
    "bash -c 'for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done'",
    "ssh prod 'cd /srv && git pull && systemctl restart app'",
    "psql \"$DATABASE_URL\" -c \"DELETE FROM sessions WHERE expires < now()\"",
    "f() { local x=$1; shift; echo \"$@\" | tr a-z A-Z; }; f a b c",
    "case \"$1\" in start|stop) svc \"$1\";; *) echo usage >&2; exit 2;; esac",
    "while IFS= read -r line; do echo \"$line\"; done < <(grep -v '^#' list)",
    "if [[ -f x && $(wc -l < x) -gt 3 ]]; then diff <(sort a) <(sort b); fi",
    "arr=(a 'b c' d); for i in \"${!arr[@]}\"; do echo $((i * 2)) ${arr[i]}; done",
    "D=/; cd $D && rm -rf *",
    "sudo -u root env FOO=1 nohup timeout 5 git reset --hard",
    "kubectl exec -it pod -- sh -c 'rm -rf /data'",
    "eval \"$(ssh-agent -s)\"; trap 'rm -f $tmp' EXIT",
    ":(){ :|:& };:",
    "echo `echo \\`date\\``; x=$'a\\tb'; y=$\"msg\"",
    "tar czf - . | ssh host 'cat > /backup/x.tgz'",
    "ssh -v -p 22 host uptime",
    "exec 3>&1 4>/dev/null; echo hi >&3 2>&4",
];

/// Wrappers that put code inside other code.
const NESTS: &[(&str, &str)] = &[
    ("bash -c '", "'"),
    ("sh -c \"", "\""),
    ("eval \"", "\""),
    ("$(", ")"),
    ("`", "`"),
    ("( ", " )"),
    ("{ ", "; }"),
    ("<(", ")"),
    ("sudo ", ""),
    ("xargs ", ""),
    ("if true; then ", "; fi"),
    ("for x in a; do ", "; done"),
    ("bash <<EOF\n", "\nEOF"),
];

fn random_char(rng: &mut Rng) -> char {
    match rng.below(4) {
        0 => (b' ' + rng.below(95) as u8) as char,
        1 => char::from_u32(rng.below(0x80) as u32).unwrap_or('?'),
        2 => char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'),
        _ => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
    }
}

fn random_token(rng: &mut Rng) -> String {
    if rng.chance(85) {
        rng.pick(TOKENS).to_string()
    } else {
        random_char(rng).to_string()
    }
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(s: &mut String, rng: &mut Rng) {
    let at = char_boundary(s, rng.below(s.len() + 1));
    match rng.below(7) {
        0 => s.insert(at, random_char(rng)),
        1 => s.insert_str(at, &random_token(rng)),
        2 => {
            let end = char_boundary(s, at + 1 + rng.below(8));
            s.replace_range(at..end, "");
        }
        3 => {
            let end = char_boundary(s, at + 1 + rng.below(16));
            let piece = s[at..end].to_string();
            s.insert_str(end, &piece);
        }
        4 => {
            let end = char_boundary(s, at + rng.below(16));
            let piece = s[at..end].to_string();
            let to = char_boundary(s, rng.below(s.len() + 1));
            s.insert_str(to, &piece);
        }
        5 => s.truncate(at),
        _ => {
            let end = char_boundary(s, at + 1);
            let c = random_char(rng).to_string();
            s.replace_range(at..end, &c);
        }
    }
}

/// Input number `i` of the stream for `seed`.
fn generate(seed: u64, i: u64) -> String {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let mut s = String::new();
    match rng.below(20) {
        // Token soup.
        0..=7 => {
            for _ in 0..1 + rng.below(48) {
                s.push_str(&random_token(&mut rng));
                if rng.chance(40) {
                    s.push(' ');
                }
            }
        }
        // A real command, mutated.
        8..=13 => {
            s.push_str(rng.pick(SEEDS));
            for _ in 0..1 + rng.below(8) {
                mutate(&mut s, &mut rng);
            }
        }
        // Real commands joined and nested, then mutated a little.
        14..=16 => {
            s.push_str(rng.pick(SEEDS));
            for _ in 0..1 + rng.below(4) {
                let (open, close) = rng.pick(NESTS);
                let sep = rng.pick(&["; ", " && ", " | ", "\n", " || ", " & "]);
                s = format!("{open}{s}{close}{sep}{}", rng.pick(SEEDS));
            }
            for _ in 0..rng.below(3) {
                mutate(&mut s, &mut rng);
            }
        }
        // Random code points.
        17..=18 => {
            for _ in 0..rng.below(200) {
                s.push(random_char(&mut rng));
            }
        }
        // Random bytes, read the way the shell reads arguments that are not UTF-8.
        _ => {
            let bytes: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            s = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let end = char_boundary(&s, MAX_LEN);
    s.truncate(end);
    s
}

// ---------------------------------------------------------------------------------------
// The properties.

fn context() -> Context {
    let mut ctx = Context {
        cwd: Some(PathBuf::from("/nonexistent-sg/proj")),
        arg0: Some("bash".into()),
        positional: vec!["rm".into(), "-rf".into(), "/".into()],
        ..Context::default()
    };
    ctx.vars
        .insert("HOME".into(), "/nonexistent-sg/home".into());
    ctx.vars.insert("KNOWN".into(), "build".into());
    ctx
}

fn paths() -> PathContext {
    PathContext::new(
        Some("/nonexistent-sg/proj".into()),
        Some("/nonexistent-sg/home".into()),
        Some("/tmp".into()),
    )
}

/// What must hold of any verdict on any input; a description of what does not, if anything.
fn check_verdict(text: &str, a: &Analysis, v: &Verdict) -> Result<(), String> {
    let strictest = v.matches.iter().map(|m| m.decision).max();
    match v.decision {
        Decision::Allow | Decision::Confirm | Decision::Deny => {}
    }
    if v.decision != strictest.unwrap_or(Decision::Allow) {
        return Err(format!(
            "decision {:?} but matches {strictest:?}",
            v.decision
        ));
    }
    if a.commands.is_empty() && a.findings.is_empty() && !v.matches.is_empty() {
        return Err("matches without commands or findings".into());
    }
    let spans = v.matches.iter().map(|m| &m.span);
    let spans = spans.chain(a.findings.iter().map(|f| &f.span));
    for s in spans.chain(a.commands.iter().map(|c| &c.span)) {
        if s.start > s.end || s.end > text.len() {
            return Err(format!(
                "span {s:?} outside the input ({} bytes)",
                text.len()
            ));
        }
    }
    Ok(())
}

/// Judge `text` the way `guard::judge` does, without its limits: the policy's decision, and
/// the built-in rules' verdict on their own.
fn judge(text: &str, ctx: &Context, policy: &Policy) -> Result<(), String> {
    let a = analyze(text, ctx);
    let d = policy.decide(&a, &paths(), text);
    let strictest = d.found.iter().map(|f| f.decision).max();
    if d.decision != strictest.unwrap_or(Decision::Allow) {
        return Err(format!("policy: {:?} but found {strictest:?}", d.decision));
    }
    if let Some(f) = d.found.iter().find(|f| f.span.end > text.len()) {
        return Err(format!("policy: span {:?} outside the input", f.span));
    }
    let v = evaluate(&a, policy.builtin, &paths(), text);
    check_verdict(text, &a, &v)
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

// ---------------------------------------------------------------------------------------
// Child: judge inputs `start..end`, announcing each on stderr before it runs.

thread_local! {
    /// Where this thread's last panic happened and what it said (`file:line:col: message`).
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
    /// This thread expects panics and reports them itself.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// From now on, remember where each panic on this thread happened (the payload alone does
/// not say) instead of printing it. Other threads report theirs as usual.
fn record_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                return report(info);
            }
            let file = info.location().map(|l| l.to_string()).unwrap_or_default();
            let msg = panic_message(info.payload());
            LAST_PANIC.with(|p| *p.borrow_mut() = format!("{file}: {msg}"));
        }));
    });
    QUIET.with(|q| q.set(true));
}

fn last_panic() -> String {
    LAST_PANIC.with(|p| p.borrow().replace('\n', " "))
}

fn child(seed: u64, start: u64, end: u64) {
    // SAFETY: setrlimit with a valid struct only lowers this process's own limit.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: CHILD_MEMORY,
            rlim_max: CHILD_MEMORY,
        };
        libc::setrlimit(libc::RLIMIT_AS, &lim);
    }
    // The shell analyses on its main thread: give the worker the same 8 MB stack.
    let worker = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            record_panics();
            let ctx = context();
            let policy = Policy::builtin_only();
            let mut err = std::io::stderr().lock();
            for i in start..end {
                let text = generate(seed, i);
                let _ = writeln!(err, "@@start {i}");
                let t = Instant::now();
                let r = catch_unwind(AssertUnwindSafe(|| judge(&text, &ctx, &policy)));
                let took = t.elapsed();
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => {
                        let _ = writeln!(err, "@@bad {i} {}", why.replace('\n', " "));
                    }
                    Err(_) => {
                        let _ = writeln!(err, "@@panic {i} {}", last_panic());
                    }
                }
                if took > SLOW {
                    let _ = writeln!(err, "@@slow {i} {}", took.as_micros());
                }
            }
            let _ = writeln!(err, "@@done");
        })
        .expect("spawn worker");
    worker.join().expect("worker");
}

// ---------------------------------------------------------------------------------------
// Parent: run children until every input is judged, and sort out what happened.

enum Event {
    Start(u64),
    Slow(u64, u128),
    Bad(u64, String),
    Panic(u64, String),
    Done,
}

fn parse_event(line: &str) -> Option<Event> {
    let rest = line.strip_prefix("@@")?;
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (num, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let i = num.parse().ok();
    Some(match kind {
        "start" => Event::Start(i?),
        "slow" => Event::Slow(i?, tail.parse().ok()?),
        "bad" => Event::Bad(i?, tail.into()),
        "panic" => Event::Panic(i?, tail.into()),
        "done" => Event::Done,
        _ => return None,
    })
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one child ended.
enum End {
    Done,
    /// Died or hung while judging this input.
    Died(u64, String),
}

fn run_child(seed: u64, start: u64, end: u64, report: &mut Report) -> End {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{seed}:{start}:{end}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(e) = parse_event(&line) {
                if tx.send(e).is_err() {
                    break;
                }
            }
        }
    });
    let mut current = start;
    loop {
        match rx.recv_timeout(HANG) {
            Ok(Event::Start(i)) => current = i,
            Ok(Event::Slow(i, us)) => report.slow.push((i, us)),
            Ok(Event::Bad(i, why)) => report.bad.push((i, why)),
            Ok(Event::Panic(i, msg)) => report.panics.push((i, msg)),
            Ok(Event::Done) => {
                let _ = child.wait();
                return End::Done;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return End::Died(current, format!("no answer in {HANG:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait child");
                return End::Died(current, format!("child ended: {status}"));
            }
        }
    }
}

#[derive(Default)]
struct Report {
    slow: Vec<(u64, u128)>,
    bad: Vec<(u64, String)>,
    panics: Vec<(u64, String)>,
    died: Vec<(u64, String)>,
}

/// The real shell must refuse an input the bare analyser cannot survive.
fn binary_refuses(i: u64, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Ok(()); // cannot be an argument
    }
    let out = shellguard_check(&Scratch::new(&format!("d{i}"), None), text);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(126) && stderr.contains("unknown.too-complex") {
        Ok(())
    } else {
        Err(format!(
            "shellguard check: {} {:?} {:?}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            stderr
        ))
    }
}

#[test]
fn analyser_never_panics() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let n: Vec<u64> = spec.split(':').map(|x| x.parse().expect("spec")).collect();
        child(n[0], n[1], n[2]);
        return;
    }
    let seed = env_u64("SHELLGUARD_FUZZ_SEED", 0x5EED);
    let cases = env_u64("SHELLGUARD_FUZZ_CASES", DEFAULT_CASES);
    let t = Instant::now();
    let mut report = Report::default();
    let mut start = 0;
    while start < cases {
        match run_child(seed, start, cases, &mut report) {
            End::Done => break,
            End::Died(i, why) => {
                report.died.push((i, why));
                start = i + 1;
            }
        }
    }
    let took = t.elapsed();
    eprintln!(
        "fuzz_analyze: {cases} inputs (seed {seed}) in {took:.2?}; {} slow (> {SLOW:?}), {} killed the bare analyser, {} panics",
        report.slow.len(),
        report.died.len(),
        report.panics.len()
    );
    for (i, us) in &report.slow {
        eprintln!("  slow #{i}: {} ms {:?}", us / 1000, generate(seed, *i));
    }
    let mut failures = Vec::new();
    let refused: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (report.died.iter())
            .map(|(i, _)| s.spawn(move || binary_refuses(*i, &generate(seed, *i))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check"))
            .collect()
    });
    for ((i, why), r) in report.died.iter().zip(refused) {
        let text = generate(seed, *i);
        eprintln!("  bare analyser died on #{i} ({why}): {text:?}");
        if let Err(e) = r {
            failures.push(format!("#{i} {text:?}: not refused by the shell: {e}"));
        }
    }
    for (i, msg) in &report.panics {
        let text = generate(seed, *i);
        if is_known_panic(msg) {
            eprintln!("  known panic on #{i}: {msg}: {text:?}");
        } else {
            failures.push(format!("#{i} {text:?}: panicked: {msg}"));
        }
    }
    for (i, why) in &report.bad {
        failures.push(format!("#{i} {:?}: {why}", generate(seed, *i)));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The rule loader: mutated configuration files (rules, programs, allows, settings) parse or
// fail with a place, and whatever parses is used by the policy without panicking.

const RULE_CASES: u64 = 3_000;

const RULE_TOKENS: &[&str] = &[
    "*",
    "?",
    "|",
    "||",
    "[",
    "]",
    "(",
    ")",
    "\\",
    "\\\\",
    "\"",
    "'",
    "=",
    ",",
    "\n",
    "#",
    "{",
    "}",
    ".",
    "-",
    "--",
    "~",
    "/",
    "$",
    "^",
    "+",
    "é",
    "🦀",
    "\u{0}",
    "\"\"",
    "[]",
    "1e999",
    "-1",
    "[[rule]]",
    "[[program]]",
    "[[allow]]",
    "[[set]]",
];

/// Whole lines a configuration file may hold, right or wrong.
const CONFIG_LINES: &[&str] = &[
    "mode = \"strict\"",
    "mode = \"observe\"",
    "mode = \"loose\"",
    "prompt_timeout = 0",
    "approval_timeout = 18446744073709551615",
    "tty = \"agent\"",
    "syslog = true",
    "real_shell = \"/bin/bash\"",
    "disable = [\"fs.rm-recursive\", \"git.reset-hard\"]",
    "safe = [\"rm\", \"git push\", \"\"]",
    "[[allow]]\ncommand = \"rm -rf build\"",
    "[[allow]]\nrule = \"git.push-force\"\npaths = [\"~/src/*\", \"/nonexistent-sg/proj\", \"[\", \"\"]",
    "[[allow]]\ncommand = \"x\"\nrule = \"y\"",
    "[[allow]]",
    "[[set]]\nrule = \"git.push-force\"\ndecision = \"allow\"",
    "[[set]]\nrule = \"nope\"\ndecision = \"deny\"",
    "decision = \"deny\"",
    "paths = [\"bogus\"]",
    "arg_regex = \"(\"",
    "sql = [\"x\"]",
    "finding = \"nope\"",
    "path_operands = \"middle\"",
    "sql_operand = 99",
    "flags = [\"\"]",
    "program = [\"\"]",
    "subcommand = [\"|\"]",
    "help = []",
];

/// Analyses of commands that reach every part of the matcher.
fn sample_analyses(ctx: &Context) -> Vec<(String, Analysis)> {
    let mut texts: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
    texts.extend(
        [
            "git push --force origin main",
            "terraform destroy -auto-approve",
            "aws s3 rm s3://b --recursive",
            "psql -c 'DROP TABLE users'",
            "kubectl -n prod delete pod x",
            "echo x > /etc/passwd",
            "$CMD",
            "echo 'unterminated",
        ]
        .map(String::from),
    );
    texts
        .into_iter()
        .map(|t| {
            let a = analyze(&t, ctx);
            (t, a)
        })
        .collect()
}

/// `rules.toml` split at each table header, so a mutation lands in one rule.
fn rule_blocks() -> Vec<&'static str> {
    let text = include_str!("../rules.toml");
    let mut blocks = Vec::new();
    let mut from = 0;
    for (at, _) in text.match_indices("\n[[") {
        blocks.push(&text[from..at + 1]);
        from = at + 1;
    }
    blocks.push(&text[from..]);
    blocks
}

/// A mutated configuration file: rule blocks from `rules.toml` and configuration lines.
fn config_text(blocks: &[&str], rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(4) {
        text.push_str(rng.pick(CONFIG_LINES));
        text.push('\n');
    }
    for _ in 0..rng.below(4) {
        text.push_str(rng.pick(blocks));
        if rng.chance(30) {
            text.push_str(rng.pick(CONFIG_LINES));
            text.push('\n');
        }
    }
    for _ in 0..rng.below(7) {
        if rng.chance(50) {
            let at = char_boundary(&text, rng.below(text.len() + 1));
            text.insert_str(at, rng.pick(RULE_TOKENS));
        } else if !text.is_empty() {
            mutate(&mut text, rng);
        }
    }
    text
}

/// Read `text` as a configuration file of a random layer and judge the samples with it.
/// Whether it parsed, or what does not hold.
fn load_and_use(text: &str, rng: &mut Rng, samples: &[(String, Analysis)]) -> Result<bool, String> {
    // The rules file schema on its own, as the build script reads `rules.toml`.
    let _ = toml::from_str::<RulesFile>(text);
    let path = Path::new("/nonexistent-sg/proj/.shellguard.toml");
    let file = match config::parse(path, text) {
        Ok(f) => f,
        Err(errs) => {
            if errs.is_empty() || errs.iter().any(|e| e.line == 0 || e.col == 0) {
                return Err(format!("errors without a place: {errs:?}"));
            }
            return Ok(false);
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
        kind: rng.pick(&[LayerKind::Managed, LayerKind::User, LayerKind::Project]),
        path: path.to_path_buf(),
        file,
        may_loosen: rng.chance(50),
        rules,
    });
    for (t, a) in samples {
        let d = policy.decide(a, &paths(), t);
        let strictest = d.found.iter().map(|f| f.decision).max();
        if d.decision != strictest.unwrap_or(Decision::Allow) {
            return Err(format!(
                "{t:?}: decision {:?}, found {strictest:?}",
                d.decision
            ));
        }
        let v = evaluate(a, &policy.layers[0].rules, &paths(), t);
        check_verdict(t, a, &v)?;
    }
    Ok(true)
}

#[test]
fn config_loader_never_panics() {
    let ctx = context();
    let samples = sample_analyses(&ctx);
    let blocks = rule_blocks();
    let seed = env_u64("SHELLGUARD_FUZZ_SEED", 0x5EED);
    let cases = env_u64("SHELLGUARD_FUZZ_CASES", DEFAULT_CASES) * RULE_CASES / DEFAULT_CASES;
    let mut parsed = 0;
    let mut failures = Vec::new();
    let mut known = Vec::new();
    record_panics();
    for i in 0..cases {
        let mut rng = Rng::new(seed ^ 0x7275_6C65 ^ i.wrapping_mul(0xA076_1D64_78BD_642F));
        let text = config_text(&blocks, &mut rng);
        match catch_unwind(AssertUnwindSafe(|| load_and_use(&text, &mut rng, &samples))) {
            Ok(Ok(true)) => parsed += 1,
            Ok(Ok(false)) => {}
            Ok(Err(why)) => failures.push(format!("#{i}: {why}\n{text}")),
            Err(_) if is_known_panic(&last_panic()) => known.push((i, last_panic(), text)),
            Err(_) => failures.push(format!("#{i}: panicked: {}\n{text}", last_panic())),
        }
    }
    eprintln!(
        "config_loader: {cases} mutated configuration files, {parsed} parsed and used, {} known panics",
        known.len()
    );
    for (i, msg, text) in known.iter().take(3) {
        eprintln!("  known panic on #{i}: {msg}: {text:?}");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------
// Known faults, found by fuzzing. Each fails closed today (the command does not run); each
// should become an ordinary judgement.

/// Inputs the bare analyser cannot handle: (input, what happens in `guard::judge`).
/// Inputs the analyser is known to handle badly: (input, what happens, the judgement it gets
/// when the analysis finishes in time). Whether it finishes depends on the machine (a release
/// build finishes the first exponential case in 0.9 s, a debug build reaches the cap), so a
/// test may only ask for that judgement or a refusal.
const KNOWN_FAULTS: &[(&str, &str, &str)] = &[
    (
        "<<\r ",
        "brush-parser allocates without bound: cap, exit 126 after ~0.4 s",
        "confirm",
    ),
    (
        "$(f(<<\x0c)",
        "brush-parser allocates without bound: cap, exit 126",
        "confirm",
    ),
    (
        "cat <<EOF\n$((u$((u$((u$((u$((u$((u$((u$((u\nEOF",
        "exponential: 0.9 s in a release build, past the cap in a debug one",
        // `cat` of a here-document: nothing in it runs.
        "allow",
    ),
    (
        "cat <<EOF\n${x[${x[${x[${x[${x[${x[\nEOF",
        "exponential: timer, exit 126 at 1.5 s",
        "allow",
    ),
    (
        "( ( ((((((((((((((((((((((((((",
        "exponential: timer, exit 126 at 1.5 s",
        // Not a complete command.
        "confirm",
    ),
];

/// Configuration files that make the shell fail: (project file, command, what happens).
const KNOWN_CONFIG_FAULTS: &[(&str, &str, &str)] = &[];

/// Faults found by fuzzing and fixed: each must now be judged like any other input, without a
/// crash (the parser's own panics become "cannot read this input": confirm).
const FIXED_FAULTS: &[(&str, &str)] = &[
    ("echo 99999999999>x", "confirm"),
    ("ls ~99999999999999999999", "confirm"),
    ("$(<<EOF\n)\nEOF", "confirm"),
    ("ssh -é host uptime", "allow"),
    ("f() { :; }; f() { cd /; }; f; rm -rf etc", "confirm"),
];

#[test]
fn fixed_faults_are_judged() {
    let dir = Scratch::new("fixed", None);
    for (text, want) in FIXED_FAULTS {
        let out = shellguard_check(&dir, text);
        assert_eq!(out.status.code(), Some(0), "{text:?}: {out:?}");
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        assert_eq!(first, *want, "{text:?}");
        assert!(out.stderr.is_empty(), "{text:?} wrote to stderr: {out:?}");
    }
    let cfg = Scratch::new("fixed-config", Some("[[rule]]\nid = \"x.y\"\ndecision = \"confirm\"\nreason = \"r\"\nprogram = [\"git\"]\nflags = [\"-f|\"]\n"));
    let out = shellguard_check(&cfg, "git status -s");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty alternative"),
        "{out:?}"
    );
}

/// A project directory (with `.git` and `config` as its `.shellguard.toml`) and a home.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, config: Option<&str>) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sg-fuzz-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("proj/.git")).expect("scratch dir");
        std::fs::create_dir_all(dir.join("home")).expect("scratch home");
        if let Some(c) = config {
            std::fs::write(dir.join("proj/.shellguard.toml"), c).expect("project file");
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `shellguard check TEXT` in `dir`'s project with `dir`'s home, so nothing of the real home
/// is read or written.
fn shellguard_check(dir: &Scratch, text: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shellguard"))
        .args(["check", "--", text])
        .current_dir(dir.0.join("proj"))
        .env("HOME", dir.0.join("home"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run shellguard check")
}

/// [`shellguard_check`]: exit status, first line of
/// stdout, time taken.
/// Exit status, first line of stdout, time taken.
type Checked = (Option<i32>, String, Duration);

fn check_in(dir: &Scratch, text: &str) -> Checked {
    let t = Instant::now();
    let out = shellguard_check(dir, text);
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (out.status.code(), first, t.elapsed())
}

/// Every known fault: (description, exit status, first line, time), checked in parallel.
fn run_known_faults() -> Vec<(String, Checked)> {
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, (text, what, _)) in KNOWN_FAULTS.iter().enumerate() {
            handles.push((
                format!("{text:?} ({what})"),
                s.spawn(move || check_in(&Scratch::new(&format!("t{i}"), None), text)),
            ));
        }
        for (i, (config, text, what)) in KNOWN_CONFIG_FAULTS.iter().enumerate() {
            handles.push((
                format!("{text:?} with {config:?} ({what})"),
                s.spawn(move || check_in(&Scratch::new(&format!("c{i}"), Some(config)), text)),
            ));
        }
        (handles.into_iter())
            .map(|(d, h)| (d, h.join().expect("check")))
            .collect()
    })
}

/// Whatever the fault, the shell must not let through what it should not: each input gets
/// its right judgement or is refused as beyond analysis, however fast the machine.
#[test]
fn known_faults_fail_closed() {
    let right = KNOWN_FAULTS
        .iter()
        .map(|(_, _, j)| *j)
        .chain(KNOWN_CONFIG_FAULTS.iter().map(|_| "confirm"));
    for ((what, (code, first, took)), right) in run_known_faults().into_iter().zip(right) {
        eprintln!("{what}: exit {code:?}, {first:?}, {took:.2?}");
        let refused = code == Some(126) || (code == Some(0) && first == "confirm");
        let judged = code == Some(0) && first == right;
        assert!(refused || judged, "{what}: exit {code:?}, {first:?}");
    }
}

/// What should happen: an ordinary judgement, at once. Run after fixing:
/// `cargo test --release --test fuzz_analyze -- --ignored`.
#[test]
#[ignore = "known analyser faults, not fixed yet"]
fn known_faults_are_judged() {
    let mut wrong = Vec::new();
    for (what, (code, first, took)) in run_known_faults() {
        let judged = code == Some(0) && ["allow", "confirm", "deny"].contains(&first.as_str());
        if !judged || took > Duration::from_millis(100) {
            wrong.push(format!("{what}: exit {code:?}, {first:?}, {took:.2?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// `check --json` prints its JSON object whatever the input, the refusal of one beyond the
/// analysis limits included.
#[test]
fn check_json_always_prints_its_object() {
    let dir = Scratch::new("json", None);
    let too_deep = "( ".repeat(40);
    for (text, want) in [("ls", "allow"), (too_deep.as_str(), "deny")] {
        let out = Command::new(env!("CARGO_BIN_EXE_shellguard"))
            .args(["check", "--json", "--", text])
            .current_dir(dir.0.join("proj"))
            .env("HOME", dir.0.join("home"))
            .stdin(Stdio::null())
            .output()
            .expect("run shellguard check");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{text:?}: not JSON ({e}): {out:?}"));
        assert_eq!(v["decision"], want, "{text:?}: {v}");
        assert!(v["matches"].is_array() && v["mode"].is_string(), "{v}");
    }
}
