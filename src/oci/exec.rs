//! `exec`: a new process in a running container, by setns(2) into each of its namespaces, as
//! stage 09's `exec` does (the same [`crate::lifecycle::exec::open`] and `enter`), then the
//! process's own hardening from `--process` (podman writes one) or from config.json.
//!
//! ```text
//!   workshop-runc exec ── fork ──▶ joiner: cgroup.procs, setns × N, chroot
//!        │                           └── fork ──▶ the process (in the PID namespace):
//!        │  ◀── its host PID ───────────────────  terminal, capabilities, user, seccomp, execve
//!   --pid-file, and with --detach exit at once (the engine reaps the process); else wait
//! ```

use super::fail;
use super::process::Prepared;
use crate::lifecycle::state::Store;
use anyhow::Context;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::Process;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

pub struct Request {
    pub id: String,
    pub process_file: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub args: Vec<String>,
}

/// The process to run: `--process FILE` as it is, else the container's own process with the
/// command line's arguments, environment, directory and user over it (as runc builds it).
fn process(req: &Request, bundle: &super::bundle::Bundle) -> anyhow::Result<Process> {
    if let Some(file) = &req.process_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| fail(format!("--process {}: {e}", file.display())))?;
        return serde_json::from_str(&text)
            .map_err(|e| fail(format!("--process {}: not a process JSON ({e})", file.display())));
    }
    if req.args.is_empty() {
        return Err(fail("exec needs a command: exec ID CMD [ARG…], or --process FILE"));
    }
    let mut p = bundle.spec.process().clone().context("config.json has no process")?;
    p.set_args(Some(req.args.clone()));
    p.set_terminal(Some(req.tty));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(req.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &req.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &req.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let parse =
            |s: &str| s.parse::<u32>().map_err(|_| fail(format!("--user {user}: give UID[:GID]")));
        let mut u = p.user().clone();
        u.set_uid(parse(uid)?);
        u.set_gid(parse(gid)?);
        p.set_user(u);
    }
    Ok(p)
}

/// `exec`: returns the process's exit code (0 with `--detach` once it runs).
pub fn exec(store: &Store, req: &Request) -> anyhow::Result<i32> {
    let state = super::ops::get(store, &req.id)?;
    let (word, _) = super::ops::status(&state);
    if word != "running" {
        return Err(fail(format!("cannot exec in container {}: it is {word}", req.id)));
    }
    let bundle_dir =
        state.oci.as_ref().map(|o| o.bundle.clone()).context("not an OCI container")?;
    let bundle = super::bundle::load(&bundle_dir)?;
    let process = process(req, &bundle)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && req.console_socket.is_none() {
        return Err(fail("a terminal (process.terminal or --tty) needs --console-socket"));
    }
    let prepared = Prepared { process, seccomp: super::bundle::seccomp(&bundle.spec)? };
    let init = state.process.context("the container has no process")?;
    let opened = crate::lifecycle::exec::open(&init)?;
    let cgroup_dirs: Vec<PathBuf> =
        state.cgroups().into_iter().flat_map(|c| c.dirs).map(|d| d.path).collect();
    let console = req.console_socket.as_deref().map(super::console::connect).transpose()?;
    // The process's host PID comes back on `pid_*`; its failure to start on `err_*` (closed by
    // its execve).
    let (pid_rx, pid_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (err_rx, err_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the child makes system calls and writes prepared bytes before execve or _exit.
    let joiner = match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(pid_rx);
            drop(err_rx);
            crate::runtime::record::close_in_child();
            let code = joiner(
                &opened,
                &cgroup_dirs,
                &prepared,
                console.as_ref(),
                req.detach,
                &pid_tx,
                &err_tx,
            );
            // SAFETY: _exit in the forked copy.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(pid_tx);
    drop(err_tx);
    drop(console);
    let mut pid_text = String::new();
    let _ = std::fs::File::from(pid_rx).read_to_string(&mut pid_text);
    let mut report = String::new();
    let _ = std::fs::File::from(err_rx).read_to_string(&mut report);
    let joined = loop {
        match waitpid(joiner, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.context("wait for the joiner")?,
        }
    };
    if !report.is_empty() {
        let (code, message) = report.split_once('|').unwrap_or(("125", &report));
        return Err(crate::container::ContainerError {
            exit_code: code.parse().unwrap_or(125),
            message: message.to_string(),
        }
        .into());
    }
    if let (Some(file), Ok(pid)) = (&req.pid_file, pid_text.trim().parse::<i32>()) {
        crate::runtime::state_dir::write_atomic(file, pid.to_string().as_bytes())
            .with_context(|| format!("write the pid file {}", file.display()))?;
    }
    Ok(match joined {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 125,
    })
}

fn joiner(
    opened: &crate::lifecycle::exec::Opened,
    cgroup_dirs: &[PathBuf],
    prepared: &Prepared,
    console: Option<&std::os::unix::net::UnixStream>,
    detach: bool,
    pid_tx: &std::os::fd::OwnedFd,
    err_tx: &std::os::fd::OwnedFd,
) -> i32 {
    let report = |code: i32, message: &str| {
        let _ = nix::unistd::write(err_tx, format!("{code}|{message}").as_bytes());
        code
    };
    for dir in cgroup_dirs {
        if let Err(e) = std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()) {
            return report(125, &format!("join the cgroup {}: {e}", dir.display()));
        }
    }
    if let Err(e) = opened.enter() {
        return report(125, &e);
    }
    // SAFETY: as in exec().
    match unsafe { fork() } {
        Err(e) => report(125, &format!("fork in the container: {}", e.desc())),
        Ok(ForkResult::Child) => {
            if let Some(socket) = console {
                if let Err(e) = super::console::attach(socket, None) {
                    // SAFETY: _exit in the forked copy.
                    unsafe { libc::_exit(report(125, &format!("{e:#}"))) }
                }
            }
            let (code, message) = super::process::harden_and_exec(prepared);
            // SAFETY: as above.
            unsafe { libc::_exit(report(code, &message)) }
        }
        // ANCHOR: detach
        Ok(ForkResult::Parent { child }) => {
            let _ = nix::unistd::write(pid_tx, child.as_raw().to_string().as_bytes());
            // SAFETY: closing our copies, so that the runtime sees EOF once the process execs.
            unsafe {
                libc::close(pid_tx.as_raw_fd());
                libc::close(err_tx.as_raw_fd());
            }
            if detach {
                return 0; // the process is the engine's (its subreaper's) now
            }
            loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Ok(WaitStatus::Exited(_, code)) => return code,
                    Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
                    _ => return 125,
                }
            }
        } // ANCHOR_END: detach
    }
}
