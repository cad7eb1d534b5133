//! Masked and read-only paths, `--read-only` and `--tmpfs`: what the container's root may not read
//! or write, done with mounts.
//!
//! A container's /proc and /sys are the kernel's own: `/proc/kcore` is the host's memory,
//! `/proc/keys` the host's keyrings, `/proc/sysrq-trigger` reboots the host, `/proc/sys` tunes the
//! host's kernel, `/sys/firmware` is the machine's firmware tables. No namespace hides them, so
//! Docker (through runc) covers them:
//! - **masked**: a file gets `/dev/null` bind-mounted over it, a directory an empty read-only
//!   tmpfs: what was there cannot be seen ([`MASKED_PATHS`]);
//! - **read-only**: bound onto itself and remounted read-only: seen but not written
//!   ([`READONLY_PATHS`]);
//! - `--read-only`: the root filesystem itself is remounted read-only, so nothing the container
//!   runs can change its files; `--tmpfs /tmp` gives it a writable scratch directory in memory.
//!
//! Everything here runs inside the container after pivot_root (paths are relative to its new /),
//! with /proc already mounted, in a mount namespace owned by the container's user namespace, while
//! its root still holds CAP_SYS_ADMIN. The mounts are first made a plan ([`plan`], plain data that
//! unit tests check without root), then made ([`apply`]) through the set-up's syscall trait.
//!
//! One trap: in a user namespace the flags `nosuid`, `nodev`, `noexec` (and the atime ones) of a
//! mount that came from the host are *locked*; a remount that leaves one out fails with EPERM. So
//! a read-only remount first reads the mount's flags with statvfs(2) and keeps them, as runc does.
//! See mount(2) ("MS_REMOUNT", "MS_BIND"), mount_namespaces(7) ("locked mounts"), tmpfs(5).

use crate::runtime::syscalls::Syscalls;
use anyhow::Context;
use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Docker's masked paths (moby `oci/defaults.go`, Docker 28: `/proc/interrupts` is the newest).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths (moby `oci/defaults.go`).
pub const READONLY_PATHS: [&str; 5] =
    ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// One `--tmpfs PATH[:OPTIONS]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tmpfs {
    /// Where, inside the container.
    pub target: PathBuf,
    pub read_only: bool,
    pub noexec: bool,
    pub nosuid: bool,
    pub nodev: bool,
    /// tmpfs's own options, as mount(8) writes them: `size=64m,mode=1777`.
    pub data: String,
}

impl Tmpfs {
    pub fn flags(&self) -> MsFlags {
        let mut f = MsFlags::empty();
        f.set(MsFlags::MS_RDONLY, self.read_only);
        f.set(MsFlags::MS_NOEXEC, self.noexec);
        f.set(MsFlags::MS_NOSUID, self.nosuid);
        f.set(MsFlags::MS_NODEV, self.nodev);
        f
    }
}

/// Parses `--tmpfs PATH[:OPTIONS]` as Docker does: options `ro`/`rw`, `exec`/`noexec`,
/// `suid`/`nosuid`, `dev`/`nodev`, and tmpfs's `size=`, `mode=`, `uid=`, `gid=`, `nr_inodes=`;
/// by default `noexec,nosuid,nodev` and mode 1777 (a /tmp anyone may use).
pub fn parse_tmpfs(value: &str) -> Result<Tmpfs, String> {
    let (target, options) = value.split_once(':').unwrap_or((value, ""));
    // clap names the flag and the value before this message.
    let bad = |why: String| why;
    if !target.starts_with('/') || target == "/" {
        return Err(bad("the path must be absolute and not / (for example /tmp)".into()));
    }
    let mut t = Tmpfs {
        target: PathBuf::from(target),
        read_only: false,
        noexec: true,
        nosuid: true,
        nodev: true,
        data: String::new(),
    };
    let mut data: Vec<String> = Vec::new();
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" | "rw" => t.read_only = opt == "ro",
            "exec" | "noexec" => t.noexec = opt == "noexec",
            "suid" | "nosuid" => t.nosuid = opt == "nosuid",
            "dev" | "nodev" => t.nodev = opt == "nodev",
            _ => {
                let (key, v) = opt.split_once('=').unwrap_or((opt, ""));
                let ok = match key {
                    "size" => {
                        let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
                        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                    }
                    "mode" => !v.is_empty() && v.bytes().all(|b| (b'0'..=b'7').contains(&b)),
                    "uid" | "gid" | "nr_inodes" | "nr_blocks" => {
                        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
                    }
                    _ => {
                        return Err(bad(format!(
                            "unknown option {opt:?}; use ro, noexec, nosuid, nodev (or exec, suid, \
                             dev), size=64m, mode=1777, uid=N, gid=N"
                        )))
                    }
                };
                if !ok {
                    return Err(bad(format!(
                        "{key}={v:?} is not a valid value (size=64m, mode=1777)"
                    )));
                }
                data.retain(|d| !d.starts_with(&format!("{key}=")));
                data.push(opt.to_string());
            }
        }
    }
    if !data.iter().any(|d| d.starts_with("mode=")) {
        data.push("mode=1777".into());
    }
    t.data = data.join(",");
    Ok(t)
}

/// One mount of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountStep {
    /// `mount -t tmpfs -o OPTIONS tmpfs PATH` (the directory is made first if missing).
    Tmpfs(Tmpfs),
    /// `mount -o remount,bind,ro /`: the root filesystem read-only (`--read-only`).
    RootReadOnly,
    /// `mount --bind PATH PATH; mount -o remount,bind,ro PATH`.
    ReadOnly(PathBuf),
    /// `mount --bind /dev/null FILE`: reads give nothing.
    MaskFile(PathBuf),
    /// `mount -t tmpfs -o ro tmpfs DIR`: an empty directory.
    MaskDir(PathBuf),
    /// Not on this machine (no ACPI, no SCSI…): nothing to hide.
    Skip(PathBuf),
}

/// What the plan is made from (a part of [`super::SecurityConfig`]).
#[derive(Clone, Debug, Default)]
pub struct PathsConfig<'a> {
    pub masked: &'a [PathBuf],
    pub readonly: &'a [PathBuf],
    pub read_only_root: bool,
    pub tmpfs: &'a [Tmpfs],
}

/// The mounts, in runc's order: the tmpfs mounts while the root can still be written (their
/// directories may need making), then the root read-only, then read-only paths, then masks
/// (masks last, so that a masked path inside a read-only one is still covered). `root` is the
/// container's `/` as this process sees it (`/` after pivot_root); paths that do not exist are
/// skipped; whether a masked path is a file or a directory is looked up here.
pub fn plan(cfg: &PathsConfig, root: &Path) -> Vec<MountStep> {
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let mut steps: Vec<MountStep> = cfg.tmpfs.iter().cloned().map(MountStep::Tmpfs).collect();
    if cfg.read_only_root {
        steps.push(MountStep::RootReadOnly);
    }
    for p in cfg.readonly {
        steps.push(match inside(p).symlink_metadata() {
            Ok(_) => MountStep::ReadOnly(p.clone()),
            Err(_) => MountStep::Skip(p.clone()),
        });
    }
    for p in cfg.masked {
        steps.push(match inside(p).metadata() {
            Ok(m) if m.is_dir() => MountStep::MaskDir(p.clone()),
            Ok(_) => MountStep::MaskFile(p.clone()),
            Err(_) => MountStep::Skip(p.clone()),
        });
    }
    steps
}

/// The flags of the mount holding `path` that a remount must keep (locked in a user namespace).
fn locked_flags(path: &Path) -> anyhow::Result<MsFlags> {
    let st = nix::sys::statvfs::statvfs(path)
        .with_context(|| format!("statvfs({}) to read its mount flags", path.display()))?;
    // ST_* and MS_* share their values for these flags (statvfs(3)).
    let keep = MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_NOATIME
        | MsFlags::MS_NODIRATIME
        | MsFlags::MS_RELATIME;
    Ok(MsFlags::from_bits_truncate(st.flags().bits() as _) & keep)
}

/// Makes the plan's mounts under `root` (`/` in the container). Stops at the first failure, with
/// the path and the call in the error.
pub fn apply(steps: &[MountStep], sys: &dyn Syscalls, root: &Path) -> anyhow::Result<()> {
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let ro_remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for step in steps {
        match step {
            MountStep::Tmpfs(t) => {
                let target = inside(&t.target);
                sys.create_dir_all(&target)
                    .with_context(|| format!("--tmpfs: cannot make {}", target.display()))?;
                sys.mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    t.flags(),
                    Some(&t.data),
                )
                .with_context(|| {
                    format!("mount -t tmpfs -o {} tmpfs {}", t.data, target.display())
                })?;
            }
            MountStep::RootReadOnly => {
                let flags = ro_remount | locked_flags(root)?;
                sys.mount(None, root, None, flags, None).with_context(|| {
                    format!("--read-only: mount -o remount,bind,ro {}", root.display())
                })?;
            }
            MountStep::ReadOnly(p) => {
                let p = inside(p);
                sys.mount(Some(&p), &p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                    .with_context(|| format!("mount --rbind {0} {0}", p.display()))?;
                let flags = ro_remount | locked_flags(&p)?;
                sys.mount(None, &p, None, flags, None)
                    .with_context(|| format!("mount -o remount,bind,ro {}", p.display()))?;
            }
            MountStep::MaskFile(p) => {
                let null = inside(Path::new("/dev/null"));
                let p = inside(p);
                sys.mount(Some(&null), &p, None, MsFlags::MS_BIND, None).with_context(|| {
                    format!("mount --bind {} {} (masking it)", null.display(), p.display())
                })?;
            }
            MountStep::MaskDir(p) => {
                let p = inside(p);
                sys.mount(Some(Path::new("tmpfs")), &p, Some("tmpfs"), MsFlags::MS_RDONLY, None)
                    .with_context(|| {
                        format!("mount -t tmpfs -o ro tmpfs {} (masking it)", p.display())
                    })?;
            }
            MountStep::Skip(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscalls::Recorder;

    /// A fake container root in the temp dir, removed when dropped.
    struct Root(PathBuf);
    impl Root {
        fn new(name: &str) -> Root {
            let dir = std::env::temp_dir()
                .join(format!("workshop-security-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for d in ["proc/sys", "proc/acpi", "proc/bus", "sys/firmware", "dev"] {
                std::fs::create_dir_all(dir.join(d)).unwrap();
            }
            for f in ["proc/kcore", "proc/keys", "proc/sysrq-trigger", "dev/null"] {
                std::fs::write(dir.join(f), "").unwrap();
            }
            Root(dir)
        }
    }
    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn defaults() -> (Vec<PathBuf>, Vec<PathBuf>) {
        (
            MASKED_PATHS.iter().map(PathBuf::from).collect(),
            READONLY_PATHS.iter().map(PathBuf::from).collect(),
        )
    }

    #[test]
    fn the_plan_masks_files_and_dirs_and_skips_what_is_missing() {
        let root = Root::new("plan");
        let (masked, readonly) = defaults();
        let tmpfs = [parse_tmpfs("/tmp").unwrap()];
        let cfg = PathsConfig {
            masked: &masked,
            readonly: &readonly,
            read_only_root: true,
            tmpfs: &tmpfs,
        };
        let steps = plan(&cfg, &root.0);
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(steps[0], MountStep::Tmpfs(tmpfs[0].clone()));
        assert_eq!(steps[1], MountStep::RootReadOnly);
        assert!(steps.contains(&MountStep::ReadOnly(p("/proc/sys"))));
        assert!(steps.contains(&MountStep::ReadOnly(p("/proc/sysrq-trigger"))));
        assert!(steps.contains(&MountStep::Skip(p("/proc/irq"))));
        assert!(steps.contains(&MountStep::MaskFile(p("/proc/kcore"))));
        assert!(steps.contains(&MountStep::MaskDir(p("/proc/acpi"))));
        assert!(steps.contains(&MountStep::MaskDir(p("/sys/firmware"))));
        assert!(steps.contains(&MountStep::Skip(p("/proc/scsi"))));
        // Read-only paths come before masks.
        let last_ro = steps.iter().rposition(|s| matches!(s, MountStep::ReadOnly(_))).unwrap();
        let first_mask = steps.iter().position(|s| matches!(s, MountStep::MaskFile(_))).unwrap();
        assert!(last_ro < first_mask);
        // Without --read-only and --tmpfs: no root remount, no tmpfs.
        let cfg = PathsConfig { masked: &masked, readonly: &readonly, ..Default::default() };
        assert!(!plan(&cfg, &root.0)
            .iter()
            .any(|s| matches!(s, MountStep::RootReadOnly | MountStep::Tmpfs(_))));
    }

    #[test]
    fn the_mounts_are_the_ones_runc_makes() {
        let root = Root::new("apply");
        let r = root.0.display().to_string();
        let steps = vec![
            MountStep::Tmpfs(parse_tmpfs("/tmp:size=64m").unwrap()),
            MountStep::ReadOnly(PathBuf::from("/proc/sys")),
            MountStep::MaskFile(PathBuf::from("/proc/kcore")),
            MountStep::MaskDir(PathBuf::from("/proc/acpi")),
            MountStep::Skip(PathBuf::from("/proc/scsi")),
        ];
        let sys = Recorder::new();
        apply(&steps, &sys, &root.0).unwrap();
        let calls = sys.calls();
        assert_eq!(calls.len(), 6, "{calls:#?}");
        assert_eq!(calls[0], format!("mkdir -p {r}/tmp"));
        assert_eq!(
            calls[1],
            format!("mount(tmpfs, {r}/tmp, tmpfs, MS_NOSUID | MS_NODEV | MS_NOEXEC, size=64m,mode=1777)")
        );
        assert_eq!(calls[2], format!("mount({r}/proc/sys, {r}/proc/sys, -, MS_BIND | MS_REC, -)"));
        assert!(
            calls[3].starts_with(&format!("mount(none, {r}/proc/sys, -, MS_RDONLY")),
            "{}",
            calls[3]
        );
        assert!(calls[3].contains("MS_REMOUNT") && calls[3].contains("MS_BIND"), "{}", calls[3]);
        assert_eq!(calls[4], format!("mount({r}/dev/null, {r}/proc/kcore, -, MS_BIND, -)"));
        assert_eq!(calls[5], format!("mount(tmpfs, {r}/proc/acpi, tmpfs, MS_RDONLY, -)"));
    }

    #[test]
    fn tmpfs_options_as_docker_takes_them() {
        let t = parse_tmpfs("/run").unwrap();
        assert_eq!(t.target, PathBuf::from("/run"));
        assert_eq!(t.flags(), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        assert_eq!(t.data, "mode=1777");
        let t = parse_tmpfs("/tmp:rw,exec,size=65536k,mode=700").unwrap();
        assert_eq!(t.flags(), MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        assert_eq!(t.data, "size=65536k,mode=700");
        assert!(parse_tmpfs("/tmp:ro").unwrap().read_only);
        for (bad, says) in [
            ("tmp", "absolute"),
            ("/", "absolute"),
            ("/tmp:size=lots", "size="),
            ("/tmp:mode=999", "mode="),
            ("/tmp:fast", "unknown option \"fast\""),
        ] {
            let e = parse_tmpfs(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
