//! Execution policy: misfires, overlap, timeouts, retries.

use std::str::FromStr;
use std::time::Duration;

use super::JobRecord;
use crate::FieldError;
use crate::execution::text_enum;
use crate::trigger::parse_interval;

/// Default `misfire_grace_s`: a fire up to five seconds late still runs.
pub const DEFAULT_MISFIRE_GRACE_S: i32 = 5;

/// What to do with fires that are later than `misfire_grace_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MisfirePolicy {
    /// Do not run them; record each as `missed` (the default).
    Skip,
    /// Run once for all of them (coalesced), and record the others as `missed`.
    RunOnce,
}

/// What to do when a fire comes while the job is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overlap {
    /// Do not start the new run; record it as `missed` (the default).
    Skip,
    /// Start the new run when the running one ends.
    Queue,
    /// Cancel the running one and start the new run.
    Replace,
    /// Run side by side, up to `max_instances`.
    Allow,
}

text_enum!(MisfirePolicy, "misfire_policy", { Skip => "skip", RunOnce => "run_once" });
text_enum!(Overlap, "overlap", { Skip => "skip", Queue => "queue", Replace => "replace", Allow => "allow" });

/// How the wait between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backoff {
    /// Every retry waits `retry_delay`.
    Fixed,
    /// Retry n waits `retry_delay × 2^(n-1)`, at most [`RETRY_DELAY_MAX`],
    /// with jitter: a random point in the upper half of that wait, so jobs
    /// that failed together do not retry together (the default).
    Exponential,
}

text_enum!(Backoff, "retry_backoff", { Fixed => "fixed", Exponential => "exponential" });

/// Default `retry_delay`.
pub const DEFAULT_RETRY_DELAY: &str = "10s";
/// Longest wait between two attempts, whatever the backoff gives.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(3_600);

/// When a failed attempt is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: u32,
    /// How the wait grows.
    pub backoff: Backoff,
    /// The wait before the first retry.
    pub delay: Duration,
}

impl RetryPolicy {
    /// Whether an attempt that failed may be followed by another.
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt <= self.max_retries
    }

    /// The wait after the failed attempt `attempt` (1 for the first run).
    /// `unit` is a number in `[0, 1)` that places an exponential wait in the
    /// upper half of its range; pass [`fastrand::f64`] or a fixed value in tests.
    pub fn delay_after(&self, attempt: u32, unit: f64) -> Duration {
        match self.backoff {
            Backoff::Fixed => self.delay.min(RETRY_DELAY_MAX),
            Backoff::Exponential => {
                let doublings = attempt.saturating_sub(1).min(32);
                let full = self
                    .delay
                    .checked_mul(1u32 << doublings.min(31))
                    .unwrap_or(RETRY_DELAY_MAX)
                    .min(RETRY_DELAY_MAX);
                full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
            }
        }
    }
}

/// The validated execution policy of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionPolicy {
    /// How late a fire may still run.
    pub misfire_grace: Duration,
    /// What happens to fires later than that.
    pub misfire_policy: MisfirePolicy,
    /// What happens when a fire finds the job running.
    pub overlap: Overlap,
    /// Concurrent runs allowed with [`Overlap::Allow`] (1 otherwise).
    pub max_instances: u32,
    /// How long a run may take.
    pub timeout: Option<Duration>,
    /// Retries of failed and timed-out attempts.
    pub retry: RetryPolicy,
}

/// Upper bound for `max_instances`, so a typo cannot start a stampede.
pub const MAX_INSTANCES_LIMIT: i32 = 10_000;
/// Upper bound for `max_retries`.
pub const MAX_RETRIES_LIMIT: i32 = 1_000;

impl ExecutionPolicy {
    /// Validates the policy columns of a row.
    pub fn from_record(record: &JobRecord) -> Result<Self, FieldError> {
        let misfire_grace_s = record.misfire_grace_s;
        let max_instances = record.max_instances;
        let max_retries = record.max_retries;
        if misfire_grace_s < 0 {
            return Err(FieldError::new(
                "misfire_grace_s",
                misfire_grace_s.to_string(),
                "must be 0 or more seconds",
            ));
        }
        if !(1..=MAX_INSTANCES_LIMIT).contains(&max_instances) {
            return Err(FieldError::new(
                "max_instances",
                max_instances.to_string(),
                format!("must be between 1 and {MAX_INSTANCES_LIMIT}"),
            ));
        }
        if let Some(t) = record.timeout_s
            && t <= 0
        {
            return Err(FieldError::new(
                "timeout_s",
                t.to_string(),
                "must be more than 0 seconds (or NULL for no limit)",
            ));
        }
        if !(0..=MAX_RETRIES_LIMIT).contains(&max_retries) {
            return Err(FieldError::new(
                "max_retries",
                max_retries.to_string(),
                format!("must be between 0 and {MAX_RETRIES_LIMIT}"),
            ));
        }
        let delay = parse_interval(&record.retry_delay)
            .map_err(|e| FieldError::new("retry_delay", &record.retry_delay, e.reason))?
            .to_std()
            .unwrap_or(RETRY_DELAY_MAX);
        if delay > RETRY_DELAY_MAX {
            return Err(FieldError::new(
                "retry_delay",
                &record.retry_delay,
                "must be at most 1h",
            ));
        }
        Ok(Self {
            misfire_grace: Duration::from_secs(misfire_grace_s.unsigned_abs().into()),
            misfire_policy: MisfirePolicy::from_str(&record.misfire_policy)?,
            overlap: Overlap::from_str(&record.overlap)?,
            max_instances: max_instances.unsigned_abs(),
            timeout: record.timeout_s.map(|t| Duration::from_secs(t.unsigned_abs().into())),
            retry: RetryPolicy {
                max_retries: max_retries.unsigned_abs(),
                backoff: Backoff::from_str(&record.retry_backoff)?,
                delay,
            },
        })
    }

    /// How many runs of the job may be in progress at once.
    pub fn concurrent_limit(&self) -> u32 {
        if self.overlap == Overlap::Allow {
            self.max_instances
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(edit: impl FnOnce(&mut JobRecord)) -> Result<ExecutionPolicy, FieldError> {
        let mut record = JobRecord::new("j", "f", "interval", "1m");
        edit(&mut record);
        ExecutionPolicy::from_record(&record)
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases: [(Result<ExecutionPolicy, FieldError>, &str); 8] = [
            (policy(|r| r.misfire_grace_s = -1), "misfire_grace_s"),
            (policy(|r| r.misfire_policy = "later".into()), "misfire_policy"),
            (policy(|r| r.overlap = "parallel".into()), "overlap"),
            (
                policy(|r| {
                    r.overlap = "allow".into();
                    r.max_instances = 0;
                }),
                "max_instances",
            ),
            (policy(|r| r.timeout_s = Some(0)), "timeout_s"),
            (policy(|r| r.max_retries = -2), "max_retries"),
            (policy(|r| r.retry_backoff = "linear".into()), "retry_backoff"),
            (policy(|r| r.retry_delay = "soon".into()), "retry_delay"),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
        assert!(
            policy(|r| r.retry_delay = "2h".into())
                .unwrap_err()
                .reason
                .contains("at most 1h")
        );
    }

    #[test]
    fn reasons_list_the_valid_values() {
        let err = policy(|r| r.overlap = "parallel".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid overlap \"parallel\": expected one of: skip queue replace allow"
        );
    }

    #[test]
    fn allow_uses_max_instances_and_others_run_one() {
        let p = policy(|r| {
            r.overlap = "allow".into();
            r.max_instances = 3;
        })
        .unwrap();
        assert_eq!(p.concurrent_limit(), 3);
        let p = policy(|r| {
            r.overlap = "queue".into();
            r.max_instances = 3;
        })
        .unwrap();
        assert_eq!(p.concurrent_limit(), 1);
    }

    #[test]
    fn fixed_backoff_waits_the_same_each_time() {
        let p = policy(|r| {
            r.max_retries = 3;
            r.retry_backoff = "fixed".into();
            r.retry_delay = "500ms".into();
        })
        .unwrap()
        .retry;
        for attempt in 1..=3 {
            assert_eq!(p.delay_after(attempt, 0.9), Duration::from_millis(500));
        }
        assert!(p.allows_another(3));
        assert!(!p.allows_another(4));
    }

    #[test]
    fn exponential_backoff_doubles_with_jitter_in_the_upper_half_and_is_capped() {
        let p = policy(|r| r.retry_delay = "1s".into()).unwrap().retry;
        assert_eq!(p.backoff, Backoff::Exponential);
        assert_eq!(p.delay_after(1, 0.0), Duration::from_millis(500));
        assert_eq!(p.delay_after(1, 1.0), Duration::from_secs(1));
        assert_eq!(p.delay_after(3, 1.0), Duration::from_secs(4));
        assert_eq!(p.delay_after(3, 0.5), Duration::from_secs(3));
        assert_eq!(p.delay_after(40, 1.0), RETRY_DELAY_MAX);
        assert!(!p.allows_another(1), "max_retries defaults to 0");
    }
}
