//! Stage 09's library: a container that lives between commands, driven by Docker's verbs (`create`,
//! `start`, `ps`, `exec`, `stop`, `kill`, `pause`, `logs`, `inspect`, `rm`…).
//!
//! Until stage 08 a container lived exactly as long as the command that made it. From stage 09 it
//! is a record on disk that many short commands read and change, like Docker's daemon keeps one.
//! This module holds only what those commands share, pure or nearly: how a container is named
//! ([`id`]), what is kept about it and where ([`state`], [`time`]), whether what is kept is still
//! true ([`liveness`]), and how it is shown ([`ps`], [`inspect`]). Making and running the
//! container is the stages' own code.

pub mod cli;
pub mod engine;
pub mod exec;
pub mod freezer;
pub mod id;
pub mod inspect;
pub mod liveness;
pub mod ps;
pub mod state;
pub mod time;

pub use id::ContainerId;
pub use state::{ContainerState, Status, Store};
pub use time::Timestamp;
