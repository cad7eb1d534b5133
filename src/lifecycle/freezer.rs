//! `pause` and `unpause`: the cgroup freezer stops every process of the container where it stands
//! (no signal is sent, nothing can catch it) and lets them go on later.
//!
//! - **v2**: every non-root cgroup has `cgroup.freeze`; writing 1 freezes the container's own
//!   cgroup, and `cgroup.events` says `frozen 1` once every process has stopped.
//! - **v1**: the freezer is a controller of its own, with a tree of its own; the container's
//!   stage 06 cgroup is not in it, so stage 09 gives the container a freezer cgroup beside the
//!   others, `ws-TAG` beneath the caller's, joined while the container's process still waits
//!   (so that everything it ever runs is in it). `freezer.state` goes THAWED → FREEZING → FROZEN.

use crate::cgroups::CgroupDir;
use crate::cgroups::{Cgroup, Version};
use crate::runtime::{Cleanup, Resource};
use anyhow::Context;
use std::time::{Duration, Instant};

// ANCHOR: prepare
/// On v1, a freezer cgroup for the container `name` (`ws-TAG`) with process `pid` in it, made in
/// `cleanup` (removed when the container has stopped); `None` on v2, where the container's own
/// cgroup freezes, or without a freezer (then `pause` says so).
pub fn prepare(
    own: Option<&Cgroup>,
    name: &str,
    pid: i32,
    cleanup: &mut Cleanup,
) -> anyhow::Result<Option<Cgroup>> {
    if own.is_some_and(|c| c.version == Version::V2) {
        return Ok(None);
    }
    // Beneath the caller's own directory of the freezer tree, as stage 06 places the others.
    let host = crate::cgroups::CgroupHost::real();
    let Ok(tree) = host.v1_hierarchy("freezer") else { return Ok(None) };
    let own_path = host.v1_own_path("freezer").unwrap_or_default();
    let dir = crate::cgroups::detect::join_cgroup_path(&tree, &own_path).join(name);
    let cgroup = Cgroup {
        version: Version::V1,
        dirs: vec![CgroupDir { controllers: vec!["freezer".into()], path: dir.clone() }],
        made_parents: Vec::new(),
    };
    cleanup.create(Resource::Cgroup { cgroup: cgroup.clone() }, || {
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(())
    })?;
    cgroup.join(pid)?;
    Ok(Some(cgroup))
}
// ANCHOR_END: prepare

// ANCHOR: freeze
/// Freezes (`true`) or thaws the container whose cgroups are `cgroups`, and waits until the
/// kernel says every process has stopped or goes on.
pub fn set_frozen(cgroups: &[Cgroup], frozen: bool) -> anyhow::Result<()> {
    let dirs = || cgroups.iter().flat_map(|c| c.dirs.iter().map(|d| d.path.clone()));
    let (file, value, done) = if let Some(dir) = dirs().find(|d| d.join("freezer.state").exists()) {
        let state = if frozen { "FROZEN" } else { "THAWED" };
        (dir.join("freezer.state"), state, (dir.join("freezer.state"), state.to_string()))
    } else if let Some(dir) = dirs().find(|d| d.join("cgroup.freeze").exists()) {
        let line = if frozen { "frozen 1" } else { "frozen 0" };
        (
            dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
            (dir.join("cgroup.events"), line.to_string()),
        )
    } else {
        anyhow::bail!(
            "this machine has no cgroup freezer for the container (cgroup v1 without the freezer controller): pause is not possible here"
        );
    };
    std::fs::write(&file, value).with_context(|| format!("write {value} to {}", file.display()))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = std::fs::read_to_string(&done.0).unwrap_or_default();
        if now.lines().any(|l| l.trim() == done.1) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} did not become {} within 5 s",
            done.0.display(),
            done.1
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
// ANCHOR_END: freeze
