//! Docker's resource flags, what each means, and the numbers the kernel is given.
//!
//! Each flag has a parser usable as a clap `value_parser` (an error names the value and the valid
//! form), [`Limits`] holds what was asked for, [`Limits::check`] refuses combinations Docker
//! refuses, and [`writes`] turns it into the exact files and values for cgroup v1 or v2 — a pure
//! list that the lesson prints so the student sees what was written.
//!
//! Docker's meanings, kept here:
//! - `--cpus 0.5`: a hard cap. The kernel's CFS bandwidth control gives the group a quota of CPU
//!   time per period: quota = cpus × period, period 100000 µs (100 ms). 0.5 → 50 ms per 100 ms.
//! - `--cpu-shares 512`: a weight, not a cap: it matters only when CPUs are contended, and then the
//!   group gets CPU in proportion to it (the default is 1024). v2 has `cpu.weight` (1–10000, default
//!   100) instead; runc converts with `weight = 1 + ((shares - 2) * 9999) / 262142`.
//! - `--memory 512m`: the group's memory is capped; past it the kernel reclaims, then its OOM killer
//!   kills a process *inside the group* (SIGKILL, so exit status 137), not a random host process.
//! - `--memory-swap`: the total of memory *and* swap. -1 means unlimited swap; equal to `--memory`
//!   means no swap; unset means twice `--memory`. v1's `memory.memsw.limit_in_bytes` takes that total,
//!   v2's `memory.swap.max` takes the swap alone (total − memory).
//! - `--memory-reservation`: a soft limit the kernel reclaims down to under memory pressure.
//! - `--pids-limit 20`: at most 20 processes and threads; the next `fork` fails with EAGAIN.
//! - `--device-read-bps /dev/sda:1mb`: reads from that block device are throttled to the rate.
//! - `--blkio-weight 500`: a share of disk time (10–1000) under contention, like `--cpu-shares`.

use super::{Controller, Version};
use std::path::PathBuf;

/// The default CFS period, and the one `--cpus` uses (µs).
pub const CPU_PERIOD_US: u64 = 100_000;
/// Docker's smallest memory limit: below it a container cannot even start its first process.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The limits a container asked for; `None` (or empty) leaves the kernel's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub cpus: Option<f64>,
    /// µs of CPU per period; -1 for no quota.
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub memory: Option<u64>,
    pub memory_swap: Option<Swap>,
    pub memory_reservation: Option<u64>,
    /// -1 or 0 for unlimited.
    pub pids_limit: Option<i64>,
    pub device_read_bps: Vec<DeviceRate>,
    pub device_write_bps: Vec<DeviceRate>,
    pub blkio_weight: Option<u16>,
}

/// `--memory-swap`: memory and swap together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// `-1`.
    Unlimited,
    /// Bytes of memory + swap.
    Total(u64),
}

/// `DEV:RATE`: a block device (resolved to its major:minor numbers) and bytes per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRate {
    pub path: PathBuf,
    pub major: u64,
    pub minor: u64,
    pub bytes_per_sec: u64,
}

/// One write into a cgroup file: `value` into `file` (a name such as `cpu.max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub file: String,
    pub value: String,
}

impl Write {
    pub fn new(file: &str, value: impl ToString) -> Write {
        Write { file: file.to_string(), value: value.to_string() }
    }
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ← {}", self.file, self.value)
    }
}

/// The files to write for a [`Limits`], in order, and what could not be written and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitFiles {
    pub writes: Vec<Write>,
    pub notes: Vec<String>,
}

/// The files to write for `limits` on `version`. `present(file)` says whether the container's
/// cgroup has that file (swap accounting and the BFQ weight files exist only on some kernels).
pub fn writes(limits: &Limits, version: Version, present: &dyn Fn(&str) -> bool) -> LimitFiles {
    match version {
        Version::V1 => super::v1::writes(limits, present),
        Version::V2 => super::v2::writes(limits, present),
    }
}

impl Limits {
    /// True when no limit is asked for.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// Refuses the combinations Docker refuses, in Docker's words where it has them.
    pub fn check(&self) -> Result<(), String> {
        if self.cpus.is_some() && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return Err("--cpus cannot be combined with --cpu-quota or --cpu-period: \
                        --cpus 0.5 already means --cpu-quota 50000 --cpu-period 100000"
                .into());
        }
        if self.memory_swap.is_some() && self.memory.is_none() {
            return Err("--memory-swap needs --memory too: it is the total of memory and swap, \
                        such as --memory 512m --memory-swap 1g"
                .into());
        }
        if let (Some(m), Some(Swap::Total(t))) = (self.memory, self.memory_swap) {
            if t < m {
                return Err(format!(
                    "--memory-swap {} is less than --memory {}: it is the total of memory and \
                     swap, so use at least {} (equal means no swap) or -1 for unlimited swap",
                    human(t),
                    human(m),
                    human(m)
                ));
            }
        }
        if let (Some(m), Some(r)) = (self.memory, self.memory_reservation) {
            if r > m {
                return Err(format!(
                    "--memory-reservation {} is above --memory {}: the soft limit must be below \
                     the hard one",
                    human(r),
                    human(m)
                ));
            }
        }
        Ok(())
    }

    /// Each flag given, with the controller it needs.
    pub fn needs(&self) -> Vec<(&'static str, Controller)> {
        let mut needs = Vec::new();
        let mut need = |given: bool, flag, c| {
            if given {
                needs.push((flag, c));
            }
        };
        need(self.cpus.is_some(), "--cpus", Controller::Cpu);
        need(self.cpu_quota.is_some(), "--cpu-quota", Controller::Cpu);
        need(self.cpu_period.is_some(), "--cpu-period", Controller::Cpu);
        need(self.cpu_shares.is_some(), "--cpu-shares", Controller::Cpu);
        need(self.cpuset_cpus.is_some(), "--cpuset-cpus", Controller::Cpuset);
        need(self.memory.is_some(), "--memory", Controller::Memory);
        need(self.memory_swap.is_some(), "--memory-swap", Controller::Memory);
        need(self.memory_reservation.is_some(), "--memory-reservation", Controller::Memory);
        need(self.pids_limit.is_some(), "--pids-limit", Controller::Pids);
        need(!self.device_read_bps.is_empty(), "--device-read-bps", Controller::Io);
        need(!self.device_write_bps.is_empty(), "--device-write-bps", Controller::Io);
        need(self.blkio_weight.is_some(), "--blkio-weight", Controller::Io);
        needs
    }

    /// The CFS quota (µs, -1 for none) and period to write, from `--cpus` or the two raw flags.
    pub fn cpu_quota_period(&self) -> (Option<i64>, Option<u64>) {
        match self.cpus {
            Some(cpus) => (Some(cpus_to_quota(cpus, CPU_PERIOD_US)), Some(CPU_PERIOD_US)),
            None => (self.cpu_quota, self.cpu_period),
        }
    }

    /// Memory + swap as Docker means it, when `--memory` is set: unset swap is twice memory.
    pub fn memory_and_swap(&self) -> Option<Swap> {
        let m = self.memory?;
        Some(self.memory_swap.unwrap_or(Swap::Total(m.saturating_mul(2))))
    }
}

/// This machine's swap in bytes (`SwapTotal` in /proc/meminfo; 0 when it has none).
pub fn machine_swap() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    super::parse::keyed(&meminfo.replace(':', ""), "SwapTotal").unwrap_or(0) * 1024
}

/// What `--memory` and `--memory-swap` come to on a machine with `swap` bytes of swap, in one
/// sentence for the narration; `None` when no memory limit is set.
pub fn swap_meaning(limits: &Limits, swap: u64) -> Option<String> {
    let memory = limits.memory?;
    let may_swap = match limits.memory_and_swap()? {
        Swap::Unlimited => None,
        Swap::Total(total) => Some(total.saturating_sub(memory)),
    };
    let asked = match (limits.memory_swap, may_swap) {
        (None, Some(s)) => {
            format!("--memory-swap unset means twice --memory: {} of swap", human(s))
        }
        (_, Some(0)) => "--memory-swap equal to --memory means no swap".to_string(),
        (_, Some(s)) => format!("--memory-swap allows {} of swap beyond --memory", human(s)),
        (_, None) => "--memory-swap -1 means unlimited swap".to_string(),
    };
    Some(if swap == 0 {
        format!(
            "{asked}, but this machine has no swap, so the container gets {} and no more",
            human(memory)
        )
    } else {
        format!("{asked}; this machine has {} of swap to take it from", human(swap))
    })
}

/// `--cpus` as a CFS quota for `period`: 0.5 CPUs over 100000 µs is 50000 µs.
pub fn cpus_to_quota(cpus: f64, period: u64) -> i64 {
    (cpus * period as f64).round() as i64
}

// ANCHOR: shares_to_weight
/// runc's conversion of v1 `cpu.shares` (2–262144) to v2 `cpu.weight` (1–10000): 1024 → 39.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}
// ANCHOR_END: shares_to_weight

/// runc's conversion of `blkio.weight` (10–1000) to v2 `io.weight` (1–10000): 500 → 4950.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

/// A byte count the way the flags write it (`512m`), for messages.
pub fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] =
        [(1 << 50, "p"), (1 << 40, "t"), (1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}b")
}

const SIZE_FORM: &str = "use a number with an optional unit b, k, m, g, t or p, such as 512m, \
                         1g or 1.5g";

/// A size as Docker's `RAMInBytes` reads it: `512` bytes, `512m`, `1.5g`, `2GiB`, `1mb`; the units
/// b k m g t p are powers of 1024 and case does not matter.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?}: {SIZE_FORM}");
    let mut rest = s.trim();
    if let Some(r) = rest.strip_suffix(['b', 'B']) {
        rest = r;
    }
    let mut multiplier = 1u64;
    let with_i = rest.strip_suffix(['i', 'I']);
    let unit_part = with_i.unwrap_or(rest);
    if let Some(c) = unit_part.chars().last() {
        let m = match c.to_ascii_lowercase() {
            'k' => Some(1u64 << 10),
            'm' => Some(1 << 20),
            'g' => Some(1 << 30),
            't' => Some(1 << 40),
            'p' => Some(1 << 50),
            _ => None,
        };
        match m {
            Some(m) => {
                multiplier = m;
                rest = &unit_part[..unit_part.len() - 1];
            }
            None if with_i.is_some() => return Err(bad()),
            None => {}
        }
    }
    let number = rest.strip_suffix(' ').unwrap_or(rest);
    let well_formed = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1;
    if !well_formed {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * multiplier as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("size {s:?} is too large: {SIZE_FORM}"));
    }
    Ok(bytes as u64)
}

/// `--memory`: a size of at least [`MIN_MEMORY`].
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{s:?} is {bytes} bytes, below the {} a container needs to start: use 6m or more, \
             such as 32m or 512m",
            human(MIN_MEMORY)
        ));
    }
    Ok(bytes)
}

/// `--memory-reservation`: a size of at least [`MIN_MEMORY`], like `--memory`.
pub fn parse_memory_reservation(s: &str) -> Result<u64, String> {
    parse_memory(s)
}

/// `--memory-swap`: `-1` for unlimited swap, or the total of memory and swap.
pub fn parse_memory_swap(s: &str) -> Result<Swap, String> {
    if s.trim() == "-1" {
        return Ok(Swap::Unlimited);
    }
    let bytes = parse_size(s)
        .map_err(|_| format!("invalid --memory-swap {s:?}: use -1 for unlimited swap or a size (memory + swap) such as 1g"))?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "--memory-swap {s:?} is below the {} minimum: it is memory + swap, so use at least \
             --memory's value, or -1",
            human(MIN_MEMORY)
        ));
    }
    Ok(Swap::Total(bytes))
}

/// The number of CPUs online on this machine.
pub fn online_cpus() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// `--cpus` on this machine: 0.01 up to its number of CPUs.
pub fn parse_cpus(s: &str) -> Result<f64, String> {
    parse_cpus_for(s, online_cpus())
}

/// `--cpus` for a machine with `ncpu` CPUs.
pub fn parse_cpus_for(s: &str, ncpu: u32) -> Result<f64, String> {
    let range = format!("use a number of CPUs from 0.01 to {ncpu}, such as 0.5 or 1.5");
    let cpus: f64 = s.trim().parse().map_err(|_| format!("invalid --cpus {s:?}: {range}"))?;
    if !cpus.is_finite() || cpus < 0.01 {
        return Err(format!("--cpus {s:?} is too small: {range}"));
    }
    if cpus > f64::from(ncpu) {
        return Err(format!("--cpus {s:?} is more than the {ncpu} CPUs this machine has: {range}"));
    }
    Ok(cpus)
}

/// `--cpu-quota`: µs of CPU time per period, at least 1000 (1 ms), or -1 for none.
pub fn parse_cpu_quota(s: &str) -> Result<i64, String> {
    let form = "use microseconds of CPU per period, at least 1000 (1 ms), such as 50000, or -1 for no quota";
    let q: i64 = s.trim().parse().map_err(|_| format!("invalid --cpu-quota {s:?}: {form}"))?;
    if q == -1 || q >= 1000 {
        Ok(q)
    } else {
        Err(format!("--cpu-quota {s:?} is out of range: {form}"))
    }
}

/// `--cpu-period`: the CFS period in µs, 1000 (1 ms) to 1000000 (1 s).
pub fn parse_cpu_period(s: &str) -> Result<u64, String> {
    let form = "use microseconds from 1000 (1 ms) to 1000000 (1 s), such as 100000";
    let p: u64 = s.trim().parse().map_err(|_| format!("invalid --cpu-period {s:?}: {form}"))?;
    if (1000..=1_000_000).contains(&p) {
        Ok(p)
    } else {
        Err(format!("--cpu-period {s:?} is out of range: {form}"))
    }
}

/// `--cpu-shares`: a relative weight from 2 to 262144 (the default is 1024).
pub fn parse_cpu_shares(s: &str) -> Result<u64, String> {
    let form = "use a weight from 2 to 262144, such as 512 (the default is 1024)";
    let v: u64 = s.trim().parse().map_err(|_| format!("invalid --cpu-shares {s:?}: {form}"))?;
    if (2..=262_144).contains(&v) {
        Ok(v)
    } else {
        Err(format!("--cpu-shares {s:?} is out of range: {form}"))
    }
}

/// `--cpuset-cpus` on this machine.
pub fn parse_cpuset_cpus(s: &str) -> Result<String, String> {
    parse_cpuset_for(s, online_cpus())
}

/// `--cpuset-cpus` (`0-1`, `0,2`, `1`) for a machine with `ncpu` CPUs, numbered from 0.
pub fn parse_cpuset_for(s: &str, ncpu: u32) -> Result<String, String> {
    let form = format!(
        "use CPU numbers from 0 to {} as a list or ranges, such as 0 or 0-1 or 0,2",
        ncpu.saturating_sub(1)
    );
    let bad = || format!("invalid --cpuset-cpus {s:?}: {form}");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        if b >= ncpu {
            return Err(format!(
                "--cpuset-cpus {s:?} names CPU {b}, which this machine does not have: {form}"
            ));
        }
    }
    Ok(s.to_string())
}

/// `--pids-limit`: at most this many processes and threads; -1 or 0 for unlimited.
pub fn parse_pids_limit(s: &str) -> Result<i64, String> {
    let form = "use a number of processes such as 20, or -1 for unlimited";
    let v: i64 = s.trim().parse().map_err(|_| format!("invalid --pids-limit {s:?}: {form}"))?;
    if v >= -1 {
        Ok(v)
    } else {
        Err(format!("--pids-limit {s:?} is out of range: {form}"))
    }
}

/// `--blkio-weight`: a share of disk time from 10 to 1000.
pub fn parse_blkio_weight(s: &str) -> Result<u16, String> {
    let form = "use a weight from 10 to 1000, such as 500";
    let v: u16 = s.trim().parse().map_err(|_| format!("invalid --blkio-weight {s:?}: {form}"))?;
    if (10..=1000).contains(&v) {
        Ok(v)
    } else {
        Err(format!("--blkio-weight {s:?} is out of range: {form}"))
    }
}

/// `--device-read-bps` / `--device-write-bps`: `DEV:RATE`, DEV a block device (stat gives its
/// major:minor, the numbers the kernel's files take), RATE a size per second such as `1mb`.
pub fn parse_device_rate(s: &str) -> Result<DeviceRate, String> {
    use nix::sys::stat::{major, minor, stat, SFlag};
    let form = "use DEV:RATE with a block device and a rate per second, such as /dev/sda:1mb";
    let (dev, rate) =
        s.rsplit_once(':').ok_or_else(|| format!("invalid device rate {s:?}: {form}"))?;
    let bytes_per_sec =
        parse_size(rate).map_err(|_| format!("invalid rate {rate:?} in {s:?}: {form}"))?;
    if bytes_per_sec == 0 {
        return Err(format!("rate 0 in {s:?} would stop all I/O: {form}"));
    }
    let st = stat(dev).map_err(|e| format!("cannot stat {dev:?} in {s:?} ({e}): {form}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFBLK {
        return Err(format!("{dev:?} is not a block device: {form}"));
    }
    Ok(DeviceRate {
        path: dev.into(),
        major: major(st.st_rdev),
        minor: minor(st.st_rdev),
        bytes_per_sec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn sizes_parse_as_docker_parses_them() {
        let table: &[(&str, u64)] = &[
            ("512", 512),
            ("512b", 512),
            ("1k", 1024),
            ("1K", 1024),
            ("512m", 512 * MIB),
            ("512M", 512 * MIB),
            ("1mb", MIB),
            ("2MiB", 2 * MIB),
            ("1g", 1 << 30),
            ("1.5g", 3 << 29),
            ("1 g", 1 << 30),
            ("1t", 1 << 40),
            ("1p", 1 << 50),
        ];
        for (text, bytes) in table {
            assert_eq!(parse_size(text), Ok(*bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_name_the_value_and_the_form() {
        for text in ["12q", "", "m", "-1", "1.2.3", ".5m", "5.m", "1x b", "abc", "1gg", "1ib"] {
            let e = parse_size(text).unwrap_err();
            assert!(e.contains(&format!("{text:?}")) && e.contains("512m"), "{text}: {e}");
        }
    }

    #[test]
    fn memory_has_dockers_floor() {
        assert_eq!(parse_memory("32m"), Ok(32 * MIB));
        assert_eq!(parse_memory("6m"), Ok(6 * MIB));
        let e = parse_memory("1k").unwrap_err();
        assert!(e.contains("\"1k\"") && e.contains("6m"), "{e}");
        assert!(parse_memory("12q").unwrap_err().contains("12q"));
    }

    #[test]
    fn memory_swap_takes_minus_one_or_a_total() {
        assert_eq!(parse_memory_swap("-1"), Ok(Swap::Unlimited));
        assert_eq!(parse_memory_swap("1g"), Ok(Swap::Total(1 << 30)));
        for bad in ["-2", "12q", "1k"] {
            assert!(parse_memory_swap(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn cpus_range_from_a_hundredth_to_the_machines_count() {
        assert_eq!(parse_cpus_for("0.5", 2), Ok(0.5));
        assert_eq!(parse_cpus_for("2", 2), Ok(2.0));
        assert_eq!(parse_cpus_for("0.01", 2), Ok(0.01));
        for bad in ["0", "0.001", "-1", "2.5", "1000", "abc", "NaN", "inf"] {
            let e = parse_cpus_for(bad, 2).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("0.01 to 2"), "{bad}: {e}");
        }
        assert!(parse_cpus("1000").unwrap_err().contains("1000"));
    }

    #[test]
    fn the_other_numeric_flags_check_their_ranges() {
        assert_eq!(parse_cpu_quota("50000"), Ok(50000));
        assert_eq!(parse_cpu_quota("-1"), Ok(-1));
        assert!(parse_cpu_quota("999").unwrap_err().contains("999"));
        assert_eq!(parse_cpu_period("100000"), Ok(100000));
        assert!(parse_cpu_period("999").is_err() && parse_cpu_period("1000001").is_err());
        assert_eq!(parse_cpu_shares("512"), Ok(512));
        assert!(parse_cpu_shares("1").unwrap_err().contains("2 to 262144"));
        assert!(parse_cpu_shares("262145").is_err());
        assert_eq!(parse_pids_limit("20"), Ok(20));
        assert_eq!(parse_pids_limit("-1"), Ok(-1));
        assert!(parse_pids_limit("-2").unwrap_err().contains("-2"));
        assert!(parse_pids_limit("many").unwrap_err().contains("many"));
        assert_eq!(parse_blkio_weight("500"), Ok(500));
        assert!(parse_blkio_weight("5").unwrap_err().contains("10 to 1000"));
        assert!(parse_blkio_weight("1001").is_err());
        assert_eq!(parse_cpuset_for("0-1", 2), Ok("0-1".into()));
        assert_eq!(parse_cpuset_for("0,1", 2), Ok("0,1".into()));
        for bad in ["2", "1-0", "a", "", "0-", "0,,1"] {
            assert!(
                parse_cpuset_for(bad, 2).unwrap_err().contains(&format!("{:?}", bad.trim())),
                "{bad}"
            );
        }
    }

    #[test]
    fn device_rates_need_a_block_device() {
        let e = parse_device_rate("/dev/null:1mb").unwrap_err();
        assert!(e.contains("/dev/null") && e.contains("not a block device"), "{e}");
        assert!(parse_device_rate("/dev/no-such-disk:1mb").unwrap_err().contains("no-such-disk"));
        assert!(parse_device_rate("/dev/null:12q").unwrap_err().contains("12q"));
        assert!(parse_device_rate("/dev/null").unwrap_err().contains("DEV:RATE"));
        // A loop device is a block device with major number 7 on every Linux.
        if std::path::Path::new("/dev/loop0").exists() {
            let d = parse_device_rate("/dev/loop0:1mb").unwrap();
            assert_eq!((d.major, d.minor, d.bytes_per_sec), (7, 0, MIB));
        }
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(cpus_to_quota(0.5, 100_000), 50_000);
        assert_eq!(cpus_to_quota(0.25, 100_000), 25_000);
        assert_eq!(cpus_to_quota(1.5, 100_000), 150_000);
    }

    #[test]
    fn swap_follows_dockers_meaning() {
        let m = |swap| Limits { memory: Some(512 * MIB), memory_swap: swap, ..Limits::default() };
        assert_eq!(m(None).memory_and_swap(), Some(Swap::Total(1024 * MIB)));
        assert_eq!(m(Some(Swap::Unlimited)).memory_and_swap(), Some(Swap::Unlimited));
        assert_eq!(m(Some(Swap::Total(512 * MIB))).memory_and_swap(), Some(Swap::Total(512 * MIB)));
        assert!(m(Some(Swap::Total(256 * MIB))).check().unwrap_err().contains("256m"));
        let swap_alone = Limits { memory_swap: Some(Swap::Unlimited), ..Limits::default() };
        assert!(swap_alone.check().unwrap_err().contains("--memory"));
    }

    #[test]
    fn swap_meaning_says_what_this_machine_makes_of_it() {
        let m = |swap| Limits { memory: Some(32 * MIB), memory_swap: swap, ..Limits::default() };
        let none = swap_meaning(&m(None), 0).unwrap();
        assert!(
            none.contains("twice --memory: 32m")
                && none.contains("no swap, so the container gets 32m"),
            "{none}"
        );
        let equal = swap_meaning(&m(Some(Swap::Total(32 * MIB))), 1 << 30).unwrap();
        assert!(equal.contains("means no swap") && equal.contains("1g of swap"), "{equal}");
        assert!(swap_meaning(&m(Some(Swap::Unlimited)), 0).unwrap().contains("unlimited swap"));
        assert_eq!(swap_meaning(&Limits::default(), 0), None);
        // This machine's own figure is a whole number of KiB.
        assert_eq!(machine_swap() % 1024, 0);
    }

    #[test]
    fn conflicting_flags_are_refused() {
        let l = Limits { cpus: Some(0.5), cpu_quota: Some(50000), ..Limits::default() };
        assert!(l.check().unwrap_err().contains("--cpus"));
        let l = Limits {
            memory: Some(32 * MIB),
            memory_reservation: Some(64 * MIB),
            ..Limits::default()
        };
        assert!(l.check().unwrap_err().contains("64m"));
        assert!(Limits::default().check().is_ok());
    }

    #[test]
    fn each_flag_names_its_controller() {
        let l = Limits { memory: Some(32 * MIB), pids_limit: Some(20), ..Limits::default() };
        assert_eq!(
            l.needs(),
            [("--memory", Controller::Memory), ("--pids-limit", Controller::Pids)]
        );
    }
}
