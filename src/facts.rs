//! Facts about a stage, checked from outside the stage's own words.
//!
//! The integration tests and the exercise checker (`cargo run -- check`) both use these, so a student's
//! exercise passes exactly the checks the reference stage passes. Each check runs a stage binary for
//! real and looks at what the kernel says: /proc/PID/ns inodes, /proc/PID/root, the host's mount table,
//! the host's files and IPC objects. A failure is a full sentence saying what was wrong and where to look.

use crate::stage::Stage;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any single run of a stage may take before a check gives up on it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished run of a stage binary printed and how it ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code, or 128 + signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The plain, uncolored command for a stage binary.
pub fn command(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

/// Runs a stage binary to the end (killing it after [`RUN_TIMEOUT`]).
pub fn run(bin: &Path, args: &[&str]) -> Outcome {
    run_command(command(bin, args))
}

pub fn run_command(mut cmd: Command) -> Outcome {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                status: 127,
                stdout: String::new(),
                stderr: format!("cannot start: {e}"),
            }
        }
    };
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < RUN_TIMEOUT {
            std::thread::sleep(Duration::from_millis(50));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("wait for the stage");
    drop(watchdog);
    Outcome {
        status: exit_code(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// A stage binary running `sleep` as its container's PID 1, for looking at the container from outside.
pub struct Live {
    pub stage: Child,
    /// The container's PID as the host sees it.
    pub container_pid: u32,
}

impl Live {
    /// Starts `bin [args] -- sleep 30` and waits until the container's PID 1 has become `sleep`, which
    /// means every setup step inside has run.
    pub fn start(bin: &Path, args: &[&str]) -> Result<Live, String> {
        Live::start_command(bin, args, &["sleep", "30"])
    }

    /// Starts `bin [args] -- command…` and waits until the container's PID 1 has become `sleep`:
    /// `command` does something first and then runs (or `exec`s) `sleep`.
    pub fn start_command(bin: &Path, args: &[&str], cmd: &[&str]) -> Result<Live, String> {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--");
        all.extend(cmd);
        let mut stage = command(bin, &all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let children = format!("/proc/{0}/task/{0}/children", stage.id());
        while Instant::now() < deadline {
            let pid = std::fs::read_to_string(&children)
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<u32>().ok()));
            if let Some(pid) = pid {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "sleep" {
                    return Ok(Live { stage, container_pid: pid });
                }
            }
            if let Ok(Some(_)) = stage.try_wait() {
                let mut err = String::new();
                if let Some(e) = stage.stderr.as_mut() {
                    let _ = BufReader::new(e).read_line(&mut err);
                }
                return Err(format!(
                    "{} exited before its container ran `sleep`: {}",
                    bin.display(),
                    err.trim()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = stage.kill();
        let _ = stage.wait();
        Err(format!("{}'s container did not start `sleep` within 10 s", bin.display()))
    }

    /// The container's namespace inode of a kind, read by the host.
    pub fn ns(&self, kind: &str) -> Result<u64, String> {
        crate::probes::ns_inode(Some(self.container_pid), kind)
    }

    /// Sends `signal` to the stage process and returns its exit status.
    pub fn stop_stage(mut self, signal: i32) -> i32 {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(self.stage.id() as i32, signal) };
        self.wait_stage()
    }

    /// Kills the container's process from the host and returns the stage's exit status.
    pub fn kill_container(mut self, signal: i32) -> i32 {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(self.container_pid as i32, signal) };
        self.wait_stage()
    }

    fn wait_stage(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.stage.try_wait() {
                return exit_code(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.stage.kill();
        self.stage.wait().map(exit_code).unwrap_or(-1)
    }
}

impl Drop for Live {
    /// Stops the stage as a person would, with SIGTERM, so that it removes what it made; SIGKILL
    /// only if it has not ended within a few seconds (that would leave its veth to the kernel's
    /// asynchronous clean-up of the dead network namespace).
    fn drop(&mut self) {
        if let Ok(None) = self.stage.try_wait() {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(self.stage.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.stage.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.stage.kill();
            let _ = self.stage.wait();
        }
    }
}

/// The host's namespace inode of a kind (this process's). An error when it cannot be read, so that
/// "differs from the host's" never passes on a failed read.
pub fn host_ns(kind: &str) -> Result<u64, String> {
    crate::probes::ns_inode(None, kind)
}

/// Whether a shell said that a fork was refused (EAGAIN): busybox sh says "can't fork: Resource
/// temporarily unavailable", dash "Cannot fork", bash "fork: retry: Resource temporarily
/// unavailable".
pub fn fork_refused(said: &str) -> bool {
    ["Resource temporarily unavailable", "Cannot fork", "can't fork"]
        .iter()
        .any(|w| said.contains(w))
}

/// Whether a process still exists.
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Temporary files other programs make in /tmp while a run happens (the C compiler and linker
/// that cargo calls, rustc): not the workshop's, so not counted as left behind.
fn foreign_temp(name: &str) -> bool {
    let cc = name.len() > 9
        && name.starts_with("cc")
        && name[2..8].chars().all(|c| c.is_ascii_alphanumeric())
        && name.as_bytes()[8] == b'.';
    cc || name.starts_with("rustc") || name.starts_with(".tmp")
}

/// Every path under `dir` (itself included, when it exists), for comparing before and after.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(p: &Path, out: &mut Vec<String>) {
        out.push(p.display().to_string());
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, &mut out);
    }
    out.sort();
    out
}

/// The image store's own parts, made once by the first run that needs them and kept: the root
/// filesystem, and stage 07's layers, images, container dirs (compared one by one), lock and tmp.
const STORE_PARTS: [&str; 6] = ["rootfs", "layers", "images", "containers", "lock", "tmp"];

/// What the host looks like, to compare before and after a run.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub mountinfo: Vec<crate::mounts::MountEntry>,
    pub tmp_entries: Vec<String>,
    pub workshop_entries: Vec<String>,
    pub hostname: String,
    /// The workshop's links on the host (wsh-…, wsbr-…).
    pub links: Vec<String>,
    /// The records of runs in the state directory, and the address leases.
    pub records: Vec<String>,
    pub leases: String,
    /// The workshop's cgroups where containers' cgroups go (see [`workshop_cgroups`]).
    pub cgroups: Vec<String>,
    /// Stage 07's container dirs in the image store (see [`container_dirs`]).
    pub containers: Vec<String>,
    /// Everything in the state directory (records, the address table, their locks and
    /// directories): with no run alive it holds nothing, and is not there at all.
    pub state_files: Vec<String>,
    /// The workshop's AppArmor profiles in the kernel (ws-…), on hosts with AppArmor.
    pub apparmor_profiles: Vec<String>,
}

impl HostState {
    /// The host's state once the kernel has finished removing the links of containers that have
    /// ended (it deletes a veth pair with its network namespace, a moment after the container).
    pub fn capture_settled(before: &HostState) -> HostState {
        crate::network::settle_links(&before.links, Duration::from_secs(30));
        Self::capture()
    }

    pub fn capture() -> HostState {
        let list = |dir: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        let state = crate::runtime::state_dir::state_dir();
        HostState {
            mountinfo: crate::mounts::host_mounts().unwrap_or_default(),
            tmp_entries: list(Path::new("/tmp")).into_iter().filter(|e| !foreign_temp(e)).collect(),
            workshop_entries: list(&crate::image::workshop_dir()),
            hostname: crate::uts::host_hostname(),
            links: workshop_links(),
            records: list(&state.join("runs")),
            leases: std::fs::read_to_string(state.join("network/leases.json")).unwrap_or_default(),
            cgroups: workshop_cgroups(),
            containers: container_dirs(),
            state_files: files_under(&state),
            apparmor_profiles: crate::security::apparmor::loaded_profiles()
                .into_iter()
                .filter(|p| p.starts_with("ws-"))
                .collect(),
        }
    }

    /// Describes what differs from `before`, or `None` when the host is as it was.
    pub fn diff(&self, before: &HostState) -> Option<String> {
        let mut d = Vec::new();
        if self.mountinfo != before.mountinfo {
            d.push(format!(
                "the mount table changed ({} mounts before, {} after)",
                before.mountinfo.len(),
                self.mountinfo.len()
            ));
        }
        let added: Vec<&String> =
            self.tmp_entries.iter().filter(|e| !before.tmp_entries.contains(e)).collect();
        let workshop_added: Vec<&String> = self
            .workshop_entries
            .iter()
            .filter(|e| !before.workshop_entries.contains(e) && !STORE_PARTS.contains(&e.as_str()))
            .collect();
        if !added.is_empty() {
            d.push(format!("new entries in /tmp: {added:?}"));
        }
        if !workshop_added.is_empty() {
            d.push(format!("new entries in the image store: {workshop_added:?}"));
        }
        if self.hostname != before.hostname {
            d.push(format!("the hostname changed from {} to {}", before.hostname, self.hostname));
        }
        let new_links: Vec<&String> =
            self.links.iter().filter(|l| !before.links.contains(l)).collect();
        if !new_links.is_empty() {
            d.push(format!("new workshop links on the host: {new_links:?}"));
        }
        let new_records: Vec<&String> =
            self.records.iter().filter(|r| !before.records.contains(r)).collect();
        if !new_records.is_empty() {
            d.push(format!("records of runs left in the state directory: {new_records:?}"));
        }
        let new_state: Vec<&String> =
            self.state_files.iter().filter(|f| !before.state_files.contains(f)).collect();
        if !new_state.is_empty() {
            d.push(format!("new entries in the state directory: {new_state:?}"));
        }
        let new_containers: Vec<&String> =
            self.containers.iter().filter(|c| !before.containers.contains(c)).collect();
        if !new_containers.is_empty() {
            d.push(format!("container dirs left in the image store: {new_containers:?}"));
        }
        let new_cgroups: Vec<&String> =
            self.cgroups.iter().filter(|c| !before.cgroups.contains(c)).collect();
        if !new_cgroups.is_empty() {
            d.push(format!("new workshop cgroups: {new_cgroups:?}"));
        }
        let new_profiles: Vec<&String> = self
            .apparmor_profiles
            .iter()
            .filter(|p| !before.apparmor_profiles.contains(p))
            .collect();
        if !new_profiles.is_empty() {
            d.push(format!("AppArmor profiles left in the kernel: {new_profiles:?}"));
        }
        if self.leases != before.leases {
            d.push(format!(
                "the address leases changed from {:?} to {:?}",
                before.leases, self.leases
            ));
        }
        (!d.is_empty()).then(|| d.join("; "))
    }
}

/// One fact check.
pub struct Check {
    pub stage: Stage,
    pub name: &'static str,
    pub run: fn(&Path) -> Result<(), String>,
}

/// The fact checks a stage's container must pass: its own new mechanism and every earlier one.
pub fn checks_for(stage: Stage) -> Vec<Check> {
    let all = [
        Check { stage: Stage::Pid, name: "the command runs as PID 1", run: pid_is_one },
        Check {
            stage: Stage::Pid,
            name: "the container has its own PID namespace",
            run: own_pid_namespace,
        },
        Check {
            stage: Stage::Pid,
            name: "the exit status passes through",
            run: exit_status_passes_through,
        },
        Check {
            stage: Stage::MountProc,
            name: "/proc lists only the container's processes",
            run: proc_is_the_containers,
        },
        Check {
            stage: Stage::MountProc,
            name: "the host's mount table is unchanged",
            run: host_mounts_unchanged,
        },
        Check {
            stage: Stage::Rootfs,
            name: "the container's / is its root filesystem",
            run: root_is_the_rootfs,
        },
        Check {
            stage: Stage::Rootfs,
            name: "the host's /tmp files are invisible",
            run: host_tmp_invisible,
        },
        Check {
            stage: Stage::Rootfs,
            name: "the hostname is the container's own",
            run: own_hostname,
        },
        Check { stage: Stage::Rootfs, name: "the host's IPC objects are invisible", run: own_ipc },
        Check {
            stage: Stage::Network,
            name: "the container has its own network and address",
            run: own_network,
        },
        Check {
            stage: Stage::Network,
            name: "packets cross the veth both ways",
            run: packets_cross_the_veth,
        },
        Check {
            stage: Stage::User,
            name: "root inside is an ordinary uid outside",
            run: root_inside_not_outside,
        },
        Check {
            stage: Stage::User,
            name: "the root filesystem looks root-owned inside",
            run: rootfs_owned_by_root_inside,
        },
        Check {
            stage: Stage::Cgroups,
            name: "--memory 32m is in the container's cgroup while it runs",
            run: memory_limit_in_the_cgroup,
        },
        Check {
            stage: Stage::Cgroups,
            name: "past --memory the kernel OOM-kills inside the cgroup",
            run: oom_kill_inside_the_cgroup,
        },
        Check {
            stage: Stage::Cgroups,
            name: "--pids-limit 20 refuses the next fork",
            run: pids_limit_refuses_fork,
        },
        Check {
            stage: Stage::Cgroups,
            name: "the container's cgroup is removed after it ends",
            run: cgroup_removed_after,
        },
        Check {
            stage: Stage::Overlay,
            name: "the container's / is an overlay of the image's layers, top first",
            run: overlay_root_top_first,
        },
        Check {
            stage: Stage::Overlay,
            name: "writes copy up, deletes leave whiteouts, the layers stay unchanged",
            run: copy_up_and_whiteout,
        },
        Check {
            stage: Stage::Overlay,
            name: "a fresh container does not see what the last one wrote",
            run: fresh_container_starts_clean,
        },
        Check {
            stage: Stage::Security,
            name: "the bounding, permitted and effective sets are Docker's 14 (none with --cap-drop ALL)",
            run: capability_sets_are_dockers,
        },
        Check {
            stage: Stage::Security,
            name: "a seccomp filter is installed, and no_new_privs when asked",
            run: seccomp_and_no_new_privs,
        },
        Check {
            stage: Stage::Security,
            name: "mount, unshare --user and the masked paths fail inside",
            run: attacks_fail,
        },
        Check {
            stage: Stage::Lifecycle,
            name: "exec joins every namespace of the container's PID 1, as its root",
            run: exec_joins_pid_1,
        },
        Check {
            stage: Stage::Lifecycle,
            name: "a file written by exec survives stop and start",
            run: hello_survives_stop_and_start,
        },
    ];
    all.into_iter().filter(|c| c.stage <= stage).collect()
}

fn expect(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

pub fn pid_is_one(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "sh", "-c", "echo $$"]);
    expect(out.status == 0 && out.stdout.trim() == "1", || {
        format!(
            "`-- sh -c 'echo $$'` printed {:?} (status {}, stderr {:?}), not 1: the child is not the first process of a new PID namespace; check that clone(2) gets CLONE_NEWPID",
            out.stdout.trim(),
            out.status,
            out.stderr.trim()
        )
    })
}

pub fn own_pid_namespace(bin: &Path) -> Result<(), String> {
    let live = Live::start(bin, &[])?;
    let inside = live.ns("pid")?;
    expect(inside != host_ns("pid")?, || {
        "the container's /proc/PID/ns/pid has the host's inode: it never left the host's PID namespace".into()
    })
}

pub fn exit_status_passes_through(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "sh", "-c", "exit 7"]);
    expect(out.status == 7, || {
        format!("`-- sh -c 'exit 7'` made the stage exit with {}, not 7", out.status)
    })?;
    let live = Live::start(bin, &[])?;
    let status = live.kill_container(libc::SIGKILL);
    expect(status == 128 + libc::SIGKILL, || {
        format!("after the host killed the container with SIGKILL the stage exited with {status}, not 137 (128 + 9)")
    })
}

pub fn proc_is_the_containers(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "ls", "/proc"]);
    let pids: Vec<&str> =
        out.stdout.split_whitespace().filter(|e| e.parse::<u32>().is_ok()).collect();
    expect(out.status == 0 && pids == ["1"], || {
        format!(
            "`-- ls /proc` listed the processes {pids:?} (status {}): the container should see only itself, PID 1; mount a new proc filesystem on /proc inside the new mount namespace",
            out.status
        )
    })?;
    let live = Live::start(bin, &[])?;
    let inside = live.ns("mnt")?;
    expect(inside != host_ns("mnt")?, || {
        "the container shares the host's mount namespace: its mounts would be the host's".into()
    })
}

pub fn host_mounts_unchanged(bin: &Path) -> Result<(), String> {
    let before = crate::mounts::host_mounts().map_err(|e| e.to_string())?;
    let out = run(bin, &["--", "true"]);
    let after = crate::mounts::host_mounts().map_err(|e| e.to_string())?;
    expect(out.status == 0, || {
        format!("`-- true` failed with status {}: {}", out.status, out.stderr.trim())
    })?;
    expect(before == after, || {
        "the host's mount table changed during the run: make / private (MS_REC | MS_PRIVATE) before mounting anything".into()
    })
}

/// The default root filesystem the stage uses: the image store's (see [`crate::image::store_dir`]).
pub fn default_rootfs_for(_bin: &Path) -> PathBuf {
    crate::image::default_rootfs()
}

pub fn root_is_the_rootfs(bin: &Path) -> Result<(), String> {
    let live = Live::start(bin, &[])?;
    let root = PathBuf::from(format!("/proc/{}/root/", live.container_pid));
    let seen = crate::probes::dev_ino(&root)?;
    let host = crate::probes::dev_ino(Path::new("/"))?;
    expect(seen != host, || {
        "the container's / (host: /proc/PID/root) is the host's own /: pivot_root did not happen"
            .into()
    })?;
    // And it is a root filesystem: a shell at its /bin/sh, seen by the host through the link.
    expect(root.join("bin/sh").exists(), || {
        "the container's / has no /bin/sh: it is not the root filesystem".into()
    })
}

pub fn host_tmp_invisible(bin: &Path) -> Result<(), String> {
    let secret = format!("/tmp/workshop-secret-{}.txt", std::process::id());
    std::fs::write(&secret, "secret\n").map_err(|e| e.to_string())?;
    let out = run(bin, &["--", "cat", &secret]);
    let _ = std::fs::remove_file(&secret);
    expect(out.status != 0 && !out.stdout.contains("secret"), || {
        format!("the container could read the host's {secret}: it still sees the host's files; pivot_root into the root filesystem and detach the old root")
    })
}

pub fn own_hostname(bin: &Path) -> Result<(), String> {
    let host = crate::uts::host_hostname();
    let out = run(bin, &["--hostname", "box-check", "--", "hostname"]);
    expect(out.stdout.trim() == "box-check", || {
        format!("`--hostname box-check -- hostname` printed {:?}: the UTS namespace's hostname was not set", out.stdout.trim())
    })?;
    expect(crate::uts::host_hostname() == host, || {
        "the host's hostname changed: the container shares the host's UTS namespace".into()
    })?;
    let live = Live::start(bin, &[])?;
    expect(live.ns("uts")? != host_ns("uts")?, || {
        "the container shares the host's UTS namespace".into()
    })
}

pub fn own_ipc(bin: &Path) -> Result<(), String> {
    let segment = crate::ipc::ShmSegment::create().map_err(|e| e.to_string())?;
    let out = run(bin, &["--", "cat", "/proc/sysvipc/shm"]);
    let ids = crate::ipc::shm_ids(&out.stdout);
    expect(out.status == 0 && !ids.contains(&segment.id), || {
        format!("the host's shared memory segment {} is visible inside: the container shares the host's IPC namespace", segment.id)
    })?;
    let live = Live::start(bin, &[])?;
    expect(live.ns("ipc")? != host_ns("ipc")?, || {
        "the container shares the host's IPC namespace".into()
    })
}

pub fn root_inside_not_outside(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "id", "-u"]);
    expect(out.stdout.trim() == "0", || {
        format!("`-- id -u` printed {:?}, not 0: the child is not root of its user namespace; the parent must write /proc/PID/uid_map and gid_map before letting it go ({})", out.stdout.trim(), out.stderr.trim())
    })?;
    let live = Live::start(bin, &[])?;
    expect(live.ns("user")? != host_ns("user")?, || {
        "the container shares the host's user namespace".into()
    })?;
    let uid = crate::userns::host_uid(nix::unistd::Pid::from_raw(live.container_pid as i32));
    expect(uid.is_some_and(|u| u != 0), || {
        format!("the host sees the container's process as uid {uid:?} in /proc/PID/status: it should be an unprivileged uid, not 0")
    })?;
    id_maps_are_unprivileged(live.container_pid)
}

/// Both maps written, neither giving the host's root or root group to the container, and
/// setgroups as the mapping needs it: "deny" for a map of one's own id (the kernel requires it
/// before an unprivileged gid_map), "allow" for a subordinate range written by root.
pub fn id_maps_are_unprivileged(pid: u32) -> Result<(), String> {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{f}")).map_err(|e| format!("{f}: {e}"))
    };
    for f in ["uid_map", "gid_map"] {
        let map = read(f)?;
        let lines: Vec<Vec<u64>> = map
            .lines()
            .map(|l| l.split_whitespace().filter_map(|n| n.parse().ok()).collect())
            .collect();
        expect(!lines.is_empty() && lines.iter().all(|l| l.len() == 3), || {
            format!("/proc/PID/{f} is {map:?}: the host never wrote it")
        })?;
        expect(lines.iter().all(|l| l[1] != 0 || l[0] != 0), || {
            format!("/proc/PID/{f} maps 0 inside to the host's 0 ({map:?}): the container's root would be the host's root")
        })?;
        expect(lines.iter().any(|l| l[0] == 0), || {
            format!("/proc/PID/{f} maps no id 0 inside ({map:?})")
        })?;
    }
    let setgroups = read("setgroups")?;
    let gid_map = read("gid_map")?;
    let own_gid_only = gid_map.split_whitespace().nth(2) == Some("1");
    let want = if own_gid_only { "deny" } else { "allow" };
    expect(setgroups.trim() == want, || {
        format!(
            "/proc/PID/setgroups is {:?}, expected {want:?} for the gid_map {gid_map:?}",
            setgroups.trim()
        )
    })
}

/// Through an idmapped mount the root filesystem's files look root-owned inside; where none can be
/// made (an old kernel, a filesystem that cannot be idmapped), they show the overflow uid 65534.
/// Which road was taken is read from the kernel: the container's root mount carries the
/// `idmapped` option in /proc/PID/mountinfo when it is one.
pub fn rootfs_owned_by_root_inside(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "stat", "-L", "-c", "%u:%g", "/bin/sh"]);
    let live = Live::start(bin, &[])?;
    let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", live.container_pid))
        .map_err(|e| e.to_string())?;
    drop(live);
    let root_line = mountinfo.lines().find(|l| l.split(' ').nth(4) == Some("/")).unwrap_or("");
    // 07's root is an overlay, whose layers were attached idmapped before it was stacked.
    let overlay = root_line.split(" - ").nth(1).is_some_and(|t| t.starts_with("overlay "));
    let idmapped =
        root_line.split(' ').nth(5).is_some_and(|o| o.split(',').any(|x| x == "idmapped"))
            || (overlay && crate::overlay::root::layers_idmapped_here());
    let want = if idmapped { "0:0" } else { "65534:65534" };
    expect(out.stdout.trim() == want, || {
        format!("/bin/sh inside is owned by {:?}, not {want}: the root filesystem is not seen through the id mapping", out.stdout.trim())
    })
}

/// The workshop subnet's default, which every container's block comes from.
fn default_pool() -> crate::network::Subnet {
    crate::network::subnet::DEFAULT_SUBNET.parse().expect("the default subnet parses")
}

pub fn own_network(bin: &Path) -> Result<(), String> {
    let out = run(bin, &["--", "ip", "-o", "-4", "addr", "show", "eth0"]);
    // `2: eth0    inet 10.200.0.2/30 brd …`: an address of the workshop subnet, in a /30 of its own.
    let addr = out.stdout.split_whitespace().skip_while(|w| *w != "inet").nth(1).unwrap_or("");
    let (ip, prefix) = addr.split_once('/').unwrap_or(("", ""));
    let in_pool = ip.parse().is_ok_and(|ip| default_pool().contains(ip));
    expect(out.status == 0 && in_pool && prefix == "30", || {
        format!(
            "`-- ip -4 addr show eth0` printed {:?} (status {}, {}): eth0 should exist inside with the container's address, a /30 of {}; rename the veth end to eth0 and give it the address",
            out.stdout.trim(), out.status, out.stderr.trim(), default_pool()
        )
    })?;
    let live = Live::start(bin, &[])?;
    expect(live.ns("net")? != host_ns("net")?, || {
        "the container shares the host's network namespace".into()
    })
}

/// The host's end of a running container's cable and the container's address: the host's end holds
/// its block's first address, and the container has the second.
pub fn cable_of(host_end: &str) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), String> {
    let mut nl = crate::netlink::Netlink::open().map_err(|e| e.to_string())?;
    let links = nl.links().map_err(|e| e.to_string())?;
    let index = links.iter().find(|l| l.name == host_end).map(|l| l.index);
    let addr = nl
        .addresses()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|a| Some(a.index) == index)
        .ok_or_else(|| format!("the host's {host_end} has no address"))?;
    let gateway = addr.address;
    Ok((gateway, std::net::Ipv4Addr::from(u32::from(gateway) + 1)))
}

/// The host's links whose names start with `wsh-`: the host ends of the workshop's veth pairs.
pub fn workshop_links() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    v.retain(|n| n.starts_with("wsh-") || n.starts_with("wsbr-"));
    v.sort();
    v
}

pub fn packets_cross_the_veth(bin: &Path) -> Result<(), String> {
    // The host's address is the container's default route; ping it from inside.
    let script = "set -- $(ip route | grep ^default); gw=$3; ping -c 1 -W 2 \"$gw\"";
    let out = run(bin, &["--", "sh", "-c", script]);
    expect(out.status == 0, || {
        format!("`-- ping` of the default gateway failed (status {}): the container cannot reach the host; is eth0 up, with a default route via the host's end? {}", out.status, out.stdout.trim())
    })?;
    let before = workshop_links();
    let live = Live::start(bin, &[])?;
    let new: Vec<String> = workshop_links().into_iter().filter(|l| !before.contains(l)).collect();
    let host_end =
        new.first().ok_or("no new wsh-… link appeared on the host for the running container")?;
    let (_, container_ip) = cable_of(host_end)?;
    let replied = crate::toolbox::ping::once(container_ip, Duration::from_secs(2));
    let rx = crate::network::rx_packets(host_end);
    drop(live);
    expect(replied.is_ok_and(|r| r), || {
        format!(
            "the host's ping to {container_ip} got no reply: the container's eth0 does not answer"
        )
    })?;
    expect(rx > 0, || format!("the host's {host_end} counted no packets from the container"))
}

/// The workshop's cgroups on this host, where a container's would appear: the `ws-…` children of
/// the cgroups a container of this process would be placed beneath (one per v1 tree, or the v2
/// parent), and the workshop's own cgroup at the v2 root. Another project's cgroups are not listed.
pub fn workshop_cgroups() -> Vec<String> {
    use crate::cgroups::placement::{self, WORKSHOP_CGROUP};
    let host = crate::cgroups::CgroupHost::real();
    let mut found = Vec::new();
    let workshop = host.root.join(WORKSHOP_CGROUP);
    if workshop.is_dir() {
        found.push(workshop.display().to_string());
    }
    let Ok(plan) = placement::plan(&host, "probe", None) else { return found };
    let mut parents: Vec<PathBuf> =
        plan.dirs.iter().filter_map(|d| d.leaf.parent().map(Path::to_path_buf)).collect();
    parents.sort();
    parents.dedup();
    for parent in parents {
        for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("ws-") {
                found.push(entry.path().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The directory of process `pid`'s cgroup for `controller` (`memory`, `pids`), from
/// /proc/PID/cgroup: in that controller's v1 tree, or in the one v2 tree.
pub fn cgroup_dir_of(pid: u32, controller: &str) -> Result<PathBuf, String> {
    use crate::cgroups::{parse, CgroupHost, Version};
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| format!("cannot read /proc/{pid}/cgroup: {e}"))?;
    let memberships = parse::self_cgroup(&text);
    let host = CgroupHost::real();
    let dir = match host.mode().version() {
        Some(Version::V1) => {
            let m = parse::v1_membership(&memberships, controller)
                .ok_or_else(|| format!("/proc/{pid}/cgroup has no {controller} line: {text:?}"))?;
            crate::cgroups::detect::join_cgroup_path(&host.v1_hierarchy(controller)?, &m.path)
        }
        Some(Version::V2) => {
            let path = parse::v2_path(&memberships)
                .ok_or_else(|| format!("/proc/{pid}/cgroup has no 0:: line: {text:?}"))?;
            host.v2_dir(path)
        }
        None => return Err("this machine has no cgroups mounted".into()),
    };
    expect(dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ws-")), || {
        format!(
            "the container's process is in the cgroup {}, not a ws-… cgroup of its own: write its \
             PID into its cgroup's cgroup.procs before letting it go",
            dir.display()
        )
    })?;
    Ok(dir)
}

/// The memory limit file's name on this machine's cgroup version.
fn memory_limit_file() -> &'static str {
    match crate::cgroups::CgroupHost::real().mode().version() {
        Some(crate::cgroups::Version::V2) => "memory.max",
        _ => "memory.limit_in_bytes",
    }
}

pub fn memory_limit_in_the_cgroup(bin: &Path) -> Result<(), String> {
    let live = Live::start(bin, &["--memory", "32m"])?;
    let dir = cgroup_dir_of(live.container_pid, "memory")?;
    let file = memory_limit_file();
    let value = std::fs::read_to_string(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    expect(value.trim() == "33554432", || {
        format!(
            "{} holds {:?} while the container runs with --memory 32m, not 33554432: write the \
             limit into the file before moving the child in",
            dir.join(file).display(),
            value.trim()
        )
    })
}

/// The OOM killer's count in a cgroup directory: v1 memory.oom_control, v2 memory.events.
fn oom_kills(dir: &Path) -> Option<u64> {
    ["memory.events", "memory.oom_control"].iter().find_map(|f| {
        crate::cgroups::parse::keyed(&std::fs::read_to_string(dir.join(f)).ok()?, "oom_kill")
    })
}

pub fn oom_kill_inside_the_cgroup(bin: &Path) -> Result<(), String> {
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    let mut args = vec!["--memory", "32m", "--"];
    args.extend(dd);
    let out = run(bin, &args);
    expect(out.status == 137, || {
        format!(
            "`--memory 32m -- dd … bs=64M` ended with status {} (stderr {:?}), not 137: a 64 MiB \
             buffer under a 32 MiB limit should be killed by the kernel's OOM killer (SIGKILL)",
            out.status,
            out.stderr.trim()
        )
    })?;
    // The same allocation in a child of the container's shell, which then waits: the cgroup stays
    // long enough for its counter to be read from outside.
    let script = format!("{}; exec sleep 30", dd.join(" "));
    let live = Live::start_command(bin, &["--memory", "32m"], &["sh", "-c", &script])?;
    let dir = cgroup_dir_of(live.container_pid, "memory")?;
    let kills = oom_kills(&dir);
    expect(kills == Some(1), || {
        format!(
            "the container's cgroup {} counts {kills:?} OOM kills after dd was killed, not 1",
            dir.display()
        )
    })
}

pub fn pids_limit_refuses_fork(bin: &Path) -> Result<(), String> {
    let live = Live::start(bin, &["--pids-limit", "20"])?;
    let dir = cgroup_dir_of(live.container_pid, "pids")?;
    let max = std::fs::read_to_string(dir.join("pids.max")).unwrap_or_default();
    drop(live);
    expect(max.trim() == "20", || {
        format!("{}/pids.max holds {:?}, not 20", dir.display(), max.trim())
    })?;
    // Bounded: 30 sleepers at most, even if the limit did nothing.
    let bomb = "i=0; while [ $i -lt 30 ]; do sleep 10 & i=$((i+1)); done; echo all 30 started";
    let out = run(bin, &["--pids-limit", "20", "--", "sh", "-c", bomb]);
    let said = format!("{}{}", out.stdout, out.stderr);
    expect(fork_refused(&said) && !said.contains("all 30"), || {
        format!(
            "under --pids-limit 20 a loop of 30 forks was not stopped (status {}, said {:?}): the \
             container is not in a cgroup whose pids.max is 20",
            out.status,
            said.trim()
        )
    })
}

pub fn cgroup_removed_after(bin: &Path) -> Result<(), String> {
    let before = workshop_cgroups();
    let live = Live::start(bin, &["--memory", "32m", "--pids-limit", "20"])?;
    let dirs: Vec<PathBuf> = ["memory", "pids"]
        .iter()
        .map(|c| cgroup_dir_of(live.container_pid, c))
        .collect::<Result<_, _>>()?;
    let status = live.stop_stage(libc::SIGTERM);
    let left: Vec<&PathBuf> = dirs.iter().filter(|d| d.exists()).collect();
    expect(left.is_empty(), || {
        format!("after the stage ended ({status}) its container's cgroup {left:?} is still there")
    })?;
    expect(workshop_cgroups() == before, || {
        format!(
            "the workshop's cgroups were {before:?} before the run and {:?} after",
            workshop_cgroups()
        )
    })
}

/// The container's `/` line of its mountinfo, read from the host.
fn root_mount_line(pid: u32) -> Result<String, String> {
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map_err(|e| format!("reading the container's mountinfo: {e}"))?;
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .map(String::from)
        .ok_or_else(|| "the container's mountinfo has no / line".into())
}

/// One option's value (`upperdir`) of a mountinfo line's superblock options.
fn mount_option(line: &str, key: &str) -> Option<PathBuf> {
    let options = line.split(" - ").nth(1)?.split(' ').nth(2)?;
    options
        .split(',')
        .find_map(|o| o.strip_prefix(&format!("{key}=")))
        .map(|v| PathBuf::from(v.replace("\\,", ",").replace("\\:", ":")))
}

fn web_image() -> Result<crate::overlay::Image, String> {
    crate::overlay::Image::load(&crate::image::store_dir(), "web").map_err(|e| {
        format!("the store has no web image ({e}); run the stage once without --image first")
    })
}

pub fn overlay_root_top_first(bin: &Path) -> Result<(), String> {
    let live = Live::start(bin, &["--image", "web"])?;
    let line = root_mount_line(live.container_pid)?;
    drop(live);
    expect(line.split(" - ").nth(1).is_some_and(|t| t.starts_with("overlay ")), || {
        format!("the container's / is not an overlay mount: {line}")
    })?;
    let web = web_image()?;
    let mut want = web.layer_dirs(&crate::image::store_dir());
    want.reverse();
    let got = crate::overlay::options::lowerdirs_in_mountinfo(&line, Path::new("/"));
    expect(got.as_ref() == Some(&want), || {
        format!("the overlay's lowerdir is {got:?}, and the web image's layers top first are {want:?}: lowerdir lists the top layer first, so reverse the image's bottom-first list")
    })
}

pub fn copy_up_and_whiteout(bin: &Path) -> Result<(), String> {
    let store = crate::image::store_dir();
    let web = web_image()?;
    let layers = web.layer_dirs(&store);
    let (base, top) = (&layers[0], &layers[layers.len() - 1]);
    let before = std::fs::read(base.join("etc/os-release")).map_err(|e| e.to_string())?;
    let script = "echo changed-inside >> /etc/os-release; rm /etc/httpd.conf; \
                  rm -rf /var/www; mkdir /var/www; exec sleep 30";
    let live = Live::start_command(bin, &["--image", "web"], &["sh", "-c", script])?;
    let line = root_mount_line(live.container_pid)?;
    let upper = mount_option(&line, "upperdir")
        .ok_or_else(|| format!("the container's / has no upperdir: {line}"))?;
    let copied = std::fs::read_to_string(upper.join("etc/os-release")).unwrap_or_default();
    let whiteout = std::fs::symlink_metadata(upper.join("etc/httpd.conf"))
        .is_ok_and(|m| crate::overlay::inspect::is_whiteout(&m));
    let opaque = crate::overlay::inspect::is_opaque(&upper.join("var/www"));
    drop(live);
    expect(copied.contains("changed-inside"), || {
        format!("after a write to /etc/os-release inside, the upper dir {} has no copy of it: the container's writes do not go to its upper dir", upper.display())
    })?;
    expect(std::fs::read(base.join("etc/os-release")).ok() == Some(before), || {
        format!(
            "the base layer's etc/os-release changed: a container wrote into the image ({})",
            base.display()
        )
    })?;
    expect(whiteout && top.join("etc/httpd.conf").exists(), || {
        "after `rm /etc/httpd.conf` inside, the upper dir has no whiteout (character device 0/0) for it, or the web layer lost its file".into()
    })?;
    expect(opaque, || {
        "after `rm -rf /var/www; mkdir /var/www` inside, the upper dir's var/www is not an opaque dir: in a user namespace overlay keeps its xattrs as user.overlay.* only with the `userxattr` option (without it, removing a lower directory fails with EIO)".into()
    })
}

pub fn fresh_container_starts_clean(bin: &Path) -> Result<(), String> {
    let before = container_dirs();
    let file = format!("/etc/left-by-{}", std::process::id());
    let wrote = run(bin, &["--", "sh", "-c", &format!("echo left > {file}")]);
    expect(wrote.status == 0, || {
        format!("writing {file} inside failed ({}): {}", wrote.status, wrote.stderr.trim())
    })?;
    let read = run(bin, &["--", "cat", &file]);
    expect(read.status != 0 && !read.stdout.contains("left"), || {
        format!("a second run read {file}, which the first run wrote: every container needs an upper dir of its own, made fresh and removed after it ends")
    })?;
    let after = container_dirs();
    let left: Vec<&String> = after.iter().filter(|d| !before.contains(d)).collect();
    expect(left.is_empty(), || {
        format!("after the runs the store still holds the container dirs {left:?}: remove each container's dirs when it ends")
    })
}

/// The container's PID 1's /proc/PID/status, read by the host while it runs.
fn status_of(bin: &Path, args: &[&str]) -> Result<String, String> {
    let live = Live::start(bin, args)?;
    std::fs::read_to_string(format!("/proc/{}/status", live.container_pid))
        .map_err(|e| format!("reading the container's status: {e}"))
}

fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or("")
}

pub fn capability_sets_are_dockers(bin: &Path) -> Result<(), String> {
    use crate::security::{CapabilitySet, ProcessCaps};
    let status = status_of(bin, &[])?;
    let caps = ProcessCaps::parse_status(&status).map_err(|e| e.to_string())?;
    let want = CapabilitySet::docker_default();
    for (set, got) in
        [("CapBnd", &caps.bounding), ("CapPrm", &caps.permitted), ("CapEff", &caps.effective)]
    {
        expect(got == &want, || {
            format!("{set} of the container is {:?}, not Docker's 14 {:?}: drop the others from the bounding set (PR_CAPBSET_DROP) and set permitted and effective to the kept ones", got.names(), want.names())
        })?;
    }
    let none = status_of(bin, &["--cap-drop", "ALL"])?;
    let caps = ProcessCaps::parse_status(&none).map_err(|e| e.to_string())?;
    expect(caps.bounding.names().is_empty() && caps.effective.names().is_empty(), || {
        format!(
            "with --cap-drop ALL the container still has CapBnd {:?} and CapEff {:?}",
            caps.bounding.names(),
            caps.effective.names()
        )
    })
}

pub fn seccomp_and_no_new_privs(bin: &Path) -> Result<(), String> {
    let status = status_of(bin, &["--security-opt", "no-new-privileges"])?;
    expect(status_field(&status, "Seccomp:") == "2", || {
        format!(
            "the container's Seccomp: is {:?}, not 2: no filter was installed",
            status_field(&status, "Seccomp:")
        )
    })?;
    expect(status_field(&status, "NoNewPrivs:") == "1", || {
        "with --security-opt no-new-privileges the container's NoNewPrivs: is not 1".into()
    })?;
    let plain = status_of(bin, &["--security-opt", "seccomp=unconfined"])?;
    expect(
        status_field(&plain, "Seccomp:") == "0" && status_field(&plain, "NoNewPrivs:") == "0",
        || {
            "with seccomp=unconfined and without no-new-privileges the container still has a filter or no_new_privs".into()
        },
    )
}

pub fn attacks_fail(bin: &Path) -> Result<(), String> {
    for attack in [
        "mount -t tmpfs none /mnt",
        "unshare --user true",
        "head -c 64 /proc/interrupts | grep -q CPU",
    ] {
        let out = run(bin, &["--", "sh", "-c", attack]);
        expect(out.status != 0, || {
            format!("`{attack}` worked inside the hardened container: it should fail (capabilities, seccomp, masked paths)")
        })?;
    }
    let live = Live::start(bin, &[])?;
    let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", live.container_pid))
        .map_err(|e| e.to_string())?;
    drop(live);
    let mount_of = |path: &str| {
        mountinfo.lines().find(|l| l.split(' ').nth(4) == Some(path)).map(String::from)
    };
    expect(mount_of("/proc/interrupts").is_some() && mount_of("/sys/firmware").is_some(), || {
        "the container's mountinfo has no mount over /proc/interrupts or /sys/firmware: the masked paths are not masked".into()
    })?;
    let sys = mount_of("/proc/sys").unwrap_or_default();
    expect(sys.split(' ').nth(5).is_some_and(|o| o.split(',').any(|x| x == "ro")), || {
        format!("/proc/sys is not mounted read-only in the container: {sys:?}")
    })
}

/// The container dirs in the image store (`<store>/containers/ws-…`).
pub fn container_dirs() -> Vec<String> {
    let dir = crate::image::store_dir().join("containers");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs `bin run -d --name NAME -- CMD…`, then `f(NAME, PID 1 as the host sees it)`, and removes
/// the container whatever `f` said.
fn with_detached(
    bin: &Path,
    cmd: &[&str],
    f: impl FnOnce(&str, u32) -> Result<(), String>,
) -> Result<(), String> {
    let name = format!("check-{}", std::process::id());
    let mut args = vec!["run", "-d", "--name", &name, "--"];
    args.extend(cmd);
    let started = run(bin, &args);
    if started.status != 0 {
        let _ = run(bin, &["rm", "-f", &name]);
        return Err(format!("`run -d` failed: {}", started.stderr.trim()));
    }
    let result = container_pid_of(bin, &name).and_then(|pid| f(&name, pid));
    let _ = run(bin, &["rm", "-f", &name]);
    result
}

/// PID 1 of a stage 09 container, as the host sees it (from `inspect`).
fn container_pid_of(bin: &Path, name: &str) -> Result<u32, String> {
    let out = run(bin, &["inspect", name]);
    let value: serde_json::Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`inspect {name}` is not JSON ({e}): {}", out.stderr.trim()))?;
    value[0]["process"]["pid"]
        .as_u64()
        .map(|p| p as u32)
        .ok_or_else(|| format!("`inspect {name}` shows no process: {}", value[0]["status"]))
}

pub fn exec_joins_pid_1(bin: &Path) -> Result<(), String> {
    with_detached(bin, &["sleep", "1000"], |name, pid| {
        let kinds = ["user", "mnt", "uts", "ipc", "net", "pid"];
        let script =
            format!("for k in {}; do readlink /proc/self/ns/$k; done; id -u", kinds.join(" "));
        let out = run(bin, &["exec", name, "--", "sh", "-c", &script]);
        if out.status != 0 {
            return Err(format!("`exec {name} -- sh -c …` failed: {}", out.stderr.trim()));
        }
        let lines: Vec<&str> = out.stdout.lines().collect();
        for (i, kind) in kinds.iter().enumerate() {
            let want = crate::probes::ns_inode(Some(pid), kind)?;
            let seen = lines.get(i).copied().unwrap_or("");
            expect(seen == format!("{kind}:[{want}]"), || {
                format!(
                    "the exec'd process is not in the container's {kind} namespace (it reads {seen:?}, PID 1's is {kind}:[{want}]): setns into each namespace of /proc/PID/ns"
                )
            })?;
        }
        let uid = lines.get(kinds.len()).copied().unwrap_or("").trim();
        expect(uid == "0", || {
            format!(
                "the exec'd process is uid {uid} inside, not root: the host's root is unmapped (uid 65534) in the container's user namespace until it takes that namespace's root's ids"
            )
        })
    })
}

pub fn hello_survives_stop_and_start(bin: &Path) -> Result<(), String> {
    with_detached(bin, &["sleep", "1000"], |name, _| {
        let step = |args: &[&str]| {
            let out = run(bin, args);
            if out.status == 0 {
                Ok(out.stdout)
            } else {
                Err(format!("`{}` failed: {}", args.join(" "), out.stderr.trim()))
            }
        };
        step(&["exec", name, "--", "sh", "-c", "echo hello > /tmp/hello.txt"])?;
        step(&["stop", "-t", "1", name])?;
        step(&["start", name])?;
        let read = step(&["exec", name, "--", "cat", "/tmp/hello.txt"])?;
        expect(read.trim() == "hello", || {
            format!("after stop and start /tmp/hello.txt reads {read:?}, not \"hello\": a restarted container must keep its own upper dir")
        })
    })
}

#[cfg(test)]
mod foreign_temp_tests {
    #[test]
    fn compiler_temp_files_are_not_the_workshops() {
        for name in ["ccAPb5XU.cdtor.o", "ccE6E3lY.cdtor.c", "cc5qV1rT.res", "rustcXyZ"] {
            assert!(super::foreign_temp(name), "{name}");
        }
        for name in ["secret.txt", "workshop-root-only.txt", "cc.txt", "workshop-secret-1.txt"] {
            assert!(!super::foreign_temp(name), "{name}");
        }
    }
}
