//! Stage 01: a new PID namespace, checked from outside.
mod common;

use workshop::facts;

stage_binary_and_demo_snapshot!("01_pid");

#[test]
fn the_command_is_pid_1_in_a_new_pid_namespace() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::pid_is_one(bin()).unwrap();
    facts::own_pid_namespace(bin()).unwrap();
}

#[test]
fn ps_inside_still_sees_the_host_processes() {
    let Some(_s) = common::root_and_serial() else { return };
    // The cliffhanger for stage 02: without a mount namespace, /proc is the host's.
    let out = facts::run(bin(), &["--", "ps", "-e", "-o", "pid="]);
    let me = std::process::id().to_string();
    assert!(
        out.stdout.split_whitespace().any(|p| p == me),
        "ps inside did not list the test process {me}"
    );
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}

#[test]
fn demo_finishes_quickly() {
    let Some(_s) = common::root_and_serial() else { return };
    // Not a benchmark: a guard against a demo that sleeps or hangs in front of a class.
    let start = std::time::Instant::now();
    assert_eq!(facts::run(bin(), &[]).status, 0);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "the demo took {:?}",
        start.elapsed()
    );
}
