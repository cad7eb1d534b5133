//! Test-only: exercise 03's solution with its "break it" mistake made, the bind mount left out, so
//! that `tests/hints.rs` can check that the checker names the mistake and the hint level.

use nix::mount::{umount2, MntFlags};
use nix::unistd::{chdir, pivot_root};
use std::path::Path;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: the root filesystem's directory is never made a mount point.
fn bind_onto_itself(_dir: &Path) -> nix::Result<()> {
    Ok(())
}

fn pivot_into(new_root: &Path) -> nix::Result<()> {
    chdir(new_root)?;
    pivot_root(".", ".")?;
    umount2(".", MntFlags::MNT_DETACH)?;
    chdir("/")
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms {
        bind_root: Some(bind_onto_itself),
        pivot_into: Some(pivot_into),
        ..Mechanisms::library()
    };
    workshop::exercise::main(Stage::Rootfs, mechanisms)
}
