//! A container's cgroup: created from a [`Placement`], joined, read, and removed.
//!
//! - **create**: `mkdir` makes a cgroup; the kernel fills the new directory with the controllers'
//!   files. On v1 there is one directory per tree, and a new cpuset cgroup starts with empty
//!   `cpuset.cpus` and `cpuset.mems`, which v1 refuses to put a process into, so both are copied from
//!   the parent. On v2 a controller reaches a child only when its parent lists it in
//!   `cgroup.subtree_control`; the workshop writes that file only in cgroups it created itself.
//! - **join**: writing a PID into `cgroup.procs` moves that process; its children are born inside.
//! - **remove**: a cgroup with processes in it cannot be removed (EBUSY), so they are killed first
//!   (`cgroup.kill` on v2 kernels that have it, else SIGKILL to each PID in `cgroup.procs`), then the
//!   directories are removed leaf-first, retrying EBUSY briefly while the dying processes leave.
//!
//! [`Cgroup`] is serializable: it is the record from which a later run removes a cgroup that a
//! killed run left behind, and [`Cgroup::remove`] may be called again when it is already gone.

use super::limits::{self, LimitFiles, Limits, Write};
use super::placement::{Placement, PlannedDir};
use super::{v1, v2, Version};
use anyhow::{bail, Context};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One directory of a container's cgroup and the controllers it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

/// A container's cgroup as created: one directory on v2, one per tree on v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub version: Version,
    pub dirs: Vec<CgroupDir>,
    /// Parents this run had to make (top-down): removed after the container's own directories,
    /// when nothing else is in them.
    pub made_parents: Vec<PathBuf>,
}

/// What a cgroup's counters say; `None` where this kernel or version has no such counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time used by the group, µs (v2 cpu.stat usage_usec; v1 cpuacct.usage / 1000).
    pub cpu_usage_usec: Option<u64>,
    /// CFS periods with runnable tasks, and those in which the quota ran out.
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    /// Processes the OOM killer killed in the group (v2 memory.events, v1 memory.oom_control).
    pub oom_kill: Option<u64>,
    /// Times the memory limit was hit (v1 memory.failcnt; v2 memory.events `max`).
    pub memory_failcnt: Option<u64>,
    pub memory_current: Option<u64>,
    pub memory_peak: Option<u64>,
    pub pids_current: Option<u64>,
    /// Forks refused because of pids.max.
    pub pids_max_events: Option<u64>,
}

/// How long removal waits for processes to leave, in steps of [`STEP`].
const STEP: Duration = Duration::from_millis(5);
const STEPS: u32 = 400;

impl Cgroup {
    /// Creates the directories `plan` describes. When a step fails, what was made is removed again.
    pub fn create(plan: &Placement) -> anyhow::Result<Cgroup> {
        let mut cgroup =
            Cgroup { version: plan.version, dirs: Vec::new(), made_parents: Vec::new() };
        let made = plan.dirs.iter().try_for_each(|d| cgroup.make(d));
        if let Err(e) = made {
            let _ = cgroup.remove();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// What [`Cgroup::create`] will make from `plan`, known before it makes it: the run's record
    /// holds this first, so that a run killed half-way through creating is still cleaned up. Every
    /// workshop-owned parent (`/workshop`) is listed, whether this run made it or found it: several
    /// containers share it, and whichever leaves last must remove it (rmdir only succeeds on an
    /// empty cgroup, so the others' attempts are harmless).
    pub fn planned(plan: &Placement) -> Cgroup {
        Cgroup {
            version: plan.version,
            dirs: plan
                .dirs
                .iter()
                .map(|d| CgroupDir { controllers: d.controllers.clone(), path: d.leaf.clone() })
                .collect(),
            made_parents: plan.dirs.iter().flat_map(|d| d.own_parents.iter()).cloned().collect(),
        }
    }

    fn make(&mut self, planned: &PlannedDir) -> anyhow::Result<()> {
        // Another run may remove a shared parent (/workshop) between our mkdirs: make it again, once.
        match self.make_once(planned) {
            Err(e) if is_enoent(&e) && !planned.own_parents.is_empty() => self.make_once(planned),
            other => other,
        }
    }

    fn make_once(&mut self, planned: &PlannedDir) -> anyhow::Result<()> {
        let cpuset =
            self.version == Version::V1 && planned.controllers.iter().any(|c| c == "cpuset");
        for parent in &planned.own_parents {
            match fs::create_dir(parent) {
                Ok(()) => {
                    self.made_parents.push(parent.clone());
                    if cpuset {
                        copy_cpuset_from_parent(parent)?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("mkdir {}", parent.display())),
            }
            if self.version == Version::V2 && !planned.controllers.is_empty() {
                let enable: Vec<String> =
                    planned.controllers.iter().map(|c| format!("+{c}")).collect();
                let file = parent.join("cgroup.subtree_control");
                fs::write(&file, enable.join(" ")).with_context(|| {
                    format!("writing {:?} to {}", enable.join(" "), file.display())
                })?;
            }
        }
        fs::create_dir(&planned.leaf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "the cgroup {} already exists: another container has this name, or an earlier \
                     run left it behind",
                    planned.leaf.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("mkdir {}", planned.leaf.display()))
            }
        })?;
        self.dirs.push(CgroupDir {
            controllers: planned.controllers.clone(),
            path: planned.leaf.clone(),
        });
        if cpuset {
            copy_cpuset_from_parent(&planned.leaf)?;
        }
        Ok(())
    }

    /// The directories, for the narration.
    pub fn paths(&self) -> Vec<&Path> {
        self.dirs.iter().map(|d| d.path.as_path()).collect()
    }

    /// The directory holding `file` (`memory.max`, `cpuacct.usage`): on v1, the tree of the
    /// controller the file's name starts with.
    pub fn dir_for(&self, file: &str) -> Option<&Path> {
        match self.version {
            Version::V2 => self.dirs.first(),
            Version::V1 => {
                let prefix = file.split('.').next()?;
                self.dirs.iter().find(|d| d.controllers.iter().any(|c| c == prefix))
            }
        }
        .map(|d| d.path.as_path())
    }

    /// Whether the cgroup has `file`.
    pub fn has_file(&self, file: &str) -> bool {
        self.dir_for(file).is_some_and(|d| d.join(file).exists())
    }

    /// A file's text, if the cgroup has it.
    pub fn read(&self, file: &str) -> Option<String> {
        fs::read_to_string(self.dir_for(file)?.join(file)).ok()
    }

    // ANCHOR: join
    /// Moves process `pid` into the cgroup (every directory of it, on v1).
    pub fn join(&self, pid: i32) -> anyhow::Result<()> {
        for d in &self.dirs {
            let procs = d.path.join("cgroup.procs");
            fs::write(&procs, pid.to_string())
                .with_context(|| format!("writing PID {pid} to {}", procs.display()))?;
        }
        Ok(())
    }
    // ANCHOR_END: join

    /// The writes that set `limits` in this cgroup (pure once the cgroup exists: it only looks at
    /// which files are present).
    pub fn limit_files(&self, limits: &Limits) -> LimitFiles {
        limits::writes(limits, self.version, &|f| self.has_file(f))
    }

    /// Performs `writes`, in order; the first failure names the file and value.
    pub fn apply(&self, writes: &[Write]) -> anyhow::Result<()> {
        for w in writes {
            let Some(dir) = self.dir_for(&w.file) else {
                bail!(
                    "the container's cgroup has no {} controller for {}",
                    w.file.split('.').next().unwrap_or("?"),
                    w.file
                );
            };
            let path = dir.join(&w.file);
            fs::write(&path, &w.value)
                .with_context(|| format!("writing {:?} to {}", w.value, path.display()))?;
        }
        Ok(())
    }

    /// What the cgroup's counters say now.
    pub fn stats(&self) -> Stats {
        let read = |f: &str| self.read(f);
        match self.version {
            Version::V1 => v1::stats(&read),
            Version::V2 => v2::stats(&read),
        }
    }

    /// The PIDs in the cgroup (in any of its directories).
    pub fn procs(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.dirs.iter().flat_map(|d| procs_in(&d.path)).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills what is left in the cgroup and removes its directories, leaf-first. Safe to call again
    /// when the cgroup is already gone.
    pub fn remove(&self) -> anyhow::Result<()> {
        let mut first_error = None;
        for d in &self.dirs {
            if let Err(e) = kill_tree(&d.path) {
                first_error.get_or_insert(e);
            }
        }
        for d in &self.dirs {
            if let Err(e) = rmdir_tree(&d.path) {
                first_error.get_or_insert(e);
            }
        }
        // A parent another container still uses stays; the last one out removes it.
        for parent in self.made_parents.iter().rev() {
            let _ = fs::remove_dir(parent);
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn is_enoent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

/// v1 refuses to take a process into a cpuset cgroup whose cpus or mems are empty, and a new one
/// starts empty: inherit the parent's.
fn copy_cpuset_from_parent(dir: &Path) -> anyhow::Result<()> {
    let parent = dir.parent().context("a cgroup has a parent")?;
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = fs::read_to_string(parent.join(file))
            .with_context(|| format!("reading {}", parent.join(file).display()))?;
        fs::write(dir.join(file), value.trim()).with_context(|| {
            format!("writing {:?} to {}", value.trim(), dir.join(file).display())
        })?;
    }
    Ok(())
}

fn procs_in(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Every cgroup at or below `dir`, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        let children: Vec<PathBuf> = fs::read_dir(&all[i])
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        all.extend(children);
        i += 1;
    }
    all
}

// ANCHOR: kill_tree
/// Kills every process left in `dir` and in the cgroups beneath it, and waits until they are gone.
fn kill_tree(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    // cgroup.kill (Linux 5.14, v2 only) kills the whole subtree at once, even processes forking.
    let kill_file = dir.join("cgroup.kill");
    if kill_file.exists() {
        let _ = fs::write(&kill_file, "1");
    }
    for _ in 0..STEPS {
        let pids: Vec<i32> = subtree(dir).iter().flat_map(|d| procs_in(d)).collect();
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            // ESRCH: it is already gone.
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        std::thread::sleep(STEP);
    }
    bail!("processes are still in {} after SIGKILL", dir.display())
}
// ANCHOR_END: kill_tree

fn rmdir_tree(dir: &Path) -> anyhow::Result<()> {
    for d in subtree(dir).iter().rev() {
        rmdir_retrying(d)?;
    }
    Ok(())
}

/// rmdir, retrying EBUSY (the last processes are still leaving) for a bounded time.
fn rmdir_retrying(dir: &Path) -> anyhow::Result<()> {
    for _ in 0..STEPS {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) => match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
                Errno::ENOENT => return Ok(()),
                Errno::EBUSY => std::thread::sleep(STEP),
                _ => return Err(e).with_context(|| format!("rmdir {}", dir.display())),
            },
        }
    }
    bail!("rmdir {}: still busy after {:?}", dir.display(), STEP * STEPS)
}
