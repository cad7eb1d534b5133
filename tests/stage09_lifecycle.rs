//! Stage 09: a container that lives between commands, checked from outside: the course notes'
//! hello.txt experiment through the verbs, exec's namespace inodes against the host's reading of
//! PID 1's, a detached container outliving the command that started it, `kill -9` of its process
//! and of its monitor each reported honestly and cleaned by `rm`, twenty containers at once, and
//! bad input refused in one line with nothing disturbed. Every test leaves the host as found:
//! no state directory, no layer, no veth, no cgroup, no AppArmor profile.
mod common;

use std::time::{Duration, Instant};
use workshop::facts::{self, Outcome};

stage_binary_and_demo_snapshot!("09_lifecycle");

/// The lesson contract holds at 09 too: `-- CMD` runs CMD in a container of every earlier stage's
/// making, and every fact check of 01-08 passes.
#[test]
fn the_earlier_stages_facts_hold_through_the_lesson_contract() {
    let Some(_s) = common::root_and_serial() else { return };
    common::every_check_holds(workshop::Stage::Lifecycle, bin());
}

fn nine(args: &[&str]) -> Outcome {
    facts::run(bin(), args)
}

/// Removes the named containers however the test ends, so that a failure leaves nothing running
/// that would make the next test fail too.
struct Removes(Vec<String>);

impl Removes {
    fn new(names: &[&str]) -> Removes {
        Removes(names.iter().map(|n| n.to_string()).collect())
    }
}

impl Drop for Removes {
    fn drop(&mut self) {
        let mut args = vec!["rm", "-f"];
        args.extend(self.0.iter().map(String::as_str));
        let _ = nine(&args);
    }
}

/// Runs a verb that must work, and returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = nine(args);
    assert_eq!(out.status, 0, "09_lifecycle {args:?}: {}{}", out.stdout, out.stderr);
    out.stdout
}

/// `inspect NAME` as JSON: the container's state as the workshop believes it.
fn inspect(name: &str) -> serde_json::Value {
    let text = ok(&["inspect", name]);
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all[0].clone()
}

fn pid_of(name: &str) -> u32 {
    inspect(name)["process"]["pid"].as_u64().unwrap_or_else(|| panic!("{name} has no process"))
        as u32
}

/// Waits until `inspect` says `status` (the monitor writes it a moment after the exit).
fn wait_status(name: &str, want: &serde_json::Value) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = inspect(name);
        if &state["status"] == want || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The course notes' experiment: a file written in /tmp survives stop and start of the same
/// container, and is gone with rm; a new container from the same image never had it.
#[test]
fn hello_txt_survives_stop_and_start_and_goes_with_rm() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["hello"]);
        let id = ok(&["run", "-d", "--name", "hello", "--", "sh", "-c", "sleep 1000"]);
        assert_eq!(id.trim().len(), 64, "run -d prints the full id: {id:?}");
        ok(&["exec", "hello", "--", "sh", "-c", "echo hello > /tmp/hello.txt"]);
        ok(&["stop", "-t", "1", "hello"]);
        assert!(ok(&["ps", "-a"]).contains("Exited (137)"), "the shell PID 1 ignores SIGTERM");
        assert!(!ok(&["ps"]).contains("hello"), "ps without -a lists running ones only");
        ok(&["start", "hello"]);
        assert_eq!(ok(&["exec", "hello", "--", "cat", "/tmp/hello.txt"]), "hello\n");
        // The same upper dir: seen from the host too.
        let upper = inspect("hello")["upper_dir"].as_str().unwrap().to_string();
        assert!(std::path::Path::new(&upper).join("tmp/hello.txt").exists(), "{upper}");
        ok(&["rm", "-f", "hello"]);
        assert!(!ok(&["list", "-a"]).contains("hello"));
        assert!(!std::path::Path::new(&upper).exists(), "rm left the layer {upper}");
        let fresh = nine(&["run", "--rm", "--", "cat", "/tmp/hello.txt"]);
        assert_ne!(fresh.status, 0, "a new container has the old one's file: {}", fresh.stdout);
    });
}

/// exec joins PID 1's namespaces: the inodes the exec'd process reads equal the host's reading.
#[test]
fn exec_joins_each_namespace_of_pid_1() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["joined"]);
        ok(&["run", "-d", "--name", "joined", "--", "sleep", "1000"]);
        let pid = pid_of("joined");
        let kinds = ["user", "mnt", "uts", "ipc", "net", "pid"];
        let script = format!("for k in {}; do readlink /proc/self/ns/$k; done", kinds.join(" "));
        let out = ok(&["exec", "joined", "--", "sh", "-c", &script]);
        for (line, kind) in out.lines().zip(kinds) {
            let host = workshop::probes::ns_inode(Some(pid), kind).unwrap();
            assert_eq!(line, format!("{kind}:[{host}]"));
            assert_ne!(
                host,
                workshop::probes::ns_inode(None, kind).unwrap(),
                "{kind} is the host's"
            );
        }
        assert_eq!(out.lines().count(), kinds.len(), "{out}");
        // The exit status passes through, and a missing command is 127.
        assert_eq!(nine(&["exec", "joined", "--", "sh", "-c", "exit 4"]).status, 4);
        assert_eq!(nine(&["exec", "joined", "--", "no-such-command"]).status, 127);
        ok(&["rm", "-f", "joined"]);
    });
}

/// run -d returns at once; the container runs on under its monitor, which records its exit code
/// and removes the run's veth and cgroup.
#[test]
fn a_detached_container_outlives_its_command_and_its_monitor_records_the_exit() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["brief"]);
        ok(&["run", "-d", "--name", "brief", "--", "sh", "-c", "sleep 2; echo done; exit 7"]);
        // Back before the command ended: it still runs, under a monitor that is not this test's.
        let running = inspect("brief");
        assert_eq!(running["status"], "running", "run -d waited for the command: {running}");
        let monitor = running["monitor"]["pid"].as_u64().unwrap();
        assert!(std::path::Path::new(&format!("/proc/{monitor}")).exists());
        let stopped = wait_status("brief", &serde_json::json!({ "stopped": 7 }));
        assert_eq!(stopped["status"], serde_json::json!({ "stopped": 7 }), "{stopped}");
        assert!(stopped["process"].is_null() && stopped["monitor"].is_null(), "{stopped}");
        assert_eq!(ok(&["logs", "brief"]), "done\n");
        assert!(ok(&["ps", "-a"]).contains("Exited (7)"));
        ok(&["rm", "brief"]);
    });
}

/// kill -9 of the container: the monitor records 137. kill -9 of the monitor: the container dies
/// with it (PR_SET_PDEATHSIG), nobody records an exit, and ps says Dead; rm cleans it all,
/// the dead monitor's veth and cgroup included.
#[test]
fn kill_9_of_the_container_or_its_monitor_is_reported_and_rm_cleans() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["victim", "orphan"]);
        ok(&["run", "-d", "--name", "victim", "--", "sleep", "1000"]);
        // SAFETY: kill with plain integers.
        unsafe { libc::kill(pid_of("victim") as i32, libc::SIGKILL) };
        let state = wait_status("victim", &serde_json::json!({ "stopped": 137 }));
        assert_eq!(state["status"], serde_json::json!({ "stopped": 137 }));
        ok(&["rm", "victim"]);

        ok(&["run", "-d", "--name", "orphan", "--", "sleep", "1000"]);
        let state = inspect("orphan");
        let (pid, monitor) =
            (state["process"]["pid"].as_i64().unwrap(), state["monitor"]["pid"].as_i64().unwrap());
        // SAFETY: as above.
        unsafe { libc::kill(monitor as i32, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{pid}/ns")).exists() && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let dead = inspect("orphan");
        assert_eq!(dead["status"], "dead", "{dead}");
        assert!(
            dead["note"].as_str().unwrap_or_default().contains("without its monitor"),
            "{dead}"
        );
        assert!(ok(&["ps", "-a"]).contains("Dead"));
        let exec = nine(&["exec", "orphan", "--", "true"]);
        common::assert_one_clear_line(&exec, 125, &["orphan", "not running"]);
        ok(&["rm", "orphan"]);
    });
}

/// Twenty containers started at once: twenty names, addresses and cgroups, all removed.
#[test]
fn twenty_containers_at_once_each_get_their_own_and_all_are_removed() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let names: Vec<String> = (0..20).map(|i| format!("par{i}")).collect();
        let _removes = Removes(names.clone());
        let started: Vec<_> = names
            .iter()
            .map(|n| {
                let n = n.clone();
                std::thread::spawn(move || {
                    nine(&["run", "-d", "--name", &n, "--", "sleep", "1000"])
                })
            })
            .collect();
        for (handle, name) in started.into_iter().zip(&names) {
            let out = handle.join().unwrap();
            assert_eq!(out.status, 0, "{name}: {}", out.stderr);
        }
        let mut addresses = std::collections::BTreeSet::new();
        let mut cgroups = std::collections::BTreeSet::new();
        for name in &names {
            let addr = ok(&["exec", name, "--", "sh", "-c", "ip -4 -o addr show eth0"]);
            let ip = addr
                .split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)
                .unwrap_or("")
                .to_string();
            assert!(addresses.insert(ip.clone()), "{name} got an address already given: {ip}");
            let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid_of(name))).unwrap();
            assert!(cgroups.insert(cg.clone()), "{name} shares a cgroup: {cg}");
        }
        let listed = ok(&["ps"]);
        assert_eq!(
            names.iter().filter(|n| listed.contains(&format!(" {n}\n"))).count(),
            20,
            "{listed}"
        );
        let mut args = vec!["rm", "-f"];
        args.extend(names.iter().map(String::as_str));
        ok(&args);
    });
}

#[test]
fn bad_input_is_one_line_and_disturbs_no_other_container() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["bystander", "idle"]);
        ok(&["run", "-d", "--name", "bystander", "--", "sleep", "1000"]);
        let pid = pid_of("bystander");
        ok(&["create", "--name", "idle", "--", "true"]);
        let rows: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (vec!["exec", "nosuch", "--", "true"], vec!["nosuch"]),
            (vec!["run", "--name", "bystander", "--", "true"], vec!["bystander"]),
            (vec!["run", "--name", "bad/name", "--", "true"], vec!["bad/name"]),
            (vec!["run", "--memory", "12q", "--", "true"], vec!["--memory"]),
            (vec!["exec", "idle", "--", "true"], vec!["idle", "not running"]),
            (vec!["stop", "idle"], vec!["idle", "not running"]),
            (vec!["pause", "idle"], vec!["idle", "not running"]),
            (vec!["rm", "bystander"], vec!["bystander", "rm -f"]),
            (vec!["kill", "-s", "FLY", "bystander"], vec!["FLY"]),
        ];
        for (args, words) in &rows {
            let out = nine(args);
            common::assert_one_clear_line(&out, 125, words);
        }
        // A hand-edited state file is refused by name, and the container can still be removed.
        let id = inspect("idle")["id"].as_str().unwrap().to_string();
        let state = workshop::runtime::state_dir::state_dir()
            .join("containers")
            .join(&id)
            .join("state.json");
        std::fs::write(&state, "{ \"id\": ").unwrap();
        let out = nine(&["inspect", &id]);
        common::assert_one_clear_line(&out, 125, &["state.json"]);
        assert!(nine(&["ps", "-a"]).stderr.contains("state.json"), "ps hides the broken state");
        // The bystander never noticed.
        assert_eq!(pid_of("bystander"), pid);
        assert_eq!(inspect("bystander")["status"], "running");
        ok(&["rm", "-f", "bystander"]);
        let out = nine(&["rm", &id]);
        common::assert_one_clear_line(&out, 125, &["state.json", "rm -f"]);
        ok(&["rm", "-f", &id]);
    });
}

/// pause freezes every process of the container: a counter stops counting, and goes on after.
#[test]
fn pause_freezes_a_counter_and_unpause_lets_it_go_on() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["counter"]);
        ok(&[
            "run",
            "-d",
            "--name",
            "counter",
            "--",
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.01; done",
        ]);
        let upper = inspect("counter")["upper_dir"].as_str().unwrap().to_string();
        let n = || std::fs::read_to_string(format!("{upper}/tmp/n")).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while n().trim().parse::<u64>().unwrap_or(0) < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        ok(&["pause", "counter"]);
        let pid = pid_of("counter");
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let frozen_at = n();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(n(), frozen_at, "the counter went on while paused ({state})");
        assert!(ok(&["ps"]).contains("(Paused)"));
        let exec = nine(&["exec", "counter", "--", "true"]);
        common::assert_one_clear_line(&exec, 125, &["paused"]);
        ok(&["unpause", "counter"]);
        std::thread::sleep(Duration::from_millis(200));
        assert_ne!(n(), frozen_at, "the counter did not go on after unpause");
        ok(&["rm", "-f", "counter"]);
    });
}

/// A detached container's published port is served by its monitor's forwarder, and the forwarder
/// holds nothing of the container's: stop and rm proceed at once (no lock is left held).
#[test]
fn a_published_port_answers_while_detached_and_the_container_stops_and_goes() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let _removes = Removes::new(&["published"]);
        let port = workshop::probes::free_ports(1)[0];
        let publish = format!("{port}:80");
        ok(&[
            "run",
            "-d",
            "--name",
            "published",
            "-p",
            &publish,
            "--image",
            "web",
            "--",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/var/www",
        ]);
        assert!(ok(&["ps"]).contains(&format!("127.0.0.1:{port}->80/tcp")));
        let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
        assert!(workshop::probes::wait_for_port(addr, Duration::from_secs(10)));
        let page = workshop::probes::http_get(addr, Duration::from_secs(10)).unwrap();
        assert!(page.contains("Hello from the web image"), "{page}");
        let started = Instant::now();
        ok(&["stop", "-t", "1", "published"]);
        ok(&["rm", "published"]);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "stop and rm waited {:?}",
            started.elapsed()
        );
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "the forwarder outlived the container"
        );
    });
}

/// A state directory that cannot be written (here a read-only tmpfs, in a mount namespace of the
/// test's own so that the host's mount table never sees it): one line, 125, nothing made.
#[test]
fn a_state_directory_that_cannot_be_written_is_one_line_and_nothing_is_made() {
    let Some(_s) = common::root_and_serial() else { return };
    common::leaves_host_as_found(|| {
        let dir = std::env::temp_dir().join(format!("ws-09-ro-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = format!(
            "mount -t tmpfs -o ro tmpfs {dir} && WORKSHOP_STATE_DIR={dir} exec {bin} run --name ro -- true",
            dir = dir.display(),
            bin = bin().display()
        );
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]).env("NO_COLOR", "1");
        let out = facts::run_command(cmd);
        std::fs::remove_dir(&dir).unwrap();
        common::assert_one_clear_line(&out, 125, &["Read-only file system"]);
    });
}
