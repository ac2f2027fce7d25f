//! `shellguard run [--] AGENT ARGS…`: host an agent in a pseudo-terminal, and be the human's
//! channel for approvals.
//!
//! Claude Code and Codex start their shells with `setsid`: no controlling terminal, so a guarded
//! shell below them has nobody to ask. The supervisor sits between the human's terminal and the
//! agent, out of sight (bytes, resizes, signals and the exit status pass through), serves the
//! broker socket named in `SHELLGUARD_SUPERVISOR`, and when a request comes in it pauses the
//! agent's output, draws the prompt on the real terminal and reads the answer from the real
//! keyboard. What the agent writes is only ever output: it never reaches the prompt as a key.
//!
//! Exit status: the agent's (128 + N if a signal killed it); 2 for a usage error; 127 if AGENT
//! is not found, 126 if it cannot be started; 125 if the supervisor itself cannot be set up.

mod broker;
mod prompt;
mod proxy;
mod terminal;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use nix::unistd::Pid;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::approve::protocol::SUPERVISOR_ENV;

pub use broker::{runtime_dir, MAX_REQUEST};
pub use prompt::{
    draw_prompt, draw_question, prompt_request, About, Key, KeyDecoder, REMEMBER_SECS,
};

const USAGE: u8 = 2;
const NOT_FOUND: u8 = 127;
const CANNOT_RUN: u8 = 126;
const SETUP_FAILED: u8 = 125;

const USAGE_TEXT: &str = "usage: shellguard run [--unenforced] [--] AGENT [ARGS…]

Runs AGENT in a pseudo-terminal with every shell it starts going through shellguard, and shows
the approvals those shells ask for here, on this terminal. On Linux the boundary is enforced by
the kernel: every shell in AGENT's tree, by any path, is the guard, every program it starts
without a shell is judged before it runs, and shellguard's own files and approvals are out of
its reach. --unenforced runs AGENT with the advisory guard only.";

/// What `--unenforced` gives up, said every time it is used.
const UNENFORCED_LOSS: &str =
    "shellguard run: --unenforced: the agent gets the advisory guard only. \
Shells it starts by absolute path (/bin/bash, /bin/sh: Codex, mini-swe-agent, make, npm scripts, \
#! scripts) are NOT checked, and it can change shellguard's configuration, approvals and audit \
log, or answer its own requests from a console it starts.";

/// Entry point for `shellguard run ARGS` (ARGS without the subcommand word).
pub fn run_main(args: &[String]) -> u8 {
    if crate::enforced::current().is_some() {
        return nested(args);
    }
    let (enforce, args) = match args.first().map(String::as_str) {
        Some("--unenforced") => (false, &args[1..]),
        _ => (true, args),
    };
    let (agent, agent_args) = match parse_or_say(args) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match supervise(agent, agent_args, enforce) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("shellguard run: {msg}");
            code
        }
    }
}

/// [`parse_args`], with `--help` and usage errors said here: `Err` is the exit status.
fn parse_or_say(args: &[String]) -> Result<(&str, &[String]), u8> {
    match parse_args(args) {
        Ok(Some(parsed)) => Ok(parsed),
        Ok(None) => {
            println!("{USAGE_TEXT}");
            Err(0)
        }
        Err(msg) => {
            eprintln!("shellguard run: {msg}\n{USAGE_TEXT}");
            Err(USAGE)
        }
    }
}

/// `[--] AGENT ARGS…`; `Ok(None)` for `--help`.
fn parse_args(args: &[String]) -> Result<Option<(&str, &[String])>, String> {
    let rest = match args.first().map(String::as_str) {
        None => return Err("no agent to run".into()),
        Some("--") => &args[1..],
        Some("-h" | "--help") => return Ok(None),
        Some(opt) if opt.starts_with('-') => return Err(format!("unknown option {opt}")),
        Some(_) => args,
    };
    match rest.split_first() {
        Some((agent, agent_args)) if !agent.is_empty() => Ok(Some((agent, agent_args))),
        _ => Err("no agent to run".into()),
    }
}

pub(crate) type Failure = (u8, String);

fn supervise(agent: &str, agent_args: &[String], enforce: bool) -> Result<u8, Failure> {
    let original_path = std::env::var_os("PATH");
    let program = find_program(agent, original_path.as_deref())
        .ok_or_else(|| (NOT_FOUND, format!("{agent}: command not found")))?;
    if !enforce {
        eprintln!("{UNENFORCED_LOSS}");
        return host(&program, agent_args, agent, &[]);
    }
    if let Err(why) = crate::sandbox::preflight() {
        return Err((SETUP_FAILED, cannot_enforce(agent, &why.0)));
    }
    host_with(&program, agent_args, agent, &[], true)
}

fn cannot_enforce(agent: &str, why: &str) -> String {
    format!(
        "cannot enforce the boundary around {agent}: {why}. {agent} was not started. Fix that, \
         or accept the advisory guard only with `shellguard run --unenforced -- {agent} …` \
         (shells started by absolute path are then not checked, and the agent can change \
         shellguard's own files)."
    )
}

/// `shellguard run` inside an enforced tree: the outer supervisor already guards every shell
/// here and is the only one whose answers count, so this one adds nothing and displaces
/// nothing: it just runs the program.
fn nested(args: &[String]) -> u8 {
    let args = match args.first().map(String::as_str) {
        Some("--unenforced") => &args[1..],
        _ => args,
    };
    let (agent, agent_args) = match parse_or_say(args) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    eprintln!(
        "shellguard run: already inside an enforced `shellguard run`; {agent} runs under it (its approvals appear there)"
    );
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(agent).args(agent_args),
    );
    eprintln!("shellguard run: cannot start {agent}: {err}");
    if err.kind() == io::ErrorKind::NotFound {
        NOT_FOUND
    } else {
        CANNOT_RUN
    }
}

/// Hosts `program ARGS` in a pty as `shellguard run` does (shims first on its `PATH`, `SHELL`
/// the shim, the broker served when we are the human's terminal); `env` is set last, over
/// those. Used by `run` and by the interactive shell.
pub(crate) fn host(
    program: &Path,
    agent_args: &[String],
    agent: &str,
    env: &[(OsString, OsString)],
) -> Result<u8, Failure> {
    host_with(program, agent_args, agent, env, false)
}

/// [`host`], inside the kernel-enforced boundary when `enforce` (see `crate::sandbox`).
fn host_with(
    program: &Path,
    agent_args: &[String],
    agent: &str,
    env: &[(OsString, OsString)],
    enforce: bool,
) -> Result<u8, Failure> {
    if enforce {
        // Nothing of the same user may read or write the supervisor's memory.
        crate::sys::kernel::set_dumpable(false).map_err(|e| {
            (
                SETUP_FAILED,
                format!("cannot make the supervisor undumpable: {e}"),
            )
        })?;
    }
    let original_path = std::env::var_os("PATH");
    let shims = shims_dir().map_err(|e| (SETUP_FAILED, e))?;

    let stdin_is_tty = io::stdin().is_terminal();
    let interactive = stdin_is_tty && io::stdout().is_terminal();

    // A supervisor above us (this is a shell inside a supervised agent) already reaches the
    // human; its prompts stay the ones that count. Without a terminal there is nobody to ask
    // here, and shells fall back to their other channels.
    let outer =
        std::env::var_os(SUPERVISOR_ENV).filter(|s| !s.is_empty() && is_socket(Path::new(s)));
    terminal::install_panic_hook();
    let mut socket = if outer.is_none() && interactive {
        let dir = runtime_dir().map_err(|e| (SETUP_FAILED, e))?;
        let socket = broker::Socket::bind(&dir).map_err(|e| {
            (
                SETUP_FAILED,
                format!("cannot listen in {}: {e}", dir.display()),
            )
        })?;
        terminal::register_socket(Some(socket.path.clone()));
        Some(socket)
    } else {
        None
    };
    let supervisor = socket
        .as_ref()
        .map(|s| s.path.clone().into_os_string())
        .or(outer);

    let (tx, rx) = mpsc::channel();
    proxy::spawn_signals(tx.clone())
        .map_err(|e| (SETUP_FAILED, format!("cannot handle signals: {e}")))?;

    let size = terminal_size(interactive);
    let pty = native_pty_system()
        .openpty(size)
        .map_err(|e| (SETUP_FAILED, format!("cannot open a pseudo-terminal: {e}")))?;

    let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let prepared = if enforce {
        let p = crate::sandbox::prepare(
            program,
            agent_args,
            socket.as_ref().map(|s| s.path.as_path()),
            &vars,
        )
        .map_err(|e| (SETUP_FAILED, cannot_enforce(agent, &e)))?;
        Some(p)
    } else {
        None
    };
    let mut cmd = match &prepared {
        Some(p) => {
            let (init, init_args, spec) = p
                .init_command()
                .map_err(|e| (SETUP_FAILED, cannot_enforce(agent, &e)))?;
            let mut cmd = CommandBuilder::new(init.as_os_str());
            cmd.args(&init_args);
            cmd.env(crate::sandbox::SPEC_ENV, spec);
            cmd
        }
        None => {
            let mut cmd = CommandBuilder::new(program.as_os_str());
            cmd.args(agent_args);
            cmd
        }
    };
    if let Ok(cwd) = std::env::current_dir() {
        cmd.cwd(cwd);
    }
    let shim_bash = shims.join("bash");
    cmd.env("SHELL", &shim_bash);
    cmd.env("CLAUDE_CODE_SHELL", &shim_bash);
    cmd.env("PATH", path_with_shims(&shims, original_path.as_deref()));
    match &supervisor {
        Some(s) => cmd.env(SUPERVISOR_ENV, s),
        None => cmd.env_remove(SUPERVISOR_ENV),
    }
    for (k, v) in env {
        cmd.env(k, v);
    }

    let mut child = pty
        .slave
        .spawn_command(cmd)
        .map_err(|e| (CANNOT_RUN, format!("cannot start {agent}: {e}")))?;
    // Only the agent holds the pty's other end now, so its end of output is seen.
    drop(pty.slave);
    let pid = child
        .process_id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw)
        .ok_or_else(|| (CANNOT_RUN, format!("{agent} has no process id")))?;
    // Execs held by the gate are asked about at this prompt, like the shells' requests.
    let prompt = socket.as_ref().map(|_| {
        let tx = tx.clone();
        Arc::new(move |req: &crate::approve::protocol::Request| broker::ask_here(&tx, req))
            as crate::sandbox::Prompt
    });
    let _boundary = match prepared {
        Some(p) => match p.start(pid.as_raw().unsigned_abs(), prompt) {
            Ok(running) => Some(running),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err((SETUP_FAILED, cannot_enforce(agent, &why)));
            }
        },
        None => None,
    };
    let remember_in = enforce
        .then(|| crate::policy::trust::state_dir(&vars))
        .flatten();

    let reader = pty
        .master
        .try_clone_reader()
        .map_err(|e| (SETUP_FAILED, format!("pty: {e}")))?;
    let writer = pty
        .master
        .take_writer()
        .map_err(|e| (SETUP_FAILED, format!("pty: {e}")))?;
    let out = dup_file(io::stdout().as_fd()).map_err(|e| (SETUP_FAILED, format!("stdout: {e}")))?;
    let input = dup_file(io::stdin().as_fd()).map_err(|e| (SETUP_FAILED, format!("stdin: {e}")))?;

    let credit = Arc::new(proxy::Credit::default());
    proxy::spawn_waiter(pid, tx.clone());
    proxy::spawn_output_reader(reader, tx.clone(), Arc::clone(&credit));
    let to_agent = proxy::spawn_agent_writer(writer);
    // Raw before reading keys, so nothing is read through the cooked line discipline.
    let raw = if stdin_is_tty {
        terminal::RawMode::enter().ok()
    } else {
        None
    };
    proxy::spawn_input_reader(input, tx.clone());
    if let Some(s) = &mut socket {
        s.serve(tx.clone());
    }
    drop(tx);

    let proxy = proxy::Proxy::new(proxy::Wiring {
        master: pty.master,
        agent: pid,
        to_agent,
        out,
        raw,
        credit,
        size,
        stdin_is_tty,
        remember_in,
        gate_dir: env
            .iter()
            .find(|(k, _)| k.as_os_str() == crate::interactive::HOST_ENV)
            .map(|(_, v)| std::path::PathBuf::from(v)),
    });
    let code = proxy.run(rx);
    terminal::register_socket(None);
    drop(socket);
    drop(child);
    Ok(code)
}

fn dup_file(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

fn terminal_size(interactive: bool) -> PtySize {
    let (cols, rows) = if interactive {
        crossterm::terminal::size().unwrap_or((80, 24))
    } else {
        (80, 24)
    };
    PtySize {
        rows: if rows == 0 { 24 } else { rows },
        cols: if cols == 0 { 80 } else { cols },
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// AGENT on the PATH we were given, before the shims go first: `shellguard run bash` means the
/// real bash.
fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.exists().then_some(p);
    }
    let path = path.unwrap_or_else(|| OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(path).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
    })
}

/// `${XDG_DATA_HOME:-$HOME/.local/share}/shellguard/shims`, created as install.sh would (links
/// `bash` and `sh` to this binary) when missing.
fn shims_dir() -> Result<PathBuf, String> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| Path::new(h).is_absolute())
                .map(|h| Path::new(&h).join(".local/share"))
        })
        .ok_or("neither XDG_DATA_HOME nor HOME is set to an absolute path")?;
    let dir = data.join("shellguard").join("shims");
    if !dir.is_dir() {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot tell where shellguard is installed: {e}"))?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for name in ["bash", "sh"] {
            match std::os::unix::fs::symlink(&exe, dir.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot link {}/{name}: {e}", dir.display())),
            }
        }
    }
    Ok(dir)
}

/// The shims first, then the original PATH without them.
fn path_with_shims(shims: &Path, path: Option<&OsStr>) -> OsString {
    let rest = path.unwrap_or_else(|| OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let dirs = std::iter::once(shims.to_path_buf())
        .chain(std::env::split_paths(rest).filter(|d| d != shims));
    std::env::join_paths(dirs).unwrap_or_else(|_| {
        let mut p = shims.as_os_str().to_owned();
        p.push(":");
        p.push(rest);
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_command_line() {
        let a = strings(&["--", "claude", "--resume"]);
        assert_eq!(parse_args(&a).unwrap(), Some(("claude", &a[2..])));
        let a = strings(&["codex", "-m", "x"]);
        assert_eq!(parse_args(&a).unwrap(), Some(("codex", &a[1..])));
        let a = strings(&["--", "--weird"]);
        assert_eq!(parse_args(&a).unwrap(), Some(("--weird", &a[2..])));
        assert!(parse_args(&[]).is_err());
        assert!(parse_args(&strings(&["--"])).is_err());
        assert!(parse_args(&strings(&["-x", "claude"])).is_err());
        assert_eq!(parse_args(&strings(&["--help"])).unwrap(), None);
    }

    #[test]
    fn shims_go_first_once() {
        let p = path_with_shims(
            Path::new("/s/shims"),
            Some(OsStr::new("/usr/bin:/s/shims:/bin")),
        );
        assert_eq!(p, OsString::from("/s/shims:/usr/bin:/bin"));
    }
}
