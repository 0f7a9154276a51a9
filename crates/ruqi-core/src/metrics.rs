//! Prometheus metrics of one scheduler: counters and histograms fed by its
//! events, gauges read from its status when scraped.
//!
//! Rendered in the Prometheus text exposition format 0.0.4:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ruqi_executions_total` | counter | `status`: `success` `failed` `timeout` `cancelled` `missed` `lost` |
//! | `ruqi_runs_started_total` | counter | `trigger_source`: `schedule` `manual` `retry` `child` |
//! | `ruqi_run_duration_seconds` | histogram | `status`: `success` `failed` `timeout` `cancelled` |
//! | `ruqi_fire_lateness_seconds` | histogram | — |
//! | `ruqi_job_events_total` | counter | `event`: `job_added` `job_modified` `job_removed` `job_invalid` |
//! | `ruqi_jobs` | gauge | `state`: `scheduled` `paused` `invalid` |
//! | `ruqi_jobs_held` | gauge | — |
//! | `ruqi_runs_in_progress` | gauge | — |
//! | `ruqi_nodes` | gauge | — |
//! | `ruqi_next_wakeup_seconds` | gauge | — (no sample while nothing is scheduled) |
//! | `ruqi_change_feed_lag_seconds` | gauge | — |
//! | `ruqi_change_feed_lag_max_seconds` | gauge | — |
//!
//! Every label value is known in advance and every series exists from the
//! start (at 0), so dashboards and `rate()` see them before the first event.
//! No label names a job: the number of series does not grow with the table.
//!
//! The exposition is written here rather than with `prometheus-client`: that
//! crate encodes only OpenMetrics 1.0, whose counter families are typed
//! without their `_total` suffix and which ends in `# EOF`; served as
//! `text/plain; version=0.0.4`, Prometheus would take those counters as
//! untyped. Its histograms and label families also take a lock on every
//! observation, while with fixed label sets an array of atomics per metric
//! is all an observation needs.

use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::events::{RunEnded, SchedulerEvent};
use crate::execution::TriggerSource;
use crate::scheduler::SchedulerStatus;

/// Upper bounds of `ruqi_run_duration_seconds`, in microseconds: 5 ms to an hour.
const RUN_DURATION_BOUNDS_US: [u64; 18] = [
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
    600_000_000,
    1_800_000_000,
    3_600_000_000,
];

/// Upper bounds of `ruqi_fire_lateness_seconds`, in microseconds: fine below
/// a millisecond, where a timer that keeps its promise lands.
const FIRE_LATENESS_BOUNDS_US: [u64; 16] = [
    500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000, 60_000_000,
];

/// How an execution ended: the `status` label of `ruqi_executions_total`,
/// spelled as in `job_execution.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failed,
    Timeout,
    Cancelled,
    Missed,
    Lost,
}

impl Outcome {
    const ALL: [Self; 6] = [
        Self::Success,
        Self::Failed,
        Self::Timeout,
        Self::Cancelled,
        Self::Missed,
        Self::Lost,
    ];

    /// The outcomes of a run that started, which have a duration; they come
    /// first in [`Self::ALL`], so an index into one is an index into the other.
    const OF_RUNS: [Self; 4] = [Self::Success, Self::Failed, Self::Timeout, Self::Cancelled];

    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Missed => "missed",
            Self::Lost => "lost",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const TRIGGER_SOURCES: [TriggerSource; 4] = [
    TriggerSource::Schedule,
    TriggerSource::Manual,
    TriggerSource::Retry,
    TriggerSource::Child,
];

fn trigger_index(source: TriggerSource) -> usize {
    match source {
        TriggerSource::Schedule => 0,
        TriggerSource::Manual => 1,
        TriggerSource::Retry => 2,
        TriggerSource::Child => 3,
    }
}

/// The `event` label values of `ruqi_job_events_total`, as [`SchedulerEvent::kind`] spells them.
const JOB_EVENTS: [&str; 4] = ["job_added", "job_modified", "job_removed", "job_invalid"];

/// A monotonic count.
#[derive(Debug, Default)]
struct Counter(AtomicU64);

impl Counter {
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram over fixed bounds, in microseconds, updated with atomics only.
#[derive(Debug)]
struct Histogram {
    /// Upper bounds (`le`, inclusive), ascending.
    bounds: &'static [u64],
    /// Observations per bucket, not cumulative; the last one holds those
    /// above every bound (`+Inf`).
    buckets: Box<[AtomicU64]>,
    /// Sum of the observations, saturating.
    sum_us: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    fn observe(&self, micros: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < micros);
        if let Some(count) = self.buckets.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Lock-free; loops only while another observation lands at the same moment.
        let _ = self.sum_us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sum| {
            Some(sum.saturating_add(micros))
        });
    }

    /// Writes `<name>_bucket`, `<name>_sum` and `<name>_count` with `labels`
    /// (such as `status="failed"`, or empty) on each sample. The count is the
    /// `+Inf` bucket's, so the two always agree within one scrape.
    fn render(&self, out: &mut Exposition, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        let bucket_name = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (bucket, count) in self.buckets.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = match self.bounds.get(bucket) {
                Some(&bound) => seconds(bound).to_string(),
                None => "+Inf".to_owned(),
            };
            out.sample(&bucket_name, &format!("{labels}{separator}le=\"{le}\""), cumulative);
        }
        out.sample(
            &format!("{name}_sum"),
            labels,
            seconds(self.sum_us.load(Ordering::Relaxed)),
        );
        out.sample(&format!("{name}_count"), labels, cumulative);
    }
}

/// The scheduler's counters and histograms, fed by its events.
///
/// Everything is a fixed set of atomics: observing an event neither locks
/// nor allocates, so it is safe on the engine's hot paths.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// `ruqi_executions_total`, indexed by [`Outcome::index`].
    executions: [Counter; 6],
    /// `ruqi_runs_started_total`, indexed by [`trigger_index`].
    runs_started: [Counter; 4],
    /// `ruqi_run_duration_seconds`, indexed like [`Outcome::OF_RUNS`].
    run_duration: [Histogram; 4],
    /// `ruqi_fire_lateness_seconds`.
    fire_lateness: Histogram,
    /// `ruqi_job_events_total`, indexed like [`JOB_EVENTS`].
    job_events: [Counter; 4],
    /// `ruqi_change_feed_lag_seconds`, in microseconds.
    feed_lag_us: AtomicU64,
    /// `ruqi_change_feed_lag_max_seconds`, in microseconds.
    feed_lag_max_us: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            executions: Default::default(),
            runs_started: Default::default(),
            run_duration: std::array::from_fn(|_| Histogram::new(&RUN_DURATION_BOUNDS_US)),
            fire_lateness: Histogram::new(&FIRE_LATENESS_BOUNDS_US),
            job_events: Default::default(),
            feed_lag_us: AtomicU64::new(0),
            feed_lag_max_us: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Every series at 0.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Counts an event: an execution's outcome (a fire skipped by the
    /// overlap policy counts as `missed`, as its row says), a run started
    /// with its lateness when the schedule fired it, a run's duration, or a
    /// change to a job. Never blocks and never allocates.
    pub(crate) fn observe(&self, event: &SchedulerEvent) {
        match event {
            SchedulerEvent::JobAdded { .. } => self.job_events[0].inc(),
            SchedulerEvent::JobModified { .. } => self.job_events[1].inc(),
            SchedulerEvent::JobRemoved { .. } => self.job_events[2].inc(),
            SchedulerEvent::JobInvalid { .. } => self.job_events[3].inc(),
            SchedulerEvent::Submitted(run) => {
                self.runs_started[trigger_index(run.trigger_source)].inc();
                // Manual runs, retries and children start when asked, not
                // at a fire instant: only the schedule can be late.
                if run.trigger_source == TriggerSource::Schedule {
                    self.fire_lateness
                        .observe(micros_between(run.scheduled_for, run.started_at));
                }
            }
            SchedulerEvent::Succeeded(run) => self.run_ended(Outcome::Success, run),
            SchedulerEvent::Failed(run) => self.run_ended(Outcome::Failed, run),
            SchedulerEvent::TimedOut(run) => self.run_ended(Outcome::Timeout, run),
            SchedulerEvent::Cancelled(run) => self.run_ended(Outcome::Cancelled, run),
            SchedulerEvent::Missed(_) | SchedulerEvent::SkippedOverlap(_) => {
                self.executions[Outcome::Missed.index()].inc();
            }
            SchedulerEvent::Lost { .. } => self.executions[Outcome::Lost.index()].inc(),
        }
    }

    fn run_ended(&self, outcome: Outcome, run: &RunEnded) {
        self.executions[outcome.index()].inc();
        let micros = u64::try_from(run.duration_ms).unwrap_or(0).saturating_mul(1_000);
        if let Some(histogram) = self.run_duration.get(outcome.index()) {
            histogram.observe(micros);
        }
    }

    /// Records how long the last change took from commit to being applied:
    /// it becomes `ruqi_change_feed_lag_seconds`, and raises
    /// `ruqi_change_feed_lag_max_seconds` when it is the longest yet.
    pub(crate) fn observe_feed_lag(&self, lag: Duration) {
        let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.feed_lag_us.store(micros, Ordering::Relaxed);
        self.feed_lag_max_us.fetch_max(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4), with the gauges read
    /// from `status` and `ruqi_next_wakeup_seconds` counted from `now` (the scheduler's clock).
    pub(crate) fn render_at(&self, status: &SchedulerStatus, now: DateTime<Utc>) -> String {
        let mut out = Exposition::default();

        out.family(
            "ruqi_executions_total",
            "counter",
            "Executions recorded by this scheduler, by the status of their job_execution row \
             (a fire skipped by the overlap policy counts as missed).",
        );
        for outcome in Outcome::ALL {
            out.sample(
                "ruqi_executions_total",
                &format!("status=\"{}\"", outcome.label()),
                self.executions[outcome.index()].get(),
            );
        }

        out.family(
            "ruqi_runs_started_total",
            "counter",
            "Runs started by this scheduler, by why they ran.",
        );
        for source in TRIGGER_SOURCES {
            out.sample(
                "ruqi_runs_started_total",
                &format!("trigger_source=\"{}\"", source.as_str()),
                self.runs_started[trigger_index(source)].get(),
            );
        }

        out.family(
            "ruqi_run_duration_seconds",
            "histogram",
            "Time from the start of a run to its end, by how it ended.",
        );
        for (outcome, histogram) in Outcome::OF_RUNS.into_iter().zip(&self.run_duration) {
            histogram.render(
                &mut out,
                "ruqi_run_duration_seconds",
                &format!("status=\"{}\"", outcome.label()),
            );
        }

        out.family(
            "ruqi_fire_lateness_seconds",
            "histogram",
            "Time from the instant a scheduled fire was due to the start of its run (scheduled runs only).",
        );
        self.fire_lateness.render(&mut out, "ruqi_fire_lateness_seconds", "");

        out.family(
            "ruqi_job_events_total",
            "counter",
            "Changes to the schedule applied by this scheduler: jobs added, modified, removed, or found invalid.",
        );
        for (kind, counter) in JOB_EVENTS.into_iter().zip(&self.job_events) {
            out.sample("ruqi_job_events_total", &format!("event=\"{kind}\""), counter.get());
        }

        out.family(
            "ruqi_jobs",
            "gauge",
            "Jobs by state: waiting on the timer, paused, or rows that cannot be scheduled.",
        );
        out.sample("ruqi_jobs", "state=\"scheduled\"", status.scheduled);
        out.sample("ruqi_jobs", "state=\"paused\"", status.paused);
        out.sample("ruqi_jobs", "state=\"invalid\"", status.invalid);

        out.family("ruqi_jobs_held", "gauge", "Valid jobs held by the scheduler.");
        out.sample("ruqi_jobs_held", "", status.jobs);

        out.family("ruqi_runs_in_progress", "gauge", "Runs in progress in this process.");
        out.sample("ruqi_runs_in_progress", "", status.running);

        out.family(
            "ruqi_nodes",
            "gauge",
            "Live scheduler nodes sharing the database, this one included, as of the last heartbeat.",
        );
        out.sample("ruqi_nodes", "", status.nodes.len());

        out.family(
            "ruqi_next_wakeup_seconds",
            "gauge",
            "Seconds until the earliest deadline (0 when it is due); no sample while nothing is scheduled.",
        );
        if let Some(next) = status.next_wakeup {
            out.sample("ruqi_next_wakeup_seconds", "", seconds(micros_between(now, next)));
        }

        out.family(
            "ruqi_change_feed_lag_seconds",
            "gauge",
            "Commit-to-applied delay of the last change read from the change feed (0 until the first).",
        );
        out.sample(
            "ruqi_change_feed_lag_seconds",
            "",
            seconds(self.feed_lag_us.load(Ordering::Relaxed)),
        );

        out.family(
            "ruqi_change_feed_lag_max_seconds",
            "gauge",
            "Longest commit-to-applied delay of a change read from the change feed since the scheduler started.",
        );
        out.sample(
            "ruqi_change_feed_lag_max_seconds",
            "",
            seconds(self.feed_lag_max_us.load(Ordering::Relaxed)),
        );

        out.text
    }
}

/// Microseconds from `from` to `to`; 0 when `to` is not later.
fn micros_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    (to - from)
        .to_std()
        .map_or(0, |gap| u64::try_from(gap.as_micros()).unwrap_or(u64::MAX))
}

/// Microseconds as seconds: `500` → `0.0005`, which prints as `0.0005`.
fn seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// Text exposition being written.
#[derive(Debug, Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// The `# HELP` and `# TYPE` lines of a metric family. `help` holds
    /// neither a backslash nor a line break, so it needs no escaping.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a `String` cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample; `labels` is `k="v",…` or empty, with values from fixed
    /// sets that need no escaping.
    fn sample(&mut self, name: &str, labels: &str, value: impl Display) {
        let _ = if labels.is_empty() {
            writeln!(self.text, "{name} {value}")
        } else {
            writeln!(self.text, "{name}{{{labels}}} {value}")
        };
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::TimeZone;

    use super::*;
    use crate::events::{FireMissed, RunStarted};
    use crate::store::NodeInfo;

    fn at(seconds: i64, micros: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()
            + chrono::Duration::seconds(seconds)
            + chrono::Duration::microseconds(micros)
    }

    fn started(source: TriggerSource, late_us: i64) -> SchedulerEvent {
        SchedulerEvent::Submitted(RunStarted {
            job_id: "j".into(),
            job_name: None,
            execution_id: "e".into(),
            scheduled_for: at(0, 0),
            started_at: at(0, late_us),
            attempt: 1,
            trigger_source: source,
            node: "n".into(),
        })
    }

    fn ended(duration_ms: i64) -> RunEnded {
        RunEnded {
            job_id: "j".into(),
            job_name: None,
            execution_id: "e".into(),
            scheduled_for: at(0, 0),
            started_at: at(0, 0),
            finished_at: at(0, duration_ms * 1_000),
            duration_ms,
            attempt: 1,
            trigger_source: TriggerSource::Schedule,
            node: "n".into(),
            error: None,
            retry_at: None,
        }
    }

    fn missed() -> FireMissed {
        FireMissed {
            job_id: "j".into(),
            job_name: None,
            execution_id: "e".into(),
            scheduled_for: at(0, 0),
            reason: "too late".into(),
            node: "n".into(),
        }
    }

    fn node(name: &str) -> NodeInfo {
        NodeInfo {
            node: name.into(),
            host: None,
            pid: None,
            started_at: at(0, 0),
            heartbeat_at: at(0, 0),
        }
    }

    fn status(next_wakeup: Option<DateTime<Utc>>) -> SchedulerStatus {
        SchedulerStatus {
            node: "n".into(),
            started_at: at(0, 0),
            jobs: 7,
            scheduled: 5,
            paused: 2,
            invalid: 3,
            running: 4,
            next_wakeup,
            shutting_down: false,
            nodes: vec![node("n"), node("m")],
        }
    }

    fn lines(text: &str) -> BTreeSet<&str> {
        text.lines().collect()
    }

    #[track_caller]
    fn assert_lines(text: &str, expected: &[&str]) {
        let lines = lines(text);
        for line in expected {
            assert!(lines.contains(line), "missing `{line}` in:\n{text}");
        }
    }

    /// Checks `text` against the text format 0.0.4 and answers each
    /// family's type: HELP then TYPE once per family, before its samples;
    /// `name{k="v",…} value` samples, each series once; histogram buckets
    /// ascending and cumulative, ending in `+Inf` equal to `_count`.
    fn parse(text: &str) -> BTreeMap<String, String> {
        assert!(text.ends_with('\n'), "the exposition ends with a line break");
        let valid_name = |name: &str| {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let mut helped = BTreeSet::new();
        let mut types = BTreeMap::new();
        let mut series = BTreeSet::new();
        let mut buckets: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP has a name and a text");
                assert!(valid_name(name) && !help.is_empty(), "{line}");
                assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a type");
                assert!(helped.contains(name), "TYPE before HELP for {name}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "TYPE twice for {name}"
                );
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line `{line}`");
            let (series_id, value) = line.rsplit_once(' ').expect("a sample is `name{labels} value`");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("not a number in `{line}`")),
            };
            assert!(value.is_finite(), "{line}");
            let (name, labels) = match series_id.split_once('{') {
                Some((name, labels)) => (name, labels.strip_suffix('}').expect("labels close")),
                None => (series_id, ""),
            };
            assert!(valid_name(name), "bad name in `{line}`");
            let mut pairs = Vec::new();
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').expect("label is k=\"v\"");
                assert!(valid_name(key) && !key.starts_with("__"), "{line}");
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                assert!(value.is_some_and(|v| !v.contains('"')), "{line}");
                pairs.push((key, value.unwrap_or_default()));
            }
            assert!(series.insert(series_id.to_owned()), "series twice: {series_id}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(name);
            assert!(types.contains_key(family), "sample before HELP/TYPE: `{line}`");
            if types[family] == "histogram" {
                let others: Vec<String> = pairs
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let key = format!("{family}|{}", others.join(","));
                if name.ends_with("_bucket") {
                    let le = pairs.iter().find(|(k, _)| *k == "le").expect("a bucket has le").1;
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().expect("le is a number")
                    };
                    let (last_le, last_count) = buckets.get(&key).copied().unwrap_or((f64::NEG_INFINITY, 0.0));
                    assert!(
                        le > last_le && value >= last_count,
                        "buckets not cumulative at `{line}`"
                    );
                    buckets.insert(key, (le, value));
                } else if name.ends_with("_count") {
                    let (last_le, last_count) = buckets[&key];
                    assert_eq!(last_le, f64::INFINITY, "the last bucket of {key} is +Inf");
                    assert_eq!(last_count, value, "_count of {key} is the +Inf bucket");
                }
            }
        }
        assert_eq!(helped, types.keys().cloned().collect(), "every HELP has a TYPE");
        types
    }

    #[test]
    fn every_series_exists_at_zero_before_the_first_event() {
        let text = Metrics::new().render_at(&status(None), at(0, 0));
        let types = parse(&text);
        assert_eq!(types.len(), 12, "{types:?}");
        assert_eq!(types["ruqi_executions_total"], "counter");
        assert_eq!(types["ruqi_run_duration_seconds"], "histogram");
        assert_eq!(types["ruqi_jobs"], "gauge");
        assert_lines(
            &text,
            &[
                "ruqi_executions_total{status=\"success\"} 0",
                "ruqi_executions_total{status=\"failed\"} 0",
                "ruqi_executions_total{status=\"timeout\"} 0",
                "ruqi_executions_total{status=\"cancelled\"} 0",
                "ruqi_executions_total{status=\"missed\"} 0",
                "ruqi_executions_total{status=\"lost\"} 0",
                "ruqi_runs_started_total{trigger_source=\"child\"} 0",
                "ruqi_run_duration_seconds_count{status=\"timeout\"} 0",
                "ruqi_fire_lateness_seconds_bucket{le=\"+Inf\"} 0",
                "ruqi_job_events_total{event=\"job_invalid\"} 0",
                "ruqi_change_feed_lag_seconds 0",
                "ruqi_change_feed_lag_max_seconds 0",
                "# TYPE ruqi_next_wakeup_seconds gauge",
            ],
        );
        assert!(
            !text.contains("\nruqi_next_wakeup_seconds"),
            "no wake-up sample while nothing is scheduled:\n{text}"
        );
        assert!(!text.contains("NaN") && !text.contains("job_id"), "{text}");
    }

    #[test]
    fn events_count_by_outcome_trigger_source_and_kind() {
        let metrics = Metrics::new();
        for event in [
            SchedulerEvent::Succeeded(ended(3)),
            SchedulerEvent::Succeeded(ended(1_500)),
            SchedulerEvent::Failed(ended(20)),
            SchedulerEvent::TimedOut(ended(60_000)),
            SchedulerEvent::Cancelled(ended(7_200_000)),
            SchedulerEvent::Missed(missed()),
            SchedulerEvent::SkippedOverlap(missed()),
            SchedulerEvent::Lost {
                job_id: "j".into(),
                execution_id: "e".into(),
                scheduled_for: at(0, 0),
                node: "dead".into(),
            },
            started(TriggerSource::Schedule, 300),
            started(TriggerSource::Manual, 0),
            started(TriggerSource::Manual, 0),
            started(TriggerSource::Retry, 0),
            SchedulerEvent::JobAdded { job_id: "j".into() },
            SchedulerEvent::JobAdded { job_id: "k".into() },
            SchedulerEvent::JobModified { job_id: "j".into() },
            SchedulerEvent::JobRemoved { job_id: "k".into() },
            SchedulerEvent::JobInvalid {
                job_id: "x".into(),
                error: "unknown func".into(),
            },
        ] {
            metrics.observe(&event);
        }
        let text = metrics.render_at(&status(None), at(0, 0));
        parse(&text);
        assert_lines(
            &text,
            &[
                "ruqi_executions_total{status=\"success\"} 2",
                "ruqi_executions_total{status=\"failed\"} 1",
                "ruqi_executions_total{status=\"timeout\"} 1",
                "ruqi_executions_total{status=\"cancelled\"} 1",
                "ruqi_executions_total{status=\"missed\"} 2",
                "ruqi_executions_total{status=\"lost\"} 1",
                "ruqi_runs_started_total{trigger_source=\"schedule\"} 1",
                "ruqi_runs_started_total{trigger_source=\"manual\"} 2",
                "ruqi_runs_started_total{trigger_source=\"retry\"} 1",
                "ruqi_runs_started_total{trigger_source=\"child\"} 0",
                "ruqi_job_events_total{event=\"job_added\"} 2",
                "ruqi_job_events_total{event=\"job_modified\"} 1",
                "ruqi_job_events_total{event=\"job_removed\"} 1",
                "ruqi_job_events_total{event=\"job_invalid\"} 1",
            ],
        );
    }

    #[test]
    fn run_durations_land_in_cumulative_buckets_by_status() {
        let metrics = Metrics::new();
        for ms in [3, 5, 1_500] {
            metrics.observe(&SchedulerEvent::Succeeded(ended(ms)));
        }
        metrics.observe(&SchedulerEvent::Failed(ended(20)));
        metrics.observe(&SchedulerEvent::Cancelled(ended(7_200_000)));
        let text = metrics.render_at(&status(None), at(0, 0));
        parse(&text);
        assert_lines(
            &text,
            &[
                // 5 ms is on the bound, which is inclusive.
                "ruqi_run_duration_seconds_bucket{status=\"success\",le=\"0.005\"} 2",
                "ruqi_run_duration_seconds_bucket{status=\"success\",le=\"1\"} 2",
                "ruqi_run_duration_seconds_bucket{status=\"success\",le=\"2.5\"} 3",
                "ruqi_run_duration_seconds_bucket{status=\"success\",le=\"3600\"} 3",
                "ruqi_run_duration_seconds_bucket{status=\"success\",le=\"+Inf\"} 3",
                "ruqi_run_duration_seconds_sum{status=\"success\"} 1.508",
                "ruqi_run_duration_seconds_count{status=\"success\"} 3",
                "ruqi_run_duration_seconds_bucket{status=\"failed\",le=\"0.01\"} 0",
                "ruqi_run_duration_seconds_bucket{status=\"failed\",le=\"0.025\"} 1",
                "ruqi_run_duration_seconds_count{status=\"failed\"} 1",
                "ruqi_run_duration_seconds_bucket{status=\"cancelled\",le=\"3600\"} 0",
                "ruqi_run_duration_seconds_bucket{status=\"cancelled\",le=\"+Inf\"} 1",
                "ruqi_run_duration_seconds_sum{status=\"cancelled\"} 7200",
                "ruqi_run_duration_seconds_count{status=\"timeout\"} 0",
            ],
        );
    }

    #[test]
    fn lateness_counts_scheduled_runs_only_and_early_starts_as_zero() {
        let metrics = Metrics::new();
        metrics.observe(&started(TriggerSource::Schedule, 300));
        metrics.observe(&started(TriggerSource::Schedule, 1_500));
        metrics.observe(&started(TriggerSource::Schedule, -2_000));
        metrics.observe(&started(TriggerSource::Schedule, 90_000_000));
        // A manual run started long after the instant it names is not late.
        metrics.observe(&started(TriggerSource::Manual, 40_000_000));
        let text = metrics.render_at(&status(None), at(0, 0));
        parse(&text);
        assert_lines(
            &text,
            &[
                "ruqi_fire_lateness_seconds_bucket{le=\"0.0005\"} 2",
                "ruqi_fire_lateness_seconds_bucket{le=\"0.001\"} 2",
                "ruqi_fire_lateness_seconds_bucket{le=\"0.002\"} 3",
                "ruqi_fire_lateness_seconds_bucket{le=\"60\"} 3",
                "ruqi_fire_lateness_seconds_bucket{le=\"+Inf\"} 4",
                "ruqi_fire_lateness_seconds_sum 90.0018",
                "ruqi_fire_lateness_seconds_count 4",
            ],
        );
    }

    #[test]
    fn gauges_come_from_the_status_and_the_feed() {
        let metrics = Metrics::new();
        metrics.observe_feed_lag(Duration::from_millis(40));
        metrics.observe_feed_lag(Duration::from_millis(1_250));
        metrics.observe_feed_lag(Duration::from_millis(15));
        let text = metrics.render_at(&status(Some(at(90, 500_000))), at(0, 0));
        parse(&text);
        assert_lines(
            &text,
            &[
                "ruqi_jobs{state=\"scheduled\"} 5",
                "ruqi_jobs{state=\"paused\"} 2",
                "ruqi_jobs{state=\"invalid\"} 3",
                "ruqi_jobs_held 7",
                "ruqi_runs_in_progress 4",
                "ruqi_nodes 2",
                "ruqi_next_wakeup_seconds 90.5",
                "ruqi_change_feed_lag_seconds 0.015",
                "ruqi_change_feed_lag_max_seconds 1.25",
            ],
        );
        let overdue = metrics.render_at(&status(Some(at(0, 0))), at(3, 0));
        assert_lines(&overdue, &["ruqi_next_wakeup_seconds 0"]);
    }

    #[test]
    fn the_format_checker_refuses_what_prometheus_would() {
        let refused = |text: &str| std::panic::catch_unwind(|| parse(text)).is_err();
        assert!(refused("m 1\n"), "a sample without HELP/TYPE");
        assert!(
            refused("# HELP m m.\n# TYPE m gauge\nm{a=b} 1\n"),
            "an unquoted label value"
        );
        assert!(refused("# HELP m m.\n# TYPE m gauge\nm NaN\n"), "NaN");
        assert!(refused(
            "# HELP h h.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
        ));
        assert!(!refused("# HELP m m.\n# TYPE m gauge\nm{a=\"b\"} 1.5\n"));
    }
}
