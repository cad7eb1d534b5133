//! Stage 05 · user namespace: root inside, an ordinary user outside.
//!
//! Run it: `cargo run --bin 05_user`, or `cargo run --bin 05_user -- id`.

use nix::sched::CloneFlags;
use std::path::Path;
use std::process::ExitCode;
use workshop::container::{self, Config};
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::userns::{self, RangeSource};
use workshop::{uts, Stage};

/// Stage 05: a user namespace, so that the container's root is an unprivileged user on the host.
///
/// Without a command, a narrated demo: `id` inside says root while the host sees an ordinary uid;
/// the root filesystem's files still look root-owned; and what this root can do inside its own
/// namespaces and cannot do to the host, each tried for real.
const ABOUT: &str = "Stage 05: a user namespace, so that the container's root is an unprivileged user on the host.\n\nWithout a command, a narrated demo: `id` inside says root while the host sees an ordinary uid; the root filesystem's files still look root-owned; and what this root can do inside its own namespaces and cannot do to the host, each tried for real.";

/// A file on the host that only the host's root may read.
const ROOT_ONLY: &str = "/tmp/workshop-root-only.txt";

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let user = l.config.user.clone().expect("stage 05 always has a user namespace");
    let n = &mut l.narrator;
    n.banner(
        "05_user · root inside, an ordinary user outside",
        "A user namespace with a uid and gid mapping written by the host.",
    );

    n.step("A user namespace, and the host writes its id mapping");
    n.syscall("clone(CLONE_NEWUSER | …); the parent writes /proc/PID/uid_map and gid_map");
    // The range comes from this machine's /etc/subuid, so it is shown as a value that varies.
    let unshare_user = unshare_as_mapped_root(&user);
    n.shell(&format!("{unshare_user} sh"));
    n.note("(--map-users runs newuidmap, from the uidmap package, which needs an /etc/subuid");
    n.note("entry even for root; util-linux before 2.39 takes the map as OUTER,INNER,COUNT.)");
    n.result(&format!("uid_map: {}   gid_map: {}", var(user.uid_map), var(user.gid_map)));
    n.result(&format!("the range: {}", var(describe(&user.source))));
    let (inside_id, host_uid) = id_inside_and_outside(&l.config)?;
    let n = &mut l.narrator;
    n.views_header();
    n.views("uid of the process", var(host_uid), "0 (root)");
    n.output("id   inside the container", &inside_id);
    n.claim(inside_id.starts_with("uid=0(root) gid=0(root)"), "inside, the process is root");
    n.claim(
        host_uid == user.uid_map.outside && host_uid != 0,
        "outside, it is an ordinary uid (read from /proc/PID/status)",
    );

    n.step("The root filesystem's files, seen through the mapping");
    let busybox_host_owner = owner(&l.config.rootfs.clone().unwrap_or_default().join("bin/sh"))?;
    let ran = l.run(&["stat", "-L", "-c", "%u", "/bin/sh"])?;
    let inside_owner = ran.output.trim().to_string();
    let n = &mut l.narrator;
    if l.config.idmapped_rootfs() {
        n.syscall("open_tree(ROOTFS, OPEN_TREE_CLONE); mount_setattr(MOUNT_ATTR_IDMAP, userns); move_mount");
        let m = user.uid_map;
        let shown = workshop::image::display_path(&l.config.rootfs.clone().unwrap_or_default());
        n.shell(&format!(
            "unshare --mount sh -c 'mount --bind -o X-mount.idmap={} {shown} {shown} && stat -L -c %u {shown}/bin/sh'",
            var(format!("{}:{}:{}", m.inside, m.outside, m.count))
        ));
        n.note("(X-mount.idmap needs util-linux 2.39 or later.)");
        n.note(
            "An idmapped mount shifts the owners as files are looked at: the same bytes on disk,",
        );
        n.note(
            "owned by the host's root, appear owned by the container's root. Nothing is copied.",
        );
    } else {
        let root = l.config.rootfs.clone().unwrap_or_default();
        let why = userns::idmap_unavailable(&root, &user).unwrap_or_default();
        n.note(&format!("No idmapped mount here: {}.", var(why)));
        n.note("So files the host's root owns appear owned by 65534, the overflow uid: host uid 0");
        n.note("is not in the mapping. The container still runs; its root just owns none of them.");
    }
    n.views_header();
    n.views("owner of /bin/sh", format!("{busybox_host_owner} (on disk)"), &inside_owner);
    if l.config.idmapped_rootfs() {
        n.claim(
            inside_owner == "0",
            "the root filesystem's files belong to root inside, unchanged on disk",
        );
    } else {
        // A host uid inside the mapped range shows as its inside uid; any other as the overflow uid.
        let m = user.uid_map;
        let expected = if (m.outside..m.outside + m.count).contains(&busybox_host_owner) {
            busybox_host_owner - m.outside + m.inside
        } else {
            65534
        };
        n.claim(
            inside_owner == expected.to_string(),
            "the files' owners are seen through the mapping: unmapped owners show as 65534",
        );
    }

    n.step("What this root can do: its own namespaces");
    n.syscall("sethostname(\"inside-05\"); mount(\"none\", \"/tmp\", \"tmpfs\", 0, NULL)");
    n.shell_inside("hostname inside-05; mount -t tmpfs none /tmp");
    let ran = l.run(&[
        "sh",
        "-c",
        "hostname inside-05 && hostname && mount -t tmpfs none /tmp && echo mounted",
    ])?;
    let n = &mut l.narrator;
    n.output("inside the container", ran.output.trim_end());
    n.claim(
        ran.exit.success() && ran.output.contains("inside-05") && ran.output.contains("mounted"),
        "root inside may rename its own UTS namespace and mount in its own mount namespace",
    );
    n.note("Those namespaces were made together with the user namespace, so it owns them, and");
    n.note("capabilities inside a user namespace count for everything it owns.");

    n.step("What it cannot do: anything the host's own namespaces own");
    let root_only = root_only_file(l)?;
    // The same three tries, once by the host's root (in a UTS namespace of its own, so that the
    // host's real hostname stays as it is) and once by the container's root.
    let path = root_only.clone();
    let attempts = move || {
        let read = std::fs::read(&path).map(|_| "allowed".to_string()).unwrap_or_else(errno_text);
        let host_name = nix::unistd::sethostname("hacked")
            .map(|()| "allowed".to_string())
            .unwrap_or_else(|e| format!("{e}"));
        let module = load_module().unwrap_or_else(|e| format!("{e}"));
        format!("{read}\n{host_name}\n{module}")
    };
    let host_probe = if workshop::privileges::is_root() {
        container::in_throwaway_child(CloneFlags::CLONE_NEWUTS, None, attempts.clone())?
    } else {
        "not root\nnot root\nnot root".to_string()
    };
    let host: Vec<&str> = host_probe.lines().collect();
    let probe = container::in_throwaway_child(CloneFlags::empty(), Some(&user), attempts)?;
    let results: Vec<&str> = probe.lines().collect();
    let n = &mut l.narrator;
    n.syscall("open(ROOT_ONLY_FILE); sethostname(\"hacked\"); finit_module(…)   as root of the user namespace");
    n.shell(&format!(
        "{} sh -c 'cat {root_only}; hostname hacked; insmod x.ko'",
        unshare_as_mapped_root(&user)
    ));
    n.views_header();
    let host_at = |i: usize| format!("root: {}", host.get(i).copied().unwrap_or("?"));
    n.views("read a root-only file", host_at(0), results.first().copied().unwrap_or("?"));
    n.views("change the hostname", host_at(1), results.get(1).copied().unwrap_or("?"));
    // This one differs by kernel (ENOSYS without module support): errno names only, as values.
    let errno_name = |r: &str| r.split(':').next().unwrap_or("?").to_string();
    n.views(
        "load a kernel module",
        var(format!("root: {}", errno_name(host.get(2).copied().unwrap_or("?")))),
        var(errno_name(results.get(2).copied().unwrap_or("?"))),
    );
    n.claim(
        results.first().is_some_and(|r| r.starts_with("EACCES")),
        &format!(
            "{root_only} stays closed: to the host this root is uid {}",
            var(user.uid_map.outside)
        ),
    );
    n.claim(results.get(1).is_some_and(|r| r.starts_with("EPERM")), "the host's hostname is out of reach: its UTS namespace belongs to the host's user namespace");
    n.claim(
        results.get(2).is_some_and(|r| r.starts_with("EPERM") || r.starts_with("ENOSYS")),
        "no kernel module: CAP_SYS_MODULE counts only in the host's user namespace",
    );
    n.note("(ENOSYS instead of EPERM means this kernel was built without module loading at all.)");
    n.claim(uts::host_hostname() != "hacked", "the host's hostname did not change");
    Ok(())
}
// ANCHOR_END: demo

/// The unshare(1) command that makes the stage's user namespace by hand: the same uid and gid
/// mappings, and --setuid/--setgid 0 so the command runs as the mapped root. (Not --map-root-user:
/// run by root, that maps root to root, and the root-only file would open.)
fn unshare_as_mapped_root(user: &userns::UserNamespace) -> String {
    let (u, g) = (user.uid_map, user.gid_map);
    format!(
        "unshare --user --map-users={} --map-groups={} --setuid 0 --setgid 0",
        var(format!("{}:{}:{}", u.inside, u.outside, u.count)),
        var(format!("{}:{}:{}", g.inside, g.outside, g.count)),
    )
}

fn describe(source: &RangeSource) -> String {
    match source {
        RangeSource::Subordinate(user) => {
            format!("{user}'s subordinate ids in /etc/subuid, /etc/subgid")
        }
        RangeSource::Fallback => "no /etc/subuid entry, so the workshop's 100000-165535".into(),
        RangeSource::OwnIdOnly => "--rootless: only your own uid and gid".into(),
    }
}

/// `id` inside, and the uid the host sees for the same process in /proc/PID/status.
fn id_inside_and_outside(config: &Config) -> anyhow::Result<(String, u32)> {
    let argv = ["sh".to_string(), "-c".into(), "id; exec sleep 60".into()];
    let mut running = container::spawn(config, &argv, container::Stdio::Capture)?;
    running.release()?;
    let output = running.read_line();
    let uid = userns::host_uid(running.pid).unwrap_or(0);
    // coreutils' id adds ` groups=0(root)` where busybox's does not: the same either way.
    let output = output.split(" groups=").next().unwrap_or_default().trim().to_string();
    Ok((output, uid))
}

fn owner(path: &Path) -> anyhow::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.uid())
}

/// A host file only the host's root may read. As root the stage makes one (a guard removes it);
/// with --rootless, a file the stage makes would be the caller's own, so it uses /etc/shadow.
fn root_only_file(l: &mut Lesson) -> anyhow::Result<String> {
    if !workshop::privileges::is_root() {
        anyhow::ensure!(
            Path::new("/etc/shadow").exists(),
            "this host has no /etc/shadow to try reading"
        );
        return Ok("/etc/shadow".into());
    }
    let made = l.cleanup.create_file(
        Path::new(ROOT_ONLY),
        b"only the host's root may read this\n",
        0o600,
    )?;
    anyhow::ensure!(made, "{ROOT_ONLY} exists already; remove it and run the demo again");
    Ok(ROOT_ONLY.into())
}

fn errno_text(e: std::io::Error) -> String {
    e.raw_os_error()
        .map(|n| format!("{}", nix::errno::Errno::from_raw(n)))
        .unwrap_or_else(|| e.to_string())
}

/// Tries to load a kernel module (an empty one: the capability check comes first).
fn load_module() -> Result<String, nix::errno::Errno> {
    let file = std::fs::File::open("/dev/null").map_err(|_| nix::errno::Errno::ENOENT)?;
    nix::kmod::finit_module(&file, c"", nix::kmod::ModuleInitFlags::empty())
        .map(|()| "allowed".to_string())
}

fn main() -> ExitCode {
    lesson::main(Stage::User, ABOUT, demo)
}
