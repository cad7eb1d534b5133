//! Helpers for the overlay unit tests: scratch directories and hand-made (hostile) tarballs.

use std::path::PathBuf;

/// A fresh scratch directory for one test, under TMPDIR (set TMPDIR to keep /tmp untouched).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("workshop-overlay-{}-{name}", std::process::id()));
    let _ = super::container_layer::remove_tree(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One tar entry, with its name written byte for byte: the tar crate's own `set_path` refuses `..`
/// and absolute names, which is exactly what these tests must be able to write.
pub struct Raw {
    name: String,
    kind: tar::EntryType,
    link: Option<String>,
    data: Vec<u8>,
    device: (u32, u32),
}

impl Raw {
    pub fn file(name: &str, data: &str) -> Raw {
        Raw::new(name, tar::EntryType::Regular, None, data.as_bytes().to_vec())
    }
    pub fn symlink(name: &str, target: &str) -> Raw {
        Raw::new(name, tar::EntryType::Symlink, Some(target), Vec::new())
    }
    pub fn hardlink(name: &str, target: &str) -> Raw {
        Raw::new(name, tar::EntryType::Link, Some(target), Vec::new())
    }
    pub fn char_device(name: &str, major: u32, minor: u32) -> Raw {
        let mut r = Raw::new(name, tar::EntryType::Char, None, Vec::new());
        r.device = (major, minor);
        r
    }
    fn new(name: &str, kind: tar::EntryType, link: Option<&str>, data: Vec<u8>) -> Raw {
        Raw { name: name.into(), kind, link: link.map(Into::into), data, device: (0, 0) }
    }
}

/// A tar stream of `entries`, names unchecked.
pub fn raw_tar(entries: &[Raw]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_ustar();
        let raw = header.as_ustar_mut().unwrap();
        raw.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        if let Some(link) = &e.link {
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(e.kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(e.data.len() as u64);
        header.set_device_major(e.device.0).unwrap();
        header.set_device_minor(e.device.1).unwrap();
        header.set_cksum();
        builder.append(&header, &e.data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}
