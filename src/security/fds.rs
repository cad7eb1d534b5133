//! Leaked file descriptors: the container's program must get its stdin, stdout and stderr, and
//! nothing else of the runtime's.
//!
//! A file descriptor is a door that stays open across fork and execve unless it is marked
//! close-on-exec. A runtime holds many while it sets a container up (pipes to its parent, the
//! cgroup directory, the image store…). One that leaks into the container is a way out of it, past
//! every namespace: it points at the host's object, and a path lookup relative to it (openat, or a
//! chdir to /proc/self/fd/N) starts on the host's side of pivot_root.
//!
//! That is CVE-2024-21626 ("Leaky Vessels", runc ≤ 1.1.11): runc leaked a descriptor of the host's
//! /sys/fs/cgroup into the container's first process, and `docker run -w /proc/self/fd/7` made
//! the container start with its working directory *on the host*: `cat ../../../../etc/shadow`
//! read the host's file. runc's fix was both halves here: mark every descriptor but 0, 1, 2
//! close-on-exec right before execve ([`close_all_but`]), and check that the working directory is
//! inside the container's root ([`check_cwd_inside_root`]). See close_range(2), getcwd(2).

use anyhow::bail;
use std::os::fd::RawFd;

/// Marks every descriptor above 2, except those in `keep`, close-on-exec: the kernel closes them at
/// execve, and until then the runtime can still use them (to report an execve failure, say).
/// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11) does it in one call per gap between kept
/// descriptors; on an older kernel, a loop over /proc/self/fd sets FD_CLOEXEC one by one.
pub fn close_all_but(keep: &[RawFd]) -> anyhow::Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|&&fd| fd > 2).map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    // The gaps between kept descriptors: [3, k1-1], [k1+1, k2-1], …, [kn+1, ∞).
    let mut ranges = Vec::new();
    let mut from = 3u32;
    for &k in &keep {
        if k > from {
            ranges.push((from, k - 1));
        }
        from = k + 1;
    }
    ranges.push((from, u32::MAX));
    for (first, last) in &ranges {
        // SAFETY: close_range only changes this process's descriptor flags.
        let rc = unsafe {
            libc::syscall(libc::SYS_close_range, *first, *last, libc::CLOSE_RANGE_CLOEXEC)
        };
        if rc != 0 {
            return cloexec_by_proc(&keep);
        }
    }
    Ok(())
}

/// The fallback of [`close_all_but`]: FD_CLOEXEC on each descriptor /proc/self/fd lists.
fn cloexec_by_proc(keep: &[u32]) -> anyhow::Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| anyhow::anyhow!("cannot list /proc/self/fd (is /proc mounted?): {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|&fd| fd > 2 && !keep.contains(&(fd as u32))) {
        // SAFETY: F_SETFD on a descriptor number; a stale one (the listing's own) is EBADF, ignored.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Fails unless the working directory is reachable from this process's root, the check runc added
/// for CVE-2024-21626. The kernel's getcwd(2) answers a path starting with `(unreachable)` for a
/// directory outside the root (glibc turns that into ENOENT); it is asked directly here.
pub fn check_cwd_inside_root() -> anyhow::Result<()> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is PATH_MAX bytes long and the kernel writes at most that.
    let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        bail!(
            "the working directory cannot be named ({e}): it may be outside the container's root"
        );
    }
    judge_cwd(&buf[..(rc as usize).saturating_sub(1)])
}

/// The verdict on getcwd(2)'s raw answer: a path outside the root does not start with `/`.
fn judge_cwd(raw: &[u8]) -> anyhow::Result<()> {
    let cwd = String::from_utf8_lossy(raw).into_owned();
    if !cwd.starts_with('/') {
        bail!(
            "the working directory {cwd:?} is outside the container's root (a leaked descriptor, \
             as in CVE-2024-21626); refusing to start the program there"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloexec(fd: RawFd) -> bool {
        // SAFETY: F_GETFD on a descriptor this test owns.
        unsafe { libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0 }
    }

    #[test]
    fn every_descriptor_but_the_kept_ones_closes_at_exec() {
        use nix::unistd::{fork, ForkResult};
        // In a child: the test harness's other threads open descriptors of their own.
        // SAFETY: the child makes only system calls and _exit()s.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = (|| {
                    // Descriptors opened without O_CLOEXEC, as a careless runtime leaks them.
                    let a = unsafe { libc::dup(1) };
                    let b = unsafe { libc::dup(1) };
                    let c = unsafe { libc::dup(1) };
                    if cloexec(a) || cloexec(b) || cloexec(c) {
                        return 2;
                    }
                    if close_all_but(&[b]).is_err() {
                        return 3;
                    }
                    if !cloexec(a) || cloexec(b) || !cloexec(c) || cloexec(0) || cloexec(2) {
                        return 4;
                    }
                    0
                })();
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn the_kernels_unreachable_answer_is_refused() {
        assert!(judge_cwd(b"/home/student").is_ok());
        let e = judge_cwd(b"(unreachable)/sys/fs/cgroup").unwrap_err().to_string();
        assert!(e.contains("CVE-2024-21626") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn a_working_directory_outside_the_root_is_caught() {
        // Here (the host's root) the working directory is fine.
        check_cwd_inside_root().unwrap();
        // In a child that chroots away from its working directory, as a leaked cwd would be.
        // Needs CAP_SYS_CHROOT: an unprivileged run only checks the positive case.
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped the chroot half: not root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("workshop-fds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the test harness runs other threads; the child makes raw system calls on a
        // stack buffer and _exit()s. (An anyhow error would capture a backtrace, which takes locks
        // another thread may have held at fork time: the child would hang.)
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let mut buf = [0u8; 4096];
                // SAFETY: c_dir is a valid C string; buf is 4096 bytes long.
                let code = unsafe {
                    if libc::chroot(c_dir.as_ptr()) != 0 {
                        2
                    } else {
                        let rc = libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len());
                        // The kernel names a directory outside the root "(unreachable)/…".
                        if rc > 0 && buf[0] != b'/' {
                            0
                        } else {
                            1
                        }
                    }
                };
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                let _ = std::fs::remove_dir(&dir);
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
