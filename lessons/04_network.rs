//! Stage 04 · network namespace: its own eth0 and IP, packets crossing a veth pair.
//!
//! Run it: `cargo run --bin 04_network`, or `cargo run --bin 04_network -- ip addr`.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workshop::container::{self, Config, Stdio};
use workshop::lesson::{self, Lesson};
use workshop::narrate::{ms, var};
use workshop::network::forward::Publish;
use workshop::network::{self, Attach, Bridge, HostNetwork, NetworkConfig};
use workshop::{probes, Stage};

/// Stage 04: a network namespace with a veth pair to the host, an address, a route.
///
/// Without a command, a narrated demo: the container's eth0 beside the host's links, ping and TCP
/// both ways across the veth, two containers on a bridge each serving port 80 and published on the
/// host's loopback, and a rate limit measured before and after.
const ABOUT: &str = "Stage 04: a network namespace with a veth pair to the host, an address, a route.\n\nWithout a command, a narrated demo: the container's eth0 beside the host's links, ping and TCP both ways across the veth, two containers on a bridge each serving port 80 and published on the host's loopback, and a rate limit measured before and after.";

/// The demo's two web servers publish here, as in the course notes.
const DEMO_PORTS: [u16; 2] = [8080, 8081];
/// How long to wait for a server in a container to answer: it answers in milliseconds, but an
/// emulated machine (the test VM) or a loaded one can take seconds, and waiting costs nothing
/// when it does answer.
const PATIENCE: Duration = Duration::from_secs(30);
/// The bridge's block: the bridge, its two web servers and a client.
const BRIDGE_BLOCK: u8 = 29;
/// Where the host listens for the container, on the gateway address that only our veth has.
const HOST_PORT: u16 = 9000;

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let pool = l.args.network.as_ref().expect("stage 04 has the network flags").pool();
    // One /30 for the first container, a /29 for the bridge and its two: at least a /28.
    anyhow::ensure!(
        pool.prefix_len <= 28,
        "the demo needs a /28 or wider (a /30 for one container and a /29 for the bridge), and --subnet {pool} is smaller; give one like 10.200.0.0/24"
    );
    let Some(net) = l.config.network.as_mut() else { return rootless_demo(l) };
    // --network-rate applies to the demo's measured transfer only (default: the course notes' 1mbit).
    let rate = net.rate.take().unwrap_or_else(|| "1mbit".parse().expect("a valid rate"));
    let net = net.clone();
    let host_before = HostNetwork::capture()?;
    let n = &mut l.narrator;
    n.banner(
        "04_network · a network of the container's own",
        "A network namespace, and a veth pair as the cable to the host.",
    );

    n.step("A new network namespace has only a loopback");
    n.syscall("clone(CLONE_NEWNET | …); RTM_SETLINK IFF_UP on lo");
    n.shell("unshare --net sh -c 'ip link set lo up; ip -o link'");
    let mut bare = l.config.clone();
    bare.network = None;
    let ran = container::run_captured(&bare, &["ip", "-o", "link"])?;
    let inside = Links::parse(&ran.output);
    let n = &mut l.narrator;
    show_loopback_only(
        n,
        host_links_up(&host_before),
        &inside,
        "a new network namespace has only lo up, and no link of the host's",
    );
    n.note("Kernels with the ipip, sit or gre drivers loaded (WSL2's, among others) also put each");
    n.note("driver's fallback tunnel (tunl0, sit0, gre0, …) in every new namespace: down, with no");
    n.note("address, carrying nothing. sysctl net.core.fb_tunnels_only_for_init_net=1 keeps them");
    n.note("in the host's namespace only.");

    n.step("A veth pair: one end on the host, the other made in the container and renamed eth0");
    let gw = net.gateway;
    let prefix = net.subnet.prefix_len;
    let ip = net.address;
    n.syscall(
        "netlink RTM_NEWLINK kind veth, its peer with IFLA_NET_NS_PID = the container's PID;",
    );
    n.syscall("RTM_NEWADDR on wsh-TAG; RTM_SETLINK IFF_UP on wsh-TAG");
    n.note("By hand, in a network namespace that stands in for the host (nothing lands on yours):");
    n.shell(&format!("unshare --net sh -c 'ip link add wsh-TAG type veth peer name wsc-TAG netns PID && ip addr add {gw}/{prefix} dev wsh-TAG && ip link set wsh-TAG up'"));
    n.note("and inside the container, where the peer already is:");
    n.syscall("RTM_SETLINK IFF_UP on lo; RTM_SETLINK IFLA_IFNAME eth0; RTM_NEWADDR; RTM_SETLINK IFF_UP; RTM_NEWROUTE");
    n.shell_inside("ip link set lo up && ip link set wsc-TAG name eth0");
    n.shell_inside(&format!("ip addr add {ip}/{prefix} dev eth0 && ip link set eth0 up"));
    n.shell_inside(&format!("ip route add default via {gw}"));
    n.note(
        "No RTM_DELLINK at the end: the kernel deletes the pair with the container's namespace.",
    );
    let ran = l.run(&["sh", "-c", "ip -o -4 addr show eth0; ip route"])?;
    let n = &mut l.narrator;
    n.output("ip -4 addr; ip route   inside", &addresses_and_routes(&ran.output));
    n.views_header();
    n.views("address", format!("{gw}/{prefix} on wsh-TAG"), format!("{ip}/{prefix} on eth0"));
    n.claim(
        ran.output.contains(&format!("{ip}/{prefix}"))
            && ran.output.contains(&format!("default via {gw}")),
        "the container has its own eth0, address and default route",
    );

    n.step("Packets cross the veth: ping and TCP, both ways");
    n.shell_inside(&format!(
        "ping -c 1 {gw}; echo hello from the container | nc {gw} {HOST_PORT}; httpd -p 80"
    ));
    n.shell(&format!("ping -c 1 {ip}; wget -qO- http://{ip}/   (on the host)"));
    n.note(&format!(
        "Each container gets a /30 of the workshop subnet {pool} of its own, so many can run at once,"
    ));
    n.note("each on its own cable; containers that talk to each other share a bridge (below).");
    let script = format!(
        "ping -c 1 -W 2 {gw} >/dev/null && echo reply || echo no-reply; \
         echo hello from the container | nc {gw} {HOST_PORT}; exec httpd -f -p 80 -h /var/www"
    );
    let mut server =
        container::spawn(&l.config, &["sh".into(), "-c".into(), script], Stdio::Capture)?;
    // The gateway address exists from spawn() on (the host side is done): listen before release.
    let listener = TcpListener::bind(SocketAddrV4::new(gw, HOST_PORT))?;
    server.release()?;
    let host_end = server.host_end.clone().unwrap_or_default();
    let out_ping = server.read_line();
    let rx = network::rx_packets(&host_end);
    let line = accept_line(&listener)?;
    probes::wait_for_port(SocketAddrV4::new(ip, 80), PATIENCE);
    let in_ping = host_ping(ip)?;
    let page = page_at(SocketAddrV4::new(ip, 80))?;
    drop(server);
    drop(listener);
    let n = &mut l.narrator;
    n.views_header();
    n.views(
        "ping",
        format!("{ip}: {}", if in_ping { "reply" } else { "no reply" }),
        format!("{gw}: {out_ping}"),
    );
    n.views("received over TCP", line.trim(), page.trim());
    n.claim(out_ping == "reply", "the container reaches the host (ping)");
    n.claim(
        rx > 0,
        "the host counted the container's packets on its end of the veth (a new veth starts at 0)",
    );
    n.claim(in_ping, "the host reaches the container (ping)");
    n.claim(
        line.trim() == "hello from the container",
        "the container's line arrived on the host over TCP",
    );
    n.claim(
        page.contains("hello from inside the container"),
        "the host fetched the container's page over TCP",
    );

    n.step("Two containers on a bridge, each on port 80, published on the host (-p)");
    let n = &mut l.narrator;
    let bridge_name = format!("wsbr-{}", network::new_tag());
    // The bridge and its containers share a /29 of the workshop subnet, leased like any block.
    let (bridge_lease, block) = network::ipam::lease(&pool, BRIDGE_BLOCK)?;
    let bgw = block.host(1).expect("a /29 has a first host");
    let bnet = NetworkConfig { subnet: block, gateway: bgw, ..net.clone() };
    n.syscall("netlink RTM_NEWLINK kind bridge; RTM_NEWADDR; RTM_SETLINK IFF_UP on the bridge;");
    n.syscall(
        "for each container, a veth as above, its host end plugged in (RTM_SETLINK IFLA_MASTER), not addressed",
    );
    n.note(&format!(
        "The bridge and its /{BRIDGE_BLOCK} are this demo's own: `04_network -- CMD` gives each"
    ));
    n.note("container a cable and a /30 of its own, with no bridge. By hand, in a stand-in host:");
    n.shell(&format!("unshare --net sh -c 'ip link add wsbr-TAG type bridge && ip addr add {bgw}/{BRIDGE_BLOCK} dev wsbr-TAG && ip link set wsbr-TAG up && ip link add wsh-A type veth peer name wsc-A && ip link set wsh-A master wsbr-TAG'"));
    let bridge = Bridge::create(&bridge_name, bgw, &block)?;
    let mut servers = Vec::new();
    let mut published = Vec::new();
    for (i, name) in ["A", "B"].iter().enumerate() {
        let mut cfg = l.config.clone().with_hostname(format!("container-{}", name.to_lowercase()));
        let port = probes::free_or_any(DEMO_PORTS[i]);
        let mut netc =
            NetworkConfig { attach: Attach::Bridge(bridge.name.clone()), ..bnet.clone() };
        netc.address = block.host(2 + i as u32).expect("a /29 holds two containers");
        netc.publish = vec![Publish { host_port: port, container_port: 80 }];
        cfg.network = Some(netc.clone());
        let script = format!("mount -t tmpfs none /tmp && echo hello from container {name} > /tmp/index.html && exec httpd -f -p 80 -h /tmp");
        let srv = Server::start(&cfg, &["sh", "-c", &script])?;
        let n = &mut l.narrator;
        n.result(&format!(
            "container {name}: {} on wsbr-TAG, httpd on port 80, published on 127.0.0.1:{port}",
            netc.address
        ));
        servers.push((srv, netc.address));
        published.push(port);
    }
    let n = &mut l.narrator;
    n.note("The same -p from the CLI, for one container on a cable of its own:");
    n.shell("04_network -p 8080:80 -- httpd -f -p 80 -h /var/www");
    let (a_ip, b_ip) = (servers[0].1, servers[1].1);
    let a_to_b = l.run_with(
        &servers_config(&l.config, &bnet, &bridge, 4),
        &["sh", "-c", &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {b_ip} 80")],
    )?;
    let page_a = page_at(SocketAddrV4::new(Ipv4Addr::LOCALHOST, published[0]))?;
    let page_b = page_at(SocketAddrV4::new(Ipv4Addr::LOCALHOST, published[1]))?;
    let n = &mut l.narrator;
    n.views_header();
    n.views(&format!("127.0.0.1:{}", published[0]), page_a.trim(), format!("A on {a_ip}:80"));
    n.views(&format!("127.0.0.1:{}", published[1]), page_b.trim(), format!("B on {b_ip}:80"));
    n.claim(
        page_a.trim() == "hello from container A" && page_b.trim() == "hello from container B",
        "both containers listen on port 80, each reached through its published port",
    );
    n.claim(
        a_to_b.output.trim_end().ends_with("hello from container B"),
        "a third container on the bridge reaches container B directly, at its own address",
    );
    drop(servers);
    drop(bridge);
    drop(bridge_lease);

    n.step("--network-rate: a token bucket on the container's link, measured");
    n.syscall("netlink RTM_NEWQDISC kind tbf (inside, on eth0)");
    n.shell_inside(&format!(
        "tc qdisc add dev eth0 root tbf rate {} burst 32kbit latency 400ms",
        rate.text
    ));
    let size = (rate.bytes_per_sec as usize * 3 / 5).clamp(16 << 10, 4 << 20);
    let free = upload_rate(&l.config, gw, size)?;
    let mut limited = l.config.clone();
    if let Some(netc) = limited.network.as_mut() {
        netc.rate = Some(rate.clone());
    }
    let shaped = upload_rate(&limited, gw, size)?;
    let n = &mut l.narrator;
    n.views_header();
    n.views("upload, no limit", var(format!("{:.0} KB/s", free.0 / 1000.0)), ms(free.1));
    n.views(
        &format!("upload, {}", rate.text),
        var(format!("{:.0} KB/s", shaped.0 / 1000.0)),
        ms(shaped.1),
    );
    let limit = rate.bytes_per_sec as f64;
    n.claim(
        shaped.0 <= limit * 1.25,
        &format!(
            "with the limit, the transfer held to about {} ({:.0} KB/s)",
            rate.text,
            limit / 1000.0
        ),
    );
    n.claim(free.0 > limit * 2.0, "without it, the same transfer ran much faster");

    n.step("Everything is removed: the host's links, addresses, routes and qdiscs are as before");
    // The kernel deletes each container's veth pair with its network namespace, a moment after
    // the container's last process: give it that moment.
    network::settle_links(&host_before.link_names(), Duration::from_secs(30));
    let host_after = HostNetwork::capture()?;
    let n = &mut l.narrator;
    n.views_header();
    n.views("links", var(host_before.links.len()), var(host_after.links.len()));
    n.claim(host_before == host_after, "the host's network is exactly as it was before the demo");
    Ok(())
}
// ANCHOR_END: demo

/// `--rootless`: an ordinary user may not create links on the host, so the container gets a
/// network namespace with only its loopback.
fn rootless_demo(l: &mut Lesson) -> anyhow::Result<()> {
    let n = &mut l.narrator;
    n.banner(
        "04_network · rootless: loopback only",
        "An ordinary user may not add links to the host's network.",
    );
    n.step("A network namespace of its own, with only its loopback");
    n.syscall("clone(CLONE_NEWUSER | CLONE_NEWNET | …); netlink RTM_NEWLINK lo up");
    n.shell("unshare --user --map-root-user --net sh -c 'ip link set lo up; ip -o link'");
    let ran = l.run(&["ip", "-o", "link"])?;
    let inside = Links::parse(&ran.output);
    let n = &mut l.narrator;
    show_loopback_only(
        n,
        "the host's",
        &inside,
        "the container's network namespace has only lo up, and no link of the host's",
    );
    n.note(
        "Without root, no veth pair can join it to the host: rootless tools such as slirp4netns or",
    );
    n.note(
        "pasta forward traffic through a user-space network stack instead. Run without --rootless",
    );
    n.note("(as root) to see the veth pair, the bridge and the rate limit.");
    Ok(())
}

/// A new network namespace's links beside the host's: only lo up (and, on kernels that make
/// them, the drivers' fallback tunnels, down).
fn show_loopback_only(
    n: &mut workshop::narrate::Narrator,
    host_links: impl std::fmt::Display,
    inside: &Links,
    claim: &str,
) {
    n.views_header();
    n.views("links up", var(host_links), inside.up.join(" "));
    n.views(
        "fallback tunnels, down",
        var(fallback_tunnels_on_host()),
        var(inside.tunnels_or_none()),
    );
    n.claim(inside.only_lo_up(), claim);
}

/// A container that keeps running (a server) until dropped.
struct Server {
    // Held so the server keeps running; dropping it stops the container and removes its veth.
    _running: container::Running,
}

impl Server {
    fn start(config: &Config, argv: &[&str]) -> anyhow::Result<Server> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let mut running = container::spawn(config, &argv, Stdio::Capture)?;
        running.release()?;
        // Wait until the server answers: at once on a real machine, seconds in an emulated one.
        if let Some(port) = argv.iter().position(|a| a == "-p").and_then(|i| argv.get(i + 1)) {
            let ip = config.network.as_ref().map(|n| n.address).unwrap_or(Ipv4Addr::LOCALHOST);
            let addr = SocketAddrV4::new(ip, port.parse().unwrap_or(80));
            probes::wait_for_port(addr, PATIENCE);
        } else if argv.last().is_some_and(|s| s.contains("httpd")) {
            let ip = config.network.as_ref().map(|n| n.address).unwrap_or(Ipv4Addr::LOCALHOST);
            probes::wait_for_port(SocketAddrV4::new(ip, 80), PATIENCE);
        }
        Ok(Server { _running: running })
    }
}

fn servers_config(base: &Config, net: &NetworkConfig, bridge: &Bridge, n: u32) -> Config {
    let mut cfg = base.clone();
    let mut netc = NetworkConfig { attach: Attach::Bridge(bridge.name.clone()), ..net.clone() };
    netc.address = net.subnet.host(n).expect("the bridge's block holds a third container");
    cfg.network = Some(netc);
    cfg
}

/// `ip -o -4 addr` and `ip route` output, without the run-to-run interface index, the same from
/// iproute2's `ip` as from busybox's.
fn addresses_and_routes(text: &str) -> String {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.iter().position(|w| *w == "inet") {
                Some(i) => {
                    format!("{} inet {}", f.get(1).unwrap_or(&""), f.get(i + 1).unwrap_or(&""))
                }
                // iproute2 says `proto kernel` for the route the address made; busybox's ip does not.
                None => f.join(" ").replace(" proto kernel", ""),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The links `ip -o link` lists in a new network namespace, sorted into those that are up and the
/// fallback tunnels that tunnel drivers add, down, to every namespace (see ip-link(8), and
/// `fb_tunnels_only_for_init_net` in the kernel's Documentation/admin-guide/sysctl/net.rst).
struct Links {
    up: Vec<String>,
    /// Fallback tunnels, all down.
    tunnels: Vec<String>,
    /// Anything else: a link that is down and not a fallback tunnel, or a tunnel that is up.
    other: Vec<String>,
}

/// The names the tunnel drivers give the fallback device they create in each network namespace.
const FALLBACK_TUNNELS: [&str; 9] =
    ["tunl0", "sit0", "gre0", "gretap0", "erspan0", "ip_vti0", "ip6tnl0", "ip6gre0", "ip6_vti0"];

impl Links {
    fn parse(ip_o_link: &str) -> Links {
        let mut links = Links { up: Vec::new(), tunnels: Vec::new(), other: Vec::new() };
        for line in ip_o_link.lines() {
            let Some(name) = line.split(": ").nth(1) else { continue };
            let name = name.split('@').next().unwrap_or(name).to_string();
            let flags = line.split('<').nth(1).and_then(|f| f.split('>').next()).unwrap_or("");
            let up = flags.split(',').any(|f| f == "UP");
            match (up, FALLBACK_TUNNELS.contains(&name.as_str())) {
                (true, _) if name == "lo" => links.up.push(name),
                (false, true) => links.tunnels.push(name),
                (true, _) | (false, false) => links.other.push(name),
            }
        }
        links
    }

    /// Only lo up; anything else is a fallback tunnel, down.
    fn only_lo_up(&self) -> bool {
        self.up == ["lo"] && self.other.is_empty()
    }

    fn tunnels_or_none(&self) -> String {
        if self.tunnels.is_empty() {
            "none".into()
        } else {
            self.tunnels.join(" ")
        }
    }
}

/// The host's links that are up (`IFF_UP` in /sys/class/net/NAME/flags).
fn host_links_up(host: &HostNetwork) -> String {
    let up = |name: &String| {
        std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & libc::IFF_UP as u32 != 0)
    };
    host.link_names().into_iter().filter(up).collect::<Vec<_>>().join(" ")
}

/// The fallback tunnels in the host's own namespace (a tunnel driver is loaded when they are).
fn fallback_tunnels_on_host() -> String {
    let mut names: Vec<&str> = FALLBACK_TUNNELS
        .iter()
        .copied()
        .filter(|t| std::path::Path::new(&format!("/sys/class/net/{t}")).exists())
        .collect();
    if names.is_empty() {
        names.push("none");
    }
    names.join(" ")
}

/// The page a web server at `addr` serves (the body of an HTTP/1.0 GET).
fn page_at(addr: SocketAddrV4) -> anyhow::Result<String> {
    let response = anyhow::Context::with_context(probes::http_get(addr, PATIENCE), || {
        format!("fetch the page at {addr}")
    })?;
    Ok(probes::body(&response).to_string())
}

/// Accepts one connection within a few seconds; a stop signal ends the wait (and the demo) cleanly.
fn accept_within(listener: &TcpListener) -> anyhow::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        workshop::signals::check_interrupted()?;
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                return Ok(conn);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                anyhow::bail!("the container never connected to {}", listener.local_addr()?)
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn accept_line(listener: &TcpListener) -> anyhow::Result<String> {
    let mut conn = accept_within(listener)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    Ok(text)
}

/// Pings from the host: one ICMP echo request, sent by the workshop's own ping (src/toolbox/ping.rs).
fn host_ping(ip: Ipv4Addr) -> anyhow::Result<bool> {
    Ok(workshop::toolbox::ping::once(ip, Duration::from_secs(2))?)
}

/// Sends `size` bytes from a container to the host and measures the rate on the host's side.
fn upload_rate(config: &Config, gw: Ipv4Addr, size: usize) -> anyhow::Result<(f64, Duration)> {
    let script = format!("head -c {size} /dev/zero | nc {gw} {HOST_PORT}");
    let mut sender = container::spawn(config, &["sh".into(), "-c".into(), script], Stdio::Capture)?;
    let listener = TcpListener::bind(SocketAddrV4::new(gw, HOST_PORT))?;
    sender.release()?;
    let mut conn = accept_within(&listener)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 16 << 10];
    let mut got = 0usize;
    let start = Instant::now();
    // Count to the expected size rather than wait for EOF: busybox nc keeps the connection open
    // after its input ends.
    while got < size {
        workshop::signals::check_interrupted()?;
        match conn.read(&mut buf)? {
            0 => break,
            n => got += n,
        }
    }
    let elapsed = start.elapsed();
    drop(conn);
    sender.read_output();
    anyhow::ensure!(got == size, "the container sent {got} of {size} bytes");
    Ok((got as f64 / elapsed.as_secs_f64().max(1e-6), elapsed))
}

fn main() -> ExitCode {
    lesson::main(Stage::Network, ABOUT, demo)
}

#[cfg(test)]
mod tests {
    use super::Links;

    #[test]
    fn only_lo_is_up_in_a_bare_namespace() {
        let bare = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n";
        let links = Links::parse(bare);
        assert!(links.only_lo_up());
        assert_eq!(links.tunnels_or_none(), "none");
    }

    #[test]
    fn fallback_tunnels_are_named_not_failed() {
        // A new namespace on WSL2's kernel (ipip and sit loaded), as iproute2 prints it.
        let wsl = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n\
                   2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN\\    link/ipip 0.0.0.0 brd 0.0.0.0\n\
                   3: sit0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN\\    link/sit 0.0.0.0 brd 0.0.0.0\n";
        let links = Links::parse(wsl);
        assert!(links.only_lo_up());
        assert_eq!(links.tunnels_or_none(), "tunl0 sit0");
    }

    #[test]
    fn a_link_of_the_hosts_or_a_tunnel_that_is_up_fails_the_claim() {
        let leaked = "1: lo: <LOOPBACK,UP> mtu 65536\n2: eth0: <BROADCAST,MULTICAST> mtu 1500\n";
        assert!(!Links::parse(leaked).only_lo_up());
        let up = "1: lo: <LOOPBACK,UP> mtu 65536\n2: tunl0@NONE: <NOARP,UP,LOWER_UP> mtu 1480\n";
        assert!(!Links::parse(up).only_lo_up());
        let lo_down = "1: lo: <LOOPBACK> mtu 65536\n";
        assert!(!Links::parse(lo_down).only_lo_up());
    }
}
