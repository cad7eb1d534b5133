//! Test-only: exercise 01's solution with its "break it" mistake made, clone(2) given no flags, so
//! that `tests/hints.rs` can check that the checker names the mistake and the hint level.

use nix::sched::{clone, CloneCb, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: the flags are not passed on, so the child stays in the host's PID namespace.
fn clone_child(child: CloneCb<'_>, _flags: CloneFlags) -> nix::Result<Pid> {
    let mut stack = vec![0u8; 1024 * 1024];
    // SAFETY: as in the solution: no CLONE_VM, and the process is single-threaded here.
    unsafe { clone(child, &mut stack, CloneFlags::empty(), Some(Signal::SIGCHLD as i32)) }
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { clone_child: Some(clone_child), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Pid, mechanisms)
}
