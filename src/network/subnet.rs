//! The workshop subnet: where container addresses come from, checked against the host's routes.

use std::net::Ipv4Addr;
use std::str::FromStr;

/// The default workshop subnet: private, and clear of Docker's 172.17.0.0/16.
pub const DEFAULT_SUBNET: &str = "10.200.0.0/24";

/// An IPv4 subnet such as `10.200.0.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub base: Ipv4Addr,
    pub prefix_len: u8,
}

impl Subnet {
    fn mask(prefix_len: u8) -> u32 {
        if prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - prefix_len)
        }
    }

    /// The n-th address of the subnet (1 is the host's end, 2 and on the containers').
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - self.prefix_len);
        (u64::from(n) < size - 1 && n > 0).then(|| Ipv4Addr::from(u32::from(self.base) + n))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix_len) == u32::from(self.base)
    }

    /// Whether two subnets share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix_len.min(other.prefix_len);
        u32::from(self.base) & Self::mask(p) == u32::from(other.base) & Self::mask(p)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix_len)
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "give an IPv4 subnet like 10.200.0.0/24";
        let (ip, len) =
            s.split_once('/').ok_or_else(|| format!("--subnet {s:?} has no /prefix; {usage}"))?;
        let base: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("--subnet {s:?}: {ip:?} is not an IPv4 address; {usage}"))?;
        let prefix_len: u8 = len
            .parse()
            .map_err(|_| format!("--subnet {s:?}: {len:?} is not a prefix length; {usage}"))?;
        if !(8..=30).contains(&prefix_len) {
            return Err(format!("--subnet {s:?}: the prefix must be from /8 to /30, to hold the host and its containers"));
        }
        let masked = Ipv4Addr::from(u32::from(base) & Self::mask(prefix_len));
        if masked != base {
            return Err(format!(
                "--subnet {s:?} has host bits set; did you mean {masked}/{prefix_len}?"
            ));
        }
        if !base.is_private() {
            return Err(format!(
                "--subnet {s:?} is not a private range (10/8, 172.16/12, 192.168/16); the workshop only uses addresses that stay on this machine"
            ));
        }
        Ok(Subnet { base, prefix_len })
    }
}

/// What is already routed on the host, reduced to subnets with a name for the message.
pub struct InUse {
    pub subnet: Subnet,
    pub what: String,
}

/// Fails, with a message that says what to do, when `subnet` overlaps anything the host routes.
pub fn check_free(subnet: &Subnet, in_use: &[InUse]) -> Result<(), String> {
    match in_use.iter().find(|u| u.subnet.prefix_len > 0 && u.subnet.overlaps(subnet)) {
        Some(u) => Err(format!(
            "the workshop subnet {subnet} clashes with {} ({}) on this host; pick a free one with --subnet, for example 10.201.0.0/24",
            u.subnet, u.what
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_allocates() {
        let s: Subnet = "10.200.0.0/24".parse().unwrap();
        assert_eq!(s.host(1), Some(Ipv4Addr::new(10, 200, 0, 1)));
        assert_eq!(s.host(2), Some(Ipv4Addr::new(10, 200, 0, 2)));
        assert_eq!(s.host(255), None, "the broadcast address is not a host");
        assert_eq!(s.host(0), None, "the network address is not a host");
        assert!(s.contains(Ipv4Addr::new(10, 200, 0, 77)));
        assert!(!s.contains(Ipv4Addr::new(10, 201, 0, 1)));
    }

    #[test]
    fn rejects_bad_subnets_with_a_reason() {
        for (bad, why) in [
            ("10.200.0.0", "no /prefix"),
            ("10.200.0.300/24", "not an IPv4"),
            ("10.200.0.0/31", "/8 to /30"),
            ("10.200.0.5/24", "did you mean 10.200.0.0/24"),
            ("8.8.8.0/24", "not a private range"),
        ] {
            let e = bad.parse::<Subnet>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn finds_clashes_with_host_routes() {
        let s: Subnet = "10.200.0.0/24".parse().unwrap();
        let docker = InUse { subnet: "172.17.0.0/16".parse().unwrap(), what: "docker0".into() };
        assert!(check_free(&s, &[docker]).is_ok());
        let wide = InUse {
            subnet: Subnet { base: Ipv4Addr::new(10, 0, 0, 0), prefix_len: 8 },
            what: "vpn0".into(),
        };
        let e = check_free(&s, &[wide]).unwrap_err();
        assert!(e.contains("10.0.0.0/8") && e.contains("vpn0") && e.contains("--subnet"), "{e}");
    }
}
