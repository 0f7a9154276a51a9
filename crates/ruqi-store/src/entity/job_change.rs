//! `job_change`: the change log the database triggers append to, one row per
//! schedule change of a `job_info` row. Schedulers read it in `seq` order and
//! prune it behind them; it is not meant to be written by anyone else.
//!
//! On PostgreSQL a `TRUNCATE job_info`, which changes no row one by one, is
//! logged as one marker row: `job_id` [`TRUNCATED_JOB_ID`] (empty) and
//! `version` [`TRUNCATED_VERSION`] (-1), which no row change logs (versions
//! start at 0 and never go down). A scheduler that reads it compares the
//! whole table with memory and drops the jobs whose rows are gone.

pub use ruqi_migration::{TRUNCATED_JOB_ID, TRUNCATED_VERSION};
use sea_orm::entity::prelude::*;

/// A `job_change` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_change")]
pub struct Model {
    /// Position in the log, increasing.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The row that changed ([`TRUNCATED_JOB_ID`] for a truncation).
    pub job_id: String,
    /// Its version after the change; NULL when it was deleted;
    /// [`TRUNCATED_VERSION`] for a truncation.
    pub version: Option<i64>,
    /// When the change was made, by the database's clock.
    pub changed_at: DateTimeUtc,
}

/// `job_change` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether this row marks a `TRUNCATE` of `job_info` rather than the
    /// change of one row.
    pub fn is_truncation(&self) -> bool {
        self.job_id == TRUNCATED_JOB_ID && self.version == Some(TRUNCATED_VERSION)
    }
}
