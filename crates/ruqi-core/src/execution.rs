//! The vocabulary of `job_execution`: statuses, trigger sources, outcomes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FieldError;

/// The `status` of a `job_execution` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Started and not finished yet.
    Running,
    /// The function returned `Ok`.
    Success,
    /// The function returned `Err` (or panicked).
    Failed,
    /// The run passed its `timeout_s`.
    Timeout,
    /// The run was cancelled (by a user, the `replace` overlap policy or shutdown).
    Cancelled,
    /// The fire did not run: too late (misfire), coalesced, or skipped by the overlap policy.
    Missed,
    /// The process running it went away before it finished.
    Lost,
}

/// Why an execution happened: the `trigger_source` of a `job_execution` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerSource {
    /// The job's trigger came due.
    Schedule,
    /// Somebody asked for it: `run_right_now`, the API or the library.
    Manual,
    /// A retry of a failed attempt.
    Retry,
    /// A parent job finished and triggered it.
    Child,
}

macro_rules! text_enum {
    ($ty:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The value as stored in the database.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = FieldError;

            fn from_str(s: &str) -> Result<Self, FieldError> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(FieldError::new(
                        $field,
                        s,
                        concat!("expected one of: ", $($text, " "),+).trim_end(),
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(ExecutionStatus, "status", {
    Running => "running", Success => "success", Failed => "failed", Timeout => "timeout",
    Cancelled => "cancelled", Missed => "missed", Lost => "lost",
});
text_enum!(TriggerSource, "trigger_source", {
    Schedule => "schedule", Manual => "manual", Retry => "retry", Child => "child",
});

/// The longest arguments a run may be given instead of its job's, in bytes
/// of compact JSON: what every backend's `job_execution.args` column holds
/// (MySQL's `TEXT` takes 65,535 bytes).
pub const RUN_ARGS_MAX_BYTES: usize = 65_535;

/// Refuses run arguments longer than [`RUN_ARGS_MAX_BYTES`] as JSON, naming
/// `args` and quoting only their start.
pub(crate) fn check_run_args(args: &Value) -> Result<(), FieldError> {
    let text = args.to_string();
    if text.len() <= RUN_ARGS_MAX_BYTES {
        return Ok(());
    }
    let start: String = text.chars().take(32).collect();
    Err(FieldError::new(
        "args",
        format!("{start}…"),
        format!(
            "is {} bytes long as JSON: a run's arguments take at most {RUN_ARGS_MAX_BYTES}",
            text.len()
        ),
    ))
}

/// A `job_execution` row as the engine writes it when a run starts
/// (or, for a missed fire, the whole row at once).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionStart {
    /// The execution id (a UUID v7, so ids sort by creation).
    pub id: String,
    /// The job it belongs to.
    pub job_id: String,
    /// The job's `job_name`, kept on the history row.
    pub job_name: Option<String>,
    /// The instant the run was scheduled for.
    pub scheduled_for: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why it runs.
    pub trigger_source: TriggerSource,
    /// The node (process) running it.
    pub node: String,
    /// The arguments given to this run instead of its job's `args` (a run
    /// started by hand with other arguments, and its retries); `None` when
    /// it runs with its job's.
    pub args: Option<Arc<Value>>,
}

/// How a run ended: the fields written to its `job_execution` row and, as
/// `last_status` / `last_error`, to its job.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionEnd {
    /// The execution id.
    pub id: String,
    /// The job it belongs to.
    pub job_id: String,
    /// The final status.
    pub status: ExecutionStatus,
    /// When its function started; `None` for a claimed fire that did not
    /// run after all (`missed`, or `cancelled` before it started).
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Milliseconds from start to finish.
    pub duration_ms: i64,
    /// The captured output (already capped).
    pub output: Option<String>,
    /// The error message, for anything but success.
    pub error: Option<String>,
}

/// A fire that did not run, recorded as a `missed` row.
#[derive(Debug, Clone, PartialEq)]
pub struct MissedFire {
    /// The execution id.
    pub id: String,
    /// The job.
    pub job_id: String,
    /// The job's `job_name`, kept on the history row.
    pub job_name: Option<String>,
    /// The instant that was missed.
    pub scheduled_for: DateTime<Utc>,
    /// When the scheduler noticed.
    pub noticed_at: DateTime<Utc>,
    /// Why it did not run.
    pub reason: String,
    /// The node that noticed.
    pub node: String,
    /// What asked for the run: a skipped `manual` run is recorded as such
    /// and leaves its job's `last_status` alone.
    pub trigger_source: TriggerSource,
}

/// A fresh execution id: a UUID v7, so ids sort by time of creation.
pub fn new_execution_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
