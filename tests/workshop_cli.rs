//! The default binary: doctor, and the exercise checker against solutions and unfinished exercises.
mod common;

use std::path::Path;
use workshop::exercise::{self, Verdict};
use workshop::{facts, Stage};

#[test]
fn doctor_reports_the_machine_and_the_stages() {
    let out = facts::run(Path::new(env!("CARGO_BIN_EXE_workshop")), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for expected in ["kernel", "cgroups", "01_pid", "02_mount_proc", "03_rootfs", "09_lifecycle"] {
        assert!(
            out.stdout.contains(expected),
            "doctor does not mention {expected}:\n{}",
            out.stdout
        );
    }
    if workshop::privileges::is_root() {
        let built = Stage::ALL.iter().filter(|s| s.built()).count();
        let ready = out.stdout.matches("ready").count();
        assert_eq!(ready, built, "every built stage should be ready as root:\n{}", out.stdout);
    }
}

#[test]
fn every_solution_passes_the_checker() {
    let Some(_s) = common::root_and_serial() else { return };
    for stage in common::built_stages() {
        match exercise::check_binary(stage, common::solution_bin(stage)) {
            Verdict::Done { checks } => assert_eq!(checks, facts::checks_for(stage).len()),
            other => panic!("the solution for {stage} does not pass: {other:?}"),
        }
    }
}

#[test]
fn every_exercise_still_fails_with_its_todo() {
    let Some(_s) = common::root_and_serial() else { return };
    for stage in common::built_stages() {
        match exercise::check_binary(stage, common::exercise_bin(stage)) {
            Verdict::Todo { message } => {
                assert!(message.contains("not yet implemented"), "{message}")
            }
            other => panic!("the exercise for {stage} is no longer a TODO: {other:?}"),
        }
    }
}

/// `check` builds with cargo and then runs the binary where cargo put it: the same file cargo
/// gives the tests.
#[test]
fn check_runs_the_binary_cargo_builds() {
    for stage in common::built_stages() {
        let track = exercise::Track::Solutions;
        assert_eq!(exercise::built_bin(track, stage), common::solution_bin(stage), "{stage}");
        let track = exercise::Track::Exercises;
        assert_eq!(exercise::built_bin(track, stage), common::exercise_bin(stage), "{stage}");
    }
}

/// The exercise and its solution must be the same file outside the `ANCHOR: todo` region, so that
/// neither drifts from the other.
#[test]
fn exercise_and_solution_differ_only_inside_the_todo_region() {
    fn outside(text: &str) -> String {
        let start = text.find("// ANCHOR: todo").expect("an ANCHOR: todo marker");
        let end = text.find("// ANCHOR_END: todo").expect("an ANCHOR_END: todo marker");
        format!("{}{}", &text[..start], &text[end..])
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for stage in common::built_stages() {
        let file = format!("{}.rs", stage.bin());
        let ex = std::fs::read_to_string(root.join("exercises").join(&file)).unwrap();
        let sol = std::fs::read_to_string(root.join("solutions").join(&file)).unwrap();
        assert_eq!(
            outside(&ex),
            outside(&sol),
            "exercises/{file} and solutions/{file} differ outside the todo region"
        );
        let region = |t: &str| {
            t[t.find("// ANCHOR: todo").unwrap()..t.find("// ANCHOR_END: todo").unwrap()]
                .to_string()
        };
        assert!(region(&ex).contains("todo!("), "exercises/{file} has no todo!() left");
        // The hints live in exercises/hints/, shown one level at a time by `cargo run -- hint NN`.
        assert!(!region(&ex).contains("Hint"), "exercises/{file} has hints in it again");
        assert!(!region(&sol).contains("todo!("), "solutions/{file} still has a todo!()");
        assert!(ex.contains("// TODO:"), "exercises/{file} has no // TODO: line");
    }
}

/// The book includes sample output from the snapshot files, skipping insta's four-line header.
#[test]
fn snapshot_headers_are_four_lines_as_the_book_expects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "snap") {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().take(5).collect();
            assert_eq!(lines[0], "---", "{}", path.display());
            assert_eq!(
                lines[3],
                "---",
                "{}: the header is not 4 lines; fix the book's {{#include …:5:}}",
                path.display()
            );
        }
    }
}
