//! The workshop's image store, as stage 07 uses it: where it is, its two demo images made from the
//! root filesystem stage 03 builds, and `--image` turned into an image of the store.

use super::images::{self, Image, ImageConfig};
use super::root::OverlayImage;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The images every stage-07 container can start from: `base` (the root filesystem as one layer)
/// and `web` (base plus a small layer with a web page). Made once per build of the root filesystem:
/// its stamp is kept beside them, so a run does not digest the base again.
pub fn ensure_demo_images(store: &Path, rootfs: &Path) -> anyhow::Result<images::DemoImages> {
    let stamp = std::fs::read_to_string(rootfs.join(crate::image::STAMP)).unwrap_or_default();
    let source = format!("{}\n{stamp}", rootfs.display());
    let kept = store.join("images").join(".demo-source");
    if !stamp.is_empty() && std::fs::read_to_string(&kept).ok().as_deref() == Some(&source) {
        if let (Ok(base), Ok(web)) = (Image::load(store, "base"), Image::load(store, "web")) {
            if base.layer_dirs(store).iter().chain(&web.layer_dirs(store)).all(|d| d.is_dir()) {
                return Ok(images::DemoImages { base, web });
            }
        }
    }
    let demo = images::make_demo_images(store, rootfs)
        .with_context(|| format!("make the demo images from {}", rootfs.display()))?;
    crate::runtime::state_dir::write_atomic(&kept, source.as_bytes())?;
    if let Err(e) = prune_unused_layers(store) {
        eprintln!("warning: could not prune the image store: {e:#}");
    }
    Ok(demo)
}

/// Removes the layers no image lists any more (a base made from an earlier build of the root
/// filesystem), so that the store does not grow with every rebuild. Only while no container runs
/// from the store: a running container's overlay may still stack a layer its image has lost.
pub fn prune_unused_layers(store: &Path) -> anyhow::Result<Vec<super::Digest>> {
    let _lock = super::layer::lock(store)?;
    let running = std::fs::read_dir(store.join("containers")).map(|d| d.count()).unwrap_or(0);
    if running > 0 {
        return Ok(Vec::new());
    }
    let used: std::collections::BTreeSet<super::Digest> =
        images::list(store)?.into_iter().flat_map(|i| i.layers).collect();
    let mut removed = Vec::new();
    for digest in super::layer::list(store)? {
        if !used.contains(&digest) {
            super::container_layer::remove_tree(&super::layer::layer_dir(store, &digest))?;
            removed.push(digest);
        }
    }
    Ok(removed)
}

/// Every container's upper dir goes under the store: one clear line, before anything is made, when
/// it is on a filesystem overlay cannot write an upper dir to (another overlay, NFS, FAT…).
pub fn check_store_filesystem() -> anyhow::Result<()> {
    let store = crate::image::store_dir();
    let existing = store.ancestors().find(|a| a.exists()).unwrap_or(Path::new("/"));
    let (name, ok) = super::container_layer::filesystem_of(existing)?;
    anyhow::ensure!(
        ok,
        "the image store {} is on {name}, which overlayfs cannot use for the containers' upper \
         dirs (it needs whiteouts, xattrs and atomic renames): set WORKSHOP_STORE to a directory \
         on ext4, xfs, btrfs or tmpfs",
        store.display()
    );
    Ok(())
}

/// Whether `--image` names a file or directory rather than an image in the store.
fn is_path(arg: &str) -> bool {
    arg.contains('/') || [".tar", ".tar.gz", ".tgz"].iter().any(|ext| arg.ends_with(ext))
}

/// The image name an imported path gets: its file name without `.tar`, `.tar.gz` or `.tgz`, with
/// anything an image name cannot hold made `-`.
pub fn name_for(path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = [".tar.gz", ".tgz", ".tar"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
        .unwrap_or(&file)
        .to_string();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
        .collect();
    let name = name.trim_start_matches('.').to_string();
    if name.is_empty() {
        "imported".into()
    } else {
        name
    }
}

/// The image stage 07's containers start from: `--image`'s (a name, a DIR or a TAR), else `base`;
/// the demo images are made first from `rootfs`, the root filesystem stage 03 built.
pub fn open(rootfs: &Path, image: Option<&str>) -> anyhow::Result<OverlayImage> {
    let store = crate::image::store_dir();
    check_store_filesystem()?;
    ensure_demo_images(&store, rootfs)?;
    let image = match image {
        None => Image::load(&store, "base")?,
        Some(arg) if is_path(arg) || (Path::new(arg).exists() && !has_image(&store, arg)) => {
            let path = PathBuf::from(arg);
            images::import_image(&store, &name_for(&path), &path, ImageConfig::default())
                .with_context(|| format!("--image {arg}"))?
        }
        Some(name) => Image::load(&store, name).map_err(|_| {
            anyhow::anyhow!(
                "--image {name}: there is no image {name:?} in {} (`cargo run -- images` lists \
                 them); give an image name, a root filesystem DIR or a TAR",
                store.display()
            )
        })?,
    };
    Ok(OverlayImage { store, image })
}

/// `cargo run -- images`: the store's images (the demo images made first), each with its layers
/// bottom first and their sizes, then what the store holds against what separate copies would
/// cost. With `import`, that root filesystem or tarball becomes an image first.
pub fn listing_text(import: Option<&Path>) -> anyhow::Result<String> {
    use std::fmt::Write;
    let rootfs = crate::image::ensure(None)?;
    let store = crate::image::store_dir();
    check_store_filesystem()?;
    ensure_demo_images(&store, &rootfs)?;
    if let Some(path) = import {
        images::import_image(&store, &name_for(path), path, ImageConfig::default())?;
    }
    let listing = images::listing(&store)?;
    let mut out = String::new();
    writeln!(out, "{:<16} {:<9} LAYERS, BOTTOM FIRST (DIGEST SIZE)", "IMAGE", "SIZE")?;
    for image in &listing.images {
        let layers: Vec<String> = image
            .layers
            .iter()
            .map(|(d, size)| format!("{} {}", d.short(), size.human()))
            .collect();
        writeln!(out, "{:<16} {:<9} {}", image.name, image.total.human(), layers.join(" + "))?;
    }
    writeln!(
        out,
        "\nThe store {} holds {} of layers, each once; as separate copies the images would take {}.",
        store.display(),
        listing.stored_total.human(),
        listing.unshared_total.human()
    )?;
    Ok(out)
}

fn has_image(store: &Path, name: &str) -> bool {
    images::check_name(name).is_ok() && Image::load(store, name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_path_is_named_after_its_file() {
        assert_eq!(name_for(Path::new("/tmp/alpine.tar.gz")), "alpine");
        assert_eq!(name_for(Path::new("ubuntu-22.04.tar")), "ubuntu-22.04");
        assert_eq!(name_for(Path::new("/srv/my rootfs/")), "my-rootfs");
        assert_eq!(name_for(Path::new("/srv/.hidden")), "hidden");
        assert_eq!(name_for(Path::new("/")), "imported");
        assert!(is_path("./x") && is_path("a.tgz") && !is_path("web"));
    }
}
