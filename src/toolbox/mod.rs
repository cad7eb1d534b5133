//! The workshop's toolbox: the few network tools a fresh Debian or Ubuntu machine does not have.
//!
//! A root filesystem made from the host's own binaries gets `sh`, `ls`, `ps`, `ip` and the rest from
//! the host, but a freshly installed system has no web server, no `nc`, often no `ping` and no
//! `wget`. Busybox has them all; without it, this one small program stands in, built by Cargo from
//! the workshop itself. Like busybox it is a *multi-call* binary: the root filesystem has
//! `/bin/httpd -> toolbox`, and the tool runs the applet its `argv[0]` names (or, called as
//! `toolbox APPLET ARGS…`, the one its first argument names).
//!
//! Each applet takes only the flags the course uses, with busybox's spelling; anything else is a
//! usage error (exit status 1), never silently ignored:
//!
//! | applet | flags | what it does |
//! |---|---|---|
//! | [`httpd`] | `[-f] [-p [IP:]PORT] [-h DIR]` | serve DIR's files over HTTP/1.0 (`-f`: stay in the foreground) |
//! | [`nc`] | `[-w SECS] HOST PORT`, `-l [-w SECS] -p PORT` | connect (or listen and accept one), copy stdin to the socket and the socket to stdout |
//! | [`wget`] | `[-q] [-O FILE] [-T SECS] http://HOST[:PORT]/PATH` | one HTTP/1.0 GET (`-O -`: to stdout) |
//! | [`ping`] | `[-c COUNT] [-W SECS] [-i SECS] ADDR` | ICMP echo requests to an IPv4 address |
//! | [`ip`] | `[-o] [-4] link\|addr\|route [show [dev] NAME]` | list links, addresses, routes (only where the host has no iproute2) |
//! | [`attack`] | `keyctl`, `setuid` | stage 08's attacks that no shell tool makes, in both kinds of root filesystem |

pub mod attack;
pub mod httpd;
pub mod ip;
pub mod nc;
pub mod ping;
pub mod wget;

use std::ffi::OsString;
use std::path::Path;

/// The applets, with their one-line usage.
pub const APPLETS: [(&str, &str); 6] = [
    ("httpd", "httpd [-f] [-p [IP:]PORT] [-h DIR]"),
    ("nc", "nc [-w SECS] HOST PORT  |  nc -l [-w SECS] -p PORT"),
    ("wget", "wget [-q] [-O FILE] [-T SECS] http://HOST[:PORT]/PATH"),
    ("ping", "ping [-c COUNT] [-W SECS] [-i SECS] ADDR"),
    ("ip", "ip [-o] [-4] link|addr|route [show [dev] NAME]"),
    ("attack", "attack keyctl|setuid"),
];

/// Names the multi-call binary answers to as itself rather than as an applet.
const SELF_NAMES: [&str; 2] = ["toolbox", "busybox"];

/// Runs the applet `args` names and returns its exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    let mut args: Vec<String> =
        args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let called = args
        .first()
        .map(|a| Path::new(a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
        .unwrap_or_default();
    let applet = if SELF_NAMES.contains(&called.as_str()) {
        args.remove(0);
        match args.first().map(String::as_str) {
            Some("--list") => {
                APPLETS.iter().for_each(|(name, _)| println!("{name}"));
                return 0;
            }
            Some(name) => name.to_string(),
            None => {
                eprintln!("{}", usage_all());
                return 1;
            }
        }
    } else {
        called
    };
    let rest = args.get(1..).unwrap_or_default().to_vec();
    let result = match applet.as_str() {
        "httpd" => httpd::main(&rest),
        "nc" => nc::main(&rest),
        "wget" => wget::main(&rest),
        "ping" => ping::main(&rest),
        "ip" => ip::main(&rest),
        "attack" => attack::main(&rest),
        other => Err(Failure::Usage(format!("toolbox has no applet {other:?}"))),
    };
    match result {
        Ok(status) => status,
        Err(Failure::Usage(why)) => {
            let usage = APPLETS.iter().find(|(n, _)| *n == applet).map(|(_, u)| *u);
            match usage {
                Some(u) => eprintln!("{applet}: {why}\nusage: {u}"),
                None => eprintln!("{why}\n{}", usage_all()),
            }
            1
        }
        Err(Failure::Io(e)) => {
            eprintln!("{applet}: {e}");
            1
        }
    }
}

fn usage_all() -> String {
    let lines: Vec<String> = APPLETS.iter().map(|(_, u)| format!("  {u}")).collect();
    format!(
        "usage: toolbox APPLET [ARGS…], or an applet's name as argv[0]; applets:\n{}",
        lines.join("\n")
    )
}

/// Why an applet stopped: bad arguments (the usage line follows) or a failed operation.
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// An applet's result: its exit status, or why it failed.
pub type Outcome = Result<i32, Failure>;

/// Reads command-line flags the way busybox does: `-c 3`, `-c3` and grouped switches (`-qO-`).
/// `switches` take no value, `valued` take one; the rest are operands, in order.
pub(crate) struct Flags {
    pub switches: Vec<char>,
    pub values: Vec<(char, String)>,
    pub operands: Vec<String>,
}

impl Flags {
    pub fn parse(args: &[String], switches: &str, valued: &str) -> Result<Flags, Failure> {
        let mut flags = Flags { switches: Vec::new(), values: Vec::new(), operands: Vec::new() };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                flags.operands.extend(it.cloned());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                flags.operands.push(arg.clone());
                continue;
            }
            for (i, c) in arg[1..].char_indices() {
                if switches.contains(c) {
                    flags.switches.push(c);
                } else if valued.contains(c) {
                    let inline = &arg[1 + i + c.len_utf8()..];
                    let value = if inline.is_empty() {
                        it.next()
                            .cloned()
                            .ok_or_else(|| Failure::Usage(format!("option -{c} needs a value")))?
                    } else {
                        inline.to_string()
                    };
                    flags.values.push((c, value));
                    break;
                } else {
                    return Err(Failure::Usage(format!("unknown option -{c}")));
                }
            }
        }
        Ok(flags)
    }

    pub fn has(&self, c: char) -> bool {
        self.switches.contains(&c)
    }

    pub fn value(&self, c: char) -> Option<&str> {
        self.values.iter().rev().find(|(k, _)| *k == c).map(|(_, v)| v.as_str())
    }

    /// A numeric value, with a usage error naming the flag when it is not a number.
    pub fn number<T: std::str::FromStr>(&self, c: char) -> Result<Option<T>, Failure> {
        self.value(c)
            .map(|v| v.parse().map_err(|_| Failure::Usage(format!("-{c} {v}: not a number"))))
            .transpose()
    }
}

/// Seconds as busybox reads them: whole or fractional (`-i 0.2`).
pub(crate) fn seconds(flags: &Flags, c: char) -> Result<Option<std::time::Duration>, Failure> {
    Ok(flags.number::<f64>(c)?.filter(|s| *s >= 0.0).map(std::time::Duration::from_secs_f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_read_like_busybox() {
        let f = Flags::parse(&strings(&["-qO-", "http://x/"]), "q", "O").unwrap();
        assert!(f.has('q'));
        assert_eq!(f.value('O'), Some("-"));
        assert_eq!(f.operands, ["http://x/"]);
        let f = Flags::parse(&strings(&["-c", "3", "-W2", "10.0.0.1"]), "", "cWi").unwrap();
        assert_eq!(f.number::<u32>('c').unwrap(), Some(3));
        assert_eq!(f.number::<u32>('W').unwrap(), Some(2));
        assert!(matches!(Flags::parse(&strings(&["-x"]), "q", "O"), Err(Failure::Usage(_))));
        assert!(matches!(Flags::parse(&strings(&["-O"]), "q", "O"), Err(Failure::Usage(_))));
        assert!(matches!(
            Flags::parse(&strings(&["-c", "many"]), "", "c").unwrap().number::<u32>('c'),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn dispatches_on_argv0_or_the_first_argument() {
        let run_with = |a: &[&str]| run(a.iter().map(OsString::from).collect());
        assert_eq!(run_with(&["/bin/toolbox", "--list"]), 0);
        assert_eq!(run_with(&["/bin/toolbox"]), 1);
        assert_eq!(run_with(&["/bin/toolbox", "frobnicate"]), 1);
        assert_eq!(run_with(&["/usr/bin/ping", "-z"]), 1);
        assert_eq!(run_with(&["busybox", "wget", "-O"]), 1);
    }
}
