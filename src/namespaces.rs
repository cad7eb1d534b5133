//! Namespaces as the kernel shows them: every process's namespaces are links in /proc/PID/ns.
//!
//! Two processes are in the same namespace exactly when these links have the same inode number.
//! See namespaces(7).

use nix::sched::{clone, CloneCb, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::os::unix::fs::MetadataExt;

/// The namespace kinds the workshop uses, as named in /proc/PID/ns.
pub const KINDS: [&str; 6] = ["pid", "mnt", "uts", "ipc", "net", "user"];

fn ns_path(pid: Option<Pid>, kind: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{p}/ns/{kind}"),
        None => format!("/proc/self/ns/{kind}"),
    }
}

/// The inode number of a process's namespace: equal numbers mean the same namespace.
pub fn inode(pid: Option<Pid>, kind: &str) -> std::io::Result<u64> {
    Ok(std::fs::metadata(ns_path(pid, kind))?.ino())
}

/// The link as `ls -l /proc/PID/ns` shows it: `pid:[4026531836]`.
pub fn link(pid: Option<Pid>, kind: &str) -> std::io::Result<String> {
    Ok(std::fs::read_link(ns_path(pid, kind))?.to_string_lossy().into_owned())
}

/// How many processes this process can see in /proc: all of the PID namespace /proc was mounted for.
pub fn visible_processes() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0)
}

/// The names of flags, for narration: `CLONE_NEWPID | CLONE_NEWNS`.
pub fn flag_names(flags: CloneFlags) -> String {
    let names: Vec<&str> = [
        (CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
        (CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        (CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (CloneFlags::CLONE_NEWNET, "CLONE_NEWNET"),
    ]
    .into_iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| n)
    .collect();
    names.join(" | ")
}

/// The `unshare(1)` options for the same flags, for narration.
pub fn unshare_options(flags: CloneFlags) -> String {
    let mut opts = Vec::new();
    for (f, o) in [
        (CloneFlags::CLONE_NEWUSER, "--user --map-root-user"),
        (CloneFlags::CLONE_NEWPID, "--pid --fork"),
        (CloneFlags::CLONE_NEWNS, "--mount"),
        (CloneFlags::CLONE_NEWUTS, "--uts"),
        (CloneFlags::CLONE_NEWIPC, "--ipc"),
        (CloneFlags::CLONE_NEWNET, "--net"),
    ] {
        if flags.contains(f) {
            opts.push(o);
        }
    }
    opts.join(" ")
}

// ANCHOR: clone_child
/// Starts `child` as a new process in new namespaces and returns its PID as the host sees it.
///
/// clone(2) is fork(2) with flags: each CLONE_NEW* flag gives the child a fresh namespace of that kind.
/// With CLONE_NEWPID the child is the first process of a new PID namespace, so it is PID 1 there.
/// SIGCHLD as the exit signal makes the child an ordinary child that waitpid(2) can reap.
pub fn clone_child(child: CloneCb<'_>, flags: CloneFlags) -> nix::Result<Pid> {
    // The child runs on its own stack; clone(2) does not copy ours the way fork(2) does for the
    // calling thread. Without CLONE_VM the child gets a copy of this memory, so the Vec stays valid.
    let mut stack = vec![0u8; 1024 * 1024];
    // SAFETY: the child gets a private copy of the address space (no CLONE_VM) and this process is
    // single-threaded when it spawns containers, so nothing is shared with the child.
    unsafe { clone(child, &mut stack, flags, Some(Signal::SIGCHLD as i32)) }
}
// ANCHOR_END: clone_child

/// A process's PID in each PID namespace it is in, from the host's inwards: the `NSpid:` line of
/// /proc/PID/status. A container's PID 1 reads `[4242, 1]`.
pub fn nspid(pid: Pid) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|v| v.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        })
        .unwrap_or_default()
}
