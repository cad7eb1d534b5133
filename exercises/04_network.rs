//! Exercise 04 · network namespace
//!
//! The container is in a new network namespace, and the host has already made a veth pair and
//! moved one end, named `container_end` (wsc-…), in here. Right now the container has a down
//! loopback and a down link with the wrong name and no address. Make it a network: loopback up,
//! the link named eth0 with the address `net.address` (a /`net.subnet.prefix_len`), up, and a
//! default route via `net.gateway`, the host's end of the cable.
//!
//! The checker verifies: eth0 exists inside with an address of the workshop subnet, in a /30; the
//! container has its own network namespace; a ping from inside reaches the host's end, and the
//! host's ping reaches the container (the host counts the packets). And every check of 01–03.
//! Man pages: ip-link(8), ip-address(8), ip-route(8), rtnetlink(7), veth(4).
//! Stuck? `cargo run -- hint 04` shows one hint at a time: the idea, where to look, the API.
//!
//! Break it (once it passes): give eth0 its address before you rename the link, and check again.
//!
//! Try it:   cargo run --bin ex04_network -- ip addr
//! Check it: cargo run -- check 04

// An exercise is unfinished on purpose: until it is done, its arguments and imports go unused.
#![allow(unused_variables, unused_imports, unreachable_code)]

use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::netlink::Netlink;
use workshop::network::NetworkConfig;
use workshop::Stage;

// TODO: Configure the container's side of the veth pair, from inside, through netlink.
// ANCHOR: todo
fn configure_inside(net: &NetworkConfig, container_end: &str) -> anyhow::Result<()> {
    todo!("make the veth end a working eth0: `cargo run -- hint 04` if you are stuck")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { network_inside: Some(configure_inside), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Network, mechanisms)
}
