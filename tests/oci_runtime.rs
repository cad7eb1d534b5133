//! The OCI runtime interface (`workshop-runc`), operation by operation, against the runtime
//! specification's runtime.md, checked from outside: the process the pid file names and its
//! namespaces, files the container wrote into a bind-mounted host directory, the host's cgroup
//! files, the state JSON, and the host left as found.
mod common;

use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use workshop::facts::{self, Outcome};

const RUNC: &str = env!("CARGO_BIN_EXE_workshop-runc");

/// A bundle in a temp dir: config.json from `workshop-runc spec`, the workshop's root filesystem
/// (read-only, used in place: every mount point the tests use, /mnt and /run, is one it has, so
/// that nothing is made in it), and `out/`, bind-mounted read-write at /mnt in the container.
struct Bundle {
    dir: PathBuf,
    out: PathBuf,
}

impl Bundle {
    fn new(name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> Bundle {
        let rootfs = workshop::image::ensure(None).expect("the root filesystem");
        let dir = std::env::temp_dir().join(format!("ws-oci-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        // Writable for a container process that is not root (`process.user`).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut config = workshop::oci::spec::default_spec(&rootfs.display().to_string(), &args);
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": out, "options": ["rbind", "rw"]
        }));
        edit(&mut config);
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        Bundle { dir, out }
    }

    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// Waits for the container to write `name` in /mnt (its `out/`), and returns it.
    fn wait_for(&self, name: &str) -> String {
        let path = self.out.join(name);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                if !text.is_empty() {
                    return text;
                }
            }
            if Instant::now() >= deadline {
                let said = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                panic!(
                    "the container never wrote /mnt/{name}; it said: {}{}",
                    said("create.log"),
                    said("create.err")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bundle {
    /// Also when a test failed half-way: its containers go with it, so that the next run starts
    /// clean.
    fn drop(&mut self) {
        let list = runc(&["list"]).stdout;
        for line in list.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.last() == Some(&self.dir()) {
                runc(&["delete", "--force", fields[0]]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn runc(args: &[&str]) -> Outcome {
    facts::run(Path::new(RUNC), args)
}

/// Runs an operation that must succeed.
fn ok(args: &[&str]) -> String {
    let out = runc(args);
    assert_eq!(out.status, 0, "workshop-runc {args:?}: {}{}", out.stdout, out.stderr);
    out.stdout
}

/// Asserts one line on stderr naming each of `mentions`, and a non-zero status.
fn refused(args: &[&str], mentions: &[&str]) {
    let out = runc(args);
    assert_ne!(out.status, 0, "workshop-runc {args:?} should fail: {}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {:?}", out.stderr);
    for m in mentions {
        assert!(lines[0].contains(m), "{:?} does not mention {m:?}", lines[0]);
    }
}

fn state(id: &str) -> Value {
    serde_json::from_str(&ok(&["state", id])).unwrap()
}

fn wait_status(id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(id)["status"] != want {
        assert!(Instant::now() < deadline, "{id} never became {want}: {}", state(id));
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ns_inode(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap().display().to_string()
}

/// `create` runs in the background here: its container inherits stdout and stderr, so a pipe
/// would stay open as long as the container does. Output goes to files instead.
fn create(bundle: &Bundle, id: &str) -> Outcome {
    let pid_file = bundle.dir.join("pid");
    let log = bundle.dir.join("create.log");
    let out = std::process::Command::new(RUNC)
        .args(["create", "--bundle", bundle.dir(), "--pid-file", pid_file.to_str().unwrap(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(bundle.dir.join("create.err")).unwrap())
        .status()
        .unwrap();
    Outcome {
        status: out.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&log).unwrap_or_default(),
        stderr: std::fs::read_to_string(bundle.dir.join("create.err")).unwrap_or_default(),
    }
}

fn created(bundle: &Bundle, id: &str) -> String {
    let out = create(bundle, id);
    assert_eq!(out.status, 0, "create: {}", out.stderr);
    std::fs::read_to_string(bundle.dir.join("pid"))
        .expect("the pid file, written before create returned")
}

/// The container's cgroup directories on the host (the default placement, beneath ours).
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let host = workshop::cgroups::CgroupHost::real();
    let plan = workshop::cgroups::placement::plan(&host, &format!("ws-oci-{id}"), None).unwrap();
    plan.dirs.iter().map(|d| d.leaf.clone()).filter(|p| p.exists()).collect()
}

#[test]
fn create_start_kill_delete_follow_the_specifications_lifecycle() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("life", &["sh", "-c", "echo ran > /mnt/ran; exec sleep 100"], |_| {});
    let rootfs = workshop::image::ensure(None).unwrap();
    let entries = || {
        let mut v: Vec<_> =
            std::fs::read_dir(&rootfs).unwrap().flatten().map(|e| e.file_name()).collect();
        v.sort();
        v
    };
    let before = entries();
    common::leaves_host_as_found(|| {
        let pid = created(&b, "t-life");
        let s = state("t-life");
        assert_eq!(s["status"], "created");
        assert_eq!(s["pid"].to_string(), pid, "the pid file and the state agree");
        assert_eq!(s["ociVersion"], workshop::oci::OCI_VERSION);
        assert_eq!(s["bundle"], b.dir());
        assert_ne!(ns_inode(&pid, "pid"), ns_inode("self", "pid"), "a PID namespace of its own");
        assert_ne!(ns_inode(&pid, "mnt"), ns_inode("self", "mnt"));
        assert!(!cgroup_dirs("t-life").is_empty(), "its cgroup exists while it is created");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!b.out.join("ran").exists(), "the user's program must not run before start");
        ok(&["start", "t-life"]);
        assert_eq!(b.wait_for("ran"), "ran\n");
        assert_eq!(state("t-life")["status"], "running");
        refused(&["start", "t-life"], &["running"]);
        refused(&["delete", "t-life"], &["running", "--force"]);
        ok(&["kill", "t-life", "KILL"]);
        wait_status("t-life", "stopped");
        refused(&["kill", "t-life", "9"], &["stopped"]);
        ok(&["delete", "t-life"]);
        refused(&["state", "t-life"], &["t-life", "does not exist"]);
        assert!(cgroup_dirs("t-life").is_empty(), "delete removes its cgroup");
    });
    assert_eq!(entries(), before, "the shared root filesystem gained a mount point");
}

#[test]
fn delete_force_kills_a_running_container_and_a_created_one_is_deleted_without_running() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("force", &["sh", "-c", "echo ran > /mnt/ran; exec sleep 100"], |_| {});
    common::leaves_host_as_found(|| {
        let pid = created(&b, "t-force");
        ok(&["delete", "t-force"]);
        assert!(!Path::new(&format!("/proc/{pid}")).exists() || zombie(&pid), "killed by delete");
        assert!(!b.out.join("ran").exists(), "a created container's program never ran");
        created(&b, "t-force");
        ok(&["start", "t-force"]);
        b.wait_for("ran");
        ok(&["delete", "--force", "t-force"]);
        refused(&["state", "t-force"], &["does not exist"]);
    });
}

fn zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
}

#[test]
fn kill_takes_signal_names_and_numbers_and_all_reaches_every_process() {
    let Some(_serial) = common::root_and_serial() else { return };
    // PID 1 of a namespace gets only the signals it handles: the trap makes TERM one of them.
    let script = "trap 'echo TERM > /mnt/term; exit 3' TERM; echo up > /mnt/up; \
                  (sleep 100; echo no > /mnt/child) & wait; wait";
    let b = Bundle::new("kill", &["sh", "-c", script], |_| {});
    common::leaves_host_as_found(|| {
        created(&b, "t-kill");
        ok(&["start", "t-kill"]);
        b.wait_for("up");
        ok(&["kill", "t-kill", "SIGTERM"]);
        assert_eq!(b.wait_for("term"), "TERM\n");
        wait_status("t-kill", "stopped");
        ok(&["delete", "t-kill"]);
        std::fs::remove_file(b.out.join("up")).unwrap();
        created(&b, "t-kill");
        ok(&["start", "t-kill"]);
        b.wait_for("up");
        ok(&["kill", "--all", "t-kill", "9"]);
        wait_status("t-kill", "stopped");
        assert!(!b.out.join("child").exists());
        ok(&["delete", "t-kill"]);
        refused(&["kill", "t-kill"], &["does not exist"]);
    });
}

#[test]
fn a_property_it_cannot_honour_is_refused_by_name_and_nothing_is_left() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("refuse", &["true"], |c| {
        c["linux"]["resources"]["hugepageLimits"] = json!([{ "pageSize": "2MB", "limit": 1 }]);
        c["linux"]["personality"] = json!({ "domain": "LINUX32" });
    });
    common::leaves_host_as_found(|| {
        let out = create(&b, "t-refuse");
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("linux.resources.hugepageLimits"), "{}", out.stderr);
        assert!(out.stderr.contains("linux.personality"), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        refused(&["state", "t-refuse"], &["does not exist"]);
    });
}

#[test]
fn bad_input_is_one_line_each() {
    let Some(_serial) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        refused(&["delete", "nope"], &["nope", "does not exist"]);
        refused(&["start", "nope"], &["does not exist"]);
        refused(&["create", "--bundle", "/no/such/bundle", "x1"], &["/no/such/bundle"]);
        refused(&["create", "--bundle", "/tmp", "bad/id"], &["invalid container id"]);
        refused(&["--systemd-cgroup", "state", "x"], &["--systemd-cgroup", "cgroupfs"]);
        refused(&["kill", "nope", "NOSUCHSIG"], &["NOSUCHSIG"]);
    });
    let b = Bundle::new("twice", &["true"], |_| {});
    common::leaves_host_as_found(|| {
        created(&b, "t-twice");
        let again = create(&b, "t-twice");
        assert_ne!(again.status, 0);
        assert!(again.stderr.contains("already"), "{}", again.stderr);
        ok(&["delete", "t-twice"]);
    });
}

#[test]
fn hooks_run_at_their_moments_with_the_state_on_stdin() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("hooks", &["sh", "-c", "echo program >> /mnt/order"], |_| {});
    let host_out = b.out.display().to_string();
    let hook = |name: &str, dir: &str| {
        json!({ "path": "/bin/sh",
                "args": ["sh", "-c", format!("cat > {dir}/{name}.json; echo {name} >> {dir}/order")] })
    };
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    config["hooks"] = json!({
        "prestart": [hook("prestart", &host_out)],
        "createRuntime": [hook("createRuntime", &host_out)],
        "createContainer": [hook("createContainer", &host_out)],
        "startContainer": [hook("startContainer", "/mnt")],
        "poststart": [hook("poststart", &host_out)],
        "poststop": [hook("poststop", &host_out)],
    });
    std::fs::write(b.dir.join("config.json"), config.to_string()).unwrap();
    common::leaves_host_as_found(|| {
        created(&b, "t-hooks");
        ok(&["start", "t-hooks"]);
        wait_status("t-hooks", "stopped");
        ok(&["delete", "t-hooks"]);
    });
    let order = std::fs::read_to_string(b.out.join("order")).unwrap();
    let order: Vec<&str> = order.lines().collect();
    let expected = ["prestart", "createRuntime", "createContainer", "startContainer", "program"];
    assert_eq!(order[..5], expected, "{order:?}");
    assert!(order.contains(&"poststart") && order.last() == Some(&"poststop"), "{order:?}");
    for name in ["prestart", "createRuntime", "poststart", "poststop", "startContainer"] {
        let s: Value = serde_json::from_str(
            &std::fs::read_to_string(b.out.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}'s stdin is not the state JSON: {e}"));
        assert_eq!(s["id"], "t-hooks", "{name}");
        assert_eq!(s["bundle"], b.dir(), "{name}");
    }
    let created_state: Value =
        serde_json::from_str(&std::fs::read_to_string(b.out.join("createRuntime.json")).unwrap())
            .unwrap();
    assert!(created_state["pid"].as_i64().unwrap() > 0, "createRuntime knows the pid");
}

#[test]
fn exec_joins_every_namespace_and_detached_exec_writes_its_pid_file() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("exec", &["sleep", "100"], |_| {});
    common::leaves_host_as_found(|| {
        let pid = created(&b, "t-exec");
        ok(&["start", "t-exec"]);
        let said = ok(&[
            "exec",
            "t-exec",
            "sh",
            "-c",
            "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; hostname",
        ]);
        let lines: Vec<&str> = said.lines().collect();
        assert_eq!(lines[0], ns_inode(&pid, "pid"));
        assert_eq!(lines[1], ns_inode(&pid, "net"));
        assert_eq!(lines[2], "workshop");
        let exit = runc(&["exec", "t-exec", "sh", "-c", "exit 7"]);
        assert_eq!(exit.status, 7, "exec passes the exit status on");
        let missing = runc(&["exec", "t-exec", "no-such-program"]);
        assert_eq!(missing.status, 127, "{}", missing.stderr);
        // As podman calls it: --process, --detach, --pid-file.
        let process = json!({
            "args": ["sh", "-c", "echo detached > /mnt/detached; sleep 100"],
            "cwd": "/", "user": { "uid": 0, "gid": 0 },
            "env": [format!("PATH={}", workshop::container::CONTAINER_PATH)]
        });
        let pfile = b.dir.join("process.json");
        std::fs::write(&pfile, process.to_string()).unwrap();
        let epid = b.dir.join("exec.pid");
        // Detached, the process keeps the runtime's stdout and stderr: files, not pipes that
        // would stay open as long as it runs (an engine passes its own).
        let status = std::process::Command::new(RUNC)
            .args(["exec", "--process", pfile.to_str().unwrap(), "--detach", "--pid-file"])
            .args([epid.to_str().unwrap(), "t-exec"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(b.dir.join("exec.log")).unwrap())
            .stderr(std::fs::File::create(b.dir.join("exec.err")).unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "{:?}", std::fs::read_to_string(b.dir.join("exec.err")));
        assert_eq!(b.wait_for("detached"), "detached\n");
        let exec_pid = std::fs::read_to_string(&epid).unwrap();
        assert_eq!(ns_inode(&exec_pid, "mnt"), ns_inode(&pid, "mnt"));
        let ps: Vec<i32> =
            serde_json::from_str(&ok(&["ps", "--format", "json", "t-exec"])).unwrap();
        assert!(
            ps.contains(&pid.parse().unwrap()) && ps.contains(&exec_pid.parse().unwrap()),
            "{ps:?}"
        );
        ok(&["delete", "--force", "t-exec"]);
        assert!(!Path::new(&format!("/proc/{exec_pid}")).exists() || zombie(&exec_pid));
    });
}

#[test]
fn pause_freezes_every_process_and_resume_thaws_them() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new(
        "pause",
        &["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /mnt/n; sleep 0.02; done"],
        |_| {},
    );
    common::leaves_host_as_found(|| {
        created(&b, "t-pause");
        ok(&["start", "t-pause"]);
        b.wait_for("n");
        ok(&["pause", "t-pause"]);
        assert_eq!(state("t-pause")["status"], "paused");
        let frozen = std::fs::read_to_string(b.out.join("n")).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            std::fs::read_to_string(b.out.join("n")).unwrap(),
            frozen,
            "it counted while paused"
        );
        refused(&["pause", "t-pause"], &["paused"]);
        ok(&["resume", "t-pause"]);
        std::thread::sleep(Duration::from_millis(300));
        assert_ne!(std::fs::read_to_string(b.out.join("n")).unwrap(), frozen, "it did not go on");
        ok(&["delete", "--force", "t-pause"]);
    });
}

#[test]
fn config_json_decides_mounts_devices_seccomp_limits_and_the_process() {
    let Some(_serial) = common::root_and_serial() else { return };
    let script = "grep ' /run ' /proc/self/mountinfo > /mnt/scratch; \
                  mkdir /run/x 2> /mnt/mkdir; \
                  ls -l /dev/null > /mnt/null; \
                  hostname > /mnt/hostname; cat /proc/sys/net/ipv4/ip_forward > /mnt/forward; \
                  id > /mnt/id; grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status > /mnt/status; \
                  ulimit -n > /mnt/nofile; echo done > /mnt/done";
    let b = Bundle::new("config", &["sh", "-c", script], |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/run", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "size=1m", "mode=1777"] }));
        c["hostname"] = json!("oci-box");
        c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
        c["linux"]["resources"]["memory"] = json!({ "limit": 67108864 });
        c["linux"]["resources"]["pids"] = json!({ "limit": 50 });
        c["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }] });
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [20] });
        c["process"]["capabilities"] =
            json!({ "bounding": ["CAP_KILL"], "effective": [], "permitted": [] });
        c["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "hard": 512, "soft": 256 }]);
    });
    common::leaves_host_as_found(|| {
        let pid = created(&b, "t-config");
        // The limits, read on the host while the container waits.
        let memory = workshop::facts::cgroup_dir_of(pid.trim().parse().unwrap(), "memory").unwrap();
        let limit = std::fs::read_to_string(memory.join("memory.max"))
            .or_else(|_| std::fs::read_to_string(memory.join("memory.limit_in_bytes")))
            .unwrap();
        assert_eq!(limit.trim(), "67108864");
        let pids = workshop::facts::cgroup_dir_of(pid.trim().parse().unwrap(), "pids").unwrap();
        assert_eq!(std::fs::read_to_string(pids.join("pids.max")).unwrap().trim(), "50");
        ok(&["start", "t-config"]);
        b.wait_for("done");
        ok(&["delete", "--force", "t-config"]);
    });
    let read = |f: &str| std::fs::read_to_string(b.out.join(f)).unwrap();
    assert!(
        read("scratch").contains("tmpfs") && read("scratch").contains("size=1024k"),
        "{}",
        read("scratch")
    );
    assert!(read("mkdir").contains("Operation not permitted"), "seccomp: {}", read("mkdir"));
    assert!(read("null").starts_with("crw-rw-rw-"), "{}", read("null"));
    assert_eq!(read("hostname"), "oci-box\n");
    assert_eq!(read("forward"), "1\n", "the sysctl, in the container's own network namespace");
    assert!(
        read("id").starts_with("uid=1000 gid=1000") && read("id").contains("20"),
        "{}",
        read("id")
    );
    let status = read("status");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1") && status.contains("Seccomp:\t2"), "{status}");
    assert_eq!(read("nofile"), "256\n");
}

#[test]
fn a_terminal_is_handed_to_the_engine_over_the_console_socket() {
    let Some(_serial) = common::root_and_serial() else { return };
    // `readlink /proc/self/fd/0` rather than tty(1), which a root filesystem built from the host's
    // tools does not have.
    let b = Bundle::new("tty", &["sh", "-c", "readlink /proc/self/fd/0; echo end"], |c| {
        c["process"]["terminal"] = json!(true);
    });
    let socket_path = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    common::leaves_host_as_found(|| {
        let pid_file = b.dir.join("pid");
        let mut child = std::process::Command::new(RUNC)
            .args([
                "create",
                "--bundle",
                b.dir(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                "--console-socket",
                socket_path.to_str().unwrap(),
                "t-tty",
            ])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (conn, _) = listener.accept().unwrap();
        let master = receive_fd(&conn);
        assert!(child.wait().unwrap().success());
        ok(&["start", "t-tty"]);
        let mut text = Vec::new();
        let mut file = std::fs::File::from(master);
        let mut buf = [0u8; 256];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&text).contains("end") && Instant::now() < deadline {
            match std::io::Read::read(&mut file, &mut buf) {
                Ok(0) | Err(_) => break, // EIO once the last slave descriptor is closed
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("/dev/pts/0"), "the program's terminal: {text:?}");
        wait_status("t-tty", "stopped");
        ok(&["delete", "t-tty"]);
    });
}

/// The descriptor the runtime sent with SCM_RIGHTS.
fn receive_fd(conn: &std::os::unix::net::UnixStream) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg =
        recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just gave us this descriptor.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor came over the console socket");
}

#[test]
fn features_says_what_the_runtime_implements() {
    let Some(_serial) = common::root_and_serial() else { return };
    let v: Value = serde_json::from_str(&ok(&["features"])).unwrap();
    assert_eq!(v["ociVersionMax"], workshop::oci::OCI_VERSION);
    assert!(v["linux"]["namespaces"].as_array().unwrap().len() >= 7);
    assert!(v["mountOptions"].as_array().unwrap().iter().any(|o| o == "rbind"));
}

/// What `workshop-runc spec` writes: chapter 10 shows it field by field.
#[test]
fn spec_writes_the_config_chapter_10_shows() {
    let Some(_serial) = common::root_and_serial() else { return };
    let dir = std::env::temp_dir().join(format!("ws-oci-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    ok(&["spec", "--bundle", dir.to_str().unwrap()]);
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    refused(&["spec", "--bundle", dir.to_str().unwrap()], &["exists already"]);
    std::fs::remove_dir_all(&dir).unwrap();
    insta::assert_snapshot!("spec", config);
}

/// The life of one container, operation by operation, as chapter 10 shows it: each command, its
/// output, and what the container printed (on the stdout it inherited from `create`).
#[test]
fn a_containers_life_through_the_runtime_as_chapter_10_shows_it() {
    let Some(_serial) = common::root_and_serial() else { return };
    let b = Bundle::new("book", &["sh", "-c", "echo hello from PID $$ in $(hostname)"], |_| {});
    let mut transcript = String::new();
    let mut pid = String::new();
    common::leaves_host_as_found(|| {
        let mut say = |cmd: &str, out: &str| {
            transcript.push_str(&format!("$ workshop-runc {cmd}\n{out}"));
        };
        pid = created(&b, "demo");
        say("create --bundle BUNDLE --pid-file BUNDLE/pid demo", "");
        say("state demo", &ok(&["state", "demo"]));
        say("start demo", &ok(&["start", "demo"]));
        wait_status("demo", "stopped");
        say("state demo", &ok(&["state", "demo"]));
        say("delete demo", &ok(&["delete", "demo"]));
        let gone = runc(&["state", "demo"]);
        say("state demo", &gone.stderr);
    });
    let printed = std::fs::read_to_string(b.dir.join("create.log")).unwrap();
    transcript.push_str(&format!("\n# what the container printed, on create's stdout:\n{printed}"));
    let transcript = transcript.replace(b.dir(), "BUNDLE").replace(pid.trim(), "PID");
    insta::assert_snapshot!("lifecycle", transcript);
}
