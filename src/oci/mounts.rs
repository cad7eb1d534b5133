//! `mounts` of config.json: each one is a mount(2) under the new root before pivot_root, as stage
//! 03 mounted /proc, /dev and /sys; plus the devices and /dev links the specification asks every
//! runtime to provide.

use super::fail;
use crate::runtime::syscalls::Syscalls;
use anyhow::Context;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::Mount;
use std::path::{Component, Path, PathBuf};

/// A mount's options, as mount(8) reads them: flags to set, the propagation to give it after,
/// and what is left for the filesystem (`mode=755,size=65536k`).
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
}

/// Parses a mount's option list (mount(8)'s names; anything else goes to the filesystem).
pub fn parse_options(options: &[String]) -> Options {
    let mut o = Options {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
        bind: false,
        recursive: false,
    };
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "defaults" | "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "unbindable" | "runbindable") => {
                o.propagation |= match p.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                if p.starts_with('r') {
                    o.propagation |= MsFlags::MS_REC;
                }
                continue;
            }
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    o
}

/// `dest` beneath `root`, refusing a path that climbs out of it with `..`.
pub fn inside(root: &Path, dest: &Path) -> anyhow::Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in dest.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(fail(format!(
                    "mounts: the destination {} climbs out of the container's root",
                    dest.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Everything a mount needs from the host's side: where the container's cgroup directories are
/// (a `cgroup` mount on a v1 host shows them).
pub struct MountContext<'a> {
    pub root: &'a Path,
    pub cgroup_dirs: &'a [crate::cgroups::CgroupDir],
    pub cgroup_v2: bool,
}

/// Makes one mount of config.json under `cx.root`.
pub fn mount_one(cx: &MountContext, m: &Mount, sys: &dyn Syscalls) -> anyhow::Result<()> {
    let dest = inside(cx.root, m.destination())?;
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().clone().unwrap_or_default();
    let what = format!("mount {} ({})", m.destination().display(), typ);
    if opts.bind || typ == "bind" {
        let source = m.source().clone().context("a bind mount needs a source")?;
        if source.is_dir() {
            sys.create_dir_all(&dest).with_context(|| format!("{what}: mkdir"))?;
        } else {
            if let Some(parent) = dest.parent() {
                sys.create_dir_all(parent).with_context(|| format!("{what}: mkdir"))?;
            }
            if !dest.exists() {
                sys.create_file(&dest).with_context(|| format!("{what}: create"))?;
            }
        }
        let rec = if opts.recursive { MsFlags::MS_REC } else { MsFlags::empty() };
        sys.mount(Some(&source), &dest, None, MsFlags::MS_BIND | rec, None)
            .with_context(|| format!("{what}: mount --bind {}", source.display()))?;
        // A bind mount takes the source's flags; its own (ro, nosuid…) need a remount.
        let own = opts.flags & !MsFlags::MS_REMOUNT;
        if !own.is_empty() {
            sys.mount(None, &dest, None, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | own, None)
                .with_context(|| format!("{what}: remount with its options"))?;
        }
    } else if typ == "cgroup" && !cx.cgroup_v2 {
        cgroup_v1(cx, &dest, &opts, sys).with_context(|| what.clone())?;
    } else {
        sys.create_dir_all(&dest).with_context(|| format!("{what}: mkdir"))?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
        let fstype = if typ == "cgroup" { "cgroup2".to_string() } else { typ.clone() };
        let data = opts.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        sys.mount(Some(&source), &dest, Some(&fstype), opts.flags, data)
            .with_context(|| format!("{what}: mount -t {fstype}"))?;
    }
    if !opts.propagation.is_empty() {
        sys.mount(None, &dest, None, opts.propagation, None)
            .with_context(|| format!("{what}: set its propagation"))?;
    }
    Ok(())
}

// ANCHOR: cgroup_v1
/// A `cgroup` mount on a v1 host: a tmpfs with one directory per hierarchy, each the container's
/// own cgroup there bind-mounted (so that it sees its limits, and nothing of the host's tree).
fn cgroup_v1(
    cx: &MountContext,
    dest: &Path,
    opts: &Options,
    sys: &dyn Syscalls,
) -> anyhow::Result<()> {
    sys.create_dir_all(dest)?;
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys.mount(Some(Path::new("tmpfs")), dest, Some("tmpfs"), base, Some("mode=755"))
        .context("mount a tmpfs for the cgroup hierarchies")?;
    for dir in cx.cgroup_dirs {
        // /sys/fs/cgroup/cpu,cpuacct/libpod_parent/ctr → /sys/fs/cgroup/cpu,cpuacct in the container
        let Some(hierarchy) = hierarchy_name(&dir.path) else { continue };
        let target = dest.join(&hierarchy);
        sys.create_dir_all(&target)?;
        sys.mount(Some(&dir.path), &target, None, MsFlags::MS_BIND, None)
            .with_context(|| format!("bind {}", dir.path.display()))?;
        let flags =
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | base | (opts.flags & MsFlags::MS_RDONLY);
        sys.mount(None, &target, None, flags, None)?;
        for name in hierarchy.split(',').filter(|n| *n != hierarchy) {
            let _ = sys.symlink(Path::new(&hierarchy), &dest.join(name));
        }
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base;
        sys.mount(None, dest, None, flags, None).context("make the tmpfs read-only")?;
    }
    Ok(())
}
// ANCHOR_END: cgroup_v1

/// `cpu,cpuacct` from `/sys/fs/cgroup/cpu,cpuacct/a/b`.
fn hierarchy_name(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("/sys/fs/cgroup").ok()?;
    rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned())
}

/// A device node to make: path, kind, major, minor, mode, owner.
type Node = (PathBuf, SFlag, u64, u64, u32, Option<(u32, u32)>);

/// The devices every container gets (runtime spec, "Default Devices"), plus `linux.devices`: made
/// with mknod(2), or bound from the host's /dev in a user namespace, where mknod is refused.
pub fn devices(
    root: &Path,
    listed: &[oci_spec::runtime::LinuxDevice],
    in_userns: bool,
    sys: &dyn Syscalls,
) -> anyhow::Result<()> {
    let dev = root.join("dev");
    sys.create_dir_all(&dev)?;
    let mut all: Vec<Node> = crate::rootfs::DEVICES
        .iter()
        .map(|(n, ma, mi)| (PathBuf::from("/dev").join(n), SFlag::S_IFCHR, *ma, *mi, 0o666, None))
        .collect();
    for d in listed {
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            oci_spec::runtime::LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let owner = Some((d.uid().unwrap_or(0), d.gid().unwrap_or(0)));
        let mode = d.file_mode().unwrap_or(0o666);
        all.retain(|x| x.0 != *d.path());
        all.push((d.path().clone(), kind, d.major() as u64, d.minor() as u64, mode, owner));
    }
    for (path, kind, major, minor, mode, owner) in all {
        let target = inside(root, &path)?;
        if let Some(parent) = target.parent() {
            sys.create_dir_all(parent)?;
        }
        if target.symlink_metadata().is_ok() {
            if in_userns {
                continue;
            }
            let _ = std::fs::remove_file(&target);
        }
        if in_userns {
            sys.create_file(&target)?;
            sys.mount(Some(&path), &target, None, MsFlags::MS_BIND, None)
                .with_context(|| format!("bind-mount {}", path.display()))?;
            continue;
        }
        let dev = nix::sys::stat::makedev(major, minor);
        sys.mknod(&target, kind, Mode::from_bits_truncate(mode & 0o7777), dev)
            .with_context(|| format!("mknod {}", path.display()))?;
        // mknod's mode is filtered by the umask; the device's own mode is what config.json says.
        let _ = nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &target,
            Mode::from_bits_truncate(mode & 0o7777),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        );
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(
                &target,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .with_context(|| format!("chown {}", path.display()))?;
        }
    }
    // runc's /dev/core as well.
    for (link, target) in crate::rootfs::DEV_LINKS.into_iter().chain([("core", "/proc/kcore")]) {
        let path = dev.join(link);
        if path.symlink_metadata().is_err() {
            sys.symlink(Path::new(target), &path)?;
        }
    }
    // A devpts of its own (newinstance) has its own ptmx: /dev/ptmx must point at it.
    if dev.join("pts/ptmx").exists() {
        let ptmx = dev.join("ptmx");
        if ptmx.symlink_metadata().is_ok() && std::fs::read_link(&ptmx).is_err() {
            let _ = std::fs::remove_file(&ptmx);
        }
        if ptmx.symlink_metadata().is_err() {
            sys.symlink(Path::new("pts/ptmx"), &ptmx)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Options {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation_are_told_apart() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, ["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert!(!o.bind);
    }

    #[test]
    fn rbind_ro_is_a_recursive_bind_then_a_read_only_remount() {
        let o = opts(&["rbind", "ro", "nosuid"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        // A later option wins, as in mount(8).
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
    }

    #[test]
    fn a_destination_cannot_climb_out_of_the_root() {
        let root = Path::new("/b/rootfs");
        assert_eq!(inside(root, Path::new("/dev/shm")).unwrap(), Path::new("/b/rootfs/dev/shm"));
        assert!(inside(root, Path::new("/../../etc")).is_err());
    }

    #[test]
    fn the_v1_hierarchy_is_the_first_component_under_sys_fs_cgroup() {
        let p = Path::new("/sys/fs/cgroup/cpu,cpuacct/libpod_parent/x");
        assert_eq!(hierarchy_name(p).as_deref(), Some("cpu,cpuacct"));
    }
}
