//! Exercise 04 · network namespace
//!
//! The container is in a new network namespace, and the host has already made a veth pair and
//! moved one end, named `container_end` (wsc-…), in here. Right now the container has a down
//! loopback and a down link with the wrong name and no address. Make it a network: loopback up,
//! the link renamed eth0, given `net.address`, brought up, and a default route via `net.gateway`.
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

// TODO: Configure the container's side of the veth pair through netlink.
// ANCHOR: todo
fn configure_inside(net: &NetworkConfig, container_end: &str) -> anyhow::Result<()> {
    // Hints:
    // - Netlink::open()? gives a socket in this (the container's) network namespace.
    // - Five calls, in the order `ip` would need them:
    //     set_up("lo"), rename(container_end, "eth0"),
    //     add_address("eth0", net.address, net.subnet.prefix_len),
    //     set_up("eth0"), add_default_route(net.gateway).
    // - Rename before bringing the link up: a name is easiest to change while the link is down.
    todo!("bring up lo, rename the veth end to eth0, address it, bring it up, add a default route")
}
// ANCHOR_END: todo

fn main() -> ExitCode {
    let mechanisms = Mechanisms { network_inside: Some(configure_inside), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Network, mechanisms)
}
