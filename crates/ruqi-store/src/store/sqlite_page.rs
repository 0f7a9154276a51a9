//! Reading `job_info` a page at a time on SQLite, fast.
//!
//! The SQLite driver steps its statements on a thread of its own and hands
//! every row over to the async side on its own, which costs more than
//! reading the row: at a million rows, start-up spent most of its time
//! there. Here one statement returns a whole page as one JSON array of
//! arrays (`json_group_array`, ordered by `job_id`), which is handed over
//! once and decoded straight into [`JobRecord`]s.
//!
//! Anything this decoding does not expect — a date written in a format of
//! its own by plain SQL, text in an integer column — makes it answer
//! `None`, and the caller reads that page the ordinary way, which keeps
//! and explains rows it cannot read.

use ruqi_core::JobRecord;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The columns, in the order of [`JobRecord`]'s fields (its `Deserialize`
/// reads a JSON array positionally); booleans become JSON booleans.
const COLUMNS: [&str; 30] = [
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

fn page_sql(after: bool) -> String {
    format!(
        "SELECT json_group_array(json_array({}) ORDER BY job_id) FROM \
         (SELECT * FROM job_info {} ORDER BY job_id LIMIT ?)",
        COLUMNS.join(", "),
        if after { "WHERE job_id > ?" } else { "" }
    )
}

/// The page of at most `limit` rows after `after`, or `None` when the
/// database is not SQLite or the page holds something this path does not
/// decode (the caller then reads it row by row through the entity).
pub(super) async fn load_page(db: &DatabaseConnection, after: Option<&str>, limit: usize) -> Option<Vec<JobRecord>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let limit = i64::try_from(limit).ok()?;
    let statement = match after {
        Some(after) => Statement::from_sql_and_values(DbBackend::Sqlite, page_sql(true), [after.into(), limit.into()]),
        None => Statement::from_sql_and_values(DbBackend::Sqlite, page_sql(false), [limit.into()]),
    };
    let row = db.query_one_raw(statement).await.ok()??;
    let json: String = row.try_get_by_index(0).ok()?;
    match serde_json::from_str::<Vec<JobRecord>>(&json) {
        Ok(rows) => Some(rows),
        Err(error) => {
            tracing::debug!(%error, "a page of job_info needs the row-by-row read");
            None
        }
    }
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
        assert_eq!(field_count, COLUMNS.len());
        let mut last = 0;
        for column in COLUMNS {
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
