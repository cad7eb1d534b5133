//! The seams where an exercise plugs in its own version of one stage's mechanism.
//!
//! The container is always built by [`crate::container`] and [`crate::runtime::steps`]; at each of
//! these points they call the student's function when one is set, and the library's own otherwise.
//! Lessons use [`Mechanisms::library`]; exercise N sets the one function stage N adds. A student's
//! function calls the kernel through nix directly, as the book's code does; the library's go through
//! [`crate::runtime::syscalls::Syscalls`] so that their order can be tested without root.

use nix::sched::{CloneCb, CloneFlags};
use nix::unistd::Pid;
use std::path::Path;

#[derive(Clone, Copy, Default)]
pub struct Mechanisms {
    /// 01_pid: start the child in its new namespaces.
    pub clone_child: Option<fn(CloneCb<'_>, CloneFlags) -> nix::Result<Pid>>,
    /// 02_mount_proc: keep the container's mounts from reaching the host.
    pub make_private: Option<fn() -> nix::Result<()>>,
    /// 02_mount_proc: a proc filesystem for the container's PID namespace.
    pub mount_proc: Option<fn(&Path) -> nix::Result<()>>,
    /// 03_rootfs: make the root filesystem's directory a mount point (a bind onto itself), which
    /// pivot_root(2) needs; the student meets its EINVAL by leaving it out.
    pub bind_root: Option<fn(&Path) -> nix::Result<()>>,
    /// 03_rootfs: switch the root of the mount namespace.
    pub pivot_into: Option<fn(&Path) -> nix::Result<()>>,
    /// 04_network: inside, turn the veth end the host moved in into a working eth0.
    pub network_inside: Option<fn(&crate::network::NetworkConfig, &str) -> anyhow::Result<()>>,
    /// 05_user: from the host, map the child's ids (uid_map, gid_map, setgroups).
    pub write_id_maps: Option<fn(Pid, &crate::userns::UserNamespace) -> std::io::Result<()>>,
    /// 06_cgroups: from the host, write the memory controller's limit files into the container's
    /// cgroup (the other controllers' are written already), then move the waiting child into it.
    pub limit_memory_and_join: Option<LimitAndJoin>,
    /// 07_overlay: in the child, with its mounts private, mount an overlay at the last path whose
    /// lower layers are the first (given bottom first, as an image lists them), with the upper and
    /// work dirs given.
    pub mount_overlay: Option<MountOverlay>,
    /// 08_security: in the child, as root, after the masked paths: keep only these capabilities
    /// (bounding set first, then the others), set no_new_privs when asked, and install the seccomp
    /// filter, in an order that works with and without no_new_privs.
    pub harden: Option<crate::security::Harden>,
    /// 09_lifecycle: in `exec`'s forked joiner, join each namespace of the running container
    /// (given as /proc/PID/ns lists them, by name), the user namespace first, and become its root.
    pub join_namespaces: Option<JoinNamespaces>,
}

/// 09_lifecycle: the container's namespaces, each with its name, its flag and an open descriptor.
pub type JoinNamespaces = fn(&[crate::lifecycle::exec::Namespace<'_>]) -> anyhow::Result<()>;

/// 07_overlay: (the layers bottom first, the upper dir, the work dir, where to mount).
pub type MountOverlay = fn(&[std::path::PathBuf], &Path, &Path, &Path) -> anyhow::Result<()>;

/// 06_cgroups: (the container's cgroup, the memory controller's writes, the waiting child).
pub type LimitAndJoin =
    fn(&crate::cgroups::Cgroup, &[crate::cgroups::Write], Pid) -> anyhow::Result<()>;

impl Mechanisms {
    /// The library's own implementation of every mechanism.
    pub fn library() -> Self {
        Self::default()
    }
}
