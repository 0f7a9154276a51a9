//! The query layer: reads of `job_info` overlaid with the live scheduler
//! state, execution history, and its retention.

mod executions;
mod jobs;
mod retention;

pub use executions::{ExecutionFilter, get_execution, list_executions};
pub use jobs::{JobFilter, JobOrder, JobView, get_job, list_jobs};
pub use retention::{Retention, cleanup_executions};

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QuerySelect, Select};
use serde::Serialize;

/// Which slice of a result to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip. Past the last row (however far, even beyond what a
    /// database counts in signed 64 bits) the page is empty.
    pub offset: u64,
    /// Rows to return (at most [`Page::MAX_LIMIT`]).
    pub limit: u64,
}

impl Page {
    /// Largest page served.
    pub const MAX_LIMIT: u64 = 1_000;

    /// The first `limit` rows.
    pub fn first(limit: u64) -> Self {
        Self { offset: 0, limit }
    }

    pub(crate) fn clamped_limit(&self) -> u64 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(50)
    }
}

/// One page of results and the total number of matching rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// All matching rows.
    pub total: u64,
    /// The page's offset.
    pub offset: u64,
    /// The page's size limit.
    pub limit: u64,
}

/// Runs `query` for one page, with the total count of its matches.
pub(crate) async fn fetch_page<E>(
    db: &DatabaseConnection,
    query: Select<E>,
    page: Page,
) -> Result<Paged<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Sized + Send + Sync,
{
    let total = query.clone().count(db).await?;
    // PostgreSQL and SQLite take an OFFSET only as a signed 64-bit integer,
    // and no table holds more rows than that: a page beyond it is empty.
    let items = if page.offset < total && i64::try_from(page.offset).is_ok() {
        query.offset(page.offset).limit(page.clamped_limit()).all(db).await?
    } else {
        Vec::new()
    };
    Ok(Paged {
        items,
        total,
        offset: page.offset,
        limit: page.clamped_limit(),
    })
}
