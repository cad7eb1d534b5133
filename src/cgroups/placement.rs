//! Where the container's cgroup goes, and the reason, as a sentence the lesson can narrate.
//!
//! The rule (the same one runc and Docker follow): put the container beneath the cgroup its caller
//! is already in wherever the hierarchy allows it, so that the container stays inside any limit the
//! caller is under (a CI job's memory cap, a login session's task limit).
//!
//! - **v1**: always possible. Each controller has its own tree and the caller sits somewhere in each
//!   (`/proc/self/cgroup` says where), so the container gets one directory per tree, beneath the
//!   caller's directory in that tree.
//! - **v2**: one tree, with the *no-internal-processes* rule: a cgroup that holds processes cannot
//!   enable controllers for its children (the root cgroup is exempt). The caller's own cgroup holds
//!   at least the caller, so it can delegate only when it is the root, or when it holds no process
//!   directly. Otherwise the container goes in one workshop cgroup at the root, `/workshop/<id>`, as
//!   runc puts its containers in a cgroup of their own, or beneath the parent the user names with
//!   `--cgroup-parent`.
//!
//! The workshop never writes to a cgroup it did not create, except to join one: a controller that a
//! parent it did not create does not hand down (not in that parent's `cgroup.subtree_control`) is
//! reported as unavailable, with the reason and the command that would enable it, and is not enabled.

use super::detect::{join_cgroup_path, read_list, CgroupHost, CgroupMode};
use super::{parse, Controller, Version};
use std::path::{Path, PathBuf};

/// Where the container's cgroup goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// Beneath the caller's own cgroup (every v1 tree; a delegating v2 cgroup).
    CallersCgroup,
    /// In the workshop's own cgroup at the v2 root: `/sys/fs/cgroup/workshop/<id>`.
    WorkshopAtRoot,
    /// Beneath the parent named with `--cgroup-parent`.
    Parent(String),
}

/// One directory the container's cgroup consists of: one on v2, one per tree on v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDir {
    /// The controllers it carries, in the kernel's names for this version (`cpu`, `cpuacct`, …).
    pub controllers: Vec<String>,
    /// The container's own cgroup.
    pub leaf: PathBuf,
    /// Cgroups above the leaf that belong to the workshop (`/workshop`, the missing parts of a
    /// `--cgroup-parent`), top-down: made when absent, and the only ones whose `subtree_control` the
    /// workshop writes.
    pub own_parents: Vec<PathBuf>,
}

/// Whether a container placed here gets a controller, and why (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerUse {
    pub controller: Controller,
    /// The kernel's name for it in this mode (`blkio` on v1, `io` on v2).
    pub name: String,
    pub usable: bool,
    pub why: String,
}

/// The plan for a container's cgroup, made before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub mode: CgroupMode,
    pub version: Version,
    pub place: Where,
    /// Why it goes there, as one or two sentences for the narration.
    pub reason: String,
    pub dirs: Vec<PlannedDir>,
    pub controllers: Vec<ControllerUse>,
}

impl Placement {
    /// The use of `controller`, if the plan mentions it.
    pub fn controller(&self, controller: Controller) -> Option<&ControllerUse> {
        self.controllers.iter().find(|c| c.controller == controller)
    }

    /// The first flag in `needs` (flag, controller) whose controller is unavailable, as one line.
    pub fn check_needs(&self, needs: &[(&str, Controller)]) -> Result<(), String> {
        for (flag, controller) in needs {
            match self.controller(*controller) {
                Some(c) if c.usable => {}
                Some(c) => {
                    return Err(format!(
                        "{flag} needs the {} controller, which is unavailable here: {}",
                        c.name, c.why
                    ))
                }
                None => return Err(format!("{flag} needs a controller this machine lacks")),
            }
        }
        Ok(())
    }
}

/// The name of the workshop's own cgroup at the v2 root.
pub const WORKSHOP_CGROUP: &str = "workshop";

/// Plans the cgroup for container `id` (one path component), beneath `cgroup_parent` when given
/// (a path from the root of the tree, as Docker's `--cgroup-parent`).
pub fn plan(host: &CgroupHost, id: &str, cgroup_parent: Option<&str>) -> Result<Placement, String> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(format!("invalid cgroup name {id:?}: use one path component such as ctr-42"));
    }
    if let Some(p) = cgroup_parent {
        check_parent(p)?;
    }
    let mode = host.mode();
    match mode {
        CgroupMode::Legacy | CgroupMode::Hybrid => Ok(plan_v1(host, mode, id, cgroup_parent)),
        CgroupMode::Unified => Ok(plan_v2(host, id, cgroup_parent)),
        CgroupMode::Missing => Err(format!(
            "no cgroup filesystem is mounted at {}, so no limit can be set",
            host.root.display()
        )),
    }
}

/// Whether a container would get each controller here, for `doctor`.
pub fn controllers(host: &CgroupHost) -> Vec<ControllerUse> {
    plan(host, "doctor", None).map(|p| p.controllers).unwrap_or_default()
}

fn check_parent(p: &str) -> Result<(), String> {
    let bad = p.trim_matches('/').is_empty()
        || p.trim_matches('/').split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format!(
            "invalid --cgroup-parent {p:?}: use a path of names from the cgroup root, such as \
             /workshop-parent or my.slice"
        ));
    }
    Ok(())
}

/// The parts of `parent` (below `top`) that do not exist yet, top-down: the workshop creates them.
fn missing_parts(top: &Path, parent: &str) -> Vec<PathBuf> {
    let mut dir = top.to_path_buf();
    let mut missing = Vec::new();
    for part in parent.trim_matches('/').split('/') {
        dir.push(part);
        if !missing.is_empty() || !dir.exists() {
            missing.push(dir.clone());
        }
    }
    missing
}

fn may_create_in(dir: &Path) -> Result<(), String> {
    use nix::unistd::{access, AccessFlags, Uid};
    if Uid::effective().is_root() || access(dir, AccessFlags::W_OK).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "this user may not create cgroups in {} (it is not delegated to uid {}): limits \
             without root need a delegated cgroup, such as systemd's user@.service gives",
            dir.display(),
            Uid::effective()
        ))
    }
}

fn plan_v1(host: &CgroupHost, mode: CgroupMode, id: &str, parent: Option<&str>) -> Placement {
    let mut dirs: Vec<PlannedDir> = Vec::new();
    let mut uses = Vec::new();
    for controller in Controller::ALL {
        let name = controller.name(Version::V1);
        // The cpu controller's usage counter lives in cpuacct, its own tree on many machines.
        let names: &[&str] =
            if controller == Controller::Cpu { &["cpu", "cpuacct"] } else { &[name] };
        let mut why = String::new();
        let mut usable = false;
        for (i, n) in names.iter().enumerate() {
            let planned = host.v1_hierarchy(n).and_then(|tree| {
                let (above, own_parents) = match parent {
                    Some(p) => (join_cgroup_path(&tree, p), missing_parts(&tree, p)),
                    None => {
                        let own = host.v1_own_path(n).unwrap_or_else(|| "/".into());
                        (join_cgroup_path(&tree, &own), Vec::new())
                    }
                };
                let existing = own_parents.first().and_then(|d| d.parent()).unwrap_or(&above);
                may_create_in(existing)?;
                Ok((
                    tree,
                    PlannedDir {
                        controllers: vec![n.to_string()],
                        leaf: above.join(id),
                        own_parents,
                    },
                ))
            });
            match planned {
                Ok((tree, p)) => {
                    if i == 0 {
                        usable = true;
                        why = format!("v1 hierarchy at {}", tree.display());
                    }
                    match dirs.iter_mut().find(|d| d.leaf == p.leaf) {
                        Some(d) => d.controllers.push(n.to_string()),
                        None => dirs.push(p),
                    }
                }
                Err(e) if i == 0 => why = e,
                Err(_) => {}
            }
        }
        uses.push(ControllerUse { controller, name: name.into(), usable, why });
    }
    let hybrid = if mode == CgroupMode::Hybrid {
        " (This machine is hybrid: its v2 tree at unified/ holds no controllers, so limits go \
         through v1.)"
    } else {
        ""
    };
    let (place, reason) = match parent {
        Some(p) => (
            Where::Parent(p.to_string()),
            format!(
                "You named --cgroup-parent {p}, so the container's cgroup goes beneath it in each \
                 v1 tree.{hybrid}"
            ),
        ),
        None => (
            Where::CallersCgroup,
            format!(
                "cgroup v1 has one tree per controller and this process sits somewhere in each \
                 (/proc/self/cgroup says where), so the container's cgroup goes beneath this \
                 process's own cgroup in each tree and stays inside any limit it is under.{hybrid}"
            ),
        ),
    };
    Placement { mode, version: Version::V1, place, reason, dirs, controllers: uses }
}

fn plan_v2(host: &CgroupHost, id: &str, parent: Option<&str>) -> Placement {
    let memberships = host.memberships();
    let own = parse::v2_path(&memberships).unwrap_or("/").to_string();
    let workshop = host.root.join(WORKSHOP_CGROUP);
    let (place, above, own_parents, reason) = if let Some(p) = parent {
        (
            Where::Parent(p.to_string()),
            join_cgroup_path(&host.root, p),
            missing_parts(&host.root, p),
            format!("You named --cgroup-parent {p}, so the container's cgroup goes beneath it."),
        )
    } else if own == "/" {
        (
            Where::WorkshopAtRoot,
            workshop.clone(),
            vec![workshop.clone()],
            "This process is in the root cgroup, which the no-internal-processes rule exempts, \
             so the container's cgroup goes beneath it, in the workshop's own cgroup /workshop."
                .to_string(),
        )
    } else {
        let own_dir = host.v2_dir(&own);
        // Unreadable (another cgroup namespace's path, say) counts as "cannot delegate".
        let procs = std::fs::read_to_string(own_dir.join("cgroup.procs"));
        if procs.is_ok_and(|p| p.trim().is_empty()) {
            (
                Where::CallersCgroup,
                own_dir,
                Vec::new(),
                format!(
                    "This process's cgroup {own} holds no process directly, so cgroup v2 lets it \
                     hand controllers to a child: the container's cgroup goes beneath it and stays \
                     inside any limit it is under."
                ),
            )
        } else {
            (
                Where::WorkshopAtRoot,
                workshop.clone(),
                vec![workshop.clone()],
                format!(
                    "This process's cgroup {own} holds processes (this one among them), and cgroup \
                     v2's no-internal-processes rule forbids a cgroup that holds processes from \
                     enabling controllers for children; so, as runc does, the container's cgroup \
                     goes in the workshop's own cgroup at the root, /workshop/{id}."
                ),
            )
        }
    };
    // The deepest cgroup above the leaf that the workshop did not create decides what is handed down.
    let decider = own_parents.first().and_then(|d| d.parent()).unwrap_or(&above).to_path_buf();
    let handed_down = read_list(&decider.join("cgroup.subtree_control"));
    let writable = may_create_in(&decider);
    let uses: Vec<ControllerUse> = Controller::ALL
        .iter()
        .map(|&controller| {
            let name = controller.name(Version::V2);
            let (usable, why) = match host.offers(controller) {
                Err(e) => (false, e),
                Ok(_) if !handed_down.iter().any(|c| c == name) => (
                    false,
                    format!(
                        "{name} is not enabled in {}/cgroup.subtree_control, a cgroup the workshop \
                         did not create, so it does not enable it there (as root you may: echo \
                         +{name} > {}/cgroup.subtree_control)",
                        decider.display(),
                        decider.display()
                    ),
                ),
                Ok(_) => match &writable {
                    Err(e) => (false, e.clone()),
                    Ok(()) => (true, format!("v2, handed down by {}", decider.display())),
                },
            };
            ControllerUse { controller, name: name.into(), usable, why }
        })
        .collect();
    let controllers = uses.iter().filter(|u| u.usable).map(|u| u.name.clone()).collect();
    let dirs = vec![PlannedDir { controllers, leaf: above.join(id), own_parents }];
    Placement {
        mode: CgroupMode::Unified,
        version: Version::V2,
        place,
        reason,
        dirs,
        controllers: uses,
    }
}
