//! Test-only: exercise 06's solution with its "break it" mistake made, the child moved in without
//! its memory limit written, so that `tests/hints.rs` can check that the checker names the mistake
//! and the hint level.

use anyhow::Context;
use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::cgroups::{Cgroup, Write};
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: the memory writes are skipped; only the join is done.
fn limit_memory_and_join(cgroup: &Cgroup, _memory: &[Write], pid: Pid) -> anyhow::Result<()> {
    for dir in cgroup.paths() {
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("writing PID {pid} to {}/cgroup.procs", dir.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mechanisms =
        Mechanisms { limit_memory_and_join: Some(limit_memory_and_join), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Cgroups, mechanisms)
}
