//! `shellguard log [--follow|-f] [--json] [-n N]`: the audit log, readably.
//!
//! By default one line per record: time (UTC), decision and outcome (coloured on a terminal),
//! agent, directory, the command with its control characters escaped, then the matched rules,
//! who approved and the request id. `--json` prints the stored lines untouched. A line that is
//! not a record is shown escaped behind a `??` marker. `--follow` keeps printing records as
//! they are appended, across rotation and truncation, until interrupted or until nobody reads
//! its output any more.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::approve::sanitize::for_display;
use crate::audit::{log_path, rotated_path};

/// Exit status of a usage error.
const USAGE: u8 = 2;

/// How often `--follow` looks for new records.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Records shown before following, unless `-n` says otherwise.
const FOLLOW_DEFAULT_LAST: usize = 20;

const HELP: &str = "usage: shellguard log [--follow|-f] [--json] [-n N]
  -f, --follow   keep printing records as they are appended
      --json     print the stored JSON lines as they are
  -n N           only the last N records (default: all; 20 with --follow)";

/// What `shellguard log` was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub follow: bool,
    pub json: bool,
    /// Only the last N records (`None`: all).
    pub last: Option<usize>,
    /// Colour the decision and outcome.
    pub color: bool,
}

/// `None` for `--help`.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    let number = |v: Option<&String>| -> Result<usize, String> {
        let v = v.ok_or("-n needs a number")?;
        v.parse()
            .map_err(|_| format!("-n needs a number, not '{}'", for_display(v)))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" | "--follow" => o.follow = true,
            "--json" => o.json = true,
            "-n" | "--lines" => o.last = Some(number(it.next())?),
            "-h" | "--help" => return Ok(None),
            s if s.starts_with("--lines=") => o.last = Some(number(Some(&s[8..].to_string()))?),
            s if s.starts_with("-n") => o.last = Some(number(Some(&s[2..].to_string()))?),
            s => return Err(format!("unknown argument '{}'", for_display(s))),
        }
    }
    if o.follow && o.last.is_none() {
        o.last = Some(FOLLOW_DEFAULT_LAST);
    }
    Ok(Some(o))
}

pub fn main(args: &[String], vars: &HashMap<String, String>) -> u8 {
    let mut opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("shellguard log: {e}\n{HELP}");
            return USAGE;
        }
    };
    let Some(path) = log_path(vars) else {
        eprintln!("shellguard log: no state directory (neither XDG_STATE_HOME nor HOME is set)");
        return 1;
    };
    let stdout = io::stdout();
    opts.color = stdout.is_terminal() && vars.get("NO_COLOR").is_none_or(|v| v.is_empty());
    // Records that could not be written are said first: what follows is not all there was.
    let human = crate::enforced::current().is_none()
        && crate::policy::approvals::human_terminal(
            io::stdin().is_terminal(),
            io::stdout().is_terminal(),
            vars,
        )
        .is_ok();
    if let Some(lost) = crate::audit::lost_records(vars, human) {
        eprintln!("shellguard log: {lost}");
    }
    if !opts.follow && !path.exists() && !rotated_path(&path).exists() {
        eprintln!("shellguard log: nothing logged yet ({})", path.display());
        return 0;
    }
    let mut out = io::BufWriter::new(stdout.lock());
    let result = if opts.follow {
        follow(&path, &opts, &mut out, &stdout_gone).and_then(|()| out.flush())
    } else {
        show(&path, &opts, &mut out).and_then(|()| out.flush())
    };
    match result {
        Ok(()) => 0,
        // A reader that went away (`| head`) ends us quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("shellguard log: {}: {e}", path.display());
            1
        }
    }
}

/// Whether nobody can read stdout any more (the pipe's reader left, the terminal hung up),
/// so that an idle `--follow` ends too.
fn stdout_gone() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdout = io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|_| {
        fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL)
        })
    })
}

/// Print the log at `path` (after its rotated predecessor) as `opts` says, then return.
pub fn show(path: &Path, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let mut sink = Sink::new(out, opts);
    read_existing(path, &mut sink)?;
    sink.finish()
}

/// Print the last records, then every record appended afterwards, polling every
/// [`POLL_INTERVAL`] until `stop` says so. A rotated or replaced file is finished and the new
/// one followed from its start; a truncated one is followed from its new start.
pub fn follow(
    path: &Path,
    opts: &Options,
    out: &mut dyn Write,
    stop: &dyn Fn() -> bool,
) -> io::Result<()> {
    let mut sink = Sink::new(out, opts);
    let mut cur = read_existing(path, &mut sink)?;
    sink.finish()?;
    loop {
        if stop() {
            return Ok(());
        }
        std::thread::sleep(POLL_INTERVAL);
        let replaced = match (std::fs::metadata(path), &cur) {
            (Ok(m), Some(t)) => (m.dev(), m.ino()) != t.id,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        };
        if replaced {
            if let Some(t) = &mut cur {
                t.read_new(&mut sink)?;
            }
            cur = Tail::open(path)?;
        }
        if let Some(t) = &mut cur {
            t.read_new(&mut sink)?;
        }
        sink.out.flush()?;
    }
}

/// Print what is in the rotated file and `path` now; the open `path`, positioned after its
/// last complete line, for following.
fn read_existing(path: &Path, sink: &mut Sink) -> io::Result<Option<Tail>> {
    if let Some(mut old) = Tail::open(&rotated_path(path))? {
        old.read_new(sink)?;
    }
    let mut cur = Tail::open(path)?;
    if let Some(t) = &mut cur {
        t.read_new(sink)?;
    }
    Ok(cur)
}

/// An open log and how far it has been read (up to its last complete line).
struct Tail {
    file: File,
    id: (u64, u64),
    offset: u64,
}

impl Tail {
    fn open(path: &Path) -> io::Result<Option<Tail>> {
        match File::open(path) {
            Ok(file) => {
                let m = file.metadata()?;
                Ok(Some(Tail {
                    file,
                    id: (m.dev(), m.ino()),
                    offset: 0,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Emit the complete lines added since the last read. A line still being written (no
    /// newline yet) waits for the next read.
    fn read_new(&mut self, sink: &mut Sink) -> io::Result<()> {
        let len = self.file.metadata()?.len();
        if len < self.offset {
            // Truncated: start again from the top.
            self.offset = 0;
        }
        if len == self.offset {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut r = BufReader::new(&mut self.file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                return Ok(());
            }
            self.offset += n as u64;
            sink.emit(&line)?;
        }
    }
}

/// Where lines go: straight out, or into a window of the last N until [`Sink::finish`].
struct Sink<'a> {
    out: &'a mut dyn Write,
    json: bool,
    color: bool,
    last: Option<(usize, VecDeque<Vec<u8>>)>,
}

impl<'a> Sink<'a> {
    fn new(out: &'a mut dyn Write, opts: &Options) -> Sink<'a> {
        Sink {
            out,
            json: opts.json,
            color: opts.color,
            last: opts.last.map(|n| (n, VecDeque::new())),
        }
    }

    /// `line` ends with its newline.
    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        match &mut self.last {
            Some((0, _)) => Ok(()),
            Some((n, window)) => {
                if window.len() == *n {
                    window.pop_front();
                }
                window.push_back(line.to_vec());
                Ok(())
            }
            None => self.write(line),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some((_, window)) = self.last.take() {
            for line in window {
                self.write(&line)?;
            }
        }
        self.out.flush()
    }

    fn write(&mut self, line: &[u8]) -> io::Result<()> {
        if self.json {
            self.out.write_all(line)
        } else {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            writeln!(self.out, "{}", readable(body, self.color))
        }
    }
}

/// One stored line as one readable line.
pub fn readable(line: &[u8], color: bool) -> String {
    let text = String::from_utf8_lossy(line);
    let rec = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ => return format!("?? not a record: {}", for_display(&text)),
    };
    let field = |k: &str| rec.get(k).and_then(Value::as_str).map(for_display);
    let time = field("time").unwrap_or_else(|| "?".into());
    // `2026-05-01T12:34:56.789Z` → `2026-05-01 12:34:56`
    let time = match (time.get(..10), time.get(11..19)) {
        (Some(d), Some(t)) if time.as_bytes()[10] == b'T' => format!("{d} {t}"),
        _ => time,
    };
    let decision = field("decision").unwrap_or_else(|| "?".into());
    let outcome = field("outcome").unwrap_or_else(|| "?".into());
    let paint = |text: String, code: &str| {
        if color && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    let decision_code = match decision.as_str() {
        "allow" => "32",
        "confirm" => "33",
        "deny" => "1;31",
        _ => "",
    };
    let outcome_code = match outcome.as_str() {
        "ran" => "32",
        "refused" => "1;31",
        _ => "",
    };
    let mut s = format!(
        "{time}  {} {} {:<11} {}  $ {}",
        paint(format!("{decision:<7}"), decision_code),
        paint(format!("{outcome:<7}"), outcome_code),
        field("agent").unwrap_or_else(|| "-".into()),
        field("cwd").unwrap_or_else(|| "?".into()),
        field("command").unwrap_or_else(|| "?".into()),
    );
    let rules: Vec<String> = rec
        .get("rules")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str))
                .map(for_display)
                .collect()
        })
        .unwrap_or_default();
    if !rules.is_empty() {
        s.push_str(&format!("  rules: {}", rules.join(", ")));
    }
    if let Some(by) = field("approved_by") {
        s.push_str(&format!("  by: {by}"));
    }
    // A program started without a shell, judged by the exec gate of `shellguard run`.
    if let Some(exec) = rec.get("exec") {
        let part = |k: &str| exec.get(k).and_then(Value::as_str).map(for_display);
        let pid = exec.get("pid").and_then(Value::as_u64).unwrap_or(0);
        s.push_str(&format!(
            "  exec: {} by {} (pid {pid})",
            part("path").unwrap_or_else(|| "?".into()),
            part("parent").unwrap_or_else(|| "?".into()),
        ));
    }
    if let Some(id) = field("request_id") {
        s.push_str(&format!("  id: {id}"));
    }
    if let Some(mode) = field("mode").filter(|m| m != "default") {
        s.push_str(&format!("  mode: {mode}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let p = |a: &[&str]| parse(&args(a));
        assert_eq!(p(&[]).unwrap().unwrap(), Options::default());
        let o = p(&["-f", "--json"]).unwrap().unwrap();
        assert!(o.follow && o.json && o.last == Some(FOLLOW_DEFAULT_LAST));
        assert_eq!(p(&["-n", "5"]).unwrap().unwrap().last, Some(5));
        assert_eq!(p(&["-n7"]).unwrap().unwrap().last, Some(7));
        assert_eq!(p(&["--lines=3", "-f"]).unwrap().unwrap().last, Some(3));
        assert_eq!(p(&["--help"]).unwrap(), None);
        assert!(p(&["-n"]).is_err());
        assert!(p(&["-n", "x"]).is_err());
        assert!(p(&["--follw"]).unwrap_err().contains("--follw"));
    }

    #[test]
    fn readable_lines() {
        let line = br#"{"time":"2026-05-01T12:34:56.789Z","agent":"codex","cwd":"/p","command":"rm -rf x\n\u001b[2J","commands":[],"rules":[{"id":"fs.rm","decision":"deny"}],"decision":"deny","outcome":"refused","approved_by":null,"request_id":"ab12","mode":"observe"}"#;
        let s = readable(line, false);
        assert!(
            s.starts_with("2026-05-01 12:34:56  deny    refused codex"),
            "{s}"
        );
        assert!(s.contains("$ rm -rf x\\n\\e[2J"), "{s}");
        assert!(s.contains("rules: fs.rm") && s.contains("id: ab12"), "{s}");
        assert!(s.contains("mode: observe") && !s.contains("by:"), "{s}");
        assert!(!s.contains('\x1b'));
        assert!(readable(line, true).contains("\x1b[1;31mdeny"));
        assert_eq!(
            readable(b"garbage\x1b[2J", false),
            "?? not a record: garbage\\e[2J"
        );
        assert!(readable(b"[1,2]", false).starts_with("?? "));
        assert!(readable(b"{\"x\":1}", false).contains("$ ?"));
        assert!(readable(b"\xff\xfe{", false).starts_with("?? "));
        let exec = br#"{"time":"2026-05-01T12:34:56.789Z","cwd":"/p","command":"rm -r /h/x","decision":"confirm","outcome":"ran","approved_by":"approved-line","exec":{"pid":42,"parent":"/usr/bin/python3.11","path":"/usr/bin/rm"}}"#;
        let s = readable(exec, false);
        assert!(
            s.contains("by: approved-line  exec: /usr/bin/rm by /usr/bin/python3.11 (pid 42)"),
            "{s}"
        );
        assert!(!readable(line, false).contains("exec:"));
    }
}
