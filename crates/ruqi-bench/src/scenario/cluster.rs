//! `cluster`: three processes, each with its own scheduler, sharing one
//! database: does every fire run exactly once, and do the processes share
//! the work?
//!
//! The parent creates a fresh database of one backend (see
//! [`crate::backend`]), writes N one-shot jobs (trigger `date`) all due at one
//! instant T and a few fast interval jobs, and starts three children at once.
//! Each child starts a scheduler with a node name of its own, says it is
//! ready, counts the runs it ends (the scheduler's events, on a thread of its
//! own), and keeps running until the parent closes its stdin. The parent
//! polls `job_execution` until every one-shot job has a `success` row (or
//! the count stops growing), stops the children, and then reads from the
//! database: fires that ran more than once, jobs that never ran, and each
//! process's share of the runs (`job_execution.node`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use ruqi::entity::{job_execution, job_info};
use ruqi::{EventStream, JobContext, Registry, SchedulerEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Options;
use super::feed::BackendStatus;
use super::throughput::MISFIRE_GRACE_S;
use crate::backend::{self, Backend, Pool, RunDatabase, Target};
use crate::child::{self, RunningChild, start_child};
use crate::db;
use crate::report::{Bar, Section, run_line, spread, thousands};
use crate::stats::Spread;

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "cluster";

/// Processes sharing the database.
pub(crate) const NODES: usize = 3;
/// The function every job runs: it returns at once.
const FUNC: &str = "bench_cluster_trivial";
/// Prefix of the one-shot jobs' ids.
const ONE_SHOT_PREFIX: &str = "cls-";
/// Prefix of the interval jobs' ids.
const INTERVAL_PREFIX: &str = "clt-";
/// Interval jobs firing throughout the run.
const INTERVAL_JOBS: usize = 5;
/// Their rule.
const INTERVAL_RULE: &str = "500ms";
/// How long the parent waits for the count of runs to grow before it
/// stops waiting and counts the rest as lost.
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// How often the parent counts the runs in `job_execution`.
const POLL: Duration = Duration::from_millis(100);
/// The bar: each process's share of the runs within this fraction of a third.
pub(crate) const BAR_SHARE_TOLERANCE: f64 = 0.20;

/// What one child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The shared database, written by the parent.
    pub(crate) target: Target,
    /// This process's node name.
    pub(crate) node: String,
}

/// What one child (one node) saw of its own runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct NodeResult {
    /// The node name.
    pub(crate) node: String,
    /// Seconds `start()` took.
    pub(crate) start_s: f64,
    /// When `start()` had returned.
    pub(crate) ready_at: Option<DateTime<Utc>>,
    /// `succeeded` events of one-shot jobs.
    pub(crate) one_shot_succeeded: usize,
    /// When the last of them arrived.
    pub(crate) last_end: Option<DateTime<Utc>>,
    /// `succeeded` events of interval jobs.
    pub(crate) interval_succeeded: usize,
    /// Runs that ended any other way (failed, timed out, cancelled).
    pub(crate) other_ends: usize,
    /// Fires the scheduler recorded as missed or skipped.
    pub(crate) missed: usize,
    /// Events the counter skipped because it fell behind.
    pub(crate) events_dropped: u64,
}

/// One process's part of the one-shot runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Share {
    /// The node.
    pub(crate) node: String,
    /// `success` rows of one-shot jobs it wrote.
    pub(crate) runs: usize,
    /// Its fraction of the N jobs.
    pub(crate) share: f64,
    /// (share − ⅓) ÷ ⅓.
    pub(crate) deviation: f64,
}

/// One run: three processes on one fresh database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Seconds the parent took to write the jobs.
    pub(crate) seed_s: f64,
    /// Seconds between the last process being ready and T (positive: all
    /// three were idle before anything was due).
    pub(crate) slack_s: f64,
    /// N ÷ seconds from T until the last run's end was recorded; `None`
    /// when not every job ran.
    pub(crate) executions_per_s: Option<f64>,
    /// Seconds from T until the last end was recorded (or the wait gave up).
    pub(crate) duration_s: f64,
    /// Whether that instant is the latest `succeeded` event of any process
    /// (`true`) or, when a counter skipped events, the parent's poll that
    /// first found every row (`false`).
    pub(crate) end_from_events: bool,
    /// (job, instant) pairs with more than one `job_execution` row.
    pub(crate) duplicate_fires: usize,
    /// Rows beyond the first of those pairs.
    pub(crate) duplicate_rows: usize,
    /// One-shot jobs with no `success` row.
    pub(crate) lost: usize,
    /// Each process's share of the one-shot runs.
    pub(crate) shares: Vec<Share>,
    /// `success` rows of the interval jobs, all processes together.
    pub(crate) interval_runs: usize,
    /// Rows of any status but `success`, as `status: count`.
    pub(crate) other_rows: Vec<(String, usize)>,
    /// What each process saw.
    pub(crate) nodes: Vec<NodeResult>,
}

impl RunResult {
    /// The share farthest from a third, as a signed deviation.
    pub(crate) fn worst_deviation(&self) -> Option<f64> {
        self.shares
            .iter()
            .map(|s| s.deviation)
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
    }

    /// Whether the run keeps the bar: nothing ran twice, nothing was lost,
    /// every share within the tolerance.
    pub(crate) fn passes(&self) -> bool {
        self.duplicate_fires == 0
            && self.lost == 0
            && self.shares.len() == NODES
            && self.shares.iter().all(|s| s.deviation.abs() <= BAR_SHARE_TOLERANCE)
    }
}

/// One backend over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// One-shot jobs per run.
    pub(crate) jobs: usize,
    /// Every run, in order.
    pub(crate) runs: Vec<RunResult>,
    /// Executions per second, all processes together, over complete runs.
    pub(crate) executions_per_s: Option<Spread>,
    /// The smallest share in each run, as a percentage.
    pub(crate) min_share_pct: Option<Spread>,
    /// The largest share in each run, as a percentage.
    pub(crate) max_share_pct: Option<Spread>,
    /// Seconds between the last process being ready and T.
    pub(crate) slack_s: Option<Spread>,
}

impl Row {
    /// Summarises the runs on one backend.
    pub(crate) fn new(backend: Backend, jobs: usize, runs: Vec<RunResult>) -> Row {
        let share_pct = |pick: fn(f64, f64) -> f64| {
            Spread::of(
                runs.iter()
                    .filter_map(|r| r.shares.iter().map(|s| 100.0 * s.share).reduce(pick)),
            )
        };
        Row {
            backend,
            jobs,
            executions_per_s: Spread::of(runs.iter().filter_map(|r| r.executions_per_s)),
            min_share_pct: share_pct(f64::min),
            max_share_pct: share_pct(f64::max),
            slack_s: Spread::of(runs.iter().map(|r| r.slack_s)),
            runs,
        }
    }

    /// Duplicate fires over every run.
    pub(crate) fn duplicate_fires(&self) -> usize {
        self.runs.iter().map(|r| r.duplicate_fires).sum()
    }

    /// Lost jobs over every run.
    pub(crate) fn lost(&self) -> usize {
        self.runs.iter().map(|r| r.lost).sum()
    }

    /// The deviation farthest from a third over every run.
    pub(crate) fn worst_deviation(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter_map(RunResult::worst_deviation)
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
    }
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Runs per backend.
    pub(crate) runs: usize,
    /// Every backend this scenario runs on, measured or not.
    pub(crate) backends: Vec<BackendStatus>,
    /// One row per measured backend.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The status of `backend`.
    pub(crate) fn status(&self, backend: Backend) -> Option<&BackendStatus> {
        self.backends.iter().find(|s| s.backend == backend)
    }

    fn label(&self, backend: Backend) -> &'static str {
        self.status(backend).map_or(backend.label(), BackendStatus::label)
    }
}

/// The backends the scenario runs on: the servers (several processes on
/// one SQLite file is a setup the README advises only for light loads).
pub(crate) const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::MySql];

/// How long before T the jobs are written: room for three processes
/// starting at once on two cores to load them.
fn lead(jobs: usize) -> Duration {
    Duration::from_secs(4) + Duration::from_micros(200) * u32::try_from(jobs).unwrap_or(u32::MAX)
}

/// The node name of the `index`th process.
fn node_name(index: usize) -> String {
    format!("bench-node-{}", index + 1)
}

/// Parent side: `runs` runs on every available server backend.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let jobs = if options.quick { 3_000 } else { 30_000 };
    let runs = options.runs();
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    for backend in BACKENDS {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped("cluster", backend, why));
            continue;
        }
        let mut results = Vec::new();
        for run in 1..=runs {
            eprintln!(
                "cluster: {}, {NODES} processes, {} one-shot jobs due at once + {INTERVAL_JOBS} interval jobs, run {run}/{runs}",
                backend.label(),
                thousands(jobs)
            );
            let database = RunDatabase::create(backend, NAME).await?;
            let result = run_once(&database, jobs).await;
            database.remove().await;
            let result = result.with_context(|| format!("the cluster scenario on {}", backend.label()))?;
            eprintln!("  {}", progress_line(&result, jobs));
            results.push(result);
        }
        backends.push(BackendStatus {
            backend,
            version: results.first().map(|r| r.version.clone()),
            skipped: None,
        });
        rows.push(Row::new(backend, jobs, results));
    }
    Ok(Report { runs, backends, rows })
}

fn progress_line(result: &RunResult, jobs: usize) -> String {
    let shares: Vec<String> = result
        .shares
        .iter()
        .map(|s| format!("{} {:.1} %", s.node, 100.0 * s.share))
        .collect();
    format!(
        "{}: {} executions/s ({} of {} jobs ran, {:.2} s after T); {} duplicate fire(s), {} lost; shares {}; \
         {} interval runs; last process ready {:.1} s before T",
        result.version,
        result
            .executions_per_s
            .map_or_else(|| "—".to_owned(), |r| format!("{r:.0}")),
        thousands(jobs - result.lost),
        thousands(jobs),
        result.duration_s,
        result.duplicate_fires,
        result.lost,
        shares.join(", "),
        result.interval_runs,
        result.slack_s,
    )
}

/// One run on `database`: seed, three children, wait, stop, check.
async fn run_once(database: &RunDatabase, jobs: usize) -> Result<RunResult> {
    let target = database.target();
    let db = target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let version = backend::server_version(&db).await?;
    let seeding = Instant::now();
    let now = Utc::now();
    let lead = lead(jobs);
    let due_at = (now + chrono::Duration::from_std(lead)?).duration_trunc(chrono::Duration::milliseconds(1))?;
    db::insert_jobs(&db, seeded_jobs(jobs, due_at, now)).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    // Each child runs until it is stopped: the lead, the runs at no less
    // than 100 per second, the stall limit, and room to spare.
    let limit = lead + Duration::from_millis(10) * u32::try_from(jobs)? + STALL_LIMIT + Duration::from_secs(180);
    let mut children: Vec<RunningChild> = (0..NODES)
        .map(|i| {
            let config = Config {
                target: target.clone(),
                node: node_name(i),
            };
            start_child(NAME, &config, limit)
        })
        .collect::<Result<_>>()?;
    let mut last_ready: Option<DateTime<Utc>> = None;
    for child in &mut children {
        let ready_at = DateTime::parse_from_rfc3339(child.ready().await?.trim())
            .context("reading a node's ready instant")?
            .with_timezone(&Utc);
        last_ready = last_ready.max(Some(ready_at));
    }
    let slack_s = last_ready.map_or(0.0, |ready| ms(ready, due_at) / 1000.0);
    ensure!(
        slack_s > 0.0,
        "the last process was ready {:.2} s after the jobs were due; the lead of {} ms is too short",
        -slack_s,
        lead.as_millis()
    );

    let confirmed = wait_for_every_run(&db, jobs, due_at).await?;
    let nodes: Vec<NodeResult> = futures::future::try_join_all(children.into_iter().map(RunningChild::stop)).await?;

    let checked = check_rows(&db, jobs, &nodes).await?;
    let complete = confirmed.complete && checked.lost == 0;
    let all_seen = nodes.iter().all(|n| n.events_dropped == 0)
        && nodes.iter().map(|n| n.one_shot_succeeded).sum::<usize>() == checked.one_shot_success_rows;
    let last_event = nodes.iter().filter_map(|n| n.last_end).max();
    let (last_end, end_from_events) = match last_event {
        Some(last) if all_seen => (last, true),
        _ => (confirmed.at, false),
    };
    let duration_s = ms(due_at, last_end) / 1000.0;
    Ok(RunResult {
        version,
        seed_s,
        slack_s,
        executions_per_s: (complete && duration_s > 0.0).then(|| jobs as f64 / duration_s),
        duration_s,
        end_from_events,
        duplicate_fires: checked.duplicate_fires,
        duplicate_rows: checked.duplicate_rows,
        lost: checked.lost,
        shares: checked.shares,
        interval_runs: checked.interval_runs,
        other_rows: checked.other_rows,
        nodes,
    })
}

/// `jobs` one-shot jobs due at `due_at` (misfire grace [`MISFIRE_GRACE_S`]:
/// each runs however late) and [`INTERVAL_JOBS`] interval jobs (default
/// grace) whose first fire is `due_at`, all written as the scheduler leaves
/// a scheduled row, so that start-up writes nothing back.
fn seeded_jobs(jobs: usize, due_at: DateTime<Utc>, now: DateTime<Utc>) -> impl Iterator<Item = job_info::ActiveModel> {
    let rule = due_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let one_shots = (0..jobs).map(move |i| {
        let mut row = db::interval_job(format!("{ONE_SHOT_PREFIX}{i:06}"), FUNC, "1d", now, due_at);
        row.trigger = Set("date".to_owned());
        row.rule = Set(rule.clone());
        row.misfire_grace_s = Set(MISFIRE_GRACE_S);
        row
    });
    let step = ruqi::trigger::parse_interval(INTERVAL_RULE).unwrap_or_else(|_| chrono::Duration::milliseconds(500));
    let intervals = (0..INTERVAL_JOBS).map(move |i| {
        db::interval_job(
            format!("{INTERVAL_PREFIX}{i:02}"),
            FUNC,
            INTERVAL_RULE,
            due_at - step,
            due_at,
        )
    });
    one_shots.chain(intervals)
}

/// Milliseconds from `from` to `to`.
fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// The parent's count of one-shot `success` rows.
struct Confirmed {
    /// Whether every one-shot job had one.
    complete: bool,
    /// When the poll first found them all (or the last poll, if never).
    at: DateTime<Utc>,
}

/// Polls `job_execution` every [`POLL`] until every one-shot job has a
/// `success` row, or the count has not grown for [`STALL_LIMIT`] since the
/// jobs were due. The processes are separate, so the database is the one
/// place that sees all of their runs.
async fn wait_for_every_run(db: &DatabaseConnection, jobs: usize, due_at: DateTime<Utc>) -> Result<Confirmed> {
    let until_due = (due_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(until_due).await;
    let mut last_count = 0;
    let mut last_growth = Instant::now();
    loop {
        let count = usize::try_from(
            job_execution::Entity::find()
                .filter(job_execution::Column::JobId.starts_with(ONE_SHOT_PREFIX))
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
        tokio::time::sleep(POLL).await;
    }
}

/// What the `job_execution` rows say once every process has stopped.
struct Checked {
    one_shot_success_rows: usize,
    duplicate_fires: usize,
    duplicate_rows: usize,
    lost: usize,
    shares: Vec<Share>,
    interval_runs: usize,
    other_rows: Vec<(String, usize)>,
}

/// Runs `sql` and returns each row's first column as text and second as a count.
async fn counted_by(db: &DatabaseConnection, sql: &str) -> Result<Vec<(Option<String>, usize)>> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql))
        .await?
        .into_iter()
        .map(|row| {
            let key: Option<String> = row.try_get_by_index(0)?;
            let count: i64 = row.try_get_by_index(1)?;
            Ok((key, usize::try_from(count)?))
        })
        .collect()
}

/// Reads the verdict from the database: duplicates over every job, lost
/// one-shot jobs, the processes' shares.
async fn check_rows(db: &DatabaseConnection, jobs: usize, nodes: &[NodeResult]) -> Result<Checked> {
    let duplicates = counted_by(
        db,
        "SELECT job_id, COUNT(*) FROM job_execution GROUP BY job_id, scheduled_for HAVING COUNT(*) > 1",
    )
    .await?;
    let one_shot = format!("job_id LIKE '{ONE_SHOT_PREFIX}%'");
    let per_node = counted_by(
        db,
        &format!("SELECT node, COUNT(*) FROM job_execution WHERE {one_shot} AND status = 'success' GROUP BY node"),
    )
    .await?;
    let ran = counted_by(
        db,
        &format!("SELECT 'jobs', COUNT(DISTINCT job_id) FROM job_execution WHERE {one_shot} AND status = 'success'"),
    )
    .await?;
    // Missed fires by why: a fire the processes got to more than one interval
    // late is coalesced into the next, one later than its grace is skipped.
    let statuses = counted_by(
        db,
        "SELECT CASE WHEN status <> 'missed' THEN status \
         WHEN error LIKE 'coalesced%' THEN 'missed: coalesced' \
         WHEN error LIKE 'missed by%' THEN 'missed: beyond the grace' \
         WHEN error LIKE 'skipped%' THEN 'missed: overlap' \
         ELSE 'missed: other' END, COUNT(*) FROM job_execution GROUP BY 1",
    )
    .await?;
    let interval_runs = usize::try_from(
        job_execution::Entity::find()
            .filter(job_execution::Column::JobId.starts_with(INTERVAL_PREFIX))
            .filter(job_execution::Column::Status.eq("success"))
            .count(db)
            .await?,
    )?;

    let distinct_ran = ran.first().map_or(0, |(_, n)| *n);
    let mut by_node: BTreeMap<String, usize> = nodes.iter().map(|n| (n.node.clone(), 0)).collect();
    for (node, runs) in per_node {
        *by_node.entry(node.unwrap_or_else(|| "(none)".to_owned())).or_default() += runs;
    }
    let third = 1.0 / NODES as f64;
    let shares = by_node
        .into_iter()
        .map(|(node, runs)| {
            let share = runs as f64 / jobs.max(1) as f64;
            Share {
                node,
                runs,
                share,
                deviation: (share - third) / third,
            }
        })
        .collect::<Vec<_>>();
    Ok(Checked {
        one_shot_success_rows: shares.iter().map(|s| s.runs).sum(),
        duplicate_fires: duplicates.len(),
        duplicate_rows: duplicates.iter().map(|(_, n)| n - 1).sum(),
        lost: jobs.saturating_sub(distinct_ran),
        shares,
        interval_runs,
        other_rows: statuses
            .into_iter()
            .filter_map(|(status, n)| {
                let status = status.unwrap_or_default();
                (status != "success").then_some((status, n))
            })
            .collect(),
    })
}

/// Child side: one node. Starts its scheduler on the shared database, says
/// it is ready, and counts its runs until the parent asks it to stop.
pub(crate) async fn measure(config: Config) -> Result<NodeResult> {
    let db = config.target.connect(Pool::Default).await?;
    let mut registry = Registry::new();
    registry.register(FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let starting = Instant::now();
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name(&config.node)
        .start()
        .await?;
    let start_s = starting.elapsed().as_secs_f64();
    // Ready once every process is in the registry as this one sees it: from
    // then on the nodes agree on who owns which job.
    let all_joined = async {
        while scheduler.status().nodes.len() < NODES {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all_joined)
        .await
        .context("the other processes did not appear in the node registry within 60 s")?;
    let (stop, stopped) = watch::channel(false);
    let counter = NodeCounter::spawn(scheduler.events(), stopped)?;
    let ready_at = Utc::now();
    child::announce_ready(&ready_at.to_rfc3339_opts(SecondsFormat::Micros, true))?;

    child::stop_requested().await;
    // Nothing is lost by stopping the count first: every one-shot run had
    // ended before the parent asked.
    let _ = stop.send(true);
    let mut result = counter.finish().await?;
    let _ = tokio::time::timeout(Duration::from_secs(30), scheduler.shutdown()).await;
    result.node = config.node;
    result.start_s = start_s;
    result.ready_at = Some(ready_at);
    Ok(result)
}

/// Counts one node's runs on a thread of its own, so that the run tasks on
/// the runtime's workers cannot starve it past the event stream's buffer.
struct NodeCounter {
    thread: std::thread::JoinHandle<Result<NodeResult>>,
}

impl NodeCounter {
    fn spawn(mut events: EventStream, mut stopped: watch::Receiver<bool>) -> Result<NodeCounter> {
        let thread = std::thread::Builder::new()
            .name("bench-node-counter".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
                runtime.block_on(async move {
                    let mut seen = NodeResult::default();
                    loop {
                        let event = tokio::select! {
                            event = events.next() => event,
                            _ = stopped.wait_for(|stop| *stop) => None,
                        };
                        seen.events_dropped = events.dropped();
                        let Some(event) = event else {
                            return Ok(seen);
                        };
                        let arrived = Utc::now();
                        match &event {
                            SchedulerEvent::Succeeded(run) if run.job_id.starts_with(ONE_SHOT_PREFIX) => {
                                seen.one_shot_succeeded += 1;
                                seen.last_end = Some(arrived);
                            }
                            SchedulerEvent::Succeeded(_) => seen.interval_succeeded += 1,
                            SchedulerEvent::Missed(_) | SchedulerEvent::SkippedOverlap(_) => seen.missed += 1,
                            other if other.run_ended().is_some() => seen.other_ends += 1,
                            _ => {}
                        }
                    }
                })
            })
            .context("starting the node's event counter")?;
        Ok(NodeCounter { thread })
    }

    async fn finish(self) -> Result<NodeResult> {
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow!("the node's event counter panicked"))?
    }
}

/// The cluster section of `BENCHMARKS.md`.
pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Several processes on one database (`cluster`)\n\n");
    md.push_str(&run_line(section));
    let jobs = report.rows.first().map_or(0, |r| r.jobs);
    let _ = write!(
        md,
        "Whether every fire runs exactly once and the work spreads when {NODES} processes share a database. Each \
         run creates a fresh database on the server (`CREATE DATABASE ruqi_b_…`, dropped after); the parent \
         writes {jobs} one-shot jobs (trigger `date`, `misfire_grace_s` = {grace}, so that each runs however late) \
         all due at one instant T and {INTERVAL_JOBS} interval jobs (`{INTERVAL_RULE}`, first fire at T, default \
         policy), whose function returns at once, and starts {NODES} child processes at the same moment. Each starts its own scheduler (`ruqi::scheduler(db, registry).node_name(…)`, default \
         settings, sea-orm's default pool), waits until its node list shows all {NODES} processes, tells the \
         parent it is ready (all were, before T: see the last column), counts its runs from its event stream, and runs until the parent closes its stdin. The parent \
         polls `job_execution` every {poll} ms from T on until each one-shot job has a `success` row (or the \
         count has not grown for {stall} s), then stops the processes and reads the database:\n\n\
         - **executions/s** = N ÷ (the latest instant any process received a `succeeded` event for a one-shot \
         job − T): the scheduler sends it after recording the run's end, so that is when the last end was \
         recorded (the processes share the machine's clock). If a counter skipped events, the parent's poll \
         that found every row stands in.\n\
         - **duplicates**: (job, `scheduled_for`) pairs with more than one `job_execution` row, over every job, \
         interval jobs included — a fire run more than once. Must be 0.\n\
         - **lost**: one-shot jobs with no `success` row. Must be 0.\n\
         - **shares**: each process's `success` rows of one-shot jobs (`job_execution.node`) ÷ N, and its \
         deviation from a third: (share − ⅓) ÷ ⅓. Each must be within ±{tolerance:.0} %.\n\
         - **rows of other statuses**: every other `job_execution` row, `missed` ones by the reason ruqi gave: \
         *coalesced* (when an interval job's fire is claimed more than one interval late, only its latest due \
         instant runs and the earlier ones are recorded as missed), *overlap* (the fire came while the \
         claiming process still counted the job's previous run as in progress, `overlap = skip`), *beyond \
         the grace* (later than `misfire_grace_s`).\n\n\
         {runs} run(s) per backend; figures are the median over runs with the range in brackets. There is no \
         SQLite row: several processes on one SQLite file suits light loads only (see the README).\n\n",
        jobs = thousands(jobs),
        grace = thousands(usize::try_from(MISFIRE_GRACE_S).unwrap_or_default()),
        poll = POLL.as_millis(),
        stall = STALL_LIMIT.as_secs(),
        tolerance = 100.0 * BAR_SHARE_TOLERANCE,
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
    let _ = write!(
        md,
        "Backends measured: {}.",
        if measured.is_empty() {
            "none".to_owned()
        } else {
            measured.join(", ")
        }
    );
    if !skipped.is_empty() {
        let _ = write!(md, " Not measured: {}.", skipped.join(", "));
    }
    md.push_str("\n\n");
    md.push_str(
        "| backend | jobs (N) | executions/s, 3 processes | duplicates | lost | smallest share | largest share \
         | worst deviation from ⅓ | interval runs per run | last process ready before T (s) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let mut rate = spread(row.executions_per_s, 0);
        let incomplete = row.runs.iter().filter(|r| r.executions_per_s.is_none()).count();
        if incomplete > 0 {
            let _ = write!(rate, " (**{incomplete} of {} runs incomplete**)", row.runs.len());
        }
        if row
            .runs
            .iter()
            .any(|r| r.executions_per_s.is_some() && !r.end_from_events)
        {
            rate.push_str(" (end from the poll)");
        }
        let flag = |n: usize| if n == 0 { "0".to_owned() } else { format!("❌ **{n}**") };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} % | {} % | {} | {} | {} |",
            report.label(row.backend),
            thousands(row.jobs),
            rate,
            flag(row.duplicate_fires()),
            flag(row.lost()),
            spread(row.min_share_pct, 1),
            spread(row.max_share_pct, 1),
            row.worst_deviation().map_or_else(|| "—".to_owned(), signed_pct),
            spread(Spread::of(row.runs.iter().map(|r| r.interval_runs as f64)), 0),
            spread(row.slack_s, 1),
        );
    }
    md.push_str("\nEach process's runs, run by run (`success` rows of one-shot jobs, from `job_execution.node`):\n\n");
    md.push_str("| backend | run | ");
    md.push_str(&(1..=NODES).map(|i| format!("node {i}")).collect::<Vec<_>>().join(" | "));
    md.push_str(" | rows of other statuses |\n|---|---:|");
    md.push_str(&"---:|".repeat(NODES));
    md.push_str("---|\n");
    for row in &report.rows {
        for (index, run) in row.runs.iter().enumerate() {
            let cells: Vec<String> = run
                .shares
                .iter()
                .map(|s| format!("{} ({:.1} %)", thousands(s.runs), 100.0 * s.share))
                .collect();
            let others: Vec<String> = run.other_rows.iter().map(|(s, n)| format!("`{s}` {n}")).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                report.label(row.backend),
                index + 1,
                cells.join(" | "),
                if others.is_empty() {
                    "none".to_owned()
                } else {
                    others.join(", ")
                }
            );
        }
    }
    md.push('\n');
    md
}

/// A fraction as a signed percentage with a real minus sign.
fn signed_pct(fraction: f64) -> String {
    let pct = 100.0 * fraction;
    if pct < 0.0 {
        format!("−{:.1} %", -pct)
    } else {
        format!("+{pct:.1} %")
    }
}

/// One bar per server backend: no duplicates, nothing lost, shares within
/// [`BAR_SHARE_TOLERANCE`] of a third.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    BACKENDS
        .into_iter()
        .map(|backend| {
            let label = report.map_or(backend.label(), |r| r.label(backend));
            let what = format!(
                "{label}: {NODES} processes on one database: 0 duplicate runs, 0 lost jobs, each process's share \
                 within {:.0} % of a third (cluster)",
                100.0 * BAR_SHARE_TOLERANCE
            );
            let Some(report) = report else {
                return Bar::unmeasured(what, "—");
            };
            if let Some(why) = report.status(backend).and_then(|s| s.skipped.as_ref()) {
                return Bar::unmeasured(what, format!("skipped: {why}"));
            }
            let Some(row) = report.rows.iter().find(|r| r.backend == backend) else {
                return Bar::unmeasured(what, "—");
            };
            Bar {
                measured: format!(
                    "{} duplicate(s), {} lost over {} run(s) of {} jobs; worst share deviation {}",
                    row.duplicate_fires(),
                    row.lost(),
                    row.runs.len(),
                    thousands(row.jobs),
                    row.worst_deviation().map_or_else(|| "—".to_owned(), signed_pct)
                ),
                pass: Some(!row.runs.is_empty() && row.runs.iter().all(RunResult::passes)),
                what,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(runs: [usize; NODES], duplicate_fires: usize, lost: usize) -> RunResult {
        let total: usize = runs.iter().sum();
        let third = 1.0 / NODES as f64;
        RunResult {
            duplicate_fires,
            lost,
            shares: runs
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let share = n as f64 / total as f64;
                    Share {
                        node: node_name(i),
                        runs: n,
                        share,
                        deviation: (share - third) / third,
                    }
                })
                .collect(),
            ..RunResult::default()
        }
    }

    #[test]
    fn the_bar_wants_no_duplicates_no_losses_and_even_shares() {
        assert!(run_with([1000, 1000, 1000], 0, 0).passes());
        // 1,190 of 3,000 is 19 % above a third; 1,210 is 21 %.
        assert!(run_with([1190, 905, 905], 0, 0).passes());
        assert!(!run_with([1210, 895, 895], 0, 0).passes());
        assert!(!run_with([1000, 1000, 1000], 1, 0).passes());
        assert!(!run_with([1000, 1000, 1000], 0, 1).passes());
        let worst = run_with([1210, 895, 895], 0, 0).worst_deviation().unwrap();
        assert!((worst - 0.21).abs() < 1e-9, "{worst}");
    }

    #[test]
    fn seeded_jobs_fire_at_one_instant() {
        let now = Utc::now();
        let due_at = now + chrono::Duration::seconds(10);
        let rows: Vec<_> = seeded_jobs(4, due_at, now).collect();
        assert_eq!(rows.len(), 4 + INTERVAL_JOBS);
        assert!(rows.iter().all(|r| r.next_run_time.clone().unwrap() == Some(due_at)));
        assert_eq!(rows[0].trigger.clone().unwrap(), "date");
        assert_eq!(rows[4].trigger.clone().unwrap(), "interval");
    }

    #[test]
    fn deviations_are_signed() {
        assert_eq!(signed_pct(-0.032), "−3.2 %");
        assert_eq!(signed_pct(0.05), "+5.0 %");
    }
}
