//! Stage 06 · cgroups: limits the kernel enforces, measured.
//!
//! Run it: `cargo run --bin 06_cgroups`, or `cargo run --bin 06_cgroups -- --memory 32m -- sh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workshop::cgroups::limits::{self, shares_to_weight};
use workshop::cgroups::parse::{self_cgroup, Membership};
use workshop::cgroups::{Cgroup, Controller, Limits, Stats, Version};
use workshop::container::{self, Config, Exit, OnSignal, Running, Stdio};
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::Stage;

/// Stage 06: cgroups, so that the kernel caps what the container may use.
///
/// Without a command, a narrated demo: where the container's cgroup lives and why, the limit files
/// written, a busy loop held to half a CPU, two hogs sharing one CPU 1:2 by weight, an allocator
/// OOM-killed at 32m, a bounded fork bomb stopped at 20 processes, and a direct write throttled
/// to 1 MiB/s; each measured from the cgroup's own counters.
const ABOUT: &str = "Stage 06: cgroups, so that the kernel caps what the container may use.\n\nWithout a command, a narrated demo: where the container's cgroup lives and why, the limit files written, a busy loop held to half a CPU, two hogs sharing one CPU 1:2 by weight, an allocator OOM-killed at 32m, a bounded fork bomb stopped at 20 processes, and a direct write throttled to 1 MiB/s; each measured from the cgroup's own counters.";

/// A shell busy loop: one CPU's worth of demand, forever.
const HOG: &str = "while :; do :; done";
/// Two of them: more demand than half a CPU even on a busy machine, where one loop alone might
/// get less than its quota and never be throttled.
const TWO_HOGS: &str = "while :; do :; done & while :; do :; done";
/// How long each CPU measurement samples the counters: short, but many 100 ms periods long.
const SAMPLE: Duration = Duration::from_millis(500);
/// The I/O step's rate and the size written: 512 KiB at 1 MiB/s is about half a second.
const IO_RATE: &str = "1mb";
const IO_BLOCKS: u32 = 8;

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let n = &mut l.narrator;
    n.banner(
        "06_cgroups · what the container may use",
        "cgroups: the kernel counts and caps CPU, memory, processes and disk I/O per group.",
    );

    n.step("Where the container's cgroup lives, and why there");
    let plan =
        l.config.cgroup.clone().expect("stage 06 always has a cgroup").placement("ws-TAG")?;
    n.syscall(
        "mkdir(\"…/ws-TAG\"); write(\"…/ws-TAG/cgroup.procs\", PID)   before the child is let go",
    );
    // The memory controller's directory, as the plan names it (one of several on v1).
    let memory_dir = plan
        .dirs
        .iter()
        .find(|d| plan.version == Version::V2 || d.controllers.iter().any(|c| c == "memory"))
        .map(|d| d.leaf.display().to_string())
        .unwrap_or_default();
    n.shell(&format!("mkdir {0} && echo $PID > {0}/cgroup.procs", var(&memory_dir)));
    n.note(&format!("This machine: cgroups {}, limits written with {}.", plan.mode, plan.version));
    for line in workshop::narrate::wrap(&plan.reason) {
        n.note(&line);
    }
    let m = run_measured(&l.config, &["cat", "/proc/self/cgroup"], &[])?;
    seen.extend(m.cgroup.paths().iter().map(|p| p.to_path_buf()));
    let host = self_cgroup(&std::fs::read_to_string("/proc/self/cgroup")?);
    let inside = self_cgroup(&m.output);
    let n = &mut l.narrator;
    // One row per controller the stage uses on v1 (each its own tree, in a fixed order, whatever
    // this machine comounts), and the one `0::` row on v2.
    let mut beneath = m.exit.success();
    let rows: &[&str] = match plan.version {
        Version::V1 => &["cpu", "memory", "pids", "blkio"],
        Version::V2 => &[""],
    };
    for ctrl in rows {
        let pick = |ms: &[Membership]| {
            ms.iter()
                .find(|x| match *ctrl {
                    "" => x.hierarchy == 0,
                    c => x.hierarchy != 0 && x.controllers.iter().any(|have| have == c),
                })
                .map(|x| x.path.clone())
        };
        let (Some(stage_path), Some(c)) = (pick(&host), pick(&inside)) else {
            beneath = false;
            continue;
        };
        let label = if ctrl.is_empty() { "0::" } else { ctrl };
        let ours = m.cgroup.dirs.iter().any(|d| d.path.ends_with(c.trim_start_matches('/')));
        let under_stage =
            plan.version == Version::V2 || c.starts_with(stage_path.trim_end_matches('/'));
        beneath &= ours && under_stage;
        n.result(&format!("{label:<8} the stage is in {}", var(&stage_path)));
        n.result(&format!("{:<8} the container is in {}", "", var(&c)));
    }
    n.output(
        "cat /proc/self/cgroup   inside (the memory line)",
        &redacted_line(&m.output, "memory"),
    );
    n.claim(
        beneath,
        "the container's cgroup is the workshop's ws-TAG, placed as the reason above says",
    );
    if plan.version == Version::V2 {
        n.note("cgroup v2 allows processes only in leaves once controllers are handed down (the");
        n.note("no-internal-processes rule): so the container gets a cgroup of its own, never the");
        n.note("stage's, and the stage's own cgroup is used as a parent only when it holds none.");
    }

    n.step("The limit files: Docker's flags become numbers in files");
    let asked = Limits {
        cpus: Some(0.5),
        cpu_shares: Some(512),
        memory: Some(32 << 20),
        pids_limit: Some(20),
        ..Limits::default()
    };
    let files = limits::writes(&asked, plan.version, &|_| true);
    n.shell("06_cgroups --cpus 0.5 --cpu-shares 512 --memory 32m --pids-limit 20 -- CMD   writes:");
    for w in &files.writes {
        n.result(&format!("echo {:<10} > {}", w.value, w.file));
    }
    n.note(&format!(
        "On cgroup v2 --cpu-shares becomes cpu.weight, runc's way: 512 → {}, 1024 → {} (1 + (s − 2) × 9999 / 262142).",
        shares_to_weight(512),
        shares_to_weight(1024)
    ));
    n.note("The everyday equivalent on a systemd machine: systemd-run --scope -p MemoryMax=32M -p CPUQuota=50% CMD");
    n.claim(
        // v1 writes the quota alone (cpu.cfs_quota_us), v2 with its period ("50000 100000").
        files.writes.iter().any(|w| w.value.split_whitespace().next() == Some("50000"))
            && files.writes.iter().any(|w| w.value == (32u64 << 20).to_string()),
        "--cpus 0.5 is 50000 µs per 100000 µs period; --memory 32m is 33554432 bytes",
    );

    n.step("CPU quota: busy loops with no limit, and under --cpus 0.5, at the same time");
    n.syscall(match plan.version {
        Version::V1 => {
            "write(\"cpu.cfs_quota_us\", \"50000\"); write(\"cpu.cfs_period_us\", \"100000\")"
        }
        Version::V2 => "write(\"cpu.max\", \"50000 100000\")",
    });
    n.shell(&format!("06_cgroups --cpus 0.5 -- sh -c '{TWO_HOGS}'"));
    let free = with_limits(&l.config, Limits::default());
    let capped = with_limits(&l.config, Limits { cpus: Some(0.5), ..Limits::default() });
    let rates = sample_cpu(&[&free, &capped], TWO_HOGS, &mut seen)?;
    let ((free_rate, free_throttled), (capped_rate, throttled)) = (rates[0], rates[1]);
    let n = &mut l.narrator;
    n.views_header();
    let per_s = |r: f64| var(format!("{r:.2} CPU-s per s"));
    n.views("usage, no limit", per_s(free_rate), "two loops spinning");
    n.views("usage, --cpus 0.5", per_s(capped_rate), "two loops spinning");
    n.views("throttled, no limit", var(format!("{free_throttled} periods of ~5")), "");
    n.views(
        "throttled, --cpus 0.5",
        var(format!("{throttled} periods of ~5")),
        "it only runs slower",
    );
    n.note(
        "Each container runs two loops that want a CPU each. The capped group gets 50 ms of CPU",
    );
    n.note("per 100 ms period; once spent, the scheduler stops the whole group until the next");
    n.note("period (nr_throttled counts those). The other takes what the machine has free.");
    // A half-second window can hold six 50 ms bursts: 0.6 at most, plus the timer's slack.
    n.claim(
        (0.2..=0.7).contains(&capped_rate) && throttled > 0,
        "the capped group used at most about 0.5 CPU-seconds per second, and was throttled",
    );

    n.step("CPU weight: two hogs on one CPU, --cpu-shares 512 against 1024");
    n.syscall(match plan.version {
        Version::V1 => "write(\"cpu.shares\", \"512\"); write(\"cpuset.cpus\", \"0\")",
        Version::V2 => "write(\"cpu.weight\", \"20\"); write(\"cpuset.cpus\", \"0\")",
    });
    n.shell(&format!("06_cgroups --cpuset-cpus 0 --cpu-shares 512 -- sh -c '{HOG}'   (and 1024)"));
    let pin = |shares| Limits {
        cpu_shares: Some(shares),
        cpuset_cpus: Some("0".into()),
        ..Limits::default()
    };
    let light = with_limits(&l.config, pin(512));
    let heavy = with_limits(&l.config, pin(1024));
    let rates = sample_cpu(&[&light, &heavy], HOG, &mut seen)?;
    let ratio = rates[0].0 / rates[1].0.max(0.001);
    let n = &mut l.narrator;
    n.views_header();
    let per_s = |r: f64| var(format!("{r:.2} CPU-s per s"));
    n.views("usage, shares 1024", per_s(rates[1].0), "one loop on CPU 0");
    n.views("usage, shares 512", per_s(rates[0].0), "one loop on CPU 0");
    n.result(&format!("512 got {} of what 1024 got", var(format!("{ratio:.2}"))));
    n.note("A weight is not a cap: alone, either hog would get the whole CPU. Only when they");
    n.note("compete does the scheduler divide it in proportion, 512 : 1024 = 1 : 2.");
    n.claim((0.3..=0.8).contains(&ratio), "under contention the weights split the CPU about 1 : 2");

    n.step("Memory: an allocator under --memory 32m is killed by the kernel");
    n.syscall(match plan.version {
        Version::V1 => "write(\"memory.limit_in_bytes\", \"33554432\")",
        Version::V2 => "write(\"memory.max\", \"33554432\")",
    });
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    n.shell(&format!("06_cgroups --memory 32m -- {}", dd.join(" ")));
    let mem = with_limits(&l.config, Limits { memory: Some(32 << 20), ..Limits::default() });
    let limit_file =
        if plan.version == Version::V1 { "memory.limit_in_bytes" } else { "memory.max" };
    let m = run_measured(&mem, &dd, &[limit_file])?;
    seen.extend(m.cgroup.paths().iter().map(|p| p.to_path_buf()));
    let oom = m.stats.oom_kill.unwrap_or(0);
    let n = &mut l.narrator;
    n.views_header();
    n.views("exit", m.exit.to_string(), "dd wanted a 64 MiB buffer");
    n.views(limit_file, m.files.get(limit_file).map(|s| s.trim()).unwrap_or("?"), "");
    n.views("oom_kill counter", oom, "");
    // v1 memory.failcnt, v2 memory.events `max`: how often a charge hit the limit first.
    n.views("limit hit (failcnt)", var(m.stats.memory_failcnt.unwrap_or(0)), "");
    n.claim(
        m.exit == Exit::Signal(nix::sys::signal::Signal::SIGKILL),
        "dd was killed with SIGKILL: status 137",
    );
    n.claim(oom == 1, "the cgroup's own counter says its OOM killer killed one process");
    n.note("The stage did not kill it. As dd touched its buffer, each new page was charged to the");
    n.note(
        "cgroup; past 32m the kernel reclaimed what it could, found nothing, and its OOM killer",
    );
    n.note("chose a victim inside the group that was over its limit, not anywhere on the host.");
    if let Some(swap) =
        limits::swap_meaning(&mem.cgroup.as_ref().expect("a cgroup").limits, limits::machine_swap())
    {
        n.note(&format!("Swap: {}.", var(swap)));
    }

    n.step("pids: a bounded fork bomb under --pids-limit 20");
    n.syscall("write(\"pids.max\", \"20\"); fork() inside → EAGAIN");
    let bomb = "i=0; while [ $i -lt 30 ]; do sleep 10 & i=$((i+1)); done; echo all 30 started";
    n.shell(&format!("06_cgroups --pids-limit 20 -- sh -c '{bomb}'"));
    let pids = with_limits(&l.config, Limits { pids_limit: Some(20), ..Limits::default() });
    let m = run_measured(&pids, &["sh", "-c", bomb], &["pids.max"])?;
    seen.extend(m.cgroup.paths().iter().map(|p| p.to_path_buf()));
    let refused = m.stats.pids_max_events.unwrap_or(0);
    let complaint =
        m.output.lines().find(|l| l.contains("fork")).unwrap_or("(nothing)").to_string();
    let n = &mut l.narrator;
    // busybox sh says "can't fork: Resource temporarily unavailable", dash "Cannot fork": the
    // shell's own words, shown as a value.
    n.output("inside the container", &var(&complaint));
    n.views_header();
    n.views("pids.max", m.files.get("pids.max").map(|s| s.trim()).unwrap_or("?"), "");
    n.views("forks refused (events)", var(refused), "");
    n.claim(
        workshop::facts::fork_refused(&complaint) && !m.output.contains("all 30"),
        "inside, the fork past 20 processes failed: Resource temporarily unavailable (EAGAIN)",
    );
    n.claim(refused > 0, "outside, pids.events counts the refused forks");
    n.note("The loop stops at 30 so that it cannot hurt this machine even if the limit failed.");

    n.step("Disk I/O: a direct write under --device-write-bps");
    io_step(l, &plan, &mut seen)?;

    everything_removed(l, &seen, &memory_dir);
    Ok(())
}
// ANCHOR_END: demo

/// The last step: every cgroup the demo made is gone.
fn everything_removed(l: &mut Lesson, seen: &[PathBuf], memory_dir: &str) {
    let n = &mut l.narrator;
    n.step("Everything removed");
    n.syscall("kill(every PID in cgroup.procs, SIGKILL); rmdir(\"…/ws-TAG\")   retrying EBUSY");
    n.shell(&format!("rmdir {}   (once its processes are gone)", var(memory_dir)));
    let left: Vec<&PathBuf> = seen.iter().filter(|p| p.exists()).collect();
    n.views_header();
    n.views("cgroup dirs it made", var(seen.len()), "");
    n.views("still there", left.len(), "");
    n.claim(!seen.is_empty() && left.is_empty(), "every cgroup the demo made was removed");
}

/// A copy of the stage's container with other limits.
fn with_limits(config: &Config, limits: Limits) -> Config {
    let mut c = config.clone();
    if let Some(cg) = c.cgroup.as_mut() {
        cg.limits = limits;
    }
    c
}

/// What a finished container left in its cgroup: output, status, counters and some files' text.
struct Measured {
    output: String,
    exit: Exit,
    cgroup: Cgroup,
    stats: Stats,
    files: BTreeMap<String, String>,
    /// From letting the container go to its end, as the host's clock sees it.
    elapsed: Duration,
}

/// Runs `argv` to the end and reads the cgroup's counters and `read` files before it is removed.
fn run_measured(config: &Config, argv: &[&str], read: &[&str]) -> anyhow::Result<Measured> {
    workshop::signals::check_interrupted()?;
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let mut running = container::spawn(config, &argv, Stdio::Capture)?;
    let started = Instant::now();
    running.release()?;
    let output = running.read_output();
    let exit = running.wait(OnSignal::StopRun)?;
    let elapsed = started.elapsed();
    let cgroup = running.cgroup.clone().expect("stage 06 gives every container a cgroup");
    let files = read.iter().map(|f| (f.to_string(), cgroup.read(f).unwrap_or_default())).collect();
    Ok(Measured { output, exit, stats: cgroup.stats(), cgroup, files, elapsed })
}

/// Runs a busy loop in a container of each config at once and returns, for each, the CPU-seconds
/// per second its cgroup used over [`SAMPLE`] and how many periods it was throttled.
fn sample_cpu(
    configs: &[&Config],
    hog: &str,
    seen: &mut Vec<PathBuf>,
) -> anyhow::Result<Vec<(f64, u64)>> {
    workshop::signals::check_interrupted()?;
    let argv: Vec<String> = ["sh", "-c", hog].iter().map(|s| s.to_string()).collect();
    let mut hogs: Vec<Running> = Vec::new();
    for c in configs {
        let mut r = container::spawn(c, &argv, Stdio::Capture)?;
        r.release()?;
        hogs.push(r);
    }
    let read = |hogs: &[Running]| -> Vec<Stats> {
        hogs.iter().map(|h| h.cgroup.as_ref().map(|c| c.stats()).unwrap_or_default()).collect()
    };
    // A moment for both to be running before the window opens.
    std::thread::sleep(Duration::from_millis(100));
    let (t0, s0) = (Instant::now(), read(&hogs));
    std::thread::sleep(SAMPLE);
    let (wall, s1) = (t0.elapsed().as_secs_f64(), read(&hogs));
    for h in &hogs {
        seen.extend(h.cgroup.iter().flat_map(|c| c.paths()).map(Path::to_path_buf));
    }
    drop(hogs);
    Ok(s0
        .iter()
        .zip(&s1)
        .map(|(a, b)| {
            let used = b.cpu_usage_usec.unwrap_or(0).saturating_sub(a.cpu_usage_usec.unwrap_or(0));
            let throttled = b.nr_throttled.unwrap_or(0).saturating_sub(a.nr_throttled.unwrap_or(0));
            (used as f64 / 1e6 / wall, throttled)
        })
        .collect())
}

/// The I/O step: the root filesystem's disk, throttled, and a direct write measured against it.
fn io_step(
    l: &mut Lesson,
    plan: &workshop::cgroups::Placement,
    seen: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let root = l.config.rootfs.clone().unwrap_or_default();
    let io = plan.controller(Controller::Io).filter(|c| c.usable).map(|_| ());
    let disk = io
        .ok_or_else(|| "the io (blkio) controller is not usable here".to_string())
        .and_then(|()| disk_of(&root));
    let n = &mut l.narrator;
    let device = match disk {
        Ok(d) => d,
        Err(why) => {
            n.note(&format!("Skipped: {}.", var(why)));
            n.note("On a machine with a disk under the root filesystem, this step throttles it.");
            return Ok(());
        }
    };
    let rate = limits::parse_device_rate(&format!("{}:{IO_RATE}", device.display()))
        .map_err(anyhow::Error::msg)?;
    n.syscall(match plan.version {
        Version::V1 => "write(\"blkio.throttle.write_bps_device\", \"MAJ:MIN 1048576\")",
        Version::V2 => "write(\"io.max\", \"MAJ:MIN wbps=1048576\")",
    });
    let probe = format!("/tmp/ws-io-probe-{}", std::process::id());
    let script = format!(
        "dd if=/dev/zero of={probe} bs=64k count={IO_BLOCKS} oflag=direct 2>&1; rm -f {probe}"
    );
    n.shell(&format!("06_cgroups --device-write-bps {}:{IO_RATE} -- dd if=/dev/zero of=/tmp/probe bs=64k count={IO_BLOCKS} oflag=direct", var(device.display())));
    let free = run_measured(&l.config, &["sh", "-c", &script], &[])?;
    let throttled = with_limits(
        &l.config,
        Limits {
            device_write_bps: vec![rate.clone()],
            blkio_weight: Some(500),
            ..Limits::default()
        },
    );
    let (file, weights) = match plan.version {
        Version::V1 => ("blkio.throttle.write_bps_device", ["blkio.weight", "blkio.bfq.weight"]),
        Version::V2 => ("io.max", ["io.weight", "io.bfq.weight"]),
    };
    let m = run_measured(&throttled, &["sh", "-c", &script], &[&[file][..], &weights].concat())?;
    seen.extend(free.cgroup.paths().iter().chain(m.cgroup.paths().iter()).map(|p| p.to_path_buf()));
    let bytes = f64::from(IO_BLOCKS) * 65536.0;
    // Timed by the host: busybox's dd prints no duration (coreutils' does), and the container's
    // start and end are milliseconds against the half second the throttle makes it take.
    let (free_s, capped_s) = (Some(free.elapsed.as_secs_f64()), Some(m.elapsed.as_secs_f64()));
    let mib_s = |s: Option<f64>| s.map(|s| bytes / s / f64::from(1 << 20));
    let n = &mut l.narrator;
    let took = |t: Option<f64>| var(format!("512 KiB in {:.2} s", t.unwrap_or(0.0)));
    n.views_header();
    n.views("no limit", "(no rule)", took(free_s));
    n.views(
        "--device-write-bps 1mb",
        var(m.files.get(file).map(|s| s.trim()).unwrap_or("?")),
        took(capped_s),
    );
    n.result(&format!(
        "measured: {} MiB/s against the 1 MiB/s allowed",
        var(format!("{:.2}", mib_s(capped_s).unwrap_or(0.0)))
    ));
    n.note(
        "O_DIRECT skips the page cache, so each write is a request to the disk at once, and the",
    );
    n.note(
        "throttle holds it back. A buffered write would land in memory first and be written back",
    );
    n.note("later by the kernel, on v1 outside the container's group.");
    n.note(
        "--blkio-weight 500 was set too: a share of the disk (10–1000), the disk's --cpu-shares,",
    );
    n.note("used only when containers compete for it, and only by a scheduler with weights (BFQ).");
    let weight = weights
        .iter()
        .find_map(|f| m.files.get(*f).filter(|v| !v.trim().is_empty()).map(|v| (f, v.trim())));
    let scheduler = device
        .file_name()
        .and_then(|d| {
            std::fs::read_to_string(format!("/sys/block/{}/queue/scheduler", d.to_string_lossy()))
                .ok()
        })
        .and_then(|s| {
            s.split_whitespace()
                .find(|w| w.starts_with('['))
                .map(|w| w.trim_matches(['[', ']']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    match weight {
        Some((f, v)) => n.result(&format!(
            "{}, and this disk's scheduler is {}",
            var(format!("{f} ← {v}")),
            var(&scheduler)
        )),
        None => n.result(&format!(
            "no weight file here: no scheduler with weights; this disk's is {}",
            var(&scheduler)
        )),
    }
    n.claim(
        free.exit.success()
            && m.exit.success()
            && mib_s(capped_s).is_some_and(|r| (0.5..=1.5).contains(&r)),
        "the direct write ran at about the 1 MiB/s the cgroup allows",
    );
    Ok(())
}

/// The wall time busybox's `time` reports for the write: "real\t0m 0.51s".
/// The whole disk (`/dev/vda`, not a partition) under `dir`, from its st_dev and /sys/dev/block.
fn disk_of(dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).map_err(|_| {
        format!("the root filesystem is on device {major}:{minor}, which is no block device (tmpfs or overlay)")
    })?;
    // A partition's directory sits inside its disk's, and the throttle takes the whole disk.
    let disk = if sys.join("partition").exists() { sys.parent().unwrap_or(&sys) } else { &sys };
    let name = disk.file_name().ok_or("no disk name")?.to_string_lossy().into_owned();
    let node = PathBuf::from(format!("/dev/{name}"));
    if node.exists() {
        Ok(node)
    } else {
        Err(format!("the root filesystem's disk {name} has no /dev/{name}"))
    }
}

/// The `memory` line of /proc/self/cgroup (the `0::` line on v2), its id and path marked as
/// values.
fn redacted_line(text: &str, controller: &str) -> String {
    let has = |l: &&str| l.split(':').nth(1).is_some_and(|c| c.split(',').any(|x| x == controller));
    let line = text.lines().find(has).or_else(|| text.lines().find(|l| l.starts_with("0::")));
    line.and_then(|l| {
        let (id, rest) = l.split_once(':')?;
        let (controllers, path) = rest.split_once(':')?;
        Some(format!("{}:{controllers}:{}", var(id), var(path)))
    })
    .unwrap_or_else(|| "(no such line)".to_string())
}

fn main() -> ExitCode {
    lesson::main(Stage::Cgroups, ABOUT, demo)
}
