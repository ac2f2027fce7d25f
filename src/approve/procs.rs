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

/// Coding agents that run commands on a pseudo-terminal of their own, by the name their
/// process goes by (the program, or the script an interpreter runs).
const AGENTS: &[&str] = &[
    "aider",
    "amp",
    "claude",
    "cline",
    "codex",
    "crush",
    "cursor-agent",
    "gemini",
    "goose",
    "mini",
    "mini-swe-agent",
    "openhands",
    "opencode",
    "qwen",
    "swe-agent",
];

/// Whether this process's controlling terminal is a pseudo-terminal that a coding agent
/// holds: one of our ancestors has its master side open and is known as an agent by name.
/// That is how agents run commands "in a terminal" (Gemini CLI's and Codex's node-pty,
/// aider's pexpect): whatever holds the master can type into it, so a prompt there could be
/// answered by the agent itself.
pub fn terminal_is_an_agents() -> bool {
    let Some((_, tty)) = stat(std::process::id()) else {
        return false;
    };
    let Some(index) = pty_index(tty) else {
        return false;
    };
    let mut cur = std::process::id();
    for _ in 0..256 {
        let Some((ppid, _)) = stat(cur) else { break };
        if ppid <= 1 {
            break;
        }
        cur = ppid;
        if holds_master(cur, index) {
            return is_agent(cur);
        }
    }
    false
}

/// Whether `pid` is a known agent.
fn is_agent(pid: u32) -> bool {
    agent_name(pid).is_some()
}

/// The agent `pid` is, when its program, or the script its interpreter runs (`node
/// …/bin/gemini`, `python3 …/bin/aider`), bears an agent's name.
fn agent_name(pid: u32) -> Option<&'static str> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline
        .split(|&b| b == 0)
        .take(3)
        .filter(|w| !w.starts_with(b"-"))
        .find_map(|w| {
            let w = String::from_utf8_lossy(w);
            let name = w.rsplit('/').next().unwrap_or(&w);
            let stem = [".js", ".mjs", ".cjs", ".py"]
                .iter()
                .find_map(|ext| name.strip_suffix(ext))
                .unwrap_or(name);
            AGENTS.iter().find(|a| **a == stem).copied()
        })
}

/// The nearest ancestor that is a known agent, by name (`mini`, `aider`, …): for agents that
/// mark their commands' environment with nothing of their own.
pub fn agent_above() -> Option<&'static str> {
    let mut cur = std::process::id();
    for _ in 0..256 {
        let (ppid, _) = stat(cur)?;
        if ppid <= 1 {
            return None;
        }
        cur = ppid;
        if let Some(name) = agent_name(cur) {
            return Some(name);
        }
    }
    None
}

/// The pseudo-terminal number of device `tty` (from `/proc/PID/stat`), if it is one:
/// Unix98 slaves have majors 136 to 143.
fn pty_index(tty: i64) -> Option<u64> {
    let tty = u64::try_from(tty).ok()?;
    let major = (tty >> 8) & 0xfff;
    let minor = (tty & 0xff) | ((tty >> 12) & 0xfff00);
    (136..=143)
        .contains(&major)
        .then(|| (major - 136) * 256 + minor)
}

/// Whether `pid` has the master side of pseudo-terminal `index` open (`tty-index` in the
/// master's fdinfo).
fn holds_master(pid: u32, index: u64) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let want = format!("tty-index:\t{index}");
    fds.flatten().any(|fd| {
        let is_ptmx = fs::read_link(fd.path())
            .is_ok_and(|t| t.as_os_str() == "/dev/ptmx" || t.as_os_str() == "/dev/pts/ptmx");
        is_ptmx
            && fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .is_ok_and(|info| info.lines().any(|l| l == want))
    })
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

    #[test]
    fn pty_numbers_from_device_numbers() {
        assert_eq!(pty_index(136 << 8), Some(0));
        assert_eq!(pty_index((136 << 8) | 7), Some(7));
        assert_eq!(pty_index(137 << 8 | 3), Some(259));
        // /dev/tty1 (4, 1) and no terminal at all are not pseudo-terminals.
        assert_eq!(pty_index((4 << 8) | 1), None);
        assert_eq!(pty_index(0), None);
    }
}
