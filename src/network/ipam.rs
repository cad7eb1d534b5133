//! Address management: each container gets a block of the workshop subnet of its own, leased under
//! a lock, so that any number of containers can run at once (twenty students' terminals, or the test
//! suite's threads), each with its own addresses and its own published ports.
//!
//! The workshop subnet (`--subnet`, 10.200.0.0/24 by default) is a pool. A container on its own cable
//! leases a /30: four addresses, of which the host's end of the veth takes the first and the
//! container the second (the other two are the block's network and broadcast addresses). The 04
//! demo's bridge leases a /29 for itself and its containers. The table of leases lives in
//! `STATE/network/leases.json`, changed only under `STATE/network/lock`; each lease is also in its
//! run's record ([`crate::runtime::record`]), so a killed run's lease is released by the next run. A
//! lease whose owner is dead is free even before that.

use super::Subnet;
use crate::runtime::record::{process_start_time, Owned, Resource};
use crate::runtime::state_dir::{self, Lock};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A container on its own cable: the host's end and the container, in four addresses.
pub const SINGLE_BLOCK: u8 = 30;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Table {
    leases: Vec<Lease>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lease {
    block: String,
    pid: i32,
    start_time: u64,
}

impl Lease {
    fn owner_alive(&self) -> bool {
        process_start_time(nix::unistd::Pid::from_raw(self.pid)) == Some(self.start_time)
    }
}

fn dir() -> PathBuf {
    state_dir::state_dir().join("network")
}

fn load(path: &std::path::Path) -> Table {
    // A table that cannot be read is treated as empty: every lease in it also lives in a run's
    // record, and the host's own addresses are checked below, so no address can be handed out twice.
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The first block of `prefix_len` in `pool`, aligned, that overlaps none of `taken`.
pub fn first_free(pool: &Subnet, prefix_len: u8, taken: &[Subnet]) -> Option<Subnet> {
    if prefix_len < pool.prefix_len || prefix_len > 30 {
        return None;
    }
    let size = 1u32 << (32 - prefix_len);
    let count = 1u32 << (prefix_len - pool.prefix_len);
    (0..count)
        .map(|i| Subnet {
            base: std::net::Ipv4Addr::from(u32::from(pool.base) + i * size),
            prefix_len,
        })
        .find(|b| !taken.iter().any(|t| t.overlaps(b)))
}

/// Leases a block of `prefix_len` from `pool` to this run, after checking that the pool clashes
/// with nothing the host routes (the workshop's own links aside). Released when the returned
/// [`Owned`] is dropped.
pub fn lease(pool: &Subnet, prefix_len: u8) -> anyhow::Result<(Owned, Subnet)> {
    if prefix_len < pool.prefix_len {
        anyhow::bail!(
            "the workshop subnet {pool} is too small: this needs a /{prefix_len}; give a wider one with --subnet, for example 10.200.0.0/24"
        );
    }
    super::check_subnet_free(pool)?;
    let dir = dir();
    let lock = Lock::exclusive_removable(&dir.join("lock"))?;
    let path = dir.join("leases.json");
    let mut table = load(&path);
    table.leases.retain(Lease::owner_alive);
    let leased = (|| {
        let mut taken: Vec<Subnet> =
            table.leases.iter().filter_map(|l| l.block.parse().ok()).collect();
        // A block whose address is still on a workshop link stays taken after its lease is gone:
        // the kernel removes an ended container's veth pair a moment after the container.
        taken.extend(
            super::workshop_addresses()?.into_iter().map(|a| Subnet { base: a, prefix_len: 32 }),
        );
        let block = first_free(pool, prefix_len, &taken).ok_or_else(|| {
            anyhow::anyhow!(
                "every /{prefix_len} block of the workshop subnet {pool} is in use by a running container; stop one, or give a wider subnet with --subnet"
            )
        })?;
        let me = nix::unistd::getpid();
        let start_time = process_start_time(me).context("read this process's start time")?;
        let owned = Owned::adopt(Resource::Lease { block: block.to_string() })?;
        table.leases.push(Lease { block: block.to_string(), pid: me.as_raw(), start_time });
        Ok((owned, block))
    })();
    // Saved either way: a failed lease may still have struck off dead owners' leases.
    save(&dir, &table, lock)?;
    leased
}

/// Writes the table, under its lock. An empty one is not kept, nor its lock file and directory:
/// with nothing leased the state directory is as it was before the first container.
fn save(dir: &std::path::Path, table: &Table, lock: Lock) -> anyhow::Result<()> {
    let path = dir.join("leases.json");
    if table.leases.is_empty() {
        let _ = std::fs::remove_file(&path);
        lock.remove(&dir.join("lock"));
        Ok(())
    } else {
        state_dir::write_atomic(&path, &serde_json::to_vec_pretty(table)?)
    }
}

/// Gives a block back (the undo of a [`Resource::Lease`]).
pub fn release(block: &str) -> anyhow::Result<()> {
    let dir = dir();
    if !dir.exists() {
        return Ok(());
    }
    let lock = Lock::exclusive_removable(&dir.join("lock"))?;
    let mut table = load(&dir.join("leases.json"));
    table.leases.retain(|l| l.block != block);
    save(&dir, &table, lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_are_aligned_and_skip_what_is_taken() {
        let pool = s("10.200.0.0/24");
        assert_eq!(first_free(&pool, 30, &[]), Some(s("10.200.0.0/30")));
        assert_eq!(first_free(&pool, 30, &[s("10.200.0.0/30")]), Some(s("10.200.0.4/30")));
        // A /29 elsewhere blocks both of its /30s.
        assert_eq!(
            first_free(&pool, 30, &[s("10.200.0.0/30"), s("10.200.0.8/29")]),
            Some(s("10.200.0.4/30"))
        );
        assert_eq!(first_free(&pool, 29, &[s("10.200.0.4/30")]), Some(s("10.200.0.8/29")));
    }

    #[test]
    fn a_full_pool_has_no_block() {
        let pool = s("10.200.0.0/30");
        assert_eq!(first_free(&pool, 30, &[]), Some(pool));
        assert_eq!(first_free(&pool, 30, &[pool]), None);
        assert_eq!(first_free(&pool, 29, &[]), None, "a /29 does not fit in a /30");
    }

    #[test]
    fn sixty_four_containers_fit_in_the_default_pool() {
        let pool = s(super::super::subnet::DEFAULT_SUBNET);
        let mut taken = Vec::new();
        while let Some(b) = first_free(&pool, SINGLE_BLOCK, &taken) {
            taken.push(b);
        }
        assert_eq!(taken.len(), 64);
    }
}
