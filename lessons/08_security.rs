//! Stage 08 · security: an attack lab. Each attack that works against stage 07's container fails
//! against stage 08's, and the demo says which mechanism stopped it.
//!
//! Run it: `cargo run --bin 08_security`, or `cargo run --bin 08_security -- --cap-drop ALL -- sh`.

use std::process::ExitCode;
use workshop::container::Config;
use workshop::lesson::{self, Lesson};
use workshop::narrate::var;
use workshop::security::{self, apparmor, ProcessCaps, SecurityArgs};
use workshop::Stage;

/// Stage 08: capabilities, seccomp, masked paths, no_new_privs, a read-only root and an ordinary
/// user: Docker's hardening, each piece shown stopping an attack that works without it.
///
/// Without a command, a narrated attack lab: the same attacks against stage 07's container and
/// stage 08's, the mechanism and errno that stopped each, the filter as it is, and --privileged
/// turning it all off again.
const ABOUT: &str = "Stage 08: capabilities, seccomp, masked paths, no_new_privs, a read-only root and an ordinary user: Docker's hardening, each piece shown stopping an attack that works without it.\n\nWithout a command, a narrated attack lab: the same attacks against stage 07's container and stage 08's, the mechanism and errno that stopped each, the filter as it is, and --privileged turning it all off again.";

/// One attack: what it tries, the shell line run inside, the flags stage 08 runs it with, and the
/// mechanism that stops it there.
struct Attack {
    what: &'static str,
    script: &'static str,
    flags: &'static [&'static str],
    stopped_by: &'static str,
}

// ANCHOR: attacks
/// Each script exits 0 when the attack worked.
const ATTACKS: [Attack; 9] = [
    Attack {
        what: "mount a filesystem",
        script: "mount -t tmpfs none /mnt",
        flags: &[],
        stopped_by: "CAP_SYS_ADMIN is not in the capability set: mount(2) says EPERM",
    },
    Attack {
        what: "make a user namespace, to be root with every capability again",
        script: "unshare --user true",
        flags: &[],
        stopped_by:
            "seccomp: unshare(2) is allowed only with CAP_SYS_ADMIN, so the filter returns EPERM",
    },
    Attack {
        what: "change the hostname",
        script: "hostname evil",
        flags: &[],
        stopped_by: "seccomp and capabilities: sethostname(2) needs CAP_SYS_ADMIN: EPERM",
    },
    Attack {
        what: "add a key to the kernel's keyrings, which are not per container",
        script: "attack keyctl",
        flags: &[],
        stopped_by: "seccomp: add_key(2) and keyctl(2) are not on Docker's list: EPERM",
    },
    Attack {
        what: "read the host's interrupt counters (/proc/interrupts)",
        script: "head -c 64 /proc/interrupts | grep -q CPU",
        flags: &[],
        stopped_by: "masked path: /dev/null is bound over it, so it reads empty",
    },
    Attack {
        what: "list the host's firmware tables (/sys/firmware)",
        script: "ls /sys/firmware | grep -q .",
        flags: &[],
        stopped_by: "masked path: an empty read-only tmpfs is mounted over it",
    },
    Attack {
        what: "change a file of the image",
        script: "touch /etc/evil",
        flags: &["--read-only", "--tmpfs", "/tmp"],
        stopped_by: "--read-only: the root is remounted read-only: EROFS (/tmp is a tmpfs)",
    },
    Attack {
        what: "read root's home directory",
        script: "ls /root",
        flags: &["--user", "1000:1000"],
        stopped_by: "--user 1000:1000: an ordinary user, no capabilities: EACCES",
    },
    Attack {
        what: "become root again through a setuid-root program (as uid 1000)",
        script: "attack setuid",
        flags: &["--security-opt", "no-new-privileges"],
        stopped_by: "no_new_privs: execve ignores the setuid bit, so uid 1000 stays uid 1000",
    },
];
// ANCHOR_END: attacks

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let base = l.config.clone();
    let stage07 = Config { security: None, stage: Stage::Overlay, ..base.clone() };
    let n = &mut l.narrator;
    n.banner(
        "08_security · an attack lab",
        "one kernel for every container: the last line of defence is what root inside may ask of it.",
    );

    n.step("What the container's root holds, at 07 and at 08");
    let status = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status";
    let before = l.run_with(&stage07, &["sh", "-c", status])?;
    let after = l.run_with(
        &with_flags(&base, &["--security-opt", "no-new-privileges"])?,
        &["sh", "-c", status],
    )?;
    let n = &mut l.narrator;
    n.shell_inside(status);
    let field = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let eff07 =
        ProcessCaps::parse_status(&before.output).map(|c| c.effective.names().len()).unwrap_or(0);
    let eff08 =
        ProcessCaps::parse_status(&after.output).map(|c| c.effective.names().len()).unwrap_or(0);
    n.result(&format!("{:<12}{:<26}{}", "", "at 07", "at 08, no-new-privileges"));
    let eff_at_07 = format!("{} ({})", var(field(&before.output, "CapEff:")), var(eff07));
    let eff_at_08 = format!("{} ({eff08})", field(&after.output, "CapEff:"));
    n.result(&format!("{:<12}{eff_at_07:<26}{eff_at_08}", "CapEff"));
    for key in ["Seccomp:", "NoNewPrivs:"] {
        let (a, b) = (field(&before.output, key), field(&after.output, key));
        n.result(&format!("{:<12}{a:<26}{b}", key.trim_end_matches(':')));
    }
    n.note("CapEff is a bit mask of capabilities(7); Seccomp 2 means a filter is installed.");
    let docker = security::CapabilitySet::docker_default();
    let names: Vec<String> =
        docker.names().iter().map(|c| c.trim_start_matches("CAP_").to_lowercase()).collect();
    n.note("At 07: every capability this kernel has. Docker keeps 14 of them:");
    n.note(&names[..7].join(", "));
    n.note(&format!("{}.", names[7..].join(", ")));
    n.claim(
        eff07 > 30 && eff08 == 14 && field(&after.output, "Seccomp:") == "2" && field(&after.output, "NoNewPrivs:") == "1",
        "at 07 root inside holds every capability (of its user namespace); at 08 Docker's 14, a seccomp filter, no_new_privs",
    );

    n.step("The attacks, against 07 and against 08");
    // One container per configuration runs every attack of it, one line of results each.
    let all: Vec<&Attack> = ATTACKS.iter().collect();
    let at07 = run_attacks(l, &stage07, &all)?;
    let mut at08 = Vec::new();
    let mut flag_sets: Vec<&[&str]> = Vec::new();
    for attack in &ATTACKS {
        if !flag_sets.contains(&attack.flags) {
            flag_sets.push(attack.flags);
        }
    }
    for flags in flag_sets {
        let these: Vec<&Attack> = ATTACKS.iter().filter(|a| a.flags == flags).collect();
        at08.extend(run_attacks(l, &with_flags(&base, flags)?, &these)?);
    }
    let n = &mut l.narrator;
    let mut worked_at_07 = 0;
    let mut stopped_at_08 = 0;
    for attack in &ATTACKS {
        let find = |results: &[(&'static str, bool, String)]| {
            results.iter().find(|r| r.0 == attack.script).cloned().unwrap_or((
                attack.script,
                false,
                "not run".into(),
            ))
        };
        let (r07, r08) = (find(&at07), find(&at08));
        let flags = if attack.flags.is_empty() {
            String::new()
        } else {
            format!("   (08 with {})", attack.flags.join(" "))
        };
        n.shell_inside(&format!("{}{flags}", attack.script));
        n.result(&format!("{:<5} {}", "07", verdict(r07.1, &r07.2)));
        n.result(&format!("{:<5} {}", "08", verdict(r08.1, &r08.2)));
        n.note(&format!("{}: {}", attack.what, attack.stopped_by));
        worked_at_07 += r07.1 as usize;
        stopped_at_08 += (!r08.1) as usize;
    }
    n.claim(
        worked_at_07 == ATTACKS.len() && stopped_at_08 == ATTACKS.len(),
        &format!("all {} attacks work at 07, and all fail at 08", ATTACKS.len()),
    );

    n.step("Already stopped at 07: what the user namespace of 05 refuses");
    let already = "mknod /tmp/sda b 8 0; echo box > /proc/sys/kernel/hostname";
    let ran = l.run_with(&stage07, &["sh", "-c", &format!("{already} 2>&1; true")])?;
    let n = &mut l.narrator;
    n.shell_inside(already);
    for line in ran.output.lines() {
        n.result(&var(line));
    }
    n.note(
        "A user namespace's root may not make device nodes, and files of the host's root (such as",
    );
    n.note("/proc/sys) are not its own: 08's read-only /proc/sys is a second lock on that door.");
    n.claim(
        !ran.output.is_empty() && !std::path::Path::new("/tmp/sda").exists(),
        "no device node, and no write to /proc/sys, even at 07",
    );

    n.step("The seccomp filter, as the kernel runs it");
    let sec = base.security.clone().expect("stage 08 has security settings");
    let compiled = sec.compiled_seccomp()?.expect("the default profile");
    n.syscall("seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog)");
    n.note(
        "With no-new-privileges it goes in last, right before execve; without, installing it needs",
    );
    n.note("CAP_SYS_ADMIN, so it goes in first, before the capabilities are dropped (runc does the same).");
    let text = security::seccomp::render(&compiled).replace(compiled.arch, &var(compiled.arch));
    for line in text.lines().take(8) {
        n.result(&redact_counts(line));
    }
    n.note(&format!(
        "{} BPF instructions, run on every system call the container makes; the profile is data,",
        var(compiled.instructions())
    ));
    n.note("src/security/default-seccomp.json, Docker's own, resolved for this machine's capabilities.");
    n.claim(
        compiled.instructions() > 100,
        "the default profile compiles to an allow-list that returns EPERM",
    );

    n.step("--privileged turns it all off again");
    let privileged = with_flags(&base, &["--privileged"])?;
    let plain_attacks: Vec<&Attack> = ATTACKS.iter().filter(|a| a.flags.is_empty()).collect();
    let back = run_attacks(l, &privileged, &plain_attacks)?.iter().filter(|r| r.1).count();
    let n = &mut l.narrator;
    let plain = ATTACKS.iter().filter(|a| a.flags.is_empty()).count();
    n.shell(&format!("08_security --privileged -- sh -c '…'   ({plain} attacks)"));
    n.result(&format!("{back} of {plain} work again"));
    n.note(
        "--privileged is for the contrast, and for tools that need a device or a mount: never to",
    );
    n.note(
        "run someone else's code. The user namespace stays: root inside is still nobody outside.",
    );
    n.claim(back == plain, "with --privileged every attack works again");

    n.step("What the runtime must not hand over: its descriptors and itself");
    let both = l.run(&["sh", "-c", "ls /proc/self/fd; echo @; readlink /proc/1/exe"])?;
    let (fds_text, exe_text) = both.output.split_once("@\n").unwrap_or((&both.output, ""));
    let (fds, exe) = (fds_text.to_string(), exe_text.to_string());
    let n = &mut l.narrator;
    n.shell_inside("ls /proc/self/fd; readlink /proc/1/exe   (PID 1 is the shell running them)");
    n.result(&format!("descriptors: {}", fds.split_whitespace().collect::<Vec<_>>().join(" ")));
    n.result(&format!("PID 1 is {}", var(exe.trim())));
    n.note(
        "CVE-2024-21626: runc leaked a descriptor of the host's /sys/fs/cgroup into the container,",
    );
    n.note(
        "and a working directory there let a process walk out of its root. So every descriptor but",
    );
    n.note(
        "0, 1 and 2 is marked close-on-exec before execve, and the working directory is checked.",
    );
    n.note("CVE-2019-5736: a container overwrote the host's runc through /proc/self/exe while runc ran");
    n.note("in it. Here the runtime never runs inside after execve: /proc/1/exe is the command's.");
    let only_std =
        fds.split_whitespace().filter(|f| !["0", "1", "2", "3"].contains(f)).count() == 0;
    n.claim(
        only_std && !exe.contains("08_security"),
        "only 0, 1 and 2 (and ls's own 3) reach the command; the runtime is not in the container",
    );

    n.step("AppArmor: rules that no capability overrides");
    let lsms = security_modules();
    n.shell("cat /sys/kernel/security/lsm");
    n.result(&format!(
        "AppArmor or SELinux active here: {}",
        var(if lsms.is_empty() { "neither".to_string() } else { lsms.join(", ") })
    ));
    // The same attack twice with CAP_SYS_ADMIN given back: Docker's seccomp profile then allows
    // mount(2) too, so only an AppArmor profile is left to refuse it.
    let host = apparmor::Host::detect();
    // The label ends with a newline under AppArmor but with a NUL and no newline under SELinux
    // ("kernel" before a policy is loaded): the echo ends its line either way.
    let script = "cat /proc/self/attr/current 2>/dev/null; echo; mount -t tmpfs none /mnt 2>&1; echo \"@$?\"";
    let mut runs = Vec::new();
    for extra in [&["--security-opt", "apparmor=unconfined"][..], &[]] {
        let flags = [&["--cap-add", "SYS_ADMIN"][..], extra].concat();
        runs.push(l.run_with(&with_flags(&base, &flags)?, &["sh", "-c", script])?.output);
    }
    let parse = |out: &str| {
        let label =
            out.lines().next().unwrap_or("").trim_matches(|c: char| c == '\0' || c.is_whitespace());
        let profile = if label.is_empty() { "none".to_string() } else { label.to_string() };
        let worked = out.lines().any(|line| line == "@0");
        let said = out
            .lines()
            .skip(1)
            .find(|l| !l.trim().is_empty() && !l.starts_with('@'))
            .unwrap_or("")
            .to_string();
        (profile, worked, said)
    };
    let (free, confined) = (parse(&runs[0]), parse(&runs[1]));
    let denial = confined
        .0
        .strip_suffix(" (enforce)")
        .and_then(|profile| apparmor::denials(profile).into_iter().next());
    let n = &mut l.narrator;
    n.shell_inside(
        "cat /proc/self/attr/current; mount -t tmpfs none /mnt   (08 with --cap-add SYS_ADMIN)",
    );
    n.result(&format!("{:<36}{:<24}{}", "", "profile", "mount"));
    for (label, run) in
        [("--security-opt apparmor=unconfined", &free), ("no option (the default)", &confined)]
    {
        let outcome = if run.1 { "worked".to_string() } else { format!("failed: {}", run.2) };
        n.result(&format!("{label:<36}{:<24}{}", var(&run.0), var(outcome)));
    }
    n.result(&format!(
        "the kernel's log: {}",
        var(denial.as_deref().unwrap_or(if confined.1 {
            "no denial (no profile confined the container)"
        } else {
            "not there this time (printk rate-limits audit lines; auditd keeps them all)"
        }))
    ));
    n.note(
        "With SYS_ADMIN given back, Docker's seccomp profile allows mount(2) too: the capability",
    );
    n.note(
        "and the filter both say yes. Where AppArmor is active, the container runs under a profile",
    );
    n.note(
        "(src/security/workshop-default.apparmor, modelled on Docker's docker-default), loaded for",
    );
    n.note("it under its own name and removed with it; its `audit deny mount,` still says no (EACCES).");
    n.note(
        "SELinux hosts (Fedora, RHEL) label the container container_t instead; the workshop has no",
    );
    n.note("SELinux policy of its own, so it does not label. Here:");
    n.note(&var(if host.can_load() {
        "AppArmor is active: the default run was confined, and refused".to_string()
    } else {
        format!("{}, so no profile was applied", host.describe())
    }));
    n.claim(
        free.1,
        "with CAP_SYS_ADMIN given back and no profile, the mount works: capability and filter allow it",
    );
    let profiled = confined.0.starts_with("ws-") && confined.0.ends_with("(enforce)");
    let refused = profiled && !confined.1;
    n.claim(
        if host.can_load() { refused } else { !profiled && confined.1 },
        "the default run has a profile of its own, which refuses the mount, exactly where AppArmor is active",
    );
    Ok(())
}
// ANCHOR_END: demo

/// Stage 08's config with these flags (as `08_security FLAGS -- …` would build it).
fn with_flags(base: &Config, flags: &[&str]) -> anyhow::Result<Config> {
    use clap::{Args, FromArgMatches};
    let cmd = SecurityArgs::augment_args(clap::Command::new("08_security"));
    let m =
        cmd.try_get_matches_from(std::iter::once("08_security").chain(flags.iter().copied()))?;
    let args = SecurityArgs::from_arg_matches(&m)?;
    let root = base.rootfs.clone().unwrap_or_default();
    Ok(Config { security: Some(args.resolve(&root)?), ..base.clone() })
}

/// Runs each attack in one container of `config`: (its script, whether it worked, its first line).
fn run_attacks(
    l: &Lesson,
    config: &Config,
    attacks: &[&Attack],
) -> anyhow::Result<Vec<(&'static str, bool, String)>> {
    let script: String = attacks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!("o=$( ( {} ) 2>&1 ); echo \"@{i} $? $(echo \"$o\" | head -n 1)\"\n", a.script)
        })
        .collect();
    let ran = l.run_with(config, &["sh", "-c", &script])?;
    let mut out = Vec::new();
    for line in ran.output.lines() {
        let Some(rest) = line.strip_prefix('@') else { continue };
        let mut parts = rest.splitn(3, ' ');
        let i: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(usize::MAX);
        let status = parts.next().unwrap_or("1");
        let first = parts.next().unwrap_or("").to_string();
        if let Some(a) = attacks.get(i) {
            out.push((a.script, status == "0", first));
        }
    }
    Ok(out)
}

fn verdict(worked: bool, output: &str) -> String {
    let first = output.lines().next().unwrap_or("").trim();
    if worked {
        "worked".to_string()
    } else if first.is_empty() {
        "failed".to_string()
    } else {
        // Each tool words it its own way (busybox, coreutils): the mechanism's note names the errno.
        format!("failed: {}", var(first))
    }
}

/// The filter's counts depend on this kernel and architecture: shown, but redacted in snapshots.
fn redact_counts(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            if w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
                var(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Linux security modules that confine containers and are active here: AppArmor, SELinux.
fn security_modules() -> Vec<String> {
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let mut found: Vec<String> = ["apparmor", "selinux"]
        .iter()
        .filter(|m| lsm.split(',').any(|x| x.trim() == **m))
        .map(|m| m.to_string())
        .collect();
    // Without securityfs mounted, their own filesystems tell.
    if found.is_empty() {
        if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
            found.push("apparmor".into());
        }
        if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            found.push("selinux".into());
        }
    }
    found
}

fn main() -> ExitCode {
    lesson::main(Stage::Security, ABOUT, demo)
}
