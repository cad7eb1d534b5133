//! Making a container from the mechanisms: where the workshop keeps its state, and the record of
//! everything a run creates on the host, so that nothing outlives the run, not even a `kill -9`.

pub mod cgroup;
pub mod configure;
pub mod record;
pub mod state_dir;
pub mod steps;
pub mod syscalls;

pub use record::{Cleanup, Owned, Resource};
