//! Test-only: exercise 08's solution with its "break it" mistake made, the capability sets set
//! but the bounding set left whole, so that `tests/hints.rs` can check that the checker names the
//! mistake and the hint level.

use caps::{CapSet, CapsHashSet};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::security::{seccomp, CapabilitySet, Compiled};
use workshop::Stage;

/// The mistake: the bounding set is not lowered.
fn harden(
    keep: &CapabilitySet,
    filter: Option<&Compiled>,
    no_new_privs: bool,
) -> anyhow::Result<()> {
    // Without no_new_privs the kernel installs a filter only for a holder of CAP_SYS_ADMIN: so the
    // filter goes in first, while it is still held (the calls below must be ones it allows).
    if let (Some(f), false) = (filter, no_new_privs) {
        seccomp::apply(f)?;
    }
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs()?;
    }
    // What the process holds now: effective must stay within permitted at every step, so it
    // shrinks first. Inheritable and ambient stay empty, as Docker leaves them.
    let set: CapsHashSet = keep.iter().collect();
    caps::set(None, CapSet::Effective, &set)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())?;
    caps::set(None, CapSet::Permitted, &set)?;
    caps::clear(None, CapSet::Ambient)?;
    // With no_new_privs any process may install a filter: last, so that it filters nothing of the
    // set-up, only what the container runs.
    if let (Some(f), true) = (filter, no_new_privs) {
        seccomp::apply(f)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { harden: Some(harden), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Security, mechanisms)
}
