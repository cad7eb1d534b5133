//! `spec`: a starting config.json for a bundle, as `runc spec` writes one, made of what the
//! stages taught: the namespaces of 01–04, Docker's 14 capabilities and masked paths (08), a
//! read-only root, a cgroup with the devices rule every engine starts from (06).

use serde_json::{json, Value};

/// The configuration for a bundle whose root filesystem is `root` (relative to the bundle, or
/// absolute), running `args`.
pub fn default_spec(root: &str, args: &[String]) -> Value {
    let caps: Vec<String> = crate::security::caps::CapabilitySet::docker_default().names();
    let mount = |dest: &str, typ: &str, src: &str, opts: &[&str]| json!({ "destination": dest, "type": typ, "source": src, "options": opts });
    json!({
        "ociVersion": super::OCI_VERSION,
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": [format!("PATH={}", crate::container::CONTAINER_PATH), "TERM=xterm"],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": root, "readonly": true },
        "hostname": "workshop",
        "mounts": [
            mount("/proc", "proc", "proc", &[]),
            mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts",
                  &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]),
            mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"])
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": crate::security::paths::MASKED_PATHS,
            "readonlyPaths": crate::security::paths::READONLY_PATHS
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_spec_is_a_config_this_runtime_supports() {
        let v = super::default_spec("rootfs", &["sh".into()]);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        assert!(super::super::bundle::unsupported(&spec).is_empty());
        let ns = super::super::bundle::namespaces(&spec).unwrap();
        assert!(ns.join.is_empty());
    }
}
