//! Test-only: exercise 07's solution with its "break it" mistake made, the overlay mounted without
//! `userxattr`, so that `tests/hints.rs` can check that the checker names the mistake and the hint
//! level.

use anyhow::Context;
use nix::mount::{mount, MsFlags};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: the right layers in the right order, but no `userxattr`.
fn mount_overlay(
    layers_bottom_first: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
) -> anyhow::Result<()> {
    let lowers: Vec<String> =
        layers_bottom_first.iter().rev().map(|p| p.display().to_string()).collect();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(options.as_str()))
        .with_context(|| format!("mount -t overlay overlay -o {options} {}", merged.display()))
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { mount_overlay: Some(mount_overlay), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Overlay, mechanisms)
}
