//! Exercise 08 · security
//!
//! The container is set up up to its last step: its root filesystem, its masked and read-only
//! paths, and it still runs as root of its user namespace with every capability. Your job runs in
//! the child, right before the ids change: keep only the capabilities in `keep` (lower the
//! bounding set first: what is dropped there is gone for good, for everything the container will
//! ever exec; then make `keep` the permitted and effective sets, and empty the inheritable and
//! ambient ones), set no_new_privs when asked, and install the compiled seccomp `filter`. The
//! order is the exercise: without no_new_privs the kernel takes a filter only from a holder of
//! CAP_SYS_ADMIN.
//!
//! The checker verifies: CapBnd, CapPrm and CapEff in /proc/PID/status of the container are
//! Docker's 14, and `--cap-drop ALL` leaves all three empty; `mount -t tmpfs none /mnt` fails inside
//! while it works at 07; `Seccomp: 2` and, with `--security-opt no-new-privileges`, `NoNewPrivs: 1`;
//! the masked paths are masked. And every check of 01–07.
//! Man pages: capabilities(7), prctl(2) (PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS), capset(2),
//! seccomp(2); the caps crate's docs.
//! Stuck? `cargo run -- hint 08` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): set the effective set but leave the bounding set alone, and check
//! again; then install the filter after the capabilities are gone, and run without
//! `--security-opt no-new-privileges`.
//!
//! Try it:   cargo run --bin ex08_security -- grep Cap /proc/self/status
//! Check it: cargo run -- check 08

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use caps::{CapSet, CapsHashSet};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::security::{seccomp, CapabilitySet, Compiled};
use workshop::Stage;

// TODO: Keep only the capabilities in `keep`, and install `filter`, in an order that works.
// ANCHOR: todo
fn harden(
    keep: &CapabilitySet,
    filter: Option<&Compiled>,
    no_new_privs: bool,
) -> anyhow::Result<()> {
    // Without no_new_privs the kernel installs a filter only for a holder of CAP_SYS_ADMIN: so the
    // filter goes in first, while it is still held (the calls below must be ones it allows).
    if let (Some(f), false) = (filter, no_new_privs) {
        seccomp::apply(f)?;
    }
    // The bounding set next, while CAP_SETPCAP is still held: each capability dropped there can
    // never come back, not even through a setuid-root program. Only the kernel's own capabilities
    // can be named (a newer one is EINVAL).
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(cap) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs()?;
    }
    // What the process holds now: effective must stay within permitted at every step, so it
    // shrinks first. Inheritable and ambient stay empty, as Docker leaves them.
    let set: CapsHashSet = keep.iter().collect();
    caps::set(None, CapSet::Effective, &set)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())?;
    caps::set(None, CapSet::Permitted, &set)?;
    caps::clear(None, CapSet::Ambient)?;
    // With no_new_privs any process may install a filter: last, so that it filters nothing of the
    // set-up, only what the container runs.
    if let (Some(f), true) = (filter, no_new_privs) {
        seccomp::apply(f)?;
    }
    Ok(())
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { harden: Some(harden), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Security, mechanisms)
}
