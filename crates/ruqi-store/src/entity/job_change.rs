//! `job_change`: the change log the database triggers append to, one row per
//! schedule change of a `job_info` row. Schedulers read it in `seq` order and
//! prune it behind them; it is not meant to be written by anyone else.

use sea_orm::entity::prelude::*;

/// A `job_change` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_change")]
pub struct Model {
    /// Position in the log, increasing.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The row that changed.
    pub job_id: String,
    /// Its version after the change; NULL when it was deleted.
    pub version: Option<i64>,
    /// When the change was made, by the database's clock.
    pub changed_at: DateTimeUtc,
}

/// `job_change` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
