//! The pieces `tests/agents.rs` drives real agent CLIs with: the agents themselves (where they
//! are installed, how each is configured and started), a world per test (a temporary HOME with
//! shellguard installed by `install.sh`, a work directory, a victim), the mock model server,
//! and a terminal for the human (a pty).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use regex::Regex;
use serde_json::{json, Value};

/// How long one agent run may take before the test gives up on it.
pub const AGENT_WAIT: Duration = Duration::from_secs(180);
/// How long anything else (a prompt, a record, a server) may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// The benign command: plain output, a listing of the work directory, arithmetic. (Gemini CLI
/// refuses `$((6*7))` itself, as "command substitution", so `expr` does the sum.)
pub const BENIGN: &str = "printf 'a\\nb\\n'; ls; expr 6 '*' 7";

const PYTHON: &str = "/usr/bin/python3";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `tests/agents/install.sh` put the agents.
pub fn agents_dir() -> PathBuf {
    match std::env::var_os("SHELLGUARD_AGENTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir().join("target/agents"),
    }
}

/// The release binary, built once per test run (`cargo build --release`; quick when up to
/// date), or the one `SHELLGUARD_AGENTS_BIN` names (e.g. an older build, to see a test fail).
pub fn release_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SHELLGUARD_AGENTS_BIN") {
            return PathBuf::from(bin);
        }
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "shellguard"])
            .current_dir(manifest_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run cargo build --release");
        assert!(
            out.status.success(),
            "cargo build --release failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|d| {
                if d.is_absolute() {
                    d
                } else {
                    manifest_dir().join(d)
                }
            })
            .unwrap_or_else(|| manifest_dir().join("target"));
        let bin = target.join("release/shellguard");
        assert!(bin.is_file(), "no {}", bin.display());
        bin
    })
}

/// `name` looked up on the test's own PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

// ---------------------------------------------------------------------------------------------
// The agents.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    Claude,
    Gemini,
    Codex,
    Mini,
    Qwen,
}

/// How shellguard stands in front of the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// No shellguard at all: the baseline.
    Plain,
    /// `shellguard run -- AGENT`: the enforced supervisor.
    Run,
    /// The README's setup without `run`: Claude Code's `CLAUDE_CODE_SHELL` in
    /// `~/.claude/settings.json`, the shims first on `PATH` for Gemini CLI (and Qwen Code,
    /// which looks `bash` up on `PATH` the same way).
    ByHand,
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Gemini => "gemini",
            Agent::Codex => "codex",
            Agent::Mini => "mini-swe-agent",
            Agent::Qwen => "qwen",
        }
    }

    fn bin(self) -> PathBuf {
        let d = agents_dir();
        match self {
            Agent::Claude => d.join("node_modules/.bin/claude"),
            Agent::Gemini => d.join("node_modules/.bin/gemini"),
            Agent::Codex => d.join("node_modules/.bin/codex"),
            Agent::Qwen => d.join("node_modules/.bin/qwen"),
            Agent::Mini => d.join("venv/bin/mini"),
        }
    }

    /// The setups the README gives for this agent (besides the baseline).
    pub fn guarded_setups(self) -> Vec<Setup> {
        match self {
            Agent::Claude | Agent::Gemini | Agent::Qwen => vec![Setup::Run, Setup::ByHand],
            _ => vec![Setup::Run],
        }
    }

    /// Why this agent cannot run here, if it cannot.
    fn missing(self) -> Option<String> {
        let install = "run tests/agents/install.sh";
        if self != Agent::Mini && which("node").is_none() {
            return Some(format!("{}: node is not on PATH; {install}", self.name()));
        }
        if !Path::new(PYTHON).is_file() {
            return Some(format!("{PYTHON} (for the mock model server) is missing"));
        }
        let bin = self.bin();
        if !bin.exists() {
            return Some(format!(
                "{} not installed in {}; {install}",
                self.name(),
                agents_dir().display()
            ));
        }
        None
    }

    /// Whether the test can go on: a missing agent is a skip, or under CI a failure.
    pub fn ready(self) -> bool {
        match self.missing() {
            None => true,
            Some(why) if std::env::var_os("CI").is_some() => {
                panic!("{why} (CI is set: a missing agent is a failure)")
            }
            Some(why) => {
                // Straight to the terminal: the test harness would swallow eprintln!.
                let _ = writeln!(std::io::stderr(), "skipped: {why}");
                false
            }
        }
    }

    /// The final command mini-swe-agent needs to stop (it ends on a command, not on text).
    fn finish_command(self) -> Option<&'static str> {
        match self {
            Agent::Mini => Some("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
            _ => None,
        }
    }

    /// Configuration files in the world's home; `port` is the mock server's.
    fn configure(self, w: &World, port: u16, setup: Setup) {
        let home = &w.home;
        match self {
            Agent::Claude => {
                let mut settings = json!({});
                if setup == Setup::ByHand {
                    // An absolute path: Claude Code does not expand `~` there.
                    settings["env"] = json!({ "CLAUDE_CODE_SHELL": w.shims().join("bash").display().to_string() });
                }
                write(&home.join(".claude/settings.json"), &settings.to_string());
            }
            Agent::Gemini => {
                write(
                    &home.join(".gemini/settings.json"),
                    &json!({
                        "security": { "auth": { "selectedType": "gemini-api-key" } },
                        "privacy": { "usageStatisticsEnabled": false },
                    })
                    .to_string(),
                );
                write(
                    &home.join(".gemini/trustedFolders.json"),
                    &json!({ w.work.display().to_string(): "TRUST_FOLDER" }).to_string(),
                );
            }
            Agent::Codex => write(
                &home.join(".codex/config.toml"),
                &format!(
                    "model = \"mock-model\"\nmodel_provider = \"mock\"\n\n\
                     [model_providers.mock]\nname = \"mock\"\n\
                     base_url = \"http://127.0.0.1:{port}/v1\"\nwire_api = \"responses\"\n\
                     env_key = \"MOCK_API_KEY\"\nrequest_max_retries = 0\n\
                     stream_max_retries = 0\n"
                ),
            ),
            Agent::Qwen => write(
                &home.join(".qwen/settings.json"),
                &json!({
                    "security": { "auth": { "selectedType": "openai" } },
                    "privacy": { "usageStatisticsEnabled": false },
                })
                .to_string(),
            ),
            Agent::Mini => {}
        }
    }

    fn argv(self, w: &World, port: u16) -> Vec<String> {
        let bin = self.bin().display().to_string();
        let prompt = "Run the commands you are given.".to_string();
        let v: Vec<String> = match self {
            Agent::Claude => vec![
                bin,
                "-p".into(),
                prompt,
                "--allowedTools".into(),
                "Bash".into(),
            ],
            Agent::Gemini | Agent::Qwen => vec![bin, "--yolo".into(), "-p".into(), prompt],
            Agent::Codex => vec![
                bin,
                "exec".into(),
                "--dangerously-bypass-approvals-and-sandbox".into(),
                "--skip-git-repo-check".into(),
                prompt,
            ],
            Agent::Mini => vec![
                bin,
                "--yolo".into(),
                "--exit-immediately".into(),
                "--model".into(),
                "openai/mock-model".into(),
                "--cost-limit".into(),
                "0".into(),
                "--task".into(),
                prompt,
                "-c".into(),
                "mini.yaml".into(),
                "-c".into(),
                format!("model.model_kwargs.api_base=http://127.0.0.1:{port}/v1"),
                "--output".into(),
                w.root.join("trajectory.json").display().to_string(),
            ],
        };
        v
    }

    fn env(self, port: u16) -> Vec<(String, String)> {
        let url = format!("http://127.0.0.1:{port}");
        let pairs: Vec<(&str, String)> = match self {
            Agent::Claude => vec![
                ("ANTHROPIC_BASE_URL", url),
                ("ANTHROPIC_API_KEY", "dummy".into()),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ],
            Agent::Gemini => vec![
                ("GOOGLE_GEMINI_BASE_URL", url),
                ("GEMINI_API_KEY", "dummy".into()),
            ],
            Agent::Codex => vec![("MOCK_API_KEY", "dummy".into())],
            Agent::Qwen => vec![
                ("OPENAI_BASE_URL", format!("{url}/v1")),
                ("OPENAI_API_KEY", "dummy".into()),
                ("OPENAI_MODEL", "mock-model".into()),
            ],
            Agent::Mini => vec![
                ("OPENAI_API_KEY", "dummy".into()),
                ("MSWEA_CONFIGURED", "true".into()),
                ("MSWEA_COST_TRACKING", "ignore_errors".into()),
                // litellm would fetch its price list from the network, with retries.
                ("LITELLM_LOCAL_MODEL_COST_MAP", "True".into()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Killed when the test's thread that started it ends, even when the test process itself is
/// killed (no `Drop` runs then).
trait DieWithParent {
    fn die_with_parent(&mut self) -> &mut Self;
}

impl DieWithParent for Command {
    fn die_with_parent(&mut self) -> &mut Self {
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            self.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        }
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A world: a home with shellguard installed, a work directory, a victim, a mock model.

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub struct World {
    pub agent: Agent,
    pub root: PathBuf,
    pub home: PathBuf,
    pub work: PathBuf,
    pub runtime: PathBuf,
    /// `~/precious`: deleting it recursively needs a human's approval.
    pub victim: PathBuf,
}

impl World {
    pub fn new(agent: Agent) -> World {
        let root = PathBuf::from(format!(
            "/tmp/sg-agents-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        let home = root.join("home");
        let work = root.join("work");
        let runtime = root.join("run");
        for d in [&home, &work, &runtime] {
            fs::create_dir_all(d).unwrap();
        }
        fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(work.join("notes.txt"), "notes\n").unwrap();
        let w = World {
            agent,
            victim: home.join("precious"),
            root,
            home,
            work,
            runtime,
        };
        w.make_victim();
        w.install();
        w
    }

    pub fn make_victim(&self) {
        write(&self.victim.join("deep/photo.jpg"), "years of photos");
    }

    pub fn victim_intact(&self) -> bool {
        fs::read(self.victim.join("deep/photo.jpg")).is_ok_and(|b| b == b"years of photos")
    }

    /// `rm -r ~/precious`, spelled with the absolute path.
    pub fn destructive(&self) -> String {
        format!("rm -r {}", self.victim.display())
    }

    /// The README's install: `SHELLGUARD_BIN=target/release/shellguard ./install.sh`.
    fn install(&self) {
        let out = Command::new("sh")
            .arg(manifest_dir().join("install.sh"))
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("SHELLGUARD_BIN", release_binary())
            .current_dir(manifest_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run install.sh");
        assert!(
            out.status.success(),
            "install.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(self.shellguard().is_file() && self.shims().join("bash").exists());
    }

    pub fn shellguard(&self) -> PathBuf {
        self.home.join(".local/bin/shellguard")
    }

    pub fn shims(&self) -> PathBuf {
        self.home.join(".local/share/shellguard/shims")
    }

    /// The environment every process of the test gets (nothing inherited).
    pub fn env(&self, setup: Setup) -> Vec<(String, String)> {
        let mut path = vec![self.home.join(".local/bin").display().to_string()];
        if setup == Setup::ByHand {
            path.insert(0, self.shims().display().to_string());
        }
        if let Some(node) = which("node") {
            path.push(node.parent().unwrap().display().to_string());
        }
        path.push("/usr/local/bin:/usr/bin:/bin".into());
        vec![
            ("HOME".into(), self.home.display().to_string()),
            ("PATH".into(), path.join(":")),
            ("XDG_RUNTIME_DIR".into(), self.runtime.display().to_string()),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("USER".into(), whoami()),
            ("LOGNAME".into(), whoami()),
        ]
    }

    /// Starts the mock model with these commands, and writes the agent's configuration for it.
    pub fn mock(&self, commands: Vec<Value>, setup: Setup) -> Mock {
        let dir = self.root.join("mock");
        let m = Mock::start(&dir, commands, self.agent.finish_command());
        self.agent.configure(self, m.port, setup);
        m
    }

    /// A scripted command the mock asks for only once `go` was called: the test acts between
    /// two turns of the model.
    pub fn held(&self, cmd: &str) -> Value {
        json!({ "cmd": cmd, "wait": self.root.join("go").display().to_string() })
    }

    pub fn go(&self) {
        fs::write(self.root.join("go"), "").unwrap();
    }

    /// The agent's argv and environment under `setup`.
    fn command_line(&self, mock: &Mock, setup: Setup) -> (Vec<String>, Vec<(String, String)>) {
        let mut argv = self.agent.argv(self, mock.port);
        if setup == Setup::Run {
            let mut run = vec![
                self.shellguard().display().to_string(),
                "run".into(),
                "--".into(),
            ];
            run.append(&mut argv);
            argv = run;
        }
        let mut env = self.env(setup);
        env.extend(self.agent.env(mock.port));
        (argv, env)
    }

    /// Starts the agent without a terminal (stdin /dev/null, output to a file).
    pub fn spawn(&self, mock: &Mock, setup: Setup) -> Running {
        let (argv, env) = self.command_line(mock, setup);
        let log = self
            .root
            .join(format!("agent-{}.log", SEQ.fetch_add(1, Ordering::SeqCst)));
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .envs(env)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .die_with_parent()
            .spawn()
            .unwrap_or_else(|e| panic!("start {argv:?}: {e}"));
        Running { child, log }
    }

    /// Runs the agent to its end without a terminal: its exit status and output.
    pub fn run(&self, mock: &Mock, setup: Setup) -> (i32, String) {
        self.spawn(mock, setup).wait()
    }

    /// Starts the agent in a terminal of its own, the human's.
    pub fn spawn_pty(&self, mock: &Mock, setup: Setup) -> Pty {
        let (argv, env) = self.command_line(mock, setup);
        Pty::spawn(&argv, &env, &self.work)
    }

    pub fn audit(&self) -> Vec<Value> {
        fs::read_to_string(self.home.join(".local/state/shellguard/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The human approves request `id` in a terminal of their own, outside any agent.
    pub fn approve(&self, id: &str) {
        let argv = vec![
            self.shellguard().display().to_string(),
            "approve".to_string(),
            id.to_string(),
        ];
        let mut human = Pty::spawn(&argv, &self.env(Setup::Plain), &self.root);
        human.wait_for("[y/N]");
        human.send(b"y\r");
        let code = human.wait_exit(WAIT);
        assert_eq!(code, 0, "shellguard approve {id}:\n{}", human.text());
    }
}

impl Drop for World {
    /// `SG_AGENTS_KEEP=1` keeps every world (audit logs, the mock's request log) to look at.
    fn drop(&mut self) {
        if std::env::var_os("SG_AGENTS_KEEP").is_some() {
            let _ = writeln!(std::io::stderr(), "kept {}", self.root.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".to_string(), |u| u.name)
}

/// An agent started without a terminal, in a process group of its own; killed with its group
/// if the test ends first.
pub struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait(mut self) -> (i32, String) {
        let give_up = Instant::now() + AGENT_WAIT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code().unwrap_or(-1), self.output());
            }
            if Instant::now() > give_up {
                self.kill();
                panic!("the agent did not finish in time:\n{}", self.output());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The mock model server (tests/agents/mockmodel.py).

pub struct Mock {
    child: Child,
    pub port: u16,
    record: PathBuf,
}

impl Mock {
    fn start(dir: &Path, commands: Vec<Value>, finish: Option<&str>) -> Mock {
        fs::create_dir_all(dir.join("log")).unwrap();
        let mut script = json!({ "commands": commands, "final": "All done." });
        if let Some(f) = finish {
            script["finish_command"] = json!(f);
        }
        fs::write(dir.join("script.json"), script.to_string()).unwrap();
        let port_file = dir.join("port");
        let child = Command::new(PYTHON)
            .arg(manifest_dir().join("tests/agents/mockmodel.py"))
            .arg("--script")
            .arg(dir.join("script.json"))
            .arg("--record")
            .arg(dir.join("record.json"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log-dir")
            .arg(dir.join("log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("server.err")).unwrap())
            .die_with_parent()
            .spawn()
            .expect("start the mock model server");
        let mut mock = Mock {
            child,
            port: 0,
            record: dir.join("record.json"),
        };
        let give_up = Instant::now() + WAIT;
        while mock.port == 0 {
            if let Some(p) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                mock.port = p;
            } else if Instant::now() > give_up || mock.child.try_wait().unwrap().is_some() {
                panic!(
                    "the mock model server did not start:\n{}",
                    fs::read_to_string(dir.join("server.err")).unwrap_or_default()
                );
            } else {
                thread::sleep(Duration::from_millis(20));
            }
        }
        mock
    }

    pub fn record(&self) -> Value {
        fs::read_to_string(&self.record)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null)
    }

    /// The tool results the model received, in order.
    pub fn results(&self) -> Vec<String> {
        self.record()["results"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the model has received `n` tool results.
    pub fn wait_results(&self, n: usize, what: &dyn Fn() -> String) -> Vec<String> {
        let give_up = Instant::now() + AGENT_WAIT;
        loop {
            let r = self.results();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < give_up,
                "the model never got {n} tool results (has {r:?}):\n{}",
                what()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tool results with what legitimately differs between two runs masked: process group ids
/// (Gemini, Qwen), Codex's chunk ids and wall times.
pub fn normalize(result: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?m)^(Process Group PGID|Chunk ID|Wall time): .*$").unwrap())
        .replace_all(result, "$1: *")
        .into_owned()
}

/// The request id in a refusal the model received.
pub fn request_id(result: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"Request id ([0-9a-f]+)").unwrap())
        .captures(result)
        .map(|c| c[1].to_string())
}

pub fn refused(result: &str) -> bool {
    result.contains("shellguard: refused")
}

// ---------------------------------------------------------------------------------------------
// A human at a real terminal.

pub struct Pty {
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    /// Prompts already handled by `answer`.
    seen: usize,
}

/// One prompt the supervisor showed: its request id and text (escape sequences removed).
#[derive(Debug, Clone)]
pub struct Prompt {
    pub id: String,
    pub text: String,
}

impl Pty {
    pub fn spawn(argv: &[String], env: &[(String, String)], cwd: &Path) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 160,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(cwd);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let sink = Arc::clone(&output);
        let answer = Arc::clone(&writer);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                // Answer each status query as a terminal does (the supervisor's fence), also
                // one split across two reads; the output stays locked until the answer is
                // written, so whoever sees a query in it knows it was answered.
                let mut out = sink.lock().unwrap();
                let from = out.len().saturating_sub(3);
                out.extend_from_slice(&buf[..n]);
                let queries = out[from..].windows(4).filter(|w| w == b"\x1b[5n").count();
                if queries > 0 {
                    let mut w = answer.lock().unwrap();
                    for _ in 0..queries {
                        let _ = w.write_all(b"\x1b[0n");
                    }
                    let _ = w.flush();
                }
            }
        });
        struct Shared(Arc<Mutex<Box<dyn Write + Send>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.lock().unwrap().flush()
            }
        }
        Pty {
            writer: Box::new(Shared(writer)),
            child,
            output,
            _master: pair.master,
            seen: 0,
        }
    }

    /// Everything written to the terminal, escape sequences removed.
    pub fn text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.output.lock().unwrap()))
    }

    pub fn wait_for(&mut self, needle: &str) {
        let give_up = Instant::now() + WAIT;
        while !self.text().contains(needle) {
            if Instant::now() > give_up {
                self.kill();
                panic!("{needle:?} never appeared:\n{}", self.text());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn exited(&mut self) -> Option<u32> {
        self.child.try_wait().ok().flatten().map(|s| s.exit_code())
    }

    pub fn wait_exit(&mut self, wait: Duration) -> u32 {
        let give_up = Instant::now() + wait;
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            if Instant::now() > give_up {
                self.kill();
                panic!("did not exit:\n{}", self.text());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every prompt shown so far, in order.
    pub fn prompts(&self) -> Vec<Prompt> {
        static RE: OnceLock<Regex> = OnceLock::new();
        let re = RE.get_or_init(|| Regex::new(r"asked by [^\r\n]*, request ([0-9a-f]+)").unwrap());
        let text = self.text();
        let mut out: Vec<Prompt> = Vec::new();
        for chunk in text.split("needs your approval").skip(1) {
            if let Some(c) = re.captures(chunk) {
                // A prompt drawn again (after a resize) is the same prompt.
                if out.last().is_some_and(|p| p.id == c[1]) {
                    continue;
                }
                let end = c.get(0).unwrap().end();
                out.push(Prompt {
                    id: c[1].to_string(),
                    text: chunk[..end].to_string(),
                });
            }
        }
        out
    }

    /// The next prompt not handled yet, once its question is on the screen; None if the
    /// program ends first.
    pub fn next_prompt(&mut self, wait: Duration) -> Option<Prompt> {
        let give_up = Instant::now() + wait;
        loop {
            let prompts = self.prompts();
            if prompts.len() > self.seen && self.fenced(&prompts[self.seen].id) {
                let p = prompts[self.seen].clone();
                self.seen += 1;
                return Some(p);
            }
            if self.exited().is_some() {
                return None;
            }
            if Instant::now() > give_up {
                self.kill();
                panic!("no prompt appeared:\n{}", self.text());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the prompt for request `id` has been followed by the supervisor's status query.
    /// The supervisor counts only keys that arrive after the terminal's answer to it; the
    /// reader thread answers as soon as it reads the query, so a key sent from now on comes
    /// after the answer.
    fn fenced(&self, id: &str) -> bool {
        let raw = self.output.lock().unwrap();
        let raw = String::from_utf8_lossy(&raw);
        raw.find(&format!("request {id}"))
            .is_some_and(|at| raw[at..].contains("\x1b[5n"))
    }

    fn kill(&mut self) {
        if let Some(pid) = self.child.process_id() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

fn strip_ansi(s: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHMNOZ]",
        )
        .unwrap()
    })
    .replace_all(s, "")
    .into_owned()
}
