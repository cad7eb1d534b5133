//! The book shows one real run of each demo beside its redacted snapshot (`book/src/output/`,
//! written by `sudo cargo run -- sample-output`). These tests keep that run from drifting: redacted
//! as the snapshot tests redact, it must have exactly the lines of one of the stage's snapshots,
//! which the stage tests hold the demo to. No stage runs here: no root, a second or less, any
//! machine.

use std::path::Path;
use workshop::narrate::redact;
use workshop::samples::{self, SampleFiles};
use workshop::Stage;

const REGENERATE: &str = "regenerate it with `sudo cargo run -- sample-output`";

fn built_stages() -> impl Iterator<Item = Stage> {
    Stage::ALL.into_iter().filter(|s| s.built())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()))
}

/// A sample file's header line and body, or a failure that says how to fix it.
fn split(path: &Path, text: &str) -> (String, String) {
    let (header, body) = samples::split_header(text).unwrap_or_else(|| {
        panic!(
            "{}: the first line is not the machine header ({:?}…); {REGENERATE}",
            path.display(),
            samples::HEADER_PREFIX
        )
    });
    (header.to_string(), body.to_string())
}

#[test]
fn each_real_run_has_the_lines_of_its_snapshot_once_redacted() {
    for stage in built_stages() {
        let files = SampleFiles::of(stage);
        let marked = read(&files.marked);
        let (_, body) = split(&files.marked, &marked);
        assert!(body.contains('‹'), "{}: no value is marked; {REGENERATE}", files.marked.display());
        if let Err(why) = samples::matching_snapshot(stage, &redact(&body)) {
            panic!(
                "{}, redacted, is none of {stage}'s snapshots: {why}. If the demo changed, update \
                 its snapshot (cargo test --test stage{stage}), then {REGENERATE}",
                files.marked.display()
            );
        }
    }
}

#[test]
fn what_the_book_shows_is_the_checked_run_with_its_markers_removed() {
    for stage in built_stages() {
        let files = SampleFiles::of(stage);
        let (plain_header, plain) = split(&files.plain, &read(&files.plain));
        let (marked_header, marked) = split(&files.marked, &read(&files.marked));
        assert_eq!(plain_header, marked_header, "{stage}: the two files are of different runs");
        assert!(!plain.contains('‹'), "{}: a value is still marked", files.plain.display());
        if let Some(diff) = samples::first_difference(&samples::unmark(&marked), &plain) {
            panic!(
                "{} is not {} without its markers ({diff}); {REGENERATE}",
                files.plain.display(),
                files.marked.display()
            );
        }
    }
}

/// The check above must be able to fail: a real run with one word changed outside the values, or
/// one value more, is refused.
#[test]
fn a_run_that_drifted_from_its_snapshot_is_refused() {
    let files = SampleFiles::of(Stage::Pid);
    let (_, body) = split(&files.marked, &read(&files.marked));
    let reworded = body.replacen("a container is just a process", "a container is a process", 1);
    assert_ne!(reworded, body, "the title line of 01_pid's demo is not where this test expects");
    assert!(samples::matching_snapshot(Stage::Pid, &redact(&reworded)).is_err());
    let one_more_value = body.replacen("container sees", "‹container› sees", 1);
    assert!(samples::matching_snapshot(Stage::Pid, &redact(&one_more_value)).is_err());
    let one_line_less: String = body.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert!(samples::matching_snapshot(Stage::Pid, &redact(&one_line_less)).is_err());
}

/// Each chapter shows its stage's real run after the snapshot: the header as the block's title,
/// the output from line 2 on.
#[test]
fn each_chapter_includes_its_real_run_after_its_snapshot() {
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    for stage in built_stages() {
        let prefix = format!("ch{:02}-", stage.number());
        let chapter = std::fs::read_dir(&book)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
            .unwrap_or_else(|| panic!("no chapter {prefix}*.md for {stage}"));
        let text = read(&chapter);
        let file = format!("output/{}.txt", stage.bin());
        let title = text.find(&format!("{{{{#include {file}:1}}}}"));
        let output = text.find(&format!("{{{{#include {file}:2:}}}}"));
        let snapshot = text.find(&format!("stage{}__demo", stage.bin()));
        let name = chapter.display();
        assert!(title.is_some(), "{name} does not include {file}'s header line (:1) as a title");
        assert!(output.is_some(), "{name} does not include {file} from line 2 (:2:)");
        assert!(snapshot.is_some(), "{name} does not show {stage}'s snapshot");
        assert!(snapshot < output, "{name} shows the real run before the snapshot");
    }
}
