//! Signals: Ctrl-C and `kill` must never leave anything behind on the host.
//!
//! The stage blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGCHLD and reads them from a signalfd
//! instead of running handlers. That makes waiting race-free (a signal that arrives between two checks
//! stays queued) and lets the stage tell a terminal's Ctrl-C (`si_code == SI_KERNEL`, also delivered to
//! the container's process group) from a `kill` by another process (`SI_USER`), which only we got.
//! See signalfd(2), sigprocmask(2) and "Signals" in pid_namespaces(7).

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsFd;
use std::sync::OnceLock;

/// The signals that mean "stop": the stage cleans up and exits 128 + signal.
pub const STOP_SIGNALS: [Signal; 4] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

/// A signal the stage received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signal: Signal,
    /// Sent by the kernel for a terminal key (Ctrl-C, Ctrl-\): the foreground process group, which
    /// includes the container, got it too.
    pub from_terminal: bool,
}

struct Blocked {
    fd: SignalFd,
}

static BLOCKED: OnceLock<Blocked> = OnceLock::new();

fn set() -> SigSet {
    let mut set = SigSet::empty();
    for s in STOP_SIGNALS {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the stage's signals and opens the signalfd. Call once, first thing in `main`.
pub fn install() {
    BLOCKED.get_or_init(|| {
        let set = set();
        set.thread_block().expect("blocking signals cannot fail for valid signals");
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .expect("signalfd(2) is available on every kernel this workshop supports");
        Blocked { fd }
    });
}

/// Restores the default signal mask: the container's process must start with nothing blocked, since a
/// blocked mask survives execve(2).
pub fn unblock_in_child() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Takes one queued signal, if any.
fn take() -> Option<(Signal, i32)> {
    let blocked = BLOCKED.get()?;
    match blocked.fd.read_signal() {
        Ok(Some(info)) => Signal::try_from(info.ssi_signo as i32).ok().map(|s| (s, info.ssi_code)),
        _ => None,
    }
}

/// Returns a pending stop signal, discarding SIGCHLD notifications.
pub fn pending_stop() -> Option<Received> {
    while let Some((signal, code)) = take() {
        if signal != Signal::SIGCHLD {
            return Some(Received { signal, from_terminal: code == libc::SI_KERNEL });
        }
    }
    None
}

/// What woke a waiter.
pub enum Wake {
    ChildChanged,
    Stop(Received),
    Timeout,
}

/// Sleeps until a child changes state, a stop signal arrives, or `timeout_ms` passes (-1: forever).
pub fn wait(timeout_ms: i32) -> Wake {
    let Some(blocked) = BLOCKED.get() else {
        // Not installed (a unit test, say): poll the child instead.
        std::thread::sleep(std::time::Duration::from_millis(5));
        return Wake::ChildChanged;
    };
    loop {
        if let Some((signal, code)) = take() {
            if signal == Signal::SIGCHLD {
                return Wake::ChildChanged;
            }
            return Wake::Stop(Received { signal, from_terminal: code == libc::SI_KERNEL });
        }
        let mut fds = [PollFd::new(blocked.fd.as_fd(), PollFlags::POLLIN)];
        let timeout = if timeout_ms < 0 {
            PollTimeout::NONE
        } else {
            PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX)
        };
        match poll(&mut fds, timeout) {
            Ok(0) => return Wake::Timeout,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Wake::ChildChanged,
        }
    }
}

/// For `--step`: waits for Enter on the terminal. A stop signal while waiting ends the run cleanly.
pub fn wait_for_enter(prompt: &str) {
    use std::io::{BufRead, IsTerminal, Write};
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return;
    };
    if !tty.is_terminal() {
        return;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    if let Some(blocked) = BLOCKED.get() {
        loop {
            let mut fds = [
                PollFd::new(tty.as_fd(), PollFlags::POLLIN),
                PollFd::new(blocked.fd.as_fd(), PollFlags::POLLIN),
            ];
            let _ = poll(&mut fds, PollTimeout::NONE);
            if fds[1].revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                if let Some(r) = pending_stop() {
                    // Unwinding runs every guard; the lesson's main turns this into 128 + signal.
                    std::panic::panic_any(Interrupted(r.signal));
                }
            }
            if fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                break;
            }
        }
    }
    let _ = std::io::BufReader::new(tty).read_line(&mut String::new());
}

/// Raised (as an error or a panic payload) when a stop signal ends a run early.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted(pub Signal);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}; everything the stage created was removed", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Returns an `Interrupted` error when a stop signal is pending: lessons call it between steps.
pub fn check_interrupted() -> Result<(), Interrupted> {
    match pending_stop() {
        Some(r) => Err(Interrupted(r.signal)),
        None => Ok(()),
    }
}
