//! How a function says it failed, and whether the failure should be retried.

use std::fmt::Display;
use std::time::Duration;

/// What a failed run asks of the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAdvice {
    /// Retry as the job's `max_retries`, `retry_backoff` and `retry_delay` say.
    Policy,
    /// Do not retry this failure, whatever `max_retries` allows.
    Never,
    /// Retry after this long instead of the backoff's wait (still within `max_retries`).
    After(Duration),
}

/// A failure returned by a job function.
///
/// Any error that implements [`Display`] (`String`, `anyhow::Error`, an I/O
/// error…) is a failure retried by the job's policy. Return a `JobError` to
/// say more:
///
/// ```
/// use std::time::Duration;
/// use ruqi_core::{JobContext, JobError, Registry};
///
/// let mut registry = Registry::new();
/// registry.register("charge", |ctx: JobContext| async move {
///     match ctx.args()["card"].as_str() {
///         None => Err(JobError::abort("no card on file")),
///         Some("busy") => Err(JobError::retry_after("gateway busy", Duration::from_secs(30))),
///         Some(_) => Ok(()),
///     }
/// });
/// ```
///
/// `JobError` deliberately does not implement `Display`, so that every
/// `Display` error converts into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    retry: RetryAdvice,
    ends_as: EndsAs,
}

/// The status a failure is recorded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndsAs {
    Failed,
    Timeout,
    Lost,
}

impl JobError {
    /// A failure the job's retry policy decides about.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: RetryAdvice::Policy,
            ends_as: EndsAs::Failed,
        }
    }

    /// A run that something the function waited on stopped for taking too
    /// long (a remote worker's own time limit, say): recorded as `timeout`
    /// rather than `failed`, and retried like a timeout.
    pub fn timed_out(message: impl Into<String>) -> Self {
        Self {
            ends_as: EndsAs::Timeout,
            ..Self::new(message)
        }
    }

    /// A run whose result can no longer arrive (the remote worker it was
    /// handed to is gone): recorded as `lost`, and run again as a run lost
    /// with its node is — when its instant is still within the job's
    /// `misfire_grace_s`, or beyond it under `misfire_policy = run_once`.
    pub fn lost(message: impl Into<String>) -> Self {
        Self {
            ends_as: EndsAs::Lost,
            ..Self::new(message)
        }
    }

    /// A failure that must not be retried (bad input, a permanent refusal).
    pub fn abort(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: RetryAdvice::Never,
            ends_as: EndsAs::Failed,
        }
    }

    /// A failure to retry after `delay` (a rate limit's `Retry-After`), if
    /// the job's `max_retries` leaves an attempt.
    pub fn retry_after(message: impl Into<String>, delay: Duration) -> Self {
        Self {
            message: message.into(),
            retry: RetryAdvice::After(delay),
            ends_as: EndsAs::Failed,
        }
    }

    /// The message recorded in `job_execution.error`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What it asks of the retry policy.
    pub fn retry(&self) -> RetryAdvice {
        self.retry
    }

    /// Whether the run is recorded as `timeout` ([`JobError::timed_out`]).
    pub fn is_timeout(&self) -> bool {
        self.ends_as == EndsAs::Timeout
    }

    /// Whether the run is recorded as `lost` ([`JobError::lost`]).
    pub fn is_lost(&self) -> bool {
        self.ends_as == EndsAs::Lost
    }
}

/// Converts a function's error into a [`JobError`]: implemented for
/// `JobError` itself and for every error that implements [`Display`].
pub trait IntoJobError {
    /// The conversion.
    fn into_job_error(self) -> JobError;
}

impl IntoJobError for JobError {
    fn into_job_error(self) -> JobError {
        self
    }
}

impl<E: Display> IntoJobError for E {
    fn into_job_error(self) -> JobError {
        JobError::new(self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_errors_are_retried_by_policy_and_job_errors_keep_their_advice() {
        let e = "boom".into_job_error();
        assert_eq!((e.message(), e.retry()), ("boom", RetryAdvice::Policy));
        let e = std::io::Error::other("disk").into_job_error();
        assert_eq!(e.message(), "disk");
        assert_eq!(JobError::abort("no").into_job_error().retry(), RetryAdvice::Never);
        let after = JobError::retry_after("busy", Duration::from_secs(3)).into_job_error();
        assert_eq!(after.retry(), RetryAdvice::After(Duration::from_secs(3)));
        assert!(JobError::timed_out("slow").is_timeout());
        assert!(!JobError::new("boom").is_timeout());
        let lost = JobError::lost("gone");
        assert!(lost.is_lost() && !lost.is_timeout());
    }
}
