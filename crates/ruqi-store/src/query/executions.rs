//! Execution history queries.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Iterable, Order, QueryFilter, QueryOrder, QuerySelect};

use super::{Count, JsonRows, Page, Paged, count_rows, count_rows_up_to, fetch_page};
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
    /// Only runs of the job that holds their `job_id` now: scheduled at or
    /// after its `created_at`. A job deleted and created again under the
    /// same id leaves the earlier job's runs out, as do deleted jobs.
    pub since_job_created: bool,
}

/// How far a list counts the rows it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every matching row, however many.
    Exact,
    /// Up to this many: past it, the total is a lower bound
    /// ([`Paged::total_exact`] is `false`) unless the page itself is the last.
    UpTo(u64),
}

impl Counting {
    /// What a list counts unless asked for more: enough for two hundred
    /// pages of fifty, at a cost that does not grow with the history.
    pub const DEFAULT: Counting = Counting::UpTo(10_000);
}

/// Lists executions, newest scheduled instant first, without their
/// `output` (`None` in every row: read one execution for it), counting as
/// `counting` says.
pub async fn list_executions(
    db: &DatabaseConnection,
    filter: &ExecutionFilter,
    page: Page,
    counting: Counting,
) -> Result<Paged<Model>, DbErr> {
    let query = Entity::find().filter(filter.condition());
    let count = match counting {
        Counting::Exact => Count::Exact(count_rows(db, query.clone()).await?),
        Counting::UpTo(cap) => count_rows_up_to(db, query.clone(), cap).await?,
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
    fetch_page(db, |offset, limit| query.offset(offset).limit(limit), page, count, json).await
}

/// One execution with its output.
pub async fn get_execution(db: &DatabaseConnection, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}
