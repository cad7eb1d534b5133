//! Disk use, counted as `du` counts it: allocated blocks (st_blocks × 512), each inode once.
//!
//! This is the arithmetic of the course notes (a 345 MB image and a second app whose own layers are
//! 53 MB, both on one 300 MB Ubuntu + Node.js base, store 398 MB, not 345 + 353) done with real
//! numbers: each layer once however many images use it, each container's
//! upper dir (only what it changed), against what N full copies of the image would cost.

use super::container_layer::ContainerLayer;
use super::images::Image;
use super::layer::{self, Digest};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::ops::AddAssign;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes allocated on disk and the number of entries (files, directories, links) counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskUse {
    pub bytes: u64,
    pub entries: u64,
}

impl AddAssign for DiskUse {
    fn add_assign(&mut self, other: DiskUse) {
        self.bytes += other.bytes;
        self.entries += other.entries;
    }
}

impl DiskUse {
    /// `du -sh`'s style: `1.4M`, `12K`.
    pub fn human(&self) -> String {
        let b = self.bytes as f64;
        match self.bytes {
            n if n >= 1 << 30 => format!("{:.1}G", b / (1u64 << 30) as f64),
            n if n >= 1 << 20 => format!("{:.1}M", b / (1u64 << 20) as f64),
            n if n >= 1 << 10 => format!("{:.0}K", b / 1024.0),
            n => format!("{n}B"),
        }
    }
}

/// The disk use of a directory tree, like `du -s --block-size=1`: hard links counted once, symlinks
/// not followed, the directory itself included. A missing directory uses nothing.
pub fn measure(dir: &Path) -> io::Result<DiskUse> {
    let mut seen = HashSet::new();
    let mut total = DiskUse::default();
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(total),
        r => {
            r?;
        }
    }
    walk(dir, &mut seen, &mut total)?;
    Ok(total)
}

fn walk(path: &Path, seen: &mut HashSet<(u64, u64)>, total: &mut DiskUse) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if seen.insert((meta.dev(), meta.ino())) {
        total.bytes += meta.blocks() * 512;
        total.entries += 1;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            walk(&entry?.path(), seen, total)?;
        }
    }
    Ok(())
}

/// The disk bill of a set of running containers, each with its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskReport {
    /// Each layer used by any of the containers' images, once.
    pub layers: BTreeMap<Digest, DiskUse>,
    /// Each container's upper dir (its own changes), by container id.
    pub uppers: Vec<(String, DiskUse)>,
    /// Layers once plus every upper dir: what is really on disk.
    pub shared_total: DiskUse,
    /// What it would cost if each container had a full copy of its image's files (plus its changes).
    pub full_copies_total: DiskUse,
}

/// Counts the disk use of `containers` (each with the image it runs) in the notes' terms.
pub fn report(store: &Path, containers: &[(&Image, &ContainerLayer)]) -> io::Result<DiskReport> {
    let mut layers = BTreeMap::new();
    let mut uppers = Vec::new();
    let mut full_copies_total = DiskUse::default();
    for (image, container) in containers {
        for d in &image.layers {
            if !layers.contains_key(d) {
                layers.insert(d.clone(), measure(&layer::layer_dir(store, d))?);
            }
            full_copies_total += layers[d];
        }
        let upper = measure(&container.upper)?;
        full_copies_total += upper;
        uppers.push((container.id.clone(), upper));
    }
    let mut shared_total = DiskUse::default();
    for u in layers.values().chain(uppers.iter().map(|(_, u)| u)) {
        shared_total += *u;
    }
    Ok(DiskReport { layers, uppers, shared_total, full_copies_total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_du() {
        assert_eq!(DiskUse { bytes: 512, entries: 1 }.human(), "512B");
        assert_eq!(DiskUse { bytes: 12 * 1024, entries: 1 }.human(), "12K");
        assert_eq!(DiskUse { bytes: 3 << 20, entries: 1 }.human(), "3.0M");
    }

    #[test]
    fn a_missing_directory_uses_nothing() {
        assert_eq!(measure(Path::new("/nonexistent/workshop")).unwrap(), DiskUse::default());
    }
}
