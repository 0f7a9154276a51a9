//! `throughput`: how many runs one process gets through when many jobs come
//! due at once, with every run's history recorded.
//!
//! Each child gets a fresh database of one backend (see [`crate::backend`])
//! and writes N one-shot jobs (trigger `date`) that all fire at one instant T,
//! far enough ahead that the scheduler has loaded them and is idle before
//! T. A trivial registered function runs for each; ruqi leaves a
//! `job_execution` row per run as always. A thread of its own counts the
//! scheduler's `succeeded` events; once all N are in, the child confirms the
//! count in `job_execution` and reads every row back to check that each job
//! ran exactly once and to take the lateness of each start.
//!
//! Executions per second = N ÷ (the instant the last run's end was recorded −
//! T). The scheduler announces a run's end after writing it, so the instant
//! the last `succeeded` event arrived is when the last end was recorded.
//!
//! The baseline, in the same child on a second fresh database of the same
//! backend: N single-row `INSERT`s of rows like `job_execution`'s through
//! sea-orm, as many in flight as the same kind of pool allows, and a shorter
//! series one after another on one connection. A run costs ruqi four row
//! writes — the claim (`UPDATE job_info`, which the migrations' trigger also
//! logs to `job_change`), the `INSERT` and the `UPDATE` of its
//! `job_execution` row, and the `UPDATE` of `job_info`'s outcome — which the
//! store writes by group commit: what arrives while a batch is being written
//! goes in the next one, one statement per kind. Above 1 ÷ baseline, the
//! batching beats the database's own one-statement rate.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use ruqi::entity::{job_execution, job_info};
use ruqi::{EventStream, JobContext, Registry, SchedulerEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::Options;
use super::feed::BackendStatus;
use crate::backend::{self, Backend, Pool, RunDatabase, Target};
use crate::child::run_in_child;
use crate::db;
use crate::report::{Bar, Section, run_line, spread, thousands};
use crate::stats::{Spread, percentile, sorted};

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "throughput";

/// The function every measured job runs: it returns at once.
const FUNC: &str = "bench_trivial";
/// Prefix of the measured jobs' ids.
const JOB_PREFIX: &str = "tp-";
/// How long the child waits for the next run to end before it stops
/// waiting and counts the rest as lost.
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// The measured jobs' `misfire_grace_s`: an hour, so that a run the
/// scheduler gets to late still runs (with the default 5 s, the jobs beyond
/// what it gets through in 5 s would be recorded as missed instead).
pub(crate) const MISFIRE_GRACE_S: i32 = 3_600;
/// Tasks issuing the baseline's `INSERT`s; the pool caps how many are in flight.
const BASELINE_TASKS: usize = 32;
/// Rows of the one-connection baseline (at most N).
const SEQUENTIAL_ROWS: usize = 2_000;
/// The executions-per-second bar on PostgreSQL ...
pub(crate) const BAR_POSTGRES_PER_S: f64 = 20_000.0;
/// ... and on SQLite.
pub(crate) const BAR_SQLITE_PER_S: f64 = 10_000.0;
/// The number of jobs the bars are held at.
pub(crate) const BAR_JOBS: usize = 100_000;

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The database the scheduler runs on (created empty by the parent).
    pub(crate) target: Target,
    /// A second empty database of the same backend, for the baseline.
    pub(crate) baseline: Target,
    /// One-shot jobs, all due at the same instant.
    pub(crate) jobs: usize,
    /// How far ahead of the start of seeding the jobs are due: room for
    /// writing them and for `start()`.
    pub(crate) lead_ms: u64,
}

/// What one child measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Connections in the pool the scheduler and the baseline use.
    pub(crate) pool_connections: u32,
    /// Seconds writing the jobs took (not measured as anything).
    pub(crate) seed_s: f64,
    /// Seconds `start()` took.
    pub(crate) start_s: f64,
    /// Seconds between the scheduler being ready and the due instant T
    /// (must be positive: start-up is over before anything is due).
    pub(crate) slack_s: f64,
    /// Start-up was not over by T: the child stopped there, and the run
    /// is repeated with a longer lead.
    pub(crate) overran: bool,
    /// N ÷ seconds from T until the last end was recorded; `None` when not
    /// every job ran.
    pub(crate) executions_per_s: Option<f64>,
    /// Seconds from T until the last end was recorded (or the wait gave up).
    pub(crate) duration_s: f64,
    /// Whether that instant is the last `succeeded` event's arrival
    /// (`true`) or, when the event stream skipped events, the instant a poll
    /// of `job_execution` first found every row (`false`).
    pub(crate) end_from_events: bool,
    /// `succeeded` events seen for the measured jobs.
    pub(crate) succeeded_events: usize,
    /// Events of other endings seen for the measured jobs (failed, timed out, cancelled).
    pub(crate) other_end_events: usize,
    /// Events the stream skipped because the counter fell behind.
    pub(crate) events_dropped: u64,
    /// Milliseconds from T to the earliest `started_at`.
    pub(crate) first_start_ms: Option<f64>,
    /// Lateness of the starts (`started_at` − T), median, ms.
    pub(crate) lateness_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub(crate) lateness_p99_ms: Option<f64>,
    /// The latest start.
    pub(crate) lateness_max_ms: Option<f64>,
    /// When the runs' ends were recorded (arrival of their `succeeded`
    /// events − T), median, ms; `None` when the counter skipped events.
    pub(crate) recorded_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub(crate) recorded_p99_ms: Option<f64>,
    /// `job_execution` rows of the measured jobs with status `success`.
    pub(crate) success_rows: usize,
    /// Jobs with more than one `success` row: runs beyond the first.
    pub(crate) duplicates: usize,
    /// Jobs with no `success` row.
    pub(crate) lost: usize,
    /// Rows of the measured jobs with any other status, as `status: count`.
    pub(crate) other_rows: Vec<(String, usize)>,
    /// Baseline: rows inserted by [`BASELINE_TASKS`] tasks over the pool.
    pub(crate) baseline_rows: usize,
    /// Baseline: those rows per second.
    pub(crate) baseline_per_s: f64,
    /// One-at-a-time baseline: rows inserted on one connection.
    pub(crate) sequential_rows: usize,
    /// One-at-a-time baseline: those rows per second.
    pub(crate) sequential_per_s: f64,
}

impl RunResult {
    /// Executions per second over the baseline's `INSERT`s per second.
    pub(crate) fn ratio(&self) -> Option<f64> {
        let rate = self.executions_per_s?;
        (self.baseline_per_s > 0.0).then(|| rate / self.baseline_per_s)
    }
}

/// One backend and job count over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// Jobs due at once.
    pub(crate) jobs: usize,
    /// Every run, in order.
    pub(crate) runs: Vec<RunResult>,
    /// Executions per second over the runs where every job ran.
    pub(crate) executions_per_s: Option<Spread>,
    /// Baseline `INSERT`s per second.
    pub(crate) baseline_per_s: Option<Spread>,
    /// Executions ÷ baseline, run by run.
    pub(crate) ratio: Option<Spread>,
    /// One-at-a-time `INSERT`s per second.
    pub(crate) sequential_per_s: Option<Spread>,
    /// T → first start, ms.
    pub(crate) first_start_ms: Option<Spread>,
    /// Lateness p50, ms.
    pub(crate) lateness_p50_ms: Option<Spread>,
    /// Lateness p99, ms.
    pub(crate) lateness_p99_ms: Option<Spread>,
    /// End recorded p50, ms.
    pub(crate) recorded_p50_ms: Option<Spread>,
    /// End recorded p99, ms.
    pub(crate) recorded_p99_ms: Option<Spread>,
    /// Seconds between ready and T, over runs (all positive).
    pub(crate) slack_s: Option<Spread>,
}

impl Row {
    /// Summarises the runs of one configuration.
    pub(crate) fn new(backend: Backend, jobs: usize, runs: Vec<RunResult>) -> Row {
        let over = |figure: fn(&RunResult) -> Option<f64>| Spread::of(runs.iter().filter_map(figure));
        Row {
            backend,
            jobs,
            executions_per_s: over(|r| r.executions_per_s),
            baseline_per_s: over(|r| Some(r.baseline_per_s)),
            ratio: over(RunResult::ratio),
            sequential_per_s: over(|r| Some(r.sequential_per_s)),
            first_start_ms: over(|r| r.first_start_ms),
            lateness_p50_ms: over(|r| r.lateness_p50_ms),
            lateness_p99_ms: over(|r| r.lateness_p99_ms),
            recorded_p50_ms: over(|r| r.recorded_p50_ms),
            recorded_p99_ms: over(|r| r.recorded_p99_ms),
            slack_s: over(|r| Some(r.slack_s)),
            runs,
        }
    }

    /// Duplicate runs over every run.
    pub(crate) fn duplicates(&self) -> usize {
        self.runs.iter().map(|r| r.duplicates).sum()
    }

    /// Jobs never run, over every run.
    pub(crate) fn lost(&self) -> usize {
        self.runs.iter().map(|r| r.lost).sum()
    }

    /// Runs in which not every job ran.
    pub(crate) fn incomplete_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.executions_per_s.is_none()).count()
    }
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Runs of each configuration.
    pub(crate) runs: usize,
    /// Every backend, measured or not.
    pub(crate) backends: Vec<BackendStatus>,
    /// One row per measured backend and job count.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The status of `backend`.
    pub(crate) fn status(&self, backend: Backend) -> Option<&BackendStatus> {
        self.backends.iter().find(|s| s.backend == backend)
    }

    /// The row for `backend` and `jobs`.
    pub(crate) fn row(&self, backend: Backend, jobs: usize) -> Option<&Row> {
        self.rows.iter().find(|r| r.backend == backend && r.jobs == jobs)
    }

    fn label(&self, backend: Backend) -> &'static str {
        self.status(backend).map_or(backend.label(), BackendStatus::label)
    }
}

/// How long before T the jobs are written: room for seeding and for
/// `start()` to load them. A run whose start-up overruns it is repeated
/// with twice the lead, up to [`LEAD_ATTEMPTS`] times.
fn lead(jobs: usize) -> Duration {
    Duration::from_secs(3) + Duration::from_micros(80) * u32::try_from(jobs).unwrap_or(u32::MAX)
}

/// Tries per run at getting start-up over before T.
const LEAD_ATTEMPTS: u32 = 3;

/// Parent side: every available backend, job count and run, each in its
/// own child on fresh databases.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let sizes: &[usize] = if options.quick { &[2_000] } else { &[10_000, BAR_JOBS] };
    let runs = options.runs();
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    for backend in Backend::ALL {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped("throughput", backend, why));
            continue;
        }
        let mut version = None;
        for &jobs in sizes {
            // Two runs at the largest size: each is minutes long at today's rates.
            let runs = if jobs >= BAR_JOBS { runs.min(2) } else { runs };
            let mut results = Vec::new();
            for run in 1..=runs {
                eprintln!(
                    "throughput: {}, {} one-shot jobs due at once, run {run}/{runs}",
                    backend.label(),
                    thousands(jobs)
                );
                let mut lead = lead(jobs);
                let mut attempt = 1;
                let result = loop {
                    let result = run_once(backend, jobs, lead)
                        .await
                        .with_context(|| format!("the throughput scenario on {}", backend.label()))?;
                    if !result.overran {
                        break result;
                    }
                    ensure!(
                        attempt < LEAD_ATTEMPTS,
                        "start-up on {} was not over {} ms after writing {jobs} jobs began, {LEAD_ATTEMPTS} times",
                        backend.label(),
                        lead.as_millis()
                    );
                    eprintln!(
                        "  start-up ({:.2} s, after {:.2} s of writing) was not over before T; again with a lead of {} ms",
                        result.start_s,
                        result.seed_s,
                        2 * lead.as_millis()
                    );
                    lead *= 2;
                    attempt += 1;
                };
                eprintln!("  {}", progress_line(&result, jobs));
                version.get_or_insert_with(|| result.version.clone());
                results.push(result);
            }
            rows.push(Row::new(backend, jobs, results));
        }
        backends.push(BackendStatus {
            backend,
            version,
            skipped: None,
        });
    }
    Ok(Report { runs, backends, rows })
}

/// One run in a child on two fresh databases, removed after.
async fn run_once(backend: Backend, jobs: usize, lead: Duration) -> Result<RunResult> {
    let database = RunDatabase::create(backend, NAME).await?;
    let baseline = match RunDatabase::create(backend, "throughput-baseline").await {
        Ok(baseline) => baseline,
        Err(error) => {
            database.remove().await;
            return Err(error);
        }
    };
    let config = Config {
        target: database.target(),
        baseline: baseline.target(),
        jobs,
        lead_ms: u64::try_from(lead.as_millis()).unwrap_or(u64::MAX),
    };
    // The lead, the runs at no less than 100 per second, the baseline at no
    // less than 200 rows per second, the stall limit, and room to spare.
    let per_job = Duration::from_millis(1000 / 100 + 1000 / 200);
    let limit = lead + per_job * u32::try_from(jobs).unwrap_or(u32::MAX) + STALL_LIMIT + Duration::from_secs(180);
    let result = run_in_child(NAME, &config, limit).await;
    database.remove().await;
    baseline.remove().await;
    result
}

fn progress_line(result: &RunResult, jobs: usize) -> String {
    let optional = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
    let mut line = format!(
        "{}: {} executions/s ({} of {} jobs ran, {:.2} s after T), lateness p50 {} ms, p99 {} ms; \
         baseline {:.0} INSERTs/s over {} connection(s), {:.0}/s one at a time; writing {:.2} s, start-up {:.2} s, \
         over {:.1} s before T",
        result.version,
        optional(result.executions_per_s),
        thousands(jobs - result.lost),
        thousands(jobs),
        result.duration_s,
        optional(result.lateness_p50_ms),
        optional(result.lateness_p99_ms),
        result.baseline_per_s,
        result.pool_connections,
        result.sequential_per_s,
        result.seed_s,
        result.start_s,
        result.slack_s,
    );
    if result.duplicates > 0 || result.lost > 0 {
        let _ = write!(line, "; {} duplicate(s), {} lost", result.duplicates, result.lost);
    }
    if result.events_dropped > 0 {
        let _ = write!(line, "; {} events skipped by the counter", result.events_dropped);
    }
    line
}

/// `count` one-shot jobs due at `due_at`, written as the scheduler leaves
/// a scheduled row (`version` 1, `next_run_time` = the fire), so that
/// start-up loads them without writing anything back. Their misfire grace
/// is [`MISFIRE_GRACE_S`]: every one runs, however far behind the scheduler is.
fn one_shot_jobs(
    count: usize,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> impl Iterator<Item = job_info::ActiveModel> {
    let rule = due_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    (0..count).map(move |i| {
        let mut row = db::interval_job(format!("{JOB_PREFIX}{i:06}"), FUNC, "1d", now, due_at);
        row.trigger = Set("date".to_owned());
        row.rule = Set(rule.clone());
        row.misfire_grace_s = Set(MISFIRE_GRACE_S);
        row
    })
}

/// The connections a pool may open.
pub(crate) fn pool_connections(db: &DatabaseConnection) -> u32 {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => db.get_sqlite_connection_pool().options().get_max_connections(),
        DatabaseBackend::Postgres => db.get_postgres_connection_pool().options().get_max_connections(),
        _ => db.get_mysql_connection_pool().options().get_max_connections(),
    }
}

/// Milliseconds from `from` to `to`.
fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Child side: one backend, one job count.
pub(crate) async fn measure(config: Config) -> Result<RunResult> {
    let db = config.target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let version = backend::server_version(&db).await?;
    let pool_connections = pool_connections(&db);

    let seeding = Instant::now();
    let now = Utc::now();
    let due_at = (now + chrono::Duration::milliseconds(i64::try_from(config.lead_ms)?))
        .duration_trunc(chrono::Duration::milliseconds(1))?;
    db::insert_jobs(&db, one_shot_jobs(config.jobs, due_at, now)).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let mut registry = Registry::new();
    registry.register(FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let starting = Instant::now();
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name("ruqi-bench")
        .start()
        .await?;
    let start_s = starting.elapsed().as_secs_f64();
    let ends = EndCounter::spawn(scheduler.events(), config.jobs, due_at)?;
    let ready_at = Utc::now();
    let slack_s = ms(ready_at, due_at) / 1000.0;
    if slack_s <= 0.0 {
        // The runs began during start-up: no figure of this run would mean what it says.
        let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
        return Ok(RunResult {
            version,
            pool_connections,
            seed_s,
            start_s,
            slack_s,
            overran: true,
            ..RunResult::default()
        });
    }
    let scheduled = scheduler.status().scheduled;
    ensure!(
        scheduled >= config.jobs,
        "only {scheduled} of {} jobs were scheduled after start-up",
        config.jobs
    );

    let ends = ends.finish().await?;
    let confirmed = confirm_in_database(&db, config.jobs).await?;
    // The last event is the last end recorded, unless the counter skipped
    // events; then the poll that found every row is the best instant there is.
    let all_seen = ends.succeeded.len() == config.jobs && ends.dropped == 0;
    let (last_end, end_from_events) = match ends.succeeded.iter().max() {
        Some(last) if all_seen => (*last, true),
        _ => (confirmed.at, false),
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;

    let checked = check_rows(&db, config.jobs, due_at).await?;
    let duration_s = ms(due_at, last_end) / 1000.0;
    let recorded_ms = sorted(ends.succeeded.iter().map(|at| ms(due_at, *at)).collect());
    let executions_per_s =
        (checked.lost == 0 && confirmed.complete && duration_s > 0.0).then(|| config.jobs as f64 / duration_s);
    drop(db);

    let baseline_db = config.baseline.connect(Pool::Default).await?;
    ruqi::migrate(&baseline_db).await?;
    let baseline_per_s = insert_concurrently(&baseline_db, config.jobs).await?;
    drop(baseline_db);
    let single = config.baseline.connect(Pool::Single).await?;
    let sequential_rows = config.jobs.min(SEQUENTIAL_ROWS);
    let sequential_per_s = insert_one_at_a_time(&single, sequential_rows).await?;

    Ok(RunResult {
        version,
        pool_connections,
        seed_s,
        start_s,
        slack_s,
        overran: false,
        executions_per_s,
        duration_s,
        end_from_events,
        succeeded_events: ends.succeeded.len(),
        other_end_events: ends.other_ends,
        events_dropped: ends.dropped,
        first_start_ms: checked.first_start_ms,
        lateness_p50_ms: percentile(&checked.lateness_ms, 50.0),
        lateness_p99_ms: percentile(&checked.lateness_ms, 99.0),
        lateness_max_ms: percentile(&checked.lateness_ms, 100.0),
        recorded_p50_ms: end_from_events.then(|| percentile(&recorded_ms, 50.0)).flatten(),
        recorded_p99_ms: end_from_events.then(|| percentile(&recorded_ms, 99.0)).flatten(),
        success_rows: checked.success_rows,
        duplicates: checked.duplicates,
        lost: checked.lost,
        other_rows: checked.other_rows,
        baseline_rows: config.jobs,
        baseline_per_s,
        sequential_rows,
        sequential_per_s,
    })
}

/// What the event counter saw.
struct Ends {
    /// When each `succeeded` event of a measured job arrived.
    succeeded: Vec<DateTime<Utc>>,
    /// Other endings of measured jobs.
    other_ends: usize,
    /// Events skipped because the counter fell behind.
    dropped: u64,
}

/// Counts the ends of the measured runs on a thread of its own, so that the
/// thousands of run tasks on the runtime's two workers cannot starve it
/// into falling more than the stream's buffer behind.
struct EndCounter {
    thread: std::thread::JoinHandle<Result<Ends>>,
}

impl EndCounter {
    /// Starts counting: until `expected` runs have ended (or the stream says
    /// it skipped events for them), or nothing has ended for [`STALL_LIMIT`]
    /// once the jobs were due.
    fn spawn(mut events: EventStream, expected: usize, due_at: DateTime<Utc>) -> Result<EndCounter> {
        let thread = std::thread::Builder::new()
            .name("bench-end-counter".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
                runtime.block_on(async move {
                    let mut ends = Ends {
                        succeeded: Vec::with_capacity(expected),
                        other_ends: 0,
                        dropped: 0,
                    };
                    loop {
                        ends.dropped = events.dropped();
                        let counted = ends.succeeded.len() + ends.other_ends;
                        if counted + usize::try_from(ends.dropped).unwrap_or(usize::MAX) >= expected {
                            return Ok(ends);
                        }
                        // Before the first end, the wait until the jobs are due counts too.
                        let wait = if counted == 0 {
                            (due_at - Utc::now()).to_std().unwrap_or_default() + STALL_LIMIT
                        } else {
                            STALL_LIMIT
                        };
                        let event = match tokio::time::timeout(wait, events.next()).await {
                            Ok(Some(event)) => event,
                            // Nothing for too long, or the scheduler is gone.
                            Ok(None) | Err(_) => return Ok(ends),
                        };
                        let arrived = Utc::now();
                        match event.run_ended() {
                            Some(run) if run.job_id.starts_with(JOB_PREFIX) => {
                                if matches!(event, SchedulerEvent::Succeeded(_)) {
                                    ends.succeeded.push(arrived);
                                } else {
                                    ends.other_ends += 1;
                                }
                            }
                            _ => {}
                        }
                    }
                })
            })
            .context("starting the event counter's thread")?;
        Ok(EndCounter { thread })
    }

    /// Waits for the counter to finish.
    async fn finish(self) -> Result<Ends> {
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow!("the event counter's thread panicked"))?
    }
}

/// The `success` rows of the measured jobs, counted in the database.
struct Confirmed {
    /// Whether all of them were there.
    complete: bool,
    /// When a poll first found them all (or the last poll, if never).
    at: DateTime<Utc>,
}

/// Polls `job_execution` until it holds a `success` row for every measured
/// job, or the count stops growing for [`STALL_LIMIT`]. After the events,
/// the first poll normally finds them all.
async fn confirm_in_database(db: &DatabaseConnection, jobs: usize) -> Result<Confirmed> {
    let mut last_count = 0;
    let mut last_growth = Instant::now();
    loop {
        let count = usize::try_from(
            job_execution::Entity::find()
                .filter(job_execution::Column::JobId.starts_with(JOB_PREFIX))
                .filter(job_execution::Column::Status.eq("success"))
                .count(db)
                .await?,
        )?;
        let at = Utc::now();
        if count >= jobs {
            return Ok(Confirmed { complete: true, at });
        }
        if count > last_count {
            last_count = count;
            last_growth = Instant::now();
        } else if last_growth.elapsed() >= STALL_LIMIT {
            return Ok(Confirmed { complete: false, at });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the `job_execution` rows of the measured jobs say.
struct Checked {
    success_rows: usize,
    duplicates: usize,
    lost: usize,
    other_rows: Vec<(String, usize)>,
    first_start_ms: Option<f64>,
    /// `started_at` − T of every success row, sorted.
    lateness_ms: Vec<f64>,
}

/// Reads back every `job_execution` row of the measured jobs.
async fn check_rows(db: &DatabaseConnection, jobs: usize, due_at: DateTime<Utc>) -> Result<Checked> {
    type Columns = (String, String, Option<DateTime<Utc>>);
    let rows: Vec<Columns> = job_execution::Entity::find()
        .select_only()
        .column(job_execution::Column::JobId)
        .column(job_execution::Column::Status)
        .column(job_execution::Column::StartedAt)
        .filter(job_execution::Column::JobId.starts_with(JOB_PREFIX))
        .into_tuple()
        .all(db)
        .await?;
    let mut runs_per_job = std::collections::HashMap::<String, usize>::with_capacity(jobs);
    let mut other = std::collections::BTreeMap::<String, usize>::new();
    let mut lateness_ms = Vec::with_capacity(rows.len());
    for (job_id, status, started_at) in rows {
        if status != "success" {
            *other.entry(status).or_default() += 1;
            continue;
        }
        *runs_per_job.entry(job_id).or_default() += 1;
        if let Some(started_at) = started_at {
            lateness_ms.push(ms(due_at, started_at));
        }
    }
    let lateness_ms = sorted(lateness_ms);
    Ok(Checked {
        success_rows: runs_per_job.values().sum(),
        duplicates: runs_per_job.values().map(|n| n - 1).sum(),
        lost: jobs.saturating_sub(runs_per_job.len()),
        other_rows: other.into_iter().collect(),
        first_start_ms: lateness_ms.first().copied(),
        lateness_ms,
    })
}

/// A finished run's row, as ruqi leaves one, for the baseline.
fn execution_row(i: usize, at: DateTime<Utc>) -> job_execution::ActiveModel {
    job_execution::ActiveModel {
        id: Set(format!("baseline-{i:08}")),
        job_id: Set(format!("{JOB_PREFIX}{i:06}")),
        job_name: Set(Some("bench".to_owned())),
        scheduled_for: Set(at),
        started_at: Set(Some(at)),
        finished_at: Set(Some(at)),
        duration_ms: Set(Some(0)),
        status: Set("success".to_owned()),
        attempt: Set(1),
        output: Set(None),
        error: Set(None),
        node: Set(Some("ruqi-bench".to_owned())),
        trigger_source: Set("schedule".to_owned()),
        cancel_requested_at: Set(None),
    }
}

/// Inserts `rows` rows one statement each (autocommit), from
/// [`BASELINE_TASKS`] tasks sharing the pool; returns rows per second.
async fn insert_concurrently(db: &DatabaseConnection, rows: usize) -> Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let at = Utc::now();
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..BASELINE_TASKS {
        let (db, next) = (db.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= rows {
                    return Ok::<_, anyhow::Error>(());
                }
                job_execution::Entity::insert(execution_row(i, at))
                    .exec_without_returning(&db)
                    .await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(rows as f64 / began.elapsed().as_secs_f64())
}

/// Inserts `rows` rows one statement each, each waiting for the one before,
/// on one connection; returns rows per second.
async fn insert_one_at_a_time(db: &DatabaseConnection, rows: usize) -> Result<f64> {
    let at = Utc::now();
    let began = Instant::now();
    for i in 0..rows {
        // Ids of their own: the concurrent baseline's rows are in the same table.
        let mut row = execution_row(i, at);
        row.id = Set(format!("sequential-{i:08}"));
        job_execution::Entity::insert(row).exec_without_returning(db).await?;
    }
    Ok(rows as f64 / began.elapsed().as_secs_f64())
}

/// The throughput section of `BENCHMARKS.md`.
pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Execution throughput (`throughput`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "How many runs one process gets through when N jobs come due at the same instant, with every run's \
         history recorded. Each run is a fresh process on a fresh database (SQLite: a file in a temporary \
         directory; PostgreSQL, MySQL/MariaDB: `CREATE DATABASE ruqi_b_…` on the server, dropped after) and \
         sea-orm's default pool. It writes N one-shot jobs (trigger `date`, all due at one instant T, written as \
         the scheduler leaves a scheduled row, `misfire_grace_s` = {grace} so that each runs however far behind \
         the scheduler is) whose function returns at once, starts the scheduler with \
         `ruqi::scheduler(db, registry).start()` (default settings: at most 256 runs at once, the change feed \
         on), and checks that start-up was over and every job held before T (T is set a lead of 3 s + 80 µs per job \
         ahead of the start of writing, doubled for a run whose start-up overran it). ruqi does what it always does per run: claim the fire \
         (`UPDATE job_info … WHERE version = v`), write the `running` row of `job_execution`, run the function, \
         update that row with the outcome, and write `last_status` to `job_info`.\n\n\
         - **executions/s** = N ÷ (the instant the last run's end was recorded − T). A thread of its own counts \
         the scheduler's `succeeded` events (`scheduler.events()`), which it sends after writing a run's end, \
         so the arrival of the N-th is that instant; the count is then confirmed in `job_execution`. Should \
         the counter fall more than the stream's 4,096 events behind, the instant a 20 ms poll of \
         `job_execution` first finds all N rows stands in (marked in the table).\n\
         - **first start**, **lateness** (p50, p99) = `job_execution.started_at` − T over the N runs (the \
         scheduler takes `started_at` once it has claimed the fire); **end recorded** (p50, p99) = arrival of \
         the run's `succeeded` event − T: how the recorded ends spread out (the function itself takes \
         microseconds).\n\
         - **verified**: afterwards every `job_execution` row of the jobs is read back: one `success` row per \
         job is expected; a second one is a duplicate, none is a lost job, and rows of any other status are \
         listed.\n\
         - **baseline**, in the same process on a second fresh database of the same backend: N single-row \
         `INSERT`s (autocommit) of rows like `job_execution`'s through sea-orm, issued by {tasks} tasks over the \
         same default pool (as many in flight as it has connections): the rate at which the database takes \
         one-statement writes from this process. **÷ baseline** = executions/s ÷ that rate, run by run. Each \
         run costs ruqi four row writes (the claim, whose version bump the migrations' trigger also logs to \
         `job_change`; the `INSERT` and the `UPDATE` of the `job_execution` row; `last_status` in `job_info`), \
         which the store writes by group commit: the writes that arrive while a batch is being written go \
         together in the next, one statement per kind. One statement per write would reach roughly 0.25; \
         above 1, batching beats the database's own one-statement rate. Also \
         {sequential} `INSERT`s one after another on one connection, the per-statement round trip and commit \
         alone.\n\n\
         {runs} run(s) per backend and N (at most two at 100,000: each takes minutes); figures are the median over runs with the range in brackets.\n\n",
        grace = thousands(usize::try_from(MISFIRE_GRACE_S).unwrap_or_default()),
        tasks = BASELINE_TASKS,
        sequential = thousands(SEQUENTIAL_ROWS),
        runs = report.runs,
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter(|s| s.version.is_some())
        .map(BackendStatus::describe)
        .collect();
    let skipped: Vec<String> = report
        .backends
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| format!("{} ({why})", s.label())))
        .collect();
    let pools: Vec<String> = report
        .rows
        .iter()
        .filter_map(|row| Some((row.backend, row.runs.first()?.pool_connections)))
        .fold(Vec::new(), |mut seen: Vec<(Backend, u32)>, item| {
            if !seen.iter().any(|(b, _)| *b == item.0) {
                seen.push(item);
            }
            seen
        })
        .into_iter()
        .map(|(backend, pool)| format!("{} {pool}", report.label(backend)))
        .collect();
    let _ = write!(
        md,
        "Backends measured: {}; pool connections: {}.",
        list_or_none(&measured),
        list_or_none(&pools)
    );
    if !skipped.is_empty() {
        let _ = write!(md, " Not measured: {}.", skipped.join(", "));
    }
    md.push_str("\n\n");

    md.push_str(
        "| backend | jobs (N) | executions/s | baseline `INSERT`s/s | ÷ baseline | `INSERT`s/s one at a time \
         | verified |\n|---|---:|---:|---:|---:|---:|---|\n",
    );
    for row in &report.rows {
        let mut rate = spread(row.executions_per_s, 0);
        if row.incomplete_runs() > 0 {
            let _ = write!(
                rate,
                " (**{} of {} runs incomplete**)",
                row.incomplete_runs(),
                row.runs.len()
            );
        }
        if row
            .runs
            .iter()
            .any(|r| r.executions_per_s.is_some() && !r.end_from_events)
        {
            rate.push_str(" (end from the poll)");
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            thousands(row.jobs),
            rate,
            spread(row.baseline_per_s, 0),
            spread(row.ratio, 2),
            spread(row.sequential_per_s, 0),
            verified(row),
        );
    }
    md.push_str(
        "\nWhen the runs started and ended, relative to T (ms), and how long before T start-up was over (s):\n\n\
         | backend | jobs (N) | first start | lateness p50 | lateness p99 | end recorded p50 | end recorded p99 \
         | start-up over before T (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            thousands(row.jobs),
            spread(row.first_start_ms, 1),
            spread(row.lateness_p50_ms, 0),
            spread(row.lateness_p99_ms, 0),
            spread(row.recorded_p50_ms, 0),
            spread(row.recorded_p99_ms, 0),
            spread(row.slack_s, 1),
        );
    }
    md.push('\n');
    md
}

/// The verification column: every run's rows as expected, or what was not.
fn verified(row: &Row) -> String {
    let others: usize = row.runs.iter().flat_map(|r| r.other_rows.iter().map(|(_, n)| n)).sum();
    if row.duplicates() == 0 && row.lost() == 0 && others == 0 {
        return format!("✅ {} `success` row(s) per run, one per job", thousands(row.jobs));
    }
    let mut statuses = std::collections::BTreeMap::<&str, usize>::new();
    for (status, n) in row.runs.iter().flat_map(|r| r.other_rows.iter()) {
        *statuses.entry(status.as_str()).or_default() += n;
    }
    let mut text = format!(
        "❌ **{} duplicate(s), {} lost** over {} run(s)",
        row.duplicates(),
        row.lost(),
        row.runs.len()
    );
    for (status, n) in statuses {
        let _ = write!(text, "; {n} `{status}` row(s)");
    }
    text
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The throughput bars: executions per second from one process with
/// [`BAR_JOBS`] jobs due at once, on PostgreSQL and on SQLite.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    [
        (Backend::Postgres, BAR_POSTGRES_PER_S),
        (Backend::Sqlite, BAR_SQLITE_PER_S),
    ]
    .into_iter()
    .map(|(backend, bar)| {
        let what = format!(
            "{}: ≥ {} executions/s from one process, {} one-shot jobs due at once, history recorded (throughput)",
            backend.label(),
            thousands(bar as usize),
            thousands(BAR_JOBS)
        );
        let Some(report) = report else {
            return Bar::unmeasured(what, "—");
        };
        if let Some(why) = report.status(backend).and_then(|s| s.skipped.as_ref()) {
            return Bar::unmeasured(what, format!("skipped: {why}"));
        }
        let Some(row) = report.row(backend, BAR_JOBS) else {
            let measured = report
                .rows
                .iter()
                .filter(|r| r.backend == backend)
                .filter_map(|r| {
                    Some(format!(
                        "{}/s with {} jobs",
                        r.executions_per_s?.display(0),
                        thousands(r.jobs)
                    ))
                })
                .collect::<Vec<_>>();
            return Bar::unmeasured(
                what,
                format!(
                    "not at {} jobs in this (quick) run: {}",
                    thousands(BAR_JOBS),
                    list_or_none(&measured)
                ),
            );
        };
        let incomplete = row.incomplete_runs();
        match row.executions_per_s {
            Some(rate) if incomplete == 0 => Bar {
                what,
                measured: format!(
                    "{}/s (median of runs, min–max); {} of the baseline's `INSERT`s/s",
                    rate.display(0),
                    spread(row.ratio, 2)
                ),
                pass: Some(rate.median >= bar),
            },
            _ => Bar {
                what,
                measured: format!("{incomplete} of {} runs did not run every job", row.runs.len()),
                pass: Some(false),
            },
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_jobs_are_due_at_one_instant() {
        let now = Utc::now();
        let due_at = now + chrono::Duration::seconds(5);
        let jobs: Vec<_> = one_shot_jobs(3, due_at, now).collect();
        assert_eq!(jobs.len(), 3);
        for job in &jobs {
            assert_eq!(job.trigger.clone().unwrap(), "date");
            assert_eq!(job.next_run_time.clone().unwrap(), Some(due_at));
            let rule = job.rule.clone().unwrap();
            let parsed = DateTime::parse_from_rfc3339(&rule).unwrap().with_timezone(&Utc);
            assert_eq!(
                parsed,
                due_at.duration_trunc(chrono::Duration::milliseconds(1)).unwrap()
            );
        }
    }

    #[test]
    fn bars_need_the_large_configuration() {
        let run = |rate: Option<f64>| RunResult {
            executions_per_s: rate,
            baseline_per_s: 1000.0,
            ..RunResult::default()
        };
        let report = Report {
            runs: 1,
            backends: Vec::new(),
            rows: vec![
                Row::new(Backend::Postgres, BAR_JOBS, vec![run(Some(25_000.0))]),
                Row::new(Backend::Sqlite, 2_000, vec![run(Some(12_000.0))]),
            ],
        };
        let held = bars(Some(&report));
        assert_eq!(held[0].pass, Some(true));
        assert_eq!(held[1].pass, None);
        assert!(
            held[1].measured.contains("12000/s with 2,000 jobs"),
            "{}",
            held[1].measured
        );
        let failing = Report {
            rows: vec![Row::new(Backend::Postgres, BAR_JOBS, vec![run(None)])],
            ..report
        };
        assert_eq!(bars(Some(&failing))[0].pass, Some(false));
    }
}
