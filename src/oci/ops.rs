//! The runtime's operations on a container that exists: `state`, `start`, `kill`, `delete`,
//! `pause`, `resume`, `ps`, `features`. The container is stage 09's: its state file, its lock,
//! its liveness by PID and start time, its cgroups and freezer.

use super::fail;
use crate::lifecycle::liveness;
use crate::lifecycle::state::{ContainerState, Status, Store};
use crate::lifecycle::Timestamp;
use anyhow::Context;
use nix::sys::signal::Signal;
use serde::Serialize;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The container the engine calls `id`, if it exists.
pub fn find(store: &Store, id: &str) -> anyhow::Result<Option<ContainerState>> {
    let listing = store.list()?;
    Ok(listing.containers.into_iter().find(|c| c.oci.as_ref().is_some_and(|o| o.id == id)))
}

/// The container `id`, or the one line an engine expects when there is none.
pub fn get(store: &Store, id: &str) -> anyhow::Result<ContainerState> {
    find(store, id)?.ok_or_else(|| fail(format!("container {id} does not exist")))
}

// ANCHOR: status
/// The specification's status: `created`, `running`, `paused` or `stopped`, and the PID while
/// the process lives. A process that exited (even one not yet reaped by the engine) is stopped.
pub fn status(state: &ContainerState) -> (&'static str, Option<i32>) {
    let Some(p) = state.process else {
        // Recorded by `create` before its process exists: still being made.
        let word = if state.status == Status::Created { "creating" } else { "stopped" };
        return (word, None);
    };
    if !liveness::is_alive(&p) || liveness::is_zombie(p.pid) {
        return ("stopped", None);
    }
    let word = match state.status {
        Status::Created => "created",
        Status::Paused => "paused",
        _ => "running",
    };
    (word, Some(p.pid))
}
// ANCHOR_END: status

/// The specification's state JSON (runtime.md, "State").
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateJson<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    bundle: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: std::collections::BTreeMap<String, String>,
}

/// The state as `state` prints it and the hooks read it; `status` overrides the observed one
/// (`creating` during `create`).
pub fn state_json(state: &ContainerState, status: &str, pid: Option<i32>) -> String {
    let oci = state.oci.clone();
    let pid = pid.or(state.process.map(|p| p.pid));
    let json = StateJson {
        oci_version: super::OCI_VERSION,
        id: oci.as_ref().map(|o| o.id.as_str()).unwrap_or(&state.name),
        status,
        pid,
        bundle: oci.as_ref().map(|o| o.bundle.display().to_string()).unwrap_or_default(),
        annotations: oci.as_ref().map(|o| o.annotations.clone()).unwrap_or_default(),
    };
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// `state ID`.
pub fn state(store: &Store, id: &str) -> anyhow::Result<String> {
    let s = get(store, id)?;
    let (word, pid) = status(&s);
    let mut s = s;
    if pid.is_none() {
        s.process = None;
    }
    Ok(state_json(&s, word, pid))
}

fn hooks(state: &ContainerState) -> Option<oci_spec::runtime::Hooks> {
    let value = state.oci.as_ref()?.hooks.clone()?;
    serde_json::from_value(value).ok()
}

/// Runs hooks whose failure the specification says must only be logged (poststart, poststop).
fn run_logged(kind: &str, list: Option<Vec<oci_spec::runtime::Hook>>, state: &str) {
    if let Err(e) = super::hooks::run(kind, list.as_deref().unwrap_or_default(), state) {
        let message = format!("warning: {e:#}");
        super::log::write("warning", &message);
        eprintln!("{}: {message}", super::BIN);
    }
}

// ANCHOR: start
/// `start ID`: lets the waiting process go, by writing one byte to its exec.fifo.
pub fn start(store: &Store, id: &str) -> anyhow::Result<()> {
    let s = get(store, id)?;
    let lock = store.lock(&s.id)?;
    let mut s = store.load(&s.id)?;
    let (word, _) = status(&s);
    if word != "created" {
        return Err(fail(format!("cannot start container {id}: it is {word}, not created")));
    }
    let fifo = super::create::fifo_path(store, &s.id);
    let tx = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail(format!("cannot start container {id}: its process is not waiting ({e})")))?;
    nix::unistd::write(&tx, b"0").context("write to exec.fifo")?;
    // The process closes its end at execve (close-on-exec), or when it dies: the FIFO then has
    // no reader, which poll(2) reports as POLLERR on ours.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(tx.as_fd(), PollFlags::empty())];
        let _ = poll(&mut fds, PollTimeout::from(100u16));
        let gone = fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLERR));
        if gone || Instant::now() >= deadline {
            break;
        }
    }
    let _ = std::fs::remove_file(&fifo);
    s.status = Status::Running;
    s.started = Some(Timestamp::now());
    store.save(&lock, &s)?;
    drop(lock);
    let (word, pid) = status(&s);
    run_logged(
        "poststart",
        hooks(&s).and_then(|h| h.poststart().clone()),
        &state_json(&s, word, pid),
    );
    Ok(())
}
// ANCHOR_END: start

/// A signal as runc takes it: `TERM`, `SIGTERM` or `15`.
pub fn parse_signal(text: &str) -> anyhow::Result<Signal> {
    let bad = || fail(format!("unknown signal {text:?}: give a name (TERM, SIGKILL) or a number"));
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map_err(|_| bad())
}

/// Every process of the container: those in its cgroups, or its first one.
fn pids(state: &ContainerState) -> Vec<i32> {
    let mut pids: Vec<i32> = state.cgroups().iter().flat_map(|c| c.procs()).collect();
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() {
        pids.extend(state.process.filter(liveness::is_alive).map(|p| p.pid));
    }
    pids
}

/// `kill [--all] ID [SIGNAL]`.
pub fn kill(store: &Store, id: &str, signal: Signal, all: bool) -> anyhow::Result<()> {
    let s = get(store, id)?;
    let (word, pid) = status(&s);
    let Some(pid) = pid else {
        return Err(fail(format!("cannot kill container {id}: it is {word}")));
    };
    let targets = if all { pids(&s) } else { vec![pid] };
    for p in targets {
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(e).with_context(|| format!("kill -{signal} {p}")),
        }
    }
    Ok(())
}

/// `delete [--force] ID`: a stopped (or created) container's host objects undone and its state
/// removed; a running one only with `--force`, killed first.
pub fn delete(store: &Store, id: &str, force: bool) -> anyhow::Result<()> {
    let Some(s) = find(store, id)? else {
        return Err(fail(format!("container {id} does not exist")));
    };
    let lock = store.lock(&s.id)?;
    let s = store.load(&s.id)?;
    let (word, _) = status(&s);
    if matches!(word, "running" | "paused") && !force {
        return Err(fail(format!(
            "cannot delete container {id}: it is {word}; stop it first, or use --force"
        )));
    }
    if word == "paused" {
        let _ = crate::lifecycle::freezer::set_frozen(&s.cgroups(), false);
    }
    let bundle_state = state_json(&s, "stopped", None);
    if word != "stopped" {
        for p in pids(&s) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
        }
        if let Some(p) = s.process {
            let deadline = Instant::now() + Duration::from_secs(10);
            while liveness::is_alive(&p) && !liveness::is_zombie(p.pid) && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    for resource in s.resources.iter().rev() {
        resource.undo().with_context(|| format!("remove {}", resource.describe()))?;
    }
    store.remove(lock)?;
    run_logged("poststop", hooks(&s).and_then(|h| h.poststop().clone()), &bundle_state);
    Ok(())
}

/// `pause` (`frozen`) and `resume`: 09's freezer.
pub fn pause(store: &Store, id: &str, frozen: bool) -> anyhow::Result<()> {
    let s = get(store, id)?;
    let lock = store.lock(&s.id)?;
    let mut s = store.load(&s.id)?;
    let (word, _) = status(&s);
    let verb = if frozen { "pause" } else { "resume" };
    match (frozen, word) {
        (true, "running") | (false, "paused") => {}
        _ => return Err(fail(format!("cannot {verb} container {id}: it is {word}"))),
    }
    crate::lifecycle::freezer::set_frozen(&s.cgroups(), frozen)?;
    s.status = if frozen { Status::Paused } else { Status::Running };
    store.save(&lock, &s)
}

/// `ps ID`: the container's processes (their host PIDs), as JSON or through the host's ps(1).
pub fn ps(store: &Store, id: &str, json: bool, ps_args: &[String]) -> anyhow::Result<String> {
    let s = get(store, id)?;
    let pids = pids(&s);
    if json {
        return Ok(serde_json::to_string(&pids)?);
    }
    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    let mut cmd = std::process::Command::new("ps");
    if ps_args.is_empty() {
        cmd.arg("-f");
    } else {
        cmd.args(ps_args);
    }
    if !list.is_empty() {
        cmd.arg("-p").arg(list.join(","));
    }
    let out = cmd.output().context("run ps(1)")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `features`: what this runtime implements, in the specification's features.md form.
pub fn features() -> String {
    let caps: Vec<String> = crate::security::caps::CapabilitySet::all().names();
    let seccomp_actions = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ];
    let operators = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ];
    let mount_options: Vec<&str> = vec![
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "unbindable",
    ];
    let json = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": super::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": seccomp_actions,
                "operators": operators,
                // The filter is compiled for this machine's architecture only.
                "archs": [match std::env::consts::ARCH {
                    "x86_64" => "SCMP_ARCH_X86_64",
                    "aarch64" => "SCMP_ARCH_AARCH64",
                    _ => "SCMP_ARCH_RISCV64",
                }],
            },
            "apparmor": { "enabled": crate::security::apparmor::Host::detect().can_load() },
            "selinux": { "enabled": false },
        },
        "annotations": { "org.opencontainers.runtime-spec.features.runtime": super::BIN },
    });
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_with_or_without_sig_and_by_number() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn the_state_json_has_the_specifications_fields() {
        let mut s = crate::lifecycle::state::tests::sample("web");
        s.oci = Some(crate::lifecycle::state::OciRecord {
            id: "web".into(),
            bundle: "/b".into(),
            annotations: [("a".to_string(), "b".to_string())].into_iter().collect(),
            hooks: None,
        });
        let v: serde_json::Value =
            serde_json::from_str(&state_json(&s, "created", Some(42))).unwrap();
        assert_eq!(v["ociVersion"], super::super::OCI_VERSION);
        assert_eq!(v["id"], "web");
        assert_eq!(v["status"], "created");
        assert_eq!(v["pid"], 42);
        assert_eq!(v["bundle"], "/b");
        assert_eq!(v["annotations"]["a"], "b");
    }

    #[test]
    fn features_is_json_naming_the_hooks_and_namespaces() {
        let v: serde_json::Value = serde_json::from_str(&features()).unwrap();
        assert_eq!(v["hooks"].as_array().unwrap().len(), 6);
        assert!(v["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "user"));
    }
}
