//! Unpacking a layer's tar stream into a directory, refusing anything that would write outside it.
//!
//! A tarball is untrusted input: an entry named `/etc/passwd` or `../../etc/passwd`, a symlink `a -> /etc`
//! followed by an entry `a/passwd`, or a hard link to `/etc/shadow` would all write on the host if
//! unpacked naively. The rules here:
//! - an entry's path is relative, made of plain names only: an absolute path or a `..` is refused;
//! - nothing is ever written through a symlink: every parent of an entry must be a real directory in the
//!   layer (a symlink in the way is refused), and files are created with `O_NOFOLLOW | O_EXCL`;
//! - a symlink may point anywhere *absolute* (inside the container `/bin/sh -> /bin/busybox` resolves
//!   in the container's root, and the unpacker never follows it), but a *relative* target that climbs
//!   above the layer's root (`../../../etc`) is refused;
//! - a hard link must name another entry already in the layer;
//! - device nodes only when running as root (mknod(2) needs CAP_MKNOD), otherwise one clear error.
//!
//! Owners are restored only as root (lchown needs CAP_CHOWN); the mode is applied after the owner,
//! because chown(2) clears the setuid bit. Extended attributes are not restored.

use anyhow::{bail, Context};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// An entry's path, checked: relative, plain names only. `./` (the archive's root) gives an empty path.
pub fn checked_entry_path(raw: &Path) -> anyhow::Result<PathBuf> {
    let mut clean = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                bail!("refused: the tar entry {} has an absolute path", raw.display())
            }
            Component::ParentDir => {
                bail!("refused: the tar entry {} climbs out with `..`", raw.display())
            }
        }
    }
    Ok(clean)
}

/// Checks a symlink's target: absolute targets resolve inside the container's root and are allowed;
/// relative ones must stay within the layer when resolved from the link's own directory.
pub fn check_symlink_target(link: &Path, target: &Path) -> anyhow::Result<()> {
    if target.is_absolute() {
        return Ok(());
    }
    // Depth of the directory holding the link, then walk the target from there.
    let mut depth = link.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            bail!(
                "refused: the symlink {} -> {} leads outside the layer",
                link.display(),
                target.display()
            );
        }
    }
    Ok(())
}

/// Makes sure every parent of `rel` inside `root` is a real directory (creating missing ones), so that
/// nothing below is ever written through a symlink.
fn real_parent_dirs(root: &Path, rel: &Path) -> anyhow::Result<()> {
    let mut here = root.to_path_buf();
    let parents: Vec<_> = rel.parent().map(|p| p.components().collect()).unwrap_or_default();
    for c in parents {
        here.push(c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => bail!(
                "refused: {} passes through the symlink {}, which could lead outside the layer",
                rel.display(),
                here.strip_prefix(root).unwrap_or(&here).display()
            ),
            Ok(_) => bail!("refused: {} is inside a file that is not a directory", rel.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new().mode(0o755).create(&here)?;
            }
            Err(e) => return Err(e).with_context(|| format!("looking at {}", here.display())),
        }
    }
    Ok(())
}

/// Removes what an earlier entry put at `path` (a later entry of the same name replaces it, as tar
/// does), but never a directory: a directory entry over a directory only updates its mode.
fn clear_non_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_dir() => fs::remove_file(path),
        _ => Ok(()),
    }
}

/// Unpacks a tar stream into `dest` (an existing, empty directory) with the rules above. Returns the
/// reader again, so that the caller can hash whatever follows the archive's end marker too.
pub fn unpack<R: Read>(reader: R, dest: &Path) -> anyhow::Result<R> {
    unpack_as(reader, dest, nix::unistd::Uid::effective().is_root())
}

/// [`unpack`], saying whether to act as root (create device nodes, restore owners).
fn unpack_as<R: Read>(reader: R, dest: &Path, root: bool) -> anyhow::Result<R> {
    let mut archive = tar::Archive::new(reader);
    // Directory modes are applied last: a read-only directory must still receive its entries.
    let mut dir_modes: BTreeMap<PathBuf, (u32, u32, u32)> = BTreeMap::new();
    for entry in archive.entries().context("reading the tar stream")? {
        let mut entry = entry.context("reading the tar stream")?;
        let header = entry.header().clone();
        let raw = entry.path().context("a tar entry's name")?.into_owned();
        let rel = checked_entry_path(&raw)?;
        let kind = header.entry_type();
        if rel.as_os_str().is_empty() {
            if kind.is_dir() {
                dir_modes.insert(rel, owner_mode(&header)?);
            }
            continue;
        }
        real_parent_dirs(dest, &rel)?;
        let path = dest.join(&rel);
        let (uid, gid, mode) = owner_mode(&header)?;
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous => {
                clear_non_dir(&path)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .with_context(|| format!("creating {}", rel.display()))?;
                io::copy(&mut entry, &mut file)?;
                drop(file);
                set_owner_mode(&path, root, uid, gid, Some(mode))?;
            }
            T::Directory => {
                clear_non_dir(&path)?;
                if !path.is_dir() {
                    fs::DirBuilder::new().mode(0o755).create(&path)?;
                }
                dir_modes.insert(rel, (uid, gid, mode));
            }
            T::Symlink => {
                let target = entry.link_name()?.context("a symlink without a target")?.into_owned();
                check_symlink_target(&rel, &target)?;
                clear_non_dir(&path)?;
                std::os::unix::fs::symlink(&target, &path)?;
                if root {
                    nix::unistd::fchownat(
                        nix::fcntl::AT_FDCWD,
                        &path,
                        Some(uid.into()),
                        Some(gid.into()),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    )?;
                }
            }
            T::Link => {
                let raw_target = entry.link_name()?.context("a hard link without a target")?;
                let target_rel = checked_entry_path(&raw_target)?;
                real_parent_dirs(dest, &target_rel)?;
                let target = dest.join(&target_rel);
                match fs::symlink_metadata(&target) {
                    Ok(m) if !m.is_dir() => {}
                    _ => bail!(
                        "refused: the hard link {} names {}, which is not a file already in the layer",
                        rel.display(),
                        raw_target.display()
                    ),
                }
                clear_non_dir(&path)?;
                // std's hard_link is linkat(2) without AT_SYMLINK_FOLLOW: a symlink is linked, not
                // followed.
                fs::hard_link(&target, &path)?;
            }
            T::Char | T::Block | T::Fifo => {
                let sflag = match kind {
                    T::Char => SFlag::S_IFCHR,
                    T::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                if sflag != SFlag::S_IFIFO && !root {
                    bail!(
                        "refused: the tarball holds the device node {}, and only root may create \
                         device nodes (run as root, or export the image without /dev)",
                        rel.display()
                    );
                }
                let major = header.device_major()?.unwrap_or(0) as u64;
                let minor = header.device_minor()?.unwrap_or(0) as u64;
                clear_non_dir(&path)?;
                mknod(&path, sflag, Mode::from_bits_truncate(0o600), makedev(major, minor))
                    .with_context(|| format!("mknod {}", rel.display()))?;
                set_owner_mode(&path, root, uid, gid, Some(mode))?;
            }
            // PAX and GNU long-name headers are folded into the next entry by the tar crate; global
            // headers carry nothing a layer needs.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => {
                bail!("refused: the tar entry {} has an unsupported type {other:?}", rel.display())
            }
        }
    }
    for (rel, (uid, gid, mode)) in dir_modes.iter().rev() {
        let path = dest.join(rel);
        // chmod(2) follows symlinks: make sure this is still the directory it was.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            set_owner_mode(&path, root, *uid, *gid, Some(*mode))?;
        }
    }
    Ok(archive.into_inner())
}

fn owner_mode(header: &tar::Header) -> anyhow::Result<(u32, u32, u32)> {
    Ok((header.uid()? as u32, header.gid()? as u32, header.mode()? & 0o7777))
}

fn set_owner_mode(
    path: &Path,
    root: bool,
    uid: u32,
    gid: u32,
    mode: Option<u32>,
) -> io::Result<()> {
    if root {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    if let Some(mode) = mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Opens a tarball, gunzipping it when it starts with gzip's magic bytes.
pub fn open_maybe_gzip(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = io::Cursor::new(magic[..n].to_vec()).chain(file);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::GzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::test_support::{raw_tar, scratch, Raw};

    fn as_root() -> bool {
        nix::unistd::Uid::effective().is_root()
    }

    /// Unpacks `tar` into `<scratch>/layer` and returns the error, checking that `<scratch>/outside`
    /// (where every hostile entry aims) is still empty.
    fn refused(name: &str, tar: Vec<u8>, as_root: bool) -> String {
        let dir = scratch(name);
        let (layer, outside) = (dir.join("layer"), dir.join("outside"));
        fs::create_dir_all(&layer).unwrap();
        fs::create_dir_all(&outside).unwrap();
        let err = unpack_as(&tar[..], &layer, as_root).expect_err("the tarball was unpacked");
        let left: Vec<_> = fs::read_dir(&outside).unwrap().collect();
        assert!(left.is_empty(), "something was written outside the layer: {left:?}");
        crate::overlay::container_layer::remove_tree(&dir).unwrap();
        format!("{err:#}")
    }

    #[test]
    fn an_absolute_entry_is_refused_and_nothing_lands_outside() {
        let target = format!("{}/outside/abs.txt", scratch("abs").display());
        let err = refused("abs", raw_tar(&[Raw::file(&target, "x")]), as_root());
        assert!(err.contains("absolute path"), "{err}");
    }

    #[test]
    fn a_dotdot_entry_is_refused_and_nothing_lands_outside() {
        let err = refused("dotdot", raw_tar(&[Raw::file("../outside/up.txt", "x")]), as_root());
        assert!(err.contains("`..`"), "{err}");
    }

    #[test]
    fn a_symlink_that_climbs_out_is_refused() {
        let err = refused("climb", raw_tar(&[Raw::symlink("esc", "../outside")]), as_root());
        assert!(err.contains("leads outside the layer"), "{err}");
    }

    #[test]
    fn nothing_is_written_through_a_symlink() {
        // An absolute target is fine for a symlink itself (it resolves in the container's root), but
        // an entry beneath it would follow it out of the layer on the host.
        let outside = format!("{}/outside", scratch("through").display());
        let tar = raw_tar(&[Raw::symlink("esc", &outside), Raw::file("esc/owned.txt", "x")]);
        let err = refused("through", tar, as_root());
        assert!(err.contains("passes through the symlink esc"), "{err}");
    }

    #[test]
    fn a_hard_link_to_a_file_outside_is_refused() {
        let err = refused("hardlink", raw_tar(&[Raw::hardlink("pw", "../outside/x")]), as_root());
        assert!(err.contains("`..`"), "{err}");
        let err =
            refused("hardlink-abs", raw_tar(&[Raw::hardlink("pw", "/etc/passwd")]), as_root());
        assert!(err.contains("absolute path"), "{err}");
    }

    #[test]
    fn a_device_node_is_refused_when_not_root() {
        let err = refused("device", raw_tar(&[Raw::char_device("dev/null", 1, 3)]), false);
        assert!(err.contains("only root may create device nodes"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn plain_relative_paths_pass_and_lose_their_dot() {
        assert_eq!(checked_entry_path(Path::new("./bin/sh")).unwrap(), Path::new("bin/sh"));
        assert_eq!(checked_entry_path(Path::new("./")).unwrap(), Path::new(""));
    }

    #[test]
    fn absolute_and_parent_paths_are_refused() {
        assert!(checked_entry_path(Path::new("/etc/passwd")).is_err());
        assert!(checked_entry_path(Path::new("a/../../etc/passwd")).is_err());
    }

    #[test]
    fn symlink_targets_may_not_climb_above_the_layer() {
        assert!(check_symlink_target(Path::new("bin/sh"), Path::new("/bin/busybox")).is_ok());
        assert!(check_symlink_target(Path::new("usr/bin/sh"), Path::new("../../bin/sh")).is_ok());
        assert!(check_symlink_target(Path::new("usr/bin/sh"), Path::new("../../../etc")).is_err());
        assert!(check_symlink_target(Path::new("esc"), Path::new("..")).is_err());
    }
}
