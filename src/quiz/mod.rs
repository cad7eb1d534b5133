//! Predict-then-run quizzes: `cargo run -- quiz NN` asks a question about a stage, lets the student
//! predict, then runs the question's command in the stage's container on this machine's kernel and
//! reads the answer from the real run. `--check` does the same for every question without asking,
//! and fails when a recorded answer is not what the kernel does, so that a quiz cannot drift from
//! the stages (CI runs it, in `tests/quiz.rs`).
//!
//! The questions are data, one TOML file per stage in `lessons/quiz/`, built into the binary. A
//! question:
//!
//! ```toml
//! [[question]]
//! id = "ps-lists-the-container"        # unique in its stage, lower-case words joined by '-'
//! prompt = "The container runs `ps -e` … How many lines will it print?"
//! run = "ps -e -o pid=,comm="          # the stage's arguments, as typed after
//!                                      # `cargo run --bin 02_mount_proc --`; or a list of such
//!                                      # runs, in order (stage 09: its verbs)
//! read = "lines"                       # how to read the fact from the real run: see [`Read`]
//! answer = "1"                         # the recorded answer: the fact itself, or an option's letter
//! explain = "…"                        # why, in a few sentences
//! section = "ch02-mount-proc.md#the-idea"   # where the book says so
//! ```
//!
//! A question with `options` (a list of `{ text, when }`) is a multiple choice: `when` is a regex
//! that the whole fact must match for that option to be the kernel's answer, the first match
//! winning; `{hostname}` and `{kernel}` in it stand for the host's name and kernel release. An
//! option without `when` is never the kernel's answer. The optional fields: `read_all = true`
//! reads the fact from every run's output, not only the last one's; `after` lists runs made
//! afterwards whatever happened (stage 09's `rm -f {name}`, where `{name}` is a container name of
//! the quiz's own); `host` prepares something on the host first (see [`HostFixture`]).

mod book;
mod play;
mod read;
mod run;

pub use book::{book_file, chapter_headings, render_markdown};
pub use play::{check, interactive};
pub use read::{fact, matches_whole};
pub use run::{observe, Context, Observation};

use crate::stage::Stage;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashSet;

/// How many questions a stage's quiz has, at least and at most.
pub const QUESTIONS: std::ops::RangeInclusive<usize> = 3..=6;

/// One stage's quiz.
#[derive(Debug, Clone)]
pub struct Quiz {
    pub stage: Stage,
    pub questions: Vec<Question>,
}

/// One question, as written in its stage's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub prompt: String,
    /// The stage's arguments for each run, in order, as a person types them.
    #[serde(deserialize_with = "one_or_many")]
    pub run: Vec<String>,
    /// Runs made after the question's runs, whatever happened: clean-up.
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub host: Option<HostFixture>,
    pub read: Read,
    /// Read the fact from the output of every run, not only the last one's.
    #[serde(default)]
    pub read_all: bool,
    #[serde(default)]
    pub options: Vec<Choice>,
    pub answer: String,
    pub explain: String,
    pub section: String,
}

/// How a question's fact is read from its real run (the last run's, or with `read_all` every
/// run's standard output, in order).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Read {
    /// The last run's exit status: `read = "status"`.
    Status,
    /// The output's non-empty lines, trimmed, joined with "; ": `read = "output"`.
    Output,
    /// How many non-empty lines the output has: `read = "lines"`.
    Lines,
    /// How many lines match the regex: `read = { lines_matching = '^\s*\d+:' }`.
    LinesMatching(String),
    /// The regex's first capture group (or whole match) in the output, the first match found:
    /// `read = { capture = 'inet [0-9.]+/(\d+)' }`.
    Capture(String),
    /// How many times the regex matches in the output: `read = { count = '/layers/' }`.
    Count(String),
    /// `yes` when the regex matches anywhere in the output, else `no`.
    Contains(String),
}

/// Something the quiz makes on the host before a question's runs, and removes after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostFixture {
    /// The course notes' `/tmp/secret.txt`, holding `secret`: written when it is not there
    /// (and then removed afterwards); a file already there is used as it is.
    SecretFile,
    /// A System V shared memory segment of the host's, as `ipcmk -M 4096` makes.
    ShmSegment,
}

impl HostFixture {
    /// What a person would type on the host for the same thing.
    pub fn shell(self) -> &'static str {
        match self {
            HostFixture::SecretFile => "echo secret > /tmp/secret.txt",
            HostFixture::ShmSegment => "ipcmk -M 4096",
        }
    }
}

/// One option of a multiple-choice question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub text: String,
    /// The regex the whole fact matches when this option is what the kernel did.
    #[serde(default)]
    pub when: Option<String>,
}

impl Question {
    pub fn is_choice(&self) -> bool {
        !self.options.is_empty()
    }

    /// The recorded answer's option, for a multiple choice: `b` is 1.
    pub fn answer_index(&self) -> Option<usize> {
        letter_index(&self.answer).filter(|&i| i < self.options.len())
    }
}

/// `a` is 0, `b` is 1, …; anything but one letter is `None`.
pub fn letter_index(s: &str) -> Option<usize> {
    let s = s.trim();
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => {
            Some((c.to_ascii_lowercase() as u8 - b'a') as usize)
        }
        _ => None,
    }
}

/// The letter of option `i`: 0 is `a`.
pub fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizFile {
    question: Vec<Question>,
}

/// Each stage's quiz file, as built into the binary: the stage, its path in the repository, its text.
const SOURCES: [(Stage, &str, &str); 9] = [
    (Stage::Pid, "lessons/quiz/01_pid.toml", include_str!("../../lessons/quiz/01_pid.toml")),
    (
        Stage::MountProc,
        "lessons/quiz/02_mount_proc.toml",
        include_str!("../../lessons/quiz/02_mount_proc.toml"),
    ),
    (
        Stage::Rootfs,
        "lessons/quiz/03_rootfs.toml",
        include_str!("../../lessons/quiz/03_rootfs.toml"),
    ),
    (
        Stage::Network,
        "lessons/quiz/04_network.toml",
        include_str!("../../lessons/quiz/04_network.toml"),
    ),
    (Stage::User, "lessons/quiz/05_user.toml", include_str!("../../lessons/quiz/05_user.toml")),
    (
        Stage::Cgroups,
        "lessons/quiz/06_cgroups.toml",
        include_str!("../../lessons/quiz/06_cgroups.toml"),
    ),
    (
        Stage::Overlay,
        "lessons/quiz/07_overlay.toml",
        include_str!("../../lessons/quiz/07_overlay.toml"),
    ),
    (
        Stage::Security,
        "lessons/quiz/08_security.toml",
        include_str!("../../lessons/quiz/08_security.toml"),
    ),
    (
        Stage::Lifecycle,
        "lessons/quiz/09_lifecycle.toml",
        include_str!("../../lessons/quiz/09_lifecycle.toml"),
    ),
];

/// The quiz file of a stage, as a path in the repository: `lessons/quiz/04_network.toml`.
pub fn source_path(stage: Stage) -> &'static str {
    SOURCES.iter().find(|(s, _, _)| *s == stage).map(|(_, p, _)| *p).expect("every stage")
}

/// Reads and checks a stage's quiz. The error names the file and says what is wrong.
pub fn load(stage: Stage) -> Result<Quiz, String> {
    let (_, path, text) = SOURCES.iter().find(|(s, _, _)| *s == stage).expect("every stage");
    parse(stage, text).map_err(|e| format!("{path}: {e}"))
}

/// Parses and checks a quiz file's text.
pub fn parse(stage: Stage, text: &str) -> Result<Quiz, String> {
    let file: QuizFile = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let quiz = Quiz { stage, questions: file.question };
    validate(&quiz)?;
    Ok(quiz)
}

fn regex_ok(what: &str, re: &str) -> Result<(), String> {
    Regex::new(re).map(drop).map_err(|e| format!("{what}: the regex {re:?} does not compile: {e}"))
}

/// Everything a quiz file must be, beyond what serde checks: the questions that make sense, and a
/// recorded answer the kernel's fact can be compared with.
fn validate(quiz: &Quiz) -> Result<(), String> {
    let n = quiz.questions.len();
    if !QUESTIONS.contains(&n) {
        return Err(format!(
            "{n} questions; a stage's quiz has {} to {}",
            QUESTIONS.start(),
            QUESTIONS.end()
        ));
    }
    let mut ids = HashSet::new();
    for q in &quiz.questions {
        let id = &q.id;
        let well_formed = !id.is_empty()
            && id.split('-').all(|w| {
                !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !well_formed {
            return Err(format!("the id {id:?} is not lower-case words joined by '-'"));
        }
        if !ids.insert(id.clone()) {
            return Err(format!("two questions have the id {id:?}"));
        }
        let what = |field: &str| format!("question {id}: {field}");
        for (field, text) in [("prompt", &q.prompt), ("explain", &q.explain)] {
            if text.trim().is_empty() {
                return Err(what(&format!("{field} is empty")));
            }
        }
        if q.run.is_empty() {
            return Err(what("run lists no run"));
        }
        for r in q.run.iter().chain(&q.after) {
            match shlex::split(r) {
                Some(words) if !words.is_empty() => {}
                _ => {
                    return Err(what(&format!("{r:?} does not split into words as a shell would")))
                }
            }
        }
        match &q.read {
            Read::LinesMatching(re) | Read::Capture(re) | Read::Count(re) | Read::Contains(re) => {
                regex_ok(&what("read"), re)?
            }
            Read::Status | Read::Output | Read::Lines => {}
        }
        if !q.section.contains(".md#") {
            return Err(what(&format!("section {:?} is not FILE.md#anchor", q.section)));
        }
        if q.is_choice() {
            if !(2..=6).contains(&q.options.len()) {
                return Err(what("a multiple choice has 2 to 6 options"));
            }
            let Some(i) = q.answer_index() else {
                return Err(what(&format!(
                    "the answer {:?} is not the letter of one of its {} options",
                    q.answer,
                    q.options.len()
                )));
            };
            if q.options[i].when.is_none() {
                return Err(what(&format!(
                    "the answer ({}) has no `when`, so the kernel could never give it",
                    q.answer
                )));
            }
            for o in &q.options {
                if let Some(when) = &o.when {
                    regex_ok(&what("when"), &run::placeholders_for_regex(when))?;
                }
            }
        } else if q.answer.trim().is_empty() {
            return Err(what("the answer is empty"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
