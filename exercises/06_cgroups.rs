//! Exercise 06 · cgroups
//!
//! The container's cgroup exists already: the library made its directory (one per controller tree
//! on cgroup v1, one directory on v2) and wrote every limit except the memory controller's. The
//! child waits, not yet in it. Your job runs on the host, before the child is let go: write the
//! memory limits (`memory`: file name and value), then move the child into the cgroup, so that
//! everything it runs is limited from its first instruction.
//!
//! The checker verifies: with `--memory 32m` the container's own ws-… cgroup holds 33554432 while
//! it runs; a 64 MiB allocation is OOM-killed (137) and counted in that cgroup; `--pids-limit 20`
//! stops a loop of 30 forks; the cgroup is gone after the run. And every check of 01–05.
//! Man pages: cgroups(7); the kernel's cgroup-v1/memory.rst and cgroup-v2.rst.
//! Stuck? `cargo run -- hint 06` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): move the child in but skip the memory writes, and check again.
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

// TODO: Write the memory limit files, then put the child's PID into the cgroup.
// ANCHOR: todo
fn limit_memory_and_join(cgroup: &Cgroup, memory: &[Write], pid: Pid) -> anyhow::Result<()> {
    todo!("limit the memory, then move the child in: `cargo run -- hint 06` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms =
        Mechanisms { limit_memory_and_join: Some(limit_memory_and_join), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Cgroups, mechanisms)
}
