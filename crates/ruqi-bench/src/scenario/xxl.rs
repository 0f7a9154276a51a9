//! `xxl`: how fast one ruqi node, as an XXL-JOB scheduling center, gets N
//! runs to executors that answer at once, against the same N runs of the
//! in-process `log` function.
//!
//! Each run is a node child (see [`node`]) on a fresh database of one
//! backend, and for `xxl` a child with the benchmark's own executors (see
//! [`executor`]): the parent starts the node, which serves the center's
//! executor API and says where; then the executors, which register there;
//! then the node writes N one-shot jobs due at one instant T and starts its
//! scheduler. The functions take turns within each run: `log` (ruqi-server's
//! built-in, the baseline), `xxl` to one executor (route FIRST), `xxl` to
//! four (route ROUND), each on a database of its own.
//!
//! Runs per second = N ÷ (the instant the last run's success was recorded
//! − T), as in `throughput`; **÷ `log`** divides it by the `log` figure of
//! the same run. Fire → start is `started_at` − `scheduled_for` of each
//! run; fire → `/run` is the instant the executor's handler began (its
//! clock, this machine) − the run's `scheduled_for`, matched by `logId`
//! through `xxl_dispatch`. Every run must end `success`, none may be left
//! `running`, no `logId` may arrive twice, and every run must have exactly
//! one dispatch whose `/run` arrived exactly once: the command fails
//! otherwise.

pub(crate) mod executor;
mod markdown;
pub(crate) mod node;
mod tally;

pub(crate) use markdown::{bars, markdown};

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use super::ends::STALL_LIMIT;
use super::feed::BackendStatus;
use super::{Options, Scenario};
use crate::backend::{self, Backend, RunDatabase};
use crate::child::start_child;
use crate::report::thousands;
use crate::section::{Bar, Section};
use crate::stats::{Spread, percentile};
use executor::{Callbacks, Calls, ExecutorConfig, ExecutorResult};
use node::{NodeConfig, NodeResult};
use tally::Tally;

/// The app the executors register as.
pub(crate) const APP: &str = "ruqi-bench";
/// The handler the jobs name; the executors run nothing for it.
pub(crate) const HANDLER: &str = "noop";
/// Prefix of the measured jobs' ids.
pub(crate) const JOB_PREFIX: &str = "xxl-";
/// Jobs due at once in a full run ...
pub(crate) const JOBS: usize = 10_000;
/// ... and in a `--quick` one.
pub(crate) const QUICK_JOBS: usize = 1_000;
/// Executors of the second `xxl` configuration (route ROUND).
pub(crate) const MANY_EXECUTORS: usize = 4;
/// Tries per run at getting start-up over before T.
const LEAD_ATTEMPTS: u32 = 3;

/// What the measured jobs run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Function {
    /// ruqi-server's built-in `log`, in the node's process: the baseline.
    Log,
    /// `xxl` to `executors` executors of the benchmark's own, by `route`.
    Xxl { executors: usize, route: String },
}

impl Function {
    /// The functions each run measures, in the order they take turns.
    fn all() -> [Function; 3] {
        [
            Function::Log,
            Function::Xxl {
                executors: 1,
                route: "FIRST".to_owned(),
            },
            Function::Xxl {
                executors: MANY_EXECUTORS,
                route: "ROUND".to_owned(),
            },
        ]
    }

    /// How the tables name it.
    pub(crate) fn label(&self) -> String {
        match self {
            Function::Log => "`log` (in-process)".to_owned(),
            Function::Xxl { executors: 1, route } => format!("`xxl`, 1 executor ({route})"),
            Function::Xxl { executors, route } => format!("`xxl`, {executors} executors ({route})"),
        }
    }
}

/// One run of one function, as the report keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Connections in the node's pool.
    pub(crate) pool_connections: u32,
    /// Seconds between the scheduler being ready and T.
    pub(crate) slack_s: f64,
    /// N ÷ seconds from T to the last success recorded; `None` when not every job succeeded.
    pub(crate) runs_per_s: Option<f64>,
    /// Seconds from T to the last success recorded.
    pub(crate) duration_s: f64,
    /// Whether that instant came from the events (else from a poll).
    pub(crate) end_from_events: bool,
    /// `success` rows.
    pub(crate) success_rows: usize,
    /// Runs beyond a job's first `success`.
    pub(crate) duplicates: usize,
    /// Jobs with no `success` row.
    pub(crate) lost: usize,
    /// Rows left `running`.
    pub(crate) running: usize,
    /// Rows of other statuses.
    pub(crate) other_rows: Vec<(String, usize)>,
    /// Fire → start, median, ms.
    pub(crate) start_p50_ms: Option<f64>,
    /// Fire → start, p99, ms.
    pub(crate) start_p99_ms: Option<f64>,
    /// Fire → `/run` received, median, ms (`xxl` only).
    pub(crate) run_p50_ms: Option<f64>,
    /// Fire → `/run` received, p99, ms.
    pub(crate) run_p99_ms: Option<f64>,
    /// Dispatch rows (`xxl` only).
    pub(crate) dispatches: usize,
    /// Dispatch rows with no result.
    pub(crate) open_dispatches: usize,
    /// Dispatch rows whose result is not code 200.
    pub(crate) failed_dispatches: usize,
    /// The counts of [`Tally::named`] that are not 0.
    pub(crate) mismatches: Vec<(String, usize)>,
    /// `/run`s received by each executor.
    pub(crate) per_executor: Vec<usize>,
    /// The calls the executors answered.
    pub(crate) calls: Option<Calls>,
    /// The callbacks they sent.
    pub(crate) callbacks: Option<Callbacks>,
}

impl RunResult {
    /// One run's figures from what its children reported.
    fn new(node: NodeResult, executors: Option<ExecutorResult>) -> RunResult {
        let mut result = RunResult {
            version: node.version,
            pool_connections: node.pool_connections,
            slack_s: node.slack_s,
            runs_per_s: node.runs_per_s,
            duration_s: node.duration_s,
            end_from_events: node.end_from_events,
            success_rows: node.success_rows,
            duplicates: node.duplicates,
            lost: node.lost,
            running: node.running,
            other_rows: node.other_rows,
            start_p50_ms: node.start_p50_ms,
            start_p99_ms: node.start_p99_ms,
            dispatches: node.dispatches.len(),
            open_dispatches: node.open_dispatches,
            failed_dispatches: node.failed_dispatches,
            ..RunResult::default()
        };
        if let Some(executors) = executors {
            let tally = Tally::of(&node.runs, &node.dispatches, &executors.received);
            result.run_p50_ms = percentile(&tally.fire_to_run_ms, 50.0);
            result.run_p99_ms = percentile(&tally.fire_to_run_ms, 99.0);
            result.mismatches = tally
                .named()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| (name.to_owned(), n))
                .collect();
            let many = executors.received.iter().map(|r| r.executor + 1).max().unwrap_or(0);
            result.per_executor = vec![0; many];
            for received in &executors.received {
                result.per_executor[received.executor] += 1;
            }
            result.calls = Some(executors.calls);
            result.callbacks = Some(executors.callbacks);
        }
        result
    }

    /// What must be 0 and is not, by name.
    pub(crate) fn problems(&self) -> Vec<(String, usize)> {
        let others: usize = self.other_rows.iter().map(|(_, n)| n).sum();
        let mut problems: Vec<(String, usize)> = [
            ("runs left running", self.running),
            ("jobs with no success", self.lost),
            ("jobs run twice", self.duplicates),
            ("rows of another status", others),
            ("dispatches with no result", self.open_dispatches),
            ("dispatches that failed", self.failed_dispatches),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| (name.to_owned(), n))
        .collect();
        problems.extend(self.mismatches.iter().cloned());
        problems
    }
}

/// One backend and function over its runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// How the runs reached it, in words.
    pub(crate) via: String,
    /// The function.
    pub(crate) function: Function,
    /// Jobs due at once.
    pub(crate) jobs: usize,
    /// Every run, in order.
    pub(crate) runs: Vec<RunResult>,
    /// Runs per second.
    pub(crate) runs_per_s: Option<Spread>,
    /// Runs per second ÷ those of `log` in the same run, run by run (`xxl` rows).
    pub(crate) ratio: Option<Spread>,
    /// Fire → start p50, ms.
    pub(crate) start_p50_ms: Option<Spread>,
    /// Fire → start p99, ms.
    pub(crate) start_p99_ms: Option<Spread>,
    /// Fire → `/run` received p50, ms.
    pub(crate) run_p50_ms: Option<Spread>,
    /// Fire → `/run` received p99, ms.
    pub(crate) run_p99_ms: Option<Spread>,
}

impl Row {
    /// Summarises the runs of one function; `baseline` holds the `log`
    /// runs of the same invocation, in the same order.
    fn new(backend: Backend, function: Function, jobs: usize, runs: Vec<RunResult>, baseline: &[RunResult]) -> Row {
        let over = |figure: fn(&RunResult) -> Option<f64>| Spread::of(runs.iter().filter_map(figure));
        let ratio = (function != Function::Log)
            .then(|| {
                Spread::of(runs.iter().zip(baseline).filter_map(|(run, log)| {
                    let (rate, base) = (run.runs_per_s?, log.runs_per_s?);
                    (base > 0.0).then(|| rate / base)
                }))
            })
            .flatten();
        Row {
            backend,
            via: backend::reach(backend, None).1,
            function,
            jobs,
            runs_per_s: over(|r| r.runs_per_s),
            ratio,
            start_p50_ms: over(|r| r.start_p50_ms),
            start_p99_ms: over(|r| r.start_p99_ms),
            run_p50_ms: over(|r| r.run_p50_ms),
            run_p99_ms: over(|r| r.run_p99_ms),
            runs,
        }
    }

    /// What must be 0 and is not, summed over the runs; also the runs in
    /// which not every job succeeded.
    pub(crate) fn problems(&self) -> Vec<(String, usize)> {
        let mut totals: Vec<(String, usize)> = Vec::new();
        for (name, n) in self.runs.iter().flat_map(RunResult::problems) {
            match totals.iter_mut().find(|(seen, _)| *seen == name) {
                Some(total) => total.1 += n,
                None => totals.push((name, n)),
            }
        }
        let incomplete = self.runs.iter().filter(|r| r.runs_per_s.is_none()).count();
        if incomplete > 0 {
            totals.push(("incomplete runs".to_owned(), incomplete));
        }
        totals
    }
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Runs of each function per backend.
    pub(crate) runs: usize,
    /// Jobs due at once.
    pub(crate) jobs: usize,
    /// Every backend, measured or not.
    pub(crate) backends: Vec<BackendStatus>,
    /// One row per measured backend and function, `log` first.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The rows of `backend`.
    pub(crate) fn rows_of(&self, backend: Backend) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.backend == backend)
    }

    fn label(&self, backend: Backend) -> &'static str {
        self.backends
            .iter()
            .find(|s| s.backend == backend)
            .map_or(backend.label(), BackendStatus::label)
    }
}

/// The scenario, for [`Scenario`].
pub(crate) struct Xxl;

impl Scenario for Xxl {
    const NAME: &'static str = "xxl";
    const SHARED_SERVERS: bool = true;
    type Report = Report;

    async fn run(options: Options) -> Result<Report> {
        run(options).await
    }

    fn markdown(section: &Section<Report>) -> String {
        markdown(section)
    }

    fn bars(report: Option<&Report>) -> Vec<Bar> {
        bars(report)
    }

    fn failure(report: &Report) -> Option<String> {
        let failing: Vec<String> = report
            .rows
            .iter()
            .filter_map(|row| {
                let problems = row.problems();
                (!problems.is_empty()).then(|| {
                    let listed: Vec<String> = problems.iter().map(|(name, n)| format!("{name} {n}")).collect();
                    format!(
                        "{}, {}: {}",
                        report.label(row.backend),
                        row.function.label(),
                        listed.join(", ")
                    )
                })
            })
            .collect();
        (!failing.is_empty()).then(|| format!("xxl: {}", failing.join("; ")))
    }
}

/// How long before T the jobs are written: room for seeding and start-up
/// (`throughput`'s lead).
fn lead(jobs: usize) -> Duration {
    Duration::from_secs(3) + Duration::from_micros(80) * u32::try_from(jobs).unwrap_or(u32::MAX)
}

/// Parent side: every available backend, run and function, each run in its
/// own children on a fresh database.
async fn run(options: Options) -> Result<Report> {
    let jobs = if options.quick { QUICK_JOBS } else { JOBS };
    let runs = options.runs();
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    for backend in Backend::ALL {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped(Xxl::NAME, backend, why));
            continue;
        }
        let functions = Function::all();
        let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); functions.len()];
        for run in 1..=runs {
            for (function, results) in functions.iter().zip(&mut results) {
                eprintln!(
                    "xxl: {} {}, {} one-shot jobs due at once, {}, run {run}/{runs}",
                    backend.label(),
                    backend::reach(backend, None).1,
                    thousands(jobs),
                    function.label()
                );
                let result = run_with_lead(backend, jobs, function).await?;
                eprintln!("  {}", progress_line(&result, jobs));
                results.push(result);
            }
        }
        let version = results.first().and_then(|r| r.first()).map(|r| r.version.clone());
        let baseline = results.first().cloned().unwrap_or_default();
        for (function, results) in functions.into_iter().zip(results) {
            rows.push(Row::new(backend, function, jobs, results, &baseline));
        }
        backends.push(BackendStatus {
            backend,
            version,
            skipped: None,
        });
    }
    Ok(Report {
        runs,
        jobs,
        backends,
        rows,
    })
}

/// One run, repeated with a longer lead while start-up overruns it.
async fn run_with_lead(backend: Backend, jobs: usize, function: &Function) -> Result<RunResult> {
    let mut lead = lead(jobs);
    let mut attempt = 1;
    loop {
        let (node, executors) = run_once(backend, jobs, lead, function)
            .await
            .with_context(|| format!("the xxl scenario on {}, {}", backend.label(), function.label()))?;
        if !node.overran {
            return Ok(RunResult::new(node, executors));
        }
        ensure!(
            attempt < LEAD_ATTEMPTS,
            "start-up on {} was not over {} ms after writing {jobs} jobs began, {LEAD_ATTEMPTS} times",
            backend.label(),
            lead.as_millis()
        );
        eprintln!(
            "  start-up ({:.2} s, after {:.2} s of writing) was not over before T; again with a lead of {} ms",
            node.start_s,
            node.seed_s,
            2 * lead.as_millis()
        );
        lead *= 2;
        attempt += 1;
    }
}

/// One run on a fresh database, removed after: the node, and for `xxl` the executors.
async fn run_once(
    backend: Backend,
    jobs: usize,
    lead: Duration,
    function: &Function,
) -> Result<(NodeResult, Option<ExecutorResult>)> {
    let database = RunDatabase::create(backend, Xxl::NAME).await?;
    let config = NodeConfig {
        target: database.target(),
        jobs,
        function: function.clone(),
        lead_ms: u64::try_from(lead.as_millis()).unwrap_or(u64::MAX),
    };
    // The lead, the runs at no less than 50 per second, the stall limit, and room to spare.
    let limit = lead + Duration::from_millis(20) * u32::try_from(jobs)? + STALL_LIMIT + Duration::from_secs(180);
    let result = async {
        let mut node = start_child(node::NAME, &config, limit)?;
        let center = node.ready().await?;
        let executors = match function {
            Function::Log => None,
            Function::Xxl { executors, .. } => {
                let config = ExecutorConfig {
                    center: center.trim().to_owned(),
                    app: APP.to_owned(),
                    executors: *executors,
                };
                let mut child = start_child(executor::NAME, &config, limit)?;
                child.ready().await?;
                Some(child)
            }
        };
        let node: NodeResult = node.stop().await?;
        let executors: Option<ExecutorResult> = match executors {
            Some(child) => Some(child.stop().await?),
            None => None,
        };
        Ok((node, executors))
    }
    .await;
    database.remove().await;
    result
}

fn progress_line(result: &RunResult, jobs: usize) -> String {
    let optional = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
    let mut line = format!(
        "{}: {} runs/s ({} of {} jobs succeeded, {:.2} s after T); fire → start p50 {} ms, p99 {} ms",
        result.version,
        optional(result.runs_per_s),
        thousands(result.success_rows),
        thousands(jobs),
        result.duration_s,
        optional(result.start_p50_ms),
        optional(result.start_p99_ms),
    );
    if let Some(calls) = &result.calls {
        let _ = write!(
            line,
            "; fire → /run p50 {} ms, p99 {} ms; /run per executor {:?}; /log {}, /beat {}, /idleBeat {}, /kill {}",
            optional(result.run_p50_ms),
            optional(result.run_p99_ms),
            result.per_executor,
            calls.log,
            calls.beat,
            calls.idle_beat,
            calls.kill
        );
    }
    if let Some(callbacks) = &result.callbacks {
        let _ = write!(
            line,
            "; {} callback list(s), {:.1} results each, the longest {}, {:.2} s waiting for answers",
            callbacks.posts,
            callbacks.results as f64 / callbacks.posts.max(1) as f64,
            callbacks.largest,
            callbacks.waiting_s
        );
    }
    let problems = result.problems();
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(|(name, n)| format!("{name} {n}")).collect();
        let _ = write!(line, "; **{}**", listed.join(", "));
    }
    line
}
