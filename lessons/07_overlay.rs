//! Stage 07 · overlay: image layers shared by containers, copy-on-write seen happening.
use std::process::ExitCode;
use workshop::lesson::{self, Lesson};
use workshop::Stage;

const ABOUT: &str = "Stage 07: overlayfs.";

fn demo(_l: &mut Lesson) -> anyhow::Result<()> {
    Ok(())
}

fn main() -> ExitCode {
    lesson::main(Stage::Overlay, ABOUT, demo)
}
