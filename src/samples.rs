//! One real run of each stage's demo, for the book to show beside its redacted snapshot.
//!
//! The snapshot (`tests/snapshots/stageNN_topic__demo*.snap`) is what the tests hold the demo to,
//! so it must hide every value that changes between runs: there the host's PID reads `‹…›`. A
//! reader at home wants the number itself. `cargo run -- sample-output` runs each stage's demo
//! once and writes, in `book/src/output/`:
//!
//! - `NN_topic.txt`: a header line naming the machine, then the output with real values and no
//!   `‹ ›` markers. The chapter includes it (the header as the title of the block).
//! - `NN_topic.marked.txt`: the same run with the markers kept, so that `tests/sample_output.rs`
//!   can redact it exactly as a snapshot is redacted and find that it has the snapshot's lines.
//!
//! The test also checks that the first file is the second with its markers removed, so the book
//! cannot show a run that has drifted from the demo the snapshot tests.

use crate::narrate;
use crate::stage::Stage;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// How the header line of every sample file starts; the test checks it, so that a file without
/// its header (which would shift the chapter's `{{#include …:2:}}` by a line) cannot pass.
pub const HEADER_PREFIX: &str = "One real run, on ";

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the book's real runs are: `book/src/output/`.
pub fn output_dir() -> PathBuf {
    workspace_root().join("book/src/output")
}

/// A stage's two sample files.
#[derive(Debug, Clone)]
pub struct SampleFiles {
    /// What the chapter includes: real values, no markers.
    pub plain: PathBuf,
    /// The same text with each value still marked `‹value›`, for the test.
    pub marked: PathBuf,
}

impl SampleFiles {
    pub fn of(stage: Stage) -> SampleFiles {
        let dir = output_dir();
        SampleFiles {
            plain: dir.join(format!("{}.txt", stage.bin())),
            marked: dir.join(format!("{}.marked.txt", stage.bin())),
        }
    }
}

/// The machine a run was made on, as the first line of its files: the kernel, the architecture
/// and the cgroup mode, the three things that most change what a demo prints.
pub fn machine_header() -> String {
    let arch = nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mode = crate::cgroups::CgroupHost::real().mode();
    format!("{HEADER_PREFIX}Linux {} ({arch}), cgroups {mode}", crate::doctor::kernel_release())
}

/// Removes the `‹ ›` around each value and keeps the value: what a reader should see.
///
/// The sibling of [`narrate::redact`], with the same rule for columns: a value followed by two or
/// more spaces sits in a fixed-width column, so the two characters the markers took become two
/// more spaces of padding, and the next column starts where it did.
pub fn unmark(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('‹') {
        out.push_str(&rest[..start]);
        let after = &rest[start + '‹'.len_utf8()..];
        let Some(end) = after.find('›') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&after[..end]);
        let tail = &after[end + '›'.len_utf8()..];
        if tail.starts_with("  ") {
            out.push_str("  ");
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Splits a sample file into its header line and the demo's output after it.
pub fn split_header(file: &str) -> Option<(&str, &str)> {
    let (header, body) = file.split_once('\n')?;
    header.starts_with(HEADER_PREFIX).then_some((header, body))
}

/// The text of an insta snapshot file: what follows its `---` … `---` header.
pub fn snapshot_body(snap: &str) -> Option<&str> {
    let rest = snap.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + "\n---\n".len()..])
}

/// The snapshot files of a stage's demo, one per road it can take (05: idmapped or plain; 06:
/// cgroup v1 or v2): `tests/snapshots/stageNN_topic__demo*.snap`, sorted.
pub fn snapshots(stage: Stage) -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/snapshots");
    let prefix = format!("stage{}__demo", stage.bin());
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".snap")
        })
        .collect();
    found.sort();
    found
}

/// Where two texts first differ, line by line, or `None` when they have the same lines. Trailing
/// blank space at the very end is ignored, as insta ignores it; within the text every character
/// counts, the padding of a column too.
pub fn first_difference(expected: &str, actual: &str) -> Option<String> {
    let (expected, actual) = (expected.trim_end(), actual.trim_end());
    if expected == actual {
        return None;
    }
    let mut e = expected.lines();
    let mut a = actual.lines();
    for n in 1.. {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return Some(format!(
                    "line {n}: expected {:?}, found {:?}",
                    x.unwrap_or("(end)"),
                    y.unwrap_or("(end)")
                ))
            }
        }
    }
    unreachable!("two different texts differ at some line")
}

/// The snapshot a redacted output has the same lines as; if none, why not, snapshot by snapshot.
pub fn matching_snapshot(stage: Stage, redacted: &str) -> Result<PathBuf, String> {
    let snaps = snapshots(stage);
    if snaps.is_empty() {
        return Err(format!("{stage} has no snapshot in tests/snapshots/"));
    }
    let mut why = Vec::new();
    for path in snaps {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        let Some(body) = snapshot_body(&text) else {
            why.push(format!("{name}: no insta header"));
            continue;
        };
        match first_difference(body, redacted) {
            None => return Ok(path),
            Some(diff) => why.push(format!("{name}: {diff}")),
        }
    }
    Err(why.join("; "))
}

/// Runs one stage's demo (built fresh by cargo, as the tests run it: NO_COLOR, no stdin) and
/// writes its two sample files, after checking that its redacted output is one of the stage's
/// snapshots: a run the test would refuse is not written.
pub fn record(stage: Stage, header: &str) -> anyhow::Result<SampleFiles> {
    let bin = crate::exercise::cargo_build(stage.bin())
        .map_err(|e| anyhow::anyhow!("cargo build --bin {}: {}", stage.bin(), e.trim()))?;
    let out = crate::facts::run(&bin, &[]);
    if out.status != 0 || !out.stderr.is_empty() {
        let failed: Vec<&str> = out.stdout.lines().filter(|l| l.contains('✗')).collect();
        bail!(
            "its demo exited with status {}, and every claim must hold with nothing on stderr: {} {}",
            out.status,
            failed.join(" "),
            out.stderr.trim()
        );
    }
    if let Err(why) = matching_snapshot(stage, &narrate::redact(&out.stdout)) {
        bail!(
            "its demo no longer prints what its snapshot holds ({why}); run its test \
             (cargo test --test stage{stage}) and review the snapshot first"
        );
    }
    let files = SampleFiles::of(stage);
    std::fs::create_dir_all(output_dir()).context("creating book/src/output")?;
    write_owned(&files.marked, &format!("{header}\n{}", out.stdout))?;
    write_owned(&files.plain, &format!("{header}\n{}", unmark(&out.stdout)))?;
    Ok(files)
}

/// Writes a file in the student's tree, owned by the user who ran `sudo` when there is one, as
/// `exercise::cargo_build` keeps target/ theirs: root-owned files in a checkout are a nuisance.
fn write_owned(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    if let (Ok(uid), Ok(gid)) = (std::env::var("SUDO_UID"), std::env::var("SUDO_GID")) {
        if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("giving {} back to uid {uid}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmark_keeps_the_value_and_the_next_column_in_place() {
        let row = "    PID                     ‹48213›                     1";
        let plain = unmark(row);
        assert_eq!(plain, "    PID                     48213                       1");
        // The container's column starts where it does in the marked and the redacted line.
        let col = |s: &str| s.chars().count() - 1;
        assert_eq!(col(&plain), col(row));
        assert_eq!(col(&plain), col(&narrate::redact(row)));
    }

    #[test]
    fn unmark_leaves_text_around_an_inline_value_alone() {
        assert_eq!(
            unmark("the host's / has ‹shared› propagation"),
            "the host's / has shared propagation"
        );
        assert_eq!(unmark("Swap: ‹none›."), "Swap: none.");
        assert_eq!(unmark("‹a› ‹b›"), "a b");
        assert_eq!(unmark("no values"), "no values");
        assert_eq!(unmark("an open ‹ only"), "an open ‹ only");
    }

    #[test]
    fn a_sample_file_starts_with_its_machine_header() {
        let file =
            format!("{HEADER_PREFIX}Linux 6.1.0 (x86_64), cgroups v2 (unified)\n01_pid · …\n");
        let (header, body) = split_header(&file).unwrap();
        assert!(header.ends_with("v2 (unified)"));
        assert_eq!(body, "01_pid · …\n");
        assert!(split_header("01_pid · …\nmore\n").is_none(), "a file without its header");
        assert!(machine_header().starts_with(HEADER_PREFIX));
    }

    #[test]
    fn snapshot_body_is_what_follows_insta_header() {
        let snap =
            "---\nsource: tests/stage01_pid.rs\nexpression: output\n---\nline one\nline two\n";
        assert_eq!(snapshot_body(snap), Some("line one\nline two\n"));
        assert_eq!(snapshot_body("line one\n"), None);
    }

    #[test]
    fn first_difference_names_the_line_and_counts_padding() {
        assert_eq!(first_difference("a\nb\n", "a\nb"), None);
        assert_eq!(
            first_difference("a\nb  c\n", "a\nb c\n").as_deref(),
            Some(r#"line 2: expected "b  c", found "b c""#)
        );
        assert_eq!(
            first_difference("a\nb\n", "a\n").as_deref(),
            Some(r#"line 2: expected "b", found "(end)""#)
        );
    }

    /// The comparison reads insta's files as insta does: each snapshot, redacted again (a no-op on
    /// `‹…›` and its padding), is found to match itself.
    #[test]
    fn each_snapshot_matches_itself() {
        for stage in Stage::ALL.into_iter().filter(|s| s.built()) {
            for path in snapshots(stage) {
                let text = std::fs::read_to_string(&path).unwrap();
                let body = snapshot_body(&text).unwrap();
                assert_eq!(narrate::redact(body), body, "{}", path.display());
                let found = matching_snapshot(stage, &narrate::redact(body));
                assert_eq!(found.as_ref(), Ok(&path), "{}", path.display());
            }
        }
    }

    #[test]
    fn every_built_stage_has_a_snapshot_to_match() {
        for stage in Stage::ALL.into_iter().filter(|s| s.built()) {
            assert!(!snapshots(stage).is_empty(), "{stage} has no snapshot");
        }
        assert_eq!(snapshots(Stage::User).len(), 2, "05: the idmapped and the plain road");
        assert_eq!(snapshots(Stage::Cgroups).len(), 2, "06: cgroup v1 and v2");
    }
}
