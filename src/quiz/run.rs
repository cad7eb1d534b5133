//! Running a question for real: its host fixture, its runs of the stage binary, its clean-up, and
//! the fact read from what the kernel did.

use super::{read, HostFixture, Question};
use crate::facts::{self, Outcome};
use std::path::{Path, PathBuf};

/// The values a question's text may name: `{name}` in a run, `{hostname}` and `{kernel}` in an
/// option's `when`.
#[derive(Debug, Clone)]
pub struct Context {
    /// A container name of the quiz's own, new for each question: `quiz-PID-N`.
    pub name: String,
    /// The host's hostname.
    pub hostname: String,
    /// The host's kernel release, as `uname -r` prints it.
    pub kernel: String,
}

impl Context {
    /// The context of the `index`th question (from 0) of this quiz run.
    pub fn for_question(index: usize) -> Context {
        Context {
            name: format!("quiz-{}-{}", std::process::id(), index + 1),
            hostname: crate::uts::host_hostname(),
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// What the book shows for a question, where no quiz runs: `{name}` is `quiz`.
    pub fn for_book() -> Context {
        Context { name: "quiz".into(), hostname: "HOSTNAME".into(), kernel: "RELEASE".into() }
    }

    /// A run's arguments with `{name}` filled in.
    pub fn fill(&self, run: &str) -> String {
        run.replace("{name}", &self.name)
    }

    /// An option's `when` with `{hostname}` and `{kernel}` filled in, as literal text.
    pub fn when_regex(&self, when: &str) -> String {
        when.replace("{hostname}", &regex::escape(&self.hostname))
            .replace("{kernel}", &regex::escape(&self.kernel))
    }
}

/// An option's `when` with sample values in its placeholders, to check that it compiles.
pub fn placeholders_for_regex(when: &str) -> String {
    Context {
        name: String::new(),
        hostname: "host.example".into(),
        kernel: "6.1.0-18-amd64".into(),
    }
    .when_regex(when)
}

/// One run of the stage binary: its arguments, as shown, and how it went.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: String,
    pub outcome: Outcome,
}

/// The fact the kernel gave, and for a multiple choice the option it makes true.
#[derive(Debug, Clone)]
pub struct Fact {
    pub value: String,
    /// How it was read, in words: `1 line of output`, `exit status 137`.
    pub how: String,
    pub option: Option<usize>,
}

/// What a question's real run showed: every run with its output, and the fact, or why none could
/// be read (a stage that failed, an output without what the question reads, an answer that is
/// none of the options).
#[derive(Debug, Clone)]
pub struct Observation {
    pub runs: Vec<Run>,
    pub fact: Result<Fact, String>,
}

/// What the quiz made on the host for a question, undone when dropped.
enum Fixture {
    Nothing,
    /// The secret file, and whether the quiz wrote it (and so removes it).
    Secret {
        path: PathBuf,
        made: bool,
    },
    Shm(#[allow(dead_code)] crate::ipc::ShmSegment),
}

impl Fixture {
    fn make(kind: Option<HostFixture>) -> Result<Fixture, String> {
        Ok(match kind {
            None => Fixture::Nothing,
            Some(HostFixture::SecretFile) => {
                let path = PathBuf::from("/tmp/secret.txt");
                let made = !path.exists();
                if made {
                    std::fs::write(&path, "secret\n").map_err(|e| {
                        format!("could not write {} on the host: {e}", path.display())
                    })?;
                }
                Fixture::Secret { path, made }
            }
            Some(HostFixture::ShmSegment) => Fixture::Shm(
                crate::ipc::ShmSegment::create()
                    .map_err(|e| format!("could not make a shared memory segment: {e}"))?,
            ),
        })
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Fixture::Secret { path, made: true } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs the stage binary once with a run's arguments (placeholders filled in).
fn run_once(bin: &Path, args: &str) -> Result<Outcome, String> {
    let words = shlex::split(args).ok_or_else(|| format!("{args:?} does not split into words"))?;
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Ok(facts::run(bin, &words))
}

/// Runs a question for real with the stage binary `bin`: the host fixture, each run in order
/// (stopping at one the stage itself could not do, status 125, or once `interrupted` says so),
/// then every `after` run, and reads the fact from what the kernel did.
pub fn observe(
    bin: &Path,
    q: &Question,
    ctx: &Context,
    interrupted: &dyn Fn() -> bool,
) -> Observation {
    let mut runs = Vec::new();
    let fact = (|| {
        let _fixture = Fixture::make(q.host)?;
        for r in &q.run {
            if interrupted() {
                return Err("interrupted".to_string());
            }
            let args = ctx.fill(r);
            let outcome = run_once(bin, &args)?;
            let failed = outcome.status == crate::cli::SETUP_FAILED;
            runs.push(Run { args: args.clone(), outcome });
            if failed {
                let said =
                    runs.last().map(|r| r.outcome.stderr.trim().to_string()).unwrap_or_default();
                return Err(format!("the stage could not run `{args}` (status 125): {said}"));
            }
        }
        Ok(())
    })();
    // Clean-up runs whatever happened; what they print is not part of the question.
    for r in &q.after {
        let _ = run_once(bin, &ctx.fill(r));
    }
    let fact = fact.and_then(|()| read_fact(q, &runs, ctx));
    Observation { runs, fact }
}

/// The fact, from the last run's output (or every run's, with `read_all`) and the last status.
fn read_fact(q: &Question, runs: &[Run], ctx: &Context) -> Result<Fact, String> {
    let last = runs.last().ok_or("the question made no run")?;
    let output = if q.read_all {
        runs.iter().map(|r| r.outcome.stdout.as_str()).collect::<Vec<_>>().join("\n")
    } else {
        last.outcome.stdout.clone()
    };
    let value = read::fact(&q.read, &output, last.outcome.status)?;
    let how = read::describe(&q.read, &output, &value);
    if !q.is_choice() {
        return Ok(Fact { value, how, option: None });
    }
    let option = q.options.iter().position(|o| {
        o.when.as_deref().is_some_and(|w| read::matches_whole(&ctx.when_regex(w), &value))
    });
    match option {
        Some(i) => Ok(Fact { value, how, option: Some(i) }),
        None => Err(format!("the kernel's answer, {value:?} ({how}), is none of the options")),
    }
}
