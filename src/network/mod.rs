//! Network namespace, veth pair, addresses, routes: a network of the container's own, joined to
//! the host by a virtual cable. See network_namespaces(7), veth(4), rtnetlink(7), tc-tbf(8).
//!
//! ```text
//!   host                                   container (its own network namespace)
//!   ┌───────────────────────────┐          ┌──────────────────────────┐
//!   │ wsh-TAG  10.200.0.1/30    │══veth════│ eth0  10.200.0.2/30      │
//!   └───────────────────────────┘          │ lo    127.0.0.1          │
//!                                          │ default via 10.200.0.1   │
//!                                          └──────────────────────────┘
//! ```
//! Everything is done through netlink by the program itself ([`crate::netlink`]); the narration
//! prints the `ip` and `tc` commands a person would type for the same thing.

pub mod forward;
pub mod ipam;
pub mod subnet;

use crate::netlink::Netlink;
use crate::runtime::{Cleanup, Owned, Resource};
use anyhow::Context;
use nix::unistd::Pid;
use std::net::{Ipv4Addr, SocketAddrV4};
pub use subnet::Subnet;

/// How the host end of the container's veth is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attach {
    /// The host end holds the gateway address itself: one container, one cable.
    HostEnd,
    /// The host end is a port of this bridge, which holds the gateway address (like docker0).
    Bridge(String),
}

/// A rate limit on the container's link, as tc writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    pub text: String,
    pub bytes_per_sec: u64,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes_per_sec =
            crate::netlink::parse_rate(s).map_err(|e| format!("--network-rate {s:?}: {e}"))?;
        Ok(Rate { text: s.to_string(), bytes_per_sec })
    }
}

impl Rate {
    /// tbf's bucket: at least 4 KiB (the course notes' `burst 32kbit`), more for fast rates so a
    /// full-size packet always fits.
    pub fn burst_bytes(&self) -> u32 {
        (self.bytes_per_sec / 100).clamp(4096, 1 << 20) as u32
    }

    /// tbf's queue: what the rate sends in 400 ms, plus one bucket (`latency 400ms`).
    pub fn limit_bytes(&self) -> u32 {
        (self.bytes_per_sec * 2 / 5)
            .saturating_add(u64::from(self.burst_bytes()))
            .min(u32::MAX as u64) as u32
    }
}

/// The container's network, decided before it starts.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    pub subnet: Subnet,
    /// The host's address in the subnet, the container's default route.
    pub gateway: Ipv4Addr,
    pub address: Ipv4Addr,
    pub attach: Attach,
    pub rate: Option<Rate>,
    pub publish: Vec<forward::Publish>,
}

impl NetworkConfig {
    /// One container on its own cable, in its own block of the workshop subnet (see [`ipam`]): the
    /// host's end is the block's first address, the container its second.
    pub fn single(subnet: Subnet) -> NetworkConfig {
        NetworkConfig {
            subnet,
            gateway: subnet.host(1).expect("a /30 or wider has a first host"),
            address: subnet.host(2).expect("a /30 or wider has a second host"),
            attach: Attach::HostEnd,
            rate: None,
            publish: Vec::new(),
        }
    }
}

/// The veth ends' names: 15 characters at most (IFNAMSIZ), unique per container.
pub fn veth_names(tag: &str) -> (String, String) {
    (format!("wsh-{tag}"), format!("wsc-{tag}"))
}

/// A short random tag for the names of one container's links.
pub fn new_tag() -> String {
    crate::uts::container_id()[..6].to_string()
}

fn netlink() -> anyhow::Result<Netlink> {
    Netlink::open().context("open a netlink socket")
}

/// Whether a link is one of the workshop's own (a veth's host end, a bridge): the routes and
/// addresses on those are other containers' leases, not the host's.
pub fn is_workshop_link(name: &str) -> bool {
    name.starts_with("wsh-") || name.starts_with("wsbr-")
}

/// Checks that the subnet is free on the host: no route or address of the host overlaps it. The
/// workshop's own links are left out: their blocks are leased, and the lease table keeps them apart.
pub fn check_subnet_free(subnet: &Subnet) -> anyhow::Result<()> {
    let mut nl = netlink()?;
    let links = nl.links()?;
    // A route or address whose link is not in the list belongs to a link that went between the
    // two dumps: an ended container's veth, which the kernel is removing. Not the host's.
    let ours = |index: Option<u32>| match index.and_then(|i| links.iter().find(|l| l.index == i)) {
        Some(l) => is_workshop_link(&l.name),
        None => index.is_some(),
    };
    let name = |index: Option<u32>| {
        index
            .and_then(|i| links.iter().find(|l| l.index == i))
            .map(|l| format!("a route via {}", l.name))
            .unwrap_or_else(|| "a route".into())
    };
    let mut in_use: Vec<subnet::InUse> = nl
        .routes()?
        .into_iter()
        .filter(|r| r.table == 254 && r.prefix_len > 0 && !ours(r.oif))
        .map(|r| subnet::InUse {
            subnet: Subnet { base: r.destination, prefix_len: r.prefix_len },
            what: name(r.oif),
        })
        .collect();
    for a in nl.addresses()? {
        if !a.address.is_loopback() && !ours(Some(a.index)) {
            in_use.push(subnet::InUse {
                subnet: Subnet { base: a.address, prefix_len: 32 },
                what: format!(
                    "the address {} on {}",
                    a.address,
                    name(Some(a.index)).trim_start_matches("a route via ")
                ),
            });
        }
    }
    subnet::check_free(subnet, &in_use).map_err(anyhow::Error::msg)
}

// ANCHOR: host_side
/// The host's part, while the container waits: a veth pair, one end made in the container's
/// network namespace, the other given the gateway address (or plugged into a bridge); then the
/// published ports. Each thing is written to the run's record before it is created.
///
/// The veth pair is returned rather than put in `cleanup`: once the container's last process is
/// gone, its network namespace dies and the kernel deletes both ends by itself, so the caller only
/// [`Owned::forget`]s it then. Deleting it with RTM_DELLINK instead would wait for an RCU grace
/// period, 20 ms or more, on every container's exit. Until the kernel has done so, [`ipam`] does not
/// hand the block out again.
pub fn host_side(
    net: &NetworkConfig,
    tag: &str,
    pid: Pid,
    cleanup: &mut Cleanup,
) -> anyhow::Result<Owned> {
    let mut nl = netlink()?;
    let (host_end, container_end) = veth_names(tag);
    // ip link add wsh-TAG type veth peer name wsc-TAG netns PID: the container's end is made in
    // the container's network namespace (the same as making it here, then `ip link set wsc-TAG
    // netns PID`, without the ~20 ms wait for an RCU grace period that a move costs).
    // Deleting one end of a veth pair deletes both; it also goes when the container's namespace does.
    let (veth, ()) = Owned::create(Resource::Link { name: host_end.clone() }, || {
        nl.add_veth_into(&host_end, &container_end, Some(pid.as_raw())).map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EOPNOTSUPP) {
                anyhow::anyhow!("this kernel has no veth driver: load it with `modprobe veth` (see `cargo run -- doctor`)")
            } else {
                e.into()
            }
        })
    })?;
    match &net.attach {
        // ip addr add 10.200.0.1/30 dev wsh-TAG
        Attach::HostEnd => {
            // The same run's previous container on this block may still be on its way out (the
            // kernel deletes its pair a moment after it ends): two links with one address would
            // split the traffic between them, so that one must go first.
            make_address_free(net.gateway, std::time::Duration::from_millis(50))?;
            nl.add_address(&host_end, net.gateway, net.subnet.prefix_len)?
        }
        // ip link set wsh-TAG master BRIDGE
        Attach::Bridge(bridge) => nl.set_master(&host_end, bridge)?,
    }
    // ip link set wsh-TAG up
    nl.set_up(&host_end)?;
    for p in &net.publish {
        let fwd = forward::start(p.host_port, SocketAddrV4::new(net.address, p.container_port))?;
        cleanup.push(Owned::adopt(fwd.resource())?);
    }
    Ok(veth)
}
// ANCHOR_END: host_side

// ANCHOR: inside
/// The container's part, in its own network namespace: loopback up, its veth end (`wsc-TAG`)
/// renamed eth0, an address, a default route through the host, and the rate limit if any.
pub fn inside(net: &NetworkConfig, container_end: &str) -> anyhow::Result<()> {
    let mut nl = netlink()?;
    nl.set_up("lo")?; // ip link set lo up
    nl.rename(container_end, "eth0")?; // ip link set wsc-TAG name eth0
    nl.add_address("eth0", net.address, net.subnet.prefix_len)?; // ip addr add 10.200.0.2/24 dev eth0
    nl.set_up("eth0")?; // ip link set eth0 up
    nl.add_default_route(net.gateway)?; // ip route add default via 10.200.0.1
    if let Some(rate) = &net.rate {
        // tc qdisc add dev eth0 root tbf rate 1mbit burst 32kbit latency 400ms
        nl.add_tbf("eth0", rate.bytes_per_sec, rate.burst_bytes(), rate.limit_bytes())?;
    }
    Ok(())
}
// ANCHOR_END: inside

/// Only loopback, up: the network of a `--rootless` container, which may not touch the host's links.
pub fn loopback_only() -> anyhow::Result<()> {
    netlink()?.set_up("lo")?;
    Ok(())
}

/// `ip link del NAME`, where a link already gone is no error.
pub fn delete_link_if_present(name: &str) -> anyhow::Result<()> {
    match netlink()?.delete_link(name) {
        Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV) => Ok(()),
        other => Ok(other?),
    }
}

/// A bridge on the host holding the gateway address (docker0's role), recorded, removed when
/// dropped.
pub struct Bridge {
    pub name: String,
    _owned: Owned,
}

impl Bridge {
    /// ip link add NAME type bridge; ip addr add GATEWAY/PREFIX dev NAME; ip link set NAME up
    pub fn create(name: &str, gateway: Ipv4Addr, subnet: &Subnet) -> anyhow::Result<Bridge> {
        let mut nl = netlink()?;
        let (owned, ()) =
            Owned::create(Resource::Link { name: name.to_string() }, || Ok(nl.add_bridge(name)?))?;
        let bridge = Bridge { name: name.to_string(), _owned: owned };
        nl.add_address(name, gateway, subnet.prefix_len)?;
        nl.set_up(name)?;
        Ok(bridge)
    }
}

/// The host's network as `ip link`, `ip addr`, `ip route` and `tc qdisc` show it, to compare before
/// and after a run.
#[derive(Debug, PartialEq, Eq)]
pub struct HostNetwork {
    pub links: Vec<String>,
    pub addresses: Vec<String>,
    pub routes: Vec<String>,
    pub qdiscs: Vec<String>,
}

impl HostNetwork {
    pub fn capture() -> anyhow::Result<HostNetwork> {
        let mut nl = netlink()?;
        let mut links: Vec<String> =
            nl.links()?.into_iter().map(|l| format!("{} {}", l.index, l.name)).collect();
        let mut addresses: Vec<String> = nl
            .addresses()?
            .into_iter()
            .map(|a| format!("{} {}/{}", a.index, a.address, a.prefix_len))
            .collect();
        let mut routes: Vec<String> = nl
            .routes()?
            .into_iter()
            .map(|r| {
                format!(
                    "{} {}/{} via {:?} dev {:?}",
                    r.table, r.destination, r.prefix_len, r.gateway, r.oif
                )
            })
            .collect();
        let mut qdiscs: Vec<String> = nl
            .qdiscs()?
            .into_iter()
            .map(|q| format!("{} {} {:x} {:x}", q.index, q.kind, q.handle, q.parent))
            .collect();
        for v in [&mut links, &mut addresses, &mut routes, &mut qdiscs] {
            v.sort();
        }
        Ok(HostNetwork { links, addresses, routes, qdiscs })
    }

    /// The names of the host's links, for narration.
    pub fn link_names(&self) -> Vec<String> {
        self.links.iter().filter_map(|l| l.split_once(' ').map(|(_, n)| n.to_string())).collect()
    }
}

/// The addresses on the workshop's own links (a veth's host end, a bridge), including those of
/// containers that have just ended and whose links the kernel has not removed yet.
pub fn workshop_addresses() -> anyhow::Result<Vec<Ipv4Addr>> {
    let mut nl = netlink()?;
    let links = nl.links()?;
    let ours: Vec<u32> =
        links.iter().filter(|l| is_workshop_link(&l.name)).map(|l| l.index).collect();
    Ok(nl.addresses()?.into_iter().filter(|a| ours.contains(&a.index)).map(|a| a.address).collect())
}

/// Makes sure no workshop link holds `address` (the gateway of a block this run holds the lease
/// of): a link that still does belongs to an ended container of this run whose namespace the kernel
/// has not finished tearing down. Give the kernel `grace`, then delete it ourselves: under load the
/// kernel's clean-up of namespaces can take seconds.
fn make_address_free(address: Ipv4Addr, grace: std::time::Duration) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + grace;
    loop {
        let holders = workshop_links_holding(address)?;
        if holders.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            for link in holders {
                delete_link_if_present(&link)?;
            }
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The workshop links that hold `address`.
fn workshop_links_holding(address: Ipv4Addr) -> anyhow::Result<Vec<String>> {
    let mut nl = netlink()?;
    let links = nl.links()?;
    let indexes: Vec<u32> =
        nl.addresses()?.into_iter().filter(|a| a.address == address).map(|a| a.index).collect();
    Ok(links
        .into_iter()
        .filter(|l| indexes.contains(&l.index) && is_workshop_link(&l.name))
        .map(|l| l.name)
        .collect())
}

/// Waits (at most `timeout`) until the host's workshop links are those in `expected`: the kernel
/// removes a dead container's veth pair a moment after its last process is gone.
pub fn settle_links(expected: &[String], timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let now: Vec<String> = netlink()
            .and_then(|mut nl| Ok(nl.links()?))
            .map(|l| l.into_iter().map(|l| l.name).filter(|n| is_workshop_link(n)).collect())
            .unwrap_or_default();
        if now.iter().all(|n| expected.contains(n)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Bytes and packets a link has received, from /sys/class/net/NAME/statistics (the host's counters).
pub fn rx_packets(link: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{link}/statistics/rx_packets"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_in_ifnamsiz() {
        let (h, c) = veth_names(&new_tag());
        assert!(h.len() <= 15 && c.len() <= 15, "{h} {c}");
        assert_ne!(h, c);
    }

    #[test]
    fn rate_bucket_and_queue_are_sane() {
        let r: Rate = Rate { text: "1mbit".into(), bytes_per_sec: 125_000 };
        assert_eq!(r.burst_bytes(), 4096);
        assert_eq!(r.limit_bytes(), 50_000 + 4096);
        let fast = Rate { text: "1gbit".into(), bytes_per_sec: 125_000_000 };
        assert!(fast.burst_bytes() > 1500 * 100);
    }
}
