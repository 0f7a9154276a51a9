//! `xxl_executor`: the XXL-JOB executors registered with this center, one
//! row per app name and address (see [`crate::query::beat_executor`]).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An `xxl_executor` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "xxl_executor")]
pub struct Model {
    /// The executor's app name (its `registryKey`), at most 191 characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app: String,
    /// Its base URL (its `registryValue`) without a trailing `/`, at most
    /// 255 characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub address: String,
    /// Its first beat since it was last removed.
    pub first_beat_at: DateTimeUtc,
    /// Its latest beat.
    pub last_beat_at: DateTimeUtc,
    /// The address as the executor last sent it (the Java executor ends it
    /// with `/`): what xxl-job's consistent-hash ring is built from.
    pub registered_as: Option<String>,
}

/// `xxl_executor` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
