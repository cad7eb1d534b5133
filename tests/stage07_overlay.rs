//! Stage 07: overlayfs, checked from outside: the overlay in the container's mountinfo with its
//! layers top first, the upper dir after a write and a delete, the layers' bytes unchanged, two
//! containers at once kept apart, nothing left in the store or the mount table, a SIGKILLed run's
//! dirs removed by the next run, and bad images refused in one line.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use workshop::facts::{self, Live};

stage_binary_and_demo_snapshot!("07_overlay");

#[test]
fn the_overlay_facts_and_the_earlier_stages_hold() {
    let Some(_s) = common::root_and_serial() else { return };
    common::every_check_holds(workshop::Stage::Overlay, bin());
}

/// The upper dir of a running container, from its mountinfo.
fn upper_of(pid: u32) -> PathBuf {
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let line = mountinfo.lines().find(|l| l.split(' ').nth(4) == Some("/")).unwrap();
    let opts = line.split(" - ").nth(1).unwrap();
    let upper = opts.split(',').find_map(|o| o.strip_prefix("upperdir=")).unwrap();
    PathBuf::from(upper)
}

#[test]
fn two_containers_of_two_images_at_once_write_only_to_their_own_upper_dirs() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let write = |name: &str| format!("echo {name} > /tmp/{name}.txt; exec sleep 30");
        let a =
            Live::start_command(bin(), &["--image", "web"], &["sh", "-c", &write("a")]).unwrap();
        let b =
            Live::start_command(bin(), &["--image", "base"], &["sh", "-c", &write("b")]).unwrap();
        let (ua, ub) = (upper_of(a.container_pid), upper_of(b.container_pid));
        assert_ne!(ua, ub, "two containers share one upper dir");
        assert!(ua.join("tmp/a.txt").exists() && !ua.join("tmp/b.txt").exists(), "{ua:?}");
        assert!(ub.join("tmp/b.txt").exists() && !ub.join("tmp/a.txt").exists(), "{ub:?}");
        // Each sees only its own file, through its own root.
        let root = |l: &Live| PathBuf::from(format!("/proc/{}/root/tmp", l.container_pid));
        assert!(root(&a).join("a.txt").exists() && !root(&a).join("b.txt").exists());
        assert!(root(&b).join("b.txt").exists() && !root(&b).join("a.txt").exists());
        // Both images have /var/www/index.html: web's own layer shadows the base's.
        let page = |l: &Live| {
            let p = format!("/proc/{}/root/var/www/index.html", l.container_pid);
            std::fs::read_to_string(p).unwrap_or_default()
        };
        assert_eq!(page(&a), workshop::overlay::images::INDEX_HTML, "web's layer is not on top");
        assert!(page(&b).contains("hello from inside the container"), "{}", page(&b));
        drop(a);
        drop(b);
        assert!(!ua.exists() && !ub.exists(), "an upper dir outlived its container");
    });
}

#[test]
fn a_sigkilled_run_leaves_its_dirs_to_the_next_run_which_removes_them() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let live = Live::start(bin(), &[]).unwrap();
        let upper = upper_of(live.container_pid);
        let dir = upper.parent().unwrap().to_path_buf();
        let status = live.stop_stage(libc::SIGKILL);
        assert_eq!(status, 128 + libc::SIGKILL, "the stage was not SIGKILLed");
        assert!(dir.exists(), "SIGKILL gives no time to clean up: {dir:?} should be left");
        let next = facts::run(bin(), &["--", "true"]);
        assert_eq!(next.status, 0, "{}", next.stderr);
        assert!(!dir.exists(), "the next run did not remove the killed run's {dir:?}");
        assert!(next.stderr.contains("container layer"), "not reported: {}", next.stderr);
    });
}

/// A tar archive of (path, contents) written with raw ustar headers, so that it can hold the
/// names a careful tar writer refuses (`../x`, `/etc/x`).
fn raw_tar(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, body) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(body.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn bad_images_are_one_clear_line_and_leave_nothing() {
    let Some(_s) = common::root_and_serial() else { return };
    let dir = std::env::temp_dir().join(format!("ws-07-bad-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("not-a-rootfs/etc")).unwrap();
    let escape = dir.join("escape.tar");
    std::fs::write(&escape, raw_tar(&[("bin/sh", "x"), ("../../escaped-by-tar", "x")])).unwrap();
    let absolute = dir.join("absolute.tar");
    std::fs::write(&absolute, raw_tar(&[("bin/sh", "x"), ("/etc/workshop-absolute", "x")]))
        .unwrap();
    let path = |p: &Path| p.display().to_string();
    let (missing, not_rootfs) = (dir.join("no-such.tar"), dir.join("not-a-rootfs"));
    let rows: Vec<(String, Vec<&str>)> = vec![
        (path(&missing), vec!["--image", "no-such.tar"]),
        (path(&not_rootfs), vec!["--image", "not a root filesystem"]),
        (path(&escape), vec!["--image", ".."]),
        (path(&absolute), vec!["--image", "/etc/workshop-absolute"]),
        ("no-such-image".into(), vec!["--image", "no-such-image", "cargo run -- images"]),
    ];
    let layers_before = std::fs::read_dir(workshop::image::store_dir().join("layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    for (image, words) in &rows {
        common::leaves_host_as_found(|| {
            let out = facts::run(bin(), &["--image", image, "--", "true"]);
            common::assert_one_clear_line(&out, 125, words);
        });
    }
    assert!(
        !Path::new("/escaped-by-tar").exists()
            && !dir.parent().unwrap().join("escaped-by-tar").exists()
    );
    assert!(!Path::new("/etc/workshop-absolute").exists());
    let layers_after = std::fs::read_dir(workshop::image::store_dir().join("layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(layers_before, layers_after, "a refused image left a layer in the store");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store on another overlay cannot hold upper dirs: refused before anything is built. The
/// overlay is mounted in a throwaway mount namespace (`unshare -m`), never on the host.
#[test]
fn a_store_on_an_overlay_is_refused_in_one_line() {
    let Some(_s) = common::root_and_serial() else { return };
    let dir = std::env::temp_dir().join(format!("ws-07-ovl-{}", std::process::id()));
    for d in ["l", "u", "w", "m"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let script = format!(
        "mount -t overlay overlay -o lowerdir={0}/l,upperdir={0}/u,workdir={0}/w {0}/m && \
         WORKSHOP_STORE={0}/m/store exec {1} -- true",
        dir.display(),
        bin().display()
    );
    common::leaves_host_as_found(|| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
        let out = facts::run_command(cmd);
        common::assert_one_clear_line(&out, 125, &["is on overlay", "WORKSHOP_STORE"]);
    });
    assert!(!dir.join("u/store").exists(), "something was built in the refused store");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exit_status_signals_bad_input_and_leftovers() {
    let Some(_s) = common::root_and_serial() else { return };
    common::common_stage_checks(bin());
}
