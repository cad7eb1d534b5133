//! What each of stage 09's verbs does to the container's state and to the kernel's objects.
//!
//! ```text
//!            create            start                stop / kill / exit
//!   (none) ─────────▶ created ───────▶ running ─────────────────────▶ stopped ──┐
//!                                      │    ▲                            │  ▲     │ rm
//!                               pause  ▼    │ unpause            start   │  │     ▼
//!                                      paused                     ───────┘  │   (none)
//!                                                        restart = stop + start
//! ```
//!
//! A container is a directory of state (see [`super::state`]) and, while it runs, a *monitor*: the
//! process that made it with the stages' own code (`container::spawn`, so stages 01–08 all apply),
//! waits for it, writes its exit code and undoes what its run made on the host (veth, address,
//! cgroup, port forwarders, AppArmor profile). Its layer is not the run's: it stays until `rm`, so
//! that a file written in the container survives `stop` and `start`, as the course notes' hello.txt
//! experiment shows. `run` without `-d` is its own monitor, attached to the terminal; `-d` forks one
//! that lives on alone (setsid), writing the container's output to its log, as conmon does for
//! podman.

use super::exec;
use super::id::{self, ContainerId};
use super::liveness;
use super::state::{ContainerLock, ContainerState, Port, ProcessIdentity, Status, Store};
use super::time::Timestamp;
use crate::cgroups::Cgroup;
use crate::cli::StageArgs;
use crate::container::{self, ContainerError, Exit, OnSignal, Stdio};
use crate::runtime::{Cleanup, Resource};
use crate::stage::Stage;
use anyhow::Context;
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

const BIN: &str = "09_lifecycle";

/// The container's log, beside its state: what a detached container prints.
pub const LOG_FILE: &str = "container.log";

/// One line, Docker's 125: an error of the runtime itself (not of the container's command).
pub fn fail(message: impl Into<String>) -> anyhow::Error {
    ContainerError { exit_code: 125, message: message.into() }.into()
}

/// What `create` and `run` are given.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    pub name: Option<String>,
    /// The stage flags (`--memory 64m -p 8080:80 --image web …`), as stages 01–08 take them.
    pub flags: Vec<String>,
    /// After `--`; empty means the image's own command.
    pub command: Vec<String>,
    /// `--rm`.
    pub auto_remove: bool,
}

/// The six hex digits that name a container's things on the host: `ws-TAG` (its cgroup, its
/// layer, its AppArmor profile) and `wsh-TAG` (its veth).
pub fn tag(id: &ContainerId) -> String {
    id.full()[..6].to_string()
}

/// The stage flags and command parsed as every earlier stage parses them.
fn stage_args(flags: &[String], command: &[String]) -> anyhow::Result<StageArgs> {
    let argv = std::iter::once(BIN.to_string())
        .chain(flags.iter().cloned())
        .chain(std::iter::once("--".to_string()))
        .chain(command.iter().cloned());
    StageArgs::try_parse_from(Stage::Lifecycle, argv).map_err(|e| {
        let text = e.to_string();
        fail(text.lines().next().unwrap_or("bad flags").trim_start_matches("error: ").to_string())
    })
}

/// The container's configuration, built from its flags by the same code as every stage's.
fn configure(state: &ContainerState) -> anyhow::Result<(container::Config, Cleanup)> {
    let args = stage_args(&state.flags, &state.command)?;
    let (config, held) = crate::runtime::configure::configure(&args)?;
    Ok((as_kept(config, &args, state), held))
}

/// A stage's configuration made this container's: its names, its kept layer, its hostname.
fn as_kept(
    mut config: container::Config,
    args: &StageArgs,
    state: &ContainerState,
) -> container::Config {
    config.tag = Some(tag(&state.id));
    config.keep_layer = true;
    if args.rootfs.as_ref().is_none_or(|r| r.hostname.is_none()) {
        // As Docker: the hostname is the short id, the same for every run of the container.
        config.hostname = Some(state.id.short().to_string());
    }
    config
}

/// A configuration already made for this container by this process (`run`: the one `create`
/// made), so that the monitor does not make it again (the seccomp filter alone takes ~10 ms).
pub struct Configured {
    config: container::Config,
    held: Cleanup,
}

// ANCHOR: create
/// `create`: checks every flag (as a run would), records the container and makes its layer.
pub fn create(store: &Store, spec: &Spec) -> anyhow::Result<ContainerState> {
    create_configured(store, spec).map(|(state, _)| state)
}

/// [`create`], and the configuration it made, for a `run` that starts the container at once.
pub fn create_configured(
    store: &Store,
    spec: &Spec,
) -> anyhow::Result<(ContainerState, Configured)> {
    let args = stage_args(&spec.flags, &spec.command)?;
    let (config, held) = crate::runtime::configure::configure(&args)?;
    let overlay = config.overlay.as_ref().context("stage 09 builds on stage 07's images")?;
    let command = if spec.command.is_empty() {
        overlay.image.config.cmd.clone()
    } else {
        spec.command.clone()
    };
    let id = ContainerId::generate().context("make a container id")?;
    let name = spec.name.clone().unwrap_or_else(|| id::default_name(&id));
    let mut state = ContainerState::new(id.clone(), name, overlay.image.name.clone(), command);
    state.flags = spec.flags.clone();
    state.auto_remove = spec.auto_remove;
    state.ports = args
        .network
        .as_ref()
        .map(|n| {
            n.publish
                .iter()
                .map(|p| Port {
                    host_ip: "127.0.0.1".into(),
                    host_port: p.host_port,
                    container_port: p.container_port,
                    protocol: "tcp".into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let lock = store.create(&state)?;
    // Its writable layer, made now as Docker makes it at create, kept until rm.
    let layer_name = container::container_name(&tag(&id));
    let layer = match crate::overlay::ContainerLayer::create(&overlay.store, &layer_name) {
        Ok(layer) => layer,
        Err(e) => {
            let _ = store.remove(lock);
            return Err(e.context("make the container's layer"));
        }
    };
    state.upper_dir = Some(layer.upper.clone());
    state.resources.push(Resource::ContainerLayer { dir: layer.dir.clone() });
    store.save(&lock, &state)?;
    let config = as_kept(config, &args, &state);
    Ok((state, Configured { config, held }))
}
// ANCHOR_END: create

/// `start` (and the second half of `run`): attached, this process is the monitor and returns the
/// command's exit; detached, a monitor is forked and this returns once the container runs.
pub fn start(store: &Store, id: &ContainerId, attach: bool) -> anyhow::Result<Option<Exit>> {
    let lock = store.lock(id)?;
    let state = store.load(id)?;
    if matches!(liveness::observe(&state).status, Status::Running | Status::Paused) {
        return Ok(None); // as Docker: starting a running container changes nothing
    }
    if attach {
        return monitor(store, lock, None, None).map(Some);
    }
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("create a pipe")?;
    let log = store.dir(id).join(LOG_FILE);
    // SAFETY: single-threaded; the child runs the monitor and leaves with _exit.
    match unsafe { nix::unistd::fork() }.context("fork the container's monitor")? {
        nix::unistd::ForkResult::Child => {
            drop(rx);
            crate::runtime::record::forget_inherited();
            let code = match detach(&log) {
                Err(e) => report_failure(&tx, &e),
                Ok(()) => match monitor(store, lock, Some(&tx), None) {
                    Ok(exit) => exit.code(),
                    Err(e) => report_failure(&tx, &e),
                },
            };
            // SAFETY: the parent's guards must not run twice.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(tx);
            drop(lock); // the monitor's copy of the descriptor holds the flock now
                        // "ok" once the container runs; or an error and EOF. Not EOF alone: the monitor's
                        // port forwarders (forked, not exec'd) keep a copy of the pipe as long as they live.
            let mut said = Vec::new();
            let mut rx = std::fs::File::from(rx);
            let mut chunk = [0u8; 512];
            loop {
                match std::io::Read::read(&mut rx, &mut chunk) {
                    Ok(0) => break,
                    Ok(n) => said.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
                if said == b"ok" {
                    break;
                }
            }
            let said = String::from_utf8_lossy(&said).into_owned();
            match said.strip_prefix("ok") {
                Some(_) => Ok(None),
                None => {
                    let (code, message) = said.split_once('|').unwrap_or(("125", &said));
                    let message = if message.is_empty() {
                        "the monitor died before the container started"
                    } else {
                        message
                    };
                    Err(ContainerError {
                        exit_code: code.parse().unwrap_or(125),
                        message: message.to_string(),
                    }
                    .into())
                }
            }
        }
    }
}

/// `run` without `-d`: this process is the monitor of the container it has just created, with the
/// configuration `create` made.
pub fn run_attached(
    store: &Store,
    id: &ContainerId,
    configured: Configured,
) -> anyhow::Result<Exit> {
    let lock = store.lock(id)?;
    monitor(store, lock, None, Some(configured))
}

/// The detached monitor leaves the terminal's session and writes everything to the log.
fn detach(log: &std::path::Path) -> anyhow::Result<()> {
    nix::unistd::setsid().context("setsid")?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))?;
    let null = std::fs::File::open("/dev/null")?;
    for (from, to) in [(null.as_raw_fd(), 0), (out.as_raw_fd(), 1), (out.as_raw_fd(), 2)] {
        // SAFETY: dup2 onto the standard descriptors of this (single-threaded) process.
        nix::errno::Errno::result(unsafe { libc::dup2(from, to) }).context("dup2")?;
    }
    Ok(())
}

fn report_failure(tx: &OwnedFd, e: &anyhow::Error) -> i32 {
    let code = e.downcast_ref::<ContainerError>().map_or(125, |c| c.exit_code);
    let _ = nix::unistd::write(tx, format!("{code}|{}", crate::lesson::one_line(e)).as_bytes());
    code
}

// ANCHOR: monitor
/// The monitor: makes the container with the stages' code, records it running, waits for its
/// exit, undoes what the run made on the host and records the exit code. `started` hears "ok"
/// once the container runs (detached `start`).
fn monitor(
    store: &Store,
    lock: ContainerLock,
    started: Option<&OwnedFd>,
    configured: Option<Configured>,
) -> anyhow::Result<Exit> {
    let id = lock.id().clone();
    let mut state = store.load(&id)?;
    let (config, held) = match configured {
        Some(c) => (c.config, c.held),
        None => configure(&state)?,
    };
    let mut running = container::spawn(&config, &state.command, Stdio::Inherit)?;
    // v1: a freezer cgroup for pause, joined while the container still waits.
    let mut extra = Cleanup::new();
    let freezer = super::freezer::prepare(
        running.cgroup.as_ref(),
        &container::container_name(&tag(&id)),
        running.pid.as_raw(),
        &mut extra,
    )?;
    running.release()?;
    state.status = Status::Running;
    state.process = ProcessIdentity::of(running.pid.as_raw());
    state.monitor = ProcessIdentity::of(std::process::id() as i32);
    state.started = Some(Timestamp::now());
    state.finished = None;
    state.resources.retain(|r| matches!(r, Resource::ContainerLayer { .. }));
    // The run's cgroups, for exec and pause to find (the monitor removes them at exit).
    for cgroup in running.cgroup.iter().chain(freezer.iter()) {
        state.resources.push(Resource::Cgroup { cgroup: cgroup.clone() });
    }
    store.save(&lock, &state)?;
    drop(lock);
    if let Some(tx) = started {
        let _ = nix::unistd::write(tx, b"ok");
    }
    let exit = running.wait(OnSignal::Forward);
    drop(running);
    drop(extra);
    drop(held);
    let exit = exit?;
    record_exit(store, &id, exit)?;
    Ok(exit)
}
// ANCHOR_END: monitor

/// After the exit: the status and time, the run's things struck off; `--rm` removes it all.
fn record_exit(store: &Store, id: &ContainerId, exit: Exit) -> anyhow::Result<()> {
    let lock = match store.lock(id) {
        Ok(lock) => lock,
        Err(_) => return Ok(()), // removed meanwhile (rm -f)
    };
    let mut state = store.load(id)?;
    state.status = Status::Stopped(exit.code());
    state.finished = Some(Timestamp::now());
    state.process = None;
    state.monitor = None;
    state.resources.retain(|r| matches!(r, Resource::ContainerLayer { .. }));
    if state.auto_remove {
        return remove(store, lock, &state);
    }
    store.save(&lock, &state)
}

/// Undoes what the container's state lists (its layer; cgroups a dead monitor left) and removes
/// its directory.
fn remove(store: &Store, lock: ContainerLock, state: &ContainerState) -> anyhow::Result<()> {
    for resource in state.resources.iter().rev() {
        resource.undo().with_context(|| format!("remove {}", resource.describe()))?;
    }
    store.remove(lock)
}

/// The container, if it runs (or is paused); otherwise one line saying it does not.
fn running(
    store: &Store,
    id: &ContainerId,
    verb: &str,
) -> anyhow::Result<(ContainerState, Status)> {
    let state = store.load(id)?;
    let seen = liveness::observe(&state);
    match seen.status {
        Status::Running | Status::Paused => Ok((state, seen.status)),
        status => Err(fail(format!(
            "cannot {verb} container {}: it is not running ({}{})",
            state.name,
            super::ps::status(&state, status, Timestamp::now()),
            seen.note.map(|n| format!("; {n}")).unwrap_or_default()
        ))),
    }
}

/// Sends `signal` to the container's first process, named by PID and start time so that a reused
/// PID never receives it.
fn signal(process: &ProcessIdentity, signal: Signal) -> anyhow::Result<()> {
    if liveness::is_alive(process) {
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(process.pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(e).with_context(|| format!("kill -{signal} {}", process.pid)),
        }
    }
    Ok(())
}

/// Waits until `process` has exited, at most `limit`; whether it did.
fn wait_gone(process: &ProcessIdentity, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while liveness::is_alive(process) && !liveness::is_zombie(process.pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Waits until the monitor has recorded the exit (it has then exited itself).
fn wait_recorded(store: &Store, id: &ContainerId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(state) = store.load(id) {
        if !liveness::monitor_alive(&state) || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ANCHOR: stop
/// `stop`: SIGTERM, then SIGKILL after `grace`, as Docker does. A container's PID 1 gets only the
/// signals it has a handler for (pid_namespaces(7)), so a shell that set none ignores SIGTERM and
/// is killed when the grace period ends.
pub fn stop(store: &Store, id: &ContainerId, grace: Duration) -> anyhow::Result<bool> {
    let (state, status) = running(store, id, "stop")?;
    let process = state.process.expect("a running container has a process");
    if status == Status::Paused {
        thaw(&state)?; // a frozen process does not act on signals until it is thawed
    }
    signal(&process, Signal::SIGTERM)?;
    let mut killed = false;
    if !wait_gone(&process, grace) {
        signal(&process, Signal::SIGKILL)?;
        killed = true;
        wait_gone(&process, Duration::from_secs(5));
    }
    wait_recorded(store, id);
    Ok(killed)
}
// ANCHOR_END: stop

/// `kill -s SIG`.
pub fn kill(store: &Store, id: &ContainerId, sig: Signal) -> anyhow::Result<()> {
    let (state, _) = running(store, id, "kill")?;
    signal(&state.process.expect("a running container has a process"), sig)?;
    if sig == Signal::SIGKILL {
        wait_recorded(store, id);
    }
    Ok(())
}

fn thaw(state: &ContainerState) -> anyhow::Result<()> {
    super::freezer::set_frozen(&state.cgroups(), false)
}

/// `pause` (`frozen`) and `unpause`.
pub fn pause(store: &Store, id: &ContainerId, frozen: bool) -> anyhow::Result<()> {
    let lock = store.lock(id)?;
    let verb = if frozen { "pause" } else { "unpause" };
    let (mut state, status) = running(store, id, verb)?;
    match (frozen, status) {
        (true, Status::Paused) => {
            return Err(fail(format!("container {} is already paused", state.name)))
        }
        (false, Status::Running) => {
            return Err(fail(format!("container {} is not paused", state.name)))
        }
        _ => {}
    }
    super::freezer::set_frozen(&state.cgroups(), frozen)?;
    state.status = if frozen { Status::Paused } else { Status::Running };
    store.save(&lock, &state)
}

/// `rm [-f]`: refuses a running container without `force`; with it, kills it first.
pub fn rm(store: &Store, id: &ContainerId, force: bool) -> anyhow::Result<()> {
    let lock = store.lock(id)?;
    let state = match store.load(id) {
        Ok(state) => state,
        // A state that does not read records nothing to trust: with -f, its directory and the
        // layer its id names go, and nothing else is touched.
        Err(_) if force && store.state_path(id).exists() => {
            let layer = container::container_name(&tag(id));
            let dir = crate::image::store_dir().join("containers").join(layer);
            Resource::ContainerLayer { dir }.undo()?;
            return store.remove(lock);
        }
        Err(e) => return Err(e),
    };
    let status = liveness::observe(&state).status;
    if !matches!(status, Status::Running | Status::Paused) {
        return remove(store, lock, &state);
    }
    if !force {
        return Err(fail(format!(
            "cannot remove container {}: it is running; stop it first, or use rm -f",
            state.name
        )));
    }
    if status == Status::Paused {
        thaw(&state)?;
    }
    let process = state.process.expect("a running container has a process");
    drop(lock); // the monitor needs it to record the exit
    signal(&process, Signal::SIGKILL)?;
    wait_gone(&process, Duration::from_secs(5));
    wait_recorded(store, id);
    match store.lock(id) {
        Ok(lock) => {
            let state = store.load(id)?;
            remove(store, lock, &state)
        }
        Err(_) => Ok(()), // --rm: its monitor removed it
    }
}

/// `exec`: the command in the running container (see [`exec`]), with its hardening; its stdout
/// and stderr go to `output` (the caller's when `None`); `join` is exercise 09's seam.
pub fn exec(
    store: &Store,
    id: &ContainerId,
    argv: &[String],
    output: Option<std::os::fd::BorrowedFd<'_>>,
    join: Option<crate::mechanisms::JoinNamespaces>,
) -> anyhow::Result<Exit> {
    let (state, status) = running(store, id, "exec in")?;
    if status == Status::Paused {
        return Err(fail(format!("container {} is paused: unpause it first", state.name)));
    }
    let (config, held) = configure(&state)?;
    drop(held);
    let dirs = state.cgroups();
    let joined = dirs.first().map(|first| Cgroup {
        version: first.version,
        dirs: dirs.iter().flat_map(|c| c.dirs.clone()).collect(),
        made_parents: Vec::new(),
    });
    let hostname = config.hostname.clone().unwrap_or_default();
    let target = exec::Target {
        process: state.process.expect("a running container has a process"),
        cgroup: joined.as_ref(),
        security: config.security.as_ref(),
        apparmor_profile: config
            .security
            .as_ref()
            .and_then(|s| s.apparmor.profile_name(&container::container_name(&tag(id)))),
        env: vec![
            format!("PATH={}", container::CONTAINER_PATH),
            "HOME=/root".into(),
            format!("HOSTNAME={hostname}"),
        ],
        join,
    };
    exec::run(&target, argv, output)
}

/// `logs [-f]`: what a detached container printed; with `follow`, until it stops.
pub fn logs(
    store: &Store,
    id: &ContainerId,
    follow: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let path = store.dir(id).join(LOG_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()), // never detached
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    loop {
        std::io::copy(&mut file, out)?;
        out.flush()?;
        let live = store
            .load(id)
            .map(|s| matches!(liveness::observe(&s).status, Status::Running | Status::Paused));
        if !follow || !live.unwrap_or(false) {
            std::io::copy(&mut file, out)?;
            return Ok(());
        }
        crate::signals::check_interrupted()?;
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every container with the status the kernel confirms (see [`liveness`]), newest first.
pub type Seen = Vec<(ContainerState, liveness::Observed)>;

/// [`Seen`], and one line for each container whose state does not read.
pub fn observed(store: &Store) -> anyhow::Result<(Seen, Vec<String>)> {
    let listing = store.list()?;
    let seen = listing
        .containers
        .into_iter()
        .map(|c| {
            let o = liveness::observe(&c);
            (c, o)
        })
        .collect();
    Ok((seen, listing.unreadable))
}
