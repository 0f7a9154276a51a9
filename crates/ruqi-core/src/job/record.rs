//! `JobRecord`: one `job_info` row, without any database types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::DEFAULT_RETRY_DELAY;

/// Longest `job_id` accepted (it is a primary key; 191 characters fit a MySQL utf8mb4 index).
pub const JOB_ID_MAX_LEN: usize = 191;

/// One `job_info` row as the core sees it. `ruqi-store` converts its
/// sea-orm model to and from this type; the engine and validation work on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Primary key, chosen by the user or a generated UUID.
    pub job_id: String,
    /// Group or category.
    pub job_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Name of the registered function to run.
    pub func: String,
    /// JSON arguments, as text (NULL means JSON `null`).
    pub args: Option<String>,
    /// `cron`, `interval` or `date`.
    pub trigger: String,
    /// The rule for the trigger.
    pub rule: String,
    /// IANA zone name; `None` means the scheduler's default zone.
    pub timezone: Option<String>,
    /// No fire before this instant.
    pub start_at: Option<DateTime<Utc>>,
    /// No fire after this instant.
    pub end_at: Option<DateTime<Utc>>,
    /// The next fire; `None` when paused or finished.
    pub next_run_time: Option<DateTime<Utc>>,
    /// Paused jobs keep their row and do not fire.
    pub is_paused: bool,
    /// Set while a run is in progress (the query layer overlays the live value).
    pub is_running: bool,
    /// Set by anybody to run the job once now; the scheduler resets it.
    pub run_right_now: bool,
    /// How late (seconds) a fire may still run.
    pub misfire_grace_s: i32,
    /// `skip` or `run_once`.
    pub misfire_policy: String,
    /// `skip`, `queue`, `replace` or `allow`.
    pub overlap: String,
    /// Concurrent runs allowed with `overlap = allow`.
    pub max_instances: i32,
    /// Seconds a run may take; `None` for no limit.
    pub timeout_s: Option<i32>,
    /// Retries after a failed attempt (or a timeout).
    pub max_retries: i32,
    /// `fixed` or `exponential`: how the wait between attempts grows.
    pub retry_backoff: String,
    /// Wait before the first retry, as an interval (`500ms`, `10s`, `5m`).
    pub retry_delay: String,
    /// Jobs to run when a run of this one succeeds: `job_id`s separated by commas.
    pub child_jobs: Option<String>,
    /// Webhook for this job's failures, timeouts and missed fires.
    pub alert_url: Option<String>,
    /// Bumped by every write that changes the schedule; used for compare-and-set.
    pub version: i64,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row was last changed.
    pub updated_at: DateTime<Utc>,
    /// Status of the last run.
    pub last_status: Option<String>,
    /// Error of the last run, or why the row cannot be scheduled.
    pub last_error: Option<String>,
    /// [`JobRecord::plan_basis`] of the row as it was when `next_run_time`
    /// was last planned, written by whoever planned it (the scheduler, the
    /// ORM hooks). A row whose basis no longer matches was edited by a
    /// writer that did not plan (plain SQL) while no scheduler saw it, so
    /// its `next_run_time` is planned again. `None` when the writer did not
    /// say: the stored `next_run_time` stands.
    pub schedule_hash: Option<i64>,
}

impl JobRecord {
    /// A record with the documented defaults for everything but the four required fields.
    ///
    /// ```
    /// let job = ruqi_core::JobRecord::new("nightly", "send_report", "cron", "0 20 2 * * *");
    /// assert_eq!(job.misfire_grace_s, 5);
    /// assert_eq!(job.overlap, "skip");
    /// ```
    pub fn new(
        job_id: impl Into<String>,
        func: impl Into<String>,
        trigger: impl Into<String>,
        rule: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        Self {
            job_id: job_id.into(),
            job_name: None,
            description: None,
            func: func.into(),
            args: None,
            trigger: trigger.into(),
            rule: rule.into(),
            timezone: None,
            start_at: None,
            end_at: None,
            next_run_time: None,
            is_paused: false,
            is_running: false,
            run_right_now: false,
            misfire_grace_s: super::policy::DEFAULT_MISFIRE_GRACE_S,
            misfire_policy: "skip".to_owned(),
            overlap: "skip".to_owned(),
            max_instances: 1,
            timeout_s: None,
            max_retries: 0,
            retry_backoff: "exponential".to_owned(),
            retry_delay: DEFAULT_RETRY_DELAY.to_owned(),
            child_jobs: None,
            alert_url: None,
            version: 0,
            created_at: now,
            updated_at: now,
            last_status: None,
            last_error: None,
            schedule_hash: None,
        }
    }

    /// A hash of what `next_run_time` is planned from: `trigger`, `rule`,
    /// `timezone`, `start_at`, `end_at` (to the microsecond, as every
    /// backend stores them) and `is_paused`. Stable across processes and
    /// versions (64-bit FNV-1a over a fixed encoding), since it is stored in
    /// [`schedule_hash`](Self::schedule_hash) and compared by any node later.
    ///
    /// ```
    /// let mut job = ruqi_core::JobRecord::new("j", "f", "cron", "*/5 * * * *");
    /// let planned = job.plan_basis();
    /// job.rule = "*/10 * * * *".into();
    /// assert_ne!(job.plan_basis(), planned);
    /// ```
    pub fn plan_basis(&self) -> i64 {
        plan_basis_if_paused(self.schedule_basis(), self.is_paused)
    }

    /// The part of [`plan_basis`](Self::plan_basis) that does not depend on
    /// `is_paused`: with [`plan_basis_if_paused`], the basis of the row
    /// paused or not, without the row.
    pub(crate) fn schedule_basis(&self) -> u64 {
        let mut hash = FNV_OFFSET;
        let mut feed = |bytes: &[u8]| {
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        };
        // Each text is followed by its length, so no two splits of the same
        // bytes hash alike; an absent value differs from every present one.
        for text in [
            Some(self.trigger.as_str()),
            Some(self.rule.as_str()),
            self.timezone.as_deref(),
        ] {
            match text {
                Some(text) => {
                    feed(text.as_bytes());
                    feed(&(text.len() as u64).to_le_bytes());
                }
                None => feed(&[0xff]),
            }
        }
        for at in [self.start_at, self.end_at] {
            match at {
                Some(at) => feed(&at.timestamp_micros().to_le_bytes()),
                None => feed(&[0xfe]),
            }
        }
        hash
    }

    /// Whether the fields that decide *when* the job fires differ from `other`'s.
    pub fn schedule_differs(&self, other: &JobRecord) -> bool {
        self.trigger != other.trigger
            || self.rule != other.rule
            || self.timezone != other.timezone
            || self.start_at != other.start_at
            || self.end_at != other.end_at
    }

    /// Whether anything the scheduler acts on differs from `other`
    /// (everything but bookkeeping: description, timestamps, last outcome, is_running).
    pub fn behaviour_differs(&self, other: &JobRecord) -> bool {
        self.schedule_differs(other)
            || self.func != other.func
            || self.args != other.args
            || self.next_run_time != other.next_run_time
            || self.is_paused != other.is_paused
            || self.run_right_now != other.run_right_now
            || self.misfire_grace_s != other.misfire_grace_s
            || self.misfire_policy != other.misfire_policy
            || self.overlap != other.overlap
            || self.max_instances != other.max_instances
            || self.timeout_s != other.timeout_s
            || self.max_retries != other.max_retries
            || self.retry_backoff != other.retry_backoff
            || self.retry_delay != other.retry_delay
            || self.child_jobs != other.child_jobs
            || self.alert_url != other.alert_url
            || self.job_name != other.job_name
            || self.version != other.version
    }

    /// Hashes of the columns [`behaviour_differs`](Self::behaviour_differs)
    /// compares, apart from the live ones (see [`Fingerprint`]).
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            schedule: hash_of(&(&self.trigger, &self.rule, &self.timezone, &self.start_at, &self.end_at)),
            behaviour: hash_of(&(
                (
                    &self.func,
                    &self.args,
                    self.misfire_grace_s,
                    &self.misfire_policy,
                    &self.overlap,
                ),
                (
                    self.max_instances,
                    self.timeout_s,
                    self.max_retries,
                    &self.retry_backoff,
                    &self.retry_delay,
                ),
                (&self.child_jobs, &self.alert_url, &self.job_name),
            )),
        }
    }
}

/// 64-bit FNV-1a's starting value and multiplier.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// [`JobRecord::plan_basis`] from its [`schedule_basis`](JobRecord::schedule_basis)
/// and the pause flag: the flag is the last byte hashed.
pub(crate) fn plan_basis_if_paused(schedule_basis: u64, paused: bool) -> i64 {
    let hash = (schedule_basis ^ u64::from(paused)).wrapping_mul(FNV_PRIME);
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What a scheduler keeps of a row's columns instead of the row itself,
/// to tell whether the row read again acts differently: a hash of the
/// columns [`JobRecord::schedule_differs`] compares, and one of the other
/// columns [`JobRecord::behaviour_differs`] compares, except the live ones
/// (`next_run_time`, `is_paused`, `run_right_now`, `version`), which the
/// scheduler keeps as they are. The hash is 64-bit SipHash: two rows that
/// differ and hash alike (odds of 2⁻⁶⁴) would also need the same `version`,
/// which every write of a changed column moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// `trigger`, `rule`, `timezone`, `start_at`, `end_at`.
    pub(crate) schedule: u64,
    /// `func`, `args`, the policy columns, `child_jobs`, `alert_url`, `job_name`.
    pub(crate) behaviour: u64,
}

fn hash_of(value: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher as _;
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Edit = fn(&mut JobRecord);

    fn base() -> JobRecord {
        JobRecord::new("j", "f", "interval", "10m")
    }

    /// The columns besides the live ones each change one hash, and
    /// bookkeeping changes neither.
    #[test]
    fn a_fingerprint_moves_with_every_column_it_stands_for() {
        let schedule: [Edit; 5] = [
            |r| r.trigger = "cron".into(),
            |r| r.rule = "11m".into(),
            |r| r.timezone = Some("Asia/Shanghai".into()),
            |r| r.start_at = Some(Utc::now()),
            |r| r.end_at = Some(Utc::now()),
        ];
        let behaviour: [Edit; 13] = [
            |r| r.func = "g".into(),
            |r| r.args = Some("[1]".into()),
            |r| r.misfire_grace_s += 1,
            |r| r.misfire_policy = "run_once".into(),
            |r| r.overlap = "queue".into(),
            |r| r.max_instances += 1,
            |r| r.timeout_s = Some(3),
            |r| r.max_retries += 1,
            |r| r.retry_backoff = "fixed".into(),
            |r| r.retry_delay = "1s".into(),
            |r| r.child_jobs = Some("k".into()),
            |r| r.alert_url = Some("http://x".into()),
            |r| r.job_name = Some("n".into()),
        ];
        let bookkeeping: [Edit; 6] = [
            |r| r.description = Some("d".into()),
            |r| r.is_running = true,
            |r| r.created_at += chrono::Duration::seconds(1),
            |r| r.updated_at += chrono::Duration::seconds(1),
            |r| r.last_status = Some("success".into()),
            |r| r.last_error = Some("e".into()),
        ];
        let before = base();
        let after = |edit: Edit| {
            let mut row = before.clone();
            edit(&mut row);
            assert_eq!(row.job_id, before.job_id);
            row
        };
        for edit in schedule {
            let row = after(edit);
            assert!(row.behaviour_differs(&before) && row.schedule_differs(&before));
            assert_ne!(row.fingerprint().schedule, before.fingerprint().schedule, "{row:?}");
            assert_eq!(row.fingerprint().behaviour, before.fingerprint().behaviour, "{row:?}");
        }
        for edit in behaviour {
            let row = after(edit);
            assert!(row.behaviour_differs(&before) && !row.schedule_differs(&before));
            assert_eq!(row.fingerprint().schedule, before.fingerprint().schedule, "{row:?}");
            assert_ne!(row.fingerprint().behaviour, before.fingerprint().behaviour, "{row:?}");
        }
        for edit in bookkeeping {
            let row = after(edit);
            assert!(!row.behaviour_differs(&before));
            assert_eq!(row.fingerprint(), before.fingerprint(), "{row:?}");
        }
    }

    /// Values that run together when written one after another still hash apart.
    #[test]
    fn a_fingerprint_keeps_columns_apart() {
        let mut a = base();
        a.func = "ab".into();
        a.args = Some("c".into());
        let mut b = base();
        b.func = "a".into();
        b.args = Some("bc".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
