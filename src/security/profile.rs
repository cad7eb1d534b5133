//! Docker's seccomp profile format (the JSON of `--security-opt seccomp=FILE`), read with serde,
//! and resolved for one container the way Docker resolves it.
//!
//! A profile is a default action (Docker's: fail with EPERM) and a list of rules, each naming
//! system calls and the action for them (mostly "allow"), maybe only when an argument matches
//! (`socket` only for some address families, `personality` only for a few values). A rule can
//! apply only `includes`/`excludes` some capabilities, architectures or a minimum kernel: Docker
//! resolves those against the container's final capability set, the machine's architecture and
//! its kernel before compiling ([`Profile::resolve`]). So `--cap-add SYS_ADMIN` also allows
//! `mount` and `unshare` — the capability would be useless without the system call.
//!
//! The default profile is data, not code: `default-seccomp.json` beside this file is moby's
//! `profiles/seccomp/default.json`, byte for byte.

use super::caps::CapabilitySet;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Docker's default seccomp profile (moby `profiles/seccomp/default.json`).
pub const DEFAULT_PROFILE_JSON: &str = include_str!("default-seccomp.json");

/// A profile as written in the file. Fields Docker ignores for a filter (`archMap`,
/// `listenerPath`, `flags`…) are read and ignored.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// One rule of a profile's `syscalls` list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// The old one-name form, still accepted by Docker.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// When a rule applies: all of `caps` held, one of `arches`, a kernel at least `min_kernel`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// A condition on one argument of the system call: `args[index] OP value`; for `SCMP_CMP_MASKED_EQ`
/// `value` is the mask and `valueTwo` what the masked argument must equal (libseccomp's order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u8,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    Ne,
    #[serde(rename = "SCMP_CMP_LT")]
    Lt,
    #[serde(rename = "SCMP_CMP_LE")]
    Le,
    #[serde(rename = "SCMP_CMP_EQ")]
    Eq,
    #[serde(rename = "SCMP_CMP_GE")]
    Ge,
    #[serde(rename = "SCMP_CMP_GT")]
    Gt,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEq,
}

/// An action as the file names it; the errno (or trace value) comes from `errnoRet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Action {
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_KILL", alias = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

/// An action with its value: what the compiled filter returns to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verdict {
    Allow,
    /// Fail the call with this errno (1 is EPERM, 38 ENOSYS).
    Errno(u32),
    KillThread,
    KillProcess,
    /// Send SIGSYS.
    Trap,
    /// Tell a ptrace tracer, with this value.
    Trace(u32),
    /// Allow, and log it.
    Log,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Allow => f.write_str("ALLOW"),
            Verdict::Errno(n) => {
                let name = nix::errno::Errno::from_raw(*n as i32);
                write!(f, "ERRNO({n}) {name:?}: {}", name.desc())
            }
            Verdict::KillThread => f.write_str("KILL_THREAD"),
            Verdict::KillProcess => f.write_str("KILL_PROCESS"),
            Verdict::Trap => f.write_str("TRAP (SIGSYS)"),
            Verdict::Trace(n) => write!(f, "TRACE({n})"),
            Verdict::Log => f.write_str("LOG (allowed, logged)"),
        }
    }
}

fn verdict(action: Action, errno_ret: Option<u32>, what: &str) -> anyhow::Result<Verdict> {
    Ok(match action {
        Action::Allow => Verdict::Allow,
        // runc's default errno for SCMP_ACT_ERRNO without errnoRet is EPERM.
        Action::Errno => Verdict::Errno(errno_ret.unwrap_or(libc::EPERM as u32)),
        Action::KillThread => Verdict::KillThread,
        Action::KillProcess => Verdict::KillProcess,
        Action::Trap => Verdict::Trap,
        Action::Trace => Verdict::Trace(errno_ret.unwrap_or(libc::EPERM as u32)),
        Action::Log => Verdict::Log,
        Action::Notify => bail!(
            "{what}: SCMP_ACT_NOTIFY needs a seccomp agent listening, which the workshop has not; \
             use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW"
        ),
    })
}

/// A rule after resolution: these names get `verdict` when every condition holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub names: Vec<String>,
    pub verdict: Verdict,
    pub args: Vec<Arg>,
}

/// A profile resolved for one container: no more includes/excludes, only what applies here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub default: Verdict,
    pub rules: Vec<Rule>,
}

/// What a profile's rules are resolved against.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// The container's final capability set (its bounding set).
    pub caps: &'a CapabilitySet,
    /// The architecture in Go's words, as profiles write it: `amd64`, `arm64`, `riscv64`.
    pub arch: &'a str,
    /// The running kernel, (major, minor).
    pub kernel: (u32, u32),
}

/// This machine's architecture in Go's words (what `includes.arches` in a profile names).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The running kernel's (major, minor), from uname(2).
pub fn running_kernel() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// `6.18.44-fc-v669` → (6, 18).
pub fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl Profile {
    /// Docker's default profile.
    pub fn docker_default() -> Profile {
        Profile::parse(DEFAULT_PROFILE_JSON, "the default profile").expect("default-seccomp.json")
    }

    /// Parses a profile's JSON; `origin` names it in the error (the file's path).
    pub fn parse(json: &str, origin: &str) -> anyhow::Result<Profile> {
        let profile: Profile = serde_json::from_str(json).map_err(|e| {
            anyhow::anyhow!(
                "--security-opt seccomp={origin}: not a seccomp profile in Docker's JSON format \
                 ({e}); start from Docker's default profile (moby's profiles/seccomp/default.json, also in this repo as src/security/default-seccomp.json) or use seccomp=unconfined"
            )
        })?;
        for rule in &profile.syscalls {
            if rule.name.is_some() && !rule.names.is_empty() {
                bail!(
                    "--security-opt seccomp={origin}: a rule has both \"name\" and \"names\"; \
                     use \"names\" only"
                );
            }
        }
        Ok(profile)
    }

    /// Reads and parses a profile file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "--security-opt seccomp={}: cannot read the file; give the path of a JSON profile \
                 or seccomp=unconfined",
                path.display()
            )
        })?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// Keeps the rules that apply to `target`, exactly as Docker's `setupSeccomp` decides: a rule
    /// is dropped when its `excludes` match (an arch listed; any listed capability held; the
    /// kernel at least `minKernel`) or its `includes` do not (arch not listed; a listed
    /// capability missing; the kernel older than `minKernel`).
    pub fn resolve(&self, target: &Target) -> anyhow::Result<Resolved> {
        let default = verdict(self.default_action, self.default_errno_ret, "defaultAction")?;
        let min_kernel = |v: &Option<String>| -> anyhow::Result<Option<(u32, u32)>> {
            v.as_deref()
                .map(|s| {
                    parse_kernel(s).ok_or_else(|| {
                        anyhow::anyhow!(
                            "seccomp profile: minKernel {s:?} is not a version like 4.8"
                        )
                    })
                })
                .transpose()
        };
        let mut rules = Vec::new();
        for rule in &self.syscalls {
            let ex = rule.excludes.clone().unwrap_or_default();
            let inc = rule.includes.clone().unwrap_or_default();
            let arch_in = |a: &Option<Vec<String>>| {
                a.as_ref().is_some_and(|l| l.iter().any(|x| x == target.arch))
            };
            if arch_in(&ex.arches) {
                continue;
            }
            if ex.caps.iter().flatten().any(|c| target.caps.contains_name(c)) {
                continue;
            }
            if min_kernel(&ex.min_kernel)?.is_some_and(|k| target.kernel >= k) {
                continue;
            }
            if inc.arches.as_ref().is_some_and(|l| !l.is_empty()) && !arch_in(&inc.arches) {
                continue;
            }
            if !inc.caps.iter().flatten().all(|c| target.caps.contains_name(c)) {
                continue;
            }
            if min_kernel(&inc.min_kernel)?.is_some_and(|k| target.kernel < k) {
                continue;
            }
            let names: Vec<String> = rule.name.iter().chain(&rule.names).cloned().collect();
            let what = format!("the rule for {}", names.join(","));
            rules.push(Rule {
                verdict: verdict(rule.action, rule.errno_ret, &what)?,
                names,
                args: rule.args.clone().unwrap_or_default(),
            });
        }
        Ok(Resolved { default, rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caps::Capability;

    fn target(caps: &CapabilitySet) -> Target<'_> {
        Target { caps, arch: "amd64", kernel: (6, 1) }
    }

    fn allowed(r: &Resolved, name: &str) -> bool {
        r.rules.iter().any(|rule| {
            rule.verdict == Verdict::Allow
                && rule.args.is_empty()
                && rule.names.iter().any(|n| n == name)
        })
    }

    #[test]
    fn the_real_default_profile_parses() {
        let p = Profile::docker_default();
        assert_eq!(p.default_action, Action::Errno);
        assert_eq!(p.default_errno_ret, Some(1));
        assert!(p.syscalls.len() > 50, "{}", p.syscalls.len());
        assert!(p.syscalls[0].names.len() > 300);
        assert!(p.syscalls[0].names.iter().any(|n| n == "getpid"));
        // The famous ones are not in the unconditional allow-list.
        for n in
            ["keyctl", "add_key", "request_key", "unshare", "mount", "bpf", "ptrace", "kexec_load"]
        {
            assert!(!p.syscalls[0].names.iter().any(|x| x == n), "{n}");
        }
    }

    #[test]
    fn rules_are_resolved_by_capability() {
        let p = Profile::docker_default();
        let default = CapabilitySet::docker_default();
        let r = p.resolve(&target(&default)).unwrap();
        assert_eq!(r.default, Verdict::Errno(1));
        assert!(allowed(&r, "getpid") && allowed(&r, "chroot")); // CAP_SYS_CHROOT is a default
        assert!(!allowed(&r, "mount") && !allowed(&r, "unshare") && !allowed(&r, "kcmp"));
        // Without CAP_SYS_ADMIN: clone only without namespace flags, clone3 fails with ENOSYS.
        assert!(r.rules.iter().any(|x| x.names == ["clone"] && x.args[0].op == Op::MaskedEq));
        assert!(r.rules.iter().any(|x| x.names == ["clone3"] && x.verdict == Verdict::Errno(38)));

        let admin = CapabilitySet::new(default.iter().chain([Capability::CAP_SYS_ADMIN]));
        let r = p.resolve(&target(&admin)).unwrap();
        assert!(allowed(&r, "mount") && allowed(&r, "unshare") && allowed(&r, "clone3"));
        assert!(!r.rules.iter().any(|x| x.verdict == Verdict::Errno(38)));

        let ptrace = CapabilitySet::new([Capability::CAP_SYS_PTRACE]);
        let r = p.resolve(&target(&ptrace)).unwrap();
        assert!(allowed(&r, "kcmp") && !allowed(&r, "chroot"));
    }

    #[test]
    fn rules_are_resolved_by_arch_and_kernel() {
        let p = Profile::docker_default();
        let caps = CapabilitySet::docker_default();
        let amd64 = p.resolve(&target(&caps)).unwrap();
        assert!(allowed(&amd64, "arch_prctl") && allowed(&amd64, "modify_ldt"));
        assert!(!allowed(&amd64, "set_tls") && !allowed(&amd64, "s390_runtime_instr"));
        let arm64 = p.resolve(&Target { caps: &caps, arch: "arm64", kernel: (6, 1) }).unwrap();
        assert!(allowed(&arm64, "set_tls") && !allowed(&arm64, "arch_prctl"));
        // ptrace is allowed from 4.8 on (before it, seccomp could be bypassed through ptrace).
        assert!(allowed(&amd64, "ptrace"));
        let old = p.resolve(&Target { caps: &caps, arch: "amd64", kernel: (4, 4) }).unwrap();
        assert!(!allowed(&old, "ptrace"));
        assert_eq!(parse_kernel("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
    }

    #[test]
    fn bad_json_is_one_line_naming_the_flag() {
        for bad in ["{", "[]", "{\"defaultAction\": \"SCMP_ACT_MAYBE\"}", "not json"] {
            let e = Profile::parse(bad, "my.json").unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
            assert!(e.starts_with("--security-opt seccomp=my.json:"), "{e}");
            assert!(e.contains("unconfined"), "{e}");
        }
    }
}
