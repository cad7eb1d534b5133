//! The workshop's state directory, and the two disciplines every file in it follows: writes are
//! atomic (a temp file, fsync, rename), and shared files are changed under a lock.
//!
//! `/run/workshop` as root, `$XDG_RUNTIME_DIR/workshop` without root (DESIGN.md); `WORKSHOP_STATE_DIR`
//! overrides both, for tests and for the VM. /run is cleared at boot, which is right: what the
//! record describes (links, mounts, processes, cgroups) does not survive a reboot either.

use anyhow::Context;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the workshop keeps its state.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKSHOP_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if crate::privileges::is_root() {
        return PathBuf::from("/run/workshop");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("workshop"),
        _ => std::env::temp_dir().join(format!("workshop-{}", nix::unistd::getuid())),
    }
}

/// Creates `dir` (and its parents) readable only by its owner: state is nobody else's business.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("create the state directory {}", dir.display()))
}

/// Writes `bytes` to `path` so that a reader, or a run killed half-way, sees the old content or the
/// new, never a mix: a temp file beside it, fsync, then rename(2), which replaces atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f =
            OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("write {}", path.display()))
    })
}

/// An exclusive flock(2) on a file, held until dropped (or until the process dies, even by SIGKILL:
/// the kernel drops the lock with the last descriptor, which is what makes it a liveness test).
pub struct Lock {
    file: File,
}

impl Lock {
    fn open(path: &Path) -> anyhow::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .with_context(|| format!("open the lock file {}", path.display()))
    }

    /// Waits for the lock.
    pub fn exclusive(path: &Path) -> anyhow::Result<Lock> {
        let file = Self::open(path)?;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Lock { file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e).with_context(|| format!("lock {}", path.display()));
            }
        }
    }

    /// Takes the lock if nobody holds it; `None` if somebody does.
    pub fn try_exclusive(path: &Path) -> anyhow::Result<Option<Lock>> {
        let file = Self::open(path)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(Lock { file }));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        Err(e).with_context(|| format!("lock {}", path.display()))
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempdir("atomic");
        let path = dir.join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "a temp file was left");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_held_lock_is_seen_as_held() {
        let dir = tempdir("lock");
        let path = dir.join("x.lock");
        let held = Lock::exclusive(&path).unwrap();
        // flock locks belong to the open file description: a second open in the same process
        // conflicts, as another process would.
        assert!(Lock::try_exclusive(&path).unwrap().is_none());
        drop(held);
        assert!(Lock::try_exclusive(&path).unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    pub(crate) fn tempdir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "workshop-unit-{what}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
