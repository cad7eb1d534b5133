//! Stage 04: a network namespace with a veth pair, checked from outside: inodes, packets counted on
//! the host, published ports answering, a measured rate, and the host's network unchanged.
mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};
use workshop::facts;
use workshop::network::HostNetwork;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_04_network"))
}

/// Runs `f` and asserts that the host's links, addresses, routes and qdiscs are as before.
fn leaves_network_as_found<T>(f: impl FnOnce() -> T) -> T {
    // The kernel deletes an ended container's veth a moment later, with its network namespace
    // (seconds, under emulation): let the last test's go before taking the picture.
    workshop::network::settle_links(&[], std::time::Duration::from_secs(30));
    let before = HostNetwork::capture().unwrap();
    let result = common::leaves_host_as_found(f);
    workshop::network::settle_links(&before.link_names(), std::time::Duration::from_secs(30));
    assert_eq!(HostNetwork::capture().unwrap(), before, "the host's network changed");
    result
}

#[test]
fn demo_output_is_as_recorded() {
    let Some(_s) = common::root_and_serial() else { return };
    let output = leaves_network_as_found(|| common::demo_output(bin()));
    insta::assert_snapshot!("demo", output);
}

#[test]
fn the_container_has_its_own_network_and_packets_cross() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| {
        facts::own_network(bin()).unwrap();
        facts::packets_cross_the_veth(bin()).unwrap();
    });
}

fn http_get(port: u16) -> String {
    let addr = std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match workshop::probes::http_get(addr, Duration::from_secs(2)) {
            Ok(text) if !text.is_empty() => return text,
            _ => assert!(Instant::now() < deadline, "nothing answered on 127.0.0.1:{port}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_containers_on_port_80_answer_through_their_published_ports() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| {
        let serve = |subnet: &str, port: &str, name: &str| {
            let script = format!("mount -t tmpfs none /tmp && echo {name} > /tmp/index.html && exec httpd -f -p 80 -h /tmp");
            facts::command(bin(), &["--subnet", subnet, "-p", port, "--", "sh", "-c", &script])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut a = serve("10.200.0.0/24", "18080:80", "container-a");
        let mut b = serve("10.201.0.0/24", "18081:80", "container-b");
        let (page_a, page_b) = (http_get(18080), http_get(18081));
        for child in [&mut a, &mut b] {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            child.wait().unwrap();
        }
        assert!(page_a.ends_with("container-a\n"), "{page_a}");
        assert!(page_b.ends_with("container-b\n"), "{page_b}");
    });
}

#[test]
fn the_rate_limit_holds() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| {
        const SIZE: usize = 60_000;
        // The host's end is the container's default gateway; its address depends on which block of
        // the workshop subnet the container got.
        let script = format!(
            "sleep 0.2; set -- $(ip route | grep ^default); gw=$3; head -c {SIZE} /dev/zero | nc $gw 9999"
        );
        let links_before = facts::workshop_links();
        let mut stage =
            facts::command(bin(), &["--network-rate", "400kbit", "--", "sh", "-c", &script])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
        // The host's address exists once the stage has made the veth: listen there as soon as it does.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            let new_end = facts::workshop_links().into_iter().find(|l| !links_before.contains(l));
            let gateway = new_end.and_then(|end| facts::cable_of(&end).ok()).map(|c| c.0);
            let Some(gateway) = gateway else {
                assert!(Instant::now() < deadline, "no veth with an address appeared on the host");
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            let addr = SocketAddrV4::new(gateway, 9999);
            match TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => panic!("could not listen on {addr}: {e}"),
            }
        };
        listener.set_nonblocking(true).unwrap();
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline + Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("the container never connected: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (mut got, mut buf, start) = (0, [0u8; 8192], Instant::now());
        while got < SIZE {
            match conn.read(&mut buf).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        let rate = got as f64 / start.elapsed().as_secs_f64();
        drop(conn);
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(stage.id() as i32, libc::SIGTERM) };
        stage.wait().unwrap();
        assert_eq!(got, SIZE);
        // 400kbit = 50,000 bytes/s; the first bucket (4 KiB) goes at once, so allow a little over.
        assert!(rate < 50_000.0 * 1.25, "measured {rate:.0} B/s under a 50,000 B/s limit");
        assert!(rate > 50_000.0 * 0.5, "measured {rate:.0} B/s: far below the limit");
    });
}

#[test]
fn sigint_leaves_the_network_as_found() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| {
        let live = facts::Live::start(bin(), &["-p", "18082:80"]).unwrap();
        assert!(
            !facts::workshop_links().is_empty(),
            "no veth on the host while the container runs"
        );
        assert_eq!(live.stop_stage(libc::SIGINT), 130);
    });
}

#[test]
fn bad_network_input_gives_one_clear_line_and_leaves_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| {
        let out = facts::run(bin(), &["--subnet", "10.200.0.5/24", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["host bits", "10.200.0.0/24"]);
        let out = facts::run(bin(), &["--network-rate", "fast", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["--network-rate", "fast"]);
        let out = facts::run(bin(), &["-p", "8080", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["8080:80"]);
        // A port that is already taken.
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let out = facts::run(bin(), &["-p", &format!("{port}:80"), "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["already taken"]);
        drop(taken);
        // A subnet that clashes with a route of the host's own. The route is made in a network
        // namespace of the test's, where the stage then runs, so that the host's stays untouched.
        let script = format!(
            "ip link add clash0 type veth peer name clash1 && ip addr add 10.200.0.1/16 dev clash0 && ip link set clash0 up && exec {} -- true",
            bin().display()
        );
        let out = facts::run_command({
            let mut c = std::process::Command::new("unshare");
            c.args(["--net", "sh", "-c", &script]);
            c
        });
        common::assert_one_clear_line(
            &out,
            125,
            &["clashes", "10.200.0.0/16", "clash0", "--subnet"],
        );
    });
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    leaves_network_as_found(|| common::common_stage_checks(bin()));
}
