//! A container's cgroup, from the host's side: planned, recorded, created, limited, entered.

use crate::cgroups::Cgroup;
use crate::container::CgroupConfig;
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
    cleanup: &mut Cleanup,
) -> anyhow::Result<Cgroup> {
    let plan = c.placement(name)?;
    let planned = Resource::Cgroup { cgroup: Cgroup::planned(&plan) };
    let cgroup = cleanup.create(planned, || Cgroup::create(&plan))?;
    // mkdir /sys/fs/cgroup/memory/…/ws-TAG; echo 33554432 > memory.limit_in_bytes; …
    let files = cgroup.limit_files(&c.limits);
    cgroup.apply(&files.writes).context("write the cgroup's limits")?;
    // echo PID > cgroup.procs
    cgroup.join(pid.as_raw()).context("move the container into its cgroup")?;
    Ok(cgroup)
}
// ANCHOR_END: enter
