//! From argv to an exit status: shellguard's own subcommands, or bash's command line.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::manage;

/// Entry point shared by the binary and the tests.
pub fn run(args: Vec<OsString>) -> ExitCode {
    if let Some(code) = enforced_special(&args) {
        return ExitCode::from(code);
    }
    let argv0 = args.first().cloned().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Under its own name, a first word that is a subcommand is one; through a link named
    // bash or sh, every argument keeps its bash meaning.
    if name.starts_with("shellguard") {
        if args.len() == 2 && args[1] == "--help" {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        if let Some(sub) = args.get(1).and_then(|a| a.to_str()) {
            if manage::SUBCOMMANDS.contains(&sub) {
                let rest: Vec<String> = args[2..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                return ExitCode::from(manage::main(sub, &rest));
            }
        }
    }
    crate::shell::main(args)
}

/// The two roles that are not the shell: the sandbox's init process (started by
/// `shellguard run`, with its spec in the environment), and, inside an enforced tree, the
/// stand-in for a set-user-ID program.
fn enforced_special(args: &[OsString]) -> Option<u8> {
    if args
        .get(1)
        .is_some_and(|a| a == crate::sandbox::INIT_SUBCOMMAND)
        && std::env::var_os(crate::sandbox::SPEC_ENV).is_some()
    {
        return Some(crate::sandbox::init_main());
    }
    if args
        .get(1)
        .is_some_and(|a| a == crate::sandbox::JUDGE_SUBCOMMAND)
    {
        return Some(crate::sandbox::judge_main());
    }
    let m = crate::enforced::current()?;
    let exe = crate::enforced::exe_path()?;
    if !m.setuid.contains(&exe) {
        return None;
    }
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    eprintln!(
        "shellguard: refused `{name}`: it is a set-user-ID program, and inside `shellguard run` \
         no program gains privileges (the agent's tree runs with no_new_privs and no \
         capabilities), so it cannot do what it is for. Nothing was run. Ask the user to run \
         it themselves, outside the agent's session; do not look for another way to gain \
         privileges."
    );
    Some(crate::shell::REFUSED)
}

/// `shellguard --help` under its own name (through a link named bash, `--help` is bash's).
const HELP: &str = "\
shellguard: a guard shell for coding agents. It reads every command before bash runs it,
asks a human about what cannot be undone, and otherwise execs the real bash untouched.

As a shell (every form bash accepts keeps its bash meaning):
  shellguard -c CMD [NAME [ARGS...]]   judge CMD, then run it with bash (or refuse: exit 126)
  shellguard SCRIPT [ARGS...]          the same for a script file; a script on stdin too
  shellguard [-i]                      on a terminal: a guarded interactive bash

Subcommands:
  check [--json] [--] CMD      judge CMD as -c CMD would, run nothing
  explain CMD                  the same, for people: commands found, rules, why
  rules list | test [FILE]     the rules in force; run rules' own examples
  run [--unenforced] [--] AGENT ARGS...
                               host an agent (on Linux inside a kernel-enforced
                               boundary that also judges every program it
                               starts); approvals appear in this terminal
  watch                        approval console for shells without a supervisor
  approve ID [--for MINUTES]   approve a refused request (a person, in a terminal)
  deny --all | ID              revoke remembered approvals
  log [-n N] [--follow] [--json]   the audit log
  trust                        trust this project's .shellguard.toml (a person, in a terminal)
  trust --tools [--yes]        let installed tools' shell scripts (pyenv, rbenv, asdf,
                               nvm, conda, ...) run unread, as they are now
  setup AGENT [--dry-run] [--undo]
                               point AGENT's own configuration at the guard
                               (claude, gemini, qwen, aider; all); shows the
                               diff, undoable; says what to do for codex and
                               mini-swe-agent, which only `run` guards
  doctor [AGENT...]            prove, with a harmless canary run the way each
                               installed agent runs commands, whether it is
                               guarded; exit 1 when any is not

Configuration: ~/.config/shellguard/config.toml, the project's .shellguard.toml,
/etc/shellguard/config.toml. See the README.
";
