//! `faults`: does every fire still run exactly once, and leave a row, when
//! a node is killed, when the database restarts cleanly or crashes, and when
//! the nodes start together on an empty database?
//!
//! Per backend (PostgreSQL and MariaDB, each a server of the harness's own
//! that it may stop and kill: see [`crate::faults`]), the scenario does
//! [`RUNS`] fault runs (one with `--quick`), each on a fresh database: three
//! `ruqi-server` nodes started at the same instant, 300 jobs, a node killed
//! and started again, a fast and a crash restart of the database, all nodes
//! stopped with SIGTERM, then the counts read from the tables. Then
//! [`SIMULTANEOUS_STARTS`] simultaneous starts on fresh databases (three
//! with `--quick`). Every count must be 0; the command fails otherwise, and
//! prints one `RUQI_FAULTS_SUMMARY` line of JSON per backend for tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Options, Scenario};
use crate::backend::{self, Backend};
use crate::db::KEEP_ENV;
use sea_orm::EntityTrait as _;

use crate::faults::{
    Counts, Instance, NODES, Plan, SimultaneousStart, Timeline, connect, count, job_count, settings_from_env,
    start_at_once,
};
use crate::section::{Bar, Section};

mod markdown;

pub(crate) use markdown::{bars, markdown};

/// Fault runs per backend.
pub(crate) const RUNS: usize = 5;
/// Simultaneous starts per backend.
pub(crate) const SIMULTANEOUS_STARTS: usize = 5;
/// Simultaneous starts per backend with `--quick`.
const QUICK_SIMULTANEOUS_STARTS: usize = 3;
/// The backends: the servers (SQLite has no server to restart).
const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::MySql];
/// Marks the machine-readable summary line on stdout.
pub(crate) const SUMMARY_PREFIX: &str = "RUQI_FAULTS_SUMMARY ";

/// The scenario, for [`Scenario`].
pub(crate) struct Faults;

/// A fault run's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunReport {
    /// Seconds it took, counting included.
    pub(crate) seconds: f64,
    /// What was done, when.
    pub(crate) timeline: Option<Timeline>,
    /// What the tables show.
    pub(crate) counts: Option<Counts>,
    /// Why the run could not be carried out or counted.
    pub(crate) failed: Option<String>,
}

/// One backend's runs and simultaneous starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BackendReport {
    /// The backend.
    pub(crate) backend: Backend,
    /// The server's version, when measured.
    pub(crate) version: Option<String>,
    /// Why it was not measured.
    pub(crate) skipped: Option<String>,
    /// Why its server could not be set up.
    pub(crate) failed: Option<String>,
    /// The fault runs.
    pub(crate) runs: Vec<RunReport>,
    /// The simultaneous starts.
    pub(crate) simultaneous: Vec<SimultaneousStart>,
}

/// The backend's name: the suite runs MariaDB for the MySQL family.
fn label(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => "MariaDB",
        other => other.label(),
    }
}

impl BackendReport {
    fn label(&self) -> &'static str {
        label(self.backend)
    }

    /// Each count that must be zero, summed over the runs, then the nodes
    /// that did not come up at a simultaneous start.
    pub(crate) fn totals(&self) -> Vec<(&'static str, usize)> {
        let mut totals: Vec<(&'static str, usize)> = Counts::default().named().to_vec();
        for counts in self.runs.iter().filter_map(|r| r.counts.as_ref()) {
            for (total, (_, n)) in totals.iter_mut().zip(counts.named()) {
                total.1 += n;
            }
        }
        totals.push(("not_healthy_at_once", self.not_healthy_at_once()));
        totals
    }

    /// Nodes that did not come up when started together with the others,
    /// over the simultaneous starts and the first start of every run.
    fn not_healthy_at_once(&self) -> usize {
        let in_checks: usize = self.simultaneous.iter().map(|s| s.nodes - s.healthy).sum();
        let in_runs: usize = self
            .runs
            .iter()
            .filter_map(|r| r.timeline.as_ref())
            .map(|t| NODES - t.healthy_at_first_start)
            .sum();
        in_checks + in_runs
    }

    /// Runs that could not be carried out, and the server's failure.
    fn failures(&self) -> Vec<String> {
        self.failed
            .iter()
            .cloned()
            .chain(
                self.runs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| r.failed.as_ref().map(|why| format!("run {}: {why}", i + 1))),
            )
            .collect()
    }

    /// Whether it was measured and every count is zero.
    fn passes(&self) -> bool {
        self.skipped.is_none()
            && self.failures().is_empty()
            && !self.runs.is_empty()
            && self.totals().iter().all(|(_, n)| *n == 0)
    }
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Fault runs per backend asked for.
    pub(crate) runs: usize,
    /// Simultaneous starts per backend asked for.
    pub(crate) simultaneous_starts: usize,
    /// Server settings taken from the environment (`NAME=value`); empty: the defaults.
    pub(crate) settings: Vec<String>,
    /// Each backend.
    pub(crate) backends: Vec<BackendReport>,
}

impl Scenario for Faults {
    const NAME: &'static str = "faults";
    const SHARED_SERVERS: bool = false;
    type Report = Report;

    async fn run(options: Options) -> Result<Report> {
        // On Ctrl-C the run is dropped, and with it the servers (stopped,
        // their directories removed) and the nodes (killed).
        tokio::select! {
            report = run(options) => report,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        }
    }

    fn markdown(section: &Section<Report>) -> String {
        markdown(section)
    }

    fn bars(report: Option<&Report>) -> Vec<Bar> {
        bars(report)
    }

    fn failure(report: &Report) -> Option<String> {
        let failing: Vec<String> = report
            .backends
            .iter()
            .filter(|b| b.skipped.is_none() && !b.passes())
            .map(|b| {
                let nonzero: Vec<String> = b
                    .totals()
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(name, n)| format!("{name} {n}"))
                    .chain(b.failures())
                    .collect();
                format!("{}: {}", b.label(), nonzero.join(", "))
            })
            .collect();
        (!failing.is_empty()).then(|| format!("faults: {}", failing.join("; ")))
    }
}

/// The plan of the `index`th run: the node killed and the outages vary
/// from run to run. Each outage stays between 1 and 10 s: the hold, plus
/// up to 4 s of crash recovery; two of them outlast the 7.5 s after which
/// a node whose heartbeat stopped is taken for dead.
fn plan(index: usize, quick: bool) -> Plan {
    let s = Duration::from_secs;
    if quick {
        return Plan {
            warm_up: s(8),
            killed_node: 1,
            restart_after: s(3),
            between: s(10),
            fast_hold: s(2),
            crash_hold: s(3),
            settle: s(12),
        };
    }
    let pick = |values: [u64; RUNS]| s(values[index % RUNS]);
    Plan {
        warm_up: s(15),
        killed_node: index % NODES,
        restart_after: pick([3, 5, 8, 2, 10]),
        between: s(15),
        fast_hold: pick([2, 5, 1, 8, 3]),
        crash_hold: pick([3, 1, 6, 4, 5]),
        settle: s(20),
    }
}

/// A directory for the nodes' logs, removed when dropped unless a run went
/// wrong (or `RUQI_BENCH_KEEP_DB` is set): then its path is printed.
struct NodeLogs {
    path: PathBuf,
    keep: bool,
}

impl NodeLogs {
    fn new(backend: Backend) -> Result<NodeLogs> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "ruqi-bench-faults-{}-{}-{nanos}",
            label(backend).to_lowercase(),
            std::process::id()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(NodeLogs { path, keep: false })
    }

    fn run_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for NodeLogs {
    fn drop(&mut self) {
        if self.keep || std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("faults: the nodes' logs are kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Parent side: every available backend.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let runs = if options.quick { 1 } else { RUNS };
    let simultaneous_starts = if options.quick {
        QUICK_SIMULTANEOUS_STARTS
    } else {
        SIMULTANEOUS_STARTS
    };
    let settings = settings_from_env();
    let mut backends = Vec::new();
    for backend in BACKENDS {
        let skipped = match options.only {
            Some(only) if only != backend => Some(format!("only {} was asked for (`--backend`)", label(only))),
            _ => Instance::availability(backend).err(),
        };
        let report = match skipped {
            Some(why) => {
                eprintln!("faults: skipping {}: {why}", label(backend));
                BackendReport {
                    backend,
                    version: None,
                    skipped: Some(why),
                    failed: None,
                    runs: Vec::new(),
                    simultaneous: Vec::new(),
                }
            }
            None => measure_backend(backend, runs, simultaneous_starts, options.quick).await?,
        };
        print_summary(&report)?;
        backends.push(report);
    }
    Ok(Report {
        runs,
        simultaneous_starts,
        settings,
        backends,
    })
}

/// Every run and simultaneous start on one backend, on one server of its own.
async fn measure_backend(backend: Backend, runs: usize, starts: usize, quick: bool) -> Result<BackendReport> {
    let mut report = BackendReport {
        backend,
        version: None,
        skipped: None,
        failed: None,
        runs: Vec::new(),
        simultaneous: Vec::new(),
    };
    eprintln!("faults: {}: setting up a server of its own", label(backend));
    let mut instance = match Instance::start(backend).await {
        Ok(instance) => instance,
        Err(error) => {
            report.failed = Some(format!("the server did not start: {error:#}"));
            return Ok(report);
        }
    };
    report.version = Some(server_version(&instance).await?);
    eprintln!(
        "faults: {} on 127.0.0.1, in {}",
        report.version.as_deref().unwrap_or_default(),
        instance.dir().display()
    );
    let mut logs = NodeLogs::new(backend)?;
    for index in 0..runs {
        let plan = plan(index, quick);
        eprintln!(
            "faults: {}, run {}/{runs}: {NODES} nodes, {} jobs; kill {} and restart after {} s, fast restart \
             (down {} s), crash restart (down {} s)",
            report.label(),
            index + 1,
            job_count(),
            crate::faults::node_name(plan.killed_node),
            plan.restart_after.as_secs(),
            plan.fast_hold.as_secs(),
            plan.crash_hold.as_secs()
        );
        let began = Instant::now();
        let dir = logs.run_dir(&format!("run-{}", index + 1))?;
        let database = format!("ruqi_faults_{}", index + 1);
        let outcome = fault_run(&mut instance, &database, &plan, &dir).await;
        let run = match outcome {
            Ok((timeline, counts)) => RunReport {
                seconds: began.elapsed().as_secs_f64(),
                timeline: Some(timeline),
                counts: Some(counts),
                failed: None,
            },
            Err(error) => RunReport {
                seconds: began.elapsed().as_secs_f64(),
                timeline: None,
                counts: None,
                failed: Some(format!("{error:#}")),
            },
        };
        print_run(&run);
        logs.keep |= run.failed.is_some() || run.counts.as_ref().is_some_and(|c| !c.all_zero());
        report.runs.push(run);
    }
    for index in 0..starts {
        let dir = logs.run_dir(&format!("start-{}", index + 1))?;
        let database = format!("ruqi_starts_{}", index + 1);
        match start_at_once(&instance, &database, &dir).await {
            Ok(start) => {
                eprintln!(
                    "faults: {}, simultaneous start {}/{starts}: {} of {} healthy{}",
                    report.label(),
                    index + 1,
                    start.healthy,
                    start.nodes,
                    if start.failures.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", start.failures.join("; "))
                    }
                );
                logs.keep |= start.healthy < start.nodes;
                report.simultaneous.push(start);
            }
            Err(error) => {
                logs.keep = true;
                report.failed = Some(format!("simultaneous start {}: {error:#}", index + 1));
                break;
            }
        }
    }
    Ok(report)
}

/// One fault run and its counts.
async fn fault_run(instance: &mut Instance, database: &str, plan: &Plan, dir: &Path) -> Result<(Timeline, Counts)> {
    let timeline = crate::faults::run(instance, database, plan, dir).await?;
    let db = connect(&instance.url(database)).await?;
    let jobs = ruqi::entity::job_info::Entity::find().all(&db).await?;
    let rows = ruqi::entity::job_execution::Entity::find().all(&db).await?;
    let _ = db.close().await;
    Ok((timeline.clone(), count(&jobs, &rows, &timeline)))
}

async fn server_version(instance: &Instance) -> Result<String> {
    let db = connect(&instance.admin_url()).await?;
    let version = backend::server_version(&db).await?;
    let _ = db.close().await;
    Ok(version)
}

/// Progress on stderr: the run's counts, and the offending rows.
fn print_run(run: &RunReport) {
    if let Some(why) = &run.failed {
        eprintln!("  run failed after {:.0} s: {why}", run.seconds);
        return;
    }
    let (Some(counts), Some(timeline)) = (&run.counts, &run.timeline) else {
        return;
    };
    let named: Vec<String> = counts.named().iter().map(|(name, n)| format!("{name} {n}")).collect();
    eprintln!(
        "  {:.0} s: {}; {} fires expected, rows {:?}; {} of {NODES} nodes healthy at the first start",
        run.seconds,
        named.join(", "),
        counts.expected_fires,
        counts.rows_by_status,
        timeline.healthy_at_first_start
    );
    for (name, examples) in &counts.examples {
        eprintln!("  {name}, e.g.:");
        for example in examples {
            eprintln!("    {example}");
        }
    }
}

/// The machine-readable line for tests: per backend, each count summed
/// over the runs, and what could not be measured.
fn print_summary(report: &BackendReport) -> Result<()> {
    let counts: serde_json::Map<String, serde_json::Value> = report
        .totals()
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n.into()))
        .collect();
    let examples: Vec<String> = report
        .runs
        .iter()
        .filter_map(|r| r.counts.as_ref())
        .flat_map(|c| {
            c.examples
                .iter()
                .flat_map(|(name, lines)| lines.iter().map(move |l| format!("{name}: {l}")))
        })
        .take(20)
        .collect();
    let summary = serde_json::json!({
        "backend": report.backend,
        "label": report.label(),
        "skipped": report.skipped,
        "failures": report.failures(),
        "runs": report.runs.len(),
        "simultaneous_starts": report.simultaneous.len(),
        "counts": counts,
        "examples": examples,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{SUMMARY_PREFIX}{summary}")?;
    stdout.flush()?;
    Ok(())
}
