//! `xxl_app`: the executor addresses given by hand for an app (see
//! [`crate::query::set_manual_addresses`]).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An `xxl_app` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "xxl_app")]
pub struct Model {
    /// The app name, at most 191 characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app: String,
    /// Its addresses, normalised, one per line, in order.
    pub addresses: String,
    /// When they were last set.
    pub updated_at: DateTimeUtc,
}

/// `xxl_app` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
