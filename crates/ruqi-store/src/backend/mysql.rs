//! MySQL / MariaDB: the clock in UTC, as `DATETIME(6)` columns hold it; the
//! check that a session is in UTC; and `job_info`'s InnoDB table id, which
//! tells the change feed of a `TRUNCATE` (MySQL has no `TRUNCATE` trigger).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

pub(super) const NOW: &str = "UTC_TIMESTAMP(6)";

pub(super) fn time_ago(age: Duration) -> String {
    format!("(UTC_TIMESTAMP(6) - INTERVAL {} MICROSECOND)", age.as_micros())
}

/// A signed 64-bit sum (`SUM` gives a decimal).
pub(super) fn sum_as_bigint(column: &str) -> String {
    format!("CAST(SUM({column}) AS SIGNED)")
}

/// Locks, until the transaction ends, the row every migrated database has:
/// the first migration's in `ruqi_migrations`. Serialises changes of the
/// `child_jobs` graph without a table of its own. (`GET_LOCK` would outlive
/// the transaction: it belongs to the session, which goes back to the pool.)
/// Being a locking read, it does not start the transaction's snapshot, so
/// what the transaction reads next includes every change committed by the
/// lock's previous holder.
pub(super) const LOCK_CHILD_GRAPH: &str =
    "SELECT version FROM ruqi_migrations WHERE version = 'm20261121_000001_create_job_tables' FOR UPDATE";

/// Whether the session's `time_zone` reads and writes UTC: converting a
/// winter and a summer instant from it to UTC changes neither.
const SESSION_IS_UTC: &str = "SELECT @@session.time_zone AS zone, CAST(COALESCE(\
     CONVERT_TZ('2026-01-15 12:00:00', @@session.time_zone, '+00:00') = '2026-01-15 12:00:00' \
     AND CONVERT_TZ('2026-07-15 12:00:00', @@session.time_zone, '+00:00') = '2026-07-15 12:00:00', 0) AS SIGNED) AS utc";

/// Refuses a connection whose sessions are not in UTC. ruqi writes UTC
/// instants into `DATETIME(6)` columns, and the migrations' triggers bring
/// what a session in another zone writes to `job_info` to UTC: ruqi's own
/// writes through such a session would be moved by its offset. sqlx's MySQL
/// driver sets `time_zone = '+00:00'` on every connection unless the URL's
/// `timezone` parameter (or `MySqlConnectOptions::timezone`) says otherwise.
pub(crate) async fn check_session_is_utc(db: &DatabaseConnection) -> Result<(), DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DatabaseBackend::MySql, SESSION_IS_UTC))
        .await?
        .ok_or_else(|| DbErr::Custom("reading the session's time_zone returned no row".to_owned()))?;
    let zone: String = row.try_get("", "zone")?;
    let utc: i64 = row.try_get("", "utc")?;
    if utc == 1 {
        return Ok(());
    }
    Err(DbErr::Custom(format!(
        "the connection's time_zone is '{zone}', not UTC: ruqi stores UTC in job_info's DATETIME \
         columns and its triggers convert what other zones write, so its own sessions must be in UTC \
         (leave out the URL's timezone parameter: sqlx then sets +00:00)"
    )))
}

/// InnoDB's id of `job_info` in this database, as MariaDB (`INNODB_SYS_TABLES`)
/// and MySQL 8 (`INNODB_TABLES`) show it. Both need the `PROCESS` privilege.
const TABLE_ID_QUERIES: [&str; 2] = [
    "SELECT CAST(TABLE_ID AS SIGNED) AS id FROM information_schema.INNODB_SYS_TABLES \
     WHERE NAME = CONCAT(DATABASE(), '/job_info')",
    "SELECT CAST(TABLE_ID AS SIGNED) AS id FROM information_schema.INNODB_TABLES \
     WHERE NAME = CONCAT(DATABASE(), '/job_info')",
];

/// Watches `job_info`'s InnoDB table id for a `TRUNCATE`.
///
/// InnoDB's `TRUNCATE` drops and re-creates the table, under a new table id;
/// rows written, `ANALYZE`, an `ALTER` done in place (a column added, an
/// index created, a trigger) keep the id. On MariaDB 10.11,
/// `information_schema.TABLES.CREATE_TIME` is no signal: `TRUNCATE` leaves
/// it, and an in-place `ALTER` moves it. A statement that rebuilds the
/// table (`OPTIMIZE TABLE`, `ALTER TABLE … FORCE`) also gives it a new id,
/// and the schedulers then compare the table once for nothing.
///
/// Without the `PROCESS` privilege (or on a server that shows neither
/// table) there is no id to watch: the feed goes on without, and a
/// `TRUNCATE` reaches the schedulers only when they next compare the whole
/// table (at their start, or after losing track of the log).
pub(crate) struct TruncationWatch {
    /// The query that answered at the start; `None` when none did.
    query: Option<&'static str>,
    /// The id last read.
    table_id: Option<i64>,
}

impl TruncationWatch {
    /// Reads the id with the first query the server answers.
    pub(crate) async fn start(db: &DatabaseConnection) -> Self {
        let mut refusals = Vec::new();
        for query in TABLE_ID_QUERIES {
            match read_table_id(db, query).await {
                Ok(Some(id)) => {
                    return Self {
                        query: Some(query),
                        table_id: Some(id),
                    };
                }
                Ok(None) => refusals.push("job_info not listed".to_owned()),
                Err(error) => refusals.push(error.to_string()),
            }
        }
        tracing::warn!(
            errors = ?refusals,
            "job_info's InnoDB table id is not readable (the PROCESS privilege is needed): \
             a TRUNCATE TABLE job_info reaches this scheduler only at its next full comparison of the table"
        );
        Self {
            query: None,
            table_id: None,
        }
    }

    /// Whether the table got a new id since the last call. A failed read
    /// answers `false` and is tried again next time.
    pub(crate) async fn truncated(&mut self, db: &DatabaseConnection) -> bool {
        let Some(query) = self.query else {
            return false;
        };
        match read_table_id(db, query).await {
            Ok(Some(id)) => {
                let changed = self.table_id.is_some_and(|before| before != id);
                self.table_id = Some(id);
                changed
            }
            Ok(None) => false,
            Err(error) => {
                tracing::debug!(%error, "reading job_info's table id failed");
                false
            }
        }
    }
}

async fn read_table_id(db: &DatabaseConnection, query: &str) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DatabaseBackend::MySql, query))
        .await?;
    row.map(|row| row.try_get::<i64>("", "id")).transpose()
}
