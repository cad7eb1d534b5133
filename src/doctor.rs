//! `doctor`: what this machine can do, detected rather than assumed.
//!
//! Every stage runs [`preflight`] before it touches anything, and `cargo run` (the default binary)
//! prints the whole [`Report`]. The troubleshooting page of the book is organised by its lines.

use crate::stage::Stage;
use colored::Colorize;
use std::fs;
use std::path::Path;

/// How cgroups are mounted, detected as runc does: statfs(2) on /sys/fs/cgroup, then on
/// /sys/fs/cgroup/unified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 only.
    Legacy,
    /// cgroup v1 controllers, plus an empty v2 hierarchy at /sys/fs/cgroup/unified.
    Hybrid,
    /// cgroup v2 only.
    Unified,
    Missing,
}

impl std::fmt::Display for CgroupMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupMode::Legacy => "v1 (legacy)",
            CgroupMode::Hybrid => "v1 + v2 (hybrid: controllers on v1)",
            CgroupMode::Unified => "v2 (unified)",
            CgroupMode::Missing => "not mounted",
        })
    }
}

pub fn cgroup_mode_at(root: &Path) -> CgroupMode {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
    match statfs(root) {
        Ok(s) if s.filesystem_type() == CGROUP2_SUPER_MAGIC => CgroupMode::Unified,
        Ok(s) if s.filesystem_type() == TMPFS_MAGIC => match statfs(&root.join("unified")) {
            Ok(u) if u.filesystem_type() == CGROUP2_SUPER_MAGIC => CgroupMode::Hybrid,
            _ => CgroupMode::Legacy,
        },
        _ => CgroupMode::Missing,
    }
}

/// A controller and whether a container could use it here.
#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    pub usable: bool,
    pub why: String,
}

/// Controllers in /proc/cgroups that are enabled and mounted (v1), or listed in cgroup.controllers
/// and delegated to the caller's cgroup (v2).
pub fn controllers(mode: CgroupMode) -> Vec<Controller> {
    const WANTED: [&str; 5] = ["cpu", "memory", "pids", "io", "blkio"];
    match mode {
        CgroupMode::Legacy | CgroupMode::Hybrid => {
            let table = fs::read_to_string("/proc/cgroups").unwrap_or_default();
            table
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let name = *f.first()?;
                    WANTED.contains(&name).then(|| {
                        let enabled = f.get(3) == Some(&"1");
                        let mounted = Path::new("/sys/fs/cgroup").join(name).is_dir();
                        Controller {
                            name: name.to_string(),
                            usable: enabled && mounted,
                            why: match (enabled, mounted) {
                                (true, true) => format!("v1 hierarchy at /sys/fs/cgroup/{name}"),
                                (false, _) => "disabled on the kernel command line".into(),
                                (true, false) => "enabled but not mounted".into(),
                            },
                        }
                    })
                })
                .collect()
        }
        CgroupMode::Unified => {
            let available =
                fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
            let own = own_v2_cgroup();
            let parent_ctl = own
                .as_deref()
                .and_then(|p| {
                    fs::read_to_string(
                        Path::new("/sys/fs/cgroup")
                            .join(p.trim_start_matches('/'))
                            .join("cgroup.controllers"),
                    )
                    .ok()
                })
                .unwrap_or_default();
            available
                .split_whitespace()
                .filter(|c| WANTED.contains(c))
                .map(|c| {
                    let delegated = parent_ctl.split_whitespace().any(|x| x == c);
                    Controller {
                        name: c.to_string(),
                        usable: true,
                        why: if delegated {
                            "v2, delegated to this process's cgroup".into()
                        } else {
                            "v2, at the root (not delegated to this process's cgroup)".into()
                        },
                    }
                })
                .collect()
        }
        CgroupMode::Missing => Vec::new(),
    }
}

fn own_v2_cgroup() -> Option<String> {
    fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(String::from))
}

/// Whether an unprivileged user may create a user namespace, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserNs {
    Allowed,
    Denied(String),
}

pub fn unprivileged_userns() -> UserNs {
    let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return UserNs::Denied("user.max_user_namespaces is 0; enable with: sudo sysctl -w user.max_user_namespaces=15000".into());
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return UserNs::Denied(
            "kernel.unprivileged_userns_clone is 0; enable with: sudo sysctl -w kernel.unprivileged_userns_clone=1".into(),
        );
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return UserNs::Denied(
            "Ubuntu's AppArmor restricts unprivileged user namespaces; allow them with: \
             sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                .into(),
        );
    }
    UserNs::Allowed
}

pub fn has_filesystem(name: &str) -> bool {
    let listed = fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name));
    listed
        || kernel_module_available(match name {
            "overlay" => "kernel/fs/overlayfs/overlay",
            other => other,
        })
}

fn kernel_module_available(module_path: &str) -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = Path::new("/lib/modules").join(&release);
    let name = module_path.rsplit('/').next().unwrap_or(module_path);
    let builtin = fs::read_to_string(base.join("modules.builtin")).unwrap_or_default();
    ["ko", "ko.xz", "ko.zst", "ko.gz"]
        .iter()
        .any(|ext| base.join(format!("{module_path}.{ext}")).exists())
        || builtin.lines().any(|l| l.ends_with(&format!("/{name}.ko")))
}

/// Whether veth pairs can be made. As root, tried for real inside a throwaway network namespace,
/// which takes the pair with it when it ends, so the host never sees it; a kernel with veth built in
/// shows no module anywhere in /sys or /lib/modules, so looking for files would say no.
pub fn has_veth() -> bool {
    if Path::new("/sys/module/veth").exists() || kernel_module_available("kernel/drivers/net/veth")
    {
        return true;
    }
    if !crate::privileges::is_root() {
        return false;
    }
    let probe =
        crate::container::in_throwaway_child(nix::sched::CloneFlags::CLONE_NEWNET, None, || {
            let made =
                crate::netlink::Netlink::open().and_then(|mut nl| nl.add_veth("probe0", "probe1"));
            if made.is_ok() {
                "yes".into()
            } else {
                "no".into()
            }
        });
    probe.is_ok_and(|answer| answer == "yes")
}

/// Everything doctor knows about this machine.
#[derive(Debug, Clone)]
pub struct Report {
    pub root: bool,
    pub kernel: String,
    pub cgroup: CgroupMode,
    pub controllers: Vec<Controller>,
    pub userns: UserNs,
    pub overlay: bool,
    pub veth: bool,
    pub busybox: Option<std::path::PathBuf>,
    /// Where each tool of the default root filesystem would come from, or why there is no plan.
    pub rootfs_plan: Result<crate::image::Plan, String>,
    pub root_propagation: String,
}

impl Report {
    pub fn gather() -> Report {
        let cgroup = cgroup_mode_at(Path::new("/sys/fs/cgroup"));
        Report {
            root: crate::privileges::is_root(),
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            cgroup,
            controllers: controllers(cgroup),
            userns: unprivileged_userns(),
            overlay: has_filesystem("overlay"),
            veth: has_veth(),
            busybox: crate::image::find_static_busybox(),
            rootfs_plan: crate::image::plan().map_err(|e| e.to_string()),
            root_propagation: crate::mounts::root_propagation(),
        }
    }

    /// Whether `stage` can run on this machine, and if not, the first reason.
    pub fn can_run(&self, stage: Stage) -> Result<(), String> {
        if !self.root {
            return Err(
                "needs root: run it with sudo (or `cargo run --bin …`, which uses sudo for you)"
                    .into(),
            );
        }
        if stage >= Stage::Network && !self.veth {
            return Err("needs the veth network driver (modprobe veth)".into());
        }
        tools_ready(stage, &self.rootfs_plan)?;
        if stage >= Stage::Cgroups && self.controllers.iter().filter(|c| c.usable).count() == 0 {
            return Err(format!("needs cgroup controllers; cgroups here: {}", self.cgroup));
        }
        if stage >= Stage::Overlay && !self.overlay {
            return Err("needs overlayfs (modprobe overlay)".into());
        }
        Ok(())
    }

    /// The report as `cargo run` prints it.
    pub fn print(&self) {
        let ok = |b: bool| {
            if b {
                "✓".green().bold()
            } else {
                "✗".red().bold()
            }
        };
        println!("{}", "This machine".bold());
        println!(
            "  {} running as root{}",
            ok(self.root),
            if self.root { "" } else { " (stages will ask for sudo)" }
        );
        println!("  {} kernel {}", ok(true), self.kernel);
        println!("  {} cgroups: {}", ok(self.cgroup != CgroupMode::Missing), self.cgroup);
        for c in &self.controllers {
            println!("      {} {:<7} {}", ok(c.usable), c.name, c.why);
        }
        match &self.userns {
            UserNs::Allowed => println!("  {} unprivileged user namespaces allowed", ok(true)),
            UserNs::Denied(why) => println!("  {} unprivileged user namespaces: {why}", ok(false)),
        }
        println!("  {} overlayfs", ok(self.overlay));
        println!("  {} veth network driver", ok(self.veth));
        self.print_rootfs(ok);
        println!("  {} / has {} mount propagation", ok(true), self.root_propagation);
        println!();
        println!("{}", "Stages".bold());
        for stage in Stage::ALL {
            let status = if !stage.built() {
                "not in the workshop yet".dimmed().to_string()
            } else {
                match self.can_run(stage) {
                    Ok(()) => "ready".green().to_string(),
                    Err(why) => why.red().to_string(),
                }
            };
            println!("  {:<14} {:<62} {status}", stage.bin(), stage.adds());
        }
    }
}

impl Report {
    /// Where the default root filesystem's tools come from, and what is missing with its package.
    fn print_rootfs(&self, ok: impl Fn(bool) -> colored::ColoredString) {
        let store = crate::image::display_path(&crate::image::default_rootfs());
        match &self.rootfs_plan {
            Ok(plan) => {
                let missing = plan.missing_for(Stage::ALL[Stage::ALL.len() - 1]);
                println!(
                    "  {} root filesystem ({store}) from {}",
                    ok(missing.is_empty()),
                    plan.source
                );
                if let crate::image::Source::HostBinaries = plan.source {
                    println!(
                        "      {} no static busybox: fine, the host's tools are copied instead",
                        "·".dimmed()
                    );
                }
                for m in missing {
                    println!("      {} missing: {m}", ok(false));
                }
            }
            Err(why) => println!("  {} root filesystem: {why}", ok(false)),
        }
    }
}

/// Whether the default root filesystem would hold every tool `stage` uses inside its containers;
/// if not, which are missing and what brings each one.
pub fn tools_ready(stage: Stage, plan: &Result<crate::image::Plan, String>) -> Result<(), String> {
    if stage < Stage::Rootfs {
        return Ok(()); // stages 01 and 02 run on the host's own files
    }
    let plan = plan.as_ref().map_err(|why| format!("no root filesystem: {why}"))?;
    let missing = plan.missing_for(stage);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("its root filesystem would lack {}", missing.join(", ")))
    }
}

/// What `stage` needs, checked in order; each probe runs only when the stage needs it, so that a
/// stage's start-up pays only for its own checks.
fn requirements(
    stage: Stage,
    root: bool,
    veth: impl FnOnce() -> bool,
    controllers: impl FnOnce() -> Vec<Controller>,
    overlay: impl FnOnce() -> bool,
) -> Result<(), String> {
    if !root {
        return Err(
            "needs root: run it with sudo (or `cargo run --bin …`, which uses sudo for you)".into(),
        );
    }
    if stage >= Stage::Network && !veth() {
        return Err("needs the veth network driver (modprobe veth)".into());
    }
    if stage >= Stage::Cgroups && !controllers().iter().any(|c| c.usable) {
        return Err("needs cgroup controllers (see `cargo run -- doctor`)".into());
    }
    if stage >= Stage::Overlay && !overlay() {
        return Err("needs overlayfs (modprobe overlay)".into());
    }
    Ok(())
}

/// Checks what `stage` needs before it starts; one clear line when something is missing.
pub fn preflight(stage: Stage, rootless: bool) -> anyhow::Result<()> {
    if rootless {
        if let UserNs::Denied(why) = unprivileged_userns() {
            if !crate::privileges::is_root() {
                anyhow::bail!("--rootless needs unprivileged user namespaces, and here {why}");
            }
        }
        if stage > Stage::User {
            anyhow::bail!(
                "--rootless covers stages 01 to 05; {stage} needs root (run it with sudo)"
            );
        }
        return Ok(());
    }
    if !crate::privileges::is_root() {
        anyhow::bail!(crate::privileges::needs_root_message(stage.bin()));
    }
    requirements(
        stage,
        true,
        has_veth,
        || controllers(cgroup_mode_at(Path::new("/sys/fs/cgroup"))),
        || has_filesystem("overlay"),
    )
    .map_err(|why| anyhow::anyhow!("this machine cannot run {stage}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_directory_is_no_cgroup_mount() {
        let dir = std::env::temp_dir();
        // /tmp is a plain directory or a tmpfs without a unified/ cgroup2 beneath it.
        assert!(matches!(cgroup_mode_at(&dir), CgroupMode::Missing | CgroupMode::Legacy));
    }
}
