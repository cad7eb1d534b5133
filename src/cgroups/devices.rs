//! The devices controller: which device nodes a cgroup's processes may open (read, write) or
//! create (mknod). Engines always send rules (`linux.resources.devices`): deny everything, then
//! allow a list.
//!
//! - **v1**: a controller of its own, with `devices.deny` and `devices.allow` files taking lines
//!   such as `c 1:3 rwm`.
//! - **v2**: no files at all. The kernel asks an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`
//!   attached to the cgroup, on every open and mknod of a device, with the device's type, numbers
//!   and the access wanted; the program returns 1 (allow) or 0. So on v2 the rules are compiled
//!   into a few BPF instructions per rule, as runc and crun do, loaded with bpf(2) and attached.

use anyhow::{bail, Context};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One rule: `allow` or deny, a type (`c` character, `b` block, `None` for all), numbers
/// (`None` for any) and the access (`r`, `w`, `m`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Option<char>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl Rule {
    /// An allow rule for one character device, all access.
    pub fn char(major: i64, minor: Option<i64>) -> Rule {
        Rule { allow: true, kind: Some('c'), major: Some(major), minor, access: "rwm".into() }
    }

    /// The v1 file and line: (`devices.allow`, `c 1:3 rwm`).
    pub fn v1_line(&self) -> (&'static str, String) {
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        let kind = self.kind.unwrap_or('a');
        let file = if self.allow { "devices.allow" } else { "devices.deny" };
        (file, format!("{kind} {}:{} {}", num(self.major), num(self.minor), self.access))
    }
}

/// The devices every container may use whatever its rules say (the runtime specification's
/// default devices, /dev/console, /dev/ptmx and the terminals of its own devpts), allowed after
/// the engine's rules, as runc allows them.
pub fn default_allowed() -> Vec<Rule> {
    let mut v: Vec<Rule> = crate::rootfs::DEVICES
        .iter()
        .map(|(_, ma, mi)| Rule::char(*ma as i64, Some(*mi as i64)))
        .collect();
    v.push(Rule::char(5, Some(1))); // /dev/console
    v.push(Rule::char(5, Some(2))); // /dev/ptmx
    v.push(Rule::char(136, None)); // /dev/pts/*
    v
}

/// Writes `rules` into a v1 devices cgroup directory, in order.
pub fn write_v1(dir: &Path, rules: &[Rule]) -> anyhow::Result<()> {
    for r in rules {
        let (file, line) = r.v1_line();
        let path = dir.join(file);
        std::fs::write(&path, &line)
            .with_context(|| format!("write {line:?} to {}", path.display()))?;
    }
    Ok(())
}

/// One eBPF instruction (linux/bpf.h `struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low 4 bits, src in the high 4.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54; // dst &= imm
const ALU32_RSH_K: u8 = 0x74; // dst >>= imm
const ALU32_MOV_X: u8 = 0xbc; // dst = src
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const EXIT: u8 = 0x95;

/// `struct bpf_cgroup_dev_ctx`: access_type (type | access << 16), major, minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | (src << 4), off, imm }
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The program for `rules`: the last rule that matches decides, as writing the rules one after
/// another into v1's files does; no match is a denial.
///
/// ```text
///   r2 = type, r3 = access wanted, r4 = major, r5 = minor      (from the context in r1)
///   for each rule, last first:
///       if type differs, or access wanted ⊄ the rule's, or numbers differ: next rule
///       r0 = allow ? 1 : 0; exit
///   r0 = 0; exit
/// ```
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // The checks, each jumping past this rule's block when it fails; the offsets are
        // filled in once the block's length is known.
        let mut block: Vec<Insn> = Vec::new();
        match rule.kind {
            Some('c') => block.push(insn(JNE_K, 2, 0, 0, DEV_CHAR)),
            Some('b') => block.push(insn(JNE_K, 2, 0, 0, DEV_BLOCK)),
            _ => {}
        }
        let bits = access_bits(&rule.access);
        if bits != ACC_READ | ACC_WRITE | ACC_MKNOD {
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, !bits));
            block.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(major) = rule.major {
            block.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, rule.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        let conditional = block.iter().any(|i| i.code == JNE_K);
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16; // to the first instruction after the block
            }
        }
        p.extend(block);
        if !conditional {
            // A rule for every device ends the program: the verifier refuses instructions no
            // path reaches, so nothing may follow it.
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// bpf(2)'s attribute unions, the parts these two commands use (zero-padded as the kernel wants).
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u8; 80],
}

#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    pad: [u8; 112],
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// bpf(2) with the attribute `attr`, its size given as the kernel wants it.
///
/// # Safety
/// Every pointer `attr` holds must be valid for the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &T) -> libc::c_long {
    // SAFETY: the caller vouches for the pointers inside `attr`.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *const T, std::mem::size_of::<T>()) }
}

/// Loads the program for `rules` and attaches it to the v2 cgroup `dir`. The attachment holds
/// the program; it goes when the cgroup is removed.
pub fn attach_v2(dir: &Path, rules: &[Rule]) -> anyhow::Result<()> {
    let prog = program(rules);
    let license = c"Apache";
    let mut log = vec![0u8; 4096];
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        pad: [0; 80],
    };
    // SAFETY: the attribute points at `prog`, `license` and `log`, alive for the call.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &load) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        let verifier = String::from_utf8_lossy(&log).trim_end_matches('\0').trim().to_string();
        bail!("bpf(BPF_PROG_LOAD) of the device filter: {e} {verifier}");
    }
    // SAFETY: bpf(2) just returned this descriptor.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cgroup = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let attach = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        pad: [0; 112],
    };
    // SAFETY: the attribute holds two open descriptors and integers.
    let rc = unsafe { bpf(BPF_PROG_ATTACH, &attach) };
    if rc != 0 {
        bail!("bpf(BPF_PROG_ATTACH) to {}: {}", dir.display(), std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `prog` as the kernel would for one device access: enough of an eBPF interpreter for
    /// the instructions [`program`] emits.
    fn run(prog: &[Insn], kind: i32, access: i32, major: i32, minor: i32) -> u64 {
        let ctx = [(kind | (access << 16)) as u32, major as u32, minor as u32];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads from the context only");
                    r[dst] = ctx[i.off as usize / 4] as u64;
                }
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JNE_K => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn podman_like() -> Vec<Rule> {
        let mut rules =
            vec![Rule { allow: false, kind: None, major: None, minor: None, access: "rwm".into() }];
        rules.push(Rule {
            allow: true,
            kind: Some('c'),
            major: Some(1),
            minor: Some(3),
            access: "rw".into(),
        });
        rules.extend(default_allowed());
        rules
    }

    #[test]
    fn deny_all_then_allow_a_list_decides_as_v1_would() {
        let p = program(&podman_like());
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 3), 1, "mknod /dev/null: a default device");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "a terminal of its devpts");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "the host's disk");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 1), 0, "/dev/mem");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 10, 200), 0, "/dev/net/tun");
    }

    #[test]
    fn access_must_be_within_the_rules_and_the_last_rule_wins() {
        let rules = vec![
            Rule { allow: true, kind: Some('c'), major: Some(10), minor: None, access: "r".into() },
            Rule {
                allow: false,
                kind: Some('c'),
                major: Some(10),
                minor: Some(200),
                access: "rwm".into(),
            },
        ];
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 1), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 10, 1), 0, "w is not in r");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 200), 0, "the later deny wins");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 10, 1), 0, "a block device is not a char one");
    }

    #[test]
    fn no_instruction_follows_a_rule_for_every_device() {
        // The verifier refuses unreachable instructions (seen: "unreachable insn 52").
        let all = Rule { allow: false, kind: None, major: None, minor: None, access: "rwm".into() };
        let p = program(std::slice::from_ref(&all));
        assert_eq!(p.last().unwrap().code, EXIT);
        assert_eq!(p.iter().filter(|i| i.code == EXIT).count(), 1, "{p:?}");
        let p = program(&podman_like());
        assert_eq!(p.iter().filter(|i| i.code == EXIT).count(), podman_like().len(), "{p:?}");
    }

    #[test]
    fn v1_lines_are_what_devices_allow_and_deny_take() {
        let deny =
            Rule { allow: false, kind: None, major: None, minor: None, access: "rwm".into() };
        assert_eq!(deny.v1_line(), ("devices.deny", "a *:* rwm".into()));
        assert_eq!(Rule::char(136, None).v1_line(), ("devices.allow", "c 136:* rwm".into()));
    }
}
