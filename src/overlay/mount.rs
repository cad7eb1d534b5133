//! Mounting the overlay: one mount(2) with the option string, inside the container's own mount
//! namespace, before pivot_root(2) makes it the container's `/`.
//!
//! The same as `mount -t overlay overlay -o lowerdir=…,upperdir=…,workdir=… TARGET`. The merged view
//! at TARGET reads through to the layers and writes only to the upper dir; the layers are never
//! touched. Call it after the mount tree is private ([`crate::mounts::make_private`]), so the mount
//! never shows on the host.

use super::options::OverlayOptions;
use anyhow::Context;
use nix::mount::{mount, MsFlags};
use std::path::Path;

// ANCHOR: mount_overlay
/// Mounts the overlay described by `opts` at `target` (an existing directory).
pub fn mount_overlay(opts: &OverlayOptions, target: &Path) -> anyhow::Result<()> {
    let data = opts.option_string()?;
    mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
        .with_context(|| format!("mount -t overlay overlay -o {data} {}", target.display()))
}
// ANCHOR_END: mount_overlay

/// The raw errno of an overlay mount, for showing a failure on purpose: Ok when it mounted.
pub fn try_mount(opts: &OverlayOptions, target: &Path) -> anyhow::Result<Result<(), nix::Error>> {
    let data = opts.option_string()?;
    Ok(mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data.as_str())))
}
