//! Execution history queries.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Order, QueryFilter, QueryOrder};

use super::{Count, Page, Paged, count_rows, fetch_page};
use crate::entity::job_execution::{Column, Entity, Model};

/// Which executions to list. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Exact `job_id`.
    pub job_id: Option<String>,
    /// Exact `job_name`.
    pub job_name: Option<String>,
    /// Exact `status` (`running`, `success`, …).
    pub status: Option<String>,
    /// `scheduled_for` at or after this.
    pub from: Option<DateTime<Utc>>,
    /// `scheduled_for` before this.
    pub to: Option<DateTime<Utc>>,
    /// `job_id` starts with this text, case ignored.
    pub job_id_prefix: Option<String>,
    /// `error` holds this text, case ignored.
    pub error: Option<String>,
}

/// Lists executions, newest scheduled instant first.
pub async fn list_executions(
    db: &DatabaseConnection,
    filter: &ExecutionFilter,
    page: Page,
) -> Result<Paged<Model>, DbErr> {
    let query = Entity::find().filter(filter.condition());
    let count = Count {
        total: count_rows(db, query.clone()).await?,
        exact: true,
    };
    let query = query
        .order_by(Column::ScheduledFor, Order::Desc)
        .order_by(Column::Id, Order::Desc);
    fetch_page(db, query, page, count).await
}

/// One execution with its output.
pub async fn get_execution(db: &DatabaseConnection, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}
