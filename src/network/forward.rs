//! Publishing a container's port on the host (`-p 8080:80`, Docker's flag): a small TCP forwarder
//! from the host's loopback to the container's address.
//!
//! Docker does this with iptables DNAT or its `docker-proxy`; the workshop uses a proxy like the
//! latter, so that nothing is written to the host's firewall. It runs in a forked process of its
//! own: the stage process must stay single-threaded, because it clones containers.

use anyhow::Context;
use nix::unistd::{fork, ForkResult, Pid};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::str::FromStr;
use std::time::Duration;

/// `-p HOST:CONTAINER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    pub host_port: u16,
    pub container_port: u16,
}

impl FromStr for Publish {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("-p {s:?}: give HOST_PORT:CONTAINER_PORT, like 8080:80");
        let (h, c) = s.split_once(':').ok_or_else(bad)?;
        let host_port: u16 = h.parse().map_err(|_| bad())?;
        let container_port: u16 = c.parse().map_err(|_| bad())?;
        if host_port == 0 || container_port == 0 {
            return Err(bad());
        }
        Ok(Publish { host_port, container_port })
    }
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host_port, self.container_port)
    }
}

/// A running forwarder process. It is stopped by undoing its [`Forwarder::resource`], which the
/// caller records at once; PR_SET_PDEATHSIG stops it if the stage dies before that.
pub struct Forwarder {
    pid: Pid,
    pub listen: SocketAddrV4,
}

/// Binds `127.0.0.1:host_port` now (so a taken port is an error here, before anything runs), then
/// forwards every connection to `target` from a forked process.
pub fn start(host_port: u16, target: SocketAddrV4) -> anyhow::Result<Forwarder> {
    let listen = SocketAddrV4::new(Ipv4Addr::LOCALHOST, host_port);
    let listener = TcpListener::bind(listen).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("port {host_port} on 127.0.0.1 is already taken; publish on another one, like -p {}:{}", host_port.saturating_add(1), target.port())
        } else {
            anyhow::Error::new(e).context(format!("listen on {listen}"))
        }
    })?;
    let listen = match listener.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        _ => listen,
    };
    // SAFETY: the stage process is single-threaded; the child only runs `serve` and never returns.
    match unsafe { fork() }.context("fork the port forwarder")? {
        ForkResult::Child => {
            // SAFETY: PR_SET_PDEATHSIG takes integers.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            crate::runtime::record::close_in_child();
            let listener = keep_only(listener);
            serve(listener, target);
            // SAFETY: _exit is always safe; guards copied from the parent must not run here.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => Ok(Forwarder { pid: child, listen }),
    }
}

/// In the forked forwarder: closes every descriptor but the listener, and points 0, 1 and 2 at
/// /dev/null (it prints nothing). The forwarder never execs, so close-on-exec protects nothing
/// here, and a descriptor it kept would keep its meaning for as long as it lives: a stage 09
/// container's flock (every later verb on the container would wait for it), the pipe its `start`
/// waits on, a caller's stdout that someone reads to its end.
fn keep_only(listener: TcpListener) -> TcpListener {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = listener.into_raw_fd();
    // SAFETY: this process owns every descriptor it closes here; fd 3 then holds the listener.
    unsafe {
        if fd != 3 {
            libc::dup2(fd, 3);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for std in 0..3 {
            libc::dup2(null, std);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        TcpListener::from_raw_fd(3)
    }
}

/// Accepts connections and copies bytes both ways, a thread per direction. Threads are fine here:
/// this process never clones a container.
fn serve(listener: TcpListener, target: SocketAddrV4) {
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(upstream) = TcpStream::connect_timeout(&target.into(), Duration::from_secs(2))
            else {
                return;
            };
            let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
                return;
            };
            let mut client = client;
            let mut upstream = upstream;
            let back = std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
            let _ = std::io::copy(&mut client, &mut upstream);
            let _ = upstream.shutdown(std::net::Shutdown::Write);
            let _ = back.join();
        });
    }
}

impl Forwarder {
    /// The forwarder as a resource of the run's record.
    pub fn resource(&self) -> crate::runtime::Resource {
        crate::runtime::Resource::Process {
            pid: self.pid.as_raw(),
            start_time: crate::runtime::record::process_start_time(self.pid).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_publish_flag() {
        assert_eq!(
            "8080:80".parse::<Publish>(),
            Ok(Publish { host_port: 8080, container_port: 80 })
        );
        for bad in ["8080", "x:80", "8080:", "0:80", "70000:80"] {
            assert!(bad.parse::<Publish>().unwrap_err().contains("8080:80"), "{bad}");
        }
    }
}
