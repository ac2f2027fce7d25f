//! What a guarded shell can tell about the process that serves a broker socket, from /proc.
//!
//! An agent runs as the same user as the human, so it could start a server of its own and
//! point the environment at it. A real supervisor is always one of the asking shell's
//! ancestors; a real watch console runs on a terminal. Neither check makes forgery
//! impossible for a same-user process, but each turns "write a socket server" into
//! something that must also arrange its own place in the process tree or a terminal.

use std::fs;

/// Parent pid and controlling terminal of `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, i64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let _state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let _pgrp = f.next()?;
    let _session = f.next()?;
    let tty_nr = f.next()?.parse().ok()?;
    Some((ppid, tty_nr))
}

/// Whether `pid` is an ancestor of this process.
pub fn is_ancestor(pid: u32) -> bool {
    if pid <= 1 {
        return false;
    }
    let mut cur = std::process::id();
    for _ in 0..256 {
        match stat(cur) {
            Some((ppid, _)) if ppid == pid => return true,
            Some((ppid, _)) if ppid > 1 => cur = ppid,
            _ => return false,
        }
    }
    false
}

/// Whether `pid` has a controlling terminal.
pub fn has_terminal(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, tty)| tty != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_from_proc() {
        let parent = stat(std::process::id()).map(|(p, _)| p).unwrap();
        assert!(is_ancestor(parent));
        assert!(!is_ancestor(std::process::id()));
        assert!(!is_ancestor(1));
        assert!(!is_ancestor(u32::MAX));
    }
}
