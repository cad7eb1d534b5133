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
    // An unprivileged writer could otherwise drop a group that denies it access (a file mode like
    // 0705 with the group bit off) by calling setgroups inside: the kernel makes it choose first.
    if user.deny_setgroups {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    // "0 100000 65536": uid 0 inside is uid 100000 outside, and so on for 65536 ids. The parent
    // writes it because it is outside: a process cannot grant itself ids on the host.
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("{}\n", user.uid_map))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format!("{}\n", user.gid_map))
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { write_id_maps: Some(write_id_maps), ..Mechanisms::library() };
    workshop::exercise::main(Stage::User, mechanisms)
}
