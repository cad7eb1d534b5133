//! The container's first process, from clone(2) to execve(2), as `create` and `start` drive it.
//!
//! ```text
//!   create (host)                          init (the cloned child, in its new namespaces)
//!   clone(flags) ────────────────────────▶ waits for "go"
//!   uid_map, gid_map, cgroup.procs
//!   "go" ────────────────────────────────▶ setns(each path), become root, make / private,
//!                                          bind the root, config.json's mounts, /dev
//!   ◀──────────────────────── "mounted"
//!   prestart + createRuntime hooks
//!   "hooks done" ────────────────────────▶ createContainer hooks, pivot_root, masked and
//!                                          read-only paths, sysctl, hostname, rlimits,
//!                                          the terminal (--console-socket)
//!   ◀────────────────────────── "ready"
//!   write --pid-file, save the state;      blocks on exec.fifo ("created")
//!   exit 0
//!   start: writes to exec.fifo ──────────▶ startContainer hooks, capabilities, user,
//!                                          no_new_privs, seccomp, execve(process.args)
//! ```

use super::mounts;
use crate::runtime::syscalls::{Real, Syscalls};
use anyhow::Context;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// What the child works with, all of it made before clone(2).
pub struct Init<'a> {
    pub spec: &'a oci_spec::runtime::Spec,
    pub root: &'a Path,
    pub new: CloneFlags,
    /// Namespaces to join by path (the PID namespace was joined by `create` before clone).
    pub join: &'a [(CloneFlags, PathBuf)],
    pub cgroup_dirs: &'a [crate::cgroups::CgroupDir],
    pub cgroup_v2: bool,
    pub prepared: &'a super::process::Prepared,
    pub no_pivot: bool,
    pub console: Option<&'a UnixStream>,
    /// The read end of exec.fifo, opened without blocking: `start` writes one byte to it.
    pub fifo: &'a OwnedFd,
    /// The state JSON for the hooks that run in the container.
    pub state_json: &'a str,
}

/// The two pipes between `create` and the child.
pub struct Channel {
    /// create → init: one byte per step.
    pub go_rx: OwnedFd,
    /// init → create: one line per step: `mounted`, `ready`, or `error CODE MESSAGE`.
    pub report_tx: OwnedFd,
}

fn wait_byte(fd: &OwnedFd) -> bool {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut b) {
            Ok(1) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return false,
        }
    }
}

fn say(fd: &OwnedFd, line: &str) {
    let _ = nix::unistd::write(fd, format!("{line}\n").as_bytes());
}

// ANCHOR: init_main
/// The child's whole life until execve(2). Never returns.
pub fn main(init: &Init, ch: &Channel) -> ! {
    // Until `create` has heard "ready", the child must not outlive it.
    // SAFETY: prctl with integers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if !wait_byte(&ch.go_rx) {
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(1) }
    }
    if let Err(e) = before_pivot(init) {
        fail(ch, 125, &format!("{e:#}"));
    }
    say(&ch.report_tx, "mounted");
    if !wait_byte(&ch.go_rx) {
        // SAFETY: as above.
        unsafe { libc::_exit(1) }
    }
    if let Err(e) = after_hooks(init) {
        fail(ch, 125, &format!("{e:#}"));
    }
    // SAFETY: prctl with integers: from here the container lives on after `create` exits.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    say(&ch.report_tx, "ready");
    // The engine reads errors from here on in the container's own stderr.
    let _ = nix::unistd::close(ch.report_tx.as_raw_fd());
    let _ = nix::unistd::close(ch.go_rx.as_raw_fd());
    if !wait_for_start(init.fifo) {
        // SAFETY: as above.
        unsafe { libc::_exit(1) }
    }
    if let Some(hooks) = init.spec.hooks().as_ref().and_then(|h| h.start_container().clone()) {
        if let Err(e) = super::hooks::run("startContainer", &hooks, init.state_json) {
            let _ = writeln!(std::io::stderr(), "{}: {e:#}", super::BIN);
            // SAFETY: as above.
            unsafe { libc::_exit(125) }
        }
    }
    let (code, message) = super::process::harden_and_exec(init.prepared);
    let _ = writeln!(std::io::stderr(), "{}: {message}", super::BIN);
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}
// ANCHOR_END: init_main

fn fail(ch: &Channel, code: i32, message: &str) -> ! {
    say(&ch.report_tx, &format!("error {code} {}", message.replace('\n', " ")));
    // SAFETY: _exit is always safe.
    unsafe { libc::_exit(code) }
}

// ANCHOR: wait_for_start
/// Blocks until `start` writes its byte: poll(2) sees the read end readable only once a writer
/// has come and written (a FIFO that never had a writer does not report hang-up).
fn wait_for_start(fifo: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
            Ok(_) => {}
        }
        let mut b = [0u8; 1];
        match nix::unistd::read(fifo.as_fd(), &mut b) {
            Ok(1) => return true,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            // A writer came and went without a byte: keep waiting for `start`.
            Ok(0) => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => return false,
        }
    }
}
// ANCHOR_END: wait_for_start

/// Joins the namespaces given by path, the user namespace first (it owns the others).
fn join_namespaces(join: &[(CloneFlags, PathBuf)]) -> anyhow::Result<()> {
    let mut ordered: Vec<&(CloneFlags, PathBuf)> = join.iter().collect();
    ordered.sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
    for (flag, path) in ordered {
        if *flag == CloneFlags::CLONE_NEWPID {
            continue;
        }
        let fd = nix::fcntl::open(
            path.as_path(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("open the namespace {}", path.display()))?;
        nix::sched::setns(&fd, *flag).with_context(|| format!("setns({})", path.display()))?;
    }
    Ok(())
}

// ANCHOR: before_pivot
fn before_pivot(init: &Init) -> anyhow::Result<()> {
    let sys = &Real;
    join_namespaces(init.join)?;
    let in_userns = init.new.contains(CloneFlags::CLONE_NEWUSER)
        || init.join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER);
    if in_userns {
        sys.setresgid(0).context("setresgid(0) in the user namespace")?;
        sys.setresuid(0).context("setresuid(0) in the user namespace")?;
    }
    let own_mountns = init.new.contains(CloneFlags::CLONE_NEWNS);
    anyhow::ensure!(
        own_mountns,
        "linux.namespaces has no mount namespace: this runtime always makes one (it never \
         mounts in the host's)"
    );
    // 02: private before anything else is mounted, so that nothing reaches the host.
    crate::mounts::make_private(sys).context("make the mounts private")?;
    // 03: pivot_root needs the new root to be a mount point.
    crate::rootfs::bind_onto_itself(sys, init.root).context("bind the root onto itself")?;
    if let Some(p) = init.spec.linux().as_ref().and_then(|l| l.rootfs_propagation().clone()) {
        let opts = mounts::parse_options(std::slice::from_ref(&p));
        anyhow::ensure!(!opts.propagation.is_empty(), "linux.rootfsPropagation {p:?} is unknown");
        sys.mount(None, init.root, None, opts.propagation, None)
            .with_context(|| format!("linux.rootfsPropagation {p}"))?;
    }
    let cx = mounts::MountContext {
        root: init.root,
        cgroup_dirs: init.cgroup_dirs,
        cgroup_v2: init.cgroup_v2,
    };
    for m in init.spec.mounts().iter().flatten() {
        mounts::mount_one(&cx, m, sys)?;
    }
    let devices = init.spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default();
    mounts::devices(init.root, &devices, in_userns, sys).context("make the devices")?;
    Ok(())
}
// ANCHOR_END: before_pivot

// ANCHOR: after_hooks
fn after_hooks(init: &Init) -> anyhow::Result<()> {
    let sys = &Real;
    if let Some(hooks) = init.spec.hooks().as_ref().and_then(|h| h.create_container().clone()) {
        super::hooks::run("createContainer", &hooks, init.state_json)?;
    }
    if init.no_pivot {
        // --no-pivot (a ramdisk root, where pivot_root is refused): move the root over / and
        // chroot into it. Weaker: the old root is still reachable with enough privilege.
        nix::unistd::chdir(init.root)?;
        sys.mount(Some(Path::new(".")), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .context("mount --move the root onto /")?;
        nix::unistd::chroot(".").context("chroot")?;
        nix::unistd::chdir("/")?;
    } else {
        crate::rootfs::pivot_into(sys, init.root).context("pivot_root into the root")?;
    }
    let linux = init.spec.linux().clone().unwrap_or_default();
    let read_only_root = init.spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false);
    let masked: Vec<PathBuf> = linux.masked_paths().iter().flatten().map(PathBuf::from).collect();
    let readonly: Vec<PathBuf> =
        linux.readonly_paths().iter().flatten().map(PathBuf::from).collect();
    // Before /proc/sys is made read-only below.
    for (key, value) in linux.sysctl().iter().flatten() {
        let file = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&file, value).with_context(|| format!("sysctl {key}={value}"))?;
    }
    // 08: the same plan and mounts as --read-only and Docker's masked paths.
    let cfg = crate::security::paths::PathsConfig {
        masked: &masked,
        readonly: &readonly,
        read_only_root,
        tmpfs: &[],
    };
    let root = Path::new("/");
    crate::security::paths::apply(&crate::security::paths::plan(&cfg, root), sys, root)?;
    if init.new.contains(CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = init.spec.hostname() {
            crate::uts::set_hostname(sys, h).context("set the hostname")?;
        }
        if let Some(d) = init.spec.domainname() {
            // SAFETY: setdomainname reads `len` bytes of the name.
            if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
                anyhow::bail!("setdomainname({d}): {}", std::io::Error::last_os_error());
            }
        }
    }
    let process = &init.prepared.process;
    super::process::set_rlimits(process)?;
    super::process::set_oom_score_adj(process)?;
    if let Some(socket) = init.console {
        let size = process.console_size().map(|b| (b.height() as u16, b.width() as u16));
        super::console::attach(socket, size)?;
    }
    Ok(())
}
// ANCHOR_END: after_hooks
