//! The workshop's default binary: `cargo run` with no `--bin`.
//!
//! With no arguments it is `doctor`: what this machine can do and which stages it can run. It also
//! checks exercises (`check`), gives their hints one level at a time (`hint`), shows progress,
//! quizzes a student on a stage, predict first and then run for real (`quiz`),
//! measures a container against the course notes' claims (`measure`), builds the root filesystem (`rootfs`), lists stage 07's images (`images`) and removes what killed runs left (`cleanup`).
//! `sample-output` records each demo's real output for the book.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use workshop::exercise::{self, Track};
use workshop::Stage;

/// The container workshop: build a Linux container one mechanism at a time.
#[derive(Parser)]
#[command(
    after_help = "Stages: cargo run --bin 01_pid (then 02_mount_proc, 03_rootfs, …)\nBook: book/ (mdbook serve book)"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// What this machine can do, and which stages it can run (the default).
    Doctor,
    /// Check your exercise for a stage (default: the first one not done yet).
    Check {
        /// The stage: 1, 01 or 01_pid.
        stage: Option<String>,
        /// Check the reference solutions instead of your exercises.
        #[arg(long)]
        solutions: bool,
    },
    /// The next hint for an exercise: the idea, then where to look, then the API.
    Hint {
        /// The stage: 1, 01 or 01_pid.
        stage: String,
        /// Show every hint of this exercise.
        #[arg(long, conflicts_with = "reset")]
        all: bool,
        /// Forget the hints seen for this exercise; the next `hint` starts at the first again.
        #[arg(long)]
        reset: bool,
    },
    /// Predict, then run: questions about a stage, each answered by running it on this kernel.
    Quiz {
        /// The stage: 4, 04 or 04_network (with --check, default: every built stage).
        stage: Option<String>,
        /// Ask nothing: run every question and check that its recorded answer is what the kernel
        /// does (CI runs this).
        #[arg(long)]
        check: bool,
    },
    /// Which exercises are done.
    Progress {
        #[arg(long)]
        solutions: bool,
    },
    /// Measure a container's start time and memory on this machine (container vs VM, chapter 0).
    Measure {
        /// How many containers to start.
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// Build the root filesystem the stages use, and print where it is.
    Rootfs,
    /// The images of stage 07's store and their layers, with sizes: each layer is stored once,
    /// however many images list it.
    Images {
        /// Import an unpacked root filesystem DIR or a `docker export` TAR as a new image first.
        #[arg(long, value_name = "DIR|TAR")]
        import: Option<std::path::PathBuf>,
    },
    /// Remove what stages that were killed (kill -9, a crash, a closed terminal) left on the host,
    /// as their records in the state directory list it. Every stage also does this when it starts.
    Cleanup,
    /// Run each stage's demo once and write its real output, values and all, for the book to show
    /// beside the redacted snapshot (book/src/output/). Needs root, as the demos do.
    SampleOutput {
        /// Only this stage: 1, 01 or 01_pid (default: every built stage).
        stage: Option<String>,
    },
}

fn main() -> ExitCode {
    workshop::narrate::init_color();
    let args = Args::parse();
    let ok = match args.command.unwrap_or(Cmd::Doctor) {
        Cmd::Doctor => {
            workshop::doctor::Report::gather().print();
            true
        }
        Cmd::Check { stage, solutions } => {
            check(stage.as_deref(), if solutions { Track::Solutions } else { Track::Exercises })
        }
        Cmd::Hint { stage, all, reset } => hint(&stage, all, reset),
        Cmd::Quiz { stage, check } => quiz(stage.as_deref(), check),
        Cmd::Progress { solutions } => {
            exercise::progress(if solutions { Track::Solutions } else { Track::Exercises })
        }
        Cmd::Measure { runs } => match workshop::measure::report(runs) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("error: measure: {}", workshop::lesson::one_line(&e));
                false
            }
        },
        Cmd::Cleanup => cleanup(),
        Cmd::Images { import } => match workshop::overlay::store::listing_text(import.as_deref()) {
            Ok(text) => {
                print!("{text}");
                true
            }
            Err(e) => {
                eprintln!("error: images: {}", workshop::lesson::one_line(&e));
                false
            }
        },
        Cmd::SampleOutput { stage } => sample_output(stage.as_deref()),
        Cmd::Rootfs => match workshop::image::ensure(None) {
            Ok(root) => {
                println!("{}", root.display());
                true
            }
            Err(e) => {
                eprintln!("error: rootfs: {}", workshop::lesson::one_line(&e));
                false
            }
        },
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn cleanup() -> bool {
    let dir = workshop::runtime::state_dir::state_dir();
    let reaped = workshop::runtime::record::reap();
    if reaped.is_empty() {
        println!("Nothing to clean up: no record of a dead run in {}.", dir.display());
        return true;
    }
    let mut ok = true;
    for (leftover, failures) in reaped {
        println!("Removed what {}.", leftover.describe().trim_start_matches("an "));
        for f in failures {
            eprintln!("error: {f}; it stays in the record, and the next cleanup tries again");
            ok = false;
        }
    }
    ok
}

fn sample_output(stage: Option<&str>) -> bool {
    use workshop::samples;
    if !workshop::privileges::is_root() {
        eprintln!(
            "error: sample-output runs each stage's demo, which needs root; run it with sudo"
        );
        return false;
    }
    let stages: Vec<Stage> = match stage {
        Some(s) => match Stage::parse(s).filter(|s| s.built()) {
            Some(st) => vec![st],
            None => {
                eprintln!("error: there is no built stage {s:?}; give its number, like `cargo run -- sample-output 01`");
                return false;
            }
        },
        None => Stage::ALL.into_iter().filter(|s| s.built()).collect(),
    };
    let header = samples::machine_header();
    println!("{header}");
    let mut ok = true;
    for st in stages {
        match samples::record(st, &header) {
            Ok(files) => println!("  {st}: wrote {}", files.plain.display()),
            Err(e) => {
                eprintln!("error: {st}: {}", workshop::lesson::one_line(&e));
                ok = false;
            }
        }
    }
    ok
}

fn quiz(stage: Option<&str>, check: bool) -> bool {
    let stages: Vec<Stage> = match stage {
        Some(s) => match Stage::parse(s).filter(|s| s.built()) {
            Some(st) => vec![st],
            None => {
                eprintln!("error: there is no built stage {s:?}; give its number, like `cargo run -- quiz 04`");
                return false;
            }
        },
        None if check => Stage::ALL.into_iter().filter(|s| s.built()).collect(),
        None => {
            eprintln!("error: which stage? give its number, like `cargo run -- quiz 04`");
            return false;
        }
    };
    if !workshop::privileges::is_root() {
        eprintln!(
            "error: the quiz runs the stage's containers, which needs root; run `{}` \
             (or `cargo run -- quiz …`, which uses sudo for you)",
            workshop::privileges::sudo_command()
        );
        return false;
    }
    // `cargo run -- quiz 04 | head`: end quietly when the reader stops reading, as cat does.
    // SAFETY: setting a signal's disposition to the default touches no Rust state.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if check {
        // Every stage, even after one drifted, so that one run names every question that did.
        let mut ok = true;
        for st in stages {
            ok &= workshop::quiz::check(st);
        }
        return ok;
    }
    stages.into_iter().all(|st| workshop::quiz::interactive(st, &mut std::io::stdin().lock()))
}

fn hint(stage: &str, all: bool, reset: bool) -> bool {
    use exercise::hints::{self, Request};
    // `cargo run -- hint 03 | head`: end quietly when the reader stops reading, as cat does.
    // SAFETY: setting a signal's disposition to the default touches no Rust state.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let Some(st) = Stage::parse(stage).filter(|s| s.built()) else {
        eprintln!("error: there is no exercise for stage {stage:?}; give its number, like `cargo run -- hint 01`");
        return false;
    };
    let request = match (all, reset) {
        (true, _) => Request::All,
        (_, true) => Request::Reset,
        _ => Request::Next,
    };
    match hints::show(st, request) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

fn check(stage: Option<&str>, track: Track) -> bool {
    if !workshop::privileges::is_root() {
        eprintln!("error: checking an exercise runs containers, which needs root; run `cargo run -- check` (it uses sudo for you)");
        return false;
    }
    let stages: Vec<Stage> = match stage {
        Some(s) => match Stage::parse(s).filter(|s| s.built()) {
            Some(st) => vec![st],
            None => {
                eprintln!("error: there is no exercise for stage {s:?}; give a number from 1 to 5, like `cargo run -- check 01`");
                return false;
            }
        },
        None => Stage::ALL.into_iter().filter(|s| s.built()).collect(),
    };
    for st in stages {
        let verdict = exercise::check(track, st);
        exercise::explain(track, st, &verdict);
        if !matches!(verdict, exercise::Verdict::Done { .. }) {
            return false;
        }
    }
    true
}
