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

    /// The lock on a file that its last user removes, with the directories it is in (a run's
    /// lock, the address table's): waits for it, making the directory again when another process
    /// removed it meanwhile, and locking again when the file it got was unlinked while it waited,
    /// since a lock on an unlinked file protects nothing.
    pub fn exclusive_removable(path: &Path) -> anyhow::Result<Lock> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut tries = 0;
        loop {
            tries += 1;
            ensure_dir(dir)?;
            match Lock::exclusive(path) {
                Ok(lock) if lock.is_at(path) => return Ok(lock),
                Ok(_) if tries < 100 => {}
                Err(_) if tries < 100 && !dir.exists() => {}
                Ok(_) => anyhow::bail!("lock {}: it keeps being removed", path.display()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the locked file is still the one at `path` (not unlinked or replaced).
    fn is_at(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), fs::metadata(path)) {
            (Ok(held), Ok(there)) => held.dev() == there.dev() && held.ino() == there.ino(),
            _ => false,
        }
    }

    /// Removes the lock file while still holding it, then its directory and the state directory
    /// when they are left empty: the last user of a [`Lock::exclusive_removable`] leaves nothing.
    pub fn remove(self, path: &Path) {
        let _ = fs::remove_file(path);
        drop(self);
        if let Some(dir) = path.parent() {
            remove_empty(dir, &state_dir());
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Removes `dir` when it is empty, then each parent up to `top` (included) while empty: the host
/// as it was once nothing in the state directory is in use.
pub fn remove_empty(dir: &Path, top: &Path) {
    let mut at = Some(dir);
    while let Some(d) = at {
        if !d.starts_with(top) || fs::remove_dir(d).is_err() {
            break;
        }
        at = d.parent();
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

    #[test]
    fn a_removed_lock_file_is_locked_again_and_its_empty_dirs_go() {
        let top = tempdir("removable");
        let path = top.join("network/lock");
        let held = Lock::exclusive_removable(&path).unwrap();
        // Another user opened the file before the holder removed it: what it then locks is an
        // unlinked file, which `exclusive_removable` does not take for the lock.
        let stale = Lock::open(&path).unwrap();
        let _ = fs::remove_file(&path);
        drop(held);
        assert!(!Lock { file: stale }.is_at(&path));
        let again = Lock::exclusive_removable(&path).unwrap();
        assert!(again.is_at(&path), "the directory and file were made again");
        let _ = fs::remove_file(&path);
        drop(again);
        remove_empty(&top.join("network"), &top);
        assert!(!top.exists(), "empty dirs up to the top are removed");
        // Nothing above the top is touched.
        assert!(std::env::temp_dir().exists());
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
