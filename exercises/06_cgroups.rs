//! Exercise 06 · cgroups
//!
//! The container's cgroup exists already: the library made its directory (one per controller tree
//! on cgroup v1, one directory on v2) and wrote every limit except the memory controller's. The
//! child waits, not yet in it. Your job runs on the host, before the child is let go: write the
//! memory limits into their files, then move the child into the cgroup, so that everything it
//! runs is limited from its first instruction.
//!
//! Try it:   cargo run --bin ex06_cgroups -- --memory 32m -- cat /proc/self/cgroup
//! Check it: cargo run -- check 06

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use anyhow::Context;
use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::cgroups::{Cgroup, Write};
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Write the memory limit files, then put the child's PID into the cgroup's cgroup.procs.
// ANCHOR: todo
fn limit_memory_and_join(cgroup: &Cgroup, memory: &[Write], pid: Pid) -> anyhow::Result<()> {
    // Hints:
    // - Each `Write` is a file name and a value: `memory.limit_in_bytes` ← `33554432` on v1,
    //   `memory.max` ← `33554432` on v2. `cgroup.dir_for(&w.file)` is the directory that holds it.
    // - A limit is set by writing its value into its file: std::fs::write(dir.join(&w.file), …).
    // - Joining is one more write: the PID into `cgroup.procs` of every directory in
    //   `cgroup.paths()` (v1 has one per controller tree). Its children are born inside.
    // - Limits first, then the PID: a process must never run unlimited in a limited container.
    todo!("write the memory limits and move the child into its cgroup")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms =
        Mechanisms { limit_memory_and_join: Some(limit_memory_and_join), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Cgroups, mechanisms)
}
