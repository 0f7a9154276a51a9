//! `scheduler_node`: one row per running scheduler process, with its heartbeat.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A `scheduler_node` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheduler_node")]
pub struct Model {
    /// The node name (what its runs write to `job_execution.node`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub node: String,
    /// The host it runs on.
    pub host: Option<String>,
    /// Its process id.
    pub pid: Option<i64>,
    /// When it started.
    pub started_at: DateTimeUtc,
    /// Its last heartbeat, by the database's clock.
    pub heartbeat_at: DateTimeUtc,
}

/// `scheduler_node` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
