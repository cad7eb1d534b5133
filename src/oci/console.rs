//! `--console-socket`: when `process.terminal` is true, the container's process gets a new
//! pseudo-terminal as its stdin, stdout and stderr, and the engine gets the terminal's master end,
//! passed over a Unix socket as an open descriptor (SCM_RIGHTS), as runc does. conmon holds that
//! master and copies between it and `podman run -t`'s own terminal.

use anyhow::Context;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Connects to the engine's socket (done on the host's side of pivot_root, where its path is).
pub fn connect(path: &Path) -> anyhow::Result<UnixStream> {
    UnixStream::connect(path)
        .with_context(|| format!("connect to the console socket {}", path.display()))
}

// ANCHOR: attach
/// In the container, after its /dev/pts is mounted: opens a new terminal, sends its master end
/// over `socket`, and makes its other end this process's controlling terminal and stdio.
pub fn attach(socket: &UnixStream, size: Option<(u16, u16)>) -> anyhow::Result<()> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
        .context("open /dev/ptmx (is a devpts mounted at /dev/pts?)")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = ptsname_r(&master).context("ptsname")?;
    let slave: OwnedFd = nix::fcntl::open(
        name.as_str(),
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {name}"))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads the winsize we pass.
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let fds: [RawFd; 1] = [master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send the terminal's master over the console socket")?;
    drop(master);
    nix::unistd::setsid().context("setsid")?;
    // SAFETY: TIOCSCTTY takes an integer.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        anyhow::bail!("make {name} the controlling terminal: {}", std::io::Error::last_os_error());
    }
    nix::unistd::dup2_stdin(&slave).context("dup2 the terminal to stdin")?;
    nix::unistd::dup2_stdout(&slave).context("dup2 the terminal to stdout")?;
    nix::unistd::dup2_stderr(&slave).context("dup2 the terminal to stderr")?;
    Ok(())
}
// ANCHOR_END: attach
