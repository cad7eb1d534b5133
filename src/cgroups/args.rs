//! Stage 06's flags, with Docker's names and meanings: `--cpus 0.5`, `--memory 32m`, `--pids-limit 20`…

use super::limits::{self, DeviceRate, Limits, Swap};
use clap::Args;

/// Flags from stage 06 on: the resources the container may use.
#[derive(Args, Debug, Clone, Default)]
pub struct CgroupArgs {
    /// At most this many CPUs' worth of time, a hard cap: 0.5 is half of one CPU, 1.5 one and a
    /// half. The kernel gives the container CPUS × 100 ms of CPU every 100 ms.
    #[arg(long, value_name = "CPUS", value_parser = limits::parse_cpus)]
    pub cpus: Option<f64>,

    /// A share of CPU time against other containers, used only when CPUs are busy (default 1024:
    /// 512 gets half as much as a default container).
    #[arg(long, value_name = "WEIGHT", value_parser = limits::parse_cpu_shares)]
    pub cpu_shares: Option<u64>,

    /// Microseconds of CPU time per period (with --cpu-period); --cpus is the simpler way.
    #[arg(long, value_name = "USEC", value_parser = limits::parse_cpu_quota, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,

    /// The length of the CPU period in microseconds (default 100000, that is 100 ms).
    #[arg(long, value_name = "USEC", value_parser = limits::parse_cpu_period)]
    pub cpu_period: Option<u64>,

    /// Run only on these CPUs, numbered from 0: 0, 0-1, 0,2.
    #[arg(long, value_name = "CPUS", value_parser = limits::parse_cpuset_cpus)]
    pub cpuset_cpus: Option<String>,

    /// At most this much memory (512m, 1g); past it the kernel kills a process in the container.
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = limits::parse_memory)]
    pub memory: Option<u64>,

    /// Memory and swap together (1g); equal to --memory means no swap, -1 unlimited swap; unset,
    /// twice --memory.
    #[arg(long, value_name = "BYTES", value_parser = limits::parse_memory_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<Swap>,

    /// A soft limit the kernel shrinks the container back to when the host runs short of memory.
    #[arg(long, value_name = "BYTES", value_parser = limits::parse_memory_reservation)]
    pub memory_reservation: Option<u64>,

    /// At most this many processes and threads in the container (-1: unlimited); one more fork
    /// fails with "Resource temporarily unavailable".
    #[arg(long, value_name = "N", value_parser = limits::parse_pids_limit, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,

    /// Limit reads from a block device to a rate per second: /dev/sda:1mb (may be repeated).
    #[arg(long, value_name = "DEV:RATE", value_parser = limits::parse_device_rate)]
    pub device_read_bps: Vec<DeviceRate>,

    /// Limit writes to a block device to a rate per second: /dev/sda:1mb (may be repeated).
    #[arg(long, value_name = "DEV:RATE", value_parser = limits::parse_device_rate)]
    pub device_write_bps: Vec<DeviceRate>,

    /// A share of disk time against other containers, 10 to 1000, used only when the disk is busy.
    #[arg(long, value_name = "WEIGHT", value_parser = limits::parse_blkio_weight)]
    pub blkio_weight: Option<u16>,

    /// Put the container's cgroup beneath this one (a path from the cgroup root, as in Docker),
    /// instead of beneath your own cgroup or the workshop's.
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
}

impl CgroupArgs {
    /// The limits asked for, after the checks across flags that Docker makes too.
    pub fn limits(&self) -> Result<Limits, String> {
        let limits = Limits {
            cpus: self.cpus,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            pids_limit: self.pids_limit,
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            blkio_weight: self.blkio_weight,
        };
        limits.check()?;
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        cgroup: CgroupArgs,
    }

    fn parse(args: &[&str]) -> Result<Limits, String> {
        let cli = Cli::try_parse_from(std::iter::once("06").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.cgroup.limits()
    }

    #[test]
    fn dockers_flags_parse_into_limits() {
        let l = parse(&[
            "--cpus",
            "0.5",
            "--memory",
            "32m",
            "--memory-swap",
            "-1",
            "--pids-limit",
            "20",
        ])
        .unwrap();
        assert_eq!(l.cpus, Some(0.5));
        assert_eq!(l.memory, Some(32 << 20));
        assert_eq!(l.memory_swap, Some(Swap::Unlimited));
        assert_eq!(l.pids_limit, Some(20));
        assert_eq!(parse(&["--pids-limit", "-1"]).unwrap().pids_limit, Some(-1));
        assert_eq!(parse(&["--cpu-quota", "-1"]).unwrap().cpu_quota, Some(-1));
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_values_are_refused_naming_the_value() {
        for (args, mentions) in [
            (&["--memory", "12q"][..], "12q"),
            (&["--memory", "1k"][..], "1k"),
            (&["--cpus", "0"][..], "0.01"),
            (&["--cpus", "1000"][..], "1000"),
            (&["--device-read-bps", "/dev/null:1mb"][..], "not a block device"),
            (&["--blkio-weight", "5"][..], "10 to 1000"),
            (&["--memory-swap", "1g"][..], "--memory"),
            (&["--cpus", "0.5", "--cpu-quota", "50000"][..], "--cpus"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(mentions), "{args:?}: {e}");
        }
    }
}
