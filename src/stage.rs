//! The stages of the workshop, in order. Each adds one mechanism to the one before.

use nix::sched::CloneFlags;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Pid = 1,
    MountProc,
    Rootfs,
    Network,
    User,
    Cgroups,
    Overlay,
    Security,
    Lifecycle,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Pid,
        Stage::MountProc,
        Stage::Rootfs,
        Stage::Network,
        Stage::User,
        Stage::Cgroups,
        Stage::Overlay,
        Stage::Security,
        Stage::Lifecycle,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    /// The binary's name: `01_pid`.
    pub fn bin(self) -> &'static str {
        match self {
            Stage::Pid => "01_pid",
            Stage::MountProc => "02_mount_proc",
            Stage::Rootfs => "03_rootfs",
            Stage::Network => "04_network",
            Stage::User => "05_user",
            Stage::Cgroups => "06_cgroups",
            Stage::Overlay => "07_overlay",
            Stage::Security => "08_security",
            Stage::Lifecycle => "09_lifecycle",
        }
    }

    /// What the stage adds, in the course's words.
    pub fn adds(self) -> &'static str {
        match self {
            Stage::Pid => "PID namespace: the container's first process is PID 1",
            Stage::MountProc => "mount namespace and a fresh /proc: ps sees only the container",
            Stage::Rootfs => "pivot_root into its own root filesystem, own hostname and IPC",
            Stage::Network => "network namespace, veth pair, own IP address",
            Stage::User => "user namespace: root inside, an ordinary user outside",
            Stage::Cgroups => "cgroup limits: CPU, memory, pids, I/O",
            Stage::Overlay => "overlayfs: shared read-only layers, copy-on-write",
            Stage::Security => "capabilities, seccomp, read-only root, masked paths",
            Stage::Lifecycle => "create, start, stop, restart, exec, rm with saved state",
        }
    }

    /// Whether this stage is in the workshop yet.
    pub fn built(self) -> bool {
        self <= Stage::Lifecycle
    }

    /// Parses `1`, `01`, `01_pid` or `pid`.
    pub fn parse(s: &str) -> Option<Stage> {
        let s = s.trim();
        Stage::ALL.into_iter().find(|st| {
            let bin = st.bin();
            s == bin
                || s.parse::<u8>().ok() == Some(st.number())
                || bin.split_once('_').is_some_and(|(_, topic)| topic == s)
        })
    }

    /// The namespaces a container built up to this stage lives in: each stage adds its own.
    pub fn namespaces(self) -> CloneFlags {
        let mut flags = CloneFlags::CLONE_NEWPID;
        if self >= Stage::MountProc {
            flags |= CloneFlags::CLONE_NEWNS;
        }
        if self >= Stage::Rootfs {
            flags |= CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
        }
        if self >= Stage::Network {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        if self >= Stage::User {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        flags
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.bin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_names_and_topics() {
        assert_eq!(Stage::parse("1"), Some(Stage::Pid));
        assert_eq!(Stage::parse("03"), Some(Stage::Rootfs));
        assert_eq!(Stage::parse("02_mount_proc"), Some(Stage::MountProc));
        assert_eq!(Stage::parse("network"), Some(Stage::Network));
        assert_eq!(Stage::parse("10"), None);
    }

    #[test]
    fn each_stage_keeps_the_namespaces_of_the_one_before() {
        for pair in Stage::ALL.windows(2) {
            assert!(
                pair[1].namespaces().contains(pair[0].namespaces()),
                "{} drops one of {}",
                pair[1],
                pair[0]
            );
        }
        assert_eq!(Stage::Pid.namespaces(), CloneFlags::CLONE_NEWPID);
    }
}
