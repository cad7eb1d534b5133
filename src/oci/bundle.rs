//! The bundle's `config.json`, read with the `oci-spec` crate, and what this runtime makes of it.
//!
//! The specification says a runtime MUST ignore a property it does not know (config.md,
//! "Extensibility"), and the crate does. A property it knows and this runtime cannot honour is
//! different: a container started without the limit or the confinement its engine asked for is
//! worse than no container, so each one is refused by name ([`unsupported`]).

use super::fail;
use crate::cgroups::{DeviceRate, Limits, Swap};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// A bundle: its directory, its configuration, and the root filesystem's absolute path.
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub root: PathBuf,
}

/// Reads `<dir>/config.json`.
pub fn load(dir: &Path) -> anyhow::Result<Bundle> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| fail(format!("the bundle {} cannot be opened: {e}", dir.display())))?;
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| fail(format!("{}: {e}; a bundle holds a config.json", file.display())))?;
    let spec: Spec = serde_json::from_str(&text)
        .map_err(|e| fail(format!("{}: not a runtime config ({e})", file.display())))?;
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| fail(format!("{}: root.path is required on Linux", file.display())))?;
    let root = if root_path.is_absolute() { root_path } else { dir.join(root_path) };
    if !root.is_dir() {
        return Err(fail(format!(
            "{}: root.path {} is not a directory",
            file.display(),
            root.display()
        )));
    }
    Ok(Bundle { dir, spec, root })
}

/// The properties of `spec` that this runtime knows and cannot honour, each named as config.json
/// spells it with the reason. Empty when the container can be made exactly as asked.
pub fn unsupported(spec: &Spec) -> Vec<String> {
    let mut no = Vec::new();
    let mut refuse = |field: &str, why: &str| no.push(format!("{field}: {why}"));
    if spec.process().is_none() {
        refuse("process", "required by `create` (this runtime has no process-less containers)");
    }
    if let Some(p) = spec.process() {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            refuse("process.args", "required: the program to run");
        }
        if p.command_line().is_some() {
            refuse("process.commandLine", "Windows only");
        }
        if p.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) {
            refuse("process.selinuxLabel", "the workshop does not label processes for SELinux");
        }
        if p.io_priority().is_some() {
            refuse("process.ioPriority", "not implemented");
        }
        if p.scheduler().is_some() {
            refuse("process.scheduler", "not implemented");
        }
        if p.exec_cpu_affinity().is_some() {
            refuse("process.execCPUAffinity", "not implemented");
        }
        if p.user().username().is_some() {
            refuse("process.user.username", "Windows only");
        }
        if p.apparmor_profile().as_ref().is_some_and(|n| !n.is_empty())
            && !crate::security::apparmor::Host::detect().can_load()
        {
            refuse("process.apparmorProfile", "AppArmor is not enabled on this host");
        }
    }
    if spec.solaris().is_some() || spec.windows().is_some() || spec.vm().is_some() {
        refuse("solaris/windows/vm", "this is a Linux runtime");
    }
    for m in spec.mounts().iter().flatten() {
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            refuse(
                &format!("mounts[{}].uidMappings", m.destination().display()),
                "idmapped bind mounts are not implemented",
            );
        }
    }
    let Some(linux) = spec.linux() else {
        refuse("linux", "required: this runtime runs Linux containers");
        return no;
    };
    for ns in linux.namespaces().iter().flatten() {
        if ns.typ() == LinuxNamespaceType::Time {
            refuse("linux.namespaces[time]", "time namespaces are not implemented");
        }
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        refuse("linux.mountLabel", "the workshop does not label mounts for SELinux");
    }
    if linux.intel_rdt().is_some() {
        refuse("linux.intelRdt", "not implemented");
    }
    if linux.memory_policy().is_some() {
        refuse("linux.memoryPolicy", "not implemented");
    }
    if linux.personality().is_some() {
        refuse("linux.personality", "not implemented");
    }
    if linux.time_offsets().is_some() {
        refuse("linux.timeOffsets", "time namespaces are not implemented");
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        refuse("linux.netDevices", "not implemented");
    }
    if let Some(s) = linux.seccomp() {
        if s.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            refuse("linux.seccomp.flags", "seccomp filter flags are not implemented");
        }
        if s.listener_path().is_some() {
            refuse("linux.seccomp.listenerPath", "no seccomp agent (SCMP_ACT_NOTIFY)");
        }
    }
    if let Some(r) = linux.resources() {
        if let Some(m) = r.memory() {
            for (set, field) in [
                (m.kernel().is_some(), "kernel"),
                (m.kernel_tcp().is_some(), "kernelTCP"),
                (m.swappiness().is_some(), "swappiness"),
                (m.disable_oom_killer() == Some(true), "disableOOMKiller"),
                (m.check_before_update() == Some(true), "checkBeforeUpdate"),
            ] {
                if set {
                    refuse(&format!("linux.resources.memory.{field}"), "not implemented");
                }
            }
        }
        if let Some(c) = r.cpu() {
            for (set, field) in [
                (c.mems().as_ref().is_some_and(|s| !s.is_empty()), "mems"),
                (c.realtime_runtime().is_some(), "realtimeRuntime"),
                (c.realtime_period().is_some(), "realtimePeriod"),
                (c.idle().is_some(), "idle"),
                (c.burst().is_some(), "burst"),
            ] {
                if set {
                    refuse(&format!("linux.resources.cpu.{field}"), "not implemented");
                }
            }
        }
        if let Some(b) = r.block_io() {
            for (set, field) in [
                (b.leaf_weight().is_some(), "leafWeight"),
                (b.weight_device().as_ref().is_some_and(|v| !v.is_empty()), "weightDevice"),
                (
                    b.throttle_read_iops_device().as_ref().is_some_and(|v| !v.is_empty()),
                    "throttleReadIOPSDevice",
                ),
                (
                    b.throttle_write_iops_device().as_ref().is_some_and(|v| !v.is_empty()),
                    "throttleWriteIOPSDevice",
                ),
            ] {
                if set {
                    refuse(&format!("linux.resources.blockIO.{field}"), "not implemented");
                }
            }
        }
        if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
            refuse("linux.resources.hugepageLimits", "not implemented");
        }
        if r.network().is_some() {
            refuse("linux.resources.network", "not implemented");
        }
        if r.rdma().as_ref().is_some_and(|v| !v.is_empty()) {
            refuse("linux.resources.rdma", "not implemented");
        }
        if r.unified().as_ref().is_some_and(|v| !v.is_empty()) {
            refuse("linux.resources.unified", "not implemented");
        }
    }
    no
}

/// The namespaces to make new (clone flags) and those to join (a flag and the path of a
/// namespace file, such as the network namespace podman made with netavark).
pub struct Namespaces {
    pub new: CloneFlags,
    pub join: Vec<(CloneFlags, PathBuf)>,
}

pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

// ANCHOR: namespaces
pub fn namespaces(spec: &Spec) -> anyhow::Result<Namespaces> {
    let mut ns = Namespaces { new: CloneFlags::empty(), join: Vec::new() };
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    for n in &list {
        let flag = clone_flag(n.typ());
        if ns.new.contains(flag) || ns.join.iter().any(|(f, _)| *f == flag) {
            return Err(fail(format!("linux.namespaces: {} is listed twice", n.typ())));
        }
        match n.path() {
            Some(path) => ns.join.push((flag, path.clone())),
            None => ns.new |= flag,
        }
    }
    Ok(ns)
}
// ANCHOR_END: namespaces

/// The lines of /proc/PID/uid_map (or gid_map): `inside outside count` each.
pub fn id_map_lines(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

// ANCHOR: limits
/// `linux.resources` as stage 06's limits: the same writes, on v1 and v2, as `--memory`,
/// `--cpu-shares` and the rest make.
pub fn limits(spec: &Spec) -> anyhow::Result<Limits> {
    let mut l = Limits::default();
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().clone()) else {
        return Ok(l);
    };
    if let Some(m) = r.memory() {
        l.memory = m.limit().filter(|v| *v > 0).map(|v| v as u64);
        l.memory_reservation = m.reservation().filter(|v| *v > 0).map(|v| v as u64);
        l.memory_swap = match m.swap() {
            Some(-1) => Some(Swap::Unlimited),
            Some(v) if v > 0 => Some(Swap::Total(v as u64)),
            _ => None,
        };
    }
    if let Some(c) = r.cpu() {
        l.cpu_shares = c.shares().filter(|v| *v > 0);
        l.cpu_quota = c.quota().filter(|v| *v != 0);
        l.cpu_period = c.period().filter(|v| *v > 0);
        l.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
    }
    if let Some(p) = r.pids() {
        l.pids_limit = Some(p.limit());
    }
    if let Some(b) = r.block_io() {
        l.blkio_weight = b.weight().filter(|w| *w > 0);
        let rates = |list: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            list.iter()
                .flatten()
                .map(|d| DeviceRate {
                    path: PathBuf::from(format!("{}:{}", d.major(), d.minor())),
                    major: d.major() as u64,
                    minor: d.minor() as u64,
                    bytes_per_sec: d.rate(),
                })
                .collect::<Vec<_>>()
        };
        l.device_read_bps = rates(b.throttle_read_bps_device());
        l.device_write_bps = rates(b.throttle_write_bps_device());
    }
    Ok(l)
}
// ANCHOR_END: limits

/// Where the container's cgroup goes: `linux.cgroupsPath` split into the parent (a path from the
/// root of each hierarchy, as the specification says an absolute path is) and the leaf. A
/// relative path or none nests the container beneath the caller's own cgroup, as every stage does.
pub fn cgroup_place(spec: &Spec, id: &str) -> anyhow::Result<(Option<String>, String)> {
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let Some(path) = path else { return Ok((None, format!("ws-oci-{id}"))) };
    let text = path.to_string_lossy().to_string();
    if text.contains(':') {
        return Err(fail(format!(
            "linux.cgroupsPath {text:?} is systemd's slice:prefix:name form; this runtime manages \
             cgroupfs directly: run the engine with its cgroupfs manager (podman \
             --cgroup-manager cgroupfs)"
        )));
    }
    let trimmed = text.trim_end_matches('/');
    let (parent, leaf) = match trimmed.rsplit_once('/') {
        Some((p, leaf)) if trimmed.starts_with('/') => {
            (if p.is_empty() { None } else { Some(p.to_string()) }, leaf.to_string())
        }
        Some(_) => {
            return Err(fail(format!(
                "linux.cgroupsPath {text:?}: a relative path must be one name (ctr-1); give an \
                 absolute path for a place of its own"
            )))
        }
        None => (None, trimmed.to_string()),
    };
    if leaf.is_empty() {
        return Err(fail(format!("linux.cgroupsPath {text:?} names no cgroup")));
    }
    Ok((parent, leaf))
}

// ANCHOR: seccomp
/// `linux.seccomp` compiled by stage 08's compiler: the OCI form is Docker's profile format
/// without its conditions, so the same parser reads it.
pub fn seccomp(spec: &Spec) -> anyhow::Result<Option<crate::security::seccomp::Compiled>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
        return Ok(None);
    };
    let json = serde_json::to_string(&s)?;
    let profile = crate::security::profile::Profile::parse(&json, "linux.seccomp")?;
    let caps = crate::security::caps::CapabilitySet::all();
    let target = crate::security::profile::Target {
        caps: &caps,
        arch: crate::security::profile::go_arch(),
        kernel: crate::security::profile::running_kernel(),
    };
    let resolved = profile.resolve(&target)?;
    Ok(Some(crate::security::seccomp::compile_with(&resolved, false)?))
}
// ANCHOR_END: seccomp

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},
                               {"type":"network","path":"/run/netns/x"}]}}"#;

    #[test]
    fn a_minimal_config_is_supported_and_its_namespaces_split_into_new_and_joined() {
        let s = spec(MINIMAL);
        assert!(unsupported(&s).is_empty(), "{:?}", unsupported(&s));
        let ns = namespaces(&s).unwrap();
        assert_eq!(ns.new, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(ns.join, vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/run/netns/x"))]);
    }

    #[test]
    fn a_known_property_that_cannot_be_honoured_is_refused_by_name() {
        let s = spec(&MINIMAL.replace(
            r#""linux":{"#,
            r#""linux":{"resources":{"memory":{"swappiness":10},"hugepageLimits":[{"pageSize":"2MB","limit":1}]},"#,
        ));
        let no = unsupported(&s);
        assert!(no.iter().any(|n| n.starts_with("linux.resources.memory.swappiness")), "{no:?}");
        assert!(no.iter().any(|n| n.starts_with("linux.resources.hugepageLimits")), "{no:?}");
    }

    #[test]
    fn an_unknown_property_is_ignored_as_the_specification_requires() {
        let s = spec(&MINIMAL.replace(r#""ociVersion""#, r#""futureThing":{"a":1},"ociVersion""#));
        assert!(unsupported(&s).is_empty());
    }

    #[test]
    fn resources_become_stage_06_limits() {
        let s = spec(&MINIMAL.replace(
            r#""linux":{"#,
            r#""linux":{"resources":{"memory":{"limit":33554432,"swap":-1},
                "cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":64},
                "blockIO":{"weight":300,"throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":1048576}]}},"#,
        ));
        let l = limits(&s).unwrap();
        assert_eq!(l.memory, Some(33554432));
        assert_eq!(l.memory_swap, Some(Swap::Unlimited));
        assert_eq!(
            (l.cpu_shares, l.cpu_quota, l.cpu_period),
            (Some(512), Some(50000), Some(100000))
        );
        assert_eq!(l.pids_limit, Some(64));
        assert_eq!(l.blkio_weight, Some(300));
        assert_eq!(
            (l.device_write_bps[0].major, l.device_write_bps[0].bytes_per_sec),
            (8, 1048576)
        );
    }

    #[test]
    fn cgroups_path_absolute_nested_relative_and_systemd() {
        let with = |p: &str| {
            spec(&MINIMAL.replace(r#""linux":{"#, &format!(r#""linux":{{"cgroupsPath":"{p}","#)))
        };
        assert_eq!(
            cgroup_place(&with("/libpod_parent/libpod-abc"), "x").unwrap(),
            (Some("/libpod_parent".into()), "libpod-abc".into())
        );
        assert_eq!(cgroup_place(&with("/top"), "x").unwrap(), (None, "top".into()));
        assert_eq!(cgroup_place(&with("ctr"), "x").unwrap(), (None, "ctr".into()));
        assert!(cgroup_place(&with("a/b"), "x").is_err());
        let e = cgroup_place(&with("machine.slice:libpod:abc"), "x").unwrap_err();
        assert!(e.to_string().contains("cgroupfs"), "{e}");
        assert_eq!(cgroup_place(&spec(MINIMAL), "x").unwrap(), (None, "ws-oci-x".into()));
    }

    #[test]
    fn the_oci_seccomp_form_is_compiled_by_stage_08s_compiler() {
        let s = spec(&MINIMAL.replace(
            r#""linux":{"#,
            r#""linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]},"#,
        ));
        let compiled = seccomp(&s).unwrap().unwrap();
        assert!(compiled.instructions() > 0);
        assert_eq!(compiled.default, crate::security::profile::Verdict::Allow);
    }

    #[test]
    fn id_maps_are_written_one_line_per_range() {
        let s = spec(&MINIMAL.replace(
            r#""linux":{"#,
            r#""linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#,
        ));
        let maps = s.linux().as_ref().unwrap().uid_mappings().clone().unwrap();
        assert_eq!(id_map_lines(&maps), "0 100000 65536\n");
    }
}
