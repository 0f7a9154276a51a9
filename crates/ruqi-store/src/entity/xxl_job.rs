//! `xxl_job`: the number each job is known by to XXL-JOB executors (see
//! [`crate::query::xxl_job_number`]).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An `xxl_job` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "xxl_job")]
pub struct Model {
    /// The number sent as `jobId`, given by the database.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The job's `job_id`.
    #[sea_orm(unique)]
    pub job_id: String,
}

/// `xxl_job` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
