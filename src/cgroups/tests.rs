//! Detection, placement and create/remove on fixture trees: plain directories that say which
//! filesystem they stand for, in a temporary directory under /var/tmp.

use super::placement::{plan, WORKSHOP_CGROUP};
use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const PROC_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
    cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t1\t1\n\
    devices\t5\t1\t1\npids\t8\t1\t1\n";

/// A fake /sys/fs/cgroup in /var/tmp/<worktree>/, removed when dropped.
struct Fixture {
    root: PathBuf,
    mounts: Vec<(PathBuf, FsType)>,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        static N: AtomicU32 = AtomicU32::new(0);
        let tree = Path::new(env!("CARGO_MANIFEST_DIR")).file_name().unwrap().to_owned();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let root = Path::new("/var/tmp")
            .join(tree)
            .join(format!("cgroup-fixture-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Fixture { root, mounts: Vec::new() }
    }

    fn file(&self, rel: &str, text: &str) -> &Self {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root.join(rel)).unwrap_or_default()
    }

    fn mount(&mut self, rel: &str, fs_type: FsType) -> &mut Self {
        let path = if rel.is_empty() { self.root.clone() } else { self.root.join(rel) };
        fs::create_dir_all(&path).unwrap();
        self.mounts.push((path, fs_type));
        self
    }

    fn host(&self, self_cgroup: &str) -> CgroupHost {
        CgroupHost {
            root: self.root.clone(),
            self_cgroup: self_cgroup.into(),
            proc_cgroups: PROC_CGROUPS.into(),
            fs: FsProbe::Fixture(self.mounts.clone()),
        }
    }

    /// A v1 machine: one tree per controller, cpu and cpuacct apart as on this workshop's machine.
    fn v1(name: &str) -> Fixture {
        let mut f = Fixture::new(name);
        for tree in ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices"] {
            f.mount(tree, FsType::Cgroup1);
        }
        f.file("cpuset/cpuset.cpus", "0-1\n").file("cpuset/cpuset.mems", "0\n");
        f.file("memory/user.slice/cgroup.procs", "");
        f
    }

    /// A v2 machine whose root hands down `enabled`.
    fn v2(name: &str, enabled: &str) -> Fixture {
        let mut f = Fixture::new(name);
        f.mount("", FsType::Cgroup2);
        f.file("cgroup.controllers", "cpuset cpu io memory pids\n");
        f.file("cgroup.subtree_control", enabled);
        f
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

const V1_SELF: &str =
    "8:pids:/\n7:blkio:/\n4:memory:/user.slice\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

fn usable(p: &Placement) -> Vec<&str> {
    p.controllers.iter().filter(|c| c.usable).map(|c| c.name.as_str()).collect()
}

#[test]
fn detection_tells_v1_hybrid_v2_and_nothing_apart() {
    let v1 = Fixture::v1("detect-v1");
    assert_eq!(v1.host(V1_SELF).mode(), CgroupMode::Legacy);
    let mut hybrid = Fixture::v1("detect-hybrid");
    hybrid.mount("unified", FsType::Cgroup2);
    assert_eq!(hybrid.host(V1_SELF).mode(), CgroupMode::Hybrid);
    assert_eq!(Fixture::v2("detect-v2", "").host("0::/\n").mode(), CgroupMode::Unified);
    // A plain directory (a tmpfs with nothing mounted in it) is no cgroup mount at all.
    let plain = Fixture::new("detect-plain");
    plain.file("memory/memory.max", "max\n");
    assert_eq!(plain.host("0::/\n").mode(), CgroupMode::Missing);
    assert!(plan(&plain.host("0::/\n"), "c1", None).unwrap_err().contains("no cgroup filesystem"));
}

#[test]
fn real_detection_uses_statfs() {
    // Whatever this machine has, a directory under /var/tmp is not a cgroup filesystem.
    let f = Fixture::new("statfs");
    let host = CgroupHost { fs: FsProbe::Statfs, ..f.host("0::/\n") };
    assert_eq!(host.mode(), CgroupMode::Missing);
    assert_eq!(FsProbe::Statfs.fs_type(&f.root.join("absent")), FsType::Absent);
}

#[test]
fn v1_goes_beneath_the_callers_cgroup_in_each_tree() {
    let f = Fixture::v1("v1-place");
    let p = plan(&f.host(V1_SELF), "c1", None).unwrap();
    assert_eq!((p.version, &p.place), (Version::V1, &Where::CallersCgroup));
    assert!(p.reason.contains("beneath this process's own cgroup in each tree"), "{}", p.reason);
    let leaf = |tree: &str| p.dirs.iter().find(|d| d.controllers[0] == tree).unwrap().leaf.clone();
    assert_eq!(leaf("memory"), f.root.join("memory/user.slice/c1"));
    assert_eq!(leaf("cpu"), f.root.join("cpu/c1"));
    assert_eq!(leaf("cpuacct"), f.root.join("cpuacct/c1"));
    assert_eq!(leaf("blkio"), f.root.join("blkio/c1"));
    assert_eq!(usable(&p), ["cpu", "cpuset", "memory", "pids", "blkio"]);
    assert!(p.dirs.iter().all(|d| d.own_parents.is_empty()));
}

#[test]
fn v1_comounted_trees_get_one_directory() {
    let mut f = Fixture::new("v1-comount");
    f.mount("cpu,cpuacct", FsType::Cgroup1).mount("memory", FsType::Cgroup1);
    let p = plan(&f.host("2:cpu,cpuacct:/a\n1:memory:/\n"), "c1", None).unwrap();
    let cpu = p.dirs.iter().find(|d| d.controllers.contains(&"cpu".to_string())).unwrap();
    assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
    assert_eq!(cpu.leaf, f.root.join("cpu,cpuacct/a/c1"));
    // Not mounted here: reported with the reason.
    let pids = p.controller(Controller::Pids).unwrap();
    assert!(!pids.usable && pids.why.contains("no v1 hierarchy"), "{}", pids.why);
}

#[test]
fn v1_comount_reached_through_systemds_symlinks_is_one_directory() {
    let mut f = Fixture::new("v1-symlinks");
    f.mount("cpu,cpuacct", FsType::Cgroup1).mount("memory", FsType::Cgroup1);
    std::os::unix::fs::symlink("cpu,cpuacct", f.root.join("cpu")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", f.root.join("cpuacct")).unwrap();
    let p = plan(&f.host("2:cpu,cpuacct:/\n1:memory:/\n"), "c1", None).unwrap();
    let cpu: Vec<_> = p.dirs.iter().filter(|d| d.controllers.contains(&"cpu".into())).collect();
    assert_eq!(cpu.len(), 1);
    assert_eq!(cpu[0].controllers, ["cpu", "cpuacct"]);
    let fixture_root = fs::canonicalize(&f.root).unwrap();
    assert_eq!(cpu[0].leaf, fixture_root.join("cpu,cpuacct/c1"));
    let cg = Cgroup::create(&p).unwrap();
    cg.remove().unwrap();
}

#[test]
fn v1_disabled_controller_is_reported_and_its_flags_refused() {
    let f = Fixture::v1("v1-disabled");
    let host = CgroupHost {
        proc_cgroups: PROC_CGROUPS.replace("memory\t4\t1\t1", "memory\t4\t1\t0"),
        ..f.host(V1_SELF)
    };
    let p = plan(&host, "c1", None).unwrap();
    let memory = p.controller(Controller::Memory).unwrap();
    assert!(!memory.usable && memory.why.contains("kernel command line"), "{}", memory.why);
    let e = p
        .check_needs(&[("--pids-limit", Controller::Pids), ("--memory", Controller::Memory)])
        .unwrap_err();
    assert!(e.starts_with("--memory needs the memory controller"), "{e}");
}

#[test]
fn hybrid_uses_v1_and_says_so() {
    let mut f = Fixture::v1("hybrid-place");
    f.mount("unified", FsType::Cgroup2);
    let p = plan(&f.host(V1_SELF), "c1", None).unwrap();
    assert_eq!((p.mode, p.version), (CgroupMode::Hybrid, Version::V1));
    assert!(p.reason.contains("hybrid"), "{}", p.reason);
    assert_eq!(usable(&p).len(), 5);
}

#[test]
fn v2_delegating_caller_gets_the_container_beneath_it() {
    let f = Fixture::v2("v2-delegating", "cpuset cpu io memory pids\n");
    f.file("user.slice/cgroup.subtree_control", "cpu memory pids\n");
    f.file("user.slice/svc/cgroup.procs", "");
    f.file("user.slice/svc/cgroup.subtree_control", "cpu memory pids\n");
    let p = plan(&f.host("0::/user.slice/svc\n"), "c1", None).unwrap();
    assert_eq!(p.place, Where::CallersCgroup);
    assert!(p.reason.contains("holds no process directly"), "{}", p.reason);
    assert_eq!(p.dirs.len(), 1);
    assert_eq!(p.dirs[0].leaf, f.root.join("user.slice/svc/c1"));
    assert_eq!(usable(&p), ["cpu", "memory", "pids"]);
    // Not handed down by a cgroup the workshop did not create: unavailable, and why.
    let io = p.controller(Controller::Io).unwrap();
    assert!(!io.usable, "io must not be usable");
    assert!(
        io.why.contains("user.slice/svc/cgroup.subtree_control")
            && io.why.contains("did not create"),
        "{}",
        io.why
    );

    let cg = Cgroup::create(&p).unwrap();
    assert!(f.root.join("user.slice/svc/c1").is_dir());
    assert_eq!(
        f.read("user.slice/svc/cgroup.subtree_control"),
        "cpu memory pids\n",
        "wrote to the caller's cgroup"
    );
    assert!(cg.made_parents.is_empty());
    cg.remove().unwrap();
    assert!(!f.root.join("user.slice/svc/c1").exists());
    cg.remove().unwrap();
}

#[test]
fn v2_caller_with_processes_gets_the_workshop_cgroup_at_the_root() {
    let f = Fixture::v2("v2-busy", "cpu memory pids\n");
    f.file("user.slice/session-1.scope/cgroup.procs", "1234\n5678\n");
    let p = plan(&f.host("0::/user.slice/session-1.scope\n"), "c1", None).unwrap();
    assert_eq!(p.place, Where::WorkshopAtRoot);
    assert!(
        p.reason.contains("no-internal-processes") && p.reason.contains("/workshop/c1"),
        "{}",
        p.reason
    );
    let workshop = f.root.join(WORKSHOP_CGROUP);
    assert_eq!(p.dirs[0].leaf, workshop.join("c1"));
    assert_eq!(p.dirs[0].own_parents, std::slice::from_ref(&workshop));
    assert_eq!(usable(&p), ["cpu", "memory", "pids"]);

    let cg = Cgroup::create(&p).unwrap();
    // The workshop created /workshop, so it (and only it) has its subtree_control written.
    assert_eq!(f.read("workshop/cgroup.subtree_control"), "+cpu +memory +pids");
    assert_eq!(f.read("cgroup.subtree_control"), "cpu memory pids\n");
    assert_eq!(cg.made_parents, std::slice::from_ref(&workshop));
    assert_eq!(cg.dir_for("memory.max"), Some(workshop.join("c1").as_path()));
    cg.remove().unwrap();
    assert!(!workshop.join("c1").exists());
}

#[test]
fn v2_caller_cgroup_that_cannot_be_read_does_not_delegate() {
    let f = Fixture::v2("v2-unreadable", "cpu memory pids\n");
    let p = plan(&f.host("0::/elsewhere/in/another/namespace\n"), "c1", None).unwrap();
    assert_eq!(p.place, Where::WorkshopAtRoot);
}

#[test]
fn v2_root_caller_is_exempt_from_the_rule() {
    let f = Fixture::v2("v2-root", "cpu memory pids io\n");
    let p = plan(&f.host("0::/\n"), "c1", None).unwrap();
    assert_eq!(p.place, Where::WorkshopAtRoot);
    assert!(p.reason.contains("root cgroup") && p.reason.contains("exempts"), "{}", p.reason);
    assert_eq!(usable(&p), ["cpu", "memory", "pids", "io"]);
}

#[test]
fn v2_controller_missing_from_the_roots_subtree_control_is_unavailable() {
    let f = Fixture::v2("v2-missing", "cpu pids\n");
    f.file("user.slice/s.scope/cgroup.procs", "1\n");
    let p = plan(&f.host("0::/user.slice/s.scope\n"), "c1", None).unwrap();
    let memory = p.controller(Controller::Memory).unwrap();
    assert!(!memory.usable);
    assert!(
        memory.why.contains(&format!("{}/cgroup.subtree_control", f.root.display())),
        "{}",
        memory.why
    );
    assert!(memory.why.contains("echo +memory"), "{}", memory.why);
    assert!(p
        .check_needs(&[("--memory", Controller::Memory)])
        .unwrap_err()
        .contains("--memory needs the memory"));
    let cg = Cgroup::create(&p).unwrap();
    assert_eq!(f.read("workshop/cgroup.subtree_control"), "+cpu +pids");
    cg.remove().unwrap();
}

#[test]
fn v2_controller_the_kernel_lacks_is_reported_as_such() {
    let f = Fixture::v2("v2-nokernel", "cpu memory pids\n");
    f.file("cgroup.controllers", "cpu memory pids\n");
    let p = plan(&f.host("0::/\n"), "c1", None).unwrap();
    let io = p.controller(Controller::Io).unwrap();
    assert!(!io.usable && io.why.contains("offers no io"), "{}", io.why);
}

#[test]
fn cgroup_parent_is_used_and_its_missing_parts_made() {
    let f = Fixture::v2("v2-parent", "cpu memory pids\n");
    f.file("ci.slice/cgroup.subtree_control", "cpu memory\n");
    f.file("user.slice/s.scope/cgroup.procs", "1\n");
    let p = plan(&f.host("0::/user.slice/s.scope\n"), "c1", Some("/ci.slice/job")).unwrap();
    assert_eq!(p.place, Where::Parent("/ci.slice/job".into()));
    assert!(p.reason.contains("--cgroup-parent /ci.slice/job"));
    assert_eq!(p.dirs[0].leaf, f.root.join("ci.slice/job/c1"));
    assert_eq!(p.dirs[0].own_parents, [f.root.join("ci.slice/job")]);
    // ci.slice exists and is not the workshop's: it decides what is handed down.
    assert_eq!(usable(&p), ["cpu", "memory"]);
    let cg = Cgroup::create(&p).unwrap();
    assert_eq!(f.read("ci.slice/cgroup.subtree_control"), "cpu memory\n");
    assert_eq!(f.read("ci.slice/job/cgroup.subtree_control"), "+cpu +memory");
    cg.remove().unwrap();

    let v1 = Fixture::v1("v1-parent");
    let p = plan(&v1.host(V1_SELF), "c1", Some("ci")).unwrap();
    let memory = p.dirs.iter().find(|d| d.controllers[0] == "memory").unwrap();
    assert_eq!(memory.leaf, v1.root.join("memory/ci/c1"));
    assert_eq!(memory.own_parents, [v1.root.join("memory/ci")]);
    for bad in ["", "/", "a/../b", "a//b"] {
        assert!(
            plan(&v1.host(V1_SELF), "c1", Some(bad)).unwrap_err().contains("--cgroup-parent"),
            "{bad}"
        );
    }
    assert!(plan(&v1.host(V1_SELF), "a/b", None).is_err());
}

#[test]
fn v1_create_copies_cpuset_and_remove_is_idempotent() {
    let f = Fixture::v1("v1-create");
    let p = plan(&f.host(V1_SELF), "c1", None).unwrap();
    let cg = Cgroup::create(&p).unwrap();
    assert_eq!(f.read("cpuset/c1/cpuset.cpus"), "0-1");
    assert_eq!(f.read("cpuset/c1/cpuset.mems"), "0");
    assert_eq!(cg.dir_for("cpuacct.usage"), Some(f.root.join("cpuacct/c1").as_path()));
    assert_eq!(
        cg.dir_for("memory.limit_in_bytes"),
        Some(f.root.join("memory/user.slice/c1").as_path())
    );
    // Same name again: refused, and the first one's directories are untouched.
    let again = Cgroup::create(&p).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
    assert!(f.root.join("memory/user.slice/c1").is_dir());
    // The record survives a round trip through JSON, as the resource record stores it.
    let json = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cg);
    fs::remove_file(f.root.join("cpuset/c1/cpuset.cpus")).unwrap();
    fs::remove_file(f.root.join("cpuset/c1/cpuset.mems")).unwrap();
    back.remove().unwrap();
    for d in &cg.dirs {
        assert!(!d.path.exists(), "{} left behind", d.path.display());
    }
    cg.remove().unwrap();
}
