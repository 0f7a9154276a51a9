//! Completions for the admin page's filters: job ids and groups starting
//! with what was typed, from the whole schedule rather than a loaded page.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::execution_filter::like_pattern;
use crate::entity::job_info::{Column, Entity};

/// Which column of `job_info` to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    /// `job_id`.
    JobId,
    /// `job_name` (the group), each once.
    JobName,
}

/// Up to `limit` (at most 1,000) distinct values of `field` starting with
/// `prefix` (case ignored), in order.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ruqi_store::query::{Suggest, suggest};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// assert!(suggest(&db, Suggest::JobName, "rep", 10).await?.is_empty());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub async fn suggest(db: &DatabaseConnection, field: Suggest, prefix: &str, limit: u64) -> Result<Vec<String>, DbErr> {
    let column = match field {
        Suggest::JobId => Column::JobId,
        Suggest::JobName => Column::JobName,
    };
    let mut query = Entity::find()
        .select_only()
        .column(column)
        .filter(column.is_not_null())
        .distinct()
        .order_by_asc(column)
        .limit(limit.clamp(1, 1_000));
    if !prefix.is_empty() {
        query = query.filter(Expr::expr(Func::lower(Expr::col(column))).like(like_pattern(prefix, false)));
    }
    query.into_tuple::<String>().all(db).await
}
