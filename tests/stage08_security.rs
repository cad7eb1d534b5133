//! Stage 08: the attack lab, checked from outside: the capability sets, `Seccomp:` and
//! `NoNewPrivs:` in /proc/PID/status of the container, the masked and read-only paths in its
//! mountinfo, each attack's exit status at 07 (where it must work, or it proves nothing) and at 08,
//! `--privileged` undoing it, and bad flags refused in one line.
mod common;

use std::path::Path;
use workshop::facts::{self, Live};

stage_binary_and_demo_snapshot!("08_security");

fn stage07() -> &'static Path {
    common::lesson_bin(workshop::Stage::Overlay)
}

#[test]
fn the_security_facts_and_the_earlier_stages_hold() {
    let Some(_s) = common::root_and_serial() else { return };
    common::every_check_holds(workshop::Stage::Security, bin());
}

/// Each attack: it must work at 07 (or the test proves nothing), and fail at 08 with the flags
/// that stop it; `--privileged` lets the plain ones work again.
#[test]
fn each_attack_works_at_07_and_fails_at_08() {
    let Some(_s) = common::root_and_serial() else { return };
    let attacks: &[(&str, &[&str], &str)] = &[
        ("mount -t tmpfs none /mnt", &[], "permission denied"),
        ("unshare --user true", &[], "Operation not permitted"),
        ("hostname evil", &[], ""),
        ("head -c 64 /proc/interrupts | grep -q CPU", &[], ""),
        ("ls /sys/firmware | grep -q .", &[], ""),
        ("touch /etc/evil", &["--read-only"], "Read-only file system"),
        ("ls /root", &["--user", "1000:1000"], "Permission denied"),
        ("attack keyctl", &[], "Operation not permitted"),
        ("attack setuid", &["--security-opt", "no-new-privileges"], "stayed uid 1000"),
    ];
    common::leaves_host_as_found(|| {
        for (attack, flags, said) in attacks {
            let at07 = facts::run(stage07(), &["--", "sh", "-c", attack]);
            assert_eq!(
                at07.status, 0,
                "`{attack}` does not work at 07, so 08 proves nothing: {}",
                at07.stderr
            );
            let mut args: Vec<&str> = flags.to_vec();
            args.extend(["--", "sh", "-c", attack]);
            let at08 = facts::run(bin(), &args);
            assert_ne!(at08.status, 0, "`{attack}` still works at 08 with {flags:?}");
            let said_at_08 = format!("{}{}", at08.stdout, at08.stderr);
            assert!(
                said_at_08.contains(said),
                "`{attack}` at 08: {said_at_08:?} does not say {said:?}"
            );
            if flags.is_empty() {
                let back = facts::run(bin(), &["--privileged", "--", "sh", "-c", attack]);
                assert_eq!(
                    back.status, 0,
                    "`{attack}` fails even with --privileged: {}",
                    back.stderr
                );
            }
        }
        // --read-only with --tmpfs /tmp: the root is read-only, /tmp a writable tmpfs.
        let tmp = facts::run(
            bin(),
            &["--read-only", "--tmpfs", "/tmp", "--", "sh", "-c", "touch /tmp/x && ! touch /x"],
        );
        assert_eq!(tmp.status, 0, "{}", tmp.stderr);
    });
}

#[test]
fn privileged_restores_the_capabilities_and_removes_the_filter_and_masks() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let live = Live::start(bin(), &["--privileged"]).unwrap();
        let pid = live.container_pid;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        drop(live);
        let caps = workshop::security::ProcessCaps::parse_status(&status).unwrap();
        assert!(caps.effective.names().len() > 30, "{:?}", caps.effective.names());
        assert!(status.lines().any(|l| l.starts_with("Seccomp:") && l.ends_with('0')), "{status}");
        assert!(!mountinfo.lines().any(|l| l.split(' ').nth(4) == Some("/proc/interrupts")));
    });
}

#[test]
fn a_user_runs_with_its_ids_and_no_capabilities() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let live = Live::start(bin(), &["--user", "1000:1000"]).unwrap();
        let pid = live.container_pid;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
        drop(live);
        // The host sees the mapped id: 1000 inside is the map's first outside id + 1000.
        let outside: u32 = map.split_whitespace().nth(1).unwrap().parse().unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let want = (outside + 1000).to_string();
        assert!(uid.split_whitespace().skip(1).all(|u| u == want), "{uid} (map {map})");
        let caps = workshop::security::ProcessCaps::parse_status(&status).unwrap();
        assert!(caps.effective.names().is_empty() && caps.permitted.names().is_empty());
    });
}

/// With CAP_SYS_ADMIN given back, the capability and Docker's seccomp profile both allow mount(2):
/// where the host has AppArmor, the container runs under a profile of its own (read from the host
/// in /proc/PID/attr), which refuses it, and the profile leaves the kernel with the container
/// (`leaves_host_as_found` compares the loaded ws-… profiles). Without AppArmor, asking for a
/// profile is one clear line.
#[test]
fn apparmor_refuses_a_mount_that_capabilities_allow_where_the_host_has_it() {
    let Some(_s) = common::root_and_serial() else { return };
    use workshop::security::apparmor::{self, Host};
    let mount = "mount -t tmpfs none /mnt";
    let sys_admin = ["--cap-add", "SYS_ADMIN"];
    common::leaves_host_as_found(|| {
        let free = facts::run(
            bin(),
            &[&sys_admin[..], &["--security-opt", "apparmor=unconfined", "--", "sh", "-c", mount]]
                .concat(),
        );
        assert_eq!(free.status, 0, "the mount must work unconfined: {}", free.stderr);
        if Host::detect().can_load() {
            let live = Live::start(bin(), &sys_admin).unwrap();
            let profile = apparmor::current(live.container_pid as i32).unwrap_or_default();
            let name = profile.strip_suffix(" (enforce)").unwrap_or_else(|| panic!("{profile:?}"));
            assert!(name.starts_with("ws-"), "{profile:?}");
            assert!(apparmor::is_loaded(name), "{name} is not in the kernel's list");
            drop(live);
            assert!(!apparmor::is_loaded(name), "the profile {name} outlived its container");
            let confined =
                facts::run(bin(), &[&sys_admin[..], &["--", "sh", "-c", mount]].concat());
            assert_ne!(confined.status, 0, "AppArmor let the mount through: {}", confined.stdout);
            let said = format!("{}{}", confined.stdout, confined.stderr).to_lowercase();
            assert!(said.contains("permission denied"), "{said}");
            let unknown = facts::run(
                bin(),
                &["--security-opt", "apparmor=no-such-profile-here", "--", "true"],
            );
            common::assert_one_clear_line(&unknown, 125, &["no-such-profile-here"]);
        } else {
            let out =
                facts::run(bin(), &["--security-opt", "apparmor=workshop-default", "--", "true"]);
            common::assert_one_clear_line(&out, 125, &["apparmor=workshop-default", "AppArmor"]);
        }
    });
}

#[test]
fn bad_flags_are_one_clear_line_and_leave_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    let dir = std::env::temp_dir().join(format!("ws-08-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "this is not json").unwrap();
    let unknown = dir.join("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["no_such_syscall"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let opt = |p: &Path| format!("seccomp={}", p.display());
    let (not_json_opt, unknown_opt) = (opt(&not_json), opt(&unknown));
    let rows: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--cap-drop", "CAP_FLY"], vec!["--cap-drop", "CAP_FLY"]),
        (vec!["--cap-add", "sys_nothing"], vec!["--cap-add", "sys_nothing"]),
        (vec!["--security-opt", "apparmor=x"], vec!["--security-opt"]),
        (vec!["--security-opt", &not_json_opt], vec!["not.json"]),
        (vec!["--security-opt", &unknown_opt], vec!["no_such_syscall"]),
        (vec!["--user", "nosuchuser"], vec!["nosuchuser"]),
        (vec!["--tmpfs", "relative"], vec!["--tmpfs"]),
    ];
    for (args, words) in &rows {
        common::leaves_host_as_found(|| {
            let mut all = args.clone();
            all.extend(["--", "true"]);
            let out = facts::run(bin(), &all);
            common::assert_one_clear_line(&out, 125, words);
        });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
