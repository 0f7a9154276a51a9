//! Execution statistics as the API shows them: runs by status per bucket,
//! duration percentiles and success rates, over a range or per job.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use ruqi::query::{Bucket, DurationTotals, ExecutionStats as Counted, JobStats as JobCounted, StatusCounts as Counts};

/// The width of a statistics bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum BucketWidth {
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// A day of the requested UTC offset.
    Day,
}

impl From<BucketWidth> for Bucket {
    fn from(width: BucketWidth) -> Self {
        match width {
            BucketWidth::Minute => Bucket::Minute,
            BucketWidth::Hour => Bucket::Hour,
            BucketWidth::Day => Bucket::Day,
        }
    }
}

impl From<Bucket> for BucketWidth {
    fn from(bucket: Bucket) -> Self {
        match bucket {
            Bucket::Minute => BucketWidth::Minute,
            Bucket::Hour => BucketWidth::Hour,
            Bucket::Day => BucketWidth::Day,
        }
    }
}

/// Runs by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object)]
pub(crate) struct StatusCounts {
    /// In progress.
    pub(crate) running: u64,
    /// Ended well.
    pub(crate) success: u64,
    /// Ended with an error.
    pub(crate) failed: u64,
    /// Ran past their `timeout_s`.
    pub(crate) timeout: u64,
    /// Stopped by a cancel request.
    pub(crate) cancelled: u64,
    /// Fires that did not run.
    pub(crate) missed: u64,
    /// Their node died while they ran.
    pub(crate) lost: u64,
    /// Rows with a status ruqi does not write (typed in by hand).
    pub(crate) other: u64,
}

impl From<Counts> for StatusCounts {
    fn from(c: Counts) -> Self {
        Self {
            running: c.running,
            success: c.success,
            failed: c.failed,
            timeout: c.timeout,
            cancelled: c.cancelled,
            missed: c.missed,
            lost: c.lost,
            other: c.other,
        }
    }
}

/// Durations (`duration_ms`) of the runs that have one.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct DurationSummary {
    /// Runs with a duration.
    pub(crate) count: u64,
    /// Their mean, in milliseconds.
    #[oai(nullable)]
    pub(crate) avg_ms: Option<f64>,
    /// The shortest.
    #[oai(nullable)]
    pub(crate) min_ms: Option<i64>,
    /// The median (nearest rank: the least duration at least half of them do not exceed).
    #[oai(nullable)]
    pub(crate) p50_ms: Option<i64>,
    /// The 90th percentile (nearest rank).
    #[oai(nullable)]
    pub(crate) p90_ms: Option<i64>,
    /// The 95th percentile (nearest rank).
    #[oai(nullable)]
    pub(crate) p95_ms: Option<i64>,
    /// The 99th percentile (nearest rank).
    #[oai(nullable)]
    pub(crate) p99_ms: Option<i64>,
    /// The longest.
    #[oai(nullable)]
    pub(crate) max_ms: Option<i64>,
}

impl DurationSummary {
    fn new(totals: &DurationTotals, percentiles: &[(u8, i64)]) -> Self {
        let at = |percent: u8| percentiles.iter().find(|(p, _)| *p == percent).map(|(_, v)| *v);
        Self {
            count: totals.count,
            avg_ms: totals.avg_ms(),
            min_ms: totals.min_ms,
            p50_ms: at(50),
            p90_ms: at(90),
            p95_ms: at(95),
            p99_ms: at(99),
            max_ms: totals.max_ms,
        }
    }
}

/// The runs scheduled in one bucket.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct StatsBucket {
    /// Its first instant; it ends where the next starts.
    pub(crate) start: DateTime<Utc>,
    /// Its runs.
    pub(crate) total: u64,
    /// Its runs by status.
    pub(crate) counts: StatusCounts,
    /// Their mean duration in milliseconds.
    #[oai(nullable)]
    pub(crate) avg_duration_ms: Option<f64>,
    /// Their longest duration.
    #[oai(nullable)]
    pub(crate) max_duration_ms: Option<i64>,
}

/// Statistics of the executions matching the filters, counted by the database.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct ExecutionStats {
    /// The start of the range counted: `from`, or the first matching run
    /// when `from` is left out; `null` when there is neither.
    #[oai(nullable)]
    pub(crate) from: Option<DateTime<Utc>>,
    /// Its exclusive end: `to`, or just after the last matching run.
    #[oai(nullable)]
    pub(crate) to: Option<DateTime<Utc>>,
    /// The width of `buckets`.
    pub(crate) bucket: BucketWidth,
    /// The width in seconds (a `day` is 86400).
    pub(crate) bucket_seconds: i64,
    /// All matching runs.
    pub(crate) total: u64,
    /// All matching runs by status.
    pub(crate) counts: StatusCounts,
    /// The share of runs that ended (success, failed, timeout, cancelled,
    /// lost) that succeeded, from 0 to 1; `null` when none ended. Missed
    /// fires and runs in progress are left out.
    #[oai(nullable)]
    pub(crate) success_rate: Option<f64>,
    /// Their durations.
    pub(crate) durations: DurationSummary,
    /// Every bucket from the one holding `from` to the one holding the end
    /// of the range, empty ones included, starting at whole minutes, hours
    /// or days of `utc_offset_minutes`.
    pub(crate) buckets: Vec<StatsBucket>,
}

impl From<Counted> for ExecutionStats {
    fn from(stats: Counted) -> Self {
        Self {
            from: stats.from,
            to: stats.to,
            bucket: stats.bucket.into(),
            bucket_seconds: stats.bucket.seconds(),
            total: stats.counts.total(),
            counts: stats.counts.into(),
            success_rate: stats.counts.success_rate(),
            durations: DurationSummary::new(&stats.durations, &stats.percentiles),
            buckets: stats
                .buckets
                .into_iter()
                .map(|b| StatsBucket {
                    start: b.start,
                    total: b.counts.total(),
                    counts: b.counts.into(),
                    avg_duration_ms: b.durations.avg_ms(),
                    max_duration_ms: b.durations.max_ms,
                })
                .collect(),
        }
    }
}

/// One job's runs: counts, success rate, durations.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct JobStats {
    /// The job.
    pub(crate) job_id: String,
    /// Its runs.
    pub(crate) total: u64,
    /// Its runs by status.
    pub(crate) counts: StatusCounts,
    /// The share of its ended runs that succeeded (0 to 1); `null` when none ended.
    #[oai(nullable)]
    pub(crate) success_rate: Option<f64>,
    /// Their mean duration in milliseconds.
    #[oai(nullable)]
    pub(crate) avg_duration_ms: Option<f64>,
    /// Their longest duration.
    #[oai(nullable)]
    pub(crate) max_duration_ms: Option<i64>,
}

impl From<JobCounted> for JobStats {
    fn from(stats: JobCounted) -> Self {
        Self {
            job_id: stats.job_id,
            total: stats.counts.total(),
            counts: stats.counts.into(),
            success_rate: stats.counts.success_rate(),
            avg_duration_ms: stats.durations.avg_ms(),
            max_duration_ms: stats.durations.max_ms,
        }
    }
}

/// The statistics of each job asked for, in the order asked.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct JobStatsList {
    /// One per distinct `job_id` asked for (zeros for a job without runs).
    pub(crate) items: Vec<JobStats>,
}

/// Values starting with the prefix, in order.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct Suggestions {
    /// The values.
    pub(crate) items: Vec<String>,
}
