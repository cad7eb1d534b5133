//! Exercises: the student's version of a stage, the checker that runs it through the same fact checks
//! as the reference stage, and the progress view.
//!
//! An exercise binary (`exercises/NN_topic.rs`) is the stage's container with one mechanism replaced
//! by the student's function (see [`crate::mechanisms`]). `cargo run -- check NN` builds it, runs every
//! fact check of [`crate::facts`] against it, and says in full sentences what passed and what did not;
//! a failure that matches a known mistake names the hint level to read ([`hints`]).

pub mod hints;

use crate::facts;
use crate::mechanisms::Mechanisms;
use crate::stage::Stage;
use colored::Colorize;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::OnceLock;

/// The help's opening paragraph of every exercise binary; its flags are the stage's own.
const ABOUT: &str = "Your version of a workshop stage. Check it with: cargo run -- check NN";

/// What an exercise runs when given no command: the stage's signature experiment.
pub fn try_it_command(stage: Stage) -> Vec<String> {
    let cmd: &[&str] = match stage {
        Stage::Pid => &["sh", "-c", "echo \"inside, my PID is $$\""],
        Stage::MountProc => &["ps", "-e"],
        Stage::Network => &["ip", "addr"],
        Stage::Cgroups => &["cat", "/proc/self/cgroup"],
        Stage::Overlay => &["sh", "-c", "grep ' / / ' /proc/self/mountinfo"],
        Stage::Security => &["grep", "Cap", "/proc/self/status"],
        _ => &["sh", "-c", "echo \"hostname: $(hostname)\"; ls /"],
    };
    cmd.iter().map(|s| s.to_string()).collect()
}

/// The `main` of an exercise binary: the stage's own flags and container, through the one stage
/// description, with the student's mechanism swapped in.
pub fn main(stage: Stage, mechanisms: Mechanisms) -> ExitCode {
    if stage == Stage::Lifecycle {
        if let Some(code) = lifecycle_verbs(mechanisms) {
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    }
    let mut args = crate::cli::StageArgs::parse(stage, ABOUT);
    if args.common.command.is_empty() {
        eprintln!(
            "(no command given, so running `{}`; check your work with: cargo run -- check {:02})",
            try_it_command(stage)
                .iter()
                .map(|a| crate::privileges::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
            stage.number()
        );
        args.common.command = try_it_command(stage);
    }
    let mechanisms = guard_propagation(mechanisms);
    crate::lesson::main_with(args, |config| config.mechanisms = mechanisms, |_| Ok(()))
}

/// Exercise 09 is `exec`: its verbs go to stage 09's command line with the student's join; with
/// no argument at all, a container is started, joined by exec and removed, as the try-it.
fn lifecycle_verbs(mechanisms: Mechanisms) -> Option<i32> {
    use crate::lifecycle::cli;
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    match argv.first() {
        Some(verb) if cli::VERBS.contains(&verb.as_str()) => {
            Some(cli::main_with(&argv, mechanisms))
        }
        Some(_) => None,
        None => {
            let name = format!("try-{}", std::process::id());
            eprintln!(
                "(no command given, so: run -d --name {name} -- sleep 1000; exec {name} -- sh -c 'id; readlink /proc/self/ns/user /proc/1/ns/user'; rm -f {name}. Check your work with: cargo run -- check 09)"
            );
            let started =
                cli::main_with(&words(&format!("run -d --name {name} -- sleep 1000")), mechanisms);
            if started != 0 {
                return Some(started);
            }
            let mut exec = words(&format!("exec {name} --"));
            exec.extend(
                ["sh", "-c", "id; readlink /proc/self/ns/user /proc/1/ns/user"].map(String::from),
            );
            let code = cli::main_with(&exec, mechanisms);
            cli::main_with(&words(&format!("rm -f {name}")), mechanisms);
            Some(code)
        }
    }
}

/// The student's make_private, kept for [`make_private_then_verify`].
static STUDENT_MAKE_PRIVATE: OnceLock<fn() -> nix::Result<()>> = OnceLock::new();

/// Exercise 02's safety net. A make_private that leaves a mount shared (MS_REC forgotten: the
/// "break it" task) would let the next mount, the new /proc, propagate onto the host's own /proc on
/// a machine where systemd made the mounts shared. So after the student's function the exercise
/// reads its own mount table and stops before anything is mounted if a mount is still shared.
fn guard_propagation(mut mechanisms: Mechanisms) -> Mechanisms {
    if let Some(student) = mechanisms.make_private {
        let _ = STUDENT_MAKE_PRIVATE.set(student);
        mechanisms.make_private = Some(make_private_then_verify);
    }
    mechanisms
}

/// Runs in the container's child, in its new mount namespace (the static was set before clone).
fn make_private_then_verify() -> nix::Result<()> {
    let student = STUDENT_MAKE_PRIVATE.get().ok_or(nix::errno::Errno::EINVAL)?;
    student()?;
    let mounts = crate::mounts::host_mounts().map_err(|_| nix::errno::Errno::EIO)?;
    let shared = still_shared(&mounts);
    if shared.is_empty() {
        return Ok(());
    }
    eprintln!(
        "error: after your make_private {} mount(s) are still shared ({}): a mount made now would \
         reach the host, so the exercise stops before mounting anything",
        shared.len(),
        shared.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    );
    Err(nix::errno::Errno::EINVAL)
}

/// The mounts whose propagation still has a `shared:N` peer group.
fn still_shared(mounts: &[crate::mounts::MountEntry]) -> Vec<String> {
    mounts
        .iter()
        .filter(|m| m.propagation.contains("shared:"))
        .map(|m| format!("{} {}", m.mount_point, m.propagation))
        .collect()
}

/// The student's exercises or the reference solutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    Exercises,
    Solutions,
}

impl Track {
    fn dir(self) -> &'static str {
        match self {
            Track::Exercises => "exercises",
            Track::Solutions => "solutions",
        }
    }

    /// The binary's name: `ex01_pid` or `sol01_pid`.
    pub fn bin(self, stage: Stage) -> String {
        match self {
            Track::Exercises => format!("ex{}", stage.bin()),
            Track::Solutions => format!("sol{}", stage.bin()),
        }
    }

    /// The source file the student edits.
    pub fn file(self, stage: Stage) -> String {
        format!("{}/{}.rs", self.dir(), stage.bin())
    }
}

/// How an exercise stands.
#[derive(Debug)]
pub enum Verdict {
    Done { checks: usize },
    Todo { message: String },
    Failing { passed: usize, failures: Vec<(String, String)> },
    DoesNotBuild { output: String },
}

/// The workspace root, where Cargo.toml is.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where cargo puts what it builds: $CARGO_TARGET_DIR, else the workspace's target/. (Not beside
/// the image store: that moved to /var/lib/workshop, out of the student's tree.)
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| workspace_root().join(d))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where [`build`] leaves an exercise's binary: cargo's dev profile in [`target_dir`].
pub fn built_bin(track: Track, stage: Stage) -> PathBuf {
    target_dir().join("debug").join(track.bin(stage))
}

/// Builds the exercise with cargo, as the user who ran `sudo` when there is one, so that files in
/// target/ stay theirs.
pub fn build(track: Track, stage: Stage) -> Result<PathBuf, String> {
    cargo_build(&track.bin(stage))
}

/// `cargo build --bin BIN` of this workspace, as the user who ran `sudo` when there is one, and the
/// path of the binary it made, in cargo's dev profile in [`target_dir`].
pub fn cargo_build(bin: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["--bin", bin]);
    if let (Ok(uid), Ok(gid)) = (std::env::var("SUDO_UID"), std::env::var("SUDO_GID")) {
        use std::os::unix::process::CommandExt;
        if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
            cmd.uid(uid).gid(gid);
        }
    }
    let out = cmd.output().map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(target_dir().join("debug").join(bin))
}

/// A stage's own binary (`04_network`), for what runs a stage from outside it (the quiz). Under
/// cargo (`cargo run -- quiz 04`, `cargo test`, which set `CARGO`) it is built first, as `check`
/// builds an exercise, since `cargo run` builds only the default binary and a stage beside it may
/// be missing or older than the library. Run directly (`sudo target/debug/workshop quiz 04`,
/// where root may have no cargo at all), it is the stage beside the running program.
pub fn stage_binary(stage: Stage) -> Result<PathBuf, String> {
    if std::env::var_os("CARGO").is_some() {
        return cargo_build(stage.bin());
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the running program: {e}"))?;
    let beside = exe.with_file_name(stage.bin());
    if beside.is_file() {
        Ok(beside)
    } else {
        Err(format!(
            "{} is not built: run `cargo build --bins`, or use `cargo run`, which builds it",
            beside.display()
        ))
    }
}

/// Builds an exercise and runs every fact check of its stage against it.
pub fn check(track: Track, stage: Stage) -> Verdict {
    match build(track, stage) {
        Ok(bin) => check_binary(stage, &bin),
        Err(output) => Verdict::DoesNotBuild { output },
    }
}

/// Runs every fact check of `stage` against an exercise binary that is already built.
pub fn check_binary(stage: Stage, bin: &Path) -> Verdict {
    let bin = bin.to_path_buf();
    // A first run shows whether the student's function is still a todo!().
    let probe = facts::run(&bin, &["--", "true"]);
    if let Some(pos) = probe.stderr.find("not yet implemented") {
        let message = probe.stderr[pos..].lines().next().unwrap_or("").to_string();
        return Verdict::Todo { message };
    }
    let checks = facts::checks_for(stage);
    let total = checks.len();
    let mut failures = Vec::new();
    let mut diagnosed = Vec::new();
    for c in checks {
        if let Err(why) = (c.run)(&bin) {
            // A known mistake gets a second sentence, once: what is wrong, which hint to read.
            let why = match hints::diagnose(stage, &why).filter(|d| !diagnosed.contains(d)) {
                Some(diagnosis) => {
                    let why = format!("{why}.\n    {diagnosis}");
                    diagnosed.push(diagnosis);
                    why
                }
                None => why,
            };
            failures.push((c.name.to_string(), why));
        }
    }
    // A todo!() that only a later check reaches (exercise 09's exec) is still a todo.
    if let Some((_, why)) = failures.iter().find(|(_, why)| why.contains("not yet implemented")) {
        let at = why.find("not yet implemented").unwrap_or(0);
        return Verdict::Todo { message: why[at..].lines().next().unwrap_or("").to_string() };
    }
    if failures.is_empty() {
        Verdict::Done { checks: total }
    } else {
        Verdict::Failing { passed: total - failures.len(), failures }
    }
}

/// Prints a verdict in full sentences.
pub fn explain(track: Track, stage: Stage, verdict: &Verdict) {
    let file = track.file(stage);
    let n = stage.number();
    match verdict {
        Verdict::Done { checks } => {
            println!(
                "{} Stage {n:02} ({stage}) passes all {checks} checks in {file}. Well done!",
                "✓".green().bold()
            );
            if let Some(next) = Stage::ALL.iter().find(|s| s.number() == n + 1 && s.built()) {
                println!(
                    "  Next: open {} and run `cargo run -- check {:02}`.",
                    track.file(*next),
                    next.number()
                );
            }
        }
        Verdict::Todo { message } => {
            println!(
                "{} Stage {n:02} ({stage}) is not done yet: {file} still reaches its todo!().",
                "…".yellow().bold()
            );
            println!("  It said: {message}");
            println!("  Open {file}, read the TODO and the man pages it names, and replace the todo!() with your code.");
            println!("  Stuck? `cargo run -- hint {n:02}` shows one hint at a time.");
        }
        Verdict::Failing { passed, failures } => {
            println!(
                "{} Stage {n:02} ({stage}): {passed} of {} checks pass; {} do not.",
                "✗".red().bold(),
                passed + failures.len(),
                failures.len()
            );
            for (name, why) in failures {
                println!("  ✗ {name}: {why}.");
            }
            println!("  Look at the function under the TODO in {file}; the chapter for stage {n:02} in the book explains the mechanism, and `cargo run -- hint {n:02}` gives the next hint.");
        }
        Verdict::DoesNotBuild { output } => {
            println!("{} Stage {n:02} ({stage}): {file} does not compile yet. Here is what the compiler said:", "✗".red().bold());
            println!("{}", output.trim_end());
        }
    }
}

/// The progress view: every built stage, and where the student stands.
pub fn progress(track: Track) -> bool {
    println!("{}", "Your progress".bold());
    let mut all_done = true;
    for stage in Stage::ALL.into_iter().filter(|s| s.built()) {
        let verdict = check(track, stage);
        let mark = match &verdict {
            Verdict::Done { .. } => "✓ done".green().to_string(),
            Verdict::Todo { .. } => "… to do".yellow().to_string(),
            Verdict::Failing { passed, failures } => {
                format!("✗ {passed}/{} checks pass", passed + failures.len()).red().to_string()
            }
            Verdict::DoesNotBuild { .. } => "✗ does not compile".red().to_string(),
        };
        all_done &= matches!(verdict, Verdict::Done { .. });
        println!("  {:<14} {:<28} {mark}", stage.bin(), track.file(stage));
    }
    all_done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_left_shared_is_named_and_private_ones_are_not() {
        let mounts = crate::mounts::parse_mountinfo(
            "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
             22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw\n\
             23 27 0:22 / /sys rw,relatime master:3 - sysfs sysfs rw\n",
        );
        assert_eq!(still_shared(&mounts), ["/proc shared:5"]);
    }
}
