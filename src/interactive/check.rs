//! `shellguard __interactive-check DIR SHELL_PID PROMPT_N SHELL_ID`, run by the `PS0` gate with
//! `history 1` on stdin: judge the line bash is about to run, ask the host when a human must
//! say yes, and on no send SIGINT to the shell, which cancels the whole line.
//!
//! The line is taken from history, so a line that did not reach it (`HISTCONTROL=ignorespace`,
//! `set +o history`, `HISTIGNORE`) would show the previous entry instead: the entry's number is
//! checked against the one bash announced at the prompt (`PROMPT_N`, noted by our
//! `PROMPT_COMMAND`) and against the last one checked in this shell, and a line that cannot be
//! shown to be the one typed is asked about.

use std::io::Read;
use std::path::Path;

use crate::analyze::{Analysis, Context};
use crate::guard::{decide, judge, path_context, Asker, Outcome};
use crate::policy::{Found, Policy};
use crate::rules::Decision;

/// Exit status when the line is refused and SIGINT could not be sent (the gate then sends it).
const REFUSED: u8 = 1;
const USAGE: u8 = 2;
/// More than this on stdin is not a line anybody typed: judged as far as read, and asked about.
const MAX_LINE: u64 = 4 * 1024 * 1024;

/// Shown (and judged) instead of a line that could not be read.
const UNREAD_TEXT: &str = "(a line shellguard could not read: it did not reach bash's history)";

pub fn check_line_main(args: &[String]) -> u8 {
    let [dir, pid, prompt_n, shell_id] = args else {
        eprintln!(
            "shellguard: usage: shellguard __interactive-check DIR SHELL_PID PROMPT_N SHELL_ID"
        );
        return USAGE;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return USAGE;
    };
    let prompt_n = prompt_n.parse::<u64>().ok();
    let mut raw = Vec::new();
    let _ = std::io::stdin().take(MAX_LINE).read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    let entry = parse_history(&raw);

    let shell_id: String = shell_id
        .chars()
        .filter(char::is_ascii_digit)
        .take(20)
        .collect();
    let seen_file = Path::new(dir).join(format!("seen-{pid}-{shell_id}"));
    let stored = read_seen(&seen_file);
    let fresh = entry
        .as_ref()
        .is_some_and(|(num, _)| is_fresh(*num, prompt_n, stored));
    if let Some((num, _)) = &entry {
        let _ = std::fs::write(&seen_file, format!("{num} {}", prompt_n.unwrap_or(0)));
    }

    if std::env::var_os("SHELLGUARD_INTERACTIVE_DEBUG").is_some() {
        eprintln!("[gate pid={pid} prompt_n={prompt_n:?} stored={stored:?} entry={entry:?} fresh={fresh}]");
    }
    let text = match (&entry, fresh) {
        (Some((_, line)), true) => line.clone(),
        // Unique, so an approval remembered for one unread line never lets another through.
        _ => format!("{UNREAD_TEXT} #{}", crate::approve::protocol::new_nonce()),
    };
    // Nothing typed but white space: bash runs nothing.
    if fresh && text.trim().is_empty() {
        return 0;
    }
    let ctx = Context::from_process();
    let paths = path_context(&ctx);
    let policy = Policy::load(&ctx, &paths);
    let mut j = if fresh {
        judge(&text, &ctx, &policy, &paths)
    } else {
        judge("", &ctx, &policy, &paths)
    };
    let extra = if fresh {
        tampering(&j.analysis, &text).map(|(id, reason)| (id, reason.to_string()))
    } else {
        Some((
            "interactive.unread",
            "this line did not reach bash's history (HISTCONTROL, HISTIGNORE or `set +o history`), \
             so shellguard could not read what it would run"
                .to_string(),
        ))
    };
    if let Some((id, reason)) = extra {
        add_confirm(&mut j.decided, id, reason, &text);
    }

    // Only the host (or a watch console) may answer: the pty is the typist's terminal.
    let mut ask_ctx = ctx.clone();
    ask_ctx
        .vars
        .insert("SHELLGUARD_TTY".to_string(), "agent".to_string());
    let asked = j.decided.decision == Decision::Confirm && !j.decided.observe;
    let outcome = decide(
        &j,
        &Asker {
            text: &text,
            ctx: &ask_ctx,
            policy: &policy,
        },
    );
    crate::guard::audit(&text, &ctx, &j, &policy, &outcome);
    if asked {
        // Keys typed while the question was up (a `y` sent with the line) are not the next line.
        discard_typeahead();
    }
    match outcome {
        Outcome::Run { .. } => 0,
        Outcome::Refuse { message, .. } => {
            eprint!("{message}");
            if !message.ends_with('\n') {
                eprintln!();
            }
            // The gate's own `kill -INT $$` is only for when this could not send it: a
            // second SIGINT would land on the next prompt.
            if cancel_line(pid) {
                0
            } else {
                REFUSED
            }
        }
    }
}

/// `history 1`: `%5d%c %s` — the number, `*` when the entry was edited, a space, the line (with
/// the newlines of a multi-line entry).
fn parse_history(raw: &str) -> Option<(u64, String)> {
    let s = raw.trim_start_matches([' ', '\t']);
    let digits = s.find(|c: char| !c.is_ascii_digit())?;
    let num = s[..digits].parse().ok()?;
    let rest = &s[digits..];
    let rest = rest.strip_prefix(['*', ' '])?;
    let rest = rest.strip_prefix(' ')?;
    let line = rest.strip_suffix('\n').unwrap_or(rest);
    Some((num, line.to_string()))
}

fn read_seen(path: &Path) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let mut it = s.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether history entry `num` is the line being run. `prompt_n` is `$HISTCMD` at the prompt
/// (the number a saved line gets); `stored` the entry and `prompt_n` of the previous check in
/// this shell. A `prompt_n` that did not move since then means our PROMPT_COMMAND no longer runs
/// (a harness replaced it), and only "newer than the last line checked" is left to go by.
fn is_fresh(num: u64, prompt_n: Option<u64>, stored: Option<(u64, u64)>) -> bool {
    match (prompt_n, stored) {
        (Some(p), Some((last, last_p))) if p == last_p => num > last,
        (Some(p), Some((last, _))) => num == p && num > last,
        (Some(p), None) => num == p,
        (None, Some((last, _))) => num > last,
        (None, None) => false,
    }
}

/// Lines that could switch the gate off or run text past it: asked about whatever they do.
fn tampering(a: &Analysis, text: &str) -> Option<(&'static str, &'static str)> {
    const HOOK_VARS: [&str; 3] = ["PS0", "PROMPT_COMMAND", "__sg_"];
    for c in &a.commands {
        let Some(p) = c.program() else { continue };
        let args: Vec<&str> = c.args().iter().map(|a| a.text.as_str()).collect();
        let found = match p {
            "trap" if !args.is_empty() && args != ["-p"] && args != ["-l"] => Some((
                "interactive.trap",
                "`trap` can run commands that shellguard's line check never sees",
            )),
            "bind" if !args.is_empty() && !args.iter().all(|a| matches!(*a, "-p" | "-P" | "-l" | "-v" | "-V" | "-s" | "-S")) => Some((
                "interactive.bind",
                "`bind` can rebind Enter or run text without the line check",
            )),
            "fc" if !args.contains(&"-l") => Some((
                "interactive.fc",
                "`fc` runs lines from history without the line check",
            )),
            "enable" if args.iter().any(|a| a.starts_with('-') && (a.contains('n') || a.contains('f') || a.contains('d'))) => Some((
                "interactive.enable",
                "`enable -n/-f/-d` can switch off or replace the builtins the line check relies on",
            )),
            "shopt" if args.iter().any(|a| a.starts_with("-u"))
                && args.iter().any(|a| matches!(*a, "promptvars" | "cmdhist" | "extdebug")) => Some((
                "interactive.shopt",
                "`shopt -u promptvars` (or cmdhist) switches off shellguard's line check",
            )),
            "unset" | "declare" | "typeset" | "export" | "readonly" | "local"
                if args.iter().any(|a| HOOK_VARS.iter().any(|v| a.contains(v))) =>
            {
                Some((
                    "interactive.hook",
                    "this changes PS0 or PROMPT_COMMAND, which hold shellguard's line check",
                ))
            }
            _ if starts_unhooked_shell(p, &args, text) => Some((
                "interactive.shell",
                "this starts an interactive shell without shellguard's line check \
                 (not bash, or bash with the environment cleared): its lines are not checked",
            )),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    if mentions_word(text, "PS0") {
        return Some((
            "interactive.hook",
            "this mentions PS0, which holds shellguard's line check",
        ));
    }
    if shadows_builtin(text) {
        return Some((
            "interactive.function",
            "a function with the name of a builtin the line check relies on",
        ));
    }
    None
}

/// An interactive shell that will not carry the gate: another shell reading from the terminal
/// (no command string, no script), or bash started with its environment cleared.
fn starts_unhooked_shell(program: &str, args: &[&str], text: &str) -> bool {
    const SHELLS: [&str; 11] = [
        "sh", "dash", "ash", "zsh", "ksh", "mksh", "yash", "fish", "tcsh", "csh", "bash",
    ];
    if !SHELLS.contains(&program) {
        return false;
    }
    // A command string or a script is judged as the line's own text (or by the shim).
    let reads_terminal = args
        .iter()
        .all(|a| a.starts_with('-') && !(a.len() > 1 && !a.starts_with("--") && a.contains('c')))
        || args.contains(&"-i");
    if !reads_terminal {
        return false;
    }
    if program != "bash" {
        return true;
    }
    text.contains("--ignore-environment")
        || text
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0] == "env" && (w[1] == "-i" || w[1] == "-" || w[1].starts_with("-u")))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn mentions_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// `NAME () …` or `function NAME` for a builtin the gate and the init file use.
fn shadows_builtin(text: &str) -> bool {
    const NAMES: [&str; 13] = [
        "builtin", "history", "command", "unset", "kill", "exec", "source", "enable", "shopt",
        "bind", "readonly", "export", "set",
    ];
    NAMES.iter().any(|name| {
        text.match_indices(name).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| is_word_char(c) || c == '-' || c == '.' || c == '/') {
                return false;
            }
            let after = text[i + name.len()..].trim_start();
            let prefix = text[..i].trim_end();
            after.starts_with('(') || prefix.ends_with("function")
        })
    })
}

fn add_confirm(d: &mut crate::policy::Decided, id: &str, reason: String, text: &str) {
    let found = Found {
        rule_id: id.to_string(),
        reason,
        suggest: None,
        origin: "shellguard interactive shell (built in)".to_string(),
        layer: None,
        decision: Decision::Confirm,
        text: text.to_string(),
        span: 0..text.len(),
        touches: Vec::new(),
    };
    if d.decision == Decision::Allow {
        d.decision = Decision::Confirm;
        d.found.insert(0, found);
    } else {
        let at = d
            .found
            .iter()
            .position(|f| f.decision != Decision::Deny)
            .unwrap_or(d.found.len());
        d.found.insert(at, found);
    }
}

fn discard_typeahead() {
    use nix::sys::termios::{tcflush, FlushArg};
    if let Ok(tty) = std::fs::File::open("/dev/tty") {
        let _ = tcflush(&tty, FlushArg::TCIFLUSH);
    }
}

/// SIGINT to the shell (only an ancestor: the pid came from `$$`), which drops the whole line.
fn cancel_line(pid: i32) -> bool {
    use nix::sys::signal::{kill, Signal};
    pid > 1
        && crate::approve::procs::is_ancestor(pid as u32)
        && kill(nix::unistd::Pid::from_raw(pid), Signal::SIGINT).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_history_entries() {
        assert_eq!(
            parse_history("   11  echo one\n"),
            Some((11, "echo one".into()))
        );
        assert_eq!(parse_history("  123* ls\n"), Some((123, "ls".into())));
        assert_eq!(
            parse_history("    6  cat <<X\nhello\nX\n"),
            Some((6, "cat <<X\nhello\nX".into()))
        );
        assert_eq!(
            parse_history("    7   echo spaced\n"),
            Some((7, " echo spaced".into()))
        );
        assert_eq!(parse_history(""), None);
    }

    #[test]
    fn a_line_missing_from_history_is_not_fresh() {
        // First line of a shell: must be the number announced at the prompt.
        assert!(is_fresh(11, Some(11), None));
        assert!(!is_fresh(10, Some(11), None));
        // Saved line after a checked one.
        assert!(is_fresh(12, Some(12), Some((11, 11))));
        // Unsaved line: history 1 is still the previous entry.
        assert!(!is_fresh(11, Some(12), Some((11, 11))));
        // Entries pulled in by `history -n` in the user's PROMPT_COMMAND before ours ran.
        assert!(!is_fresh(14, Some(15), Some((11, 11))));
        // PROMPT_COMMAND replaced: prompt_n frozen, only "newer" is left.
        assert!(is_fresh(13, Some(11), Some((12, 11))));
        assert!(!is_fresh(12, Some(11), Some((12, 11))));
        assert!(!is_fresh(5, None, None));
    }

    #[test]
    fn notices_shells_without_the_gate() {
        assert!(starts_unhooked_shell("sh", &[], "sh"));
        assert!(starts_unhooked_shell("dash", &["-i"], "dash -i"));
        assert!(!starts_unhooked_shell("sh", &["-c", "ls"], "sh -c ls"));
        assert!(!starts_unhooked_shell("sh", &["script.sh"], "sh script.sh"));
        assert!(!starts_unhooked_shell("bash", &["--norc"], "bash --norc"));
        assert!(starts_unhooked_shell(
            "bash",
            &["--norc"],
            "env -i bash --norc"
        ));
        assert!(!starts_unhooked_shell("ls", &[], "ls"));
    }

    #[test]
    fn finds_builtin_shadowing() {
        assert!(shadows_builtin("history() { echo x; }"));
        assert!(shadows_builtin("function builtin { :; }"));
        assert!(shadows_builtin("kill () { :; }"));
        assert!(!shadows_builtin("git history"));
        assert!(!shadows_builtin("echo set"));
        assert!(!shadows_builtin("my-export()"));
        assert!(mentions_word("unset PS0", "PS0"));
        assert!(!mentions_word("PS01=x", "PS0"));
    }
}
