//! The request and response bodies of the admin API. Their doc comments are
//! the descriptions in the OpenAPI document.

mod execution;
mod job;
mod scheduler;

pub(crate) use execution::{Cleanup, CleanupResult, Execution, ExecutionCancelled, ExecutionList, ExecutionLog};
pub(crate) use job::{Cancelled, Job, JobList, JobPatch, JobSpec, NextRunTimes, RunStarted};
pub(crate) use scheduler::{FunctionInfo, Health, SchedulerStatus};
