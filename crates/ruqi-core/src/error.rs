//! The one error type of `ruqi-core`.

use std::fmt;

/// A value that was refused, with the field it came from and the reason.
///
/// Its `Display` reads `invalid <field> "<value>": <reason>`, lower case, so it
/// can be shown to a person as it is and matched on by code through `field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The `job_info` column (or argument path) the value belongs to, e.g. `rule`.
    pub field: String,
    /// The refused value as the user wrote it.
    pub value: String,
    /// What is wrong with it, in lower case.
    pub reason: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.field, self.value, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Everything that can go wrong in the core.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A job definition (or one of its fields) was refused.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The process-wide scheduler was started twice.
    #[error("the scheduler of this process is already running (node {node}); use Scheduler::global()")]
    AlreadyStarted {
        /// The node name of the scheduler that is running.
        node: String,
    },
    /// Another live scheduler already uses this node name on the same database.
    #[error(
        "node name {node:?} is in use by a live scheduler on this database (last heartbeat {heartbeat_at}); give each process its own node name"
    )]
    NodeNameInUse {
        /// The contested name.
        node: String,
        /// The other node's last heartbeat.
        heartbeat_at: String,
    },
    /// The scheduler has shut down and takes no more commands.
    #[error("the scheduler has shut down")]
    ShutDown,
    /// No job with this id is known.
    #[error("no job with job_id {job_id:?}")]
    JobNotFound {
        /// The id that was looked up.
        job_id: String,
    },
    /// A change to the job's row kept losing to concurrent writes of the same
    /// row (edits, runs starting and ending) until this call gave up; it
    /// changed nothing, and may be tried again.
    #[error("job {job_id:?} kept changing while being {action}; nothing was changed, try again")]
    Conflict {
        /// The job.
        job_id: String,
        /// What was being done: `paused` or `resumed`.
        action: &'static str,
    },
    /// The store (the database, for `ruqi-store`) failed.
    #[error("store: {0}")]
    Store(String),
}

/// The result type of `ruqi-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
