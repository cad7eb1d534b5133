//! podman with its storage in a directory of its own, and a guard that puts back what podman and
//! its helpers make on the host outside that directory: conmon's cgroup (`libpod_parent/conmon`,
//! in every hierarchy), the `/run/netns` mount netavark makes for `-p`, its firewall chains and
//! `net.ipv4.ip_forward`, the directories podman makes on first use. Only what was not there
//! before is removed.
//!
//! The undoing is done by a janitor: a shell started with the storage, which waits for its stdin
//! to close. The guard's drop closes it and waits (a test that ends or fails); a test process
//! killed by Ctrl-C, or by SIGKILL, closes it too, and the janitor, which ignores those signals,
//! cleans up all the same. Used by tests/oci_podman.rs and benches/startup.rs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// Directories podman and netavark make on first use, outside the storage we give them.
const PODMAN_DIRS: [&str; 5] = [
    "/etc/containers/networks",
    "/run/containers",
    "/var/lib/containers",
    "/run/libpod",
    "/run/runc",
];

pub struct Podman {
    pub dir: PathBuf,
    /// The OCI runtime podman calls, or its default.
    runtime: Option<String>,
    janitor: Child,
    /// The janitor's stdin: closed, it cleans up.
    wake: Option<ChildStdin>,
}

/// Whether podman is installed.
pub fn installed() -> bool {
    Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// conmon's cgroup and its parent in every hierarchy (v1), or in the one tree (v2).
fn podman_cgroups() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    roots.iter().flat_map(|r| [r.join("libpod_parent/conmon"), r.join("libpod_parent")]).collect()
}

/// Whether `path` is a mount point of this mount namespace.
pub fn is_mount_point(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

impl Podman {
    /// Storage in a new temp dir named after `what`, the janitor watching, and the image
    /// `wsimg` imported from `rootfs`.
    /// `runtime` is what podman calls (its default if `None`); `others`, other runtimes the
    /// caller passes with `--runtime` on its own.
    pub fn new(what: &str, runtime: Option<&str>, others: &[&str], rootfs: &Path) -> Podman {
        let dir = std::env::temp_dir().join(format!("ws-{what}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let nft = Command::new("nft").args(["list", "ruleset"]).output();
        let ruleset = nft.map(|o| o.stdout).unwrap_or_default();
        std::fs::write(dir.join("nft.before"), &ruleset).unwrap();
        let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
        let mut script = String::from("trap '' INT TERM HUP QUIT\ncat >/dev/null\n");
        let d = quote(&dir);
        let runtime_flag =
            runtime.map(|r| format!("--runtime {}", quote(Path::new(r)))).unwrap_or_default();
        // First the podman commands of this storage end: one the test started (killed in the
        // middle of `podman run`, or a container would come up after the clean-up). After the
        // containers are gone, conmon ends too, with the `podman container cleanup` it runs
        // (which mounts the storage again), before the mounts are undone. Each pattern is spelt
        // in two pieces so that it does not match this script's own text.
        script.push_str(&format!(
            "quiet() {{ for i in $(seq 300); do pgrep -f -- \"$1\" >/dev/null || return 0; sleep 0.1; done; }}\n\
             quiet '--root {0}/ro''ot'\n",
            dir.display()
        ));
        script.push_str(&format!(
            "podman --root {d}/root --runroot {d}/runroot --tmpdir {d}/tmp {runtime_flag} \
             --cgroup-manager cgroupfs --events-backend file rm --all --force --time 0 >/dev/null 2>&1\n"
        ));
        // A container podman lost track of (its `podman run` was killed between the runtime's
        // create and the record of it) is still the runtime's: deleted through the runtime.
        let runtimes: Vec<String> = runtime
            .into_iter()
            .chain(others.iter().copied())
            .chain(["runc"])
            .map(|r| quote(Path::new(r)))
            .collect();
        script.push_str(&format!(
            "for r in {}; do \"$r\" list 2>/dev/null | awk -v d={d}/ \
             '{{ for (i = 2; i <= NF; i++) if (index($i, d) == 1) {{ print $1; break }} }}' | \
             while read -r id; do \"$r\" delete --force \"$id\"; done; done\n\
             quiet '{}/ro''ot'\n\
             awk -v d={d}/ 'index($5, d) == 1 {{ print $5 }}' /proc/self/mountinfo | sort -r | \
             while read -r m; do umount \"$m\"; done\n",
            runtimes.join(" "),
            dir.display()
        ));
        // The firewall and forwarding as they were (netavark adds chains and turns it on).
        script.push_str(&format!(
            "nft flush ruleset\n[ -s {d}/nft.before ] && nft -f {d}/nft.before\n"
        ));
        if !forward.is_empty() {
            script.push_str(&format!("echo {} > /proc/sys/net/ipv4/ip_forward\n", forward.trim()));
        }
        // conmon's cgroups empty once its containers are gone: a few tries while it exits.
        let cgroups: Vec<String> =
            podman_cgroups().into_iter().filter(|c| !c.exists()).map(|c| quote(&c)).collect();
        if !cgroups.is_empty() {
            let list = cgroups.join(" ");
            script.push_str(&format!(
                "for i in $(seq 50); do rmdir {list} 2>/dev/null; left=; \
                 for c in {list}; do [ -d \"$c\" ] && left=1; done; [ -z \"$left\" ] && break; \
                 sleep 0.2; done\n"
            ));
        }
        if !is_mount_point("/run/netns") {
            script.push_str("grep -q ' /run/netns ' /proc/self/mountinfo && umount /run/netns\n");
        }
        if !Path::new("/run/netns").exists() {
            script.push_str("rmdir /run/netns 2>/dev/null\n");
        }
        for p in PODMAN_DIRS.iter().filter(|p| !Path::new(p).exists()) {
            script.push_str(&format!("rm -rf {p}\n"));
        }
        script.push_str(&format!("rm -rf {d}\n"));
        let mut janitor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the janitor (sh)");
        let wake = janitor.stdin.take();
        let p = Podman { dir, runtime: runtime.map(str::to_string), janitor, wake };
        let mut tar = Command::new("tar")
            .args(["-C", rootfs.to_str().unwrap(), "-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let tar_out = tar.stdout.take().unwrap();
        let import = p.command(&["import", "-", "wsimg"]).stdin(tar_out).output().unwrap();
        assert!(tar.wait().unwrap().success(), "tar of {}", rootfs.display());
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        p
    }

    /// `podman` with this storage, cgroupfs, file events and the runtime, then `args`.
    pub fn command(&self, args: &[&str]) -> Command {
        let d = |sub: &str| self.dir.join(sub).display().to_string();
        let mut cmd = Command::new("podman");
        cmd.args(["--root", &d("root"), "--runroot", &d("runroot"), "--tmpdir", &d("tmp")]).args([
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]);
        if let Some(r) = &self.runtime {
            cmd.args(["--runtime", r]);
        }
        cmd.args(args).stdin(Stdio::null());
        cmd
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        if let Some(mut wake) = self.wake.take() {
            let _ = wake.flush();
        }
        let _ = self.janitor.wait();
    }
}
