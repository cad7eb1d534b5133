//! Exercise 07 · overlay
//!
//! The library has made this container's upper, work and merged dirs in the image store and, in
//! the child, attached each of the image's layers idmapped over itself; the child's mounts are
//! private. Your job runs in the child, before pivot_root: mount an `overlay` at `merged` that
//! stacks the layers (given bottom first, as an image lists them) under the upper dir, so that the
//! container reads the image and writes only to its own layer.
//!
//! The checker verifies: the container's / in its mountinfo is an overlay whose lowerdir lists the
//! web image's layers top first; a write inside is copied up into the upper dir and the layer's
//! bytes are unchanged; a delete leaves a whiteout; a removed and re-made directory is opaque; a
//! second run does not see what the first wrote. And every check of 01–06.
//! Man pages: mount(2), mount(8) (its overlay section); the kernel's Documentation/filesystems/overlayfs.rst.
//! Stuck? `cargo run -- hint 07` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): leave out `userxattr`, then `rm -rf /var/www` inside, and check again.
//!
//! Try it:   cargo run --bin ex07_overlay -- --image web -- cat /proc/self/mountinfo
//! Check it: cargo run -- check 07

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use anyhow::Context;
use nix::mount::{mount, MsFlags};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Build the overlay's option string, then mount it at `merged`.
// ANCHOR: todo
fn mount_overlay(
    layers_bottom_first: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
) -> anyhow::Result<()> {
    todo!("stack the layers with an overlay mount: `cargo run -- hint 07` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { mount_overlay: Some(mount_overlay), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Overlay, mechanisms)
}
