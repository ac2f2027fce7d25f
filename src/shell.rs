//! shellguard started as bash: read bash's command line, judge the code it would run, then
//! exec the real shell with the original argv — or refuse with exit 126.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use crate::analyze::Context;
use crate::cli::bash::{self, Dialect, Source, Ttys};
use crate::exec::{self, ShellKind};
use crate::guard::{decide, judge, path_context, Outcome};
use crate::policy::Policy;

/// Exit status of a refused command (bash's "found but cannot execute").
pub const REFUSED: u8 = 126;

pub fn main(args: Vec<OsString>) -> ExitCode {
    crate::sys::ignore_file_size_signal();
    let argv0 = args.first().cloned().unwrap_or_else(|| "bash".into());
    let kind = exec::shell_kind(&argv0);
    let ctx = Context::from_process();
    let paths = path_context(&ctx);
    let policy = Policy::load(&ctx, &paths);
    let configured = std::env::var_os("SHELLGUARD_REAL_SHELL")
        .map(std::path::PathBuf::from)
        .or_else(|| policy.real_shell.clone());
    let real = match exec::real_shell(kind, configured.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shellguard: {e}");
            return ExitCode::from(127);
        }
    };
    let dialect = dialect_of(kind, &real);
    let parsed = bash::parse_invocation(dialect, &args, Ttys::probe());
    let login = parsed.as_ref().is_ok_and(|b| b.login);
    let mut stdin_script: Option<Vec<u8>> = None;
    let mut unreadable = false;
    let mut tool_script: Option<(std::path::PathBuf, &'static str)> = None;
    // A script file judged by its content: a refusal says when it is an installed tool's.
    let mut script_file: Option<std::path::PathBuf> = None;
    let (mut text, ctx) = match parsed.map(|b| (b.posix, b.source)) {
        // The shell reports its own usage errors; code it will not run needs no judgement.
        Ok((_, Source::NoRun(_))) => return fail(exec::exec_shell(&real, &args)),
        // Arguments that are not text cannot be read, so cannot be judged: ask.
        Err(_) => {
            unreadable = true;
            let text = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            (text, ctx.clone())
        }
        Ok((_, Source::Interactive)) if kind == ShellKind::Bash => {
            // A guarded interactive bash: the host checks each line before bash runs it.
            let rest: Vec<String> = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            return ExitCode::from(crate::interactive::interactive_main(&rest));
        }
        Ok((_, Source::Interactive)) if crate::enforced::current().is_some() => {
            eprintln!("{}", crate::interactive::INTERACTIVE_IN_TREE);
            return ExitCode::from(REFUSED);
        }
        Ok((_, Source::Interactive)) => {
            // Only bash has the hook the interactive guard relies on: say so rather than
            // pretend.
            eprintln!("shellguard: an interactive sh is NOT guarded; use bash (`shellguard -i`)");
            return fail(exec::exec_shell(&real, &args));
        }
        Ok((
            posix,
            Source::Command {
                text,
                arg0,
                positional,
                then_stdin,
            },
        )) => {
            let mut text = text;
            if then_stdin {
                // dash runs the command, then reads more commands from stdin.
                let mut bytes = Vec::new();
                if std::io::stdin().lock().read_to_end(&mut bytes).is_err() {
                    unreadable = true;
                }
                text.push('\n');
                text.push_str(&String::from_utf8_lossy(&bytes));
                stdin_script = Some(bytes);
            }
            let mut ctx = ctx.clone();
            ctx.arg0 = arg0.or_else(|| Some(argv0.to_string_lossy().into_owned()));
            ctx.positional = positional;
            ctx.posix = posix;
            (text, ctx)
        }
        Ok((posix, Source::Script { path, args: sargs })) => {
            let Ok(bytes) = std::fs::read(&path) else {
                // Let bash say why it cannot read the script.
                return fail(exec::exec_shell(&real, &args));
            };
            let trusted = policy
                .state_dir
                .as_deref()
                .is_some_and(|s| crate::policy::tools::ToolTrust::new(s).is_trusted(&path, &bytes));
            if trusted {
                tool_script = Some((path.clone(), crate::audit::approver::TRUSTED_TOOL));
            } else if crate::policy::tools::is_system_script(&path) {
                tool_script = Some((path.clone(), crate::audit::approver::SYSTEM_SCRIPT));
            } else {
                script_file = Some(path.clone());
            }
            let mut ctx = ctx.clone();
            ctx.arg0 = Some(path.to_string_lossy().into_owned());
            ctx.positional = sargs;
            ctx.posix = posix;
            (String::from_utf8_lossy(&bytes).into_owned(), ctx)
        }
        Ok((posix, Source::Stdin { positional })) => {
            let mut bytes = Vec::new();
            if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
                eprintln!("shellguard: cannot read the script on standard input: {e}");
                return ExitCode::from(REFUSED);
            }
            let mut ctx = ctx.clone();
            ctx.arg0 = Some(argv0.to_string_lossy().into_owned());
            ctx.positional = positional;
            ctx.posix = posix;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            stdin_script = Some(bytes);
            (text, ctx)
        }
    };
    let mut startup_code = false;
    if let Some(m) = crate::enforced::current() {
        // What the real shell runs before the command is judged with it (see `startup`).
        let before = crate::startup::Startup {
            dialect,
            posix: ctx.posix,
            login,
            vars: &ctx.vars,
            since: m.started,
        }
        .code();
        if !before.is_empty() {
            startup_code = true;
            text = before + &text;
        }
    }
    if let Some((path, by)) = tool_script.filter(|_| !startup_code) {
        // An installed tool's script as the human trusted it, or the system's own: run,
        // unread (see `policy::tools`). What the shell runs before it, under `run`, is
        // judged by not taking this path.
        let text = format!("{} (run unread: {by})", path.display());
        let j = judge("", &ctx, &policy, &paths);
        let outcome = Outcome::Run {
            approved_by: Some(by),
            request_id: None,
        };
        crate::guard::audit(&text, &ctx, &j, &policy, &outcome);
        return fail(exec::exec_shell(&real, &args));
    }
    for n in &policy.notes {
        eprintln!("{n}");
    }
    let mut j = judge(&text, &ctx, &policy, &paths);
    if unreadable {
        j.mark_unreadable(&text, &policy, &paths);
    }
    if !policy.errors.is_empty() && j.decided.decision != crate::rules::Decision::Allow {
        for e in &policy.errors {
            eprintln!("shellguard: {e}");
        }
    }
    let asker = crate::guard::Asker {
        text: &text,
        ctx: &ctx,
        policy: &policy,
    };
    // A shell ended while it waits (its terminal hung up as the supervisor died, Ctrl-C,
    // `kill`) still records its refusal before it goes.
    let waiting =
        (j.decided.decision == crate::rules::Decision::Confirm).then(crate::sys::interruptible);
    let mut outcome = decide(&j, &asker);
    if let (Some(sig), Outcome::Run { .. }) = (crate::sys::interrupted(), &outcome) {
        outcome = Outcome::Refuse {
            message: format!(
                "shellguard: interrupted by signal {sig} while asking: nothing was run.\n"
            ),
            request_id: None,
        };
    }
    crate::guard::audit(&text, &ctx, &j, &policy, &outcome);
    drop(waiting);
    crate::guard::grant_execs(&j, &outcome);
    match outcome {
        Outcome::Run { .. } => {
            if let Some(bytes) = stdin_script {
                if let Err(e) = replace_stdin(&bytes) {
                    eprintln!("shellguard: cannot hand the script to bash: {e}");
                    return ExitCode::from(REFUSED);
                }
            }
            fail(exec::exec_shell(&real, &args))
        }
        Outcome::Refuse { message, .. } => {
            eprint!("{message}");
            if let Some(root) = script_file
                .as_deref()
                .and_then(|p| crate::policy::tools::root_of(p, &ctx.vars))
            {
                eprintln!(
                    "shellguard: this script is part of a tool installed in {}, whose scripts \
                     are not trusted as they are now: if the user installed or updated it, they \
                     can let its scripts run with `shellguard trust --tools`.",
                    root.display()
                );
            }
            ExitCode::from(REFUSED)
        }
    }
}

/// The real `sh` may be dash, whose command line differs from bash's.
fn dialect_of(kind: ShellKind, real: &exec::RealShell) -> Dialect {
    let resolved = match real {
        exec::RealShell::Supervised { name, .. } => {
            // Inside an enforced tree the guard stands on the file itself: its name says.
            return if name.contains("dash") {
                Dialect::Dash
            } else {
                Dialect::Bash
            };
        }
        exec::RealShell::Path(p) => p,
    };
    if kind == ShellKind::Bash {
        return Dialect::Bash;
    }
    let resolved = std::fs::canonicalize(resolved).unwrap_or_else(|_| resolved.to_path_buf());
    match resolved.file_name().and_then(|n| n.to_str()) {
        Some(n) if n.contains("dash") => Dialect::Dash,
        _ => Dialect::Bash,
    }
}

fn fail(e: exec::ExecError) -> ExitCode {
    eprintln!("shellguard: {e}");
    ExitCode::from(127)
}

/// Put the script read from stdin back as stdin: a sealed in-memory file bash reads from the
/// start, so it sees the same bytes (and, being seekable, leaves what follows to the
/// commands it runs, as with a file).
fn replace_stdin(bytes: &[u8]) -> nix::Result<()> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    use std::io::{Seek, SeekFrom, Write};
    let fd = memfd_create(c"shellguard-stdin", MemFdCreateFlag::MFD_CLOEXEC)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes).map_err(|_| nix::Error::EIO)?;
    f.seek(SeekFrom::Start(0)).map_err(|_| nix::Error::EIO)?;
    nix::unistd::dup2(f.as_raw_fd(), 0)?;
    Ok(())
}
