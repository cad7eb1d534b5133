//! Exercise 01 · PID namespace
//!
//! A container starts life as an ordinary child process. What makes it a container is the set of
//! namespaces it is born into. Your job: start the child with clone(2) so that it is born into a new
//! PID namespace, where it will be PID 1.
//!
//! Try it:   cargo run --bin ex01_pid -- sh -c 'echo $$'
//! Check it: cargo run -- check 01

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::sched::{clone, CloneCb, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Start `child` as a new process with clone(2) and return its PID.
// `flags` already holds CLONE_NEWPID (and, in later stages, the other CLONE_NEW* flags).
// ANCHOR: todo
fn clone_child(child: CloneCb<'_>, flags: CloneFlags) -> nix::Result<Pid> {
    // Hints:
    // - nix::sched::clone(child, &mut stack, flags, Some(Signal::SIGCHLD as i32)) does it.
    // - The child needs a stack of its own: a `vec![0u8; 1024 * 1024]` is plenty.
    // - clone is `unsafe`: write down in a `// SAFETY:` comment why this use is fine.
    // - The exit signal SIGCHLD is what lets the parent wait for the child like any other.
    todo!("clone(2) the child with `flags` and a stack of its own")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { clone_child: Some(clone_child), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Pid, mechanisms)
}
