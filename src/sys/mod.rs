//! The one place with `unsafe`: signal handlers and the allocator that bound the analysis, and
//! (in `kernel`) the namespace, capability and seccomp calls of the enforced supervisor.
//!
//! Hostile input must end in a refusal (exit 126), never in a crash, a hang, or the command
//! running. brush-parser can loop, allocate without bound or overflow the stack on a few
//! short inputs (parser.md), and none of that can be caught as a Rust error. So while the
//! analysis runs, a timer, an allocation cap and a stack-overflow handler are armed; each
//! writes one line and exits 126 from inside the handler, using only async-signal-safe calls.
#![allow(unsafe_code)]

pub mod kernel;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

pub(crate) const REFUSAL: &[u8] = b"shellguard: refused (rule unknown.too-complex): the input is beyond what shellguard analyses (time, memory or nesting), so what it would do cannot be told. Nothing was run. Ask the user to run it themselves if it is really meant; do not look for another way to do the same thing.\n";

/// Live heap allowed while analysing (the analysis of a 4 MB script needs far less).
const ANALYSIS_HEAP_LIMIT: usize = 512 * 1024 * 1024;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static CAPPED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting live bytes so the analysis can be capped.
pub struct CountingAlloc;

// SAFETY: every call forwards to `System` with the caller's layout and pointer unchanged;
// the counter is only arithmetic on the side.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            note_alloc(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn note_alloc(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if live > ANALYSIS_HEAP_LIMIT && CAPPED.load(Ordering::Relaxed) {
        refuse_now();
    }
}

/// Write the refusal and leave, from any context (signal handler, allocator).
/// What `check --json` prints on stdout when the limits end it: its JSON object for a
/// refusal as too complex, made before the analysis starts (the limits end the process from
/// a signal handler, which can only write bytes that already exist).
static LIMIT_REPORT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Have the limits also print `report` (one line) on stdout when they end the process.
pub fn report_on_limits(report: Vec<u8>) {
    let _ = LIMIT_REPORT.set(report);
}

fn refuse_now() -> ! {
    // SAFETY: write(2) and _exit(2) are async-signal-safe and take no Rust locks; reading an
    // initialised OnceLock is an atomic load.
    unsafe {
        if let Some(r) = LIMIT_REPORT.get() {
            libc::write(1, r.as_ptr().cast(), r.len());
        }
        libc::write(2, REFUSAL.as_ptr().cast(), REFUSAL.len());
        libc::_exit(126)
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    refuse_now();
}

/// Bounds on one analysis; dropping it (or calling `disarm`) lifts them. They must be lifted
/// before a prompt (a human may take longer) and before exec (bash would inherit the timer).
#[must_use]
pub struct AnalysisLimits {
    armed: bool,
    /// The handlers in place before, restored on disarm (the Rust runtime's own
    /// stack-overflow reporter among them).
    saved: [libc::sigaction; 3],
}

impl AnalysisLimits {
    /// Arm the timer (`ms` milliseconds of wall time), the heap cap and the stack-overflow
    /// handler.
    pub fn arm(ms: u64) -> Self {
        // SAFETY: installing handlers that only call async-signal-safe functions; the
        // SIGSEGV/SIGBUS handler runs on the alternate stack the Rust runtime set up for the
        // main thread (SA_ONSTACK), so it works when the stack itself overflowed.
        let saved = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut saved: [libc::sigaction; 3] = std::mem::zeroed();
            libc::sigaction(libc::SIGSEGV, &sa, &mut saved[0]);
            libc::sigaction(libc::SIGBUS, &sa, &mut saved[1]);
            libc::sigaction(libc::SIGALRM, &sa, &mut saved[2]);
            set_timer(ms);
            saved
        };
        CAPPED.store(true, Ordering::Relaxed);
        AnalysisLimits { armed: true, saved }
    }

    pub fn disarm(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        CAPPED.store(false, Ordering::Relaxed);
        // SAFETY: stopping the timer and restoring default dispositions has no preconditions.
        unsafe {
            set_timer(0);
            // Back to what the caller gave us (an inherited "ignore" must reach bash).
            libc::sigaction(libc::SIGSEGV, &self.saved[0], std::ptr::null_mut());
            libc::sigaction(libc::SIGBUS, &self.saved[1], std::ptr::null_mut());
            libc::sigaction(libc::SIGALRM, &self.saved[2], std::ptr::null_mut());
        }
    }
}

impl Drop for AnalysisLimits {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// SAFETY: caller must be fine with SIGALRM arriving after `ms` milliseconds (0 stops it).
unsafe fn set_timer(ms: u64) {
    let t = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: (ms / 1000) as libc::time_t,
            tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
        },
    };
    // SAFETY: a valid itimerval; the old value is not needed.
    unsafe {
        libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut());
    }
}

/// Whether SIGPIPE was ignored when the process started, before the Rust runtime set it to
/// "ignore" for its own sake. Recorded by a constructor that runs before `main`.
static SIGPIPE_WAS_IGNORED: AtomicBool = AtomicBool::new(false);
/// Whether SIGXFSZ was ignored when the process started.
static SIGXFSZ_WAS_IGNORED: AtomicBool = AtomicBool::new(false);

extern "C" fn record_sigpipe() {
    // SAFETY: querying a disposition (null new action) has no preconditions.
    unsafe {
        for (sig, was) in [
            (libc::SIGPIPE, &SIGPIPE_WAS_IGNORED),
            (libc::SIGXFSZ, &SIGXFSZ_WAS_IGNORED),
        ] {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 {
                was.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
            }
        }
    }
}

/// Under a file-size limit (`ulimit -f`) a write past it kills the writer with SIGXFSZ. The
/// guard's own writes (the audit line, a kept request) must fail as errors instead, to be
/// reported, and never kill the guard before it runs an allowed command. Undone by
/// [`restore_inherited_signals`] before the shell is exec'd.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a standard disposition has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

// Runs before the Rust runtime's own start-up, which would otherwise hide the original value.
#[used]
#[link_section = ".init_array"]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// The hang-up, interrupt or termination signal that arrived while [`Interruptible`] was in
/// force, or 0.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// The signals that end a shell waiting for a human: its terminal hanging up when the
/// supervisor dies, Ctrl-C, `kill`.
const ENDING: [libc::c_int; 3] = [libc::SIGHUP, libc::SIGINT, libc::SIGTERM];

/// While a guard waits for a human's answer, the signals that would end it interrupt the
/// wait instead (blocking calls fail with EINTR), so that the refusal can still be recorded;
/// when dropped, the old dispositions come back and a signal that arrived is raised again,
/// so the process ends as it would have. Signals the caller ignored stay ignored.
pub struct Interruptible {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

pub fn interruptible() -> Interruptible {
    let mut old = Vec::new();
    for sig in ENDING {
        // SAFETY: a zeroed sigaction is a valid "default" value; querying and setting a
        // disposition with a handler that only stores to an atomic is async-signal-safe.
        unsafe {
            let mut was: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut was) != 0
                || was.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = note_signal as *const () as usize;
            // No SA_RESTART: the wait must see EINTR.
            act.sa_flags = 0;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) == 0 {
                old.push((sig, was));
            }
        }
    }
    Interruptible { old }
}

/// The ending signal that interrupted a wait, if one did.
pub fn interrupted() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

impl Drop for Interruptible {
    fn drop(&mut self) {
        for (sig, was) in &self.old {
            // SAFETY: restoring a disposition read earlier.
            unsafe {
                libc::sigaction(*sig, was, std::ptr::null_mut());
            }
        }
        if let Some(sig) = interrupted() {
            // SAFETY: raising a signal has no preconditions; with its old disposition back,
            // it does to us what it would have done during the wait.
            unsafe {
                libc::raise(sig);
            }
        }
    }
}

/// Give SIGPIPE and SIGXFSZ back the dispositions the caller gave us, so that the shell
/// exec'd in our place sees exactly what it would have seen (`yes | head -1` must end
/// quietly; a write past `ulimit -f` must kill as it would under bash).
pub fn restore_inherited_signals() {
    for (sig, was) in [
        (libc::SIGPIPE, &SIGPIPE_WAS_IGNORED),
        (libc::SIGXFSZ, &SIGXFSZ_WAS_IGNORED),
    ] {
        let action = if was.load(Ordering::Relaxed) {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        // SAFETY: setting a standard disposition has no preconditions.
        unsafe {
            libc::signal(sig, action);
        }
    }
}
