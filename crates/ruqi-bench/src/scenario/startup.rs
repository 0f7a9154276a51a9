//! `startup`: how long `start()` takes over a big table, and what the jobs cost in memory.
//!
//! The parent writes `rows` valid, scheduled rows into a SQLite file once;
//! each child starts from a fresh copy of it, reads its resident memory,
//! times `ruqi::scheduler(db, registry).start().await` (load every row,
//! validate it, schedule it) and reads its memory again. The
//! tokio-cron-scheduler engine is handed its deadlines in a background task
//! after `start()` returns, so for it the child also waits for the
//! [`Sentinel`]: the time until every deadline is armed is its real start-up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use ruqi::{JobContext, Registry};
use serde::{Deserialize, Serialize};

use super::{Armed, Options, Sentinel};
use crate::child::run_in_child;
use crate::db::{self, IDLE_FUNC, TempDir};
use crate::engine::Engine;
use crate::machine::{Memory, mib};
use crate::stats::Spread;

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "startup";

/// How long the tokio-cron-scheduler engine may take to arm every deadline.
const ARM_LIMIT: Duration = Duration::from_secs(120);
/// The start-up bar: this many rows loaded and scheduled ...
pub(crate) const BAR_ROWS: usize = 100_000;
/// ... within this many seconds (heap engine).
pub(crate) const BAR_SECONDS: f64 = 3.0;

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The timer engine.
    pub(crate) engine: Engine,
    /// Rows in the table.
    pub(crate) rows: usize,
    /// The child's own copy of the seeded database.
    pub(crate) database: PathBuf,
}

/// What one child measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// Jobs the scheduler reported waiting on its timer after `start()`.
    pub(crate) scheduled: usize,
    /// Seconds `start()` took.
    pub(crate) start_s: f64,
    /// Seconds from calling `start()` until every deadline was armed in the
    /// engine: `start_s` for the heap (filled inside `start()`); for
    /// tokio-cron-scheduler, until the sentinel ran. `None` if it never did.
    pub(crate) armed_s: Option<f64>,
    /// Seconds from calling `start()` until every deadline had been handed
    /// to the engine: as `armed_s`, or, when tokio-cron-scheduler stalled,
    /// until it dropped the sentinel at its due tick.
    #[serde(default)]
    pub(crate) handed_over_s: Option<f64>,
    /// Why the deadlines were never all armed, when they were not.
    #[serde(default)]
    pub(crate) failed: Option<String>,
    /// Resident memory just before `start()`.
    pub(crate) rss_before: u64,
    /// Resident memory once every deadline was armed.
    pub(crate) rss_after: u64,
    /// The most resident memory at any point.
    pub(crate) rss_peak: u64,
}

impl RunResult {
    /// Resident memory added per job.
    pub(crate) fn bytes_per_job(&self, rows: usize) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / rows.max(1) as f64
    }
}

/// One engine over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The engine.
    pub(crate) engine: Engine,
    /// Every run, in order.
    pub(crate) runs: Vec<RunResult>,
    /// `start()` seconds over runs.
    pub(crate) start_s: Option<Spread>,
    /// Seconds to every deadline armed, over the runs that got there.
    pub(crate) armed_s: Option<Spread>,
    /// Seconds to every deadline handed to the engine, over the runs that got there.
    #[serde(default)]
    pub(crate) handed_over_s: Option<Spread>,
    /// Runs whose engine did not arm every deadline within the limit.
    pub(crate) unarmed_runs: usize,
    /// MiB resident before `start()`.
    pub(crate) rss_before_mib: Option<Spread>,
    /// MiB resident after.
    pub(crate) rss_after_mib: Option<Spread>,
    /// Bytes of resident memory per job.
    pub(crate) bytes_per_job: Option<Spread>,
    /// Peak MiB resident.
    pub(crate) rss_peak_mib: Option<Spread>,
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Rows in the table.
    pub(crate) rows: usize,
    /// Runs of each engine.
    pub(crate) runs: usize,
    /// Seconds the parent took to write the rows (bulk insert, not timed as start-up).
    pub(crate) seed_s: f64,
    /// Seconds the tokio-cron-scheduler engine was given to arm its deadlines.
    pub(crate) arm_limit_s: u64,
    /// One row per engine.
    pub(crate) engines: Vec<Row>,
}

impl Report {
    /// The row for `engine`.
    pub(crate) fn row(&self, engine: Engine) -> Option<&Row> {
        self.engines.iter().find(|r| r.engine == engine)
    }

    /// tokio-cron-scheduler's median time to every deadline handed over, over the heap's.
    pub(crate) fn handed_over_ratio(&self) -> Option<f64> {
        let heap = self.row(Engine::Heap)?.handed_over_s?.median;
        let tcs = self.row(Engine::TokioCronScheduler)?.handed_over_s?.median;
        (heap > 0.0).then(|| tcs / heap)
    }

    /// tokio-cron-scheduler's median bytes per job over the heap's.
    pub(crate) fn memory_ratio(&self) -> Option<f64> {
        let heap = self.row(Engine::Heap)?.bytes_per_job?.median;
        let tcs = self.row(Engine::TokioCronScheduler)?.bytes_per_job?.median;
        (heap > 0.0).then(|| tcs / heap)
    }
}

/// Parent side: seeds the table once, then runs every engine on a fresh copy of it.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let rows = if options.quick { 10_000 } else { BAR_ROWS };
    let runs = options.runs();
    let dir = TempDir::new("startup")?;
    let template = dir.path().join("seeded.db");
    eprintln!("startup: writing {rows} rows");
    let seeding = Instant::now();
    let db = db::connect(&template).await?;
    ruqi::migrate(&db).await?;
    db::insert_jobs(&db, db::idle_jobs(rows, Utc::now())).await?;
    db::checkpoint_and_close(db).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); Engine::ALL.len()];
    for run in 1..=runs {
        for (engine_index, engine) in Engine::ALL.into_iter().enumerate() {
            eprintln!("startup: {rows} rows, {}, run {run}/{runs}", engine.label());
            let database = dir.path().join(format!("run-{run}-{}.db", engine.label()));
            db::copy_database(&template, &database)?;
            let config = Config {
                engine,
                rows,
                database: database.clone(),
            };
            let result: Result<RunResult> = run_in_child(NAME, &config, ARM_LIMIT + Duration::from_secs(180)).await;
            db::remove_database(&database);
            let result = result?;
            if result.scheduled != rows {
                eprintln!("  warning: {} of {rows} jobs were scheduled", result.scheduled);
            }
            eprintln!(
                "  start() {:.3} s, handed over {}, armed {}, {:.0} bytes/job",
                result.start_s,
                result
                    .handed_over_s
                    .map_or_else(|| "never".to_owned(), |s| format!("{s:.3} s")),
                result.armed_s.map_or_else(
                    || format!("never ({})", result.failed.as_deref().unwrap_or("unknown")),
                    |s| format!("{s:.3} s")
                ),
                result.bytes_per_job(rows)
            );
            results[engine_index].push(result);
        }
    }
    let engines = Engine::ALL
        .into_iter()
        .zip(results)
        .map(|(engine, runs)| {
            // Memory after a stall is not comparable: only runs that armed everything count.
            let armed = || runs.iter().filter(|r| r.armed_s.is_some());
            Row {
                engine,
                start_s: Spread::of(runs.iter().map(|r| r.start_s)),
                armed_s: Spread::of(armed().filter_map(|r| r.armed_s)),
                handed_over_s: Spread::of(runs.iter().filter_map(|r| r.handed_over_s)),
                unarmed_runs: runs.iter().filter(|r| r.armed_s.is_none()).count(),
                rss_before_mib: Spread::of(runs.iter().map(|r| mib(r.rss_before))),
                rss_after_mib: Spread::of(armed().map(|r| mib(r.rss_after))),
                bytes_per_job: Spread::of(armed().map(|r| r.bytes_per_job(rows))),
                rss_peak_mib: Spread::of(armed().map(|r| mib(r.rss_peak))),
                runs,
            }
        })
        .collect();
    Ok(Report {
        rows,
        runs,
        seed_s,
        arm_limit_s: ARM_LIMIT.as_secs(),
        engines,
    })
}

/// Child side: one engine over the seeded copy named in `config`.
pub(crate) async fn measure(config: Config) -> Result<RunResult> {
    let db = db::connect(&config.database).await?;
    let mut registry = Registry::new();
    registry.register(IDLE_FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let sentinel = Sentinel::default();
    sentinel.register(&mut registry);

    let before = Memory::now()?;
    let start = Instant::now();
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name("ruqi-bench")
        .timer(config.engine.timer())
        .start()
        .await?;
    let start_s = start.elapsed().as_secs_f64();
    let scheduled = scheduler.status().scheduled;
    let armed = match config.engine {
        Engine::Heap => Armed::Yes,
        Engine::TokioCronScheduler => sentinel.insert_and_wait(&db, ARM_LIMIT).await?,
    };
    let (armed_s, handed_over_s) = match (config.engine, armed) {
        (Engine::Heap, _) => (Some(start_s), Some(start_s)),
        (_, Armed::Yes) => (Some(start.elapsed().as_secs_f64()), Some(start.elapsed().as_secs_f64())),
        (_, Armed::Dropped) => (None, Some(start.elapsed().as_secs_f64())),
        (_, Armed::Stalled | Armed::TimedOut) => (None, None),
    };
    let after = Memory::now()?;
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
    Ok(RunResult {
        scheduled,
        start_s,
        armed_s,
        handed_over_s,
        failed: armed.failure(ARM_LIMIT),
        rss_before: before.rss,
        rss_after: after.rss,
        rss_peak: after.peak,
    })
}
