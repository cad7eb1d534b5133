//! Capabilities: root's power cut into about forty pieces, and a container keeps only a few.
//!
//! Since Linux 2.2 "root" is not one privilege but a set of capabilities (capabilities(7)):
//! `CAP_SYS_ADMIN` mounts, `CAP_NET_ADMIN` configures interfaces, `CAP_SYS_MODULE` loads kernel
//! modules, `CAP_CHOWN` changes any file's owner… A process carries five sets of them:
//!
//! | set | what it means |
//! |---|---|
//! | effective (CapEff) | what the kernel checks right now |
//! | permitted (CapPrm) | what the process may put into effective |
//! | inheritable (CapInh) | what may pass through execve to a program whose file allows it |
//! | bounding (CapBnd) | the ceiling: nothing outside it can ever be gained again, not even by a setuid-root program |
//! | ambient (CapAmb) | what passes through execve to any program (for non-root users) |
//!
//! Docker starts a container with 14 of them ([`DOCKER_DEFAULT`]) in the bounding, permitted and
//! effective sets, so root in a container can chown files and bind port 80 but cannot mount, load
//! a module or change the clock. `--cap-drop` and `--cap-add` change that list ([`resolve`]).
//! Inside a user namespace the capabilities only count for what that namespace owns, but
//! dropping them still matters: they are what the container's root attacks the kernel with.

use caps::{CapSet, Capability};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Docker's default capabilities (moby's `oci/caps/defaults.go`), in its order.
pub const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// A set of capabilities, kept sorted by the kernel's number so that it prints the same every time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CapabilitySet(Vec<Capability>);

impl CapabilitySet {
    pub fn new(caps: impl IntoIterator<Item = Capability>) -> CapabilitySet {
        let mut v: Vec<Capability> = caps.into_iter().collect();
        v.sort_by_key(|c| c.index());
        v.dedup();
        CapabilitySet(v)
    }

    /// Every capability this library knows (what `--privileged` and `--cap-add ALL` give).
    pub fn all() -> CapabilitySet {
        CapabilitySet::new(caps::all())
    }

    /// Docker's default 14.
    pub fn docker_default() -> CapabilitySet {
        CapabilitySet::new(DOCKER_DEFAULT)
    }

    /// The set whose bits are set in `mask` (a hex mask as /proc/PID/status shows it); bits the
    /// library has no name for are left out.
    pub fn from_mask(mask: u64) -> CapabilitySet {
        CapabilitySet::new(caps::all().into_iter().filter(|c| mask & c.bitmask() != 0))
    }

    pub fn mask(&self) -> u64 {
        self.0.iter().fold(0, |m, c| m | c.bitmask())
    }

    pub fn contains(&self, cap: Capability) -> bool {
        self.0.contains(&cap)
    }

    /// Whether the set holds the capability named `name` (`CAP_SYS_ADMIN`, as seccomp profiles say).
    pub fn contains_name(&self, name: &str) -> bool {
        name.parse::<Capability>().is_ok_and(|c| self.contains(c))
    }

    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, `CAP_` prefix and all: `CAP_CHOWN CAP_KILL …`.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|c| c.to_string()).collect()
    }
}

impl fmt::Display for CapabilitySet {
    /// Short names, as `capsh --print` and Docker's flags write them: `chown,kill,net_raw`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        let names: Vec<String> = self
            .0
            .iter()
            .map(|c| c.to_string().trim_start_matches("CAP_").to_lowercase())
            .collect();
        f.write_str(&names.join(","))
    }
}

/// One name from `--cap-add` or `--cap-drop`: `ALL`, or a capability written `CAP_NET_ADMIN`,
/// `NET_ADMIN` or `net_admin` (Docker accepts all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapName {
    All,
    One(Capability),
}

/// Parses one capability name (clap's value parser for `--cap-add` and `--cap-drop`: clap puts the
/// flag and the value before the message, on one line).
pub fn parse_cap_name(value: &str) -> Result<CapName, String> {
    if value.eq_ignore_ascii_case("ALL") {
        return Ok(CapName::All);
    }
    let canonical = caps::to_canonical(value.trim());
    canonical.parse::<Capability>().map(CapName::One).map_err(|_| {
        format!(
            "no capability is named {value:?}; use a name from capabilities(7) such as NET_ADMIN \
             or CAP_SYS_TIME, or ALL"
        )
    })
}

/// The final capability set, as Docker computes it (moby's `caps.TweakCapabilities`):
/// `--privileged` gives every capability; `--cap-add ALL` gives every one except those dropped;
/// `--cap-drop ALL` gives exactly those added; otherwise Docker's 14, less the dropped, plus the
/// added.
pub fn resolve(add: &[CapName], drop: &[CapName], privileged: bool) -> CapabilitySet {
    let named = |list: &[CapName]| -> Vec<Capability> {
        list.iter()
            .filter_map(|c| match c {
                CapName::One(c) => Some(*c),
                CapName::All => None,
            })
            .collect()
    };
    let (adds, drops) = (named(add), named(drop));
    if privileged {
        CapabilitySet::all()
    } else if add.contains(&CapName::All) {
        CapabilitySet::new(caps::all().into_iter().filter(|c| !drops.contains(c)))
    } else if drop.contains(&CapName::All) {
        CapabilitySet::new(adds)
    } else {
        CapabilitySet::new(
            DOCKER_DEFAULT.into_iter().filter(|c| !drops.contains(c)).chain(adds.iter().copied()),
        )
    }
}

/// Lowers the bounding set to `keep`: every capability outside it is gone for good, for this
/// process and everything it will ever exec, setuid programs included (prctl(PR_CAPBSET_DROP)).
/// Needs CAP_SETPCAP, so it runs before the process changes to a non-root `--user`.
pub fn drop_bounding(keep: &CapabilitySet) -> anyhow::Result<()> {
    // Only what this kernel knows: dropping a capability newer than the kernel is EINVAL.
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| {
                anyhow::anyhow!("prctl(PR_CAPBSET_DROP, {cap}) failed: {e} (is CAP_SETPCAP held?)")
            })?;
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets (capset(2)) and clears the ambient set.
///
/// As Docker does since CVE-2022-24769 (moby 20.10.14): the inheritable set is left empty, so a
/// program with file capabilities gains nothing from it; and a non-root `--user` runs with empty
/// effective and permitted sets (`root` is false), as a non-root user on the host does: the
/// capabilities stay in the bounding set, reachable only through a setuid-root or file-capability
/// program, which `--security-opt no-new-privileges` also shuts.
///
/// Runs after the user ids are changed (see [`super::apply_in_child`]).
pub fn apply(keep: &CapabilitySet, root: bool) -> anyhow::Result<()> {
    let set: caps::CapsHashSet =
        if root { keep.iter().collect() } else { caps::CapsHashSet::new() };
    let fail = |what: &str, e: caps::errors::CapsError| anyhow::anyhow!("capset({what}): {e}");
    // Effective first: it must stay inside permitted at every step.
    caps::set(None, CapSet::Effective, &set).map_err(|e| fail("effective", e))?;
    caps::set(None, CapSet::Inheritable, &caps::CapsHashSet::new())
        .map_err(|e| fail("inheritable", e))?;
    caps::set(None, CapSet::Permitted, &set).map_err(|e| fail("permitted", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| fail("ambient", e))?;
    Ok(())
}

/// A process's five capability sets, as /proc/PID/status shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessCaps {
    pub inheritable: CapabilitySet,
    pub permitted: CapabilitySet,
    pub effective: CapabilitySet,
    pub bounding: CapabilitySet,
    pub ambient: CapabilitySet,
}

impl ProcessCaps {
    /// Parses the `Cap*:` lines of a /proc/PID/status text.
    pub fn parse_status(status: &str) -> anyhow::Result<ProcessCaps> {
        let field = |name: &str| -> anyhow::Result<CapabilitySet> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .ok_or_else(|| anyhow::anyhow!("no {name} line in /proc/PID/status"))?;
            let mask = u64::from_str_radix(line.trim(), 16)
                .map_err(|e| anyhow::anyhow!("{name}: {:?} is not a hex mask: {e}", line.trim()))?;
            Ok(CapabilitySet::from_mask(mask))
        };
        Ok(ProcessCaps {
            inheritable: field("CapInh")?,
            permitted: field("CapPrm")?,
            effective: field("CapEff")?,
            bounding: field("CapBnd")?,
            ambient: field("CapAmb")?,
        })
    }

    /// Reads `/proc/<pid>/status` (`pid` None: this process) through the /proc mounted here.
    pub fn read(pid: Option<i32>) -> anyhow::Result<ProcessCaps> {
        let path = match pid {
            Some(pid) => format!("/proc/{pid}/status"),
            None => "/proc/self/status".to_string(),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
        ProcessCaps::parse_status(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<CapName> {
        list.iter().map(|n| parse_cap_name(n).unwrap()).collect()
    }

    #[test]
    fn names_are_accepted_with_or_without_cap_and_in_any_case() {
        for n in ["CAP_NET_ADMIN", "NET_ADMIN", "net_admin", "cap_net_admin", "Net_Admin"] {
            assert_eq!(parse_cap_name(n).unwrap(), CapName::One(Capability::CAP_NET_ADMIN), "{n}");
        }
        assert_eq!(parse_cap_name("all").unwrap(), CapName::All);
        assert_eq!(parse_cap_name("ALL").unwrap(), CapName::All);
    }

    #[test]
    fn an_unknown_name_is_one_line_naming_the_value() {
        let e = parse_cap_name("NET_ADMN").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("\"NET_ADMN\"") && e.contains("capabilities(7)"), "{e}");
    }

    #[test]
    fn the_default_is_dockers_fourteen() {
        let set = resolve(&[], &[], false);
        assert_eq!(set.len(), 14);
        assert_eq!(set, CapabilitySet::docker_default());
        assert!(set.contains(Capability::CAP_NET_RAW));
        assert!(!set.contains(Capability::CAP_SYS_ADMIN));
        assert_eq!(
            set.to_string(),
            "chown,dac_override,fowner,fsetid,kill,setgid,setuid,setpcap,net_bind_service,\
             net_raw,sys_chroot,mknod,audit_write,setfcap"
        );
    }

    #[test]
    fn drop_then_add_as_docker_does() {
        let set = resolve(&names(&["SYS_ADMIN"]), &names(&["NET_RAW", "chown"]), false);
        assert_eq!(set.len(), 13);
        assert!(set.contains(Capability::CAP_SYS_ADMIN));
        assert!(!set.contains(Capability::CAP_NET_RAW) && !set.contains(Capability::CAP_CHOWN));

        // --cap-drop ALL --cap-add NET_BIND_SERVICE: exactly that one.
        let set = resolve(&names(&["NET_BIND_SERVICE"]), &names(&["ALL"]), false);
        assert_eq!(set.names(), ["CAP_NET_BIND_SERVICE"]);
        assert!(resolve(&[], &names(&["ALL"]), false).is_empty());

        // --cap-add ALL wins over --cap-drop ALL; --cap-add ALL --cap-drop X is all but X.
        assert_eq!(resolve(&names(&["ALL"]), &names(&["ALL"]), false), CapabilitySet::all());
        let set = resolve(&names(&["ALL"]), &names(&["SYS_MODULE"]), false);
        assert_eq!(set.len(), CapabilitySet::all().len() - 1);
        assert!(!set.contains(Capability::CAP_SYS_MODULE));

        // --privileged: everything, whatever else was said.
        assert_eq!(resolve(&[], &names(&["ALL"]), true), CapabilitySet::all());
    }

    #[test]
    fn masks_round_trip_and_proc_status_is_read() {
        let d = CapabilitySet::docker_default();
        assert_eq!(d.mask(), 0x00000000a80425fb); // what `docker run` shows in CapEff
        assert_eq!(CapabilitySet::from_mask(d.mask()), d);
        let status = "Name:\tsh\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
                      CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n";
        let p = ProcessCaps::parse_status(status).unwrap();
        assert_eq!(p.effective, d);
        assert_eq!(p.bounding, d);
        assert!(p.inheritable.is_empty() && p.ambient.is_empty());
        assert!(ProcessCaps::parse_status("Name: sh\n")
            .unwrap_err()
            .to_string()
            .contains("CapInh"));
        // This test process can read its own.
        ProcessCaps::read(None).unwrap();
    }

    #[test]
    fn apply_leaves_exactly_the_final_set() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: capset to a chosen set needs root's capabilities");
            return;
        }
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the child makes system calls, reads a /proc file and _exit()s.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let want = CapabilitySet::docker_default();
                let ok = drop_bounding(&want).is_ok()
                    && apply(&want, true).is_ok()
                    && ProcessCaps::read(None).is_ok_and(|p| {
                        p.effective == want
                            && p.permitted == want
                            && p.bounding == want
                            && p.inheritable.is_empty()
                            && p.ambient.is_empty()
                    });
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
