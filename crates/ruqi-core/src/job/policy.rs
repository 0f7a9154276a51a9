//! Execution policy: misfires, overlap, timeouts, retries.

use std::str::FromStr;
use std::time::Duration;

use crate::FieldError;
use crate::execution::text_enum;

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
    /// Retries after a failed attempt.
    pub max_retries: u32,
}

/// Upper bound for `max_instances`, so a typo cannot start a stampede.
pub const MAX_INSTANCES_LIMIT: i32 = 10_000;
/// Upper bound for `max_retries`.
pub const MAX_RETRIES_LIMIT: i32 = 1_000;

impl ExecutionPolicy {
    /// Validates the policy columns of a row.
    pub fn from_columns(
        misfire_grace_s: i32,
        misfire_policy: &str,
        overlap: &str,
        max_instances: i32,
        timeout_s: Option<i32>,
        max_retries: i32,
    ) -> Result<Self, FieldError> {
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
        if let Some(t) = timeout_s
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
        Ok(Self {
            misfire_grace: Duration::from_secs(misfire_grace_s.unsigned_abs().into()),
            misfire_policy: MisfirePolicy::from_str(misfire_policy)?,
            overlap: Overlap::from_str(overlap)?,
            max_instances: max_instances.unsigned_abs(),
            timeout: timeout_s.map(|t| Duration::from_secs(t.unsigned_abs().into())),
            max_retries: max_retries.unsigned_abs(),
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

    #[test]
    fn each_bad_value_names_its_field() {
        let cases = [
            (
                ExecutionPolicy::from_columns(-1, "skip", "skip", 1, None, 0),
                "misfire_grace_s",
            ),
            (
                ExecutionPolicy::from_columns(5, "later", "skip", 1, None, 0),
                "misfire_policy",
            ),
            (
                ExecutionPolicy::from_columns(5, "skip", "parallel", 1, None, 0),
                "overlap",
            ),
            (
                ExecutionPolicy::from_columns(5, "skip", "allow", 0, None, 0),
                "max_instances",
            ),
            (
                ExecutionPolicy::from_columns(5, "skip", "skip", 1, Some(0), 0),
                "timeout_s",
            ),
            (
                ExecutionPolicy::from_columns(5, "skip", "skip", 1, None, -2),
                "max_retries",
            ),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
    }

    #[test]
    fn reasons_list_the_valid_values() {
        let err = ExecutionPolicy::from_columns(5, "skip", "parallel", 1, None, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid overlap \"parallel\": expected one of: skip queue replace allow"
        );
    }

    #[test]
    fn allow_uses_max_instances_and_others_run_one() {
        let p = ExecutionPolicy::from_columns(5, "run_once", "allow", 3, Some(10), 2).unwrap();
        assert_eq!(p.concurrent_limit(), 3);
        let p = ExecutionPolicy::from_columns(5, "skip", "queue", 3, None, 0).unwrap();
        assert_eq!(p.concurrent_limit(), 1);
    }
}
