//! Stage 07 · overlay: image layers shared by containers, copy-on-write seen happening.
//!
//! Run it: `cargo run --bin 07_overlay`, or `cargo run --bin 07_overlay -- --image web -- sh`.

use sha2::Digest as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use workshop::container::{self, Config, Running, Stdio};
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::overlay::disk::{self, DiskUse};
use workshop::overlay::failures::{self, Mistake};
use workshop::overlay::images::{self, Image};
use workshop::overlay::inspect::{self, UpperEntry};
use workshop::overlay::root::OverlayImage;
use workshop::overlay::{layer, ContainerLayer};
use workshop::Stage;

/// Stage 07: overlayfs, so that containers share an image's layers and write only to their own.
///
/// Without a command, a narrated demo: the image store (two images sharing a base layer), the
/// overlay mount in the container's mountinfo, a read served by the layer (same inode), a copy-up
/// and a whiteout seen in the upper dir from the host while the layer stays byte-for-byte the
/// same, two containers of two images at once and a third that starts clean, the disk bill, and
/// the classic mount mistakes made on purpose.
const ABOUT: &str = "Stage 07: overlayfs, so that containers share an image's layers and write only to their own.\n\nWithout a command, a narrated demo: the image store (two images sharing a base layer), the overlay mount in the container's mountinfo, a read served by the layer (same inode), a copy-up and a whiteout seen in the upper dir from the host while the layer stays byte-for-byte the same, two containers of two images at once and a third that starts clean, the disk bill, and the classic mount mistakes made on purpose.";

/// The file the demo changes: in the base layer of both images.
const CHANGED: &str = "etc/os-release";
/// A file both images have: web's own layer has its own version.
const PAGE: &str = "var/www/index.html";
/// The file the demo deletes: in the web image's own layer.
const DELETED: &str = "etc/httpd.conf";

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    anyhow::ensure!(
        workshop::overlay::root::layers_idmapped_here(),
        "the demo changes image files inside, which needs the layers idmapped into the container's \
         user namespace (Linux 5.19+, as root, a store on ext4, xfs or btrfs); `-- CMD` still runs, \
         with the image read-only"
    );
    let ovl = l.config.overlay.clone().expect("stage 07 always has an image");
    let store = ovl.store.clone();
    let web = Image::load(&store, "web")?;
    let base = Image::load(&store, "base")?;
    let n = &mut l.narrator;
    n.banner(
        "07_overlay · one image, many containers",
        "overlayfs: read-only layers shared by every container, one writable layer each on top.",
    );

    n.step("The image store: layers named by their content, images as lists of layers");
    n.shell("cargo run -- images");
    let listing = images::listing(&store)?;
    for image in listing.images.iter().filter(|i| i.name == "base" || i.name == "web") {
        let layers: Vec<String> = image
            .layers
            .iter()
            .map(|(d, size)| format!("{} {}", var(d.short()), var(size.human())))
            .collect();
        n.result(&format!("{:<5} {}", image.name, layers.join(" + ")));
    }
    let web_top = layer::layer_dir(&store, &web.layers[1]);
    let base_dir = layer::layer_dir(&store, &base.layers[0]);
    n.note(&format!(
        "STORE is {}: each layer is a directory STORE/layers/SHA256, named by its tar stream's digest.",
        var(display(&store))
    ));
    n.claim(
        web.layers[0] == base.layers[0] && web.layers.len() == 2,
        "web is base's layer plus one of its own: the base is stored once, for both",
    );

    n.step(
        "The container's / is an overlay: the image's layers, top first, under its own upper dir",
    );
    let script = format!(
        "grep ' / / ' /proc/self/mountinfo; ls -i /{CHANGED}; head -n 3 /{PAGE} | tail -n 1; \
         echo '# written in the container' >> /{CHANGED}; rm /{DELETED}; \
         echo hello > /tmp/hello.txt; echo ready; sleep 60"
    );
    let web_config = with_image(&l.config, &ovl, web.clone());
    let before = sha256(&base_dir.join(CHANGED))?;
    let mut first = start(&web_config, &script)?;
    let mountinfo = first.read_line();
    let inode_inside = first.read_line();
    let page_inside = first.read_line();
    let ready = first.read_line();
    let a = first.layer.clone().expect("a stage-07 container has its own layer");
    let n = &mut l.narrator;
    n.syscall("mount(\"overlay\", \"…/merged\", \"overlay\", 0, \"lowerdir=WEB:BASE,upperdir=…,workdir=…,userxattr\")");
    let lowers = workshop::overlay::options::lowerdirs_in_mountinfo(&mountinfo, Path::new("/"))
        .unwrap_or_default();
    let options = mountinfo.split(" - ").nth(1).unwrap_or_default().to_string();
    for part in options.split(',').filter(|p| {
        p.starts_with("lowerdir") || p.starts_with("upperdir") || p.starts_with("workdir")
    }) {
        n.result(&redact_store(part, &store));
    }
    n.claim(
        lowers == [web_top.clone(), base_dir.clone()],
        "the container's mountinfo lists the web layer first, then the base: lowerdir is top first",
    );

    n.step("Reading: the file comes from the layer, the same inode the host sees");
    let layer_ino = std::fs::metadata(base_dir.join(CHANGED))?.ino();
    let inside_ino: u64 =
        inode_inside.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(0);
    n.shell_inside(&format!("ls -i /{CHANGED}"));
    n.views_header();
    n.views(
        &format!("/{CHANGED}"),
        format!("inode {}", var(layer_ino)),
        format!("inode {}", var(inside_ino)),
    );
    n.claim(
        inside_ino == layer_ino,
        "before any write, the container reads the base layer's own file: no copy was made",
    );
    let origin = inspect::origin(&a.upper, &[web_top.clone(), base_dir.clone()], Path::new(PAGE));
    n.shell_inside(&format!("head -n 3 /{PAGE} | tail -n 1"));
    n.result(&page_inside);
    n.note("Both layers have this file; the first layer in lowerdir that has a name wins.");
    n.claim(
        matches!(origin, inspect::Origin::From(inspect::LayerRef::Lower { index: 0, .. }))
            && page_inside.contains("Hello from the web image"),
        "the web layer's page shadows the base's: the top layer is read first",
    );

    n.step("Writing: copy-up, seen in the upper dir from the host while the container runs");
    n.shell_inside(&format!("echo '# written in the container' >> /{CHANGED}"));
    n.shell(&format!("ls -la {}", var(display(&a.upper))));
    let entries = inspect::upper_entries(&a.upper)?;
    for (path, kind) in &entries {
        n.result(&format!("{:<22} {}", path.display(), describe(kind)));
    }
    let after = sha256(&base_dir.join(CHANGED))?;
    let copied =
        entries.iter().any(|(p, k)| p == Path::new(CHANGED) && matches!(k, UpperEntry::File(_)));
    n.shell(&format!(
        "sha256sum STORE/layers/{}/{CHANGED}   before and after",
        short(base.layers[0].hex())
    ));
    n.result(&format!("{} before, {} after", short(&before), short(&after)));
    n.claim(
        copied && before == after,
        "the write copied the file up into the container's upper dir; the layer's bytes are unchanged",
    );

    n.step("Deleting: a whiteout, a character device 0/0, hides the layer's file");
    n.shell_inside(&format!("rm /{DELETED}"));
    let whiteout =
        entries.iter().any(|(p, k)| p == Path::new(DELETED) && *k == UpperEntry::Whiteout);
    let meta = std::fs::symlink_metadata(a.upper.join(DELETED)).ok();
    let rdev = meta.map(|m| format!("c {}:{}", m.rdev() >> 8, m.rdev() & 0xff)).unwrap_or_default();
    n.shell(&format!("stat -c '%F %t:%T' {}/{DELETED}", var(display(&a.upper))));
    n.result(&format!("character special file, {rdev}"));
    n.claim(
        whiteout && web_top.join(DELETED).exists(),
        "the upper dir holds a whiteout for it, and the web layer still has the file",
    );
    n.note("A deleted directory that is made again gets an opaque marker instead (the xattr");
    n.note("user.overlay.opaque=y here, in a user namespace): nothing below shows through it.");
    let _ = ready;

    n.step("Two containers of two images at once, and a third that starts clean");
    let base_config = with_image(&l.config, &ovl, base.clone());
    let mut second = start(&base_config, "echo mine > /tmp/mine.txt; echo ready; sleep 60")?;
    let _ = second.read_line();
    let b = second.layer.clone().expect("its own layer");
    let n = &mut l.narrator;
    let own = |c: &ContainerLayer, file: &str| c.upper.join("tmp").join(file).exists();
    n.shell("ls STORE/containers/A/upper/tmp STORE/containers/B/upper/tmp");
    n.views(
        "tmp/hello.txt in",
        format!("A's upper: {}", yes(own(&a, "hello.txt"))),
        format!("B's upper: {}", yes(own(&b, "hello.txt"))),
    );
    n.views(
        "tmp/mine.txt in",
        format!("A's upper: {}", yes(own(&a, "mine.txt"))),
        format!("B's upper: {}", yes(own(&b, "mine.txt"))),
    );
    let third = l.run_with(
        &web_config,
        &["sh", "-c", &format!("ls /tmp; tail -n 1 /{CHANGED}; ls /{DELETED}")],
    )?;
    let n = &mut l.narrator;
    n.output(
        "a third container of web: ls /tmp; tail -n 1 /etc/os-release; ls /etc/httpd.conf",
        &third.output,
    );
    n.claim(
        own(&a, "hello.txt")
            && !own(&b, "hello.txt")
            && own(&b, "mine.txt")
            && !own(&a, "mine.txt"),
        "each container's writes stay in its own upper dir",
    );
    n.claim(
        !third.output.contains("hello.txt")
            && !third.output.contains("written in the container")
            && third.output.contains(&format!("/{DELETED}"))
            && third.exit.success(),
        "a new container of the same image sees the image as it was: none of A's changes",
    );

    n.step("The disk bill, in the course notes' terms");
    let report = disk::report(&store, &[(&web, &a), (&base, &b)])?;
    for (what, d) in [("base layer", &base.layers[0]), ("web's own layer", &web.layers[1])] {
        let size = report.layers.get(d).copied().unwrap_or_default();
        n.result(&format!("{:<28} {}", format!("{what}, stored once"), var(size.human())));
    }
    for (name, (_, size)) in ["A's upper (web)", "B's upper (base)"].iter().zip(&report.uppers) {
        n.result(&format!("{name:<28} {}", var(size.human())));
    }
    n.result(&format!("{:<28} {}", "on disk, all of it", var(report.shared_total.human())));
    n.result(&format!(
        "{:<28} {}",
        "as full copies instead",
        var(report.full_copies_total.human())
    ));
    let base_size = report.layers[&base.layers[0]];
    let ten = DiskUse { bytes: base_size.bytes * 10, entries: 0 };
    n.note(&format!(
        "Ten containers of web would add ten upper dirs to one base ({}), not ten bases ({}):",
        var(base_size.human()),
        var(ten.human())
    ));
    n.note("the notes' two apps on one Ubuntu + Node.js base: 345 + 53 = 398 MB, not 345 + 353.");
    n.claim(
        report.shared_total.bytes < report.full_copies_total.bytes
            && report.uppers.iter().all(|(_, u)| u.bytes < base_size.bytes),
        "the layers are counted once, and each container costs only what it changed",
    );
    drop(first);
    drop(second);
    let n = &mut l.narrator;
    let gone = !a.dir.exists() && !b.dir.exists();
    n.claim(
        gone,
        "when a container is gone, so are its upper and work dirs: nothing it wrote is kept",
    );

    n.step("The classic mistakes, made on purpose");
    let scratch = store.join("tmp");
    std::fs::create_dir_all(&scratch)?;
    let attempts =
        container::in_throwaway_child(nix::sched::CloneFlags::CLONE_NEWNS, None, || {
            if workshop::mounts::make_private(&workshop::runtime::syscalls::Real).is_err() {
                return String::new();
            }
            Mistake::ALL
                .iter()
                .map(|m| match failures::make_on_purpose(*m, &scratch) {
                    Ok(a) => {
                        format!("{}|{}|{}", a.mistake.describe(), errno(a.result), a.explanation)
                    }
                    Err(e) => format!("{}|error|{e:#}", m.describe()),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    let n = &mut l.narrator;
    let mut refused = 0;
    for line in attempts.lines() {
        let mut parts = line.splitn(3, '|');
        let (what, errno, why) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if errno == "mounted" {
            n.result(&format!("{what}: mounted, and nothing stops it"));
        } else {
            refused += 1;
            n.expected_failure(&format!("{what}: {errno}"));
        }
        let why = why.strip_prefix(errno).map(|w| w.trim_start_matches(": ")).unwrap_or(why);
        for line in workshop::narrate::wrap(why) {
            n.note(&line);
        }
    }
    n.claim(
        refused == 3,
        "the kernel refuses three of the four; the fourth is the runtime's to prevent",
    );

    n.step("The host, as it was");
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let containers = store.join("containers");
    let left = std::fs::read_dir(&containers).map(|d| d.count()).unwrap_or(0);
    n.shell(&format!("grep overlay /proc/self/mountinfo | grep -c {}", var(display(&containers))));
    n.result(&format!(
        "{} on the host",
        host_mounts.lines().filter(|l| l.contains(&containers.display().to_string())).count()
    ));
    n.claim(
        !host_mounts.contains(&containers.display().to_string()) && left == 0,
        "no overlay of the workshop in the host's mount table, and no container dir left",
    );
    Ok(())
}
// ANCHOR_END: demo

/// The stage's config with another image.
fn with_image(config: &Config, ovl: &OverlayImage, image: Image) -> Config {
    let mut c = config.clone();
    c.overlay = Some(OverlayImage { store: ovl.store.clone(), image });
    c
}

/// Starts `script` in a container and lets it go; its output is read line by line.
fn start(config: &Config, script: &str) -> anyhow::Result<Running> {
    workshop::signals::check_interrupted()?;
    let argv = ["sh", "-c", script].map(String::from);
    let mut running = container::spawn(config, &argv, Stdio::Capture)?;
    running.release()?;
    Ok(running)
}

fn sha256(path: &Path) -> anyhow::Result<String> {
    Ok(format!("{:x}", sha2::Sha256::digest(std::fs::read(path)?)))
}

fn short(hex: &str) -> String {
    var(&hex[..12.min(hex.len())])
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn describe(kind: &UpperEntry) -> String {
    match kind {
        UpperEntry::File(size) => format!("file, {} bytes (copied up or new)", var(size)),
        UpperEntry::Dir { opaque: true } => "directory, opaque".into(),
        UpperEntry::Dir { opaque: false } => "directory (made to hold what is below)".into(),
        UpperEntry::Whiteout => "whiteout: character device 0/0".into(),
        UpperEntry::Other => "other".into(),
    }
}

fn errno(r: Result<(), nix::errno::Errno>) -> String {
    match r {
        Ok(()) => "mounted".into(),
        Err(e) => format!("{e}"),
    }
}

fn display(p: &Path) -> String {
    workshop::image::display_path(p)
}

/// An option of the container's mount with the store's paths shortened to what stays the same
/// from run to run: `upperdir=‹…›/containers/ws-TAG/upper`.
fn redact_store(option: &str, store: &Path) -> String {
    let (key, value) = option.split_once('=').unwrap_or((option, ""));
    let shown: Vec<String> = value
        .split(':')
        .map(|p| {
            let p = PathBuf::from(p);
            match p.strip_prefix(store) {
                Ok(rest) if rest.starts_with("layers") => {
                    let digest = rest
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("STORE/layers/{}", var(&digest[..12.min(digest.len())]))
                }
                Ok(rest) if rest.starts_with("containers") => {
                    let tail: PathBuf = rest.components().skip(2).collect();
                    format!("STORE/containers/{}/{}", var("ws-TAG"), tail.display())
                }
                _ => var(p.display()),
            }
        })
        .collect();
    format!("{key}={}", shown.join(":"))
}

fn main() -> ExitCode {
    lesson::main(Stage::Overlay, ABOUT, demo)
}
