//! The lesson driver: what every stage binary does around its narrated script.
//!
//! It checks the machine first (`doctor`), then either runs the narrated demo or, with `-- CMD`, runs
//! CMD inside the container with the terminal's stdio and passes its exit status through. Any error
//! ends as one clear line on stderr and a non-zero exit; every guard has run by then.

use crate::cli::StageArgs;
use crate::container::{self, Config, ContainerError, OnSignal, Stdio};
use crate::narrate::{Narrator, Style};
use crate::runtime::Cleanup;
use crate::signals::Interrupted;
use crate::stage::Stage;
use colored::Colorize;
use std::process::ExitCode;

/// What a lesson's narrated script gets to work with.
pub struct Lesson {
    pub stage: Stage,
    /// The stage's flags as given.
    pub args: StageArgs,
    pub narrator: Narrator,
    /// The container as this stage builds it.
    pub config: Config,
    /// Undo actions for what the demo itself creates on the host.
    pub cleanup: Cleanup,
}

impl Lesson {
    /// Runs a command in this stage's container and captures its output.
    pub fn run(&self, argv: &[&str]) -> anyhow::Result<container::Ran> {
        self.run_with(&self.config, argv)
    }

    /// Runs a command in a container built from another config (a second container, say).
    pub fn run_with(&self, config: &Config, argv: &[&str]) -> anyhow::Result<container::Ran> {
        crate::signals::check_interrupted()?;
        container::run_captured(config, argv)
    }
}

/// The entry point of a stage binary: its flags are the stage's (see [`StageArgs`]), `about` opens
/// its help.
pub fn main(
    stage: Stage,
    about: &'static str,
    demo: impl FnOnce(&mut Lesson) -> anyhow::Result<()>,
) -> ExitCode {
    main_with(StageArgs::parse(stage, about), |_| {}, demo)
}

/// [`main`] with the arguments already parsed, and a last change to the container's configuration
/// (an exercise swaps in the student's mechanism there).
pub fn main_with(
    args: StageArgs,
    adjust: impl FnOnce(&mut Config),
    demo: impl FnOnce(&mut Lesson) -> anyhow::Result<()>,
) -> ExitCode {
    let stage = args.stage;
    crate::signals::install();
    crate::narrate::init_color();
    // A stop signal while waiting for Enter (--step) unwinds with an `Interrupted` payload so that
    // every guard runs; that is not a bug, so the panic hook stays quiet about it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Interrupted>().is_none() {
            default_hook(info);
        }
    }));
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args, adjust, demo)));
    let code = match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => report(stage, &e),
        Err(panic) => match panic.downcast_ref::<Interrupted>() {
            Some(i) => report(stage, &anyhow::Error::new(*i)),
            None => 101,
        },
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn run(
    args: StageArgs,
    adjust: impl FnOnce(&mut Config),
    demo: impl FnOnce(&mut Lesson) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    let stage = args.stage;
    crate::doctor::preflight(stage, args.common.rootless)?;
    // What a killed run left (its record says what), removed before this run makes anything.
    crate::runtime::record::reap_and_report();
    let (mut config, held) = crate::runtime::configure::configure(&args)?;
    adjust(&mut config);
    if !args.common.command.is_empty() {
        let code = run_command(&config, &args.common.command);
        drop(held);
        return code;
    }
    let common = &args.common;
    let narrator = Narrator::new(Style { quiet: common.quiet, step_by_step: common.step });
    let mut lesson = Lesson { stage, args: args.clone(), narrator, config, cleanup: held };
    demo(&mut lesson)?;
    lesson.narrator.finish(stage.bin());
    Ok(if lesson.narrator.failed_claims().is_empty() { 0 } else { 1 })
}

/// `-- CMD`: the command runs inside with the terminal's stdio; its status becomes ours.
pub fn run_command(config: &Config, argv: &[String]) -> anyhow::Result<i32> {
    let mut running = container::spawn(config, argv, Stdio::Inherit)?;
    running.release()?;
    Ok(running.wait(OnSignal::Forward)?.code())
}

/// Prints one clear line for an error and returns the exit code that goes with it.
pub fn report(stage: Stage, e: &anyhow::Error) -> i32 {
    let (code, text) = if let Some(i) = e.downcast_ref::<Interrupted>() {
        (128 + i.0 as i32, format!("{}: {i}", stage.bin()))
    } else if let Some(c) = e.downcast_ref::<ContainerError>() {
        (c.exit_code, format!("{}: {c}", stage.bin()))
    } else {
        // Anything else went wrong in the stage itself: Docker's 125.
        (crate::cli::SETUP_FAILED, format!("{}: {}", stage.bin(), one_line(e)))
    };
    eprintln!("{} {text}", "error:".red().bold());
    code
}

/// An error and its causes on one line: "mount a new /proc: EPERM: Operation not permitted".
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}
