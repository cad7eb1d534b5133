//! Stage 03 · a root filesystem of its own: pivot_root, plus its own hostname and IPC.
//!
//! Run it: `cargo run --bin 03_rootfs`, or `cargo run --bin 03_rootfs -- --hostname box -- sh`.

use nix::sched::CloneFlags;
use std::path::Path;
use std::process::ExitCode;
use workshop::container::{self, Config};
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::runtime::syscalls::Real;
use workshop::{image, ipc, mounts, namespaces, rootfs, uts, Stage};

/// Stage 03: pivot_root into a root filesystem, with a UTS (hostname) and IPC namespace of its own.
///
/// Without a command, a narrated demo: the classic pivot_root failure and its fix, why chroot is not
/// enough, then a container where the host's /tmp/secret.txt, hostname and shared memory are gone.
const ABOUT: &str = "Stage 03: pivot_root into a root filesystem, with a UTS (hostname) and IPC namespace of its own.\n\nWithout a command, a narrated demo: the classic pivot_root failure and its fix, why chroot is not enough, then a container where the host's /tmp/secret.txt, hostname and shared memory are gone.";

/// The course notes' experiment: a file only the host has.
const SECRET: &str = "/tmp/secret.txt";

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let root = l.config.rootfs.clone().expect("stage 03 always has a root filesystem");
    let shown = image::display_path(&root);
    // With --rootless, the throwaway children get the same user namespace as the container.
    let user_ns = l.config.user.clone();
    let user = user_ns.as_ref();
    let n = &mut l.narrator;
    n.banner(
        "03_rootfs · a root filesystem of its own",
        "pivot_root into a new root; own hostname; own IPC objects.",
    );

    n.step("A root filesystem for the container");
    n.shell(&format!("ls {shown}"));
    n.result(&format!("made from {}", var(rootfs_source(&root))));
    n.claim(root.join("bin/sh").exists(), "it has a shell, /bin/sh");

    n.step("The classic failure: pivot_root into a plain directory");
    n.syscall("pivot_root(new_root, put_old)  with new_root an ordinary directory");
    n.shell(&format!("unshare --mount sh -c 'cd {shown} && pivot_root . .'"));
    let plain = container::in_throwaway_child(CloneFlags::CLONE_NEWNS, user, || {
        let _ = mounts::make_private(&Real);
        errno_of(rootfs::pivot_into(&Real, &root))
    })?;
    let n = &mut l.narrator;
    n.expected_failure(&format!("pivot_root: {}", var(&plain)));
    n.claim(plain != "ok", "pivot_root refuses a new root that is not a mount point");
    n.note("EBUSY when the directory is on the same mount as / (so nothing would change), EINVAL");
    n.note(
        "when it is on another mount: either way the new root must be a mount point of its own.",
    );
    n.note("EINVAL also comes from / having shared propagation, which stage 02 already removed.");
    n.syscall("mount(DIR, DIR, NULL, MS_BIND | MS_REC, NULL), then pivot_root(\".\", \".\")");
    n.shell(&format!(
        "unshare --mount sh -c 'mount --bind {shown} {shown} && cd {shown} && pivot_root . . && umount -l .'"
    ));
    let fixed = container::in_throwaway_child(CloneFlags::CLONE_NEWNS, user, || {
        let _ = mounts::make_private(&Real);
        let _ = rootfs::bind_onto_itself(&Real, &root);
        errno_of(rootfs::pivot_into(&Real, &root))
    })?;
    let n = &mut l.narrator;
    n.claim(
        fixed == "ok",
        &format!("after a bind mount onto itself, pivot_root succeeds ({fixed})"),
    );

    n.step("Why not just chroot? A root process can climb out of a chroot");
    let created = make_secret(l)?;
    let n = &mut l.narrator;
    n.syscall(
        "chroot(\"tmp\") keeping the working directory outside, chdir(\"..\") × 64, chroot(\".\")",
    );
    n.shell(&format!("chroot {shown} sh   # then the same trick from inside"));
    let escaped = container::in_throwaway_child(CloneFlags::CLONE_NEWNS, user, || {
        let _ = mounts::make_private(&Real);
        let inside = nix::unistd::chdir(&root).and_then(|()| nix::unistd::chroot("."));
        if inside.is_err() || Path::new(SECRET).exists() {
            return "could not enter the chroot".into();
        }
        escape_attempt()
    })?;
    let n = &mut l.narrator;
    n.result(&format!("the host {} {SECRET}", if created { "now has" } else { "already had" }));
    n.claim(
        escaped == "escaped",
        &format!("from inside a chroot, the trick reaches the host's {SECRET} ({escaped})"),
    );
    n.note("chroot changes how one process resolves /, and nothing else: the host's tree is still");
    n.note(
        "in its mount namespace. pivot_root swaps the namespace's root mount, and the old one is",
    );
    n.note("then detached, so there is nothing left to climb back to.");

    n.step("pivot_root for real, with /proc, /dev and a read-only /sys");
    n.syscall("pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH); chdir(\"/\")");
    n.shell(&format!("unshare --mount --pid --fork --uts --ipc --root {shown} sh"));
    let ran = l.run(&["ls", "/"])?;
    let n = &mut l.narrator;
    n.output(
        "ls /   inside the container",
        &ran.output.split_whitespace().collect::<Vec<_>>().join("  "),
    );
    let host_view = root_seen_from_host(&l.config)?;
    let ran = l.run(&["cat", SECRET])?;
    let n = &mut l.narrator;
    n.views_header();
    let rootfs_id = file_id(&root)?;
    n.views("/ (device:inode)", var(&rootfs_id), var(&host_view));
    n.views(SECRET, "present", if ran.exit.success() { "present" } else { "no such file" });
    n.claim(
        host_view == rootfs_id,
        "the container's / is the root filesystem directory (host: stat /proc/PID/root)",
    );
    n.claim(!ran.exit.success(), &format!("the host's {SECRET} is invisible inside"));
    let config = l.config.clone();
    let escaped = container::in_throwaway_child(config.namespaces, user, || {
        if container::setup_inside(&config).is_err() {
            return "setup failed".into();
        }
        escape_attempt()
    })?;
    let n = &mut l.narrator;
    n.claim(
        escaped == "stayed inside",
        &format!("the chroot trick no longer reaches the host ({escaped})"),
    );
    let ran = l.run(&["ls", "/dev"])?;
    let n = &mut l.narrator;
    n.output(
        "ls /dev   inside the container",
        &ran.output.split_whitespace().collect::<Vec<_>>().join("  "),
    );
    let ran = l.run(&["touch", "/sys/kernel/workshop"])?;
    let n = &mut l.narrator;
    n.claim(
        !ran.exit.success() && ran.output.contains("Read-only file system"),
        "/sys is read-only: the container can look at the kernel's objects, not change them",
    );

    n.step("A hostname of its own (UTS namespace)");
    n.syscall("clone(CLONE_NEWUTS | …), then sethostname(NAME)");
    n.shell("unshare --uts sh -c 'hostname NAME; hostname'");
    let host_name = uts::host_hostname();
    let ran = l.run(&["hostname"])?;
    let inside = ran.output.trim().to_string();
    let n = &mut l.narrator;
    n.views_header();
    n.views("hostname", var(&host_name), var(&inside));
    n.claim(
        Some(&inside) == l.config.hostname.as_ref(),
        "inside, the hostname is the container's own",
    );
    n.claim(
        uts::host_hostname() == host_name && host_name != inside,
        "the host's hostname did not change",
    );

    n.step("IPC objects of its own (IPC namespace)");
    n.syscall(
        "shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)  on the host, then clone(CLONE_NEWIPC | …)",
    );
    n.shell("ipcmk -M 4096   (on the host), then: unshare --ipc ipcs -m");
    let segment = ipc::ShmSegment::create()?;
    let host_ids = ipc::shm_ids(&std::fs::read_to_string("/proc/sysvipc/shm")?);
    let ran = l.run(&["cat", "/proc/sysvipc/shm"])?;
    let inside_ids = ipc::shm_ids(&ran.output);
    let host_ipc = namespaces::inode(None, "ipc")?;
    let n = &mut l.narrator;
    n.views_header();
    n.views(
        "ipc namespace",
        var(format!("ipc:[{host_ipc}]")),
        var(format!("ipc:[{}]", ran.ns["ipc"])),
    );
    n.views(
        "our shm segment",
        var(format!("id {}", segment.id)),
        if inside_ids.contains(&segment.id) { "visible" } else { "not there" },
    );
    n.views("shm segments", var(host_ids.len()), inside_ids.len());
    n.claim(
        host_ids.contains(&segment.id) && inside_ids.is_empty(),
        "the host's shared memory segment is invisible inside",
    );
    drop(segment);
    Ok(())
}
// ANCHOR_END: demo

/// Tries the chroot escape and says how it went: "escaped", "stayed inside" or the errno.
fn escape_attempt() -> String {
    match rootfs::chroot_escape(Path::new(SECRET)) {
        Ok(true) => "escaped".into(),
        Ok(false) => "stayed inside".into(),
        Err(e) => format!("{e}"),
    }
}

/// Creates the host's secret file unless it exists; recorded, and removed again if we made it.
fn make_secret(l: &mut Lesson) -> anyhow::Result<bool> {
    l.cleanup.create_file(Path::new(SECRET), b"secret\n", 0o644)
}

/// The container's `/` seen from the host through /proc/PID/root, a link into its mount namespace.
fn root_seen_from_host(config: &Config) -> anyhow::Result<String> {
    let mut running =
        container::spawn(config, &["sleep".into(), "60".into()], container::Stdio::Capture)?;
    running.release()?;
    file_id(Path::new(&format!("/proc/{}/root/", running.pid)))
    // Dropping `running` kills and reaps the container.
}

fn file_id(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(format!("{}:{}", m.dev(), m.ino()))
}

fn errno_of(r: nix::Result<()>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("{e}"),
    }
}

fn rootfs_source(root: &Path) -> String {
    std::fs::read_to_string(root.join(".workshop-rootfs"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("source ").map(String::from)))
        .unwrap_or_else(|| "--rootfs".into())
}

fn main() -> ExitCode {
    lesson::main(Stage::Rootfs, ABOUT, demo)
}
