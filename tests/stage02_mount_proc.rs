//! Stage 02: a mount namespace made private and a fresh /proc, checked from outside.
mod common;

use workshop::facts;

stage_binary_and_demo_snapshot!("02_mount_proc");

#[test]
fn proc_inside_lists_only_the_container() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::proc_is_the_containers(bin()).unwrap();
    // ps, as the course notes run it: only ps itself, as PID 1.
    let out = facts::run(bin(), &["--", "ps", "-e", "-o", "pid=,comm="]);
    let lines: Vec<String> =
        out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(lines, ["1 ps"]);
}

#[test]
fn the_host_mount_table_is_unchanged() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::host_mounts_unchanged(bin()).unwrap();
    // Also while a container is running: its /proc is in its own namespace only.
    let before = workshop::mounts::host_mounts().unwrap();
    let live = facts::Live::start(bin(), &[]).unwrap();
    assert_eq!(workshop::mounts::host_mounts().unwrap(), before);
    let inside =
        std::fs::read_to_string(format!("/proc/{}/mountinfo", live.container_pid)).unwrap();
    let inside = workshop::mounts::parse_mountinfo(&inside);
    assert!(
        inside.iter().all(|m| !m.propagation.contains("shared")),
        "a mount inside is still shared: {inside:?}"
    );
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
