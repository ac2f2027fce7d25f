//! The guarded interactive shell: `shellguard` with no arguments on a terminal (or `-i`).
//!
//! The user's real bash runs in a pty hosted by the supervisor of `shellguard run` (so the
//! approval prompt is drawn on the outer terminal, where keystrokes are not forwarded to bash),
//! with a generated start-up file (`init.bash`) that reads the user's `~/.bashrc` and then
//! installs a `PS0` gate: bash expands `PS0` once per complete command line, after it has read
//! all of it and before it runs any of it, and the command substitution in it hands the line
//! (from `history 1`) to `shellguard __interactive-check`, which judges it and, when the answer
//! is no, sends SIGINT to the shell, which cancels the whole line. See
//! `design/interactive.md` for what was tried and what this does not stop.

mod check;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::exec::{self, ShellKind};

pub use check::check_line_main;

/// The hidden subcommand the `PS0` gate runs.
pub const CHECK_SUBCOMMAND: &str = "__interactive-check";
/// Set in the hosted shell's environment: the session's private directory. A shell started
/// inside the host (a `bash` through the shim) is already guarded by the inherited gate.
pub const HOST_ENV: &str = "SHELLGUARD_INTERACTIVE_HOST";

/// Why an interactive shell does not start inside an enforced `shellguard run`.
pub const INTERACTIVE_IN_TREE: &str = "shellguard: refused: an interactive shell inside `shellguard run` is not supported yet: the lines typed into it could not be checked, and every shell there must be. Nothing was run. Run each command with `bash -c '…'` instead (it is checked), or use the guarded interactive shell outside the agent's tree (`shellguard -i`).";

const INIT_TEMPLATE: &str = include_str!("init.bash");

/// Entry point for an interactive shell: `args` is bash's command line after `argv[0]`
/// (`[]`, `["-i"]`, `["--norc", "-i"]`…). Returns bash's exit status.
pub fn interactive_main(args: &[String]) -> u8 {
    if crate::enforced::current().is_some() {
        eprintln!("{INTERACTIVE_IN_TREE}");
        return crate::shell::REFUSED;
    }
    let configured = std::env::var_os("SHELLGUARD_REAL_SHELL").map(PathBuf::from);
    let real = match exec::find_real_shell(ShellKind::Bash, configured.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shellguard: {e}");
            return 127;
        }
    };
    // Inside a guarded session already (or with no terminal to host): the shell inherits the
    // gate through PS0 and PROMPT_COMMAND, so it is bash itself.
    let inside = std::env::var_os(HOST_ENV).is_some_and(|d| Path::new(&d).is_dir());
    if inside || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        let mut argv: Vec<OsString> = vec!["bash".into()];
        argv.extend(args.iter().map(OsString::from));
        eprintln!(
            "shellguard: {}",
            exec::exec_shell(&exec::RealShell::Path(real), &argv)
        );
        return 127;
    }
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shellguard: cannot tell where shellguard is installed: {e}");
            return 125;
        }
    };
    let dir = match session_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("shellguard: {e}");
            return 125;
        }
    };
    // Where each guarded shell registers (by pid), so the host can tell them from shells
    // that do not carry the gate.
    if let Err(e) = std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir.join("shells"))
    {
        eprintln!(
            "shellguard: cannot create {}: {e}",
            dir.join("shells").display()
        );
        let _ = std::fs::remove_dir_all(&dir);
        return 125;
    }
    let init = dir.join("init.bash");
    let ps0 = ps0_value(&me, &dir);
    let pc = prompt_command_value(&init);
    if let Err(e) = write_private(&init, &render_init(&ps0, &pc)) {
        eprintln!("shellguard: cannot write {}: {e}", init.display());
        let _ = std::fs::remove_dir_all(&dir);
        return 125;
    }
    let mut bash_args: Vec<String> = vec!["--rcfile".into(), init.to_string_lossy().into_owned()];
    bash_args.extend(args.iter().filter(|a| a.as_str() != "-i").cloned());
    bash_args.push("-i".into());
    let env: Vec<(OsString, OsString)> = vec![
        ("PS0".into(), ps0.into()),
        ("PROMPT_COMMAND".into(), pc.into()),
        (HOST_ENV.into(), dir.clone().into_os_string()),
    ];
    let code = match crate::supervise::host(&real, &bash_args, "bash", &env) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("shellguard: {msg}");
            code
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    code
}

/// `$XDG_RUNTIME_DIR/shellguard-UID/interactive-PID`, private to us.
fn session_dir() -> Result<PathBuf, String> {
    let base = crate::supervise::runtime_dir()?;
    let dir = base.join(format!("interactive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// A word bash reads back as exactly `s`.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The gate. Functions shadowing the builtins it uses are dropped first (in the substitution's
/// subshell only; POSIX mode finds `unset` before any function); backslashes keep aliases out.
/// The line goes to the checker on stdin, so its length is not bounded by the argument limit;
/// if the checker cannot run at all, the line is cancelled.
fn ps0_value(me: &Path, dir: &Path) -> String {
    let gate = format!(
        "$(POSIXLY_CORRECT=1;\\unset -f builtin history command kill;\\unset POSIXLY_CORRECT;\
HISTTIMEFORMAT= \\builtin history 1|{} {CHECK_SUBCOMMAND} {} \"$$\" \"${{__sg_n-}}\" \"${{__sg_id-}}\"||\\builtin kill -INT $$)",
        sh_quote(&me.to_string_lossy()),
        sh_quote(&dir.to_string_lossy()),
    );
    // PS0 is decoded like PS1 (`\u` is the user name) before it is expanded.
    gate.replace('\\', "\\\\")
}

/// Run at every prompt: note the history number the next line will get, keep every line going
/// to history, and arm a shell that inherited the gate but has not read the init file.
fn prompt_command_value(init: &Path) -> String {
    format!(
        "[ -n \"${{__sg_armed-}}\" ]||\\. {} __sg_prompt;HISTCONTROL=;HISTIGNORE=;__sg_n=$HISTCMD",
        sh_quote(&init.to_string_lossy())
    )
}

fn render_init(ps0: &str, pc: &str) -> String {
    INIT_TEMPLATE
        .replace("@PS0@", &sh_quote(ps0))
        .replace("@PC@", &sh_quote(pc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_has_no_placeholders_left() {
        let ps0 = ps0_value(Path::new("/x/it's/shellguard"), Path::new("/run/d"));
        let pc = prompt_command_value(Path::new("/run/d/init.bash"));
        let init = render_init(&ps0, &pc);
        assert!(!init.contains("@PS0@") && !init.contains("@PC@"));
        assert!(ps0.contains(r"'/x/it'\\''s/shellguard' __interactive-check '/run/d'"));
        assert!(ps0.contains(r"\\unset -f") && !ps0.contains(r";\unset"));
    }
}
