//! `wget [-q] [-O FILE] [-T SECS] http://HOST[:PORT]/PATH`: one HTTP/1.0 GET.
//!
//! The body goes to FILE (`-O -`: standard output; without `-O`, the last part of the path, or
//! `index.html`). A status other than 2xx is an error, as in busybox: `wget: server returned error:
//! HTTP/1.0 404 Not Found`, exit status 1. Plain `http://` only; `-q` silences the progress lines.

use super::{seconds, Failure, Flags, Outcome};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// An `http://` URL taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, Failure> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Failure::Usage(format!("{url}: only http:// URLs are supported")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            (h, p.parse().map_err(|_| Failure::Usage(format!("{url}: bad port {p:?}")))?)
        }
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(Failure::Usage(format!("{url}: no host")));
    }
    Ok(Url { host: host.to_string(), port, path: path.to_string() })
}

/// Where the body goes when `-O` is not given: the path's last part, as wget names it.
pub fn default_output(url: &Url) -> String {
    let path = url.path.split(['?', '#']).next().unwrap_or("");
    match path.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "index.html".to_string(),
    }
}

pub fn main(args: &[String]) -> Outcome {
    let flags = Flags::parse(args, "q", "OT")?;
    let [url] = flags.operands.as_slice() else {
        return Err(Failure::Usage("give one URL".into()));
    };
    let url = parse_url(url)?;
    let timeout = seconds(&flags, 'T')?.unwrap_or(Duration::from_secs(10));
    let quiet = flags.has('q');
    let output = flags.value('O').map(String::from).unwrap_or_else(|| default_output(&url));
    if !quiet {
        eprintln!("Connecting to {}:{}", url.host, url.port);
    }
    let (status_line, body) = get(&url, timeout)?;
    let code: u16 = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if !(200..300).contains(&code) {
        eprintln!("wget: server returned error: {status_line}");
        return Ok(1);
    }
    if output == "-" {
        std::io::stdout().write_all(&body)?;
    } else {
        std::fs::write(&output, &body)?;
        if !quiet {
            eprintln!("saved '{output}' ({} bytes)", body.len());
        }
    }
    Ok(0)
}

/// Sends the GET and returns the status line and the body.
pub fn get(url: &Url, timeout: Duration) -> std::io::Result<(String, Vec<u8>)> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{}: no address", url.host)))?;
    let mut conn = TcpStream::connect_timeout(&addr, timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: workshop-wget\r\n\r\n",
        url.path, url.host
    );
    conn.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    split_response(&answer).ok_or_else(|| std::io::Error::other("the server's answer is not HTTP"))
}

/// The status line and the body of a raw HTTP response.
pub fn split_response(answer: &[u8]) -> Option<(String, Vec<u8>)> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let status = head.lines().next()?.trim().to_string();
    status.starts_with("HTTP/").then(|| (status, answer[end + 4..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_urls_apart() {
        assert_eq!(
            parse_url("http://10.200.0.2/").unwrap(),
            Url { host: "10.200.0.2".into(), port: 80, path: "/".into() }
        );
        assert_eq!(
            parse_url("http://localhost:8080/big").unwrap(),
            Url { host: "localhost".into(), port: 8080, path: "/big".into() }
        );
        assert_eq!(parse_url("http://h").unwrap().path, "/");
        assert!(parse_url("https://h/").is_err());
        assert!(parse_url("http://h:x/").is_err());
        assert_eq!(default_output(&parse_url("http://h/a/b.txt?x").unwrap()), "b.txt");
        assert_eq!(default_output(&parse_url("http://h/").unwrap()), "index.html");
    }

    #[test]
    fn splits_status_and_body() {
        let (status, body) = split_response(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nhi\r\n\r\n").unwrap();
        assert_eq!(status, "HTTP/1.0 200 OK");
        assert_eq!(body, b"hi\r\n\r\n");
        assert!(split_response(b"garbage").is_none());
    }

    #[test]
    fn fetches_from_the_toolbox_httpd() {
        let dir = std::env::temp_dir().join(format!("toolbox-wget-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("page.txt"), "page\n").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = dir.clone();
        std::thread::spawn(move || super::super::httpd::serve(listener, &root));
        let url = parse_url(&format!("http://127.0.0.1:{port}/page.txt")).unwrap();
        let (status, body) = get(&url, Duration::from_secs(2)).unwrap();
        assert_eq!((status.as_str(), body.as_slice()), ("HTTP/1.0 200 OK", &b"page\n"[..]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
