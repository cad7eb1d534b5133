//! The text formats of the cgroup files, read without touching the kernel, so each is unit-tested.
//!
//! - `/proc/self/cgroup` (cgroups(7)): one line per hierarchy, `ID:CONTROLLERS:PATH`. On v1 each
//!   mounted hierarchy has its own line and the caller may sit at a different path in each; on v2
//!   there is one line, `0::PATH`. On a hybrid machine both kinds appear.
//! - `/proc/cgroups`: the v1 controllers the kernel knows, their hierarchy and whether they are enabled.
//! - flat keyed files (`cpu.stat`, `memory.events`, `pids.events`, `memory.oom_control`):
//!   `KEY VALUE` per line.

/// One line of /proc/self/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The hierarchy id: 0 for the v2 (unified) hierarchy.
    pub hierarchy: u32,
    /// The controllers bound to the hierarchy (`cpu,cpuacct` → both); `name=systemd` is kept as is;
    /// empty for v2.
    pub controllers: Vec<String>,
    /// The caller's cgroup in that hierarchy, from its root: `/` or `/user.slice/…`.
    pub path: String,
}

/// Parses the text of /proc/PID/cgroup.
pub fn self_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.to_string();
            let controllers =
                controllers.split(',').filter(|c| !c.is_empty()).map(String::from).collect();
            Some(Membership { hierarchy, controllers, path })
        })
        .collect()
}

/// The caller's v2 cgroup (the `0::` line), if it has one.
pub fn v2_path(memberships: &[Membership]) -> Option<&str> {
    memberships
        .iter()
        .find(|m| m.hierarchy == 0 && m.controllers.is_empty())
        .map(|m| m.path.as_str())
}

/// The caller's v1 membership for `controller`, if a v1 hierarchy carries it.
pub fn v1_membership<'a>(
    memberships: &'a [Membership],
    controller: &str,
) -> Option<&'a Membership> {
    memberships.iter().find(|m| m.hierarchy != 0 && m.controllers.iter().any(|c| c == controller))
}

/// One row of /proc/cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownController {
    pub name: String,
    /// 0 when the controller is not bound to any v1 hierarchy (on v2 or hybrid it may be on v2).
    pub hierarchy: u32,
    /// False when turned off on the kernel command line (`cgroup_disable=memory`).
    pub enabled: bool,
}

/// Parses the text of /proc/cgroups.
pub fn proc_cgroups(text: &str) -> Vec<KnownController> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(KnownController {
                name: f.first()?.to_string(),
                hierarchy: f.get(1)?.parse().ok()?,
                enabled: *f.get(3)? == "1",
            })
        })
        .collect()
}

/// The value of `key` in a flat keyed file such as cpu.stat or memory.events.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(key)).then(|| f.next()?.parse().ok()).flatten()
    })
}

/// A space-separated controller list (cgroup.controllers, cgroup.subtree_control).
pub fn controller_list(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_cgroup_reads_v1_comounts_and_the_v2_line() {
        let text = "12:cpu,cpuacct:/user.slice\n9:name=systemd:/user.slice/s.scope\n0::/user.slice/s.scope\n";
        let m = self_cgroup(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(v1_membership(&m, "cpuacct").unwrap().path, "/user.slice");
        assert_eq!(v1_membership(&m, "memory"), None);
        assert_eq!(v2_path(&m), Some("/user.slice/s.scope"));
    }

    #[test]
    fn proc_cgroups_reads_enabled_and_hierarchy() {
        let text =
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nmemory\t0\t11\t0\n";
        assert_eq!(
            proc_cgroups(text),
            [
                KnownController { name: "cpu".into(), hierarchy: 1, enabled: true },
                KnownController { name: "memory".into(), hierarchy: 0, enabled: false },
            ]
        );
    }

    #[test]
    fn keyed_finds_one_counter() {
        let text = "usage_usec 1234\nnr_periods 9\nnr_throttled 7\n";
        assert_eq!(keyed(text, "nr_throttled"), Some(7));
        assert_eq!(keyed(text, "usage"), None);
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", "oom_kill"), Some(1));
    }
}
