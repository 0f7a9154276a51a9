//! Jobs as the API shows and takes them.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use ruqi::entity::job_info;
use ruqi::query::{JobView, Paged};
use ruqi::{FieldError, Schedule, TriggerKind};
use sea_orm::ActiveValue::{NotSet, Set, Unchanged};
use serde::Serialize;
use serde_json::Value;

use super::limits::check_texts;

/// A job: its `job_info` row with the scheduler's live state laid over it.
#[derive(Debug, Clone, PartialEq, Object, Serialize)]
pub(crate) struct Job {
    /// The job's id.
    pub(crate) job_id: String,
    /// Group or category.
    #[oai(nullable)]
    pub(crate) job_name: Option<String>,
    /// Free text.
    #[oai(nullable)]
    pub(crate) description: Option<String>,
    /// The registered function it runs (see `GET /functions`).
    pub(crate) func: String,
    /// The function's arguments (JSON). A row edited by hand whose `args`
    /// are not valid JSON shows its text as a string, and `last_error` says why it cannot run.
    /// For a token with the read scope, the values of the arguments the function's schema
    /// marks secret (`"x-ruqi-secret": true`, such as the headers of `http`) read `"***"`.
    pub(crate) args: Value,
    /// `cron`, `interval` or `date`.
    pub(crate) trigger: String,
    /// The trigger's rule: `*/5 * * * *`, `0 20 2 * * *`, `10m`, `2026-12-16 18:03:17`…
    pub(crate) rule: String,
    /// The rule in English with the zone it is read in: "at 02:20 every day
    /// (Europe/Berlin)", "every 10m"; `null` when the rule does not parse.
    #[oai(nullable)]
    pub(crate) rule_description: Option<String>,
    /// IANA time zone; `null` is the scheduler's default.
    #[oai(nullable)]
    pub(crate) timezone: Option<String>,
    /// No fire before this.
    #[oai(nullable)]
    #[serde(serialize_with = "super::direct_json::rfc3339_or_null")]
    pub(crate) start_at: Option<DateTime<Utc>>,
    /// No fire after this.
    #[oai(nullable)]
    #[serde(serialize_with = "super::direct_json::rfc3339_or_null")]
    pub(crate) end_at: Option<DateTime<Utc>>,
    /// The next fire (live); `null` when paused, finished or not schedulable.
    #[oai(nullable)]
    #[serde(serialize_with = "super::direct_json::rfc3339_or_null")]
    pub(crate) next_run_time: Option<DateTime<Utc>>,
    /// Paused jobs do not fire.
    pub(crate) is_paused: bool,
    /// A run is in progress (on this or another node).
    pub(crate) is_running: bool,
    /// A run-once request waiting to be taken by the scheduler.
    pub(crate) run_right_now: bool,
    /// Seconds a fire may be late and still run.
    pub(crate) misfire_grace_s: i32,
    /// `skip` or `run_once`: what happens to fires later than `misfire_grace_s`.
    pub(crate) misfire_policy: String,
    /// `skip`, `queue`, `replace` or `allow`: what happens to a fire while a run is in progress.
    pub(crate) overlap: String,
    /// Runs at once with `overlap = allow`.
    pub(crate) max_instances: i32,
    /// Seconds a run may take before it is cancelled; `null` for no limit.
    #[oai(nullable)]
    pub(crate) timeout_s: Option<i32>,
    /// Retries after a failed or timed-out attempt.
    pub(crate) max_retries: i32,
    /// `fixed` or `exponential` (doubling, with jitter): how the wait between attempts grows.
    pub(crate) retry_backoff: String,
    /// Wait before the first retry: `500ms`, `10s`, `5m`…
    pub(crate) retry_delay: String,
    /// Jobs run (trigger source `child`) when a run of this one succeeds, by `job_id`, comma-separated.
    #[oai(nullable)]
    pub(crate) child_jobs: Option<String>,
    /// Where this job's failures, timeouts and missed fires are POSTed; `null`: the global webhook, if any.
    #[oai(nullable)]
    pub(crate) alert_url: Option<String>,
    /// Change counter: bumped by every change of the schedule.
    pub(crate) version: i64,
    /// When the row was created.
    #[serde(serialize_with = "super::direct_json::rfc3339")]
    pub(crate) created_at: DateTime<Utc>,
    /// When the row last changed.
    #[serde(serialize_with = "super::direct_json::rfc3339")]
    pub(crate) updated_at: DateTime<Utc>,
    /// Status of the last run.
    #[oai(nullable)]
    pub(crate) last_status: Option<String>,
    /// Error of the last run, or why the row cannot be scheduled.
    #[oai(nullable)]
    pub(crate) last_error: Option<String>,
    /// Runs in progress in this process.
    pub(crate) running: u32,
    /// Whether this process's scheduler holds the job on its timer.
    pub(crate) scheduled: bool,
}

/// `rule` of `trigger` in English, read in `timezone`: what the page and a
/// person reading the JSON see next to the rule. `None` when the rule, the
/// trigger or the zone does not parse (the row's `last_error` says why).
pub(crate) fn describe_rule(trigger: &str, rule: &str, timezone: &str, anchor: DateTime<Utc>) -> Option<String> {
    let kind = TriggerKind::from_str(trigger).ok()?;
    let zone = ruqi::trigger::parse_timezone(timezone).ok()?;
    let schedule = Schedule::parse(kind, rule, zone, None, None, anchor).ok()?;
    Some(schedule.describe())
}

/// Descriptions of `cron` and `interval` rules, by trigger, zone and rule:
/// what they say depends on nothing else (a `date` rule may be `now`, read
/// at the row's creation, so it is described afresh every time). A page of
/// jobs mostly repeats a few rules, and parsing a cron rule costs more than
/// the rest of the row.
static RULE_DESCRIPTIONS: LazyLock<Mutex<HashMap<String, Option<String>>>> = LazyLock::new(Mutex::default);

/// At most this many descriptions are kept; past it they are counted afresh.
const RULE_DESCRIPTIONS_KEPT: usize = 4_096;

/// [`describe_rule`], kept for `cron` and `interval` rules.
fn described_rule(trigger: &str, rule: &str, timezone: &str, anchor: DateTime<Utc>) -> Option<String> {
    if !matches!(trigger, "cron" | "interval") {
        return describe_rule(trigger, rule, timezone, anchor);
    }
    let mut key = String::with_capacity(trigger.len() + timezone.len() + rule.len() + 2);
    for part in [trigger, timezone, rule] {
        key.push_str(part);
        key.push('\n');
    }
    if let Some(kept) = RULE_DESCRIPTIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return kept.clone();
    }
    let description = describe_rule(trigger, rule, timezone, anchor);
    let mut kept = RULE_DESCRIPTIONS.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= RULE_DESCRIPTIONS_KEPT {
        kept.clear();
    }
    kept.insert(key, description.clone());
    description
}

impl Job {
    /// The job as the API shows it; a row without a `timezone` is read in
    /// `default_timezone` (the scheduler's). With `hide_secrets`, the secret
    /// arguments its function declares there are redacted.
    pub(crate) fn new(view: JobView, default_timezone: &str, hide_secrets: Option<&ruqi::Registry>) -> Self {
        let row = view.job;
        let args = match (ruqi::job::parse_args(row.args.as_deref()), hide_secrets) {
            (Ok(mut value), Some(registry)) => {
                registry.redact_args(&row.func, &mut value);
                value
            }
            (Ok(value), None) => value,
            // Text that does not parse cannot be told apart: all of it, or none.
            (Err(_), Some(registry)) if registry.may_hold_secrets(&row.func) => {
                Value::String(ruqi::registry::REDACTED.to_owned())
            }
            (Err(_), _) => Value::String(row.args.unwrap_or_default()),
        };
        let rule_description = described_rule(
            &row.trigger,
            &row.rule,
            row.timezone.as_deref().unwrap_or(default_timezone),
            row.created_at,
        );
        Self {
            job_id: row.job_id,
            job_name: row.job_name,
            description: row.description,
            func: row.func,
            args,
            trigger: row.trigger,
            rule: row.rule,
            rule_description,
            timezone: row.timezone,
            start_at: row.start_at,
            end_at: row.end_at,
            next_run_time: row.next_run_time,
            is_paused: row.is_paused,
            is_running: row.is_running,
            run_right_now: row.run_right_now,
            misfire_grace_s: row.misfire_grace_s,
            misfire_policy: row.misfire_policy,
            overlap: row.overlap,
            max_instances: row.max_instances,
            timeout_s: row.timeout_s,
            max_retries: row.max_retries,
            retry_backoff: row.retry_backoff,
            retry_delay: row.retry_delay,
            child_jobs: row.child_jobs,
            alert_url: row.alert_url,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_status: row.last_status,
            last_error: row.last_error,
            running: view.running,
            scheduled: view.scheduled,
        }
    }
}

/// One page of jobs.
#[derive(Debug, Clone, PartialEq, Object, Serialize)]
pub(crate) struct JobList {
    /// The jobs of this page.
    pub(crate) items: Vec<Job>,
    /// All jobs matching the filters.
    pub(crate) total: u64,
    /// The page's offset.
    pub(crate) offset: u64,
    /// The page's size limit.
    pub(crate) limit: u64,
}

impl JobList {
    /// The page as the API shows it (see [`Job::new`]).
    pub(crate) fn new(page: Paged<JobView>, default_timezone: &str, hide_secrets: Option<&ruqi::Registry>) -> Self {
        Self {
            items: page
                .items
                .into_iter()
                .map(|view| Job::new(view, default_timezone, hide_secrets))
                .collect(),
            total: page.total,
            offset: page.offset,
            limit: page.limit,
        }
    }
}

/// A job as written by `POST /jobs` (create) and `PUT /jobs/{job_id}`
/// (replace). Only `func`, `trigger` and `rule` are required; every field
/// left out takes its default (on a replace too). Values are checked exactly
/// as a write through the ORM is; a refused one answers 422 naming the field.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct JobSpec {
    /// The job's id (at most 191 characters, not blank). On create, a UUID
    /// when left out; on replace, it may be left out and must otherwise match the path.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) job_id: Option<String>,
    /// Group or category; not blank (leave it out for none).
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) job_name: Option<String>,
    /// Free text.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) description: Option<String>,
    /// A registered function (see `GET /functions`).
    #[oai(deserialize_with = "super::strict::string")]
    pub(crate) func: String,
    /// The function's arguments: any JSON, checked against the function's schema.
    #[oai(nullable)]
    pub(crate) args: Option<Value>,
    /// `cron`, `interval` or `date`.
    #[oai(deserialize_with = "super::strict::string")]
    pub(crate) trigger: String,
    /// cron: 5 fields, 6 (seconds first) or 7 (with a year), `@daily`…;
    /// interval: `500ms`, `10s`, `5m`, `1h30m`, `1d`; date: `2026-12-16 18:03:17`, RFC 3339, or `now`.
    #[oai(deserialize_with = "super::strict::string")]
    pub(crate) rule: String,
    /// IANA time zone such as `Europe/Berlin`; left out or `null`: the
    /// scheduler's default. A blank name is refused.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) timezone: Option<String>,
    /// No fire before this.
    #[oai(nullable)]
    pub(crate) start_at: Option<DateTime<Utc>>,
    /// No fire after this.
    #[oai(nullable)]
    pub(crate) end_at: Option<DateTime<Utc>>,
    /// Create (or keep) the job paused (default `false`).
    #[oai(nullable)]
    pub(crate) is_paused: Option<bool>,
    /// Seconds a fire may be late and still run (default 5).
    #[oai(nullable)]
    pub(crate) misfire_grace_s: Option<i32>,
    /// `skip` (default) or `run_once`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) misfire_policy: Option<String>,
    /// `skip` (default), `queue`, `replace` or `allow`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) overlap: Option<String>,
    /// Runs at once with `overlap = allow` (default 1).
    #[oai(nullable)]
    pub(crate) max_instances: Option<i32>,
    /// Seconds a run may take (default: no limit).
    #[oai(nullable)]
    pub(crate) timeout_s: Option<i32>,
    /// Retries after a failed or timed-out attempt (default 0).
    #[oai(nullable)]
    pub(crate) max_retries: Option<i32>,
    /// `fixed` or `exponential` (default): how the wait between attempts grows.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) retry_backoff: Option<String>,
    /// Wait before the first retry (default `10s`).
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) retry_delay: Option<String>,
    /// Jobs to run when a run of this one succeeds: `job_id`s, comma-separated.
    /// Each must exist, and a cycle is refused.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) child_jobs: Option<String>,
    /// Webhook for this job's failures, timeouts and missed fires (default: the global one).
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) alert_url: Option<String>,
}

/// `Set` when the body gave a value, `NotSet` (left alone) when it did not.
fn set_given<T: Into<sea_orm::Value>>(value: Option<T>) -> sea_orm::ActiveValue<T> {
    value.map_or(NotSet, Set)
}

/// `args` as the `job_info` column holds them: JSON text, NULL for `null`.
fn args_text(args: Option<Value>) -> Option<String> {
    args.filter(|v| !v.is_null()).map(|v| v.to_string())
}

impl JobSpec {
    /// Refuses a text longer than its field takes; see
    /// [`JOB_TEXT_LIMITS`](super::limits::JOB_TEXT_LIMITS).
    pub(crate) fn check_limits(&self) -> Result<(), FieldError> {
        check_texts(
            [
                ("job_id", self.job_id.as_deref()),
                ("job_name", self.job_name.as_deref()),
                ("description", self.description.as_deref()),
                ("func", Some(self.func.as_str())),
                ("trigger", Some(self.trigger.as_str())),
                ("rule", Some(self.rule.as_str())),
                ("timezone", self.timezone.as_deref()),
                ("misfire_policy", self.misfire_policy.as_deref()),
                ("overlap", self.overlap.as_deref()),
                ("retry_backoff", self.retry_backoff.as_deref()),
                ("retry_delay", self.retry_delay.as_deref()),
                ("child_jobs", self.child_jobs.as_deref()),
                ("alert_url", self.alert_url.as_deref()),
            ]
            .into_iter()
            .filter_map(|(field, value)| value.map(|v| (field, v))),
        )
    }

    /// The ActiveModel of a new job: the fields given are set, the others
    /// left to the hook's defaults.
    pub(crate) fn into_new(self) -> job_info::ActiveModel {
        job_info::ActiveModel {
            job_name: set_given(self.job_name.map(Some)),
            description: set_given(self.description.map(Some)),
            args: Set(args_text(self.args)),
            timezone: set_given(self.timezone.map(Some)),
            start_at: set_given(self.start_at.map(Some)),
            end_at: set_given(self.end_at.map(Some)),
            is_paused: set_given(self.is_paused),
            misfire_grace_s: set_given(self.misfire_grace_s),
            misfire_policy: set_given(self.misfire_policy),
            overlap: set_given(self.overlap),
            max_instances: set_given(self.max_instances),
            timeout_s: set_given(self.timeout_s.map(Some)),
            max_retries: set_given(self.max_retries),
            retry_backoff: set_given(self.retry_backoff),
            retry_delay: set_given(self.retry_delay),
            child_jobs: set_given(self.child_jobs.map(Some)),
            alert_url: set_given(self.alert_url.map(Some)),
            ..job_info::ActiveModel::new_job(self.job_id.unwrap_or_default(), self.func, self.trigger, self.rule)
        }
    }

    /// The ActiveModel replacing every writable column of `job_id`: what the
    /// body leaves out goes back to its default.
    pub(crate) fn into_replacement(self, job_id: String) -> job_info::ActiveModel {
        let defaults = ruqi::JobRecord::new("", "", "", "");
        job_info::ActiveModel {
            job_id: Unchanged(job_id),
            job_name: Set(self.job_name),
            description: Set(self.description),
            func: Set(self.func),
            args: Set(args_text(self.args)),
            trigger: Set(self.trigger),
            rule: Set(self.rule),
            timezone: Set(self.timezone),
            start_at: Set(self.start_at),
            end_at: Set(self.end_at),
            is_paused: Set(self.is_paused.unwrap_or(defaults.is_paused)),
            misfire_grace_s: Set(self.misfire_grace_s.unwrap_or(defaults.misfire_grace_s)),
            misfire_policy: Set(self.misfire_policy.unwrap_or(defaults.misfire_policy)),
            overlap: Set(self.overlap.unwrap_or(defaults.overlap)),
            max_instances: Set(self.max_instances.unwrap_or(defaults.max_instances)),
            timeout_s: Set(self.timeout_s),
            max_retries: Set(self.max_retries.unwrap_or(defaults.max_retries)),
            retry_backoff: Set(self.retry_backoff.unwrap_or(defaults.retry_backoff)),
            retry_delay: Set(self.retry_delay.unwrap_or(defaults.retry_delay)),
            child_jobs: Set(self.child_jobs),
            alert_url: Set(self.alert_url),
            ..Default::default()
        }
    }
}

/// A partial update (`PATCH /jobs/{job_id}`): a field left out stays as it
/// is; `null` clears a field that may be empty. Checked exactly as a write
/// through the ORM is.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct JobPatch {
    /// Group or category (not blank); `null` clears it.
    #[oai(nullable, deserialize_with = "super::strict::maybe_string")]
    pub(crate) job_name: MaybeUndefined<String>,
    /// Free text; `null` clears it.
    #[oai(nullable, deserialize_with = "super::strict::maybe_string")]
    pub(crate) description: MaybeUndefined<String>,
    /// A registered function.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) func: Option<String>,
    /// The function's arguments; `null` sets them to JSON `null`.
    #[oai(nullable)]
    pub(crate) args: MaybeUndefined<Value>,
    /// `cron`, `interval` or `date`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) trigger: Option<String>,
    /// The trigger's rule.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) rule: Option<String>,
    /// IANA time zone; `null`: the scheduler's default. A blank name is refused.
    #[oai(nullable, deserialize_with = "super::strict::maybe_string")]
    pub(crate) timezone: MaybeUndefined<String>,
    /// No fire before this; `null` removes the bound.
    #[oai(nullable)]
    pub(crate) start_at: MaybeUndefined<DateTime<Utc>>,
    /// No fire after this; `null` removes the bound.
    #[oai(nullable)]
    pub(crate) end_at: MaybeUndefined<DateTime<Utc>>,
    /// Moves the next fire to this instant (the schedule continues from there).
    #[oai(nullable)]
    pub(crate) next_run_time: Option<DateTime<Utc>>,
    /// Pauses (`true`) or resumes (`false`) the job.
    #[oai(nullable)]
    pub(crate) is_paused: Option<bool>,
    /// Seconds a fire may be late and still run.
    #[oai(nullable)]
    pub(crate) misfire_grace_s: Option<i32>,
    /// `skip` or `run_once`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) misfire_policy: Option<String>,
    /// `skip`, `queue`, `replace` or `allow`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) overlap: Option<String>,
    /// Runs at once with `overlap = allow`.
    #[oai(nullable)]
    pub(crate) max_instances: Option<i32>,
    /// Seconds a run may take; `null`: no limit.
    #[oai(nullable)]
    pub(crate) timeout_s: MaybeUndefined<i32>,
    /// Retries after a failed or timed-out attempt.
    #[oai(nullable)]
    pub(crate) max_retries: Option<i32>,
    /// `fixed` or `exponential`.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) retry_backoff: Option<String>,
    /// Wait before the first retry.
    #[oai(nullable, deserialize_with = "super::strict::optional_string")]
    pub(crate) retry_delay: Option<String>,
    /// Jobs to run when a run of this one succeeds; `null` clears them.
    #[oai(nullable, deserialize_with = "super::strict::maybe_string")]
    pub(crate) child_jobs: MaybeUndefined<String>,
    /// This job's alert webhook; `null`: the global one.
    #[oai(nullable, deserialize_with = "super::strict::maybe_string")]
    pub(crate) alert_url: MaybeUndefined<String>,
}

impl JobPatch {
    /// Refuses a text longer than its field takes; see
    /// [`JOB_TEXT_LIMITS`](super::limits::JOB_TEXT_LIMITS).
    pub(crate) fn check_limits(&self) -> Result<(), FieldError> {
        check_texts(
            [
                ("job_name", self.job_name.value().map(String::as_str)),
                ("description", self.description.value().map(String::as_str)),
                ("func", self.func.as_deref()),
                ("trigger", self.trigger.as_deref()),
                ("rule", self.rule.as_deref()),
                ("timezone", self.timezone.value().map(String::as_str)),
                ("misfire_policy", self.misfire_policy.as_deref()),
                ("overlap", self.overlap.as_deref()),
                ("retry_backoff", self.retry_backoff.as_deref()),
                ("retry_delay", self.retry_delay.as_deref()),
                ("child_jobs", self.child_jobs.value().map(String::as_str)),
                ("alert_url", self.alert_url.value().map(String::as_str)),
            ]
            .into_iter()
            .filter_map(|(field, value)| value.map(|v| (field, v))),
        )
    }

    /// The ActiveModel setting only what the patch names.
    pub(crate) fn into_update(self, job_id: String) -> job_info::ActiveModel {
        fn set_nullable<T>(v: MaybeUndefined<T>) -> sea_orm::ActiveValue<Option<T>>
        where
            Option<T>: Into<sea_orm::Value>,
        {
            match v {
                MaybeUndefined::Undefined => NotSet,
                MaybeUndefined::Null => Set(None),
                MaybeUndefined::Value(v) => Set(Some(v)),
            }
        }
        job_info::ActiveModel {
            job_id: Unchanged(job_id),
            job_name: set_nullable(self.job_name),
            description: set_nullable(self.description),
            func: set_given(self.func),
            args: match self.args {
                MaybeUndefined::Undefined => NotSet,
                MaybeUndefined::Null => Set(None),
                MaybeUndefined::Value(v) => Set(args_text(Some(v))),
            },
            trigger: set_given(self.trigger),
            rule: set_given(self.rule),
            timezone: set_nullable(self.timezone),
            start_at: set_nullable(self.start_at),
            end_at: set_nullable(self.end_at),
            next_run_time: set_given(self.next_run_time.map(Some)),
            is_paused: set_given(self.is_paused),
            misfire_grace_s: set_given(self.misfire_grace_s),
            misfire_policy: set_given(self.misfire_policy),
            overlap: set_given(self.overlap),
            max_instances: set_given(self.max_instances),
            timeout_s: set_nullable(self.timeout_s),
            max_retries: set_given(self.max_retries),
            retry_backoff: set_given(self.retry_backoff),
            retry_delay: set_given(self.retry_delay),
            child_jobs: set_nullable(self.child_jobs),
            alert_url: set_nullable(self.alert_url),
            ..Default::default()
        }
    }
}

/// Upcoming fire instants.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct NextRunTimes {
    /// The next fires, soonest first (UTC). Empty for a paused or finished job.
    pub(crate) next_run_times: Vec<DateTime<Utc>>,
    /// The rule in English with its zone: "at 02:20 every day (Europe/Berlin)".
    #[oai(nullable)]
    pub(crate) description: Option<String>,
}

/// What `POST /jobs/{job_id}/cancel` cancelled.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct Cancelled {
    /// The job.
    pub(crate) job_id: String,
    /// Runs in progress in this process that were told to stop; each is
    /// recorded as `cancelled` once it has.
    pub(crate) cancelled: u64,
    /// Runs on other nodes sharing the database that were asked to stop;
    /// each node picks the request up at its next heartbeat.
    pub(crate) requested_elsewhere: u64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn rules_are_described_in_their_zone_or_not_at_all() {
        let anchor = Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap();
        assert_eq!(
            describe_rule("cron", "20 2 * * *", "Europe/Berlin", anchor).as_deref(),
            Some("at 02:20 every day (Europe/Berlin)")
        );
        assert_eq!(
            describe_rule("interval", "10m", "UTC", anchor).as_deref(),
            Some("every 10m")
        );
        assert_eq!(describe_rule("cron", "0 25 * * *", "UTC", anchor), None);
        assert_eq!(describe_rule("cron", "* * * * *", "Mars/Base", anchor), None);
        assert_eq!(describe_rule("hourly", "1h", "UTC", anchor), None);
    }

    #[test]
    fn kept_descriptions_are_the_ones_described_afresh() {
        let anchor = Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        for (trigger, rule, zone) in [
            ("cron", "20 2 * * *", "Europe/Berlin"),
            ("cron", "20 2 * * *", "Asia/Shanghai"),
            ("interval", "10m", "UTC"),
            ("cron", "0 25 * * *", "UTC"),
            ("date", "now", "UTC"),
        ] {
            for at in [anchor, later, anchor] {
                assert_eq!(
                    described_rule(trigger, rule, zone, at),
                    describe_rule(trigger, rule, zone, at),
                    "{trigger} {rule} in {zone} at {at}"
                );
            }
        }
        // A `date` rule of `now` is read at its anchor: never kept.
        assert_ne!(
            described_rule("date", "now", "UTC", anchor),
            described_rule("date", "now", "UTC", later)
        );
    }
}
