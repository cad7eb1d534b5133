//! The parent–child sync channel.
//!
//! The child is created blocked: it waits on `go` until the parent has done its part from the outside
//! (later stages: write uid_map, move a veth into the child's network namespace, join a cgroup). It
//! reports a failed setup step back on `report`, a close-on-exec pipe: if execve(2) succeeds the pipe
//! closes with nothing written, so the parent knows the container's command is running.
//! See pipe(2) and the "synchronization" notes in user_namespaces(7).

use nix::fcntl::OFlag;
use nix::unistd::{pipe2, read, write};
use std::os::fd::{AsFd, OwnedFd};

/// Both ends of both pipes; each side closes the ends it does not use right after clone(2).
pub struct SyncPipes {
    go_rx: OwnedFd,
    go_tx: OwnedFd,
    report_rx: OwnedFd,
    report_tx: OwnedFd,
}

/// The parent's ends.
pub struct ParentSide {
    go_tx: Option<OwnedFd>,
    report_rx: OwnedFd,
}

/// The child's ends.
pub struct ChildSide {
    go_rx: OwnedFd,
    report_tx: OwnedFd,
}

impl SyncPipes {
    pub fn new() -> nix::Result<Self> {
        let (go_rx, go_tx) = pipe2(OFlag::O_CLOEXEC)?;
        let (report_rx, report_tx) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(SyncPipes { go_rx, go_tx, report_rx, report_tx })
    }

    /// Splits into the parent's ends and the child's ends.
    pub fn split(self) -> (ParentSide, ChildSide) {
        (
            ParentSide { go_tx: Some(self.go_tx), report_rx: self.report_rx },
            ChildSide { go_rx: self.go_rx, report_tx: self.report_tx },
        )
    }
}

impl ParentSide {
    /// Moves the ends out, leaving a side that does nothing when dropped.
    pub fn take(&mut self) -> ParentSide {
        let placeholder =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map(|(r, _)| r).expect("a pipe for a placeholder");
        ParentSide {
            go_tx: self.go_tx.take(),
            report_rx: std::mem::replace(&mut self.report_rx, placeholder),
        }
    }

    /// The parent's descriptors, which the child closes first thing: otherwise the child would hold
    /// the write end of its own `go` pipe and never see the parent go away.
    pub fn raw_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.go_tx.iter().map(|f| f.as_raw_fd()).chain([self.report_rx.as_raw_fd()]).collect()
    }

    /// Lets the child go on. Dropping the parent side without calling this makes the child exit.
    pub fn release(&mut self) -> nix::Result<()> {
        if let Some(tx) = self.go_tx.take() {
            write(&tx, b"g")?;
        }
        Ok(())
    }

    /// Waits until the child has exec'd its command (`Ok(None)`) or reported why it could not.
    pub fn outcome(&self) -> Option<String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            match read(self.report_rx.as_fd(), &mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
    }
}

impl ChildSide {
    /// Blocks until the parent says go. `false` means the parent went away: the child must exit.
    pub fn wait_for_go(&self) -> bool {
        let mut b = [0u8; 1];
        loop {
            match read(self.go_rx.as_fd(), &mut b) {
                Ok(1) => return true,
                Err(nix::errno::Errno::EINTR) => continue,
                _ => return false,
            }
        }
    }

    /// Tells the parent why setup failed.
    pub fn report(&self, message: &str) {
        let _ = write(&self.report_tx, message.as_bytes());
    }
}
