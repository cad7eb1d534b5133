//! Exercise 02 · mount namespace and a fresh /proc
//!
//! The container is already in a new PID and mount namespace (the library does the clone). But
//! `ps` reads /proc, and /proc is still the host's. Your job, inside the container, in order:
//! make every mount private so nothing reaches the host, then mount a new proc filesystem.
//!
//! Try it:   cargo run --bin ex02_mount_proc -- ps -e
//! Check it: cargo run -- check 02

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::mount::{mount, MsFlags};
use std::path::Path;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Make `/` and every mount below it private, then mount proc on `target`.
// ANCHOR: todo
fn make_private() -> nix::Result<()> {
    // Hint: mount(2) with no source, target "/", no fstype, and MS_REC | MS_PRIVATE.
    // In shell: mount --make-rprivate /
    todo!("mark every mount private with MS_REC | MS_PRIVATE")
}

fn mount_proc(target: &Path) -> nix::Result<()> {
    // Hint: mount(2) with source "proc", fstype "proc" and MS_NOSUID | MS_NODEV | MS_NOEXEC.
    // In shell: mount -t proc proc /proc
    todo!("mount a proc filesystem on `target`")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms {
        make_private: Some(make_private),
        mount_proc: Some(mount_proc),
        ..Mechanisms::library()
    };
    workshop::exercise::main(Stage::MountProc, mechanisms)
}
