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
//! Two baselines, in the same child, each on a fresh database of the same
//! backend reached the same way. The `INSERT` baseline: N single-row
//! `INSERT`s of rows like `job_execution`'s through sea-orm, as many in
//! flight as the same kind of pool allows, and a shorter series one after
//! another on one connection. A run costs ruqi four row writes — the claim
//! (`UPDATE job_info`, which the migrations' trigger also logs to
//! `job_change`), the `INSERT` and the `UPDATE` of its `job_execution` row,
//! and the `UPDATE` of `job_info`'s outcome — which the store writes by
//! group commit: what arrives while a batch is being written goes in the
//! next one, one statement per kind. Above 1 ÷ baseline, the batching beats
//! the database's own one-statement rate. The limit baseline ([`limit`]):
//! the same N runs' writes made through the store's own methods with no
//! scheduler around them, the database work alone; ruqi ÷ that says how
//! close the engine comes to what its own statements allow.
//!
//! PostgreSQL and MySQL/MariaDB are measured as their URLs reach them (over
//! TCP to 127.0.0.1, as the README tells users to connect: the headline)
//! and, when the server has a Unix socket on this machine, over that socket
//! too, the runs of the two alternating; their ratio shows whether TCP costs
//! anything the socket does not.

mod limit;
mod markdown;

pub(crate) use markdown::{bars, markdown};

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use ruqi::entity::{job_execution, job_info};
use ruqi::{JobContext, Registry};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use super::Options;
use super::ends::{EndCounter, STALL_LIMIT, confirm_in_database};
use super::feed::BackendStatus;
use crate::backend::{self, Backend, Pool, RunDatabase, Target, Transport};
use crate::child::run_in_child;
use crate::db;
use crate::report::thousands;
use crate::stats::{Spread, percentile, sorted};

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "throughput";

/// The function every measured job runs: it returns at once.
const FUNC: &str = "bench_trivial";
/// Prefix of the measured jobs' ids.
const JOB_PREFIX: &str = "tp-";
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
/// ... on MySQL/MariaDB ...
pub(crate) const BAR_MYSQL_PER_S: f64 = 15_000.0;
/// ... and on SQLite.
pub(crate) const BAR_SQLITE_PER_S: f64 = 10_000.0;
/// The least ruqi ÷ its own SQL loop (executions/s over the limit
/// baseline's runs/s) on every backend.
pub(crate) const BAR_LIMIT_RATIO: f64 = 0.8;
/// How far TCP and the Unix socket may differ (executions/s, either way).
pub(crate) const TRANSPORT_TOLERANCE: f64 = 0.10;
/// Runs over the Unix socket at [`BAR_JOBS`] in a full run, alternating
/// with the TCP runs (none at the smaller size: the socket figure is there
/// to compare transports where the bar is held).
const SOCKET_RUNS: usize = 2;
/// The number of jobs the bars are held at.
pub(crate) const BAR_JOBS: usize = 100_000;

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The database the scheduler runs on (created empty by the parent).
    pub(crate) target: Target,
    /// A second empty database of the same backend, for the `INSERT` baseline.
    pub(crate) baseline: Target,
    /// A third, for the limit baseline (the store's writes alone).
    pub(crate) limit: Target,
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
    /// Limit baseline: the N runs' writes through the store alone, runs per
    /// second (`None` in results from before it was measured).
    #[serde(default)]
    pub(crate) limit_per_s: Option<f64>,
    /// Limit baseline: batches the store's group commit wrote.
    #[serde(default)]
    pub(crate) limit_batches: u64,
    /// Limit baseline: claims, starts and ends in those batches.
    #[serde(default)]
    pub(crate) limit_operations: u64,
}

impl RunResult {
    /// Executions per second over the baseline's `INSERT`s per second.
    pub(crate) fn ratio(&self) -> Option<f64> {
        let rate = self.executions_per_s?;
        (self.baseline_per_s > 0.0).then(|| rate / self.baseline_per_s)
    }

    /// Executions per second over the limit baseline's runs per second:
    /// ruqi ÷ its own SQL loop.
    pub(crate) fn limit_ratio(&self) -> Option<f64> {
        let rate = self.executions_per_s?;
        let limit = self.limit_per_s?;
        (limit > 0.0).then(|| rate / limit)
    }
}

/// One backend, way of reaching it and job count over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// How the runs reached it; `None` in results from before it was
    /// recorded (the section's run line says).
    #[serde(default)]
    pub(crate) transport: Option<Transport>,
    /// The same in words, e.g. ``over TCP to `127.0.0.1:5432` ``.
    #[serde(default)]
    pub(crate) via: Option<String>,
    /// Measured beside the headline: the server's Unix socket when its URL
    /// goes over TCP.
    #[serde(default)]
    pub(crate) beside: bool,
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
    /// The limit baseline's runs per second.
    #[serde(default)]
    pub(crate) limit_per_s: Option<Spread>,
    /// Executions ÷ the limit baseline, run by run.
    #[serde(default)]
    pub(crate) limit_ratio: Option<Spread>,
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
            transport: None,
            via: None,
            beside: false,
            jobs,
            executions_per_s: over(|r| r.executions_per_s),
            baseline_per_s: over(|r| Some(r.baseline_per_s)),
            ratio: over(RunResult::ratio),
            sequential_per_s: over(|r| Some(r.sequential_per_s)),
            limit_per_s: over(|r| r.limit_per_s),
            limit_ratio: over(RunResult::limit_ratio),
            first_start_ms: over(|r| r.first_start_ms),
            lateness_p50_ms: over(|r| r.lateness_p50_ms),
            lateness_p99_ms: over(|r| r.lateness_p99_ms),
            recorded_p50_ms: over(|r| r.recorded_p50_ms),
            recorded_p99_ms: over(|r| r.recorded_p99_ms),
            slack_s: over(|r| Some(r.slack_s)),
            runs,
        }
    }

    /// The same row, saying how its runs reached the database and whether
    /// that was beside the headline (the URL's own way).
    pub(crate) fn over(mut self, transport: Transport, via: String, beside: bool) -> Row {
        self.transport = Some(transport);
        self.via = Some(via);
        self.beside = beside;
        self
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
    /// One row per measured backend, job count and way of reaching the
    /// database (the headline first).
    pub(crate) rows: Vec<Row>,
    /// Servers measured over their URL alone, and why not over a Unix
    /// socket beside it.
    #[serde(default)]
    pub(crate) no_socket: Vec<(Backend, String)>,
}

impl Report {
    /// The status of `backend`.
    pub(crate) fn status(&self, backend: Backend) -> Option<&BackendStatus> {
        self.backends.iter().find(|s| s.backend == backend)
    }

    /// The headline row for `backend` and `jobs`: reached as its URL says.
    pub(crate) fn row(&self, backend: Backend, jobs: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.backend == backend && r.jobs == jobs && !r.beside)
    }

    /// The row for `backend` and `jobs` measured over the Unix socket
    /// beside the headline, if there is one.
    pub(crate) fn socket_row(&self, backend: Backend, jobs: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.backend == backend && r.jobs == jobs && r.beside)
    }

    /// Median executions/s over TCP ÷ the same over the Unix socket, for
    /// `backend` and `jobs`, when both were measured.
    pub(crate) fn tcp_over_socket(&self, backend: Backend, jobs: usize) -> Option<f64> {
        let tcp = self
            .row(backend, jobs)
            .filter(|r| r.transport == Some(Transport::Tcp))?;
        let socket = self.socket_row(backend, jobs)?;
        let (tcp, socket) = (tcp.executions_per_s?.median, socket.executions_per_s?.median);
        (socket > 0.0).then(|| tcp / socket)
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

/// One way of reaching a backend's database that the runs are made over.
struct Way {
    /// `None`: as the URL says; otherwise the server's Unix socket.
    socket: Option<String>,
    /// Measured beside the headline.
    beside: bool,
    /// Runs of it so far at the current size.
    results: Vec<RunResult>,
}

/// Parent side: every available backend, job count and run, each in its
/// own child on fresh databases. A server whose URL goes over TCP to this
/// machine is also measured over its Unix socket (at [`BAR_JOBS`], or at
/// the one size of a quick run), the runs of the two alternating.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let sizes: &[usize] = if options.quick { &[2_000] } else { &[10_000, BAR_JOBS] };
    let runs = options.runs();
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    let mut no_socket = Vec::new();
    for backend in Backend::ALL {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped("throughput", backend, why));
            continue;
        }
        let socket = match backend.url_transport() {
            Some(Transport::Tcp) => match backend.local_socket() {
                Ok(path) => Some(path),
                Err(why) => {
                    eprintln!("throughput: {} over TCP alone: {why}", backend.label());
                    no_socket.push((backend, why));
                    None
                }
            },
            _ => None,
        };
        let mut version = None;
        for &jobs in sizes {
            // Two runs at the largest size: each is minutes long at today's rates.
            let runs = if jobs >= BAR_JOBS { runs.min(2) } else { runs };
            let mut ways = vec![Way {
                socket: None,
                beside: false,
                results: Vec::new(),
            }];
            if let Some(path) = socket.clone().filter(|_| options.quick || jobs >= BAR_JOBS) {
                ways.push(Way {
                    socket: Some(path),
                    beside: true,
                    results: Vec::new(),
                });
            }
            for run in 1..=runs.max(SOCKET_RUNS) {
                for way in &mut ways {
                    let runs_of_way = if way.beside && !options.quick {
                        SOCKET_RUNS
                    } else {
                        runs
                    };
                    if run > runs_of_way {
                        continue;
                    }
                    let (_, via) = backend::reach(backend, way.socket.as_deref());
                    eprintln!(
                        "throughput: {} {via}, {} one-shot jobs due at once, run {run}/{runs_of_way}",
                        backend.label(),
                        thousands(jobs)
                    );
                    let result = run_with_lead(backend, jobs, way.socket.clone()).await?;
                    eprintln!("  {}", progress_line(&result, jobs));
                    version.get_or_insert_with(|| result.version.clone());
                    way.results.push(result);
                }
            }
            for way in ways {
                let (transport, via) = backend::reach(backend, way.socket.as_deref());
                rows.push(Row::new(backend, jobs, way.results).over(transport, via, way.beside));
            }
        }
        backends.push(BackendStatus {
            backend,
            version,
            skipped: None,
        });
    }
    Ok(Report {
        runs,
        backends,
        rows,
        no_socket,
    })
}

/// One run, repeated with a longer lead while start-up overruns it.
async fn run_with_lead(backend: Backend, jobs: usize, socket: Option<String>) -> Result<RunResult> {
    let mut lead = lead(jobs);
    let mut attempt = 1;
    loop {
        let result = run_once(backend, jobs, lead, socket.clone())
            .await
            .with_context(|| format!("the throughput scenario on {}", backend.label()))?;
        if !result.overran {
            return Ok(result);
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
    }
}

/// One run in a child on three fresh databases, removed after; the child
/// reaches them over `socket` when set, else as the URL says.
async fn run_once(backend: Backend, jobs: usize, lead: Duration, socket: Option<String>) -> Result<RunResult> {
    let mut databases = Vec::new();
    for purpose in [NAME, "throughput-baseline", "throughput-limit"] {
        match RunDatabase::create(backend, purpose).await {
            Ok(database) => databases.push(database),
            Err(error) => {
                for database in databases {
                    database.remove().await;
                }
                return Err(error);
            }
        }
    }
    let target = |i: usize| databases[i].target().over_socket(socket.clone());
    let config = Config {
        target: target(0),
        baseline: target(1),
        limit: target(2),
        jobs,
        lead_ms: u64::try_from(lead.as_millis()).unwrap_or(u64::MAX),
    };
    // The lead, the runs at no less than 100 per second, the baselines at
    // no less than 200 rows and 100 runs per second, the stall limit, and
    // room to spare.
    let per_job = Duration::from_millis(1000 / 100 + 1000 / 200 + 1000 / 100);
    let limit = lead + per_job * u32::try_from(jobs).unwrap_or(u32::MAX) + STALL_LIMIT + Duration::from_secs(180);
    let result = run_in_child(NAME, &config, limit).await;
    for database in databases {
        database.remove().await;
    }
    result
}

fn progress_line(result: &RunResult, jobs: usize) -> String {
    let optional = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
    let mut line = format!(
        "{}: {} executions/s ({} of {} jobs ran, {:.2} s after T), lateness p50 {} ms, p99 {} ms; \
         its own SQL loop {} runs/s ({} operations per batch); \
         baseline {:.0} INSERTs/s over {} connection(s), {:.0}/s one at a time; writing {:.2} s, start-up {:.2} s, \
         over {:.1} s before T",
        result.version,
        optional(result.executions_per_s),
        thousands(jobs - result.lost),
        thousands(jobs),
        result.duration_s,
        optional(result.lateness_p50_ms),
        optional(result.lateness_p99_ms),
        optional(result.limit_per_s),
        optional((result.limit_batches > 0).then(|| result.limit_operations as f64 / result.limit_batches as f64)),
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
    let ends = EndCounter::spawn(scheduler.events(), JOB_PREFIX, config.jobs, due_at)?;
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
    let confirmed = confirm_in_database(&db, JOB_PREFIX, config.jobs).await?;
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

    let limit = limit::measure(&config.limit, config.jobs).await?;

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
        limit_per_s: Some(limit.runs_per_s),
        limit_batches: limit.batches,
        limit_operations: limit.operations,
    })
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
        args: Set(None),
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
}
