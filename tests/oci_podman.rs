//! podman runs real containers through `workshop-runc`: the proof that the workshop's container
//! is one a real engine can drive. podman (installed by .ci/run) keeps its storage in a temp dir;
//! every test checks from outside (the runtime's own state against `podman inspect`, the page a
//! published port serves, the exit code of an OOM kill, the terminal's name) and leaves the host
//! as found, podman's own traces included: its directories, the firewall chains and
//! `net.ipv4.ip_forward` that its network backend (netavark) leaves after `-p`.
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use workshop::facts::{self, Outcome};

const RUNC: &str = env!("CARGO_BIN_EXE_workshop-runc");

/// The machine's limit on raising rlimits: podman's defaults need CAP_SYS_RESOURCE, which a
/// container host such as this one may not hold; these values stay within the current limits.
const ULIMITS: [&str; 4] = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];

/// Directories podman and netavark make on first use, outside the storage we give them.
const PODMAN_DIRS: [&str; 6] = [
    "/etc/containers/networks",
    "/run/containers",
    "/var/lib/containers",
    "/run/libpod",
    "/run/netns",
    "/run/runc",
];

/// podman with its storage in a temp dir, our runtime, cgroupfs, and an image imported from the
/// workshop's root filesystem.
struct Podman {
    dir: PathBuf,
    absent: Vec<&'static str>,
}

impl Podman {
    fn new() -> Option<Podman> {
        if Command::new("podman").arg("--version").output().is_err() {
            common::skip("podman is not installed (apt-get install podman; .ci/run installs it)");
            return None;
        }
        let absent = PODMAN_DIRS.into_iter().filter(|d| !Path::new(d).exists()).collect();
        let dir = std::env::temp_dir().join(format!("ws-podman-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let p = Podman { dir, absent };
        let rootfs = workshop::image::ensure(None).expect("the root filesystem");
        let mut tar = Command::new("tar")
            .args(["-C", rootfs.to_str().unwrap(), "-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let tar_out = tar.stdout.take().unwrap();
        let import = p.command(&["import", "-", "wsimg"]).stdin(tar_out).output().unwrap();
        assert!(tar.wait().unwrap().success(), "tar of {}", rootfs.display());
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        Some(p)
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = |sub: &str| self.dir.join(sub).display().to_string();
        let mut cmd = Command::new("podman");
        cmd.args(["--root", &d("root"), "--runroot", &d("runroot"), "--tmpdir", &d("tmp")])
            .args(["--runtime", RUNC, "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Outcome {
        facts::run_command(self.command(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status, 0, "podman {args:?}: {}{}", out.stdout, out.stderr);
        out.stdout
    }

    /// `podman run` with the limits this machine allows, then `args`.
    fn run_container(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["run"];
        all.extend(ULIMITS);
        all.extend(args);
        self.run(&all)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.command(&["rm", "--all", "--force", "--time", "0"]).output();
        let _ = self.command(&["system", "reset", "--force"]).output();
        let _ = Command::new("umount").arg("-R").arg(self.dir.join("root")).output();
        let _ = std::fs::remove_dir_all(&self.dir);
        for d in &self.absent {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// What a podman run could leave on the host: links, mounts, cgroups, the runtime's containers.
#[derive(Debug, PartialEq)]
struct Traces {
    links: Vec<String>,
    mounts: usize,
    cgroups: Vec<String>,
    oci: String,
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
        .flat_map(|h| std::fs::read_dir(h.path().join("libpod_parent")).into_iter().flatten())
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path().display().to_string())
        .collect();
    cgroups.sort();
    Traces {
        links,
        mounts: workshop::mounts::host_mounts().unwrap().len(),
        cgroups,
        oci: facts::run(Path::new(RUNC), &["list"]).stdout,
    }
}

fn as_found<T>(f: impl FnOnce() -> T) -> T {
    let before = traces();
    let result = common::leaves_host_as_found(f);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = traces();
    while after != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after = traces();
    }
    assert_eq!(after, before, "podman's run through workshop-runc left something behind");
    result
}

#[test]
fn podman_runs_echo_hi_through_workshop_runc() {
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
    let info = p.ok(&["info", "--format", "{{.Host.OCIRuntime.Path}}"]);
    assert_eq!(info.trim(), RUNC, "podman calls our runtime");
    as_found(|| {
        let out = p.run_container(&["--rm", "--network", "none", "wsimg", "echo", "hi"]);
        assert_eq!((out.status, out.stdout.as_str()), (0, "hi\n"), "{}", out.stderr);
    });
}

#[test]
fn a_detached_container_is_execd_into_listed_stopped_and_removed() {
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
    as_found(|| {
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
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
    as_found(|| {
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

/// The host's firewall and forwarding as netavark finds them; put back after `-p`.
struct Network {
    ruleset: String,
    forward: String,
}

impl Network {
    fn capture() -> Network {
        let ruleset = Command::new("nft").args(["list", "ruleset"]).output().unwrap();
        Network {
            ruleset: String::from_utf8_lossy(&ruleset.stdout).into_owned(),
            forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        }
    }

    fn restore(&self) {
        let _ = Command::new("nft").args(["flush", "ruleset"]).status();
        if !self.ruleset.trim().is_empty() {
            let mut nft =
                Command::new("nft").args(["-f", "-"]).stdin(Stdio::piped()).spawn().unwrap();
            nft.stdin.take().unwrap().write_all(self.ruleset.as_bytes()).unwrap();
            nft.wait().unwrap();
        }
        std::fs::write("/proc/sys/net/ipv4/ip_forward", &self.forward).unwrap();
    }
}

#[test]
fn a_published_port_is_answered_from_the_container() {
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
    let network = Network::capture();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    as_found(|| {
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
        network.restore();
    });
    let now = Network::capture();
    assert_eq!(shape(&now.ruleset), shape(&network.ruleset), "the firewall as before");
    assert_eq!(now.forward, network.forward, "net.ipv4.ip_forward as before");
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
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
    as_found(|| {
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
    let Some(_serial) = common::root_and_serial() else { return };
    let Some(p) = Podman::new() else { return };
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
    as_found(|| {
        let mut run = vec!["run", "-d", "--name", "calls", "--network", "none"];
        run.extend(ULIMITS);
        run.extend(["wsimg", "sleep", "100"]);
        assert_eq!(wrapped(&run).status, 0);
        assert_eq!(wrapped(&["exec", "calls", "true"]).status, 0);
        assert_eq!(wrapped(&["stop", "--time", "1", "calls"]).status, 0);
        assert_eq!(wrapped(&["rm", "calls"]).status, 0);
    });
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
}
