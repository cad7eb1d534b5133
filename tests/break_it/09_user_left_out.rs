//! Test-only: exercise 09's solution with its "break it" mistake made, every namespace joined but
//! the user namespace, so that `tests/hints.rs` can check that the checker names the mistake and
//! the hint level.

use nix::sched::CloneFlags;
use std::process::ExitCode;
use workshop::lifecycle::exec::Namespace;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: the user namespace is left out, so the exec'd process is the host's own root.
fn join(namespaces: &[Namespace]) -> anyhow::Result<()> {
    for ns in namespaces.iter().filter(|n| n.flag != CloneFlags::CLONE_NEWUSER) {
        nix::sched::setns(ns.fd, ns.flag)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { join_namespaces: Some(join), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Lifecycle, mechanisms)
}
