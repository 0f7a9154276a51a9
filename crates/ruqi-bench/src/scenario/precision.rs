//! `precision`: how late a job's function starts, measured inside the function.
//!
//! Lateness = `Utc::now()` as the first thing the function's body does −
//! `ctx.scheduled_for()`. Each child seeds `idle_jobs` daily jobs that never
//! fire during the measurement (they only make the timer's structures big)
//! and `probes` one-second jobs whose phases are spread evenly across the
//! second, starts the scheduler with one engine, waits for the engine to
//! have armed everything (the [`Sentinel`]) plus a warm-up, and then keeps
//! every probe fire scheduled within the next `seconds` as a sample.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use ruqi::entity::job_execution;
use ruqi::{JobContext, Registry};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::{Options, Sentinel};
use crate::child::run_in_child;
use crate::db::{self, IDLE_FUNC, TempDir};
use crate::engine::Engine;
use crate::stats::{Spread, percentile, sorted};

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "precision";

/// The probes' function: it records its lateness.
const PROBE_FUNC: &str = "bench_probe";
/// Probe jobs per configuration: one fire every 10 ms.
const PROBES: usize = 100;
/// Time between the sentinel's run and the start of the measured window.
const WARM_UP: Duration = Duration::from_secs(1);
/// Time after the window for its last fires to run.
const TAIL: Duration = Duration::from_secs(2);
/// How long the engine may take to arm the deadlines it was given at start.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// The lateness bar: p99 with 10,000 jobs on the heap engine.
pub(crate) const BAR_P99_MS: f64 = 2.0;
/// The configuration the bar applies to.
pub(crate) const BAR_IDLE_JOBS: usize = 100_000;

/// What one child measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The timer engine.
    pub(crate) engine: Engine,
    /// Daily jobs that do not fire during the measurement.
    pub(crate) idle_jobs: usize,
    /// One-second jobs whose fires are the samples.
    pub(crate) probes: usize,
    /// Length of the measured window.
    pub(crate) seconds: u64,
}

/// What one child measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// Why this run has no figures (the engine stalled), if it has none.
    #[serde(default)]
    pub(crate) failed: Option<String>,
    /// Probe fires scheduled within the window.
    pub(crate) expected: usize,
    /// Of those, the fires whose function ran (and so gave a sample).
    pub(crate) samples: usize,
    /// Lateness percentiles and extremes, in milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th percentile.
    pub(crate) p99_ms: f64,
    /// Latest.
    pub(crate) max_ms: f64,
    /// Earliest: negative means a function ran before its instant.
    pub(crate) min_ms: f64,
    /// Samples whose function ran before its instant.
    pub(crate) early: usize,
    /// 99th percentile of the error either way, |lateness|.
    pub(crate) p99_abs_ms: f64,
    /// p99 of the first part of the lateness: from the instant to the run's
    /// `job_execution.started_at` (the timer's wake-up: the heap engine claims the fire ahead of its instant).
    pub(crate) p99_to_started_ms: Option<f64>,
    /// p99 of the rest: from `started_at` to the function's first line
    /// (what the engine does after admitting the run: spawning the function,
    /// and whatever it awaits before that).
    pub(crate) p99_started_to_function_ms: Option<f64>,
    /// Seconds from calling `start()` until the engine had armed every
    /// deadline (the sentinel ran); `None` if it had not within the limit.
    pub(crate) ready_s: Option<f64>,
    /// The lateness distribution for the plot: [`QUANTILES`], in milliseconds.
    #[serde(default)]
    pub(crate) quantiles_ms: Vec<f64>,
}

/// The percentiles of lateness each run keeps for the distribution plot.
pub(crate) const QUANTILES: [f64; 16] = [
    0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.8, 99.9, 99.95, 100.0,
];

/// One configuration and engine over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// Idle jobs.
    pub(crate) idle_jobs: usize,
    /// The engine.
    pub(crate) engine: Engine,
    /// Every run, in order.
    pub(crate) runs: Vec<RunResult>,
    /// p50 over runs.
    pub(crate) p50_ms: Option<Spread>,
    /// p99 over runs.
    pub(crate) p99_ms: Option<Spread>,
    /// Max over runs.
    pub(crate) max_ms: Option<Spread>,
    /// Min (earliest) over runs.
    pub(crate) min_ms: Option<Spread>,
    /// p99 of |lateness| over runs.
    pub(crate) p99_abs_ms: Option<Spread>,
    /// Percentage of samples that ran early, over runs.
    pub(crate) early_pct: Option<Spread>,
    /// p99 from the instant to `started_at`, over runs.
    pub(crate) p99_to_started_ms: Option<Spread>,
    /// p99 from `started_at` to the function, over runs.
    pub(crate) p99_started_to_function_ms: Option<Spread>,
    /// Time to ready over runs.
    pub(crate) ready_s: Option<Spread>,
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Probe jobs per configuration.
    pub(crate) probes: usize,
    /// Length of each measured window.
    pub(crate) seconds: u64,
    /// Seconds between the engine having armed everything and the window.
    pub(crate) warm_up_s: f64,
    /// Runs of each configuration and engine.
    pub(crate) runs: usize,
    /// One row per configuration and engine.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The row for `idle_jobs` and `engine`.
    pub(crate) fn row(&self, idle_jobs: usize, engine: Engine) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.idle_jobs == idle_jobs && r.engine == engine)
    }

    /// tokio-cron-scheduler's median p99 lateness over the heap's, for
    /// `idle_jobs`; `None` unless both are late (a ratio with an early p99
    /// means nothing).
    pub(crate) fn p99_ratio(&self, idle_jobs: usize) -> Option<f64> {
        let heap = self.row(idle_jobs, Engine::Heap)?.p99_ms?.median;
        let tcs = self.row(idle_jobs, Engine::TokioCronScheduler)?.p99_ms?.median;
        (heap > 0.0 && tcs > 0.0).then(|| tcs / heap)
    }

    /// The same ratio for p99 of |lateness| (early runs count as errors too).
    pub(crate) fn p99_abs_ratio(&self, idle_jobs: usize) -> Option<f64> {
        let heap = self.row(idle_jobs, Engine::Heap)?.p99_abs_ms?.median;
        let tcs = self.row(idle_jobs, Engine::TokioCronScheduler)?.p99_abs_ms?.median;
        (heap > 0.0).then(|| tcs / heap)
    }

    /// Idle-job counts measured, in order.
    pub(crate) fn sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self.rows.iter().map(|r| r.idle_jobs).collect();
        sizes.dedup();
        sizes
    }
}

/// Parent side: every configuration, engine and run, each in its own child.
/// Within a run the engines alternate, so drift on the machine hits both.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let sizes: &[usize] = if options.quick {
        &[1, 10_000]
    } else {
        &[1, 10_000, 100_000, 1_000_000]
    };
    let seconds = if options.quick { 4 } else { 10 };
    let runs = options.runs();
    let mut results: BTreeMap<(usize, usize), Vec<RunResult>> = BTreeMap::new();
    for &idle_jobs in sizes {
        for run in 1..=runs {
            for (engine_index, engine) in Engine::ALL.into_iter().enumerate() {
                if !engine.measured_at(idle_jobs) {
                    continue;
                }
                eprintln!(
                    "precision: {idle_jobs} idle + {PROBES} probe jobs, {}, run {run}/{runs}",
                    engine.label()
                );
                let config = Config {
                    engine,
                    idle_jobs,
                    probes: PROBES,
                    seconds,
                };
                let limit = READY_LIMIT + Duration::from_secs(seconds) + Duration::from_secs(180);
                let result: RunResult = run_in_child(NAME, &config, limit).await?;
                match &result.failed {
                    Some(failed) => eprintln!("  no figures: {failed}"),
                    None => eprintln!(
                        "  samples {}/{}, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, min {:.3} ms, {} early",
                        result.samples,
                        result.expected,
                        result.p50_ms,
                        result.p99_ms,
                        result.max_ms,
                        result.min_ms,
                        result.early
                    ),
                }
                results.entry((idle_jobs, engine_index)).or_default().push(result);
            }
        }
    }
    let rows = results
        .into_iter()
        .map(|((idle_jobs, engine_index), runs)| {
            // Runs that stalled have no figures; the table counts them separately.
            let ok = || runs.iter().filter(|r| r.failed.is_none());
            Row {
                idle_jobs,
                engine: Engine::ALL[engine_index],
                p50_ms: Spread::of(ok().map(|r| r.p50_ms)),
                p99_ms: Spread::of(ok().map(|r| r.p99_ms)),
                max_ms: Spread::of(ok().map(|r| r.max_ms)),
                min_ms: Spread::of(ok().map(|r| r.min_ms)),
                p99_abs_ms: Spread::of(ok().map(|r| r.p99_abs_ms)),
                early_pct: Spread::of(ok().map(|r| 100.0 * r.early as f64 / r.samples.max(1) as f64)),
                p99_to_started_ms: Spread::of(ok().filter_map(|r| r.p99_to_started_ms)),
                p99_started_to_function_ms: Spread::of(ok().filter_map(|r| r.p99_started_to_function_ms)),
                ready_s: Spread::of(ok().filter_map(|r| r.ready_s)),
                runs,
            }
        })
        .collect();
    Ok(Report {
        probes: PROBES,
        seconds,
        warm_up_s: WARM_UP.as_secs_f64(),
        runs,
        rows,
    })
}

/// A probe fire.
struct Sample {
    /// The instant it was scheduled for.
    scheduled: DateTime<Utc>,
    /// When its function started.
    function_started: DateTime<Utc>,
    /// Its `job_execution.id`, to find its `started_at`.
    execution_id: String,
}

impl Sample {
    fn lateness_ms(&self) -> f64 {
        ms(self.function_started - self.scheduled)
    }
}

fn ms(d: chrono::Duration) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Child side: one engine, one configuration.
pub(crate) async fn measure(config: Config) -> Result<RunResult> {
    let dir = TempDir::new("precision")?;
    let db = db::connect(&dir.path().join("ruqi.db")).await?;
    ruqi::migrate(&db).await?;
    let now = Utc::now();
    let jobs = db::idle_jobs(config.idle_jobs, now).chain(db::probe_jobs(config.probes, PROBE_FUNC, now));
    db::insert_jobs(&db, jobs).await?;

    let expected_fires = config.probes * usize::try_from(config.seconds).unwrap_or(usize::MAX);
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::with_capacity(expected_fires * 2)));
    let mut registry = Registry::new();
    registry.register(IDLE_FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let probe_samples = samples.clone();
    registry.register(PROBE_FUNC, move |ctx: JobContext| {
        let samples = probe_samples.clone();
        async move {
            let function_started = Utc::now();
            let sample = Sample {
                scheduled: ctx.scheduled_for(),
                function_started,
                execution_id: ctx.execution_id().to_owned(),
            };
            samples.lock().unwrap_or_else(|p| p.into_inner()).push(sample);
            Ok::<_, String>(())
        }
    });
    let sentinel = Sentinel::default();
    sentinel.register(&mut registry);

    let start = Instant::now();
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name("ruqi-bench")
        .timer(config.engine.timer())
        .start()
        .await?;
    let armed = sentinel.insert_and_wait(&db, READY_LIMIT).await?;
    if let Some(failed) = armed.failure(READY_LIMIT) {
        return Ok(RunResult {
            failed: Some(failed),
            expected: expected_fires,
            ..RunResult::default()
        });
    }
    let ready_s = Some(start.elapsed().as_secs_f64());

    let window_start = Utc::now() + chrono::Duration::from_std(WARM_UP)?;
    let window_end = window_start + chrono::Duration::seconds(i64::try_from(config.seconds)?);
    let until_done = (window_end - Utc::now()).to_std().unwrap_or_default() + TAIL;
    tokio::time::sleep(until_done).await;

    let window: Vec<Sample> = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()))
        .into_iter()
        .filter(|s| s.scheduled >= window_start && s.scheduled < window_end)
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
    let (to_started_ms, started_to_function_ms) = split_at_started(&db, &window).await?;
    drop(db);
    let lateness_ms: Vec<f64> = window.iter().map(Sample::lateness_ms).collect();

    anyhow::ensure!(
        !lateness_ms.is_empty(),
        "no probe ran within the {} s window ({} engine)",
        config.seconds,
        config.engine.label()
    );
    let early = lateness_ms.iter().filter(|l| **l < 0.0).count();
    let error_ms = sorted(lateness_ms.iter().map(|l| l.abs()).collect());
    let lateness_ms = sorted(lateness_ms);
    let figure = |q: f64| percentile(&lateness_ms, q).unwrap_or_default();
    Ok(RunResult {
        failed: None,
        expected: expected_fires,
        samples: lateness_ms.len(),
        p50_ms: figure(50.0),
        p99_ms: figure(99.0),
        max_ms: figure(100.0),
        min_ms: figure(0.0),
        early,
        p99_abs_ms: percentile(&error_ms, 99.0).unwrap_or_default(),
        p99_to_started_ms: percentile(&sorted(to_started_ms), 99.0),
        p99_started_to_function_ms: percentile(&sorted(started_to_function_ms), 99.0),
        ready_s,
        quantiles_ms: QUANTILES.iter().map(|&q| figure(q)).collect(),
    })
}

/// Splits each sample's lateness at its run's `job_execution.started_at`
/// (taken by the engine once the run is admitted, after the claim):
/// returns (instant → `started_at`, `started_at` → function) in ms.
async fn split_at_started(db: &DatabaseConnection, samples: &[Sample]) -> Result<(Vec<f64>, Vec<f64>)> {
    let started: HashMap<String, DateTime<Utc>> = job_execution::Entity::find()
        .filter(job_execution::Column::JobId.starts_with("probe-"))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.id, row.started_at?)))
        .collect();
    Ok(samples
        .iter()
        .filter_map(|s| {
            let started_at = *started.get(&s.execution_id)?;
            Some((ms(started_at - s.scheduled), ms(s.function_started - started_at)))
        })
        .unzip())
}
