//! Mount namespace, private propagation and a fresh /proc.
//!
//! A new mount namespace starts as a copy of the parent's mount table, but mounts on a *shared* mount
//! propagate back to the host (systemd makes `/` shared). So the very first thing a container does in
//! its mount namespace is mark every mount private; only then does it mount anything.
//! See mount_namespaces(7) and mount(2).

use crate::runtime::syscalls::Syscalls;
use nix::mount::MsFlags;
use std::path::Path;

// ANCHOR: make_private
/// Marks every mount in this mount namespace private, so nothing mounted here reaches the host.
/// The same as `mount --make-rprivate /`.
pub fn make_private(sys: &dyn Syscalls) -> nix::Result<()> {
    sys.mount(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
}
// ANCHOR_END: make_private

// ANCHOR: mount_proc
/// Mounts a new proc filesystem at `target`. It shows the PID namespace of the process that mounts it,
/// so `ps` inside lists only the container's processes. The same as `mount -t proc proc /proc`.
pub fn mount_proc(sys: &dyn Syscalls, target: &Path) -> nix::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys.mount(Some(Path::new("proc")), target, Some("proc"), flags, None)
}
// ANCHOR_END: mount_proc

/// One line of /proc/PID/mountinfo, reduced to what identifies a mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    pub propagation: String,
}

/// Parses mountinfo(5) text.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let propagation = l
                .get(6..)
                .map(|tags| tags.join(" "))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "private".into());
            Some(MountEntry {
                mount_point: l.get(4)?.to_string(),
                fs_type: r.first()?.to_string(),
                source: r.get(1)?.to_string(),
                propagation,
            })
        })
        .collect()
}

/// The host's mount table as this process sees it.
pub fn host_mounts() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// The propagation of the mount at `/`, as `findmnt -o PROPAGATION /` shows it.
pub fn root_propagation() -> String {
    host_mounts()
        .ok()
        .and_then(|m| m.into_iter().rev().find(|e| e.mount_point == "/"))
        .map(|e| if e.propagation.contains("shared") { "shared".into() } else { "private".into() })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
";

    #[test]
    fn parses_mount_points_types_and_propagation() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/proc");
        assert_eq!(m[0].fs_type, "proc");
        assert_eq!(m[0].propagation, "shared:5");
        assert_eq!(m[1].mount_point, "/");
        assert_eq!(m[1].source, "/dev/vda");
        assert_eq!(m[1].propagation, "private");
    }
}
