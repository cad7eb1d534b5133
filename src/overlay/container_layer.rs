//! Each container's own writable layer: an upper dir for its changes and overlay's work dir.
//!
//! `<state>/containers/<id>/upper` receives every file the container writes, creates or deletes (as a
//! whiteout); `<state>/containers/<id>/work` is overlay's scratch space, where a copy-up is prepared
//! before it is renamed into the upper dir in one atomic step. That rename is why the two must be on
//! the same filesystem (the kernel refuses otherwise), and why the work dir must be empty and not
//! shared with another mount.
//!
//! The upper dir must be on a filesystem that supports what overlay writes there: whiteouts (device
//! nodes 0/0), `trusted.*` or `user.*` xattrs, `RENAME_WHITEOUT` and `O_TMPFILE`. ext4, xfs, btrfs and
//! tmpfs do; another overlay does not (nor NFS or FAT), so the state directory cannot live inside a
//! container's root or a Docker container's filesystem.

use anyhow::{bail, Context};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One container's upper and work dirs, as recorded in the resource record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerLayer {
    pub id: String,
    /// `<state>/containers/<id>`: removing it removes both.
    pub dir: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// statfs(2) magic numbers of the filesystems worth naming (see statfs(2) and linux/magic.h).
const FILESYSTEMS: &[(i64, &str, bool)] = &[
    (0xEF53, "ext4", true),
    (0x58465342, "xfs", true),
    (0x9123683E, "btrfs", true),
    (0x01021994, "tmpfs", true),
    (0x2FC12FC1, "zfs", true),
    (0x794c7630, "overlay", false),
    (0x6969, "nfs", false),
    (0x4d44, "vfat", false),
    (0x65735546, "fuse", false),
    (0x01021997, "9p", false),
];

/// The filesystem a path is on, by name, and whether overlay can use it as an upper dir.
pub fn filesystem_of(path: &Path) -> anyhow::Result<(String, bool)> {
    let st =
        nix::sys::statfs::statfs(path).with_context(|| format!("statfs {}", path.display()))?;
    let magic = st.filesystem_type().0 as i64;
    Ok(FILESYSTEMS
        .iter()
        .find(|(m, _, _)| *m == magic)
        .map(|(_, name, ok)| (name.to_string(), *ok))
        // Unknown filesystems are let through: the kernel has the last word, and its error is shown.
        .unwrap_or_else(|| (format!("filesystem 0x{magic:x}"), true)))
}

/// One clear error when `state_root`'s filesystem cannot hold an upper dir.
pub fn check_upper_filesystem(state_root: &Path) -> anyhow::Result<()> {
    let (name, ok) = filesystem_of(state_root)?;
    if !ok {
        bail!(
            "the state directory {} is on {name}, which overlayfs cannot use for an upper dir \
             (it needs whiteouts, xattrs and atomic renames): put the state directory on ext4, \
             xfs, btrfs or tmpfs",
            state_root.display()
        );
    }
    Ok(())
}

/// A container id is a plain file name.
fn check_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.starts_with('.') || id.contains('/') || id.contains('\0') {
        bail!("{id:?} cannot be a container id");
    }
    Ok(())
}

impl ContainerLayer {
    /// Where container `id`'s dirs are (or would be), without creating anything.
    pub fn at(state_root: &Path, id: &str) -> anyhow::Result<ContainerLayer> {
        check_id(id)?;
        let dir = state_root.join("containers").join(id);
        Ok(ContainerLayer {
            id: id.to_string(),
            upper: dir.join("upper"),
            work: dir.join("work"),
            dir,
        })
    }

    /// Creates `<state>/containers/<id>/{upper,work}`, after checking the filesystem can hold an
    /// upper dir and that both are on the same one (stat's st_dev).
    pub fn create(state_root: &Path, id: &str) -> anyhow::Result<ContainerLayer> {
        let layer = ContainerLayer::at(state_root, id)?;
        // Check before creating anything: the nearest existing ancestor is where the dirs would go.
        let existing = state_root.ancestors().find(|a| a.exists()).unwrap_or(Path::new("/"));
        check_upper_filesystem(existing)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(state_root.join("containers"))
            .with_context(|| format!("creating {}", state_root.display()))?;
        fs::DirBuilder::new().mode(0o700).create(&layer.dir).with_context(|| {
            format!("creating {} (is container {id} already there?)", layer.dir.display())
        })?;
        let made = (|| {
            // The upper dir becomes the merged root's own inode: 0755 like any `/`.
            fs::DirBuilder::new().mode(0o755).create(&layer.upper)?;
            fs::set_permissions(&layer.upper, fs::Permissions::from_mode(0o755))?;
            fs::DirBuilder::new().mode(0o700).create(&layer.work)?;
            layer.check_same_filesystem()
        })();
        if let Err(e) = made {
            let _ = layer.remove();
            return Err(e);
        }
        Ok(layer)
    }

    /// Overlay prepares each copy-up in the work dir and renames it into the upper dir: rename(2)
    /// cannot cross filesystems, so the kernel refuses a work dir on another one.
    pub fn check_same_filesystem(&self) -> anyhow::Result<()> {
        let upper = fs::metadata(&self.upper)?.dev();
        let work = fs::metadata(&self.work)?.dev();
        if upper != work {
            bail!(
                "the work dir {} is on another filesystem than the upper dir {}: overlay renames \
                 from one to the other, so they must be on the same one",
                self.work.display(),
                self.upper.display()
            );
        }
        Ok(())
    }

    /// Hands the dirs to the container's root as the host sees it (`user`'s mapped root, 100000 say):
    /// in a user namespace the overlay is mounted, and its copy-ups written, with that root's
    /// credentials, which must be able to write the upper and work dirs.
    ///
    /// That is not enough for the layers: their files are root's on the host, unmapped in such a
    /// namespace, so a copy-up (which keeps the owner) fails with EOVERFLOW and root-owned 0755
    /// directories refuse with EACCES (tests/overlay_kernel.rs shows both). Mount each layer
    /// idmapped ([`crate::userns::idmapped_tree`]) before stacking them, or map host root in.
    pub fn give_to(&self, uid: u32, gid: u32) -> anyhow::Result<()> {
        for p in [&self.dir, &self.upper, &self.work] {
            std::os::unix::fs::lchown(p, Some(uid), Some(gid))
                .with_context(|| format!("chown {uid}:{gid} {}", p.display()))?;
        }
        Ok(())
    }

    /// Removes the container's dirs. Safe to call twice, and after a crash: what is gone is gone.
    pub fn remove(&self) -> anyhow::Result<()> {
        remove_tree(&self.dir).with_context(|| format!("removing {}", self.dir.display()))
    }
}

/// `rm -rf`, including overlay's `work/work` (mode 000, which a non-root owner must first chmod).
/// A missing path is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_dirs_writable(path)?;
            fs::remove_dir_all(path)
        }
        r => r,
    }
}

fn make_dirs_writable(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o700))?;
        for entry in fs::read_dir(path)? {
            make_dirs_writable(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_the_containers_dir() {
        assert!(ContainerLayer::at(Path::new("/run/w"), "../x").is_err());
        assert!(ContainerLayer::at(Path::new("/run/w"), "a/b").is_err());
        let c = ContainerLayer::at(Path::new("/run/w"), "c1").unwrap();
        assert_eq!(c.upper, Path::new("/run/w/containers/c1/upper"));
        assert_eq!(c.work, Path::new("/run/w/containers/c1/work"));
    }
}
