//! Jobs: the `job_info` row ([`JobRecord`]), its validation into a
//! [`CompiledJob`], and the rule for what `next_run_time` a write leaves.
//!
//! Every writer — the sea-orm hooks, the admin API, the reconcile pass over
//! raw SQL edits — validates through [`compile`] and plans the next fire with
//! [`planned_next_run_time`], so the three can never disagree.

mod policy;
mod record;

pub use policy::{
    DEFAULT_MISFIRE_GRACE_S, ExecutionPolicy, MAX_INSTANCES_LIMIT, MAX_RETRIES_LIMIT, MisfirePolicy, Overlap,
};
pub use record::{JOB_ID_MAX_LEN, JobRecord};

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::FieldError;
use crate::registry::Registry;
use crate::trigger::{Schedule, TriggerKind, parse_timezone};

/// A row that passed validation, with its parsed schedule, args and policy.
#[derive(Debug, Clone)]
pub struct CompiledJob {
    /// The row it was compiled from.
    pub record: JobRecord,
    /// When it fires.
    pub schedule: Schedule,
    /// Its parsed `args`.
    pub args: Arc<Value>,
    /// How it runs.
    pub policy: ExecutionPolicy,
}

/// What validation may consult beyond the row itself.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext<'a> {
    /// The registry; `None` skips the `func`/`args` checks (no scheduler in this process yet:
    /// the scheduler checks them again when it loads the row).
    pub registry: Option<&'a Registry>,
    /// The zone of rows whose `timezone` is NULL.
    pub default_timezone: Tz,
}

impl Default for ValidationContext<'_> {
    fn default() -> Self {
        Self {
            registry: None,
            default_timezone: Tz::UTC,
        }
    }
}

/// Validates a row: ids, trigger, rule, time zone, bounds, function, args and policy.
/// The first problem found is returned, naming its field.
///
/// ```
/// use ruqi_core::{JobRecord, ValidationContext, compile};
///
/// let mut job = JobRecord::new("j1", "ping", "cron", "0 61 * * *");
/// let err = compile(job.clone(), ValidationContext::default()).unwrap_err();
/// assert_eq!(err.field, "rule");
/// job.rule = "*/5 * * * *".into();
/// assert!(compile(job, ValidationContext::default()).is_ok());
/// ```
pub fn compile(record: JobRecord, ctx: ValidationContext<'_>) -> Result<CompiledJob, FieldError> {
    check_job_id(&record.job_id)?;
    if let Some(name) = &record.job_name
        && name.chars().count() > JOB_ID_MAX_LEN
    {
        return Err(FieldError::new(
            "job_name",
            name,
            format!("is longer than {JOB_ID_MAX_LEN} characters"),
        ));
    }
    if record.func.trim().is_empty() {
        return Err(FieldError::new("func", &record.func, "must name a registered function"));
    }
    let kind = TriggerKind::from_str(&record.trigger)?;
    let timezone = match record.timezone.as_deref().map(str::trim) {
        None | Some("") => ctx.default_timezone,
        Some(name) => parse_timezone(name)?,
    };
    let schedule = Schedule::parse(
        kind,
        &record.rule,
        timezone,
        record.start_at,
        record.end_at,
        record.created_at,
    )?;
    let args = parse_args(record.args.as_deref())?;
    if let Some(registry) = ctx.registry {
        registry.validate_args(&record.func, &args)?;
    }
    let policy = ExecutionPolicy::from_columns(
        record.misfire_grace_s,
        &record.misfire_policy,
        &record.overlap,
        record.max_instances,
        record.timeout_s,
        record.max_retries,
    )?;
    Ok(CompiledJob {
        record,
        schedule,
        args: Arc::new(args),
        policy,
    })
}

fn check_job_id(job_id: &str) -> Result<(), FieldError> {
    if job_id.trim().is_empty() {
        return Err(FieldError::new("job_id", job_id, "must not be empty"));
    }
    if job_id.chars().count() > JOB_ID_MAX_LEN {
        return Err(FieldError::new(
            "job_id",
            job_id,
            format!("is longer than {JOB_ID_MAX_LEN} characters"),
        ));
    }
    if job_id.chars().any(char::is_control) {
        return Err(FieldError::new("job_id", job_id, "must not contain control characters"));
    }
    Ok(())
}

/// Parses the `args` column: NULL or empty text is JSON `null`.
pub fn parse_args(text: Option<&str>) -> Result<Value, FieldError> {
    match text.map(str::trim) {
        None | Some("") => Ok(Value::Null),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| FieldError::new("args", text, format!("is not valid JSON: {e}")))
        }
    }
}

/// The first fire of a job (re)scheduled at `now`.
///
/// A date rule up to `misfire_grace_s` in the past still counts, so a job
/// created for "now" by a client whose clock is a little behind still runs.
pub fn first_fire(job: &CompiledJob, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let from = match job.schedule.kind() {
        TriggerKind::Date => now - job.policy.misfire_grace,
        _ => now,
    };
    job.schedule.next_fire_after(from - chrono::Duration::milliseconds(1))
}

/// The `next_run_time` a row should have after a write.
///
/// - paused: NULL;
/// - new row, or one whose trigger, rule, zone or bounds changed, or that was
///   just resumed: its first fire from `now`;
/// - a write that set `next_run_time` itself (and left the schedule alone): that value;
/// - anything else: unchanged.
pub fn planned_next_run_time(
    before: Option<&JobRecord>,
    after: &CompiledJob,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let row = &after.record;
    if row.is_paused {
        return None;
    }
    match before {
        None if row.next_run_time.is_some() => row.next_run_time,
        None => first_fire(after, now),
        Some(before) if before.schedule_differs(row) || before.is_paused => first_fire(after, now),
        Some(_) => row.next_run_time,
    }
}

/// The next `n` fire instants after `now` of a rule that need not be saved
/// anywhere: what a form shows while somebody types a rule.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let next = ruqi_core::job::preview_rule("cron", "0 20 2 * * *", Some("Asia/Shanghai"), 2, now).unwrap();
/// assert_eq!(next[0], Utc.with_ymd_and_hms(2025, 12, 31, 18, 20, 0).unwrap() + chrono::Duration::days(1));
/// assert!(ruqi_core::job::preview_rule("cron", "61 * * * *", None, 2, now).unwrap_err().field == "rule");
/// ```
pub fn preview_rule(
    trigger: &str,
    rule: &str,
    timezone: Option<&str>,
    n: usize,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, FieldError> {
    let kind = TriggerKind::from_str(trigger)?;
    let tz = match timezone.map(str::trim) {
        None | Some("") => Tz::UTC,
        Some(name) => parse_timezone(name)?,
    };
    let schedule = Schedule::parse(kind, rule, tz, None, None, now)?;
    Ok(schedule.preview(now, n))
}

/// Why a job that passed validation still has nothing to run: its schedule
/// has no fire left. Writers refuse such a new row instead of storing a job
/// that would never run.
pub fn no_fire_left(job: &CompiledJob) -> FieldError {
    let row = &job.record;
    match (job.schedule.kind(), row.end_at) {
        (_, Some(end)) if row.start_at.is_none_or(|s| s <= end) && job.schedule.kind() != TriggerKind::Date => {
            FieldError::new("end_at", end.to_rfc3339(), "is in the past: the job would never fire")
        }
        _ => FieldError::new(
            "rule",
            &row.rule,
            "has no fire time after now: the job would never fire",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).single().unwrap_or_default()
    }

    fn compiled(rule: &str) -> CompiledJob {
        let mut r = JobRecord::new("j", "f", "interval", rule);
        r.created_at = at(0, 0);
        compile(r, ValidationContext::default()).unwrap()
    }

    #[test]
    fn insert_plans_the_first_fire() {
        let job = compiled("10m");
        assert_eq!(planned_next_run_time(None, &job, at(0, 0)), Some(at(0, 10)));
    }

    #[test]
    fn paused_rows_have_no_next_fire() {
        let mut job = compiled("10m");
        job.record.is_paused = true;
        assert_eq!(planned_next_run_time(None, &job, at(0, 0)), None);
    }

    #[test]
    fn an_explicit_next_run_time_is_kept() {
        let before = compiled("10m").record;
        let mut job = compiled("10m");
        job.record.next_run_time = Some(at(3, 3));
        assert_eq!(planned_next_run_time(Some(&before), &job, at(0, 0)), Some(at(3, 3)));
    }

    #[test]
    fn a_changed_rule_recomputes() {
        let mut before = compiled("10m").record;
        before.next_run_time = Some(at(0, 10));
        let mut job = compiled("5m");
        job.record.next_run_time = Some(at(0, 10));
        assert_eq!(planned_next_run_time(Some(&before), &job, at(0, 1)), Some(at(0, 5)));
    }

    #[test]
    fn bad_args_name_the_field() {
        let mut r = JobRecord::new("j", "f", "interval", "5m");
        r.args = Some("{not json".into());
        assert_eq!(compile(r, ValidationContext::default()).unwrap_err().field, "args");
    }

    #[test]
    fn bad_ids_are_refused() {
        for id in ["", "  ", &"x".repeat(192), "a\nb"] {
            let r = JobRecord::new(id, "f", "interval", "5m");
            assert_eq!(compile(r, ValidationContext::default()).unwrap_err().field, "job_id");
        }
    }
}
