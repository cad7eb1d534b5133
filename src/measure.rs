//! Measuring a container on this machine, for the course notes' "container vs VM" table: how long
//! one takes to start and how much memory it costs, measured rather than quoted.

use crate::container::{self, Config, OnSignal, Stdio};
use crate::stage::Stage;
use std::time::{Duration, Instant};

/// Start-to-exit times of `runs` containers (stage 03: PID, mount, UTS, IPC namespaces and pivot_root)
/// running `true`.
pub fn start_times(runs: usize) -> anyhow::Result<Vec<Duration>> {
    let config = Config::for_stage(Stage::Rootfs)
        .with_rootfs(crate::image::ensure(None)?)
        .with_hostname("measure".into());
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut c = container::spawn(&config, &["true".into()], Stdio::Capture)?;
        c.release()?;
        c.read_output();
        c.wait(OnSignal::StopRun)?;
        times.push(start.elapsed());
    }
    Ok(times)
}

/// The memory a container's process uses: the resident set of `sleep` inside, in KiB.
pub fn container_rss_kib() -> anyhow::Result<u64> {
    let config = Config::for_stage(Stage::Rootfs)
        .with_rootfs(crate::image::ensure(None)?)
        .with_hostname("measure".into());
    let mut c = container::spawn(&config, &["sleep".into(), "60".into()], Stdio::Capture)?;
    c.release()?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Ok(rss)
}

pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Prints the measurement.
pub fn report(runs: usize) -> anyhow::Result<()> {
    crate::doctor::preflight(Stage::Rootfs, false)?;
    let mut times = start_times(runs.max(1))?;
    let med = median(&mut times);
    let rss = container_rss_kib()?;
    let mem_total_kib: u64 = std::fs::read_to_string("/proc/meminfo")?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!("A container on this machine (stage 03: 4 namespaces + pivot_root), {runs} runs:");
    println!(
        "  start to exit of `true`   median {:.2} ms, fastest {:.2} ms",
        ms(med),
        ms(times[0])
    );
    println!("  memory of `sleep` inside  {rss} KiB resident");
    println!("  kernel                    the host's own (nothing to boot)");
    println!();
    println!("A virtual machine boots a kernel and an init system of its own, and reserves its memory up front:");
    println!("  this host has {} MiB; a VM typically takes a slice of that in GiB before running anything.", mem_total_kib / 1024);
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
