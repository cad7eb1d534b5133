//! The record of what a run created on the host, kept on disk so that it outlives the run.
//!
//! Every run that creates something on the host (a veth pair, a bridge, an address lease, a file, a
//! forwarder process; later a cgroup and an overlay's upper dir) writes it to
//! `STATE/runs/RUN.json` *before* creating it, and strikes it off once it is undone. The run holds
//! an flock on `STATE/runs/RUN.lock` for its whole life. So when a later run finds a record whose
//! lock it can take, the run that wrote it is dead (the kernel drops an flock with its process,
//! even after SIGKILL), and what the record lists is left over: [`reap`] undoes it. Undoing is
//! idempotent (a link or file already gone is fine), because a run may die after recording a thing
//! and before making it. Nothing that is not in a record is ever touched.

use super::state_dir::{self, Lock};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One thing a run created on the host, and how to undo it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A network link on the host: a veth pair's host end (deleting it deletes both ends) or a
    /// bridge. `ip link del NAME`.
    Link { name: String },
    /// A block of the workshop subnet leased to this run (see [`crate::network::ipam`]).
    Lease { block: String },
    /// A file the run created on the host (stage 03's /tmp/secret.txt).
    File { path: PathBuf },
    /// A process the run started on the host (a port forwarder), known by PID and start time so
    /// that a recycled PID is never taken for it.
    Process { pid: i32, start_time: u64 },
    /// A container's cgroup (stage 06): its directories, in every v1 tree or the one v2 tree.
    Cgroup { cgroup: crate::cgroups::Cgroup },
    /// A container's own layer (stage 07): `<store>/containers/<id>` with its upper, work and
    /// merged dirs. The overlay itself is mounted only in the container's mount namespace and goes
    /// with it.
    ContainerLayer { dir: PathBuf },
    /// A container's AppArmor profile (stage 08, on hosts with AppArmor), loaded into the kernel
    /// under the container's name.
    AppArmorProfile { name: String },
}

impl Resource {
    /// Undoes it. Something already gone counts as undone.
    pub fn undo(&self) -> anyhow::Result<()> {
        match self {
            Resource::Link { name } => crate::network::delete_link_if_present(name),
            Resource::Lease { block } => crate::network::ipam::release(block),
            Resource::File { path } => match std::fs::remove_file(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => Ok(other?),
            },
            Resource::Cgroup { cgroup } => cgroup.remove(),
            Resource::ContainerLayer { dir } => crate::overlay::container_layer::remove_tree(dir)
                .with_context(|| format!("remove {}", dir.display())),
            Resource::AppArmorProfile { name } => crate::security::apparmor::unload(name),
            Resource::Process { pid, start_time } => {
                let pid = nix::unistd::Pid::from_raw(*pid);
                if process_start_time(pid) == Some(*start_time) {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    // Reap it when it is our child; otherwise its own parent (or init) does.
                    while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(pid, None) {}
                }
                Ok(())
            }
        }
    }

    /// Names it for a person: "the veth pair wsh-3fa2c1".
    pub fn describe(&self) -> String {
        match self {
            Resource::Link { name } if name.starts_with("wsbr-") => format!("the bridge {name}"),
            Resource::Link { name } => format!("the veth pair {name}"),
            Resource::Lease { block } => format!("the address block {block}"),
            Resource::File { path } => format!("the file {}", path.display()),
            Resource::Process { pid, .. } => format!("the process {pid}"),
            Resource::Cgroup { cgroup } => match cgroup.dirs.first() {
                Some(d) => format!("the cgroup {}", d.path.display()),
                None => "an empty cgroup".into(),
            },
            Resource::ContainerLayer { dir } => format!("the container layer {}", dir.display()),
            Resource::AppArmorProfile { name } => format!("the AppArmor profile {name}"),
        }
    }
}

/// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): with the
/// PID, it names one process for good, as PIDs are reused.
pub fn process_start_time(pid: nix::unistd::Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// What is written to `RUN.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RunFile {
    /// The program that made the record (`04_network`).
    program: String,
    pid: u32,
    resources: Vec<Resource>,
}

/// This process's record: created on the first resource, removed when the last one is undone.
struct Record {
    /// The state directory it is in: removed too when this record was the last thing there.
    state: PathBuf,
    json: PathBuf,
    lock_path: PathBuf,
    _lock: Lock,
    file: RunFile,
}

impl Record {
    fn create(dir: &Path) -> anyhow::Result<Record> {
        let runs = dir.join("runs");
        let id = format!("{}-{}", std::process::id(), crate::uts::container_id());
        let lock_path = runs.join(format!("{id}.lock"));
        // The lock first, the record second: a reaper only looks at records, and by the time
        // one exists its lock is held. Another run may remove an empty runs/ meanwhile (see
        // `remove_files`): the lock then makes it again.
        let lock = Lock::exclusive_removable(&lock_path)?;
        let program = std::env::args()
            .next()
            .and_then(|a| Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "workshop".into());
        Ok(Record {
            state: dir.to_path_buf(),
            json: runs.join(format!("{id}.json")),
            lock_path,
            _lock: lock,
            file: RunFile { program, pid: std::process::id(), resources: Vec::new() },
        })
    }

    fn save(&self) -> anyhow::Result<()> {
        let text = serde_json::to_vec_pretty(&self.file)?;
        state_dir::write_atomic(&self.json, &text)
    }

    /// Removes the record, and runs/ and the state directory too when they are left empty, so that
    /// a run that made nothing lasting leaves no trace (rmdir fails harmlessly when not empty).
    fn remove_files(&self) {
        let _ = std::fs::remove_file(&self.json);
        let _ = std::fs::remove_file(&self.lock_path);
        if let Some(runs) = self.lock_path.parent() {
            state_dir::remove_empty(runs, &self.state);
        }
    }
}

static RECORD: Mutex<Option<Record>> = Mutex::new(None);

/// The descriptor of this run's lock, for children to close (see [`close_in_child`]).
static LOCK_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Called first thing in every forked or cloned child: a child that kept the run's lock would make
/// a dead run look alive until the child is gone too. Only close(2), so safe after fork.
pub fn close_in_child() {
    let fd = LOCK_FD.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: closing an inherited descriptor in the child; the parent's stays open.
        unsafe { libc::close(fd) };
    }
}

/// In a forked child that goes on to make things of its own (stage 09's monitor): the record it
/// inherited is its parent's. Closes the copy of the lock and forgets the record without running
/// any destructor (they would close a descriptor number that may be reused by then, and strike
/// off the parent's resources), so the child's first resource starts a record of its own.
pub fn forget_inherited() {
    close_in_child();
    with_record(|slot| {
        if let Some(record) = slot.take() {
            std::mem::forget(record);
        }
    });
    LOCK_FD.store(-1, std::sync::atomic::Ordering::Relaxed);
}

fn with_record<T>(f: impl FnOnce(&mut Option<Record>) -> T) -> T {
    let mut guard = RECORD.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}

/// A named point in a run where a test can stop it: with `WORKSHOP_STOP_AT=NAME` in its environment,
/// the process stops itself (SIGSTOP) there, and the test then kills it with SIGKILL, to prove that
/// whatever was made up to that point is found and removed by the next run. Names: `record-KIND`
/// (written to the record, not made yet), `made-KIND` (made), and the container's own points
/// (`cloned`, `host-side-done`).
pub fn checkpoint(name: &str) {
    if std::env::var_os("WORKSHOP_STOP_AT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
}

impl Resource {
    fn kind(&self) -> &'static str {
        match self {
            Resource::Link { .. } => "link",
            Resource::Lease { .. } => "lease",
            Resource::File { .. } => "file",
            Resource::Process { .. } => "process",
            Resource::Cgroup { .. } => "cgroup",
            Resource::ContainerLayer { .. } => "container-layer",
            Resource::AppArmorProfile { .. } => "apparmor-profile",
        }
    }
}

/// Writes `resource` to this run's record, before it is created.
pub fn track(resource: &Resource) -> anyhow::Result<()> {
    with_record(|slot| {
        if slot.is_none() {
            let record = Record::create(&state_dir::state_dir())?;
            use std::os::fd::AsRawFd;
            LOCK_FD.store(record._lock.file().as_raw_fd(), std::sync::atomic::Ordering::Relaxed);
            *slot = Some(record);
        }
        let record = slot.as_mut().expect("just made");
        record.file.resources.push(resource.clone());
        record.save().context("write the record of what this run created")
    })
}

/// Strikes `resource` off this run's record, once undone (or handed on to stage 09's state).
pub fn untrack(resource: &Resource) {
    with_record(|slot| {
        let Some(record) = slot.as_mut() else { return };
        if let Some(i) = record.file.resources.iter().rposition(|r| r == resource) {
            record.file.resources.remove(i);
        }
        if record.file.resources.is_empty() {
            record.remove_files();
            LOCK_FD.store(-1, std::sync::atomic::Ordering::Relaxed);
            *slot = None;
        } else if let Err(e) = record.save() {
            eprintln!("warning: {e:#}");
        }
    })
}

/// A resource this run created, undone and struck off when dropped: on success, on an early `?`,
/// while a panic unwinds, and (through [`crate::signals`]) on SIGINT/SIGTERM. After SIGKILL the
/// record is left, and the next run's [`reap`] undoes it.
#[derive(Debug)]
pub struct Owned {
    resource: Option<Resource>,
}

impl Owned {
    /// Records `resource`, then makes it with `make`. When `make` fails nothing was made, so the
    /// record is struck off without undoing anything.
    pub fn create<T>(
        resource: Resource,
        make: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(Owned, T)> {
        track(&resource)?;
        checkpoint(&format!("record-{}", resource.kind()));
        match make() {
            Ok(value) => {
                checkpoint(&format!("made-{}", resource.kind()));
                Ok((Owned { resource: Some(resource) }, value))
            }
            Err(e) => {
                untrack(&resource);
                Err(e)
            }
        }
    }

    /// Takes charge of something that already exists (a forked process: its PID is known only
    /// after the fork, and PR_SET_PDEATHSIG covers the moment before).
    pub fn adopt(resource: Resource) -> anyhow::Result<Owned> {
        track(&resource)?;
        checkpoint(&format!("made-{}", resource.kind()));
        Ok(Owned { resource: Some(resource) })
    }

    pub fn resource(&self) -> &Resource {
        self.resource.as_ref().expect("an Owned always holds its resource until dropped")
    }

    /// Strikes it off the record without undoing it: for what the kernel removes by itself, such
    /// as a veth pair whose container's network namespace has just died.
    pub fn forget(mut self) {
        if let Some(resource) = self.resource.take() {
            untrack(&resource);
        }
    }

    /// Undoes it now and says whether that worked.
    pub fn release(mut self) -> anyhow::Result<()> {
        self.undo_now()
    }

    fn undo_now(&mut self) -> anyhow::Result<()> {
        let Some(resource) = self.resource.take() else { return Ok(()) };
        match resource.undo() {
            Ok(()) => {
                untrack(&resource);
                Ok(())
            }
            // Left in the record: the next run tries again.
            Err(e) => Err(e.context(format!("remove {}", resource.describe()))),
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Err(e) = self.undo_now() {
            eprintln!("warning: could not {e:#}; the next run of the workshop will try again");
        }
    }
}

/// Resources made for one purpose, undone newest first when dropped.
#[derive(Debug, Default)]
pub struct Cleanup {
    owned: Vec<Owned>,
}

impl Cleanup {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, owned: Owned) {
        self.owned.push(owned);
    }

    /// Records, makes and keeps `resource` (see [`Owned::create`]).
    pub fn create<T>(
        &mut self,
        resource: Resource,
        make: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let (owned, value) = Owned::create(resource, make)?;
        self.owned.push(owned);
        Ok(value)
    }

    /// Creates a file on the host that does not exist yet (O_EXCL), recorded, with `mode`. Returns
    /// false, and records nothing, when it exists already: then it is somebody else's, and stays.
    pub fn create_file(&mut self, path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<bool> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let resource = Resource::File { path: path.to_path_buf() };
        let made = self.create(resource, || {
            let open =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path);
            match open {
                Ok(mut f) => {
                    f.write_all(contents)?;
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(anyhow::Error::new(e).context("exists"))
                }
                Err(e) => Err(anyhow::Error::new(e).context(format!("create {}", path.display()))),
            }
        });
        match made {
            Ok(made) => Ok(made),
            Err(e) if e.to_string() == "exists" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Undoes everything now, newest first, and reports what could not be undone.
    pub fn run(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some(owned) = self.owned.pop() {
            if let Err(e) = owned.release() {
                failures.push(format!("could not {e:#}"));
            }
        }
        failures
    }

    /// Hands everything over to a longer-lived owner (an OCI container's state, undone by
    /// `delete`): struck off this run's record without being undone, oldest first.
    pub fn hand_over(&mut self) -> Vec<Resource> {
        let owned = std::mem::take(&mut self.owned);
        owned
            .into_iter()
            .map(|o| {
                let r = o.resource().clone();
                o.forget();
                r
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.owned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owned.is_empty()
    }

    pub fn append(&mut self, other: &mut Cleanup) {
        self.owned.append(&mut other.owned);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for failure in self.run() {
            eprintln!("warning: {failure}; the next run of the workshop will try again");
        }
    }
}

/// What an earlier, dead run left, as found in its record.
#[derive(Debug)]
pub struct Leftover {
    pub program: String,
    pub pid: u32,
    pub resources: Vec<Resource>,
    json: PathBuf,
}

impl Leftover {
    /// "an earlier run of 04_network (PID 4242) left the veth pair wsh-1a2b3c, the address block …"
    pub fn describe(&self) -> String {
        let things: Vec<String> = self.resources.iter().map(Resource::describe).collect();
        format!(
            "an earlier run of {} (PID {}) that did not finish left {}",
            self.program,
            self.pid,
            if things.is_empty() { "an empty record".to_string() } else { things.join(", ") }
        )
    }
}

/// The records of dead runs under `dir`, each with its lock taken so that no other reaper works on
/// it at the same time. A record that cannot be read is reported, not guessed at.
fn dead_runs(dir: &Path) -> Vec<(Leftover, Lock)> {
    let runs = dir.join("runs");
    let Ok(entries) = std::fs::read_dir(&runs) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let json = entry.path();
        if json.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let lock_path = json.with_extension("lock");
        let Ok(Some(lock)) = Lock::try_exclusive(&lock_path) else { continue };
        // Taken: its writer is dead, or has just finished and removed both files, in which case
        // taking the lock made its file again: remove that, and there is nothing to reap.
        if !json.exists() {
            let _ = std::fs::remove_file(&lock_path);
            continue;
        }
        // Read it now that nobody else can change it.
        let file: RunFile = match std::fs::read(&json)
            .map_err(anyhow::Error::from)
            .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!(
                    "warning: the workshop's record {} cannot be read ({e}); look at it, then delete it",
                    json.display()
                );
                continue;
            }
        };
        found.push((
            Leftover { program: file.program, pid: file.pid, resources: file.resources, json },
            lock,
        ));
    }
    found
}

/// What dead runs left, without touching it (for `doctor`).
pub fn leftovers() -> Vec<Leftover> {
    dead_runs(&state_dir::state_dir()).into_iter().map(|(l, _)| l).collect()
}

/// Undoes what dead runs left, newest resource first, and returns what was found. A resource that
/// cannot be undone stays in its record for the next try.
pub fn reap() -> Vec<(Leftover, Vec<String>)> {
    reap_in(&state_dir::state_dir())
}

fn reap_in(dir: &Path) -> Vec<(Leftover, Vec<String>)> {
    let mut done = Vec::new();
    for (leftover, lock) in dead_runs(dir) {
        let mut failures = Vec::new();
        let mut remaining = Vec::new();
        for r in leftover.resources.iter().rev() {
            if let Err(e) = r.undo() {
                failures.push(format!("could not remove {}: {e:#}", r.describe()));
                remaining.insert(0, r.clone());
            }
        }
        if remaining.is_empty() {
            let _ = std::fs::remove_file(&leftover.json);
            let _ = std::fs::remove_file(leftover.json.with_extension("lock"));
        } else {
            let file = RunFile {
                program: leftover.program.clone(),
                pid: leftover.pid,
                resources: remaining,
            };
            if let Ok(text) = serde_json::to_vec_pretty(&file) {
                let _ = state_dir::write_atomic(&leftover.json, &text);
            }
        }
        drop(lock);
        done.push((leftover, failures));
    }
    if !done.is_empty() {
        // The dead runs' records were the last things there: leave no empty runs/ behind.
        state_dir::remove_empty(&dir.join("runs"), dir);
    }
    done
}

/// Reaps, and tells the person in one line per dead run what was removed (on stderr, so that a
/// demo's narration stays as recorded).
pub fn reap_and_report() {
    for (leftover, failures) in reap() {
        eprintln!("note: removed what {}", leftover.describe().trim_start_matches("an "));
        for f in failures {
            eprintln!("warning: {f}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_serialize_with_their_kind() {
        let r = Resource::Link { name: "wsh-abc123".into() };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"kind":"link","name":"wsh-abc123"}"#);
        assert_eq!(serde_json::from_str::<Resource>(&text).unwrap(), r);
    }

    #[test]
    fn start_time_names_this_process() {
        let me = nix::unistd::getpid();
        let t = process_start_time(me).expect("our own stat is readable");
        assert_eq!(process_start_time(me), Some(t));
    }

    #[test]
    fn a_dead_runs_file_is_removed_and_a_live_runs_is_not() {
        let dir = super::state_dir::tests::tempdir("reap");
        let runs = dir.join("runs");
        std::fs::create_dir_all(&runs).unwrap();
        let file = dir.join("leftover.txt");
        std::fs::write(&file, "x").unwrap();
        let write_run = |id: &str, path: &Path| {
            let run = RunFile {
                program: "03_rootfs".into(),
                pid: 1,
                resources: vec![Resource::File { path: path.to_path_buf() }],
            };
            std::fs::write(runs.join(format!("{id}.json")), serde_json::to_vec(&run).unwrap())
                .unwrap();
        };
        // A live run: its lock is held (here by us).
        let live_file = dir.join("live.txt");
        std::fs::write(&live_file, "x").unwrap();
        write_run("live", &live_file);
        let _held = Lock::exclusive(&runs.join("live.lock")).unwrap();
        // A dead one: nobody holds its lock.
        write_run("dead", &file);
        let reaped = reap_in(&dir);
        assert_eq!(reaped.len(), 1);
        assert!(reaped[0].0.describe().contains("the file"), "{}", reaped[0].0.describe());
        assert!(!file.exists(), "the dead run's file is still there");
        assert!(live_file.exists(), "a live run's file was removed");
        assert!(!runs.join("dead.json").exists() && runs.join("live.json").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
