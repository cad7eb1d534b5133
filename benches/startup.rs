//! Container start-up, measured against the baselines the course compares with:
//! util-linux `unshare` with the same namespaces and root, and `runc` on the same root filesystem.
//!
//! Run it as root: `cargo bench --bench startup` (uses sudo through the cargo runner otherwise).
//! Each row is the median wall time from starting the tool to its container's `true` exiting.

#[path = "../tests/common/podman.rs"]
mod podman;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 100;
/// podman's runs take ~0.3 s each, most of it podman's own work: fewer of them.
const PODMAN_RUNS: usize = 20;

fn time(cmd: impl FnMut() -> Command) -> Option<(Duration, Duration)> {
    time_n(RUNS, cmd)
}

fn time_n(runs: usize, mut cmd: impl FnMut() -> Command) -> Option<(Duration, Duration)> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = cmd().stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
        if !status.success() {
            return None;
        }
        times.push(start.elapsed());
    }
    times.sort();
    Some((times[runs / 2], times[runs * 9 / 10]))
}

fn row(name: &str, t: Option<(Duration, Duration)>) {
    match t {
        Some((median, p90)) => println!(
            "{name:<48} median {:>7.2} ms   p90 {:>7.2} ms",
            median.as_secs_f64() * 1e3,
            p90.as_secs_f64() * 1e3
        ),
        None => println!("{name:<48} (not available on this machine)"),
    }
}

fn runc_bundle(rootfs: &Path) -> Option<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("workshop-bench-runc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let ok = Command::new("runc").args(["spec"]).current_dir(&dir).status().ok()?.success();
    if !ok {
        return None;
    }
    let spec = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let spec = spec
        .replace("\"terminal\": true", "\"terminal\": false")
        .replace("\"sh\"", "\"true\"")
        .replace("\"path\": \"rootfs\"", &format!("\"path\": \"{}\"", rootfs.display()));
    std::fs::write(dir.join("config.json"), spec).ok()?;
    Some(dir)
}

fn main() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("error: the start-up benchmark starts containers, which needs root; run `cargo bench --bench startup` as root");
        std::process::exit(1);
    }
    let rootfs = workshop::image::ensure(None).expect("build the root filesystem");
    let stage = env!("CARGO_BIN_EXE_03_rootfs");
    println!("Container start-up on this machine, {RUNS} runs each, running `true` inside");
    println!("(PID, mount, UTS and IPC namespaces and the workshop's root filesystem)\n");
    row(
        "workshop 03_rootfs -- true",
        time(|| {
            let mut c = Command::new(stage);
            c.args(["--", "true"]);
            c
        }),
    );
    for (name, bin, flags) in [
        ("workshop 04_network -- true  (+ netns, veth)", env!("CARGO_BIN_EXE_04_network"), &[][..]),
        ("workshop 05_user -- true     (+ userns, idmap)", env!("CARGO_BIN_EXE_05_user"), &[]),
        (
            "workshop 06_cgroups -- true   (+ cgroup, limits)",
            env!("CARGO_BIN_EXE_06_cgroups"),
            &["--memory", "32m", "--cpus", "0.5", "--pids-limit", "64"],
        ),
        (
            "workshop 07_overlay -- true   (+ overlay root, own upper dir)",
            env!("CARGO_BIN_EXE_07_overlay"),
            &["--memory", "32m", "--cpus", "0.5", "--pids-limit", "64"],
        ),
        (
            "workshop 08_security -- true  (+ caps, masks, seccomp)",
            env!("CARGO_BIN_EXE_08_security"),
            &["--memory", "32m", "--cpus", "0.5", "--pids-limit", "64"],
        ),
    ] {
        row(
            name,
            time(|| {
                let mut c = Command::new(bin);
                c.args(flags).args(["--", "true"]);
                c
            }),
        );
    }
    // 09: a container with a state file and a layer of its own, made, run and removed by one
    // command, as `docker run --rm` does (the command is its own monitor).
    row(
        "workshop 09_lifecycle run --rm -- true (+ state)",
        time(|| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_09_lifecycle"));
            c.args(["run", "--rm", "--memory", "32m", "--cpus", "0.5", "--pids-limit", "64"])
                .args(["--", "true"]);
            c
        }),
    );
    row(
        "unshare -pfm --uts --ipc --mount-proc -R … true",
        time(|| {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount", "--uts", "--ipc", "--mount-proc", "--root"])
                .arg(&rootfs)
                .arg("true");
            c
        }),
    );
    // The baseline for 04: the same, with a network namespace (loopback only: unshare makes no
    // veth, so 04's cable is the difference).
    row(
        "unshare … --net … true",
        time(|| {
            let mut c = Command::new("unshare");
            c.args([
                "--pid",
                "--fork",
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--mount-proc",
                "--root",
            ])
            .arg(&rootfs)
            .arg("true");
            c
        }),
    );
    let bundle = runc_bundle(&rootfs);
    let mut n = 0;
    row(
        "runc run (same root filesystem)",
        bundle.as_ref().and_then(|b| {
            time(|| {
                n += 1;
                let mut c = Command::new("runc");
                c.args(["run", "--bundle"])
                    .arg(b)
                    .arg(format!("workshop-bench-{}-{n}", std::process::id()));
                c
            })
        }),
    );
    if let Some(b) = bundle {
        let _ = std::fs::remove_dir_all(b);
    }
    podman_rows(&rootfs);
}

/// The same image run by podman twice: through `workshop-runc` and through podman's default
/// runtime (runc on Debian), with storage in a temp dir and podman's traces on the host put back
/// by the same guard as the tests' (tests/common/podman.rs).
fn podman_rows(rootfs: &Path) {
    if !podman::installed() {
        row("podman run --rm, through workshop-runc", None);
        return;
    }
    let ours = env!("CARGO_BIN_EXE_workshop-runc");
    let p = podman::Podman::new("bench-podman", None, &[ours], rootfs);
    let run = |runtime: Option<&str>| {
        let mut args = Vec::new();
        if let Some(r) = runtime {
            args.extend(["--runtime", r]);
        }
        args.extend(["run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000"]);
        args.extend(["--ulimit", "nproc=32768:32768", "wsimg", "true"]);
        p.command(&args)
    };
    for (name, runtime) in [
        ("podman run --rm, through workshop-runc", Some(ours)),
        ("podman run --rm, its default runtime (runc)", None),
    ] {
        row(name, time_n(PODMAN_RUNS, || run(runtime)));
    }
}
