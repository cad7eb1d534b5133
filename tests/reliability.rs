//! The classroom, as a careless student would run it: stages killed with SIGKILL at every named
//! point of their set-up, many containers at once, and a table of bad input. After each, the host's
//! links, addresses, mounts, files, records and processes are compared with what they were before.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use workshop::facts::{self, HostState};

fn stage(bin: &str) -> &'static Path {
    match bin {
        "01_pid" => Path::new(env!("CARGO_BIN_EXE_01_pid")),
        "02_mount_proc" => Path::new(env!("CARGO_BIN_EXE_02_mount_proc")),
        "03_rootfs" => Path::new(env!("CARGO_BIN_EXE_03_rootfs")),
        "04_network" => Path::new(env!("CARGO_BIN_EXE_04_network")),
        "05_user" => Path::new(env!("CARGO_BIN_EXE_05_user")),
        "06_cgroups" => Path::new(env!("CARGO_BIN_EXE_06_cgroups")),
        "07_overlay" => Path::new(env!("CARGO_BIN_EXE_07_overlay")),
        "08_security" => Path::new(env!("CARGO_BIN_EXE_08_security")),
        other => panic!("no stage {other}"),
    }
}

fn workshop_tool() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_workshop"))
}

/// Waits until `child` has stopped itself at its checkpoint (state T in /proc/PID/stat).
fn wait_until_stopped(child: &mut Child, point: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
        if state == Some(Some('T')) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the stage ended ({status}) before it reached the checkpoint {point}");
        }
        assert!(Instant::now() < deadline, "the stage never reached the checkpoint {point}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills the stage with SIGKILL at `point`, checks that it did leave a record, then that
/// `then` (the next run, or `cleanup`) leaves the host exactly as before.
fn kill_at(bin: &str, args: &[&str], point: &str, then: impl FnOnce()) {
    let before = HostState::capture();
    let child = facts::command(stage(bin), args)
        .env("WORKSHOP_STOP_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stages = Stages(vec![(child, 0, point.to_string())]);
    let child = &mut stages.0[0].0;
    wait_until_stopped(child, point);
    child.kill().unwrap(); // SIGKILL: no guard, no handler runs.
    child.wait().unwrap();
    let killed = HostState::capture();
    assert!(
        killed.records.len() > before.records.len(),
        "{bin} killed at {point} left no record: the test would prove nothing"
    );
    then();
    let after = HostState::capture_settled(&before);
    if let Some(diff) = after.diff(&before) {
        panic!("{bin} killed at {point}, then cleaned up, still left: {diff}");
    }
}

fn cleanup() {
    let out = facts::run(workshop_tool(), &["cleanup"]);
    assert_eq!(out.status, 0, "cleanup failed: {}", out.stderr);
    assert!(out.stdout.contains("Removed what earlier run"), "{}", out.stdout);
}

#[test]
fn sigkill_at_every_setup_step_is_healed_by_cleanup() {
    let Some(_s) = common::root_and_serial() else { return };
    let port = free_port().to_string();
    let publish = format!("{port}:80");
    let cases: &[(&str, &[&str], &[&str])] = &[
        // 03's demo makes the host's /tmp/secret.txt.
        ("03_rootfs", &[], &["record-file", "made-file"]),
        (
            "04_network",
            &["-p", &publish, "--", "sleep", "5"],
            &["made-lease", "record-link", "made-link", "cloned", "made-process", "host-side-done"],
        ),
        // 04's demo: its bridge, after the first container's cable.
        ("04_network", &[], &["made-lease"]),
        ("05_user", &["--", "sleep", "5"], &["made-lease", "made-link", "host-side-done"]),
        // 06: the cgroup is recorded before it is made, and removed by cleanup either way.
        (
            "06_cgroups",
            &["--memory", "32m", "--pids-limit", "20", "--", "sleep", "5"],
            &["record-cgroup", "made-cgroup", "host-side-done"],
        ),
        // 07: the container's dir in the store, recorded before it is made.
        (
            "07_overlay",
            &["--", "sleep", "5"],
            &["record-container-layer", "made-container-layer", "cloned", "host-side-done"],
        ),
        (
            "08_security",
            &["--read-only", "--", "sleep", "5"],
            &["made-container-layer", "host-side-done"],
        ),
    ];
    for (bin, args, points) in cases {
        for point in *points {
            kill_at(bin, args, point, cleanup);
        }
    }
}

#[test]
fn the_next_run_of_any_stage_removes_what_a_killed_run_left() {
    let Some(_s) = common::root_and_serial() else { return };
    kill_at("04_network", &["--", "sleep", "5"], "host-side-done", || {
        // A stage that makes nothing itself still reaps: 01.
        let out = facts::run(stage("01_pid"), &["--", "true"]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains("note: removed what earlier run of 04_network"),
            "the next run did not say what it removed: {:?}",
            out.stderr
        );
    });
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> u16 {
    workshop::probes::free_ports(1)[0]
}

fn http_get(port: u16) -> Option<String> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let page = workshop::probes::http_get(addr, Duration::from_secs(2)).ok()?;
    page.contains("200 OK").then_some(page)
}

/// Stages started by a test: stopped with SIGTERM (and reaped) when the test ends, also when it
/// fails half-way, so that a failed assertion leaves no container running.
struct Stages(Vec<(Child, u16, String)>);

impl Drop for Stages {
    fn drop(&mut self) {
        for (child, _, _) in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                // SAFETY: kill(2) with a child's PID. A stopped stage gets SIGCONT after SIGTERM.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                unsafe { libc::kill(child.id() as i32, libc::SIGCONT) };
                let _ = child.wait();
            }
        }
    }
}

/// N containers of a stage at once, each publishing its own port: each gets its own address, each
/// port is answered by its own container, and all of it is gone afterwards.
fn parallel_containers(bin: &str, n: usize) {
    let script = "mount -t tmpfs none /tmp && { hostname; ip -o -4 addr show eth0; } > /tmp/index.html && exec httpd -f -p 80 -h /tmp";
    common::leaves_host_as_found(|| {
        // Distinct free ports, so that no two containers get one port.
        let ports = workshop::probes::free_ports(n);
        let mut running = Stages(Vec::new());
        for (i, port) in ports.into_iter().enumerate() {
            let (p, h) = (format!("{port}:80"), format!("c{i}"));
            let child =
                facts::command(stage(bin), &["-p", &p, "--hostname", &h, "--", "sh", "-c", script])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
            running.0.push((child, port, h));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut addresses = Vec::new();
        for (child, port, name) in &mut running.0 {
            let page = loop {
                if let Some(page) = http_get(*port) {
                    break page;
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    use std::io::Read;
                    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                    panic!("{bin} container {name} ended ({status}) before it served: {err}");
                }
                assert!(Instant::now() < deadline, "{bin}: port {port} of {name} never answered");
                std::thread::sleep(Duration::from_millis(20));
            };
            let body = page.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
            assert!(
                body.starts_with(&format!("{name}\n")),
                "port {port} published for {name} was answered by another container: {body:?}"
            );
            let addr =
                body.split_whitespace().skip_while(|w| *w != "inet").nth(1).unwrap().to_string();
            assert!(!addresses.contains(&addr), "two containers share the address {addr}");
            addresses.push(addr);
        }
        for (child, _, _) in &mut running.0 {
            // SAFETY: kill(2) with a child's PID.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        for (child, _, name) in &mut running.0 {
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{name} ended with {status}");
        }
        assert_eq!(addresses.len(), n);
    });
}

#[test]
fn twenty_network_containers_at_once_each_have_their_own_address_and_port() {
    let Some(_s) = common::root_and_serial() else { return };
    parallel_containers("04_network", 20);
}

#[test]
fn twenty_user_namespace_containers_at_once_each_have_their_own_address_and_port() {
    let Some(_s) = common::root_and_serial() else { return };
    parallel_containers("05_user", 20);
}

/// The table of bad input: (stage, arguments, exit status, words the one line must hold).
const BAD_INPUT: &[(&str, &[&str], i32, &[&str])] = &[
    ("01_pid", &["--no-such-flag"], 125, &["--no-such-flag", "--help"]),
    ("01_pid", &["--hostname", "x", "--", "true"], 125, &["--hostname"]),
    ("01_pid", &["-p", "8080:80", "--", "true"], 125, &["-p"]),
    ("01_pid", &["--", "/no/such/binary"], 127, &["/no/such/binary", "No such file"]),
    ("01_pid", &["--", "/"], 126, &["/", "is a directory"]),
    ("01_pid", &["--", ""], 127, &["empty"]),
    ("01_pid", &["--", "/etc/passwd"], 126, &["/etc/passwd", "Permission denied"]),
    ("02_mount_proc", &["--no-such-flag"], 125, &["--no-such-flag"]),
    ("02_mount_proc", &["--rootfs", "/", "--", "true"], 125, &["--rootfs"]),
    ("02_mount_proc", &["--", "no-such-command"], 127, &["no-such-command", "not found"]),
    ("03_rootfs", &["--rootfs", "/no/such/dir", "--", "true"], 125, &["--rootfs", "/no/such/dir"]),
    ("03_rootfs", &["--rootfs", "/etc/passwd", "--", "true"], 125, &["not a directory"]),
    ("03_rootfs", &["--rootfs", "/proc/sys", "--", "true"], 125, &["/proc/sys"]),
    ("03_rootfs", &["--hostname", "bad name", "--", "true"], 125, &["--hostname", "letters"]),
    ("03_rootfs", &["--hostname", "", "--", "true"], 125, &["--hostname", "1 to 64"]),
    ("03_rootfs", &["--hostname", "a\nb", "--", "true"], 125, &["--hostname", "a\\nb"]),
    ("03_rootfs", &["--hostname", "-x", "--", "true"], 125, &["--hostname"]),
    (
        "03_rootfs",
        &["--hostname", "a-very-long-name-that-goes-on-and-on-and-on-past-sixty-four-chars"],
        125,
        &["1 to 64"],
    ),
    ("03_rootfs", &["--", "/no/such/binary"], 127, &["inside the container's root filesystem"]),
    ("03_rootfs", &["--", "/bin"], 126, &["is a directory"]),
    ("03_rootfs", &["-p", "8080:80"], 125, &["-p"]),
    (
        "04_network",
        &["--subnet", "10.200.0.5/24", "--", "true"],
        125,
        &["host bits", "10.200.0.0/24"],
    ),
    ("04_network", &["--subnet", "8.8.8.0/24", "--", "true"], 125, &["not a private range"]),
    ("04_network", &["--subnet", "10.200.0.0/31", "--", "true"], 125, &["/8 to /30"]),
    ("04_network", &["--subnet", "10.200.0.0", "--", "true"], 125, &["no /prefix"]),
    ("04_network", &["--subnet", "ten", "--", "true"], 125, &["--subnet"]),
    ("04_network", &["--subnet", "10.200.0.0/30"], 125, &["/28", "--subnet"]),
    ("04_network", &["-p", "8080", "--", "true"], 125, &["8080:80"]),
    ("04_network", &["-p", "x:80", "--", "true"], 125, &["-p", "8080:80"]),
    ("04_network", &["-p", "0:80", "--", "true"], 125, &["-p"]),
    ("04_network", &["-p", "70000:80", "--", "true"], 125, &["-p"]),
    ("04_network", &["-p", "-5:80", "--", "true"], 125, &["-p needs a value", "-5:80"]),
    (
        "04_network",
        &["-p", "18090:80", "-p", "18090:81", "--", "true"],
        125,
        &["both publish", "18090"],
    ),
    ("04_network", &["--network-rate", "fast", "--", "true"], 125, &["--network-rate", "fast"]),
    ("04_network", &["--network-rate", "-1", "--", "true"], 125, &["--network-rate needs a value"]),
    ("04_network", &["--network-rate", "0kbit", "--", "true"], 125, &["--network-rate"]),
    ("04_network", &["--rootless", "-p", "8080:80", "--", "true"], 125, &["-p", "--rootless"]),
    (
        "04_network",
        &["--rootless", "--network-rate", "1mbit", "--", "true"],
        125,
        &["--network-rate", "--rootless"],
    ),
    (
        "04_network",
        &["--rootless", "--subnet", "10.9.0.0/24", "--", "true"],
        125,
        &["--subnet", "--rootless"],
    ),
    ("04_network", &["--userns-remap", "root", "--", "true"], 125, &["--userns-remap"]),
    (
        "05_user",
        &["--userns-remap", "no-such-user", "--", "true"],
        125,
        &["no-such-user", "/etc/subuid"],
    ),
    ("05_user", &["--no-such-flag"], 125, &["--no-such-flag"]),
    ("05_user", &["--rootless", "-p", "8080:80", "--", "true"], 125, &["-p", "--rootless"]),
    ("05_user", &["--", "/no/such/binary"], 127, &["/no/such/binary"]),
    ("06_cgroups", &["--memory", "12q", "--", "true"], 125, &["--memory", "12q", "512m"]),
    ("06_cgroups", &["--memory", "1k", "--", "true"], 125, &["--memory", "1k", "6m"]),
    ("06_cgroups", &["--cpus", "0", "--", "true"], 125, &["--cpus", "0.01"]),
    ("06_cgroups", &["--cpus", "1000", "--", "true"], 125, &["--cpus", "1000"]),
    (
        "06_cgroups",
        &["--device-read-bps", "/dev/null:1mb", "--", "true"],
        125,
        &["/dev/null", "not a block device"],
    ),
    ("06_cgroups", &["--blkio-weight", "5", "--", "true"], 125, &["--blkio-weight", "10 to 1000"]),
    ("06_cgroups", &["--cgroup-parent", "../x", "--", "true"], 125, &["--cgroup-parent", "../x"]),
    ("06_cgroups", &["--pids-limit", "-5", "--", "true"], 125, &["--pids-limit"]),
    ("06_cgroups", &["--memory-swap", "1g", "--", "true"], 125, &["--memory"]),
    ("07_overlay", &["--image", "no-such-image", "--", "true"], 125, &["--image", "no-such-image"]),
    ("07_overlay", &["--image", "/no/such/dir", "--", "true"], 125, &["/no/such/dir"]),
    ("07_overlay", &["--image", "/etc", "--", "true"], 125, &["/etc", "not a root filesystem"]),
    ("07_overlay", &["--image", "bad:name", "--", "true"], 125, &["bad:name"]),
    ("07_overlay", &["--memory", "12q", "--", "true"], 125, &["--memory", "12q"]),
    ("07_overlay", &["--", "/no/such/binary"], 127, &["/no/such/binary"]),
    ("08_security", &["--cap-drop", "CAP_FLY", "--", "true"], 125, &["--cap-drop", "CAP_FLY"]),
    ("08_security", &["--cap-add", "all_of_them", "--", "true"], 125, &["--cap-add"]),
    (
        "08_security",
        &["--security-opt", "seccomp=/no/such.json", "--", "true"],
        125,
        &["/no/such.json"],
    ),
    ("08_security", &["--security-opt", "label=x", "--", "true"], 125, &["--security-opt"]),
    ("08_security", &["--user", "nosuchuser", "--", "true"], 125, &["nosuchuser"]),
    ("08_security", &["--tmpfs", "tmp", "--", "true"], 125, &["--tmpfs"]),
    ("08_security", &["--user", "1000", "--", "/no/such/binary"], 127, &["/no/such/binary"]),
];

#[test]
fn every_bad_input_gives_one_clear_line_and_leaves_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    assert!(BAD_INPUT.len() >= 40, "the table should hold at least 40 rows");
    for (bin, args, status, words) in BAD_INPUT {
        common::leaves_host_as_found(|| {
            let out = facts::run(stage(bin), args);
            let line = out.stderr.trim();
            assert_eq!(
                out.status, *status,
                "{bin} {args:?}: expected exit {status}, got {}: {line}",
                out.status
            );
            assert_eq!(line.lines().count(), 1, "{bin} {args:?}: not one line: {line:?}");
            assert!(line.starts_with("error: "), "{bin} {args:?}: {line}");
            for w in *words {
                assert!(line.contains(w), "{bin} {args:?}: {line:?} does not mention {w:?}");
            }
            assert!(!line.contains("panicked"), "{bin} {args:?}: {line}");
        });
    }
}
