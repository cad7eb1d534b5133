//! Helpers shared by the stage tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use workshop::facts::{self, HostState, Outcome};

/// Declares a stage test file's `bin()`: the stage binary, from Cargo.
#[macro_export]
macro_rules! stage_binary {
    ($bin:literal) => {
        fn bin() -> &'static std::path::Path {
            std::path::Path::new(env!(concat!("CARGO_BIN_EXE_", $bin)))
        }
    };
}

/// Declares a stage test file's `bin()` (the stage binary, from Cargo) and its snapshot test: the
/// narrated demo runs for real, leaves the host as found, and its redacted output must match
/// `tests/snapshots/<file>__demo.snap`.
#[macro_export]
macro_rules! stage_binary_and_demo_snapshot {
    ($bin:literal) => {
        $crate::stage_binary!($bin);

        #[test]
        fn demo_output_is_as_recorded() {
            let Some(_s) = common::root_and_serial() else { return };
            let output = common::leaves_host_as_found(|| common::demo_output(bin()));
            insta::assert_snapshot!("demo", output);
        }
    };
}

/// Tests that look at the host (its /tmp, mount table, hostname) run one at a time, so that one test's
/// temporary files are never mistaken for another's leftovers.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one place a test decides to skip. Under CI=true a skip would hide an untested stage, so it
/// is a failure instead. Otherwise the reason is written straight to the terminal's stderr, past
/// the test harness's capture, so that the skip shows in the run's output and not as a silent "ok".
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true, and this test would skip: {reason}");
    }
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {reason}");
}

/// True when the test can run; without root, a [`skip`].
pub fn require_root() -> bool {
    if workshop::privileges::is_root() {
        return true;
    }
    skip("this test creates namespaces and mounts, which needs root: run `cargo test` (it uses sudo)");
    false
}

/// Each stage's binaries: the lesson, the exercise and the solution.
pub fn lesson_bin(stage: workshop::Stage) -> &'static Path {
    use workshop::Stage::*;
    Path::new(match stage {
        Pid => env!("CARGO_BIN_EXE_01_pid"),
        MountProc => env!("CARGO_BIN_EXE_02_mount_proc"),
        Rootfs => env!("CARGO_BIN_EXE_03_rootfs"),
        Network => env!("CARGO_BIN_EXE_04_network"),
        User => env!("CARGO_BIN_EXE_05_user"),
        Cgroups => env!("CARGO_BIN_EXE_06_cgroups"),
        Overlay => env!("CARGO_BIN_EXE_07_overlay"),
        Security => env!("CARGO_BIN_EXE_08_security"),
        Lifecycle => env!("CARGO_BIN_EXE_09_lifecycle"),
    })
}

pub fn exercise_bin(stage: workshop::Stage) -> &'static Path {
    use workshop::Stage::*;
    Path::new(match stage {
        Pid => env!("CARGO_BIN_EXE_ex01_pid"),
        MountProc => env!("CARGO_BIN_EXE_ex02_mount_proc"),
        Rootfs => env!("CARGO_BIN_EXE_ex03_rootfs"),
        Network => env!("CARGO_BIN_EXE_ex04_network"),
        User => env!("CARGO_BIN_EXE_ex05_user"),
        Cgroups => env!("CARGO_BIN_EXE_ex06_cgroups"),
        Overlay => env!("CARGO_BIN_EXE_ex07_overlay"),
        Security => env!("CARGO_BIN_EXE_ex08_security"),
        Lifecycle => env!("CARGO_BIN_EXE_ex09_lifecycle"),
    })
}

pub fn solution_bin(stage: workshop::Stage) -> &'static Path {
    use workshop::Stage::*;
    Path::new(match stage {
        Pid => env!("CARGO_BIN_EXE_sol01_pid"),
        MountProc => env!("CARGO_BIN_EXE_sol02_mount_proc"),
        Rootfs => env!("CARGO_BIN_EXE_sol03_rootfs"),
        Network => env!("CARGO_BIN_EXE_sol04_network"),
        User => env!("CARGO_BIN_EXE_sol05_user"),
        Cgroups => env!("CARGO_BIN_EXE_sol06_cgroups"),
        Overlay => env!("CARGO_BIN_EXE_sol07_overlay"),
        Security => env!("CARGO_BIN_EXE_sol08_security"),
        Lifecycle => env!("CARGO_BIN_EXE_sol09_lifecycle"),
    })
}

/// The stages that are built, in order.
pub fn built_stages() -> Vec<workshop::Stage> {
    workshop::Stage::ALL.into_iter().filter(|s| s.built()).collect()
}

/// The start of every test that runs stages: root (or a skip, or a CI failure), then the lock.
pub fn root_and_serial() -> Option<MutexGuard<'static, ()>> {
    require_root().then(serial)
}

/// The narrated demo's output, with run-to-run values redacted, ready for a snapshot.
pub fn demo_output(bin: &Path) -> String {
    let out = facts::run(bin, &[]);
    assert_eq!(
        out.status, 0,
        "the demo's claims did not all hold:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stderr, "", "the demo wrote to stderr");
    workshop::narrate::redact(&out.stdout)
}

/// Asserts that an error is one clear line on stderr with a non-zero status.
pub fn assert_one_clear_line(out: &Outcome, expected_status: i32, mentions: &[&str]) {
    assert_eq!(out.status, expected_status, "stdout: {}\nstderr: {}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {:?}", out.stderr);
    assert!(lines[0].starts_with("error: "), "not an error line: {}", lines[0]);
    for m in mentions {
        assert!(lines[0].contains(m), "{:?} does not mention {m:?}", lines[0]);
    }
    assert!(!out.stderr.contains("panicked"), "it panicked: {}", out.stderr);
}

/// Every fact check of `stage`, its own and every earlier stage's, against `bin`, each leaving the
/// host as found.
pub fn every_check_holds(stage: workshop::Stage, bin: &Path) {
    for check in facts::checks_for(stage) {
        leaves_host_as_found(|| (check.run)(bin).unwrap_or_else(|e| panic!("{}: {e}", check.name)));
    }
}

/// Runs `f` and asserts that the host is exactly as before: mounts, /tmp, target/workshop, hostname.
pub fn leaves_host_as_found<T>(f: impl FnOnce() -> T) -> T {
    let before = HostState::capture();
    let result = f();
    let after = HostState::capture_settled(&before);
    if let Some(diff) = after.diff(&before) {
        panic!("the run left something behind: {diff}");
    }
    result
}

/// A copy of a stage binary that an unprivileged user can execute (target/ may not be readable).
pub fn world_executable_copy(bin: &Path) -> (PathBuf, impl Drop) {
    struct RemoveDir(PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("workshop-unpriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join(bin.file_name().unwrap());
    std::fs::copy(bin, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (copy, RemoveDir(dir))
}

/// Runs a stage binary as the unprivileged user `nobody` (uid 65534).
pub fn run_as_nobody(bin: &Path, args: &[&str]) -> Outcome {
    use std::os::unix::process::CommandExt;
    let mut cmd = facts::command(bin, args);
    cmd.uid(65534).gid(65534).env_remove("SUDO_UID").env_remove("SUDO_GID").current_dir("/");
    facts::run_command(cmd)
}

/// The checks common to every stage: exit status and signal pass-through, clear errors for bad
/// input, and nothing left behind after a normal, a failed and an interrupted run.
pub fn common_stage_checks(bin: &Path) {
    // Exit status and signal pass-through.
    facts::exit_status_passes_through(bin).unwrap();
    // A normal run and a failed one leave nothing behind.
    leaves_host_as_found(|| assert_eq!(facts::run(bin, &["--", "true"]).status, 0));
    leaves_host_as_found(|| {
        let out = facts::run(bin, &["--", "/no/such/binary"]);
        assert_one_clear_line(&out, 127, &["/no/such/binary"]);
    });
    // Ctrl-C from another process (SIGINT), and SIGTERM: the container goes, the stage cleans up.
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        leaves_host_as_found(|| {
            let live = facts::Live::start(bin, &[]).unwrap();
            let pid = live.container_pid;
            let status = live.stop_stage(signal);
            assert_eq!(status, 128 + signal, "after {name} the stage should exit 128 + {signal}");
            assert!(
                !facts::process_exists(pid),
                "the container's process {pid} outlived the stage after {name}"
            );
        });
    }
    // Bad input: an unknown flag, a missing command.
    let out = facts::run(bin, &["--no-such-flag"]);
    assert_one_clear_line(&out, 125, &["--no-such-flag", "--help"]);
    // Not root: one clear line with the command that works.
    let (copy, _guard) = world_executable_copy(bin);
    let out = run_as_nobody(&copy, &["--", "true"]);
    assert_one_clear_line(&out, 125, &["needs root", "sudo"]);
}
