//! Exercise 08 · security
//!
//! The container is set up up to its last step: its root filesystem, its masked and read-only
//! paths, and it still runs as root of its user namespace with every capability. Your job runs in
//! the child, right before the ids change and seccomp goes in: keep only the capabilities in
//! `keep`. Lower the bounding set first (what is dropped there is gone for good, for everything
//! the container will ever exec), then make `keep` the permitted and effective sets, and empty the
//! inheritable and ambient ones.
//!
//! The checker verifies: CapBnd, CapPrm and CapEff in /proc/PID/status of the container are
//! Docker's 14, and `--cap-drop ALL` leaves all three empty; `mount -t tmpfs none /mnt` fails inside
//! while it works at 07; `Seccomp: 2` and, with `--security-opt no-new-privileges`, `NoNewPrivs: 1`;
//! the masked paths are masked. And every check of 01–07.
//! Man pages: capabilities(7), prctl(2) (PR_CAPBSET_DROP), capset(2); the caps crate's docs.
//! Stuck? `cargo run -- hint 08` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): set the effective set but leave the bounding set alone, and check
//! again.
//!
//! Try it:   cargo run --bin ex08_security -- grep Cap /proc/self/status
//! Check it: cargo run -- check 08

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use caps::{CapSet, CapsHashSet};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::security::CapabilitySet;
use workshop::Stage;

// TODO: Drop every capability not in `keep` from the bounding set, then set the other sets.
// ANCHOR: todo
fn drop_capabilities(keep: &CapabilitySet, root: bool) -> anyhow::Result<()> {
    todo!("keep only these capabilities: `cargo run -- hint 08` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms =
        Mechanisms { drop_capabilities: Some(drop_capabilities), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Security, mechanisms)
}
