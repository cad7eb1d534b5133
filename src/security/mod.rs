//! Security: what the container's root can still do once it is inside, and how Docker takes most of
//! it away.
//!
//! Namespaces decide what a container *sees*; they do not stop its root from calling into the one
//! kernel it shares with the host. Stage 08 hardens the container as `docker run` does, each
//! mechanism a module named for it:
//! - [`caps`]: capabilities, the pieces of root's power; Docker keeps 14 of about 40;
//! - [`seccomp`] (with [`profile`], Docker's JSON format): an allow-list of system calls;
//! - `no_new_privs` (prctl(2) PR_SET_NO_NEW_PRIVS): no setuid program or file capability can raise
//!   privileges again (`--security-opt no-new-privileges`);
//! - [`paths`]: masked and read-only paths of /proc and /sys, `--read-only`, `--tmpfs`;
//! - [`user`]: `--user`, an ordinary user instead of root;
//! - [`fds`]: no descriptor of the runtime's leaks into the container (CVE-2024-21626);
//! - [`apparmor`]: on hosts where AppArmor is active, a profile of rules no capability overrides.
//!
//! [`SecurityArgs`] are the flags, [`SecurityArgs::resolve`] turns them into a
//! [`SecurityConfig`], and [`apply_in_child`] applies it in the container, in the one order that
//! works (see there). `--privileged` turns all of it off, for contrast.

pub mod apparmor;
pub mod caps;
pub mod fds;
pub mod paths;
pub mod profile;
pub mod seccomp;
pub mod user;

pub use caps::{CapName, CapabilitySet, ProcessCaps};
pub use paths::{MountStep, Tmpfs};
pub use profile::{Profile, Resolved, Verdict};
pub use seccomp::Compiled;
pub use user::User;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// Flags from stage 08 on: Docker's hardening flags, with Docker's names and meanings.
#[derive(Args, Debug, Clone, Default)]
pub struct SecurityArgs {
    /// Take a capability away from the container's root: NET_RAW (no ping), CHOWN…, or ALL.
    /// May be repeated. Names as in capabilities(7), with or without CAP_, in any case.
    #[arg(long, value_name = "CAP", value_parser = caps::parse_cap_name)]
    pub cap_drop: Vec<CapName>,

    /// Give the container's root a capability Docker leaves out: SYS_ADMIN, NET_ADMIN…, or ALL.
    /// May be repeated.
    #[arg(long, value_name = "CAP", value_parser = caps::parse_cap_name)]
    pub cap_add: Vec<CapName>,

    /// Mount the container's root filesystem read-only (add --tmpfs /tmp for a place to write).
    #[arg(long)]
    pub read_only: bool,

    /// Mount an empty tmpfs (in memory) here: /tmp, or /tmp:size=64m,mode=1777 with options as
    /// Docker takes them. May be repeated.
    #[arg(long, value_name = "PATH[:OPTIONS]", value_parser = paths::parse_tmpfs)]
    pub tmpfs: Vec<Tmpfs>,

    /// no-new-privileges (setuid programs cannot raise privileges), seccomp=unconfined (no
    /// system call filter), seccomp=FILE (a profile in Docker's JSON format), or
    /// apparmor=unconfined|workshop-default|PROFILE (where AppArmor is active). May be repeated.
    #[arg(long, value_name = "OPT", value_parser = parse_security_opt)]
    pub security_opt: Vec<SecurityOpt>,

    /// Run the command as this user: UID[:GID], or NAME[:GROUP] from the image's /etc/passwd
    /// and /etc/group (root by default).
    #[arg(short = 'u', long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// Turn the hardening off: every capability, no seccomp filter, nothing masked. Shows what
    /// the other flags protect against; never for real work.
    #[arg(long)]
    pub privileged: bool,
}

/// One `--security-opt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityOpt {
    NoNewPrivileges(bool),
    SeccompUnconfined,
    SeccompProfile(PathBuf),
    AppArmor(String),
}

/// Parses `--security-opt` as Docker does: `no-new-privileges[=true|false]`, `seccomp=unconfined`,
/// `seccomp=FILE`, `apparmor=PROFILE` (Docker's older `:` for `=` is accepted too).
pub fn parse_security_opt(value: &str) -> Result<SecurityOpt, String> {
    let (key, v) = match value.split_once(['=', ':']) {
        Some((k, v)) => (k, Some(v)),
        None => (value, None),
    };
    match (key, v) {
        ("no-new-privileges", None | Some("true")) => Ok(SecurityOpt::NoNewPrivileges(true)),
        ("no-new-privileges", Some("false")) => Ok(SecurityOpt::NoNewPrivileges(false)),
        ("seccomp", Some("unconfined")) => Ok(SecurityOpt::SeccompUnconfined),
        ("seccomp", Some(file)) if !file.is_empty() => {
            Ok(SecurityOpt::SeccompProfile(PathBuf::from(file)))
        }
        ("apparmor", Some(name)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
            Ok(SecurityOpt::AppArmor(name.to_string()))
        }
        _ => Err("use no-new-privileges, seccomp=unconfined, seccomp=FILE (a JSON profile) or \
                  apparmor=PROFILE"
            .to_string()),
    }
}

/// The container's seccomp filter, before compiling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seccomp {
    /// No filter: `--security-opt seccomp=unconfined`, or `--privileged`.
    Unconfined,
    /// A profile resolved for this container; `source` is "Docker's default profile" or the path.
    Profile { source: String, profile: Resolved },
}

/// Everything stage 08 applies to a container, resolved from the flags and the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityConfig {
    /// The final capability set: bounding set, and permitted/effective for a root user.
    pub caps: CapabilitySet,
    pub seccomp: Seccomp,
    pub no_new_privs: bool,
    /// `--read-only`: the root filesystem remounted read-only.
    pub read_only: bool,
    pub tmpfs: Vec<Tmpfs>,
    pub user: User,
    /// Masked and read-only paths (empty with `--privileged`, as in Docker).
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub privileged: bool,
    /// The AppArmor profile, where the host has AppArmor (see [`apparmor`]).
    pub apparmor: apparmor::AppArmor,
    /// The filter compiled once, when the flags are read: the container's process is a copy of
    /// the stage's memory, so it installs this without compiling again (that took ~10 ms).
    #[serde(skip)]
    pub compiled: CompiledOnce,
}

/// A compiled filter carried beside the profile it was made from; equal whatever it holds, as
/// it follows from the profile.
#[derive(Clone, Debug, Default)]
pub struct CompiledOnce(pub Option<Compiled>);

impl PartialEq for CompiledOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledOnce {}

impl SecurityArgs {
    /// The configuration these flags ask for, in the image at `rootfs` (where `--user` names are
    /// looked up). The errors are one line naming the flag, the value and what to do.
    pub fn resolve(&self, rootfs: &Path) -> anyhow::Result<SecurityConfig> {
        let caps = caps::resolve(&self.cap_add, &self.cap_drop, self.privileged);
        let mut no_new_privs = false;
        let mut seccomp_opt = None;
        let mut apparmor_opt = None;
        for opt in &self.security_opt {
            match opt {
                SecurityOpt::NoNewPrivileges(b) => no_new_privs = *b,
                SecurityOpt::AppArmor(name) => apparmor_opt = Some(name.as_str()),
                other => seccomp_opt = Some(other.clone()),
            }
        }
        let profile = match (&seccomp_opt, self.privileged) {
            // Docker ignores any profile for a privileged container.
            (_, true) | (Some(SecurityOpt::SeccompUnconfined), _) => None,
            (Some(SecurityOpt::SeccompProfile(path)), _) => {
                Some((path.display().to_string(), Profile::load(path)?))
            }
            _ => Some(("Docker's default profile".to_string(), Profile::docker_default())),
        };
        let mut compiled = CompiledOnce::default();
        let seccomp = match profile {
            None => Seccomp::Unconfined,
            Some((source, profile)) => {
                let target = profile::Target {
                    caps: &caps,
                    arch: profile::go_arch(),
                    kernel: profile::running_kernel(),
                };
                let resolved = profile
                    .resolve(&target)
                    .map_err(|e| anyhow::anyhow!("--security-opt seccomp={source}: {e}"))?;
                // Compile now, so that a bad profile is a flag error, not a failed container.
                compiled.0 = Some(
                    seccomp::compile(&resolved)
                        .map_err(|e| anyhow::anyhow!("{e:#} (in {source})"))?,
                );
                Seccomp::Profile { source, profile: resolved }
            }
        };
        let user = match &self.user {
            Some(spec) => user::resolve(spec, rootfs)?,
            None => User::root(),
        };
        let list = |l: &[&str]| -> Vec<PathBuf> {
            if self.privileged {
                vec![]
            } else {
                l.iter().map(PathBuf::from).collect()
            }
        };
        let apparmor = apparmor::resolve(apparmor_opt, self.privileged, &apparmor::Host::detect())?;
        Ok(SecurityConfig {
            caps,
            seccomp,
            no_new_privs,
            read_only: self.read_only,
            tmpfs: self.tmpfs.clone(),
            user,
            masked_paths: list(&paths::MASKED_PATHS),
            readonly_paths: list(&paths::READONLY_PATHS),
            privileged: self.privileged,
            apparmor,
            compiled,
        })
    }
}

impl SecurityConfig {
    /// The mounts [`apply_in_child`] will make, with `root` standing for the container's `/`.
    pub fn mount_plan(&self, root: &Path) -> Vec<MountStep> {
        let cfg = paths::PathsConfig {
            masked: &self.masked_paths,
            readonly: &self.readonly_paths,
            read_only_root: self.read_only,
            tmpfs: &self.tmpfs,
        };
        paths::plan(&cfg, root)
    }

    /// The compiled seccomp filter (None when unconfined); [`seccomp::render`] shows it.
    pub fn compiled_seccomp(&self) -> anyhow::Result<Option<Compiled>> {
        if let (Some(c), Seccomp::Profile { .. }) = (&self.compiled.0, &self.seccomp) {
            return Ok(Some(c.clone()));
        }
        match &self.seccomp {
            Seccomp::Unconfined => Ok(None),
            Seccomp::Profile { profile, .. } => seccomp::compile(profile).map(Some),
        }
    }
}

/// [`apply_in_child_keeping`] with no descriptor kept but 0, 1 and 2.
pub fn apply_in_child(cfg: &SecurityConfig) -> anyhow::Result<()> {
    apply_in_child_keeping(cfg, &[])
}

// ANCHOR: apply_in_child
/// Applies `cfg` to the calling process, the container's first process, right before it execs the
/// command. It runs after pivot_root (paths are the container's), with the container's /proc
/// mounted, as root of the container's user namespace with all its capabilities. `keep_fds` are
/// descriptors that stay open across execve besides 0, 1 and 2.
///
/// The order is forced by what each step needs and what it takes away:
/// 1. the mounts (masked and read-only paths, `--tmpfs`, `--read-only`) need CAP_SYS_ADMIN: first;
/// 2. without no_new_privs, installing a seccomp filter needs CAP_SYS_ADMIN too, so the filter
///    goes in now, and the calls below must be ones it allows (runc does the same);
/// 3. the bounding set is lowered while CAP_SETPCAP is still held;
/// 4. no_new_privs is set (it needs no privilege; from here on execve can never raise them);
/// 5. the ids change: groups and gid first, the uid last, since a non-root uid loses every
///    capability (setgroups and setresgid would then fail);
/// 6. the effective, permitted and inheritable sets are set, the ambient set cleared (for a
///    non-root user they are left empty, as Docker does);
/// 7. every other descriptor is marked close-on-exec, and the working directory checked;
/// 8. with no_new_privs, seccomp comes last: the fewer calls made after it, the shorter the
///    allow-list may be (a runtime's own set-up needs calls the container should not have).
pub fn apply_in_child_keeping(cfg: &SecurityConfig, keep_fds: &[RawFd]) -> anyhow::Result<()> {
    let root = Path::new("/");
    paths::apply(&cfg.mount_plan(root), &crate::runtime::syscalls::Real, root)?;
    drop_privileges_keeping(cfg, keep_fds, None)
}

/// The student's version of the last step (exercise 08): keep only the capabilities given (for
/// root), set no_new_privs when asked, and install the compiled seccomp filter, in an order that
/// works with and without no_new_privs.
pub type Harden = fn(&CapabilitySet, Option<&Compiled>, bool) -> anyhow::Result<()>;

/// Steps 2 to 8 of [`apply_in_child_keeping`]: what stage 08 does after its mounts (which go
/// through [`crate::runtime::syscalls::Syscalls`] as a step of their own).
pub fn drop_privileges(cfg: &SecurityConfig, exercise: Option<Harden>) -> anyhow::Result<()> {
    drop_privileges_keeping(cfg, &[], exercise)
}

fn drop_privileges_keeping(
    cfg: &SecurityConfig,
    keep_fds: &[RawFd],
    exercise: Option<Harden>,
) -> anyhow::Result<()> {
    // Compiled before anything changes, so that no failure leaves a half-hardened process.
    let filter = cfg.compiled_seccomp()?;
    if let Some(exercise) = exercise {
        // The student's version does capabilities, no_new_privs and seccomp as root; the ids
        // change after it (a change from uid 0 to another clears the sets, as Docker wants).
        exercise(&cfg.caps, filter.as_ref(), cfg.no_new_privs)?;
        user::apply(&cfg.user)?;
    } else {
        if let (Some(f), false) = (&filter, cfg.no_new_privs) {
            seccomp::apply(f)?;
        }
        caps::drop_bounding(&cfg.caps)?;
        if cfg.no_new_privs {
            nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS, 1)")?;
        }
        user::apply(&cfg.user)?;
        caps::apply(&cfg.caps, cfg.user.is_root())?;
    }
    // A change of uid clears PR_SET_PDEATHSIG (prctl(2)): set it again, so that the container
    // still dies with the stage.
    // SAFETY: prctl with PR_SET_PDEATHSIG takes plain integers.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    nix::errno::Errno::result(rc).context("prctl(PR_SET_PDEATHSIG)")?;
    fds::close_all_but(keep_fds)?;
    fds::check_cwd_inside_root()?;
    if let (Some(f), true, None) = (&filter, cfg.no_new_privs, exercise) {
        seccomp::apply(f)?;
    }
    Ok(())
}
// ANCHOR_END: apply_in_child

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        security: SecurityArgs,
    }

    fn parse(args: &[&str]) -> Result<SecurityArgs, String> {
        Cli::try_parse_from(std::iter::once("08").chain(args.iter().copied()))
            .map(|c| c.security)
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
    }

    fn resolve(args: &[&str]) -> anyhow::Result<SecurityConfig> {
        parse(args).map_err(anyhow::Error::msg)?.resolve(Path::new("/nonexistent-rootfs"))
    }

    #[test]
    fn no_flags_is_dockers_default_hardening() {
        let cfg = resolve(&[]).unwrap();
        assert_eq!(cfg.caps, CapabilitySet::docker_default());
        assert!(
            matches!(&cfg.seccomp, Seccomp::Profile { source, .. } if source.contains("default"))
        );
        assert!(!cfg.no_new_privs && !cfg.read_only && !cfg.privileged);
        assert!(cfg.user.is_root());
        assert_eq!(cfg.masked_paths.len(), paths::MASKED_PATHS.len());
        assert_eq!(cfg.readonly_paths.len(), paths::READONLY_PATHS.len());
        // It survives the trip through the on-disk record.
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<SecurityConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn every_flag_parses() {
        let cfg = resolve(&[
            "--cap-drop",
            "ALL",
            "--cap-add",
            "net_bind_service",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/run:size=1m",
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            "seccomp=unconfined",
            "--user",
            "1000:1000",
        ])
        .unwrap();
        assert_eq!(cfg.caps.names(), ["CAP_NET_BIND_SERVICE"]);
        assert!(cfg.read_only && cfg.no_new_privs);
        assert_eq!(cfg.tmpfs.len(), 2);
        assert_eq!(cfg.seccomp, Seccomp::Unconfined);
        assert_eq!((cfg.user.uid, cfg.user.gid), (1000, 1000));
        let plan = cfg.mount_plan(Path::new("/nonexistent-rootfs"));
        assert!(plan.contains(&MountStep::RootReadOnly));
    }

    #[test]
    fn privileged_turns_everything_off() {
        let cfg = resolve(&["--privileged", "--security-opt", "seccomp=/no/such.json"]).unwrap();
        assert_eq!(cfg.caps, CapabilitySet::all());
        assert_eq!(cfg.seccomp, Seccomp::Unconfined);
        assert!(cfg.masked_paths.is_empty() && cfg.readonly_paths.is_empty());
        assert!(cfg.compiled_seccomp().unwrap().is_none());
    }

    #[test]
    fn cap_sys_admin_also_opens_its_system_calls() {
        let cfg = resolve(&["--cap-add", "SYS_ADMIN"]).unwrap();
        let c = cfg.compiled_seccomp().unwrap().unwrap();
        assert!(c.calls[&Verdict::Allow].iter().any(|l| l.name == "mount"));
    }

    #[test]
    fn bad_values_are_one_line_naming_the_flag() {
        let dir = std::env::temp_dir().join(format!("workshop-secopt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad_json = dir.join("bad.json");
        std::fs::write(&bad_json, "{ \"defaultAction\": ").unwrap();
        let typo = dir.join("typo.json");
        std::fs::write(
            &typo,
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid","wrtie"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let bad_json_opt = format!("seccomp={}", bad_json.display());
        let typo_opt = format!("seccomp={}", typo.display());
        for (args, says) in [
            (&["--cap-add", "NET_ADMN"][..], "--cap-add"),
            (&["--cap-drop", "sys-admin"][..], "--cap-drop"),
            (&["--tmpfs", "tmp"][..], "--tmpfs"),
            (&["--security-opt", "apparmor=foo"][..], "--security-opt"),
            (&["--security-opt", "seccomp=/no/such/profile.json"][..], "cannot read the file"),
            (&["--security-opt", &bad_json_opt][..], "not a seccomp profile"),
            (&["--security-opt", &typo_opt][..], "\"wrtie\""),
            (&["--user", "mallory"][..], "--user mallory: no user"),
        ] {
            let e = resolve(args).unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains(says), "{args:?}: {text}");
            assert!(!format!("{e}").contains('\n'), "{args:?}: {e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn security_opts_as_docker_writes_them() {
        assert_eq!(parse_security_opt("no-new-privileges"), Ok(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(
            parse_security_opt("no-new-privileges=false"),
            Ok(SecurityOpt::NoNewPrivileges(false))
        );
        assert_eq!(
            parse_security_opt("no-new-privileges:true"),
            Ok(SecurityOpt::NoNewPrivileges(true))
        );
        assert_eq!(parse_security_opt("seccomp=unconfined"), Ok(SecurityOpt::SeccompUnconfined));
        assert_eq!(
            parse_security_opt("seccomp:/p.json"),
            Ok(SecurityOpt::SeccompProfile("/p.json".into()))
        );
        assert!(parse_security_opt("seccomp=").is_err());
        assert_eq!(
            parse_security_opt("apparmor=unconfined"),
            Ok(SecurityOpt::AppArmor("unconfined".into()))
        );
        assert!(parse_security_opt("apparmor=").is_err());
        assert!(parse_security_opt("label=type:container_t").is_err());
    }
}
