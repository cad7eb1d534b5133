//! Stage 09's command line: Docker's verbs. `09_lifecycle` alone runs the narrated demo, and
//! `09_lifecycle [FLAGS] -- CMD` runs CMD as every stage does; a verb first means a verb.

use super::engine::{self, Spec};
use super::id::ContainerId;
use super::state::Store;
use super::time::Timestamp;
use crate::container::Exit;
use crate::stage::Stage;
use clap::Parser;
use std::time::Duration;

/// The verbs, as `docker` names them.
pub const VERBS: [&str; 15] = [
    "run", "create", "start", "ps", "list", "exec", "stop", "kill", "restart", "pause", "unpause",
    "logs", "inspect", "rm", "help",
];

const RUN_HELP: &str = "\
Usage: 09_lifecycle run [-d] [--rm] [--name NAME] [STAGE FLAGS…] [-- CMD…]
       09_lifecycle create [--name NAME] [STAGE FLAGS…] [-- CMD…]

Create a container (and, for run, start it). The stage flags are every earlier stage's:
--image NAME, --hostname, -p 8080:80, --memory 64m, --cpus, --pids-limit, --cap-drop,
--read-only, --user… (see `09_lifecycle --help`). Without CMD, the image's own command.
  -d, --detach   run in the background, print the container's id, keep its output in its log
      --rm       remove the container when it exits
      --name     a name of your own ([a-zA-Z0-9][a-zA-Z0-9_.-]*), unique among containers";

/// The verbs other than `run` and `create` (whose stage flags clap cannot know in advance).
#[derive(Parser, Debug)]
#[command(
    name = "09_lifecycle",
    about = "A container that lives between commands, driven by Docker's verbs"
)]
pub enum Verb {
    /// Start a created or stopped container (the same layer: its files are still there).
    Start {
        /// Stay attached to its output and pass its exit status through.
        #[arg(short, long)]
        attach: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers (running ones; -a for all).
    #[command(alias = "list")]
    Ps {
        #[arg(short, long)]
        all: bool,
    },
    /// Run a command in a running container: setns into its namespaces, its cgroup, its root.
    Exec {
        /// Accepted for Docker's sake: stdin is always passed.
        #[arg(short, long)]
        interactive: bool,
        /// Accepted for Docker's sake: the terminal is passed as it is.
        #[arg(short, long)]
        tty: bool,
        container: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Stop: SIGTERM, then SIGKILL after the grace period.
    Stop {
        /// Seconds to wait before SIGKILL.
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Send a signal to the container's first process (SIGKILL by default).
    Kill {
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop, then start again.
    Restart {
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Freeze every process of the container (the cgroup freezer).
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Thaw them.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// What a detached container printed.
    Logs {
        #[arg(short, long)]
        follow: bool,
        container: String,
    },
    /// The container's state, as JSON.
    Inspect {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers (a running one only with -f).
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
}

/// `run`/`create`'s own flags, taken out of the stage flags wherever they are before `--`.
pub fn parse_spec(args: &[String]) -> Result<(Spec, bool), String> {
    let (before, after) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut spec = Spec { command: after, ..Spec::default() };
    let mut detach = false;
    let mut i = 0;
    while i < before.len() {
        let a = &before[i];
        match a.as_str() {
            "-d" | "--detach" => detach = true,
            "--rm" => spec.auto_remove = true,
            "--name" => {
                i += 1;
                spec.name = Some(before.get(i).ok_or("--name needs a value")?.clone());
            }
            _ if a.starts_with("--name=") => spec.name = Some(a["--name=".len()..].to_string()),
            _ => spec.flags.push(a.clone()),
        }
        i += 1;
    }
    Ok((spec, detach))
}

/// Runs a verb; the exit code is the command's (`run`, `start -a`, `exec`), else 0, or the
/// runtime's error code after one line on stderr.
pub fn main(argv: &[String]) -> i32 {
    main_with(argv, crate::mechanisms::Mechanisms::library())
}

/// [`main`] with exercise 09's join swapped in.
pub fn main_with(argv: &[String], mechanisms: crate::mechanisms::Mechanisms) -> i32 {
    // Only the verbs that run a container read signals from a signalfd (to pass them on, and for
    // the monitor they fork); the others keep the default: Ctrl-C ends them at once.
    if argv.first().is_some_and(|v| matches!(v.as_str(), "run" | "create" | "start" | "restart")) {
        crate::signals::install();
    }
    crate::narrate::init_color();
    let outcome = (|| -> anyhow::Result<i32> {
        let verb = argv.first().map(String::as_str).unwrap_or("help");
        if matches!(verb, "run" | "create")
            && argv.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h")
        {
            println!("{RUN_HELP}");
            return Ok(0);
        }
        if verb == "help" {
            let _ = Verb::try_parse_from(["09_lifecycle", "--help"]).map_err(|e| e.print());
            println!("\n{RUN_HELP}");
            return Ok(0);
        }
        crate::doctor::preflight(Stage::Lifecycle, false)?;
        crate::runtime::record::reap_and_report();
        let store = Store::open();
        match verb {
            "run" | "create" => {
                let (spec, detach) = parse_spec(&argv[1..]).map_err(engine::fail)?;
                let (state, configured) = engine::create_configured(&store, &spec)?;
                if verb == "create" {
                    println!("{}", state.id);
                    return Ok(0);
                }
                if detach {
                    // The monitor is a fork of its own: it makes its run's lease and cgroup itself.
                    drop(configured);
                    engine::start(&store, &state.id, false)?;
                    println!("{}", state.id);
                    return Ok(0);
                }
                Ok(engine::run_attached(&store, &state.id, configured)?.code())
            }
            _ => {
                let parsed = Verb::try_parse_from(
                    std::iter::once("09_lifecycle").chain(argv.iter().map(String::as_str)),
                );
                let verb = match parsed {
                    Ok(v) => v,
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                        let _ = e.print();
                        return Ok(0);
                    }
                    Err(e) => {
                        let text = e.to_string();
                        return Err(engine::fail(
                            text.lines()
                                .next()
                                .unwrap_or("bad arguments")
                                .trim_start_matches("error: ")
                                .to_string(),
                        ));
                    }
                };
                run_verb(&store, verb, &mechanisms)
            }
        }
    })();
    match outcome {
        Ok(code) => code,
        Err(e) => crate::lesson::report(Stage::Lifecycle, &e),
    }
}

fn each(
    store: &Store,
    names: &[String],
    mut f: impl FnMut(&ContainerId) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    // As Docker: every container is tried; the first error is the one reported.
    let mut first = None;
    for name in names {
        match store.resolve(name).and_then(|id| f(&id)) {
            Ok(()) => println!("{name}"),
            Err(e) if first.is_none() => first = Some(e),
            Err(e) => {
                crate::lesson::report(Stage::Lifecycle, &e);
            }
        }
    }
    first.map_or(Ok(0), Err)
}

fn run_verb(
    store: &Store,
    verb: Verb,
    mechanisms: &crate::mechanisms::Mechanisms,
) -> anyhow::Result<i32> {
    match verb {
        Verb::Start { attach, containers } => {
            if attach {
                anyhow::ensure!(containers.len() == 1, "start -a takes one container");
                let id = store.resolve(&containers[0])?;
                return Ok(engine::start(store, &id, true)?.map_or(0, Exit::code));
            }
            each(store, &containers, |id| engine::start(store, id, false).map(|_| ()))
        }
        Verb::Ps { all } => {
            let (seen, unreadable) = engine::observed(store)?;
            print!("{}", super::ps::table(&seen, all, Timestamp::now()));
            for line in unreadable {
                eprintln!("warning: {line}");
            }
            Ok(0)
        }
        Verb::Exec { container, command, .. } => {
            let id = store.resolve(&container)?;
            Ok(engine::exec(store, &id, &command, None, mechanisms.join_namespaces)?.code())
        }
        Verb::Stop { time, containers } => each(store, &containers, |id| {
            engine::stop(store, id, Duration::from_secs(time)).map(|_| ())
        }),
        Verb::Kill { signal, containers } => {
            let sig = parse_signal(&signal)?;
            each(store, &containers, |id| engine::kill(store, id, sig))
        }
        Verb::Restart { time, containers } => each(store, &containers, |id| {
            match engine::stop(store, id, Duration::from_secs(time)) {
                Ok(_) => {}
                Err(e) if e.to_string().contains("it is not running") => {}
                Err(e) => return Err(e),
            }
            engine::start(store, id, false).map(|_| ())
        }),
        Verb::Pause { containers } => each(store, &containers, |id| engine::pause(store, id, true)),
        Verb::Unpause { containers } => {
            each(store, &containers, |id| engine::pause(store, id, false))
        }
        Verb::Logs { follow, container } => {
            let id = store.resolve(&container)?;
            engine::logs(store, &id, follow, &mut std::io::stdout())?;
            Ok(0)
        }
        Verb::Inspect { containers } => {
            let mut all = Vec::new();
            for name in &containers {
                let id = store.resolve(name)?;
                let state = store.load(&id)?;
                let seen = super::liveness::observe(&state);
                all.push((state, seen));
            }
            println!("{}", super::inspect::to_json(&all));
            Ok(0)
        }
        Verb::Rm { force, containers } => {
            each(store, &containers, |id| engine::rm(store, id, force))
        }
    }
}

/// `KILL`, `SIGKILL`, `sigterm` or `9`.
pub fn parse_signal(text: &str) -> anyhow::Result<nix::sys::signal::Signal> {
    use std::str::FromStr;
    let bad = || {
        engine::fail(format!(
            "kill -s {text}: no such signal; use a name such as TERM or KILL, or a number"
        ))
    };
    if let Ok(n) = text.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn run_flags_are_found_wherever_they_are_before_the_command() {
        let (spec, detach) =
            parse_spec(&words("--memory 64m -d --name web --rm -p 8080:80 -- httpd -f")).unwrap();
        assert!(detach && spec.auto_remove);
        assert_eq!(spec.name.as_deref(), Some("web"));
        assert_eq!(spec.flags, words("--memory 64m -p 8080:80"));
        assert_eq!(spec.command, words("httpd -f"));
        // After `--` everything is the command's, -d included.
        let (spec, detach) = parse_spec(&words("--name=a -- sh -d")).unwrap();
        assert!(!detach);
        assert_eq!((spec.name.as_deref(), spec.command), (Some("a"), words("sh -d")));
        assert!(parse_spec(&words("--name")).is_err());
    }

    #[test]
    fn signals_by_name_or_number() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert!(parse_signal("FLY").unwrap_err().to_string().contains("no such signal"));
    }

    #[test]
    fn the_verbs_parse_as_docker_writes_them() {
        let p = |s: &str| {
            Verb::try_parse_from(std::iter::once("09_lifecycle").chain(s.split_whitespace()))
        };
        assert!(matches!(p("stop -t 2 web").unwrap(), Verb::Stop { time: 2, .. }));
        assert!(matches!(p("list -a").unwrap(), Verb::Ps { all: true }));
        assert!(matches!(p("exec -it web -- sh -c x").unwrap(), Verb::Exec { .. }));
        assert!(p("exec web").is_err(), "exec needs a command");
        assert!(p("rm").is_err(), "rm needs a container");
    }
}
