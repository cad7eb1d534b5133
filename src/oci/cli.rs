//! The command line an engine calls, runc's: global flags first, then the operation.
//!
//! `workshop-runc [--root DIR] [--log FILE] [--log-format text|json] create --bundle DIR
//! --pid-file FILE [--console-socket SOCK] ID`, then `start ID`, `state ID`, `kill ID 15`,
//! `delete --force ID`, … (see `workshop-runc --help`).

use super::log::Format;
use crate::lifecycle::state::Store;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// An OCI runtime built from the workshop's stages: what podman calls instead of runc.
#[derive(Parser, Debug)]
#[command(name = "workshop-runc", version, after_help = AFTER)]
pub struct Args {
    /// Where containers' state is kept [default: /run/workshop/oci].
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Where errors are written for the engine.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: Format,
    /// Accepted for engines that always pass it; nothing more is logged.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups: not supported (refused with a clear error).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted as runc does: true only as root here ("auto" and "false" are fine).
    #[arg(long, global = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub op: Op,
}

const AFTER: &str = "With podman: podman --runtime $PWD/target/debug/workshop-runc \
--cgroup-manager cgroupfs run --rm IMAGE echo hi (as root). The book's chapter 10 follows one \
such run call by call.";

#[derive(Subcommand, Debug)]
pub enum Op {
    /// Make the container, its process waiting before the user's program (status "created").
    Create {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// chroot instead of pivot_root (for a root on a ramdisk).
        #[arg(long)]
        no_pivot: bool,
        /// runc's: accepted, nothing to do (the runtime makes no new keyring).
        #[arg(long)]
        no_new_keyring: bool,
        /// runc's: extra descriptors to pass on; only 0 is supported.
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
        id: String,
    },
    /// Run the user's program in a created container.
    Start { id: String },
    /// The container's state as JSON: ociVersion, id, status, pid, bundle, annotations.
    State { id: String },
    /// Send a signal (default TERM) to the container's first process, or with --all to all.
    Kill {
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Remove a stopped container (or, with --force, any).
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// Run a new process in a running container.
    Exec {
        #[arg(long, short = 'p')]
        process: Option<PathBuf>,
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long, short = 't')]
        tty: bool,
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(long, short = 'e')]
        env: Vec<String>,
        #[arg(long, short = 'u')]
        user: Option<String>,
        /// runc's: only 0 is supported.
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Freeze every process of the container (cgroup freezer).
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// The container's processes.
    Ps {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// What this runtime implements (JSON, features.md).
    Features,
    /// Every container in --root, one line each.
    List,
    /// Write a starting config.json into the bundle directory (as `runc spec` does).
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        /// The root filesystem, relative to the bundle or absolute.
        #[arg(long, default_value = "rootfs")]
        rootfs: String,
        /// The process's arguments [default: sh].
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Runs the command line; the exit code to return.
pub fn main(args: Args) -> anyhow::Result<i32> {
    super::log::init(args.log.clone(), args.log_format);
    if args.systemd_cgroup {
        return Err(super::fail(
            "--systemd-cgroup is not supported: this runtime writes cgroupfs itself; run the engine \
             with its cgroupfs manager (podman --cgroup-manager cgroupfs)",
        ));
    }
    if args.rootless.as_deref() == Some("true") || !nix::unistd::geteuid().is_root() {
        return Err(super::fail(
            "workshop-runc runs containers as root only: run it (and the engine) with sudo",
        ));
    }
    if let Op::Spec { bundle, rootfs, args } = &args.op {
        let argv = if args.is_empty() { vec!["sh".to_string()] } else { args.clone() };
        let file = bundle.join("config.json");
        if file.exists() {
            return Err(super::fail(format!("{} exists already: remove it first", file.display())));
        }
        let text = serde_json::to_string_pretty(&super::spec::default_spec(rootfs, &argv))?;
        std::fs::write(&file, text + "\n").with_context(|| format!("write {}", file.display()))?;
        return Ok(0);
    }
    let root = args.root.clone().unwrap_or_else(super::default_root);
    let store = Store::at(&root);
    match args.op {
        Op::Create { bundle, pid_file, console_socket, no_pivot, preserve_fds, id, .. } => {
            if preserve_fds != 0 {
                return Err(super::fail("--preserve-fds is not supported (only 0)"));
            }
            let req = super::create::Request { id, bundle, pid_file, console_socket, no_pivot };
            super::create::create(&store, &req)?;
        }
        Op::Start { id } => super::ops::start(&store, &id)?,
        Op::State { id } => println!("{}", super::ops::state(&store, &id)?),
        Op::Kill { all, id, signal } => {
            super::ops::kill(&store, &id, super::ops::parse_signal(&signal)?, all)?
        }
        Op::Delete { force, id } => super::ops::delete(&store, &id, force)?,
        Op::Exec {
            process,
            detach,
            pid_file,
            console_socket,
            tty,
            cwd,
            env,
            user,
            preserve_fds,
            id,
            command,
        } => {
            if preserve_fds != 0 {
                return Err(super::fail("--preserve-fds is not supported (only 0)"));
            }
            let req = super::exec::Request {
                id,
                process_file: process,
                detach,
                pid_file,
                console_socket,
                tty,
                cwd,
                env,
                user,
                args: command,
            };
            return super::exec::exec(&store, &req);
        }
        Op::Pause { id } => super::ops::pause(&store, &id, true)?,
        Op::Resume { id } => super::ops::pause(&store, &id, false)?,
        Op::Ps { format, id, ps_args } => {
            print!("{}", super::ops::ps(&store, &id, format == "json", &ps_args)?)
        }
        Op::Features => println!("{}", super::ops::features()),
        Op::Spec { .. } => unreachable!("handled above"),
        Op::List => {
            println!("{:<40} {:<8} {:<8} BUNDLE", "ID", "PID", "STATUS");
            for c in store.list()?.containers.iter().filter(|c| c.oci.is_some()) {
                let (word, pid) = super::ops::status(c);
                let oci = c.oci.as_ref().expect("filtered");
                let pid = pid.map(|p| p.to_string()).unwrap_or_else(|| "0".into());
                println!("{:<40} {:<8} {:<8} {}", oci.id, pid, word, oci.bundle.display());
            }
        }
    }
    Ok(0)
}
