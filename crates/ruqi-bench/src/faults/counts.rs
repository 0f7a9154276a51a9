//! What a user would see after a fault run, counted from `job_execution` and
//! `job_info` once every node has stopped, next to the run's [`Timeline`].
//!
//! The counts that must be zero:
//!
//! - **`twice_run`**: fires (job, `scheduled_for`) whose function ran more than
//!   once across all attempts. A row ran when its status is `success`,
//!   `failed`, `timeout`, `cancelled` or `running`, or `lost` on a node that
//!   was not killed while the run was in progress (see [`is_killed_run`]):
//!   a `lost` row of a node killed with the run in flight is the only row
//!   that may stand for a run that did not finish.
//! - **`unrecorded`**: fires with no row at all (any status; `missed` is a
//!   record), from each job's first fire — computed from the row with
//!   ruqi's own trigger code — to [`CUTOFF_BEFORE_STOP`] before the stop.
//! - **`past_grace`**: rows that ran (anything but `missed`) and started more
//!   than the job's `misfire_grace_s` after the instant they were for.
//! - **`live_reaped`**: `lost` rows of a node that was not killed while the
//!   run was in progress: a live node taken for dead.
//! - **`left_running`**: rows still `running` after every node stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use ruqi::entity::{job_execution, job_info};
use ruqi::{JobRecord, ValidationContext};
use serde::{Deserialize, Serialize};

use super::fault_run::{Kill, Timeline};
use super::instance::{Outage, seconds_between};
use crate::stats::{percentile, sorted};

/// How long before the stop the fires counted end: every fire before it has
/// had time to be claimed and recorded (or taken over) by then.
pub(crate) const CUTOFF_BEFORE_STOP: TimeDelta = TimeDelta::seconds(5);

/// A fault window lasts from the fault until this long after the recovery
/// (the node healthy again, the database accepting connections).
pub(crate) const WINDOW_AFTER_RECOVERY: TimeDelta = TimeDelta::seconds(10);

/// Offending rows quoted per count.
const EXAMPLES: usize = 5;

/// Statuses of a run whose function ran (`lost` aside, see [`ran`]).
const RAN_STATUSES: [&str; 5] = ["success", "failed", "timeout", "cancelled", "running"];

/// The counts and figures of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// Fires whose function ran more than once.
    pub(crate) twice_run: usize,
    /// Expected fires with no row at all.
    pub(crate) unrecorded: usize,
    /// Runs that started later than their job's `misfire_grace_s`.
    pub(crate) past_grace: usize,
    /// `lost` rows of nodes that were not killed while the run was in progress.
    pub(crate) live_reaped: usize,
    /// Rows still `running` after every node stopped.
    pub(crate) left_running: usize,
    /// Offending rows, a few per nonzero count, one line each.
    pub(crate) examples: BTreeMap<String, Vec<String>>,
    /// Fires expected up to the cut-off.
    pub(crate) expected_fires: usize,
    /// Rows in `job_execution`, by status.
    pub(crate) rows_by_status: BTreeMap<String, usize>,
    /// `lost` rows of a node killed with the run in flight.
    pub(crate) killed_runs: usize,
    /// `missed` rows for a fire that also ran.
    pub(crate) missed_but_ran: usize,
    /// Lateness of every run (started − scheduled, ms): p50, p99, max.
    pub(crate) lateness_ms: Option<Lateness>,
    /// The same, for fires inside a fault window.
    pub(crate) fault_lateness_ms: Option<Lateness>,
    /// Per kill: how the others took over.
    pub(crate) takeovers: Vec<Takeover>,
    /// Per database restart: how the nodes recovered.
    pub(crate) recoveries: Vec<Recovery>,
}

impl Counts {
    /// The counts that must be zero, by name.
    pub(crate) fn named(&self) -> [(&'static str, usize); 5] {
        [
            ("twice_run", self.twice_run),
            ("unrecorded", self.unrecorded),
            ("past_grace", self.past_grace),
            ("live_reaped", self.live_reaped),
            ("left_running", self.left_running),
        ]
    }

    /// Whether every count is zero.
    pub(crate) fn all_zero(&self) -> bool {
        self.named().iter().all(|(_, n)| *n == 0)
    }
}

/// Percentiles of lateness in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Lateness {
    /// Runs measured.
    pub(crate) runs: usize,
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// The latest.
    pub(crate) max: f64,
}

impl Lateness {
    fn of(samples: Vec<f64>) -> Option<Lateness> {
        let samples = sorted(samples);
        Some(Lateness {
            runs: samples.len(),
            p50: percentile(&samples, 50.0)?,
            p99: percentile(&samples, 99.0)?,
            max: *samples.last()?,
        })
    }
}

/// How the other nodes took over a killed node's jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Takeover {
    /// The killed node.
    pub(crate) node: String,
    /// Jobs it owned (`ruqi::fire_owner` over the three names).
    pub(crate) owned_jobs: usize,
    /// Kill → the first run, on another node, of a fire of one of its jobs
    /// scheduled after the kill.
    pub(crate) first_run_elsewhere_s: Option<f64>,
    /// Kill → the instant by which every one of its jobs had run such a fire.
    pub(crate) every_job_elsewhere_s: Option<f64>,
    /// Its runs in flight at the kill (`lost` rows).
    pub(crate) runs_in_flight: usize,
    /// Kill → the first of them marked `lost` (`finished_at`).
    pub(crate) first_marked_lost_s: Option<f64>,
    /// Kill → the last of them marked `lost`.
    pub(crate) last_marked_lost_s: Option<f64>,
}

/// How the nodes came back after a database restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recovery {
    /// The restart.
    pub(crate) outage: Outage,
    /// Database accepting connections → the first run started after it
    /// that succeeded.
    pub(crate) first_success_s: Option<f64>,
    /// → the instant by which every node had started such a run.
    pub(crate) every_node_s: Option<f64>,
}

/// Whether `row` is a `lost` row of a run that was in flight on a node
/// when that node was killed: a run of the killed node (named by the row's
/// `node`, or by the reaper's error text) that its killed process claimed,
/// i.e. started before the process was started again under that name. A
/// fire claimed a moment ahead of its instant (`claim_ahead`) carries that
/// instant as its start, which can fall just after the kill; the process
/// started again cannot have written it, since its runs start after it does.
pub(crate) fn is_killed_run(row: &job_execution::Model, kills: &[Kill]) -> bool {
    row.status == "lost"
        && kills.iter().any(|kill| {
            lost_node(row).as_deref() == Some(kill.node.as_str())
                && row
                    .started_at
                    .is_some_and(|started| started <= kill.killed_at || started < kill.restarted_at)
        })
}

/// The node a `lost` row was lost on.
fn lost_node(row: &job_execution::Model) -> Option<String> {
    row.node.clone().or_else(|| {
        let error = row.error.as_deref()?;
        let after = error.split("node ").nth(1)?;
        Some(after.split_whitespace().next()?.to_owned())
    })
}

/// Whether the function of `row` ran (see the module's documentation).
fn ran(row: &job_execution::Model, kills: &[Kill]) -> bool {
    RAN_STATUSES.contains(&row.status.as_str()) || (row.status == "lost" && !is_killed_run(row, kills))
}

/// The fires each job should have had from its first fire up to `cutoff`,
/// from the row alone, with ruqi's own trigger code: the first fire of a
/// row first seen at its creation (`ruqi::job::first_fire`), then the
/// schedule's next fire after each. Rows that do not compile have none.
pub(crate) fn expected_fires(jobs: &[job_info::Model], cutoff: DateTime<Utc>) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    jobs.iter()
        .map(|job| {
            let mut fires = Vec::new();
            if let Ok(compiled) = ruqi::compile(JobRecord::from(job.clone()), ValidationContext::default()) {
                let mut next = ruqi::job::first_fire(&compiled, job.created_at);
                while let Some(at) = next.filter(|at| *at <= cutoff) {
                    fires.push(at);
                    next = compiled.schedule.next_fire_after(at);
                }
            }
            (job.job_id.clone(), fires)
        })
        .collect()
}

/// Counts one run's rows.
pub(crate) fn count(jobs: &[job_info::Model], rows: &[job_execution::Model], timeline: &Timeline) -> Counts {
    let kills = &timeline.kills;
    let cutoff = timeline.stopped_at - CUTOFF_BEFORE_STOP;
    let mut counts = Counts::default();
    for row in rows {
        *counts.rows_by_status.entry(row.status.clone()).or_default() += 1;
    }
    let mut by_fire: BTreeMap<(&str, DateTime<Utc>), Vec<&job_execution::Model>> = BTreeMap::new();
    for row in rows {
        by_fire
            .entry((row.job_id.as_str(), row.scheduled_for))
            .or_default()
            .push(row);
    }

    // twice_run, and `missed` rows of fires that ran.
    let mut twice = Vec::new();
    for ((job, at), fire_rows) in &by_fire {
        let ran_rows = fire_rows.iter().filter(|r| ran(r, kills)).count();
        if ran_rows > 1 {
            twice.push(format!(
                "{job} @ {}: {ran_rows} runs: {}",
                instant(*at),
                fire_rows.iter().map(|r| describe(r)).collect::<Vec<_>>().join(" | ")
            ));
        }
        if ran_rows > 0 && fire_rows.iter().any(|r| r.status == "missed") {
            counts.missed_but_ran += 1;
        }
    }
    counts.twice_run = twice.len();
    counts
        .examples
        .insert("twice_run".into(), twice.into_iter().take(EXAMPLES).collect());

    // unrecorded
    let recorded: BTreeSet<(&str, DateTime<Utc>)> = by_fire.keys().copied().collect();
    let expected = expected_fires(jobs, cutoff);
    let mut unrecorded = Vec::new();
    for (job, fires) in &expected {
        counts.expected_fires += fires.len();
        for at in fires {
            if !recorded.contains(&(job.as_str(), *at)) {
                unrecorded.push(format!(
                    "{job} @ {}: no row{}",
                    instant(*at),
                    neighbours(rows, job, *at)
                ));
            }
        }
    }
    counts.unrecorded = unrecorded.len();
    counts
        .examples
        .insert("unrecorded".into(), unrecorded.into_iter().take(EXAMPLES).collect());

    // past_grace
    let grace: HashMap<&str, i64> = jobs
        .iter()
        .map(|j| (j.job_id.as_str(), i64::from(j.misfire_grace_s)))
        .collect();
    let past_grace: Vec<String> = rows
        .iter()
        .filter(|r| r.status != "missed")
        .filter(|r| {
            let grace_ms = 1000 * grace.get(r.job_id.as_str()).copied().unwrap_or(5);
            r.started_at
                .is_some_and(|s| (s - r.scheduled_for).num_milliseconds() > grace_ms)
        })
        .map(describe)
        .collect();
    counts.past_grace = past_grace.len();
    counts
        .examples
        .insert("past_grace".into(), past_grace.into_iter().take(EXAMPLES).collect());

    // live_reaped and left_running
    let lost: Vec<&job_execution::Model> = rows.iter().filter(|r| r.status == "lost").collect();
    counts.killed_runs = lost.iter().filter(|r| is_killed_run(r, kills)).count();
    let live_reaped: Vec<String> = lost
        .iter()
        .filter(|r| !is_killed_run(r, kills))
        .map(|r| describe(r))
        .collect();
    counts.live_reaped = live_reaped.len();
    counts
        .examples
        .insert("live_reaped".into(), live_reaped.into_iter().take(EXAMPLES).collect());
    let left_running: Vec<String> = rows.iter().filter(|r| r.status == "running").map(describe).collect();
    counts.left_running = left_running.len();
    counts
        .examples
        .insert("left_running".into(), left_running.into_iter().take(EXAMPLES).collect());
    counts.examples.retain(|_, examples| !examples.is_empty());

    // Figures.
    let windows = fault_windows(timeline);
    let lateness = |row: &&job_execution::Model| {
        let started = row.started_at?;
        (row.status != "missed" && row.trigger_source == "schedule")
            .then(|| {
                (started - row.scheduled_for)
                    .num_microseconds()
                    .map(|us| us as f64 / 1000.0)
            })
            .flatten()
    };
    counts.lateness_ms = Lateness::of(rows.iter().filter_map(|r| lateness(&r)).collect());
    counts.fault_lateness_ms = Lateness::of(
        rows.iter()
            .filter(|r| {
                windows
                    .iter()
                    .any(|(from, to)| r.scheduled_for >= *from && r.scheduled_for <= *to)
            })
            .filter_map(|r| lateness(&r))
            .collect(),
    );
    counts.takeovers = kills
        .iter()
        .map(|kill| takeover(kill, &timeline.nodes, jobs, rows))
        .collect();
    counts.recoveries = timeline
        .outages
        .iter()
        .map(|outage| recovery(outage, &timeline.nodes, rows))
        .collect();
    counts
}

/// The fault windows of a run: from each fault until
/// [`WINDOW_AFTER_RECOVERY`] after its recovery.
fn fault_windows(timeline: &Timeline) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let kills = timeline
        .kills
        .iter()
        .map(|k| (k.killed_at, k.healthy_at + WINDOW_AFTER_RECOVERY));
    let outages = timeline
        .outages
        .iter()
        .map(|o| (o.down_at, o.up_at + WINDOW_AFTER_RECOVERY));
    kills.chain(outages).collect()
}

fn takeover(kill: &Kill, nodes: &[String], jobs: &[job_info::Model], rows: &[job_execution::Model]) -> Takeover {
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let owned: BTreeSet<&str> = jobs
        .iter()
        .map(|j| j.job_id.as_str())
        .filter(|job| ruqi::fire_owner(job, &names) == Some(kill.node.as_str()))
        .collect();
    let mut first_elsewhere: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for row in rows {
        let Some(started) = row.started_at else { continue };
        if owned.contains(row.job_id.as_str())
            && row.scheduled_for > kill.killed_at
            && row.node.as_deref() != Some(kill.node.as_str())
            && row.status != "missed"
        {
            let first = first_elsewhere.entry(row.job_id.as_str()).or_insert(started);
            *first = (*first).min(started);
        }
    }
    let in_flight: Vec<DateTime<Utc>> = rows
        .iter()
        .filter(|r| is_killed_run(r, std::slice::from_ref(kill)))
        .filter_map(|r| r.finished_at)
        .collect();
    let since_kill = |at: DateTime<Utc>| seconds_between(kill.killed_at, at);
    Takeover {
        node: kill.node.clone(),
        owned_jobs: owned.len(),
        first_run_elsewhere_s: first_elsewhere.values().min().copied().map(since_kill),
        every_job_elsewhere_s: (first_elsewhere.len() == owned.len())
            .then(|| first_elsewhere.values().max().copied().map(since_kill))
            .flatten(),
        runs_in_flight: in_flight.len(),
        first_marked_lost_s: in_flight.iter().min().copied().map(since_kill),
        last_marked_lost_s: in_flight.iter().max().copied().map(since_kill),
    }
}

fn recovery(outage: &Outage, nodes: &[String], rows: &[job_execution::Model]) -> Recovery {
    let mut first_by_node: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.status == "success") {
        let (Some(started), Some(node)) = (row.started_at, row.node.as_deref()) else {
            continue;
        };
        if started >= outage.up_at {
            let first = first_by_node.entry(node).or_insert(started);
            *first = (*first).min(started);
        }
    }
    let since_up = |at: DateTime<Utc>| seconds_between(outage.up_at, at);
    let every_node = nodes.iter().all(|n| first_by_node.contains_key(n.as_str()));
    Recovery {
        outage: outage.clone(),
        first_success_s: first_by_node.values().min().copied().map(since_up),
        every_node_s: every_node
            .then(|| first_by_node.values().max().copied().map(since_up))
            .flatten(),
    }
}

/// An instant as `HH:MM:SS.mmm` (UTC).
fn instant(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

/// One row on one line: what a reader of `job_execution` would look at.
pub(crate) fn describe(row: &job_execution::Model) -> String {
    let mut line = format!(
        "{} @ {} attempt {} {} on {}",
        row.job_id,
        instant(row.scheduled_for),
        row.attempt,
        row.status,
        row.node.as_deref().unwrap_or("?")
    );
    if let Some(started) = row.started_at {
        let _ = write!(
            line,
            ", started {} (+{:.3} s)",
            instant(started),
            seconds_between(row.scheduled_for, started)
        );
    }
    if let Some(finished) = row.finished_at {
        let _ = write!(line, ", finished {}", instant(finished));
    }
    if row.trigger_source != "schedule" {
        let _ = write!(line, ", {}", row.trigger_source);
    }
    if let Some(error) = row.error.as_deref().filter(|e| !e.is_empty()) {
        let error: String = error.chars().take(160).collect();
        let _ = write!(line, ", error: {error}");
    }
    let _ = write!(line, " [{}]", row.id);
    line
}

/// The job's rows just before and after `at`, for an unrecorded fire.
fn neighbours(rows: &[job_execution::Model], job: &str, at: DateTime<Utc>) -> String {
    let of_job = rows.iter().filter(|r| r.job_id == job);
    let before = of_job
        .clone()
        .filter(|r| r.scheduled_for < at)
        .max_by_key(|r| r.scheduled_for);
    let after = of_job.filter(|r| r.scheduled_for > at).min_by_key(|r| r.scheduled_for);
    let side = |row: Option<&job_execution::Model>| row.map_or_else(|| "none".to_owned(), describe);
    format!("; before: {}; after: {}", side(before), side(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::fault_run::Plan;
    use crate::faults::instance::Restart;
    use std::time::Duration;

    fn at(text: &str) -> DateTime<Utc> {
        format!("2026-12-02T10:00:{text}Z").parse().unwrap()
    }

    // Built from JSON, so that columns added to the tables later (with a
    // default, as every migration adds them) leave these rows valid.
    fn job(id: &str, created: &str, start: &str) -> job_info::Model {
        serde_json::from_value(serde_json::json!({
            "job_id": id, "func": "log", "trigger": "interval", "rule": "1s",
            "start_at": at(start), "is_paused": false, "is_running": false, "run_right_now": false,
            "misfire_grace_s": 5, "misfire_policy": "skip", "overlap": "skip", "max_instances": 1,
            "max_retries": 0, "retry_backoff": "exponential", "retry_delay": "10s", "version": 2,
            "created_at": at(created), "updated_at": at(created),
        }))
        .unwrap()
    }

    fn row(job: &str, scheduled: &str, status: &str, node: &str, started_late_ms: i64) -> job_execution::Model {
        let scheduled_for = at(scheduled);
        let started = (status != "missed").then(|| scheduled_for + TimeDelta::milliseconds(started_late_ms));
        serde_json::from_value(serde_json::json!({
            "id": format!("{job}-{scheduled}-{status}-{node}"),
            "job_id": job, "scheduled_for": scheduled_for, "started_at": started,
            "finished_at": started.map(|s| s + TimeDelta::milliseconds(5)), "status": status, "attempt": 1,
            "error": (status == "lost").then(|| format!("lost: node {node} stopped heartbeating")),
            "node": node, "trigger_source": "schedule",
        }))
        .unwrap()
    }

    fn timeline(killed_at: &str, stopped_at: &str) -> Timeline {
        let killed_at = at(killed_at);
        Timeline {
            plan: Plan {
                warm_up: Duration::ZERO,
                killed_node: 1,
                restart_after: Duration::ZERO,
                between: Duration::ZERO,
                fast_hold: Duration::ZERO,
                crash_hold: Duration::ZERO,
                settle: Duration::ZERO,
            },
            nodes: vec!["a".into(), "b".into(), "c".into()],
            healthy_at_first_start: 3,
            starts: Vec::new(),
            jobs_written_at: at("00"),
            first_run_at: None,
            kills: vec![Kill {
                node: "b".into(),
                killed_at,
                restarted_at: killed_at,
                healthy_at: killed_at,
                starts: 1,
            }],
            outages: vec![Outage {
                kind: Restart::Fast,
                down_at: killed_at,
                start_at: killed_at,
                up_at: killed_at,
            }],
            stopped_at: at(stopped_at),
            ends: Vec::new(),
            slow_requests: 0,
        }
    }

    #[test]
    fn expected_fires_start_at_start_at_and_stop_at_the_cutoff() {
        let jobs = [job("j", "00.500", "02.250")];
        let fires = expected_fires(&jobs, at("05.250"));
        assert_eq!(fires["j"], vec![at("02.250"), at("03.250"), at("04.250"), at("05.250")]);
    }

    #[test]
    fn counts_each_kind_of_failure_once() {
        let jobs = [job("j", "00", "01"), job("k", "00", "01")];
        // Cut-off at 06 (stop at 11): fires 01..=06 of each job expected.
        let rows = vec![
            row("j", "01", "success", "a", 3),
            // Killed with the run in flight (killed at 02.500), then retried: one run.
            row("j", "02", "lost", "b", 2),
            row("j", "03", "success", "a", 4),
            // Ran on two nodes.
            row("j", "03", "success", "c", 6),
            // j @ 04 has no row at all.
            row("j", "05", "missed", "a", 0),
            // Started 6 s late: past the 5 s grace.
            row("j", "06", "success", "c", 6_000),
            row("k", "01", "success", "a", 1),
            row("k", "02", "success", "a", 1),
            // b was alive when this run started (after its kill, restarted): reaped alive.
            row("k", "03", "lost", "b", 1),
            row("k", "04", "running", "c", 1),
            row("k", "05", "success", "a", 1),
            row("k", "06", "success", "a", 1),
        ];
        let counts = count(&jobs, &rows, &timeline("02.500", "11"));
        assert_eq!(counts.expected_fires, 12);
        assert_eq!(counts.twice_run, 1, "{:?}", counts.examples);
        assert_eq!(counts.unrecorded, 1, "{:?}", counts.examples);
        assert!(counts.examples["unrecorded"][0].starts_with("j @ 10:00:04.000: no row"));
        assert_eq!(counts.past_grace, 1);
        assert_eq!(counts.live_reaped, 1);
        assert!(counts.examples["live_reaped"][0].starts_with("k @ 10:00:03.000 attempt 1 lost on b"));
        assert_eq!(counts.left_running, 1);
        assert_eq!(counts.killed_runs, 1);
        assert!(!counts.all_zero());
        assert_eq!(counts.rows_by_status["success"], 8);
    }

    #[test]
    fn a_live_node_reaped_and_run_again_is_a_double_run() {
        let jobs = [job("j", "00", "01")];
        // b's run was taken for lost (b was never killed) and retried on a.
        let mut retry = row("j", "01", "success", "a", 900);
        retry.attempt = 2;
        retry.trigger_source = "retry".into();
        let rows = vec![row("j", "01", "lost", "c", 1), retry];
        let counts = count(&jobs, &rows, &timeline("00.100", "06.900"));
        assert_eq!((counts.twice_run, counts.live_reaped, counts.unrecorded), (1, 1, 0));
    }

    #[test]
    fn a_fire_claimed_ahead_by_the_killed_process_is_its_own_not_a_live_reap() {
        let jobs = [job("j", "00", "01")];
        let mut timeline = timeline("02.999", "06.900");
        timeline.kills[0].restarted_at = at("04.500");
        // Claimed a moment before the kill for the instant just after it, then
        // taken over and run once on a.
        let mut retry = row("j", "03", "success", "a", 800);
        retry.attempt = 2;
        retry.trigger_source = "retry".into();
        let mut rows: Vec<_> = ["01", "02", "04", "05", "06"]
            .iter()
            .map(|s| row("j", s, "success", "a", 2))
            .collect();
        rows.extend([row("j", "03", "lost", "b", 0), retry]);
        let counts = count(&jobs, &rows, &timeline);
        assert!(counts.all_zero(), "{counts:?}");
        assert_eq!(counts.killed_runs, 1);
        // A run the restarted process started and lost is a live node reaped.
        rows.push(row("j", "05", "lost", "b", 0));
        assert_eq!(count(&jobs, &rows, &timeline).live_reaped, 1);
    }

    #[test]
    fn nothing_wrong_counts_zero() {
        let jobs = [job("j", "00", "01")];
        let rows: Vec<_> = ["01", "02", "03"]
            .iter()
            .map(|s| row("j", s, "success", "a", 2))
            .collect();
        let counts = count(&jobs, &rows, &timeline("00.100", "08.500"));
        assert!(counts.all_zero(), "{counts:?}");
        assert_eq!(counts.expected_fires, 3);
        let lateness = counts.lateness_ms.unwrap();
        assert_eq!((lateness.runs, lateness.p50, lateness.max), (3, 2.0, 2.0));
    }
}
