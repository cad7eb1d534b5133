//! Which cgroups this machine has, detected as runc does rather than assumed.
//!
//! runc asks statfs(2) what filesystem is mounted at `/sys/fs/cgroup`: a cgroup2 filesystem there
//! means pure v2 ("unified"); otherwise, a cgroup2 filesystem at `/sys/fs/cgroup/unified` means
//! "hybrid" (controllers on v1, an empty v2 tree beside them); otherwise it is v1 ("legacy"). The
//! magic numbers come from the kernel (`CGROUP2_SUPER_MAGIC`, `CGROUP_SUPER_MAGIC`), so a plain
//! directory cannot pass for a cgroup mount. Unit tests cannot fake statfs on a directory, so the
//! question "what filesystem is this" goes through [`FsProbe`], which a fixture answers itself.

use super::parse::{self, Membership};
use super::{Controller, Version};
use std::fs;
use std::path::{Path, PathBuf};

/// What statfs(2) says is mounted at a path, reduced to what detection needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    /// `CGROUP2_SUPER_MAGIC`: a v2 hierarchy.
    Cgroup2,
    /// `CGROUP_SUPER_MAGIC`: a v1 hierarchy.
    Cgroup1,
    /// Anything else (tmpfs, ext4, …).
    Other,
    /// Nothing there.
    Absent,
}

/// How to ask "what filesystem is this": statfs(2) for real, a fixed table in unit tests.
#[derive(Debug, Clone)]
pub enum FsProbe {
    Statfs,
    /// Paths listed answer with their type; any other existing path is [`FsType::Other`].
    Fixture(Vec<(PathBuf, FsType)>),
}

impl FsProbe {
    pub fn fs_type(&self, path: &Path) -> FsType {
        use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
        match self {
            FsProbe::Statfs => match statfs(path) {
                Ok(s) if s.filesystem_type() == CGROUP2_SUPER_MAGIC => FsType::Cgroup2,
                Ok(s) if s.filesystem_type() == CGROUP_SUPER_MAGIC => FsType::Cgroup1,
                Ok(_) => FsType::Other,
                Err(_) => FsType::Absent,
            },
            // statfs follows symlinks, and so does the fixture.
            FsProbe::Fixture(table) => match table
                .iter()
                .find(|(p, _)| *p == fs::canonicalize(path).unwrap_or_else(|_| path.into()))
            {
                Some((_, t)) => *t,
                None if path.exists() => FsType::Other,
                None => FsType::Absent,
            },
        }
    }
}

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 only.
    Legacy,
    /// cgroup v1 controllers, plus an empty v2 hierarchy at /sys/fs/cgroup/unified.
    Hybrid,
    /// cgroup v2 only.
    Unified,
    /// No cgroup filesystem at all.
    Missing,
}

impl CgroupMode {
    /// The version limits are written with: hybrid machines keep their controllers on v1.
    pub fn version(self) -> Option<Version> {
        match self {
            CgroupMode::Legacy | CgroupMode::Hybrid => Some(Version::V1),
            CgroupMode::Unified => Some(Version::V2),
            CgroupMode::Missing => None,
        }
    }
}

impl std::fmt::Display for CgroupMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupMode::Legacy => "v1 (legacy)",
            CgroupMode::Hybrid => "v1 + v2 (hybrid: controllers on v1)",
            CgroupMode::Unified => "v2 (unified)",
            CgroupMode::Missing => "not mounted",
        })
    }
}

/// Everything detection reads, gathered in one value so that unit tests can hand in a fixture tree:
/// the cgroup root (`/sys/fs/cgroup`), the text of `/proc/self/cgroup` and of `/proc/cgroups`, and
/// how to tell filesystems apart.
#[derive(Debug, Clone)]
pub struct CgroupHost {
    pub root: PathBuf,
    pub self_cgroup: String,
    pub proc_cgroups: String,
    pub fs: FsProbe,
}

impl CgroupHost {
    /// This machine, as seen by the calling process.
    pub fn real() -> CgroupHost {
        CgroupHost {
            root: PathBuf::from("/sys/fs/cgroup"),
            self_cgroup: fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            proc_cgroups: fs::read_to_string("/proc/cgroups").unwrap_or_default(),
            fs: FsProbe::Statfs,
        }
    }

    // ANCHOR: detect_mode
    /// v2, hybrid, v1 or none, decided as runc decides it.
    pub fn mode(&self) -> CgroupMode {
        match self.fs.fs_type(&self.root) {
            FsType::Cgroup2 => return CgroupMode::Unified,
            FsType::Absent => return CgroupMode::Missing,
            _ => {}
        }
        if self.fs.fs_type(&self.root.join("unified")) == FsType::Cgroup2 {
            return CgroupMode::Hybrid;
        }
        // runc stops here and says legacy; a directory with no v1 hierarchy in it is no cgroup mount.
        let has_v1 = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| self.fs.fs_type(&e.path()) == FsType::Cgroup1);
        if has_v1 {
            CgroupMode::Legacy
        } else {
            CgroupMode::Missing
        }
    }
    // ANCHOR_END: detect_mode

    /// The caller's memberships, one per hierarchy (parsed /proc/self/cgroup).
    pub fn memberships(&self) -> Vec<Membership> {
        parse::self_cgroup(&self.self_cgroup)
    }

    /// A directory of the cgroup tree, from a path as /proc/self/cgroup writes it (`/user.slice`).
    pub fn v2_dir(&self, cgroup_path: &str) -> PathBuf {
        join_cgroup_path(&self.root, cgroup_path)
    }

    /// The mount point of the v1 hierarchy carrying `name` (`cpu`, `cpuacct`, `memory`…), or why
    /// there is none. systemd mounts comounted controllers at `cpu,cpuacct` with a symlink per name,
    /// so both spellings are tried, and only a real v1 mount counts.
    pub fn v1_hierarchy(&self, name: &str) -> Result<PathBuf, String> {
        let known = parse::proc_cgroups(&self.proc_cgroups);
        match known.iter().find(|k| k.name == name) {
            None => {
                return Err(format!("the kernel has no {name} controller (not in /proc/cgroups)"))
            }
            Some(k) if !k.enabled => {
                return Err(format!(
                    "{name} is disabled on the kernel command line (/proc/cgroups says enabled 0)"
                ))
            }
            Some(_) => {}
        }
        let memberships = self.memberships();
        let mut candidates = vec![self.root.join(name)];
        if let Some(m) = parse::v1_membership(&memberships, name) {
            candidates.push(self.root.join(m.controllers.join(",")));
        }
        let mounted = candidates.into_iter().find(|dir| self.fs.fs_type(dir) == FsType::Cgroup1);
        let Some(dir) = mounted else {
            return Err(format!(
                "{name} is enabled but no v1 hierarchy for it is mounted under {}",
                self.root.display()
            ));
        };
        // systemd's `cpu` and `cpuacct` are symlinks to one `cpu,cpuacct`: one real path, so that
        // the two controllers share one directory rather than make it twice.
        Ok(fs::canonicalize(&dir).unwrap_or(dir))
    }

    /// The caller's own cgroup in the v1 hierarchy carrying `name`.
    pub fn v1_own_path(&self, name: &str) -> Option<String> {
        parse::v1_membership(&self.memberships(), name).map(|m| m.path.clone())
    }

    /// Whether the kernel offers `controller` at all in this mode, and where: the v1 hierarchy's
    /// mount point, or the v2 root when it is listed in the root's `cgroup.controllers`.
    pub fn offers(&self, controller: Controller) -> Result<PathBuf, String> {
        match self.mode() {
            CgroupMode::Legacy | CgroupMode::Hybrid => {
                self.v1_hierarchy(controller.name(Version::V1))
            }
            CgroupMode::Unified => {
                let name = controller.name(Version::V2);
                let listed = read_list(&self.root.join("cgroup.controllers"));
                if listed.iter().any(|c| c == name) {
                    Ok(self.root.clone())
                } else {
                    Err(format!(
                        "the kernel offers no {name} controller here (not in {}/cgroup.controllers)",
                        self.root.display()
                    ))
                }
            }
            CgroupMode::Missing => {
                Err(format!("no cgroup filesystem is mounted at {}", self.root.display()))
            }
        }
    }
}

/// `root` joined with a cgroup path that starts with `/`.
pub fn join_cgroup_path(root: &Path, cgroup_path: &str) -> PathBuf {
    let rel = cgroup_path.trim_matches('/');
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// A controller list file, empty when absent.
pub fn read_list(file: &Path) -> Vec<String> {
    parse::controller_list(&fs::read_to_string(file).unwrap_or_default())
}
