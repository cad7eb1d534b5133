//! The root filesystem builder: every tool the course uses is in a root filesystem built from the
//! host's binaries and the workshop's toolbox, and each one runs inside a real container; many
//! builders at once build it once; a changed plan rebuilds it.
mod common;

use std::path::{Path, PathBuf};
use workshop::image::{self, Origin, Plan, Source};
use workshop::Stage;

/// A private image store for one test, removed when dropped.
struct Store(PathBuf);

impl Store {
    fn new(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("workshop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store(dir)
    }

    fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn toolbox() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_toolbox"))
}

fn host_path() -> Vec<PathBuf> {
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(PathBuf::from)
        .collect()
}

/// The plan a machine without busybox gets: the host's binaries and this build's toolbox.
fn host_plan() -> Plan {
    Plan::resolve(Source::HostBinaries, &[], &host_path(), Ok(toolbox()))
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

/// Runs a command in a container of stage 04 with `--rootless` on `root`: its own user and
/// network namespace (loopback only), so its servers are its own and no veth is needed.
fn run_in(root: &Path, script: &str) -> workshop::facts::Outcome {
    let bin = Path::new(env!("CARGO_BIN_EXE_04_network"));
    let root = root.to_str().unwrap();
    workshop::facts::run(bin, &["--rootless", "--rootfs", root, "--", "sh", "-c", script])
}

#[test]
fn a_host_rootfs_has_every_course_tool_and_each_one_runs() {
    let Some(_s) = common::root_and_serial() else { return };
    let store = Store::new("host-rootfs");
    let plan = host_plan();
    // On CI's fresh machine .ci/run installs the packages; a missing one is named here.
    assert_eq!(plan.missing_for(Stage::User), Vec::<String>::new());
    let root = image::ensure_at(&store.rootfs(), &plan).unwrap();
    assert_eq!(image::missing_in(&root, Stage::User), Vec::<&str>::new());
    assert!(image::missing_tools(&root).is_empty());
    // Each tool, with the flags the stages, tests and book use, inside a real container.
    let out = run_in(
        &root,
        "set -e; echo hi > /dev/null; true; ! false; id -u; hostname; uname -s; sleep 0; \
         ls / | grep -c bin; cat /etc/hosts | head -1 | wc -l; touch /tmp/t; stat -c %s /tmp/t; \
         readlink /proc/self/ns/net | grep -c net; mount -t tmpfs none /tmp; umount /tmp; \
         ps -e -o pid= | head -1; TERM=dumb top -b -n 1 | grep -c Tasks; ip -o link | grep -c lo; tc qdisc | wc -l; \
         ping -c 1 -W 2 127.0.0.1 | grep -c 'bytes from'; \
         httpd -p 8000 -h /var/www; wget -q -O - http://127.0.0.1:8000/; \
         printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 8000 | grep -c '200 OK'",
    );
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "0",
            lines.get(1).copied().unwrap_or("?"), // the container's hostname
            "Linux",
            "2",
            "1",
            "0",
            "1",
            "1",
            "1",
            "1",
            lines.get(11).copied().unwrap_or("?"), // the qdisc lines of lo
            "1",
            "hello from inside the container",
            "1"
        ],
        "status {}, stderr: {}",
        out.status,
        out.stderr
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
}

#[test]
fn many_builders_at_once_build_once_and_leave_no_temporary_directory() {
    let Some(_s) = common::root_and_serial() else { return };
    let store = Store::new("concurrent-rootfs");
    let plan = host_plan();
    let roots: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..6).map(|_| s.spawn(|| image::ensure_at(&store.rootfs(), &plan).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(roots.iter().all(|r| r == &store.rootfs()));
    let built = inode(&store.rootfs());
    // A current stamp is reused as it is: no rebuild, the same directory.
    image::ensure_at(&store.rootfs(), &plan).unwrap();
    assert_eq!(inode(&store.rootfs()), built);
    let entries: Vec<String> = std::fs::read_dir(&store.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["rootfs"]);
}

#[test]
fn a_changed_plan_rebuilds_and_a_missing_toolbox_is_named() {
    let Some(_s) = common::root_and_serial() else { return };
    let store = Store::new("rebuilt-rootfs");
    let hint = "the workshop's toolbox, not built yet".to_string();
    let without = Plan::resolve(Source::HostBinaries, &[], &host_path(), Err(hint.clone()));
    let root = image::ensure_at(&store.rootfs(), &without).unwrap();
    let first = inode(&root);
    assert!(image::missing_in(&root, Stage::Network).contains(&"httpd"));
    assert!(image::missing_tools(&root).contains(&format!("httpd ({hint})")));
    assert_eq!(without.missing_for(Stage::Network), [format!("ping, wget, nc, httpd ({hint})")]);
    // Once the toolbox exists the plan differs, so the stamp does, so the image is rebuilt.
    let root = image::ensure_at(&store.rootfs(), &host_plan()).unwrap();
    assert_ne!(inode(&root), first);
    assert!(image::missing_in(&root, Stage::Network).is_empty());
    assert!(image::missing_tools(&root).is_empty());
}

#[test]
fn the_source_follows_the_settings() {
    // WORKSHOP_ROOTFS_SOURCE=host, as CI's run without busybox sets it, wins over any busybox.
    let source = image::choose_source().unwrap();
    match std::env::var("WORKSHOP_ROOTFS_SOURCE").as_deref() {
        Ok("host") => assert_eq!(source, Source::HostBinaries),
        Ok("busybox") => assert!(matches!(source, Source::StaticBusybox(_))),
        _ => assert_eq!(
            source,
            image::find_static_busybox().map(Source::StaticBusybox).unwrap_or(Source::HostBinaries)
        ),
    }
}

#[test]
fn a_busybox_rootfs_links_every_applet_to_one_binary() {
    let Some(_s) = common::root_and_serial() else { return };
    let Some(busybox) = image::find_static_busybox() else {
        // No busybox on this machine: the plan must be the host's, with nothing missing.
        let plan = image::plan().unwrap();
        assert!(
            plan.source == Source::HostBinaries
                && plan.tools.iter().all(|(_, o)| !matches!(o, Origin::BusyboxApplet)),
            "{plan:?}"
        );
        return;
    };
    let store = Store::new("busybox-rootfs");
    let applets = image::busybox_applets(&busybox).unwrap();
    let plan = Plan::resolve(Source::StaticBusybox(busybox), &applets, &[], Err(String::new()));
    let root = image::ensure_at(&store.rootfs(), &plan).unwrap();
    assert_eq!(std::fs::read_link(root.join("bin/sh")).unwrap(), Path::new("busybox"));
    let out =
        run_in(&root, "id -u; httpd -p 8000 -h /var/www; wget -q -O - http://127.0.0.1:8000/");
    assert_eq!(out.stdout, "0\nhello from inside the container\n", "{}", out.stderr);
}

#[test]
fn without_the_toolbox_the_default_rootfs_is_refused_with_the_command_that_builds_it() {
    let Some(_s) = common::root_and_serial() else { return };
    let store = Store::new("no-toolbox");
    let out = workshop::facts::run_command({
        let mut cmd =
            workshop::facts::command(Path::new(env!("CARGO_BIN_EXE_workshop")), &["rootfs"]);
        cmd.env("WORKSHOP_STORE", &store.0)
            .env("WORKSHOP_ROOTFS_SOURCE", "host")
            .env("WORKSHOP_TOOLBOX", store.0.join("no-toolbox"));
        cmd
    });
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("httpd, nc, wget and ping") && out.stderr.contains("does not exist"),
        "{}",
        out.stderr
    );
    assert!(!store.rootfs().exists(), "nothing is built half-way");
}

#[test]
fn without_iproute2_the_toolboxs_ip_lists_links_addresses_and_routes() {
    let Some(_s) = common::root_and_serial() else { return };
    let store = Store::new("no-iproute2");
    // A PATH holding every host tool but iproute2's: this machine as if it had no iproute2.
    let bin = store.0.join("path");
    std::fs::create_dir_all(&bin).unwrap();
    for (tool, origin) in &host_plan().tools {
        if let (Origin::HostBinary(p), false) = (origin, ["ip", "tc"].contains(&tool.name)) {
            std::os::unix::fs::symlink(p, bin.join(tool.name)).unwrap();
        }
    }
    let plan = Plan::resolve(Source::HostBinaries, &[], &[bin], Ok(toolbox()));
    assert!(plan.tools.iter().any(|(t, o)| t.name == "ip" && matches!(o, Origin::Toolbox(_))));
    let root = image::ensure_at(&store.rootfs(), &plan).unwrap();
    assert_eq!(std::fs::read_link(root.join("bin/ip")).unwrap(), Path::new("toolbox"));
    let out = run_in(&root, "ip -o link; ip -o -4 addr show lo; ip route; ip addr show nope");
    assert_eq!(
        out.stdout,
        "1: lo: <LOOPBACK,UP>\\    link/loopback\n1: lo    inet 127.0.0.1/8 scope host\n",
        "{}",
        out.stderr
    );
    assert_eq!((out.status, out.stderr.trim()), (1, "Device \"nope\" does not exist."));
}
