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
    // Hints:
    // - chdir into new_root first: then "." names it.
    // - pivot_root(".", ".") puts the old root on top of the new one, both at "/".
    // - umount2(".", MNT_DETACH) then takes the old root away, lazily, even though it is busy.
    // - Finally chdir("/"), so the working directory is inside the new root.
    todo!("pivot_root into new_root and detach the old root")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { pivot_into: Some(pivot_into), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Rootfs, mechanisms)
}
