//! IPC namespace: System V shared memory, semaphores and message queues are per namespace.
//! See ipc_namespaces(7) and shmget(2).

/// A System V shared memory segment owned by the stage, removed when dropped.
pub struct ShmSegment {
    pub id: i32,
}

impl ShmSegment {
    /// Creates a small private segment, as `ipcmk -M 4096` does.
    pub fn create() -> std::io::Result<Self> {
        // SAFETY: shmget has no memory-safety preconditions; it returns an id or -1.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ShmSegment { id })
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID takes no buffer.
        unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// The ids of the shared memory segments listed in a /proc/sysvipc/shm text.
pub fn shm_ids(proc_sysvipc_shm: &str) -> Vec<i32> {
    proc_sysvipc_shm
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_segment_ids() {
        let text = "       key      shmid perms size\n         0      32768   600 4096\n";
        assert_eq!(super::shm_ids(text), vec![32768]);
        assert!(super::shm_ids("       key      shmid perms\n").is_empty());
    }
}
