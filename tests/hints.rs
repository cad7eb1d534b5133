//! Tiered hints (`cargo run -- hint NN`) and the checker's pointers to them: every exercise has its
//! three levels, `hint` advances one level at a time and remembers it in a file the student owns,
//! the exercise files no longer give the answer, and a solution with its "break it" mistake made
//! fails the checker with a sentence that names the mistake and the hint level.
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use workshop::exercise::{self, Verdict};
use workshop::{facts, Stage};

fn workshop() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_workshop"))
}

/// A fresh $XDG_STATE_HOME for one test, removed when dropped.
struct StateHome(PathBuf);

impl StateHome {
    fn new(name: &str) -> StateHome {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("hints-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        StateHome(dir)
    }

    /// `workshop hint ARGS…` with this state home (and `extra` environment).
    fn hint(&self, args: &[&str], extra: &[(&str, &str)]) -> facts::Outcome {
        let mut cmd = facts::command(workshop(), &[]);
        cmd.arg("hint").args(args).env("XDG_STATE_HOME", &self.0);
        cmd.env_remove("SUDO_UID").env_remove("SUDO_GID");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        facts::run_command(cmd)
    }

    fn file(&self) -> PathBuf {
        self.0.join("workshop/hints")
    }
}

impl Drop for StateHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_exercise_has_three_hint_levels() {
    let home = StateHome::new("all");
    for stage in common::built_stages() {
        let n = format!("{:02}", stage.number());
        let out = home.hint(&[&n, "--all"], &[]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let levels: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("Hint ")).collect();
        assert_eq!(levels.len(), 3, "{stage}:\n{}", out.stdout);
        for (i, (line, title)) in
            levels.iter().zip(["the idea", "where to look", "the API"]).enumerate()
        {
            let head = format!("Hint {} of 3 for exercise {n} ({}) · {title}", i + 1, stage.bin());
            assert!(line.starts_with(&head), "{line:?} should start {head:?}");
        }
    }
}

#[test]
fn hint_shows_the_next_level_each_time_and_reset_starts_over() {
    let home = StateHome::new("next");
    let level = |out: &facts::Outcome| {
        assert_eq!(out.status, 0, "{}", out.stderr);
        out.stdout.lines().next().unwrap_or("").to_string()
    };
    assert!(level(&home.hint(&["04"], &[])).starts_with("Hint 1 of 3 for exercise 04"));
    assert!(level(&home.hint(&["4"], &[])).starts_with("Hint 2 of 3 for exercise 04"));
    // Another exercise has its own level.
    assert!(level(&home.hint(&["02_mount_proc"], &[])).starts_with("Hint 1 of 3 for exercise 02"));
    let third = home.hint(&["04"], &[]);
    assert!(level(&third).starts_with("Hint 3 of 3 for exercise 04 (04_network) · the API"));
    assert!(third.stdout.contains("solutions/04_network.rs"), "{}", third.stdout);
    assert!(level(&home.hint(&["04"], &[])).starts_with("You have seen all 3 hints"));
    assert_eq!(std::fs::read_to_string(home.file()).unwrap(), "02 1\n04 3\n");
    home.hint(&["04", "--reset"], &[]);
    assert!(level(&home.hint(&["04"], &[])).starts_with("Hint 1 of 3 for exercise 04"));
    let none = home.hint(&["10"], &[]);
    assert_ne!(none.status, 0);
    assert!(none.stderr.contains("no exercise for stage"), "{}", none.stderr);
}

/// `cargo run` goes through sudo: what `hint` writes must belong to the user who ran it.
#[test]
fn the_hint_state_belongs_to_the_user_who_ran_sudo() {
    if !common::require_root() {
        return;
    }
    let home = StateHome::new("sudo");
    let out = home.hint(&["01"], &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for path in [home.0.clone(), home.0.join("workshop"), home.file()] {
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "{} is not the sudo user's",
            path.display()
        );
    }
    assert!(!Path::new(&home.file().with_extension("tmp")).exists());
}

/// The hints left the files: what is left is the task, what the checker verifies, the man pages.
#[test]
fn exercise_files_keep_the_task_and_man_pages_but_not_the_answer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A call of the answer's API, which the todo region must not spell out.
    let answer = |stage: Stage| match stage {
        Stage::Pid => "SIGCHLD",
        Stage::MountProc => "MS_PRIVATE",
        Stage::Rootfs => "pivot_root(",
        Stage::Network => "set_up(",
        Stage::User => "uid_map\")",
        Stage::Cgroups => "cgroup.procs",
        Stage::Overlay => "lowerdir=",
        Stage::Security => "CapSet::Bounding",
        Stage::Lifecycle => "setns(",
    };
    for stage in common::built_stages() {
        let file = root.join(format!("exercises/{}.rs", stage.bin()));
        let text = std::fs::read_to_string(&file).unwrap();
        let region =
            &text[text.find("// ANCHOR: todo").unwrap()..text.find("// ANCHOR_END").unwrap()];
        assert!(!region.contains("Hint"), "{} still has hints in its todo region", file.display());
        assert!(!region.contains(answer(stage)), "{} gives the answer away", file.display());
        let n = format!("{:02}", stage.number());
        for wanted in
            ["The checker verifies:", "Man pages:", "Break it", &format!("cargo run -- hint {n}")]
        {
            assert!(text.contains(wanted), "{} does not say {wanted:?}", file.display());
        }
    }
}

/// Runs a "break it" variant through the checker: it must fail, and some failure must name the
/// mistake and point at `hint NN` level `level`.
fn breaks_with_pointer(stage: Stage, bin: &str, mistake: &str, level: usize) {
    let verdict = exercise::check_binary(stage, Path::new(bin));
    let Verdict::Failing { failures, .. } = verdict else {
        panic!("{bin} should fail the checker for {stage}, got {verdict:?}");
    };
    let pointer = format!("see `cargo run -- hint {:02}` (level {level}, ", stage.number());
    assert!(
        failures.iter().any(|(_, why)| why.contains(mistake) && why.contains(&pointer)),
        "no failure names {mistake:?} and {pointer:?}: {failures:#?}"
    );
}

#[test]
fn break_it_01_no_namespace_flags_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Pid,
        env!("CARGO_BIN_EXE_break01_no_flags"),
        "born in the host's PID namespace",
        2,
    );
}

/// MS_REC forgotten: the exercise itself must stop before its /proc mount could propagate. Where
/// the mounts are private (this machine, many containers) the mistake is invisible, so the run is
/// wrapped in a mount namespace whose mounts are shared, as systemd makes them: whatever leaked
/// would land in that throwaway namespace, never on the host.
#[test]
fn break_it_02_private_without_ms_rec_stops_and_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    let before = workshop::mounts::host_mounts().unwrap();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "shared", env!("CARGO_BIN_EXE_break02_no_rec")]);
    cmd.args(["--", "true"]).env("NO_COLOR", "1");
    let out = facts::run_command(cmd);
    assert_eq!(workshop::mounts::host_mounts().unwrap(), before, "the host's mounts changed");
    assert_eq!(out.status, 125, "the exercise should stop: {out:?}");
    assert!(out.stderr.contains("still shared"), "{}", out.stderr);
    let said = workshop::exercise::hints::diagnose(Stage::MountProc, &out.stderr)
        .expect("the checker recognises the mistake");
    assert!(
        said.contains("MS_REC") && said.contains("`cargo run -- hint 02` (level 2, "),
        "{said}"
    );
    // Without the wrapper, on this host's private mounts, the same binary passes: the guard
    // looks at the kernel's propagation, not at the code.
    let plain = facts::run(Path::new(env!("CARGO_BIN_EXE_break02_no_rec")), &["--", "true"]);
    if workshop::mounts::host_mounts().unwrap().iter().all(|m| !m.propagation.contains("shared:")) {
        assert_eq!(plain.status, 0, "{plain:?}");
    }
}

#[test]
fn break_it_03_pivot_root_without_the_bind_mount_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Rootfs,
        env!("CARGO_BIN_EXE_break03_no_bind"),
        "not a mount point of its own; bind-mount it onto itself first",
        2,
    );
}

#[test]
fn break_it_05_no_gid_map_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::User,
        env!("CARGO_BIN_EXE_break05_no_gid_map"),
        "write both the uid_map and the gid_map",
        2,
    );
}

#[test]
fn break_it_04_address_before_rename_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Network,
        env!("CARGO_BIN_EXE_break04_address_before_rename"),
        "there is no eth0 yet",
        2,
    );
}

#[test]
fn break_it_06_no_memory_limit_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Cgroups,
        env!("CARGO_BIN_EXE_break06_no_limit"),
        "the memory limit file never received the limit",
        1,
    );
}

#[test]
fn break_it_07_no_userxattr_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Overlay,
        env!("CARGO_BIN_EXE_break07_no_userxattr"),
        "only with the `userxattr` mount option",
        1,
    );
}

#[test]
fn break_it_08_bounding_set_left_whole_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Security,
        env!("CARGO_BIN_EXE_break08_bounding_left"),
        "the bounding set still holds capabilities",
        1,
    );
}

#[test]
fn break_it_09_user_namespace_left_out_is_named_with_its_hint() {
    let Some(_s) = common::root_and_serial() else { return };
    breaks_with_pointer(
        Stage::Lifecycle,
        env!("CARGO_BIN_EXE_break09_user_left_out"),
        "it is the host's own root in the container",
        1,
    );
}
