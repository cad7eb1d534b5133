//! The same overlay through the new mount API, one layer at a time (Linux 6.8+ for `lowerdir+`).
//!
//! mount(2) takes every option in one string of at most a page, split at `,` and `:`. The new API
//! configures a filesystem key by key: fsopen(2) makes an empty overlay context, fsconfig(2) sets
//! `lowerdir+` once per layer (top first, as in `lowerdir=`), `upperdir`, `workdir`, then creates it;
//! fsmount(2) turns it into a detached mount and move_mount(2) attaches it. No separators, so no
//! escaping and no page limit. When the kernel queues a reason as text on the context's fd (it does
//! for an unknown key: "e overlay: Unknown parameter 'bogus'"), it is returned here with the errno;
//! overlay's own checks (a missing layer, the work dir on another mount) write only to the kernel
//! log, as they do for mount(2): read them with `dmesg`.

use super::options::OverlayOptions;
use anyhow::{bail, Context};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

// From linux/mount.h.
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;

/// The kernel's messages queued on an fs context fd (each read(2) returns one line).
fn kernel_messages(fs: &OwnedFd) -> String {
    let dup = match fs.try_clone() {
        Ok(d) => d,
        Err(_) => return String::new(),
    };
    let mut file = std::fs::File::from(dup);
    let mut lines = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        lines.push(String::from_utf8_lossy(&buf[..n]).trim_end().to_string());
    }
    lines.join("; ")
}

fn fsconfig(
    fs: &OwnedFd,
    cmd: libc::c_uint,
    key: Option<&str>,
    value: Option<&Path>,
) -> anyhow::Result<()> {
    let key_c = key.map(CString::new).transpose()?;
    let value_c = value.map(|v| CString::new(v.as_os_str().as_encoded_bytes())).transpose()?;
    // SAFETY: fs is an fs context fd; key and value are NUL-terminated or null, as fsconfig(2) wants.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            cmd,
            key_c.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            value_c.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            0,
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        let what = match (key, value) {
            (Some(k), Some(v)) => format!("fsconfig {k}={}", v.display()),
            (Some(k), None) => format!("fsconfig {k}"),
            _ => "fsconfig(FSCONFIG_CMD_CREATE)".to_string(),
        };
        let said = kernel_messages(fs);
        if said.is_empty() {
            bail!("{what}: {err}");
        }
        bail!("{what}: {err} (the kernel says: {said})");
    }
    Ok(())
}

// ANCHOR: mount_overlay_fsconfig
/// Mounts the overlay described by `opts` at `target` through fsopen/fsconfig/fsmount/move_mount,
/// passing each layer on its own as `lowerdir+`.
pub fn mount_overlay_fsconfig(opts: &OverlayOptions, target: &Path) -> anyhow::Result<()> {
    // Before 6.8 overlayfs has no `lowerdir+`: fsconfig falls back to the legacy option string,
    // with the same one-page limit ("Cumulative options too large").
    if !crate::doctor::kernel_at_least(6, 8) {
        anyhow::bail!(
            "this kernel ({}) has no lowerdir+ for overlay (Linux 6.8+), so an image's layers must fit in one page of mount options",
            crate::doctor::kernel_release()
        );
    }
    // SAFETY: a C string literal and flags; fsopen returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("fsopen(\"overlay\")");
    }
    // SAFETY: fd was just returned by fsopen and is owned by nobody else.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for layer in &opts.lower_top_first {
        fsconfig(&fs, FSCONFIG_SET_STRING, Some("lowerdir+"), Some(layer))?;
    }
    fsconfig(&fs, FSCONFIG_SET_STRING, Some("upperdir"), Some(&opts.upper))?;
    fsconfig(&fs, FSCONFIG_SET_STRING, Some("workdir"), Some(&opts.work))?;
    if opts.userxattr {
        fsconfig(&fs, FSCONFIG_SET_FLAG, Some("userxattr"), None)?;
    }
    fsconfig(&fs, FSCONFIG_CMD_CREATE, None, None)?;
    // SAFETY: fs is a created fs context; fsmount returns a detached mount fd or -1.
    let mfd = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if mfd < 0 {
        return Err(std::io::Error::last_os_error()).context("fsmount");
    }
    // SAFETY: mfd was just returned by fsmount and is owned by nobody else.
    let mount = unsafe { OwnedFd::from_raw_fd(mfd as i32) };
    crate::userns::move_mount_tree(std::os::fd::AsFd::as_fd(&mount), target)
        .with_context(|| format!("move_mount to {}", target.display()))
}
// ANCHOR_END: mount_overlay_fsconfig
