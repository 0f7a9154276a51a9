//! The scenarios, one file each. Every scenario has a parent side (`run`:
//! plans the configurations, starts one child per measurement, summarises)
//! and most have a child side (`measure`: one scheduler, one engine or
//! backend, one configuration).
//!
//! A scenario that implements [`Scenario`] and is listed in [`REPORTED`]
//! reaches the report through them alone (`faults` and `xxl` do); the six older ones
//! are still wired into `report.rs` by name.

pub(crate) mod api;
pub(crate) mod cluster;
pub(crate) mod ends;
pub(crate) mod faults;
pub(crate) mod feed;
pub(crate) mod precision;
pub(crate) mod startup;
pub(crate) mod throughput;
pub(crate) mod xxl;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ruqi::entity::job_info;
use ruqi::{JobContext, Registry};
use sea_orm::{ActiveModelTrait, DatabaseConnection};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::backend::Backend;
use crate::section::{Bar, Section};
use crate::telemetry;

/// The function of the sentinel job (see [`Sentinel`]).
const SENTINEL_FUNC: &str = "bench_sentinel";

/// How a run was asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// Fewer and shorter runs: a smoke test, not figures to quote.
    pub(crate) quick: bool,
    /// Adds the largest configurations (100,000 jobs for precision).
    pub(crate) full: bool,
    /// Measures on this backend alone (`--backend`); the others are
    /// reported as skipped.
    pub(crate) only: Option<Backend>,
    /// Writes `docs/bench/results.json` and `BENCHMARKS.md` (not with `--no-save`).
    pub(crate) save: bool,
}

impl Options {
    /// Runs of each configuration: 3, or 1 with `--quick`.
    pub(crate) fn runs(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }

    /// Whether this run measures `backend`: `Ok`, or why not (left out by
    /// `--backend`, or its server's URL is not set).
    pub(crate) fn availability(&self, backend: Backend) -> Result<(), String> {
        match self.only {
            Some(only) if only != backend => Err(format!("only {} was asked for (`--backend`)", only.label())),
            _ => backend.availability(),
        }
    }
}

/// A scenario that reaches the report through this trait and [`REPORTED`]
/// alone: the report neither names it nor imports its file.
pub(crate) trait Scenario {
    /// Its name on the command line, and its key in `results.json`.
    const NAME: &'static str;
    /// Whether it measures on the servers of `RUQI_TEST_POSTGRES_URL` and
    /// `RUQI_TEST_MYSQL_URL` (its run line then says how they were reached).
    const SHARED_SERVERS: bool;
    /// Its figures, as `results.json` keeps them.
    type Report: Serialize + DeserializeOwned;

    /// Parent side: measures everything `options` asks for.
    async fn run(options: Options) -> Result<Self::Report>;

    /// Its section of `BENCHMARKS.md`.
    fn markdown(section: &Section<Self::Report>) -> String;

    /// Its lines of the Bars table; `None` before it was first run.
    fn bars(report: Option<&Self::Report>) -> Vec<Bar>;

    /// Whether the command that measured `report` should fail (a bar it
    /// exists to guard was missed), and why.
    fn failure(report: &Self::Report) -> Option<String>;
}

/// What the report needs of a [`Scenario`], working on its section as JSON.
pub(crate) struct Reported {
    /// [`Scenario::NAME`].
    pub(crate) name: &'static str,
    /// [`Scenario::markdown`] of a saved section.
    pub(crate) markdown: fn(&serde_json::Value) -> Result<String>,
    /// [`Scenario::bars`] of a saved section, or of none.
    pub(crate) bars: fn(Option<&serde_json::Value>) -> Vec<Bar>,
}

/// The scenarios the report renders through [`Scenario`], in the order of
/// their sections.
pub(crate) const REPORTED: [Reported; 2] = [reported::<xxl::Xxl>(), reported::<faults::Faults>()];

const fn reported<S: Scenario>() -> Reported {
    Reported {
        name: S::NAME,
        markdown: markdown_of::<S>,
        bars: bars_of::<S>,
    }
}

fn markdown_of<S: Scenario>(section: &serde_json::Value) -> Result<String> {
    let section: Section<S::Report> = serde_json::from_value(section.clone())?;
    Ok(S::markdown(&section))
}

fn bars_of<S: Scenario>(section: Option<&serde_json::Value>) -> Vec<Bar> {
    let section = section.and_then(|s| serde_json::from_value::<Section<S::Report>>(s.clone()).ok());
    S::bars(section.as_ref().map(|s| &s.report))
}

/// A job inserted through the ORM right after start-up that tells when the
/// engine has armed every deadline it was handed at start.
///
/// Its deadline reaches the engine after all the deadlines loaded at start
/// (the tokio-cron-scheduler engine hands them over one by one in a
/// background task, in order), and it is due at once, so the instant it runs
/// is the instant the engine had everything — plus at most one tick of the
/// engine (500 ms for tokio-cron-scheduler, nothing for the heap).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sentinel {
    fired: Arc<Notify>,
}

impl Sentinel {
    /// Registers the sentinel's function in `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        let fired = self.fired.clone();
        registry.register(SENTINEL_FUNC, move |_ctx: JobContext| {
            let fired = fired.clone();
            async move {
                fired.notify_one();
                Ok::<_, String>(())
            }
        });
    }

    /// Inserts the sentinel job (through the hooks, like an application
    /// would) and waits up to `limit` for it to run, or for
    /// tokio-cron-scheduler to stall (see [`crate::telemetry`]).
    pub(crate) async fn insert_and_wait(&self, db: &DatabaseConnection, limit: Duration) -> Result<Armed> {
        job_info::ActiveModel::new_job("bench-sentinel", SENTINEL_FUNC, "date", "now")
            .insert(db)
            .await
            .context("inserting the sentinel job")?;
        let watch = telemetry::tcs_watch();
        Ok(tokio::select! {
            biased;
            () = self.fired.notified() => Armed::Yes,
            () = watch.wait_stalled() => {
                // The sentinel still reaches the engine's job list; when it comes
                // due it is dropped, which marks the end of the hand-over.
                tokio::select! {
                    () = watch.wait_lost_activation() => Armed::Dropped,
                    () = tokio::time::sleep(limit) => Armed::Stalled,
                }
            }
            () = tokio::time::sleep(limit) => Armed::TimedOut,
        })
    }
}

/// Whether the engine got to arm every deadline it was handed at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Armed {
    /// The sentinel ran: everything before it was armed.
    Yes,
    /// tokio-cron-scheduler stopped taking jobs, and dropped a due job (in
    /// start-up, where nothing else is due, the sentinel) when it came due:
    /// everything was handed over, but what came after the stall never runs.
    Dropped,
    /// tokio-cron-scheduler stopped taking jobs and dropped nothing within the limit.
    Stalled,
    /// Neither within the limit.
    TimedOut,
}

impl Armed {
    /// Why a run has no figures, or `None` if it has.
    pub(crate) fn failure(self, limit: Duration) -> Option<String> {
        match self {
            Armed::Yes => None,
            Armed::Dropped | Armed::Stalled => Some(format!(
                "stalled: tokio-cron-scheduler's code-store listener lagged on its 200-slot broadcast channel and \
                 stopped (`Error receiving Lagged`), so jobs added after that have no code and are dropped when \
                 due (`Error getting … from job code`; {} dropped before the run ended)",
                telemetry::tcs_watch().lost_activations()
            )),
            Armed::TimedOut => Some(format!(
                "the engine had not armed its deadlines after {} s",
                limit.as_secs()
            )),
        }
    }
}
