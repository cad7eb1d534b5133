//! `create`: everything but the user's program. The container's first process is made, set up
//! and left blocked at its last step (see [`super::init`]); its PID goes to `--pid-file` and
//! its state to the store before `create` returns, as the specification asks.

use super::bundle::{self, Bundle};
use super::init::{self, Channel, Init};
use super::{fail, ops};
use crate::cgroups::{Cgroup, CgroupDir, Version};
use crate::container::CgroupConfig;
use crate::lifecycle::state::{ContainerState, OciRecord, ProcessIdentity, Status, Store};
use crate::lifecycle::ContainerId;
use crate::runtime::{Cleanup, Resource};
use anyhow::Context;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What `create` was asked.
pub struct Request {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
}

/// The exec FIFO in the container's state directory: `start` writes one byte to it.
pub fn fifo_path(store: &Store, id: &ContainerId) -> PathBuf {
    store.dir(id).join("exec.fifo")
}

/// Checks an id as runc does: letters, digits and `_+-.`, so that it is safe as a file name.
pub fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(fail(format!("invalid container id {id:?}: use letters, digits and _ + - . only")))
    }
}

// ANCHOR: create
/// `create`.
pub fn create(store: &Store, req: &Request) -> anyhow::Result<()> {
    check_id(&req.id)?;
    // What an earlier `create` killed half-way (SIGKILL) made and recorded: undone first, as
    // every stage does at its start.
    crate::runtime::record::reap();
    let bundle = bundle::load(&req.bundle)?;
    let refused = bundle::unsupported(&bundle.spec);
    if !refused.is_empty() {
        return Err(fail(format!(
            "config.json asks for what this runtime cannot do, and it will not start a container \
             without it: {}",
            refused.join("; ")
        )));
    }
    if ops::find(store, &req.id)?.is_some() {
        return Err(fail(format!("container {} already exists", req.id)));
    }
    let process = bundle.spec.process().clone().expect("checked by unsupported()");
    let terminal = process.terminal().unwrap_or(false);
    match (terminal, &req.console_socket) {
        (true, None) => {
            return Err(fail(
                "process.terminal is true: a terminal needs --console-socket to hand its master to",
            ))
        }
        (false, Some(_)) => {
            return Err(fail(
                "--console-socket given, but process.terminal is false in config.json",
            ))
        }
        _ => {}
    }
    // The state directory first: the lock held from here to the end makes a second `create` of
    // the same id wait, then find it.
    let cid = ContainerId::parse(&req.id).or_else(|_| ContainerId::generate())?;
    let mut state = ContainerState::new(
        cid.clone(),
        req.id.clone(),
        bundle.dir.display().to_string(),
        process.args().clone().unwrap_or_default(),
    );
    state.oci = Some(OciRecord {
        id: req.id.clone(),
        bundle: bundle.dir.clone(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        hooks: bundle.spec.hooks().as_ref().map(serde_json::to_value).transpose()?,
    });
    let lock = store.create(&state)?;
    let mut made = Cleanup::new();
    match build(store, &bundle, req, &mut state, &mut made, lock.raw_fd()) {
        Ok(child) => {
            state.resources = made.hand_over();
            store.save(&lock, &state)?;
            std::mem::forget(child); // the container lives on: no kill on drop
            Ok(())
        }
        Err(e) => {
            drop(made);
            let _ = store.remove(lock);
            Err(e)
        }
    }
}
// ANCHOR_END: create

/// The child, killed and reaped if `create` fails after it was made.
struct Child(Pid);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(self.0, None) {}
    }
}

fn build(
    store: &Store,
    bundle: &Bundle,
    req: &Request,
    state: &mut ContainerState,
    made: &mut Cleanup,
    lock_fd: std::os::fd::RawFd,
) -> anyhow::Result<Child> {
    let spec = &bundle.spec;
    let ns = bundle::namespaces(spec)?;
    let limits = bundle::limits(spec)?;
    let (parent, leaf) = bundle::cgroup_place(spec, &req.id)?;
    let cgroup_config = CgroupConfig { limits, parent: parent.clone() };
    let placement = cgroup_config.placement(&leaf).map_err(|e| fail(format!("{e:#}")))?;
    let cgroup_v2 = placement.version == Version::V2;
    let device_rules = device_rules(spec);
    // Known before clone(2), so that the child can mount them at /sys/fs/cgroup.
    let mut dirs: Vec<CgroupDir> = Cgroup::planned(&placement).dirs;
    let mut extra = Vec::new();
    if !cgroup_v2 {
        for controller in ["freezer", "devices"] {
            if let Some(c) = v1_own(controller, parent.as_deref(), &leaf) {
                dirs.extend(c.dirs.clone());
                extra.push(c);
            }
        }
    }
    let prepared = super::process::Prepared {
        process: spec.process().clone().expect("checked"),
        seccomp: bundle::seccomp(spec)?,
    };
    // exec.fifo, opened for reading without blocking; the child inherits it and waits on it.
    let fifo = fifo_path(store, &state.id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .with_context(|| format!("mkfifo {}", fifo.display()))?;
    let fifo_fd: OwnedFd = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", fifo.display()))?;
    let console = req.console_socket.as_deref().map(super::console::connect).transpose()?;
    // The PID namespace by path: setns(2) here makes the *next* child a member.
    for (flag, path) in &ns.join {
        if *flag == CloneFlags::CLONE_NEWPID {
            let fd = std::fs::File::open(path)
                .with_context(|| format!("open the PID namespace {}", path.display()))?;
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .with_context(|| format!("setns({})", path.display()))?;
        }
    }
    // ANCHOR: clone
    let creating = ops::state_json(state, "creating", None);
    let (go_rx, go_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (report_rx, report_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let parent_fds = [go_tx.as_raw_fd(), report_rx.as_raw_fd(), lock_fd];
    let channel = Channel { go_rx, report_tx };
    let init_args = Init {
        spec,
        root: &bundle.root,
        new: ns.new,
        join: &ns.join,
        cgroup_dirs: &dirs,
        cgroup_v2,
        prepared: &prepared,
        no_pivot: req.no_pivot,
        console: console.as_ref(),
        fifo: &fifo_fd,
        state_json: &creating,
    };
    let cb = Box::new(|| {
        crate::runtime::record::close_in_child();
        for fd in parent_fds {
            // SAFETY: closing the parent's ends in the child.
            unsafe { libc::close(fd) };
        }
        init::main(&init_args, &channel)
    });
    let pid = crate::namespaces::clone_child(cb, ns.new)
        .map_err(|e| fail(format!("clone({}): {e}", crate::namespaces::flag_names(ns.new))))?;
    let child = Child(pid);
    drop(channel);
    // ANCHOR_END: clone
    // ANCHOR: handshake
    // The host's part while the child waits: its id maps, its cgroup.
    if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
        write_id_maps(spec, pid)?;
    }
    let cgroup = crate::runtime::cgroup::enter(
        &cgroup_config,
        &leaf,
        pid,
        &crate::mechanisms::Mechanisms::library(),
        made,
    )?;
    if cgroup_v2 {
        // v2 has no devices files: the rules become an eBPF program on the container's cgroup.
        crate::cgroups::devices::attach_v2(&cgroup.dirs[0].path, &device_rules)?;
    }
    for c in extra {
        let dir = c.dirs[0].path.clone();
        made.create(Resource::Cgroup { cgroup: c.clone() }, || {
            std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
            Ok(())
        })?;
        if c.dirs[0].controllers[0] == "devices" {
            crate::cgroups::devices::write_v1(&dir, &device_rules)?;
        }
        c.join(pid.as_raw())?;
    }
    nix::unistd::write(&go_tx, b"g")?;
    let mut lines = BufReader::new(std::fs::File::from(report_rx)).lines();
    let mut next = || -> anyhow::Result<String> {
        match lines.next() {
            Some(Ok(line)) => match line.strip_prefix("error ") {
                Some(rest) => {
                    let (code, message) = rest.split_once(' ').unwrap_or(("125", rest));
                    Err(crate::container::ContainerError {
                        exit_code: code.parse().unwrap_or(125),
                        message: message.to_string(),
                    }
                    .into())
                }
                None => Ok(line),
            },
            _ => Err(fail("the container's process died while it was being set up")),
        }
    };
    anyhow::ensure!(next()? == "mounted", "unexpected word from the container's process");
    let mut with_pid = state.clone();
    with_pid.process = ProcessIdentity::of(pid.as_raw());
    let creating = ops::state_json(&with_pid, "creating", None);
    if let Some(h) = spec.hooks() {
        for (kind, hooks) in [("prestart", h.prestart()), ("createRuntime", h.create_runtime())] {
            super::hooks::run(kind, hooks.as_deref().unwrap_or_default(), &creating)?;
        }
    }
    nix::unistd::write(&go_tx, b"h")?;
    anyhow::ensure!(next()? == "ready", "unexpected word from the container's process");
    state.status = Status::Created;
    state.process = ProcessIdentity::of(pid.as_raw());
    if let Some(file) = &req.pid_file {
        crate::runtime::state_dir::write_atomic(file, pid.as_raw().to_string().as_bytes())
            .with_context(|| format!("write the pid file {}", file.display()))?;
    }
    Ok(child)
    // ANCHOR_END: handshake
}

/// uid_map and gid_map of a new user namespace, from config.json's mappings.
fn write_id_maps(spec: &oci_spec::runtime::Spec, pid: Pid) -> anyhow::Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    for (file, maps) in [("uid_map", linux.uid_mappings()), ("gid_map", linux.gid_mappings())] {
        let lines = bundle::id_map_lines(maps.as_deref().unwrap_or_default());
        if lines.is_empty() {
            return Err(fail(format!(
                "linux.namespaces has a new user namespace but linux.{} is empty",
                if file == "uid_map" { "uidMappings" } else { "gidMappings" }
            )));
        }
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &lines).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

/// A v1 controller that stage 06's cgroup does not carry (the freezer for `pause`, the devices
/// controller for `linux.resources.devices`), planned at the same place in its own tree.
fn v1_own(controller: &str, parent: Option<&str>, leaf: &str) -> Option<Cgroup> {
    let host = crate::cgroups::CgroupHost::real();
    let tree = host.v1_hierarchy(controller).ok()?;
    let at = match parent {
        Some(p) => p.to_string(),
        None => host.v1_own_path(controller).unwrap_or_default(),
    };
    let dir = crate::cgroups::detect::join_cgroup_path(&tree, &at).join(leaf);
    // The parents this run will make (top-down), removed with it when nothing else is in them.
    let mut made_parents: Vec<PathBuf> =
        dir.ancestors().skip(1).take_while(|p| !p.exists()).map(Path::to_path_buf).collect();
    made_parents.reverse();
    Some(Cgroup {
        version: Version::V1,
        dirs: vec![CgroupDir { controllers: vec![controller.into()], path: dir }],
        made_parents,
    })
}

/// `linux.resources.devices` as the devices controller's rules, in order; then, as runc does,
/// the devices every container is given and those `linux.devices` lists, allowed: otherwise the
/// container could not even open /dev/null.
fn device_rules(spec: &oci_spec::runtime::Spec) -> Vec<crate::cgroups::devices::Rule> {
    use crate::cgroups::devices::Rule;
    use oci_spec::runtime::LinuxDeviceType;
    let linux = spec.linux().clone().unwrap_or_default();
    let kind = |t: Option<LinuxDeviceType>| match t {
        Some(LinuxDeviceType::C | LinuxDeviceType::U) => Some('c'),
        Some(LinuxDeviceType::B) => Some('b'),
        _ => None,
    };
    let mut rules: Vec<Rule> = linux
        .resources()
        .as_ref()
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
        .iter()
        .map(|r| Rule {
            allow: r.allow(),
            kind: kind(r.typ()),
            major: r.major().filter(|n| *n >= 0),
            minor: r.minor().filter(|n| *n >= 0),
            access: r.access().clone().unwrap_or_else(|| "rwm".into()),
        })
        .collect();
    rules.extend(crate::cgroups::devices::default_allowed());
    for d in linux.devices().iter().flatten() {
        rules.push(Rule {
            allow: true,
            kind: kind(Some(d.typ())),
            major: Some(d.major()),
            minor: Some(d.minor()),
            access: "rwm".into(),
        });
    }
    rules
}
