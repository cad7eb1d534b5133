//! Stage 09 · lifecycle: a container that lives between commands, driven by Docker's verbs.
//!
//! Run it: `cargo run --bin 09_lifecycle` for the narrated demo, or the verbs:
//! `09_lifecycle run -d --name web -- sh -c '…'`, `ps`, `exec web -- cat /tmp/hello.txt`, `stop`,
//! `start`, `rm`.

use std::process::ExitCode;
use workshop::lesson::{self, Lesson};
use workshop::lifecycle::cli;
use workshop::Stage;

const ABOUT: &str = "Stage 09: a container that lives between commands: create, start, ps, exec, stop, pause, logs, inspect, rm, with its state on disk and a monitor process per container.\n\nWithout a command, a narrated demo of the whole life of a container. With a verb first (run, create, start, ps, exec, stop, kill, restart, pause, unpause, logs, inspect, rm), that verb, as docker has it; `09_lifecycle help` lists them.";

fn demo(_l: &mut Lesson) -> anyhow::Result<()> {
    anyhow::bail!(
        "the narrated demo of stage 09 is not written yet; use the verbs (09_lifecycle help)"
    )
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|v| cli::VERBS.contains(&v.as_str())) {
        return ExitCode::from(cli::main(&argv).clamp(0, 255) as u8);
    }
    lesson::main(Stage::Lifecycle, ABOUT, demo)
}
