//! seccomp: a list of the system calls the container may make, enforced by the kernel on every call.
//!
//! A seccomp filter is a small BPF program the kernel runs at the entry of every system call the
//! process (and every child it forks, and every program it execs) makes. It sees the call's
//! number, its architecture and its six arguments (`struct seccomp_data`), and returns a verdict:
//! allow, fail with an errno, kill, or signal. Once installed it can never be removed, only more
//! filters stacked on it. See seccomp(2) and the kernel's Documentation/userspace-api/seccomp_filter.rst.
//!
//! Docker's default profile is an allow-list: about 310 calls on x86_64 that a normal program needs; everything
//! else fails with EPERM. That shuts `keyctl` (the kernel keyring is not namespaced), `bpf`,
//! `unshare`/`mount` (new namespaces are a kernel attack surface), `ptrace` on old kernels,
//! `kexec_load`, `init_module`, `clock_settime`… — most kernel exploits need one of them.
//!
//! The workshop compiles the profile itself ([`compile`]) with rust-vmm's `seccompiler` (the BPF
//! compiler of Firecracker, pure Rust: no libseccomp to install), into a short stack of programs:
//!
//! 1. an **arch guard** written here, 5 instructions: a call made with another architecture's
//!    calling convention is killed (`AUDIT_ARCH_I386`, an `int 0x80` from a 64-bit program, where
//!    number 20 is getpid instead of 20 = writev: every rule below would mean a different call), and
//!    on x86_64 a call whose number has the x32 bit (`0x40000000`) set fails with EPERM — x32
//!    shares the x86_64 arch value, so a deny-list that forgets this is bypassed by adding the bit;
//! 2. the **allow-list**: the allowed numbers (with their argument conditions) → ALLOW, anything
//!    else → the default action (EPERM). An x32 number matches no rule, so it would fail here too;
//! 3. one more program per other action in the profile (Docker's has one: `clone3` → ENOSYS when
//!    CAP_SYS_ADMIN is not held, so that glibc falls back to `clone`, whose flags can be checked —
//!    clone3's are in memory, out of a filter's reach): those calls → that action, others → ALLOW.
//!
//! With several filters the kernel runs them all and takes the most severe verdict (KILL > TRAP >
//! ERRNO > TRACE > LOG > ALLOW); between two ERRNOs the most recently installed filter's wins, which
//! is why (3) is installed after (2). seccompiler builds one filter with one "match" action, hence
//! the stack; that is the one thing Docker's profile needs that it cannot say in a single program.

use super::profile::{Op, Resolved, Verdict};
use anyhow::bail;
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::{BTreeMap, BTreeSet};

/// The native architecture's system call table: `name number` lines (see syscalls/*.txt).
fn native_table() -> anyhow::Result<(&'static str, &'static str)> {
    Ok(match std::env::consts::ARCH {
        "x86_64" => ("x86_64", include_str!("syscalls/x86_64.txt")),
        "aarch64" => ("aarch64", include_str!("syscalls/aarch64.txt")),
        "riscv64" => ("riscv64", include_str!("syscalls/riscv64.txt")),
        other => bail!(
            "seccomp filters are built here for x86_64, aarch64 and riscv64 only, not {other}; \
             use --security-opt seccomp=unconfined"
        ),
    })
}

fn parse_table(text: &str) -> impl Iterator<Item = (&str, i64)> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let (name, nr) = l.split_once(' ')?;
        Some((name, nr.trim().parse().ok()?))
    })
}

/// The number of system call `name` on this machine, if it has one.
pub fn syscall_number(name: &str) -> Option<i64> {
    let (_, table) = native_table().ok()?;
    parse_table(table).find(|(n, _)| *n == name).map(|(_, nr)| nr)
}

/// Whether `name` is a system call on some architecture (so a profile may name it, as Docker's
/// names `chown32` for i386 and `set_tls` for ARM), as opposed to a typing mistake.
pub fn is_known_syscall(name: &str) -> bool {
    let tables = [
        include_str!("syscalls/x86_64.txt"),
        include_str!("syscalls/aarch64.txt"),
        include_str!("syscalls/riscv64.txt"),
        include_str!("syscalls/i386.txt"),
    ];
    tables.iter().any(|t| parse_table(t).any(|(n, _)| n == name))
        || super::profile::Profile::docker_default()
            .syscalls
            .iter()
            .any(|r| r.names.iter().any(|n| n == name))
}

/// `AUDIT_ARCH_*` of the native architecture (linux/audit.h), what `seccomp_data.arch` holds.
fn audit_arch(arch: &str) -> u32 {
    match arch {
        "x86_64" => 0xc000_003e,
        "aarch64" => 0xc000_00b7,
        _ => 0xc000_00f3, // riscv64
    }
}

/// The x32 ABI's bit in the system call number (x86_64 only).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One allowed call as the student reads it: the name, and the argument conditions (empty: always).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedCall {
    pub name: String,
    pub nr: i64,
    /// Each entry is one way to be allowed (OR); within it all conditions hold (AND).
    pub when: Vec<Vec<String>>,
}

/// A compiled filter: the BPF programs to install in order, and what they say, for [`render`].
#[derive(Clone, Debug)]
pub struct Compiled {
    pub arch: &'static str,
    pub default: Verdict,
    /// Installed first to last: the arch guard, the allow-list, then one per other verdict.
    pub programs: Vec<(String, BpfProgram)>,
    /// Per verdict, the calls that get it.
    pub calls: BTreeMap<Verdict, Vec<ListedCall>>,
    /// Names in the profile that this architecture does not have (skipped, as libseccomp does).
    pub not_here: BTreeSet<String>,
}

impl Compiled {
    /// The number of BPF instructions of all programs together.
    pub fn instructions(&self) -> usize {
        self.programs.iter().map(|(_, p)| p.len()).sum()
    }
}

fn condition(arg: &super::profile::Arg) -> anyhow::Result<(SeccompCondition, String)> {
    let i = arg.index;
    // Small numbers (address families, …) in decimal, flag masks in hex.
    let num = |v: u64| if v < 256 { v.to_string() } else { format!("{v:#x}") };
    let (op, value, text) = match arg.op {
        Op::Eq => (SeccompCmpOp::Eq, arg.value, format!("arg{i} == {}", num(arg.value))),
        Op::Ne => (SeccompCmpOp::Ne, arg.value, format!("arg{i} != {}", num(arg.value))),
        Op::Lt => (SeccompCmpOp::Lt, arg.value, format!("arg{i} < {}", arg.value)),
        Op::Le => (SeccompCmpOp::Le, arg.value, format!("arg{i} <= {}", arg.value)),
        Op::Gt => (SeccompCmpOp::Gt, arg.value, format!("arg{i} > {}", arg.value)),
        Op::Ge => (SeccompCmpOp::Ge, arg.value, format!("arg{i} >= {}", arg.value)),
        // libseccomp's order: `value` is the mask, `valueTwo` what the masked argument must be.
        Op::MaskedEq => (
            SeccompCmpOp::MaskedEq(arg.value),
            arg.value_two,
            format!("arg{i} & {:#x} == {:#x}", arg.value, arg.value_two),
        ),
    };
    // Whole 64-bit arguments, as libseccomp compares them for Docker.
    let c = SeccompCondition::new(i, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| anyhow::anyhow!("seccomp profile: argument index {i}: {e}"))?;
    Ok((c, text))
}

fn action(v: Verdict) -> SeccompAction {
    match v {
        Verdict::Allow => SeccompAction::Allow,
        Verdict::Errno(n) => SeccompAction::Errno(n),
        Verdict::KillThread => SeccompAction::KillThread,
        Verdict::KillProcess => SeccompAction::KillProcess,
        Verdict::Trap => SeccompAction::Trap,
        Verdict::Trace(n) => SeccompAction::Trace(n),
        Verdict::Log => SeccompAction::Log,
    }
}

/// The arch guard (see the module's doc): kill another architecture's calls, refuse x32 numbers.
fn arch_guard(arch: &str) -> BpfProgram {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let x32_bit = if arch == "x86_64" { X32_SYSCALL_BIT } else { 0 };
    vec![
        ins(LD_W_ABS, 0, 0, 4), // A = seccomp_data.arch
        ins(JEQ_K, 1, 0, audit_arch(arch)),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
        ins(LD_W_ABS, 0, 0, 0), // A = seccomp_data.nr
        ins(JSET_K, 0, 1, x32_bit),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Compiles a resolved profile for this machine's architecture. A name no architecture has is an
/// error (a typing mistake must not silently allow or deny); a name only other architectures
/// have is skipped, as libseccomp does.
pub fn compile(profile: &Resolved) -> anyhow::Result<Compiled> {
    compile_with(profile, true)
}

/// [`compile`], with `strict` false for a profile an engine wrote (the OCI runtime's): there a
/// name this machine's tables lack is skipped, as runc and libseccomp skip it, since engines
/// list calls of architectures the workshop has no table for (`pciconfig_iobase`).
pub fn compile_with(profile: &Resolved, strict: bool) -> anyhow::Result<Compiled> {
    let (arch, table) = native_table()?;
    let numbers: BTreeMap<&str, i64> = parse_table(table).collect();
    // verdict → nr → None (always) or the alternatives (each an AND of conditions).
    type Chains = BTreeMap<i64, Option<Vec<Vec<(SeccompCondition, String)>>>>;
    let mut by_verdict: BTreeMap<Verdict, (Chains, BTreeMap<i64, String>)> = BTreeMap::new();
    let mut not_here = BTreeSet::new();
    for rule in &profile.rules {
        if rule.verdict == profile.default {
            continue; // what every unlisted call gets anyway
        }
        // runc: conditions on distinct arguments are ANDed in one rule; two on the same argument
        // cannot be (libseccomp refuses), so each becomes a rule of its own (ORed).
        let mut seen = BTreeSet::new();
        let repeated = rule.args.iter().any(|a| !seen.insert(a.index));
        let alternatives: Vec<Vec<_>> = if repeated {
            rule.args.iter().map(|a| condition(a).map(|c| vec![c])).collect::<Result<_, _>>()?
        } else {
            vec![rule.args.iter().map(condition).collect::<Result<_, _>>()?]
        };
        for name in &rule.names {
            let Some(&nr) = numbers.get(name.as_str()) else {
                if strict && !is_known_syscall(name) {
                    bail!(
                        "--security-opt seccomp: the profile names {name:?}, which is no system \
                         call; check its spelling against syscalls(2)"
                    );
                }
                not_here.insert(name.clone());
                continue;
            };
            let (chains, names) = by_verdict.entry(rule.verdict).or_default();
            names.insert(nr, name.clone());
            let entry = chains.entry(nr).or_insert_with(|| Some(Vec::new()));
            match (entry.as_mut(), rule.args.is_empty()) {
                (_, true) => *entry = None,
                (Some(alts), false) => alts.extend(alternatives.iter().cloned()),
                (None, false) => {} // already allowed whatever the arguments
            }
        }
    }

    let target = TargetArch::try_from(arch).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut programs = vec![("arch guard".to_string(), arch_guard(arch))];
    let mut calls = BTreeMap::new();
    // The allow-list first (or nothing, when the default is to allow), then the others.
    let allowed = by_verdict.remove(&Verdict::Allow).unwrap_or_default();
    let allow_first = (profile.default != Verdict::Allow).then_some((Verdict::Allow, allowed));
    for (verdict, (chains, names)) in allow_first.into_iter().chain(by_verdict) {
        let mut rules = BTreeMap::new();
        let mut listed = Vec::new();
        for (nr, chain) in chains {
            let (seccomp_rules, when) = match chain {
                None => (vec![], vec![]),
                Some(alts) => {
                    let rules = alts
                        .iter()
                        .map(|a| SeccompRule::new(a.iter().map(|(c, _)| c.clone()).collect()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| anyhow::anyhow!("seccomp rule for {}: {e}", names[&nr]))?;
                    let when = alts.iter().map(|a| a.iter().map(|(_, t)| t.clone()).collect());
                    (rules, when.collect())
                }
            };
            rules.insert(nr, seccomp_rules);
            listed.push(ListedCall { name: names[&nr].clone(), nr, when });
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        // The allow-list's "else" is the profile's default; every other program's is ALLOW.
        let (matched, otherwise) = if verdict == Verdict::Allow {
            (Verdict::Allow, profile.default)
        } else {
            (verdict, Verdict::Allow)
        };
        let filter = SeccompFilter::new(rules, action(otherwise), action(matched), target)
            .map_err(|e| anyhow::anyhow!("seccomp: {e}"))?;
        let program: BpfProgram =
            filter.try_into().map_err(|e: seccompiler::BackendError| anyhow::anyhow!("{e}"))?;
        let title =
            if verdict == Verdict::Allow { "allow-list".to_string() } else { format!("{verdict}") };
        programs.push((title, program));
        calls.insert(verdict, listed);
    }
    Ok(Compiled { arch, default: profile.default, programs, calls, not_here })
}

/// Installs the compiled programs on the calling thread, in order (seccomp(2),
/// SECCOMP_SET_MODE_FILTER). The kernel accepts a filter from a process that has set
/// no_new_privs, or that holds CAP_SYS_ADMIN in its user namespace; otherwise EACCES — so without
/// `--security-opt no-new-privileges` this must run while the container's root still has its
/// capabilities (see [`super::apply_in_child`]). Forked children and exec'd programs keep it.
pub fn apply(compiled: &Compiled) -> anyhow::Result<()> {
    for (title, program) in &compiled.programs {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `program`, alive for the call; the kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            bail!(
                "seccomp(SECCOMP_SET_MODE_FILTER) for the {title} failed: {e} (the kernel wants \
                 no_new_privs set or CAP_SYS_ADMIN held)"
            );
        }
    }
    Ok(())
}

/// Writes `items` joined by `sep` after `first`, in lines of at most 100 columns (a projector's),
/// the following lines indented under the first item.
fn wrap(out: &mut String, first: &str, items: &[&str], sep: &str) {
    let indent = " ".repeat(first.chars().count().min(8));
    let mut row = first.to_string();
    let mut fresh = true;
    for item in items {
        if !fresh && row.chars().count() + sep.len() + item.len() > 100 {
            out.push_str(row.trim_end());
            out.push('\n');
            row = format!("{indent}{}", sep.trim_start());
        } else if !fresh {
            row.push_str(sep);
        }
        row.push_str(item);
        fresh = false;
    }
    if !fresh {
        out.push_str(&row);
        out.push('\n');
    }
}

/// The filter as a student reads it: the architecture handling, the default, every call by
/// verdict (the unconditional ones as a list, the conditional ones one a line with their
/// conditions), what was skipped, and the size of each BPF program.
pub fn render(c: &Compiled) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(
        &mut out,
        &format!(
            "seccomp filter for {} ({} BPF programs, {} instructions in all)",
            c.arch,
            c.programs.len(),
            c.instructions()
        ),
    );
    for (title, p) in &c.programs {
        line(&mut out, &format!("  {title}: {} instructions", p.len()));
    }
    line(&mut out, &format!("architecture: {} calls only", c.arch));
    line(&mut out, "  a call made as another architecture (i386's int 0x80 …) → KILL_PROCESS");
    if c.arch == "x86_64" {
        line(&mut out, "  an x32 call (number | 0x40000000) → ERRNO(1) EPERM");
    }
    line(&mut out, &format!("default (any call not listed below) → {}", c.default));
    for (verdict, calls) in &c.calls {
        let (always, when): (Vec<_>, Vec<_>) = calls.iter().partition(|l| l.when.is_empty());
        let n = calls.len();
        line(&mut out, &format!("{verdict}: {n} system call{}", if n == 1 { "" } else { "s" }));
        let names: Vec<&str> = always.iter().map(|l| l.name.as_str()).collect();
        wrap(&mut out, "    ", &names, " ");
        for l in when {
            let alts: Vec<String> = l.when.iter().map(|a| a.join(" && ")).collect();
            let alts: Vec<&str> = alts.iter().map(String::as_str).collect();
            wrap(&mut out, &format!("    {} only if ", l.name), &alts, " || ");
        }
    }
    if !c.not_here.is_empty() {
        line(&mut out, &format!("not on {} (skipped):", c.arch));
        let names: Vec<&str> = c.not_here.iter().map(String::as_str).collect();
        wrap(&mut out, "    ", &names, " ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::caps::CapabilitySet;
    use crate::security::profile::{go_arch, Profile, Target};

    fn default_for(caps: &CapabilitySet) -> Compiled {
        let target = Target { caps, arch: go_arch(), kernel: (6, 1) };
        compile(&Profile::docker_default().resolve(&target).unwrap()).unwrap()
    }

    /// Runs `body` in a forked child after installing `c` (with no_new_privs, so no root is
    /// needed); returns how the child ended. `body` returns the exit code.
    fn in_filtered_child(c: &Compiled, body: impl FnOnce() -> i32) -> nix::sys::wait::WaitStatus {
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the child only makes raw system calls and _exit()s.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = if nix::sys::prctl::set_no_new_privs().is_ok() && apply(c).is_ok() {
                    body()
                } else {
                    100
                };
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => nix::sys::wait::waitpid(child, None).unwrap(),
        }
    }

    /// errno of a raw system call with these first three arguments, 0 if it succeeded.
    fn errno_of(nr: i64, args: [u64; 3]) -> i32 {
        // SAFETY: test-only; every call below is harmless or fails on its arguments.
        let rc = unsafe { libc::syscall(nr, args[0], args[1], args[2], 0u64, 0u64, 0u64) };
        if rc == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap()
        } else {
            0
        }
    }

    #[test]
    fn the_default_profile_compiles_and_renders() {
        let c = default_for(&CapabilitySet::docker_default());
        assert_eq!(c.default, Verdict::Errno(1));
        assert!(c.programs.len() == 3, "{:?}", c.programs.iter().map(|p| &p.0).collect::<Vec<_>>());
        assert!(c.instructions() > 300 && c.instructions() < 4096, "{}", c.instructions());
        let text = render(&c);
        if std::env::var_os("SHOW_SECCOMP").is_some() {
            println!("{text}");
        }
        assert!(text.contains("default (any call not listed below) → ERRNO(1) EPERM"), "{text}");
        assert!(text.contains(" getpid "), "{text}");
        assert!(text.contains("socket only if arg0 < 12 || arg0 == 13"), "{text}");
        assert!(text.contains("clone only if arg0 & 0x7e020000 == 0x0"), "{text}");
        assert!(text.contains("ERRNO(38) ENOSYS"), "{text}");
        assert!(!text.contains(" keyctl"), "{text}");
        if c.arch == "x86_64" {
            assert!(text.contains("x32"), "{text}");
            // i386's names are in the unconditional list; ARM's were resolved away by arch.
            assert!(c.not_here.contains("chown32") && c.not_here.contains("_llseek"));
            assert!(!c.not_here.contains("set_tls"));
        }
        // Every name in Docker's profile is a system call somewhere.
        for rule in Profile::docker_default().syscalls {
            for n in rule.names {
                assert!(is_known_syscall(&n), "{n}");
            }
        }
    }

    #[test]
    fn an_unknown_syscall_name_is_one_line() {
        let mut r = Profile::docker_default()
            .resolve(&Target {
                caps: &CapabilitySet::docker_default(),
                arch: go_arch(),
                kernel: (6, 1),
            })
            .unwrap();
        r.rules[0].names.push("getpidd".to_string());
        let e = compile(&r).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("--security-opt seccomp") && e.contains("\"getpidd\""), "{e}");
    }

    #[test]
    fn the_compiled_filter_really_blocks_and_allows() {
        use nix::sys::wait::WaitStatus;
        let c = default_for(&CapabilitySet::docker_default());
        let status = in_filtered_child(&c, || {
            let eperm = libc::EPERM;
            let checks = [
                // (system call, arguments, errno expected)
                (libc::SYS_getpid, [0, 0, 0], 0),
                (libc::SYS_write, [1, 0, 0], 0),
                (libc::SYS_keyctl, [0, 0, 0], eperm),
                (libc::SYS_unshare, [libc::CLONE_NEWUSER as u64, 0, 0], eperm),
                (libc::SYS_bpf, [0, 0, 0], eperm),
                (libc::SYS_mount, [0, 0, 0], eperm),
                // socket(AF_INET) is allowed (it fails later for the bad type: EINVAL), AF_VSOCK(40) not.
                (libc::SYS_socket, [libc::AF_INET as u64, 999, 0], libc::EINVAL),
                (libc::SYS_socket, [40, libc::SOCK_STREAM as u64, 0], eperm),
                // clone3 is refused with ENOSYS, so that glibc falls back to clone.
                (libc::SYS_clone3, [0, 0, 0], libc::ENOSYS),
                // clone with a namespace flag is refused (the flags are its first argument); were
                // it let through, the kernel would say EINVAL (CLONE_NEWNS with CLONE_FS).
                (libc::SYS_clone, [(libc::CLONE_NEWNS | libc::CLONE_FS) as u64, 0, 0], eperm),
                // ptrace is allowed from kernel 4.8 on (resolved here as 6.1): peeking at a
                // process we do not trace is ESRCH, not EPERM.
                (libc::SYS_ptrace, [libc::PTRACE_PEEKDATA as u64, 1, 0], libc::ESRCH),
            ];
            for (i, (nr, args, want)) in checks.into_iter().enumerate() {
                if errno_of(nr, args) != want {
                    return 10 + i as i32;
                }
            }
            #[cfg(target_arch = "x86_64")]
            {
                // getpid with the x32 bit: must not run as getpid (nor as anything else).
                let e = errno_of(X32_SYSCALL_BIT as i64 | libc::SYS_getpid, [0, 0, 0]);
                if e != eperm {
                    return 40;
                }
            }
            0
        });
        assert_eq!(status, WaitStatus::Exited(status.pid().unwrap(), 0), "see the checks' order");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn an_i386_call_from_a_64_bit_process_is_killed() {
        use nix::sys::signal::Signal;
        use nix::sys::wait::WaitStatus;
        let c = default_for(&CapabilitySet::docker_default());
        let status = in_filtered_child(&c, || {
            let mut eax: u32 = 20; // getpid in the i386 table
                                   // SAFETY: int 0x80 with eax=20 is i386 getpid: it touches no memory.
            unsafe { std::arch::asm!("int 0x80", inout("eax") eax) };
            if eax == 0 {
                1
            } else {
                2
            }
        });
        // The arch guard returns SECCOMP_RET_KILL_PROCESS: the kernel kills with SIGSYS.
        assert!(matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)), "{status:?}");
    }

    #[test]
    fn with_cap_sys_admin_the_namespace_calls_are_back() {
        use caps::Capability;
        let admin = CapabilitySet::new(
            CapabilitySet::docker_default().iter().chain([Capability::CAP_SYS_ADMIN]),
        );
        let c = default_for(&admin);
        let allowed = &c.calls[&Verdict::Allow];
        for n in ["mount", "unshare", "setns", "clone", "clone3"] {
            assert!(allowed.iter().any(|l| l.name == n && l.when.is_empty()), "{n}");
        }
        assert_eq!(c.programs.len(), 2, "no ENOSYS program without the clone3 rule");
    }
}
