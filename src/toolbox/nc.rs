//! `nc [-w SECS] HOST PORT` and `nc -l [-w SECS] -p PORT`: a TCP connection joined to stdin and stdout.
//!
//! Connecting (or, with `-l`, accepting one connection), it copies stdin to the socket and the
//! socket to stdout. When stdin ends it half-closes the connection (shutdown(SHUT_WR), so the peer
//! reads end-of-file) and keeps printing what the peer sends until the peer closes: that is how
//! `printf 'GET / HTTP/1.0\r\n\r\n' | nc HOST 80` gets the whole answer, and how
//! `echo hello | nc HOST PORT` ends once the listener has read its line and hung up.
//! `-w SECS` bounds the connect and every wait for data.

use super::{seconds, Failure, Flags, Outcome};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What `nc` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Connect { host: String, port: u16 },
    Listen { port: u16 },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub timeout: Option<Duration>,
}

pub fn parse(args: &[String]) -> Result<Options, Failure> {
    let flags = Flags::parse(args, "ln", "wp")?;
    let timeout = seconds(&flags, 'w')?;
    let port_of =
        |p: &str| p.parse::<u16>().map_err(|_| Failure::Usage(format!("{p}: not a port")));
    let mode = if flags.has('l') {
        // busybox spells it `-l -p PORT`; OpenBSD's nc `-l PORT`. Both are accepted.
        let port = match (flags.value('p'), flags.operands.as_slice()) {
            (Some(p), []) => port_of(p)?,
            (None, [p]) => port_of(p)?,
            _ => return Err(Failure::Usage("listen with -l -p PORT".into())),
        };
        Mode::Listen { port }
    } else {
        match flags.operands.as_slice() {
            [host, port] => Mode::Connect { host: host.clone(), port: port_of(port)? },
            _ => return Err(Failure::Usage("give HOST and PORT".into())),
        }
    };
    Ok(Options { mode, timeout })
}

pub fn main(args: &[String]) -> Outcome {
    let opts = parse(args)?;
    let conn = match &opts.mode {
        Mode::Connect { host, port } => connect(host, *port, opts.timeout)?,
        Mode::Listen { port } => {
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, *port))?;
            listener.accept()?.0
        }
    };
    conn.set_read_timeout(opts.timeout)?;
    relay(conn, std::io::stdin(), std::io::stdout())?;
    Ok(0)
}

fn connect(host: &str, port: u16, timeout: Option<Duration>) -> std::io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = std::io::Error::other(format!("{host}: no address"));
    for addr in addrs {
        let tried = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match tried {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Copies `input` to the connection (then half-closes it) while copying the connection to
/// `output`, until the peer closes or a read times out.
pub fn relay(
    conn: TcpStream,
    mut input: impl Read + Send + 'static,
    mut output: impl Write,
) -> std::io::Result<()> {
    let mut sending = conn.try_clone()?;
    // Not joined: stdin may stay open (a terminal) after the peer has gone, and the process
    // ends when the receiving side does.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut input, &mut sending);
        let _ = sending.shutdown(Shutdown::Write);
    });
    let mut receiving = conn;
    let mut buf = [0u8; 16 << 10];
    loop {
        match receiving.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                output.write_all(&buf[..n])?;
                output.flush()?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn reads_connect_and_listen_forms() {
        assert_eq!(
            parse(&strings(&["-w", "2", "10.0.0.1", "80"])).unwrap(),
            Options {
                mode: Mode::Connect { host: "10.0.0.1".into(), port: 80 },
                timeout: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            parse(&strings(&["-l", "-p", "9000"])).unwrap().mode,
            Mode::Listen { port: 9000 }
        );
        assert_eq!(parse(&strings(&["-l", "9000"])).unwrap().mode, Mode::Listen { port: 9000 });
        assert!(parse(&strings(&["10.0.0.1"])).is_err());
        assert!(parse(&strings(&["-l"])).is_err());
        assert!(parse(&strings(&["host", "http"])).is_err());
    }

    #[test]
    fn sends_stdin_half_closes_and_prints_the_answer() {
        // A peer that reads to end-of-file, then answers: it only answers if nc half-closed.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).unwrap();
            s.write_all(format!("got {got}").as_bytes()).unwrap();
        });
        let conn = connect("127.0.0.1", port, Some(Duration::from_secs(2))).unwrap();
        let mut out = Vec::new();
        relay(conn, &b"hello\n"[..], &mut out).unwrap();
        peer.join().unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "got hello\n");
    }
}
