//! `startup`: how long `start()` takes over a big table, what the jobs cost
//! in memory, and what a scheduler holding them costs while nothing is due.
//!
//! For each table size the parent writes that many valid, scheduled rows into a SQLite file once;
//! each child starts from a fresh copy of it, reads its resident memory,
//! times `ruqi::scheduler(db, registry).start().await` (load every row,
//! validate it, schedule it) and reads its memory again. The
//! tokio-cron-scheduler engine is handed its deadlines in a background task
//! after `start()` returns, so for it the child also waits for the
//! [`Sentinel`]: the time until every deadline is armed is its real start-up.
//! At [`IDLE_ROWS`] the child then stays up for an idle window and reads the
//! CPU time the whole process used in it.

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
pub(crate) const BAR_ROWS: usize = 1_000_000;
/// ... within this many seconds (heap engine) ...
pub(crate) const BAR_SECONDS: f64 = 10.0;
/// ... holding at most this many MiB resident once they are.
pub(crate) const BAR_RSS_MIB: f64 = 600.0;
/// The idle bar: with this many jobs registered ...
pub(crate) const IDLE_ROWS: usize = 100_000;
/// ... and none due, at most this share of one core (percent).
pub(crate) const BAR_IDLE_CPU_PCT: f64 = 1.0;
/// Settling time after start-up before the idle window opens.
const IDLE_SETTLE: Duration = Duration::from_secs(3);

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The timer engine.
    pub(crate) engine: Engine,
    /// Rows in the table.
    pub(crate) rows: usize,
    /// The child's own copy of the seeded database.
    pub(crate) database: PathBuf,
    /// Seconds of idle window to measure CPU over after start-up, if any.
    #[serde(default)]
    pub(crate) idle_window_s: Option<u64>,
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
    /// CPU time the process used during the idle window, as a percentage of
    /// one core over the window's wall time.
    #[serde(default)]
    pub(crate) idle_cpu_pct: Option<f64>,
}

impl RunResult {
    /// Resident memory added per job.
    pub(crate) fn bytes_per_job(&self, rows: usize) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / rows.max(1) as f64
    }
}

/// One table size and engine over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// Rows in the table.
    pub(crate) rows: usize,
    /// Seconds the parent took to write them (bulk insert, not timed as start-up).
    pub(crate) seed_s: f64,
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
    /// Idle CPU, percent of one core, over the runs that measured it.
    #[serde(default)]
    pub(crate) idle_cpu_pct: Option<Spread>,
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Table sizes measured, in order.
    pub(crate) sizes: Vec<usize>,
    /// Runs of each size and engine.
    pub(crate) runs: usize,
    /// Seconds the tokio-cron-scheduler engine was given to arm its deadlines.
    pub(crate) arm_limit_s: u64,
    /// Length of the idle window at [`IDLE_ROWS`].
    pub(crate) idle_window_s: u64,
    /// One row per size and engine.
    pub(crate) engines: Vec<Row>,
}

impl Report {
    /// The row for `rows` and `engine`.
    pub(crate) fn row(&self, rows: usize, engine: Engine) -> Option<&Row> {
        self.engines.iter().find(|r| r.rows == rows && r.engine == engine)
    }

    /// tokio-cron-scheduler's median time to every deadline handed over, over the heap's.
    pub(crate) fn handed_over_ratio(&self, rows: usize) -> Option<f64> {
        let heap = self.row(rows, Engine::Heap)?.handed_over_s?.median;
        let tcs = self.row(rows, Engine::TokioCronScheduler)?.handed_over_s?.median;
        (heap > 0.0).then(|| tcs / heap)
    }

    /// tokio-cron-scheduler's median bytes per job over the heap's.
    pub(crate) fn memory_ratio(&self, rows: usize) -> Option<f64> {
        let heap = self.row(rows, Engine::Heap)?.bytes_per_job?.median;
        let tcs = self.row(rows, Engine::TokioCronScheduler)?.bytes_per_job?.median;
        (heap > 0.0).then(|| tcs / heap)
    }

    /// tokio-cron-scheduler's median idle CPU over the heap's.
    pub(crate) fn idle_cpu_ratio(&self) -> Option<f64> {
        let heap = self.row(IDLE_ROWS, Engine::Heap)?.idle_cpu_pct?.median;
        let tcs = self.row(IDLE_ROWS, Engine::TokioCronScheduler)?.idle_cpu_pct?.median;
        (heap > 0.0).then(|| tcs / heap)
    }
}

/// Parent side: for each size, seeds the table once, then runs every engine
/// on a fresh copy of it.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let sizes: &[usize] = if options.quick {
        &[10_000, IDLE_ROWS]
    } else {
        &[10_000, IDLE_ROWS, BAR_ROWS]
    };
    let idle_window_s = if options.quick { 5 } else { 20 };
    let runs = options.runs();
    let dir = TempDir::new("startup")?;
    let mut engines = Vec::new();
    for &rows in sizes {
        let template = dir.path().join(format!("seeded-{rows}.db"));
        eprintln!("startup: writing {rows} rows");
        let seeding = Instant::now();
        let db = db::connect(&template).await?;
        ruqi::migrate(&db).await?;
        db::insert_jobs(&db, db::idle_jobs(rows, Utc::now())).await?;
        db::checkpoint_and_close(db).await?;
        let seed_s = seeding.elapsed().as_secs_f64();
        let measured: Vec<Engine> = Engine::ALL.into_iter().filter(|e| e.measured_at(rows)).collect();
        let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); measured.len()];
        for run in 1..=runs {
            for (engine_index, &engine) in measured.iter().enumerate() {
                eprintln!("startup: {rows} rows, {}, run {run}/{runs}", engine.label());
                let database = dir.path().join(format!("run-{rows}-{run}-{}.db", engine.label()));
                db::copy_database(&template, &database)?;
                let config = Config {
                    engine,
                    rows,
                    database: database.clone(),
                    idle_window_s: (rows == IDLE_ROWS).then_some(idle_window_s),
                };
                let limit = ARM_LIMIT + Duration::from_secs(180 + idle_window_s);
                let result: Result<RunResult> = run_in_child(NAME, &config, limit).await;
                db::remove_database(&database);
                let result = result?;
                if result.scheduled != rows {
                    eprintln!("  warning: {} of {rows} jobs were scheduled", result.scheduled);
                }
                eprintln!(
                    "  start() {:.3} s, handed over {}, armed {}, {:.0} bytes/job, RSS {:.0} MiB{}",
                    result.start_s,
                    result
                        .handed_over_s
                        .map_or_else(|| "never".to_owned(), |s| format!("{s:.3} s")),
                    result.armed_s.map_or_else(
                        || format!("never ({})", result.failed.as_deref().unwrap_or("unknown")),
                        |s| format!("{s:.3} s")
                    ),
                    result.bytes_per_job(rows),
                    mib(result.rss_after),
                    result
                        .idle_cpu_pct
                        .map_or_else(String::new, |pct| format!(", idle CPU {pct:.2} %")),
                );
                results[engine_index].push(result);
            }
        }
        db::remove_database(&template);
        engines.extend(measured.into_iter().zip(results).map(|(engine, runs)| {
            // Memory after a stall is not comparable: only runs that armed everything count.
            let armed = || runs.iter().filter(|r| r.armed_s.is_some());
            Row {
                rows,
                seed_s,
                engine,
                start_s: Spread::of(runs.iter().map(|r| r.start_s)),
                armed_s: Spread::of(armed().filter_map(|r| r.armed_s)),
                handed_over_s: Spread::of(runs.iter().filter_map(|r| r.handed_over_s)),
                unarmed_runs: runs.iter().filter(|r| r.armed_s.is_none()).count(),
                rss_before_mib: Spread::of(runs.iter().map(|r| mib(r.rss_before))),
                rss_after_mib: Spread::of(armed().map(|r| mib(r.rss_after))),
                bytes_per_job: Spread::of(armed().map(|r| r.bytes_per_job(rows))),
                rss_peak_mib: Spread::of(armed().map(|r| mib(r.rss_peak))),
                idle_cpu_pct: Spread::of(armed().filter_map(|r| r.idle_cpu_pct)),
                runs,
            }
        }));
    }
    Ok(Report {
        sizes: sizes.to_vec(),
        runs,
        arm_limit_s: ARM_LIMIT.as_secs(),
        idle_window_s,
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
    let idle_cpu_pct = match config.idle_window_s {
        Some(window) if armed == Armed::Yes => {
            tokio::time::sleep(IDLE_SETTLE).await;
            let (cpu_before, wall_before) = (cpu_seconds()?, Instant::now());
            tokio::time::sleep(Duration::from_secs(window)).await;
            let cpu = cpu_seconds()? - cpu_before;
            Some(100.0 * cpu / wall_before.elapsed().as_secs_f64())
        }
        _ => None,
    };
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
        idle_cpu_pct,
    })
}

/// CPU time (user + system) this whole process has used, in seconds, from
/// `/proc/self/stat` (fields 14 and 15, in ticks of 1/100 s).
fn cpu_seconds() -> Result<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').map_or(stat.as_str(), |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so fields 14 and 15 are at 11 and 12.
    let ticks = |index: usize| -> Result<f64> {
        Ok(fields
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("/proc/self/stat has no field {}", index + 3))?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}
