//! Stage 02 · mount namespace and a fresh /proc: `ps` inside sees only the container.
//!
//! Run it: `cargo run --bin 02_mount_proc`, or `cargo run --bin 02_mount_proc -- ps aux`.

use std::process::ExitCode;
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::{mounts, namespaces, Stage};

/// Stage 02: a mount namespace of the container's own, made private, with a new /proc.
///
/// Without a command, a narrated demo: `ps` inside lists only the container's processes, and the
/// host's mount table is exactly as it was.
const ABOUT: &str = "Stage 02: a mount namespace of the container's own, made private, with a new /proc.\n\nWithout a command, a narrated demo: `ps` inside lists only the container's processes, and the host's mount table is exactly as it was.";

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let host_mounts_before = mounts::host_mounts()?;
    let n = &mut l.narrator;
    n.banner(
        "02_mount_proc · a /proc of the container's own",
        "A new mount namespace, made private, with a fresh /proc.",
    );

    n.step("A new mount namespace, and every mount in it made private first");
    n.syscall("clone(CLONE_NEWNS | …), then mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)");
    n.shell("unshare --mount --propagation private");
    let root_propagation = mounts::root_propagation();
    n.result(&format!(
        "the host's / has {} propagation; inside, every mount is private",
        var(&root_propagation)
    ));
    n.note(
        "With shared propagation (systemd's default) a mount inside would appear on the host too.",
    );
    n.note(
        "Making / private before any other mount is what keeps the host's mount table untouched.",
    );

    n.step("Mount a fresh /proc for the container's PID namespace");
    n.syscall("mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)");
    n.shell("unshare --mount --pid --fork sh -c 'mount -t proc proc /proc && ps -e'");
    let ran = l.run(&["ps", "-e", "-o", "pid=,comm="])?;
    // ps pads its PID column to the width of this machine's pid_max: normalise the spacing.
    let inside: Vec<String> =
        ran.output.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let n = &mut l.narrator;
    n.output(
        "ps -e -o pid,comm   inside the container",
        &format!("PID COMMAND\n{}", inside.join("\n")),
    );
    n.views_header();
    n.views("processes ps lists", var(namespaces::visible_processes()), inside.len());
    n.claim(inside.len() == 1 && inside[0] == "1 ps", "ps inside lists only itself, as PID 1");

    n.step("The host's mount table is untouched");
    n.syscall("read(\"/proc/self/mountinfo\") on the host, before and after");
    n.shell("findmnt --list   (on the host)");
    let ran = l.run(&["sh", "-c", "cat /proc/self/mountinfo"])?;
    let inside_mounts = mounts::parse_mountinfo(&ran.output);
    let host_mounts_after = mounts::host_mounts()?;
    let host_mnt_ns = namespaces::inode(None, "mnt")?;
    let n = &mut l.narrator;
    n.views_header();
    n.views(
        "mount namespace",
        var(format!("mnt:[{host_mnt_ns}]")),
        var(format!("mnt:[{}]", ran.ns["mnt"])),
    );
    n.views("mounts", var(host_mounts_after.len()), var(inside_mounts.len()));
    n.views(
        "propagation of /",
        var(&root_propagation),
        inside_mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == "/")
            .map(|m| m.propagation.clone())
            .unwrap_or_default(),
    );
    n.claim(ran.ns["mnt"] != host_mnt_ns, "the container has a mount namespace of its own");
    n.claim(
        host_mounts_before == host_mounts_after,
        "the host's mount table is exactly as before: the container's /proc never reached it",
    );
    n.note(
        "The container's /proc went away with its mount namespace when its last process exited.",
    );
    Ok(())
}
// ANCHOR_END: demo

fn main() -> ExitCode {
    lesson::main(Stage::MountProc, ABOUT, demo)
}
