//! Layers named by their content, as OCI names them: a layer is the sha256 of its tar stream.
//!
//! The store keeps each layer unpacked, once, in `<store>/layers/<hex digest>/`. Two images that share
//! a base share that one directory: importing the same content again finds the name already there.
//! The digest is of the *uncompressed* tar stream (OCI calls it the layer's `diff_id`), so the same
//! content gzipped twice, differently, is still one layer.
//!
//! A layer directory is never written after it is renamed into place: overlayfs only ever reads its
//! lower directories, and every container's changes go to its own upper dir.
//!
//! Importing is all or nothing: the tar is unpacked into a temporary directory inside the store (same
//! filesystem, so the final rename(2) is atomic), under the store's lock; on any error the temporary
//! directory is removed and the store is as it was.

use super::tarball;
use super::unpack;
use anyhow::{bail, Context};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A layer's name: the sha256 of its uncompressed tar stream, shown as `sha256:<64 hex digits>`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The 64 hex digits, as the layer's directory is named.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as `docker images` shows an id.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }

    fn of(hasher: Sha256) -> Digest {
        let bytes = hasher.finalize();
        Digest(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let hex = s.strip_prefix("sha256:").unwrap_or(&s);
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            Ok(Digest(hex.to_string()))
        } else {
            Err(format!("{s:?} is not a sha256 digest"))
        }
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

/// The sha256 of everything read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The digest of a tar stream, without unpacking it.
pub fn digest_of(mut reader: impl Read) -> io::Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(Digest::of(hasher));
        }
        hasher.update(&buf[..n]);
    }
}

/// `<store>/layers`.
pub fn layers_dir(store: &Path) -> PathBuf {
    store.join("layers")
}

/// The directory a layer is unpacked in: `<store>/layers/<hex>`.
pub fn layer_dir(store: &Path, digest: &Digest) -> PathBuf {
    layers_dir(store).join(digest.hex())
}

/// The layers in the store, by name.
pub fn list(store: &Path) -> anyhow::Result<Vec<Digest>> {
    let mut out = Vec::new();
    let dir = match fs::read_dir(layers_dir(store)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).context("reading the layer store"),
    };
    for entry in dir {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Ok(d) = Digest::try_from(name) {
            out.push(d);
        }
    }
    out.sort();
    Ok(out)
}

/// Holds the store's lock (flock(2) on `<store>/lock`) while it lives: one import at a time, so two
/// processes importing the same layer cannot both rename into place.
pub struct StoreLock(#[allow(dead_code)] Flock<File>);

pub fn lock(store: &Path) -> anyhow::Result<StoreLock> {
    fs::create_dir_all(layers_dir(store))
        .with_context(|| format!("creating the image store {}", store.display()))?;
    let file = File::options().create(true).truncate(false).write(true).open(store.join("lock"))?;
    let locked = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    Ok(StoreLock(locked))
}

/// A temporary directory in `<store>/tmp`, removed on drop unless kept.
struct TempDir(Option<PathBuf>);

impl TempDir {
    fn new(store: &Path, what: &str) -> anyhow::Result<TempDir> {
        let tmp = store.join("tmp");
        fs::create_dir_all(&tmp)?;
        let path = tmp.join(format!("{what}-{}-{}", std::process::id(), unique()));
        fs::create_dir(&path)?;
        Ok(TempDir(Some(path)))
    }
    fn path(&self) -> &Path {
        self.0.as_deref().expect("temp dir")
    }
    fn keep(mut self) -> PathBuf {
        self.0.take().expect("temp dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = super::container_layer::remove_tree(&p);
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Layers are unpacked only under the lock, so a `tmp/layer-*` directory found while holding it was
/// left by an import that was killed (SIGKILL, power loss): remove it.
fn remove_stale_imports(store: &Path) -> anyhow::Result<()> {
    let Ok(dir) = fs::read_dir(store.join("tmp")) else { return Ok(()) };
    for entry in dir {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with("layer-") {
            super::container_layer::remove_tree(&entry.path()).with_context(|| {
                format!("removing the abandoned import {}", entry.path().display())
            })?;
        }
    }
    Ok(())
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub digest: Digest,
    /// False when the store already had this layer: the content is stored once.
    pub new: bool,
}

/// Imports a tar stream as a layer: unpacks it safely into a temporary directory while hashing it,
/// then renames it to its digest's name (or drops it, when that layer is already stored).
pub fn import_tar_stream(store: &Path, reader: impl Read) -> anyhow::Result<Imported> {
    let _lock = lock(store)?;
    remove_stale_imports(store)?;
    let temp = TempDir::new(store, "layer")?;
    let hashing = Hashing { inner: reader, hasher: Sha256::new() };
    let mut rest = unpack::unpack(hashing, temp.path())?;
    // Whatever follows the end-of-archive blocks is part of the stream, and so of the digest.
    io::copy(&mut rest, &mut io::sink()).context("reading the tar stream's end")?;
    let digest = Digest::of(rest.hasher);
    let dest = layer_dir(store, &digest);
    if dest.exists() {
        return Ok(Imported { digest, new: false });
    }
    let unpacked = temp.keep();
    if let Err(e) = fs::rename(&unpacked, &dest) {
        let _ = super::container_layer::remove_tree(&unpacked);
        return Err(e).with_context(|| format!("renaming the layer into {}", dest.display()));
    }
    Ok(Imported { digest, new: true })
}

/// Imports a tarball (`docker export` output, plain or gzipped) as it is: its bytes are the layer.
pub fn import_tarball(store: &Path, tarball: &Path) -> anyhow::Result<Imported> {
    import_tar_file(store, tarball)
        .with_context(|| format!("importing {} as a layer", tarball.display()))
}

/// A tar file is read twice: once to name it, so that a layer already stored is not unpacked again,
/// then (when new) to unpack it, which names it again as it goes.
fn import_tar_file(store: &Path, tarball: &Path) -> anyhow::Result<Imported> {
    let digest = digest_of(unpack::open_maybe_gzip(tarball)?)?;
    if layer_dir(store, &digest).is_dir() {
        return Ok(Imported { digest, new: false });
    }
    import_tar_stream(store, unpack::open_maybe_gzip(tarball)?)
}

/// Imports a directory (an unpacked root filesystem) as a layer: writes the deterministic tar of it
/// (see [`tarball`]) to a temporary file, then imports that. The same tree always gives the same digest
/// (with this tar writer: another tool's tar of the same tree is other bytes, so another layer).
pub fn import_dir(store: &Path, dir: &Path) -> anyhow::Result<Imported> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    fs::create_dir_all(store.join("tmp"))?;
    let tar_path = store.join("tmp").join(format!("dir-{}-{}.tar", std::process::id(), unique()));
    let result = (|| {
        let mut file = File::create(&tar_path)?;
        tarball::write_deterministic(dir, &mut file)
            .with_context(|| format!("writing the tar of {}", dir.display()))?;
        file.flush()?;
        drop(file);
        import_tar_file(store, &tar_path)
    })();
    let _ = fs::remove_file(&tar_path);
    result.with_context(|| format!("importing {} as a layer", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::container_layer::remove_tree;
    use crate::overlay::test_support::{raw_tar, scratch, Raw};
    use std::os::unix::fs::PermissionsExt;

    /// A small tree with a file, a subdirectory, a symlink, a hard link and an odd mode.
    fn small_tree(dir: &Path) {
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/hostname"), "base\n").unwrap();
        fs::write(dir.join("hello.txt"), "hello\n").unwrap();
        fs::hard_link(dir.join("hello.txt"), dir.join("hi.txt")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("name")).unwrap();
        fs::create_dir(dir.join("tmp")).unwrap();
        fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    }

    #[test]
    fn a_directory_imports_to_the_same_digest_once_and_changes_with_its_content() {
        let dir = scratch("digest");
        let (store, tree) = (dir.join("store"), dir.join("tree"));
        small_tree(&tree);
        let first = import_dir(&store, &tree).unwrap();
        assert!(first.new);
        // Times do not count (the tar policy fixes every mtime), so a touched file is the same layer.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(tree.join("hello.txt"), "hello\n").unwrap();
        let again = import_dir(&store, &tree).unwrap();
        assert_eq!(again, Imported { digest: first.digest.clone(), new: false });
        assert_eq!(list(&store).unwrap(), vec![first.digest.clone()]);
        // One byte of content is another layer.
        fs::write(tree.join("hello.txt"), "hello!\n").unwrap();
        let changed = import_dir(&store, &tree).unwrap();
        assert!(changed.new && changed.digest != first.digest);
        assert_eq!(list(&store).unwrap().len(), 2);
        // The store's scratch space is empty again.
        assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);
        remove_tree(&dir).unwrap();
    }

    #[test]
    fn the_layer_holds_the_tree_and_is_named_by_the_sha256_of_its_tar() {
        let dir = scratch("roundtrip");
        let (store, tree) = (dir.join("store"), dir.join("tree"));
        small_tree(&tree);
        let mut tar = Vec::new();
        tarball::write_deterministic(&tree, &mut tar).unwrap();
        let imported = import_dir(&store, &tree).unwrap();
        assert_eq!(imported.digest, digest_of(&tar[..]).unwrap());
        let layer = layer_dir(&store, &imported.digest);
        assert_eq!(fs::read_to_string(layer.join("etc/hostname")).unwrap(), "base\n");
        assert_eq!(fs::read_link(layer.join("name")).unwrap(), Path::new("/etc/hostname"));
        let mode = fs::metadata(layer.join("tmp")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o1777);
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (fs::metadata(layer.join("hello.txt")), fs::metadata(layer.join("hi.txt")));
        assert_eq!(a.unwrap().ino(), b.unwrap().ino(), "the hard link was not kept");
        remove_tree(&dir).unwrap();
    }

    #[test]
    fn a_tarball_is_the_same_layer_plain_or_gzipped() {
        let dir = scratch("gzip");
        let store = dir.join("store");
        let tar = raw_tar(&[Raw::file("etc/os-release", "NAME=test\n")]);
        fs::write(dir.join("l.tar"), &tar).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        fs::write(dir.join("l.tar.gz"), gz.finish().unwrap()).unwrap();
        let plain = import_tarball(&store, &dir.join("l.tar")).unwrap();
        let zipped = import_tarball(&store, &dir.join("l.tar.gz")).unwrap();
        assert_eq!(plain.digest, digest_of(&tar[..]).unwrap());
        assert_eq!(zipped, Imported { digest: plain.digest, new: false });
        remove_tree(&dir).unwrap();
    }

    #[test]
    fn an_import_killed_halfway_is_cleaned_up_by_the_next() {
        let dir = scratch("stale");
        let store = dir.join("store");
        fs::create_dir_all(store.join("tmp/layer-999999-0/etc")).unwrap();
        let tar = raw_tar(&[Raw::file("etc/motd", "hi\n")]);
        import_tar_stream(&store, &tar[..]).unwrap();
        assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);
        remove_tree(&dir).unwrap();
    }

    #[test]
    fn a_refused_import_leaves_nothing_in_the_store() {
        let dir = scratch("failed");
        let store = dir.join("store");
        let tar = raw_tar(&[Raw::file("ok.txt", "fine"), Raw::file("../escape.txt", "no")]);
        fs::write(dir.join("bad.tar"), &tar).unwrap();
        let err = import_tarball(&store, &dir.join("bad.tar")).unwrap_err();
        assert!(format!("{err:#}").contains("`..`"), "{err:#}");
        assert!(list(&store).unwrap().is_empty());
        assert_eq!(fs::read_dir(store.join("tmp")).unwrap().count(), 0);
        assert!(!dir.join("escape.txt").exists() && !store.join("escape.txt").exists());
        remove_tree(&dir).unwrap();
    }

    #[test]
    fn a_digest_reads_with_or_without_its_prefix_and_shows_with_it() {
        let hex = "a".repeat(64);
        let d = Digest::try_from(format!("sha256:{hex}")).unwrap();
        assert_eq!(d, Digest::try_from(hex.clone()).unwrap());
        assert_eq!(d.to_string(), format!("sha256:{hex}"));
        assert!(Digest::try_from("sha256:abc".to_string()).is_err());
        assert!(Digest::try_from("../".repeat(22)).is_err());
    }

    #[test]
    fn the_digest_of_empty_input_is_sha256_of_nothing() {
        let d = digest_of(io::empty()).unwrap();
        assert_eq!(d.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
