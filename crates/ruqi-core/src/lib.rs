//! The database-free core of ruqi: triggers, the function registry, the
//! scheduler engine and its execution policy.
//!
//! `ruqi-core` knows nothing of SQL or HTTP. The engine reads and writes the
//! job table through the [`JobStore`] trait, which `ruqi-store` implements on
//! sea-orm; everything here can be tested with an in-memory store.

pub mod alert;
mod clock;
mod error;
pub mod events;
pub mod execution;
pub mod job;
mod metrics;
pub mod registry;
mod scheduler;
mod store;
pub mod trigger;

pub use alert::AlertConfig;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, FieldError, Result};
pub use events::{EventStream, FireMissed, RunEnded, RunStarted, SchedulerEvent};
pub use execution::{ExecutionEnd, ExecutionStart, ExecutionStatus, MissedFire, TriggerSource};
pub use job::{
    CompiledJob, ExecutionPolicy, JobRecord, MisfirePolicy, Overlap, ValidationContext, compile, compile_or_return,
};
pub use registry::{
    FunctionInfo, IntoJobError, JobContext, JobError, LogSink, LogTail, Registry, RetryAdvice, tail_text,
};
pub use registry::{RUN_SPAN_NAME, RunLogLayer, run_log_layer};
pub use scheduler::{
    CancelOutcome, ChangeExpectation, LiveJob, ReconcileReport, Scheduler, SchedulerBuilder, SchedulerConfig,
    SchedulerStatus, TimerEngine, UNSCHEDULABLE_PREFIX, fire_owner,
};
pub use store::{
    CancelTarget, ChangeBatch, ChangeFeed, Heartbeat, JobStateChange, JobStore, LostRun, NodeInfo, RowChange,
};
pub use trigger::{Schedule, TriggerKind};
