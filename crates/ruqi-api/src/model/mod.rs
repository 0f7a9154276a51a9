//! The request and response bodies of the admin API. Their doc comments are
//! the descriptions in the OpenAPI document.

mod access;
mod direct_json;
mod execution;
mod executor;
mod job;
mod limits;
mod run;
mod scheduler;
mod stats;
mod strict;

pub(crate) use access::TokenScope;
pub(crate) use direct_json::DirectJson;
pub(crate) use execution::{Cleanup, CleanupResult, Execution, ExecutionCancelled, ExecutionList, ExecutionLog};
pub(crate) use executor::{ExecutorApp, ManualAddresses};
pub(crate) use job::{Cancelled, Job, JobList, JobPatch, JobSpec, NextRunTimes, describe_rule};
pub(crate) use limits::{JOB_NUMBER_LIMITS, JOB_TEXT_LIMITS};
pub(crate) use run::{RunStarted, RunWith};
pub(crate) use scheduler::{FunctionInfo, Health, SchedulerStatus};
pub(crate) use stats::{BucketWidth, ExecutionStats, JobStatsList, Suggestions};
