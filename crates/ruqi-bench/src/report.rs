//! The outputs: every figure in `target/bench/results.json`, and
//! `BENCHMARKS.md` at the workspace root rendered from it.
//!
//! A run of one scenario replaces that scenario's section and keeps the
//! others from the previous `results.json`, so `BENCHMARKS.md` always shows
//! the latest figures of every scenario, each with its own date and command.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::db::SQLITE_SETUP;
use crate::engine::Engine;
use crate::machine::Machine;
use crate::scenario::{precision, startup};
use crate::stats::Spread;

/// How and where one scenario's figures were taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// When the run started (UTC, RFC 3339).
    pub(crate) date: String,
    /// The command that ran it.
    pub(crate) command: String,
    /// The commit measured.
    pub(crate) commit: String,
    /// `release`, or `debug` (figures not to be quoted).
    pub(crate) build: String,
    /// Whether it was a `--quick` run.
    pub(crate) quick: bool,
    /// The machine.
    pub(crate) machine: Machine,
    /// How the database was set up.
    pub(crate) database: String,
}

impl RunInfo {
    /// Describes a run starting now with `args` (the command-line arguments after the program name).
    pub(crate) fn now(root: &Path, args: &[String], quick: bool) -> RunInfo {
        let build = if cfg!(debug_assertions) { "debug" } else { "release" };
        let args = args.join(" ");
        // `cargo run` sets CARGO for the program it runs.
        let command = if std::env::var_os("CARGO").is_some() {
            let release = if cfg!(debug_assertions) { "" } else { " --release" };
            format!("cargo run{release} -p ruqi-bench -- {args}")
        } else {
            format!("ruqi-bench {args}")
        };
        RunInfo {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            command,
            commit: crate::machine::git_commit(root),
            build: build.to_owned(),
            quick,
            machine: Machine::describe(),
            database: SQLITE_SETUP.to_owned(),
        }
    }
}

/// A scenario's figures with how they were taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Section<T> {
    /// How and where.
    pub(crate) run: RunInfo,
    /// The machine's load average (1, 5, 15 min) when the scenario began and
    /// when it ended: other work on the machine shows up here.
    pub(crate) load_average: [String; 2],
    /// The figures.
    pub(crate) report: T,
}

/// Everything `results.json` holds: the latest section of each scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Results {
    /// Timer precision.
    pub(crate) precision: Option<Section<precision::Report>>,
    /// Start-up time and memory.
    pub(crate) startup: Option<Section<startup::Report>>,
}

/// The workspace root (where `BENCHMARKS.md` lives), from where this crate was built.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    root.canonicalize().unwrap_or(root)
}

fn results_path(root: &Path) -> PathBuf {
    root.join("target").join("bench").join("results.json")
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

/// Writes `target/bench/results.json`.
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
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, render(results)).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A target the figures are held to.
struct Bar {
    what: String,
    measured: String,
    /// `None` when this run did not measure it.
    pass: Option<bool>,
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
    let startup_bar = {
        let what = format!(
            "{} rows loaded and scheduled in ≤ {} s (heap engine)",
            thousands(startup::BAR_ROWS),
            startup::BAR_SECONDS
        );
        match results.startup.as_ref().map(|s| &s.report) {
            Some(report) if report.rows >= startup::BAR_ROWS => {
                match report.row(Engine::Heap).and_then(|row| row.start_s) {
                    Some(start) => Bar {
                        what,
                        measured: format!("{} s (median of runs, min–max)", start.display(2)),
                        pass: Some(start.median <= startup::BAR_SECONDS),
                    },
                    None => Bar {
                        what,
                        measured: "—".to_owned(),
                        pass: None,
                    },
                }
            }
            Some(report) => Bar {
                what,
                measured: format!("only {} rows in this (quick) run", thousands(report.rows)),
                pass: None,
            },
            None => Bar {
                what,
                measured: "—".to_owned(),
                pass: None,
            },
        }
    };
    vec![precision_bar, startup_bar]
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

fn spread(value: Option<Spread>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |s| s.display(decimals))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |r| format!("{r:.1}×"))
}

/// The whole `BENCHMARKS.md`.
pub(crate) fn render(results: &Results) -> String {
    let mut md = String::new();
    md.push_str("# ruqi benchmarks\n\n");
    md.push_str(
        "Written by `ruqi-bench` (`crates/ruqi-bench`), which rewrites this file on every run: change the \
         harness, not this file. Reproduce from the workspace root with \
         `cargo run --release -p ruqi-bench -- all` (add `--quick` for a one-minute smoke run, `--full` for the \
         100,000-job precision configuration); every figure, run by run, is also in \
         `target/bench/results.json`. Figures are the median over runs with the spread (min–max across runs) \
         in brackets.\n\n",
    );
    let latest = [
        results.precision.as_ref().map(|s| &s.run),
        results.startup.as_ref().map(|s| &s.run),
    ]
    .into_iter()
    .flatten()
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
        md.push_str(
            "\nThe machine is shared: other builds may run while the benchmark does, which shows up as \
             spread between runs.\n\n",
        );
    }
    md.push_str("## Bars\n\n");
    md.push_str(&bars_markdown(results));
    md.push('\n');
    if let Some(section) = &results.precision {
        md.push_str(&precision_markdown(section));
    }
    if let Some(section) = &results.startup {
        md.push_str(&startup_markdown(section));
    }
    md
}

fn run_line<T>(section: &Section<T>) -> String {
    let run = &section.run;
    let mut line = format!(
        "*Measured {} with `{}` at commit `{}` ({} build); load average {} before, {} after",
        run.date, run.command, run.commit, run.build, section.load_average[0], section.load_average[1]
    );
    if run.quick {
        line.push_str("; a `--quick` smoke run: one run per configuration, shorter windows, fewer rows");
    }
    if run.build != "release" {
        line.push_str("; **a debug build: do not quote these figures**");
    }
    line.push_str(".*\n\n");
    line
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
         function). Each configuration holds N idle jobs (interval `1d`, next fire at least an hour away: they \
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
    md.push_str(&failures(report.rows.iter().flat_map(|row| {
        row.runs
            .iter()
            .enumerate()
            .map(move |(i, run)| (row.engine, i, &run.failed))
    })));
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
         once the fire is claimed and the run admitted); p99 of each part, which need not add up:\n\n\
         | jobs (idle + probes) | instant → `started_at`: wake-up, claim (ms) | `started_at` → function: the rest \
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
    let mut md = String::from("## Start-up (`startup`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "What starting over a big table costs. The parent writes {rows} valid, scheduled rows (interval `1d`, \
         deadlines spread over the next day) into a SQLite file once, in bulk ({seed:.1} s, not part of the \
         figures); each run is a fresh process on its own copy of the file that reads its resident memory \
         (`VmRSS` in `/proc/self/status`), times `ruqi::scheduler(db, registry).start().await` — read every row, \
         validate it (trigger, rule, zone, function, policy), put it on the timer — and reads `VmRSS` again. \
         Bytes per job = (RSS after − RSS before) ÷ rows; it includes what the allocator keeps of the rows read. \
         For the heap every deadline is armed when `start()` returns. The tokio-cron-scheduler engine is handed \
         its deadlines by a background task after `start()` returns, one one-shot job each, so for it the time \
         that counts is the next column: until a sentinel job inserted right after `start()` came due in \
         tokio-cron-scheduler (its deadline is handed over last and is due at once; this includes up to one \
         500 ms tick), and its RSS after is read then. {runs} run(s) per engine, the engines alternating.\n\n",
        rows = thousands(report.rows),
        seed = report.seed_s,
        runs = report.runs,
    );
    md.push_str(
        "| rows | engine | `start()` (s) | all deadlines handed to the engine (s) | RSS before (MiB) | RSS after \
         (MiB) | bytes per job | peak RSS (MiB) |\n",
    );
    md.push_str("|---:|---|---:|---:|---:|---:|---:|---:|\n");
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
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(report.rows),
            engine,
            spread(row.start_s, 2),
            spread(row.handed_over_s, 2),
            spread(row.rss_before_mib, 1),
            spread(row.rss_after_mib, 1),
            spread(row.bytes_per_job, 0),
            spread(row.rss_peak_mib, 1),
        );
    }
    let _ = write!(
        md,
        "\ntokio-cron-scheduler ÷ heap (same invocation): time until every deadline is handed to the engine {}, \
         resident bytes per job {}. Memory figures count only runs whose engine ended up holding every job; a \
         stalled tokio-cron-scheduler has dropped the code of most of its jobs, so its memory would look smaller \
         than a working one's.\n\n",
        ratio(report.handed_over_ratio()),
        ratio(report.memory_ratio())
    );
    md.push_str(&failures(report.engines.iter().flat_map(|row| {
        row.runs
            .iter()
            .enumerate()
            .map(move |(i, run)| (row.engine, i, &run.failed))
    })));
    md
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
        assert_eq!(md.matches("not measured").count(), 2);
    }
}
