//! The routing strategies decided from the address list alone, with the
//! per-job state some of them keep. FAILOVER and BUSYOVER ask the
//! executors and live in `dispatch.rs`.
//!
//! The state lives in the node's memory, as it does in xxl-job-admin: with
//! several ruqi nodes each keeps its own turn, which only matters for
//! ROUND, LEAST_FREQUENTLY_USED and LEAST_RECENTLY_USED, and only in
//! which executor comes next.

use std::collections::HashMap;
use std::sync::Mutex;

use md5::{Digest, Md5};

use super::args::Route;

/// Virtual nodes each address has on the consistent-hash ring.
const RING_NODES_PER_ADDRESS: usize = 100;

/// ROUND restarts its count above this (as xxl-job does).
const ROUND_RESTART_ABOVE: u64 = 1_000_000;

/// The turns of every job this node has routed, by job number.
#[derive(Debug, Default)]
pub(crate) struct RouteState {
    jobs: Mutex<HashMap<i32, JobTurns>>,
}

#[derive(Debug, Default)]
struct JobTurns {
    round: Option<u64>,
    uses: HashMap<String, u64>,
    /// Least recently picked first.
    recency: Vec<String>,
}

impl RouteState {
    /// The index in `addresses` (sorted, not empty) that `route` picks for
    /// job `job_number`, for the strategies that need no executor's answer;
    /// `None` for FAILOVER, BUSYOVER and SHARDING_BROADCAST.
    /// CONSISTENT_HASH places `ring_keys` (the addresses as registered, one
    /// per address) on its ring.
    pub(crate) fn pick(
        &self,
        route: Route,
        job_number: i32,
        addresses: &[String],
        ring_keys: &[String],
    ) -> Option<usize> {
        let n = addresses.len();
        if n == 0 {
            return None;
        }
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match route {
            Route::First => Some(0),
            Route::Last => Some(n - 1),
            Route::Random => Some(fastrand::usize(..n)),
            Route::ConsistentHash => Some(consistent_hash(
                job_number,
                if ring_keys.len() == n { ring_keys } else { addresses },
            )),
            Route::Round => {
                let turns = jobs.entry(job_number).or_default();
                let count = match turns.round {
                    Some(count) if count < ROUND_RESTART_ABOVE => count + 1,
                    _ => fastrand::u64(..100),
                };
                turns.round = Some(count);
                Some(usize::try_from(count % n as u64).unwrap_or(0))
            }
            Route::LeastFrequentlyUsed => {
                let uses = &mut jobs.entry(job_number).or_default().uses;
                uses.retain(|address, _| addresses.contains(address));
                for address in addresses {
                    uses.entry(address.clone()).or_insert_with(|| fastrand::u64(..n as u64));
                }
                let (index, _) = addresses.iter().enumerate().min_by_key(|(_, a)| uses[*a])?;
                *uses.entry(addresses[index].clone()).or_default() += 1;
                Some(index)
            }
            Route::LeastRecentlyUsed => {
                let recency = &mut jobs.entry(job_number).or_default().recency;
                recency.retain(|address| addresses.contains(address));
                for address in addresses {
                    if !recency.contains(address) {
                        recency.push(address.clone());
                    }
                }
                let chosen = recency.remove(0);
                let index = addresses.iter().position(|a| *a == chosen)?;
                recency.push(chosen);
                Some(index)
            }
            Route::Failover | Route::Busyover | Route::ShardingBroadcast => None,
        }
    }
}

/// The first four bytes of the MD5 of `key`, read little-endian: where
/// xxl-job places a key on its ring.
fn ring_hash(key: &str) -> u32 {
    let digest = Md5::digest(key.as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The index of the address xxl-job's consistent-hash router picks for
/// `job_number`: each address has [`RING_NODES_PER_ADDRESS`] points on a
/// ring (`SHARD-<address>-NODE-<i>`); the job (its decimal number) goes to
/// the first point at or after its own hash, or the ring's first point.
fn consistent_hash(job_number: i32, addresses: &[String]) -> usize {
    let mut ring: Vec<(u32, usize)> = Vec::with_capacity(addresses.len() * RING_NODES_PER_ADDRESS);
    for (index, address) in addresses.iter().enumerate() {
        for node in 0..RING_NODES_PER_ADDRESS {
            ring.push((ring_hash(&format!("SHARD-{address}-NODE-{node}")), index));
        }
    }
    // A later address with the same point replaces an earlier one, as a
    // later `put` does in xxl-job's sorted map.
    ring.sort_by_key(|&(point, _)| point);
    ring.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    let job = ring_hash(&job_number.to_string());
    let at = ring.partition_point(|&(point, _)| point < job);
    ring.get(at).or(ring.first()).map_or(0, |&(_, index)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("http://127.0.0.1:{}", 9990 + i)).collect()
    }

    #[test]
    fn the_ring_uses_the_registered_spelling() {
        let list = addresses(3);
        let slashed: Vec<String> = list.iter().map(|a| format!("{a}/")).collect();
        let moved = (1..=50)
            .filter(|&job| consistent_hash(job, &list) != consistent_hash(job, &slashed))
            .count();
        assert!(moved > 0, "the spelling is part of each point's key");
        let state = RouteState::default();
        for job in 1..=20 {
            assert_eq!(
                state.pick(Route::ConsistentHash, job, &list, &slashed),
                Some(consistent_hash(job, &slashed))
            );
        }
    }

    /// What xxl-job-admin 3.4's `ExecutorRouteConsistentHash.hashJob` answers for the same
    /// jobs and address lists (the class compiled and run on its own), as the index picked.
    #[test]
    fn consistent_hash_picks_what_xxl_job_admin_picks() {
        let picks = |jobs: &mut dyn Iterator<Item = i32>, list: &[String]| -> String {
            jobs.map(|job| consistent_hash(job, list).to_string()).collect()
        };
        let three = addresses(3);
        assert_eq!(picks(&mut (1..=24), &three), "100202011211200221010221");
        let registered = ["http://10.0.0.7:9999/".to_owned(), "http://10.0.0.8:9999/".to_owned()];
        assert_eq!(picks(&mut (1..=24), &registered), "100111100110011010100010");
        assert_eq!(picks(&mut [1000, 65535, i32::MAX, -1].into_iter(), &three), "0112");
    }

    #[test]
    fn md5_points_are_read_little_endian() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(ring_hash(""), 0xd98c_1dd4);
    }

    #[test]
    fn consistent_hash_keeps_a_job_where_it_was_while_others_come_and_go() {
        let three = addresses(3);
        let mut moved = 0;
        let mut seen = [0; 3];
        for job in 1..=300 {
            let first = consistent_hash(job, &three);
            assert_eq!(consistent_hash(job, &three), first);
            seen[first] += 1;
            // Taking one address out moves only the jobs that were on it.
            let two: Vec<String> = three.iter().filter(|a| **a != three[2]).cloned().collect();
            let after = &two[consistent_hash(job, &two)];
            if first != 2 {
                assert_eq!(*after, three[first], "job {job}");
            } else {
                moved += 1;
            }
        }
        assert!(seen.iter().all(|&count| count > 50), "{seen:?}");
        assert_eq!(moved, seen[2]);
    }

    #[test]
    fn round_takes_each_address_in_turn() {
        let state = RouteState::default();
        let list = addresses(3);
        let picks: Vec<usize> = (0..6)
            .map(|_| state.pick(Route::Round, 1, &list, &list).unwrap())
            .collect();
        for pair in picks.windows(2) {
            assert_eq!(pair[1], (pair[0] + 1) % 3);
        }
    }

    #[test]
    fn least_used_and_least_recent_spread_evenly() {
        let state = RouteState::default();
        let list = addresses(3);
        for route in [Route::LeastFrequentlyUsed, Route::LeastRecentlyUsed] {
            let mut counts = [0; 3];
            for _ in 0..30 {
                counts[state.pick(route, 7, &list, &list).unwrap()] += 1;
            }
            assert!(counts.iter().all(|&c| (9..=11).contains(&c)), "{route:?}: {counts:?}");
        }
        let lru: Vec<usize> = (0..3)
            .map(|_| state.pick(Route::LeastRecentlyUsed, 8, &list, &list).unwrap())
            .collect();
        assert_eq!(lru, [0, 1, 2]);
    }

    #[test]
    fn first_last_and_asking_routes() {
        let state = RouteState::default();
        let list = addresses(4);
        assert_eq!(state.pick(Route::First, 1, &list, &list), Some(0));
        assert_eq!(state.pick(Route::Last, 1, &list, &list), Some(3));
        assert!(state.pick(Route::Random, 1, &list, &list).is_some_and(|i| i < 4));
        assert_eq!(state.pick(Route::Failover, 1, &list, &list), None);
        assert_eq!(state.pick(Route::First, 1, &[], &[]), None);
    }
}
