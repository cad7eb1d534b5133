//! The OCI runtime interface: what a container engine (podman, containerd, CRI-O) asks of a
//! runtime such as runc, answered with the workshop's own mechanisms.
//!
//! An engine never builds a container itself. It prepares a *bundle* (a directory holding the root
//! filesystem and a `config.json` that says everything about the container) and calls a runtime
//! binary with the operations of the OCI runtime specification's runtime.md:
//!
//! ```text
//!            create                 start                  (the process exits)
//!   (none) ─────────▶ created ─────────────▶ running ─────────────────────────▶ stopped
//!                     │  the process exists,  │   ▲ pause / resume                  │ delete
//!                     │  set up and waiting   ▼   │                                 ▼
//!                     │  at its last step    paused                               (none)
//!                     └──────────────────── delete --force ─────────────────────────▶
//! ```
//!
//! `create` makes the namespaces, the cgroup, the mounts and the rest, and leaves the process
//! blocked right before execve(2) of the user's program; `start` lets it go. `state`, `kill`,
//! `delete`, `exec`, `pause`, `resume`, `ps` and `features` do what runc's do, so that
//! `podman --runtime target/debug/workshop-runc run …` works.
//!
//! Every piece comes from the stage that taught it: the namespaces (01–05), the pivot into the
//! root (03), the cgroup and its limits (06, through [`crate::runtime::cgroup::enter`]), the
//! seccomp filter compiled by 08's compiler from the JSON, the capabilities and user of 08, the
//! freezer and the `setns` of 09's `pause` and `exec`, and 09's state store, locks and liveness.

pub mod bundle;
pub mod cli;
pub mod console;
pub mod create;
pub mod exec;
pub mod hooks;
pub mod init;
pub mod log;
pub mod mounts;
pub mod ops;
pub mod process;
pub mod spec;

/// The runtime spec version this runtime follows.
pub const OCI_VERSION: &str = "1.0.2";

/// The binary's name, as errors and help show it.
pub const BIN: &str = "workshop-runc";

/// Where the containers' state lives when the engine names no `--root`: beside stage 09's, in a
/// store of its own, so that the workshop's verbs and an engine never handle each other's
/// containers.
pub fn default_root() -> std::path::PathBuf {
    crate::runtime::state_dir::state_dir().join("oci")
}

/// One line for the person (or engine) that called: Docker's and runc's exit code for an error of
/// the runtime itself.
pub fn fail(message: impl Into<String>) -> anyhow::Error {
    crate::lifecycle::engine::fail(message)
}
