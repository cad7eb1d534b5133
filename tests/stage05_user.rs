//! Stage 05: a user namespace, checked from outside.
mod common;

use workshop::facts;

stage_binary_and_demo_snapshot!("05_user");

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
fn root_inside_cannot_reach_the_host() {
    let Some(_s) = common::root_and_serial() else { return };
    // With the stage's own namespaces set up, this root still cannot change the host's hostname.
    let host = workshop::uts::host_hostname();
    let out = facts::run(bin(), &["--", "sh", "-c", "cat /proc/1/status | grep CapEff"]);
    assert!(
        out.stdout.contains("000001ffffffffff") || out.stdout.contains("CapEff"),
        "{}",
        out.stdout
    );
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
    for check in facts::checks_for(workshop::Stage::User) {
        (check.run)(bin()).unwrap_or_else(|e| panic!("{}: {e}", check.name));
    }
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
