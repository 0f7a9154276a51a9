//! The query layer: reads of `job_info` overlaid with the live scheduler
//! state, execution history, its statistics, and its retention; and the
//! registry of XXL-JOB executors and the runs dispatched to them.

mod execution_filter;
mod executions;
mod executor_registry;
mod job_stats;
mod jobs;
mod retention;
mod stats;
mod suggest;
mod xxl_dispatch;

pub use executions::{Counting, ExecutionFilter, get_execution, list_executions};
pub use executor_registry::{
    EXECUTOR_LIVE_FOR, ExecutorApp, LiveExecutor, MAX_ADDRESS_LEN, MAX_APP_LEN, MAX_MANUAL_ADDRESSES, beat_executor,
    dispatch_addresses, live_addresses, live_executors, normalize_executor_address, registered_forms, remove_executor,
    set_manual_addresses,
};
pub use job_stats::{JobStats, job_stats};
pub use jobs::{JobFilter, JobOrder, JobView, get_job, list_jobs, schedule_mark};
pub use retention::{Retention, cleanup_executions, count_cleanup};
pub use stats::{
    Bucket, DurationTotals, ExecutionStats, MAX_BUCKETS, PERCENTILES, StatsBucket, StatsOptions, StatusCounts,
    execution_stats,
};
pub use suggest::{Suggest, suggest};
pub use xxl_dispatch::{
    DispatchResult, HANDLE_MSG_MAX_CHARS, close_dropped_dispatches, complete_dispatch, complete_dispatches,
    dispatch_results, dispatches_of_ended_runs, note_on_ended_run, record_dispatch, xxl_job_number,
};

use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, QuerySelect, QueryTrait,
    Select,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::sqlite_page;

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
    /// All matching rows; with `total_exact` false, a lower bound.
    pub total: u64,
    /// Whether `total` is the number of matching rows (`false`: the count
    /// stopped early, and at least `total` rows match).
    pub total_exact: bool,
    /// The page's offset.
    pub offset: u64,
    /// The page's size limit.
    pub limit: u64,
}

/// How many rows a list matches, as far as the list knows before reading
/// its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Counted for this very request.
    Exact(u64),
    /// Kept from an earlier count of the same rows, believed unchanged.
    Kept(u64),
    /// At least this many: the count stopped there (see [`count_rows_up_to`]).
    AtLeast(u64),
}

/// Counts the rows `query` matches with a plain `SELECT COUNT(*) … WHERE …`
/// (not a count over a sub-query of every column). `query` has no ORDER BY.
pub(crate) async fn count_rows<E>(db: &DatabaseConnection, query: Select<E>) -> Result<u64, DbErr>
where
    E: EntityTrait,
{
    let n: Option<i64> = query
        .select_only()
        .expr_as(Func::count(Expr::col(Asterisk)), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Counts the rows `query` matches, but reads no more than `cap` + 1 of
/// them: past `cap` the answer is [`Count::AtLeast`] `cap`. A list of a
/// million runs costs its page, not a walk over every row, on each request.
/// `query` has no ORDER BY.
pub(crate) async fn count_rows_up_to<E>(db: &DatabaseConnection, query: Select<E>, cap: u64) -> Result<Count, DbErr>
where
    E: EntityTrait,
{
    let capped = query
        .select_only()
        .expr(Expr::val(1))
        .limit(cap.saturating_add(1))
        .into_query();
    let mut outer = Query::select();
    outer
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from_subquery(capped, Alias::new("capped"));
    let backend = db.get_database_backend();
    let n = match db.query_one_raw(backend.build(&outer)).await? {
        Some(row) => u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
        None => 0,
    };
    Ok(if n > cap { Count::AtLeast(cap) } else { Count::Exact(n) })
}

/// How SQLite reads a page of a list as one JSON array (see
/// `store::sqlite_page`): the columns, in the order of the model's fields,
/// and the list's order again over the page's columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonRows<'a> {
    pub(crate) columns: &'a [&'a str],
    pub(crate) order: &'a str,
}

/// Reads one page, the statement made by `slice` (for an offset and a
/// limit); on SQLite the page comes as one JSON array read as `json` says. With a count kept from before or one
/// that stopped early, the page is read whatever it says, and the total is
/// brought in line with what the page shows: a page short of its limit ends
/// the list, and then its total is exact.
pub(crate) async fn fetch_page<E>(
    db: &DatabaseConnection,
    slice: impl FnOnce(u64, u64) -> Select<E>,
    page: Page,
    count: Count,
    json: JsonRows<'_>,
) -> Result<Paged<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult + DeserializeOwned + Sized + Send + Sync,
{
    // PostgreSQL and SQLite take an OFFSET only as a signed 64-bit integer,
    // and no table holds more rows than that: a page beyond it is empty.
    let readable = i64::try_from(page.offset).is_ok()
        && match count {
            Count::Exact(total) => page.offset < total,
            Count::Kept(_) | Count::AtLeast(_) => true,
        };
    let items = if readable {
        let query = slice(page.offset, page.clamped_limit());
        let from_json = if db.get_database_backend() == DbBackend::Sqlite {
            sqlite_page::read_json_rows(db, json.columns, query.build(DbBackend::Sqlite), json.order).await
        } else {
            None
        };
        match from_json {
            Some(rows) => rows,
            None => query.all(db).await?,
        }
    } else {
        Vec::new()
    };
    // A page short of its limit ends the list: its rows tell the total.
    let shown = page.offset.saturating_add(items.len() as u64);
    let last_page = (items.len() as u64) < page.clamped_limit() && (!items.is_empty() || page.offset == 0);
    let (total, total_exact) = match count {
        Count::Exact(total) => (total, true),
        _ if last_page => (shown, true),
        Count::Kept(total) => (total.max(shown), true),
        Count::AtLeast(total) => (total.max(shown), false),
    };
    Ok(Paged {
        items,
        total,
        total_exact,
        offset: page.offset,
        limit: page.clamped_limit(),
    })
}
