//! `ip [-o] [-4] link|addr|route [show [dev] NAME]`: the network's state, read over netlink.
//!
//! Only for a host without iproute2 (the root filesystem copies the host's `ip` when there is
//! one): the read-only forms the course runs inside a container, printed in iproute2's layout
//! closely enough for a person and for the stages' tests (`N: NAME: <FLAGS>`, `inet A/P`,
//! `default via GW dev NAME`). Changing the network is the stages' job, through
//! [`crate::netlink`], which this applet also uses: an RTM_GETLINK, RTM_GETADDR or RTM_GETROUTE
//! dump, as `ip` itself sends.

use super::{Failure, Flags, Outcome};
use crate::netlink::{Address, Link, Netlink, Route, RT_TABLE_MAIN};
use std::net::Ipv4Addr;

/// What to list.
#[derive(Debug, PartialEq, Eq)]
pub enum Object {
    Link,
    Addr,
    Route,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub object: Object,
    /// `-o`: one line per record.
    pub oneline: bool,
    /// `show [dev] NAME`: only this interface.
    pub dev: Option<String>,
}

pub fn parse(args: &[String]) -> Result<Options, Failure> {
    let flags = Flags::parse(args, "o4", "")?;
    let mut words = flags.operands.iter().map(String::as_str);
    let object = match words.next() {
        Some("link" | "l") => Object::Link,
        Some("addr" | "address" | "a") => Object::Addr,
        Some("route" | "r" | "ro") => Object::Route,
        Some(other) => return Err(Failure::Usage(format!("this ip only lists, not {other:?}"))),
        None => return Err(Failure::Usage("give link, addr or route".into())),
    };
    let rest: Vec<&str> = words.collect();
    let dev = match rest.as_slice() {
        [] | ["show"] | ["list"] => None,
        ["show" | "list", "dev", name] | ["show" | "list", name] => Some(name.to_string()),
        _ => {
            return Err(Failure::Usage(format!(
                "this ip only lists (`show [dev] NAME`), not {:?}",
                rest.join(" ")
            )))
        }
    };
    Ok(Options { object, oneline: flags.has('o'), dev })
}

pub fn main(args: &[String]) -> Outcome {
    let opts = parse(args)?;
    let io = |e: crate::netlink::NetlinkError| Failure::Io(std::io::Error::other(e.to_string()));
    let mut nl = Netlink::open().map_err(io)?;
    let links = nl.links().map_err(io)?;
    let addresses = nl.addresses().map_err(io)?;
    let routes = if opts.object == Object::Route { nl.routes().map_err(io)? } else { Vec::new() };
    if let Some(dev) = &opts.dev {
        if !links.iter().any(|l| &l.name == dev) {
            eprintln!("Device \"{dev}\" does not exist.");
            return Ok(1);
        }
    }
    print!("{}", render(&opts, &links, &addresses, &routes));
    Ok(0)
}

/// The listing, as text.
pub fn render(opts: &Options, links: &[Link], addresses: &[Address], routes: &[Route]) -> String {
    let name_of = |index: u32| {
        links.iter().find(|l| l.index == index).map(|l| l.name.as_str()).unwrap_or("?")
    };
    let chosen = links.iter().filter(|l| opts.dev.as_ref().is_none_or(|d| &l.name == d));
    let sep = if opts.oneline { "\\    " } else { "\n    " };
    let mut out = String::new();
    match opts.object {
        Object::Link => {
            for l in chosen {
                out.push_str(&format!("{}: {}: <{}>", l.index, l.name, flags(l)));
                if l.name == "lo" {
                    out.push_str(&format!("{sep}link/loopback"));
                } else if let Some(mac) = l.mac {
                    let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
                    out.push_str(&format!("{sep}link/ether {}", mac.join(":")));
                }
                out.push('\n');
            }
        }
        Object::Addr => {
            for l in chosen {
                let mine = addresses.iter().filter(|a| a.index == l.index);
                if opts.oneline {
                    for a in mine {
                        out.push_str(&format!(
                            "{}: {}    inet {}/{} scope {}\n",
                            l.index,
                            l.name,
                            a.address,
                            a.prefix_len,
                            scope(a.address)
                        ));
                    }
                } else {
                    out.push_str(&format!("{}: {}: <{}>\n", l.index, l.name, flags(l)));
                    for a in mine {
                        out.push_str(&format!(
                            "    inet {}/{} scope {} {}\n",
                            a.address,
                            a.prefix_len,
                            scope(a.address),
                            l.name
                        ));
                    }
                }
            }
        }
        Object::Route => {
            for r in routes.iter().filter(|r| r.table == RT_TABLE_MAIN) {
                let dev = r.oif.map(name_of).unwrap_or("?");
                match (r.prefix_len, r.gateway) {
                    (0, Some(gw)) => out.push_str(&format!("default via {gw} dev {dev}\n")),
                    (p, Some(gw)) => {
                        out.push_str(&format!("{}/{p} via {gw} dev {dev}\n", r.destination))
                    }
                    (p, None) => {
                        let src = addresses.iter().find(|a| {
                            Some(a.index) == r.oif && within(a.address, r.destination, p)
                        });
                        let src = src.map(|a| format!(" src {}", a.address)).unwrap_or_default();
                        out.push_str(&format!("{}/{p} dev {dev} scope link{src}\n", r.destination))
                    }
                }
            }
        }
    }
    out
}

fn flags(l: &Link) -> &'static str {
    match (l.name == "lo", l.up) {
        (true, true) => "LOOPBACK,UP",
        (true, false) => "LOOPBACK",
        (false, true) => "BROADCAST,MULTICAST,UP",
        (false, false) => "BROADCAST,MULTICAST",
    }
}

fn scope(a: Ipv4Addr) -> &'static str {
    if a.is_loopback() {
        "host"
    } else {
        "global"
    }
}

fn within(a: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
    u32::from(a) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link { index, name: name.into(), kind: None, up, mac: None, master: None }
    }

    #[test]
    fn reads_the_listing_forms() {
        let o = parse(&strings(&["-o", "-4", "addr", "show", "eth0"])).unwrap();
        assert_eq!(o, Options { object: Object::Addr, oneline: true, dev: Some("eth0".into()) });
        assert_eq!(parse(&strings(&["route"])).unwrap().object, Object::Route);
        assert_eq!(
            parse(&strings(&["link", "show", "dev", "lo"])).unwrap().dev.as_deref(),
            Some("lo")
        );
        assert!(parse(&strings(&["link", "set", "lo", "up"])).is_err());
        assert!(parse(&strings(&["neigh"])).is_err());
    }

    #[test]
    fn prints_as_the_stages_read_it() {
        let links = [link(1, "lo", true), link(2, "eth0", true)];
        let addrs = [
            Address { index: 1, address: Ipv4Addr::LOCALHOST, prefix_len: 8 },
            Address { index: 2, address: Ipv4Addr::new(10, 200, 0, 2), prefix_len: 24 },
        ];
        let routes = [
            Route {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
                gateway: Some(Ipv4Addr::new(10, 200, 0, 1)),
                oif: Some(2),
                table: RT_TABLE_MAIN,
            },
            Route {
                destination: Ipv4Addr::new(10, 200, 0, 0),
                prefix_len: 24,
                gateway: None,
                oif: Some(2),
                table: RT_TABLE_MAIN,
            },
            Route {
                destination: Ipv4Addr::new(10, 200, 0, 2),
                prefix_len: 32,
                gateway: None,
                oif: Some(2),
                table: 255,
            },
        ];
        let opts = |object, oneline, dev: Option<&str>| Options {
            object,
            oneline,
            dev: dev.map(String::from),
        };
        assert_eq!(
            render(&opts(Object::Link, true, None), &links, &addrs, &routes),
            "1: lo: <LOOPBACK,UP>\\    link/loopback\n2: eth0: <BROADCAST,MULTICAST,UP>\n"
        );
        assert_eq!(
            render(&opts(Object::Addr, true, Some("eth0")), &links, &addrs, &routes),
            "2: eth0    inet 10.200.0.2/24 scope global\n"
        );
        assert_eq!(
            render(&opts(Object::Route, false, None), &links, &addrs, &routes),
            "default via 10.200.0.1 dev eth0\n10.200.0.0/24 dev eth0 scope link src 10.200.0.2\n"
        );
    }
}
