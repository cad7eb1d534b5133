//! Test-only: exercise 02's solution with its "break it" mistake made, MS_PRIVATE without MS_REC,
//! so that `tests/hints.rs` can check that the exercise stops before mounting anything and that the
//! checker names the mistake and the hint level. Run it only where a leak cannot reach the host:
//! the test wraps it in `unshare --mount --propagation shared`.

use nix::mount::{mount, MsFlags};
use std::path::Path;
use std::process::ExitCode;
use workshop::mechanisms::Mechanisms;
use workshop::Stage;

/// The mistake: only / becomes private; the mounts below it keep their propagation.
fn make_private() -> nix::Result<()> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_PRIVATE, None::<&str>)
}

fn mount_proc(target: &Path) -> nix::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), target, Some("proc"), flags, None::<&str>)
}

fn main() -> ExitCode {
    let mechanisms = Mechanisms {
        make_private: Some(make_private),
        mount_proc: Some(mount_proc),
        ..Mechanisms::library()
    };
    workshop::exercise::main(Stage::MountProc, mechanisms)
}
