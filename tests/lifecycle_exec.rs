//! Stage 09's `exec`, ahead of its verbs: a new process joins a running stage 08 container by
//! setns(2) into each of its namespaces, checked from outside: the namespace inodes the new
//! process reports are those the host reads for the container's PID 1, it sees the container's
//! processes and files, it holds the container's capabilities, and a command that cannot start
//! is 127 as `docker exec` says it.
mod common;

use std::io::Read;
use std::os::fd::AsFd;
use workshop::container::{ContainerError, Exit, CONTAINER_PATH};
use workshop::facts::Live;
use workshop::lifecycle::exec::{self, Target};
use workshop::lifecycle::state::ProcessIdentity;

stage_binary!("08_security");

/// Runs `argv` in the container of `live` and returns how it ended and what it printed.
fn exec_in(
    live: &Live,
    security: Option<&workshop::security::SecurityConfig>,
    argv: &[&str],
) -> (anyhow::Result<Exit>, String) {
    let process = ProcessIdentity::of(live.container_pid as i32).expect("the container runs");
    let target = Target {
        process,
        cgroup: None,
        security,
        apparmor_profile: None,
        env: vec![format!("PATH={CONTAINER_PATH}")],
        join: None,
    };
    let (rx, tx) = nix::unistd::pipe().unwrap();
    let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    let exit = exec::run(&target, &argv, Some(tx.as_fd()));
    drop(tx);
    let mut out = String::new();
    std::fs::File::from(rx).read_to_string(&mut out).unwrap();
    (exit, out)
}

#[test]
fn exec_joins_each_namespace_of_the_running_container() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let live = Live::start(bin(), &[]).unwrap();
        let kinds = ["user", "mnt", "uts", "ipc", "net", "pid"];
        let script = format!(
            "for k in {}; do readlink /proc/self/ns/$k; done; cat /proc/1/comm; grep CapEff /proc/self/status",
            kinds.join(" ")
        );
        let security =
            workshop::security::SecurityArgs::default().resolve(std::path::Path::new("/")).unwrap();
        let (exit, out) = exec_in(&live, Some(&security), &["sh", "-c", &script]);
        assert_eq!(exit.unwrap(), Exit::Code(0), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        for (i, kind) in kinds.iter().enumerate() {
            let host_sees = format!("{kind}:[{}]", live.ns(kind).unwrap());
            assert_eq!(lines.get(i).copied(), Some(host_sees.as_str()), "{out}");
            let ours = workshop::probes::ns_inode(None, kind).unwrap();
            assert_ne!(live.ns(kind).unwrap(), ours, "the container shares the {kind} namespace");
        }
        // PID 1 in its PID namespace is the container's `sleep`: the container's own /proc.
        assert_eq!(lines.get(kinds.len()).copied(), Some("sleep"), "{out}");
        // Docker's 14 capabilities, as PID 1 has them.
        let pid1 = std::fs::read_to_string(format!("/proc/{}/status", live.container_pid)).unwrap();
        let cap_eff = pid1.lines().find(|l| l.starts_with("CapEff:")).unwrap();
        assert_eq!(lines.get(kinds.len() + 1).copied(), Some(cap_eff), "{out}");
        drop(live);
    });
}

#[test]
fn exec_of_a_missing_command_is_127_and_of_a_stopped_container_one_line() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let live = Live::start(bin(), &[]).unwrap();
        let (exit, _) = exec_in(&live, None, &["no-such-command"]);
        let e = exit.unwrap_err();
        let code = e.downcast_ref::<ContainerError>().map(|c| c.exit_code);
        assert_eq!(code, Some(127), "{e:#}");
        assert!(format!("{e}").contains("no-such-command: command not found"), "{e:#}");
        let (exit, _) = exec_in(&live, None, &["sh", "-c", "exit 3"]);
        assert_eq!(exit.unwrap(), Exit::Code(3));
        let process = ProcessIdentity::of(live.container_pid as i32).unwrap();
        drop(live);
        let gone = Target {
            process,
            cgroup: None,
            security: None,
            apparmor_profile: None,
            env: vec![],
            join: None,
        };
        let e = exec::run(&gone, &["true".to_string()], None).unwrap_err();
        assert!(format!("{e}").contains("is not running"), "{e:#}");
    });
}
