//! The overlay mount's option string: `lowerdir=TOP:…:BOTTOM,upperdir=…,workdir=…`.
//!
//! Three things a student gets wrong here:
//! - **The order.** `lowerdir=` lists the *top* layer first; an image lists its layers bottom first (as
//!   OCI does), so the list is reversed. Get it wrong and the base shadows the layers built on it.
//! - **The separators.** mount(2) passes one string; the kernel splits it at `,` into options and the
//!   lowerdir value at `:` into layers, and `\` escapes the next character in both. So a path holding
//!   `,`, `:` or `\` must have those escaped as `\,` `\:` `\\` (see the overlayfs documentation,
//!   "Multiple lower layers"). A newline cannot be passed at all, and is refused.
//! - **The size.** mount(2) copies at most one page of options (4096 bytes on x86-64): about 40 layers
//!   with this store's paths. Kernels 6.8 and newer take layers one at a time through the new mount API
//!   instead (fsopen(2), then `fsconfig(FSCONFIG_SET_STRING, "lowerdir+", path)` per layer, then
//!   fsmount(2)), with no escaping and no page limit: see [`super::fsconfig`].
//!
//! `userxattr` (Linux 5.11+) makes overlay keep its own metadata (opaque dirs, redirects) in `user.overlay.*`
//! extended attributes instead of `trusted.overlay.*`, which only a process with CAP_SYS_ADMIN in the
//! *initial* user namespace may set. It is what lets a user namespace's root mount an overlay.

use anyhow::bail;
use std::path::{Path, PathBuf};

/// The most option bytes mount(2) reads: one page, including the terminating NUL.
pub const MOUNT_DATA_MAX: usize = 4096;

/// What to stack and where to write: the layers (top first, as the kernel wants them), the upper and
/// work dirs, and whether to use `user.overlay.*` xattrs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverlayOptions {
    pub lower_top_first: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub userxattr: bool,
}

impl OverlayOptions {
    /// From an image's layer directories as images list them, bottom first.
    pub fn from_bottom_first(layers_bottom_first: &[PathBuf], upper: &Path, work: &Path) -> Self {
        OverlayOptions {
            lower_top_first: layers_bottom_first.iter().rev().cloned().collect(),
            upper: upper.to_path_buf(),
            work: work.to_path_buf(),
            userxattr: false,
        }
    }

    pub fn with_userxattr(mut self, on: bool) -> Self {
        self.userxattr = on;
        self
    }

    // ANCHOR: option_string
    /// The `-o` string for `mount -t overlay overlay -o … TARGET`, as mount(2)'s data argument.
    pub fn option_string(&self) -> anyhow::Result<String> {
        if self.lower_top_first.is_empty() {
            bail!("an overlay needs at least one lower layer");
        }
        let lowers: Vec<String> =
            self.lower_top_first.iter().map(|p| escape(p)).collect::<anyhow::Result<_>>()?;
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            escape(&self.upper)?,
            escape(&self.work)?
        );
        if self.userxattr {
            opts.push_str(",userxattr");
        }
        if opts.len() >= MOUNT_DATA_MAX {
            bail!(
                "the overlay options are {} bytes, and mount(2) reads at most {} (one page): use \
                 fewer layers, a shorter store path, or the new mount API's `lowerdir+` (Linux 6.8+)",
                opts.len(),
                MOUNT_DATA_MAX - 1
            );
        }
        Ok(opts)
    }
    // ANCHOR_END: option_string
}

/// A path escaped for overlay's option parser: `\` `,` `:` get a backslash. Relative paths and
/// paths the parser cannot carry (a newline, which ends a mount option line in /proc/mounts) are
/// refused.
pub fn escape(path: &Path) -> anyhow::Result<String> {
    let Some(s) = path.to_str() else {
        bail!("the overlay path {} is not UTF-8", path.display());
    };
    if !path.is_absolute() {
        bail!("the overlay path {s:?} must be absolute: the kernel resolves it from the mounter's cwd");
    }
    if s.contains(['\n', '\0']) {
        bail!("the overlay path {s:?} holds a newline or NUL, which mount options cannot carry");
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// The lower layers, top first, of the overlay mounted at `mount_point`, read from mountinfo(5) text
/// the way a test checks the order from outside. The kernel shows the option as it was given, with
/// the characters mountinfo cannot hold (space, tab, newline, `\`, `,`) as octal escapes (`\134`);
/// both layers of escaping are undone here.
pub fn lowerdirs_in_mountinfo(mountinfo: &str, mount_point: &Path) -> Option<Vec<PathBuf>> {
    let line = mountinfo.lines().rev().find(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        fields.get(4).map(|m| unoctal(m)) == Some(mount_point.to_string_lossy().into_owned())
            && line.contains(" - overlay ")
    })?;
    let super_options = line.split(" - ").nth(1)?.split(' ').nth(2)?;
    let value = super_options.split(',').find_map(|o| o.strip_prefix("lowerdir="))?;
    let value = unoctal(value);
    // Split at the `:` that are not escaped, then drop the escaping backslashes.
    let (mut layers, mut current, mut chars) = (Vec::new(), String::new(), value.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ':' => layers.push(PathBuf::from(std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    layers.push(PathBuf::from(current));
    Some(layers)
}

/// Undoes mountinfo's octal escapes (`\\040` is a space).
fn unoctal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_order_is_read_back_from_mountinfo_through_both_escapings() {
        // Recorded on Linux 6.18 after mounting `lowerdir=/k/l\:o\,w x:/k/base`.
        let line = "65 43 0:39 / /k/m rw,relatime - overlay overlay rw,lowerdir=/k/l\\134:o\\134\\054w\\040x:\
/k/base,upperdir=/k/u,workdir=/k/w,uuid=on\n";
        let lowers = lowerdirs_in_mountinfo(line, Path::new("/k/m")).unwrap();
        assert_eq!(lowers, [PathBuf::from("/k/l:o,w x"), PathBuf::from("/k/base")]);
        assert_eq!(lowerdirs_in_mountinfo(line, Path::new("/other")), None);
    }

    fn opts(lowers_bottom_first: &[&str]) -> OverlayOptions {
        let l: Vec<PathBuf> = lowers_bottom_first.iter().map(PathBuf::from).collect();
        OverlayOptions::from_bottom_first(&l, Path::new("/s/upper"), Path::new("/s/work"))
    }

    #[test]
    fn lowerdir_lists_the_top_layer_first() {
        assert_eq!(
            opts(&["/l/base", "/l/web"]).option_string().unwrap(),
            "lowerdir=/l/web:/l/base,upperdir=/s/upper,workdir=/s/work"
        );
    }

    #[test]
    fn userxattr_is_appended_for_a_user_namespace() {
        assert_eq!(
            opts(&["/l/base"]).with_userxattr(true).option_string().unwrap(),
            "lowerdir=/l/base,upperdir=/s/upper,workdir=/s/work,userxattr"
        );
    }

    #[test]
    fn colons_commas_and_backslashes_are_escaped() {
        assert_eq!(escape(Path::new("/a:b,c\\d")).unwrap(), "/a\\:b\\,c\\\\d");
        let o = opts(&["/l/x:y", "/l/p,q"]).option_string().unwrap();
        assert_eq!(o, "lowerdir=/l/p\\,q:/l/x\\:y,upperdir=/s/upper,workdir=/s/work");
    }

    #[test]
    fn unusable_paths_are_refused() {
        assert!(escape(Path::new("relative/dir")).is_err());
        assert!(escape(Path::new("/a\nb")).is_err());
        assert!(opts(&[]).option_string().is_err());
    }

    #[test]
    fn options_longer_than_a_page_are_refused_with_the_way_out() {
        let long = format!("/{}", "l".repeat(200));
        let many: Vec<&str> = std::iter::repeat_n(long.as_str(), 25).collect();
        let err = opts(&many).option_string().unwrap_err().to_string();
        assert!(err.contains("one page") && err.contains("lowerdir+"), "{err}");
    }
}
