//! The quiz in the terminal: asked one question at a time (`workshop quiz NN`), or checked
//! against the kernel without asking (`workshop quiz NN --check`).

use super::run::{observe, Context, Fact, Observation, Run};
use super::{book, letter, letter_index, load, read, source_path, Question, Quiz, Read};
use crate::narrate::wrap;
use crate::stage::Stage;
use colored::Colorize;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use regex::Regex;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Lines of a run's standard output shown, and of its standard error.
const STDOUT_LINES: usize = 8;
const STDERR_LINES: usize = 4;

/// Set by Ctrl-C while a question's runs are going on.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While a question runs, Ctrl-C reaches the stage (in the same process group), which stops its
/// container and cleans up; the quiz itself only notes it, so that the question's `after` runs
/// still remove what it made, and then stops. A handler, not SIG_IGN: exec resets a handler, so
/// the stages and the containers' commands get the default disposition as usual.
struct CtrlCNoted {
    previous: Option<SigAction>,
}

impl CtrlCNoted {
    fn new() -> CtrlCNoted {
        let noting =
            SigAction::new(SigHandler::Handler(on_sigint), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let previous = unsafe { sigaction(Signal::SIGINT, &noting) }.ok();
        CtrlCNoted { previous }
    }
}

impl Drop for CtrlCNoted {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: puts back the disposition that was there before.
            let _ = unsafe { sigaction(Signal::SIGINT, previous) };
        }
    }
}

/// Runs a question for real, Ctrl-C noted rather than fatal.
fn observe_noting_ctrl_c(bin: &Path, q: &Question, ctx: &Context) -> Observation {
    let _noted = CtrlCNoted::new();
    observe(bin, q, ctx, &|| INTERRUPTED.load(Ordering::SeqCst))
}

/// The stage's arguments as a person types them: `cargo run --bin 02_mount_proc -- ps -e`.
fn typed(stage: Stage, args: &str) -> String {
    format!("cargo run --bin {} -- {args}", stage.bin())
}

fn say(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Loads the quiz and finds the stage binary, or says why not in one line.
fn prepare(stage: Stage) -> Option<(Quiz, std::path::PathBuf)> {
    let quiz = match load(stage) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: the quiz of {stage} does not read: {e}");
            return None;
        }
    };
    match crate::exercise::stage_binary(stage) {
        Ok(bin) => Some((quiz, bin)),
        Err(e) => {
            eprintln!("error: {stage} could not be built for the quiz: {}", e.trim());
            None
        }
    }
}

/// A run's output, in a box under its command: the first lines of its stdout and stderr, and
/// further down the line `focus` finds, if any (where the fact was read, such as the
/// `"stopped": 137` of `inspect`'s JSON), so that the student sees it in the real output.
fn show_run(stage: Stage, run: &Run, focus: Option<&Regex>) {
    say(format!("    {}", format!("┌ {}", typed(stage, &run.args)).dimmed()));
    let bar = || "│".dimmed();
    let skipped = |n: usize| say(format!("    {} {}", bar(), format!("… {n} more lines").dimmed()));
    let show = |text: &str, max: usize| {
        let lines: Vec<&str> = text.lines().collect();
        let found = focus.and_then(|re| lines.iter().position(|l| re.is_match(l)));
        let shown = match found {
            Some(i) if i >= max => max - 2,
            _ => max,
        };
        for l in lines.iter().take(shown) {
            say(format!("    {} {l}", bar()));
        }
        let mut next = shown;
        if let Some(i) = found.filter(|&i| i >= max) {
            if i > shown {
                skipped(i - shown);
            }
            say(format!("    {} {}", bar(), lines[i].bold()));
            next = i + 1;
        }
        if lines.len() > next {
            skipped(lines.len() - next);
        }
    };
    show(&run.outcome.stdout, STDOUT_LINES);
    if !run.outcome.stderr.trim().is_empty() {
        say(format!("    {}", "├ on stderr:".dimmed()));
        show(&run.outcome.stderr, STDERR_LINES);
    }
    say(format!("    {}", format!("└ status {}", run.outcome.status).dimmed()));
}

/// Where a question's fact is read in its output, as a regex for one line, for [`show_run`].
fn focus(q: &Question) -> Option<Regex> {
    match &q.read {
        Read::Capture(re) | Read::Contains(re) => Regex::new(re).ok(),
        _ => None,
    }
}

/// Shows each run of a question; the fact's line is looked for in the runs it was read from.
fn show_runs(stage: Stage, q: &Question, runs: &[Run]) {
    let focus = focus(q);
    for (i, run) in runs.iter().enumerate() {
        let read_here = q.read_all || i + 1 == runs.len();
        show_run(stage, run, focus.as_ref().filter(|_| read_here));
    }
}

/// The question as it is asked: the prompt, the command(s), the options.
fn ask(stage: Stage, q: &Question, ctx: &Context, number: usize, of: usize) {
    say("");
    say(format!("{}", format!("Question {number} of {of}").cyan().bold()));
    for line in wrap(&q.prompt) {
        say(format!("  {}", line.bold()));
    }
    if let Some(fixture) = q.host {
        let on_host = format!("$ {}", fixture.shell());
        say(format!(
            "    {}   {}",
            on_host.green(),
            "(on the host; the quiz does it for you)".dimmed()
        ));
    }
    for r in &q.run {
        say(format!("    {}", format!("$ {}", typed(stage, &ctx.fill(r))).green()));
    }
    for (i, o) in q.options.iter().enumerate() {
        say(format!("    {}) {}", letter(i), o.text));
    }
}

/// Reads a prediction: a letter for a choice, any text for a short answer; `None` for "I don't
/// know" (an empty line, or the end of the input). On a terminal a letter that is no option is
/// asked again.
fn predict(q: &Question, input: &mut dyn BufRead) -> Option<String> {
    let tty = std::io::stdin().is_terminal();
    let hint = if q.is_choice() {
        format!("a letter from a to {}", letter(q.options.len() - 1))
    } else {
        "a word or a number".to_string()
    };
    loop {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "  Your prediction ({hint}; Enter if you do not know): ");
        let _ = out.flush();
        drop(out);
        let mut line = String::new();
        let eof = input.read_line(&mut line).map(|n| n == 0).unwrap_or(true);
        let answer = line.trim().to_string();
        if !tty {
            // Piped answers are not echoed by a terminal: show them, so the transcript reads.
            say(if eof { "(end of input)" } else { &answer });
        }
        if answer.is_empty() {
            return None;
        }
        let valid = !q.is_choice() || letter_index(&answer).is_some_and(|i| i < q.options.len());
        if valid || !tty {
            return Some(answer);
        }
        say(format!("  Please answer with {hint}, or press Enter to skip."));
    }
}

/// The kernel's answer as the student reads it: the option or the fact, and how it was read.
fn kernel_says(q: &Question, fact: &Fact) -> String {
    match fact.option {
        Some(i) => format!("{}) {}   ({})", letter(i), q.options[i].text, fact.how),
        None if fact.value.is_empty() => format!("nothing   ({})", fact.how),
        None => format!("{}   ({})", fact.value, fact.how),
    }
}

/// The kernel's answer in one short phrase, for `--check`: `c (read from the output: 81)`.
fn kernel_says_briefly(fact: &Fact) -> String {
    match fact.option {
        Some(i) => format!("{} ({})", letter(i), fact.how),
        None => fact.how.clone(),
    }
}

/// Whether a prediction is what the kernel did.
fn predicted_right(prediction: &str, fact: &Fact) -> bool {
    match fact.option {
        Some(i) => letter_index(prediction) == Some(i),
        None => read::same_answer(prediction, &fact.value),
    }
}

/// Whether the recorded answer is what the kernel did.
fn recorded_holds(q: &Question, fact: &Fact) -> bool {
    match fact.option {
        Some(i) => q.answer_index() == Some(i),
        None => read::same_answer(&q.answer, &fact.value),
    }
}

/// The explanation and the book's section.
fn explain(q: &Question) {
    let mut lines = wrap(&q.explain).into_iter();
    if let Some(first) = lines.next() {
        say(format!("  {} {first}", "Why:".bold()));
    }
    for line in lines {
        say(format!("       {line}"));
    }
    let title = book::section_title(&q.section).map(|t| format!(", “{t}”")).unwrap_or_default();
    say(format!("  {} book/src/{}{title}", "Read more:".bold(), q.section));
}

/// `workshop quiz NN`: each question asked, then run for real and compared; a score at the end.
/// False when a question could not be run or its recorded answer is not what the kernel did.
pub fn interactive(stage: Stage, input: &mut dyn BufRead) -> bool {
    let Some((quiz, bin)) = prepare(stage) else { return false };
    let n = quiz.questions.len();
    say(format!("{}", format!("Quiz {stage}: predict, then run").bold()));
    for line in wrap(&format!(
        "{n} questions. Predict what the kernel will do; then the stage does it, on this machine, \
         and the answer is read from the real run. Answer with a letter or a word or number; an \
         empty line means \"I do not know\"."
    )) {
        say(format!("{}", line.dimmed()));
    }
    let (mut right, mut ok) = (0, true);
    for (i, q) in quiz.questions.iter().enumerate() {
        let ctx = Context::for_question(i);
        ask(stage, q, &ctx, i + 1, n);
        let prediction = predict(q, input);
        say(format!("  {}", "Running it…".dimmed()));
        let seen = observe_noting_ctrl_c(&bin, q, &ctx);
        show_runs(stage, q, &seen.runs);
        if INTERRUPTED.load(Ordering::SeqCst) {
            say("Interrupted: the quiz stops here (what the question made has been removed).");
            return false;
        }
        match &seen.fact {
            Ok(fact) => {
                let says = kernel_says(q, fact);
                match says.split_once("   (") {
                    // A long line (a choice's text, then how it was read) is cut in two.
                    Some((what, how)) if says.chars().count() > 80 => {
                        say(format!("  {} {what}", "The kernel says:".bold()));
                        say(format!("                   ({how}"));
                    }
                    _ => say(format!("  {} {says}", "The kernel says:".bold())),
                }
                match &prediction {
                    None => say(format!("  {} No prediction this time.", "–".yellow().bold())),
                    Some(p) if predicted_right(p, fact) => {
                        right += 1;
                        say(format!("  {} Right.", "✓".green().bold()));
                    }
                    Some(p) => {
                        say(format!("  {} Not this time: you predicted {p}.", "✗".red().bold()))
                    }
                }
                if !recorded_holds(q, fact) {
                    ok = false;
                    say(format!(
                        "  {} The quiz's recorded answer is {}, not what this kernel did: the quiz has \
                         drifted from the stage. `cargo run -- quiz {:02} --check` checks every \
                         question; {} needs a look.",
                        "!".red().bold(),
                        q.answer,
                        stage.number(),
                        source_path(stage)
                    ));
                }
            }
            Err(why) => {
                ok = false;
                say(format!(
                    "  {} The kernel's answer could not be read: {why}.",
                    "✗".red().bold()
                ));
            }
        }
        explain(q);
    }
    say("");
    say(format!(
        "{} {right} of {n} predicted right, each against what this machine's kernel did just now.",
        "Score:".bold()
    ));
    ok
}

/// `workshop quiz NN --check`: every question run for real, without asking; true when every
/// recorded answer is what the kernel did. A failure names the question and what the kernel said.
pub fn check(stage: Stage) -> bool {
    let Some((quiz, bin)) = prepare(stage) else { return false };
    say(format!("{}", format!("Quiz {stage}: each recorded answer against this kernel").bold()));
    let mut drifted = Vec::new();
    for (i, q) in quiz.questions.iter().enumerate() {
        let ctx = Context::for_question(i);
        let seen = observe_noting_ctrl_c(&bin, q, &ctx);
        if INTERRUPTED.load(Ordering::SeqCst) {
            say("Interrupted: the check stops here.");
            return false;
        }
        match &seen.fact {
            Ok(fact) if recorded_holds(q, fact) => {
                say(format!(
                    "  {} {}: {}, as recorded",
                    "✓".green().bold(),
                    q.id,
                    kernel_says_briefly(fact)
                ));
            }
            outcome => {
                let why = match outcome {
                    Ok(fact) => format!(
                        "recorded {:?}, but the kernel says {}",
                        q.answer,
                        kernel_says_briefly(fact)
                    ),
                    Err(why) => why.clone(),
                };
                say(format!("  {} {}: {why}", "✗".red().bold(), q.id));
                show_runs(stage, q, &seen.runs);
                drifted.push(q.id.clone());
            }
        }
    }
    if drifted.is_empty() {
        say(format!(
            "{} {}",
            "✓".green().bold(),
            format!(
                "{stage}: all {} recorded answers are what the kernel does.",
                quiz.questions.len()
            )
            .bold()
        ));
        true
    } else {
        say(format!(
            "{} {stage}: {} of {} questions drifted from the kernel: {}. Fix the stage or its quiz, {}.",
            "✗".red().bold(),
            drifted.len(),
            quiz.questions.len(),
            drifted.join(", "),
            source_path(stage)
        ));
        false
    }
}
