//! Images: an ordered list of layers (bottom first, as OCI lists them) and a little config.
//!
//! An image is only a name for a stack: `<store>/images/<name>.json` lists layer digests, and the
//! layers themselves live once each in `<store>/layers/`. The workshop's two demo images show why
//! that matters: `web` is `base` plus one small layer, so it costs only that layer on disk.

use super::disk::{self, DiskUse};
use super::layer::{self, Digest};
use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a container of this image runs by default, and with which environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
}

/// An image as stored in `<store>/images/<name>.json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub name: String,
    /// Bottom layer first. The overlay's `lowerdir=` lists them the other way round.
    pub layers: Vec<Digest>,
    pub config: ImageConfig,
}

/// An image name is a plain file name: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        bail!("{name:?} is not an image name: use letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

fn images_dir(store: &Path) -> PathBuf {
    store.join("images")
}

fn image_file(store: &Path, name: &str) -> PathBuf {
    images_dir(store).join(format!("{name}.json"))
}

impl Image {
    /// The layers' directories, bottom first.
    pub fn layer_dirs(&self, store: &Path) -> Vec<PathBuf> {
        self.layers.iter().map(|d| layer::layer_dir(store, d)).collect()
    }

    /// Writes the image atomically (temp file, fsync, rename), after checking its layers exist.
    pub fn save(&self, store: &Path) -> anyhow::Result<()> {
        check_name(&self.name)?;
        for d in &self.layers {
            if !layer::layer_dir(store, d).is_dir() {
                bail!("image {}: layer {d} is not in the store", self.name);
            }
        }
        let dir = images_dir(store);
        fs::DirBuilder::new().recursive(true).mode(0o755).create(&dir)?;
        let tmp = dir.join(format!(".{}.json.{}", self.name, std::process::id()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, image_file(store, &self.name))?;
        Ok(())
    }

    pub fn load(store: &Path, name: &str) -> anyhow::Result<Image> {
        check_name(name)?;
        let path = image_file(store, name);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("there is no image {name:?} in {}", store.display()))?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }
}

/// Every image in the store, by name.
pub fn list(store: &Path) -> anyhow::Result<Vec<Image>> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir(images_dir(store)) else { return Ok(out) };
    for entry in dir {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".json").filter(|s| !s.starts_with('.')) {
            out.push(Image::load(store, stem)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The web page the `web` image serves.
pub const INDEX_HTML: &str = "<!doctype html>\n<title>workshop</title>\n\
<h1>Hello from the web image</h1>\n<p>This page is in the image's own layer, above the base.</p>\n";

/// busybox httpd's config: serve /var/www, and say what an .html file is.
pub const HTTPD_CONF: &str = "H:/var/www\n.html:text/html\n";

/// The `web` image's default command: busybox httpd in the foreground on port 80 when the base has
/// it (as `/bin/httpd` or through `/bin/busybox`); otherwise, since a root filesystem made of the
/// host's binaries has no web server, it prints the page, so the image still shows its own layer.
pub fn web_cmd(rootfs: &Path) -> Vec<String> {
    let serve = ["-f", "-v", "-p", "80", "-h", "/var/www"];
    let has = |p: &str| fs::symlink_metadata(rootfs.join(p)).is_ok();
    let argv: Vec<&str> = if has("bin/httpd") {
        [&["/bin/httpd"][..], &serve].concat()
    } else if has("bin/busybox") {
        [&["/bin/busybox", "httpd"][..], &serve].concat()
    } else {
        vec!["/bin/cat", "/var/www/index.html"]
    };
    argv.into_iter().map(String::from).collect()
}

/// The environment both demo images set.
pub fn default_env() -> Vec<String> {
    vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()]
}

/// The two demo images, made from a base root filesystem directory.
#[derive(Clone, Debug)]
pub struct DemoImages {
    pub base: Image,
    pub web: Image,
}

/// Makes (or finds again) the workshop's demo images: `base` is `rootfs` as one layer; `web` is the
/// same base layer plus a small layer with `/var/www/index.html` and `/etc/httpd.conf`. The two share
/// the base layer's directory: it is stored once.
pub fn make_demo_images(store: &Path, rootfs: &Path) -> anyhow::Result<DemoImages> {
    let base_layer = layer::import_dir(store, rootfs)?.digest;
    let web_layer = {
        let tmp = store.join("tmp").join(format!("web-{}", std::process::id()));
        let _ = super::container_layer::remove_tree(&tmp);
        let result = (|| {
            write_tree(
                &tmp,
                &[("var/www/index.html", INDEX_HTML), ("etc/httpd.conf", HTTPD_CONF)],
            )?;
            layer::import_dir(store, &tmp)
        })();
        let _ = super::container_layer::remove_tree(&tmp);
        result?.digest
    };
    let env = default_env();
    let base = Image {
        name: "base".into(),
        layers: vec![base_layer.clone()],
        config: ImageConfig { cmd: vec!["/bin/sh".into()], env: env.clone() },
    };
    let web = Image {
        name: "web".into(),
        layers: vec![base_layer, web_layer],
        config: ImageConfig { cmd: web_cmd(rootfs), env },
    };
    base.save(store)?;
    web.save(store)?;
    Ok(DemoImages { base, web })
}

/// Writes files with fixed modes and owner-independent content, so the layer's digest depends only on
/// the text (and on who runs it: the numeric owner is kept, see the tar policy).
fn write_tree(root: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::DirBuilder::new().recursive(true).mode(0o755).create(root)?;
    for (rel, text) in files {
        let path = root.join(rel);
        let mut dir = root.to_path_buf();
        for c in Path::new(rel).parent().into_iter().flat_map(|p| p.components()) {
            dir.push(c);
            if !dir.exists() {
                fs::create_dir(&dir)?;
            }
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        }
        fs::write(&path, text)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    }
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A root filesystem has a shell: `/bin/sh` or `/usr/bin/sh` (a symlink counts; it is not followed,
/// since an absolute target only makes sense inside the container).
pub fn looks_like_root_filesystem(dir: &Path) -> bool {
    ["bin/sh", "usr/bin/sh"].iter().any(|p| fs::symlink_metadata(dir.join(p)).is_ok())
}

/// `--image DIR|TAR`: imports a root filesystem directory or a `docker export` tarball (plain or
/// gzipped) as a one-layer image called `name`, with `config` (empty fields get `/bin/sh` and PATH).
/// A missing source, or one with no shell, is one clear error, and a refused tarball's new layer is
/// not kept.
pub fn import_image(
    store: &Path,
    name: &str,
    source: &Path,
    config: ImageConfig,
) -> anyhow::Result<Image> {
    check_name(name)?;
    let meta = fs::metadata(source)
        .map_err(|e| anyhow::anyhow!("cannot read the image {}: {e}", source.display()))?;
    let not_a_rootfs = || {
        anyhow::anyhow!(
            "{} is not a root filesystem: it has no /bin/sh (give an unpacked root filesystem \
             or the tarball of `docker export`)",
            source.display()
        )
    };
    let digest = if meta.is_dir() {
        if !looks_like_root_filesystem(source) {
            return Err(not_a_rootfs());
        }
        layer::import_dir(store, source)?.digest
    } else {
        let imported = layer::import_tarball(store, source)?;
        if !looks_like_root_filesystem(&layer::layer_dir(store, &imported.digest)) {
            if imported.new {
                let _lock = layer::lock(store)?;
                super::container_layer::remove_tree(&layer::layer_dir(store, &imported.digest))?;
            }
            return Err(not_a_rootfs());
        }
        imported.digest
    };
    let image = Image {
        name: name.to_string(),
        layers: vec![digest],
        config: ImageConfig {
            cmd: if config.cmd.is_empty() { vec!["/bin/sh".into()] } else { config.cmd },
            env: if config.env.is_empty() { default_env() } else { config.env },
        },
    };
    image.save(store)?;
    Ok(image)
}

/// One line of `cargo run -- images`: an image, its layers with their sizes, and its total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageListing {
    pub name: String,
    /// Bottom first, with each layer's disk use.
    pub layers: Vec<(Digest, DiskUse)>,
    /// What the image would cost alone: the sum of its layers.
    pub total: DiskUse,
}

/// All images, plus what the store really uses: each layer counted once however many images use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreListing {
    pub images: Vec<ImageListing>,
    /// The sum of every image's total, as if nothing were shared.
    pub unshared_total: DiskUse,
    /// Each distinct layer once.
    pub stored_total: DiskUse,
}

/// Lists the images with their layers' sizes (measured on disk, see [`disk`]).
pub fn listing(store: &Path) -> anyhow::Result<StoreListing> {
    let images = list(store)?;
    let mut seen = BTreeSet::new();
    let mut out = StoreListing {
        images: Vec::new(),
        unshared_total: DiskUse::default(),
        stored_total: DiskUse::default(),
    };
    for image in images {
        let mut layers = Vec::new();
        let mut total = DiskUse::default();
        for d in &image.layers {
            let size = disk::measure(&layer::layer_dir(store, d))?;
            total += size;
            if seen.insert(d.clone()) {
                out.stored_total += size;
            }
            layers.push((d.clone(), size));
        }
        out.unshared_total += total;
        out.images.push(ImageListing { name: image.name, layers, total });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_plain_file_names() {
        for good in ["base", "web", "ubuntu-22.04", "my_app"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", "web:latest"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_demo_images_share_the_base_layer_and_it_is_counted_once() {
        let dir = crate::overlay::test_support::scratch("demo-images");
        let (store, rootfs) = (dir.join("store"), dir.join("rootfs"));
        fs::create_dir_all(rootfs.join("bin")).unwrap();
        fs::write(rootfs.join("bin/sh"), vec![7u8; 64 * 1024]).unwrap();
        let demo = make_demo_images(&store, &rootfs).unwrap();
        assert_eq!(demo.web.layers.len(), 2);
        assert_eq!(demo.web.layers[0], demo.base.layers[0], "web is not built on base");
        assert_eq!(Image::load(&store, "web").unwrap(), demo.web);
        assert_eq!(demo.web.config.cmd, ["/bin/cat", "/var/www/index.html"], "no httpd here");
        fs::write(rootfs.join("bin/busybox"), "").unwrap();
        assert_eq!(web_cmd(&rootfs)[..2], ["/bin/busybox", "httpd"]);
        fs::remove_file(rootfs.join("bin/busybox")).unwrap();
        let web_top = layer::layer_dir(&store, &demo.web.layers[1]);
        assert_eq!(fs::read_to_string(web_top.join("var/www/index.html")).unwrap(), INDEX_HTML);
        assert_eq!(layer::list(&store).unwrap().len(), 2);

        let l = listing(&store).unwrap();
        let names: Vec<&str> = l.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["base", "web"]);
        let (base, web) = (l.images[0].layers[0].1, l.images[1].layers[1].1);
        assert!(base.bytes >= 64 * 1024, "{base:?}");
        assert_eq!(l.unshared_total.bytes, 2 * base.bytes + web.bytes);
        assert_eq!(l.stored_total.bytes, base.bytes + web.bytes);
        // Making them again finds the same layers.
        let again = make_demo_images(&store, &rootfs).unwrap();
        assert_eq!(again.web, demo.web);
        assert_eq!(layer::list(&store).unwrap().len(), 2);
        crate::overlay::container_layer::remove_tree(&dir).unwrap();
    }

    #[test]
    fn an_image_is_imported_from_a_tarball_with_a_shell_and_refused_without() {
        use crate::overlay::test_support::{raw_tar, scratch, Raw};
        let dir = scratch("import-image");
        let store = dir.join("store");
        let missing = import_image(&store, "x", &dir.join("nope.tar"), ImageConfig::default());
        assert!(format!("{:#}", missing.unwrap_err()).contains("cannot read the image"));

        fs::write(dir.join("no-shell.tar"), raw_tar(&[Raw::file("etc/motd", "hi")])).unwrap();
        let err = import_image(&store, "x", &dir.join("no-shell.tar"), ImageConfig::default());
        let err = format!("{:#}", err.unwrap_err());
        assert!(err.contains("not a root filesystem") && err.lines().count() == 1, "{err}");
        assert!(layer::list(&store).unwrap().is_empty(), "the refused layer was kept");
        fs::create_dir_all(dir.join("empty")).unwrap();
        assert!(import_image(&store, "x", &dir.join("empty"), ImageConfig::default()).is_err());

        let tar = raw_tar(&[Raw::file("bin/busybox", "elf"), Raw::symlink("bin/sh", "busybox")]);
        fs::write(dir.join("rootfs.tar"), tar).unwrap();
        let image = import_image(&store, "mine", &dir.join("rootfs.tar"), ImageConfig::default());
        let image = image.unwrap();
        assert_eq!(image.config.cmd, ["/bin/sh"]);
        assert_eq!(Image::load(&store, "mine").unwrap(), image);
        crate::overlay::container_layer::remove_tree(&dir).unwrap();
    }

    #[test]
    fn an_image_round_trips_through_json() {
        let image = Image {
            name: "web".into(),
            layers: vec![Digest::try_from("b".repeat(64)).unwrap()],
            config: ImageConfig { cmd: vec!["/bin/sh".into()], env: default_env() },
        };
        let json = serde_json::to_string(&image).unwrap();
        assert!(json.contains(&format!("\"sha256:{}\"", "b".repeat(64))), "{json}");
        assert_eq!(serde_json::from_str::<Image>(&json).unwrap(), image);
    }
}
