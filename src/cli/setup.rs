//! `shellguard setup AGENT [--dry-run] [--undo]`: point an agent's own configuration at the
//! guard, for the agents whose configuration can do that.
//!
//! Each agent chooses its shell its own way (see `shellguard doctor`, which proves the result),
//! so each has its own change:
//!
//! - Claude Code: `env.CLAUDE_CODE_SHELL` in `~/.claude/settings.json`, always an absolute path
//!   (Claude Code does not expand `~` there and silently falls back to `/bin/bash`).
//! - Gemini CLI and Qwen Code look `bash` up on `PATH`: a marked block in the interactive shell's
//!   startup file (`~/.bashrc`, `~/.zshrc`) puts the shims first.
//! - aider runs `$SHELL -c` and loads `~/.env` over its environment: a marked `SHELL=` block
//!   there.
//! - Codex CLI (the passwd login shell, by absolute path), mini-swe-agent (`/bin/sh` by absolute
//!   path) and opencode have nothing to configure that would hold: setup says so and names
//!   `shellguard run`. It never edits `/etc/passwd`.
//!
//! Every write shows a unified diff first, is atomic (a temporary file renamed over the old
//! one, same mode, links followed to the file they name), and leaves a record in
//! `<state dir>/setup/` with the content before and after, so that `--undo` puts back exactly
//! what was there, and only while the file still holds what setup wrote. A second run that
//! would change nothing says so and changes nothing. A file that cannot be read as what it
//! should be (invalid JSON, not UTF-8, not a regular file) is refused, never overwritten.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::approve::sanitize::for_display;

/// Exit status of a usage error.
const USAGE: u8 = 2;

/// Files larger than this are not agent configuration; refusing them keeps a hostile file
/// (a link to something huge) from being read whole.
const MAX_FILE: u64 = 16 * 1024 * 1024;

const USAGE_LINE: &str = "usage: shellguard setup AGENT [--dry-run] [--undo]
  AGENT: claude, gemini, qwen, aider, codex, mini-swe-agent (or mini), opencode, or all";

/// The agents shellguard knows how to check and, where possible, to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agent {
    Claude,
    Gemini,
    Qwen,
    Codex,
    Mini,
    Aider,
    Opencode,
}

impl Agent {
    pub(crate) const ALL: [Agent; 7] = [
        Agent::Claude,
        Agent::Gemini,
        Agent::Qwen,
        Agent::Codex,
        Agent::Mini,
        Agent::Aider,
        Agent::Opencode,
    ];

    /// The name `setup` and `doctor` take.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Gemini => "gemini",
            Agent::Qwen => "qwen",
            Agent::Codex => "codex",
            Agent::Mini => "mini-swe-agent",
            Agent::Aider => "aider",
            Agent::Opencode => "opencode",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Agent::Claude => "Claude Code",
            Agent::Gemini => "Gemini CLI",
            Agent::Qwen => "Qwen Code",
            Agent::Codex => "Codex CLI",
            Agent::Mini => "mini-swe-agent",
            Agent::Aider => "aider",
            Agent::Opencode => "opencode",
        }
    }

    /// The programs that start it, as found on `PATH`.
    pub(crate) fn programs(self) -> &'static [&'static str] {
        match self {
            Agent::Claude => &["claude"],
            Agent::Gemini => &["gemini"],
            Agent::Qwen => &["qwen"],
            Agent::Codex => &["codex"],
            Agent::Mini => &["mini", "mini-swe-agent"],
            Agent::Aider => &["aider"],
            Agent::Opencode => &["opencode"],
        }
    }

    /// The command a human types to start it under `shellguard run`.
    pub(crate) fn run_command(self) -> String {
        format!("shellguard run -- {}", self.programs()[0])
    }

    pub(crate) fn from_name(s: &str) -> Option<Agent> {
        match s {
            "mini" => Some(Agent::Mini),
            "claude-code" => Some(Agent::Claude),
            "gemini-cli" => Some(Agent::Gemini),
            "qwen-code" => Some(Agent::Qwen),
            _ => Agent::ALL.into_iter().find(|a| a.name() == s),
        }
    }

    /// What `setup` writes for it; `None` when nothing it could write would hold.
    pub(crate) fn change(self) -> Option<Change> {
        match self {
            Agent::Claude => Some(Change::ClaudeSettings),
            Agent::Gemini | Agent::Qwen => Some(Change::ShimsFirstOnPath),
            Agent::Aider => Some(Change::AiderShell),
            Agent::Codex | Agent::Mini | Agent::Opencode => None,
        }
    }
}

/// One kind of change setup makes (two agents may share one: Gemini CLI and Qwen Code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    ClaudeSettings,
    ShimsFirstOnPath,
    AiderShell,
}

impl Change {
    /// The record's file name in `<state dir>/setup/`.
    fn id(self) -> &'static str {
        match self {
            Change::ClaudeSettings => "claude-settings",
            Change::ShimsFirstOnPath => "shims-first-on-path",
            Change::AiderShell => "aider-shell",
        }
    }
}

/// Why setup stopped. Every variant means nothing was changed by the step that failed.
#[derive(Debug)]
pub(crate) enum SetupError {
    Usage(String),
    /// The file is not what it should be, or holds something setup will not overwrite.
    Refused(String),
    Io {
        what: String,
        err: io::Error,
    },
}

impl SetupError {
    fn exit_code(&self) -> u8 {
        match self {
            SetupError::Usage(_) => USAGE,
            SetupError::Refused(_) | SetupError::Io { .. } => 1,
        }
    }

    fn io(what: impl Into<String>, err: io::Error) -> SetupError {
        SetupError::Io {
            what: what.into(),
            err,
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Usage(m) | SetupError::Refused(m) => f.write_str(m),
            SetupError::Io { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

/// Where things are, from the environment setup runs in.
pub(crate) struct Env {
    pub vars: HashMap<String, String>,
    pub home: PathBuf,
}

impl Env {
    pub(crate) fn new(vars: &HashMap<String, String>) -> Result<Env, SetupError> {
        let home = vars
            .get("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .ok_or_else(|| SetupError::Usage("HOME is not set to an absolute path".into()))?;
        Ok(Env {
            vars: vars.clone(),
            home,
        })
    }
}

/// `${XDG_DATA_HOME:-$HOME/.local/share}/shellguard/shims`, as `install.sh` and `shellguard run`
/// place it; only absolute paths count, since every agent reads the result literally.
pub(crate) fn shims_dir(vars: &HashMap<String, String>) -> Option<PathBuf> {
    let data = vars
        .get("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            vars.get("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".local/share"))
        })?;
    Some(data.join("shellguard").join("shims"))
}

/// Whether running `path` runs shellguard: the very file we run from, or a link to another
/// copy of it (another install's shims). Only a label for people; `doctor`'s proof is the
/// canary.
pub(crate) fn is_shellguard(path: &Path) -> bool {
    let same = match (
        crate::exec::FileId::of(path),
        crate::exec::FileId::current_exe(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same || fs::canonicalize(path).is_ok_and(|t| {
        t.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("shellguard"))
    })
}

/// `${CLAUDE_CONFIG_DIR:-~/.claude}`, where Claude Code keeps `settings.json`.
pub(crate) fn claude_config_dir(vars: &HashMap<String, String>) -> Option<PathBuf> {
    vars.get("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            vars.get("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".claude"))
        })
}

/// The first executable regular file named `name` in the directories of `path_var`.
pub(crate) fn which(name: &str, path_var: Option<&str>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
}

pub(crate) fn is_executable_file(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file())
        && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// `s` as one word for sh, bash and zsh.
pub(crate) fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------------
// The command line.

struct Args {
    agent: Option<Agent>,
    dry_run: bool,
    undo: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Args>, SetupError> {
    let (mut dry_run, mut undo, mut names) = (false, false, Vec::new());
    for a in args {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "-n" | "--dry-run" => dry_run = true,
            "--undo" => undo = true,
            s if s.starts_with('-') => {
                return Err(SetupError::Usage(format!(
                    "unknown option `{}`",
                    for_display(s)
                )))
            }
            s => names.push(s),
        }
    }
    let [name] = names[..] else {
        return Err(SetupError::Usage(if names.is_empty() {
            "which agent?".into()
        } else {
            "one agent at a time (or `all`)".into()
        }));
    };
    let agent = match name {
        "all" => None,
        n => Some(
            Agent::from_name(n)
                .ok_or_else(|| SetupError::Usage(format!("unknown agent `{}`", for_display(n))))?,
        ),
    };
    Ok(Some(Args {
        agent,
        dry_run,
        undo,
    }))
}

/// `shellguard setup …`. Exit status: 0 when every change asked for is in place (or was
/// already, or there is nothing setup can change for that agent: the advice says what to do);
/// 1 when a file was refused or could not be written; 2 on a usage error.
pub fn main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    let parsed = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE_LINE}");
            return 0;
        }
        Err(e) => {
            eprintln!("shellguard setup: {e}\n{USAGE_LINE}");
            return e.exit_code();
        }
    };
    if !parsed.dry_run {
        // The environment checks of `approve` (not its terminal check: provisioning scripts
        // run setup too). An agent that could undo its own guard would make it advice.
        if let Err(why) = crate::policy::approvals::human_terminal(true, true, vars) {
            eprintln!(
                "shellguard setup: refused: {why}. Setup changes what guards the agents; run it \
                 yourself, in a terminal of your own. Nothing was changed."
            );
            return USAGE;
        }
    }
    let env = match Env::new(vars) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("shellguard setup: {e}");
            return e.exit_code();
        }
    };
    let agents: Vec<Agent> = match parsed.agent {
        Some(a) => vec![a],
        None => {
            let path = vars.get("PATH").map(String::as_str);
            let found: Vec<Agent> = Agent::ALL
                .into_iter()
                .filter(|a| a.programs().iter().any(|p| which(p, path).is_some()))
                .collect();
            if found.is_empty() && !parsed.undo {
                println!("No agent found on PATH; nothing to set up.");
                return 0;
            }
            if parsed.undo {
                Agent::ALL.to_vec()
            } else {
                found
            }
        }
    };
    let mut out = io::stdout().lock();
    let mut status = 0;
    let mut done: Vec<(Change, Agent)> = Vec::new();
    let mut undone = false;
    for agent in agents {
        let result = match agent.change() {
            None if parsed.undo => {
                if parsed.agent.is_some() {
                    let _ = writeln!(
                        out,
                        "{}: setup changes nothing for it, so there is nothing to undo.",
                        agent.title()
                    );
                }
                Ok(())
            }
            None => {
                let _ = write!(out, "{}", advice(agent, &env));
                Ok(())
            }
            // Gemini CLI and Qwen Code share one change: do it (or undo it) once.
            Some(change) if done.iter().any(|(c, _)| *c == change) => {
                if !parsed.undo {
                    let with = done
                        .iter()
                        .find(|(c, _)| *c == change)
                        .map(|(_, a)| a.title());
                    let _ = writeln!(
                        out,
                        "{}: the same change as for {}.",
                        agent.title(),
                        with.unwrap_or("")
                    );
                }
                Ok(())
            }
            Some(change) => {
                done.push((change, agent));
                if parsed.undo {
                    let r = undo(
                        change,
                        agent,
                        &env,
                        parsed.dry_run,
                        &mut out,
                        parsed.agent.is_some(),
                    );
                    undone |= matches!(r, Ok(true));
                    r.map(|_| ())
                } else {
                    apply(change, agent, &env, parsed.dry_run, &mut out)
                }
            }
        };
        if let Err(e) = result {
            let _ = out.flush();
            eprintln!("shellguard setup {}: {e}", agent.name());
            status = status.max(e.exit_code());
        }
    }
    if !parsed.undo {
        if let Some(tools) = crate::policy::tools::advice(vars) {
            let _ = write!(out, "\n{tools}");
        }
    }
    if parsed.undo && parsed.agent.is_none() && !undone && status == 0 {
        let _ = writeln!(out, "Nothing to undo: setup has not changed anything.");
    }
    status
}

/// What to do for an agent setup cannot configure.
fn advice(agent: Agent, env: &Env) -> String {
    let shim = shims_dir(&env.vars)
        .map(|d| d.join("bash").display().to_string())
        .unwrap_or_else(|| "~/.local/share/shellguard/shims/bash".into());
    let run = agent.run_command();
    match agent {
        Agent::Codex => format!(
            "Codex CLI: nothing to configure. Codex runs your login shell from the passwd \
             entry by absolute path (`/bin/bash -lc …`), whatever $SHELL, PATH or its own \
             config say, so no setting points it at the guard.\n\
             \x20 Start it as `{run}`: the enforced supervisor guards every shell it starts, by \
             any path.\n\
             \x20 (Making the shim your login shell, `chsh -s {shim}`, would also do; setup never \
             changes /etc/passwd.)\n"
        ),
        Agent::Mini => format!(
            "mini-swe-agent: nothing to configure. It runs `/bin/sh -c …` by absolute path \
             (Python's subprocess with shell=True) and has no shell setting.\n\
             \x20 Start it as `{run}`: the enforced supervisor guards every shell it starts, by \
             any path.\n"
        ),
        _ => format!(
            "{}: nothing setup can write would hold. It runs `$SHELL -c …` (else bash from \
             PATH).\n\
             \x20 Start it as `{run}`, or as `SHELL={} {}`.\n",
            agent.title(),
            sh_quote(&shim),
            agent.programs()[0]
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Planning a change.

/// A change worked out, not yet written.
struct Plan {
    /// The file as people know it (a link is followed only for writing).
    shown: PathBuf,
    /// The file actually written: `shown` with links resolved.
    target: PathBuf,
    before: Option<String>,
    after: String,
    mode: u32,
    /// Directories to create first (outermost first).
    create_dirs: Vec<PathBuf>,
    undo: Undo,
    notes: Vec<String>,
}

enum Planned {
    /// Nothing to change; says why.
    Already(String),
    Write(Plan),
}

/// How to take a change back out of a file that was edited after setup wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Undo {
    /// `env.CLAUDE_CODE_SHELL` was set to `value`; before, it was `previous` (raw JSON) or
    /// absent, and `env` itself was absent when `created_env`.
    ClaudeShell {
        value: String,
        previous: Option<String>,
        created_env: bool,
    },
    /// `block` was added, replacing `replaced` (an older block of ours) or nothing.
    Block {
        block: String,
        replaced: Option<String>,
    },
}

/// What `<state dir>/setup/CHANGE.json` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    change: String,
    agent: String,
    /// The file written (links resolved).
    path: PathBuf,
    /// The file as named to the user.
    shown: PathBuf,
    /// Its content before; `None` when setup created it.
    before: Option<String>,
    /// What setup wrote.
    after: String,
    /// Directories setup created for it, outermost first; undo removes them if empty.
    #[serde(default)]
    created_dirs: Vec<PathBuf>,
    undo: Undo,
}

/// The absolute path of the `bash` shim, created (as `install.sh` and `shellguard run` do) when
/// missing, unless `dry_run`. An agent told to run a shim that is not there falls back to a
/// plain shell without a word, so this is checked before any configuration names it.
fn ensure_shim(env: &Env, dry_run: bool, out: &mut impl Write) -> Result<PathBuf, SetupError> {
    let dir = shims_dir(&env.vars).ok_or_else(|| {
        SetupError::Usage("neither XDG_DATA_HOME nor HOME is an absolute path".into())
    })?;
    let shim = dir.join("bash");
    let text = shim.to_string_lossy();
    // Every file setup writes names the shim literally; quoting rules differ between JSON,
    // sh and dotenv, so only names that need none are written.
    if text
        .chars()
        .any(|c| c.is_control() || "'\"\\$`".contains(c))
    {
        return Err(SetupError::Refused(format!(
            "the shims directory {} has a quote, backslash, dollar or control character in its \
             name; install with XDG_DATA_HOME set to a plain path",
            for_display(&dir.to_string_lossy())
        )));
    }
    if fs::symlink_metadata(&shim).is_ok() {
        if is_shellguard(&shim) {
            return Ok(shim);
        }
        return Err(SetupError::Refused(format!(
            "{} is not shellguard (install again: ./install.sh)",
            shim.display()
        )));
    }
    if dry_run {
        let _ = writeln!(
            out,
            "(would create the shims {}/{{bash,sh}} -> this shellguard binary)",
            dir.display()
        );
        return Ok(shim);
    }
    let exe = std::env::current_exe()
        .map_err(|e| SetupError::io("cannot tell where shellguard is installed", e))?;
    fs::create_dir_all(&dir).map_err(|e| SetupError::io(dir.display().to_string(), e))?;
    for name in ["bash", "sh"] {
        match std::os::unix::fs::symlink(&exe, dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(SetupError::io(dir.join(name).display().to_string(), e)),
        }
    }
    let _ = writeln!(
        out,
        "created the shims {}/{{bash,sh}} -> {} (as install.sh does)",
        dir.display(),
        exe.display()
    );
    Ok(shim)
}

/// The file `shown` names, read for editing: where a write must go (links followed), its
/// text (`None` when missing), its mode, and the directories that must be created for it.
struct Current {
    target: PathBuf,
    text: Option<String>,
    mode: u32,
    create_dirs: Vec<PathBuf>,
}

fn read_current(shown: &Path, new_mode: u32) -> Result<Current, SetupError> {
    let shown_s = shown.display().to_string();
    match fs::symlink_metadata(shown) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut create_dirs = Vec::new();
            let mut dir = shown.parent();
            while let Some(d) = dir {
                if fs::symlink_metadata(d).is_ok() {
                    break;
                }
                create_dirs.push(d.to_path_buf());
                dir = d.parent();
            }
            create_dirs.reverse();
            Ok(Current {
                target: shown.to_path_buf(),
                text: None,
                mode: new_mode,
                create_dirs,
            })
        }
        Err(e) => Err(SetupError::io(shown_s, e)),
        Ok(_) => {
            // A link (dotfiles kept in a repository) is written through, not replaced.
            let target = fs::canonicalize(shown).map_err(|e| {
                SetupError::Refused(format!(
                    "{shown_s} is a link to nothing usable ({e}); fix it first. Nothing was changed."
                ))
            })?;
            let text = read_text(&target)?;
            let mode = fs::metadata(&target)
                .map_err(|e| SetupError::io(target.display().to_string(), e))?
                .mode()
                & 0o7777;
            Ok(Current {
                target,
                text: Some(text),
                mode,
                create_dirs: Vec::new(),
            })
        }
    }
}

/// A regular file's text, refused if it is anything else (a FIFO would block, a device has no
/// end) or too big or not UTF-8.
fn read_text(path: &Path) -> Result<String, SetupError> {
    let shown = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| SetupError::io(shown.clone(), e))?;
    if !meta.is_file() {
        return Err(SetupError::Refused(format!(
            "{shown} is not a regular file; nothing was changed"
        )));
    }
    if meta.len() > MAX_FILE {
        return Err(SetupError::Refused(format!(
            "{shown} is larger than {} MiB; nothing was changed",
            MAX_FILE >> 20
        )));
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| SetupError::io(shown.clone(), e))?;
    String::from_utf8(bytes).map_err(|_| {
        SetupError::Refused(format!(
            "{shown} is not UTF-8 text; setup edits only text it can read. Nothing was changed."
        ))
    })
}

fn plan(change: Change, env: &Env, shim: &Path) -> Result<Planned, SetupError> {
    match change {
        Change::ClaudeSettings => plan_claude(env, shim),
        Change::ShimsFirstOnPath => plan_path_block(env, shim),
        Change::AiderShell => plan_aider(env, shim),
    }
}

fn plan_claude(env: &Env, shim: &Path) -> Result<Planned, SetupError> {
    let dir = claude_config_dir(&env.vars)
        .ok_or_else(|| SetupError::Usage("no HOME to find ~/.claude in".into()))?;
    let shown = dir.join("settings.json");
    let cur = read_current(&shown, 0o600)?;
    let value = shim.to_string_lossy().into_owned();
    let shown_s = shown.display().to_string();
    let (after, undo) = match cur.text.as_deref() {
        Some(t) if !t.trim().is_empty() => match json::set_claude_shell(t, &value) {
            Ok(json::Set::Already) => {
                return Ok(Planned::Already(format!(
                    "{shown_s} already sets CLAUDE_CODE_SHELL to {value}"
                )))
            }
            Ok(json::Set::Changed {
                text,
                previous,
                created_env,
            }) => (
                text,
                Undo::ClaudeShell {
                    value: value.clone(),
                    previous,
                    created_env,
                },
            ),
            Err(why) => {
                return Err(SetupError::Refused(format!(
                    "{shown_s}: {why}. Fix the file first (Claude Code ignores a settings file \
                     it cannot read); nothing was changed."
                )))
            }
        },
        // Missing or blank: Claude Code's own layout (two spaces, a final newline).
        other => (
            format!(
                "{}{{\n  \"env\": {{\n    \"CLAUDE_CODE_SHELL\": {}\n  }}\n}}\n",
                other.unwrap_or(""),
                json::string(&value)
            )
            .trim_start()
            .to_string(),
            Undo::ClaudeShell {
                value: value.clone(),
                previous: None,
                created_env: true,
            },
        ),
    };
    let mut notes = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        for f in [".claude/settings.json", ".claude/settings.local.json"] {
            let p = cwd.join(f);
            // Run from the home directory, the project's file is this very one.
            if fs::canonicalize(&p).is_ok_and(|c| c == cur.target) {
                continue;
            }
            if let Some(v) = fs::read_to_string(&p)
                .ok()
                .and_then(|t| json::claude_shell_in(&t))
                .filter(|v| *v != value)
            {
                notes.push(format!(
                    "note: {} sets CLAUDE_CODE_SHELL to {} and wins over your own settings in \
                     this project",
                    p.display(),
                    for_display(&v)
                ));
            }
        }
    }
    Ok(Planned::Write(Plan {
        shown,
        target: cur.target,
        before: cur.text,
        after,
        mode: cur.mode,
        create_dirs: cur.create_dirs,
        undo,
        notes,
    }))
}

const PATH_BEGIN: &str = "# >>> shellguard setup: shims first on PATH (gemini, qwen) >>>";
const PATH_END: &str = "# <<< shellguard setup: shims first on PATH <<<";
const AIDER_BEGIN: &str = "# >>> shellguard setup: aider's SHELL >>>";
const AIDER_END: &str = "# <<< shellguard setup: aider's SHELL <<<";

/// The interactive shell's startup file, where `PATH` for the agents started from it is set.
fn profile_file(env: &Env) -> Result<PathBuf, SetupError> {
    let login = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.shell.to_string_lossy().into_owned());
    let shell = env
        .vars
        .get("SHELL")
        .filter(|s| !s.is_empty())
        .cloned()
        .or(login)
        .unwrap_or_default();
    let name = Path::new(&shell)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "bash" => Ok(env.home.join(".bashrc")),
        "zsh" => Ok(env
            .vars
            .get("ZDOTDIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
            .unwrap_or_else(|| env.home.clone())
            .join(".zshrc")),
        _ => Err(SetupError::Refused(format!(
            "your shell is `{}`, whose startup file setup does not edit; put the shims first on \
             PATH there yourself ({}), or start the agent as `shellguard run -- gemini`",
            for_display(&shell),
            shims_dir(&env.vars)
                .map(|d| format!("PATH={}:$PATH", sh_quote(&d.to_string_lossy())))
                .unwrap_or_default()
        ))),
    }
}

fn plan_path_block(env: &Env, shim: &Path) -> Result<Planned, SetupError> {
    let shown = profile_file(env)?;
    let dir = shim
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let body = format!(
        "# Gemini CLI and Qwen Code run `bash` from PATH: with shellguard's shims first they \
         run the guard.\n\
         # Remove with `shellguard setup --undo gemini`.\n\
         case \"$PATH\" in {q}:*) ;; *) PATH={q}:\"$PATH\" ;; esac\n\
         export PATH\n",
        q = sh_quote(&dir)
    );
    let note = format!(
        "{} now puts {dir} first on PATH for every shell that reads it, so a `bash` you type \
         is the guarded interactive shell too. Open a new terminal (or `source` the file) before \
         starting the agent.",
        shown.display()
    );
    plan_block(shown, 0o644, PATH_BEGIN, PATH_END, &body, note)
}

fn plan_aider(env: &Env, shim: &Path) -> Result<Planned, SetupError> {
    let shown = env.home.join(".env");
    let body = format!(
        "# aider loads this file over its environment and runs commands with $SHELL.\n\
         # Remove with `shellguard setup --undo aider`.\n\
         SHELL='{}'\n",
        shim.to_string_lossy()
    );
    let mut note = format!(
        "aider loads {}, then a .env in the git root and one in the current directory, each \
         over the last: a SHELL= in those wins over this one.",
        shown.display()
    );
    let earlier = fs::read_to_string(&shown).ok().is_some_and(|t| {
        let outside = match lines::find_block(&t, AIDER_BEGIN, AIDER_END) {
            Some(r) => format!("{}{}", &t[..r.start], &t[r.end..]),
            None => t,
        };
        crate::cli::doctor::dotenv(&outside, &HashMap::new())
            .iter()
            .any(|(k, _)| k == "SHELL")
    });
    if earlier {
        note.push_str(" The SHELL= already in the file comes first, so this one wins over it.");
    }
    plan_block(shown, 0o600, AIDER_BEGIN, AIDER_END, &body, note)
}

fn plan_block(
    shown: PathBuf,
    new_mode: u32,
    begin: &str,
    end: &str,
    body: &str,
    note: String,
) -> Result<Planned, SetupError> {
    let cur = read_current(&shown, new_mode)?;
    let block = format!("{begin}\n{body}{end}\n");
    let text = cur.text.clone().unwrap_or_default();
    let shown_s = shown.display().to_string();
    let (after, replaced) = match lines::find_block(&text, begin, end) {
        Some(r) if text[r.clone()] == block => {
            return Ok(Planned::Already(format!(
                "{shown_s} already has shellguard's block"
            )))
        }
        Some(r) => {
            let old = text[r.clone()].to_string();
            (
                format!("{}{block}{}", &text[..r.start], &text[r.end..]),
                Some(old),
            )
        }
        None => {
            let sep = match text.as_str() {
                "" => "",
                t if t.ends_with("\n\n") => "",
                t if t.ends_with('\n') => "\n",
                _ => "\n\n",
            };
            (format!("{text}{sep}{block}"), None)
        }
    };
    Ok(Planned::Write(Plan {
        notes: vec![format!("note: {note}")],
        shown,
        target: cur.target,
        before: cur.text,
        after,
        mode: cur.mode,
        create_dirs: cur.create_dirs,
        undo: Undo::Block { block, replaced },
    }))
}

// ---------------------------------------------------------------------------------------------
// Applying and undoing.

fn record_path(env: &Env, change: Change) -> Result<PathBuf, SetupError> {
    let state = crate::policy::trust::state_dir(&env.vars)
        .ok_or_else(|| SetupError::Usage("no state directory (set HOME)".into()))?;
    Ok(state.join("setup").join(format!("{}.json", change.id())))
}

fn apply(
    change: Change,
    agent: Agent,
    env: &Env,
    dry_run: bool,
    out: &mut impl Write,
) -> Result<(), SetupError> {
    let shim = ensure_shim(env, dry_run, out)?;
    let p = match plan(change, env, &shim)? {
        Planned::Already(why) => {
            let _ = writeln!(
                out,
                "{}: already set up: {why}. Nothing was changed.",
                agent.title()
            );
            return Ok(());
        }
        Planned::Write(p) => p,
    };
    let shown_s = p.shown.display().to_string();
    let _ = writeln!(out, "{}: {}", agent.title(), describe(change, &shim));
    let _ = write!(
        out,
        "{}",
        diff::unified(
            p.before.as_deref().unwrap_or(""),
            &p.after,
            &if p.before.is_some() {
                shown_s.clone()
            } else {
                "/dev/null".into()
            },
            &shown_s,
        )
    );
    for n in &p.notes {
        let _ = writeln!(out, "{n}");
    }
    if dry_run {
        let _ = writeln!(out, "(dry run: nothing was written)");
        return Ok(());
    }
    let rec = Record {
        change: change.id().into(),
        agent: agent.name().into(),
        path: p.target.clone(),
        shown: p.shown.clone(),
        before: p.before.clone(),
        after: p.after.clone(),
        created_dirs: p.create_dirs.clone(),
        undo: p.undo.clone(),
    };
    // The record first: a file changed without one could not be undone.
    let rpath = record_path(env, change)?;
    write_record(&rpath, &rec)?;
    let written = (|| {
        for d in &p.create_dirs {
            DirBuilder::new()
                .mode(0o700)
                .create(d)
                .map_err(|e| SetupError::io(d.display().to_string(), e))?;
        }
        write_atomically(&p.target, p.after.as_bytes(), p.mode)
            .map_err(|e| SetupError::io(format!("cannot write {}", p.target.display()), e))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&rpath);
        return Err(e);
    }
    let _ = writeln!(
        out,
        "wrote {shown_s}. Undo with `shellguard setup --undo {}`; check with `shellguard doctor`.",
        agent.name()
    );
    Ok(())
}

fn describe(change: Change, shim: &Path) -> String {
    match change {
        Change::ClaudeSettings => format!(
            "CLAUDE_CODE_SHELL = {} (an absolute path: Claude Code does not expand `~`)",
            shim.display()
        ),
        Change::ShimsFirstOnPath => format!(
            "{} first on PATH in your shell's startup file",
            shim.parent().unwrap_or(shim).display()
        ),
        Change::AiderShell => format!("SHELL={} in ~/.env, which aider loads", shim.display()),
    }
}

fn write_record(path: &Path, rec: &Record) -> Result<(), SetupError> {
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| SetupError::io(dir.display().to_string(), e))?;
    }
    let text = serde_json::to_string_pretty(rec).map_err(|e| {
        SetupError::io(
            "cannot encode the undo record",
            io::Error::new(io::ErrorKind::InvalidData, e),
        )
    })?;
    write_atomically(path, format!("{text}\n").as_bytes(), 0o600)
        .map_err(|e| SetupError::io(format!("cannot keep the undo record {}", path.display()), e))
}

fn read_record(path: &Path) -> Result<Option<Record>, SetupError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::io(path.display().to_string(), e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        SetupError::Refused(format!(
            "the undo record {} is damaged ({e}); nothing was changed",
            path.display()
        ))
    })
}

fn undo(
    change: Change,
    agent: Agent,
    env: &Env,
    dry_run: bool,
    out: &mut impl Write,
    named: bool,
) -> Result<bool, SetupError> {
    let rpath = record_path(env, change)?;
    let Some(rec) = read_record(&rpath)? else {
        if named {
            let _ = writeln!(
                out,
                "{}: nothing to undo: setup has not changed anything for it (no record in {}).",
                agent.title(),
                rpath.parent().unwrap_or(&rpath).display()
            );
        }
        return Ok(false);
    };
    let shown_s = rec.shown.display().to_string();
    let current = match fs::symlink_metadata(&rec.path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(SetupError::io(rec.path.display().to_string(), e)),
        Ok(_) => Some(read_text(&rec.path)?),
    };
    let Some(current) = current else {
        if rec.before.is_some() {
            return Err(SetupError::Refused(format!(
                "{shown_s} is gone since setup wrote it; nothing was changed (the record stays \
                 in {})",
                rpath.display()
            )));
        }
        let _ = writeln!(
            out,
            "{}: {shown_s} is already gone; nothing to undo.",
            agent.title()
        );
        if !dry_run {
            let _ = fs::remove_file(&rpath);
        }
        return Ok(true);
    };
    // Unchanged since setup wrote it: put back the very bytes that were there. Edited since:
    // take out only what setup put in, if it is still there as written.
    let exact = current == rec.after;
    let restored: Option<String> = if exact {
        rec.before.clone()
    } else {
        let taken_out = match &rec.undo {
            Undo::ClaudeShell {
                value,
                previous,
                created_env,
            } => json::unset_claude_shell(&current, value, previous.as_deref(), *created_env),
            Undo::Block { block, replaced } => {
                lines::remove_block(&current, block, replaced.as_deref())
            }
        };
        match taken_out {
            Ok(t) => Some(t),
            Err(why) => {
                return Err(SetupError::Refused(format!(
                    "{shown_s} was changed since setup wrote it and {why}; nothing was changed. \
                     Edit it by hand if the change should go (the record stays in {}).",
                    rpath.display()
                )))
            }
        }
    };
    let _ = writeln!(
        out,
        "{}: undoing what `shellguard setup {}` wrote",
        agent.title(),
        rec.agent
    );
    let _ = write!(
        out,
        "{}",
        diff::unified(
            &current,
            restored.as_deref().unwrap_or(""),
            &shown_s,
            if restored.is_some() {
                &shown_s
            } else {
                "/dev/null"
            },
        )
    );
    if dry_run {
        let _ = writeln!(out, "(dry run: nothing was written)");
        return Ok(true);
    }
    match &restored {
        Some(text) => {
            let mode = fs::metadata(&rec.path)
                .map(|m| m.mode() & 0o7777)
                .unwrap_or(0o600);
            write_atomically(&rec.path, text.as_bytes(), mode)
                .map_err(|e| SetupError::io(format!("cannot write {}", rec.path.display()), e))?;
        }
        None => {
            fs::remove_file(&rec.path)
                .map_err(|e| SetupError::io(format!("cannot remove {shown_s}"), e))?;
            // Directories setup made for the file, if nothing else moved in.
            for d in rec.created_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
        }
    }
    let _ = fs::remove_file(&rpath);
    let _ = match (&restored, exact) {
        (None, _) => writeln!(out, "removed {shown_s}, which setup had created."),
        (Some(_), true) => writeln!(out, "restored {shown_s} exactly as it was before setup."),
        (Some(_), false) => writeln!(
            out,
            "took setup's change out of {shown_s}; the edits made to it since are kept."
        ),
    };
    Ok(true)
}

/// Replaces `path` with `content` in one step: a new file beside it, flushed, given `mode`,
/// then renamed over it. A reader sees the old file or the new one, never half of either.
pub(crate) fn write_atomically(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no directory"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.shellguard-{}-{n}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        file.write_all(content)?;
        // Explicitly, since the umask applied at creation may have cut bits the old file had.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // The rename itself reaches the disk with the directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Editing JSON text in place: only the member setup owns changes, every other byte stays.

pub(crate) mod json {
    use serde_json::Value;

    /// `s` as a JSON string literal.
    pub fn string(s: &str) -> String {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }

    pub enum Set {
        Already,
        Changed {
            text: String,
            /// The value's JSON text before, when it had one.
            previous: Option<String>,
            created_env: bool,
        },
    }

    /// One member of an object, by byte offsets into the text.
    #[derive(Debug)]
    struct Member {
        key: String,
        key_start: usize,
        value_start: usize,
        value_end: usize,
    }

    struct Object {
        open: usize,
        close: usize,
        members: Vec<Member>,
    }

    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// `i` at an opening quote; the index after the closing one.
    fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    /// `i` at the start of a value; the index after it. The text was validated by serde_json
    /// first, so this only has to find the end, without recursion.
    fn skip_value(b: &[u8], i: usize) -> Option<usize> {
        match b.get(i)? {
            b'"' => skip_string(b, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = skip_string(b, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    j += 1;
                }
                Some(j)
            }
        }
    }

    fn object(text: &str, open: usize) -> Option<Object> {
        let b = text.as_bytes();
        if b.get(open) != Some(&b'{') {
            return None;
        }
        let mut members = Vec::new();
        let mut i = ws(b, open + 1);
        if b.get(i) == Some(&b'}') {
            return Some(Object {
                open,
                close: i,
                members,
            });
        }
        loop {
            let key_start = i;
            let key_end = skip_string(b, i)?;
            let key: String = serde_json::from_str(text.get(key_start..key_end)?).ok()?;
            i = ws(b, key_end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let value_start = ws(b, i + 1);
            let value_end = skip_value(b, value_start)?;
            members.push(Member {
                key,
                key_start,
                value_start,
                value_end,
            });
            i = ws(b, value_end);
            match b.get(i)? {
                b',' => i = ws(b, i + 1),
                b'}' => {
                    return Some(Object {
                        open,
                        close: i,
                        members,
                    })
                }
                _ => return None,
            }
        }
    }

    fn line_start(text: &str, at: usize) -> usize {
        text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The whitespace that begins the line `at` is on.
    fn indent_at(text: &str, at: usize) -> &str {
        let start = line_start(text, at);
        let line = &text[start..at];
        &line[..line.len() - line.trim_start().len()]
    }

    /// A member's value as setup writes it: a string, or an object holding one string.
    pub enum New<'a> {
        Str(&'a str),
        Obj(&'a str, &'a str),
    }

    impl New<'_> {
        /// The value's JSON, laid out for a member indented by `ind` (`None`: on one line).
        fn render(&self, ind: Option<&str>, unit: &str) -> String {
            match (self, ind) {
                (New::Str(s), _) => string(s),
                (New::Obj(k, v), None) => format!("{{{}: {}}}", string(k), string(v)),
                (New::Obj(k, v), Some(ind)) => {
                    format!("{{\n{ind}{unit}{}: {}\n{ind}}}", string(k), string(v))
                }
            }
        }
    }

    /// The text with member `"key": value` added last to `obj`, laid out like its siblings
    /// (or, in an empty object, one step in from the object's own line).
    fn add_member(text: &str, obj: &Object, key: &str, value: &New, unit: &str) -> String {
        let k = string(key);
        match obj.members.last() {
            None => {
                let outer = indent_at(text, obj.open);
                let ind = format!("{outer}{unit}");
                format!(
                    "{}{{\n{ind}{k}: {}\n{outer}}}{}",
                    &text[..obj.open],
                    value.render(Some(&ind), unit),
                    &text[obj.close + 1..]
                )
            }
            Some(last) if text[obj.open..last.key_start].contains('\n') => {
                let ind = indent_at(text, last.key_start);
                format!(
                    "{},\n{ind}{k}: {}{}",
                    &text[..last.value_end],
                    value.render(Some(ind), unit),
                    &text[last.value_end..]
                )
            }
            Some(last) => format!(
                "{}, {k}: {}{}",
                &text[..last.value_end],
                value.render(None, unit),
                &text[last.value_end..]
            ),
        }
    }

    /// The indentation step the file uses: that of its first member if they sit on their own
    /// lines, else two spaces (Claude Code's own).
    fn unit(text: &str, top: &Object) -> String {
        match top.members.first() {
            Some(m) if text[top.open..m.key_start].contains('\n') => {
                let i = indent_at(text, m.key_start);
                if i.is_empty() {
                    "  ".into()
                } else {
                    i.to_string()
                }
            }
            _ => "  ".into(),
        }
    }

    fn parse_top(text: &str) -> Result<Object, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
        if !v.is_object() {
            return Err("not a JSON object".into());
        }
        let open = ws(text.as_bytes(), 0);
        object(text, open).ok_or_else(|| "cannot be read as a JSON object".into())
    }

    fn only<'a>(obj: &'a Object, key: &str, what: &str) -> Result<Option<&'a Member>, String> {
        let mut found = obj.members.iter().filter(|m| m.key == key);
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("{what} has `{key}` twice"));
        }
        Ok(first)
    }

    /// Sets `env.CLAUDE_CODE_SHELL` to `value` in the settings `text`.
    pub fn set_claude_shell(text: &str, value: &str) -> Result<Set, String> {
        let top = parse_top(text)?;
        let unit = unit(text, &top);
        let Some(env) = only(&top, "env", "the file")? else {
            let inner = New::Obj("CLAUDE_CODE_SHELL", value);
            return Ok(Set::Changed {
                text: add_member(text, &top, "env", &inner, &unit),
                previous: None,
                created_env: true,
            });
        };
        let Some(env_obj) = object(text, env.value_start) else {
            return Err("`env` is not an object".into());
        };
        match only(&env_obj, "CLAUDE_CODE_SHELL", "`env`")? {
            Some(m) => {
                let raw = &text[m.value_start..m.value_end];
                match serde_json::from_str::<Value>(raw) {
                    Ok(Value::String(s)) if s == value => Ok(Set::Already),
                    Ok(Value::String(_)) => Ok(Set::Changed {
                        text: format!(
                            "{}{}{}",
                            &text[..m.value_start],
                            string(value),
                            &text[m.value_end..]
                        ),
                        previous: Some(raw.to_string()),
                        created_env: false,
                    }),
                    _ => Err("`env.CLAUDE_CODE_SHELL` is not a string".into()),
                }
            }
            None => Ok(Set::Changed {
                text: add_member(text, &env_obj, "CLAUDE_CODE_SHELL", &New::Str(value), &unit),
                previous: None,
                created_env: false,
            }),
        }
    }

    /// `text` without member `i` of `obj`, and the separator that went with it.
    fn remove_member(text: &str, obj: &Object, i: usize) -> String {
        let m = &obj.members[i];
        if i > 0 {
            let prev = &obj.members[i - 1];
            format!("{}{}", &text[..prev.value_end], &text[m.value_end..])
        } else if let Some(next) = obj.members.get(1) {
            format!("{}{}", &text[..m.key_start], &text[next.key_start..])
        } else {
            format!("{}{{}}{}", &text[..obj.open], &text[obj.close + 1..])
        }
    }

    /// Takes setup's `CLAUDE_CODE_SHELL` back out of `text`, which others have edited since,
    /// if it still holds `value`: the previous value back, or the member gone (and `env` with
    /// it when setup created `env` and nothing else is in it now).
    pub fn unset_claude_shell(
        text: &str,
        value: &str,
        previous: Option<&str>,
        created_env: bool,
    ) -> Result<String, String> {
        let not_ours = || format!("no longer sets CLAUDE_CODE_SHELL to {value}");
        let top = parse_top(text).map_err(|e| format!("is {e}"))?;
        let Some(env) = only(&top, "env", "the file")? else {
            return Err(not_ours());
        };
        let env_obj = object(text, env.value_start).ok_or_else(not_ours)?;
        let idx = env_obj
            .members
            .iter()
            .position(|m| m.key == "CLAUDE_CODE_SHELL")
            .ok_or_else(not_ours)?;
        let m = &env_obj.members[idx];
        if serde_json::from_str::<Value>(&text[m.value_start..m.value_end]).ok()
            != Some(Value::String(value.into()))
        {
            return Err(not_ours());
        }
        if let Some(prev) = previous {
            return Ok(format!(
                "{}{prev}{}",
                &text[..m.value_start],
                &text[m.value_end..]
            ));
        }
        if created_env && env_obj.members.len() == 1 {
            let i = top.members.iter().position(|t| t.key == "env").unwrap_or(0);
            return Ok(remove_member(text, &top, i));
        }
        Ok(remove_member(text, &env_obj, idx))
    }

    /// `env.CLAUDE_CODE_SHELL` in a settings file's text, if it has one.
    pub fn claude_shell_in(text: &str) -> Option<String> {
        let v: Value = serde_json::from_str(text).ok()?;
        v.get("env")?
            .get("CLAUDE_CODE_SHELL")?
            .as_str()
            .map(str::to_string)
    }
}

// ---------------------------------------------------------------------------------------------
// Marked blocks of lines in shell and dotenv files.

pub(crate) mod lines {
    use std::ops::Range;

    /// The byte range of the block from the line `begin` to the line `end` (its newline
    /// included), if the file has one.
    pub fn find_block(text: &str, begin: &str, end: &str) -> Option<Range<usize>> {
        let mut offset = 0;
        let mut start = None;
        for line in text.split_inclusive('\n') {
            let bare = line.trim_end_matches(['\n', '\r']);
            if start.is_none() && bare == begin {
                start = Some(offset);
            } else if start.is_some() && bare == end {
                return Some(start?..offset + line.len());
            }
            offset += line.len();
        }
        None
    }

    /// `text` without `block` (put back `replaced` in its place, if setup replaced one), when
    /// it still holds the block exactly once.
    pub fn remove_block(text: &str, block: &str, replaced: Option<&str>) -> Result<String, String> {
        let mut at = text.match_indices(block);
        let Some((i, _)) = at.next() else {
            return Err("no longer holds shellguard's block as setup wrote it".into());
        };
        if at.next().is_some() {
            return Err("holds shellguard's block more than once".into());
        }
        let mut before = &text[..i];
        // The blank line setup put before its block goes with it.
        if replaced.is_none() && before.ends_with("\n\n") {
            before = &before[..before.len() - 1];
        }
        Ok(format!(
            "{before}{}{}",
            replaced.unwrap_or(""),
            &text[i + block.len()..]
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Unified diffs, for showing a change before it is made.

pub(crate) mod diff {
    use crate::approve::sanitize::for_display;

    const CONTEXT: usize = 3;
    /// Past this many cells the middle is shown as all removed, then all added.
    const MAX_CELLS: usize = 4_000_000;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Op {
        Same,
        Del,
        Add,
    }

    /// `old` → `new` as a unified diff, lines escaped for the terminal. Empty when equal.
    pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
        let a: Vec<&str> = old.split_inclusive('\n').collect();
        let b: Vec<&str> = new.split_inclusive('\n').collect();
        if a == b {
            return String::new();
        }
        let ops = script(&a, &b);
        let mut out = format!(
            "--- {}\n+++ {}\n",
            for_display(old_label),
            for_display(new_label)
        );
        // Each op with the line numbers (0-based) it stands at in `a` and `b`.
        let mut at = Vec::with_capacity(ops.len());
        let (mut i, mut j) = (0, 0);
        for op in &ops {
            at.push((*op, i, j));
            match op {
                Op::Same => {
                    i += 1;
                    j += 1
                }
                Op::Del => i += 1,
                Op::Add => j += 1,
            }
        }
        let changed: Vec<usize> = (0..at.len()).filter(|&k| at[k].0 != Op::Same).collect();
        let mut k = 0;
        while k < changed.len() {
            let first = changed[k];
            let mut last = first;
            while k + 1 < changed.len() && changed[k + 1] - last <= 2 * CONTEXT + 1 {
                k += 1;
                last = changed[k];
            }
            k += 1;
            let lo = first.saturating_sub(CONTEXT);
            let hi = (last + CONTEXT + 1).min(at.len());
            let (_, a0, b0) = at[lo];
            let (na, nb) = at[lo..hi]
                .iter()
                .fold((0, 0), |(x, y), (op, _, _)| match op {
                    Op::Same => (x + 1, y + 1),
                    Op::Del => (x + 1, y),
                    Op::Add => (x, y + 1),
                });
            let start = |s: usize, n: usize| if n == 0 { s } else { s + 1 };
            out.push_str(&format!(
                "@@ -{},{na} +{},{nb} @@\n",
                start(a0, na),
                start(b0, nb)
            ));
            for &(op, ai, bj) in &at[lo..hi] {
                let (mark, line) = match op {
                    Op::Same => (' ', a[ai]),
                    Op::Del => ('-', a[ai]),
                    Op::Add => ('+', b[bj]),
                };
                let bare = line.strip_suffix('\n');
                out.push(mark);
                out.push_str(&for_display(bare.unwrap_or(line)));
                out.push('\n');
                if bare.is_none() {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
        out
    }

    /// The edit script from `a` to `b`: common ends kept, the middle by longest common
    /// subsequence (changes setup makes are small, so the middle is too).
    fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
        let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let suf = a[pre..]
            .iter()
            .rev()
            .zip(b[pre..].iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        let (ma, mb) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
        let mut ops = vec![Op::Same; pre];
        if ma.len().saturating_mul(mb.len()) > MAX_CELLS {
            ops.extend(std::iter::repeat_n(Op::Del, ma.len()));
            ops.extend(std::iter::repeat_n(Op::Add, mb.len()));
        } else {
            // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
            let w = mb.len() + 1;
            let mut lcs = vec![0u32; (ma.len() + 1) * w];
            for i in (0..ma.len()).rev() {
                for j in (0..mb.len()).rev() {
                    lcs[i * w + j] = if ma[i] == mb[j] {
                        lcs[(i + 1) * w + j + 1] + 1
                    } else {
                        lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                    };
                }
            }
            let (mut i, mut j) = (0, 0);
            while i < ma.len() || j < mb.len() {
                if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                    ops.push(Op::Same);
                    i += 1;
                    j += 1;
                } else if i < ma.len()
                    && (j == mb.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
                {
                    // Removals before additions, as diff(1) shows a replaced line.
                    ops.push(Op::Del);
                    i += 1;
                } else {
                    ops.push(Op::Add);
                    j += 1;
                }
            }
        }
        ops.extend(std::iter::repeat_n(Op::Same, suf));
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIM: &str = "/home/u/.local/share/shellguard/shims/bash";

    fn set(text: &str) -> String {
        match json::set_claude_shell(text, SHIM).unwrap() {
            json::Set::Changed { text, .. } => text,
            json::Set::Already => panic!("already"),
        }
    }

    macro_rules! sets {
        ($($before:expr => $after:expr;)*) => {{
            let mut wrong = Vec::new();
            $( let got = set($before);
               let want: &str = $after;
               if got != want { wrong.push(format!("{:?}\n  want {want:?}\n  got  {got:?}", $before)); }
               // Every result is valid JSON holding the value, and undoing it gives back the input.
               assert_eq!(json::claude_shell_in(&got).as_deref(), Some(SHIM), "{got}");
               let (prev, created) = match json::set_claude_shell($before, SHIM).unwrap() {
                   json::Set::Changed { previous, created_env, .. } => (previous, created_env),
                   json::Set::Already => unreachable!(),
               };
               let back = json::unset_claude_shell(&got, SHIM, prev.as_deref(), created).unwrap();
               let _: serde_json::Value = serde_json::from_str(&back).unwrap();
               if back != $before && !(back == "{}" || back.trim().is_empty()) {
                   wrong.push(format!("undo of {:?}: {back:?}", $before));
               }
            )*
            assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
        }};
    }

    #[test]
    fn the_shell_is_set_and_everything_else_kept_as_written() {
        let s = SHIM;
        sets! {
            "{}" => &format!("{{\n  \"env\": {{\n    \"CLAUDE_CODE_SHELL\": \"{s}\"\n  }}\n}}");
            "{\n  \"model\": \"opus\"\n}\n" =>
                &format!("{{\n  \"model\": \"opus\",\n  \"env\": {{\n    \"CLAUDE_CODE_SHELL\": \"{s}\"\n  }}\n}}\n");
            "{\n    \"a\": [1, 2],\n    \"b\": {\"c\": \"}\"}\n}" =>
                &format!("{{\n    \"a\": [1, 2],\n    \"b\": {{\"c\": \"}}\"}},\n    \"env\": {{\n        \"CLAUDE_CODE_SHELL\": \"{s}\"\n    }}\n}}");
            "{\n\t\"env\": {\n\t\t\"FOO\": \"1\"\n\t}\n}\n" =>
                &format!("{{\n\t\"env\": {{\n\t\t\"FOO\": \"1\",\n\t\t\"CLAUDE_CODE_SHELL\": \"{s}\"\n\t}}\n}}\n");
            "{\"env\": {\"FOO\": \"1\"}}" => &format!("{{\"env\": {{\"FOO\": \"1\", \"CLAUDE_CODE_SHELL\": \"{s}\"}}}}");
            "{\"model\": \"x\"}" => &format!("{{\"model\": \"x\", \"env\": {{\"CLAUDE_CODE_SHELL\": \"{s}\"}}}}");
            "{\n  \"env\": {}\n}" => &format!("{{\n  \"env\": {{\n    \"CLAUDE_CODE_SHELL\": \"{s}\"\n  }}\n}}");
            "{\n  \"env\": {\n    \"CLAUDE_CODE_SHELL\": \"~/.local/share/shellguard/shims/bash\",\n    \"X\": \"\\\"y\"\n  }\n}\n" =>
                &format!("{{\n  \"env\": {{\n    \"CLAUDE_CODE_SHELL\": \"{s}\",\n    \"X\": \"\\\"y\"\n  }}\n}}\n");
        }
    }

    #[test]
    fn files_that_are_not_settings_are_refused() {
        for bad in [
            "{",
            "[]",
            "\"x\"",
            "{\"env\": []}",
            "{\"env\": {\"CLAUDE_CODE_SHELL\": 3}}",
            "{\"env\": {}, \"env\": {}}",
            "{\"a\": 1} trailing",
            "// comment\n{}",
        ] {
            assert!(json::set_claude_shell(bad, SHIM).is_err(), "{bad}");
        }
        assert!(matches!(
            json::set_claude_shell(
                &format!("{{\"env\":{{\"CLAUDE_CODE_SHELL\":\"{SHIM}\"}}}}"),
                SHIM
            ),
            Ok(json::Set::Already)
        ));
    }

    #[test]
    fn undo_in_an_edited_file_takes_out_only_its_own_member() {
        let after = set("{\n  \"model\": \"opus\"\n}\n");
        let edited = after.replace("\"opus\"", "\"sonnet\"");
        assert_eq!(
            json::unset_claude_shell(&edited, SHIM, None, true).unwrap(),
            "{\n  \"model\": \"sonnet\"\n}\n"
        );
        let changed = after.replace(SHIM, "/bin/bash");
        assert!(json::unset_claude_shell(&changed, SHIM, None, true).is_err());
    }

    #[test]
    fn blocks_are_found_replaced_and_removed() {
        let block = "# >>> b >>>\nx=1\n# <<< e <<<\n";
        let text = format!("a\n\n{block}z\n");
        let r = lines::find_block(&text, "# >>> b >>>", "# <<< e <<<").unwrap();
        assert_eq!(&text[r], block);
        assert_eq!(lines::remove_block(&text, block, None).unwrap(), "a\nz\n");
        assert!(lines::remove_block("a\n", block, None).is_err());
        assert_eq!(
            lines::remove_block(block, block, Some("old\n")).unwrap(),
            "old\n"
        );
    }

    #[test]
    fn diffs_are_unified() {
        let d = diff::unified("a\nb\nc\n", "a\nB\nc\nd", "x", "x");
        assert_eq!(
            d,
            "--- x\n+++ x\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n\\ No newline at end of file\n"
        );
        assert_eq!(diff::unified("same\n", "same\n", "x", "x"), "");
        let d = diff::unified("", "new\n", "/dev/null", "f");
        assert_eq!(d, "--- /dev/null\n+++ f\n@@ -0,0 +1,1 @@\n+new\n");
        let many: String = (0..20).map(|i| format!("{i}\n")).collect();
        let d = diff::unified(&many, &many.replace("10\n", "ten\n"), "f", "f");
        assert!(
            d.contains("@@ -8,7 +8,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n"),
            "{d}"
        );
        assert!(!d.contains(" 6\n"), "{d}");
        assert!(diff::unified("\x1b[2J\n", "", "f", "f").contains("-\\e[2J"));
    }

    #[test]
    fn agents_by_name() {
        assert_eq!(Agent::from_name("mini"), Some(Agent::Mini));
        assert_eq!(Agent::from_name("mini-swe-agent"), Some(Agent::Mini));
        assert_eq!(Agent::from_name("claude"), Some(Agent::Claude));
        assert_eq!(Agent::from_name("bash"), None);
        assert_eq!(sh_quote("/a/b"), "/a/b");
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
