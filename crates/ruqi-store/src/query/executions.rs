//! Execution history queries.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Iterable, Order, QueryFilter, QueryOrder, QuerySelect};

use super::{Count, JsonRows, Page, Paged, count_rows, fetch_page};
use crate::entity::job_execution::{Column, Entity, Model};
use crate::store::sqlite_page::EXECUTION_LIST_COLUMNS;

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

/// Lists executions, newest scheduled instant first, without their
/// `output` (`None` in every row: read one execution for it).
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
        .select_only()
        .columns(Column::iter().filter(|c| !matches!(c, Column::Output)))
        .expr_as(Expr::cust("NULL"), "output")
        .order_by(Column::ScheduledFor, Order::Desc)
        .order_by(Column::Id, Order::Desc);
    let json = JsonRows {
        columns: &EXECUTION_LIST_COLUMNS,
        order: "scheduled_for DESC, id DESC",
    };
    fetch_page(db, query, page, count, json).await
}

/// One execution with its output.
pub async fn get_execution(db: &DatabaseConnection, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}
