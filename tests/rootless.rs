//! `--rootless`: stages 01 to 05 run as an ordinary user, for real, with no sudo.
//!
//! The test drops to the unprivileged user `nobody` (uid 65534) for each run.
mod common;

use std::path::Path;
use workshop::doctor::{unprivileged_userns, UserNs};
use workshop::Stage;

fn stages() -> Vec<(&'static str, &'static Path)> {
    // --rootless covers stages 01 to 05.
    let rootless = common::built_stages().into_iter().filter(|s| *s <= Stage::User);
    rootless.map(|s| (s.bin(), common::lesson_bin(s))).collect()
}

/// Root is needed to drop to another user; the kernel must allow unprivileged user namespaces.
fn can_run() -> bool {
    if !common::require_root() {
        return false;
    }
    if let UserNs::Denied(why) = unprivileged_userns() {
        common::skip(&format!("this machine denies unprivileged user namespaces: {why}"));
        return false;
    }
    true
}

/// Runs a copy of `bin` as nobody, with the workshop's root filesystem where the copy can find it.
/// Runs a copy of `bin` as nobody. Stages from 03 on get a copy of the root filesystem beside it:
/// nobody may not be able to reach target/ wherever this clone lives.
fn run_rootless(bin: &Path, args: &[&str]) -> workshop::facts::Outcome {
    let (copy, _guard) = common::world_executable_copy(bin);
    let name = bin.file_name().unwrap().to_string_lossy().into_owned();
    let mut all: Vec<String> = Vec::new();
    if Stage::parse(&name).is_some_and(|s| s >= Stage::Rootfs) {
        let rootfs = copy.parent().unwrap().join("rootfs");
        let source = workshop::image::ensure(None).unwrap();
        let copied =
            std::process::Command::new("cp").arg("-a").arg(&source).arg(&rootfs).status().unwrap();
        assert!(copied.success(), "could not copy the root filesystem for nobody");
        all.extend(["--rootfs".to_string(), rootfs.display().to_string()]);
    }
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    use std::os::unix::process::CommandExt;
    let mut cmd = workshop::facts::command(&copy, &all);
    cmd.uid(65534).gid(65534).current_dir("/");
    workshop::facts::run_command(cmd)
}

#[test]
fn every_stage_runs_a_command_as_root_of_its_own_user_namespace() {
    if !can_run() {
        return;
    }
    let _s = common::serial();
    for (name, bin) in stages() {
        common::leaves_host_as_found(|| {
            let out = run_rootless(
                bin,
                &["--rootless", "--", "sh", "-c", "echo $$; id -u; cat /proc/self/uid_map"],
            );
            assert_eq!(out.status, 0, "{name} --rootless failed: {}", out.stderr);
            let fields: Vec<&str> = out.stdout.split_whitespace().collect();
            assert_eq!(
                &fields[..2],
                ["1", "0"],
                "{name}: PID 1 and uid 0 inside expected: {}",
                out.stdout
            );
            assert_eq!(
                &fields[2..],
                ["0", "65534", "1"],
                "{name}: only nobody's own uid should be mapped"
            );
        });
    }
}

#[test]
fn every_narrated_demo_holds_its_claims_rootless() {
    if !can_run() {
        return;
    }
    let _s = common::serial();
    for (name, bin) in stages() {
        common::leaves_host_as_found(|| {
            let out = run_rootless(bin, &["--rootless"]);
            assert_eq!(out.status, 0, "{name} --rootless demo:\n{}\n{}", out.stdout, out.stderr);
        });
    }
}

#[test]
fn without_rootless_an_ordinary_user_is_told_what_works() {
    if !can_run() {
        return;
    }
    let _s = common::serial();
    let out = run_rootless(stages()[0].1, &["--", "true"]);
    common::assert_one_clear_line(&out, 125, &["needs root", "--rootless"]);
}
