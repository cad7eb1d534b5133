//! Exercise 09 · lifecycle
//!
//! A container now lives between commands, and `exec` starts a second process in a running one.
//! Everything is done for you up to the join: the running container's namespaces are open (each
//! one a descriptor of /proc/PID/ns/KIND, checked to be PID 1's by its start time), and after your
//! function the joiner moves into the container's root and forks the command (a PID namespace
//! takes only children). Your job runs in the joiner, a forked copy of the host's root: join
//! every namespace in `namespaces` (they come as /proc/PID/ns lists them, by name) and become root
//! of the container's user namespace. The user namespace goes first: it is what grants the
//! capabilities every other setns needs to a caller that is not the host's root. And once in it,
//! the host's root is nobody there (uid 65534) until it takes that namespace's root ids.
//!
//! The checker verifies: a process started with `exec` reads the same namespace inodes (user, mnt,
//! uts, ipc, net, pid) as the host reads for the container's PID 1, and is uid 0 inside (stage
//! 08's hardening sets the container's user after your join, so this holds either way); a file it
//! writes in /tmp survives `stop` and `start`. And every check of 01–08.
//! Man pages: setns(2), namespaces(7) ("The /proc/[pid]/ns/ directory"), user_namespaces(7),
//! setresuid(2); nsenter(1) does the same from the shell.
//! Stuck? `cargo run -- hint 09` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): leave the user namespace out, and compare
//! `exec NAME -- cat /proc/self/uid_map` with `exec NAME -- cat /proc/1/uid_map`: the exec'd
//! process is then the host's own uid 0, and what capabilities it keeps count over the host's
//! objects, not only the container's.
//!
//! Try it:   cargo run --bin ex09_lifecycle    (runs a container, execs `id` in it, removes it)
//! Check it: cargo run -- check 09

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use std::process::ExitCode;
use workshop::lifecycle::exec::Namespace;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

// TODO: Join every namespace of the running container, the user namespace first, as its root.
// ANCHOR: todo
fn join(namespaces: &[Namespace]) -> anyhow::Result<()> {
    // The user namespace first: in it, the joiner holds every capability over the namespaces it
    // owns, which the other setns calls need (the host's root would manage without; a rootless
    // runtime would not).
    let user = namespaces.iter().filter(|n| n.flag == CloneFlags::CLONE_NEWUSER);
    let others = namespaces.iter().filter(|n| n.flag != CloneFlags::CLONE_NEWUSER);
    for ns in user.chain(others) {
        nix::sched::setns(ns.fd, ns.flag)?;
        if ns.flag == CloneFlags::CLONE_NEWUSER {
            // The host's uid 0 is not mapped in there: until the joiner takes the ids that are
            // root inside, it is nobody (65534) and its files could not be written.
            nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))?;
            nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))?;
        }
    }
    Ok(())
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { join_namespaces: Some(join), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Lifecycle, mechanisms)
}
