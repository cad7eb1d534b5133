//! AppArmor: a Linux security module that confines a program by rules about paths and operations,
//! checked by the kernel on every access, whatever the program's capabilities.
//!
//! Capabilities and seccomp say which *powers* and *system calls* the container's root keeps; a
//! flag such as `--cap-add SYS_ADMIN` gives one back, and Docker's seccomp profile then allows
//! mount(2) too. AppArmor is the layer beneath: its profile says `deny mount,`, so even that root
//! cannot mount. Docker confines every container with its `docker-default` profile on hosts where
//! AppArmor is active (Ubuntu, Debian, SUSE); Fedora and RHEL use SELinux labels instead.
//!
//! The workshop does what Docker does, with two differences a course wants: the profile is data in
//! the repository (`workshop-default.apparmor`, modelled on Docker's template), and it is loaded
//! for each container under the container's own name (`ws-TAG`), recorded like a veth or a cgroup,
//! and removed with the container, so that the host's kernel keeps no profile of ours afterwards.
//!
//! How a profile gets onto a process: `apparmor_parser` compiles the text and loads it into the
//! kernel (through `/sys/kernel/security/apparmor/.replace`); the container's first process writes
//! `exec NAME` to `/proc/self/attr/apparmor/exec`, and its next execve(2) runs the command under
//! the profile (runc's `aa_change_onexec`). An unconfined process may do that even with
//! no_new_privs set, which is why it can come before the privileges are dropped.

use crate::runtime::{Cleanup, Resource};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The profile's text, with `@NAME@` where the container's name goes.
pub const PROFILE_TEMPLATE: &str = include_str!("workshop-default.apparmor");

/// What `--security-opt apparmor=workshop-default` names.
pub const DEFAULT_PROFILE: &str = "workshop-default";

/// Where AppArmor shows itself to user space (securityfs).
const SECURITYFS: &str = "/sys/kernel/security/apparmor";

/// The AppArmor profile a container runs under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppArmor {
    /// None: `--security-opt apparmor=unconfined`, `--privileged`, or a host without AppArmor.
    Unconfined,
    /// The workshop's profile, loaded for this container under its own name (see [`load`]).
    WorkshopDefault,
    /// A profile the host has loaded already (`--security-opt apparmor=NAME`), as in Docker.
    Named(String),
}

impl AppArmor {
    /// The profile's name in the kernel for the container whose host-side name is `container`.
    pub fn profile_name(&self, container: &str) -> Option<String> {
        match self {
            AppArmor::Unconfined => None,
            AppArmor::WorkshopDefault => Some(container.to_string()),
            AppArmor::Named(name) => Some(name.clone()),
        }
    }
}

/// What this host offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// The kernel has no AppArmor, or it is switched off (`apparmor=0`, another major LSM).
    Absent,
    /// AppArmor confines programs here; `parser` is `apparmor_parser` when installed.
    Active { parser: Option<PathBuf> },
}

impl Host {
    pub fn detect() -> Host {
        let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y");
        if enabled && Path::new(SECURITYFS).is_dir() {
            Host::Active { parser: find_parser() }
        } else {
            Host::Absent
        }
    }

    /// Whether the workshop can load its profile here.
    pub fn can_load(&self) -> bool {
        matches!(self, Host::Active { parser: Some(_) })
    }

    /// One line for a person: what this host has, and what to do when something is missing.
    pub fn describe(&self) -> String {
        match self {
            Host::Absent => "AppArmor is not active on this kernel".to_string(),
            Host::Active { parser: Some(_) } => {
                "AppArmor is active, apparmor_parser installed".into()
            }
            Host::Active { parser: None } => {
                "AppArmor is active but apparmor_parser is missing: sudo apt-get install apparmor"
                    .into()
            }
        }
    }
}

/// `apparmor_parser`, on the PATH or where distributions put it (sudo's PATH may lack /sbin).
fn find_parser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("apparmor_parser"))
        .find(|p| p.is_file())
}

/// Resolves `--security-opt apparmor=VALUE` (or its absence) on `host`, as Docker does: no option
/// means the default profile where AppArmor can be used and none where it cannot; `--privileged`
/// means unconfined. Errors are one line naming the option and what to do.
pub fn resolve(opt: Option<&str>, privileged: bool, host: &Host) -> anyhow::Result<AppArmor> {
    if privileged {
        return Ok(AppArmor::Unconfined);
    }
    let flag = |v: &str| format!("--security-opt apparmor={v}");
    match opt {
        None if host.can_load() => Ok(AppArmor::WorkshopDefault),
        None | Some("unconfined") => Ok(AppArmor::Unconfined),
        Some(name) => {
            match host {
                Host::Absent => anyhow::bail!(
                    "{}: AppArmor is not active on this kernel; leave the option out (see `cargo run -- doctor`)",
                    flag(name)
                ),
                Host::Active { parser: None } if name == DEFAULT_PROFILE => anyhow::bail!(
                    "{}: apparmor_parser is not installed to load it: sudo apt-get install apparmor",
                    flag(name)
                ),
                Host::Active { .. } if name == DEFAULT_PROFILE => Ok(AppArmor::WorkshopDefault),
                Host::Active { .. } if is_loaded(name) => Ok(AppArmor::Named(name.to_string())),
                Host::Active { .. } => anyhow::bail!(
                    "{}: no AppArmor profile of that name is loaded (see {SECURITYFS}/profiles), \
                     or use apparmor={DEFAULT_PROFILE}",
                    flag(name)
                ),
            }
        }
    }
}

/// Whether the kernel has a profile named `name` (a line `NAME (enforce)` in `profiles`).
pub fn is_loaded(name: &str) -> bool {
    loaded_profiles().iter().any(|p| p == name)
}

/// The names of the profiles the kernel holds.
pub fn loaded_profiles() -> Vec<String> {
    std::fs::read_to_string(format!("{SECURITYFS}/profiles"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.rsplit_once(" (").map(|(name, _)| name.to_string()))
        .collect()
}

/// The profile's text for the container `name`.
pub fn profile_text(name: &str) -> String {
    PROFILE_TEMPLATE.replace("@NAME@", name)
}

// ANCHOR: load
/// Loads the workshop's profile as `name`, recorded first so that a run killed right after is
/// cleaned up by the next one. `-K`: no cache file on the host; `-r`: load, or replace one of the
/// same name left by a dead run.
pub fn load(name: &str, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    let Host::Active { parser: Some(parser) } = Host::detect() else {
        anyhow::bail!("cannot load an AppArmor profile here: {}", Host::detect().describe());
    };
    cleanup.create(Resource::AppArmorProfile { name: name.to_string() }, || {
        use std::io::Write;
        let mut child = std::process::Command::new(&parser)
            .args(["-K", "-r", "-q"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("run {}", parser.display()))?;
        child
            .stdin
            .take()
            .context("apparmor_parser's stdin")?
            .write_all(profile_text(name).as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            anyhow::bail!(
                "apparmor_parser could not load the profile {name}: {}",
                why.lines().next().unwrap_or("no reason given")
            );
        }
        Ok(())
    })
}
// ANCHOR_END: load

/// Removes the profile `name` from the kernel (the undo of [`load`]); one already gone is fine.
/// Processes still confined by it keep their copy until they exit.
pub fn unload(name: &str) -> anyhow::Result<()> {
    match std::fs::write(format!("{SECURITYFS}/.remove"), name) {
        Ok(()) => Ok(()),
        // ENOENT: no such profile; no securityfs: no AppArmor left to hold it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || !Path::new(SECURITYFS).exists() => {
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("remove the AppArmor profile {name}"))),
    }
}

// ANCHOR: exec_under
/// In the container, before execve: the next program runs under the profile `name`. The file is
/// AppArmor's own since Linux 5.8; older kernels have only the shared `/proc/self/attr/exec`.
pub fn exec_under(name: &str) -> anyhow::Result<()> {
    let own = Path::new("/proc/self/attr/apparmor/exec");
    let attr = if own.exists() { own } else { Path::new("/proc/self/attr/exec") };
    std::fs::write(attr, format!("exec {name}"))
        .with_context(|| format!("write `exec {name}` to {}", attr.display()))
}
// ANCHOR_END: exec_under

/// The profile process `pid` runs under, as the kernel says it: `ws-3fa2c1 (enforce)`, or
/// `unconfined`; `None` without AppArmor.
pub fn current(pid: i32) -> Option<String> {
    let own = format!("/proc/{pid}/attr/apparmor/current");
    let text = std::fs::read_to_string(&own)
        .or_else(|_| std::fs::read_to_string(format!("/proc/{pid}/attr/current")))
        .ok()?;
    Some(text.trim_end_matches(['\n', '\0']).to_string())
}

/// The kernel's log lines that record AppArmor refusing something to `profile` (as root: read from
/// /dev/kmsg, the ring buffer `dmesg` shows), shortened to the fields a person reads:
/// `apparmor="DENIED" operation="mount" profile="ws-3fa2c1" name="/mnt/" …`.
pub fn denials(profile: &str) -> Vec<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut kmsg) =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg")
    else {
        return Vec::new();
    };
    let wanted = format!("profile=\"{profile}\"");
    let mut found = Vec::new();
    let mut record = vec![0u8; 8192];
    // One record per read; EAGAIN at the end of the buffer; EPIPE when a record was overwritten
    // while reading (then go on with the next).
    loop {
        match kmsg.read(&mut record) {
            Ok(0) => break,
            Ok(n) => {
                let line = String::from_utf8_lossy(&record[..n]);
                let message = line.split_once(';').map_or(&*line, |(_, m)| m).trim_end();
                if message.contains("apparmor=\"DENIED\"") && message.contains(&wanted) {
                    let keep = ["apparmor=", "operation=", "profile=", "name=", "info="];
                    let fields: Vec<&str> = message
                        .split_whitespace()
                        .filter(|f| keep.iter().any(|k| f.starts_with(k)))
                        .collect();
                    found.push(fields.join(" "));
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_named_for_the_container_and_denies_mount() {
        let text = profile_text("ws-abc123");
        assert!(text.contains("profile ws-abc123 flags="));
        assert!(text.contains("peer=ws-abc123,"));
        assert!(!text.contains("@NAME@"));
        assert!(text.lines().any(|l| l.trim() == "audit deny mount,"));
        assert!(!text.contains("#include"), "self-contained: it must load on any host");
    }

    #[test]
    fn no_option_means_the_default_profile_only_where_it_can_be_loaded() {
        let usable = Host::Active { parser: Some("/sbin/apparmor_parser".into()) };
        let no_parser = Host::Active { parser: None };
        assert_eq!(resolve(None, false, &usable).unwrap(), AppArmor::WorkshopDefault);
        assert_eq!(resolve(None, false, &no_parser).unwrap(), AppArmor::Unconfined);
        assert_eq!(resolve(None, false, &Host::Absent).unwrap(), AppArmor::Unconfined);
        assert_eq!(resolve(None, true, &usable).unwrap(), AppArmor::Unconfined);
        assert_eq!(resolve(Some("unconfined"), false, &usable).unwrap(), AppArmor::Unconfined);
        assert_eq!(
            resolve(Some("workshop-default"), false, &usable).unwrap(),
            AppArmor::WorkshopDefault
        );
    }

    #[test]
    fn a_profile_that_cannot_be_had_is_one_line_naming_the_option() {
        let no_parser = Host::Active { parser: None };
        for (opt, host, says) in [
            ("workshop-default", &Host::Absent, "not active on this kernel"),
            ("docker-default", &Host::Absent, "not active on this kernel"),
            ("workshop-default", &no_parser, "apt-get install apparmor"),
            ("no-such-profile-here", &no_parser, "no AppArmor profile of that name"),
        ] {
            let e = resolve(Some(opt), false, host).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--security-opt apparmor={opt}: ")), "{e}");
            assert!(e.contains(says), "{e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn each_container_has_its_own_profile_name() {
        assert_eq!(AppArmor::WorkshopDefault.profile_name("ws-1"), Some("ws-1".into()));
        assert_eq!(AppArmor::Named("p".into()).profile_name("ws-1"), Some("p".into()));
        assert_eq!(AppArmor::Unconfined.profile_name("ws-1"), None);
    }
}
