//! The tools the course runs inside a container, and where each one comes from on this machine.
//!
//! One table says which stage first needs each tool (from its demo, its tests, its book chapter's
//! "try it" lines or its exercise) and which Debian package brings it when it is copied from the
//! host. A [`Plan`] resolves the table against this machine: every applet of a static busybox, or
//! each tool found on the host's PATH, with httpd, nc, wget and ping from the workshop's own
//! toolbox. The builder copies what the plan says; `doctor` reads the same plan to say which
//! stages are ready and what is missing, so the two cannot disagree.

use crate::stage::Stage;
use std::path::{Path, PathBuf};

/// Where a tool comes from when the root filesystem is built from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Copied from the host's PATH, with its libraries; the Debian package that installs it.
    Host(&'static str),
    /// The workshop's own multi-call `toolbox` binary (src/toolbox/).
    Toolbox,
}

/// A tool used inside containers, and the first stage that uses it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub stage: Stage,
    pub provider: Provider,
}

const fn host(name: &'static str, stage: Stage, package: &'static str) -> Tool {
    Tool { name, stage, provider: Provider::Host(package) }
}

const fn toolbox(name: &'static str, stage: Stage) -> Tool {
    Tool { name, stage, provider: Provider::Toolbox }
}

/// Stages 01 and 02 run on the host's own files; from 03 on, these must be in the root filesystem.
/// `true` and `false` are here because `-- true` is exec'd, not run by a shell.
pub const TOOLS: [Tool; 33] = [
    host("sh", Stage::Rootfs, "dash"),
    host("ls", Stage::Rootfs, "coreutils"),
    host("cat", Stage::Rootfs, "coreutils"),
    host("echo", Stage::Rootfs, "coreutils"),
    host("true", Stage::Rootfs, "coreutils"),
    host("false", Stage::Rootfs, "coreutils"),
    host("id", Stage::Rootfs, "coreutils"),
    host("sleep", Stage::Rootfs, "coreutils"),
    host("touch", Stage::Rootfs, "coreutils"),
    host("head", Stage::Rootfs, "coreutils"),
    host("wc", Stage::Rootfs, "coreutils"),
    host("uname", Stage::Rootfs, "coreutils"),
    host("readlink", Stage::Rootfs, "coreutils"),
    host("grep", Stage::Rootfs, "grep"),
    host("hostname", Stage::Rootfs, "hostname"),
    host("ps", Stage::Rootfs, "procps"),
    host("top", Stage::Rootfs, "procps"),
    host("mount", Stage::Rootfs, "mount"),
    host("umount", Stage::Rootfs, "mount"),
    // Stage 03's test checks the whole toolset the course notes promise, network tools included.
    host("ip", Stage::Rootfs, "iproute2"),
    toolbox("ping", Stage::Rootfs),
    toolbox("wget", Stage::Rootfs),
    toolbox("nc", Stage::Rootfs),
    toolbox("httpd", Stage::Rootfs),
    host("tc", Stage::Network, "iproute2"),
    host("stat", Stage::User, "coreutils"),
    // Stage 06's allocator and its direct-I/O writer.
    host("dd", Stage::Cgroups, "coreutils"),
    host("rm", Stage::Cgroups, "coreutils"),
    // Stage 07's copy-up, whiteout and opaque-dir experiments.
    host("tail", Stage::Overlay, "coreutils"),
    host("mkdir", Stage::Overlay, "coreutils"),
    // Stage 08's attack lab: a nested user namespace, to try to regain capabilities.
    host("unshare", Stage::Security, "util-linux"),
    host("mknod", Stage::Security, "coreutils"),
    // Its attacks no shell tool makes (add_key, a setuid-root copy): busybox has no such applet,
    // so the toolbox joins a busybox root filesystem too.
    toolbox("attack", Stage::Security),
];

/// The tools a stage uses inside its containers: its own and every earlier stage's.
pub fn tools_for(stage: Stage) -> impl Iterator<Item = &'static Tool> {
    TOOLS.iter().filter(move |t| t.stage <= stage)
}

/// Where the root filesystem's tools come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One static busybox: every applet is a link to it.
    StaticBusybox(PathBuf),
    /// The host's own binaries with their libraries, and the workshop's toolbox for the rest.
    HostBinaries,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::StaticBusybox(p) => write!(f, "static busybox from {}", p.display()),
            Source::HostBinaries => {
                write!(f, "the host's own binaries and their libraries, and the workshop's toolbox")
            }
        }
    }
}

/// Where one tool will come from, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BusyboxApplet,
    HostBinary(PathBuf),
    Toolbox(PathBuf),
    /// Not available: what to install or build to get it.
    Missing(String),
}

/// Every course tool resolved against this machine.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    pub tools: Vec<(Tool, Origin)>,
}

impl Plan {
    /// Resolves the table. `busybox_applets` is what `busybox --list` printed (busybox source);
    /// `path` the directories to search for host binaries; `toolbox` the built toolbox, if any.
    pub fn resolve(
        source: Source,
        busybox_applets: &[String],
        path: &[PathBuf],
        toolbox: Result<PathBuf, String>,
    ) -> Plan {
        let tools = TOOLS
            .iter()
            .map(|t| {
                let origin = match (&source, t.provider) {
                    (Source::StaticBusybox(_), provider) => {
                        // A tool busybox lacks comes from the toolbox when the toolbox has it.
                        match (&toolbox, provider) {
                            _ if busybox_applets.iter().any(|a| a == t.name) => {
                                Origin::BusyboxApplet
                            }
                            (Ok(tb), Provider::Toolbox) => Origin::Toolbox(tb.clone()),
                            _ => Origin::Missing("a busybox with this applet".into()),
                        }
                    }
                    (Source::HostBinaries, Provider::Host(package)) => {
                        let found = path.iter().map(|d| d.join(t.name)).find(|p| is_executable(p));
                        // The toolbox stands in for a host tool it has an applet for (`ip`).
                        let in_toolbox = crate::toolbox::APPLETS.iter().any(|(a, _)| *a == t.name);
                        match (found, &toolbox) {
                            (Some(p), _) => Origin::HostBinary(p),
                            (None, Ok(tb)) if in_toolbox => Origin::Toolbox(tb.clone()),
                            (None, _) => Origin::Missing(format!("package {package}")),
                        }
                    }
                    (Source::HostBinaries, Provider::Toolbox) => match &toolbox {
                        Ok(p) => Origin::Toolbox(p.clone()),
                        Err(why) => Origin::Missing(why.clone()),
                    },
                };
                (*t, origin)
            })
            .collect();
        Plan { source, tools }
    }

    /// The tools `stage` uses that this plan cannot provide, grouped by what brings them:
    /// `["ip, tc (package iproute2)", "ping, wget, nc, httpd (the workshop's toolbox, …)"]`.
    pub fn missing_for(&self, stage: Stage) -> Vec<String> {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (tool, origin) in self.tools.iter().filter(|(t, _)| t.stage <= stage) {
            let Origin::Missing(why) = origin else { continue };
            match groups.iter_mut().find(|(w, _)| w == why) {
                Some((_, names)) => names.push(tool.name),
                None => groups.push((why, vec![tool.name])),
            }
        }
        groups.into_iter().map(|(why, names)| format!("{} ({why})", names.join(", "))).collect()
    }
}

/// The tools `stage` uses that are not in the root filesystem at `root` (any of the usual bin
/// directories, a symbolic link counting as present when it resolves inside `root`).
pub fn missing_in(root: &Path, stage: Stage) -> Vec<&'static str> {
    tools_for(stage)
        .filter(|t| {
            !["bin", "usr/bin", "sbin", "usr/sbin", "usr/local/bin"]
                .iter()
                .any(|d| present_in(root, &Path::new(d).join(t.name)))
        })
        .map(|t| t.name)
        .collect()
}

/// Whether `rel` exists beneath `root`, following symbolic links as the container would (an
/// absolute link target is inside `root`, not on the host).
fn present_in(root: &Path, rel: &Path) -> bool {
    let mut path = root.join(rel);
    for _ in 0..8 {
        match std::fs::read_link(&path) {
            Ok(target) if target.is_absolute() => {
                path = root.join(target.strip_prefix("/").unwrap_or(&target));
            }
            Ok(target) => path = path.parent().unwrap_or(root).join(target),
            Err(_) => return path.is_file(),
        }
    }
    false
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_listed_once() {
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        assert!(tools_for(Stage::Pid).next().is_none(), "stage 01 runs on the host's own files");
        assert!(tools_for(Stage::Rootfs).any(|t| t.name == "httpd"));
        assert!(!tools_for(Stage::Rootfs).any(|t| t.name == "stat"));
    }

    #[test]
    fn a_plan_names_what_is_missing_and_what_brings_it() {
        let dir = std::env::temp_dir().join(format!("workshop-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plan = Plan::resolve(
            Source::HostBinaries,
            &[],
            std::slice::from_ref(&dir),
            Err("the workshop's toolbox: cargo build --bin toolbox".into()),
        );
        let missing = plan.missing_for(Stage::Rootfs);
        assert!(missing.contains(&"sh (package dash)".to_string()), "{missing:?}");
        assert!(
            missing.contains(
                &"ping, wget, nc, httpd (the workshop's toolbox: cargo build --bin toolbox)"
                    .to_string()
            ),
            "{missing:?}"
        );
        assert!(missing.iter().any(|m| m.starts_with("ip (package iproute2)")), "{missing:?}");
        assert!(!missing.iter().any(|m| m.contains("stat")), "stat is first used at 05");
        assert!(plan.missing_for(Stage::User).iter().any(|m| m.starts_with("ls, cat, echo")));
        // Without iproute2, the toolbox's ip stands in; tc has no stand-in.
        let tb = PathBuf::from("/x/toolbox");
        let plan =
            Plan::resolve(Source::HostBinaries, &[], std::slice::from_ref(&dir), Ok(tb.clone()));
        assert!(plan
            .tools
            .iter()
            .any(|(t, o)| t.name == "ip" && *o == Origin::Toolbox(tb.clone())));
        assert!(plan.missing_for(Stage::Network).contains(&"tc (package iproute2)".to_string()));
        let busybox = Plan::resolve(
            Source::StaticBusybox("/bin/busybox".into()),
            &TOOLS.iter().map(|t| t.name.to_string()).filter(|n| n != "httpd").collect::<Vec<_>>(),
            &[],
            Err(String::new()),
        );
        assert_eq!(busybox.missing_for(Stage::User), ["httpd (a busybox with this applet)"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn presence_follows_links_inside_the_root() {
        let root = std::env::temp_dir().join(format!("workshop-present-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/busybox"), "").unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink("/bin/busybox", root.join("bin/ls")).unwrap();
        // Resolved on the host this would be /bin/cat, which exists there but not in the root.
        std::os::unix::fs::symlink("/usr/bin/cat", root.join("bin/cat")).unwrap();
        assert!(present_in(&root, Path::new("bin/sh")));
        assert!(present_in(&root, Path::new("bin/ls")));
        assert!(!present_in(&root, Path::new("bin/cat")));
        let missing = missing_in(&root, Stage::Rootfs);
        assert!(!missing.contains(&"sh") && missing.contains(&"cat") && missing.contains(&"httpd"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
