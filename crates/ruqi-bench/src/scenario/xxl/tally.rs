//! What the center recorded against what the executors received: each run
//! of an `xxl` job should have exactly one dispatch row, and each dispatch's
//! `/run` should arrive at an executor exactly once. Pure counting over the
//! two children's lists, and the latency from a run's instant to its `/run`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::stats::sorted;

/// A dispatch row of a measured run (`xxl_dispatch` joined to `job_execution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dispatch {
    /// The `logId` the center sent.
    pub(crate) log_id: i64,
    /// The run it belongs to (`job_execution.id`).
    pub(crate) execution_id: String,
    /// The `jobId` the center sent with it.
    pub(crate) job_number: i64,
    /// The run's instant (`scheduled_for`), µs since the epoch.
    pub(crate) scheduled_for_us: i64,
}

/// A `/run` as an executor received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Received {
    /// The trigger's `logId`.
    pub(crate) log_id: i64,
    /// The trigger's `jobId`.
    pub(crate) job_id: i64,
    /// Which of the child's executors received it (0-based).
    pub(crate) executor: usize,
    /// When its handler began, on the executor's clock, µs since the epoch.
    pub(crate) at_us: i64,
}

/// The counts that must all be 0, and the latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    /// Receipts of a `logId` beyond its first.
    pub(crate) duplicate_log_ids: usize,
    /// Receipts of a `logId` the center has no dispatch row for.
    pub(crate) unknown_log_ids: usize,
    /// Receipts whose `jobId` is not the one the dispatch row holds.
    pub(crate) wrong_job_ids: usize,
    /// Dispatch rows of a run beyond its first: runs dispatched twice.
    pub(crate) dispatched_twice: usize,
    /// Runs with no dispatch row.
    pub(crate) not_dispatched: usize,
    /// Runs whose `/run` no executor received (those with no dispatch row too).
    pub(crate) never_received: usize,
    /// Runs whose `/run` arrived more than once (under one `logId` or several).
    pub(crate) received_twice: usize,
    /// Each received run's first `/run` − its instant, ms, sorted.
    pub(crate) fire_to_run_ms: Vec<f64>,
}

impl Tally {
    /// Counts `received` against the `dispatches` of the runs `runs`
    /// (every measured run's `job_execution.id`).
    pub(crate) fn of(runs: &[String], dispatches: &[Dispatch], received: &[Received]) -> Tally {
        let mut tally = Tally::default();
        let mut dispatches_per_run: HashMap<&str, usize> = runs.iter().map(|id| (id.as_str(), 0)).collect();
        let mut by_log_id: HashMap<i64, &Dispatch> = HashMap::with_capacity(dispatches.len());
        for dispatch in dispatches {
            *dispatches_per_run.entry(dispatch.execution_id.as_str()).or_default() += 1;
            by_log_id.insert(dispatch.log_id, dispatch);
        }
        tally.dispatched_twice = dispatches_per_run.values().map(|n| n.saturating_sub(1)).sum();
        tally.not_dispatched = dispatches_per_run.values().filter(|n| **n == 0).count();

        let mut first_receipt: HashMap<i64, i64> = HashMap::with_capacity(received.len());
        let mut receipts_per_run: HashMap<&str, usize> = HashMap::with_capacity(runs.len());
        for receipt in received {
            let Some(dispatch) = by_log_id.get(&receipt.log_id) else {
                tally.unknown_log_ids += 1;
                continue;
            };
            *receipts_per_run.entry(dispatch.execution_id.as_str()).or_default() += 1;
            if receipt.job_id != dispatch.job_number {
                tally.wrong_job_ids += 1;
            }
            match first_receipt.get_mut(&receipt.log_id) {
                Some(first) => {
                    tally.duplicate_log_ids += 1;
                    *first = (*first).min(receipt.at_us);
                }
                None => {
                    first_receipt.insert(receipt.log_id, receipt.at_us);
                }
            }
        }
        tally.never_received = dispatches_per_run
            .keys()
            .filter(|run| !receipts_per_run.contains_key(*run))
            .count();
        tally.received_twice = receipts_per_run.values().filter(|n| **n > 1).count();
        tally.fire_to_run_ms = sorted(
            first_receipt
                .iter()
                .filter_map(|(log_id, at_us)| {
                    let dispatch = by_log_id.get(log_id)?;
                    Some((at_us - dispatch.scheduled_for_us) as f64 / 1000.0)
                })
                .collect(),
        );
        tally
    }

    /// The counts that must be 0, by name.
    pub(crate) fn named(&self) -> [(&'static str, usize); 7] {
        [
            ("duplicate logIds", self.duplicate_log_ids),
            ("unknown logIds", self.unknown_log_ids),
            ("receipts with another jobId", self.wrong_job_ids),
            ("runs dispatched twice", self.dispatched_twice),
            ("runs not dispatched", self.not_dispatched),
            ("runs whose /run never arrived", self.never_received),
            ("runs whose /run arrived twice", self.received_twice),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch(log_id: i64, run: &str, scheduled_for_us: i64) -> Dispatch {
        Dispatch {
            log_id,
            execution_id: run.to_owned(),
            job_number: 1,
            scheduled_for_us,
        }
    }

    fn received(log_id: i64, at_us: i64) -> Received {
        Received {
            log_id,
            job_id: 1,
            executor: 0,
            at_us,
        }
    }

    fn runs(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn one_dispatch_and_one_receipt_per_run_counts_nothing() {
        let tally = Tally::of(
            &runs(&["a", "b"]),
            &[dispatch(1, "a", 1_000_000), dispatch(2, "b", 1_000_000)],
            &[received(2, 1_004_500), received(1, 1_002_000)],
        );
        assert!(tally.named().iter().all(|(_, n)| *n == 0), "{tally:?}");
        assert_eq!(tally.fire_to_run_ms, vec![2.0, 4.5]);
    }

    #[test]
    fn a_log_id_received_twice_is_a_duplicate_and_its_first_receipt_counts() {
        let tally = Tally::of(
            &runs(&["a"]),
            &[dispatch(7, "a", 0)],
            &[received(7, 3_000), received(7, 1_000), received(9, 5_000)],
        );
        assert_eq!(tally.duplicate_log_ids, 1);
        assert_eq!(tally.unknown_log_ids, 1);
        assert_eq!(tally.received_twice, 1);
        assert_eq!(tally.fire_to_run_ms, vec![1.0]);
    }

    #[test]
    fn runs_dispatched_twice_or_never_are_counted() {
        let tally = Tally::of(
            &runs(&["a", "b", "c"]),
            &[dispatch(1, "a", 0), dispatch(2, "a", 0), dispatch(3, "b", 0)],
            &[received(1, 10), received(2, 20)],
        );
        assert_eq!(tally.dispatched_twice, 1);
        assert_eq!(tally.not_dispatched, 1);
        // "a" got two `/run`s under two logIds; "b" and "c" none.
        assert_eq!(tally.received_twice, 1);
        assert_eq!(tally.never_received, 2);
        assert_eq!(tally.duplicate_log_ids, 0);
    }

    #[test]
    fn a_receipt_with_another_job_id_is_counted() {
        let mut other = received(1, 10);
        other.job_id = 2;
        let tally = Tally::of(&runs(&["a"]), &[dispatch(1, "a", 0)], &[other]);
        assert_eq!(tally.wrong_job_ids, 1);
        assert_eq!(tally.never_received, 0);
    }
}
