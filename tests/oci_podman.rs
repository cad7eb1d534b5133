//! podman runs real containers through `workshop-runc`: the proof that the workshop's container
//! is one a real engine can drive. podman (installed by .ci/run) keeps its storage in a temp dir;
//! every test checks from outside (the runtime's own state against `podman inspect`, the page a
//! published port serves, the exit code of an OOM kill, the terminal's name) and leaves the host
//! as found, podman's own traces included: its directories, the firewall chains and
//! `net.ipv4.ip_forward` that its network backend (netavark) leaves after `-p`.
mod common;
#[path = "common/podman.rs"]
mod podman;

use podman::Podman;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use workshop::facts::{self, Outcome};

const RUNC: &str = env!("CARGO_BIN_EXE_workshop-runc");

/// The machine's limit on raising rlimits: podman's defaults need CAP_SYS_RESOURCE, which a
/// container host such as this one may not hold; these values stay within the current limits.
const ULIMITS: [&str; 4] = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];

/// What the tests do with podman: run it, expect success, run a container within this machine's
/// limits.
trait Use {
    fn run(&self, args: &[&str]) -> Outcome;
    fn ok(&self, args: &[&str]) -> String;
    fn run_container(&self, args: &[&str]) -> Outcome;
}

impl Use for Podman {
    fn run(&self, args: &[&str]) -> Outcome {
        facts::run_command(self.command(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status, 0, "podman {args:?}: {}{}", out.stdout, out.stderr);
        out.stdout
    }

    fn run_container(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["run"];
        all.extend(ULIMITS);
        all.extend(args);
        self.run(&all)
    }
}

/// What a podman run could leave on the host beyond the workshop's own checks: every link, the
/// mounts, podman's cgroups (conmon's and the containers'), the runtime's containers, the
/// firewall's shape and forwarding, podman's directories.
#[derive(Debug, PartialEq)]
struct Traces {
    links: Vec<String>,
    mounts: Vec<String>,
    cgroups: Vec<String>,
    oci: String,
    firewall: Vec<(String, usize)>,
    forward: String,
    dirs: Vec<bool>,
}

fn traces() -> Traces {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    let mut cgroups: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path())
        .chain([PathBuf::from("/sys/fs/cgroup")])
        .map(|h| h.join("libpod_parent"))
        .filter(|p| p.is_dir())
        .flat_map(|p| {
            let children = std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path());
            std::iter::once(p.clone()).chain(children.filter(|c| c.is_dir()).collect::<Vec<_>>())
        })
        .map(|p| p.display().to_string())
        .collect();
    cgroups.sort();
    let mut mounts: Vec<String> =
        workshop::mounts::host_mounts().unwrap().into_iter().map(|m| m.mount_point).collect();
    mounts.sort();
    let ruleset = Command::new("nft").args(["list", "ruleset"]).output().unwrap();
    Traces {
        links,
        mounts,
        cgroups,
        oci: facts::run(Path::new(RUNC), &["list"]).stdout,
        firewall: shape(&String::from_utf8_lossy(&ruleset.stdout)),
        forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        dirs: ["/etc/containers/networks", "/run/containers", "/run/libpod", "/run/netns"]
            .iter()
            .map(|d| Path::new(d).exists())
            .collect(),
    }
}

/// Runs `test` with podman over workshop-runc, then checks the host once podman's guard has put
/// everything back: the workshop's own picture of the host, and [`Traces`].
fn with_podman(test: impl FnOnce(&Podman)) {
    let Some(_serial) = common::root_and_serial() else { return };
    if !podman::installed() {
        common::skip("podman is not installed (apt-get install podman; .ci/run installs it)");
        return;
    }
    let before = traces();
    common::leaves_host_as_found(|| {
        let rootfs = workshop::image::ensure(None).expect("the root filesystem");
        let p = Podman::new("podman", Some(RUNC), &[], &rootfs);
        test(&p);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = traces();
    while after != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after = traces();
    }
    assert_eq!(after, before, "podman's run through workshop-runc left something behind");
}

#[test]
fn podman_runs_echo_hi_through_workshop_runc() {
    with_podman(|p| {
        let info = p.ok(&["info", "--format", "{{.Host.OCIRuntime.Path}}"]);
        assert_eq!(info.trim(), RUNC, "podman calls our runtime");
        let out = p.run_container(&["--rm", "--network", "none", "wsimg", "echo", "hi"]);
        assert_eq!((out.status, out.stdout.as_str()), (0, "hi\n"), "{}", out.stderr);
    });
}

#[test]
fn a_detached_container_is_execd_into_listed_stopped_and_removed() {
    with_podman(|p| {
        let id =
            p.run_container(&["-d", "--name", "web", "--network", "none", "wsimg", "sleep", "100"]);
        assert_eq!(id.status, 0, "{}", id.stderr);
        let id = id.stdout.trim().to_string();
        // The runtime's own state agrees with podman's.
        let state: serde_json::Value =
            serde_json::from_str(&facts::run(Path::new(RUNC), &["state", &id]).stdout).unwrap();
        assert_eq!(state["status"], "running");
        let pid = p.ok(&["inspect", "--format", "{{.State.Pid}}", "web"]);
        assert_eq!(state["pid"].to_string(), pid.trim());
        let host_pidns = std::fs::read_link("/proc/self/ns/pid").unwrap();
        assert_ne!(std::fs::read_link(format!("/proc/{}/ns/pid", pid.trim())).unwrap(), host_pidns);
        // exec: a process in the container's namespaces, which sees only the container's.
        let ps = p.ok(&["exec", "web", "ps", "-o", "pid,args"]);
        assert!(ps.contains("sleep 100") && ps.lines().count() <= 4, "{ps}");
        assert_eq!(p.ok(&["exec", "web", "cat", "/etc/hostname"]).trim(), &id[..12]);
        let listed = p.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(listed.lines().any(|l| l.starts_with("web Up")), "{listed}");
        p.ok(&["pause", "web"]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(
                &facts::run(Path::new(RUNC), &["state", &id]).stdout
            )
            .unwrap()["status"],
            "paused"
        );
        p.ok(&["unpause", "web"]);
        p.ok(&["stop", "--time", "1", "web"]);
        let exited = p.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        assert!(exited.lines().any(|l| l.starts_with("web Exited (137)")), "{exited}");
        p.ok(&["rm", "web"]);
        let gone = facts::run(Path::new(RUNC), &["state", &id]);
        assert!(gone.stderr.contains("does not exist"), "{}", gone.stderr);
    });
}

#[test]
fn a_memory_limit_is_enforced_with_an_oom_kill_137() {
    with_podman(|p| {
        // dd's 64 MiB buffer, in either root filesystem; exec, so that dd is the container's
        // PID 1 and its death the container's status.
        let allocate = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max \
                        2>/dev/null; exec dd if=/dev/zero of=/dev/null bs=64M count=1";
        let out = p.run_container(&[
            "--rm",
            "--network",
            "none",
            "--memory",
            "32m",
            "wsimg",
            "sh",
            "-c",
            allocate,
        ]);
        assert_eq!(out.status, 137, "killed by the OOM killer: {}{}", out.stdout, out.stderr);
        assert_eq!(
            out.stdout.lines().next(),
            Some("33554432"),
            "the limit, inside: {}",
            out.stdout
        );
    });
}

#[test]
fn a_published_port_is_answered_from_the_container() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    // netavark adds firewall chains, turns forwarding on and mounts /run/netns: podman's guard
    // puts them back, and with_podman checks that it did.
    with_podman(|p| {
        let run = p.run_container(&[
            "-d", "--name", "site", "-p", &publish, "wsimg", "httpd", "-f", "-p", "80", "-h",
            "/var/www",
        ]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        let page = fetch(port);
        let expected =
            std::fs::read_to_string(workshop::image::default_rootfs().join("var/www/index.html"))
                .unwrap();
        assert!(page.starts_with("HTTP/1.") && page.contains(" 200"), "{page}");
        assert!(page.ends_with(&expected), "the container's page: {page}");
        p.ok(&["rm", "--force", "--time", "0", "site"]);
    });
}

/// A ruleset's tables and chains, and how many rules each holds: what `nft -f` of a listing
/// brings back exactly (counters and the spelling of compatibility rules may differ).
fn shape(ruleset: &str) -> Vec<(String, usize)> {
    let mut shape: Vec<(String, usize)> = Vec::new();
    for line in ruleset.lines().map(str::trim) {
        if line.starts_with("table ") || line.starts_with("chain ") {
            shape.push((line.to_string(), 0));
        } else if !line.is_empty() && line != "}" && !line.starts_with("type ") {
            if let Some(last) = shape.last_mut() {
                last.1 += 1;
            }
        }
    }
    shape
}

/// GET / through 127.0.0.1:`port`, retried while the container starts its server.
fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut page = String::new();
            s.read_to_string(&mut page)?;
            Ok(page)
        });
        match attempt {
            Ok(page) if !page.is_empty() => return page,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("nothing answered on 127.0.0.1:{port}: {other:?}"),
        }
    }
}

#[test]
fn run_t_gives_the_container_a_terminal() {
    with_podman(|p| {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = std::fs::File::from(pty.slave);
        let mut cmd = p.command(&[]);
        cmd.args(["run"]).args(ULIMITS).args(["--rm", "-t", "--network", "none", "wsimg"]);
        cmd.args(["sh", "-c", "readlink /proc/self/fd/0; echo end"]);
        cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
        let mut child = cmd.spawn().unwrap();
        drop(cmd); // our copies of the terminal's slave end: EOF once podman's are closed
        let mut master = std::fs::File::from(pty.master);
        let mut text = Vec::new();
        let mut buf = [0u8; 256];
        let deadline = Instant::now() + Duration::from_secs(30);
        while !String::from_utf8_lossy(&text).contains("end") && Instant::now() < deadline {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        assert!(child.wait().unwrap().success());
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("/dev/pts/0"), "the container's terminal: {text:?}");
    });
}

/// Every call podman makes to its runtime for one container's life, logged by a wrapper around
/// `workshop-runc`: chapter 10 shows this sequence, from this snapshot.
#[test]
fn the_calls_podman_makes_as_chapter_10_shows_them() {
    with_podman(|p| {
        let log = p.dir.join("calls.log");
        let wrapper = p.dir.join("runtime.sh");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\necho \"$*\" >> {}\nexec {RUNC} \"$@\"\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wrapped = |args: &[&str]| {
            let mut cmd = p.command(&["--runtime", wrapper.to_str().unwrap()]);
            cmd.args(args);
            facts::run_command(cmd)
        };
        {
            let mut run = vec!["run", "-d", "--name", "calls", "--network", "none"];
            run.extend(ULIMITS);
            run.extend(["wsimg", "sleep", "100"]);
            assert_eq!(wrapped(&run).status, 0);
            assert_eq!(wrapped(&["exec", "calls", "true"]).status, 0);
            assert_eq!(wrapped(&["stop", "--time", "1", "calls"]).status, 0);
            assert_eq!(wrapped(&["rm", "calls"]).status, 0);
        }
        let calls = std::fs::read_to_string(&log).unwrap();
        // The container's and the exec session's ids (64 hex digits), and podman's storage paths.
        let ids = regex::Regex::new(r"[0-9a-f]{64}").unwrap();
        let mut seen: Vec<String> = Vec::new();
        let calls = ids.replace_all(&calls, |c: &regex::Captures| {
            let id = c[0].to_string();
            let n = seen.iter().position(|s| *s == id).unwrap_or_else(|| {
                seen.push(id.clone());
                seen.len() - 1
            });
            if n == 0 {
                "CONTAINER_ID".to_string()
            } else {
                format!("EXEC_ID{n}")
            }
        });
        let calls = calls.replace(&p.dir.display().to_string(), "STORAGE");
        let calls =
            regex::Regex::new(r"exec-process-\d+").unwrap().replace_all(&calls, "exec-process-N");
        insta::assert_snapshot!("podman_calls", calls);
    });
}
