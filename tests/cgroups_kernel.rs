//! The cgroups module on this machine's real kernel: limits that really kill, refuse and throttle.
//!
//! Each test creates a cgroup where the module places it (beneath this process's own cgroup on v1),
//! forks a child that waits on a pipe until the parent has moved it into the cgroup, lets it run,
//! then checks the facts from outside: its exit status, the cgroup's own counters, and that the
//! cgroup directories are gone afterwards with nothing else changed where the module creates them.
//! The children use raw syscalls only (mmap, fork, read, _exit): they are forked from the
//! multi-threaded test harness, where nothing else is safe after fork.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use workshop::cgroups::{placement, Cgroup, CgroupHost, Limits, Stats};

/// Every directory of the host's cgroup trees.
fn cgroup_tree() -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    let mut todo = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(entry.path());
                all.insert(entry.path());
            }
        }
    }
    all
}

/// A container's cgroup with `limits`, made where the module places it, and the host's tree before.
struct Setup {
    cgroup: Cgroup,
    before: BTreeSet<PathBuf>,
    /// The directories the cgroup was made in: nothing may change beneath them.
    parents: Vec<PathBuf>,
}

impl Setup {
    fn new(name: &str, limits: &Limits) -> Setup {
        let before = cgroup_tree();
        let host = CgroupHost::real();
        let id = format!("kernel-test-{}-{name}", std::process::id());
        let plan = placement::plan(&host, &id, None).expect("a placement on this machine");
        plan.check_needs(&limits.needs()).expect("the controllers these limits need");
        let cgroup = Cgroup::create(&plan).expect("create the cgroup");
        let files = cgroup.limit_files(limits);
        println!("{}: {}", name, plan.reason);
        for w in &files.writes {
            println!("  {w}");
        }
        cgroup.apply(&files.writes).expect("write the limits");
        let parents = cgroup.paths().iter().map(|p| p.parent().unwrap().to_path_buf()).collect();
        Setup { cgroup, before, parents }
    }

    /// Removes the cgroup and checks the host's trees are as before beneath every parent it used.
    /// Other engineers' processes change other parts of the tree meanwhile; those are not ours.
    fn remove_and_check(self) {
        self.cgroup.remove().expect("remove the cgroup");
        for p in self.cgroup.paths() {
            assert!(!p.exists(), "{} is still there", p.display());
        }
        let after = cgroup_tree();
        let changed: Vec<&PathBuf> = self.before.symmetric_difference(&after).collect();
        let ours: Vec<&&PathBuf> =
            changed.iter().filter(|c| self.parents.iter().any(|p| c.starts_with(p))).collect();
        assert!(ours.is_empty(), "the cgroup tree changed where the module works: {ours:?}");
        // Safe to call again once gone: a later run may remove a record twice.
        self.cgroup.remove().expect("remove again");
    }
}

/// Forks a child that waits until released, then runs `work` and exits with its result.
fn fork_gated(work: fn() -> i32) -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: plain syscalls; the child only makes syscalls and calls `work`, which does the same.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            libc::close(fds[1]);
            let mut byte = 0u8;
            libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
            libc::_exit(work());
        }
        libc::close(fds[0]);
        (pid, fds[1])
    }
}

fn release(gate: i32) {
    // SAFETY: gate is the pipe's write end, owned here.
    unsafe {
        libc::write(gate, b"go".as_ptr().cast(), 1);
        libc::close(gate);
    }
}

/// The child's wait status.
fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: pid is our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

/// Allocates 64 MiB and touches every page, so that all of it is really charged.
fn allocate_64_mib() -> i32 {
    const LEN: usize = 64 << 20;
    // SAFETY: an anonymous private mapping, written only within its length.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return 2;
        }
        for offset in (0..LEN).step_by(4096) {
            std::ptr::write_volatile(p.cast::<u8>().add(offset), 1);
        }
    }
    0
}

/// Forks children (each waiting on a pipe) until a fork fails, at most 30 even if the limit did not
/// hold. Exits with the number that succeeded, plus 100 unless the failure was EAGAIN.
fn fork_until_refused() -> i32 {
    let mut fds = [0; 2];
    let mut made = 0;
    let mut errno = 0;
    // SAFETY: syscalls only; every grandchild exits when the pipe's write end closes.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return 99;
        }
        for _ in 0..30 {
            match libc::fork() {
                0 => {
                    libc::close(fds[1]);
                    let mut byte = 0u8;
                    libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                    libc::_exit(0);
                }
                pid if pid < 0 => {
                    errno = *libc::__errno_location();
                    break;
                }
                _ => made += 1,
            }
        }
        libc::close(fds[1]);
        for _ in 0..made {
            libc::wait(std::ptr::null_mut());
        }
    }
    if errno == libc::EAGAIN {
        made
    } else {
        100 + made
    }
}

/// Spins on the CPU for 0.4 s of wall time.
fn busy_for_400_ms() -> i32 {
    let now = || {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: t is a valid timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
        t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
    };
    let start = now();
    let mut x = 0u64;
    while now() - start < 0.4 {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    0
}

fn read(cgroup: &Cgroup, file: &str) -> String {
    cgroup.read(file).unwrap_or_else(|| panic!("{file} is missing")).trim().to_string()
}

fn signal_of(status: i32) -> Option<i32> {
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

#[test]
fn memory_limit_oom_kills_the_allocator() {
    let Some(_s) = common::root_and_serial() else { return };
    let limits = Limits { memory: Some(32 << 20), ..Limits::default() };
    let setup = Setup::new("oom", &limits);
    let cg = &setup.cgroup;
    let limit_file = if cg.version == workshop::cgroups::Version::V1 {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(read(cg, limit_file), "33554432");

    let (pid, gate) = fork_gated(allocate_64_mib);
    cg.join(pid).unwrap();
    assert_eq!(cg.procs(), [pid]);
    release(gate);
    let status = wait(pid);
    let stats: Stats = cg.stats();
    println!("oom: status {status:#x}, {stats:?}");
    assert_eq!(
        signal_of(status),
        Some(libc::SIGKILL),
        "the allocator was not SIGKILLed: {status:#x}"
    );
    assert_eq!(stats.oom_kill, Some(1), "the cgroup's oom_kill counter");
    assert!(stats.memory_failcnt.unwrap_or(0) > 0, "the limit was never hit: {stats:?}");
    setup.remove_and_check();
}

#[test]
fn pids_limit_refuses_the_fork_past_it() {
    let Some(_s) = common::root_and_serial() else { return };
    let limits = Limits { pids_limit: Some(20), ..Limits::default() };
    let setup = Setup::new("pids", &limits);
    let cg = &setup.cgroup;
    assert_eq!(read(cg, "pids.max"), "20");

    let (pid, gate) = fork_gated(fork_until_refused);
    cg.join(pid).unwrap();
    release(gate);
    let status = wait(pid);
    assert!(libc::WIFEXITED(status), "the forker died: {status:#x}");
    let made = libc::WEXITSTATUS(status);
    // The forker itself is the first of the 20; the fork that would make the 21st fails with EAGAIN.
    assert_eq!(made, 19, "forks that succeeded (100+ means the failure was not EAGAIN)");
    let stats = cg.stats();
    println!("pids: {made} forks succeeded, then EAGAIN; {stats:?}");
    assert!(stats.pids_max_events.unwrap_or(0) >= 1, "pids.events max: {stats:?}");
    setup.remove_and_check();
}

#[test]
fn cpu_quota_holds_a_busy_loop_to_a_quarter() {
    let Some(_s) = common::root_and_serial() else { return };
    let limits = Limits { cpus: Some(0.25), ..Limits::default() };
    let setup = Setup::new("cpu", &limits);
    let cg = &setup.cgroup;
    if cg.version == workshop::cgroups::Version::V1 {
        assert_eq!(read(cg, "cpu.cfs_quota_us"), "25000");
        assert_eq!(read(cg, "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read(cg, "cpu.max"), "25000 100000");
    }

    let (pid, gate) = fork_gated(busy_for_400_ms);
    cg.join(pid).unwrap();
    let start = Instant::now();
    release(gate);
    let status = wait(pid);
    let wall = start.elapsed();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{status:#x}");
    let stats = cg.stats();
    let used = Duration::from_micros(stats.cpu_usage_usec.expect("the cgroup's CPU usage counter"));
    let ratio = used.as_secs_f64() / wall.as_secs_f64();
    println!("cpu: {used:?} of CPU in {wall:?} of wall time: {ratio:.3} CPUs; {stats:?}");
    // A quota of 25 ms per 100 ms period. Over 0.4 s the first and last periods are partial, and
    // other work on a busy 2-core machine can only take CPU away, so the band is wide below.
    assert!((0.12..=0.36).contains(&ratio), "{ratio:.3} CPUs, expected about 0.25");
    assert!(stats.nr_throttled.unwrap_or(0) >= 1, "never throttled: {stats:?}");
    setup.remove_and_check();
}

#[test]
fn remove_kills_what_is_left_and_removes_the_directories() {
    let Some(_s) = common::root_and_serial() else { return };
    let setup = Setup::new("remove", &Limits { pids_limit: Some(5), ..Limits::default() });
    // Never released: it waits on the pipe until remove() kills it.
    let (pid, gate) = fork_gated(|| 0);
    setup.cgroup.join(pid).unwrap();
    let paths: Vec<&Path> = setup.cgroup.paths();
    assert!(!paths.is_empty());
    setup.cgroup.remove().expect("remove with a process inside");
    assert_eq!(signal_of(wait(pid)), Some(libc::SIGKILL));
    // SAFETY: the gate is ours.
    unsafe { libc::close(gate) };
    setup.remove_and_check();
}

#[test]
fn io_limits_are_written_in_the_kernels_format() {
    let Some(_s) = common::root_and_serial() else { return };
    let Ok(device) = workshop::cgroups::limits::parse_device_rate("/dev/loop0:1mb") else {
        eprintln!("skipped: no /dev/loop0 block device to name in an I/O limit");
        return;
    };
    let limits = Limits {
        device_read_bps: vec![device.clone()],
        device_write_bps: vec![device],
        blkio_weight: Some(500),
        ..Limits::default()
    };
    let setup = Setup::new("io", &limits);
    let cg = &setup.cgroup;
    let files = cg.limit_files(&limits);
    for note in &files.notes {
        println!("  note: {note}");
    }
    if cg.version == workshop::cgroups::Version::V1 {
        assert_eq!(read(cg, "blkio.throttle.read_bps_device"), "7:0 1048576");
        assert_eq!(read(cg, "blkio.throttle.write_bps_device"), "7:0 1048576");
    } else {
        assert!(read(cg, "io.max").contains("7:0 rbps=1048576 wbps=1048576"));
    }
    // The weight goes where this kernel's disk scheduler reads it, or a note says why not.
    match files.writes.iter().find(|w| w.file.contains("weight")) {
        Some(w) => assert!(read(cg, &w.file).contains(&w.value), "{w}: {}", read(cg, &w.file)),
        None => assert!(files.notes.iter().any(|n| n.contains("--blkio-weight")), "{files:?}"),
    }
    setup.remove_and_check();
}

/// On a hybrid machine the v2 tree at unified/ is real but holds no controllers: enough to check
/// v2's own mechanics for real (the workshop cgroup at the root, join, cgroup.kill, rmdir).
#[test]
fn v2_create_join_kill_and_remove_on_the_unified_tree() {
    let Some(_s) = common::root_and_serial() else { return };
    let real = CgroupHost::real();
    let host = CgroupHost { root: real.root.join("unified"), ..real };
    if host.mode() != workshop::cgroups::CgroupMode::Unified {
        eprintln!("skipped: no v2 tree at /sys/fs/cgroup/unified (not a hybrid machine)");
        return;
    }
    let before = cgroup_tree();
    let id = format!("kernel-test-{}-v2", std::process::id());
    let plan = placement::plan(&host, &id, None).unwrap();
    println!("v2: {}", plan.reason);
    // No controller is bound to this tree, and the plan says so rather than assuming.
    assert!(plan.controllers.iter().all(|c| !c.usable), "{:?}", plan.controllers);
    let cgroup = Cgroup::create(&plan).unwrap();
    let leaf = cgroup.paths()[0].to_path_buf();
    assert!(leaf.join("cgroup.procs").exists(), "the kernel fills a new cgroup with its files");

    let (pid, gate) = fork_gated(|| 0);
    cgroup.join(pid).unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l.starts_with("0::/") && l.ends_with(&id)), "{own}");
    cgroup.remove().unwrap();
    assert_eq!(signal_of(wait(pid)), Some(libc::SIGKILL));
    // SAFETY: the gate is ours.
    unsafe { libc::close(gate) };
    assert!(!leaf.exists());
    let parents: Vec<PathBuf> = plan.dirs[0].own_parents.clone();
    let after = cgroup_tree();
    let ours: Vec<&PathBuf> = before
        .symmetric_difference(&after)
        .filter(|p| {
            p.starts_with(&host.root)
                && (parents.iter().any(|w| p.starts_with(w)) || p.parent() == Some(&host.root))
        })
        .collect();
    assert!(ours.is_empty(), "left behind in the v2 tree: {ours:?}");
}
