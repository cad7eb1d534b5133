//! Exercise 01 · PID namespace
//!
//! A container starts life as an ordinary child process. What makes it a container is the set of
//! namespaces it is born into. Your job: start the child so that it is born into a new PID
//! namespace, where it will be PID 1, and return its PID as the host sees it.
//!
//! The checker verifies: the command runs as PID 1; the child's /proc/PID/ns/pid differs from the
//! host's; the command's exit status (and 128 + signal when killed) passes through.
//! Man pages: clone(2), pid_namespaces(7).
//! Stuck? `cargo run -- hint 01` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): give clone(2) `CloneFlags::empty()` instead of `flags`, and check
//! again. The checker names what went wrong.
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

// TODO: Start `child` as a new process in the namespaces `flags` asks for (CLONE_NEWPID, and in
// later stages the other CLONE_NEW* flags), and return its PID.
// ANCHOR: todo
fn clone_child(child: CloneCb<'_>, flags: CloneFlags) -> nix::Result<Pid> {
    todo!("start the child in new namespaces: `cargo run -- hint 01` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { clone_child: Some(clone_child), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Pid, mechanisms)
}
