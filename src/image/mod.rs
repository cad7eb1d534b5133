//! The root filesystem the container pivots into, built on the spot and kept in the image store.
//!
//! No download: a static busybox from the host gives one small binary with every tool the course
//! uses. Without one, the host's own binaries are copied with the shared libraries `ldd` lists for
//! them, and the few tools a fresh Debian or Ubuntu lacks (httpd, nc, wget, ping) come from the
//! workshop's own `toolbox` binary (src/toolbox/). `--rootfs DIR` uses any other unpacked root
//! filesystem instead, such as one exported from a Docker image.
//!
//! The store is `/var/lib/workshop` as root and `$XDG_DATA_HOME/workshop` (`~/.local/share/workshop`)
//! without root, never the student's `target/`: a root-owned directory there makes `cargo clean`
//! fail. Many stages and tests may need the root filesystem at the same moment, so it is built in
//! a temporary directory beside its place and renamed into it, under an flock(2) on the store.
//!
//! Settings, all environment variables (kept by `scripts/run-as-root`'s sudo):
//! - `WORKSHOP_ROOTFS_SOURCE=auto|busybox|host`: `auto` (the default) uses a static busybox when the
//!   host has one; `host` always builds from the host's binaries and the toolbox (CI uses it to
//!   test a machine without busybox); `busybox` insists on one.
//! - `WORKSHOP_BUSYBOX=PATH`: the static busybox to use, instead of looking in /bin, /usr/bin….
//! - `WORKSHOP_TOOLBOX=PATH`: the toolbox binary, instead of the one beside the running program.
//! - `WORKSHOP_STORE=DIR`: the image store, instead of the default above.

mod build;
mod elf;
mod tools;

pub use build::build;
pub use elf::{is_static_elf, parse_ldd, shared_libraries};
pub use tools::{missing_in, tools_for, Origin, Plan, Provider, Source, Tool, TOOLS};

use anyhow::{bail, Context};
use std::fs;
use std::path::{Path, PathBuf};

/// Bump when the layout of the built root filesystem, or what a toolbox applet does, changes, so
/// that cached images are rebuilt.
pub const LAYOUT_VERSION: u32 = 6;
/// The file in a built root filesystem that says how it was built (the cache stamp).
pub const STAMP: &str = ".workshop-rootfs";

/// Where the workshop keeps its images: `WORKSHOP_STORE`, else `/var/lib/workshop` as root, else
/// `$XDG_DATA_HOME/workshop`, else `$HOME/.local/share/workshop` (see DESIGN.md, State directory).
pub fn store_dir() -> PathBuf {
    store_dir_for(nix::unistd::geteuid().is_root(), |k| {
        std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from)
    })
}

fn store_dir_for(root: bool, var: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    if let Some(dir) = var("WORKSHOP_STORE") {
        return dir;
    }
    if root {
        return PathBuf::from("/var/lib/workshop");
    }
    match (var("XDG_DATA_HOME"), var("HOME")) {
        (Some(data), _) => data.join("workshop"),
        (None, Some(home)) => home.join(".local/share/workshop"),
        // No home at all (a system user): somewhere only this user's processes write.
        (None, None) => std::env::temp_dir().join(format!("workshop-{}", nix::unistd::geteuid())),
    }
}

/// The image store under its old name: callers that listed `target/workshop` now get the store.
pub fn workshop_dir() -> PathBuf {
    store_dir()
}

/// The default root filesystem's path.
pub fn default_rootfs() -> PathBuf {
    store_dir().join("rootfs")
}

/// A root filesystem path as a person would type it: relative to the current directory when it is
/// beneath it, absolute otherwise (`/var/lib/workshop/rootfs`).
pub fn display_path(root: &Path) -> String {
    let cwd = std::env::current_dir().ok().and_then(|c| fs::canonicalize(c).ok());
    match cwd.as_deref().and_then(|c| root.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => root.display().to_string(),
    }
}

/// The places a distribution installs busybox.
const BUSYBOX_PATHS: [&str; 4] =
    ["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox", "/sbin/busybox"];

/// The static busybox the builder would use: `WORKSHOP_BUSYBOX`, or the host's, if statically
/// linked (a dynamic one would need its libraries, and the host's tools are copied then anyway).
pub fn find_static_busybox() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WORKSHOP_BUSYBOX").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    BUSYBOX_PATHS.into_iter().map(PathBuf::from).find(|p| is_static_elf(p).unwrap_or(false))
}

/// The toolbox binary: `WORKSHOP_TOOLBOX`, or `toolbox` beside the running program (Cargo puts every
/// binary of the workspace in `target/debug/`; a test runs from `target/debug/deps/`). The error
/// says how to get one.
pub fn toolbox_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("WORKSHOP_TOOLBOX").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("WORKSHOP_TOOLBOX={} does not exist", p.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the running program: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut candidates = vec![dir.join("toolbox")];
    if dir.ends_with("deps") {
        candidates.extend(dir.parent().map(|d| d.join("toolbox")));
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    // Under `cargo run` (which sets CARGO), build it now, as `cargo test` would have: a student who
    // goes from `cargo run` straight to `cargo run --bin 03_rootfs` must not be stopped by it.
    if std::env::var_os("CARGO").is_some() && build_toolbox().is_ok() {
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
    }
    Err(format!(
        "the workshop's toolbox, not built yet in {}: run `cargo build --bins` (`cargo test` builds it too)",
        dir.display()
    ))
}

/// `cargo build --bin toolbox`, as the user who ran sudo when there is one, so that target/ stays
/// theirs.
fn build_toolbox() -> Result<(), String> {
    crate::exercise::cargo_build("toolbox").map(drop)
}

/// How the root filesystem's source is chosen (`WORKSHOP_ROOTFS_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSetting {
    Auto,
    Busybox,
    Host,
}

impl SourceSetting {
    pub fn from_env() -> anyhow::Result<SourceSetting> {
        match std::env::var("WORKSHOP_ROOTFS_SOURCE").unwrap_or_default().as_str() {
            "" | "auto" => Ok(SourceSetting::Auto),
            "busybox" => Ok(SourceSetting::Busybox),
            "host" => Ok(SourceSetting::Host),
            other => bail!("WORKSHOP_ROOTFS_SOURCE={other:?}: give auto, busybox or host"),
        }
    }
}

/// The source the default root filesystem is built from on this machine, with these settings.
pub fn choose_source() -> anyhow::Result<Source> {
    Ok(match (SourceSetting::from_env()?, find_static_busybox()) {
        (SourceSetting::Host, _) | (SourceSetting::Auto, None) => Source::HostBinaries,
        (_, Some(busybox)) => Source::StaticBusybox(busybox),
        (SourceSetting::Busybox, None) => bail!(
            "WORKSHOP_ROOTFS_SOURCE=busybox, but there is no static busybox here: install busybox-static (apt install busybox-static) or set WORKSHOP_BUSYBOX=PATH"
        ),
    })
}

/// The directories searched for host binaries: the caller's PATH and the usual system ones.
fn host_path() -> Vec<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> =
        path.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect();
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs
}

/// The plan for the default root filesystem on this machine: its source and where each tool comes
/// from. Cheap (no copying): `doctor` calls it on every start.
pub fn plan() -> anyhow::Result<Plan> {
    let source = choose_source()?;
    let applets = match &source {
        Source::StaticBusybox(b) => busybox_applets(b)?,
        Source::HostBinaries => Vec::new(),
    };
    Ok(Plan::resolve(source, &applets, &host_path(), toolbox_binary()))
}

/// `busybox --list`: the applets this busybox was built with.
pub fn busybox_applets(busybox: &Path) -> anyhow::Result<Vec<String>> {
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("list the applets of {}", busybox.display()))?;
    Ok(String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .map(String::from)
        .collect())
}

/// Returns a ready root filesystem: `--rootfs DIR` checked, or the default one from the image
/// store, built (or rebuilt, when its stamp is not this plan's) if needed.
pub fn ensure(custom: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = custom {
        return check_custom(dir);
    }
    let plan = plan()?;
    // A tool missing from the host is named by doctor and by the shell inside; a toolbox not
    // built yet is one command away, so say it now rather than fail later inside a container.
    let toolbox_missing = plan.tools.iter().find_map(|(t, o)| match o {
        Origin::Missing(why) if t.provider == Provider::Toolbox => Some(why),
        _ => None,
    });
    if let (Source::HostBinaries, Some(why)) = (&plan.source, toolbox_missing) {
        bail!("the root filesystem takes httpd, nc, wget and ping from {why}; or install busybox-static");
    }
    ensure_at(&default_rootfs(), &plan)
}

/// Builds `root` from `plan` unless its stamp says it already was. Safe to call from many
/// processes at once: one builds, under an flock(2) on the store, the others wait and reuse it.
pub fn ensure_at(root: &Path, plan: &Plan) -> anyhow::Result<PathBuf> {
    let stamp = build::stamp_text(plan);
    if build::stamp_matches(root, &stamp) {
        return Ok(root.to_path_buf());
    }
    let store = root.parent().context("the rootfs path has no parent")?;
    let _lock = build::lock_store(store)?;
    if !build::stamp_matches(root, &stamp) {
        build(root, plan)?;
    }
    Ok(root.to_path_buf())
}

fn check_custom(dir: &Path) -> anyhow::Result<PathBuf> {
    let meta = fs::metadata(dir).map_err(|e| {
        anyhow::anyhow!(
            "--rootfs {}: {}; give an unpacked root filesystem directory (the book's chapter 03 shows how to export one from a Docker image)",
            dir.display(),
            if e.kind() == std::io::ErrorKind::NotFound { "no such directory".to_string() } else { e.to_string() }
        )
    })?;
    if !meta.is_dir() {
        bail!(
            "--rootfs {} is not a directory; give an unpacked root filesystem directory",
            dir.display()
        );
    }
    let root = fs::canonicalize(dir)?;
    if root == Path::new("/") {
        bail!("--rootfs / is the host's own root; give a separate root filesystem directory");
    }
    let has_shell =
        ["bin/sh", "usr/bin/sh"].iter().any(|p| root.join(p).exists() || root.join(p).is_symlink());
    if !has_shell {
        bail!(
            "--rootfs {} has no /bin/sh, so it does not look like a root filesystem; give an unpacked one",
            dir.display()
        );
    }
    Ok(root)
}

/// The tools missing from a built root filesystem, each with what brings it (as the build found
/// them; empty when nothing was missing).
pub fn missing_tools(root: &Path) -> Vec<String> {
    fs::read_to_string(root.join(build::MISSING))
        .map(|s| s.lines().map(String::from).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_never_under_target() {
        let none = |_: &str| None;
        assert_eq!(store_dir_for(true, none), PathBuf::from("/var/lib/workshop"));
        let home = |k: &str| (k == "HOME").then(|| PathBuf::from("/home/ada"));
        assert_eq!(store_dir_for(false, home), PathBuf::from("/home/ada/.local/share/workshop"));
        let xdg = |k: &str| match k {
            "XDG_DATA_HOME" => Some(PathBuf::from("/data")),
            "HOME" => Some(PathBuf::from("/home/ada")),
            _ => None,
        };
        assert_eq!(store_dir_for(false, xdg), PathBuf::from("/data/workshop"));
        let set = |k: &str| (k == "WORKSHOP_STORE").then(|| PathBuf::from("/srv/images"));
        assert_eq!(store_dir_for(true, set), PathBuf::from("/srv/images"));
    }
}
