//! Stage 09 · lifecycle: a container that lives between commands, driven by Docker's verbs.
//!
//! Run it: `cargo run --bin 09_lifecycle` for the narrated demo, or the verbs:
//! `09_lifecycle run -d --name web -- sh -c '…'`, `ps`, `exec web -- cat /tmp/hello.txt`, `stop`,
//! `start`, `rm`.

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workshop::lesson::{self, Lesson};
use workshop::lifecycle::engine::{self, Spec};
use workshop::lifecycle::{cli, liveness, ContainerId, Store, Timestamp};
use workshop::narrate::{ms, var};
use workshop::Stage;

const ABOUT: &str = "Stage 09: a container that lives between commands: create, start, ps, exec, stop, pause, logs, inspect, rm, with its state on disk and a monitor process per container.\n\nWithout a command, a narrated demo of the whole life of a container. With a verb first (run, create, start, ps, exec, stop, kill, restart, pause, unpause, logs, inspect, rm), that verb, as docker has it; `09_lifecycle help` lists them.";

/// The demo's containers, removed (with `rm -f`) however the demo ends.
struct Made<'a> {
    store: &'a Store,
    ids: Vec<ContainerId>,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = engine::rm(self.store, id, true);
        }
    }
}

/// A verb's command line as a person types it.
fn typed(args: &str) -> String {
    format!("09_lifecycle {args}")
}

/// Runs `argv` in the container by exec and returns what it printed.
fn exec_out(store: &Store, id: &ContainerId, argv: &[&str]) -> anyhow::Result<String> {
    let (rx, tx) = nix::unistd::pipe()?;
    let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut std::fs::File::from(rx), &mut out);
        out
    });
    let exit = engine::exec(store, id, &argv, Some(tx.as_fd()), None);
    drop(tx);
    let out = reader.join().unwrap_or_default();
    exit?;
    Ok(out)
}

/// `ps -a`, one line per container of the demo.
fn ps_lines(store: &Store, ids: &[&ContainerId]) -> anyhow::Result<Vec<String>> {
    let (seen, _) = engine::observed(store)?;
    let mine: Vec<_> = seen.into_iter().filter(|(c, _)| ids.contains(&&c.id)).collect();
    let table = workshop::lifecycle::ps::table(&mine, true, Timestamp::now());
    Ok(table.lines().map(str::to_string).collect())
}

/// What the state file says of the container's status and processes, as it says it (JSON).
fn state_excerpt(store: &Store, id: &ContainerId) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(store.state_path(id)) else { return Vec::new() };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    let pid = |who: &str| match &value[who] {
        serde_json::Value::Null => "null".to_string(),
        p => format!("{{\"pid\": {}, \"start_time\": {}}}", var(&p["pid"]), var(&p["start_time"])),
    };
    vec![
        format!("\"status\": {}", value["status"]),
        format!("\"process\": {}", pid("process")),
        format!("\"monitor\": {}", pid("monitor")),
    ]
}

fn status_of(store: &Store, id: &ContainerId) -> String {
    match store.load(id) {
        Ok(state) => {
            let seen = liveness::observe(&state);
            workshop::lifecycle::ps::status(&state, seen.status, Timestamp::now())
        }
        Err(_) => "removed".into(),
    }
}

// ANCHOR: demo
fn demo(l: &mut Lesson) -> anyhow::Result<()> {
    let store = Store::open();
    let mut made = Made { store: &store, ids: Vec::new() };
    let n = &mut l.narrator;
    n.banner(
        "09_lifecycle · a container that lives on",
        "created, running, paused, stopped, removed: one container, many commands.",
    );

    n.step("create: a container that exists before it runs");
    let spec = |name: &str, script: &str| Spec {
        name: Some(name.into()),
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..Spec::default()
    };
    let web = engine::create(&store, &spec("demo-web", "while true; do sleep 1; done"))?;
    made.ids.push(web.id.clone());
    let id = web.id.clone();
    n.shell(&typed("create --name demo-web -- sh -c 'while true; do sleep 1; done'"));
    n.result(&format!("{} (64 hex digits; ps shows the first 12)", var(id.full())));
    let dir = store.dir(&id);
    let upper = web.upper_dir.clone().unwrap_or_default();
    n.result(&format!("state: {}/state.json", var(dir.display())));
    n.result(&format!("layer: {} (empty: nothing written yet)", var(upper.display())));
    for line in ps_lines(&store, &[&id])? {
        n.result(&var(line));
    }
    let created = store.load(&id)?;
    n.note("Nothing runs yet: no process, no namespace, no cgroup, no veth. Only a state file and");
    n.note("an empty upper dir exist, as `docker create` leaves them.");
    n.claim(
        created.process.is_none() && upper.is_dir() && status_of(&store, &id) == "Created",
        "a created container is a state file and a layer, with no process",
    );

    n.step("start: a monitor makes the container with stages 01-08");
    engine::start(&store, &id, false)?;
    let state = store.load(&id)?;
    let pid = state.process.map(|p| p.pid).unwrap_or(0);
    let monitor = state.monitor.map(|p| p.pid).unwrap_or(0);
    let running_state = state_excerpt(&store, &id);
    let tag = engine::tag(&id);
    let (veth, _) = workshop::network::veth_names(&tag);
    let links = workshop::facts::workshop_links();
    let cgroup_dirs: Vec<String> = state
        .resources
        .iter()
        .filter_map(|r| match r {
            workshop::runtime::Resource::Cgroup { cgroup } => {
                cgroup.dirs.first().map(|d| d.path.display().to_string())
            }
            _ => None,
        })
        .collect();
    let n = &mut l.narrator;
    n.shell(&typed("start demo-web"));
    n.result(&format!(
        "monitor: PID {}, container's PID 1: PID {} on the host",
        var(monitor),
        var(pid)
    ));
    n.result(&format!(
        "veth on the host: {}",
        if links.contains(&veth) { "wsh-TAG" } else { "none" }
    ));
    n.result(&format!("cgroup: {}", var(cgroup_dirs.first().cloned().unwrap_or_default())));
    n.shell("grep -E '\"(status|process|monitor)\"' /run/workshop/containers/ID/state.json");
    for line in &running_state {
        n.result(line);
    }
    n.note("The monitor is a forked process in a session of its own (setsid): it waits for PID 1,");
    n.note(
        "records its exit code and removes what this run made (veth, address, cgroup). The layer",
    );
    n.note("is the container's, not the run's: it stays for the next start.");
    n.claim(
        liveness::is_alive(&state.process.expect("started"))
            && links.contains(&veth)
            && !cgroup_dirs.is_empty(),
        "started: a live PID 1, its veth and its cgroup on the host, and a monitor",
    );

    n.step("exec: a second process joins the first one's namespaces (setns)");
    let kinds = ["user", "mnt", "uts", "net", "pid"];
    let script = format!("for k in {}; do readlink /proc/self/ns/$k; done", kinds.join(" "));
    let joined = exec_out(&store, &id, &["sh", "-c", &script])?;
    let n = &mut l.narrator;
    n.shell(&typed(&format!("exec demo-web -- sh -c '{script}'")));
    n.result(&format!("{:<8}{:<28}{}", "", "PID 1 (read by the host)", "the exec'd process"));
    let mut same = 0;
    for (kind, line) in kinds.iter().zip(joined.lines()) {
        let host = workshop::probes::ns_inode(Some(pid as u32), kind).unwrap_or(0);
        let theirs =
            line.trim_start_matches(&format!("{kind}:[")).trim_end_matches(']').to_string();
        same += (theirs == host.to_string()) as usize;
        n.result(&format!("{kind:<8}{:<28}{}", var(host), var(&theirs)));
    }
    n.note("setns(2) into the user namespace first (it grants the capabilities the others need),");
    n.note(
        "then mnt, uts, ipc, net, cgroup and pid; a second fork, since a PID namespace takes only",
    );
    n.note("children; chroot to /proc/PID/root. Then stage 08's hardening, and execve.");
    n.claim(same == kinds.len(), "every namespace of the exec'd process is PID 1's");

    n.step("The course notes' experiment: /tmp/hello.txt through stop and start");
    exec_out(&store, &id, &["sh", "-c", "echo hello > /tmp/hello.txt"])?;
    let written = upper.join("tmp/hello.txt").is_file();
    let started = Instant::now();
    let killed = engine::stop(&store, &id, Duration::from_secs(1))?;
    let stop_took = started.elapsed();
    let after_stop = status_of(&store, &id);
    let stopped_state = state_excerpt(&store, &id);
    engine::start(&store, &id, false)?;
    let again = exec_out(&store, &id, &["cat", "/tmp/hello.txt"])?;
    let fresh = engine::create(&store, &spec("demo-fresh", "cat /tmp/hello.txt 2>&1"))?;
    made.ids.push(fresh.id.clone());
    let fresh_exit = engine::start(&store, &fresh.id, false).and_then(|_| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while liveness::monitor_alive(&store.load(&fresh.id)?) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(status_of(&store, &fresh.id))
    })?;
    let fresh_log =
        std::fs::read_to_string(store.dir(&fresh.id).join(engine::LOG_FILE)).unwrap_or_default();
    let n = &mut l.narrator;
    n.shell(&typed("exec demo-web -- sh -c 'echo hello > /tmp/hello.txt'"));
    n.result(&format!(
        "on the host: {}/tmp/hello.txt {}",
        var(upper.display()),
        if written { "exists" } else { "is missing" }
    ));
    n.shell(&typed("stop -t 1 demo-web"));
    n.result(&format!("{} after {}", var(&after_stop), ms(stop_took)));
    for line in &stopped_state {
        n.result(line);
    }
    n.note(
        "PID 1 of a PID namespace gets only the signals it has a handler for: this shell set none,",
    );
    n.note("so SIGTERM did nothing, and after the grace period (-t 1) stop sent SIGKILL: 137.");
    n.shell(&typed("start demo-web && 09_lifecycle exec demo-web -- cat /tmp/hello.txt"));
    n.result(again.trim());
    n.shell(&typed("run --name demo-fresh -- sh -c 'cat /tmp/hello.txt'   (the same image)"));
    n.result(&var(fresh_log.lines().next().unwrap_or("")));
    n.result(&var(&fresh_exit));
    n.claim(
        written
            && killed
            && after_stop.starts_with("Exited (137)")
            && stop_took >= Duration::from_secs(1),
        "stop sent SIGTERM, then SIGKILL after the grace period: exit 137",
    );
    n.claim(
        again.trim() == "hello" && !fresh_exit.starts_with("Exited (0)"),
        "the file survives stop and start of the same container; a new container never had it",
    );

    n.step("pause: the cgroup freezer stops every process where it stands");
    let counter = engine::create(
        &store,
        &spec("demo-count", "i=0; while true; do i=$((i+1)); echo $i >> /tmp/n; sleep 0.01; done"),
    )?;
    made.ids.push(counter.id.clone());
    engine::start(&store, &counter.id, false)?;
    let count_file = counter.upper_dir.clone().unwrap_or_default().join("tmp/n");
    // Appended, never rewritten: `echo $i > /tmp/n` truncates before it writes, and a reader
    // (or the freezer) can catch the file empty in between (seen under emulation).
    let read = || {
        let text = std::fs::read_to_string(&count_file).unwrap_or_default();
        text.lines().rev().find_map(|l| l.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    // Paused once it is counting (a loaded machine may take a moment to start it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while read() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    engine::pause(&store, &counter.id, true)?;
    let frozen = read();
    std::thread::sleep(Duration::from_millis(200));
    let still = read();
    let paused = status_of(&store, &counter.id);
    engine::pause(&store, &counter.id, false)?;
    std::thread::sleep(Duration::from_millis(200));
    let thawed = read();
    let freezer_file = match store.load(&counter.id)?.resources.iter().find_map(|r| match r {
        workshop::runtime::Resource::Cgroup { cgroup } => cgroup
            .dirs
            .iter()
            .map(|d| d.path.clone())
            .find(|p| p.join("freezer.state").exists() || p.join("cgroup.freeze").exists()),
        _ => None,
    }) {
        Some(p) if p.join("freezer.state").exists() => "freezer.state ← FROZEN (cgroup v1)",
        Some(_) => "cgroup.freeze ← 1 (cgroup v2)",
        None => "no freezer",
    };
    let n = &mut l.narrator;
    n.shell(&typed("run -d --name demo-count -- sh -c 'i=0; while true; do i=$((i+1)); echo $i >> /tmp/n; sleep 0.01; done'"));
    n.shell(&typed("pause demo-count"));
    n.result(&var(freezer_file));
    n.result(&format!(
        "counter when paused: {}; 200 ms later: {} ({})",
        var(frozen),
        var(still),
        var(&paused)
    ));
    n.shell(&typed("unpause demo-count"));
    n.result(&format!("200 ms later: {}", var(thawed)));
    n.note("No signal is sent: the processes cannot notice, catch or refuse it (docker pause).");
    n.claim(
        frozen > 0 && still == frozen && thawed > frozen,
        "paused, the counter stands still; unpaused, it goes on",
    );

    n.step("rm: the container and everything it had on the host");
    let ids = [&id, &fresh.id, &counter.id];
    let before = ps_lines(&store, &ids)?;
    for removed in ids {
        engine::rm(&store, removed, true)?;
    }
    made.ids.clear();
    let links_after = workshop::facts::workshop_links();
    let cgroups_left = cgroup_dirs.iter().filter(|d| std::path::Path::new(d).exists()).count();
    let n = &mut l.narrator;
    n.shell(&typed("ps -a"));
    for line in &before {
        n.result(&var(line));
    }
    n.shell(&typed("rm -f demo-web demo-fresh demo-count"));
    n.views_header();
    n.views("layer (upper dir)", if upper.exists() { "still there" } else { "gone" }, "");
    n.views("cgroup", if cgroups_left == 0 { "gone" } else { "still there" }, "");
    n.views("veth wsh-TAG", if links_after.contains(&veth) { "still there" } else { "gone" }, "");
    n.views("state directory", if dir.exists() { "still there" } else { "gone" }, "");
    n.claim(
        !upper.exists() && cgroups_left == 0 && !links_after.contains(&veth) && !dir.exists(),
        "rm removed the layer, the cgroup, the veth and the state directory",
    );
    Ok(())
}
// ANCHOR_END: demo

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|v| cli::VERBS.contains(&v.as_str())) {
        return ExitCode::from(cli::main(&argv).clamp(0, 255) as u8);
    }
    lesson::main(Stage::Lifecycle, ABOUT, demo)
}
