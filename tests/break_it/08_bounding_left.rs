//! Test-only: exercise 08's solution with its "break it" mistake made, the capability sets set
//! but the bounding set left whole, so that `tests/hints.rs` can check that the checker names the
//! mistake and the hint level.

use caps::{CapSet, CapsHashSet};
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::security::CapabilitySet;
use workshop::Stage;

/// The mistake: the bounding set is not lowered.
fn drop_capabilities(keep: &CapabilitySet, root: bool) -> anyhow::Result<()> {
    // Then what the process holds now: effective must stay within permitted at every step, so it
    // shrinks first. Inheritable and ambient stay empty, as Docker leaves them.
    let set: CapsHashSet = if root { keep.iter().collect() } else { CapsHashSet::new() };
    caps::set(None, CapSet::Effective, &set)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())?;
    caps::set(None, CapSet::Permitted, &set)?;
    caps::clear(None, CapSet::Ambient)?;
    Ok(())
}

fn main() -> ExitCode {
    let mechanisms =
        Mechanisms { drop_capabilities: Some(drop_capabilities), ..Mechanisms::library() };
    workshop::exercise::main(Stage::Security, mechanisms)
}
