//! What a container's state file says against what the kernel says: the file is written by
//! commands and the monitor, and any of them may have died (SIGKILL, a reboot, a bug) before
//! writing. So a `Running` in the file is checked against /proc before anyone believes it.
//!
//! A process is the same one only if its PID exists *and* its start time (field 22 of
//! /proc/PID/stat, see proc(5)) is the one recorded: PIDs are reused, and a new process that got
//! the container's old PID must not be reported as the container, nor receive its `kill`.

use super::state::{ContainerState, ProcessIdentity, Status};

/// Whether this very process is alive: same PID, same start time. (A zombie still counts: it has
/// exited, but its parent, the monitor, has not yet collected its status and will record it.)
pub fn is_alive(process: &ProcessIdentity) -> bool {
    let pid = nix::unistd::Pid::from_raw(process.pid);
    process.pid > 0 && crate::runtime::record::process_start_time(pid) == Some(process.start_time)
}

/// Whether process `pid` has exited and waits to be reaped (state `Z` in /proc/PID/stat): still
/// [`is_alive`] by its identity, but gone as a container's process.
pub fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The status to believe, and, when it differs from the file or something is amiss, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub status: Status,
    /// One sentence for the person, when the file and the kernel disagree.
    pub note: Option<String>,
}

/// The real status of a container. Only `Running` and `Paused` claim a live process, so only they
/// are checked; `Created`, `Stopped` and `Dead` are believed as written. A `Dead` seen while the
/// monitor lives is a moment before the monitor writes the exit code: save a `Dead` only when
/// [`monitor_alive`] is false.
pub fn observe(state: &ContainerState) -> Observed {
    let claims_a_process = matches!(state.status, Status::Running | Status::Paused);
    if !claims_a_process {
        return Observed { status: state.status, note: None };
    }
    let dead = |why: String| Observed { status: Status::Dead, note: Some(why) };
    let Some(process) = state.process else {
        return dead("its state says it runs but records no process".into());
    };
    let monitor_alive = state.monitor.as_ref().is_some_and(is_alive);
    if !is_alive(&process) {
        let gone = if process_exists(process.pid) {
            format!("its process {} is gone (that PID now belongs to another process)", process.pid)
        } else {
            format!("its process {} is gone", process.pid)
        };
        let why = if monitor_alive {
            format!("{gone} and its monitor has not recorded the exit yet")
        } else {
            format!("{gone}: it exited without its monitor, so its exit code is unknown")
        };
        return dead(why);
    }
    if !monitor_alive {
        let note = "its monitor is gone: it still runs, but its exit will not be recorded";
        return Observed { status: state.status, note: Some(note.into()) };
    }
    Observed { status: state.status, note: None }
}

/// Whether the container's monitor process is alive (same PID, same start time).
pub fn monitor_alive(state: &ContainerState) -> bool {
    state.monitor.as_ref().is_some_and(is_alive)
}

fn process_exists(pid: i32) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::state::tests::sample;

    /// This test process, as the container's process or monitor: alive for sure.
    fn me() -> ProcessIdentity {
        ProcessIdentity::of(std::process::id() as i32).unwrap()
    }

    /// A PID above the kernel's pid_max (at most 2^22): no process can have it.
    fn never_a_process() -> ProcessIdentity {
        ProcessIdentity { pid: (1 << 22) + 1, start_time: 1 }
    }

    fn running(process: ProcessIdentity, monitor: ProcessIdentity) -> ContainerState {
        let mut state = sample("web");
        state.status = Status::Running;
        state.process = Some(process);
        state.monitor = Some(monitor);
        state
    }

    #[test]
    fn a_live_process_and_monitor_are_believed() {
        assert!(is_alive(&me()));
        let state = running(me(), me());
        assert_eq!(observe(&state), Observed { status: Status::Running, note: None });
        assert!(monitor_alive(&state));
        let mut paused = state;
        paused.status = Status::Paused;
        assert_eq!(observe(&paused).status, Status::Paused);
    }

    #[test]
    fn a_gone_pid_without_its_monitor_is_dead_and_says_so() {
        let state = running(never_a_process(), never_a_process());
        let seen = observe(&state);
        assert_eq!(seen.status, Status::Dead);
        let note = seen.note.unwrap();
        assert!(note.contains("exited without its monitor"), "{note}");
        assert!(!monitor_alive(&state));
    }

    #[test]
    fn a_recycled_pid_is_not_the_container() {
        // Our own PID, alive, but with another start time: a new process that got an old PID.
        let recycled = ProcessIdentity { pid: me().pid, start_time: me().start_time + 1 };
        assert!(!is_alive(&recycled));
        let seen = observe(&running(recycled, never_a_process()));
        assert_eq!(seen.status, Status::Dead);
        assert!(seen.note.unwrap().contains("belongs to another process"));
    }

    #[test]
    fn a_gone_pid_with_a_live_monitor_is_an_exit_not_yet_recorded() {
        let seen = observe(&running(never_a_process(), me()));
        assert_eq!(seen.status, Status::Dead);
        assert!(seen.note.unwrap().contains("not recorded the exit yet"));
    }

    #[test]
    fn a_live_process_whose_monitor_died_still_runs_with_a_note() {
        let seen = observe(&running(me(), never_a_process()));
        assert_eq!(seen.status, Status::Running);
        assert!(seen.note.unwrap().contains("monitor is gone"));
    }

    #[test]
    fn running_without_a_process_is_dead() {
        let mut state = running(me(), me());
        state.process = None;
        assert_eq!(observe(&state).status, Status::Dead);
    }

    #[test]
    fn statuses_without_a_process_are_believed() {
        for status in [Status::Created, Status::Stopped(0), Status::Stopped(137), Status::Dead] {
            let mut state = running(never_a_process(), never_a_process());
            state.status = status;
            assert_eq!(observe(&state), Observed { status, note: None });
        }
    }
}
