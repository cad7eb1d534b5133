//! cgroup v2: one tree, and the files each limit is written to.
//!
//! | flag | file | value |
//! |---|---|---|
//! | `--cpus 0.5` | `cpu.max` | `50000 100000` (quota and period in µs; `max` for no quota) |
//! | `--cpu-shares 512` | `cpu.weight` | `20` (runc's conversion: `1 + ((shares - 2) * 9999) / 262142`) |
//! | `--cpuset-cpus 0` | `cpuset.cpus` | `0` |
//! | `--memory 32m` | `memory.max` | `33554432` |
//! | `--memory-swap` | `memory.swap.max` | the swap alone: total − memory (`max` for -1) |
//! | `--memory-reservation` | `memory.low` | bytes |
//! | `--pids-limit 20` | `pids.max` | `20` |
//! | `--device-read-bps`, `--device-write-bps` | `io.max` | `MAJ:MIN rbps=BYTES wbps=BYTES` |
//! | `--blkio-weight 500` | `io.bfq.weight` (`500`, under the BFQ scheduler) or `io.weight` (`4950`) | |
//!
//! What happened is read back from `cpu.stat` (`usage_usec`, `nr_throttled`), `memory.events`
//! (`oom_kill`), `memory.current` and `memory.peak`, `pids.current` and `pids.events` (`max`).

use super::cgroup::Stats;
use super::limits::{blkio_to_io_weight, shares_to_weight, LimitFiles, Limits, Swap, Write};
use super::parse::keyed;

// ANCHOR: v2_writes
/// The v2 files and values for `limits`; `present(file)` says whether the cgroup has a file.
pub fn writes(limits: &Limits, present: &dyn Fn(&str) -> bool) -> LimitFiles {
    let mut out = LimitFiles::default();
    let (quota, period) = limits.cpu_quota_period();
    if quota.is_some() || period.is_some() {
        let quota = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = period.unwrap_or(super::limits::CPU_PERIOD_US);
        out.writes.push(Write::new("cpu.max", format!("{quota} {period}")));
    }
    if let Some(s) = limits.cpu_shares {
        out.writes.push(Write::new("cpu.weight", shares_to_weight(s)));
    }
    if let Some(c) = &limits.cpuset_cpus {
        out.writes.push(Write::new("cpuset.cpus", c));
    }
    if let Some(m) = limits.memory {
        out.writes.push(Write::new("memory.max", m));
        match limits.memory_and_swap() {
            Some(_) if !present("memory.swap.max") => out.notes.push(
                "memory.swap.max is missing: this kernel has no swap accounting, so \
                 --memory-swap is not applied"
                    .into(),
            ),
            Some(Swap::Unlimited) => out.writes.push(Write::new("memory.swap.max", "max")),
            Some(Swap::Total(t)) => {
                out.writes.push(Write::new("memory.swap.max", t.saturating_sub(m)))
            }
            None => {}
        }
    }
    if let Some(r) = limits.memory_reservation {
        out.writes.push(Write::new("memory.low", r));
    }
    if let Some(p) = limits.pids_limit {
        out.writes.push(Write::new("pids.max", if p <= 0 { "max".into() } else { p.to_string() }));
    }
    // One io.max line per device, with whichever of the two rates were asked for.
    let mut devices: Vec<(u64, u64)> = Vec::new();
    for d in limits.device_read_bps.iter().chain(&limits.device_write_bps) {
        if !devices.contains(&(d.major, d.minor)) {
            devices.push((d.major, d.minor));
        }
    }
    for (major, minor) in devices {
        let rate = |list: &[super::DeviceRate]| {
            list.iter().rfind(|d| (d.major, d.minor) == (major, minor)).map(|d| d.bytes_per_sec)
        };
        let mut line = format!("{major}:{minor}");
        if let Some(r) = rate(&limits.device_read_bps) {
            line += &format!(" rbps={r}");
        }
        if let Some(w) = rate(&limits.device_write_bps) {
            line += &format!(" wbps={w}");
        }
        out.writes.push(Write::new("io.max", line));
    }
    // As runc: the BFQ scheduler's own weight when it is there (same 10–1000 scale as blkio),
    // otherwise io.weight on its 1–10000 scale.
    if let Some(weight) = limits.blkio_weight {
        if present("io.bfq.weight") {
            out.writes.push(Write::new("io.bfq.weight", weight));
        } else if present("io.weight") {
            out.writes.push(Write::new("io.weight", blkio_to_io_weight(weight)));
        } else {
            out.notes.push(
                "neither io.bfq.weight nor io.weight exists: no disk scheduler here honours \
                 weights, so --blkio-weight is not applied"
                    .into(),
            );
        }
    }
    out
}
// ANCHOR_END: v2_writes

/// The counters of a v2 cgroup; `read(file)` returns a file's text.
pub fn stats(read: &dyn Fn(&str) -> Option<String>) -> Stats {
    let number = |file: &str| read(file)?.trim().parse::<u64>().ok();
    let cpu_stat = read("cpu.stat").unwrap_or_default();
    let events = read("memory.events").unwrap_or_default();
    let pids_events = read("pids.events").unwrap_or_default();
    Stats {
        cpu_usage_usec: keyed(&cpu_stat, "usage_usec"),
        nr_periods: keyed(&cpu_stat, "nr_periods"),
        nr_throttled: keyed(&cpu_stat, "nr_throttled"),
        oom_kill: keyed(&events, "oom_kill"),
        memory_failcnt: keyed(&events, "max"),
        memory_current: number("memory.current"),
        memory_peak: number("memory.peak"),
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
    fn cpu_max_and_weight() {
        let l = Limits { cpus: Some(0.5), cpu_shares: Some(512), ..Limits::default() };
        assert_eq!(files(&l, &|_| true), ["cpu.max ← 50000 100000", "cpu.weight ← 20"]);
        let l = Limits { cpu_period: Some(50_000), ..Limits::default() };
        assert_eq!(files(&l, &|_| true), ["cpu.max ← max 50000"]);
        let l = Limits { cpu_quota: Some(25_000), ..Limits::default() };
        assert_eq!(files(&l, &|_| true), ["cpu.max ← 25000 100000"]);
        let l = Limits { cpu_shares: Some(1024), ..Limits::default() };
        assert_eq!(files(&l, &|_| true), ["cpu.weight ← 39"]);
    }

    #[test]
    fn swap_max_is_the_swap_alone() {
        let with =
            |swap| Limits { memory: Some(512 * MIB), memory_swap: swap, ..Limits::default() };
        assert_eq!(
            files(&with(None), &|_| true),
            ["memory.max ← 536870912", "memory.swap.max ← 536870912"]
        );
        assert_eq!(
            files(&with(Some(Swap::Total(1 << 30))), &|_| true)[1],
            "memory.swap.max ← 536870912"
        );
        assert_eq!(files(&with(Some(Swap::Total(512 * MIB))), &|_| true)[1], "memory.swap.max ← 0");
        assert_eq!(files(&with(Some(Swap::Unlimited)), &|_| true)[1], "memory.swap.max ← max");
        let out = writes(&with(None), &|f| f != "memory.swap.max");
        assert_eq!(out.writes.len(), 1);
        assert!(out.notes[0].contains("memory.swap.max"));
    }

    #[test]
    fn low_pids_cpuset() {
        let l = Limits {
            memory_reservation: Some(16 * MIB),
            pids_limit: Some(0),
            cpuset_cpus: Some("0-1".into()),
            ..Limits::default()
        };
        assert_eq!(
            files(&l, &|_| true),
            ["cpuset.cpus ← 0-1", "memory.low ← 16777216", "pids.max ← max"]
        );
    }

    #[test]
    fn io_max_has_one_line_per_device() {
        let dev = |minor, bps| DeviceRate {
            path: "/dev/x".into(),
            major: 254,
            minor,
            bytes_per_sec: bps,
        };
        let l = Limits {
            device_read_bps: vec![dev(0, MIB), dev(16, 2 * MIB)],
            device_write_bps: vec![dev(0, 3 * MIB)],
            blkio_weight: Some(500),
            ..Limits::default()
        };
        assert_eq!(
            files(&l, &|f| f == "io.weight"),
            [
                "io.max ← 254:0 rbps=1048576 wbps=3145728",
                "io.max ← 254:16 rbps=2097152",
                "io.weight ← 4950"
            ]
        );
        assert_eq!(files(&l, &|_| true).last().unwrap(), "io.bfq.weight ← 500");
    }

    #[test]
    fn stats_read_the_v2_counters() {
        let read = |f: &str| {
            Some(
                match f {
                    "cpu.stat" => "usage_usec 100000\nuser_usec 1\nnr_periods 4\nnr_throttled 3\n",
                    "memory.events" => "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n",
                    "memory.peak" => "33554432\n",
                    "pids.events" => "max 2\n",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let s = stats(&read);
        assert_eq!((s.cpu_usage_usec, s.nr_throttled), (Some(100_000), Some(3)));
        assert_eq!((s.oom_kill, s.memory_failcnt), (Some(1), Some(12)));
        assert_eq!((s.memory_peak, s.pids_max_events), (Some(33_554_432), Some(2)));
    }
}
