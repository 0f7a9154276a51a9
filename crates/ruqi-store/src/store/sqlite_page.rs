//! Reading a page of rows on SQLite, fast: the scheduler's start-up load of
//! `job_info` and the pages of the job and execution lists.
//!
//! The SQLite driver steps its statements on a thread of its own and hands
//! every row over to the async side on its own, which costs more than
//! reading the row: at a million rows, start-up spent most of its time
//! there, and a list page of 50 spent a seventh of its time there and more
//! in looking up each column of each row by name. Here one statement
//! returns a whole page as one JSON array of arrays (`json_group_array`),
//! which is handed over once and decoded straight into the row's type.
//!
//! Anything this decoding does not expect — a date written in a format of
//! its own by plain SQL, text in an integer column — makes it answer
//! `None`, and the caller reads that page the ordinary way, which keeps
//! and explains rows it cannot read.

use ruqi_core::JobRecord;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::de::DeserializeOwned;

/// The columns of `job_info`, in the order of [`JobRecord`]'s fields and of
/// `job_info::Model`'s (their `Deserialize` reads a JSON array
/// positionally); booleans become JSON booleans.
pub(crate) const JOB_INFO_COLUMNS: [&str; 30] = [
    "job_id",
    "job_name",
    "description",
    "func",
    "args",
    "\"trigger\"",
    "rule",
    "timezone",
    "start_at",
    "end_at",
    "next_run_time",
    "json(iif(is_paused, 'true', 'false'))",
    "json(iif(is_running, 'true', 'false'))",
    "json(iif(run_right_now, 'true', 'false'))",
    "misfire_grace_s",
    "misfire_policy",
    "overlap",
    "max_instances",
    "timeout_s",
    "max_retries",
    "retry_backoff",
    "retry_delay",
    "child_jobs",
    "alert_url",
    "version",
    "created_at",
    "updated_at",
    "last_status",
    "last_error",
    "schedule_hash",
];

/// The columns of `job_execution` as a list shows them, in the order of
/// `job_execution::Model`'s fields: `output` is left out (read as `NULL`),
/// since a list does not show it and it may hold 64 KiB a row.
pub(crate) const EXECUTION_LIST_COLUMNS: [&str; 15] = [
    "id",
    "job_id",
    "job_name",
    "scheduled_for",
    "started_at",
    "finished_at",
    "duration_ms",
    "status",
    "attempt",
    "NULL",
    "error",
    "node",
    "trigger_source",
    "cancel_requested_at",
    "args",
];

/// The rows `page` selects (whole rows of one table, at most a page of
/// them), each read as a JSON array of `columns` and decoded into `T`, in
/// the order `order` gives (an `ORDER BY` list over the page's columns: the
/// order of rows going into an aggregate is otherwise unspecified).
///
/// `None` when the database is not SQLite or a row holds something the
/// decoding does not expect; the caller then reads the page row by row.
pub(crate) async fn read_json_rows<T: DeserializeOwned>(
    db: &DatabaseConnection,
    columns: &[&str],
    page: Statement,
    order: &str,
) -> Option<Vec<T>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let sql = format!(
        "SELECT json_group_array(json_array({}) ORDER BY {order}) FROM ({})",
        columns.join(", "),
        page.sql
    );
    let row = db.query_one_raw(Statement { sql, ..page }).await.ok()??;
    let json: String = row.try_get_by_index(0).ok()?;
    match serde_json::from_str::<Vec<T>>(&json) {
        Ok(rows) => Some(rows),
        Err(error) => {
            tracing::debug!(%error, "a page needs the row-by-row read");
            None
        }
    }
}

fn page_sql(after: bool) -> String {
    format!(
        "SELECT * FROM job_info {} ORDER BY job_id LIMIT ?",
        if after { "WHERE job_id > ?" } else { "" }
    )
}

/// The page of at most `limit` rows after `after`, or `None` when the
/// database is not SQLite or the page holds something this path does not
/// decode (the caller then reads it row by row through the entity).
pub(super) async fn load_page(db: &DatabaseConnection, after: Option<&str>, limit: usize) -> Option<Vec<JobRecord>> {
    let limit = i64::try_from(limit).ok()?;
    let statement = match after {
        Some(after) => Statement::from_sql_and_values(DbBackend::Sqlite, page_sql(true), [after.into(), limit.into()]),
        None => Statement::from_sql_and_values(DbBackend::Sqlite, page_sql(false), [limit.into()]),
    };
    read_json_rows(db, &JOB_INFO_COLUMNS, statement, "job_id").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_record_fields() {
        // A record serialized as text lists its fields in declaration order,
        // the order the page's arrays must have.
        let record = JobRecord::new("a", "f", "cron", "* * * * *");
        let text = serde_json::to_string(&record).expect("a record serializes");
        let field_count = serde_json::to_value(&record)
            .expect("a record serializes")
            .as_object()
            .map_or(0, serde_json::Map::len);
        assert_eq!(field_count, JOB_INFO_COLUMNS.len());
        let mut last = 0;
        for column in JOB_INFO_COLUMNS {
            let column = column.trim_matches('"');
            let name = column
                .strip_prefix("json(iif(")
                .and_then(|rest| rest.split(',').next())
                .unwrap_or(column);
            let at = text
                .find(&format!("\"{name}\":"))
                .unwrap_or_else(|| panic!("{name} is not a field of JobRecord"));
            assert!(at >= last, "{name} is out of the fields' order");
            last = at;
        }
    }
}
