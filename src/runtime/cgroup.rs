//! A container's cgroup, from the host's side: planned, recorded, created, limited, entered.

use crate::cgroups::{Cgroup, Write};
use crate::container::CgroupConfig;
use crate::mechanisms::Mechanisms;
use crate::runtime::{Cleanup, Resource};
use anyhow::Context;
use nix::unistd::Pid;

// ANCHOR: enter
/// Makes the container's cgroup `name`, writes its limits and moves `pid` into it. The cgroup is
/// written to the run's record before it exists, and removed (after its processes are gone) when
/// `cleanup` is undone.
pub fn enter(
    c: &CgroupConfig,
    name: &str,
    pid: Pid,
    mechanisms: &Mechanisms,
    cleanup: &mut Cleanup,
) -> anyhow::Result<Cgroup> {
    let plan = c.placement(name)?;
    let planned = Resource::Cgroup { cgroup: Cgroup::planned(&plan) };
    let cgroup = cleanup.create(planned, || Cgroup::create(&plan))?;
    // mkdir /sys/fs/cgroup/memory/…/ws-TAG; echo 33554432 > memory.limit_in_bytes; …
    let files = cgroup.limit_files(&c.limits);
    let (memory, others): (Vec<Write>, Vec<Write>) =
        files.writes.into_iter().partition(|w| w.file.starts_with("memory."));
    cgroup.apply(&others).context("write the cgroup's limits")?;
    // The memory limit, then echo PID > cgroup.procs: exercise 06 replaces this part.
    let limit_memory_and_join = mechanisms.limit_memory_and_join.unwrap_or(library_join);
    limit_memory_and_join(&cgroup, &memory, pid).context("move the container into its cgroup")?;
    Ok(cgroup)
}
// ANCHOR_END: enter

/// The library's own: the memory controller's files, then the PID into every directory.
fn library_join(cgroup: &Cgroup, memory: &[Write], pid: Pid) -> anyhow::Result<()> {
    cgroup.apply(memory).context("write the memory limits")?;
    cgroup.join(pid.as_raw())
}
