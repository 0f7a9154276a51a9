//! The outputs: every figure in `docs/bench/results.json`, and
//! `BENCHMARKS.md` at the workspace root rendered from it.
//!
//! A run of one scenario replaces that scenario's section and keeps the
//! others from the previous `results.json`, so `BENCHMARKS.md` always shows
//! the latest figures of every scenario, each with its own date and command.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::engine::Engine;
use crate::scenario::{REPORTED, api, cluster, feed, precision, startup, throughput};
// The older scenarios reach these through the report.
pub(crate) use crate::section::{Bar, RunInfo, Section, run_line};
use crate::stats::{Spread, percentile, sorted};

/// Everything `results.json` holds: the latest section of each scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Results {
    /// Timer precision.
    pub(crate) precision: Option<Section<precision::Report>>,
    /// Start-up time and memory.
    pub(crate) startup: Option<Section<startup::Report>>,
    /// Change-feed latency (absent from results written before it existed).
    #[serde(default)]
    pub(crate) feed: Option<Section<feed::Report>>,
    /// Executions per second from one process.
    #[serde(default)]
    pub(crate) throughput: Option<Section<throughput::Report>>,
    /// Three processes on one database: duplicates, losses, shares.
    #[serde(default)]
    pub(crate) cluster: Option<Section<cluster::Report>>,
    /// The admin API under load.
    #[serde(default)]
    pub(crate) api: Option<Section<api::Report>>,
    /// The sections of the scenarios in [`REPORTED`], by name, as JSON
    /// (each a `Section` of that scenario's report).
    #[serde(flatten)]
    pub(crate) reported: BTreeMap<String, serde_json::Value>,
}

impl Results {
    /// The run of each section of a scenario in [`REPORTED`].
    fn reported_runs(&self) -> Vec<RunInfo> {
        self.reported
            .values()
            .filter_map(|section| serde_json::from_value(section.get("run")?.clone()).ok())
            .collect()
    }
}

/// The workspace root (where `BENCHMARKS.md` lives), from where this crate was built.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    root.canonicalize().unwrap_or(root)
}

fn results_path(root: &Path) -> PathBuf {
    root.join("docs").join("bench").join("results.json")
}

/// The previous results, or none if there are none or they cannot be read
/// (written by an older version of the harness, say).
pub(crate) fn load(root: &Path) -> Results {
    let path = results_path(root);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Results::default();
    };
    serde_json::from_str(&text).unwrap_or_else(|error| {
        eprintln!("ignoring the previous {} ({error})", path.display());
        Results::default()
    })
}

/// Writes `docs/bench/results.json`.
pub(crate) fn save(root: &Path, results: &Results) -> Result<PathBuf> {
    let path = results_path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(results)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Rewrites `BENCHMARKS.md` at the workspace root.
pub(crate) fn write_benchmarks_md(root: &Path, results: &Results) -> Result<PathBuf> {
    crate::plot::write_plots(root, results)?;
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, render(results)).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "✅ pass",
        Some(false) => "❌ **fail**",
        None => "not measured",
    }
}

fn bars(results: &Results) -> Vec<Bar> {
    let precision_bar = {
        let what = format!(
            "timer lateness p99 ≤ {} ms with {} idle jobs (heap engine)",
            precision::BAR_P99_MS,
            thousands(precision::BAR_IDLE_JOBS)
        );
        match results
            .precision
            .as_ref()
            .and_then(|s| s.report.row(precision::BAR_IDLE_JOBS, Engine::Heap))
            .and_then(|row| row.p99_ms)
        {
            Some(p99) => Bar {
                what,
                measured: format!("{} ms (median of runs, min–max)", p99.display(2)),
                pass: Some(p99.median <= precision::BAR_P99_MS),
            },
            None => Bar {
                what,
                measured: "—".to_owned(),
                pass: None,
            },
        }
    };
    let startup = results.startup.as_ref().map(|s| &s.report);
    let heap_at = |rows: usize| startup.and_then(|r| r.row(rows, Engine::Heap));
    let not_run = |rows: usize| match startup {
        Some(_) => format!("{} rows not in this (quick) run", thousands(rows)),
        None => "—".to_owned(),
    };
    let load_bar = {
        let what = format!(
            "{} rows loaded and scheduled in ≤ {} s (heap engine)",
            thousands(startup::BAR_ROWS),
            startup::BAR_SECONDS
        );
        match heap_at(startup::BAR_ROWS).and_then(|row| row.start_s) {
            Some(start) => Bar {
                what,
                measured: format!("{} s (median of runs, min–max)", start.display(2)),
                pass: Some(start.median <= startup::BAR_SECONDS),
            },
            None => Bar::unmeasured(what, not_run(startup::BAR_ROWS)),
        }
    };
    let memory_bar = {
        let what = format!(
            "{} jobs held in ≤ {} MiB resident (whole process, heap engine)",
            thousands(startup::BAR_ROWS),
            startup::BAR_RSS_MIB
        );
        match heap_at(startup::BAR_ROWS).and_then(|row| Some((row.rss_after_mib?, row.bytes_per_job?))) {
            Some((rss, per_job)) => Bar {
                what,
                measured: format!("{} MiB; {} bytes per job", rss.display(0), per_job.display(0)),
                pass: Some(rss.median <= startup::BAR_RSS_MIB),
            },
            None => Bar::unmeasured(what, not_run(startup::BAR_ROWS)),
        }
    };
    let idle_bar = {
        let what = format!(
            "idle CPU ≤ {} % of one core with {} jobs registered (heap engine)",
            startup::BAR_IDLE_CPU_PCT,
            thousands(startup::IDLE_ROWS)
        );
        match heap_at(startup::IDLE_ROWS).and_then(|row| row.idle_cpu_pct) {
            Some(cpu) => Bar {
                what,
                measured: format!("{} % (median of runs, min–max)", cpu.display(2)),
                pass: Some(cpu.median <= startup::BAR_IDLE_CPU_PCT),
            },
            None => Bar::unmeasured(what, not_run(startup::IDLE_ROWS)),
        }
    };
    let mut all = vec![precision_bar, load_bar, memory_bar, idle_bar];
    all.extend(feed_bars(results.feed.as_ref().map(|s| &s.report)));
    all.extend(throughput::bars(results.throughput.as_ref().map(|s| &s.report)));
    all.extend(cluster::bars(results.cluster.as_ref().map(|s| &s.report)));
    all.extend(api::bars(results.api.as_ref().map(|s| &s.report)));
    for scenario in REPORTED {
        all.extend((scenario.bars)(results.reported.get(scenario.name)));
    }
    all
}

/// One bar per backend for the change feed's single edits, and one for its bulk edits.
fn feed_bars(report: Option<&feed::Report>) -> Vec<Bar> {
    let mut bars = feed_edit_bars(report);
    if let Some(report) = report {
        bars.extend(Backend::ALL.into_iter().filter_map(|backend| {
            let label = report
                .status(backend)
                .map_or(backend.label(), feed::BackendStatus::label);
            let bar = report.bulk_bar(backend)?;
            Some(Bar {
                what: format!("{label}: {} (change feed)", bar.bar),
                measured: bar.measured,
                pass: Some(bar.pass),
            })
        }));
    }
    bars
}

/// One bar per backend for the change feed's single edits.
fn feed_edit_bars(report: Option<&feed::Report>) -> Vec<Bar> {
    let poll_ms = report.map_or_else(
        || u64::try_from(ruqi::FeedConfig::default().poll_interval.as_millis()).unwrap_or(u64::MAX),
        |r| r.poll_interval_ms,
    );
    Backend::ALL
        .into_iter()
        .map(|backend| {
            let status = report.and_then(|r| r.status(backend));
            let label = status.map_or(backend.label(), feed::BackendStatus::label);
            let what = format!(
                "{label}: plain SQL edit, commit → rescheduled, {} (change feed)",
                feed::Report::bar_text(backend, poll_ms)
            );
            match (
                report.and_then(|r| r.bar(backend)),
                status.and_then(|s| s.skipped.as_ref()),
            ) {
                (Some(bar), _) => Bar {
                    what,
                    measured: bar.measured,
                    pass: Some(bar.pass),
                },
                (None, Some(why)) => Bar {
                    what,
                    measured: format!("skipped: {why}"),
                    pass: None,
                },
                (None, None) => Bar {
                    what,
                    measured: "—".to_owned(),
                    pass: None,
                },
            }
        })
        .collect()
}

/// `10000` as `10,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A spread as `median (min–max)`, or `—`.
pub(crate) fn spread(value: Option<Spread>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |s| s.display(decimals))
}

/// A ratio as `1.5×`, or `—`.
pub(crate) fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |r| format!("{r:.1}×"))
}

/// The whole `BENCHMARKS.md`.
pub(crate) fn render(results: &Results) -> String {
    let mut md = String::new();
    md.push_str("# ruqi benchmarks\n\n");
    md.push_str(
        "Written by `ruqi-bench` (`crates/ruqi-bench`), which rewrites this file and the plots in \
         `docs/bench/` on every run: change the harness, not this file. Reproduce from the workspace root with \
         `cargo run --release -p ruqi-bench -- all` (add `--quick` for a smoke run; set \
         `RUQI_TEST_POSTGRES_URL` and `RUQI_TEST_MYSQL_URL` to include those servers); one scenario at a time \
         with its name instead of `all`. Every figure, run by run, is also in `docs/bench/results.json`. \
         Figures over several runs are the median with the spread (min–max across runs) in brackets; \
         percentiles within one run are by nearest rank. Ratios against a baseline (tokio-cron-scheduler, the \
         same edit through the ORM's hooks, the database's own statement rate, the API's health endpoint) are \
         always measured in the same invocation. What profiles showed before and after each performance \
         change is in `docs/bench/profiles.md`, written by hand.\n\n",
    );
    let reported_runs = results.reported_runs();
    let latest = [
        results.precision.as_ref().map(|s| &s.run),
        results.startup.as_ref().map(|s| &s.run),
        results.feed.as_ref().map(|s| &s.run),
        results.throughput.as_ref().map(|s| &s.run),
        results.cluster.as_ref().map(|s| &s.run),
        results.api.as_ref().map(|s| &s.run),
    ]
    .into_iter()
    .flatten()
    .chain(&reported_runs)
    .max_by(|a, b| a.date.cmp(&b.date));
    if let Some(run) = latest {
        md.push_str("## Machine\n\n");
        md.push_str("| | |\n|---|---|\n");
        let _ = writeln!(
            md,
            "| CPU | {} (`nproc` = {}) |",
            run.machine.cpu_model, run.machine.cpus
        );
        let _ = writeln!(md, "| memory | {} |", run.machine.memory);
        let _ = writeln!(md, "| kernel | Linux {} |", run.machine.kernel);
        let _ = writeln!(md, "| database | {} |", run.database);
        if let Some(feed) = &results.feed {
            let servers: Vec<String> = feed
                .report
                .backends
                .iter()
                .filter(|s| s.backend != Backend::Sqlite)
                .map(|s| match (&s.version, &s.skipped) {
                    (Some(_), _) => s.describe(),
                    (None, Some(why)) => format!("{}: not measured ({why})", s.label()),
                    (None, None) => format!("{}: not measured", s.label()),
                })
                .collect();
            let _ = writeln!(
                md,
                "| database servers (`feed`, `throughput`, `cluster`, `api`) | {}; a database of its own per run, sea-orm's default pool |",
                servers.join("; ")
            );
        }
        md.push_str(
            "\nThe machine is shared: other builds may run while the benchmark does, which shows up as \
             spread between runs.\n\n",
        );
    }
    md.push_str("## Bars\n\n");
    md.push_str(&bars_markdown(results));
    md.push('\n');
    md.push_str(&crate::limits::markdown(results));
    if let Some(section) = &results.precision {
        md.push_str(&precision_markdown(section));
        let _ = writeln!(
            md,
            "![Lateness distribution by number of jobs and engine]({}/{})\n",
            crate::plot::PLOT_DIR,
            crate::plot::LATENESS_SVG
        );
    }
    if let Some(section) = &results.startup {
        md.push_str(&startup_markdown(section));
        let _ = writeln!(
            md,
            "![Start-up time and resident memory against the number of jobs]({}/{})\n",
            crate::plot::PLOT_DIR,
            crate::plot::SCALE_SVG
        );
    }
    if let Some(section) = &results.feed {
        md.push_str(&feed_markdown(section));
    }
    if let Some(section) = &results.throughput {
        md.push_str(&throughput::markdown(section));
    }
    if let Some(section) = &results.cluster {
        md.push_str(&cluster::markdown(section));
    }
    if let Some(section) = &results.api {
        md.push_str(&api::markdown(section));
    }
    for scenario in REPORTED {
        if let Some(section) = results.reported.get(scenario.name) {
            match (scenario.markdown)(section) {
                Ok(section) => md.push_str(&section),
                Err(error) => {
                    let _ = writeln!(
                        md,
                        "## `{}`\n\nIts saved figures could not be read: {error:#}\n",
                        scenario.name
                    );
                }
            }
        }
    }
    md
}

/// The precision section.
pub(crate) fn precision_markdown(section: &Section<precision::Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Timer precision (`precision`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "How late a job's function starts: lateness = `Utc::now()` taken as the first thing the registered \
         function's body does − `ctx.scheduled_for()`, so it covers everything a user's function waits for \
         (timer wake-up, the claim's compare-and-set in SQLite, whatever the engine does before it spawns the \
         function; the heap engine makes the claim `claim_ahead` = 10 ms before the instant and starts the \
         function at the instant, tokio-cron-scheduler's engine makes it after its tick). Each configuration holds N idle jobs (interval `1d`, next fire at least an hour away: they \
         only make the engine's structures big) and {probes} probe jobs (interval `1s`, phases {step} ms apart, so \
         one fires every {step} ms). Each run is a fresh process with one engine: it writes the rows, starts the \
         scheduler, waits until the engine has armed every deadline (a sentinel job inserted after start-up has \
         run) and {warm_up} s more, then keeps every probe fire scheduled within the next {seconds} s as a sample \
         ({expected} per run). {runs} run(s) per configuration and engine, the engines alternating.\n\n",
        probes = report.probes,
        step = 1000 / report.probes.max(1),
        warm_up = report.warm_up_s,
        seconds = report.seconds,
        expected = report.probes * usize::try_from(report.seconds).unwrap_or(0),
        runs = report.runs,
    );
    md.push_str(
        "| jobs (idle + probes) | engine | samples per run | p50 (ms) | p99 (ms) | max (ms) | earliest (ms) \
         | ran early | p99 of \\|lateness\\| (ms) | armed after start (s) |\n",
    );
    md.push_str("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in &report.rows {
        let ok_runs = row.runs.iter().filter(|r| r.failed.is_none());
        let samples_min = ok_runs.map(|r| r.samples).min().unwrap_or(0);
        let expected = row.runs.first().map_or(0, |r| r.expected);
        let failed = row.runs.iter().filter(|r| r.failed.is_some()).count();
        let engine = if failed > 0 {
            format!(
                "{} (**{} of {} runs stalled**)",
                row.engine.label(),
                failed,
                row.runs.len()
            )
        } else {
            row.engine.label().to_owned()
        };
        let _ = writeln!(
            md,
            "| {} + {} | {} | {} of {} | {} | {} | {} | {} | {} % | {} | {} |",
            thousands(row.idle_jobs),
            report.probes,
            engine,
            samples_min,
            expected,
            spread(row.p50_ms, 2),
            spread(row.p99_ms, 2),
            spread(row.max_ms, 2),
            spread(row.min_ms, 2),
            spread(row.early_pct, 0),
            spread(row.p99_abs_ms, 2),
            spread(row.ready_s, 2),
        );
    }
    md.push_str(
        "\n| jobs (idle + probes) | p99 lateness, tokio-cron-scheduler ÷ heap | p99 of \\|lateness\\|, \
         tokio-cron-scheduler ÷ heap |\n|---:|---:|---:|\n",
    );
    for size in report.sizes() {
        let _ = writeln!(
            md,
            "| {} + {} | {} | {} |",
            thousands(size),
            report.probes,
            signed_p99_ratio(report, size),
            ratio(report.p99_abs_ratio(size))
        );
    }
    let stalled = failures(report.rows.iter().flat_map(|row| {
        row.runs
            .iter()
            .enumerate()
            .map(move |(i, run)| (row.engine, i, &run.failed))
    }));
    if !stalled.is_empty() {
        // A blank line first, or the list would be read as one more table row.
        md.push('\n');
        md.push_str(&stalled);
    }
    md.push_str("\nBoth engines measured in the same invocation.");
    let early_tcs = report
        .rows
        .iter()
        .filter(|r| r.engine == Engine::TokioCronScheduler && r.runs.iter().any(|run| run.early > 0))
        .filter_map(|r| r.min_ms.map(|m| m.min))
        .reduce(f64::min);
    if let Some(earliest) = early_tcs {
        let _ = write!(
            md,
            " tokio-cron-scheduler runs functions *before* their instant (by up to {:.0} ms here): it keeps a \
             one-shot job's time in whole seconds (`Job::new_one_shot_at_instant*` truncates the wait to whole \
             seconds, then stores the tick as a whole-second timestamp) and fires on a 500 ms tick, and ruqi's \
             engine on it starts the run as soon as the job fires. Its signed p99 therefore looks better than its \
             precision is; the \\|lateness\\| column is the fair comparison.",
            -earliest
        );
    }
    md.push_str("\n\n");
    md.push_str(
        "Where the heap engine's lateness goes, split at the run's `job_execution.started_at` (the engine takes it \
         once the run is admitted, at the instant: the fire was claimed ahead of it); p99 of each part, which need not add up:\n\n\
         | jobs (idle + probes) | instant → `started_at`: wake-up (ms) | `started_at` → function: the rest \
         (ms) |\n|---:|---:|---:|\n",
    );
    for row in report.rows.iter().filter(|r| r.engine == Engine::Heap) {
        let _ = writeln!(
            md,
            "| {} + {} | {} | {} |",
            thousands(row.idle_jobs),
            report.probes,
            spread(row.p99_to_started_ms, 2),
            spread(row.p99_started_to_function_ms, 2)
        );
    }
    md.push('\n');
    md
}

/// The start-up section.
pub(crate) fn startup_markdown(section: &Section<startup::Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Scale: start-up, memory, idle CPU (`startup`)\n\n");
    md.push_str(&run_line(section));
    let sizes: Vec<String> = report.sizes.iter().map(|&n| thousands(n)).collect();
    let _ = write!(
        md,
        "What a big table costs. For each size ({sizes}) the parent writes that many valid, scheduled rows \
         (interval `1d`, deadlines spread over the next day) into a SQLite file once, in bulk (not part of the \
         figures); each run is a fresh process on its own copy of the file that reads its resident memory \
         (`VmRSS` in `/proc/self/status`), times `ruqi::scheduler(db, registry).start().await` — read every row, \
         a page at a time, validate it (trigger, rule, zone, function, policy), put it on the timer — and reads \
         `VmRSS` again. Bytes per job = (RSS after − RSS before) ÷ rows: what the jobs cost, with whatever the \
         allocator keeps of the rows read; RSS after is the whole process. For the heap every deadline is armed \
         when `start()` returns. The tokio-cron-scheduler engine is handed its deadlines by a background task \
         after `start()` returns, one one-shot job each, so for it the time that counts is the next column: until \
         a sentinel job inserted right after `start()` came due in tokio-cron-scheduler (its deadline is handed \
         over last and is due at once; this includes up to one 500 ms tick), and its RSS after is read then; it is \
         not run above {tcs_max} jobs (see `engine.rs`). At {idle} jobs each run then waits {settle} s and reads \
         the CPU time (user + system, `/proc/self/stat`) the whole process uses over {window} s in which no job \
         is due: the timer, the change feed's 1 s poll of SQLite, the heartbeat. {runs} run(s) per size and \
         engine, the engines alternating.\n\n",
        sizes = sizes.join(", "),
        tcs_max = thousands(crate::engine::TCS_MAX_JOBS),
        idle = thousands(startup::IDLE_ROWS),
        settle = 3,
        window = report.idle_window_s,
        runs = report.runs,
    );
    md.push_str(
        "| rows | engine | `start()` (s) | all deadlines handed to the engine (s) | RSS before (MiB) | RSS after \
         (MiB) | bytes per job | peak RSS (MiB) | idle CPU (% of a core) |\n",
    );
    md.push_str("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in &report.engines {
        let engine = if row.unarmed_runs > 0 {
            format!(
                "{} (**{} of {} runs stalled**)",
                row.engine.label(),
                row.unarmed_runs,
                row.runs.len()
            )
        } else {
            row.engine.label().to_owned()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(row.rows),
            engine,
            spread(row.start_s, 2),
            spread(row.handed_over_s, 2),
            spread(row.rss_before_mib, 1),
            spread(row.rss_after_mib, 1),
            spread(row.bytes_per_job, 0),
            spread(row.rss_peak_mib, 1),
            spread(row.idle_cpu_pct, 2),
        );
    }
    md.push_str("\ntokio-cron-scheduler ÷ heap (same invocation):\n\n");
    md.push_str(
        "| rows | time until every deadline is handed to the engine | resident bytes per job |\n|---:|---:|---:|\n",
    );
    for &rows in &report.sizes {
        if report.row(rows, Engine::TokioCronScheduler).is_some() {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                thousands(rows),
                ratio(report.handed_over_ratio(rows)),
                ratio(report.memory_ratio(rows))
            );
        }
    }
    let _ = write!(
        md,
        "\nIdle CPU at {} jobs, tokio-cron-scheduler ÷ heap: {}. Memory figures count only runs whose engine \
         ended up holding every job; a stalled tokio-cron-scheduler has dropped the code of most of its jobs, so \
         its memory would look smaller than a working one's.\n\n",
        thousands(startup::IDLE_ROWS),
        ratio(report.idle_cpu_ratio())
    );
    md.push_str(&failures(report.engines.iter().flat_map(|row| {
        row.runs
            .iter()
            .enumerate()
            .map(move |(i, run)| (row.engine, i, &run.failed))
    })));
    md
}

/// The change-feed section.
pub(crate) fn feed_markdown(section: &Section<feed::Report>) -> String {
    let report = &section.report;
    let poll = report.poll_interval_ms;
    let label = |backend: Backend| {
        report
            .status(backend)
            .map_or(backend.label(), feed::BackendStatus::label)
    };
    let jobs = |idle_jobs: usize| format!("{} + {}", thousands(idle_jobs), thousands(feed::MEASURED_JOBS));
    let mut md = String::from("## Change feed latency (`feed`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "How long after a plain SQL edit by another client commits the running scheduler has applied it. Each run \
         is a fresh process on a fresh database (SQLite: a file in a temporary directory; PostgreSQL, MySQL/MariaDB: \
         `CREATE DATABASE ruqi_b_…` on the server, dropped after) holding N idle jobs (interval `1d`, deadlines \
         spread over the next day), {bulk} bulk jobs and two probe jobs (cron, UTC, next fire years away), all \
         written as the scheduler leaves them; it starts the scheduler with \
         `SeaOrmStore::change_feed(FeedConfig::default())` (poll interval {poll} ms) and then edits on a second \
         connection of its own, in autocommit, flipping a rule between `{rule_a}` and `{rule_b}`:\n\n\
         - **direct**: `UPDATE job_info SET rule = … WHERE job_id = …`. *Commit* = the instant the statement \
         returned (the commit happened within its round trip, see the last column); *applied* = the first instant \
         `scheduler.live(job).next_run_time` is the new rule's fire, checked at every `subscribe_changes()` \
         notification by a task started before the edit. That covers noticing the change (PostgreSQL: `NOTIFY` at \
         commit; elsewhere the next poll), reading the log, reading the row back, and writing the recomputed \
         `next_run_time` back with a compare-and-set (a rule edit leaves the old one in the row). Before each edit \
         a pause uniform in [0, {poll} ms), so the commits land at random phases of the poll: where the poll is \
         what finds a change, expect p50 ≈ half the interval and a worst case of the interval plus a read.\n\
         - **hook** (the baseline): the same edit through `job_info::ActiveModel::update` on the same connection, \
         whose `after_save` hook tells the scheduler in-process; from `update()` returning to applied. Pause \
         uniform in [0, 100 ms).\n\
         - **bulk**: one `UPDATE … WHERE job_id LIKE 'feed-bulk-%'` changing {bulk} rows, after a pause of one to \
         two poll intervals; from its return until the first and until the last of the rows is applied (each is \
         read back and written back by the scheduler). No hook baseline: sea-orm runs no hooks for `update_many`.\n\n\
         {direct} direct, {hook} hook and {bulks} bulk edit(s) per backend and table size, one run each, after one \
         uncounted warm-up edit of each kind; percentiles by nearest rank over that run's edits (below 100 edits \
         the p99 is the slowest edit).\n\n",
        bulk = thousands(report.bulk_rows),
        rule_a = feed::RULES[0].0,
        rule_b = feed::RULES[1].0,
        direct = report.direct_edits,
        hook = report.hook_edits,
        bulks = report.bulk_edits,
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter(|s| s.version.is_some())
        .map(feed::BackendStatus::describe)
        .collect();
    let skipped: Vec<String> = report
        .backends
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| format!("{} ({why})", s.label())))
        .collect();
    let _ = write!(md, "Backends measured: {}.", list_or_none(&measured));
    if !skipped.is_empty() {
        let _ = write!(
            md,
            " Not measured: {}; set the variable to a server's URL (as for the tests) to include it.",
            skipped.join(", ")
        );
    }
    md.push_str("\n\n");

    md.push_str(
        "Direct SQL edit, commit → applied:\n\n\
         | backend | jobs (idle + measured) | edits | p50 (ms) | p99 (ms) | max (ms) | p50 ÷ poll interval \
         | slowest − poll interval (ms) | ÷ hook, p50 | ÷ hook, p99 | bar | `UPDATE` round trip p50 (ms) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for row in &report.rows {
        let Some(direct) = row.direct else {
            let _ = writeln!(
                md,
                "| {} | {} | 0 | — | — | — | — | — | — | — | ❌ **no edit applied** | — |",
                label(row.backend),
                jobs(row.idle_jobs)
            );
            continue;
        };
        let bar = match report.row_passes(row) {
            Some(true) => format!("✅ {}", feed::Report::bar_text(row.backend, poll)),
            _ => format!("❌ **{}**", feed::Report::bar_text(row.backend, poll)),
        };
        let mut edits = direct.samples.to_string();
        if row.run.unapplied > 0 {
            let _ = write!(edits, " (**{} never applied**)", row.run.unapplied);
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.3} | {} | {} | {} | {} | {} |",
            label(row.backend),
            jobs(row.idle_jobs),
            edits,
            direct.p50_ms,
            direct.p99_ms,
            direct.max_ms,
            direct.p50_ms / poll.max(1) as f64,
            signed(direct.max_ms - poll as f64, 1),
            ratio(row.p50_ratio()),
            ratio(row.p99_ratio()),
            bar,
            row.statement_p50_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms:.2}")),
        );
    }

    md.push_str(
        "\nThe baseline, the same edit through the ORM's hooks (`update()` returned → applied; a figure can be a \
         hair below zero, as the hook announces the change from inside `update()`):\n\n\
         | backend | jobs (idle + measured) | edits | p50 (ms) | p99 (ms) | max (ms) | `update()` call p50 (ms) |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let call_p50 = percentile(&sorted(row.run.hook_call_ms.clone()), 50.0);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label(row.backend),
            jobs(row.idle_jobs),
            row.hook.map_or(0, |h| h.samples),
            latency_cell(row.hook, |h| h.p50_ms),
            latency_cell(row.hook, |h| h.p99_ms),
            latency_cell(row.hook, |h| h.max_ms),
            call_p50.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.2}")),
        );
    }

    let _ = write!(
        md,
        "\nOne `UPDATE` changing {bulk} rows (commit → applied):\n\n\
         | backend | jobs (idle + measured) | `UPDATE`s | statement p50 (ms) | first row applied, p50 (ms) \
         | all {bulk} applied, p50 (ms) | all applied, max (ms) | rows applied per second after the first, p50 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        bulk = thousands(report.bulk_rows),
    );
    for row in &report.rows {
        let statement_p50 = percentile(&sorted(row.run.bulk_statement_ms.clone()), 50.0);
        let rate = row
            .bulk_rows_per_second(report.bulk_rows)
            .map_or_else(|| "—".to_owned(), |rate| format!("{rate:.0}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            label(row.backend),
            jobs(row.idle_jobs),
            row.bulk_all.map_or(0, |b| b.samples),
            statement_p50.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.1}")),
            latency_cell(row.bulk_first, |b| b.p50_ms),
            latency_cell(row.bulk_all, |b| b.p50_ms),
            latency_cell(row.bulk_all, |b| b.max_ms),
            rate,
        );
    }

    let sizes = report.sizes();
    if let (Some(&smallest), Some(&largest)) = (sizes.first(), sizes.last())
        && smallest != largest
    {
        let _ = write!(
            md,
            "\nTable size: each figure at {} idle jobs ÷ the same at {}:\n\n\
             | backend | direct p50 | direct p99 | hook p50 | bulk, rows applied per second |\n|---|---:|---:|---:|---:|\n",
            thousands(largest),
            thousands(smallest)
        );
        for backend in Backend::ALL {
            let row_at = |size: usize| report.rows.iter().find(|r| r.backend == backend && r.idle_jobs == size);
            let (Some(small), Some(large)) = (row_at(smallest), row_at(largest)) else {
                continue;
            };
            let grow = |figure: fn(&feed::Row) -> Option<f64>| {
                ratio(
                    figure(large)
                        .zip(figure(small))
                        .and_then(|(l, s)| (s > 0.0).then(|| l / s)),
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                label(backend),
                grow(|r| r.direct.map(|d| d.p50_ms)),
                grow(|r| r.direct.map(|d| d.p99_ms)),
                grow(|r| r.hook.map(|h| h.p50_ms)),
                grow(|r| r.bulk_rows_per_second(feed::BULK_ROWS)),
            );
        }
        let _ = writeln!(
            md,
            "\nWhere the poll finds the change (SQLite, MySQL/MariaDB), a direct edit's latency is mostly the poll's \
             phase, uniform over the interval: the median of {n} such edits varies by about ±{noise:.0} % (one \
             standard deviation) from run to run of one configuration, so direct ratios within that band say \
             nothing about table size there. The bulk rate (reading back and writing back each row) is the \
             processing alone.",
            n = report.direct_edits,
            noise = 100.0 / (report.direct_edits.max(1) as f64).sqrt(),
        );
    }
    md.push('\n');
    md
}

fn latency_cell(latency: Option<feed::Latency>, figure: fn(&feed::Latency) -> f64) -> String {
    latency.map_or_else(|| "—".to_owned(), |l| format!("{:.1}", figure(&l)))
}

/// `x` with an explicit sign, and a real minus sign rather than a hyphen.
fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", x.abs());
    if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The bars as a markdown table, for the end of the console output.
pub(crate) fn bars_markdown(results: &Results) -> String {
    let mut md = String::from("| bar | measured | result |\n|---|---|---|\n");
    for bar in bars(results) {
        let _ = writeln!(md, "| {} | {} | {} |", bar.what, bar.measured, verdict(bar.pass));
    }
    md
}

/// `/proc/loadavg`'s first three fields, e.g. `0.52 0.61 0.70`.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The signed p99 ratio, or why there is none.
fn signed_p99_ratio(report: &precision::Report, idle_jobs: usize) -> String {
    let tcs_early = report
        .row(idle_jobs, Engine::TokioCronScheduler)
        .and_then(|row| row.p99_ms)
        .is_some_and(|p99| p99.median <= 0.0);
    if tcs_early {
        "n/a: tokio-cron-scheduler's p99 fire is still early".to_owned()
    } else {
        ratio(report.p99_ratio(idle_jobs))
    }
}

/// A list of the runs whose engine stalled and why, or nothing if none did.
fn failures<'a>(runs: impl Iterator<Item = (Engine, usize, &'a Option<String>)>) -> String {
    let mut md = String::new();
    for (engine, index, failed) in runs {
        if let Some(reason) = failed {
            if md.is_empty() {
                md.push_str("Runs that stalled:\n\n");
            }
            let _ = writeln!(md, "- {}, run {}: {}", engine.label(), index + 1, reason);
        }
    }
    if !md.is_empty() {
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1), "1");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn empty_results_render_the_bars_as_not_measured() {
        let md = render(&Results::default());
        assert!(md.starts_with("# ruqi benchmarks"));
        // Every bar, once each.
        assert_eq!(md.matches("not measured").count(), bars(&Results::default()).len());
    }

    #[test]
    fn signs_are_explicit() {
        assert_eq!(signed(-29.34, 1), "−29.3");
        assert_eq!(signed(12.0, 1), "+12.0");
        assert_eq!(signed(-0.01, 1), "+0.0");
    }

    #[test]
    fn feed_section_names_what_was_skipped() {
        let run = |direct_ms: Vec<f64>, hook_ms: Vec<f64>| feed::RunResult {
            version: "SQLite 3.51.3".into(),
            direct_ms,
            hook_ms,
            ..feed::RunResult::default()
        };
        let report = feed::Report {
            poll_interval_ms: 1000,
            bulk_rows: feed::BULK_ROWS,
            direct_edits: 2,
            hook_edits: 1,
            bulk_edits: 0,
            backends: vec![
                feed::BackendStatus {
                    backend: Backend::Postgres,
                    version: None,
                    skipped: Some("`RUQI_TEST_POSTGRES_URL` is not set".into()),
                },
                feed::BackendStatus {
                    backend: Backend::Sqlite,
                    version: Some("SQLite 3.51.3".into()),
                    skipped: None,
                },
            ],
            rows: vec![
                feed::Row::new(Backend::Sqlite, 1_000, run(vec![400.0, 980.0], vec![0.5])),
                feed::Row::new(Backend::Sqlite, 10_000, run(vec![500.0, 1100.0], vec![0.5])),
            ],
        };
        let results = Results {
            feed: Some(Section {
                run: RunInfo::now(Path::new("."), &["feed".to_owned()], false),
                load_average: ["0".into(), "0".into()],
                report,
            }),
            ..Results::default()
        };
        let md = render(&results);
        assert!(md.contains("Not measured: PostgreSQL (`RUQI_TEST_POSTGRES_URL` is not set)"));
        assert!(md.contains("skipped: `RUQI_TEST_POSTGRES_URL` is not set"));
        // One size of two missed the bar, so the backend fails it.
        assert!(
            md.contains(
                "| SQLite: plain SQL edit, commit → rescheduled, every edit ≤ poll interval + 50 ms = 1,050 ms"
            )
        );
        assert!(md.contains("slowest edit 1100.0 ms (of 2 edits, at 10,000 idle jobs; p50 500.0 ms) | ❌ **fail**"));
        assert!(
            md.contains("| SQLite | 1,000 + 1,002 | 2 | 400.0 | 980.0 | 980.0 | 0.400 | −20.0 | 800.0× | 1960.0× |")
        );
        // Every bar without a figure (PostgreSQL's feed bar among them), and
        // PostgreSQL once more in the machine table.
        let unmeasured = bars(&results).iter().filter(|b| b.pass.is_none()).count();
        assert_eq!(md.matches("not measured").count(), unmeasured + 1);
    }
}
