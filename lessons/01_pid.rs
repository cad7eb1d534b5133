//! Stage 01 · PID namespace: a container is a process that believes it is PID 1.
//!
//! Run it: `cargo run --bin 01_pid`, or `cargo run --bin 01_pid -- sh -c 'echo $$'`.

use std::process::ExitCode;
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::{namespaces, Stage};

/// Stage 01: start a process in a new PID namespace, where it is PID 1.
///
/// Without a command, a narrated demo: the same process seen from the host (its real PID) and from
/// inside (PID 1), and why `ps` inside still shows the host's processes.
const ABOUT: &str = "Stage 01: start a process in a new PID namespace, where it is PID 1.\n\nWithout a command, a narrated demo: the same process seen from the host (its real PID) and from inside (PID 1), and why `ps` inside still shows the host's processes.";

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let n = &mut l.narrator;
    n.banner(
        "01_pid · a container is just a process",
        "A new PID namespace: the process numbers start again at 1.",
    );

    n.step("Start a shell in a new PID namespace and ask for its PID");
    n.syscall("clone(CLONE_NEWPID | SIGCHLD)");
    n.shell("unshare --pid --fork sh -c 'echo $$'");
    let ran = l.run(&["sh", "-c", "echo $$"])?;
    let inside = ran.output.trim().to_string();
    let n = &mut l.narrator;
    n.result(
        "the shell printed its own PID, and the host saw the same process under another number",
    );
    n.views_header();
    n.views("PID", var(ran.host_pid), &inside);
    n.claim(inside == "1", "inside its PID namespace, the process is PID 1");
    n.claim(
        ran.nspid == [ran.host_pid.as_raw() as u32, 1],
        "outside, the same process has an ordinary PID: the host's /proc/PID/status lists both (NSpid)",
    );

    n.step("Compare the namespaces the kernel lists in /proc/PID/ns");
    n.syscall("stat(\"/proc/PID/ns/pid\")  (equal inode = same namespace)");
    n.shell("readlink /proc/self/ns/pid /proc/PID/ns/pid");
    let host_pid_ns = namespaces::inode(None, "pid")?;
    let host_mnt_ns = namespaces::inode(None, "mnt")?;
    n.views_header();
    n.views(
        "pid namespace",
        var(format!("pid:[{host_pid_ns}]")),
        var(format!("pid:[{}]", ran.ns["pid"])),
    );
    n.views(
        "mount namespace",
        var(format!("mnt:[{host_mnt_ns}]")),
        var(format!("mnt:[{}]", ran.ns["mnt"])),
    );
    n.claim(ran.ns["pid"] != host_pid_ns, "the container has a PID namespace of its own");
    n.claim(ran.ns["mnt"] == host_mnt_ns, "but it still shares the host's mount namespace");

    n.step("Cliffhanger: ps inside still lists the host's processes");
    n.syscall("open(\"/proc\")  (ps reads the process list from /proc)");
    n.shell("unshare --pid --fork ps -e");
    let stage_pid = std::process::id();
    let ran = l.run(&["ps", "-e", "-o", "pid="])?;
    let pids: Vec<u32> = ran.output.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let n = &mut l.narrator;
    n.views_header();
    n.views("processes ps lists", var(namespaces::visible_processes()), var(pids.len()));
    n.claim(
        pids.contains(&stage_pid),
        "ps inside lists this stage's own process, which is outside the container",
    );
    n.note("ps reads /proc, and this /proc is still the host's: it was mounted for the host's PID");
    n.note("namespace. Stage 02 gives the container a mount namespace and a /proc of its own.");
    Ok(())
}
// ANCHOR_END: demo

fn main() -> ExitCode {
    lesson::main(Stage::Pid, ABOUT, demo)
}
