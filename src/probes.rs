//! What lessons, fact checks and tests measure from the outside, each written once: an HTTP page
//! through a published port, a free port, a port that starts answering, a namespace's inode, a
//! root's device and inode.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// An HTTP/1.0 GET of `/` at `addr`: the whole response, status line and headers included.
pub fn http_get(addr: SocketAddrV4, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: workshop\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

/// The body of an HTTP response (what follows the blank line), or all of it when there is none.
pub fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or(response)
}

/// Waits until something accepts connections at `addr`, at most `timeout`; whether it did.
pub fn wait_for_port(addr: SocketAddrV4, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// `n` distinct ports on 127.0.0.1 that nothing listens on right now: all held until all are
/// chosen, so that no two are the same.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> =
        (0..n).filter_map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()).collect();
    held.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect()
}

/// `port` if it is free on 127.0.0.1, else one the kernel picks.
pub fn free_or_any(port: u16) -> u16 {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => port,
        Err(_) => free_ports(1).first().copied().unwrap_or(port),
    }
}

/// The inode of a namespace link, `/proc/PID/ns/KIND` or `/proc/self/ns/KIND`: two processes are
/// in the same namespace exactly when these are equal.
pub fn ns_inode(pid: Option<u32>, kind: &str) -> Result<u64, String> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/ns/{kind}"),
        None => format!("/proc/self/ns/{kind}"),
    };
    std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// The device and inode of a directory: what tells two roots apart (seen from the host, a
/// container's root is `/proc/PID/root/`).
pub fn dev_ino(dir: &Path) -> Result<(u64, u64), String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_free() {
        let ports = free_ports(5);
        assert_eq!(ports.len(), 5);
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
        for p in ports {
            assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok(), "{p} is taken");
        }
    }

    /// A one-shot web server on 127.0.0.1 that answers `hello`.
    fn one_page_server() -> (SocketAddrV4, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let std::net::SocketAddr::V4(addr) = listener.local_addr().unwrap() else { unreachable!() };
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut req = [0u8; 256];
            let _ = c.read(&mut req).unwrap();
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello\n");
        });
        (addr, server)
    }

    #[test]
    fn a_port_that_answers_and_its_page() {
        let (addr, server) = one_page_server();
        assert!(wait_for_port(addr, Duration::from_secs(1)));
        server.join().unwrap();
        let (addr, server) = one_page_server();
        let page = http_get(addr, Duration::from_secs(2)).unwrap();
        server.join().unwrap();
        assert_eq!(body(&page), "hello\n");
    }

    #[test]
    fn this_process_is_in_its_own_namespaces() {
        let me = std::process::id();
        assert_eq!(ns_inode(Some(me), "pid").unwrap(), ns_inode(None, "pid").unwrap());
        assert!(ns_inode(Some(u32::MAX), "pid").is_err());
        assert_eq!(dev_ino(Path::new("/")).unwrap(), dev_ino(Path::new("/.")).unwrap());
    }
}
