//! Exercise 05 · user namespace
//!
//! The container is cloned into a new user namespace (with all the others), and waits. Until someone
//! outside writes its id mapping, it is uid 65534, "nobody", in there. Your job runs in the parent,
//! on the host, while the child waits: write the child's user and group id mappings, so that uid 0
//! inside is `user.uid_map.outside` on the host (and setgroups, when `user.deny_setgroups` says so).
//!
//! The checker verifies: `id -u` inside prints 0; the container has its own user namespace; the
//! host sees its process as an unprivileged uid; both maps are written, neither maps the host's
//! root, and setgroups is as the map needs; the root filesystem looks root-owned inside (or
//! 65534-owned where no idmapped mount can be made). And every check of 01–04.
//! Man pages: user_namespaces(7) (ID mappings, /proc/PID/setgroups), newuidmap(1).
//! Stuck? `cargo run -- hint 05` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): write only the uid_map, not the gid_map, and check again.
//!
//! Try it:   cargo run --bin ex05_user -- id
//! Check it: cargo run -- check 05

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::userns::UserNamespace;
use workshop::Stage;

// TODO: From the host, write the waiting child's id mappings, as `user` describes them.
// ANCHOR: todo
fn write_id_maps(pid: Pid, user: &UserNamespace) -> std::io::Result<()> {
    todo!("map the child's ids: `cargo run -- hint 05` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { write_id_maps: Some(write_id_maps), ..Mechanisms::library() };
    workshop::exercise::main(Stage::User, mechanisms)
}
