//! Test-only: exercise 05's solution with its "break it" mistake made, the gid_map left unwritten,
//! so that `tests/hints.rs` can check that the checker names the mistake and the hint level.

use nix::unistd::Pid;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::userns::UserNamespace;
use workshop::Stage;

/// The mistake: only the uid_map is written.
fn write_id_maps(pid: Pid, user: &UserNamespace) -> std::io::Result<()> {
    if user.deny_setgroups {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("{}\n", user.uid_map))
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms { write_id_maps: Some(write_id_maps), ..Mechanisms::library() };
    workshop::exercise::main(Stage::User, mechanisms)
}
