//! The narrow door every set-up step goes through to the kernel: a trait with one method per
//! system call the steps make, a real implementation over nix, and a recording double.
//!
//! The double is what lets `cargo test` check, without root, that each stage's container is set up
//! by the right calls in the right order (private propagation before any mount, /proc mounted before
//! pivot_root, the hostname after it, …). In the spirit of youki's `Syscall` trait.

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// The system calls of the container's set-up.
pub trait Syscalls {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, dir: &Path) -> nix::Result<()>;
    /// mkdir -p: the mount points a root filesystem may lack.
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()>;
    /// An empty file, to bind-mount a device onto.
    fn create_file(&self, path: &Path) -> std::io::Result<()>;
    fn symlink(&self, target: &Path, link: &Path) -> std::io::Result<()>;
    /// mknod(2), then chmod to `mode` (mknod is filtered by the umask).
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> nix::Result<()>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setresgid(&self, gid: u32) -> nix::Result<()>;
    fn setresuid(&self, uid: u32) -> nix::Result<()>;
    fn setgroups_none(&self) -> nix::Result<()>;
    /// PR_SET_PDEATHSIG(SIGKILL): die with the stage (set again after a change of uid clears it).
    fn set_death_signal(&self) -> nix::Result<()>;
    /// move_mount(2) of a detached tree (an idmapped root filesystem) onto `target`.
    fn move_mount(&self, tree: BorrowedFd<'_>, target: &Path) -> std::io::Result<()>;
    /// The container's side of its network, through netlink: many messages, recorded as one call.
    fn network_inside(
        &self,
        net: &crate::network::NetworkConfig,
        container_end: &str,
    ) -> anyhow::Result<()>;
    fn loopback_only(&self) -> anyhow::Result<()>;
    /// Stage 08 on AppArmor hosts: the next execve runs under this profile (a write to
    /// /proc/self/attr/apparmor/exec).
    fn apparmor_exec(&self, profile: &str) -> anyhow::Result<()>;
    /// Stage 08's last step: capabilities, no_new_privs, user, descriptors, seccomp (see
    /// [`crate::security::drop_privileges`]); recorded as one call.
    fn drop_privileges(
        &self,
        security: &crate::security::SecurityConfig,
        exercise: Option<crate::security::Harden>,
    ) -> anyhow::Result<()>;
}

/// The kernel, through nix.
pub struct Real;

impl Syscalls for Real {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }
    fn chdir(&self, dir: &Path) -> nix::Result<()> {
        nix::unistd::chdir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn create_file(&self, path: &Path) -> std::io::Result<()> {
        std::fs::File::create(path).map(drop)
    }
    fn symlink(&self, target: &Path, link: &Path) -> std::io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, mode, dev)?;
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
    }
    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }
    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        let g = nix::unistd::Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g)
    }
    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        let u = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u)
    }
    fn setgroups_none(&self) -> nix::Result<()> {
        nix::unistd::setgroups(&[])
    }
    fn set_death_signal(&self) -> nix::Result<()> {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes plain integers.
        let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        nix::errno::Errno::result(rc).map(drop)
    }
    fn move_mount(&self, tree: BorrowedFd<'_>, target: &Path) -> std::io::Result<()> {
        crate::userns::move_mount_tree(tree, target)
    }
    fn network_inside(
        &self,
        net: &crate::network::NetworkConfig,
        container_end: &str,
    ) -> anyhow::Result<()> {
        crate::network::inside(net, container_end)
    }
    fn loopback_only(&self) -> anyhow::Result<()> {
        crate::network::loopback_only()
    }
    fn drop_privileges(
        &self,
        security: &crate::security::SecurityConfig,
        exercise: Option<crate::security::Harden>,
    ) -> anyhow::Result<()> {
        crate::security::drop_privileges(security, exercise)
    }
    fn apparmor_exec(&self, profile: &str) -> anyhow::Result<()> {
        crate::security::apparmor::exec_under(profile)
    }
}

/// A double that makes no call and writes each one down, as a person would read it:
/// `mount(none, /, -, MS_REC | MS_PRIVATE, -)`. Every call succeeds.
#[derive(Default)]
pub struct Recorder {
    calls: RefCell<Vec<String>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// `MS_REC | MS_PRIVATE`, in the kernel's names.
fn ms_names(flags: MsFlags) -> String {
    let names: Vec<String> = flags.iter_names().map(|(n, _)| n.to_string()).collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join(" | ")
    }
}

impl Syscalls for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let source = source.map(|s| s.display().to_string()).unwrap_or_else(|| "none".into());
        self.log(format!(
            "mount({source}, {}, {}, {}, {})",
            target.display(),
            opt(fstype),
            ms_names(flags),
            opt(data)
        ));
        Ok(())
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        self.log(format!("umount2({}, {})", target.display(), names.join(" | ")));
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.log(format!("pivot_root({}, {})", new_root.display(), put_old.display()));
        Ok(())
    }
    fn chdir(&self, dir: &Path) -> nix::Result<()> {
        self.log(format!("chdir({})", dir.display()));
        Ok(())
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.log(format!("mkdir -p {}", dir.display()));
        Ok(())
    }
    fn create_file(&self, path: &Path) -> std::io::Result<()> {
        self.log(format!("touch {}", path.display()));
        Ok(())
    }
    fn symlink(&self, target: &Path, link: &Path) -> std::io::Result<()> {
        self.log(format!("symlink({}, {})", target.display(), link.display()));
        Ok(())
    }
    fn mknod(&self, path: &Path, _kind: SFlag, mode: Mode, dev: u64) -> nix::Result<()> {
        let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
        self.log(format!("mknod({}, c {major}:{minor}, {:o})", path.display(), mode.bits()));
        Ok(())
    }
    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.log(format!("sethostname({name})"));
        Ok(())
    }
    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        self.log(format!("setresgid({gid})"));
        Ok(())
    }
    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        self.log(format!("setresuid({uid})"));
        Ok(())
    }
    fn setgroups_none(&self) -> nix::Result<()> {
        self.log("setgroups([])".into());
        Ok(())
    }
    fn set_death_signal(&self) -> nix::Result<()> {
        self.log("prctl(PR_SET_PDEATHSIG, SIGKILL)".into());
        Ok(())
    }
    fn move_mount(&self, _tree: BorrowedFd<'_>, target: &Path) -> std::io::Result<()> {
        self.log(format!("move_mount(TREE, {})", target.display()));
        Ok(())
    }
    fn network_inside(
        &self,
        net: &crate::network::NetworkConfig,
        container_end: &str,
    ) -> anyhow::Result<()> {
        self.log(format!(
            "netlink: {container_end} → eth0 {}/{} via {}",
            net.address, net.subnet.prefix_len, net.gateway
        ));
        Ok(())
    }
    fn loopback_only(&self) -> anyhow::Result<()> {
        self.log("netlink: lo up".into());
        Ok(())
    }
    fn apparmor_exec(&self, profile: &str) -> anyhow::Result<()> {
        self.log(format!("write(/proc/self/attr/apparmor/exec, \"exec {profile}\")"));
        Ok(())
    }
    fn drop_privileges(
        &self,
        security: &crate::security::SecurityConfig,
        _exercise: Option<crate::security::Harden>,
    ) -> anyhow::Result<()> {
        let seccomp = match &security.seccomp {
            crate::security::Seccomp::Unconfined => "unconfined".to_string(),
            crate::security::Seccomp::Profile { source, .. } => source.clone(),
        };
        self.log(format!(
            "drop privileges: {} capabilities, no_new_privs {}, uid {}, seccomp {seccomp}",
            security.caps.names().len(),
            security.no_new_privs,
            security.user.uid
        ));
        Ok(())
    }
}
