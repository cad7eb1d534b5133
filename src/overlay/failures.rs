//! The classic overlay mistakes, made on purpose: the kernel's answer and what it means.
//!
//! [`make_on_purpose`] mounts things (a tmpfs, an overlay to put an upper dir on), so it must run
//! inside a private mount namespace, like every mount of the workshop; it unmounts and removes what
//! it made before it returns.
//!
//! What Linux 6.18 answers, measured on the development machine:
//! - work dir on another filesystem than the upper dir: `EINVAL` ("workdir and upperdir must reside
//!   under the same mount" in the kernel log);
//! - a lower layer inside the upper dir: `ELOOP` ("overlapping lowerdir path");
//! - an upper dir on another overlay: `EINVAL` ("filesystem … not supported as upperdir");
//! - an upper dir inside a lower layer: *accepted* (the reverse of the ELOOP case above is not
//!   caught), and the container's writes then change a lower layer under the mount, which
//!   overlayfs.rst calls undefined behaviour. Nothing stops it but the caller, which is why
//!   [`super::ContainerLayer`] keeps upper dirs in the state directory, never in the image store.

use super::container_layer::remove_tree;
use super::options::OverlayOptions;
use anyhow::Context;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs;
use std::path::{Path, PathBuf};

/// A mistake to make on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mistake {
    WorkdirOnAnotherFilesystem,
    LowerInsideUpper,
    UpperInsideLower,
    UpperOnAnOverlay,
}

impl Mistake {
    pub const ALL: [Mistake; 4] = [
        Mistake::WorkdirOnAnotherFilesystem,
        Mistake::LowerInsideUpper,
        Mistake::UpperInsideLower,
        Mistake::UpperOnAnOverlay,
    ];

    /// The mistake in a few words, for a heading.
    pub fn describe(self) -> &'static str {
        match self {
            Mistake::WorkdirOnAnotherFilesystem => {
                "the work dir on another filesystem than the upper dir"
            }
            Mistake::LowerInsideUpper => "a lower layer inside the upper dir",
            Mistake::UpperInsideLower => "the upper dir inside a lower layer",
            Mistake::UpperOnAnOverlay => "the upper dir on another overlay",
        }
    }

    /// Why, in one sentence, given what the kernel answered.
    pub fn explain(self, result: Result<(), Errno>) -> String {
        let why = match (self, result) {
            (Mistake::WorkdirOnAnotherFilesystem, Err(_)) => {
                "overlay prepares each copy-up in the work dir and renames it into the upper dir, \
                 and rename(2) cannot cross filesystems, so both must be on the same mount"
            }
            (Mistake::LowerInsideUpper, Err(_)) => {
                "the layers overlap: writing to the upper dir would change a lower layer underneath \
                 the merge, so the kernel refuses to stack a tree on top of itself"
            }
            (Mistake::UpperOnAnOverlay, Err(_)) => {
                "an overlay cannot be an upper dir: it does not give overlay what it needs there \
                 (whiteouts made by rename, O_TMPFILE, stable inodes), so the state directory must \
                 be on a plain filesystem such as ext4, xfs, btrfs or tmpfs"
            }
            (Mistake::UpperInsideLower, Ok(())) => {
                "this kernel accepts it, but every write in the container now changes a lower \
                 layer under the mount (undefined behaviour, says overlayfs.rst) and other \
                 containers of the image see it: keep upper dirs out of the image store"
            }
            (_, Ok(())) => "the kernel accepted it",
            (_, Err(_)) => "the kernel refused it",
        };
        match result {
            Ok(()) => format!("mounted: {why}"),
            Err(e) => format!("{e}: {why}"),
        }
    }
}

/// What happened when the mistake was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub mistake: Mistake,
    /// The option string passed to mount(2).
    pub options: String,
    /// The kernel's answer: Ok when it mounted anyway.
    pub result: Result<(), Errno>,
    pub explanation: String,
}

/// Makes `mistake` with directories under `scratch` (created, then removed) and returns the
/// kernel's answer explained. Must run in a private mount namespace.
pub fn make_on_purpose(mistake: Mistake, scratch: &Path) -> anyhow::Result<Attempt> {
    let dir = scratch.join(format!("mistake-{}", std::process::id()));
    let mut mounted: Vec<PathBuf> = Vec::new();
    let result = attempt(mistake, &dir, &mut mounted);
    for m in mounted.iter().rev() {
        let _ = umount2(m, MntFlags::MNT_DETACH);
    }
    remove_tree(&dir).with_context(|| format!("removing {}", dir.display()))?;
    result
}

fn attempt(mistake: Mistake, dir: &Path, mounted: &mut Vec<PathBuf>) -> anyhow::Result<Attempt> {
    let d = |rel: &str| -> anyhow::Result<PathBuf> {
        let p = dir.join(rel);
        fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(p)
    };
    let lower = d("lower")?;
    fs::write(lower.join("file"), "from the lower layer\n")?;
    let target = d("merged")?;
    let (upper, work) = match mistake {
        Mistake::WorkdirOnAnotherFilesystem => {
            let other = d("other-fs")?;
            mount(Some("tmpfs"), &other, Some("tmpfs"), MsFlags::empty(), Some("size=1m"))
                .context("mounting a tmpfs for the work dir")?;
            mounted.push(other.clone());
            (d("upper")?, d("other-fs/work")?)
        }
        Mistake::LowerInsideUpper => (d("upper")?, d("work")?),
        Mistake::UpperInsideLower => (d("lower/upper")?, d("work")?),
        Mistake::UpperOnAnOverlay => {
            let (l, u, w, m) = (d("o/lower")?, d("o/upper")?, d("o/work")?, d("o/merged")?);
            super::mount::mount_overlay(&OverlayOptions::from_bottom_first(&[l], &u, &w), &m)?;
            mounted.push(m.clone());
            (d("o/merged/upper")?, d("o/merged/work")?)
        }
    };
    let lowers = match mistake {
        Mistake::LowerInsideUpper => vec![d("upper/lower")?],
        _ => vec![lower],
    };
    let opts = OverlayOptions::from_bottom_first(&lowers, &upper, &work);
    let result = super::mount::try_mount(&opts, &target)?;
    if result.is_ok() {
        mounted.push(target);
    }
    Ok(Attempt {
        mistake,
        options: opts.option_string()?,
        result,
        explanation: mistake.explain(result),
    })
}
