//! Stage 06: cgroups, checked from outside: the limit files of the running container's cgroup,
//! the OOM kill, the CPU quota measured, the refused fork, and nothing left afterwards.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};
use workshop::cgroups::{CgroupHost, Version};
use workshop::facts::{self, Live};

stage_binary!("06_cgroups");

fn version() -> Version {
    CgroupHost::real().mode().version().expect("this machine mounts cgroups")
}

/// The demo's files differ by cgroup version (memory.limit_in_bytes against memory.max): this
/// machine's version is compared with its own snapshot. The book shows the v1 one.
#[test]
fn demo_output_is_as_recorded() {
    let Some(_s) = common::root_and_serial() else { return };
    let output = common::leaves_host_as_found(|| common::demo_output(bin()));
    match version() {
        Version::V1 => insta::assert_snapshot!("demo", output),
        Version::V2 => insta::assert_snapshot!("demo_v2", output),
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

#[test]
fn the_limit_files_hold_the_flags_values_while_it_runs() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let args =
            ["--memory", "32m", "--pids-limit", "20", "--cpus", "0.5", "--cpu-shares", "512"];
        let live = Live::start(bin(), &args).unwrap();
        let pid = live.container_pid;
        let memory = facts::cgroup_dir_of(pid, "memory").unwrap();
        let pids = facts::cgroup_dir_of(pid, "pids").unwrap();
        let cpu = facts::cgroup_dir_of(pid, "cpu").unwrap();
        assert_eq!(read(&pids, "pids.max"), "20");
        match version() {
            Version::V1 => {
                assert_eq!(read(&memory, "memory.limit_in_bytes"), "33554432");
                assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
                assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
                assert_eq!(read(&cpu, "cpu.shares"), "512");
            }
            Version::V2 => {
                assert_eq!(read(&memory, "memory.max"), "33554432");
                assert_eq!(read(&cpu, "cpu.max"), "50000 100000");
                // runc's conversion: 512 shares → weight 20.
                assert_eq!(read(&cpu, "cpu.weight"), "20");
            }
        }
        // The container's process is in that cgroup, and so is nothing else.
        assert_eq!(read(&memory, "cgroup.procs"), pid.to_string());
    });
}

#[test]
fn an_allocator_past_the_memory_limit_is_oom_killed_137() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| facts::oom_kill_inside_the_cgroup(bin()).unwrap());
}

/// CPU-seconds per second the cgroup of `pid` used over `window`, and the throttled periods.
fn cpu_rate(pid: u32, window: Duration) -> (f64, u64) {
    let dir = facts::cgroup_dir_of(pid, "cpu").unwrap();
    let acct = facts::cgroup_dir_of(pid, "cpuacct").ok();
    let sample = || {
        let stat = read(&dir, "cpu.stat");
        let key = |k: &str| workshop::cgroups::parse::keyed(&stat, k);
        let used_usec = match &acct {
            Some(a) if version() == Version::V1 => {
                read(a, "cpuacct.usage").parse::<u64>().unwrap() / 1000
            }
            _ => key("usage_usec").unwrap(),
        };
        (Instant::now(), used_usec, key("nr_throttled").unwrap_or(0))
    };
    let (t0, u0, n0) = sample();
    std::thread::sleep(window);
    let (t1, u1, n1) = sample();
    ((u1 - u0) as f64 / 1e6 / (t1 - t0).as_secs_f64(), n1 - n0)
}

/// Two busy loops want two CPUs; under --cpus 0.5 the cgroup's own counter must show about half a
/// CPU-second per second, and throttled periods. A ratio within one run, so a busy machine (which
/// can only lower it) does not break it; the lower bound only asks that the loops ran at all.
#[test]
fn cpus_half_holds_two_busy_loops_to_half_a_cpu() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let script = "while :; do :; done & while :; do :; done & exec sleep 30";
        let live = Live::start_command(bin(), &["--cpus", "0.5"], &["sh", "-c", script]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let (rate, throttled) = cpu_rate(live.container_pid, Duration::from_secs(1));
        assert!((0.15..=0.6).contains(&rate), "--cpus 0.5 used {rate:.2} CPU-s per second");
        assert!(throttled >= 3, "only {throttled} of ~10 periods were throttled");
    });
}

#[test]
fn the_pids_limit_refuses_a_fork() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| facts::pids_limit_refuses_fork(bin()).unwrap());
}

#[test]
fn the_cgroup_is_gone_afterwards_and_the_tree_as_before() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| facts::cgroup_removed_after(bin()).unwrap());
    // A container that ends by itself, and one killed from the host, leave nothing either.
    common::leaves_host_as_found(|| {
        assert_eq!(facts::run(bin(), &["--memory", "32m", "--", "true"]).status, 0);
        let live = Live::start(bin(), &["--pids-limit", "20"]).unwrap();
        assert_eq!(live.kill_container(libc::SIGKILL), 137);
    });
}

#[test]
fn a_cgroup_parent_is_used_and_removed_when_the_workshop_made_it() {
    let Some(_s) = common::root_and_serial() else { return };
    let parent = format!("ws-parent-{}", std::process::id());
    common::leaves_host_as_found(|| {
        let out =
            facts::run(bin(), &["--cgroup-parent", &parent, "--", "cat", "/proc/self/cgroup"]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let memory_line = out
            .stdout
            .lines()
            .find(|l| l.contains(":memory:") || l.starts_with("0::"))
            .unwrap_or_else(|| panic!("no memory line: {}", out.stdout));
        assert!(
            memory_line.contains(&format!(":/{parent}/ws-")),
            "not beneath --cgroup-parent: {memory_line}"
        );
    });
    let root = CgroupHost::real().root;
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|tree| tree.path().join(&parent).exists())
        .map(|tree| tree.path())
        .collect();
    assert!(left.is_empty(), "--cgroup-parent {parent} was left in {left:?}");
}

/// Bad values: one line naming the value and the valid form, exit 125, nothing created.
#[test]
fn bad_limits_are_one_line_and_leave_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    let rows: &[(&[&str], &[&str])] = &[
        (&["--memory", "12q"], &["12q", "512m"]),
        (&["--cpus", "0"], &["--cpus", "0.01"]),
        (&["--cpus", "1000"], &["--cpus", "1000"]),
        (&["--memory", "1k"], &["1k", "6m"]),
        (&["--device-read-bps", "/dev/null:1mb"], &["/dev/null", "not a block device"]),
        (&["--blkio-weight", "5"], &["--blkio-weight", "10 to 1000"]),
        (&["--cgroup-parent", "../x"], &["--cgroup-parent", "../x"]),
    ];
    for (args, words) in rows {
        common::leaves_host_as_found(|| {
            let mut all = args.to_vec();
            all.extend(["--", "true"]);
            let out = facts::run(bin(), &all);
            common::assert_one_clear_line(&out, 125, words);
        });
    }
}

#[test]
fn the_earlier_stages_still_hold() {
    let Some(_s) = common::root_and_serial() else { return };
    common::every_check_holds(workshop::Stage::Cgroups, bin());
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
