//! Overlayfs: read-only image layers shared by containers, one writable upper dir each.
//!
//! An image is a stack of layers; a container sees them merged into one root filesystem by an
//! `overlay` mount, and every change it makes lands in its own upper dir. So a hundred containers of
//! one image store the image once, and a file one container writes is never seen by the next.
//!
//! The pieces, each a small module named for what it does:
//! - [`layer`]: layers named by the sha256 of their tar stream, stored once in `<store>/layers/`;
//!   [`unpack`] is the safe unpacker and [`tarball`] the deterministic tar of a directory;
//! - [`images`]: an image is an ordered list of layers and a little config;
//! - [`options`] and [`mount`]: the `lowerdir=…,upperdir=…,workdir=…` string and the mount(2);
//!   [`fsconfig`]: the same through the new mount API, one `lowerdir+` per layer (Linux 6.8+);
//! - [`container_layer`]: each container's upper and work dirs; [`root`]: both stacked into the
//!   container's root, idmapped in a user namespace (stage 07);
//! - [`inspect`]: which layer serves a path, whiteouts and opaque dirs (the copy-up, whiteout and
//!   opaque-dir rules are written out there);
//! - [`disk`]: disk use counted with real numbers; [`failures`]: the classic mistakes, on purpose.
//!
//! The store, under a root directory given by the caller:
//! ```text
//! <store>/layers/<sha256 hex>/   one unpacked layer, never written again once renamed into place
//! <store>/images/<name>.json     an image: its layer digests, bottom first, and its config
//! <store>/tmp/                   imports in progress (unpacked here, then renamed into layers/)
//! <store>/lock                   flock(2)ed while a layer is imported
//! <state>/containers/<id>/upper  what container <id> wrote, created, or deleted (whiteouts)
//! <state>/containers/<id>/work   overlay's scratch space, same filesystem as upper
//! ```
//!
//! Every function takes the store's (or state's) root directory as a parameter: nothing here knows
//! where the workshop keeps its files. See overlayfs's documentation,
//! Documentation/filesystems/overlayfs.rst in the kernel tree, and mount(8)'s overlay section.

pub mod container_layer;
pub mod disk;
pub mod failures;
pub mod fsconfig;
pub mod images;
pub mod inspect;
pub mod layer;
pub mod mount;
pub mod options;
pub mod root;
pub mod store;
pub mod tarball;
pub mod unpack;

pub use container_layer::ContainerLayer;
pub use images::{Image, ImageConfig};
pub use layer::Digest;
pub use options::OverlayOptions;

#[cfg(test)]
pub(crate) mod test_support;
