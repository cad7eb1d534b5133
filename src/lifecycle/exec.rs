//! `exec`: a new process in a running container, made as `docker exec` and `nsenter` make one.
//!
//! Nothing on the host is "the container": there are only its first process's namespaces, its
//! cgroup and its root directory. So a second process joins it by joining those:
//!
//! ```text
//!   stage (host)                 joiner (fork)                          command (fork again)
//!   open /proc/PID/ns/*  ──────▶ cgroup.procs ← own PID (host paths)
//!   open /proc/PID/root          setns(user) first: it grants the
//!   check PID's start time       capabilities every other setns needs
//!                                setns(mnt, uts, ipc, net, cgroup, pid)
//!                                chroot(/proc/PID/root), chdir /
//!                                fork ───────────────────────────────▶  in the PID namespace now
//!                                wait, pass the status back             hardening (08), execve
//! ```
//!
//! The descriptors are opened first and the PID's start time checked after, so they are the
//! container's even if its PID were reused meanwhile. The second fork is needed because setns(2)
//! into a PID namespace moves only the caller's future children.

use super::state::ProcessIdentity;
use crate::container::{ContainerError, Exit};
use anyhow::Context;
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The namespaces a process can join, the user namespace first (see [`join`]).
const KINDS: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
];

/// What a new process joins, and how it is hardened there.
pub struct Target<'a> {
    /// The container's first process.
    pub process: ProcessIdentity,
    /// Its cgroup (stage 06 on), so that what the command uses is counted and limited with it.
    pub cgroup: Option<&'a crate::cgroups::Cgroup>,
    /// Its hardening (stage 08 on): the same capabilities, seccomp filter and user as PID 1.
    pub security: Option<&'a crate::security::SecurityConfig>,
    /// Its AppArmor profile, where it has one.
    pub apparmor_profile: Option<String>,
    /// The command's environment (`KEY=value`).
    pub env: Vec<String>,
    /// The student's join (exercise 09) instead of [`join_namespaces`].
    pub join: Option<crate::mechanisms::JoinNamespaces>,
}

/// A running container's namespaces and root, opened from /proc while its PID was its own.
pub struct Opened {
    namespaces: Vec<(&'static str, CloneFlags, OwnedFd)>,
    root: OwnedFd,
}

impl Opened {
    /// The kinds of namespace the new process will join (those the container does not share with
    /// the caller).
    pub fn kinds(&self) -> Vec<&'static str> {
        self.namespaces.iter().map(|(k, _, _)| *k).collect()
    }

    /// Joins them all with the library's [`join_namespaces`] and enters the container's root:
    /// what both 09's `exec` and the OCI runtime's `exec` do in their forked joiner.
    pub fn enter(&self) -> Result<(), String> {
        let namespaces: Vec<Namespace> = self
            .namespaces
            .iter()
            .map(|(kind, flag, fd)| Namespace { kind, flag: *flag, fd: fd.as_fd() })
            .collect();
        join_namespaces(&namespaces)?;
        self.enter_root()
    }

    fn enter_root(&self) -> Result<(), String> {
        nix::unistd::fchdir(&self.root)
            .and_then(|()| nix::unistd::chroot("."))
            .and_then(|()| nix::unistd::chdir("/"))
            .map_err(|e| format!("enter the container's root directory: {}", e.desc()))
    }
}

// ANCHOR: open
/// Opens the namespaces of `process` that differ from the caller's, and its root directory.
pub fn open(process: &ProcessIdentity) -> anyhow::Result<Opened> {
    let gone = || ContainerError {
        exit_code: 125,
        message: format!("the container's process {} is gone: it is not running", process.pid),
    };
    let pid = process.pid;
    let mut namespaces = Vec::new();
    for (kind, flag) in KINDS {
        let theirs = crate::probes::ns_inode(Some(pid as u32), kind).map_err(|_| gone())?;
        let ours = crate::probes::ns_inode(None, kind).unwrap_or(0);
        if theirs == ours {
            continue; // shared with the host: nothing to join
        }
        let path = format!("/proc/{pid}/ns/{kind}");
        let fd = nix::fcntl::open(
            path.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|_| gone())?;
        namespaces.push((kind, flag, fd));
    }
    let root = nix::fcntl::open(
        format!("/proc/{pid}/root").as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|_| gone())?;
    // Checked after opening: had the PID been reused before, its start time would differ now.
    if !super::liveness::is_alive(process) {
        return Err(gone().into());
    }
    Ok(Opened { namespaces, root })
}
// ANCHOR_END: open

/// Runs `argv` in the container `target`, with stdin, stdout and stderr as given (the caller's
/// when `None`), and returns how it ended. The command's own failure to start is a
/// [`ContainerError`] with 126 or 127, as `docker exec` says it.
pub fn run(
    target: &Target,
    argv: &[String],
    output: Option<std::os::fd::BorrowedFd<'_>>,
) -> anyhow::Result<Exit> {
    anyhow::ensure!(!argv.is_empty(), "no command to run in the container");
    let opened = open(&target.process)?;
    let argv_c: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("a command argument contains a NUL byte")?;
    let env_c: Vec<CString> =
        target.env.iter().filter_map(|e| CString::new(e.as_bytes()).ok()).collect();
    // The joiner's and the command's errors come back on this pipe ("CODE|message"); it closes
    // by itself at execve (close-on-exec).
    let (err_rx, err_tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("create a pipe")?;
    let output_raw = output.map(|o| o.as_raw_fd());
    // SAFETY: the child only makes system calls and writes prepared bytes before execve or _exit.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(err_rx);
            crate::runtime::record::close_in_child();
            let (code, message) = join_and_exec(target, &opened, &argv_c, &env_c, output_raw);
            let _ = nix::unistd::write(&err_tx, format!("{code}|{message}").as_bytes());
            // SAFETY: _exit is always safe; the parent's guards must not run in this copy.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(err_tx);
            drop(opened);
            let mut report = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::fs::File::from(err_rx), &mut report);
            let status = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other.context("wait for the exec'd process")?,
                }
            };
            if !report.is_empty() {
                let report = String::from_utf8_lossy(&report);
                let (code, message) = report.split_once('|').unwrap_or(("125", &report));
                return Err(ContainerError {
                    exit_code: code.parse().unwrap_or(125),
                    message: message.to_string(),
                }
                .into());
            }
            Ok(match status {
                WaitStatus::Exited(_, code) => Exit::Code(code),
                WaitStatus::Signaled(_, signal, _) => Exit::Signal(signal),
                _ => Exit::Code(125),
            })
        }
    }
}

// ANCHOR: join
/// The joiner: in the forked child, joins the container and forks the command. Returns only on
/// failure, with the exit code and one line; on success it exits with the command's status.
fn join_and_exec(
    target: &Target,
    opened: &Opened,
    argv: &[CString],
    env: &[CString],
    output: Option<std::os::fd::RawFd>,
) -> (i32, String) {
    // The cgroup first, by its host paths, which the container's mount namespace does not show.
    if let Some(cgroup) = target.cgroup {
        for dir in &cgroup.dirs {
            let procs = dir.path.join("cgroup.procs");
            if let Err(e) = std::fs::write(&procs, std::process::id().to_string()) {
                return (125, format!("join the cgroup {}: {e}", procs.display()));
            }
        }
    }
    let namespaces: Vec<Namespace> = opened
        .namespaces
        .iter()
        .map(|(kind, flag, fd)| Namespace { kind, flag: *flag, fd: fd.as_fd() })
        .collect();
    let joined = match target.join {
        Some(student) => join_by(student, &namespaces),
        None => join_namespaces(&namespaces),
    };
    if let Err(e) = joined.and_then(|()| opened.enter_root()) {
        return (125, e);
    }
    // SAFETY: as above; the command's side only makes system calls before execve.
    match unsafe { fork() } {
        Err(e) => (125, format!("fork in the container: {}", e.desc())),
        Ok(ForkResult::Child) => command_side(target, argv, env, output),
        Ok(ForkResult::Parent { child }) => {
            // The joiner only passes the status on; the error pipe is the command's now.
            let status = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let code = match status {
                Ok(WaitStatus::Exited(_, code)) => code,
                Ok(WaitStatus::Signaled(_, signal, _)) => 128 + signal as i32,
                _ => 125,
            };
            // SAFETY: _exit without writing to the pipe: the command reported for itself.
            unsafe { libc::_exit(code) }
        }
    }
}
// ANCHOR_END: join

/// One namespace of the running container: `user`, `mnt`… (its name in /proc/PID/ns), the flag
/// setns(2) takes for it, and a descriptor of it, open in the joiner.
#[derive(Clone, Copy, Debug)]
pub struct Namespace<'a> {
    pub kind: &'static str,
    pub flag: CloneFlags,
    pub fd: std::os::fd::BorrowedFd<'a>,
}

// ANCHOR: join_namespaces
/// The library's join: the user namespace first, since it is what grants the capabilities every
/// other setns needs to a caller that is not the host's root (a rootless runtime), and then its
/// root's ids, since the host's root is nobody (65534) there until it takes them; then the others.
pub fn join_namespaces(namespaces: &[Namespace]) -> Result<(), String> {
    let user_first = namespaces
        .iter()
        .filter(|n| n.flag == CloneFlags::CLONE_NEWUSER)
        .chain(namespaces.iter().filter(|n| n.flag != CloneFlags::CLONE_NEWUSER));
    for ns in user_first {
        nix::sched::setns(ns.fd, ns.flag).map_err(|e| {
            format!("setns into the container's {} namespace: {}", ns.kind, e.desc())
        })?;
        if ns.flag == CloneFlags::CLONE_NEWUSER {
            let (gid, uid) = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
            nix::unistd::setresgid(gid, gid, gid)
                .and_then(|()| nix::unistd::setresuid(uid, uid, uid))
                .map_err(|e| {
                    format!("become root of the container's user namespace: {}", e.desc())
                })?;
        }
    }
    Ok(())
}
// ANCHOR_END: join_namespaces

/// The student's join (exercise 09), given the namespaces as /proc/PID/ns lists them (by name),
/// so that the order is theirs to choose. A panic (their todo!()) is an error of this process:
/// it must not unwind into the code this forked copy shares with its parent.
fn join_by(
    student: crate::mechanisms::JoinNamespaces,
    namespaces: &[Namespace],
) -> Result<(), String> {
    let mut given = namespaces.to_vec();
    given.sort_by_key(|n| n.kind);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| student(&given))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => Err(crate::container::panic_text(&panic)),
    }
}

/// The command, in the container's PID namespace: the container's hardening, then execve.
fn command_side(
    target: &Target,
    argv: &[CString],
    env: &[CString],
    output: Option<std::os::fd::RawFd>,
) -> (i32, String) {
    // SAFETY: PR_SET_PDEATHSIG takes integers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if let Some(fd) = output {
        for to in [1, 2] {
            // SAFETY: dup2 on descriptors this process owns.
            unsafe { libc::dup2(fd, to) };
        }
    }
    if let Some(profile) = &target.apparmor_profile {
        if let Err(e) = crate::security::apparmor::exec_under(profile) {
            return (125, format!("{e:#}"));
        }
    }
    if let Some(security) = target.security {
        if let Err(e) = crate::security::drop_privileges(security, None) {
            return (125, format!("{e:#}"));
        }
    }
    crate::container::exec_in_root(argv, env)
}
