//! The scenarios, one file each. Every scenario has a parent side (`run`:
//! plans the configurations, starts one child per measurement, summarises)
//! and a child side (`measure`: one scheduler, one engine or backend, one
//! configuration).

pub(crate) mod api;
pub(crate) mod cluster;
pub(crate) mod feed;
pub(crate) mod precision;
pub(crate) mod startup;
pub(crate) mod throughput;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ruqi::entity::job_info;
use ruqi::{JobContext, Registry};
use sea_orm::{ActiveModelTrait, DatabaseConnection};
use tokio::sync::Notify;

use crate::backend::Backend;
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
