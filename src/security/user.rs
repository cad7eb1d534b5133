//! `--user`: run the container's program as an ordinary user instead of its root.
//!
//! Root in a container is still root for every file and kernel object the container can reach,
//! and every exploit starts easier as root. `--user 1000:1000` (or a name, `--user nobody`) makes
//! the program an ordinary user: it cannot write files it does not own, and (as Docker does) it
//! starts with no capabilities in its effective and permitted sets.
//!
//! Names are looked up in the *image's* `/etc/passwd` and `/etc/group`, not the host's: the image
//! decides who `nobody` is. A numeric UID needs no entry (Docker runs one that has none, with
//! group 0). The ids must be mapped in the container's user namespace (stage 05's uid_map).

use anyhow::Context;
use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Who the container's program runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the image's groups that list the user as a member.
    pub groups: Vec<u32>,
    /// The name, when the image's /etc/passwd has one for the uid.
    pub name: Option<String>,
    pub home: Option<PathBuf>,
}

impl User {
    pub fn root() -> User {
        User {
            uid: 0,
            gid: 0,
            groups: vec![],
            name: Some("root".into()),
            home: Some("/root".into()),
        }
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// One line of /etc/passwd: `name:x:uid:gid:gecos:home:shell`.
struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One line of /etc/group: `name:x:gid:member,member`.
struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read(rootfs: &Path, file: &str) -> String {
    // A missing file is an image without users: only numeric ids then.
    std::fs::read_to_string(rootfs.join(file)).unwrap_or_default()
}

fn passwd(text: &str) -> Vec<Passwd> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Passwd {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

fn groups(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Group {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `--user USER[:GROUP]` against the image at `rootfs`, as runc's `GetExecUser` does:
/// a name must exist; a number need not; without `:GROUP` the group is the passwd entry's (or 0)
/// and the supplementary groups are those listing the user; with it, only that group.
pub fn resolve(spec: &str, rootfs: &Path) -> anyhow::Result<User> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let bad = |why: String| anyhow::anyhow!("--user {spec}: {why}");
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(bad("write UID[:GID] or NAME[:GROUP], for example 1000:1000 or nobody".into()));
    }
    let users = passwd(&read(rootfs, "etc/passwd"));
    let entry = match user.parse::<u32>() {
        Ok(uid) => users.iter().find(|p| p.uid == uid),
        Err(_) => Some(users.iter().find(|p| p.name == user).ok_or_else(|| {
            bad(format!(
                "no user {user:?} in the image's /etc/passwd; use a numeric UID[:GID] or a name \
                 the image has"
            ))
        })?),
    };
    let uid = entry.map(|p| p.uid).unwrap_or_else(|| user.parse().unwrap_or(0));
    let all_groups = groups(&read(rootfs, "etc/group"));
    let (gid, supplementary) = match group {
        Some(g) => {
            let gid = match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => {
                    all_groups.iter().find(|x| x.name == g).map(|x| x.gid).ok_or_else(|| {
                        bad(format!(
                        "no group {g:?} in the image's /etc/group; use a numeric GID or a group \
                         the image has"
                    ))
                    })?
                }
            };
            (gid, vec![])
        }
        None => {
            let gid = entry.map(|p| p.gid).unwrap_or(0);
            let name = entry.map(|p| p.name.as_str());
            let mut sup: Vec<u32> = all_groups
                .iter()
                .filter(|x| name.is_some_and(|n| x.members.iter().any(|m| m == n)))
                .map(|x| x.gid)
                .filter(|&g| g != gid)
                .collect();
            sup.dedup();
            (gid, sup)
        }
    };
    Ok(User {
        uid,
        gid,
        groups: supplementary,
        name: entry.map(|p| p.name.clone()),
        home: entry.filter(|p| !p.home.is_empty()).map(|p| PathBuf::from(&p.home)),
    })
}

/// Becomes `user`: setgroups(2), then setresgid(2), then setresuid(2).
///
/// The order matters: changing groups and the gid needs CAP_SETGID, and the moment the uid stops
/// being 0 the kernel empties the effective and permitted capability sets; the uid goes last, or
/// the other two fail with EPERM. setres*id sets the real, effective and saved ids together, so
/// no saved root id is left behind to switch back to.
/// In a user namespace whose setgroups is "deny" (a rootless one), setgroups(2) is refused; with no
/// supplementary group to set that is harmless, and is let pass.
pub fn apply(user: &User) -> anyhow::Result<()> {
    let groups: Vec<Gid> = user.groups.iter().copied().map(Gid::from_raw).collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Err(e) => return Err(e).with_context(|| format!("setgroups({:?})", user.groups)),
    }
    let gid = Gid::from_raw(user.gid);
    nix::unistd::setresgid(gid, gid, gid).with_context(|| {
        format!("setresgid({0}, {0}, {0}): is gid {0} mapped in the user namespace?", user.gid)
    })?;
    let uid = Uid::from_raw(user.uid);
    nix::unistd::setresuid(uid, uid, uid).with_context(|| {
        format!("setresuid({0}, {0}, {0}): is uid {0} mapped in the user namespace?", user.uid)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Image(PathBuf);
    impl Image {
        fn new(test: &str) -> Image {
            let dir =
                std::env::temp_dir().join(format!("workshop-user-{test}-{}", std::process::id()));
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            std::fs::write(
                dir.join("etc/passwd"),
                "root:x:0:0:root:/root:/bin/sh\n\
                 # a comment\n\
                 alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
                 nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            )
            .unwrap();
            std::fs::write(
                dir.join("etc/group"),
                "root:x:0:\nwheel:x:10:alice\nalice:x:1000:\naudio:x:29:bob,alice\nnogroup:x:65534:\n",
            )
            .unwrap();
            Image(dir)
        }
    }
    impl Drop for Image {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn names_and_numbers_are_looked_up_in_the_image() {
        let img = Image::new("lookup");
        let u = resolve("alice", &img.0).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.groups, [10, 29]);
        assert_eq!(u.name.as_deref(), Some("alice"));
        assert_eq!(u.home, Some(PathBuf::from("/home/alice")));

        // A number with an entry gets its name and groups; with a group, only that group.
        assert_eq!(resolve("1000", &img.0).unwrap(), u);
        let u = resolve("alice:nogroup", &img.0).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.len()), (1000, 65534, 0));
        let u = resolve("nobody:29", &img.0).unwrap();
        assert_eq!((u.uid, u.gid), (65534, 29));

        // A number without an entry is fine, with group 0 (as Docker).
        let u = resolve("4242", &img.0).unwrap();
        assert_eq!((u.uid, u.gid, u.name), (4242, 0, None));
        assert_eq!(resolve("4242:4242", &img.0).unwrap().gid, 4242);
        assert!(resolve("0", &img.0).unwrap().is_root());
    }

    #[test]
    fn a_name_the_image_lacks_is_one_line() {
        let img = Image::new("missing");
        for (spec, says) in [
            ("mallory", "no user \"mallory\" in the image's /etc/passwd"),
            ("alice:staff", "no group \"staff\" in the image's /etc/group"),
            (":1000", "UID[:GID]"),
            ("1000:", "UID[:GID]"),
        ] {
            let e = resolve(spec, &img.0).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--user {spec}:")) && e.contains(says), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}
