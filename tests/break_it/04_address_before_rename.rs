//! Test-only: exercise 04's solution with its "break it" mistake made, the address given to eth0
//! before the link is renamed eth0, so that `tests/hints.rs` can check that the checker names the mistake and the
//! hint level.

use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::netlink::Netlink;
use workshop::network::NetworkConfig;
use workshop::Stage;

/// The mistake: `add_address("eth0", …)` before `rename`: there is no eth0 yet.
fn configure_inside(net: &NetworkConfig, container_end: &str) -> anyhow::Result<()> {
    let mut nl = Netlink::open()?;
    nl.set_up("lo")?;
    nl.add_address("eth0", net.address, net.subnet.prefix_len)?;
    nl.rename(container_end, "eth0")?;
    nl.set_up("eth0")?;
    nl.add_default_route(net.gateway)?;
    Ok(())
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { network_inside: Some(configure_inside), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Network, mechanisms)
}
