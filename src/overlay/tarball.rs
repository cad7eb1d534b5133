//! The deterministic tar of a directory: the same tree always gives the same bytes, so the same digest.
//!
//! The policy, which is what makes a directory's layer name reproducible:
//! - entries in byte order of their names, each directory before what it holds, paths relative
//!   (`bin/sh`, `etc/`), no entry for the root itself;
//! - every mtime is 0 (1970-01-01), and no user or group *names* (only numbers);
//! - the numeric owner and the permission bits (setuid, setgid, sticky included) are kept as they are,
//!   because a root filesystem needs them (`/tmp` is 1777, `/etc/shadow` is root's);
//! - a file with several hard links is stored once, then as hard links to the first name seen;
//! - symlinks, FIFOs and device nodes are kept; sockets are skipped (they cannot be stored in tar);
//! - extended attributes (file capabilities, SELinux labels) are not stored.
//!
//! GNU headers are used, so long names and large files need no PAX records.

use anyhow::Context;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Writes the tar of `dir`'s contents to `out`, following the policy above.
pub fn write_deterministic(dir: &Path, out: impl Write) -> anyhow::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut first_name: HashMap<(u64, u64), String> = HashMap::new();
    walk(dir, "", &mut builder, &mut first_name)?;
    builder.into_inner()?.flush()?;
    Ok(())
}

fn walk<W: Write>(
    dir: &Path,
    prefix: &str,
    builder: &mut tar::Builder<W>,
    first_name: &mut HashMap<(u64, u64), String>,
) -> anyhow::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let ft = meta.file_type();
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(meta.uid().into());
        header.set_gid(meta.gid().into());
        header.set_mode(meta.mode() & 0o7777);
        header.set_size(0);
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            builder.append_data(&mut header, format!("{rel}/"), io::empty())?;
            walk(&path, &format!("{rel}/"), builder, first_name)?;
            continue;
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = first_name.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                builder.append_link(&mut header, &rel, first)?;
                continue;
            }
            first_name.insert(key, rel.clone());
        }
        if ft.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file =
                fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
            builder.append_data(&mut header, &rel, file)?;
        } else if ft.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            builder.append_link(&mut header, &rel, fs::read_link(&path)?)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            header.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            if !ft.is_fifo() {
                let rdev = meta.rdev();
                header.set_device_major(nix::sys::stat::major(rdev) as u32)?;
                header.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
            }
            builder.append_data(&mut header, &rel, io::empty())?;
        }
        // Sockets: skipped, see the policy above.
    }
    Ok(())
}
