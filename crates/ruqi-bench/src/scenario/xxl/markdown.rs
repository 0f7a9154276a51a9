//! The `xxl` section of `BENCHMARKS.md` and its bars.

use std::fmt::Write as _;

use super::executor::CALLBACK_TRIES;
use super::{Function, JOBS, MANY_EXECUTORS, QUICK_JOBS, Report, Row};
use crate::backend::Backend;
use crate::report::{spread, thousands};
use crate::scenario::feed::BackendStatus;
use crate::scenario::throughput::MISFIRE_GRACE_S;
use crate::section::{Bar, Section, run_line};
use crate::stats::Spread;

/// The `xxl` section of `BENCHMARKS.md`.
pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## XXL-JOB dispatch (`xxl`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "How fast one ruqi node, as an XXL-JOB scheduling center, gets runs to executors that answer at once, \
         against the same runs of the in-process `log` function in the same invocation. Each run is a fresh \
         process on a fresh database (as in `throughput`) holding one scheduler, `ruqi::scheduler(db, \
         registry).start()` with default settings, whose registry has the center's `xxl` \
         (`ruqi_xxl::XxlCenter::new(db, XxlOptions::default())`, `center.register`) and ruqi-server's built-in \
         functions; the center's executor API (`center.executor_api().endpoint()`) is served on a loopback \
         port at `/xxl-job-admin/api`. The executors are the benchmark's own, in a second process: each serves \
         `/run` (code 200 at once; the instant its handler began and the trigger's `logId` and `jobId` are \
         noted, and the success queued for the callback), `/log` (an empty, finished page), `/beat`, \
         `/idleBeat` and `/kill` (code 200), registers with `registry` before the jobs are written (and every \
         30 s), and has one callback task, as the Java executor has one callback thread: it POSTs every result \
         queued by then to `callback` as one list (`logId`, `logDateTim`, `handleCode` 200) and waits for the \
         answer before the next list (a list not taken is sent again, up to {tries} times). Once the executors \
         are registered, the node writes N one-shot jobs (trigger `date`, all due at one instant T, \
         `misfire_grace_s` = {grace}) and starts its scheduler, T being far enough ahead for start-up to be \
         over. Three functions take turns in each run, each on a database of its own: ruqi-server's `log` \
         (args a string: the baseline), `xxl` to one executor (args `{{\"app\", \"handler\", \"route\": \
         \"FIRST\"}}`), and `xxl` to {many} executors (route `ROUND`).\n\n\
         - **runs/s** = N ÷ (the instant the last run's success was recorded − T), counted from the \
         scheduler's `succeeded` events and confirmed in `job_execution` as in `throughput`; for `xxl` a run \
         succeeds once the center has its callback, so this is dispatches/s from first fire to last success. \
         **÷ `log`** = that ÷ the `log` figure of the same run, run by run.\n\
         - **fire → start** (p50, p99) = `job_execution.started_at` − `scheduled_for` over the N runs: when the \
         engine let the run begin (an `xxl` run holds one of the engine's 256 run slots until its callback).\n\
         - **fire → `/run` received** (p50, p99) = the instant the executor's `/run` handler began (its clock; \
         the same machine) − the run's `scheduled_for`, matched by `logId` through `xxl_dispatch`.\n\
         - **verified**: every job must have one `success` row and no other, none may be left `running`, every \
         dispatch must have its callback's code 200, every run exactly one `xxl_dispatch` row, no `logId` may \
         arrive twice or unknown or with another `jobId` than its row's, and every run's `/run` must arrive \
         exactly once. The command fails \
         otherwise.\n\n\
         {runs} run(s) of each function per backend, N = {jobs} ({size}); figures are the median over runs \
         with the range in brackets.\n\n",
        tries = CALLBACK_TRIES,
        grace = thousands(usize::try_from(MISFIRE_GRACE_S).unwrap_or_default()),
        many = MANY_EXECUTORS,
        runs = report.runs,
        jobs = thousands(report.jobs),
        size = if report.jobs == JOBS {
            format!(
                "the size of `throughput`'s smaller row; {} with `--quick`",
                thousands(QUICK_JOBS)
            )
        } else {
            format!("{} in a full run", thousands(JOBS))
        },
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter(|s| s.version.is_some())
        .map(BackendStatus::describe)
        .collect();
    let pools: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.function == Function::Log)
        .filter_map(|r| {
            Some(format!(
                "{} {}",
                report.label(r.backend),
                r.runs.first()?.pool_connections
            ))
        })
        .collect();
    let _ = write!(
        md,
        "Backends measured: {}; pool connections (shared by the scheduler and the center): {}.",
        list_or_none(&measured),
        list_or_none(&pools)
    );
    let skipped: Vec<String> = report
        .backends
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| format!("{} ({why})", s.label())))
        .collect();
    if !skipped.is_empty() {
        let _ = write!(md, " Not measured: {}.", skipped.join(", "));
    }
    md.push_str("\n\n");

    md.push_str(
        "| backend | reached | function | jobs (N) | runs/s | ÷ `log` | fire → start p50 (ms) | fire → start p99 \
         (ms) | fire → `/run` received p50 (ms) | fire → `/run` received p99 (ms) | verified |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in &report.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            reached(row),
            row.function.label(),
            thousands(row.jobs),
            spread(row.runs_per_s, 0),
            spread(row.ratio, 2),
            spread(row.start_p50_ms, 0),
            spread(row.start_p99_ms, 0),
            spread(row.run_p50_ms, 0),
            spread(row.run_p99_ms, 0),
            verified(row),
        );
    }
    md.push_str(
        "\nWhat the executors saw, per run (median over runs, range in brackets): the center's calls other than \
         `/run` (it reads a waiting run's log with `/log` once a second), and the callback lists their one \
         callback task each sent:\n\n\
         | backend | function | `/run` per executor | `/log` calls | `/beat`, `/idleBeat`, `/kill` calls \
         | callback lists | results per list | longest list | waiting for the center's answers (s) |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in report.rows.iter().filter(|r| r.function != Function::Log) {
        let calls = |figure: fn(&super::executor::Calls) -> usize| {
            Spread::of(row.runs.iter().filter_map(|r| Some(figure(r.calls.as_ref()?) as f64)))
        };
        let callbacks = |figure: fn(&super::executor::Callbacks) -> f64| {
            Spread::of(row.runs.iter().filter_map(|r| Some(figure(r.callbacks.as_ref()?))))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            row.function.label(),
            per_executor(row),
            spread(calls(|c| c.log), 0),
            spread(calls(|c| c.beat + c.idle_beat + c.kill), 0),
            spread(callbacks(|c| c.posts as f64), 0),
            spread(callbacks(|c| c.results as f64 / c.posts.max(1) as f64), 1),
            spread(callbacks(|c| c.largest as f64), 0),
            spread(callbacks(|c| c.waiting_s), 2),
        );
    }
    md.push('\n');
    md
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// How the row's runs reached the database.
fn reached(row: &Row) -> String {
    if row.backend == Backend::Sqlite {
        "file".to_owned()
    } else {
        row.via.clone()
    }
}

/// The `/run`s each executor received, fewest to most over every run.
fn per_executor(row: &Row) -> String {
    let counts = row.runs.iter().flat_map(|r| r.per_executor.iter().copied());
    match (counts.clone().min(), counts.max()) {
        (Some(min), Some(max)) if min == max => thousands(min),
        (Some(min), Some(max)) => format!("{}–{}", thousands(min), thousands(max)),
        _ => "—".to_owned(),
    }
}

/// The verification column: all as expected, or what was not.
fn verified(row: &Row) -> String {
    let problems = row.problems();
    if problems.is_empty() {
        let what = if row.function == Function::Log {
            "one `success` row per job"
        } else {
            "one `success` row, one dispatch and one `/run` received per job; 0 duplicate `logId`s, 0 left `running`"
        };
        return format!("✅ {what}");
    }
    let listed: Vec<String> = problems
        .iter()
        .map(|(name, n)| format!("{name} {}", thousands(*n)))
        .collect();
    format!("❌ **{}**", listed.join(", "))
}

/// One bar per backend: every run dispatched and received exactly once.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    Backend::ALL
        .into_iter()
        .map(|backend| {
            let status = report.and_then(|r| r.backends.iter().find(|s| s.backend == backend));
            let label = status.map_or(backend.label(), BackendStatus::label);
            let what = format!(
                "{label}: one-shot `xxl` jobs due at once, dispatched to local executors: every run succeeds, its \
                 `/run` received exactly once, 0 duplicate `logId`s, 0 left `running` (xxl)"
            );
            let (Some(report), Some(status)) = (report, status) else {
                return Bar::unmeasured(what, "—");
            };
            if let Some(why) = &status.skipped {
                return Bar::unmeasured(what, format!("skipped: {why}"));
            }
            let rows: Vec<&Row> = report
                .rows_of(backend)
                .filter(|r| r.function != Function::Log)
                .collect();
            let problems: Vec<String> = rows
                .iter()
                .flat_map(|row| {
                    row.problems()
                        .into_iter()
                        .map(|(name, n)| format!("{}: {name} {n}", row.function.label()))
                })
                .collect();
            let rates: Vec<String> = rows
                .iter()
                .map(|row| {
                    format!(
                        "{}: {}/s, {} of `log`",
                        row.function.label(),
                        spread(row.runs_per_s, 0),
                        spread(row.ratio, 2)
                    )
                })
                .collect();
            let runs: usize = rows.iter().map(|r| r.runs.len()).sum();
            Bar {
                measured: format!(
                    "{} over {runs} run(s) of {} jobs; {}",
                    if problems.is_empty() {
                        "all 0".to_owned()
                    } else {
                        problems.join(", ")
                    },
                    thousands(report.jobs),
                    rates.join("; ")
                ),
                pass: Some(runs > 0 && problems.is_empty()),
                what,
            }
        })
        .collect()
}
