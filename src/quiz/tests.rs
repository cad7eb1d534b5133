//! The quiz data, checked without root: every file reads, every answer can be compared with the
//! kernel's, every link names a heading of the book, and the book shows what the data says.

use super::*;
use std::path::Path;

fn built_stages() -> impl Iterator<Item = Stage> {
    Stage::ALL.into_iter().filter(|s| s.built())
}

fn book_src() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/book/src"))
}

#[test]
fn every_stage_has_a_quiz_that_reads() {
    for stage in built_stages() {
        let quiz = load(stage).unwrap_or_else(|e| panic!("{e}"));
        assert!(QUESTIONS.contains(&quiz.questions.len()), "{stage}");
        assert!(source_path(stage).ends_with(&format!("{}.toml", stage.bin())));
    }
}

#[test]
fn every_choice_answer_is_one_of_its_options_and_can_be_the_kernels() {
    for stage in built_stages() {
        for q in load(stage).unwrap().questions {
            if q.is_choice() {
                let i = q.answer_index().unwrap_or_else(|| panic!("{stage} {}", q.id));
                assert!(q.options[i].when.is_some(), "{stage} {}", q.id);
            }
        }
    }
}

#[test]
fn every_section_link_names_a_chapter_and_one_of_its_headings() {
    for stage in built_stages() {
        for q in load(stage).unwrap().questions {
            let (file, anchor) = q.section.split_once('#').unwrap();
            let path = book_src().join(file);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{stage} {}: {} does not read: {e}", q.id, path.display())
            });
            let anchors: Vec<String> =
                chapter_headings(&text).into_iter().map(|(a, _)| a).collect();
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{stage} {}: {file} has no heading whose anchor is #{anchor}; it has {anchors:?}",
                q.id
            );
        }
    }
}

/// The book's copy of each quiz is what the data renders. To rewrite them after changing a quiz:
/// `WORKSHOP_UPDATE_QUIZ=1 cargo test --lib quiz`.
#[test]
fn the_book_shows_each_quiz_as_its_data_says() {
    let update = std::env::var_os("WORKSHOP_UPDATE_QUIZ").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for stage in built_stages() {
        let rendered = render_markdown(&load(stage).unwrap());
        let file = book_file(stage);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &rendered).unwrap();
            continue;
        }
        if std::fs::read_to_string(&file).ok().as_deref() != Some(rendered.as_str()) {
            stale.push(file.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "the book's copy of a quiz is not what {} renders: {}. Rewrite it with \
         `WORKSHOP_UPDATE_QUIZ=1 cargo test --lib quiz` and commit it",
        "lessons/quiz/*.toml",
        stale.join(", ")
    );
}

#[test]
fn each_chapter_links_to_its_quiz_page_and_the_summary_lists_it() {
    for stage in built_stages() {
        let chapter = std::fs::read_dir(book_src())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("ch{:02}-", stage.number())))
            })
            .unwrap_or_else(|| panic!("no chapter for {stage}"));
        let text = std::fs::read_to_string(&chapter).unwrap();
        let link = format!("(quiz/{}.md)", stage.bin());
        let heading = "## Quiz: predict, then run";
        let (_, after) = text
            .split_once(heading)
            .unwrap_or_else(|| panic!("{} has no {heading:?} section", chapter.display()));
        let section = after.split("\n## ").next().unwrap_or("");
        assert!(
            section.contains(&link),
            "{}: its quiz section does not link to {link}",
            chapter.display()
        );
        let summary = std::fs::read_to_string(book_src().join("SUMMARY.md")).unwrap();
        let chapter_name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        let listed = summary
            .split_once(&format!("({chapter_name})"))
            .and_then(|(_, rest)| rest.lines().nth(1))
            .is_some_and(|next| next.trim_start().starts_with("- [") && next.contains(&link));
        assert!(listed, "SUMMARY.md does not list {link} right under {chapter_name}");
    }
}

#[test]
fn a_quiz_file_with_a_mistake_is_refused_with_the_reason() {
    let ok = r#"
        [[question]]
        id = "a"
        prompt = "p"
        run = "true"
        read = "status"
        answer = "0"
        explain = "e"
        section = "ch01-pid.md#the-idea"
    "#;
    let three = format!("{ok}{}{}", ok.replace("\"a\"", "\"b\""), ok.replace("\"a\"", "\"c\""));
    assert!(parse(Stage::Pid, &three).is_ok());
    let twice = format!("{ok}{ok}{ok}");
    assert!(parse(Stage::Pid, &twice).unwrap_err().contains("two questions have the id"));
    assert!(parse(Stage::Pid, ok).unwrap_err().contains("1 questions"));
    let bad_letter = three.replacen(
        "answer = \"0\"",
        "options = [{ text = \"x\", when = \"0\" }, { text = \"y\" }]\n answer = \"c\"",
        1,
    );
    assert!(parse(Stage::Pid, &bad_letter).unwrap_err().contains("not the letter"));
    let no_when = bad_letter.replacen("answer = \"c\"", "answer = \"b\"", 1);
    assert!(parse(Stage::Pid, &no_when).unwrap_err().contains("has no `when`"));
    let bad_regex = three.replacen("read = \"status\"", "read = { capture = '(' }", 1);
    assert!(parse(Stage::Pid, &bad_regex).unwrap_err().contains("does not compile"));
    let unknown = three.replacen("read = \"status\"", "read = \"status\"\nrun_as = \"x\"", 1);
    assert!(parse(Stage::Pid, &unknown).unwrap_err().contains("run_as"));
    let unbalanced = three.replacen("run = \"true\"", "run = \"sh -c 'echo\"", 1);
    assert!(parse(Stage::Pid, &unbalanced).unwrap_err().contains("does not split"));
}

#[test]
fn placeholders_fill_runs_and_stay_literal_in_options() {
    let ctx =
        Context { name: "quiz-1-2".into(), hostname: "a.b".into(), kernel: "6.1.0-18+x".into() };
    assert_eq!(ctx.fill("exec {name} -- ps"), "exec quiz-1-2 -- ps");
    assert!(matches_whole(&ctx.when_regex("{hostname}"), "a.b"));
    assert!(!matches_whole(&ctx.when_regex("{hostname}"), "axb"));
    assert!(matches_whole(&ctx.when_regex("{kernel}"), "6.1.0-18+x"));
    assert!(matches_whole(&ctx.when_regex("[0-9a-f]{12}"), "2216db64a2fb"));
}
