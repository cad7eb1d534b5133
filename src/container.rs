//! Spawning the container process: clone(2) into new namespaces, a sync channel, the setup each
//! stage adds, then execve(2) of the command.
//!
//! ```text
//!   parent (host)                               child (container)
//!   clone(flags) ─────────────────────────────▶ blocked on the sync pipe
//!   host-side work (read /proc/PID/ns, …)       │
//!   release() ────────────── "go" ────────────▶ make / private, mount /proc,
//!                                               pivot_root, sethostname, …
//!   outcome() ◀──── error text, or EOF ──────── execve(CMD)   (the pipe is close-on-exec)
//!   wait() ◀────────── SIGCHLD ──────────────── exit status
//! ```

use crate::mechanisms::Mechanisms;
use crate::runtime::Cleanup;
use crate::signals::{self, Interrupted, Wake};
use crate::stage::Stage;
use crate::sync::{ChildSide, ParentSide, SyncPipes};
use crate::userns::UserNamespace;
use anyhow::Context;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The PATH a container gets when it has its own root filesystem, as in Docker.
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything that decides what the container looks like.
#[derive(Clone)]
pub struct Config {
    pub stage: Stage,
    pub namespaces: CloneFlags,
    /// The root filesystem to pivot into (stage 03 on).
    pub rootfs: Option<PathBuf>,
    /// The hostname in the container's UTS namespace (stage 03 on).
    pub hostname: Option<String>,
    /// The id mapping of the container's user namespace (stage 05 on, or `--rootless`).
    pub user: Option<UserNamespace>,
    /// The container's link to the host (stage 04 on). With a network namespace and no network,
    /// the container has only its loopback.
    pub network: Option<crate::network::NetworkConfig>,
    /// The container's cgroup and its limits (stage 06 on).
    pub cgroup: Option<CgroupConfig>,
    /// The image whose layers become the container's root, under an upper dir of its own (stage 07
    /// on). `rootfs` is then the directory the base layer was made from.
    pub overlay: Option<crate::overlay::root::OverlayImage>,
    /// What the container's root may still do once inside: capabilities, seccomp, masked paths,
    /// its user (stage 08 on).
    pub security: Option<crate::security::SecurityConfig>,
    /// Names the container's things on the host (`ws-TAG`: its cgroup, its layer, its veth
    /// `wsh-TAG`): a new one for every run until stage 09, where a container keeps its own.
    pub tag: Option<String>,
    /// Stage 09: the container's layer lives as long as the container, not the run: it is reused
    /// when it exists, and neither recorded nor removed by the run (the container's state holds it).
    pub keep_layer: bool,
    pub mechanisms: Mechanisms,
}

/// What the container may use (stage 06), and where its cgroup goes.
#[derive(Clone, Debug)]
pub struct CgroupConfig {
    pub limits: crate::cgroups::Limits,
    /// `--cgroup-parent`: a cgroup path the user named, instead of their own or the workshop's.
    pub parent: Option<String>,
}

impl CgroupConfig {
    /// Where a container named `id` gets its cgroup here, after checking that every controller
    /// its limits need is usable there.
    pub fn placement(&self, id: &str) -> anyhow::Result<crate::cgroups::Placement> {
        let host = crate::cgroups::CgroupHost::real();
        let plan = crate::cgroups::placement::plan(&host, id, self.parent.as_deref())
            .map_err(anyhow::Error::msg)?;
        plan.check_needs(&self.limits.needs()).map_err(anyhow::Error::msg)?;
        Ok(plan)
    }
}

impl Config {
    /// A container built up to `stage`, with the library's mechanisms.
    pub fn for_stage(stage: Stage) -> Self {
        Config {
            stage,
            namespaces: stage.namespaces(),
            rootfs: None,
            hostname: None,
            user: None,
            network: None,
            cgroup: None,
            overlay: None,
            security: None,
            tag: None,
            keep_layer: false,
            mechanisms: Mechanisms::library(),
        }
    }

    pub fn with_rootfs(mut self, rootfs: PathBuf) -> Self {
        self.rootfs = Some(rootfs);
        self
    }

    pub fn with_hostname(mut self, hostname: String) -> Self {
        self.hostname = Some(hostname);
        self
    }

    /// Gives the container a network: a veth pair to the host.
    pub fn with_network(mut self, network: crate::network::NetworkConfig) -> Self {
        self.network = Some(network);
        self
    }

    /// Gives the container a user namespace with this mapping.
    pub fn with_user(mut self, user: UserNamespace) -> Self {
        self.namespaces |= CloneFlags::CLONE_NEWUSER;
        self.user = Some(user);
        self
    }

    /// Whether the root filesystem is attached through an idmapped mount (see
    /// [`crate::userns::idmap_unavailable`] for when it cannot be, and why).
    pub fn idmapped_rootfs(&self) -> bool {
        if self.overlay.is_some() {
            // 07 idmaps the image's layers instead (see crate::overlay::root).
            return false;
        }
        match (&self.user, &self.rootfs) {
            (Some(user), Some(root)) => crate::userns::idmap_unavailable(root, user).is_none(),
            _ => false,
        }
    }
}

/// Where the container's output goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// The terminal's stdin, stdout and stderr (`-- CMD`).
    Inherit,
    /// stdout and stderr into a pipe the stage reads, stdin from /dev/null (the narrated demo).
    Capture,
}

/// How a container process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Exit {
    /// The shell's convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s as i32,
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by {s} (status {})", self.code()),
        }
    }
}

/// The container could not be set up or its command could not be started.
#[derive(Debug)]
pub struct ContainerError {
    /// 125: setup failed; 126: the command cannot be executed; 127: the command was not found.
    pub exit_code: i32,
    pub message: String,
}

impl std::fmt::Display for ContainerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ContainerError {}

/// What to do when the stage gets a stop signal while the container runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// The narrated demo: stop the container at once and end the run (an [`Interrupted`] error).
    StopRun,
    /// `-- CMD`: pass the signal on, as `docker run` does; see [`Running::wait`].
    Forward,
}

/// A container process, created blocked. Killed and reaped when dropped, whatever happened.
pub struct Running {
    pub pid: Pid,
    sync: ParentSide,
    output: Option<OwnedFd>,
    reaped: bool,
    /// What the host side created for this container (cgroup, forwarders), undone after it is
    /// reaped.
    host: Cleanup,
    /// The veth pair: the kernel deletes it with the container's network namespace.
    veth: Option<crate::runtime::Owned>,
    /// The name of the veth's host end, when the container has a network.
    pub host_end: Option<String>,
    /// The container's cgroup (stage 06), to read its counters while it runs.
    pub cgroup: Option<crate::cgroups::Cgroup>,
    /// The container's upper and work dirs (stage 07), to look into from the host while it runs;
    /// removed after it is reaped.
    pub layer: Option<crate::overlay::ContainerLayer>,
}

/// Creates the container's process, blocked until [`Running::release`].
pub fn spawn(config: &Config, argv: &[String], stdio: Stdio) -> anyhow::Result<Running> {
    anyhow::ensure!(!argv.is_empty(), "no command to run inside the container");
    let argv_c: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("a command argument contains a NUL byte")?;
    let env = container_env(config);
    let pipes = SyncPipes::new().context("create the sync pipes")?;
    let (parent_side, child_side) = pipes.split();
    let close_in_child = parent_side.raw_fds();
    let (out_rx, out_tx) = match stdio {
        Stdio::Capture => {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .context("create the output pipe")?;
            (Some(r), Some(w))
        }
        Stdio::Inherit => (None, None),
    };
    let out_rx_raw = out_rx.as_ref().map(|f| f.as_raw_fd());
    let out_tx_raw = out_tx.as_ref().map(|f| f.as_raw_fd());
    // 05: made before clone(2) so that the child inherits the descriptor of the detached tree.
    let idmapped = match (&config.user, &config.rootfs) {
        (Some(user), Some(root)) if config.idmapped_rootfs() => Some(
            crate::userns::idmapped_tree(root, user)
                .context("make an idmapped mount of the root filesystem")?,
        ),
        _ => None,
    };
    let tag = config.tag.clone().unwrap_or_else(crate::network::new_tag);
    // 07: the container's own upper dir over the image's layers, made (and recorded) before
    // clone(2) so that the child finds the dirs and inherits the layers' idmapped trees.
    let mut made = Cleanup::new();
    let overlay = match &config.overlay {
        Some(image) if config.keep_layer => Some(
            crate::overlay::root::prepare_kept(image, &container_name(&tag), config.user.as_ref())
                .context("prepare the container's overlay root")?,
        ),
        Some(image) => Some(
            crate::overlay::root::prepare(
                image,
                &container_name(&tag),
                config.user.as_ref(),
                &mut made,
            )
            .context("prepare the container's overlay root")?,
        ),
        None => None,
    };
    // 08, where AppArmor is active: the container's own profile, loaded before clone(2) so that
    // the child can ask for it.
    if let Some(crate::security::apparmor::AppArmor::WorkshopDefault) =
        config.security.as_ref().map(|s| &s.apparmor)
    {
        crate::security::apparmor::load(&container_name(&tag), &mut made)
            .context("load the container's AppArmor profile")?;
    }
    let inside = Inside { config, tree: idmapped.as_ref(), overlay: overlay.as_ref(), tag: &tag };
    let child = Box::new(|| {
        crate::runtime::record::close_in_child();
        for fd in close_in_child.iter().copied().chain(out_rx_raw) {
            let _ = nix::unistd::close(fd);
        }
        child_main(&inside, &argv_c, &env, &child_side, out_tx_raw)
    });
    let clone_child = config.mechanisms.clone_child.unwrap_or(crate::namespaces::clone_child);
    let pid = clone_child(child, config.namespaces).map_err(|e| clone_error(e, config))?;
    drop(child_side);
    drop(out_tx);
    drop(idmapped);
    let layer = overlay.map(|o| o.layer);
    let host_end = config.network.as_ref().map(|_| crate::network::veth_names(&tag).0);
    let mut running = Running {
        pid,
        sync: parent_side,
        output: out_rx,
        reaped: false,
        host: made,
        veth: None,
        host_end,
        cgroup: None,
        layer,
    };
    crate::runtime::record::checkpoint("cloned");
    // The host's part, while the child waits: it needs the child's PID, and must be done before
    // the child goes on. If it fails, dropping `running` kills the child and undoes what was made.
    let (cgroup, veth) = host_side(config, pid, &tag, &mut running.host)?;
    running.cgroup = cgroup;
    running.veth = veth;
    crate::runtime::record::checkpoint("host-side-done");
    Ok(running.take())
}

// ANCHOR: host_side
/// What the parent does from the host between clone(2) and letting the child go.
fn host_side(
    config: &Config,
    pid: Pid,
    tag: &str,
    cleanup: &mut Cleanup,
) -> anyhow::Result<(Option<crate::cgroups::Cgroup>, Option<crate::runtime::Owned>)> {
    let mut cgroup = None;
    let mut veth = None;
    if let Some(c) = &config.cgroup {
        // 06: a cgroup of its own with its limits written, and the child moved in while it still
        // waits, so that everything it runs is counted and limited from its first instruction.
        let name = container_name(tag);
        cgroup = Some(crate::runtime::cgroup::enter(c, &name, pid, &config.mechanisms, cleanup)?);
    }
    if let Some(user) = &config.user {
        // 05: the child is uid 65534 ("nobody") in its namespace until these are written.
        let write_id_maps = config.mechanisms.write_id_maps.unwrap_or(crate::userns::write_id_maps);
        write_id_maps(pid, user).context("write the container's uid_map and gid_map")?;
    }
    if let Some(net) = &config.network {
        // 04: a veth pair, one end moved into the child's network namespace.
        veth = Some(
            crate::network::host_side(net, tag, pid, cleanup)
                .context("connect the container to the host")?,
        );
    }
    Ok((cgroup, veth))
}
// ANCHOR_END: host_side

/// The name of a container's host-side things (its cgroup, its dir in the store): `ws-TAG`.
pub fn container_name(tag: &str) -> String {
    format!("ws-{tag}")
}

/// What the child needs to set itself up: the config, and an idmapped root filesystem if any.
struct Inside<'a> {
    config: &'a Config,
    tree: Option<&'a std::os::fd::OwnedFd>,
    overlay: Option<&'a crate::overlay::root::OverlayRoot>,
    /// Names this container's links (`wsc-TAG` becomes eth0 inside).
    tag: &'a str,
}

fn clone_error(e: nix::errno::Errno, config: &Config) -> anyhow::Error {
    let hint = match e {
        nix::errno::Errno::EPERM => "creating namespaces needs root: run the stage with sudo",
        nix::errno::Errno::EINVAL => {
            "this kernel does not support one of these namespaces (see `cargo run -- doctor`)"
        }
        nix::errno::Errno::ENOSPC | nix::errno::Errno::EUSERS => {
            "the namespace limit is reached (see /proc/sys/user/)"
        }
        _ => "see clone(2)",
    };
    anyhow::Error::new(ContainerError {
        exit_code: 125,
        message: format!(
            "clone({}) failed with {e}: {hint}",
            crate::namespaces::flag_names(config.namespaces)
        ),
    })
}

impl Running {
    /// Moves the process out of this guard (used once the host side is done).
    fn take(&mut self) -> Running {
        let taken = Running {
            pid: self.pid,
            sync: self.sync.take(),
            output: self.output.take(),
            reaped: self.reaped,
            host: std::mem::take(&mut self.host),
            veth: self.veth.take(),
            host_end: self.host_end.take(),
            cgroup: self.cgroup.take(),
            layer: self.layer.take(),
        };
        self.reaped = true;
        taken
    }

    /// Lets the child go on with its setup and exec. Fails with a [`ContainerError`] when a setup
    /// step or the exec failed inside; the child has then exited and is reaped.
    pub fn release(&mut self) -> anyhow::Result<()> {
        self.sync.release().context("signal the container to start")?;
        if let Some(report) = self.sync.outcome() {
            let _ = self.kill_and_reap();
            let (code, message) = report.split_once('|').unwrap_or(("125", report.as_str()));
            return Err(ContainerError {
                exit_code: code.parse().unwrap_or(125),
                message: message.to_string(),
            }
            .into());
        }
        Ok(())
    }

    /// Reads one line of the container's output (with [`Stdio::Capture`]), for a container that goes
    /// on running after it has said something.
    pub fn read_line(&mut self) -> String {
        let Some(fd) = self.output.as_ref() else { return String::new() };
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while let Ok(1) = nix::unistd::read(fd.as_fd(), &mut byte) {
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads everything the container writes (with [`Stdio::Capture`]) until it closes its output.
    pub fn read_output(&mut self) -> String {
        use std::io::Read;
        let Some(fd) = self.output.take() else {
            return String::new();
        };
        let mut text = String::new();
        let _ = std::fs::File::from(fd).read_to_string(&mut text);
        text
    }

    /// Waits for the container to end.
    ///
    /// With [`OnSignal::Forward`], a stop signal sent to the stage by another process is passed to the
    /// container; one from the terminal already reached it through the process group. A PID 1 only
    /// receives signals it has a handler for (pid_namespaces(7)), so when the container's PID 1 does not
    /// catch the signal, nothing would happen: the stage then kills it with SIGKILL, says why, and
    /// reports 128 + the original signal.
    pub fn wait(&mut self, on_signal: OnSignal) -> anyhow::Result<Exit> {
        let mut stopped_by: Option<Signal> = None;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    self.reaped = true;
                    return Ok(stopped_by.map(Exit::Signal).unwrap_or(Exit::Code(code)));
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    self.reaped = true;
                    return Ok(Exit::Signal(stopped_by.unwrap_or(sig)));
                }
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waitpid on the container"),
            }
            match signals::wait(-1) {
                Wake::ChildChanged | Wake::Timeout => {}
                Wake::Stop(received) => match on_signal {
                    OnSignal::StopRun => {
                        self.kill_and_reap();
                        return Err(Interrupted(received.signal).into());
                    }
                    OnSignal::Forward => {
                        if stopped_by.is_some() {
                            // A second stop signal: no more patience.
                            let _ = kill(self.pid, Signal::SIGKILL);
                            continue;
                        }
                        if !received.from_terminal {
                            let _ = kill(self.pid, received.signal);
                        }
                        if !catches(self.pid, received.signal) {
                            eprintln!(
                                "note: the container's PID 1 has no handler for {}, and a PID 1 ignores the signals \
                                 it does not handle; stopping it with SIGKILL",
                                received.signal
                            );
                            stopped_by = Some(received.signal);
                            let _ = kill(self.pid, Signal::SIGKILL);
                        }
                    }
                },
            }
        }
    }

    fn kill_and_reap(&mut self) -> bool {
        if self.reaped {
            return false;
        }
        let _ = kill(self.pid, Signal::SIGKILL);
        while let Err(nix::errno::Errno::EINTR) = waitpid(self.pid, None) {}
        self.reaped = true;
        true
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The process first: a veth's peer or a forwarder's target must not outlive it.
        self.kill_and_reap();
        if let Some(veth) = self.veth.take() {
            // Reaped: its network namespace is going, and the kernel deletes the pair with it.
            veth.forget();
        }
        for failure in self.host.run() {
            eprintln!("warning: {failure}; remove it by hand");
        }
    }
}

/// Whether process `pid` has a handler for `signal` (the SigCgt mask in /proc/PID/status).
pub fn catches(pid: Pid, signal: Signal) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal as u64 - 1)) != 0)
}

/// A finished demo run: what the host saw from outside and what the container printed.
pub struct Ran {
    pub host_pid: Pid,
    /// Namespace inode numbers of the container's process, read by the host from /proc/PID/ns.
    pub ns: std::collections::BTreeMap<&'static str, u64>,
    /// The process's PIDs from the host's PID namespace inwards (`NSpid:` in /proc/PID/status).
    pub nspid: Vec<u32>,
    pub output: String,
    pub exit: Exit,
    /// The container's cgroup counters as it ended (stage 06): CPU used, OOM kills, refused forks.
    pub cgroup_stats: Option<crate::cgroups::Stats>,
}

/// Runs `argv` in a container and captures its output, for the narrated demo.
pub fn run_captured(config: &Config, argv: &[&str]) -> anyhow::Result<Ran> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let mut running = spawn(config, &argv, Stdio::Capture)?;
    let mut ns = std::collections::BTreeMap::new();
    for kind in crate::namespaces::KINDS {
        if let Ok(ino) = crate::namespaces::inode(Some(running.pid), kind) {
            ns.insert(kind, ino);
        }
    }
    let nspid = crate::namespaces::nspid(running.pid);
    running.release()?;
    let output = running.read_output();
    let exit = running.wait(OnSignal::StopRun)?;
    let cgroup_stats = running.cgroup.as_ref().map(|c| c.stats());
    Ok(Ran { host_pid: running.pid, ns, nspid, output, exit, cgroup_stats })
}

/// The environment of the container's command: the host's until the container has its own root
/// filesystem, then a clean one, as Docker gives.
fn container_env(config: &Config) -> Option<Vec<CString>> {
    config.rootfs.as_ref()?;
    let mut env = vec![format!("PATH={CONTAINER_PATH}"), "HOME=/root".to_string()];
    if let Some(h) = &config.hostname {
        env.push(format!("HOSTNAME={h}"));
    }
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    Some(env.into_iter().filter_map(|e| CString::new(e).ok()).collect())
}

/// The container's side: everything after clone(2) happens here, in the new namespaces.
fn child_main(
    inside: &Inside,
    argv: &[CString],
    env: &Option<Vec<CString>>,
    sync: &ChildSide,
    output: Option<RawFd>,
) -> isize {
    // Die with the stage: a container must never outlive the process that cleans up after it.
    // SAFETY: prctl with PR_SET_PDEATHSIG takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if !sync.wait_for_go() {
        // SAFETY: _exit is always safe; the parent is gone, so nothing is left to do.
        unsafe { libc::_exit(1) };
    }
    let config = inside.config;
    let steps = crate::runtime::steps::Inside {
        config,
        tree: inside.tree.map(|t| t.as_fd()),
        overlay: inside.overlay,
        tag: Some(inside.tag),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::runtime::steps::run_all(&steps, &crate::runtime::syscalls::Real)
    }));
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some((125, format!("{e:#}"))),
        Err(panic) => Some((101, panic_text(&panic))),
    };
    if let Some((code, message)) = failure {
        sync.report(&format!("{code}|{message}"));
        // SAFETY: see above.
        unsafe { libc::_exit(code) };
    }
    signals::unblock_in_child();
    if let Some(fd) = output {
        let devnull = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        );
        if let Ok(null) = devnull {
            let _ = nix::unistd::dup2_stdin(&null);
        }
        // SAFETY: fd is the write end of the output pipe, open in this process.
        let out = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::dup2_stdout(out);
        let _ = nix::unistd::dup2_stderr(out);
    }
    let (code, message) = exec(config, argv, env);
    sync.report(&format!("{code}|{message}"));
    // SAFETY: see above.
    unsafe { libc::_exit(code) }
}

pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into());
    format!("the container's setup panicked: {text}")
}

/// The container's own set-up, in the calling process: for the demo's throwaway children, made
/// without a network cable or an idmapped tree.
pub fn setup_inside(config: &Config) -> anyhow::Result<()> {
    let inside = crate::runtime::steps::Inside { config, tree: None, overlay: None, tag: None };
    crate::runtime::steps::run_all(&inside, &crate::runtime::syscalls::Real)
}

/// execve(2) the command, searching the container's PATH. Returns only on failure, with the exit
/// code a shell would use (127: not found, 126: found but cannot run) and one clear line.
fn exec(config: &Config, argv: &[CString], env: &Option<Vec<CString>>) -> (i32, String) {
    exec_with(config.rootfs.is_some(), argv, env)
}

/// execve(2) of a command joining a running container (see [`crate::lifecycle::exec`]), already
/// in its root, with its environment.
pub(crate) fn exec_in_root(argv: &[CString], env: &[CString]) -> (i32, String) {
    exec_with(true, argv, &Some(env.to_vec()))
}

fn exec_with(in_root: bool, argv: &[CString], env: &Option<Vec<CString>>) -> (i32, String) {
    let name = argv[0].to_string_lossy().into_owned();
    if name.is_empty() {
        return (127, "the command name is empty; give a program to run after --".into());
    }
    let where_ = if in_root { "inside the container's root filesystem" } else { "on this machine" };
    let path = if name.contains('/') {
        Some(PathBuf::from(&name))
    } else {
        let search = match env {
            Some(_) => CONTAINER_PATH.to_string(),
            None => std::env::var("PATH").unwrap_or_else(|_| CONTAINER_PATH.to_string()),
        };
        search.split(':').map(|dir| Path::new(dir).join(&name)).find(|p| is_executable(p))
    };
    let Some(path) = path else {
        return (127, format!("{name}: command not found {where_} (looked in its PATH)"));
    };
    if path.is_dir() {
        return (126, format!("cannot run {name} {where_}: it is a directory, not a program"));
    }
    let Ok(path_c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return (127, format!("{name}: bad path"));
    };
    let err = match env {
        Some(env) => nix::unistd::execve(&path_c, argv, env).unwrap_err(),
        None => nix::unistd::execv(&path_c, argv).unwrap_err(),
    };
    let code = if err == nix::errno::Errno::ENOENT { 127 } else { 126 };
    (code, format!("cannot run {name} {where_}: {}", err.desc()))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    path.is_file() && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// Runs `f` in a throwaway child in new namespaces and returns the text it produced: the demo uses it
/// to show a classic failure (pivot_root without a mount point, a chroot escape) or to probe what root
/// in a user namespace may do, without touching the stage's own process. With `user`, the child gets
/// that user namespace and mapping and becomes its root before `f` runs.
pub fn in_throwaway_child(
    flags: CloneFlags,
    user: Option<&UserNamespace>,
    f: impl Fn() -> String,
) -> anyhow::Result<String> {
    let flags = if user.is_some() { flags | CloneFlags::CLONE_NEWUSER } else { flags };
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (parent_side, child_side) = SyncPipes::new()?.split();
    let close_in_child = parent_side.raw_fds();
    let (tx_raw, rx_raw) = (tx.as_raw_fd(), rx.as_raw_fd());
    let child = Box::new(|| {
        // SAFETY: PR_SET_PDEATHSIG takes integers.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        crate::runtime::record::close_in_child();
        for fd in close_in_child.iter().copied().chain([rx_raw]) {
            let _ = nix::unistd::close(fd);
        }
        let text = if !child_side.wait_for_go() {
            "the parent went away".to_string()
        } else if let Some(Err(e)) =
            user.map(|u| crate::userns::become_root_inside(&crate::runtime::syscalls::Real, u))
        {
            format!("could not become root in the user namespace: {e}")
        } else {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(&f))
                .unwrap_or_else(|_| "panicked".into())
        };
        // SAFETY: tx_raw is the open write end of the pipe in this child.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(tx_raw) };
        let _ = nix::unistd::write(fd, text.as_bytes());
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(0) }
    });
    let pid = crate::namespaces::clone_child(child, flags).context("clone a throwaway child")?;
    drop(child_side);
    drop(tx);
    let mut parent_side = parent_side;
    let mapped = match user {
        Some(u) => {
            crate::userns::write_id_maps(pid, u).context("write the throwaway child's id maps")
        }
        None => Ok(()),
    };
    if mapped.is_ok() {
        let _ = parent_side.release();
    }
    drop(parent_side);
    let mut text = String::new();
    use std::io::Read;
    let _ = std::fs::File::from(rx).read_to_string(&mut text);
    while let Err(nix::errno::Errno::EINTR) = waitpid(pid, None) {}
    mapped.map(|()| text)
}
