//! What the container does to itself between clone(2) and execve(2), as an ordered list of small
//! steps. Each step names the stage that added it and when it applies; one loop runs them, each
//! through the narrow [`Syscalls`] door, so the order of every stage's set-up can be checked without
//! root (see the tests below). A stage adds its steps to [`STEPS`] and nothing else.
//!
//! The order is the lesson: become root of the user namespace first (05), so every later step runs
//! with its capabilities; the network next (04), while nothing else has changed; private propagation
//! before any mount (02); everything mounted under the new root *before* pivot_root (03), while the
//! host's /proc is still visible, which the kernel requires for proc in a user namespace; the
//! hostname last. Stage 08 will add its steps after pivot_root, right before execve.

use super::syscalls::Syscalls;
use crate::container::Config;
use crate::stage::Stage;
use anyhow::Context;
use nix::sched::CloneFlags;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// What a step works with, in the child.
pub struct Inside<'a> {
    pub config: &'a Config,
    /// The idmapped copy of the root filesystem, made before clone(2) (05, as root).
    pub tree: Option<BorrowedFd<'a>>,
    /// The image's layers and this container's upper dir, to stack into its root (07).
    pub overlay: Option<&'a crate::overlay::root::OverlayRoot>,
    /// Names this container's links: the host moved `wsc-TAG` in, to become eth0.
    pub tag: Option<&'a str>,
}

impl Inside<'_> {
    fn has(&self, flag: CloneFlags) -> bool {
        self.config.namespaces.contains(flag)
    }

    /// The directory that becomes `/`: the overlay's merged view from 07 on, else the root
    /// filesystem's own directory.
    fn root(&self) -> anyhow::Result<&Path> {
        match self.overlay {
            Some(o) => Ok(&o.merged),
            None => self.config.rootfs.as_deref().context("this step needs a root filesystem"),
        }
    }
}

/// One step of the set-up.
pub struct Step {
    /// The stage that added it.
    pub stage: Stage,
    /// What it does, as the error says when it fails: "mount a new /proc".
    pub what: &'static str,
    applies: fn(&Inside) -> bool,
    run: fn(&Inside, &dyn Syscalls) -> anyhow::Result<()>,
}

// ANCHOR: order
/// Every step, in the order they run: the stage that added it, what it does, when it applies.
#[rustfmt::skip]
pub const STEPS: [Step; 14] = [
    step(Stage::User,      "become root in the user namespace",                  in_userns,     become_root),
    step(Stage::Network,   "set up the container's network",                     own_netns,     network),
    step(Stage::MountProc, "make the mounts private (mount --make-rprivate /)",  own_mountns,   make_private),
    step(Stage::MountProc, "mount a new /proc",                                  proc_in_place, mount_proc_in_place),
    step(Stage::Overlay,   "mount the image's layers as an overlay",             overlay_root,  mount_overlay),
    step(Stage::Rootfs,    "bind-mount the root filesystem onto itself",         plain_root,    bind_root),
    step(Stage::User,      "attach the idmapped root filesystem",                idmapped_root, attach_idmapped_root),
    step(Stage::MountProc, "mount a new /proc",                                  has_root,      mount_proc_in_root),
    step(Stage::Rootfs,    "prepare /dev",                                       has_root,      prepare_dev),
    step(Stage::Rootfs,    "mount /sys read-only",                               has_root,      mount_sys),
    step(Stage::Rootfs,    "pivot_root into the root filesystem",                has_root,      pivot),
    step(Stage::Rootfs,    "set the hostname",                                   has_hostname,  hostname),
    step(Stage::Security,  "mask /proc and /sys paths, make the read-only ones so", hardened,     protect_paths),
    step(Stage::Security,  "drop privileges (capabilities, no_new_privs, user, seccomp)", hardened, drop_privileges),
];
// ANCHOR_END: order

const fn step(
    stage: Stage,
    what: &'static str,
    applies: fn(&Inside) -> bool,
    run: fn(&Inside, &dyn Syscalls) -> anyhow::Result<()>,
) -> Step {
    Step { stage, what, applies, run }
}

/// The steps that apply to this container, in order.
pub fn plan<'s>(inside: &Inside) -> Vec<&'s Step> {
    STEPS.iter().filter(|s| (s.applies)(inside)).collect()
}

/// Runs the container's set-up. An error names the step that failed.
pub fn run_all(inside: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    for step in plan(inside) {
        (step.run)(inside, sys).context(step.what)?;
    }
    Ok(())
}

fn in_userns(i: &Inside) -> bool {
    i.config.user.is_some()
}
fn own_netns(i: &Inside) -> bool {
    i.has(CloneFlags::CLONE_NEWNET)
}
fn own_mountns(i: &Inside) -> bool {
    i.has(CloneFlags::CLONE_NEWNS)
}
fn proc_in_place(i: &Inside) -> bool {
    own_mountns(i) && i.config.rootfs.is_none()
}
fn has_root(i: &Inside) -> bool {
    own_mountns(i) && (i.config.rootfs.is_some() || i.overlay.is_some())
}
fn plain_root(i: &Inside) -> bool {
    has_root(i) && i.tree.is_none() && i.overlay.is_none()
}
fn idmapped_root(i: &Inside) -> bool {
    has_root(i) && i.tree.is_some() && i.overlay.is_none()
}
fn hardened(i: &Inside) -> bool {
    i.config.security.is_some()
}
fn overlay_root(i: &Inside) -> bool {
    own_mountns(i) && i.overlay.is_some()
}
fn has_hostname(i: &Inside) -> bool {
    i.has(CloneFlags::CLONE_NEWUTS) && i.config.hostname.is_some()
}

// ANCHOR: stage02
fn make_private(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    match i.config.mechanisms.make_private {
        Some(exercise) => Ok(exercise()?),
        None => Ok(crate::mounts::make_private(sys)?),
    }
}

fn mount_proc_in_place(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    mount_proc_at(i, sys, Path::new("/proc"))
}
// ANCHOR_END: stage02

fn mount_proc_at(i: &Inside, sys: &dyn Syscalls, target: &Path) -> anyhow::Result<()> {
    match i.config.mechanisms.mount_proc {
        Some(exercise) => Ok(exercise(target)?),
        None => Ok(crate::mounts::mount_proc(sys, target)?),
    }
}

// ANCHOR: stage03
fn bind_root(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    match i.config.mechanisms.bind_root {
        Some(exercise) => Ok(exercise(i.root()?)?),
        None => Ok(crate::rootfs::bind_onto_itself(sys, i.root()?)?),
    }
}

/// 02's /proc, mounted under the new root before pivot_root: the kernel lets a user namespace
/// mount proc only while a proc of its PID namespace's parent is visible (05).
fn mount_proc_in_root(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let proc_dir = i.root()?.join("proc");
    crate::rootfs::ensure_dir(sys, &proc_dir)?;
    mount_proc_at(i, sys, &proc_dir)
}

fn prepare_dev(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    crate::rootfs::prepare_dev(sys, i.root()?, in_userns(i))
}

fn mount_sys(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    // A new sysfs in a user namespace needs a network namespace of its own; without one, bind.
    crate::rootfs::mount_sys_readonly(sys, i.root()?, in_userns(i) && !own_netns(i))?;
    crate::rootfs::ensure_dir(sys, &i.root()?.join("tmp"))
}

fn pivot(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let root = i.root()?;
    match i.config.mechanisms.pivot_into {
        Some(exercise) => Ok(exercise(root)?),
        None => Ok(crate::rootfs::pivot_into(sys, root)?),
    }
}

fn hostname(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let name = i.config.hostname.as_deref().unwrap_or_default();
    Ok(crate::uts::set_hostname(sys, name)?)
}
// ANCHOR_END: stage03

// ANCHOR: stage07
/// The overlay is a mount of its own, so pivot_root takes its merged dir as it is: 03's bind of
/// the root onto itself is not needed.
fn mount_overlay(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let root = i.overlay.context("no overlay root")?;
    match i.config.mechanisms.mount_overlay {
        Some(exercise) => {
            crate::overlay::root::attach_idmapped_layers(root, sys)?;
            let l = &root.layer;
            exercise(&root.lower_bottom_first, &l.upper, &l.work, &root.merged)
        }
        None => crate::overlay::root::mount_in_child(root, sys),
    }
}
// ANCHOR_END: stage07

// ANCHOR: stage08
/// After pivot_root, so that the paths are the container's; while still privileged, since
/// mounting needs CAP_SYS_ADMIN, which the next step drops.
fn protect_paths(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let security = i.config.security.as_ref().context("no security settings")?;
    let root = Path::new("/");
    crate::security::paths::apply(&security.mount_plan(root), sys, root)
}

/// Last, right before execve: once the capabilities are gone nothing else could be set up. With
/// no_new_privs the seccomp filter goes in at the very end; without it, installing a filter needs
/// CAP_SYS_ADMIN, so it goes in first, before the capabilities are dropped (see
/// [`crate::security::apply_in_child_keeping`]). The AppArmor profile (on hosts that have it) is
/// asked for first: it takes effect at execve, and asking is a write to /proc that the seccomp
/// filter and a non-root user must not be in the way of.
fn drop_privileges(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let security = i.config.security.as_ref().context("no security settings")?;
    use crate::security::apparmor::AppArmor;
    let profile = match (&security.apparmor, i.tag) {
        // The demo's throwaway children have no tag, and no profile was loaded for them.
        (AppArmor::WorkshopDefault, None) => None,
        (apparmor, tag) => {
            apparmor.profile_name(&crate::container::container_name(tag.unwrap_or_default()))
        }
    };
    if let Some(profile) = profile {
        sys.apparmor_exec(&profile)?;
    }
    sys.drop_privileges(security, i.config.mechanisms.harden)
}
// ANCHOR_END: stage08

// ANCHOR: stage04
fn network(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    // The veth end the host moved in becomes eth0; without one (--rootless), loopback only.
    match (&i.config.network, i.tag) {
        (Some(net), Some(tag)) => {
            let end = crate::network::veth_names(tag).1;
            match i.config.mechanisms.network_inside {
                Some(exercise) => exercise(net, &end),
                None => sys.network_inside(net, &end),
            }
        }
        _ => sys.loopback_only(),
    }
}
// ANCHOR_END: stage04

// ANCHOR: stage05
fn become_root(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let user = i.config.user.as_ref().context("no user namespace")?;
    crate::userns::become_root_inside(sys, user)?;
    // Changing the uid clears PR_SET_PDEATHSIG (prctl(2)): set it again, so that the container
    // still dies with the stage.
    sys.set_death_signal()?;
    Ok(())
}

fn attach_idmapped_root(i: &Inside, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let tree = i.tree.context("no idmapped tree")?;
    Ok(sys.move_mount(tree, i.root()?)?)
}
// ANCHOR_END: stage05

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::Recorder;

    /// The calls a stage's container makes, as the recorder wrote them down.
    fn calls(config: &Config, idmapped: bool) -> Vec<String> {
        let devnull = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let root = overlay(config, idmapped);
        let tree = (idmapped && root.is_none()).then(|| devnull.as_fd());
        let inside = Inside { config, tree, overlay: root.as_ref(), tag: Some("abc123") };
        let sys = Recorder::new();
        run_all(&inside, &sys).unwrap();
        sys.calls()
    }

    /// What `spawn` makes for a stage-07 container before clone(2): two layers, its own dirs, and
    /// (idmapped) a tree for each layer and for its dir.
    fn overlay(config: &Config, idmapped: bool) -> Option<crate::overlay::root::OverlayRoot> {
        use crate::overlay::root::{Mapping, OverlayRoot};
        config.overlay.as_ref()?;
        let layer = crate::overlay::ContainerLayer::at(Path::new("/store"), "ws-abc123").unwrap();
        let lower_bottom_first = vec!["/store/layers/base".into(), "/store/layers/web".into()];
        let mut trees = Vec::new();
        if idmapped {
            for dir in lower_bottom_first.iter().chain([&layer.dir]) {
                let fd = std::fs::File::open("/dev/null").unwrap();
                trees.push((std::path::PathBuf::clone(dir), std::os::fd::OwnedFd::from(fd)));
            }
        }
        Some(OverlayRoot {
            merged: layer.dir.join("merged"),
            layer,
            lower_bottom_first,
            mapping: if idmapped { Mapping::Idmapped } else { Mapping::Host },
            trees,
        })
    }

    fn config(stage: Stage) -> Config {
        let mut c = Config::for_stage(stage);
        if stage >= Stage::Rootfs {
            c = c.with_rootfs("/no/such/rootfs".into()).with_hostname("box".into());
        }
        if stage >= Stage::Network {
            let block = "10.200.0.0/30".parse().unwrap();
            c = c.with_network(crate::network::NetworkConfig::single(block));
        }
        if stage >= Stage::User {
            let map = crate::userns::IdMap { inside: 0, outside: 100000, count: 65536 };
            c = c.with_user(crate::userns::UserNamespace {
                uid_map: map,
                gid_map: map,
                source: crate::userns::RangeSource::Fallback,
                deny_setgroups: false,
            });
        }
        if stage >= Stage::Overlay {
            let image = crate::overlay::Image {
                name: "web".into(),
                layers: vec![],
                config: Default::default(),
            };
            c.overlay = Some(crate::overlay::root::OverlayImage { store: "/store".into(), image });
        }
        if stage >= Stage::Security {
            let args = crate::security::SecurityArgs::default();
            c.security = Some(args.resolve(Path::new("/no/such/rootfs")).unwrap());
        }
        c
    }

    fn position(calls: &[String], prefix: &str) -> usize {
        calls
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no call starting {prefix:?} in {calls:#?}"))
    }

    #[test]
    fn stage_01_makes_no_call_inside() {
        assert!(calls(&config(Stage::Pid), false).is_empty());
    }

    #[test]
    fn stage_02_makes_mounts_private_then_mounts_proc() {
        assert_eq!(
            calls(&config(Stage::MountProc), false),
            [
                "mount(none, /, -, MS_REC | MS_PRIVATE, -)",
                "mount(proc, /proc, proc, MS_NOSUID | MS_NODEV | MS_NOEXEC, -)",
            ]
        );
    }

    #[test]
    fn stage_03_mounts_everything_under_the_new_root_before_pivot_root() {
        let c = calls(&config(Stage::Rootfs), false);
        assert_eq!(c[0], "mount(none, /, -, MS_REC | MS_PRIVATE, -)", "private first: {c:#?}");
        let bind = position(&c, "mount(/no/such/rootfs, /no/such/rootfs, -, MS_BIND | MS_REC");
        let proc_ = position(&c, "mount(proc, /no/such/rootfs/proc, proc");
        let dev = position(&c, "mount(tmpfs, /no/such/rootfs/dev, tmpfs");
        let null = position(&c, "mknod(/no/such/rootfs/dev/null, c 1:3, 666)");
        let sys = position(&c, "mount(sysfs, /no/such/rootfs/sys, sysfs, MS_RDONLY");
        let pivot = position(&c, "pivot_root(., .)");
        let chdir_root = position(&c, "chdir(/no/such/rootfs)");
        let detach = position(&c, "umount2(., MNT_DETACH)");
        let host = position(&c, "sethostname(box)");
        assert!(bind < proc_ && proc_ < dev && dev < null && null < sys, "{c:#?}");
        assert!(
            sys < chdir_root && chdir_root < pivot && pivot < detach && detach < host,
            "{c:#?}"
        );
        assert_eq!(c.last().unwrap(), "sethostname(box)");
        assert!(!c.iter().any(|x| x.starts_with("netlink")), "03 has no network: {c:#?}");
    }

    #[test]
    fn stage_04_sets_up_its_network_before_any_mount() {
        let c = calls(&config(Stage::Network), false);
        assert_eq!(c[0], "netlink: wsc-abc123 → eth0 10.200.0.2/30 via 10.200.0.1");
        assert_eq!(c[1], "mount(none, /, -, MS_REC | MS_PRIVATE, -)");
        let mut rootless = config(Stage::Network);
        rootless.network = None;
        assert_eq!(calls(&rootless, false)[0], "netlink: lo up");
    }

    #[test]
    fn stage_05_becomes_root_first_and_uses_the_idmapped_root_when_there_is_one() {
        let c = calls(&config(Stage::User), true);
        assert_eq!(
            c[..4],
            ["setresgid(0)", "setgroups([])", "setresuid(0)", "prctl(PR_SET_PDEATHSIG, SIGKILL)"]
        );
        assert!(c.contains(&"move_mount(TREE, /no/such/rootfs)".to_string()), "{c:#?}");
        assert!(!c.iter().any(|x| x.contains("MS_BIND | MS_REC")), "no plain bind: {c:#?}");
        // In a user namespace devices are bind-mounted from the host: mknod is refused there.
        assert!(
            c.contains(&"mount(/dev/null, /no/such/rootfs/dev/null, -, MS_BIND, -)".to_string())
        );
        assert!(!c.iter().any(|x| x.starts_with("mknod")), "{c:#?}");
        // Without an idmapped mount (no kernel support, or rootless): the plain bind.
        let plain = calls(&config(Stage::User), false);
        assert!(plain.iter().any(|x| x.contains("MS_BIND | MS_REC")), "{plain:#?}");
    }

    #[test]
    fn stage_07_stacks_the_layers_idmapped_and_pivots_into_the_overlay() {
        let c = calls(&config(Stage::Overlay), true);
        let private = position(&c, "mount(none, /, -, MS_REC | MS_PRIVATE, -)");
        let base = position(&c, "move_mount(TREE, /store/layers/base)");
        let web = position(&c, "move_mount(TREE, /store/layers/web)");
        let own = position(&c, "move_mount(TREE, /store/containers/ws-abc123)");
        let ovl = position(
            &c,
            "mount(overlay, /store/containers/ws-abc123/merged, overlay, 0, \
             lowerdir=/store/layers/web:/store/layers/base,\
             upperdir=/store/containers/ws-abc123/upper,\
             workdir=/store/containers/ws-abc123/work,userxattr)",
        );
        let proc_ = position(&c, "mount(proc, /store/containers/ws-abc123/merged/proc, proc");
        let pivot = position(&c, "chdir(/store/containers/ws-abc123/merged)");
        assert!(private < base && base < web && web < own && own < ovl, "{c:#?}");
        assert!(ovl < proc_ && proc_ < pivot, "{c:#?}");
        // The overlay is a mount already: no bind of the root onto itself, no 05 idmapped root.
        assert!(!c.iter().any(|x| x.contains("MS_BIND | MS_REC")), "{c:#?}");
        assert_eq!(c.iter().filter(|x| x.starts_with("move_mount")).count(), 3, "{c:#?}");
        // Without a user namespace nothing is idmapped, and overlay keeps trusted.* xattrs.
        let mut plain = config(Stage::Overlay);
        plain.user = None;
        let c = calls(&plain, false);
        assert!(c.iter().any(|x| x.starts_with("mount(overlay") && !x.contains("userxattr")));
        assert!(!c.iter().any(|x| x.starts_with("move_mount")), "{c:#?}");
    }

    #[test]
    fn stage_08_masks_paths_after_pivot_root_and_drops_privileges_last() {
        let c = calls(&config(Stage::Security), true);
        let pivot = position(&c, "pivot_root(., .)");
        let host = position(&c, "sethostname(box)");
        let masked = position(&c, "mount(/dev/null, /proc/interrupts, -, MS_BIND");
        let sys_ro = c
            .iter()
            .position(|x| x.starts_with("mount(none, /proc/sys, -, MS_RDONLY"))
            .or_else(|| c.iter().position(|x| x.contains("/proc/sys") && x.contains("MS_RDONLY")))
            .unwrap_or_else(|| panic!("/proc/sys is not made read-only: {c:#?}"));
        assert!(pivot < masked && host < masked && pivot < sys_ro, "{c:#?}");
        assert_eq!(
            c.last().unwrap(),
            "drop privileges: 14 capabilities, no_new_privs false, uid 0, seccomp Docker's default profile",
            "{c:#?}"
        );
    }

    #[test]
    fn stage_08_asks_for_its_apparmor_profile_right_before_dropping_privileges() {
        let mut c = config(Stage::Security);
        c.security.as_mut().unwrap().apparmor =
            crate::security::apparmor::AppArmor::WorkshopDefault;
        let c = calls(&c, true);
        let n = c.len();
        assert_eq!(c[n - 2], "write(/proc/self/attr/apparmor/exec, \"exec ws-abc123\")", "{c:#?}");
        assert!(c[n - 1].starts_with("drop privileges"), "{c:#?}");
    }

    #[test]
    fn each_stage_keeps_every_step_of_the_one_before() {
        let whats = |stage: Stage| {
            let c = config(stage);
            let root = overlay(&c, false);
            let inside =
                Inside { config: &c, tree: None, overlay: root.as_ref(), tag: Some("abc123") };
            plan(&inside).iter().map(|s| (s.stage, s.what)).collect::<Vec<_>>()
        };
        for pair in Stage::ALL.windows(2).filter(|p| p[1].built()) {
            let (before, after) = (whats(pair[0]), whats(pair[1]));
            for step in &before {
                // 07's overlay is a mount of its own, which pivot_root takes as it is.
                let replaced = pair[1] == Stage::Overlay
                    && step.0 == Stage::Rootfs
                    && step.1.starts_with("bind-mount the root");
                assert!(
                    after.contains(step) || replaced,
                    "{} drops {:?} of {}",
                    pair[1],
                    step.1,
                    pair[0]
                );
            }
            assert!(
                // 06 adds no step inside: the host moves the child into its cgroup before it
                // is released (see runtime::cgroup::enter). 09 adds none either: it keeps the
                // container between commands, built by the same steps (see crate::lifecycle).
                after.iter().any(|(s, _)| *s == pair[1])
                    || pair[0] == Stage::Rootfs
                    || pair[1] == Stage::Cgroups
                    || pair[1] == Stage::Lifecycle,
                "{} adds no step",
                pair[1]
            );
            for (stage, what) in &after {
                assert!(*stage <= pair[1], "{} runs {what:?} of the later {stage}", pair[1]);
            }
        }
    }
}
