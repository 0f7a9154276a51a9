//! A run asked for by hand: what `POST /jobs/{job_id}/run` takes and answers.

use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use serde_json::Value;

/// What `POST /jobs/{job_id}/run` may be given. Without a body (or with
/// `args` left out) the run takes its job's arguments.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct RunWith {
    /// Arguments for this one run (and its retries) instead of the job's:
    /// any JSON, `null` included, checked against the function's schema
    /// like a job's `args`, at most 65,535 bytes as JSON. The job is not
    /// changed; the run's execution shows them as its `args`.
    pub(crate) args: MaybeUndefined<Value>,
}

/// What `POST /jobs/{job_id}/run` started.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct RunStarted {
    /// The job.
    pub(crate) job_id: String,
    /// The new execution (read it at `GET /executions/{id}`); `null` when the
    /// job's overlap policy did not start a run now.
    #[oai(nullable)]
    pub(crate) execution_id: Option<String>,
    /// Whether a run started.
    pub(crate) started: bool,
    /// What happened, in words.
    pub(crate) message: String,
}
