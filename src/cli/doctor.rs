//! `shellguard doctor [AGENT…]`: for every agent installed here, prove whether the commands it
//! runs pass through shellguard.
//!
//! Reading an agent's configuration is not proof: Claude Code quietly ignores a
//! `CLAUDE_CODE_SHELL` it cannot use, Codex ignores `$SHELL` and `PATH` altogether, and a later
//! settings file or `.env` can override an earlier one. So for each agent found on `PATH`,
//! doctor finds the shell the way that agent finds it, from the inputs that agent reads (its
//! settings' `env`, `$SHELL`, `PATH`, the passwd login shell, `/bin/sh`), and runs it the way
//! that agent runs a command (`SHELL -c -l '…eval CMD…'` for Claude Code, `bash -c` from `PATH`
//! for Gemini CLI, `LOGIN_SHELL -lc CMD` for Codex, `/bin/sh -c CMD` for mini-swe-agent, …),
//! with a harmless canary, `echo shellguard-doctor-canary-TOKEN`, TOKEN fresh and random.
//!
//! The proof is on shellguard's side: the guard appends one audit record for every command it
//! judges, allowed ones included, before it hands the command to the real shell. A canary whose
//! record (its token in the judged text) appears in the audit log went through the guard; a
//! plain bash running the same `echo` writes nothing there. Inside an enforced
//! `shellguard run`, the supervisor writes the guards' records, a moment later, so doctor waits
//! a little for them there.
//!
//! Doctor changes nothing (the canary's own audit record aside) and never starts an agent
//! against a model: it runs only `AGENT --version`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::approve::sanitize::for_display;
use crate::audit;
use crate::cli::setup::{self, Agent};

/// Exit status of a usage error.
const USAGE: u8 = 2;
/// A login shell reads the user's profile first; a slow one still ends well within this.
const CANARY_TIMEOUT: Duration = Duration::from_secs(15);
/// Node-based CLIs take seconds to print their version; past this it is left out.
const VERSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Inside an enforced tree the supervisor writes the guards' audit records after they hand
/// them over, so the canary's may land just after the shell exits.
const RECORD_WAIT: Duration = Duration::from_secs(3);
const CANARY: &str = "shellguard-doctor-canary-";
/// Only the canary's lines are looked for; a log read from the offset taken before it is
/// normally one line long.
const MAX_LOG_READ: u64 = 64 * 1024 * 1024;
const MAX_OUTPUT: usize = 64 * 1024;

const USAGE_LINE: &str = "usage: shellguard doctor [AGENT...]
  AGENT: claude, gemini, qwen, codex, mini-swe-agent (or mini), aider, opencode; default: every
  one found on PATH. Exit status: 0 when every agent found is guarded, 1 when any is not.";

/// The process doctor runs in: what every agent started from here would inherit.
struct Here {
    vars: HashMap<String, String>,
    cwd: PathBuf,
    enforced: bool,
    supervised: bool,
    tmp: PathBuf,
}

/// How an agent would start one command.
struct Launch {
    /// The shell the agent would run; `None` when it would find none.
    program: Option<PathBuf>,
    /// `argv[0]` as the agent passes it.
    argv0: OsString,
    args: Vec<String>,
    /// The arguments for people, the canary shown as CMD.
    shape: String,
    /// Variables the agent's own configuration adds to its environment, in order.
    overlay: Vec<(String, String)>,
    /// How the agent chose the shell, for people.
    how: String,
    /// Setups that fail open, said loudly whatever the canary shows.
    warnings: Vec<String>,
    /// Only `shellguard run` (or a login shell change) can guard this agent.
    run_only: bool,
}

impl Launch {
    fn vars(&self, base: &HashMap<String, String>) -> HashMap<String, String> {
        let mut v = base.clone();
        v.extend(self.overlay.iter().cloned());
        v
    }
}

enum Verdict {
    /// The canary's audit record: when, and what the guard decided.
    Guarded {
        time: String,
        decision: String,
        outcome: String,
    },
    NotGuarded,
    /// The shell is shellguard, yet the record did not appear: not proven.
    Unproven(String),
}

struct Report {
    agent: Agent,
    program: PathBuf,
    version: Option<String>,
    launch: Launch,
    verdict: Verdict,
    details: Vec<String>,
}

pub fn main(args: &[String]) -> u8 {
    let mut agents = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE_LINE}");
                return 0;
            }
            s => match Agent::from_name(s) {
                Some(agent) if !agents.contains(&agent) => agents.push(agent),
                Some(_) => {}
                None => {
                    eprintln!(
                        "shellguard doctor: unknown agent `{}`\n{USAGE_LINE}",
                        for_display(s)
                    );
                    return USAGE;
                }
            },
        }
    }
    let named = !agents.is_empty();
    if !named {
        agents = Agent::ALL.to_vec();
    }
    let ctx = crate::analyze::Context::from_process();
    let Some(cwd) = ctx.cwd.clone() else {
        eprintln!("shellguard doctor: the current directory is gone");
        return 1;
    };
    let token = random_token();
    let tmp = std::env::temp_dir().join(format!("shellguard-doctor-{token}"));
    if let Err(e) = DirBuilder::new().mode(0o700).create(&tmp) {
        eprintln!("shellguard doctor: cannot create {}: {e}", tmp.display());
        return 1;
    }
    let here = Here {
        supervised: ctx
            .vars
            .contains_key(crate::approve::protocol::SUPERVISOR_ENV),
        vars: ctx.vars,
        cwd,
        enforced: crate::enforced::current().is_some(),
        tmp,
    };
    let status = doctor(&here, &agents, named);
    let _ = fs::remove_dir_all(&here.tmp);
    status
}

fn doctor(here: &Here, agents: &[Agent], named: bool) -> u8 {
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "shellguard doctor: each agent's shell is found the way that agent finds it and run the \
         way it runs a command, with a harmless canary (`echo {CANARY}…`). GUARDED means the \
         canary's record is in shellguard's audit log, which only the guard writes."
    );
    if here.enforced {
        let _ = writeln!(
            out,
            "\nThis runs INSIDE `shellguard run` (enforced): every shell started in this tree is \
             the guard, by any path, so agents started from here are guarded. How they are set \
             up outside it is not visible from here: run `shellguard doctor` in a terminal of \
             your own for that."
        );
    } else if here.supervised {
        let _ = writeln!(
            out,
            "\nThis runs below a shellguard supervisor ({} is set: `shellguard run --unenforced` \
             or the guarded interactive shell), which set PATH, SHELL and CLAUDE_CODE_SHELL \
             here: this checks agents started from here, not from a terminal of your own.",
            crate::approve::protocol::SUPERVISOR_ENV
        );
    }
    let path = here.vars.get("PATH").map(String::as_str);
    let found: Vec<(Agent, PathBuf)> = agents
        .iter()
        .filter_map(|&a| {
            let p = a.programs().iter().find_map(|p| setup::which(p, path));
            if p.is_none() && named {
                let _ = writeln!(out, "\n{}: not found on PATH.", a.title());
            }
            Some(a).zip(p)
        })
        .collect();
    if found.is_empty() {
        let names: Vec<&str> = agents.iter().map(|a| a.name()).collect();
        let _ = writeln!(
            out,
            "\nNo agent found on PATH (looked for {}).",
            names.join(", ")
        );
        if let Some(tools) = crate::policy::tools::advice(&here.vars) {
            let _ = write!(out, "\n{tools}");
        }
        return 0;
    }
    let _ = out.flush();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = found
            .iter()
            .map(|(agent, program)| s.spawn(move || check(*agent, program, here)))
            .collect();
        handles
            .into_iter()
            .zip(&found)
            .map(|(h, (agent, program))| {
                h.join().unwrap_or_else(|_| Report {
                    agent: *agent,
                    program: program.clone(),
                    version: None,
                    launch: no_launch(),
                    verdict: Verdict::Unproven("the check itself failed".into()),
                    details: Vec::new(),
                })
            })
            .collect()
    });
    let mut not_guarded = Vec::new();
    for r in &reports {
        let _ = write!(out, "\n{}", render(r, here));
        if !matches!(r.verdict, Verdict::Guarded { .. }) {
            not_guarded.push(r.agent.name());
        }
    }
    if let Some(tools) = crate::policy::tools::advice(&here.vars) {
        let _ = write!(out, "\n{tools}");
    }
    let guarded = reports.len() - not_guarded.len();
    let _ = writeln!(
        out,
        "\n{} checked: {guarded} guarded{}",
        match reports.len() {
            1 => "1 agent".to_string(),
            n => format!("{n} agents"),
        },
        if not_guarded.is_empty() {
            ".".to_string()
        } else {
            format!(
                ", {} NOT GUARDED ({}): their commands run unchecked. See the fixes above.",
                not_guarded.len(),
                not_guarded.join(", ")
            )
        }
    );
    u8::from(!not_guarded.is_empty())
}

fn no_launch() -> Launch {
    Launch {
        program: None,
        argv0: OsString::new(),
        args: Vec::new(),
        shape: String::new(),
        overlay: Vec::new(),
        how: String::new(),
        warnings: Vec::new(),
        run_only: false,
    }
}

/// Everything about one agent: its version, its shell, and the canary's fate.
fn check(agent: Agent, program: &Path, here: &Here) -> Report {
    // mini-swe-agent has no --version: anything else it is given may start the agent.
    let version = (agent != Agent::Mini)
        .then(|| version(program, here))
        .flatten();
    let token = random_token();
    let command = format!("echo {CANARY}{token}");
    let launch = launch(agent, here, &command, &token);
    let mut details = Vec::new();
    let Some(shell) = launch.program.clone() else {
        return Report {
            agent,
            program: program.to_path_buf(),
            version,
            launch,
            verdict: Verdict::NotGuarded,
            details,
        };
    };
    let vars = launch.vars(&here.vars);
    let log = audit::log_path(&vars);
    let start = log
        .as_ref()
        .and_then(|l| fs::metadata(l).ok())
        .map_or(0, |m| m.len());
    let env = environment(&launch.overlay);
    let ran = run(
        &shell,
        &launch.argv0,
        &launch.args,
        Some(&env),
        &here.cwd,
        CANARY_TIMEOUT,
    );
    match &ran {
        Err(e) => details.push(format!(
            "the agent could not start this shell: {e} (it would fail to run any command)"
        )),
        Ok(r) if r.timed_out => details.push(format!(
            "the canary did not finish in {} s and was stopped",
            CANARY_TIMEOUT.as_secs()
        )),
        Ok(r) => {
            let printed = String::from_utf8_lossy(&r.stdout).contains(&format!("{CANARY}{token}"));
            if !printed {
                let err = String::from_utf8_lossy(&r.stderr);
                let err = err.lines().next().unwrap_or("").trim();
                details.push(format!(
                    "the canary did not print its token (exit status {}){}",
                    r.status.map_or("none".into(), |s| s.to_string()),
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", for_display(err))
                    }
                ));
            }
        }
    }
    let wait = if here.enforced {
        RECORD_WAIT
    } else {
        Duration::ZERO
    };
    let record = log
        .as_deref()
        .and_then(|l| find_record(l, start, &token, wait));
    let verdict = match record {
        Some(r) => Verdict::Guarded {
            time: r.time,
            decision: r.decision,
            outcome: r.outcome,
        },
        None if setup::is_shellguard(&resolve(&shell, &here.cwd)) => Verdict::Unproven(format!(
            "{} is shellguard, but no record of the canary appeared in {}",
            shell.display(),
            log.map_or("the audit log (no HOME or XDG_STATE_HOME)".into(), |l| l
                .display()
                .to_string())
        )),
        None => Verdict::NotGuarded,
    };
    Report {
        agent,
        program: program.to_path_buf(),
        version,
        launch,
        verdict,
        details,
    }
}

fn resolve(p: &Path, cwd: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

fn render(r: &Report, here: &Here) -> String {
    let mut s = String::new();
    let l = &r.launch;
    s.push_str(&format!(
        "{} ({}{})\n",
        r.agent.title(),
        r.program.display(),
        r.version
            .as_ref()
            .map(|v| format!(", {v}"))
            .unwrap_or_default()
    ));
    s.push_str(&format!("  shell: {}\n", l.how));
    if let Some(p) = &l.program {
        s.push_str(&format!(
            "  runs:  {} {}{}\n",
            for_display(&l.argv0.to_string_lossy()),
            l.shape,
            if setup::is_shellguard(&resolve(p, &here.cwd)) {
                "   (that file is shellguard)"
            } else {
                ""
            }
        ));
    }
    for w in &l.warnings {
        s.push_str(&format!("  FAIL-OPEN SETUP: {w}\n"));
    }
    for d in &r.details {
        s.push_str(&format!("  note:  {d}\n"));
    }
    let shell = l
        .program
        .as_ref()
        .map_or("no shell at all (or do not run)".into(), |p| {
            p.display().to_string()
        });
    match &r.verdict {
        Verdict::Guarded {
            time,
            decision,
            outcome,
        } => {
            s.push_str(&format!(
                "  GUARDED{}: shellguard judged the canary (audit record {}, decision {}, {}).\n",
                if here.enforced {
                    " here, by this `shellguard run`"
                } else {
                    ""
                },
                time,
                decision,
                outcome
            ));
        }
        Verdict::NotGuarded if l.run_only => {
            s.push_str(&format!(
                "  NOT GUARDED when started directly (FAIL-OPEN): its commands run in {shell} \
                 unchecked. It is guarded only under `{}`.\n",
                r.agent.run_command()
            ));
            s.push_str(&fixes(r.agent, here));
        }
        Verdict::NotGuarded => {
            s.push_str(&format!(
                "  NOT GUARDED (FAIL-OPEN): its commands run in {shell} unchecked.\n"
            ));
            s.push_str(&fixes(r.agent, here));
        }
        Verdict::Unproven(why) => {
            s.push_str(&format!(
                "  NOT PROVEN: {why}; counted as not guarded. Is the state directory writable?\n"
            ));
        }
    }
    s
}

fn fixes(agent: Agent, here: &Here) -> String {
    let shim = setup::shims_dir(&here.vars)
        .map(|d| d.join("bash").display().to_string())
        .unwrap_or_else(|| "~/.local/share/shellguard/shims/bash".into());
    let run = agent.run_command();
    let lines = match agent {
        Agent::Claude => vec![
            "`shellguard setup claude` (writes CLAUDE_CODE_SHELL, as an absolute path)".into(),
            format!("or start it as `{run}`"),
        ],
        Agent::Gemini | Agent::Qwen => vec![
            format!(
                "`shellguard setup {}` (the shims first on PATH in your shell's startup file; \
                 then open a new terminal)",
                agent.name()
            ),
            format!("or start it as `{run}`"),
        ],
        Agent::Aider => vec![
            "`shellguard setup aider` (SHELL in ~/.env, which aider loads)".into(),
            format!("or start it as `{run}`"),
        ],
        Agent::Codex => vec![
            format!(
                "start it as `{run}`: Codex runs the passwd login shell by absolute path, so \
                 no setting of Codex, $SHELL or PATH can guard it"
            ),
            format!(
                "or make the shim your login shell (`chsh -s {}`; shellguard never does this \
                 for you)",
                setup::sh_quote(&shim)
            ),
        ],
        Agent::Mini => vec![format!(
            "start it as `{run}`: it runs /bin/sh by absolute path and has no shell setting"
        )],
        Agent::Opencode => vec![
            format!("start it as `{run}`"),
            format!("or as `SHELL={} opencode`", setup::sh_quote(&shim)),
        ],
    };
    let mut s = String::new();
    for (i, l) in lines.iter().enumerate() {
        s.push_str(if i == 0 { "  fix:   " } else { "         " });
        s.push_str(l);
        s.push('\n');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// How each agent finds its shell and runs a command.

fn launch(agent: Agent, here: &Here, command: &str, token: &str) -> Launch {
    let path_of = |vars: &HashMap<String, String>| vars.get("PATH").cloned();
    match agent {
        Agent::Claude => claude(here, command, token),
        Agent::Gemini | Agent::Qwen => {
            let bash = setup::which("bash", path_of(&here.vars).as_deref());
            let args = if agent == Agent::Gemini {
                // Gemini CLI 0.61's wrapper, with its background-pid file in our directory.
                let bg = here.tmp.join(format!("gemini-{token}-bgpids.tmp"));
                vec![
                    "-c".into(),
                    format!(
                        "shopt -u promptvars nullglob extglob nocaseglob dotglob; \
                         _bgpids_file={}\n(\n  trap 'jobs -p > \"$_bgpids_file\"' EXIT\n{command}\n)\n__code=$?\nexit $__code",
                        setup::sh_quote(&bg.to_string_lossy())
                    ),
                ]
            } else {
                vec!["-c".into(), command.into()]
            };
            let shape = if agent == Agent::Gemini {
                "-c 'shopt -u promptvars nullglob extglob nocaseglob dotglob; \
                 _bgpids_file=FILE (trap … EXIT; CMD) …'"
            } else {
                "-c CMD"
            };
            Launch {
                shape: shape.into(),
                how: match &bash {
                    Some(b) => format!("`bash` looked up on PATH: {}", b.display()),
                    None => "`bash` looked up on PATH: none found".into(),
                },
                program: bash,
                argv0: "bash".into(),
                args,
                overlay: Vec::new(),
                warnings: Vec::new(),
                run_only: false,
            }
        }
        Agent::Codex => {
            let login = nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.shell)
                .filter(|s| !s.as_os_str().is_empty());
            Launch {
                how: match &login {
                    Some(l) => format!(
                        "the login shell of your passwd entry, by absolute path: {} ($SHELL and \
                         PATH do not count)",
                        l.display()
                    ),
                    None => "no login shell in your passwd entry".into(),
                },
                argv0: login.clone().unwrap_or_default().into_os_string(),
                program: login,
                args: vec!["-lc".into(), command.into()],
                shape: "-lc CMD".into(),
                overlay: Vec::new(),
                warnings: Vec::new(),
                run_only: true,
            }
        }
        Agent::Mini => Launch {
            program: Some(PathBuf::from("/bin/sh")),
            argv0: "/bin/sh".into(),
            args: vec!["-c".into(), command.into()],
            shape: "-c CMD".into(),
            overlay: Vec::new(),
            how: "/bin/sh by absolute path (Python's subprocess, shell=True)".into(),
            warnings: Vec::new(),
            run_only: true,
        },
        Agent::Aider => aider(here, command),
        Agent::Opencode => {
            let shell = here.vars.get("SHELL").filter(|s| {
                !s.is_empty()
                    && !matches!(
                        Path::new(s.as_str()).file_name().and_then(OsStr::to_str),
                        Some("fish" | "nu")
                    )
            });
            let (program, how) = match shell {
                Some(s) => (Some(PathBuf::from(s)), format!("$SHELL: {s}")),
                None => match setup::which("bash", path_of(&here.vars).as_deref()) {
                    Some(b) => (
                        Some(b.clone()),
                        format!("$SHELL unset or fish/nu: bash on PATH: {}", b.display()),
                    ),
                    None => (
                        Some(PathBuf::from("/bin/sh")),
                        "$SHELL unset, no bash on PATH: /bin/sh".into(),
                    ),
                },
            };
            Launch {
                argv0: program.clone().unwrap_or_default().into_os_string(),
                program,
                args: vec!["-c".into(), command.into()],
                shape: "-c CMD".into(),
                overlay: Vec::new(),
                how,
                warnings: Vec::new(),
                run_only: false,
            }
        }
    }
}

/// Claude Code (2.1): `CLAUDE_CODE_SHELL` from its environment after its settings' `env`
/// were laid over it, used when it names bash or zsh and is executable; otherwise (silently)
/// `$SHELL` if it names bash or zsh, then bash or zsh on `PATH` and in the usual directories.
/// It runs `SHELL -c -l 'source SNAPSHOT … && eval CMD < /dev/null && pwd -P >| FILE'`.
fn claude(here: &Here, command: &str, token: &str) -> Launch {
    let (overlay, origin, mut warnings) = claude_settings_env(here);
    let mut vars = here.vars.clone();
    vars.extend(overlay.iter().cloned());
    let from = |k: &str| {
        origin
            .get(k)
            .cloned()
            .unwrap_or_else(|| "the environment".into())
    };
    let exec_ok = |p: &str| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok();
    let names_shell = |p: &str| p.contains("bash") || p.contains("zsh");
    let mut how = String::new();
    let mut program = None;
    let mut unusable = None;
    if let Some(v) = vars.get("CLAUDE_CODE_SHELL").filter(|v| !v.is_empty()) {
        if names_shell(v) && exec_ok(v) {
            program = Some(PathBuf::from(v));
            how = format!(
                "CLAUDE_CODE_SHELL={} (from {})",
                for_display(v),
                from("CLAUDE_CODE_SHELL")
            );
        } else {
            let why = if v.starts_with('~') {
                "Claude Code does not expand `~`".to_string()
            } else if v.contains('$') {
                "Claude Code does not expand variables".to_string()
            } else if !names_shell(v) {
                "Claude Code takes only a path with `bash` or `zsh` in it".to_string()
            } else {
                "it is not an executable file".to_string()
            };
            unusable = Some((v.clone(), why));
        }
    }
    if program.is_none() {
        let shell = vars.get("SHELL").cloned().unwrap_or_default();
        let path = vars.get("PATH").cloned();
        let bash_first = shell.contains("bash");
        let zsh = setup::which("zsh", path.as_deref());
        let bash = setup::which("bash", path.as_deref());
        let order = if bash_first {
            ["bash", "zsh"]
        } else {
            ["zsh", "bash"]
        };
        let mut candidates: Vec<PathBuf> = order
            .iter()
            .flat_map(|n| {
                ["/bin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]
                    .iter()
                    .map(move |d| Path::new(d).join(n))
            })
            .collect();
        let (first, last) = if bash_first { (bash, zsh) } else { (zsh, bash) };
        if let Some(f) = first {
            candidates.insert(0, f);
        }
        if let Some(l) = last {
            candidates.push(l);
        }
        if names_shell(&shell) && exec_ok(&shell) {
            candidates.insert(0, PathBuf::from(&shell));
        }
        program = candidates
            .into_iter()
            .find(|c| exec_ok(&c.to_string_lossy()));
        let chosen = program
            .as_ref()
            .map_or("none found".into(), |p| p.display().to_string());
        how = match &unusable {
            None => format!(
                "CLAUDE_CODE_SHELL not set; $SHELL={}, then bash/zsh on PATH: {chosen}",
                for_display(&shell)
            ),
            Some(_) => format!(
                "CLAUDE_CODE_SHELL unusable; Claude Code's fallback ($SHELL, then bash/zsh on \
                 PATH): {chosen}"
            ),
        };
        if let Some((v, why)) = &unusable {
            warnings.push(format!(
                "CLAUDE_CODE_SHELL is `{}` (from {}): {why}, so Claude Code silently runs \
                 {chosen} instead. `shellguard setup claude` writes the absolute path.",
                for_display(v),
                from("CLAUDE_CODE_SHELL")
            ));
        }
    }
    if let Some(p) = vars
        .get("CLAUDE_CODE_SHELL_PREFIX")
        .filter(|p| !p.is_empty())
    {
        how.push_str(&format!(
            "; CLAUDE_CODE_SHELL_PREFIX={} is also set (not part of this check)",
            for_display(p)
        ));
    }
    let q = |p: &Path| setup::sh_quote(&p.to_string_lossy());
    let snapshot = here.tmp.join(format!("claude-{token}-snapshot.sh"));
    let cwd_file = here.tmp.join(format!("claude-{token}-cwd"));
    let wrapper = format!(
        "source {} 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval {} < \
         /dev/null && pwd -P >| {}",
        q(&snapshot),
        setup::sh_quote(command),
        q(&cwd_file)
    );
    Launch {
        argv0: program.clone().unwrap_or_default().into_os_string(),
        program,
        args: vec!["-c".into(), "-l".into(), wrapper],
        shape: "-c -l 'source SNAPSHOT 2>/dev/null || true && shopt -u extglob 2>/dev/null || \
                true && eval CMD < /dev/null && pwd -P >| FILE'"
            .into(),
        overlay,
        how,
        warnings,
        run_only: false,
    }
}

/// The `env` of every settings file Claude Code lays over its environment, in its order (the
/// last wins): `~/.claude.json`, `~/.claude/settings.json`, the project's
/// `.claude/settings.json` and `.claude/settings.local.json`, the managed settings. Also where
/// each variable came from, and what could not be read.
type SettingsEnv = (Vec<(String, String)>, HashMap<String, String>, Vec<String>);

fn claude_settings_env(here: &Here) -> SettingsEnv {
    let mut files = Vec::new();
    if let Some(dir) = setup::claude_config_dir(&here.vars) {
        let legacy = dir.join(".config.json");
        files.push(if legacy.is_file() {
            legacy
        } else {
            here.vars
                .get("CLAUDE_CONFIG_DIR")
                .map(PathBuf::from)
                .filter(|d| d.is_absolute())
                .or_else(|| here.vars.get("HOME").map(PathBuf::from))
                .unwrap_or_default()
                .join(".claude.json")
        });
        files.push(dir.join("settings.json"));
    }
    files.push(here.cwd.join(".claude/settings.json"));
    files.push(here.cwd.join(".claude/settings.local.json"));
    files.push(PathBuf::from("/etc/claude-code/managed-settings.json"));
    let (mut overlay, mut origin, mut warnings) = (Vec::new(), HashMap::new(), Vec::new());
    let mut seen = Vec::new();
    for f in files {
        // Run from the home directory, the project's settings are the user's.
        let real = fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        let Some(text) = read_small(&f) else { continue };
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!(
                    "{} is not valid JSON ({e}): Claude Code ignores it",
                    f.display()
                ));
                continue;
            }
        };
        let Some(env) = value.get("env").and_then(|e| e.as_object()) else {
            continue;
        };
        for (k, v) in env {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            origin.insert(k.clone(), f.display().to_string());
            overlay.push((k.clone(), v));
        }
    }
    (overlay, origin, warnings)
}

/// aider: `$SHELL -c CMD` (else `/bin/sh`), after loading `~/.env`, the git root's `.env` and
/// the current directory's `.env` over its environment, each over the last.
fn aider(here: &Here, command: &str) -> Launch {
    let mut files = vec![];
    if let Some(h) = here.vars.get("HOME") {
        files.push(Path::new(h).join(".env"));
    }
    let mut dir = Some(here.cwd.as_path());
    while let Some(d) = dir {
        if d.join(".git").exists() {
            files.push(d.join(".env"));
            break;
        }
        dir = d.parent();
    }
    files.push(here.cwd.join(".env"));
    // aider drops repeats, keeping the last place each file appears.
    let canon: Vec<PathBuf> = files
        .iter()
        .map(|f| fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
        .collect();
    let files: Vec<&PathBuf> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| !canon[i + 1..].contains(&canon[*i]))
        .map(|(_, f)| f)
        .collect();
    let mut vars = here.vars.clone();
    let mut overlay = Vec::new();
    let mut shell_from = "the environment".to_string();
    for f in files {
        let Some(text) = read_small(f) else { continue };
        for (k, v) in dotenv(&text, &vars) {
            if k == "SHELL" {
                shell_from = f.display().to_string();
            }
            vars.insert(k.clone(), v.clone());
            overlay.push((k, v));
        }
    }
    let mut warnings = Vec::new();
    let shell = vars
        .get("SHELL")
        .cloned()
        .unwrap_or_else(|| "/bin/sh".into());
    let program = if shell.contains('/') {
        let p = resolve(Path::new(&shell), &here.cwd);
        p.exists().then(|| PathBuf::from(&shell))
    } else {
        setup::which(&shell, vars.get("PATH").map(String::as_str))
    };
    if program.is_none() {
        warnings.push(format!(
            "SHELL is `{}` (from {shell_from}): no such program{}, so aider runs each command \
             with no shell at all (on a terminal), or fails. `shellguard setup aider` writes \
             the absolute path.",
            for_display(&shell),
            if shell.starts_with('~') {
                " (aider does not expand `~`)"
            } else {
                ""
            }
        ));
    }
    Launch {
        how: format!("$SHELL={} (from {shell_from})", for_display(&shell)),
        argv0: shell.into(),
        program,
        args: vec!["-c".into(), command.into()],
        shape: "-c CMD".into(),
        overlay,
        warnings,
        run_only: false,
    }
}

/// The variables a `.env` file sets, read as python-dotenv (which aider uses) reads them:
/// `[export ]KEY=VALUE`, single quotes literal, double quotes with escapes, `${VAR}` and
/// `${VAR:-default}` expanded outside single quotes, ` #` starting a comment after an
/// unquoted value.
pub(crate) fn dotenv(text: &str, env: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").map_or(l, str::trim_start);
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            continue;
        }
        let v = v.trim_start();
        let lookup = |name: &str| {
            out.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| env.get(name).cloned())
        };
        let value = if let Some(rest) = v.strip_prefix('\'') {
            match rest.find('\'') {
                Some(end) => rest[..end].to_string(),
                None => continue,
            }
        } else if let Some(rest) = v.strip_prefix('"') {
            let mut s = String::new();
            let mut chars = rest.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(c) => s.push(c),
                        None => break,
                    },
                    c => s.push(c),
                }
            }
            if !closed {
                continue;
            }
            expand(&s, &lookup)
        } else {
            let cut = v.find(" #").or_else(|| v.find("\t#")).unwrap_or(v.len());
            expand(v[..cut].trim_end(), &lookup)
        };
        out.push((k.to_string(), value));
    }
    out
}

/// `${NAME}` and `${NAME:-default}` in `s`, as python-dotenv expands them.
fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &rest[i + 2..i + end];
        let (name, default) = inner.split_once(":-").unwrap_or((inner, ""));
        out.push_str(
            &lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string()),
        );
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// A small regular file's text; `None` when missing, unreadable or not a regular file.
fn read_small(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * 1024 * 1024 {
        return None;
    }
    let mut bytes = Vec::new();
    File::open(path).ok()?.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The process environment with the agent's own additions laid over it (the variables that
/// are not UTF-8 kept as they are).
fn environment(overlay: &[(String, String)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !overlay.iter().any(|(o, _)| OsStr::new(o) == k))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in overlay.iter().rev() {
        if seen.insert(k) {
            env.push((k.into(), v.into()));
        }
    }
    env
}

// ---------------------------------------------------------------------------------------------
// Running things, and reading the proof.

struct Ran {
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    timed_out: bool,
}

/// Runs `program` (as `argv0`) with no stdin, in its own process group, for at most `limit`
/// (then the group is killed).
fn run(
    program: &Path,
    argv0: &OsStr,
    args: &[String],
    env: Option<&[(OsString, OsString)]>,
    cwd: &Path,
    limit: Duration,
) -> io::Result<Ran> {
    let mut cmd = Command::new(program);
    cmd.arg0(argv0)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(env) = env {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel();
    let pipes: Vec<(usize, Box<dyn Read + Send>)> = [
        child
            .stdout
            .take()
            .map(|p| (0, Box::new(p) as Box<dyn Read + Send>)),
        child
            .stderr
            .take()
            .map(|p| (1, Box::new(p) as Box<dyn Read + Send>)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let n = pipes.len();
    for (i, mut pipe) in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let (mut kept, mut buf) = (Vec::new(), [0u8; 8192]);
            // Read to the end, keep the start: a writer is never left blocked on a full pipe.
            while let Ok(k) = pipe.read(&mut buf) {
                if k == 0 {
                    break;
                }
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..k.min(room)]);
            }
            let _ = tx.send((i, kept));
        });
    }
    drop(tx);
    let started = Instant::now();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait()? {
            break (Some(s), false);
        }
        if started.elapsed() >= limit {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    // Something the shell left running may hold its output open: do not wait on it for long.
    let deadline = Instant::now() + Duration::from_secs(1);
    for _ in 0..n {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((0, b)) => stdout = b,
            Ok((_, b)) => stderr = b,
            Err(_) => break,
        }
    }
    Ok(Ran {
        status,
        stdout,
        stderr,
        timed_out,
    })
}

/// `PROGRAM --version`'s first line, when it says it quickly.
fn version(program: &Path, here: &Here) -> Option<String> {
    let r = run(
        program,
        program.as_os_str(),
        &["--version".to_string()],
        None,
        &here.cwd,
        VERSION_TIMEOUT,
    )
    .ok()?;
    if !r.status?.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&r.stdout);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(for_display(&line.chars().take(60).collect::<String>()))
}

/// The record of the canary with `token`, appended to `log` after byte `start` (or to the file
/// it was rotated to), waiting up to `wait` for it to appear.
fn find_record(log: &Path, start: u64, token: &str, wait: Duration) -> Option<audit::Record> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(r) = scan(log, start, token) {
            return Some(r);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scan(log: &Path, start: u64, token: &str) -> Option<audit::Record> {
    let len = fs::metadata(log).map_or(0, |m| m.len());
    let sources: Vec<(PathBuf, u64)> = if len >= start {
        vec![(log.to_path_buf(), start)]
    } else {
        vec![(audit::rotated_path(log), start), (log.to_path_buf(), 0)]
    };
    let needle = format!("{CANARY}{token}");
    for (path, from) in sources {
        let Ok(mut f) = File::open(&path) else {
            continue;
        };
        if f.seek(SeekFrom::Start(from)).is_err() {
            continue;
        }
        let mut bytes = Vec::new();
        if f.take(MAX_LOG_READ).read_to_end(&mut bytes).is_err() {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let found = text
            .lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| serde_json::from_str::<audit::Record>(l).ok())
            .find(|r| r.command.contains(&needle));
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Random hex digits: a canary no earlier run or other program can have logged.
fn random_token() -> String {
    crate::approve::protocol::new_nonce()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dotenv_is_read_as_python_dotenv_reads_it() {
        let env = vars(&[("HOME", "/home/u")]);
        let text = "# c\n\
                    export A=1\n\
                    B = 'x # y'\n\
                    C=\"a\\\"b\"\n\
                    D=plain # comment\n\
                    E=${HOME}/bin\n\
                    F=${NOPE:-dflt}\n\
                    G='${HOME}'\n\
                    SHELL=/one\n\
                    SHELL=\"${HOME}/two\"\n\
                    broken line\n\
                    H='unclosed\n";
        let got = dotenv(text, &env);
        let get = |k: &str| {
            got.iter()
                .rev()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("x # y"));
        assert_eq!(get("C"), Some("a\"b"));
        assert_eq!(get("D"), Some("plain"));
        assert_eq!(get("E"), Some("/home/u/bin"));
        assert_eq!(get("F"), Some("dflt"));
        assert_eq!(get("G"), Some("${HOME}"));
        assert_eq!(get("SHELL"), Some("/home/u/two"));
        assert_eq!(get("H"), None);
    }

    #[test]
    fn tokens_are_fresh() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
