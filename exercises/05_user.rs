//! Exercise 05 · user namespace
//!
//! The container is cloned into a new user namespace (with all the others), and waits. Until someone
//! outside writes its id mapping, it is uid 65534, "nobody", in there. Your job runs in the parent,
//! on the host, while the child waits: write the child's uid_map and gid_map, so that uid 0 inside
//! is `user.uid_map.outside` on the host.
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

// TODO: Write /proc/PID/uid_map and /proc/PID/gid_map (and setgroups when asked to) for the child.
// ANCHOR: todo
fn write_id_maps(pid: Pid, user: &UserNamespace) -> std::io::Result<()> {
    // Hints:
    // - Each map is one line, "inside outside count"; `user.uid_map` prints exactly that with {}.
    // - The files are /proc/{pid}/uid_map and /proc/{pid}/gid_map; std::fs::write does it.
    // - Each file takes one write, once. Finish each line with "\n".
    // - When `user.deny_setgroups` is true (--rootless), write "deny" to /proc/{pid}/setgroups
    //   first: the kernel refuses gid_map from an unprivileged writer until setgroups is denied.
    todo!("write the child's uid_map and gid_map")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { write_id_maps: Some(write_id_maps), ..Mechanisms::library() };
    workshop::exercise::main(Stage::User, mechanisms)
}
