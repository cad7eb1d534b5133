//! Stage 03: pivot_root into a root filesystem, own hostname and IPC, checked from outside.
mod common;

use workshop::facts;

stage_binary_and_demo_snapshot!("03_rootfs");

#[test]
fn the_container_root_is_the_root_filesystem() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::root_is_the_rootfs(bin()).unwrap();
    // The tools the course uses are there.
    let out = facts::run(bin(), &["--", "sh", "-c", "for t in sh ps ls cat echo id hostname mount ip ping top wget nc httpd; do command -v $t >/dev/null || echo missing $t; done"]);
    assert_eq!((out.status, out.stdout.as_str()), (0, ""), "{}", out.stderr);
}

#[test]
fn the_course_notes_secret_file_is_invisible() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::host_tmp_invisible(bin()).unwrap();
}

#[test]
fn hostname_and_ipc_are_the_containers_own() {
    let Some(_s) = common::root_and_serial() else { return };
    facts::own_hostname(bin()).unwrap();
    facts::own_ipc(bin()).unwrap();
}

#[test]
fn dev_and_sys_are_set_up() {
    let Some(_s) = common::root_and_serial() else { return };
    let out = facts::run(bin(), &["--", "sh", "-c", "echo hi > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts/ptmx && ! touch /sys/x 2>/dev/null && echo ok"]);
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["4", "/dev/pts/ptmx", "ok"],
        "{}",
        out.stderr
    );
}

#[test]
fn bad_rootfs_gives_one_clear_line_and_leaves_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let out = facts::run(bin(), &["--rootfs", "/no/such/dir", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["--rootfs", "/no/such/dir"]);
        let out = facts::run(bin(), &["--rootfs", "/etc/hostname", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["not a directory"]);
        let out = facts::run(bin(), &["--hostname", "not valid!", "--", "true"]);
        common::assert_one_clear_line(&out, 125, &["--hostname"]);
    });
}

#[test]
fn a_custom_rootfs_is_used() {
    let Some(_s) = common::root_and_serial() else { return };
    let dir = std::env::temp_dir().join(format!("workshop-custom-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // On a fresh clone this test may be the first to need the root filesystem.
    let rootfs = workshop::image::ensure(None).unwrap();
    assert_eq!(rootfs, facts::default_rootfs_for(bin()));
    let status =
        std::process::Command::new("cp").arg("-a").arg(&rootfs).arg(&dir).status().unwrap();
    assert!(status.success());
    std::fs::write(dir.join("etc/marker"), "custom\n").unwrap();
    let out = facts::run(bin(), &["--rootfs", dir.to_str().unwrap(), "--", "cat", "/etc/marker"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.stdout, "custom\n", "{}", out.stderr);
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
