//! The classic overlay mistakes, made on purpose: the kernel's errno and what it means.
//!
//! Call these inside a private mount namespace: a mistake that unexpectedly mounts stays there.

use super::options::OverlayOptions;
use nix::errno::Errno;
use std::path::Path;

/// The kernel's refusal of a mount, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub errno: Errno,
    pub explanation: String,
}

/// Why the kernel gives `errno` for an overlay mount, in one sentence.
pub fn explain(errno: Errno) -> &'static str {
    match errno {
        Errno::EINVAL => {
            "EINVAL: overlay refused an option: the work dir must be on the same mount as the upper \
             dir (a copy-up is prepared in the work dir and renamed into the upper dir, and rename(2) \
             cannot cross mounts), and the upper dir cannot be on another overlay"
        }
        Errno::ELOOP => {
            "ELOOP: the layers overlap: the upper dir is inside a lower layer (or one layer inside \
             another), so a write would change what the lower layer shows underneath the merge"
        }
        Errno::EBUSY => {
            "EBUSY: the upper or work dir is already in use by another overlay mount: each \
             container needs its own"
        }
        Errno::ENOENT => "ENOENT: a layer, the upper dir or the work dir does not exist",
        Errno::EPERM => "EPERM: mounting needs CAP_SYS_ADMIN in the mount namespace's user namespace",
        _ => "the kernel refused the overlay mount",
    }
}

/// Tries the mount at `target` and returns the kernel's refusal, explained; None if it mounted.
pub fn attempt(opts: &OverlayOptions, target: &Path) -> anyhow::Result<Option<Refusal>> {
    Ok(super::mount::try_mount(opts, target)?
        .err()
        .map(|errno| Refusal { errno, explanation: explain(errno).to_string() }))
}
