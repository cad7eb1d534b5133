//! Building the root filesystem: the layout, the tools the plan names, the cache stamp, the lock.

use super::tools::{Origin, Plan, Source};
use super::{shared_libraries, LAYOUT_VERSION, STAMP};
use anyhow::{bail, Context};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file in a built root filesystem listing the course tools it lacks, one per line.
pub(super) const MISSING: &str = "MISSING-TOOLS";
const BUILDING_PREFIX: &str = ".rootfs-building-";
const OLD_PREFIX: &str = ".rootfs-old-";

/// The cache stamp: the layout version, the source, and where each tool came from. Host paths
/// are the same on every build of this machine, so the stamp changes only when the machine or the
/// settings do (busybox installed, a package added, `WORKSHOP_ROOTFS_SOURCE` changed). The
/// toolbox is named without its path, so clones in different directories share one image; its
/// applets are listed, and [`LAYOUT_VERSION`] is bumped when one of them changes behaviour.
pub(super) fn stamp_text(plan: &Plan) -> String {
    let mut text = format!("layout {LAYOUT_VERSION}\nsource {}\n", plan.source);
    if plan.source == Source::HostBinaries {
        for (tool, origin) in &plan.tools {
            let from = match origin {
                Origin::HostBinary(p) => p.display().to_string(),
                Origin::Toolbox(_) => "toolbox".into(),
                Origin::BusyboxApplet => "busybox".into(),
                Origin::Missing(_) => "missing".into(),
            };
            text.push_str(&format!("tool {} {from}\n", tool.name));
        }
        // A toolbox with a new applet makes a new stamp by itself; a changed applet needs a bump.
        let applets: Vec<&str> = crate::toolbox::APPLETS.iter().map(|(a, _)| *a).collect();
        text.push_str(&format!("toolbox {}\n", applets.join(" ")));
    }
    text
}

pub(super) fn stamp_matches(root: &Path, stamp: &str) -> bool {
    fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == stamp)
}

/// Takes the store's lock: an exclusive flock(2) on the store directory itself, so the lock needs
/// no file of its own. Released when the returned value is dropped (or the process dies).
pub(super) fn lock_store(store: &Path) -> anyhow::Result<nix::fcntl::Flock<fs::File>> {
    if !store.is_dir() {
        fs::create_dir_all(store).with_context(|| format!("create {}", store.display()))?;
        fs::set_permissions(store, fs::Permissions::from_mode(0o755))?;
    }
    let dir = fs::File::open(store).with_context(|| format!("open {}", store.display()))?;
    nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("lock {}: {e}", store.display()))
}

/// Builds the root filesystem into a temporary directory beside `root`, then renames it into place,
/// so a half-built tree is never used. The caller holds the store's lock ([`super::ensure_at`]),
/// which also makes it safe to sweep away what a builder killed half-way left behind.
pub fn build(root: &Path, plan: &Plan) -> anyhow::Result<()> {
    let parent = root.parent().context("the rootfs path has no parent")?;
    fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    sweep_leftovers(parent);
    let tmp = parent.join(format!("{BUILDING_PREFIX}{}", std::process::id()));
    if let Err(e) = populate(&tmp, plan) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e.context(format!("build the root filesystem in {}", root.display())));
    }
    if root.exists() {
        // Moved aside rather than deleted in place, so the new tree appears in one rename.
        let old = parent.join(format!("{OLD_PREFIX}{}", std::process::id()));
        fs::rename(root, &old)
            .with_context(|| format!("move the outdated {} aside", root.display()))?;
        let _ = fs::remove_dir_all(&old);
    }
    fs::rename(&tmp, root)
        .with_context(|| format!("move the root filesystem into {}", root.display()))
}

fn sweep_leftovers(store: &Path) {
    for entry in fs::read_dir(store).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(BUILDING_PREFIX) || name.starts_with(OLD_PREFIX) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn populate(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    // lib and lib64 exist whatever the source, so that `ls /` (in stage 03's snapshot) reads the
    // same with busybox as with the host's binaries, whose libraries and loader live there.
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "lib", "lib64", "dev", "etc", "proc", "sys", "tmp",
        "root", "var/www", "home", "run", "mnt",
    ] {
        fs::create_dir_all(dir.join(d))?;
    }
    // Like Docker's, the container's /tmp is an ordinary directory of its root filesystem.
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::set_permissions(dir.join("root"), fs::Permissions::from_mode(0o700))?;
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    fs::write(dir.join("etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost\n")?;
    // glibc's tools (id, ls -l) look users up through NSS; say "the files above" explicitly.
    fs::write(dir.join("etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files\n")?;
    fs::write(dir.join("etc/os-release"), "NAME=\"workshop rootfs\"\nID=workshop\n")?;
    fs::write(dir.join("var/www/index.html"), "hello from inside the container\n")?;
    match &plan.source {
        Source::StaticBusybox(busybox) => {
            install_busybox(dir, busybox)?;
            // The toolbox's applets busybox has no equivalent of (stage 08's `attack`).
            install_host_tools(dir, plan)?;
        }
        Source::HostBinaries => install_host_tools(dir, plan)?,
    }
    let missing: Vec<String> = plan
        .tools
        .iter()
        .filter_map(|(t, o)| match o {
            Origin::Missing(why) => Some(format!("{} ({why})", t.name)),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        fs::write(dir.join(MISSING), missing.join("\n") + "\n")?;
    }
    fs::write(dir.join(STAMP), stamp_text(plan))?;
    Ok(())
}

fn install_busybox(dir: &Path, busybox: &Path) -> anyhow::Result<()> {
    fs::copy(busybox, dir.join("bin/busybox"))
        .with_context(|| format!("copy {}", busybox.display()))?;
    for applet in super::busybox_applets(busybox)? {
        let link = dir.join("bin").join(&applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    Ok(())
}

/// Copies each host tool the plan found, with every library `ldd` names, and links the toolbox's
/// applets to one stripped copy of it.
fn install_host_tools(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    let mut toolbox_installed = false;
    for (tool, origin) in &plan.tools {
        match origin {
            Origin::HostBinary(bin) => {
                let bin = fs::canonicalize(bin)?;
                copy_into(&bin, &dir.join("bin").join(tool.name))?;
                copy_libraries(dir, &bin)?;
                if tool.name == "top" {
                    copy_terminfo(dir)?;
                }
            }
            Origin::Toolbox(toolbox) => {
                if !toolbox_installed {
                    install_toolbox(dir, toolbox)?;
                    toolbox_installed = true;
                }
                symlink("toolbox", dir.join("bin").join(tool.name))?;
            }
            Origin::BusyboxApplet | Origin::Missing(_) => {}
        }
    }
    if !dir.join("bin/sh").exists() {
        bail!("the host has neither a static busybox nor a sh to copy; install busybox-static (apt install busybox-static)");
    }
    Ok(())
}

fn install_toolbox(dir: &Path, toolbox: &Path) -> anyhow::Result<()> {
    let dest = dir.join("bin/toolbox");
    // A debug build carries tens of megabytes of debug information; strip(1) (from binutils,
    // which Rust's linker needs anyway) leaves well under a megabyte. Unstripped if it fails.
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&dest)
        .arg(toolbox)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        copy_into(toolbox, &dest)?;
    }
    copy_libraries(dir, toolbox)?;
    Ok(())
}

fn copy_libraries(dir: &Path, bin: &Path) -> anyhow::Result<()> {
    for lib in shared_libraries(bin)? {
        let dest = dir.join(lib.strip_prefix("/").unwrap_or(&lib));
        if !dest.exists() {
            copy_into(&lib, &dest)?;
        }
    }
    Ok(())
}

/// `top` draws with ncurses, which needs a terminfo entry for $TERM: the common ones.
fn copy_terminfo(dir: &Path) -> anyhow::Result<()> {
    const TERMS: [&str; 8] = [
        "dumb",
        "linux",
        "vt100",
        "xterm",
        "xterm-256color",
        "screen",
        "screen-256color",
        "tmux-256color",
    ];
    for base in ["lib/terminfo", "usr/share/terminfo", "etc/terminfo"] {
        for term in TERMS {
            let rel: PathBuf = [base, &term[..1], term].iter().collect();
            let host = Path::new("/").join(&rel);
            if host.is_file() && !dir.join(&rel).exists() {
                copy_into(&host, &dir.join(&rel))?;
            }
        }
    }
    Ok(())
}

fn copy_into(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(p) = to.parent() {
        fs::create_dir_all(p)?;
    }
    fs::copy(from, to).with_context(|| format!("copy {}", from.display()))?;
    Ok(())
}
