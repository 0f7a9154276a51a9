//! Jobs: the `job_info` row ([`JobRecord`]), its validation into a
//! [`CompiledJob`], and the rule for what `next_run_time` a write leaves.
//!
//! Every writer — the sea-orm hooks, the admin API, the reconcile pass over
//! raw SQL edits — validates through [`compile`] and plans the next fire with
//! [`planned_next_run_time`], so the three can never disagree.

mod policy;
mod record;

pub use policy::{
    Backoff, DEFAULT_MISFIRE_GRACE_S, DEFAULT_RETRY_DELAY, ExecutionPolicy, MAX_INSTANCES_LIMIT, MAX_RETRIES_LIMIT,
    MisfirePolicy, Overlap, RETRY_DELAY_MAX, RetryPolicy,
};
pub(crate) use record::Fingerprint;
pub(crate) use record::plan_basis_if_paused;
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
    /// The jobs a successful run triggers (`child_jobs`), in the order written.
    pub children: Vec<Arc<str>>,
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
    compile_or_return(record, ctx).map_err(|(error, _)| error)
}

/// As [`compile`], but a refused row is handed back with the error, so a
/// caller that keeps refused rows (to say why they cannot run) needs no copy.
pub fn compile_or_return(
    record: JobRecord,
    ctx: ValidationContext<'_>,
) -> Result<CompiledJob, (FieldError, Box<JobRecord>)> {
    match compile_parts(&record, ctx) {
        Ok((schedule, args, policy, children)) => Ok(CompiledJob {
            record,
            schedule,
            args,
            policy,
            children,
        }),
        Err(error) => Err((error, Box::new(record))),
    }
}

/// What a row compiles to besides itself.
type Parts = (Schedule, Arc<Value>, ExecutionPolicy, Vec<Arc<str>>);

fn compile_parts(record: &JobRecord, ctx: ValidationContext<'_>) -> Result<Parts, FieldError> {
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
    // NULL is the default zone; a blank name is a mistake, not another NULL.
    let timezone = match record.timezone.as_deref() {
        None => ctx.default_timezone,
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
    let args = parse_args(record.args.as_deref()).map_err(|mut error| {
        // The text may hold a secret the function would have marked, had it parsed, and the
        // scheduler writes this error to `last_error`, which readers see.
        if ctx
            .registry
            .is_some_and(|registry| registry.may_hold_secrets(&record.func))
        {
            crate::registry::REDACTED.clone_into(&mut error.value);
        }
        error
    })?;
    if let Some(registry) = ctx.registry {
        registry.validate_args(&record.func, &args)?;
    }
    let policy = ExecutionPolicy::from_record(record)?;
    let children = parse_child_jobs(&record.job_id, record.child_jobs.as_deref())?;
    if let Some(url) = &record.alert_url {
        check_alert_url(url)?;
    }
    // Most jobs take no arguments: they share one `null` instead of holding one each.
    let args = if args.is_null() {
        static NULL: std::sync::OnceLock<Arc<Value>> = std::sync::OnceLock::new();
        NULL.get_or_init(|| Arc::new(Value::Null)).clone()
    } else {
        Arc::new(args)
    };
    Ok((schedule, args, policy, children))
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

/// Most jobs one job may name in `child_jobs`.
pub const MAX_CHILD_JOBS: usize = 100;

/// Parses `child_jobs`: `job_id`s separated by commas (spaces around them
/// are ignored). A job may not name itself or the same child twice.
pub fn parse_child_jobs(job_id: &str, text: Option<&str>) -> Result<Vec<Arc<str>>, FieldError> {
    let Some(text) = text else { return Ok(Vec::new()) };
    let fail = |reason: String| FieldError::new("child_jobs", text, reason);
    let mut children: Vec<Arc<str>> = Vec::new();
    for id in text.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        check_job_id(id).map_err(|e| fail(format!("child {id:?} {}", e.reason)))?;
        if id == job_id {
            return Err(fail("a job cannot be its own child".to_owned()));
        }
        if children.iter().any(|c| c.as_ref() == id) {
            return Err(fail(format!("child {id:?} is named twice")));
        }
        children.push(id.into());
    }
    if children.len() > MAX_CHILD_JOBS {
        return Err(fail(format!("names more than {MAX_CHILD_JOBS} jobs")));
    }
    Ok(children)
}

/// Refuses `child_jobs` links that would close a cycle: `job_id` with
/// `children` may not reach itself through the other jobs' children, which
/// `children_of` returns. The error names the cycle.
///
/// ```
/// use std::collections::HashMap;
/// let graph = HashMap::from([("b", vec!["c".to_owned()]), ("c", vec!["a".to_owned()])]);
/// let err = ruqi_core::job::check_child_cycle("a", &["b".into()], |id| {
///     graph.get(id).cloned().unwrap_or_default()
/// })
/// .unwrap_err();
/// assert_eq!(err.field, "child_jobs");
/// assert!(err.reason.contains("a → b → c → a"));
/// ```
pub fn check_child_cycle(
    job_id: &str,
    children: &[Arc<str>],
    mut children_of: impl FnMut(&str) -> Vec<String>,
) -> Result<(), FieldError> {
    // Depth-first search from each child, remembering the path for the message.
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(String, Vec<String>)> = children
        .iter()
        .map(|c| (c.to_string(), vec![job_id.to_owned(), c.to_string()]))
        .collect();
    while let Some((id, path)) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for next in children_of(&id) {
            let mut next_path = path.clone();
            next_path.push(next.clone());
            if next == job_id {
                let written = children.iter().map(|c| c.as_ref()).collect::<Vec<_>>().join(",");
                return Err(FieldError::new(
                    "child_jobs",
                    written,
                    format!("would make a cycle: {}", next_path.join(" → ")),
                ));
            }
            stack.push((next, next_path));
        }
    }
    Ok(())
}

/// `alert_url` must be an `http://` or `https://` address without spaces.
fn check_alert_url(url: &str) -> Result<(), FieldError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| FieldError::new("alert_url", url, "must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(FieldError::new("alert_url", url, "is not a valid web address"));
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
    first_fire_of(&job.schedule, &job.policy, now)
}

/// [`first_fire`] of a schedule and policy kept without their row.
pub(crate) fn first_fire_of(
    schedule: &Schedule,
    policy: &ExecutionPolicy,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if schedule.kind() == TriggerKind::Date {
        return schedule.next_fire_after(now - policy.misfire_grace - chrono::Duration::milliseconds(1));
    }
    // A fire at `now` itself counts, one a moment before it does not: a job
    // written at 12:00:54.000397 first fires at 12:00:55, not for 12:00:54,
    // an instant before it existed.
    let first = schedule.next_fire_after(now - chrono::Duration::milliseconds(1))?;
    if first < now {
        return schedule.next_fire_after(first);
    }
    Some(first)
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
    let before = before.map(|before| Before {
        schedule_changed: before.schedule_differs(&after.record),
        paused: before.is_paused,
    });
    plan_next_run_time(before, after, now)
}

/// What [`planned_next_run_time`] needs of the row as it was before a write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Before {
    /// `trigger`, `rule`, `timezone`, `start_at` or `end_at` changed.
    pub(crate) schedule_changed: bool,
    /// The row was paused.
    pub(crate) paused: bool,
}

impl Before {
    /// A row whose schedule was edited: planned from its rule again.
    pub(crate) const EDITED: Self = Self {
        schedule_changed: true,
        paused: false,
    };
}

/// [`planned_next_run_time`], told only what it needs of the row before.
pub(crate) fn plan_next_run_time(
    before: Option<Before>,
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
        Some(before) if before.schedule_changed || before.paused => first_fire(after, now),
        Some(_) => row.next_run_time,
    }
}

/// The next `n` fire instants after `now` of a rule that need not be saved
/// anywhere: what a form shows while somebody types a rule. `timezone`
/// `None` reads the rule in UTC; a blank name is refused as a row's is.
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
    let tz = match timezone {
        None => Tz::UTC,
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
    fn a_cron_job_never_fires_for_an_instant_before_it_was_written() {
        let mut r = JobRecord::new("j", "f", "cron", "* * * * * *");
        r.created_at = at(0, 0);
        let job = compile(r, ValidationContext::default()).unwrap();
        let written = at(0, 0) + chrono::Duration::microseconds(397);
        assert_eq!(first_fire(&job, written), Some(at(0, 0) + chrono::Duration::seconds(1)));
        assert_eq!(first_fire(&job, at(0, 0)), Some(at(0, 0)));
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
    fn a_blank_zone_is_refused_and_null_is_the_default() {
        for blank in ["", " ", "\t "] {
            let mut r = JobRecord::new("j", "f", "interval", "5m");
            r.timezone = Some(blank.into());
            let err = compile(r, ValidationContext::default()).unwrap_err();
            assert_eq!(err.field, "timezone", "{blank:?}");
            let err = preview_rule("interval", "5m", Some(blank), 1, at(0, 0)).unwrap_err();
            assert_eq!(err.field, "timezone", "{blank:?}");
        }
        let default = ValidationContext {
            default_timezone: Tz::Asia__Tokyo,
            ..ValidationContext::default()
        };
        let job = compile(JobRecord::new("j", "f", "cron", "0 9 * * *"), default).unwrap();
        assert_eq!(job.schedule.describe(), "at 09:00 every day (Asia/Tokyo)");
    }

    #[test]
    fn bad_ids_are_refused() {
        for id in ["", "  ", &"x".repeat(192), "a\nb"] {
            let r = JobRecord::new(id, "f", "interval", "5m");
            assert_eq!(compile(r, ValidationContext::default()).unwrap_err().field, "job_id");
        }
    }
}
