//! A root filesystem of the container's own: pivot_root(2) into it, then give it /proc, /dev, /sys.
//!
//! chroot(2) only changes how one process resolves `/`; the host's whole tree stays in the mount
//! namespace, and a root process can climb back out (see [`chroot_escape`]). pivot_root(2) instead
//! swaps the root *mount* of the mount namespace; after the old root is detached, the host's files are
//! no longer reachable at all. See pivot_root(2), and chroot(2) for why it is not a security boundary.

use crate::runtime::syscalls::Syscalls;
use anyhow::Context;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{makedev, Mode, SFlag};
use nix::unistd::chdir;
use std::path::Path;

// ANCHOR: bind_self
/// pivot_root(2) needs the new root to be a mount point (otherwise EBUSY or EINVAL). Bind-mounting a directory
/// onto itself makes it one. The same as `mount --bind DIR DIR`.
pub fn bind_onto_itself(sys: &dyn Syscalls, dir: &Path) -> nix::Result<()> {
    sys.mount(Some(dir), dir, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
}
// ANCHOR_END: bind_self

// ANCHOR: pivot_into
/// Makes `new_root` the root of this mount namespace and detaches the old root.
///
/// `pivot_root(".", ".")` stacks the old root on top of the new one at `/`; unmounting `.` with
/// MNT_DETACH then removes the old root from the namespace without needing a `put_old` directory.
/// `new_root` must already be a mount point ([`bind_onto_itself`]) and `/` must not be shared
/// ([`crate::mounts::make_private`]), or the kernel answers EBUSY or EINVAL.
pub fn pivot_into(sys: &dyn Syscalls, new_root: &Path) -> nix::Result<()> {
    let here = Path::new(".");
    sys.chdir(new_root)?;
    sys.pivot_root(here, here)?;
    sys.umount2(here, MntFlags::MNT_DETACH)?;
    sys.chdir(Path::new("/"))
}
// ANCHOR_END: pivot_into

/// The device nodes every container gets, as in the OCI runtime spec: (name, major, minor).
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The links every /dev has, to this process's descriptors: `/dev/fd`, `/dev/stdin`, …
pub const DEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

// ANCHOR: prepare_dev
/// A minimal /dev under `root`: a tmpfs with the six standard devices, a private devpts for
/// terminals and a tmpfs at /dev/shm. The host's /dev (disks, consoles) is not there.
///
/// In a user namespace mknod(2) is refused (a device node would bypass the host's permissions), so
/// there each device is bind-mounted from the host's /dev instead, as rootless Docker does.
pub fn prepare_dev(sys: &dyn Syscalls, root: &Path, in_user_namespace: bool) -> anyhow::Result<()> {
    let dev = root.join("dev");
    ensure_dir(sys, &dev)?;
    let tmpfs = Some(Path::new("tmpfs"));
    sys.mount(tmpfs, &dev, Some("tmpfs"), MsFlags::MS_NOSUID, Some("mode=755,size=64k"))
        .context("mount tmpfs on /dev")?;
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        if in_user_namespace {
            sys.create_file(&path)?;
            let host = Path::new("/dev").join(name);
            sys.mount(Some(&host), &path, None, MsFlags::MS_BIND, None)
                .with_context(|| format!("bind-mount /dev/{name}"))?;
            continue;
        }
        let mode = Mode::from_bits_truncate(0o666);
        sys.mknod(&path, SFlag::S_IFCHR, mode, makedev(major, minor))
            .with_context(|| format!("mknod /dev/{name}"))?;
    }
    let pts = dev.join("pts");
    sys.create_dir_all(&pts)?;
    sys.mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .context("mount devpts on /dev/pts")?;
    sys.symlink(Path::new("pts/ptmx"), &dev.join("ptmx"))?;
    let shm = dev.join("shm");
    sys.create_dir_all(&shm)?;
    sys.mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=64m"),
    )
    .context("mount tmpfs on /dev/shm")?;
    for (link, target) in DEV_LINKS {
        sys.symlink(Path::new(target), &dev.join(link))?;
    }
    Ok(())
}
// ANCHOR_END: prepare_dev

/// /sys under `root`, read-only: the container may look at the kernel's objects but not change them.
///
/// A new sysfs shows the network devices of the mounting process's network namespace, so the kernel
/// allows it in a user namespace only together with a network namespace of its own. Without one
/// (`--rootless` before stage 04) the host's /sys is bind-mounted read-only instead.
pub fn mount_sys_readonly(
    sys: &dyn Syscalls,
    root: &Path,
    bind_from_host: bool,
) -> anyhow::Result<()> {
    let target = root.join("sys");
    ensure_dir(sys, &target)?;
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if bind_from_host {
        let rbind = MsFlags::MS_BIND | MsFlags::MS_REC;
        sys.mount(Some(Path::new("/sys")), &target, None, rbind, None)
            .context("bind-mount /sys")?;
        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags;
        return sys.mount(None, &target, None, remount, None).context("make /sys read-only");
    }
    sys.mount(Some(Path::new("sysfs")), &target, Some("sysfs"), flags, None)
        .context("mount sysfs read-only on /sys")
}

/// Creates a mount point the root filesystem lacks (an exported Docker image may have no /proc).
pub fn ensure_dir(sys: &dyn Syscalls, dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        sys.create_dir_all(dir).with_context(|| format!("create mount point {}", dir.display()))?;
    }
    Ok(())
}

/// The classic chroot escape, for the demo: a root process in a chroot chroots again into a
/// subdirectory, keeps its working directory *outside* that new root, and climbs `..` past it; the
/// kernel only stops `..` at the process's root, which it is no longer under. Returns what the process
/// sees as `/` afterwards, read through `probe`.
///
/// Runs in the calling process: call it only in a throwaway child in its own mount namespace.
pub fn chroot_escape(probe: &Path) -> nix::Result<bool> {
    nix::unistd::chroot("tmp")?;
    for _ in 0..64 {
        chdir("..")?;
    }
    nix::unistd::chroot(".")?;
    Ok(probe.exists())
}
