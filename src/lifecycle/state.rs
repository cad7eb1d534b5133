//! A container that outlives the command that made it: what is known about it, kept in
//! `<state_dir>/containers/<id>/state.json`.
//!
//! Every command (`start`, `stop`, `ps`, `rm`…) is a new process; the only thing they share is this
//! file. So it follows the state directory's two disciplines (see [`crate::runtime::state_dir`]):
//! it is replaced atomically, never written in place, and it is changed only under the container's
//! own flock (`<id>/lock`), so that a `stop` and a `rm` run at once cannot interleave. A file that
//! does not read back exactly as the workshop writes it is refused, not guessed at.

use super::id::{self, ContainerId, ResolveError};
use super::time::Timestamp;
use crate::runtime::state_dir::{self, Lock};
use crate::runtime::Resource;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a container is in its life (Docker's `State.Status`, with the exit code where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Made (its directory, its layer) but never started: `create`.
    Created,
    /// Its process runs.
    Running,
    /// Its process is frozen by the cgroup freezer (`pause`).
    Paused,
    /// Its process exited with this status (128 + signal when killed), and the monitor saw it.
    Stopped(i32),
    /// Its process is gone and nobody saw it go: the monitor died first (see [`super::liveness`]).
    Dead,
}

/// One process for good: a PID and that process's start time, because PIDs are reused and a
/// recycled PID must never be taken for the container (and signalled by `kill`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    /// Clock ticks since boot (see [`crate::runtime::record::process_start_time`]).
    pub start_time: u64,
}

impl ProcessIdentity {
    /// The identity of the live process `pid`; `None` if there is none.
    pub fn of(pid: i32) -> Option<ProcessIdentity> {
        let start_time =
            crate::runtime::record::process_start_time(nix::unistd::Pid::from_raw(pid))?;
        Some(ProcessIdentity { pid, start_time })
    }
}

/// A published port: `127.0.0.1:8080->80/tcp` in `ps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` (the workshop's forwarder speaks nothing else).
    pub protocol: String,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Port { host_ip, host_port, container_port, protocol } = self;
        write!(f, "{host_ip}:{host_port}->{container_port}/{protocol}")
    }
}

/// Everything known about one container. Unknown fields are refused when read, so a typo in a
/// hand-edited file is an error rather than a field silently dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerState {
    pub id: ContainerId,
    pub name: String,
    /// The image it was made from, as the person named it.
    pub image: String,
    /// The command and its arguments, as given after `--`.
    pub command: Vec<String>,
    pub created: Timestamp,
    /// The last start; `None` until the first.
    pub started: Option<Timestamp>,
    /// The last exit; `None` until the first.
    pub finished: Option<Timestamp>,
    pub status: Status,
    /// The container's first process while it runs (or is paused).
    pub process: Option<ProcessIdentity>,
    /// The monitor: the host process that waits for the container's process and records its exit.
    pub monitor: Option<ProcessIdentity>,
    /// What was made on the host for it (veth, lease, cgroup, layer…), undone by `rm`.
    pub resources: Vec<Resource>,
    pub ports: Vec<Port>,
    /// Its writable layer (stage 07): what makes a file survive `stop`/`start` but not `rm`.
    pub upper_dir: Option<PathBuf>,
    /// The stage flags it was created with (`--memory 64m -p 8080:80 …`), parsed again by every
    /// start, so that each run of it is built as the first was.
    #[serde(default)]
    pub flags: Vec<String>,
    /// `--rm`: removed by its monitor when it exits.
    #[serde(default)]
    pub auto_remove: bool,
    /// A container an engine made through the OCI runtime interface (see [`crate::oci`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciRecord>,
}

impl ContainerState {
    /// The container's cgroups while it runs (its stage 06 cgroup, its v1 freezer), as its
    /// resources list them: for `exec` to join, for `pause` to freeze.
    pub fn cgroups(&self) -> Vec<crate::cgroups::Cgroup> {
        self.resources
            .iter()
            .filter_map(|r| match r {
                Resource::Cgroup { cgroup } => Some(cgroup.clone()),
                _ => None,
            })
            .collect()
    }
}

/// What the OCI interface keeps beside the rest: the bundle it was made from, the engine's
/// annotations, the hooks still to run (poststart at `start`, poststop at `delete`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciRecord {
    /// The id the engine gave it (any string runc accepts), also its `name`.
    pub id: String,
    pub bundle: PathBuf,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// config.json's `hooks`, as JSON.
    #[serde(default)]
    pub hooks: Option<serde_json::Value>,
}

impl ContainerState {
    /// A container just made, not started.
    pub fn new(id: ContainerId, name: String, image: String, command: Vec<String>) -> Self {
        ContainerState {
            id,
            name,
            image,
            command,
            created: Timestamp::now(),
            started: None,
            finished: None,
            status: Status::Created,
            process: None,
            monitor: None,
            resources: Vec::new(),
            ports: Vec::new(),
            upper_dir: None,
            flags: Vec::new(),
            auto_remove: false,
            oci: None,
        }
    }
}

/// The containers directory: `<state_dir>/containers`.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// The container's flock, held while its state is read, decided on and written. Only a holder can
/// [`Store::save`] or [`Store::remove`], so the type system keeps the rule.
pub struct ContainerLock {
    id: ContainerId,
    _lock: Lock,
}

impl ContainerLock {
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// The lock's descriptor, for a child that must not hold the lock on (a flock belongs to
    /// every copy of the descriptor: a container process that kept one would lock its own
    /// container until it exits).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._lock.file().as_raw_fd()
    }
}

/// `list`'s answer: every container that reads, and one line for every one that does not.
#[derive(Debug, Default)]
pub struct Listing {
    /// Newest first, as `docker ps` lists them.
    pub containers: Vec<ContainerState>,
    /// One line each: which directory, what is wrong, what to do.
    pub unreadable: Vec<String>,
}

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

impl Store {
    /// The store under the workshop's state directory.
    pub fn open() -> Store {
        Store::at(&state_dir::state_dir())
    }

    /// The store under `state_dir` (tests use a temp dir).
    pub fn at(state_dir: &Path) -> Store {
        Store { root: state_dir.join("containers") }
    }

    /// `<state_dir>/containers/<id>`: its state, its lock and (for the wiring) its log.
    pub fn dir(&self, id: &ContainerId) -> PathBuf {
        self.root.join(id.full())
    }

    pub fn state_path(&self, id: &ContainerId) -> PathBuf {
        self.dir(id).join(STATE_FILE)
    }

    /// Records a new container, refusing a name already in use. The store-wide lock
    /// (`containers/.names.lock`) makes check-then-create one step: two `create --name web` at
    /// once get one container. The directory is filled under a temporary name and renamed into
    /// place, so no reader ever sees a container directory without its state. Returns the new
    /// container's lock, held.
    pub fn create(&self, state: &ContainerState) -> anyhow::Result<ContainerLock> {
        id::validate_name(&state.name).map_err(anyhow::Error::msg)?;
        state_dir::ensure_dir(&self.root)?;
        let _names = Lock::exclusive_removable(&self.names_lock())?;
        let listing = self.list()?;
        id::check_name_free(&state.name, listing.containers.iter().map(|c| (&c.id, &*c.name)))
            .map_err(anyhow::Error::msg)?;
        let tmp = self.root.join(format!(".{}.creating", state.id));
        let _ = std::fs::remove_dir_all(&tmp); // a creation that died half-way
        state_dir::ensure_dir(&tmp)?;
        let lock = Lock::exclusive(&tmp.join(LOCK_FILE))?;
        let bytes = serde_json::to_vec_pretty(state)?;
        state_dir::write_atomic(&tmp.join(STATE_FILE), &bytes)?;
        let dir = self.dir(&state.id);
        std::fs::rename(&tmp, &dir)
            .with_context(|| format!("move {} into place", dir.display()))?;
        Ok(ContainerLock { id: state.id.clone(), _lock: lock })
    }

    /// Waits for the container's lock. "No such container" if it is gone, also when it was
    /// removed while we waited.
    pub fn lock(&self, id: &ContainerId) -> anyhow::Result<ContainerLock> {
        let no_such = || anyhow::Error::new(ResolveError::NoSuch(id.short().to_string()));
        if !self.dir(id).is_dir() {
            return Err(no_such());
        }
        let lock = match Lock::exclusive(&self.dir(id).join(LOCK_FILE)) {
            Err(_) if !self.dir(id).is_dir() => return Err(no_such()),
            other => other?,
        };
        // `rm` removes the directory while holding the lock; the waiter then holds a lock on a
        // file that is no longer there.
        if !self.state_path(id).exists() {
            let _ = std::fs::remove_dir(self.dir(id)); // the lock file we just made again
            return Err(no_such());
        }
        Ok(ContainerLock { id: id.clone(), _lock: lock })
    }

    /// Reads one container's state. The file is replaced atomically, so reading needs no lock;
    /// deciding on what was read does (take [`Store::lock`] first).
    pub fn load(&self, id: &ContainerId) -> anyhow::Result<ContainerState> {
        let path = self.state_path(id);
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ResolveError::NoSuch(id.short().to_string()).into())
            }
            other => other.with_context(|| format!("read {}", path.display()))?,
        };
        let state: ContainerState = serde_json::from_slice(&bytes).map_err(|e| self.bad(id, e))?;
        if state.id != *id {
            let e = format!("it holds the id {}, not its directory's", state.id.short());
            return Err(self.bad(id, e));
        }
        Ok(state)
    }

    /// One line for a state file that is not what the workshop wrote: the file, what is wrong,
    /// and what to do. Its directory is removed whole, as `rm` would (only what the file recorded
    /// on the host, which nobody can read now, is left for the person to look at).
    fn bad(&self, id: &ContainerId, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!(
            "{} was not written by the workshop or was cut short ({why}); remove the container \
             with `09_lifecycle rm -f {}`",
            self.state_path(id).display(),
            id.short()
        )
    }

    /// Replaces the container's state, atomically, under its lock.
    pub fn save(&self, lock: &ContainerLock, state: &ContainerState) -> anyhow::Result<()> {
        anyhow::ensure!(
            lock.id == state.id,
            "the lock of container {} cannot save container {}",
            lock.id.short(),
            state.id.short()
        );
        let bytes = serde_json::to_vec_pretty(state)?;
        state_dir::write_atomic(&self.state_path(&state.id), &bytes)
    }

    /// Removes the container's directory, under its lock (its host resources are the caller's to
    /// undo first). The state file goes first, so a waiter on the lock sees the container gone.
    pub fn remove(&self, lock: ContainerLock) -> anyhow::Result<()> {
        let dir = self.dir(&lock.id);
        match std::fs::remove_file(self.state_path(&lock.id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("remove {}", dir.display()))
            }
            _ => {}
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        drop(lock);
        // The last container out removes the names' lock and the directories above, so that a
        // host with no container keeps no trace of the workshop's state.
        let names = Lock::exclusive_removable(&self.names_lock())?;
        let others = std::fs::read_dir(&self.root)
            .map(|d| d.flatten().any(|e| e.file_name() != ".names.lock"))
            .unwrap_or(true);
        if !others {
            names.remove(&self.names_lock());
        }
        Ok(())
    }

    fn names_lock(&self) -> PathBuf {
        self.root.join(".names.lock")
    }

    /// Every container, newest first; a directory that does not read is reported in
    /// `unreadable`, never skipped silently. Directories whose names start with '.' are
    /// creations in progress (see [`Store::create`]), not containers yet.
    pub fn list(&self) -> anyhow::Result<Listing> {
        let mut listing = Listing::default();
        let entries = match std::fs::read_dir(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
            other => other.with_context(|| format!("read {}", self.root.display()))?,
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("read {}", self.root.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let loaded = ContainerId::parse(&name)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{} is not a container's directory: {e}; look at it, then remove it",
                        entry.path().display()
                    )
                })
                .and_then(|id| self.load(&id));
            match loaded {
                Ok(state) => listing.containers.push(state),
                Err(e) => listing.unreadable.push(format!("{e:#}")),
            }
        }
        listing.containers.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        listing.unreadable.sort();
        Ok(listing)
    }

    /// The container a person means by `arg`: an exact id, a name, or a unique id prefix (see
    /// [`id::resolve`]). A container whose state does not read can still be named by its id, so
    /// that it can be removed.
    pub fn resolve(&self, arg: &str) -> anyhow::Result<ContainerId> {
        let listing = self.list()?;
        let mut known: Vec<(ContainerId, String)> =
            listing.containers.into_iter().map(|c| (c.id, c.name)).collect();
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                if let Ok(id) = ContainerId::parse(&entry.file_name().to_string_lossy()) {
                    if !known.iter().any(|(k, _)| *k == id) {
                        known.push((id, String::new()));
                    }
                }
            }
        }
        // An unreadable container has no name to match: "" never matches (an empty argument is
        // "No such container").
        let all: Vec<(&ContainerId, &str)> = known.iter().map(|(id, n)| (id, n.as_str())).collect();
        Ok(id::resolve(arg, all.iter().copied())?.clone())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runtime::state_dir::tests::tempdir;

    pub(crate) fn sample(name: &str) -> ContainerState {
        let id = ContainerId::generate().unwrap();
        ContainerState::new(id, name.into(), "busybox".into(), vec!["sleep".into(), "100".into()])
    }

    #[test]
    fn a_created_container_reads_back_exactly() {
        let dir = tempdir("lifecycle-create");
        let store = Store::at(&dir);
        let mut state = sample("web");
        state.resources.push(Resource::Link { name: "wsh-abc".into() });
        state.ports.push(Port {
            host_ip: "127.0.0.1".into(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        });
        let lock = store.create(&state).unwrap();
        assert_eq!(store.load(&state.id).unwrap(), state);
        // Saved under the lock, atomically: no temp file is left beside it.
        state.status = Status::Stopped(137);
        state.finished = Some(Timestamp::now());
        store.save(&lock, &state).unwrap();
        assert_eq!(store.load(&state.id).unwrap(), state);
        let mut names: Vec<String> = std::fs::read_dir(store.dir(&state.id))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["lock", "state.json"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_taken_or_invalid_name_is_refused() {
        let dir = tempdir("lifecycle-names");
        let store = Store::at(&dir);
        drop(store.create(&sample("web")).unwrap());
        let e = store.create(&sample("web")).err().unwrap().to_string();
        assert!(e.contains("already in use"), "{e}");
        let e = store.create(&sample("-bad")).err().unwrap().to_string();
        assert!(e.contains("invalid container name"), "{e}");
        assert_eq!(store.list().unwrap().containers.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_held_container_lock_keeps_out_a_second_command() {
        let dir = tempdir("lifecycle-lock");
        let store = Store::at(&dir);
        let state = sample("web");
        let held = store.create(&state).unwrap();
        let path = store.dir(&state.id).join(LOCK_FILE);
        assert!(Lock::try_exclusive(&path).unwrap().is_none(), "the lock was not held");
        drop(held);
        let again = store.lock(&state.id).unwrap();
        assert!(Lock::try_exclusive(&path).unwrap().is_none());
        store.remove(again).unwrap();
        assert!(!store.dir(&state.id).exists());
        let e = store.lock(&state.id).err().unwrap().to_string();
        assert_eq!(e, format!("No such container: {}", state.id.short()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn saving_with_another_containers_lock_is_refused() {
        let dir = tempdir("lifecycle-wronglock");
        let store = Store::at(&dir);
        let (a, b) = (sample("a"), sample("b"));
        let lock_a = store.create(&a).unwrap();
        drop(store.create(&b).unwrap());
        assert!(store.save(&lock_a, &b).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupted_file_is_refused_in_one_line_naming_it_and_the_fix() {
        let dir = tempdir("lifecycle-corrupt");
        let store = Store::at(&dir);
        let state = sample("web");
        drop(store.create(&state).unwrap());
        let path = store.state_path(&state.id);
        for bad in [
            "{\"id\": \"cut sho".to_string(),
            std::fs::read_to_string(&path).unwrap().replace("\"image\"", "\"imag\""),
            std::fs::read_to_string(&path).unwrap().replace("\"created\"", "\"running\""),
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = format!("{:#}", store.load(&state.id).unwrap_err());
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert!(e.contains(&format!("rm -f {}", state.id.short())), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_state_moved_to_another_containers_directory_is_refused() {
        let dir = tempdir("lifecycle-moved");
        let store = Store::at(&dir);
        let (a, b) = (sample("a"), sample("b"));
        drop(store.create(&a).unwrap());
        drop(store.create(&b).unwrap());
        std::fs::copy(store.state_path(&a.id), store.state_path(&b.id)).unwrap();
        let e = store.load(&b.id).unwrap_err().to_string();
        assert!(e.contains("not its directory's"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn list_reports_a_bad_container_and_keeps_the_good_ones() {
        let dir = tempdir("lifecycle-list");
        let store = Store::at(&dir);
        let mut old = sample("old");
        old.created = Timestamp::from_unix(1_000, 0);
        let new = sample("new");
        let broken = sample("broken");
        for s in [&old, &new, &broken] {
            drop(store.create(s).unwrap());
        }
        std::fs::write(store.state_path(&broken.id), "not json").unwrap();
        std::fs::create_dir(dir.join("containers/stray")).unwrap();
        let listing = store.list().unwrap();
        let names: Vec<&str> = listing.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["new", "old"], "newest first");
        assert_eq!(listing.unreadable.len(), 2, "{:?}", listing.unreadable);
        assert!(listing.unreadable.iter().any(|l| l.contains(broken.id.full())));
        assert!(listing.unreadable.iter().any(|l| l.contains("stray")));
        // The broken one can still be named by id (to remove it), not by its unreadable name.
        assert_eq!(store.resolve(broken.id.short()).unwrap(), broken.id);
        assert_eq!(store.resolve("old").unwrap(), old.id);
        assert!(store.resolve("broken").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_empty_store_lists_nothing() {
        let dir = tempdir("lifecycle-empty");
        let listing = Store::at(&dir).list().unwrap();
        assert!(listing.containers.is_empty() && listing.unreadable.is_empty());
        let e = Store::at(&dir).resolve("web").unwrap_err().to_string();
        assert_eq!(e, "No such container: web");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A writer killed at any moment (SIGKILL, here in the middle of a stream of saves) leaves the
    /// old state or the new one, never half of one: the file is replaced by rename(2).
    #[test]
    fn a_state_file_killed_in_the_middle_of_a_write_still_reads() {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::{fork, ForkResult};
        let dir = tempdir("crash");
        let store = Store::at(&dir);
        let mut state = sample("crash");
        let lock = store.create(&state).unwrap();
        // A long file, so that a kill often lands in the middle of writing it.
        for i in 0..2000 {
            state.resources.push(Resource::Link { name: format!("wsh-{i:06}") });
        }
        for round in 0..20u64 {
            // SAFETY: the child only saves (no allocation of errors on success) and is killed.
            match unsafe { fork() }.unwrap() {
                ForkResult::Child => loop {
                    let _ = store.save(&lock, &state);
                },
                ForkResult::Parent { child } => {
                    std::thread::sleep(std::time::Duration::from_micros(500 + round * 250));
                    kill(child, Signal::SIGKILL).unwrap();
                    nix::sys::wait::waitpid(child, None).unwrap();
                }
            }
            let read = store.load(&state.id).unwrap_or_else(|e| panic!("round {round}: {e:#}"));
            assert_eq!(read.id, state.id);
            let listing = store.list().unwrap();
            assert!(listing.unreadable.is_empty(), "{:?}", listing.unreadable);
            assert_eq!(listing.containers.len(), 1);
        }
        drop(lock);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
