//! The quiz in the book: a page after each chapter (`book/src/quiz/NN_topic.md`, which the
//! chapter's "Quiz: predict, then run" section links to), rendered from the stage's quiz file, so
//! that the Korean edition translates it as any page, and the book shows the
//! very questions the quiz asks and CI checks. A unit test fails when the checked-in file is not
//! what the data renders (`WORKSHOP_UPDATE_QUIZ=1 cargo test --lib quiz` rewrites it).
//!
//! The markdown is plain paragraphs, lists and code blocks, so that the book's translation
//! (gettext, one message per paragraph) can take it sentence by sentence.

use super::run::Context;
use super::{letter, Quiz};
use crate::stage::Stage;
use std::path::{Path, PathBuf};

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The rendered quiz of a stage, as checked in: `book/src/quiz/02_mount_proc.md`.
pub fn book_file(stage: Stage) -> PathBuf {
    workspace_root().join("book/src/quiz").join(format!("{}.md", stage.bin()))
}

/// A stage's quiz as the book shows it: each question with its command and options, and the
/// answer, the explanation and the section to read in a `<details>` block, so that a reader
/// predicts before looking.
pub fn render_markdown(quiz: &Quiz) -> String {
    let stage = quiz.stage;
    let ctx = Context::for_book();
    let mut md = String::new();
    md.push_str(&format!("# {:02} · Quiz: predict, then run\n\n", stage.number()));
    md.push_str(&format!(
        "`cargo run -- quiz {:02}` asks these questions one at a time. After each prediction it \
         runs the command in the stage's container on your machine and reads the answer from \
         the real run. Predict first, then open the answer.\n",
        stage.number()
    ));
    for (i, q) in quiz.questions.iter().enumerate() {
        md.push_str(&format!("\n**Question {}.** {}\n\n```sh\n", i + 1, q.prompt.trim()));
        if let Some(fixture) = q.host {
            md.push_str(&format!("{}   # on the host\n", fixture.shell()));
        }
        for r in &q.run {
            md.push_str(&format!("cargo run --bin {} -- {}\n", stage.bin(), ctx.fill(r)));
        }
        for r in &q.after {
            md.push_str(&format!(
                "cargo run --bin {} -- {}   # afterwards\n",
                stage.bin(),
                ctx.fill(r)
            ));
        }
        md.push_str("```\n");
        if q.is_choice() {
            md.push('\n');
            for (j, o) in q.options.iter().enumerate() {
                md.push_str(&format!("- {}) {}\n", letter(j), o.text.trim()));
            }
        }
        // The summary's word on lines of its own, so that the translation can hold it.
        md.push_str("\n<details>\n<summary>\n\nAnswer\n\n</summary>\n\n");
        match q.answer_index().filter(|_| q.is_choice()) {
            Some(j) => md.push_str(&format!("**{}) {}**\n\n", letter(j), q.options[j].text.trim())),
            None => md.push_str(&format!("**{}**\n\n", q.answer.trim())),
        }
        md.push_str(&format!("{}\n\n", q.explain.trim()));
        let title = section_title(&q.section).unwrap_or_else(|| q.section.clone());
        // The page is in quiz/, beside the chapters' directory.
        md.push_str(&format!("Read more: [{title}](../{}).\n\n</details>\n", q.section));
    }
    md
}

/// The heading a section link names (`ch02-mount-proc.md#the-idea` is "The idea"), from the
/// chapter in `book/src`; `None` when the file or the heading is not there.
pub fn section_title(section: &str) -> Option<String> {
    let (file, anchor) = section.split_once('#')?;
    let text = std::fs::read_to_string(workspace_root().join("book/src").join(file)).ok()?;
    chapter_headings(&text).into_iter().find(|(a, _)| a == anchor).map(|(_, title)| title)
}

/// Every heading of a chapter's markdown, outside code blocks, with the anchor mdBook gives it
/// (mdbook-html's `id_from_content`, made unique with `-1`, `-2` … as its `unique_id` does): the
/// text without its markup, lower case, spaces to `-`, and only letters, digits, `_` and `-` kept.
pub fn chapter_headings(markdown: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(open) if open == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || !line.starts_with('#') {
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let rest = &line[hashes..];
        if hashes > 6 || !rest.starts_with(' ') {
            continue;
        }
        let title = rest.trim().trim_end_matches('#').trim().to_string();
        let id = id_from_content(&plain_text(&title));
        let mut unique = id.clone();
        let mut n = 0;
        while !used.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}-{n}");
        }
        out.push((unique, title));
    }
    out
}

/// A heading's text as mdBook renders it: code spans keep their text, links their text,
/// emphasis markers go.
fn plain_text(title: &str) -> String {
    let mut s = String::new();
    let mut chars = title.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '*' => {}
            ']' if chars.peek() == Some(&'(') => {
                // Skip the link's target.
                for c in chars.by_ref() {
                    if c == ')' {
                        break;
                    }
                }
            }
            '[' => {}
            c => s.push(c),
        }
    }
    s
}

/// mdbook-html 0.5's `id_from_content`.
fn id_from_content(content: &str) -> String {
    content
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch)
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_mdbooks() {
        let md = "# 01 · A process\n\n## The idea\n\n```sh\n# not a heading\n```\n\n\
                  ### `sleep` as PID 1 ignores Ctrl-C\n\
                  ### The PID namespace is for children, so `unshare` needs `--fork`\n\
                  ## `ps` still shows the host: `/proc`\n\
                  ## Without `lo`, not even 127.0.0.1 works\n\
                  ## The root filesystem's owners: a choice\n\
                  ## See [the demo](x.md)\n## The idea\n";
        let anchors: Vec<String> = chapter_headings(md).into_iter().map(|(a, _)| a).collect();
        assert_eq!(
            anchors,
            [
                "01--a-process",
                "the-idea",
                "sleep-as-pid-1-ignores-ctrl-c",
                "the-pid-namespace-is-for-children-so-unshare-needs---fork",
                "ps-still-shows-the-host-proc",
                "without-lo-not-even-127001-works",
                "the-root-filesystems-owners-a-choice",
                "see-the-demo",
                "the-idea-1",
            ]
        );
    }
}
