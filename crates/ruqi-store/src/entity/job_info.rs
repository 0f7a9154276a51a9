//! `job_info`: one row per job. The rows are the schedule.
//!
//! Writes through this entity's `ActiveModel` are validated and keep the
//! scheduler in step (see the hooks in `job_info_hooks.rs`): an invalid row
//! is refused with an error naming the field, and nothing is written.
//!
//! ```
//! # async fn run() -> Result<(), sea_orm::DbErr> {
//! use ruqi_store::entity::job_info;
//! use sea_orm::{ActiveModelTrait, ActiveValue::Set, Database};
//!
//! let db = Database::connect("sqlite::memory:").await?;
//! ruqi_migration::migrate(&db).await?;
//! let job = job_info::ActiveModel {
//!     timezone: Set(Some("Europe/Berlin".into())),
//!     ..job_info::ActiveModel::new_job("nightly-report", "send_report", "cron", "0 20 2 * * *")
//! }
//! .insert(&db)
//! .await?;
//! assert!(job.next_run_time.is_some());
//!
//! let bad = job_info::ActiveModel::new_job("bad", "send_report", "cron", "0 25 * * *").insert(&db).await;
//! assert!(bad.unwrap_err().to_string().contains("invalid rule"));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

pub use super::job_info_hooks::begin_write;

/// A `job_info` row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "job_info")]
pub struct Model {
    /// User-chosen id, or a generated UUID when left empty on insert.
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: String,
    /// Group or category.
    pub job_name: Option<String>,
    /// Free text.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// Name of the registered function to run.
    pub func: String,
    /// JSON arguments as text; NULL is JSON `null`.
    #[sea_orm(column_type = "Text", nullable)]
    pub args: Option<String>,
    /// `cron`, `interval` or `date`.
    pub trigger: String,
    /// The trigger's rule.
    pub rule: String,
    /// IANA zone; NULL is the scheduler's default.
    pub timezone: Option<String>,
    /// No fire before this.
    pub start_at: Option<DateTimeUtc>,
    /// No fire after this.
    pub end_at: Option<DateTimeUtc>,
    /// The next fire; NULL when paused or finished.
    pub next_run_time: Option<DateTimeUtc>,
    /// Paused jobs do not fire.
    pub is_paused: bool,
    /// A run is in progress (the query layer overlays the live value).
    pub is_running: bool,
    /// Set to run once now; the scheduler resets it.
    pub run_right_now: bool,
    /// Seconds a fire may be late and still run.
    pub misfire_grace_s: i32,
    /// `skip` or `run_once`.
    pub misfire_policy: String,
    /// `skip`, `queue`, `replace` or `allow`.
    pub overlap: String,
    /// Concurrent runs with `overlap = allow`.
    pub max_instances: i32,
    /// Seconds a run may take; NULL for no limit.
    pub timeout_s: Option<i32>,
    /// Retries after a failed attempt.
    pub max_retries: i32,
    /// `fixed` or `exponential` (doubling, with jitter) waits between attempts.
    pub retry_backoff: String,
    /// Wait before the first retry, as an interval (`500ms`, `10s`, `5m`).
    pub retry_delay: String,
    /// Jobs to run when a run of this one succeeds: their `job_id`s, separated by commas.
    #[sea_orm(column_type = "Text", nullable)]
    pub child_jobs: Option<String>,
    /// Where a failure, timeout or missed fire of this job is POSTed (overrides the global webhook).
    #[sea_orm(column_type = "Text", nullable)]
    pub alert_url: Option<String>,
    /// Change counter for compare-and-set; bumped by every schedule change.
    pub version: i64,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
    /// Status of the last run.
    pub last_status: Option<String>,
    /// Error of the last run, or why the row cannot be scheduled.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// A hash of the schedule columns and `is_paused` as they were when
    /// `next_run_time` was last planned ([`ruqi_core::JobRecord::plan_basis`]),
    /// written by the scheduler and the hooks. Plain SQL leaves it alone:
    /// a row edited while no scheduler ran then no longer matches it, and
    /// the next scheduler to start plans `next_run_time` again.
    pub schedule_hash: Option<i64>,
    /// The `job_execution` id of the run the row's last winning claim
    /// started; until that run's row is written, it stands in for it (see
    /// migration 14). Not part of the job: left out of its JSON.
    #[serde(skip)]
    pub claim_id: Option<String>,
    /// The node that made that claim.
    #[serde(skip)]
    pub claim_node: Option<String>,
    /// The instant that claim fires for.
    #[serde(skip)]
    pub claim_for: Option<DateTimeUtc>,
}

impl ActiveModel {
    /// A new job with its four required columns set and every other column
    /// left to its default (add more with struct update syntax).
    ///
    /// ```
    /// use ruqi_store::entity::job_info;
    /// use sea_orm::ActiveValue::Set;
    ///
    /// let job = job_info::ActiveModel {
    ///     timezone: Set(Some("Asia/Shanghai".into())),
    ///     ..job_info::ActiveModel::new_job("nightly", "send_report", "cron", "0 20 2 * * *")
    /// };
    /// assert_eq!(job.func, Set("send_report".to_owned()));
    /// ```
    pub fn new_job(
        job_id: impl Into<String>,
        func: impl Into<String>,
        trigger: impl Into<String>,
        rule: impl Into<String>,
    ) -> Self {
        use sea_orm::ActiveValue::Set;
        Self {
            job_id: Set(job_id.into()),
            func: Set(func.into()),
            trigger: Set(trigger.into()),
            rule: Set(rule.into()),
            ..Default::default()
        }
    }
}

/// `job_info` has no relations: history rows outlive their job.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
