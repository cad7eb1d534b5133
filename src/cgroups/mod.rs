//! cgroups: what a container may use (CPU, memory, processes, disk I/O), enforced by the kernel.
//!
//! A cgroup ("control group") is a directory in a special filesystem. Making the directory makes
//! the group; writing a process id into its `cgroup.procs` moves that process (and every child it
//! forks later) into it; writing numbers into its other files sets the limits the kernel enforces:
//! the scheduler stops the group's processes when their CPU quota for the period is spent, the
//! memory controller reclaims and then OOM-kills inside the group when it passes its limit, and
//! `fork` fails with EAGAIN once the group holds as many processes as `pids.max`. See cgroups(7).
//!
//! Linux has two versions, and machines differ in which one they mount:
//!
//! | | cgroup v1 ("legacy") | cgroup v2 ("unified") |
//! |---|---|---|
//! | trees | one per controller: `/sys/fs/cgroup/memory/…`, `/sys/fs/cgroup/cpu/…` | one tree, `/sys/fs/cgroup/…` |
//! | a process is in | one cgroup in each tree | one cgroup |
//! | CPU quota | `cpu.cfs_quota_us` + `cpu.cfs_period_us` | `cpu.max` (`QUOTA PERIOD`) |
//! | CPU weight | `cpu.shares` (2–262144, default 1024) | `cpu.weight` (1–10000, default 100) |
//! | memory | `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (memory + swap) | `memory.max`, `memory.swap.max` (swap alone) |
//! | disk I/O | `blkio.throttle.*_bps_device`, `blkio.weight` | `io.max`, `io.weight` |
//! | processes | `pids.max` | `pids.max` |
//! | rules | none about where processes sit | a cgroup that holds processes cannot hand controllers to children |
//!
//! A "hybrid" machine (systemd's old default, and this workshop's development machine) mounts the
//! controllers as v1 and an empty v2 tree at `/sys/fs/cgroup/unified`: limits go through v1 there.
//!
//! The module is split by question: [`detect`] (which version, which controllers), [`placement`]
//! (where the container's cgroup goes, and why), [`limits`] and [`args`] (Docker's flags and what
//! they mean), [`v1`] and [`v2`] (the files each version writes and reads), and [`cgroup`] (create,
//! join, read, remove).

pub mod args;
pub mod cgroup;
pub mod detect;
pub mod devices;
pub mod limits;
pub mod parse;
pub mod placement;
pub mod v1;
pub mod v2;

#[cfg(test)]
mod tests;

pub use args::CgroupArgs;
pub use cgroup::{Cgroup, CgroupDir, Stats};
pub use detect::{CgroupHost, CgroupMode, FsProbe, FsType};
pub use limits::{DeviceRate, LimitFiles, Limits, Swap, Write};
pub use placement::{ControllerUse, Placement, Where};

use serde::{Deserialize, Serialize};

/// Which cgroup version a container's cgroup is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    V1,
    V2,
}

/// The controllers the workshop uses, named in the course's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Controller {
    /// CPU time: quota per period (hard cap) and weight (share under contention).
    Cpu,
    /// Which CPUs the processes may run on.
    Cpuset,
    /// Memory (and swap): the OOM killer acts inside the group when it is over its limit.
    Memory,
    /// How many processes (and threads) the group may hold: `fork` fails beyond it.
    Pids,
    /// Disk I/O bandwidth and weight per block device (`blkio` on v1, `io` on v2).
    Io,
}

impl Controller {
    pub const ALL: [Controller; 5] =
        [Controller::Cpu, Controller::Cpuset, Controller::Memory, Controller::Pids, Controller::Io];

    /// The controller's name in the kernel for `version`.
    pub fn name(self, version: Version) -> &'static str {
        match (self, version) {
            (Controller::Cpu, _) => "cpu",
            (Controller::Cpuset, _) => "cpuset",
            (Controller::Memory, _) => "memory",
            (Controller::Pids, _) => "pids",
            (Controller::Io, Version::V1) => "blkio",
            (Controller::Io, Version::V2) => "io",
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        })
    }
}
