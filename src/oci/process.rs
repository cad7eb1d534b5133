//! `process` of config.json (or of `exec --process`): who the program runs as and with what it
//! may do, applied in the last steps before execve(2). The container's first process and every
//! exec'd one go through [`harden_and_exec`], so the two cannot drift apart.

use anyhow::{bail, Context};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, Process};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Everything needed at the end, prepared before the process loses its privileges (and, for the
/// container's first process, before pivot_root: the seccomp filter is compiled on the host).
pub struct Prepared {
    pub process: Process,
    pub seccomp: Option<crate::security::seccomp::Compiled>,
}

/// A capability as config.json names it (`CAP_NET_RAW`), in the caps crate's terms.
fn capability(c: &oci_spec::runtime::Capability) -> anyhow::Result<Capability> {
    let name = serde_json::to_value(c)?;
    let name = name.as_str().unwrap_or_default();
    name.parse::<Capability>()
        .map_err(|_| super::fail(format!("process.capabilities: {name} is not known here")))
}

fn set(list: &Option<oci_spec::runtime::Capabilities>) -> anyhow::Result<CapsHashSet> {
    list.iter().flatten().map(capability).collect()
}

/// The five capability sets (see capabilities(7)); a set config.json leaves out is empty.
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub permitted: CapsHashSet,
    pub ambient: CapsHashSet,
}

pub fn cap_sets(c: &Option<LinuxCapabilities>) -> anyhow::Result<CapSets> {
    let Some(c) = c else {
        let none = CapsHashSet::new;
        return Ok(CapSets {
            bounding: none(),
            effective: none(),
            inheritable: none(),
            permitted: none(),
            ambient: none(),
        });
    };
    Ok(CapSets {
        bounding: set(c.bounding())?,
        effective: set(c.effective())?,
        inheritable: set(c.inheritable())?,
        permitted: set(c.permitted())?,
        ambient: set(c.ambient())?,
    })
}

/// `RLIMIT_NOFILE` → the resource number setrlimit(2) takes.
fn rlimit_resource(r: &PosixRlimit) -> anyhow::Result<libc::__rlimit_resource_t> {
    let name = serde_json::to_value(r.typ())?;
    Ok(match name.as_str().unwrap_or_default() {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        other => bail!("process.rlimits: {other} is not a Linux resource limit"),
    })
}

/// setrlimit(2) for each of `process.rlimits`.
pub fn set_rlimits(process: &Process) -> anyhow::Result<()> {
    for r in process.rlimits().iter().flatten() {
        let resource = rlimit_resource(r)?;
        let lim = libc::rlimit { rlim_cur: r.soft(), rlim_max: r.hard() };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!(
                "setrlimit({:?}, soft {}, hard {}): {e} (raising a hard limit needs \
                 CAP_SYS_RESOURCE)",
                r.typ(),
                r.soft(),
                r.hard()
            );
        }
    }
    Ok(())
}

/// `oomScoreAdj`: how eagerly the OOM killer picks this process.
pub fn set_oom_score_adj(process: &Process) -> anyhow::Result<()> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .with_context(|| format!("write {adj} to /proc/self/oom_score_adj"))?;
    }
    Ok(())
}

/// The program to execve: `args[0]` as it is when it has a `/`, else the first match in the
/// process's own PATH (its `env`), as runc looks it up.
fn resolve(arg0: &str, env: &[String]) -> Option<PathBuf> {
    if arg0.contains('/') {
        return Some(PathBuf::from(arg0));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(crate::container::CONTAINER_PATH);
    path.split(':').map(|d| Path::new(d).join(arg0)).find(|p| crate::container::is_executable(p))
}

/// The last steps, in runc's order, then execve(2). Returns only on failure, with the exit code
/// (125 set-up, 126 cannot run, 127 not found) and one line.
///
/// The bounding set is lowered while still root (it needs CAP_SETPCAP); PR_SET_KEEPCAPS keeps
/// the permitted set across the change of user, so that a non-root user can still be given
/// capabilities; then the sets are written, the ambient ones raised, no_new_privs set, and the
/// seccomp filter installed last when no_new_privs allows it (otherwise before the capabilities
/// go, since installing a filter then needs CAP_SYS_ADMIN).
pub fn harden_and_exec(p: &Prepared) -> (i32, String) {
    match harden(p) {
        Ok(()) => {}
        Err(e) => return (125, format!("{e:#}")),
    }
    let args = p.process.args().clone().unwrap_or_default();
    let env = p.process.env().clone().unwrap_or_default();
    let Some(path) = resolve(&args[0], &env) else {
        return (127, format!("{}: executable file not found in $PATH", args[0]));
    };
    let to_c = |s: &String| CString::new(s.as_bytes()).ok();
    let argv: Vec<CString> = args.iter().filter_map(to_c).collect();
    let envp: Vec<CString> = env.iter().filter_map(to_c).collect();
    let Ok(path_c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return (127, "bad path".into());
    };
    let err = nix::unistd::execve(&path_c, &argv, &envp).unwrap_err();
    let code = if err == nix::errno::Errno::ENOENT { 127 } else { 126 };
    (code, format!("exec {}: {}", path.display(), err.desc()))
}

fn harden(p: &Prepared) -> anyhow::Result<()> {
    let process = &p.process;
    let sets = cap_sets(process.capabilities())?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let Some(profile) = process.apparmor_profile().as_ref().filter(|n| !n.is_empty()) {
        crate::security::apparmor::exec_under(profile)?;
    }
    if let (Some(filter), false) = (&p.seccomp, nnp) {
        crate::security::seccomp::apply(filter)?;
    }
    for cap in caps::runtime::thread_all_supported() {
        if !sets.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| anyhow::anyhow!("drop {cap} from the bounding set: {e}"))?;
        }
    }
    let user = process.user();
    // SAFETY: prctl with integers.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let groups: Vec<nix::unistd::Gid> =
        user.additional_gids().iter().flatten().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {} // setgroups denied (rootless)
        Err(e) => return Err(e).context("setgroups(additionalGids)"),
    }
    crate::security::user::apply(&crate::security::user::User {
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        name: None,
        home: None,
    })?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    let fail = |what: &str, e: caps::errors::CapsError| anyhow::anyhow!("capset({what}): {e}");
    caps::set(None, CapSet::Effective, &sets.effective).map_err(|e| fail("effective", e))?;
    caps::set(None, CapSet::Permitted, &sets.permitted).map_err(|e| fail("permitted", e))?;
    caps::set(None, CapSet::Effective, &sets.effective).map_err(|e| fail("effective", e))?;
    caps::set(None, CapSet::Inheritable, &sets.inheritable).map_err(|e| fail("inheritable", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| fail("ambient", e))?;
    // ANCHOR: ambient
    // The kernel raises an ambient capability only if it is permitted and inheritable too;
    // runc skips the others with a warning, and so does this runtime.
    for cap in &sets.ambient {
        if sets.permitted.contains(cap) && sets.inheritable.contains(cap) {
            caps::raise(None, CapSet::Ambient, *cap).map_err(|e| fail("ambient", e))?;
        } else {
            super::log::write("warning", &format!("{cap} is ambient but not inheritable: skipped"));
        }
    }
    // ANCHOR_END: ambient
    if nnp {
        // SAFETY: prctl with integers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            bail!("prctl(PR_SET_NO_NEW_PRIVS): {}", std::io::Error::last_os_error());
        }
        if let Some(filter) = &p.seccomp {
            crate::security::seccomp::apply(filter)?;
        }
    }
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path())
        .with_context(|| format!("chdir to process.cwd {}", cwd.display()))?;
    Ok(())
}
