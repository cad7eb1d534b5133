//! `ping [-c COUNT] [-W SECS] [-i SECS] ADDR`: ICMP echo requests (RFC 792), as ping(8) sends them.
//!
//! An echo request is an ICMP message of type 8 with an identifier, a sequence number and some
//! payload; the peer's kernel answers with type 0 carrying the same three back. Sending one needs
//! a raw socket (`socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)`, which needs CAP_NET_RAW, so root in
//! the socket's network namespace) or an ICMP *datagram* socket (`SOCK_DGRAM`, allowed to groups
//! in the sysctl `net.ipv4.ping_group_range`); this tries the raw one first, then the datagram one.
//! A raw socket sees every ICMP message the host receives, IP header first, so replies are matched
//! on source, identifier and sequence; a datagram socket gets only its own replies, without the
//! IP header. See icmp(7), raw(7).
//!
//! `-c` stops after COUNT requests (default: until interrupted), `-W` is how long to wait for each
//! reply (default 10 s, as busybox), `-i` the pause between requests (default 1 s). The exit
//! status is 0 when at least one reply came back, 1 otherwise, as in busybox and iputils.

use super::{seconds, Failure, Flags, Outcome};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
/// Payload bytes, as ping(8) sends by default: 56 + an 8-byte ICMP header = 64.
const PAYLOAD: usize = 56;

/// One reply: how long it took, and the TTL it arrived with (raw sockets only see the IP header).
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub rtt: Duration,
    pub ttl: Option<u8>,
}

/// An open ICMP socket with its identifier.
pub struct Pinger {
    fd: OwnedFd,
    raw: bool,
    id: u16,
}

impl Pinger {
    pub fn open() -> io::Result<Pinger> {
        // Identifiers differ between processes (the pid) and between pingers of one process.
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let id = (std::process::id() as u16) ^ NEXT.fetch_add(0x1000, Ordering::Relaxed);
        let open = |kind| {
            // SAFETY: socket takes plain integers and returns a new descriptor or -1.
            let fd = unsafe {
                libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, libc::IPPROTO_ICMP)
            };
            // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
        };
        if let Some(fd) = open(libc::SOCK_RAW) {
            return Ok(Pinger { fd, raw: true, id });
        }
        if let Some(fd) = open(libc::SOCK_DGRAM) {
            return Ok(Pinger { fd, raw: false, id });
        }
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "no ICMP socket: a raw one needs CAP_NET_RAW (root), a datagram one a group in net.ipv4.ping_group_range",
        ))
    }

    /// Sends echo request `seq` to `addr` and waits up to `timeout` for its reply.
    pub fn echo(&self, addr: Ipv4Addr, seq: u16, timeout: Duration) -> io::Result<Option<Reply>> {
        let packet = echo_request(self.id, seq);
        let to = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
            sin_zero: [0; 8],
        };
        let start = Instant::now();
        // SAFETY: the buffer and the address are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&to as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 1500];
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            let mut pfd =
                libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            match unsafe { libc::poll(&mut pfd, 1, ms) } {
                0 => return Ok(None),
                n if n < 0 => {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                _ => {}
            }
            let mut from: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: the buffer and the address are valid for the lengths given.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut from as *mut libc::sockaddr_in).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                continue;
            }
            let source = Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr));
            if source != addr {
                continue;
            }
            let packet = &buf[..n as usize];
            let (icmp, ttl) = if self.raw {
                let header = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
                (packet.get(header..).unwrap_or_default(), packet.get(8).copied())
            } else {
                (packet, None)
            };
            // On a datagram socket the kernel chose the identifier and already matched it.
            if let Some((reply_id, reply_seq)) = parse_echo_reply(icmp) {
                if reply_seq == seq && (!self.raw || reply_id == self.id) {
                    return Ok(Some(Reply { rtt: start.elapsed(), ttl }));
                }
            }
        }
    }
}

/// One echo request to `addr`: whether a reply came within `timeout`. For a host-side check such
/// as "the host reaches the container".
pub fn once(addr: Ipv4Addr, timeout: Duration) -> io::Result<bool> {
    Ok(Pinger::open()?.echo(addr, 0, timeout)?.is_some())
}

/// An ICMP echo request: type, code, checksum, identifier, sequence, then the payload.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![ICMP_ECHO_REQUEST, 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend((0..PAYLOAD).map(|i| i as u8));
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The identifier and sequence of an echo reply, or `None` for any other ICMP message.
pub fn parse_echo_reply(icmp: &[u8]) -> Option<(u16, u16)> {
    if icmp.len() < 8 || icmp[0] != ICMP_ECHO_REPLY || icmp[1] != 0 {
        return None;
    }
    Some((u16::from_be_bytes([icmp[4], icmp[5]]), u16::from_be_bytes([icmp[6], icmp[7]])))
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn main(args: &[String]) -> Outcome {
    let flags = Flags::parse(args, "q", "cWi")?;
    let [target] = flags.operands.as_slice() else {
        return Err(Failure::Usage("give one IPv4 address".into()));
    };
    let addr: Ipv4Addr = target.parse().map_err(|_| {
        Failure::Usage(format!("{target}: not an IPv4 address (names are not looked up)"))
    })?;
    let count: Option<u32> = flags.number('c')?;
    let wait = seconds(&flags, 'W')?.unwrap_or(Duration::from_secs(10));
    let interval = seconds(&flags, 'i')?.unwrap_or(Duration::from_secs(1));
    let quiet = flags.has('q');
    let pinger = Pinger::open()?;
    println!("PING {addr} ({addr}): {PAYLOAD} data bytes");
    let (mut sent, mut received) = (0u32, 0u32);
    while count.is_none_or(|c| sent < c) {
        let seq = sent as u16;
        let reply = pinger.echo(addr, seq, wait)?;
        sent += 1;
        if let Some(r) = reply {
            received += 1;
            if !quiet {
                let ttl = r.ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
                let ms = r.rtt.as_secs_f64() * 1000.0;
                println!("{} bytes from {addr}: seq={seq}{ttl} time={ms:.3} ms", PAYLOAD + 8);
            }
            if count.is_none_or(|c| sent < c) {
                std::thread::sleep(interval.saturating_sub(r.rtt));
            }
        }
    }
    let loss = (100 * (sent - received)).checked_div(sent).unwrap_or(0);
    println!("\n--- {addr} ping statistics ---");
    println!("{sent} packets transmitted, {received} packets received, {loss}% packet loss");
    Ok(if received > 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_an_echo_request_with_a_valid_checksum() {
        let p = echo_request(0x1234, 7);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        // A packet with its checksum in place sums to zero.
        assert_eq!(checksum(&p), 0);
        // RFC 1071's worked example.
        assert_eq!(!checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
    }

    #[test]
    fn reads_only_echo_replies() {
        let mut reply = echo_request(9, 3);
        reply[0] = ICMP_ECHO_REPLY;
        assert_eq!(parse_echo_reply(&reply), Some((9, 3)));
        assert_eq!(parse_echo_reply(&echo_request(9, 3)), None);
        assert_eq!(parse_echo_reply(&[0, 0, 0]), None);
    }

    #[test]
    fn loopback_answers_as_root() {
        if !crate::privileges::is_root() {
            eprintln!("skipped: a raw ICMP socket needs root");
            return;
        }
        assert!(once(Ipv4Addr::LOCALHOST, Duration::from_secs(2)).unwrap());
    }
}
