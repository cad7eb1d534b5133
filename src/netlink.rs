//! Netlink (rtnetlink(7)): how `ip` and `tc` talk to the kernel, done from the program itself.
//!
//! `ip link add`, `ip addr add`, `ip route add` and `tc qdisc add` are thin front ends: each one
//! opens a `NETLINK_ROUTE` socket, sends the kernel a request message (`RTM_NEWLINK`,
//! `RTM_NEWADDR`, `RTM_NEWROUTE`, `RTM_NEWQDISC`, ...) and reads the answer. This module does the
//! same, so a stage can set up networking without any `ip` or `tc` binary in sight.
//!
//! Three things to know about the conversation:
//! - **Every request asks for an acknowledgement** (`NLM_F_ACK`). The kernel answers with an
//!   `NLMSG_ERROR` message whose error code is 0 for success or `-errno` for failure; that errno
//!   (`EEXIST`, `ENODEV`, ...) is what `ip` prints as "File exists" or "Cannot find device".
//!   Requests that create something also set `NLM_F_CREATE | NLM_F_EXCL`: "create it, and fail if
//!   it already exists".
//! - **Listing is a dump** (`NLM_F_DUMP`): the kernel streams the table back in as many datagrams
//!   as it needs, each holding several messages, and ends with `NLMSG_DONE`.
//! - **A netlink socket belongs to the network namespace of the thread that opened it.** Open the
//!   socket after entering (or unsharing) a namespace and every request acts inside that namespace.
//!
//! The message layouts come from the rust-netlink crates (`netlink-packet-route` for the rtnetlink
//! messages, `netlink-packet-core` for the netlink envelope, `netlink-sys` for the socket), used
//! synchronously: no async runtime in a freshly cloned container process. The one thing those
//! crates do not model is the token bucket filter's options, which `tbf_options` encodes by hand.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    parse_string, DefaultNla, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NlaBuffer, NlasIterator, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

/// Receive buffer: the kernel never puts more than 32 KiB of dump into one datagram.
const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// How often a dump is retried when the kernel flags it as inconsistent (`NLM_F_DUMP_INTR`:
/// the table changed while it was being sent), before the last answer is used as it is.
const DUMP_ATTEMPTS: usize = 5;

/// `TC_H_ROOT`: the parent of a device's root qdisc.
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;

/// `RT_TABLE_MAIN`: the routing table `ip route` shows and changes by default.
pub const RT_TABLE_MAIN: u32 = 254;

/// `NLMSGERR_ATTR_MSG`: the human-readable text of an extended acknowledgement.
const NLMSGERR_ATTR_MSG: u16 = 1;

// Token bucket filter attributes inside TCA_OPTIONS (include/uapi/linux/pkt_sched.h).
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;

/// `TC_LINKLAYER_ETHERNET` in `tc_ratespec.linklayer`.
const TC_LINKLAYER_ETHERNET: u8 = 1;

/// Size of `struct tc_tbf_qopt`: two 12-byte `tc_ratespec`s and three `u32`s.
const TBF_QOPT_LEN: usize = 36;

/// A failed netlink request: which command it stood for and what the kernel said.
#[derive(Debug)]
pub struct NetlinkError {
    /// The `ip`/`tc` command the request is equivalent to, e.g.
    /// `ip link add ws-h1a2b3 type veth peer name ws-c1a2b3`.
    pub op: String,
    /// The errno the kernel answered with (`EEXIST`, `ENODEV`, ...), or the failed system call's.
    /// `None` when the problem was found before asking the kernel, or in its answer's encoding.
    pub errno: Option<Errno>,
    /// What went wrong in words: the kernel's own explanation (extended ack) when it gave one,
    /// else the errno's description, else our own.
    pub message: String,
}

impl NetlinkError {
    /// The errno, so callers can react to `EEXIST` (already there) or `ENODEV` (no such link).
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    fn local(op: &str, message: impl Into<String>) -> Self {
        NetlinkError { op: op.to_string(), errno: None, message: message.into() }
    }

    fn kernel(op: &str, errno: Errno, explanation: Option<String>) -> Self {
        let message = explanation.unwrap_or_else(|| errno.desc().to_string());
        NetlinkError { op: op.to_string(), errno: Some(errno), message }
    }

    fn io(op: &str, call: &str, error: std::io::Error) -> Self {
        let errno = error.raw_os_error().map(Errno::from_raw);
        NetlinkError { op: op.to_string(), errno, message: format!("{call}: {error}") }
    }
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(errno) if self.message == errno.desc() => {
                write!(f, "{}: {} ({errno:?})", self.op, errno.desc())
            }
            Some(errno) => write!(f, "{}: {} ({errno:?}): {}", self.op, errno.desc(), self.message),
            None => write!(f, "{}: {}", self.op, self.message),
        }
    }
}

impl std::error::Error for NetlinkError {}

/// The result of a netlink request.
pub type Result<T> = std::result::Result<T, NetlinkError>;

/// A network interface as `ip link show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index (`ifindex`): what every other request names the link by.
    pub index: u32,
    /// The interface name, e.g. `eth0`.
    pub name: String,
    /// The link type it was created with: `"veth"`, `"bridge"`; `None` for physical links and `lo`.
    pub kind: Option<String>,
    /// Administratively up (`IFF_UP`, the `UP` in `<BROADCAST,MULTICAST,UP,LOWER_UP>`).
    pub up: bool,
    /// The hardware (MAC) address, when it is an Ethernet-style one.
    pub mac: Option<[u8; 6]>,
    /// The index of the bridge (or other master device) the link is plugged into.
    pub master: Option<u32>,
}

/// An IPv4 address on an interface, as `ip -4 addr show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The index of the interface the address is on.
    pub index: u32,
    /// The address itself.
    pub address: Ipv4Addr,
    /// The prefix length: 24 in `10.0.0.1/24`.
    pub prefix_len: u8,
}

/// An IPv4 route, as `ip -4 route show table all` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination network (`0.0.0.0` with prefix 0 for the default route).
    pub destination: Ipv4Addr,
    /// The destination's prefix length.
    pub prefix_len: u8,
    /// The next hop (`via`), if the destination is not directly connected.
    pub gateway: Option<Ipv4Addr>,
    /// The index of the outgoing interface (`dev`).
    pub oif: Option<u32>,
    /// The routing table: 254 is `main`, 255 is `local`.
    pub table: u32,
}

/// A queueing discipline, as `tc qdisc show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qdisc {
    /// The index of the interface the qdisc is attached to.
    pub index: u32,
    /// The qdisc type: `"tbf"`, `"noqueue"`, `"fq_codel"`, ...
    pub kind: String,
    /// The qdisc's handle, major number in the high 16 bits (`8001:` is `0x8001_0000`).
    pub handle: u32,
    /// Its parent: [`TC_H_ROOT`] for a root qdisc.
    pub parent: u32,
}

/// One `NETLINK_ROUTE` socket, bound in the network namespace of the thread that called
/// [`Netlink::open`]. Every method is one request/answer exchange on it.
pub struct Netlink {
    socket: Socket,
    /// Our netlink port id, which the kernel addresses its answers to.
    port: u32,
    /// The sequence number of the last request; answers carry it back.
    seq: u32,
    buf: Vec<u8>,
    /// How many datagrams the last dump arrived in (the tests check multi-part dumps happen).
    last_dump_datagrams: usize,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink").field("port", &self.port).field("seq", &self.seq).finish()
    }
}

/// What one request brought back.
struct Answer {
    messages: Vec<RouteNetlinkMessage>,
    /// The kernel flagged a dump as inconsistent (`NLM_F_DUMP_INTR`).
    interrupted: bool,
    datagrams: usize,
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket: `socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE)`, as `ip`
    /// and `tc` do first. Why it matters where: the socket acts in the network namespace of the
    /// calling thread at this moment, for as long as it lives.
    pub fn open() -> Result<Netlink> {
        const OP: &str = "socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE)";
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| NetlinkError::io(OP, "socket", e))?;
        let address = socket.bind_auto().map_err(|e| NetlinkError::io(OP, "bind", e))?;
        // Extended acks make the kernel explain a refusal in words ("Exclusivity flag on, cannot
        // modify"); capped acks keep it from echoing our whole request back. Both are comforts
        // (capped acks since Linux 4.2, extended since 4.12): a kernel without them is no error.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Netlink {
            socket,
            port: address.port_number(),
            seq: 0,
            buf: vec![0; RECV_BUFFER_BYTES],
            last_dump_datagrams: 0,
        })
    }

    /// `ip link show`: every interface in the namespace (an `RTM_GETLINK` dump).
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let messages =
            self.dump("ip link show", RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link_from(link)),
                _ => None,
            })
            .collect())
    }

    /// `ip link show NAME`, reduced to the interface index; `None` when there is no such link.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.link_by_name(&format!("ip link show {name}"), name)?.map(|l| l.index))
    }

    /// `ip link add NAME type veth peer name PEER`: a virtual Ethernet cable, two interfaces where
    /// whatever goes in one end comes out of the other. Why: move one end into the container's
    /// namespace and the container has a network card wired to the host.
    pub fn add_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        self.add_veth_into(name, peer, None)
    }

    /// `ip link add NAME type veth peer name PEER netns PID`: the pair with its peer made straight
    /// in the network namespace of process PID. Why: moving a link to another namespace afterwards
    /// (`ip link set PEER netns PID`) waits for an RCU grace period, about 20 ms, on every container
    /// start; making it there costs nothing extra.
    pub fn add_veth_into(&mut self, name: &str, peer: &str, netns_pid: Option<i32>) -> Result<()> {
        let op = match netns_pid {
            Some(pid) => format!("ip link add {name} type veth peer name {peer} netns {pid}"),
            None => format!("ip link add {name} type veth peer name {peer}"),
        };
        let mut peer_message = LinkMessage::default();
        peer_message.attributes.push(LinkAttribute::IfName(peer.to_string()));
        if let Some(pid) = netns_pid {
            peer_message.attributes.push(LinkAttribute::NetNsPid(pid as u32));
        }
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.to_string()));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ]));
        self.acked(&op, RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// `ip link add NAME type bridge`: a software switch. Why: plug the host ends of several
    /// containers' veth cables into it and the containers can reach each other.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let op = format!("ip link add {name} type bridge");
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.to_string()));
        message.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.acked(&op, RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// `ip link del NAME`. Deleting one end of a veth pair deletes the other end too.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let op = format!("ip link del {name}");
        // RTM_DELLINK may name the link instead of giving its index; the kernel answers ENODEV
        // itself when there is no such link.
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.acked(&op, RouteNetlinkMessage::DelLink(message), 0)
    }

    /// `ip link set NAME up`: sets `IFF_UP`. A new link is down, and a down link neither sends
    /// nor receives.
    pub fn set_up(&mut self, name: &str) -> Result<()> {
        let op = format!("ip link set {name} up");
        let mut message = self.link_message_for(&op, name)?;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.acked(&op, RouteNetlinkMessage::SetLink(message), 0)
    }

    /// `ip link set NAME master BRIDGE`: plugs the link into a bridge (`IFLA_MASTER`).
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let op = format!("ip link set {name} master {bridge}");
        let bridge_index = self.index_for(&op, bridge)?;
        let mut message = self.link_message_for(&op, name)?;
        message.attributes.push(LinkAttribute::Controller(bridge_index));
        self.acked(&op, RouteNetlinkMessage::SetLink(message), 0)
    }

    /// `ip link set NAME netns PID`: moves the link into the network namespace that process (or
    /// thread: the kernel accepts a thread id) is in (`IFLA_NET_NS_PID`). The link vanishes from
    /// this namespace; its addresses and routes do not travel with it.
    pub fn move_to_netns_of(&mut self, name: &str, pid: i32) -> Result<()> {
        let op = format!("ip link set {name} netns {pid}");
        if pid <= 0 {
            return Err(NetlinkError::local(&op, format!("{pid} is not a process id")));
        }
        let mut message = self.link_message_for(&op, name)?;
        message.attributes.push(LinkAttribute::NetNsPid(pid as u32));
        self.acked(&op, RouteNetlinkMessage::SetLink(message), 0)
    }

    /// `ip link set NAME name NEW_NAME`. Take the link down first: kernels before 6.2 refuse to
    /// rename a running interface (`EBUSY`), and programs that know it by name get confused.
    pub fn rename(&mut self, name: &str, new_name: &str) -> Result<()> {
        let op = format!("ip link set {name} name {new_name}");
        let mut message = self.link_message_for(&op, name)?;
        message.attributes.push(LinkAttribute::IfName(new_name.to_string()));
        self.acked(&op, RouteNetlinkMessage::SetLink(message), 0)
    }

    /// `ip addr add ADDRESS/PREFIX_LEN dev NAME` (with `brd +`: the subnet's broadcast address is
    /// set too, as `ifconfig` does). The kernel adds the route to the connected subnet by itself.
    pub fn add_address(&mut self, name: &str, address: Ipv4Addr, prefix_len: u8) -> Result<()> {
        let op = format!("ip addr add {address}/{prefix_len} dev {name}");
        if prefix_len > 32 {
            return Err(NetlinkError::local(&op, "an IPv4 prefix length is at most 32"));
        }
        let index = self.index_for(&op, name)?;
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix_len;
        message.header.scope = AddressScope::Universe;
        message.header.index = index;
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same except on
        // point-to-point links, where it is the far end. `ip` sends both.
        message.attributes.push(AddressAttribute::Local(IpAddr::V4(address)));
        message.attributes.push(AddressAttribute::Address(IpAddr::V4(address)));
        if prefix_len <= 30 {
            let host_mask = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
            message
                .attributes
                .push(AddressAttribute::Broadcast(Ipv4Addr::from(u32::from(address) | host_mask)));
        }
        self.acked(&op, RouteNetlinkMessage::NewAddress(message), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// `ip -4 addr show`: every IPv4 address in the namespace (an `RTM_GETADDR` dump).
    pub fn addresses(&mut self) -> Result<Vec<Address>> {
        let mut request = AddressMessage::default();
        request.header.family = AddressFamily::Inet;
        let messages = self.dump("ip -4 addr show", RouteNetlinkMessage::GetAddress(request))?;
        let mut addresses = Vec::new();
        for message in messages {
            let RouteNetlinkMessage::NewAddress(message) = message else { continue };
            if message.header.family != AddressFamily::Inet {
                continue;
            }
            let mut local = None;
            let mut peer = None;
            for attribute in &message.attributes {
                match attribute {
                    AddressAttribute::Local(IpAddr::V4(a)) => local = Some(*a),
                    AddressAttribute::Address(IpAddr::V4(a)) => peer = Some(*a),
                    _ => {}
                }
            }
            if let Some(address) = local.or(peer) {
                addresses.push(Address {
                    index: message.header.index,
                    address,
                    prefix_len: message.header.prefix_len,
                });
            }
        }
        Ok(addresses)
    }

    /// `ip route add default via GATEWAY`: in the main table. The gateway must be on a connected
    /// subnet of an interface that is up; the kernel works out which interface from that.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let op = format!("ip route add default via {gateway}");
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.destination_prefix_length = 0;
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot; // what `ip route add` marks its routes with
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.acked(&op, RouteNetlinkMessage::NewRoute(message), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// `ip -4 route show table all`: every IPv4 route in every table (an `RTM_GETROUTE` dump):
    /// `main` (254) holds the ordinary routes, `local` (255) the host's own addresses.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let mut request = RouteMessage::default();
        request.header.address_family = AddressFamily::Inet;
        let messages =
            self.dump("ip -4 route show table all", RouteNetlinkMessage::GetRoute(request))?;
        let mut routes = Vec::new();
        for message in messages {
            let RouteNetlinkMessage::NewRoute(message) = message else { continue };
            if message.header.address_family != AddressFamily::Inet {
                continue;
            }
            let mut route = Route {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix_len: message.header.destination_prefix_length,
                gateway: None,
                oif: None,
                table: u32::from(message.header.table),
            };
            for attribute in message.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(a)) => route.destination = a,
                    RouteAttribute::Gateway(RouteAddress::Inet(a)) => route.gateway = Some(a),
                    RouteAttribute::Oif(index) => route.oif = Some(index),
                    // Table ids above 255 only fit in the attribute; when present it is the truth.
                    RouteAttribute::Table(table) => route.table = table,
                    _ => {}
                }
            }
            routes.push(route);
        }
        Ok(routes)
    }

    /// `tc qdisc add dev NAME root tbf rate RATE burst BURST limit LIMIT`: a token bucket filter
    /// as the link's root qdisc. Why: it caps how fast the link sends (`rate`, bytes per second)
    /// while allowing short bursts (`burst` bytes), queueing at most `limit` bytes meanwhile.
    pub fn add_tbf(
        &mut self,
        name: &str,
        rate_bytes_per_sec: u64,
        burst_bytes: u32,
        limit_bytes: u32,
    ) -> Result<()> {
        let op = format!(
            "tc qdisc add dev {name} root tbf rate {} burst {burst_bytes} limit {limit_bytes}",
            rate_for_tc(rate_bytes_per_sec)
        );
        // The checks tc makes before it sends anything: the kernel would turn a zero rate or
        // burst into a bare EINVAL, and a zero limit into a qdisc that drops every packet.
        if rate_bytes_per_sec == 0 || burst_bytes == 0 {
            return Err(NetlinkError::local(&op, "both rate and burst must be greater than zero"));
        }
        if limit_bytes == 0 {
            return Err(NetlinkError::local(&op, "limit must be greater than zero"));
        }
        let index = self.index_for(&op, name)?;
        let mut message = TcMessage::with_index(index as i32);
        message.header.parent = TcHandle::ROOT;
        message.header.handle = TcHandle::UNSPEC; // 0: the kernel picks one (8001:, 8002:, ...)
        message.attributes.push(TcAttribute::Kind("tbf".to_string()));
        message.attributes.push(TcAttribute::Options(tbf_options(
            rate_bytes_per_sec,
            burst_bytes,
            limit_bytes,
            tick_in_usec(),
        )));
        self.acked(&op, RouteNetlinkMessage::NewQueueDiscipline(message), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// `tc qdisc show`: every qdisc on every link (an `RTM_GETQDISC` dump).
    pub fn qdiscs(&mut self) -> Result<Vec<Qdisc>> {
        Ok(self.qdisc_messages()?.into_iter().map(qdisc_from).collect())
    }

    /// `tc qdisc del dev NAME root`: removes the root qdisc; the link goes back to its default.
    pub fn delete_root_qdisc(&mut self, name: &str) -> Result<()> {
        let op = format!("tc qdisc del dev {name} root");
        let index = self.index_for(&op, name)?;
        let mut message = TcMessage::with_index(index as i32);
        message.header.parent = TcHandle::ROOT;
        self.acked(&op, RouteNetlinkMessage::DelQueueDiscipline(message), 0)
    }

    fn qdisc_messages(&mut self) -> Result<Vec<TcMessage>> {
        let messages = self
            .dump("tc qdisc show", RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewQueueDiscipline(q) => Some(q),
                _ => None,
            })
            .collect())
    }

    /// An `RTM_GETLINK` for one name; ENODEV becomes `None`.
    fn link_by_name(&mut self, op: &str, name: &str) -> Result<Option<Link>> {
        let mut request = LinkMessage::default();
        request.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(op, RouteNetlinkMessage::GetLink(request), 0) {
            Ok(messages) => Ok(messages.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link_from(link)),
                _ => None,
            })),
            Err(e) if e.errno == Some(Errno::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index of a link that must exist; a missing link is `ENODEV` under `op`'s name, as
    /// `ip` reports "Cannot find device".
    fn index_for(&mut self, op: &str, name: &str) -> Result<u32> {
        match self.link_by_name(op, name)? {
            Some(link) => Ok(link.index),
            None => Err(NetlinkError::kernel(
                op,
                Errno::ENODEV,
                Some(format!("cannot find device \"{name}\"")),
            )),
        }
    }

    /// An empty link message addressed to an existing link by index (renaming needs the index:
    /// the name attribute then carries the new name).
    fn link_message_for(&mut self, op: &str, name: &str) -> Result<LinkMessage> {
        let mut message = LinkMessage::default();
        message.header.index = self.index_for(op, name)?;
        Ok(message)
    }

    /// A request that changes something: `NLM_F_REQUEST | NLM_F_ACK | extra_flags`, then the ack.
    fn acked(&mut self, op: &str, message: RouteNetlinkMessage, extra_flags: u16) -> Result<()> {
        self.request(op, message, extra_flags).map(|_| ())
    }

    /// A request and everything the kernel answers up to and including its ack.
    fn request(
        &mut self,
        op: &str,
        message: RouteNetlinkMessage,
        extra_flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(op, message, NLM_F_REQUEST | NLM_F_ACK | extra_flags).map(|a| a.messages)
    }

    /// A dump request, read to `NLMSG_DONE` across as many datagrams as it takes, and asked again
    /// if the kernel says the table changed under it.
    fn dump(&mut self, op: &str, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>> {
        let mut attempt = 1;
        loop {
            let answer =
                self.exchange(op, message.clone(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)?;
            self.last_dump_datagrams = answer.datagrams;
            if !answer.interrupted || attempt == DUMP_ATTEMPTS {
                return Ok(answer.messages);
            }
            attempt += 1;
        }
    }

    /// Sends one request and reads its answer. A dump ends with `NLMSG_DONE`; anything else ends
    /// with the ack (`NLMSG_ERROR` with code 0) or an error (`NLMSG_ERROR` with `-errno`).
    /// (With `NLM_F_ACK` on a dump the kernel sends no ack after `NLMSG_DONE`: DONE is the ack.)
    fn exchange(&mut self, op: &str, message: RouteNetlinkMessage, flags: u16) -> Result<Answer> {
        let seq = self.send(op, message, flags)?;
        let mut answer = Answer { messages: Vec::new(), interrupted: false, datagrams: 0 };
        // A message we could not decode must not stop us reading: the rest of the answer would
        // be left in the socket for the next request. Remember it, report it at the end.
        let mut undecodable: Option<String> = None;
        loop {
            // MSG_TRUNC: report the datagram's real length, so an oversized one is noticed.
            let (len, from) = match self.socket.recv_from(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                Ok(received) => received,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue, // a signal
                Err(e) => return Err(NetlinkError::io(op, "recvfrom", e)),
            };
            if from.port_number() != 0 {
                continue; // not from the kernel
            }
            if len > self.buf.len() {
                return Err(NetlinkError::local(
                    op,
                    format!(
                        "an answer of {len} bytes did not fit the {} byte buffer",
                        self.buf.len()
                    ),
                ));
            }
            answer.datagrams += 1;
            let mut offset = 0;
            let mut finished = false;
            while offset < len {
                let bytes = &self.buf[offset..len];
                let header = match NetlinkBuffer::new_checked(bytes) {
                    Ok(b) => (b.length() as usize, b.sequence_number(), b.port_number(), b.flags()),
                    Err(e) => {
                        undecodable.get_or_insert(format!("a truncated message: {e}"));
                        break;
                    }
                };
                let (msg_len, msg_seq, msg_port, msg_flags) = header;
                let msg_bytes = &bytes[..msg_len];
                offset += (msg_len + 3) & !3; // messages are 4-byte aligned
                if msg_seq != seq || (msg_port != 0 && msg_port != self.port) {
                    continue; // an answer to some earlier, abandoned request
                }
                if msg_flags & NLM_F_DUMP_INTR != 0 {
                    answer.interrupted = true;
                }
                let parsed = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg_bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        undecodable.get_or_insert(e.to_string());
                        continue;
                    }
                };
                match parsed.payload {
                    NetlinkPayload::InnerMessage(inner) => answer.messages.push(inner),
                    NetlinkPayload::Done(done) => {
                        if done.code < 0 {
                            return Err(NetlinkError::kernel(
                                op,
                                Errno::from_raw(-done.code),
                                None,
                            ));
                        }
                        finished = true;
                    }
                    NetlinkPayload::Error(error) => match error.code {
                        None => finished = true, // the ack
                        Some(code) => {
                            let explanation = extack_message(msg_flags, &error.header);
                            let errno = Errno::from_raw(code.get().abs());
                            return Err(NetlinkError::kernel(op, errno, explanation));
                        }
                    },
                    NetlinkPayload::Overrun(_) => {
                        return Err(NetlinkError::local(op, "the kernel reported a buffer overrun"))
                    }
                    _ => {} // NLMSG_NOOP
                }
            }
            if finished {
                break;
            }
        }
        match undecodable {
            Some(e) => {
                Err(NetlinkError::local(op, format!("could not decode the kernel's answer: {e}")))
            }
            None => Ok(answer),
        }
    }

    fn send(&mut self, op: &str, message: RouteNetlinkMessage, flags: u16) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let kernel = SocketAddr::new(0, 0);
        let sent = loop {
            match self.socket.send_to(&bytes, &kernel, 0) {
                Ok(sent) => break sent,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue, // a signal
                Err(e) => return Err(NetlinkError::io(op, "sendto", e)),
            }
        };
        if sent != bytes.len() {
            return Err(NetlinkError::local(op, format!("sent {sent} of {} bytes", bytes.len())));
        }
        Ok(self.seq)
    }
}

fn link_from(message: LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        up: message.header.flags.contains(LinkFlags::Up),
        mac: None,
        master: None,
    };
    for attribute in message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name,
            LinkAttribute::Address(bytes) => link.mac = <[u8; 6]>::try_from(bytes.as_slice()).ok(),
            LinkAttribute::Controller(index) if index != 0 => link.master = Some(index),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn qdisc_from(message: TcMessage) -> Qdisc {
    let kind = message
        .attributes
        .iter()
        .find_map(|a| match a {
            TcAttribute::Kind(kind) => Some(kind.clone()),
            _ => None,
        })
        .unwrap_or_default();
    Qdisc {
        index: message.header.index as u32,
        kind,
        handle: u32::from(message.header.handle),
        parent: u32::from(message.header.parent),
    }
}

/// The text of an extended ack (`NLMSGERR_ATTR_MSG`), if the kernel attached one. The error
/// payload is the code (already consumed), our request's header (only the header when the ack
/// is capped, else the whole request), then the extended-ack attributes.
fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        let len = u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        (len + 3) & !3
    };
    for nla in NlasIterator::new(payload.get(request_len..)?) {
        let nla: NlaBuffer<&[u8]> = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            return parse_string(nla.value()).ok().filter(|s| !s.is_empty());
        }
    }
    None
}

/// Psched ticks per microsecond, computed from /proc/net/psched exactly as iproute2's
/// `tc_core_init()` does. The kernel's tick has been 64 ns for years (`PSCHED_SHIFT` = 6), which
/// makes this 15.625; that is also the fallback when the file cannot be read.
fn tick_in_usec() -> f64 {
    std::fs::read_to_string("/proc/net/psched")
        .ok()
        .and_then(|text| parse_psched(&text))
        .unwrap_or(1000.0 / 64.0)
}

/// /proc/net/psched holds four hex numbers: ns per µs (1000), ns per tick (64), the clock
/// resolution tc should assume (1000000) and the hrtimer frequency.
fn parse_psched(text: &str) -> Option<f64> {
    let mut fields = text.split_whitespace().map(|f| u32::from_str_radix(f, 16).ok());
    let (mut t2us, us2t, clock_res) = (fields.next()??, fields.next()??, fields.next()??);
    if us2t == 0 {
        return None;
    }
    // tc's compatibility hack: a kernel that advertises a nanosecond clock resolution reports
    // a tick multiplier of 1000 that really means 1.
    if clock_res == 1_000_000_000 {
        t2us = us2t;
    }
    let clock_factor = f64::from(clock_res) / 1_000_000.0;
    Some(f64::from(t2us) / f64::from(us2t) * clock_factor)
}

/// iproute2's `tc_calc_xmittime(rate, size)`: how long sending `size` bytes at `rate` bytes per
/// second takes, in psched ticks. Like tc it truncates to whole microseconds first, then to whole
/// ticks; values past `u32::MAX` saturate.
fn xmit_time_ticks(rate_bytes_per_sec: u64, size: u32, tick_in_usec: f64) -> u32 {
    let usecs = (1_000_000.0 * (f64::from(size) / rate_bytes_per_sec as f64)) as u32;
    (f64::from(usecs) * tick_in_usec) as u32
}

/// The contents of TCA_OPTIONS for a tbf qdisc.
///
/// netlink-packet-route 0.34 has no tbf type, so these attributes are raw bytes in the crate's
/// generic `TcOption::Other(DefaultNla)`. What goes in, following iproute2's tc/q_tbf.c and the
/// kernel's net/sched/sch_tbf.c:
/// - `TCA_TBF_PARMS`, a `struct tc_tbf_qopt { struct tc_ratespec rate, peakrate; u32 limit,
///   buffer, mtu; }`: `rate.rate` in bytes per second (saturated at `u32::MAX`),
///   `rate.linklayer` = Ethernet, `limit` in bytes, `buffer` = the time to send `burst` bytes at
///   `rate` in psched ticks, no peak rate (so `mtu` = 0).
/// - `TCA_TBF_BURST`, the burst in bytes: a kernel that sees it derives the bucket size from it
///   (`psched_l2t_ns`) rather than from `buffer`, with no loss to tick rounding.
/// - `TCA_TBF_RATE64` only for rates of 2^32 bytes per second or more.
///
/// tc also sends a 1 KiB rate table (`TCA_TBF_RTAB`). Current kernels do not need it: tbf_change()
/// only looks at it when `rate.linklayer` is `TC_LINKLAYER_UNAWARE`, to guess whether the link is
/// ATM, and drops it straight away. With the link layer set to Ethernet it is never read.
fn tbf_options(rate: u64, burst: u32, limit: u32, tick_in_usec: f64) -> Vec<TcOption> {
    let mut qopt = [0u8; TBF_QOPT_LEN];
    // struct tc_ratespec rate: cell_log u8, linklayer u8, overhead u16, cell_align i16, mpu u16,
    // rate u32. All native-endian, like every netlink payload.
    qopt[1] = TC_LINKLAYER_ETHERNET;
    qopt[8..12].copy_from_slice(&u32::try_from(rate).unwrap_or(u32::MAX).to_ne_bytes());
    // struct tc_ratespec peakrate: bytes 12..24, all zero (no peak rate).
    qopt[24..28].copy_from_slice(&limit.to_ne_bytes());
    qopt[28..32].copy_from_slice(&xmit_time_ticks(rate, burst, tick_in_usec).to_ne_bytes());
    // mtu: bytes 32..36, zero without a peak rate.
    let mut options = vec![
        TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, qopt.to_vec())),
        TcOption::Other(DefaultNla::new(TCA_TBF_BURST, burst.to_ne_bytes().to_vec())),
    ];
    if rate > u64::from(u32::MAX) {
        options.push(TcOption::Other(DefaultNla::new(TCA_TBF_RATE64, rate.to_ne_bytes().to_vec())));
    }
    options
}

/// A bytes-per-second rate the way tc would print it in a command, for the narration.
fn rate_for_tc(bytes_per_sec: u64) -> String {
    let bits = u128::from(bytes_per_sec) * 8;
    for (unit, scale) in [("gbit", 1_000_000_000u128), ("mbit", 1_000_000), ("kbit", 1_000)] {
        if bits >= scale && bits % scale == 0 {
            return format!("{}{unit}", bits / scale);
        }
    }
    format!("{bytes_per_sec}bps")
}

/// Parses a tc-style rate ("1mbit", "500kbit", "10mbit", "1gbit", "800kbps", "125000bps") into
/// bytes per second. The units are tc's (tc(8), case-insensitive): `bit`, `kbit`, `mbit`,
/// `gbit`, `tbit` are bits per second in powers of 1000 (`kibit`, `mibit`, ... in powers of
/// 1024); `bps`, `kbps`, `mbps`, `gbps`, `tbps` are BYTES per second (`kibps`, ... in powers of
/// 1024). A bare number is bits per second, as in tc. Decimals are allowed ("1.5mbit").
pub fn parse_rate(s: &str) -> std::result::Result<u64, String> {
    const FORMS: &str =
        "expected a number followed by a tc unit: bit, kbit, mbit, gbit, tbit (bits \
                         per second; kibit, mibit, gibit, tibit for powers of 1024) or bps, kbps, \
                         mbps, gbps, tbps (bytes per second), e.g. \"1mbit\", \"500kbit\", \
                         \"800kbps\", \"125000bps\"";
    let invalid = |why: &str| format!("invalid rate {s:?}: {why}; {FORMS}");
    let text = s.trim();
    let unit_start = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_start);
    if number.is_empty() {
        return Err(invalid("it does not start with a number"));
    }
    // Exact arithmetic: the number is mantissa / 10^decimals.
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || fraction.len() > 18 {
        return Err(invalid("that is not a number"));
    }
    let mantissa: u128 =
        format!("{whole}{fraction}").parse().map_err(|_| invalid("the number is too large"))?;
    let bits_per_unit: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "bit" => 1,
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        "tbit" => 1_000_000_000_000,
        "kibit" => 1 << 10,
        "mibit" => 1 << 20,
        "gibit" => 1 << 30,
        "tibit" => 1 << 40,
        "bps" => 8,
        "kbps" => 8_000,
        "mbps" => 8_000_000,
        "gbps" => 8_000_000_000,
        "tbps" => 8_000_000_000_000,
        "kibps" => 8 << 10,
        "mibps" => 8 << 20,
        "gibps" => 8 << 30,
        "tibps" => 8 << 40,
        _ => return Err(invalid(&format!("unknown unit {unit:?}"))),
    };
    let bits = mantissa.checked_mul(bits_per_unit).ok_or_else(|| invalid("it is too large"))?;
    let bytes = bits / (8 * 10u128.pow(fraction.len() as u32));
    if bytes == 0 {
        return Err(invalid("it is less than one byte per second"));
    }
    u64::try_from(bytes).map_err(|_| invalid("it is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Nla;
    use nix::sched::{unshare, CloneFlags};
    use std::os::unix::fs::MetadataExt;
    use std::sync::mpsc;

    // ---- parse_rate ----

    #[test]
    fn parse_rate_understands_tc_units() {
        assert_eq!(parse_rate("1mbit"), Ok(125_000));
        assert_eq!(parse_rate("500kbit"), Ok(62_500));
        assert_eq!(parse_rate("10mbit"), Ok(1_250_000));
        assert_eq!(parse_rate("1gbit"), Ok(125_000_000));
        assert_eq!(parse_rate("800kbps"), Ok(800_000));
        assert_eq!(parse_rate("125000bps"), Ok(125_000));
        assert_eq!(parse_rate("8000bit"), Ok(1_000));
        assert_eq!(parse_rate("8000"), Ok(1_000), "a bare number is bits/s, as in tc");
        assert_eq!(parse_rate("1.5mbit"), Ok(187_500));
        assert_eq!(parse_rate("0.3mbit"), Ok(37_500), "decimals are exact, not floating point");
        assert_eq!(parse_rate("1Mbit"), Ok(125_000), "units are case-insensitive, as in tc");
        assert_eq!(parse_rate(" 2mbps "), Ok(2_000_000));
        assert_eq!(parse_rate("1kibit"), Ok(128));
        assert_eq!(parse_rate("1mibps"), Ok(1 << 20));
        assert_eq!(parse_rate("40gbit"), Ok(5_000_000_000));
    }

    #[test]
    fn parse_rate_rejects_what_tc_rejects() {
        for bad in
            ["fast", "", "   ", "-1mbit", "1zbit", "mbit", "1.2.3mbit", ".mbit", "0mbit", "4bit"]
        {
            let error = parse_rate(bad).expect_err(bad);
            assert!(error.contains("kbit") && error.contains("bps"), "{bad}: {error}");
        }
        assert!(parse_rate("1zbit").unwrap_err().contains("unknown unit \"zbit\""));
        assert!(parse_rate("99999999999999999999999999999999tbit").is_err());
    }

    // ---- tbf encoding, psched, errors: no root needed ----

    #[test]
    fn psched_is_read_the_way_tc_reads_it() {
        assert_eq!(parse_psched("000003e8 00000040 000f4240 3b9aca00\n"), Some(15.625));
        // An old kernel advertising nanosecond resolution: tc's compatibility hack.
        assert_eq!(parse_psched("000003e8 00000040 3b9aca00 3b9aca00\n"), Some(1000.0));
        assert_eq!(parse_psched("garbage"), None);
        assert_eq!(parse_psched("1 0 1 1"), None);
        let live = tick_in_usec();
        assert!(live > 0.0, "{live}");
    }

    #[test]
    fn tbf_buffer_is_tcs_xmittime() {
        // 32000 bytes at 1mbit (125000 B/s) take 256 ms = 256000 us = 4000000 ticks of 64 ns.
        assert_eq!(xmit_time_ticks(125_000, 32_000, 15.625), 4_000_000);
        // Truncation to whole microseconds first, as tc: 1500 B at 1 GB/s = 1.5 us -> 1 us.
        assert_eq!(xmit_time_ticks(1_000_000_000, 1500, 15.625), 15);
        assert_eq!(xmit_time_ticks(1, u32::MAX, 15.625), u32::MAX, "saturates");
    }

    fn option_bytes(option: &TcOption) -> (u16, Vec<u8>) {
        let mut bytes = vec![0; option.value_len()];
        option.emit_value(&mut bytes);
        (option.kind(), bytes)
    }

    #[test]
    fn tbf_options_layout() {
        let options = tbf_options(125_000, 32_000, 64_000, 15.625);
        assert_eq!(options.len(), 2, "no RATE64 below 2^32 B/s, no RTAB at all");
        let (kind, qopt) = option_bytes(&options[0]);
        assert_eq!(kind, TCA_TBF_PARMS);
        assert_eq!(qopt.len(), 36);
        assert_eq!(qopt[1], TC_LINKLAYER_ETHERNET);
        let u32_at = |at: usize| u32::from_ne_bytes(qopt[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(8), 125_000, "rate.rate");
        assert!(qopt[12..24].iter().all(|b| *b == 0), "no peak rate");
        assert_eq!(u32_at(24), 64_000, "limit");
        assert_eq!(u32_at(28), 4_000_000, "buffer in ticks");
        assert_eq!(u32_at(32), 0, "mtu");
        assert_eq!(option_bytes(&options[1]), (TCA_TBF_BURST, 32_000u32.to_ne_bytes().to_vec()));

        let fast = tbf_options(5_000_000_000, 1_000_000, 2_000_000, 15.625);
        assert_eq!(fast.len(), 3);
        let (_, qopt) = option_bytes(&fast[0]);
        assert_eq!(u32::from_ne_bytes(qopt[8..12].try_into().unwrap()), u32::MAX);
        assert_eq!(
            option_bytes(&fast[2]),
            (TCA_TBF_RATE64, 5_000_000_000u64.to_ne_bytes().to_vec())
        );
    }

    #[test]
    fn rates_are_narrated_in_tc_units() {
        assert_eq!(rate_for_tc(125_000), "1mbit");
        assert_eq!(rate_for_tc(62_500), "500kbit");
        assert_eq!(rate_for_tc(125_000_000), "1gbit");
        assert_eq!(rate_for_tc(1_001), "1001bps");
    }

    #[test]
    fn errors_read_like_ip() {
        let e = NetlinkError::kernel("ip link add a type veth peer name b", Errno::EEXIST, None);
        assert_eq!(e.to_string(), "ip link add a type veth peer name b: File exists (EEXIST)");
        assert_eq!(e.errno(), Some(Errno::EEXIST));
        let e =
            NetlinkError::kernel("ip link set x up", Errno::ENODEV, Some("cannot find x".into()));
        assert_eq!(e.to_string(), "ip link set x up: No such device (ENODEV): cannot find x");
        let e = NetlinkError::local("tc qdisc add dev x root tbf", "limit must be > 0");
        assert_eq!(e.to_string(), "tc qdisc add dev x root tbf: limit must be > 0");
        assert_eq!(e.errno(), None);
    }

    #[test]
    fn extended_ack_text_is_found_after_the_capped_header() {
        let mut payload = vec![0u8; 16]; // our request's header
        let text = b"Exclusivity flag on\0";
        let len = (4 + text.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(text);
        while payload.len() % 4 != 0 {
            payload.push(0);
        }
        let flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
        assert_eq!(extack_message(flags, &payload).as_deref(), Some("Exclusivity flag on"));
        assert_eq!(extack_message(NLM_F_CAPPED, &payload), None);
    }

    // ---- real netlink, in throwaway network namespaces ----

    /// Runs `test` on a new thread that first moves itself into a brand-new network namespace
    /// (`unshare(CLONE_NEWNET)` acts on the calling thread only), so nothing it creates can touch
    /// the host: the namespace and everything in it vanish when the thread ends.
    fn in_throwaway_netns(name: &str, test: impl FnOnce() + Send + 'static) {
        if !nix::unistd::geteuid().is_root() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{name} needs root, and CI=true does not allow skipping it");
            }
            eprintln!("{name}: skipped: needs root");
            return;
        }
        let outcome = std::thread::spawn(move || {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            let ours = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
            let host = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
            assert_ne!(ours, host, "refusing to test outside a throwaway network namespace");
            test();
        })
        .join();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    fn ws_names(links: &[Link]) -> Vec<&str> {
        let mut names: Vec<&str> =
            links.iter().map(|l| l.name.as_str()).filter(|n| n.starts_with("ws-")).collect();
        names.sort();
        names
    }

    fn find<'a>(links: &'a [Link], name: &str) -> &'a Link {
        links.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no {name} in {links:?}"))
    }

    #[test]
    fn links_addresses_bridge_rename_and_routes() {
        in_throwaway_netns("links_addresses_bridge_rename_and_routes", || {
            let mut nl = Netlink::open().unwrap();
            // A fresh namespace holds lo, down (and maybe fallback tunnel devices, no ws-*).
            let links = nl.links().unwrap();
            assert!(ws_names(&links).is_empty(), "{links:?}");
            let lo = find(&links, "lo");
            assert_eq!((lo.kind.as_ref(), lo.up), (None, false));

            nl.add_veth("ws-h1", "ws-c1").unwrap();
            let links = nl.links().unwrap();
            let (h, c) = (find(&links, "ws-h1").clone(), find(&links, "ws-c1").clone());
            assert_eq!(h.kind.as_deref(), Some("veth"));
            assert_eq!(c.kind.as_deref(), Some("veth"));
            assert!(!h.up && !c.up, "new links are down");
            assert!(h.mac.is_some_and(|m| m != [0; 6]), "{h:?}");
            assert_ne!(h.mac, c.mac);
            assert_eq!(nl.link_index("ws-h1").unwrap(), Some(h.index));
            assert_eq!(nl.link_index("ws-nothing").unwrap(), None);

            nl.set_up("lo").unwrap();
            nl.set_up("ws-h1").unwrap();
            nl.set_up("ws-c1").unwrap();
            let links = nl.links().unwrap();
            assert!(find(&links, "lo").up && find(&links, "ws-h1").up && find(&links, "ws-c1").up);

            let host = Ipv4Addr::new(10, 200, 0, 1);
            nl.add_address("ws-h1", host, 24).unwrap();
            let addresses = nl.addresses().unwrap();
            assert!(
                addresses.contains(&Address { index: h.index, address: host, prefix_len: 24 }),
                "{addresses:?}"
            );
            let lo = find(&links, "lo").index;
            assert!(addresses.contains(&Address {
                index: lo,
                address: Ipv4Addr::LOCALHOST,
                prefix_len: 8
            }));
            let e = nl.add_address("ws-h1", host, 24).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");

            // Bridge and master.
            nl.add_bridge("ws-br0").unwrap();
            nl.set_master("ws-h1", "ws-br0").unwrap();
            let links = nl.links().unwrap();
            let bridge = find(&links, "ws-br0");
            assert_eq!(bridge.kind.as_deref(), Some("bridge"));
            assert_eq!(find(&links, "ws-h1").master, Some(bridge.index));
            assert_eq!(find(&links, "ws-c1").master, None);

            // Rename: only while down.
            nl.add_veth("ws-r0", "ws-r0p").unwrap();
            nl.rename("ws-r0", "ws-r1").unwrap();
            assert_eq!(nl.link_index("ws-r0").unwrap(), None);
            assert!(nl.link_index("ws-r1").unwrap().is_some());
            // Up: refused with EBUSY before Linux 6.2, allowed since.
            nl.set_up("ws-r1").unwrap();
            match nl.rename("ws-r1", "ws-r2") {
                Ok(()) => assert!(nl.link_index("ws-r2").unwrap().is_some()),
                Err(e) => assert_eq!(e.errno(), Some(Errno::EBUSY), "{e}"),
            }

            // Default route via an address in ws-c1's connected subnet.
            nl.add_address("ws-c1", Ipv4Addr::new(10, 201, 0, 1), 24).unwrap();
            let gateway = Ipv4Addr::new(10, 201, 0, 254);
            nl.add_default_route(gateway).unwrap();
            let routes = nl.routes().unwrap();
            let default = Route {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
                gateway: Some(gateway),
                oif: Some(c.index),
                table: RT_TABLE_MAIN,
            };
            assert!(routes.contains(&default), "{routes:?}");
            assert!(
                routes.iter().any(|r| r.destination == Ipv4Addr::new(10, 201, 0, 0)
                    && r.prefix_len == 24
                    && r.oif == Some(c.index)
                    && r.table == RT_TABLE_MAIN),
                "the kernel adds the connected route: {routes:?}"
            );
            assert!(routes.iter().any(|r| r.table == 255), "the local table: {routes:?}");
            let e = nl.add_default_route(gateway).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");

            // Delete everything; deleting one veth end takes its peer along.
            nl.delete_link("ws-h1").unwrap();
            nl.delete_link("ws-r0p").unwrap();
            nl.delete_link("ws-br0").unwrap();
            let links = nl.links().unwrap();
            assert!(ws_names(&links).is_empty(), "{links:?}");
            assert!(!nl.routes().unwrap().contains(&default));
        });
    }

    #[test]
    fn errors_carry_the_kernels_errno() {
        in_throwaway_netns("errors_carry_the_kernels_errno", || {
            let mut nl = Netlink::open().unwrap();
            nl.add_veth("ws-e0", "ws-e0p").unwrap();
            let e = nl.add_veth("ws-e0", "ws-e1p").unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");
            assert_eq!(e.op, "ip link add ws-e0 type veth peer name ws-e1p");
            assert!(e.to_string().starts_with("ip link add ws-e0 type veth peer name ws-e1p: "));
            let e = nl.add_veth("ws-e2", "ws-e0p").unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "a taken peer name too: {e}");
            let e = nl.add_bridge("ws-e0").unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");

            let e = nl.delete_link("ws-missing").unwrap_err();
            assert_eq!(e.errno(), Some(Errno::ENODEV), "{e}");
            for e in [
                nl.set_up("ws-missing").unwrap_err(),
                nl.set_master("ws-e0", "ws-missing").unwrap_err(),
                nl.rename("ws-missing", "ws-x").unwrap_err(),
                nl.move_to_netns_of("ws-missing", 1).unwrap_err(),
                nl.add_address("ws-missing", Ipv4Addr::new(10, 1, 1, 1), 24).unwrap_err(),
                nl.add_tbf("ws-missing", 125_000, 32_000, 64_000).unwrap_err(),
                nl.delete_root_qdisc("ws-missing").unwrap_err(),
            ] {
                assert_eq!(e.errno(), Some(Errno::ENODEV), "{e}");
            }
            let e = nl.add_address("ws-e0", Ipv4Addr::new(10, 1, 1, 1), 33).unwrap_err();
            assert_eq!(e.errno(), None, "{e}");
            // No interface up with a route to it: the kernel refuses the gateway.
            let e = nl.add_default_route(Ipv4Addr::new(10, 9, 9, 9)).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::ENETUNREACH), "{e}");
            // The socket is still in step after all those errors.
            assert_eq!(ws_names(&nl.links().unwrap()), ["ws-e0", "ws-e0p"]);
            nl.delete_link("ws-e0").unwrap();
        });
    }

    /// The tbf parameters as the kernel reports them: (rate, limit, buffer ticks, rate64).
    fn tbf_parms(nl: &mut Netlink, index: u32) -> (u32, u32, u32, Option<u64>) {
        let message = nl
            .qdisc_messages()
            .unwrap()
            .into_iter()
            .find(|m| m.header.index as u32 == index && qdisc_from(m.clone()).kind == "tbf")
            .expect("a tbf qdisc");
        // Unknown qdisc kinds come back as one opaque TCA_OPTIONS attribute; walk its nest.
        let nest = message
            .attributes
            .iter()
            .find_map(|a| match a {
                TcAttribute::Options(options) => options.first().map(option_bytes),
                _ => None,
            })
            .expect("TCA_OPTIONS")
            .1;
        let (mut qopt, mut rate64) = (Vec::new(), None);
        for nla in NlasIterator::new(&nest[..]) {
            let nla = nla.unwrap();
            match nla.kind() {
                TCA_TBF_PARMS => qopt = nla.value().to_vec(),
                TCA_TBF_RATE64 => {
                    rate64 = Some(u64::from_ne_bytes(nla.value().try_into().unwrap()))
                }
                _ => {}
            }
        }
        let u32_at = |at: usize| u32::from_ne_bytes(qopt[at..at + 4].try_into().unwrap());
        (u32_at(8), u32_at(24), u32_at(28), rate64)
    }

    #[test]
    fn tbf_qdisc_is_added_read_back_and_deleted() {
        in_throwaway_netns("tbf_qdisc_is_added_read_back_and_deleted", || {
            let mut nl = Netlink::open().unwrap();
            nl.add_veth("ws-t0", "ws-t0p").unwrap();
            let index = nl.link_index("ws-t0").unwrap().unwrap();
            let rate = parse_rate("1mbit").unwrap();
            nl.add_tbf("ws-t0", rate, 32_000, 64_000).unwrap();

            let qdiscs = nl.qdiscs().unwrap();
            let tbf = qdiscs
                .iter()
                .find(|q| q.index == index && q.kind == "tbf")
                .unwrap_or_else(|| panic!("no tbf in {qdiscs:?}"));
            assert_eq!(tbf.parent, TC_H_ROOT);
            assert_eq!(tbf.handle & 0xFFFF, 0, "a qdisc handle has minor 0: {tbf:?}");
            assert_ne!(tbf.handle, 0, "the kernel picked a handle: {tbf:?}");

            let (kernel_rate, limit, buffer, rate64) = tbf_parms(&mut nl, index);
            assert_eq!((kernel_rate, limit, rate64), (125_000, 64_000, None));
            // The kernel rebuilt the bucket from TCA_TBF_BURST with its own fixed-point maths;
            // it must agree with tc's arithmetic to within a tick.
            let ours = xmit_time_ticks(rate, 32_000, tick_in_usec());
            assert!(buffer.abs_diff(ours) <= 1, "kernel {buffer} ticks, tc would say {ours}");

            let e = nl.add_tbf("ws-t0", rate, 32_000, 64_000).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");
            assert!(nl.add_tbf("ws-t0", rate, 32_000, 0).unwrap_err().errno().is_none());

            nl.delete_root_qdisc("ws-t0").unwrap();
            assert!(!nl.qdiscs().unwrap().iter().any(|q| q.kind == "tbf"));
            let e = nl.delete_root_qdisc("ws-t0").unwrap_err();
            assert!(e.errno().is_some(), "nothing left to delete: {e}");

            // A rate past 2^32 bytes/s travels in TCA_TBF_RATE64.
            let fast = parse_rate("40gbit").unwrap();
            nl.add_tbf("ws-t0", fast, 1_000_000, 2_000_000).unwrap();
            let (kernel_rate, limit, _, rate64) = tbf_parms(&mut nl, index);
            assert_eq!((kernel_rate, limit, rate64), (u32::MAX, 2_000_000, Some(fast)));
            nl.delete_root_qdisc("ws-t0").unwrap();

            nl.delete_link("ws-t0").unwrap();
            assert_eq!(nl.link_index("ws-t0p").unwrap(), None);
        });
    }

    #[test]
    fn move_to_netns_of_a_thread() {
        in_throwaway_netns("move_to_netns_of_a_thread", || {
            // A second thread in a second throwaway namespace, reporting its thread id. The
            // kernel resolves IFLA_NET_NS_PID with find_task_by_vpid(), which finds threads too,
            // and takes that thread's own network namespace.
            let (tid_tx, tid_rx) = mpsc::channel();
            let (check_tx, check_rx) = mpsc::channel::<()>();
            let (seen_tx, seen_rx) = mpsc::channel();
            let other = std::thread::spawn(move || {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
                tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
                check_rx.recv().unwrap();
                let mut nl = Netlink::open().unwrap();
                seen_tx.send(nl.links().unwrap()).unwrap();
            });
            let mut nl = Netlink::open().unwrap();
            nl.add_veth("ws-m0", "ws-m0p").unwrap();
            let tid = tid_rx.recv().unwrap();
            nl.move_to_netns_of("ws-m0p", tid).unwrap();
            assert_eq!(nl.link_index("ws-m0p").unwrap(), None, "gone from this namespace");
            assert!(nl.link_index("ws-m0").unwrap().is_some(), "its peer stays");
            check_tx.send(()).unwrap();
            let there = seen_rx.recv().unwrap();
            assert_eq!(find(&there, "ws-m0p").kind.as_deref(), Some("veth"), "{there:?}");
            other.join().unwrap();
            // That namespace dies with its thread (the kernel cleans it up asynchronously), and
            // the veth pair with it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while nl.link_index("ws-m0").unwrap().is_some() {
                assert!(std::time::Instant::now() < deadline, "ws-m0 outlived the other namespace");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let e = nl.move_to_netns_of("lo", 0).unwrap_err();
            assert_eq!(e.errno(), None, "{e}");
        });
    }

    #[test]
    fn dumps_span_many_datagrams() {
        in_throwaway_netns("dumps_span_many_datagrams", || {
            let mut nl = Netlink::open().unwrap();
            const PAIRS: usize = 40;
            for i in 0..PAIRS {
                nl.add_veth(&format!("ws-d{i}"), &format!("ws-d{i}p")).unwrap();
            }
            let links = nl.links().unwrap();
            assert_eq!(ws_names(&links).len(), 2 * PAIRS);
            assert!(nl.last_dump_datagrams > 1, "{} datagram(s)", nl.last_dump_datagrams);
            for i in 0..PAIRS {
                assert_eq!(find(&links, &format!("ws-d{i}p")).kind.as_deref(), Some("veth"));
            }
            // Teardown is the namespace's end; the socket still answers a request after a dump.
            nl.delete_link("ws-d0").unwrap();
        });
    }
}
