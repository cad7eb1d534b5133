//! The root filesystem the container pivots into, built on the spot and cached under `target/`.
//!
//! No download: a static busybox from the host gives one small binary with every tool the course uses
//! (sh, ps, ls, cat, hostname, mount, ip, ping, wget, nc, httpd…). Without one, the host's own
//! binaries are copied with the shared libraries `ldd` lists for them. `--rootfs DIR` uses any other
//! unpacked root filesystem instead, such as one exported from a Docker image.

use anyhow::{bail, Context};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the layout of the built root filesystem changes, so caches are rebuilt.
const LAYOUT_VERSION: u32 = 1;
const STAMP: &str = ".workshop-rootfs";

/// The tools the course notes and the book use inside a container, and the Debian package that brings
/// each one when it is taken from the host instead of busybox.
pub const TOOLS: [(&str, &str); 15] = [
    ("sh", "dash"),
    ("ps", "procps"),
    ("ls", "coreutils"),
    ("cat", "coreutils"),
    ("echo", "coreutils"),
    ("id", "coreutils"),
    ("hostname", "hostname"),
    ("mount", "mount"),
    ("ip", "iproute2"),
    ("ping", "iputils-ping"),
    ("top", "procps"),
    ("wget", "wget"),
    ("nc", "netcat-openbsd"),
    ("sleep", "coreutils"),
    ("readlink", "coreutils"),
];

/// Where the workshop keeps what it builds: `target/workshop`, found from the running binary
/// (`target/debug/01_pid` or `target/debug/deps/…`), or from CARGO_TARGET_DIR.
pub fn workshop_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("workshop");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf);
    target.unwrap_or_else(|| PathBuf::from("target")).join("workshop")
}

/// A root filesystem path as a person would type it: relative to the current directory when it is
/// beneath it (`target/workshop/rootfs` from the project), absolute otherwise.
pub fn display_path(root: &Path) -> String {
    let cwd = std::env::current_dir().ok().and_then(|c| fs::canonicalize(c).ok());
    match cwd.as_deref().and_then(|c| root.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => root.display().to_string(),
    }
}

/// The default root filesystem's path.
pub fn default_rootfs() -> PathBuf {
    workshop_dir().join("rootfs")
}

/// Where the built root filesystem's tools came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    StaticBusybox(PathBuf),
    HostBinaries,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::StaticBusybox(p) => write!(f, "static busybox from {}", p.display()),
            Source::HostBinaries => write!(f, "the host's own binaries and their libraries"),
        }
    }
}

/// The host's busybox, if it is a statically linked one (`WORKSHOP_BUSYBOX` names one elsewhere).
pub fn find_static_busybox() -> Option<PathBuf> {
    let named = std::env::var_os("WORKSHOP_BUSYBOX").map(PathBuf::from);
    let usual = ["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox", "/sbin/busybox"];
    named
        .into_iter()
        .chain(usual.into_iter().map(PathBuf::from))
        .find(|p| is_static_elf(p).unwrap_or(false))
}

/// A static ELF has no PT_INTERP program header (no dynamic loader to name). Only the headers are
/// read: this runs on every stage start.
pub fn is_static_elf(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    fs::File::open(path)?.take(4096).read_to_end(&mut head)?;
    Ok(elf_interp_absent(&head).unwrap_or(false))
}

fn elf_interp_absent(data: &[u8]) -> Option<bool> {
    if data.get(..4)? != b"\x7fELF" || *data.get(4)? != 2 || *data.get(5)? != 1 {
        return None; // only 64-bit little-endian ELF is recognised
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let phoff = u64_at(0x20)? as usize;
    let phentsize = u16_at(0x36)? as usize;
    let phnum = u16_at(0x38)? as usize;
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(data.get(off..off + 4)?.try_into().ok()?);
        if p_type == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}

/// Returns a ready root filesystem: `--rootfs DIR` checked, or the cached default, built if needed.
pub fn ensure(custom: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = custom {
        return check_custom(dir);
    }
    let root = default_rootfs();
    let source = choose_source();
    if cached_is_current(&root, &source) {
        return Ok(root);
    }
    build(&root, &source)?;
    Ok(root)
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

fn choose_source() -> Source {
    find_static_busybox().map(Source::StaticBusybox).unwrap_or(Source::HostBinaries)
}

fn stamp_text(source: &Source) -> String {
    format!("layout {LAYOUT_VERSION}\nsource {source}\n")
}

fn cached_is_current(root: &Path, source: &Source) -> bool {
    fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == stamp_text(source))
}

/// Builds the root filesystem into a temporary directory beside `root`, then renames it into place,
/// so a half-built tree is never used and two stages building at once do not collide.
pub fn build(root: &Path, source: &Source) -> anyhow::Result<()> {
    let parent = root.parent().context("the rootfs path has no parent")?;
    fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    let tmp = parent.join(format!(".rootfs-building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let result = populate(&tmp, source);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e.context(format!("build the root filesystem in {}", root.display())));
    }
    if root.exists() {
        if cached_is_current(root, source) {
            // Another stage finished the same build first.
            let _ = fs::remove_dir_all(&tmp);
            return Ok(());
        }
        fs::remove_dir_all(root)
            .with_context(|| format!("remove the outdated {}", root.display()))?;
    }
    if let Err(e) = fs::rename(&tmp, root) {
        let _ = fs::remove_dir_all(&tmp);
        if !cached_is_current(root, source) {
            return Err(e).context(format!("move the root filesystem into {}", root.display()));
        }
    }
    Ok(())
}

fn populate(dir: &Path, source: &Source) -> anyhow::Result<()> {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "dev", "etc", "proc", "sys", "tmp", "root",
        "var/www", "home",
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
    fs::write(dir.join("etc/os-release"), "NAME=\"workshop rootfs\"\nID=workshop\n")?;
    fs::write(dir.join("var/www/index.html"), "hello from inside the container\n")?;
    match source {
        Source::StaticBusybox(busybox) => install_busybox(dir, busybox)?,
        Source::HostBinaries => install_host_binaries(dir)?,
    }
    fs::write(dir.join(STAMP), stamp_text(source))?;
    Ok(())
}

fn install_busybox(dir: &Path, busybox: &Path) -> anyhow::Result<()> {
    fs::copy(busybox, dir.join("bin/busybox"))
        .with_context(|| format!("copy {}", busybox.display()))?;
    let list = Command::new(busybox).arg("--list").output().context("list busybox's applets")?;
    for applet in
        String::from_utf8_lossy(&list.stdout).lines().map(str::trim).filter(|a| !a.is_empty())
    {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link)?;
        }
    }
    Ok(())
}

/// Copies each course tool found on the host, with every library `ldd` names, to the same paths.
fn install_host_binaries(dir: &Path) -> anyhow::Result<()> {
    let path = std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin:/usr/bin:/bin";
    let mut missing = Vec::new();
    for (tool, package) in TOOLS {
        let found = path.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file());
        let Some(bin) = found else {
            missing.push(format!("{tool} (package {package})"));
            continue;
        };
        let bin = fs::canonicalize(&bin)?;
        copy_into(dir, &bin, &dir.join("bin").join(tool))?;
        for lib in shared_libraries(&bin)? {
            let dest = dir.join(lib.strip_prefix("/").unwrap_or(&lib));
            if !dest.exists() {
                copy_into(dir, &lib, &dest)?;
            }
        }
    }
    if !dir.join("bin/sh").exists() {
        bail!("the host has neither a static busybox nor /bin/sh to copy; install busybox-static (apt install busybox-static)");
    }
    if !missing.is_empty() {
        fs::write(dir.join("MISSING-TOOLS"), missing.join("\n") + "\n")?;
    }
    Ok(())
}

fn copy_into(_root: &Path, from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(p) = to.parent() {
        fs::create_dir_all(p)?;
    }
    fs::copy(from, to).with_context(|| format!("copy {}", from.display()))?;
    Ok(())
}

/// The shared libraries (and the dynamic loader) a binary needs, from `ldd`'s output.
pub fn shared_libraries(bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output().context("run ldd")?;
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ldd` output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x…)`.
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// The tools missing from a host-binaries root filesystem, if any.
pub fn missing_tools(root: &Path) -> Vec<String> {
    fs::read_to_string(root.join("MISSING-TOOLS"))
        .map(|s| s.lines().map(String::from).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd_lines() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }

    #[test]
    fn tells_static_from_dynamic_elf() {
        // The test binary itself is dynamically linked: it has a PT_INTERP header.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
        assert_eq!(elf_interp_absent(b"not an elf"), None);
    }

    #[test]
    fn host_binaries_rootfs_has_a_working_layout() {
        let dir = std::env::temp_dir().join(format!("workshop-rootfs-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        build(&dir, &Source::HostBinaries).unwrap();
        assert!(dir.join("bin/sh").is_file());
        let sh = dir.join("bin/sh");
        assert!(shared_libraries(&sh)
            .unwrap()
            .iter()
            .all(|l| dir.join(l.strip_prefix("/").unwrap()).exists()));
        assert_eq!(fs::metadata(dir.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
        fs::remove_dir_all(&dir).unwrap();
    }
}
