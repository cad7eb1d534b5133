//! Stage 05: a user namespace, checked from outside.
mod common;

use workshop::facts;

stage_binary!("05_user");

/// The demo takes one of two roads at step 2: with an idmapped root filesystem, or with the plain
/// mapping where the kernel or the filesystem cannot idmap. Each road has its snapshot; this
/// machine's road is compared with its own, and the plain road is forced and compared too, so both
/// are checked on any machine.
#[test]
fn demo_output_is_as_recorded() {
    let Some(_s) = common::root_and_serial() else { return };
    let output = common::leaves_host_as_found(|| common::demo_output(bin()));
    if output.contains("No idmapped mount here") {
        insta::assert_snapshot!("demo_plain", output);
    } else {
        insta::assert_snapshot!("demo", output);
    }
}

#[test]
fn demo_without_idmapped_mounts_is_as_recorded() {
    let Some(_s) = common::root_and_serial() else { return };
    let output = common::leaves_host_as_found(|| {
        let out = facts::run_command({
            let mut c = facts::command(bin(), &[]);
            c.env("WORKSHOP_NO_IDMAP", "1");
            c
        });
        assert_eq!(
            out.status, 0,
            "the demo's claims did not all hold:\n{}\n{}",
            out.stdout, out.stderr
        );
        workshop::narrate::redact(&out.stdout)
    });
    insta::assert_snapshot!("demo_plain", output);
}

#[test]
fn root_inside_is_an_ordinary_uid_outside() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::root_inside_not_outside(bin()).unwrap();
    // The mapping the host wrote, read back from outside.
    let live = facts::Live::start(bin(), &[]).unwrap();
    let map = std::fs::read_to_string(format!("/proc/{}/uid_map", live.container_pid)).unwrap();
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields[0], "0", "uid 0 inside should be mapped: {map}");
    assert_ne!(fields[1], "0", "uid 0 inside must not be the host's root: {map}");
}

#[test]
fn the_root_filesystem_looks_root_owned_inside() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::rootfs_owned_by_root_inside(bin()).unwrap();
}

#[test]
fn without_an_idmapped_mount_the_files_show_the_overflow_uid() {
    let Some(_s) = common::root_and_serial() else { return };
    let out = facts::run_command({
        let mut c = facts::command(bin(), &["--", "stat", "-L", "-c", "%u:%g", "/bin/sh"]);
        c.env("WORKSHOP_NO_IDMAP", "1");
        c
    });
    assert_eq!(out.stdout.trim(), "65534:65534", "{}", out.stderr);
}

#[test]
fn root_inside_cannot_reach_the_host() {
    let Some(_s) = common::root_and_serial() else { return };
    // With the stage's own namespaces set up, this root still cannot change the host's hostname.
    let host = workshop::uts::host_hostname();
    // Full capabilities inside (CapEff of root in its namespace), and still no device node: mknod
    // needs CAP_MKNOD in the *host's* user namespace.
    let script =
        "grep CapEff /proc/self/status; mknod /dev/shm/null-probe c 1 3 2>/dev/null; echo mknod=$?";
    let out = facts::run(bin(), &["--", "sh", "-c", script]);
    let caps = out.stdout.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap_or("").trim();
    let caps = u64::from_str_radix(caps, 16).unwrap_or(0);
    assert!(caps & (1 << 21) != 0, "CAP_SYS_ADMIN (bit 21) missing inside: {}", out.stdout);
    assert!(caps & (1 << 27) != 0, "CAP_MKNOD (bit 27) missing inside: {}", out.stdout);
    assert!(out.stdout.contains("mknod=1"), "mknod of a device worked inside: {}", out.stdout);
    assert_eq!(workshop::uts::host_hostname(), host);
}

#[test]
fn an_unknown_remap_user_is_one_clear_line() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let out = facts::run(bin(), &["--userns-remap", "no-such-user", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["no-such-user", "/etc/subuid"]);
    });
}

#[test]
fn the_earlier_stages_still_hold() {
    let Some(_s) = common::root_and_serial() else { return };
    common::every_check_holds(workshop::Stage::User, bin());
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}

/// systemd makes / shared, so that mounts propagate between namespaces; this machine's / may be
/// private. A mount namespace of the test's own with / made shared stands in for such a host: the
/// stage must pass there too, and leave its mount table as it was (an idmapped copy of a shared
/// tree would join its peer group, and the container's /proc, /dev and /sys would appear in it).
#[test]
fn on_a_host_whose_root_is_shared_no_mount_leaks_out() {
    let Some(_s) = common::root_and_serial() else { return };
    let script = format!(
        "mount --make-rshared / && before=$(wc -l < /proc/self/mountinfo) && {bin} -- true && {bin} -- true && after=$(wc -l < /proc/self/mountinfo) && echo \"mounts $before $after\"",
        bin = bin().display()
    );
    let out = facts::run_command({
        let mut c = std::process::Command::new("unshare");
        c.args(["--mount", "--propagation", "unchanged", "sh", "-c", &script]);
        c
    });
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let counts: Vec<&str> = out.stdout.split_whitespace().skip(1).collect();
    assert_eq!(counts.len(), 2, "{}", out.stdout);
    assert_eq!(counts[0], counts[1], "mounts leaked into the shared host namespace");
}
