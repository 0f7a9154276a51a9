//! `feed`: how long a schedule change made with plain SQL by another client
//! takes to reach a running scheduler through the change feed.
//!
//! Each child gets a fresh database of one backend (see [`crate::backend`]),
//! seeds `idle_jobs` idle jobs, two probe jobs and `bulk_rows` bulk jobs
//! (cron rules whose fires are years away, so nothing runs), and starts
//! the scheduler with the feed's default settings. Then, on a connection of
//! its own, it flips a probe's rule between two cron rules with known next
//! fires, in autocommit:
//!
//! - direct: `UPDATE job_info SET rule = … WHERE job_id = …`. Commit = the
//!   instant the statement returned; applied = the first instant
//!   `scheduler.live(job).next_run_time` is the new rule's fire, checked at
//!   every `subscribe_changes()` notification by a task started before the
//!   edit. A random pause in `[0, poll_interval)` before each edit lands the
//!   commits at random phases of the feed's poll.
//! - hook (the baseline): the same edit through `job_info::ActiveModel::update`,
//!   whose hook announces it to the scheduler in-process; from `update()`
//!   returning to applied.
//! - bulk: one `UPDATE` of every bulk row; from its return until the first
//!   and until the last of them is applied.
//!
//! One direct and one hook edit warm the connections up before the counted ones.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, ensure};
use chrono::{DateTime, TimeZone, Utc};
use ruqi::entity::job_info;
use ruqi::{FeedConfig, JobContext, Registry, Scheduler, SeaOrmStore};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Options;
use crate::backend::{self, Backend, Pool, RunDatabase, Target};
use crate::child::run_in_child;
use crate::db::{self, IDLE_FUNC};
use crate::report::thousands;
use crate::stats::{percentile, sorted};

mod bars;

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "feed";

/// The probes' function; it never runs (their fires are years away).
const PROBE_FUNC: &str = "bench_feed_probe";
/// The job edited with plain SQL.
const DIRECT_JOB: &str = "feed-direct";
/// The job edited through the ORM (the hook path).
const HOOK_JOB: &str = "feed-hook";

/// Prefix of the jobs a bulk `UPDATE` changes.
const BULK_PREFIX: &str = "feed-bulk-";
/// Rows one bulk `UPDATE` changes.
pub(crate) const BULK_ROWS: usize = 1_000;
/// Jobs in every configuration besides the idle ones: the probes and the bulk jobs.
pub(crate) const MEASURED_JOBS: usize = 2 + BULK_ROWS;
/// Longest pause before a hook edit (the hook path does not depend on the poll).
const HOOK_PAUSE: Duration = Duration::from_millis(100);
/// How long an edit may take to be applied before it counts as never applied.
const APPLY_LIMIT: Duration = Duration::from_secs(60);

/// The two rules the probes alternate between, with their one fire each
/// (the zone is NULL: UTC). Years before 2038: on MariaDB, sqlx sends a
/// `DateTime<Utc>` as a `TIMESTAMP` parameter, and one past 2038-01-19 is
/// stored as NULL in the `DATETIME(6)` column.
pub(crate) const RULES: [(&str, i32); 2] = [("0 0 0 1 1 * 2036", 2036), ("0 0 0 1 1 * 2037", 2037)];

/// The fire of `RULES[index]`: midnight UTC on New Year's Day of its year.
fn fire_of(index: usize) -> Result<DateTime<Utc>> {
    let year = RULES[index].1;
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| anyhow!("no New Year's midnight in {year}"))
}

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The database (created empty by the parent).
    pub(crate) target: Target,
    /// Idle jobs in the table besides the measured ones.
    pub(crate) idle_jobs: usize,
    /// Single-row `UPDATE`s counted.
    pub(crate) direct_edits: usize,
    /// ORM updates counted.
    pub(crate) hook_edits: usize,
    /// Bulk `UPDATE`s counted.
    pub(crate) bulk_edits: usize,
    /// Rows each bulk `UPDATE` changes.
    pub(crate) bulk_rows: usize,
    /// The feed's poll interval.
    pub(crate) poll_interval_ms: u64,
}

/// What one child measured; every latency in milliseconds, in the order taken.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Seconds the seeding `INSERT`s took (not measured as anything).
    pub(crate) seed_s: f64,
    /// Seconds `start()` took.
    pub(crate) start_s: f64,
    /// Direct edits: commit (the `UPDATE` returned) → applied.
    pub(crate) direct_ms: Vec<f64>,
    /// Direct edits: how long the `UPDATE` statement took, call to return.
    pub(crate) direct_statement_ms: Vec<f64>,
    /// Direct edits: when each committed, in seconds after `start()`
    /// returned (to line outliers up with the scheduler's periodic work).
    #[serde(default)]
    pub(crate) direct_at_s: Vec<f64>,
    /// Hook edits: `update()` returned → applied.
    pub(crate) hook_ms: Vec<f64>,
    /// Hook edits: how long `update()` took (a read, the `UPDATE`, a read back off PostgreSQL).
    pub(crate) hook_call_ms: Vec<f64>,
    /// Bulk edits: commit → the first changed row applied.
    pub(crate) bulk_first_ms: Vec<f64>,
    /// Bulk edits: commit → every changed row applied.
    pub(crate) bulk_all_ms: Vec<f64>,
    /// Bulk edits: how long the `UPDATE` statement took.
    pub(crate) bulk_statement_ms: Vec<f64>,
    /// Edits not applied within [`APPLY_LIMIT`] (none is expected).
    pub(crate) unapplied: usize,
}

/// Percentiles of one kind of edit in one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Latency {
    /// Edits measured.
    pub(crate) samples: usize,
    /// Median.
    pub(crate) p50_ms: f64,
    /// 99th percentile by nearest rank: the largest sample below 100 samples.
    pub(crate) p99_ms: f64,
    /// Slowest.
    pub(crate) max_ms: f64,
    /// Fastest.
    pub(crate) min_ms: f64,
}

impl Latency {
    /// The percentiles of `samples`; `None` for none.
    pub(crate) fn of(samples: &[f64]) -> Option<Latency> {
        let sorted = sorted(samples.to_vec());
        Some(Latency {
            samples: sorted.len(),
            p50_ms: percentile(&sorted, 50.0)?,
            p99_ms: percentile(&sorted, 99.0)?,
            max_ms: percentile(&sorted, 100.0)?,
            min_ms: percentile(&sorted, 0.0)?,
        })
    }
}

/// One backend and table size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// Idle jobs besides the [`MEASURED_JOBS`].
    pub(crate) idle_jobs: usize,
    /// Direct edits, commit → applied.
    pub(crate) direct: Option<Latency>,
    /// Hook edits, `update()` returned → applied.
    pub(crate) hook: Option<Latency>,
    /// Bulk edits, commit → first row applied.
    pub(crate) bulk_first: Option<Latency>,
    /// Bulk edits, commit → every row applied.
    pub(crate) bulk_all: Option<Latency>,
    /// Median round trip of the single-row `UPDATE`: how far before its
    /// return the commit may have happened.
    pub(crate) statement_p50_ms: Option<f64>,
    /// The run's samples.
    pub(crate) run: RunResult,
}

impl Row {
    /// Summarises one run.
    pub(crate) fn new(backend: Backend, idle_jobs: usize, run: RunResult) -> Row {
        Row {
            backend,
            idle_jobs,
            direct: Latency::of(&run.direct_ms),
            hook: Latency::of(&run.hook_ms),
            bulk_first: Latency::of(&run.bulk_first_ms),
            bulk_all: Latency::of(&run.bulk_all_ms),
            statement_p50_ms: percentile(&sorted(run.direct_statement_ms.clone()), 50.0),
            run,
        }
    }

    /// Direct p50 over hook p50; `None` unless both are positive.
    pub(crate) fn p50_ratio(&self) -> Option<f64> {
        ratio(self.direct?.p50_ms, self.hook?.p50_ms)
    }

    /// The median over bulk edits of the rate at which the changed rows
    /// were applied once the first was: (rows − 1) ÷ (all − first).
    pub(crate) fn bulk_rows_per_second(&self, rows: usize) -> Option<f64> {
        let rates: Vec<f64> = self
            .run
            .bulk_first_ms
            .iter()
            .zip(&self.run.bulk_all_ms)
            .filter(|(first, all)| all > first)
            .map(|(first, all)| rows.saturating_sub(1) as f64 / ((all - first) / 1000.0))
            .collect();
        percentile(&sorted(rates), 50.0)
    }

    /// Direct p99 over hook p99; `None` unless both are positive.
    pub(crate) fn p99_ratio(&self) -> Option<f64> {
        ratio(self.direct?.p99_ms, self.hook?.p99_ms)
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

/// Whether and on what a backend was measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BackendStatus {
    /// The backend.
    pub(crate) backend: Backend,
    /// The database's version, when measured.
    pub(crate) version: Option<String>,
    /// Why it was not measured, when it was not.
    pub(crate) skipped: Option<String>,
}

impl BackendStatus {
    /// A backend `scenario` cannot use this run, and why; says so on stderr.
    pub(crate) fn skipped(scenario: &str, backend: Backend, why: String) -> BackendStatus {
        eprintln!("{scenario}: skipping {}: {why}", backend.label());
        BackendStatus {
            backend,
            version: None,
            skipped: Some(why),
        }
    }

    /// The backend's name in tables: MariaDB rather than MySQL when it is.
    pub(crate) fn label(&self) -> &'static str {
        self.backend.label_for(self.version.as_deref().unwrap_or(""))
    }

    /// The name and version, e.g. `` MariaDB (`10.11.19-MariaDB`) `` or, when
    /// the version names the product itself, `` `PostgreSQL 15.20` ``.
    pub(crate) fn describe(&self) -> String {
        match &self.version {
            Some(version) if version.starts_with(self.label()) => format!("`{version}`"),
            Some(version) => format!("{} (`{version}`)", self.label()),
            None => self.label().to_owned(),
        }
    }
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// The feed's poll interval.
    pub(crate) poll_interval_ms: u64,
    /// The rows a bulk `UPDATE` changes.
    pub(crate) bulk_rows: usize,
    /// Direct edits per configuration.
    pub(crate) direct_edits: usize,
    /// Hook edits per configuration.
    pub(crate) hook_edits: usize,
    /// Bulk edits per configuration.
    pub(crate) bulk_edits: usize,
    /// Every backend, measured or not.
    pub(crate) backends: Vec<BackendStatus>,
    /// One row per measured backend and size.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The status of `backend`.
    pub(crate) fn status(&self, backend: Backend) -> Option<&BackendStatus> {
        self.backends.iter().find(|s| s.backend == backend)
    }

    /// Table sizes measured, in order.
    pub(crate) fn sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self.rows.iter().map(|r| r.idle_jobs).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }
}

/// Parent side: every available backend and table size, each in its own
/// child on a fresh database.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let sizes: &[usize] = match (options.quick, options.full) {
        (_, true) => &[1_000, 10_000, 100_000],
        (true, false) => &[1_000],
        (false, false) => &[1_000, 10_000],
    };
    let (direct_edits, hook_edits, bulk_edits) = if options.quick { (8, 4, 1) } else { (50, 20, 3) };
    let poll_interval = FeedConfig::default().poll_interval;
    let poll_interval_ms = u64::try_from(poll_interval.as_millis()).unwrap_or(u64::MAX);
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    for backend in Backend::ALL {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped("feed", backend, why));
            continue;
        }
        let mut version = None;
        for &idle_jobs in sizes {
            eprintln!(
                "feed: {}, {} idle + {} measured jobs",
                backend.label(),
                thousands(idle_jobs),
                thousands(MEASURED_JOBS)
            );
            let database = RunDatabase::create(backend, NAME).await?;
            let config = Config {
                target: database.target(),
                idle_jobs,
                direct_edits,
                hook_edits,
                bulk_edits,
                bulk_rows: BULK_ROWS,
                poll_interval_ms,
            };
            let edits = u32::try_from(direct_edits + 2 * bulk_edits + 2).unwrap_or(u32::MAX);
            let limit = poll_interval * 2 * edits
                + APPLY_LIMIT * u32::try_from(bulk_edits).unwrap_or(1)
                + Duration::from_secs(300);
            let result: Result<RunResult> = run_in_child(NAME, &config, limit).await;
            database.remove().await;
            let result = result.with_context(|| format!("the feed scenario on {}", backend.label()))?;
            let row = Row::new(backend, idle_jobs, result);
            eprintln!("  {}", progress_line(&row));
            version.get_or_insert_with(|| row.run.version.clone());
            rows.push(row);
        }
        backends.push(BackendStatus {
            backend,
            version,
            skipped: None,
        });
    }
    Ok(Report {
        poll_interval_ms,
        bulk_rows: BULK_ROWS,
        direct_edits,
        hook_edits,
        bulk_edits,
        backends,
        rows,
    })
}

fn progress_line(row: &Row) -> String {
    let describe = |latency: Option<Latency>| {
        latency.map_or_else(
            || "—".to_owned(),
            |l| format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", l.p50_ms, l.p99_ms, l.max_ms),
        )
    };
    let mut line = format!(
        "{}: direct {}; hook {}; bulk of {} all applied {}",
        row.run.version,
        describe(row.direct),
        describe(row.hook),
        BULK_ROWS,
        describe(row.bulk_all)
    );
    if row.run.unapplied > 0 {
        line.push_str(&format!("; {} edit(s) never applied", row.run.unapplied));
    }
    line
}

/// Child side: one backend, one table size.
pub(crate) async fn measure(config: Config) -> Result<RunResult> {
    let db = config.target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let version = backend::server_version(&db).await?;
    let now = Utc::now();
    let seeding = Instant::now();
    let (rule, fire) = (RULES[0].0, fire_of(0)?);
    let probes = [DIRECT_JOB, HOOK_JOB]
        .into_iter()
        .map(move |id| db::cron_job(id.to_owned(), PROBE_FUNC, rule, now, fire));
    let bulk =
        (0..config.bulk_rows).map(move |i| db::cron_job(format!("{BULK_PREFIX}{i:05}"), PROBE_FUNC, rule, now, fire));
    db::insert_jobs(&db, db::idle_jobs(config.idle_jobs, now).chain(probes).chain(bulk)).await?;
    let seed_s = seeding.elapsed().as_secs_f64();
    // A client of its own, like a psql session next to the application.
    let editor = config.target.connect(Pool::Single).await?;

    let mut registry = Registry::new();
    registry.register(IDLE_FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    registry.register(PROBE_FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let poll_interval = Duration::from_millis(config.poll_interval_ms);
    let store = SeaOrmStore::new(db.clone()).change_feed(FeedConfig {
        poll_interval,
        ..FeedConfig::default()
    });
    let starting = Instant::now();
    let scheduler = Scheduler::builder(Arc::new(store), registry)
        .node_name("ruqi-bench")
        .start()
        .await?;
    let start_s = starting.elapsed().as_secs_f64();
    for job_id in [DIRECT_JOB, HOOK_JOB] {
        ensure!(
            next_fire(&scheduler, job_id) == Some(fire),
            "the probe {job_id} was not scheduled for {fire} after start-up: the scheduler holds {:?}",
            scheduler.live(job_id)
        );
    }

    let mut run = Edits {
        started: Instant::now(),
        scheduler: scheduler.clone(),
        editor,
        jitter: Jitter::seeded(),
        poll_interval,
        bulk_ids: (0..config.bulk_rows).map(|i| format!("{BULK_PREFIX}{i:05}")).collect(),
        rule_index: [0; 3],
        stopped: [false; 3],
        result: RunResult {
            version,
            seed_s,
            start_s,
            ..RunResult::default()
        },
    };
    // Warm-up: the first statements on each connection pay for preparing them.
    run.direct_edit(false).await?;
    run.hook_edit(false).await?;
    let mut hook_done = 0;
    for i in 0..config.direct_edits {
        run.direct_edit(true).await?;
        // Hook edits spread evenly between the direct ones.
        while hook_done < (i + 1) * config.hook_edits / config.direct_edits.max(1) {
            run.hook_edit(true).await?;
            hook_done += 1;
        }
    }
    for _ in 0..config.bulk_edits {
        run.bulk_edit().await?;
    }
    let result = run.result;
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
    Ok(result)
}

/// The fire the scheduler holds for `job_id`.
fn next_fire(scheduler: &Scheduler, job_id: &str) -> Option<DateTime<Utc>> {
    scheduler.live(job_id).and_then(|live| live.next_run_time)
}

/// The edits of one child and what they measured.
struct Edits {
    /// When `start()` returned.
    started: Instant,
    scheduler: Scheduler,
    editor: DatabaseConnection,
    jitter: Jitter,
    poll_interval: Duration,
    bulk_ids: Vec<String>,
    /// The rule each of the direct probe, the hook probe and the bulk jobs has now.
    rule_index: [usize; 3],
    /// Kinds of edit given up on after an edit was never applied.
    stopped: [bool; 3],
    result: RunResult,
}

/// Index of each kind of edit in [`Edits::rule_index`] and [`Edits::stopped`].
const DIRECT: usize = 0;
const HOOK: usize = 1;
const BULK: usize = 2;

/// When an edit's statement returned and when the scheduler had applied it.
struct Timing {
    /// When the statement (or `update()`) returned.
    returned: Instant,
    /// Call → return of the statement (or of `update()`).
    statement_ms: f64,
    /// Return → the first changed job applied (negative: before the return).
    first_ms: f64,
    /// Return → every changed job applied.
    all_ms: f64,
}

impl Edits {
    /// Flips the `which`th rule and returns the new rule and its fire.
    fn next_rule(&mut self, which: usize) -> Result<(&'static str, DateTime<Utc>)> {
        let index = 1 - self.rule_index[which];
        self.rule_index[which] = index;
        Ok((RULES[index].0, fire_of(index)?))
    }

    async fn direct_edit(&mut self, counted: bool) -> Result<()> {
        if self.stopped[DIRECT] {
            return Ok(());
        }
        tokio::time::sleep(self.jitter.pause(Duration::ZERO, self.poll_interval)).await;
        let (rule, fire) = self.next_rule(DIRECT)?;
        let sql = format!("UPDATE job_info SET rule = '{rule}' WHERE job_id = '{DIRECT_JOB}'");
        let editor = self.editor.clone();
        let timing = time_edit(&self.scheduler, vec![DIRECT_JOB.to_owned()], fire, async move {
            let done = editor.execute_unprepared(&sql).await?;
            ensure!(
                done.rows_affected() == 1,
                "the UPDATE changed {} rows",
                done.rows_affected()
            );
            Ok(())
        })
        .await?;
        match timing {
            Some(t) if counted => {
                self.result.direct_ms.push(t.all_ms);
                self.result.direct_statement_ms.push(t.statement_ms);
                self.result
                    .direct_at_s
                    .push(t.returned.duration_since(self.started).as_secs_f64());
            }
            Some(_) => {}
            None => self.give_up(DIRECT, DIRECT_JOB, fire),
        }
        Ok(())
    }

    async fn hook_edit(&mut self, counted: bool) -> Result<()> {
        if self.stopped[HOOK] {
            return Ok(());
        }
        tokio::time::sleep(self.jitter.pause(Duration::ZERO, HOOK_PAUSE)).await;
        let (rule, fire) = self.next_rule(HOOK)?;
        let editor = self.editor.clone();
        let timing = time_edit(&self.scheduler, vec![HOOK_JOB.to_owned()], fire, async move {
            job_info::ActiveModel {
                job_id: Unchanged(HOOK_JOB.to_owned()),
                rule: Set(rule.to_owned()),
                ..Default::default()
            }
            .update(&editor)
            .await
            .context("updating the hook probe through the ORM")?;
            Ok(())
        })
        .await?;
        match timing {
            Some(t) if counted => {
                self.result.hook_ms.push(t.all_ms);
                self.result.hook_call_ms.push(t.statement_ms);
            }
            Some(_) => {}
            None => self.give_up(HOOK, HOOK_JOB, fire),
        }
        Ok(())
    }

    async fn bulk_edit(&mut self) -> Result<()> {
        if self.stopped[BULK] {
            return Ok(());
        }
        // At least one poll after the last edit, so the write-backs of the
        // previous bulk edit are read before this one commits.
        tokio::time::sleep(self.jitter.pause(self.poll_interval, self.poll_interval * 2)).await;
        let (rule, fire) = self.next_rule(BULK)?;
        let sql = format!("UPDATE job_info SET rule = '{rule}' WHERE job_id LIKE '{BULK_PREFIX}%'");
        let editor = self.editor.clone();
        let expected = self.bulk_ids.len() as u64;
        let timing = time_edit(&self.scheduler, self.bulk_ids.clone(), fire, async move {
            let done = editor.execute_unprepared(&sql).await?;
            ensure!(
                done.rows_affected() == expected,
                "the bulk UPDATE changed {} rows, not {expected}",
                done.rows_affected()
            );
            Ok(())
        })
        .await?;
        match timing {
            Some(t) => {
                self.result.bulk_first_ms.push(t.first_ms);
                self.result.bulk_all_ms.push(t.all_ms);
                self.result.bulk_statement_ms.push(t.statement_ms);
            }
            None => self.give_up(BULK, "every bulk job", fire),
        }
        Ok(())
    }

    /// Counts an edit never applied. What the scheduler holds for its jobs
    /// is unknown from here on, so edits of that kind stop.
    fn give_up(&mut self, kind: usize, job: &str, fire: DateTime<Utc>) {
        self.result.unapplied += 1;
        self.stopped[kind] = true;
        eprintln!(
            "  {job} was not rescheduled to {fire} within {} s of the edit's commit; no more edits of it",
            APPLY_LIMIT.as_secs()
        );
    }
}

/// Runs `edit` and times it against the scheduler applying it: the moment
/// every job in `job_ids` is held with `fire` as its next fire.
async fn time_edit(
    scheduler: &Scheduler,
    job_ids: Vec<String>,
    fire: DateTime<Utc>,
    edit: impl Future<Output = Result<()>>,
) -> Result<Option<Timing>> {
    // Subscribed before the edit: every change from here on wakes the watcher.
    let changes = scheduler.subscribe_changes();
    let watcher = tokio::spawn(watch_applied(scheduler.clone(), changes, job_ids, fire));
    let called = Instant::now();
    let edited = edit.await;
    let returned = Instant::now();
    if let Err(error) = edited {
        watcher.abort();
        return Err(error);
    }
    let Some(applied) = watcher.await.context("the watcher task")? else {
        return Ok(None);
    };
    Ok(Some(Timing {
        returned,
        statement_ms: signed_ms(called, returned),
        first_ms: signed_ms(returned, applied.first),
        all_ms: signed_ms(returned, applied.all),
    }))
}

/// When the scheduler held the new fire for the first and for every job.
struct Applied {
    first: Instant,
    all: Instant,
}

/// Checks the jobs at every change the scheduler announces until each holds
/// `fire`; `None` if that takes longer than [`APPLY_LIMIT`].
async fn watch_applied(
    scheduler: Scheduler,
    mut changes: watch::Receiver<u64>,
    mut pending: Vec<String>,
    fire: DateTime<Utc>,
) -> Option<Applied> {
    let deadline = tokio::time::Instant::now() + APPLY_LIMIT;
    let total = pending.len();
    let mut first = None;
    loop {
        pending.retain(|job_id| next_fire(&scheduler, job_id) != Some(fire));
        let now = Instant::now();
        if pending.len() < total {
            first.get_or_insert(now);
        }
        if pending.is_empty() {
            return first.map(|first| Applied { first, all: now });
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            // Past the limit, or the scheduler is gone.
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

/// `to − from` in milliseconds, negative when `to` came first.
fn signed_ms(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(from.duration_since(to).as_secs_f64() * 1000.0),
    }
}

/// Random pauses between edits: SplitMix64, seeded from the clock. Plenty
/// to scatter the edits over the phases of a poll, and no dependency.
struct Jitter {
    state: u64,
}

impl Jitter {
    fn seeded() -> Jitter {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Jitter {
            state: (nanos as u64) ^ (u64::from(std::process::id()) << 32),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration uniform in `[from, to)`.
    fn pause(&mut self, from: Duration, to: Duration) -> Duration {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        from + to.saturating_sub(from).mul_f64(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_fire_on_new_year() {
        assert_eq!(fire_of(0).unwrap().to_rfc3339(), "2036-01-01T00:00:00+00:00");
        assert_eq!(fire_of(1).unwrap().to_rfc3339(), "2037-01-01T00:00:00+00:00");
        let now = Utc::now();
        for (index, (rule, _)) in RULES.iter().enumerate() {
            let next = ruqi::job::preview_rule("cron", rule, None, 1, now).unwrap();
            assert_eq!(next, vec![fire_of(index).unwrap()]);
        }
    }

    #[test]
    fn pauses_stay_in_range_and_spread() {
        let mut jitter = Jitter { state: 7 };
        let (from, to) = (Duration::from_millis(100), Duration::from_millis(200));
        let pauses: Vec<Duration> = (0..1000).map(|_| jitter.pause(from, to)).collect();
        assert!(pauses.iter().all(|p| *p >= from && *p < to));
        let below_middle = pauses.iter().filter(|p| **p < Duration::from_millis(150)).count();
        assert!(
            (400..600).contains(&below_middle),
            "{below_middle} of 1000 below the middle"
        );
    }

    #[test]
    fn signed_differences() {
        let a = Instant::now();
        let b = a + Duration::from_millis(3);
        assert!((signed_ms(a, b) - 3.0).abs() < 1e-9);
        assert!((signed_ms(b, a) + 3.0).abs() < 1e-9);
    }
}
