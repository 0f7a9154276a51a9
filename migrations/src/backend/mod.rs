//! SQL that differs per backend, one file each; the migrations pick one with
//! `get_database_backend()` at run time, and [`migrate`](crate::migrate)
//! picks each backend's lock around the run.

pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// `job_info` columns whose change means the schedule or the way a job runs
/// changed. A write that changes any of them without bumping `version`
/// itself gets `version + 1` from the trigger, so every writer — ORM, admin
/// API, plain SQL — moves the version, and the schedulers' compare-and-set
/// claims can never overwrite an edit they have not seen.
pub(crate) fn versioned_columns() -> Vec<&'static str> {
    [FIRST_VERSIONED_COLUMNS, EXECUTION_CONTROL_COLUMNS].concat()
}

/// The execution-control columns migration 4 added to the versioned ones.
pub(crate) const EXECUTION_CONTROL_COLUMNS: &[&str] = &["retry_backoff", "retry_delay", "child_jobs", "alert_url"];

/// The versioned columns before the execution-control columns were added
/// (what the version triggers cover between migrations 2 and 4).
pub(crate) const FIRST_VERSIONED_COLUMNS: &[&str] = &[
    "job_name",
    "func",
    "args",
    "trigger",
    "rule",
    "timezone",
    "start_at",
    "end_at",
    "next_run_time",
    "is_paused",
    "run_right_now",
    "misfire_grace_s",
    "misfire_policy",
    "overlap",
    "max_instances",
    "timeout_s",
    "max_retries",
];

/// When a version trigger gives a row `OLD.version + 1` (and `updated_at`
/// the current time). A write that moves `version` up itself, as the
/// schedulers' compare-and-set claims do (`SET version = v + 1 WHERE
/// version = v`), is never touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionBump {
    /// When the write changed a versioned column and kept `version` as it
    /// was (migrations 2 to 10). A hand edit that lowered `version` went
    /// through lowered, and the schedulers took it for a stale read.
    WhenKept,
    /// Also when the write lowered `version`, whatever else it changed
    /// (migration 11 on): a row's version never goes down, so every edit
    /// is news to the schedulers.
    Monotonic,
}

impl VersionBump {
    /// The trigger's condition in SQL, given `changed`, the test that a
    /// versioned column changed (`NEW` and `OLD` read the same on every
    /// backend).
    pub(crate) fn condition(self, changed: &str) -> String {
        match self {
            VersionBump::WhenKept => format!("NEW.version = OLD.version AND ({changed})"),
            VersionBump::Monotonic => {
                format!("NEW.version < OLD.version OR (NEW.version = OLD.version AND ({changed}))")
            }
        }
    }
}

/// `<a> OR <b> OR …` over `columns`, each test built by `changed`.
pub(crate) fn any_changed(columns: &[&str], changed: impl Fn(&str) -> String) -> String {
    columns.iter().map(|c| changed(c)).collect::<Vec<_>>().join(" OR ")
}

/// Drops the change-log triggers of backends with one trigger per operation
/// (MySQL and SQLite; PostgreSQL has one trigger for all three).
pub(crate) fn drop_per_operation_change_triggers() -> Vec<String> {
    ["insert", "update", "delete"]
        .iter()
        .map(|op| format!("DROP TRIGGER IF EXISTS ruqi_job_info_{op}_change"))
        .collect()
}

/// A timestamp column with microseconds on every backend.
pub(crate) fn timestamp(db: DatabaseBackend, col: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match db {
        DatabaseBackend::MySql => def.custom(mysql::TIMESTAMP_TYPE),
        _ => def.timestamp_with_time_zone(),
    };
    def
}

/// The current time as a column default, with microseconds.
pub(crate) fn now(db: DatabaseBackend) -> SimpleExpr {
    match db {
        DatabaseBackend::MySql => Expr::cust(mysql::NOW),
        DatabaseBackend::Sqlite => Expr::cust(sqlite::NOW),
        _ => Expr::current_timestamp(),
    }
}

/// The statements creating the version trigger of `db` over `columns`, as
/// migrations 2 to 10 have it ([`VersionBump::WhenKept`]; migration 11 makes
/// it monotonic and, on MySQL, converts session times).
pub(crate) fn create_version_trigger(db: DatabaseBackend, columns: &[&str]) -> Vec<String> {
    match db {
        DatabaseBackend::Postgres => postgres::create_version_trigger(columns, VersionBump::WhenKept),
        DatabaseBackend::MySql => mysql::create_version_trigger(columns),
        _ => sqlite::create_version_trigger(columns, VersionBump::WhenKept),
    }
}

/// Runs raw statements in order.
pub(crate) async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// A connection of the pool that takes a session-level lock (PostgreSQL's
/// advisory lock, MySQL's `GET_LOCK`). It goes back to the pool only once
/// [`released`](Self::released) says the lock was let go; dropped otherwise
/// (the lock was not taken, releasing it failed, or the migration future was
/// dropped midway) it is closed, and the server ends its session and every
/// lock the session held.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct LockConnection<DB: sea_orm_migration::sea_orm::sqlx::Database> {
    conn: sea_orm_migration::sea_orm::sqlx::pool::PoolConnection<DB>,
    released: bool,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: sea_orm_migration::sea_orm::sqlx::Database> LockConnection<DB> {
    /// Takes a connection of `pool` for the lock. A pool of one connection
    /// is refused: the migrations would wait for the lock's connection.
    pub(crate) async fn acquire(pool: &sea_orm_migration::sea_orm::sqlx::Pool<DB>) -> Result<Self, DbErr> {
        if pool.options().get_max_connections() < 2 {
            return Err(DbErr::Migration(
                "migrating needs a pool of at least two connections: one holds the migration lock \
                 while the others migrate"
                    .to_owned(),
            ));
        }
        let conn = pool.acquire().await.map_err(sqlx_error)?;
        Ok(Self { conn, released: false })
    }

    /// The connection, to take and release the lock on.
    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// The lock is let go: the connection may go back to the pool.
    pub(crate) fn released(&mut self) {
        self.released = true;
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: sea_orm_migration::sea_orm::sqlx::Database> Drop for LockConnection<DB> {
    fn drop(&mut self) {
        if !self.released {
            self.conn.close_on_drop();
        }
    }
}

/// An error of a statement run through sqlx directly, as sea-orm reports one.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn sqlx_error(error: sea_orm_migration::sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm_migration::sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(
        error,
    )))
}
