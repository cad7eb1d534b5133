//! Exercise 02 · mount namespace and a fresh /proc
//!
//! The container is already in a new PID and mount namespace (the library does the clone). But
//! `ps` reads /proc, and /proc is still the host's. Your job, inside the container, in order:
//! make every mount private so nothing reaches the host, then mount a new proc filesystem.
//!
//! The checker verifies: `ls /proc` inside lists only PID 1; the container has its own mount
//! namespace; the host's mount table is the same after the run as before it. And, before your
//! /proc is mounted, the exercise itself refuses to go on if any mount is still shared.
//! Man pages: mount_namespaces(7), mount(2), proc(5).
//! Stuck? `cargo run -- hint 02` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): drop MS_REC, so that only / becomes private, and check again.
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
    todo!("make every mount private: `cargo run -- hint 02` if you are stuck")
}

fn mount_proc(target: &Path) -> nix::Result<()> {
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
