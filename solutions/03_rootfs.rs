//! Exercise 03 · pivot_root into a root filesystem
//!
//! The container is in its own private mount namespace. Your job comes in two parts. First make the
//! root filesystem's directory a mount point of its own (the library then mounts /proc, /dev and
//! /sys inside it). Then swap it in: make it the root of the mount namespace and get rid of the
//! host's old root, so that nothing of the host can be reached.
//!
//! The checker verifies: the container's / (the host's /proc/PID/root) is the root filesystem, not
//! the host's /; a file in the host's /tmp cannot be read inside; `--hostname` sets the
//! container's own hostname; the host's IPC objects are invisible. And every check of 01 and 02.
//! Man pages: pivot_root(2) (read ERRORS), mount(2) (MS_BIND), umount2(2), chroot(2).
//! Stuck? `cargo run -- hint 03` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): make `bind_onto_itself` do nothing (`Ok(())`) and check again. The
//! kernel refuses pivot_root, and the checker says why.
//!
//! Try it:   cargo run --bin ex03_rootfs -- ls /
//! Check it: cargo run -- check 03

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, pivot_root};
use std::path::Path;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Make `dir` a mount point; then make `new_root` the root and detach the old root.
// ANCHOR: todo
fn bind_onto_itself(dir: &Path) -> nix::Result<()> {
    // pivot_root(2) swaps mounts, not directories: new_root must be a mount point, or the kernel
    // answers EINVAL. Binding the directory onto itself makes it one; MS_REC brings along whatever
    // is already mounted below it. In shell: mount --rbind DIR DIR.
    mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
}

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
    let mechanisms = Mechanisms {
        bind_root: Some(bind_onto_itself),
        pivot_into: Some(pivot_into),
        ..Mechanisms::library()
    };
    workshop::exercise::main(Stage::Rootfs, mechanisms)
}
