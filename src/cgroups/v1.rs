//! cgroup v1: one tree per controller, and the files each limit is written to.
//!
//! | flag | file | value |
//! |---|---|---|
//! | `--cpus 0.5` | `cpu.cfs_period_us`, `cpu.cfs_quota_us` | `100000`, `50000` (µs of CPU per period) |
//! | `--cpu-shares 512` | `cpu.shares` | `512` |
//! | `--cpuset-cpus 0` | `cpuset.cpus` | `0` (and `cpuset.mems`, copied from the parent at creation: v1 refuses to take a process into a cpuset cgroup with either empty) |
//! | `--memory 32m` | `memory.limit_in_bytes` | `33554432` |
//! | `--memory-swap` | `memory.memsw.limit_in_bytes` | memory + swap (only when the kernel accounts swap) |
//! | `--memory-reservation` | `memory.soft_limit_in_bytes` | bytes |
//! | `--pids-limit 20` | `pids.max` | `20` |
//! | `--device-read-bps` | `blkio.throttle.read_bps_device` | `MAJ:MIN BYTES` |
//! | `--device-write-bps` | `blkio.throttle.write_bps_device` | `MAJ:MIN BYTES` |
//! | `--blkio-weight 500` | `blkio.weight` (or `blkio.bfq.weight` under the BFQ scheduler) | `500` |
//!
//! What happened is read back from `cpuacct.usage` (ns of CPU used), `cpu.stat` (`nr_throttled`:
//! periods in which the quota ran out), `memory.oom_control` (`oom_kill`) and `memory.failcnt`
//! (times the limit was hit), `memory.usage_in_bytes` / `memory.max_usage_in_bytes`, `pids.current`
//! and `pids.events` (`max`: forks refused).

use super::cgroup::Stats;
use super::limits::{LimitFiles, Limits, Swap, Write};
use super::parse::keyed;

// ANCHOR: v1_writes
/// The v1 files and values for `limits`; `present(file)` says whether the cgroup has a file.
pub fn writes(limits: &Limits, present: &dyn Fn(&str) -> bool) -> LimitFiles {
    let mut out = LimitFiles::default();
    let w = &mut out.writes;
    let (quota, period) = limits.cpu_quota_period();
    if let Some(p) = period {
        w.push(Write::new("cpu.cfs_period_us", p));
    }
    if let Some(q) = quota {
        w.push(Write::new("cpu.cfs_quota_us", q));
    }
    if let Some(s) = limits.cpu_shares {
        w.push(Write::new("cpu.shares", s));
    }
    if let Some(c) = &limits.cpuset_cpus {
        w.push(Write::new("cpuset.cpus", c));
    }
    if let Some(m) = limits.memory {
        w.push(Write::new("memory.limit_in_bytes", m));
    }
    if let Some(total) = limits.memory_and_swap() {
        if present("memory.memsw.limit_in_bytes") {
            let value = match total {
                Swap::Unlimited => "-1".to_string(),
                Swap::Total(t) => t.to_string(),
            };
            w.push(Write::new("memory.memsw.limit_in_bytes", value));
        } else {
            out.notes.push(
                "memory.memsw.limit_in_bytes is missing: this kernel does not account swap \
                 (boot it with swapaccount=1), so --memory-swap is not applied and the container \
                 may swap beyond --memory"
                    .into(),
            );
        }
    }
    let w = &mut out.writes;
    if let Some(r) = limits.memory_reservation {
        w.push(Write::new("memory.soft_limit_in_bytes", r));
    }
    if let Some(p) = limits.pids_limit {
        w.push(Write::new("pids.max", if p <= 0 { "max".to_string() } else { p.to_string() }));
    }
    for d in &limits.device_read_bps {
        let value = format!("{}:{} {}", d.major, d.minor, d.bytes_per_sec);
        w.push(Write::new("blkio.throttle.read_bps_device", value));
    }
    for d in &limits.device_write_bps {
        let value = format!("{}:{} {}", d.major, d.minor, d.bytes_per_sec);
        w.push(Write::new("blkio.throttle.write_bps_device", value));
    }
    if let Some(weight) = limits.blkio_weight {
        if present("blkio.weight") {
            w.push(Write::new("blkio.weight", weight));
        } else if present("blkio.bfq.weight") {
            w.push(Write::new("blkio.bfq.weight", weight));
        } else {
            out.notes.push(
                "neither blkio.weight nor blkio.bfq.weight exists: no disk scheduler here \
                 honours weights (BFQ does), so --blkio-weight is not applied"
                    .into(),
            );
        }
    }
    out
}
// ANCHOR_END: v1_writes

/// The counters of a v1 cgroup; `read(file)` returns a file's text from the tree carrying it.
pub fn stats(read: &dyn Fn(&str) -> Option<String>) -> Stats {
    let number = |file: &str| read(file)?.trim().parse::<u64>().ok();
    let cpu_stat = read("cpu.stat").unwrap_or_default();
    let oom = read("memory.oom_control").unwrap_or_default();
    let pids_events = read("pids.events").unwrap_or_default();
    Stats {
        cpu_usage_usec: number("cpuacct.usage").map(|ns| ns / 1000),
        nr_periods: keyed(&cpu_stat, "nr_periods"),
        nr_throttled: keyed(&cpu_stat, "nr_throttled"),
        oom_kill: keyed(&oom, "oom_kill"),
        memory_failcnt: number("memory.failcnt"),
        memory_current: number("memory.usage_in_bytes"),
        memory_peak: number("memory.max_usage_in_bytes"),
        pids_current: number("pids.current"),
        pids_max_events: keyed(&pids_events, "max"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::limits::DeviceRate;

    const MIB: u64 = 1 << 20;

    fn files(l: &Limits, present: &dyn Fn(&str) -> bool) -> Vec<String> {
        writes(l, present).writes.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn cpus_become_a_quota_per_period() {
        let l = Limits { cpus: Some(0.5), cpu_shares: Some(512), ..Limits::default() };
        assert_eq!(
            files(&l, &|_| true),
            ["cpu.cfs_period_us ← 100000", "cpu.cfs_quota_us ← 50000", "cpu.shares ← 512"]
        );
        let l = Limits { cpu_quota: Some(-1), ..Limits::default() };
        assert_eq!(files(&l, &|_| true), ["cpu.cfs_quota_us ← -1"]);
    }

    #[test]
    fn memory_and_swap_follow_docker() {
        let l = Limits { memory: Some(32 * MIB), ..Limits::default() };
        assert_eq!(
            files(&l, &|_| true),
            ["memory.limit_in_bytes ← 33554432", "memory.memsw.limit_in_bytes ← 67108864"]
        );
        let l = Limits {
            memory: Some(32 * MIB),
            memory_swap: Some(Swap::Unlimited),
            ..Limits::default()
        };
        assert_eq!(files(&l, &|_| true)[1], "memory.memsw.limit_in_bytes ← -1");
        let l = Limits {
            memory: Some(32 * MIB),
            memory_swap: Some(Swap::Total(32 * MIB)),
            memory_reservation: Some(16 * MIB),
            ..Limits::default()
        };
        assert_eq!(
            files(&l, &|_| true),
            [
                "memory.limit_in_bytes ← 33554432",
                "memory.memsw.limit_in_bytes ← 33554432",
                "memory.soft_limit_in_bytes ← 16777216"
            ]
        );
        // Without swap accounting the file is absent: say so instead of failing.
        let out = writes(&l, &|f| f != "memory.memsw.limit_in_bytes");
        assert_eq!(out.writes.len(), 2);
        assert!(out.notes[0].contains("swapaccount=1"));
    }

    #[test]
    fn pids_cpuset_and_io() {
        let dev = |minor| DeviceRate { path: "/dev/x".into(), major: 8, minor, bytes_per_sec: MIB };
        let l = Limits {
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(20),
            device_read_bps: vec![dev(0)],
            device_write_bps: vec![dev(16)],
            blkio_weight: Some(500),
            ..Limits::default()
        };
        assert_eq!(
            files(&l, &|_| true),
            [
                "cpuset.cpus ← 0",
                "pids.max ← 20",
                "blkio.throttle.read_bps_device ← 8:0 1048576",
                "blkio.throttle.write_bps_device ← 8:16 1048576",
                "blkio.weight ← 500"
            ]
        );
        assert_eq!(files(&l, &|f| f != "blkio.weight").last().unwrap(), "blkio.bfq.weight ← 500");
        assert!(writes(&l, &|f| !f.contains("weight")).notes[0].contains("--blkio-weight"));
        let unlimited = Limits { pids_limit: Some(-1), ..Limits::default() };
        assert_eq!(files(&unlimited, &|_| true), ["pids.max ← max"]);
    }

    #[test]
    fn stats_read_the_v1_counters() {
        let read = |f: &str| {
            Some(
                match f {
                    "cpuacct.usage" => "250000000\n",
                    "cpu.stat" => "nr_periods 4\nnr_throttled 3\nthrottled_time 1\n",
                    "memory.oom_control" => "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
                    "memory.failcnt" => "17\n",
                    "pids.events" => "max 1\n",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let s = stats(&read);
        assert_eq!(s.cpu_usage_usec, Some(250_000));
        assert_eq!((s.nr_periods, s.nr_throttled), (Some(4), Some(3)));
        assert_eq!((s.oom_kill, s.memory_failcnt, s.pids_max_events), (Some(1), Some(17), Some(1)));
        assert_eq!(s.memory_current, None);
    }
}
