//! The seams where an exercise plugs in its own version of one stage's mechanism.
//!
//! The container is always built by [`crate::container`]; at each of these points it calls the function
//! held here. Lessons use [`Mechanisms::library`]; exercise N replaces the one function stage N adds.

use nix::sched::{CloneCb, CloneFlags};
use nix::unistd::Pid;
use std::path::Path;

#[derive(Clone, Copy)]
pub struct Mechanisms {
    /// 01_pid: start the child in its new namespaces.
    pub clone_child: fn(CloneCb<'_>, CloneFlags) -> nix::Result<Pid>,
    /// 02_mount_proc: keep the container's mounts from reaching the host.
    pub make_private: fn() -> nix::Result<()>,
    /// 02_mount_proc: a proc filesystem for the container's PID namespace.
    pub mount_proc: fn(&Path) -> nix::Result<()>,
    /// 03_rootfs: switch the root of the mount namespace.
    pub pivot_into: fn(&Path) -> nix::Result<()>,
    /// 04_network: inside, turn the veth end the host moved in into a working eth0.
    pub network_inside: fn(&crate::network::NetworkConfig, &str) -> anyhow::Result<()>,
    /// 05_user: from the host, map the child's ids (uid_map, gid_map, setgroups).
    pub write_id_maps: fn(Pid, &crate::userns::UserNamespace) -> std::io::Result<()>,
}

impl Mechanisms {
    /// The library's own implementation of every mechanism.
    pub fn library() -> Self {
        Mechanisms {
            clone_child: crate::namespaces::clone_child,
            make_private: crate::mounts::make_private,
            mount_proc: crate::mounts::mount_proc,
            pivot_into: crate::rootfs::pivot_into,
            network_inside: crate::network::inside,
            write_id_maps: crate::userns::write_id_maps,
        }
    }
}

impl Default for Mechanisms {
    fn default() -> Self {
        Self::library()
    }
}
