//! Exercise 03 · pivot_root into a root filesystem
//!
//! The library has bind-mounted the root filesystem onto itself (so it is a mount point) and mounted
//! /proc, /dev and /sys inside it. What is left is the swap itself: make it the root of the mount
//! namespace and get rid of the host's old root, so that nothing of the host can be reached.
//!
//! Try it:   cargo run --bin ex03_rootfs -- ls /
//! Check it: cargo run -- check 03

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::mount::{umount2, MntFlags};
use nix::unistd::{chdir, pivot_root};
use std::path::Path;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Make `new_root` the root of this mount namespace and detach the old root.
// ANCHOR: todo
fn pivot_into(new_root: &Path) -> nix::Result<()> {
    // pivot_root(2) works on the current directory's mount, so go there first.
    chdir(new_root)?;
    // With put_old == new_root, the old root is stacked on top of the new one at "/". This needs
    // no put_old directory inside the root filesystem (the trick runc and youki use).
    pivot_root(".", ".")?;
    // The old root is busy (we are standing on it), so detach it lazily: it disappears from the
    // namespace now, and the host's files with it. A chroot never does this, which is why it can
    // be escaped.
    umount2(".", MntFlags::MNT_DETACH)?;
    // Leave the working directory inside the new root.
    chdir("/")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { pivot_into: Some(pivot_into), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Rootfs, mechanisms)
}
