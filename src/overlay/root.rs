//! Stage 07's root filesystem: an image's layers stacked by overlayfs, with the container's own
//! upper dir on top, made fresh for every container.
//!
//! On the host, before clone(2), [`prepare`] creates `<store>/containers/<id>/{upper,work,merged}`
//! (recorded first, so that a killed run's dirs are removed by the next run). In the child, after
//! its mounts are private, [`mount_in_child`] mounts `overlay` on `merged`, and the steps of stage 03
//! then treat `merged` as the root filesystem: /proc, /dev and /sys under it, then pivot_root.
//!
//! In a user namespace (every stage from 05 on) the layers' files belong to the host's root, which
//! the namespace does not map: its root could read them but not copy one up (overlay keeps a copied
//! file's owner, and an unmapped owner cannot be written: EOVERFLOW). So, as for stage 05's root
//! filesystem, each layer and the container's dir are first attached *idmapped* over themselves
//! inside the container's mount namespace (overlayfs accepts idmapped layers from Linux 5.19): the
//! option string stays the plain one, and the files the container writes land in its upper dir owned
//! by root on disk, as Docker's would. The overlay is then mounted by the namespace's root, which
//! the kernel allows from 5.11, with `userxattr`: overlay's own notes (opaque dirs, redirects) go in
//! `user.overlay.*` xattrs, since `trusted.*` ones are for the initial namespace's root only.

use super::container_layer::ContainerLayer;
use super::images::Image;
use super::options::OverlayOptions;
use crate::runtime::{Cleanup, Resource};
use crate::userns::UserNamespace;
use anyhow::Context;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The image a stage-07 container starts from, and the store that holds its layers.
#[derive(Clone, Debug)]
pub struct OverlayImage {
    pub store: PathBuf,
    pub image: Image,
}

/// How the user namespace's root reaches the layers' files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// No user namespace: the container's root is the host's.
    Host,
    /// Each layer attached through an idmapped mount: the host's root appears as the container's.
    Idmapped,
    /// No idmapped mounts here (the reason says why): the files show as `nobody`, and the image is
    /// read-only inside: changing a file fails with EACCES, and even a new file in an image
    /// directory fails with EOVERFLOW, as the directory would have to be copied up first.
    Unmapped(String),
}

/// One container's overlay root, ready to mount in its child.
#[derive(Debug)]
pub struct OverlayRoot {
    pub layer: ContainerLayer,
    /// The image's layer directories, bottom first.
    pub lower_bottom_first: Vec<PathBuf>,
    /// Where the overlay is mounted, and then pivoted into.
    pub merged: PathBuf,
    pub mapping: Mapping,
    /// Idmapped copies of each layer dir and of the container's dir, to attach over the originals
    /// inside the container's mount namespace, where nobody else sees them.
    pub trees: Vec<(PathBuf, OwnedFd)>,
}

impl OverlayRoot {
    /// The mount's options: the image's layers top first, this container's upper and work dirs.
    pub fn options(&self) -> OverlayOptions {
        OverlayOptions::from_bottom_first(
            &self.lower_bottom_first,
            &self.layer.upper,
            &self.layer.work,
        )
        .with_userxattr(self.mapping != Mapping::Host)
    }
}

/// Creates container `id`'s dirs in the store, recorded in `cleanup` (removed when it is dropped),
/// and, in a user namespace, the idmapped trees of its layers.
pub fn prepare(
    image: &OverlayImage,
    id: &str,
    user: Option<&UserNamespace>,
    cleanup: &mut Cleanup,
) -> anyhow::Result<OverlayRoot> {
    let at = ContainerLayer::at(&image.store, id)?;
    let layer = cleanup.create(Resource::ContainerLayer { dir: at.dir.clone() }, || {
        ContainerLayer::create(&image.store, id)
    })?;
    let merged = layer.dir.join("merged");
    std::fs::create_dir(&merged).with_context(|| format!("create {}", merged.display()))?;
    stack(image, layer, merged, user)
}

/// Stage 09: container `id`'s dirs as the container keeps them between runs: made by the first
/// start (or `create`), found again by the next, so that what it wrote survives `stop` and
/// `start`. Nothing is recorded: the container's state holds the layer, and `rm` removes it.
pub fn prepare_kept(
    image: &OverlayImage,
    id: &str,
    user: Option<&UserNamespace>,
) -> anyhow::Result<OverlayRoot> {
    let at = ContainerLayer::at(&image.store, id)?;
    let layer = if at.upper.is_dir() { at } else { ContainerLayer::create(&image.store, id)? };
    let merged = layer.dir.join("merged");
    if !merged.is_dir() {
        std::fs::create_dir(&merged).with_context(|| format!("create {}", merged.display()))?;
    }
    stack(image, layer, merged, user)
}

/// The image's layers under `layer`, and how the user namespace's root reaches their files.
fn stack(
    image: &OverlayImage,
    layer: ContainerLayer,
    merged: PathBuf,
    user: Option<&UserNamespace>,
) -> anyhow::Result<OverlayRoot> {
    let lower_bottom_first = image.image.layer_dirs(&image.store);
    for dir in &lower_bottom_first {
        anyhow::ensure!(
            dir.is_dir(),
            "the image {} lists a layer that is not in the store: {} (import the image again)",
            image.image.name,
            dir.display()
        );
    }
    let (mapping, trees) = match user {
        None => (Mapping::Host, Vec::new()),
        Some(user) => match idmap_unavailable(&image.store, user) {
            None => {
                let dirs: Vec<PathBuf> =
                    lower_bottom_first.iter().cloned().chain([layer.dir.clone()]).collect();
                let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
                let trees = crate::userns::idmapped_trees(&refs, user)?;
                (Mapping::Idmapped, dirs.into_iter().zip(trees).collect())
            }
            Some(reason) => {
                eprintln!(
                    "note: the image's layers cannot be idmapped here ({reason}): inside, its files \
                     belong to nobody and changing one fails (EACCES, EOVERFLOW on copy-up); \
                     Linux 5.19+ as root on ext4, xfs or btrfs gives the full stage"
                );
                // The namespace's root must at least own its own dirs, to write its changes.
                let (uid, gid) = (user.uid_map.outside, user.gid_map.outside);
                layer.give_to(uid, gid)?;
                std::os::unix::fs::lchown(&merged, Some(uid), Some(gid))?;
                (Mapping::Unmapped(reason), Vec::new())
            }
        },
    };
    Ok(OverlayRoot { layer, lower_bottom_first, merged, mapping, trees })
}

/// Whether a stage-07 container here gets idmapped layers (root, a kernel and a store that allow
/// it): then its files show owned by root inside, else by `nobody`.
pub fn layers_idmapped_here() -> bool {
    match UserNamespace::for_root(None) {
        Ok(user) => idmap_unavailable(&crate::image::store_dir(), &user).is_none(),
        Err(_) => false,
    }
}

/// Why the layers cannot be attached idmapped here, or `None` when they can.
fn idmap_unavailable(store: &Path, user: &UserNamespace) -> Option<String> {
    if !crate::doctor::kernel_at_least(5, 19) {
        return Some("overlayfs takes idmapped layers from Linux 5.19".into());
    }
    crate::userns::idmap_unavailable(store, user)
}

// ANCHOR: mount_in_child
/// In the child: each layer (and the container's own dir) attached idmapped over itself, in the
/// container's mount namespace only. Nothing to do without a user namespace.
pub fn attach_idmapped_layers(
    root: &OverlayRoot,
    sys: &dyn crate::runtime::syscalls::Syscalls,
) -> anyhow::Result<()> {
    use std::os::fd::AsFd;
    for (dir, tree) in &root.trees {
        sys.move_mount(tree.as_fd(), dir)
            .with_context(|| format!("attach the idmapped {}", dir.display()))?;
    }
    Ok(())
}

/// In the child, with its mounts private: the idmapped layers over the originals (in a user
/// namespace), then the overlay on `merged`. The host's mount table never sees either.
pub fn mount_in_child(
    root: &OverlayRoot,
    sys: &dyn crate::runtime::syscalls::Syscalls,
) -> anyhow::Result<()> {
    attach_idmapped_layers(root, sys)?;
    let data = root.options().option_string()?;
    sys.mount(
        Some(Path::new("overlay")),
        &root.merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(&data),
    )
    .with_context(|| format!("mount -t overlay overlay -o {data} {}", root.merged.display()))?;
    Ok(())
}
// ANCHOR_END: mount_in_child
