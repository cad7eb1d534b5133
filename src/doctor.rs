//! `doctor`: what this machine can do, detected rather than assumed.
//!
//! Every stage runs [`preflight`] before it touches anything, and `cargo run` (the default binary)
//! prints the whole [`Report`]. The troubleshooting page of the book is organised by its lines.

use crate::stage::Stage;
use colored::Colorize;
use std::fs;
use std::path::Path;

/// How cgroups are mounted: v1, hybrid, v2 or none (see [`crate::cgroups::detect`]).
pub use crate::cgroups::CgroupMode;

/// How cgroups are mounted at `root`, detected as runc does: statfs(2) on it, then on its unified/.
pub fn cgroup_mode_at(root: &Path) -> CgroupMode {
    crate::cgroups::CgroupHost { root: root.to_path_buf(), ..crate::cgroups::CgroupHost::real() }
        .mode()
}

/// A controller and whether a container could use it here.
#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    pub usable: bool,
    pub why: String,
}

/// Whether a container started now would get each controller, and why not: the same placement
/// stage 06 uses (enabled and mounted on v1; offered, handed down by a parent and delegated on v2).
pub fn controllers(mode: CgroupMode) -> Vec<Controller> {
    if mode == CgroupMode::Missing {
        return Vec::new();
    }
    crate::cgroups::placement::controllers(&crate::cgroups::CgroupHost::real())
        .into_iter()
        .map(|c| Controller { name: c.name, usable: c.usable, why: c.why })
        .collect()
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
    /// AppArmor, which stage 08 uses where it is active (optional: most hosts without it are fine).
    pub apparmor: crate::security::apparmor::Host,
    pub busybox: Option<std::path::PathBuf>,
    /// Where each tool of the default root filesystem would come from, or why there is no plan.
    pub rootfs_plan: Result<crate::image::Plan, String>,
    pub root_propagation: String,
    /// What killed runs left on the host, one line each (see `cargo run -- cleanup`).
    pub leftovers: Vec<String>,
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
            apparmor: crate::security::apparmor::Host::detect(),
            busybox: crate::image::find_static_busybox(),
            rootfs_plan: crate::image::plan().map_err(|e| e.to_string()),
            root_propagation: crate::mounts::root_propagation(),
            leftovers: crate::runtime::record::leftovers().iter().map(|l| l.describe()).collect(),
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
        // Optional: without AppArmor, stage 08 says so and relies on its other mechanisms.
        use crate::security::apparmor::Host;
        let mark = match &self.apparmor {
            Host::Absent => "·".dimmed(),
            other => ok(other.can_load()),
        };
        println!(
            "  {mark} {} (stage 08 confines its containers where it can)",
            self.apparmor.describe()
        );
        self.print_rootfs(ok);
        println!("  {} / has {} mount propagation", ok(true), self.root_propagation);
        if self.leftovers.is_empty() {
            println!("  {} nothing left behind by an earlier run", ok(true));
        }
        for l in &self.leftovers {
            println!(
                "  {} {l}; `cargo run -- cleanup` removes it (so does the next stage you run)",
                "!".yellow().bold()
            );
        }
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
    // veth is not probed here: probing makes and destroys a network namespace (milliseconds on
    // every start), and a kernel without it is named by the first `ip link add … type veth`.
    requirements(
        stage,
        true,
        || true,
        || controllers(cgroup_mode_at(Path::new("/sys/fs/cgroup"))),
        || has_filesystem("overlay"),
    )
    .map_err(|why| anyhow::anyhow!("this machine cannot run {stage}: {why}"))?;
    if stage >= Stage::Security && !has_seccomp() {
        anyhow::bail!(
            "this machine cannot run {stage}: its kernel has no seccomp (CONFIG_SECCOMP_FILTER); \
             use a distribution kernel, which has it"
        );
    }
    Ok(())
}

/// Whether this kernel filters system calls: prctl(PR_GET_SECCOMP) fails with EINVAL without it.
pub fn has_seccomp() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer and only reads this thread's mode.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

/// The running kernel's release, as uname(2) gives it: `6.1.0-18-cloud-amd64`.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether the running kernel is at least `major.minor`: for features a kernel version brings.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = kernel_release();
    let mut parts =
        release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_directory_is_no_cgroup_mount() {
        // /tmp is a plain directory or a tmpfs, with no cgroup hierarchy mounted in it.
        assert_eq!(cgroup_mode_at(&std::env::temp_dir()), CgroupMode::Missing);
    }
}
