//! `httpd [-f] [-p [IP:]PORT] [-h DIR]`: a static-file web server, as busybox's is used in the course.
//!
//! HTTP/1.0, one thread per connection, one request per connection: read the request line, map
//! the path beneath DIR (`/` is `index.html`), answer 200 with the file, 404, or 400 for anything
//! that is not a plain GET or HEAD of a path inside DIR. Without `-f` it detaches into the
//! background (fork, setsid) like busybox's, so `httpd -p 80 -h /var/www; …` goes on to the next
//! command; with `-f` it stays in the foreground, which is what a container's PID 1 wants.

use super::{Failure, Flags, Outcome};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// What `httpd` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub foreground: bool,
    pub listen: SocketAddr,
    pub root: PathBuf,
}

pub fn parse(args: &[String]) -> Result<Options, Failure> {
    let flags = Flags::parse(args, "fv", "ph")?;
    if let Some(extra) = flags.operands.first() {
        return Err(Failure::Usage(format!("unexpected argument {extra:?}")));
    }
    let listen = match flags.value('p').unwrap_or("80") {
        p if p.contains(':') => {
            p.parse().map_err(|_| Failure::Usage(format!("-p {p}: not IP:PORT")))?
        }
        p => {
            let port = p.parse().map_err(|_| Failure::Usage(format!("-p {p}: not a port")))?;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        }
    };
    let root = PathBuf::from(flags.value('h').unwrap_or("."));
    Ok(Options { foreground: flags.has('f'), listen, root })
}

pub fn main(args: &[String]) -> Outcome {
    let opts = parse(args)?;
    if !opts.root.is_dir() {
        return Err(Failure::Io(std::io::Error::other(format!(
            "-h {}: not a directory",
            opts.root.display()
        ))));
    }
    // Bind before detaching, so that a port already in use is an error the caller sees.
    let listener = TcpListener::bind(opts.listen)?;
    if !opts.foreground {
        // SAFETY: no other thread exists yet in this single-threaded applet; the child only
        // carries on with plain Rust code.
        match unsafe { libc::fork() } {
            -1 => return Err(std::io::Error::last_os_error().into()),
            0 => {
                // SAFETY: setsid takes no arguments; it detaches from the caller's terminal.
                unsafe { libc::setsid() };
            }
            _ => return Ok(0),
        }
    }
    serve(listener, &opts.root);
    Ok(0)
}

/// Accepts connections forever, each answered on its own thread.
pub fn serve(listener: TcpListener, root: &Path) {
    for conn in listener.incoming().flatten() {
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            let _ = answer(conn, &root);
        });
    }
}

fn answer(mut conn: TcpStream, root: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers are read and ignored; HTTP/1.0 needs none of them.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let (status, body, head_only) = respond(&request, root);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let header = format!(
        "HTTP/1.0 {status} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        content_type(&request),
        body.len()
    );
    conn.write_all(header.as_bytes())?;
    if !head_only {
        conn.write_all(&body)?;
    }
    conn.flush()?;
    conn.shutdown(std::net::Shutdown::Both)
}

/// The status, body, and whether it was a HEAD, for one request line.
fn respond(request: &str, root: &Path) -> (u16, Vec<u8>, bool) {
    let mut words = request.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let head_only = method == "HEAD";
    if !(method == "GET" || head_only) {
        return (400, b"only GET and HEAD\n".to_vec(), head_only);
    }
    let Some(path) = file_for(root, target) else {
        return (400, b"bad path\n".to_vec(), head_only);
    };
    match std::fs::read(&path) {
        Ok(body) => (200, body, head_only),
        Err(_) => (404, b"not found\n".to_vec(), head_only),
    }
}

/// The file beneath `root` a request target names, or `None` when it would leave `root`.
pub fn file_for(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let mut file = root.to_path_buf();
    for part in Path::new(path).components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => file.push(p),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if path.ends_with('/') || file.is_dir() {
        file.push("index.html");
    }
    Some(file)
}

fn content_type(request: &str) -> &'static str {
    let target = request.split_whitespace().nth(1).unwrap_or("");
    let target = if target.ends_with('/') { "index.html" } else { target };
    match target.rsplit('.').next() {
        Some("html" | "htm") => "text/html",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn reads_busybox_flags() {
        let o = parse(&strings(&["-f", "-p", "8080", "-h", "/var/www"])).unwrap();
        assert_eq!(
            o,
            Options {
                foreground: true,
                listen: "0.0.0.0:8080".parse().unwrap(),
                root: "/var/www".into()
            }
        );
        let o = parse(&strings(&["-p", "127.0.0.1:81"])).unwrap();
        assert!(!o.foreground);
        assert_eq!(o.listen, "127.0.0.1:81".parse().unwrap());
        assert_eq!(o.root, PathBuf::from("."));
        assert!(parse(&strings(&["-p", "eighty"])).is_err());
        assert!(parse(&strings(&["/var/www"])).is_err());
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let root = Path::new("/srv");
        assert_eq!(file_for(root, "/a/b.txt?x=1"), Some("/srv/a/b.txt".into()));
        assert_eq!(file_for(root, "/"), Some("/srv/index.html".into()));
        assert_eq!(file_for(root, "/../etc/passwd"), None);
        assert_eq!(file_for(root, "/a/../../etc/passwd"), None);
        assert_eq!(file_for(root, "etc/passwd"), None);
    }

    #[test]
    fn serves_a_file_over_real_tcp() {
        let dir = std::env::temp_dir().join(format!("toolbox-httpd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "hello\n").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = dir.clone();
        std::thread::spawn(move || serve(listener, &root));
        let get = |req: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        };
        let page = get("GET / HTTP/1.0\r\n\r\n");
        assert!(page.starts_with("HTTP/1.0 200 OK\r\n"), "{page}");
        assert!(page.ends_with("\r\n\r\nhello\n"), "{page}");
        assert!(get("GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
        assert!(get("GET /../x HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 400"));
        assert!(get("POST / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 400"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
