//! User namespace: root inside, an ordinary user outside. See user_namespaces(7).
//!
//! A new user namespace starts with no mapping: its processes run as the overflow uid (65534,
//! "nobody") until a process outside writes /proc/PID/uid_map and gid_map. That is why the *parent*
//! writes the maps, through the sync channel, while the child waits: only then does the child become
//! uid 0 inside, which is an unprivileged uid on the host.

use anyhow::{bail, Context};
use nix::unistd::Pid;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One line of uid_map or gid_map: `inside outside count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// Where the container's ids come from, for the narration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeSource {
    /// A subordinate range of this user in /etc/subuid and /etc/subgid.
    Subordinate(String),
    /// No subordinate range: the workshop's fallback, the range useradd gives the first user.
    Fallback,
    /// `--rootless`: only the caller's own uid, mapped to root.
    OwnIdOnly,
}

/// The user namespace a container gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserNamespace {
    pub uid_map: IdMap,
    pub gid_map: IdMap,
    pub source: RangeSource,
    /// Write "deny" to /proc/PID/setgroups first: the kernel requires it before an unprivileged
    /// process may write gid_map (since Linux 3.19, see user_namespaces(7)).
    pub deny_setgroups: bool,
}

/// The workshop's fallback range when the user has none in /etc/subuid.
pub const FALLBACK_RANGE: (u32, u32) = (100_000, 65_536);

/// Finds `user`'s first subordinate range in /etc/subuid or /etc/subgid text (`name:start:count`,
/// where name may also be the numeric uid).
pub fn parse_subid(text: &str, user: &str, uid: Option<u32>) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (name, start, count) = (f.next()?, f.next()?, f.next()?);
        let matches = name == user || uid.is_some_and(|u| name == u.to_string());
        matches.then_some(())?;
        Some((start.parse().ok()?, count.parse().ok()?))
    })
}

impl UserNamespace {
    /// A container run by root: the subordinate range of `remap_user` (Docker's `--userns-remap`), or
    /// of the user who ran sudo, or of root; the fallback range when none of them has one.
    pub fn for_root(remap_user: Option<&str>) -> anyhow::Result<UserNamespace> {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let (subuid, subgid) = (read("/etc/subuid"), read("/etc/subgid"));
        if let Some(user) = remap_user {
            let pw = nix::unistd::User::from_name(user).ok().flatten();
            let uid = pw.as_ref().map(|p| p.uid.as_raw());
            let (Some(u), Some(g)) =
                (parse_subid(&subuid, user, uid), parse_subid(&subgid, user, uid))
            else {
                bail!(
                    "--userns-remap {user}: no subordinate uid and gid range for {user} in /etc/subuid and /etc/subgid; \
                     add one with `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`"
                );
            };
            return Ok(Self::from_ranges(u, g, RangeSource::Subordinate(user.to_string())));
        }
        let candidates = [std::env::var("SUDO_USER").ok(), Some("root".to_string())];
        for user in candidates.into_iter().flatten() {
            let uid = nix::unistd::User::from_name(&user).ok().flatten().map(|p| p.uid.as_raw());
            if let (Some(u), Some(g)) =
                (parse_subid(&subuid, &user, uid), parse_subid(&subgid, &user, uid))
            {
                return Ok(Self::from_ranges(u, g, RangeSource::Subordinate(user)));
            }
        }
        Ok(Self::from_ranges(FALLBACK_RANGE, FALLBACK_RANGE, RangeSource::Fallback))
    }

    fn from_ranges(uids: (u32, u32), gids: (u32, u32), source: RangeSource) -> UserNamespace {
        UserNamespace {
            uid_map: IdMap { inside: 0, outside: uids.0, count: uids.1 },
            gid_map: IdMap { inside: 0, outside: gids.0, count: gids.1 },
            source,
            deny_setgroups: false,
        }
    }

    /// `--rootless`: an ordinary user may map only its own uid and gid, and only after denying
    /// setgroups. The container then has exactly one user: root, which is the caller outside.
    pub fn rootless() -> UserNamespace {
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        UserNamespace {
            uid_map: IdMap { inside: 0, outside: uid, count: 1 },
            gid_map: IdMap { inside: 0, outside: gid, count: 1 },
            source: RangeSource::OwnIdOnly,
            deny_setgroups: true,
        }
    }
}

// ANCHOR: write_id_maps
/// Writes the child's uid_map and gid_map from outside (the same as `newuidmap`/`newgidmap`, or what
/// `unshare --map-root-user` does for its own child). Each file can be written once, in one write.
pub fn write_id_maps(pid: Pid, user: &UserNamespace) -> std::io::Result<()> {
    if user.deny_setgroups {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("{}\n", user.uid_map))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format!("{}\n", user.gid_map))
}
// ANCHOR_END: write_id_maps

// ANCHOR: become_root
/// In the child, once the maps are written: become uid and gid 0 of the namespace. Until now the
/// child kept the host credentials it was cloned with, which mean nothing in here.
pub fn become_root_inside(
    sys: &dyn crate::runtime::syscalls::Syscalls,
    user: &UserNamespace,
) -> nix::Result<()> {
    sys.setresgid(0)?;
    if !user.deny_setgroups {
        // Drop the host's supplementary groups; with setgroups denied they cannot be changed.
        sys.setgroups_none()?;
    }
    sys.setresuid(0)
}
// ANCHOR_END: become_root

/// The uid a process runs as on the host, from /proc/PID/status (the second field is the effective uid).
pub fn host_uid(pid: Pid) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

// ANCHOR: idmapped_tree
/// A detached copy of the mount at `dir` whose file owners are shifted through `user`'s mapping:
/// files the host's root owns appear owned by the container's root, without changing one byte on
/// disk (an idmapped mount, Linux 5.12+, see mount_setattr(2)). The mapping is taken from a helper
/// user namespace made just for this, since the container's own does not exist yet.
pub fn idmapped_tree(dir: &Path, user: &UserNamespace) -> anyhow::Result<OwnedFd> {
    let userns =
        mapping_namespace(user).context("make a user namespace to take the mapping from")?;
    idmapped_tree_with(dir, userns.as_fd())
}

/// [`idmapped_tree`] of each of `dirs`, with one helper namespace for all (07's image layers).
pub fn idmapped_trees(dirs: &[&Path], user: &UserNamespace) -> anyhow::Result<Vec<OwnedFd>> {
    let userns =
        mapping_namespace(user).context("make a user namespace to take the mapping from")?;
    dirs.iter()
        .map(|d| {
            idmapped_tree_with(d, userns.as_fd())
                .with_context(|| format!("make an idmapped mount of {}", d.display()))
        })
        .collect()
}

fn idmapped_tree_with(dir: &Path, userns: std::os::fd::BorrowedFd<'_>) -> anyhow::Result<OwnedFd> {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())?;
    // SAFETY: open_tree takes a valid C string and flags; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open_tree(OPEN_TREE_CLONE)");
    }
    // SAFETY: fd was just returned by open_tree and is owned by nobody else.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        // Private: on a host whose / is shared (every systemd machine) a clone of the tree would
        // join the host's peer group, and the container's mounts under it would appear on the host.
        propagation: libc::MS_PRIVATE,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let empty = c"";
    // SAFETY: tree is a valid mount fd, attr points to a properly sized mount_attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | AT_RECURSIVE as libc::c_int,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()).context("mount_setattr(MOUNT_ATTR_IDMAP)");
    }
    Ok(tree)
}
// ANCHOR_END: idmapped_tree

/// Attaches a detached tree (from [`idmapped_tree`]) at `target`, in the caller's mount namespace.
pub fn move_mount_tree(tree: std::os::fd::BorrowedFd<'_>, target: &Path) -> std::io::Result<()> {
    let target = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())?;
    // SAFETY: tree is a valid mount fd and target a valid C string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A user namespace with `user`'s mapping, held by a short-lived child; returns its /proc/PID/ns/user fd.
fn mapping_namespace(user: &UserNamespace) -> anyhow::Result<OwnedFd> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (rx_raw, tx_raw) = (rx.as_raw_fd(), tx.as_raw_fd());
    let child = Box::new(move || {
        // Our copy of the write end would keep the read below from ever seeing the parent go.
        let _ = nix::unistd::close(tx_raw);
        // SAFETY: rx_raw is open in this child; block until the parent closes its end.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(rx_raw) };
        let _ = nix::unistd::read(fd, &mut [0u8; 1]);
        0
    });
    let pid = crate::namespaces::clone_child(child, nix::sched::CloneFlags::CLONE_NEWUSER)?;
    drop(rx);
    let result = write_id_maps(pid, user)
        .context("write the helper's id maps")
        .and_then(|()| Ok(OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/user"))?)));
    drop(tx);
    while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(pid, None) {}
    result
}

/// Whether this kernel has idmapped mounts (mount_setattr(2), Linux 5.12+).
/// Why `dir` cannot be attached through an idmapped mount here, or `None` when it can: that needs
/// real root, a kernel with mount_setattr(2) (5.12+) and a filesystem that supports it (ext4, xfs,
/// btrfs…; tmpfs only from 6.3). `WORKSHOP_NO_IDMAP=1` turns it off, to see the plain mapping. The
/// filesystem is asked once per directory, by making one idmapped tree and throwing it away.
pub fn idmap_unavailable(dir: &Path, user: &UserNamespace) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    if std::env::var_os("WORKSHOP_NO_IDMAP").is_some_and(|v| v == "1") {
        return Some("WORKSHOP_NO_IDMAP=1 turned idmapped mounts off".into());
    }
    if !crate::privileges::is_root() {
        return Some("only a real root can make an idmapped mount".into());
    }
    if !kernel_has_idmapped_mounts() {
        return Some("this kernel has no idmapped mounts (Linux 5.12+)".into());
    }
    static ASKED: OnceLock<Mutex<HashMap<std::path::PathBuf, Option<String>>>> = OnceLock::new();
    let mut asked = ASKED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    asked
        .entry(dir.to_path_buf())
        .or_insert_with(|| {
            idmapped_tree(dir, user).err().map(|e| {
                format!(
                    "the filesystem holding {} cannot be idmapped ({})",
                    dir.display(),
                    crate::lesson::one_line(&e)
                )
            })
        })
        .clone()
}

pub fn kernel_has_idmapped_mounts() -> bool {
    // SAFETY: an invalid fd makes mount_setattr fail with EBADF when it exists, ENOSYS when not.
    let rc = unsafe {
        libc::syscall(libc::SYS_mount_setattr, -1, c"".as_ptr(), 0, std::ptr::null::<u8>(), 0)
    };
    !(rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_are_inside_outside_count() {
        assert_eq!(
            IdMap { inside: 0, outside: 100000, count: 65536 }.to_string(),
            "0 100000 65536"
        );
    }

    #[test]
    fn finds_subordinate_ranges_by_name_or_uid() {
        let text = "alice:100000:65536\n1001:200000:65536\nbob:300000:1000\n";
        assert_eq!(parse_subid(text, "alice", Some(1000)), Some((100000, 65536)));
        assert_eq!(parse_subid(text, "carol", Some(1001)), Some((200000, 65536)));
        assert_eq!(parse_subid(text, "dave", Some(1002)), None);
        assert_eq!(parse_subid("broken line\n", "broken line", None), None);
    }

    #[test]
    fn rootless_maps_only_the_callers_own_ids_and_denies_setgroups() {
        let u = UserNamespace::rootless();
        assert_eq!(u.uid_map.count, 1);
        assert_eq!(u.uid_map.outside, nix::unistd::getuid().as_raw());
        assert!(u.deny_setgroups);
    }

    #[test]
    fn an_unknown_remap_user_is_one_clear_error() {
        let e = UserNamespace::for_root(Some("no-such-user-here")).unwrap_err().to_string();
        assert!(e.contains("no-such-user-here") && e.contains("usermod"), "{e}");
    }
}
