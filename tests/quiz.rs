//! The predict-then-run quizzes (`cargo run -- quiz NN`), run for real: every recorded answer of
//! every built stage is what this kernel does (`quiz NN --check`), a scripted student's run is
//! narrated as recorded, and the quiz leaves the host as it found it. The data itself (every file
//! reads, links name headings, the book shows the data) is checked by `cargo test --lib quiz`.
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use workshop::Stage;

fn workshop() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_workshop"))
}

/// `workshop quiz ARGS…`, plain, with `input` on its stdin. Without `CARGO` in its environment
/// the quiz runs the stage binaries beside it, the ones cargo built for these tests, rather
/// than calling cargo to build them again. Every run of a stage inside it is bounded (30 s).
fn quiz(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(workshop())
        .arg("quiz")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CARGO")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start workshop quiz");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().expect("wait for workshop quiz")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `quiz NN --check` for one stage: every answer the kernel's, and the host as it was.
fn check(stage: Stage) {
    let Some(_s) = common::root_and_serial() else { return };
    let out =
        common::leaves_host_as_found(|| quiz(&[&format!("{:02}", stage.number()), "--check"], ""));
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "quiz {stage} --check: a recorded answer is not what the kernel does ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let questions = workshop::quiz::load(stage).unwrap().questions.len();
    assert_eq!(stdout.matches(", as recorded").count(), questions, "{stdout}");
    assert_eq!(stderr, "", "the check wrote to stderr");
}

macro_rules! check_tests {
    ($($name:ident: $stage:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(Stage::$stage);
            }
        )*

        /// Every built stage has its check above.
        #[test]
        fn every_built_stage_is_checked() {
            let checked = [$(Stage::$stage),*];
            for stage in common::built_stages() {
                assert!(checked.contains(&stage), "{stage}'s quiz is not checked in tests/quiz.rs");
            }
        }
    };
}

check_tests! {
    quiz_01_answers_are_the_kernels: Pid,
    quiz_02_answers_are_the_kernels: MountProc,
    quiz_03_answers_are_the_kernels: Rootfs,
    quiz_04_answers_are_the_kernels: Network,
    quiz_05_answers_are_the_kernels: User,
    quiz_06_answers_are_the_kernels: Cgroups,
    quiz_07_answers_are_the_kernels: Overlay,
    quiz_08_answers_are_the_kernels: Security,
    quiz_09_answers_are_the_kernels: Lifecycle,
}

/// A student's run, answers piped in: one right, one skipped, one wrong, one right. Stage 02 is
/// the one whose every output is the same on every machine but for ps(1)'s padding (its tools are the host's, its facts
/// the container's alone), so its whole narration is a snapshot.
#[test]
fn a_scripted_run_of_02_is_narrated_as_recorded() {
    let Some(_s) = common::root_and_serial() else { return };
    let out = common::leaves_host_as_found(|| quiz(&["02_mount_proc"], "1\n\nsh\n0\n"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quiz 02 failed ({}):\n{stdout}\n{stderr}", out.status);
    assert_eq!(stderr, "", "the quiz wrote to stderr");
    assert!(stdout.contains("Score: 2 of 4 predicted right"), "{stdout}");
    // ps(1) pads its PID column to the width of the machine's pid_max (7 digits here, 5 in the
    // VM): the command's lines are compared without that padding.
    let unpadded = regex::Regex::new(r"(?m)^(\s*│) +").unwrap().replace_all(&stdout, "$1 ");
    insta::assert_snapshot!("scripted_02", workshop::narrate::redact(&unpadded));
}

/// The answers a scripted run gives are read as a student means them: a letter for a choice,
/// any case; the end of the input is "I do not know" for every question left.
#[test]
fn letters_and_the_end_of_the_input() {
    let Some(_s) = common::root_and_serial() else { return };
    let out = common::leaves_host_as_found(|| quiz(&["3"], "B\n"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quiz 03 failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("✓ Right."), "B is the first answer: {stdout}");
    assert_eq!(stdout.matches("(end of input)").count(), 3, "{stdout}");
    assert!(stdout.contains("Score: 1 of 4 predicted right"), "{stdout}");
}

#[test]
fn without_root_one_clear_line_with_the_command_that_works() {
    if !common::require_root() {
        return;
    }
    let (copy, _guard) = common::world_executable_copy(workshop());
    let out = common::run_as_nobody(&copy, &["quiz", "04"]);
    common::assert_one_clear_line(&out, 1, &["needs root", "sudo", "quiz 04"]);
}

#[test]
fn a_stage_that_is_not_there_is_one_clear_line() {
    let out = quiz(&["10"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("quiz 04"), "{stderr}");
    let out = quiz(&[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("which stage?"), "{}", text(&out).1);
}
