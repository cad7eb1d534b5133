//! The container workshop library: one module per mechanism, plus the plumbing every stage shares.
//!
//! The lesson binaries in `lessons/` are thin narrated scripts over this library; the exercises in
//! `exercises/` replace exactly one mechanism each (see [`mechanisms`]) and reuse everything else.

pub mod cgroups;
pub mod cli;
pub mod container;
pub mod doctor;
pub mod exercise;
pub mod facts;
pub mod image;
pub mod ipc;
pub mod lesson;
pub mod lifecycle;
pub mod measure;
pub mod mechanisms;
pub mod mounts;
pub mod namespaces;
pub mod narrate;
pub mod netlink;
pub mod network;
pub mod oci;
pub mod overlay;
pub mod privileges;
pub mod probes;
pub mod quiz;
pub mod rootfs;
pub mod runtime;
pub mod samples;
pub mod security;
pub mod signals;
pub mod stage;
pub mod sync;
pub mod toolbox;
pub mod userns;
pub mod uts;

pub use stage::Stage;
