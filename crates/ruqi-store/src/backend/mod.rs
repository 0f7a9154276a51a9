//! SQL that differs per backend, one file each, chosen at run time from the
//! connection's backend: the database's clock, PostgreSQL's `LISTEN`,
//! MySQL's session zone and table id, and the arithmetic of execution statistics.

pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sqlite;

use std::time::Duration;

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// The database's current time, with at least millisecond precision: the one
/// clock every node agrees on, used for heartbeats.
pub(crate) fn db_now(backend: DatabaseBackend) -> SimpleExpr {
    Expr::cust(match backend {
        DatabaseBackend::Postgres => postgres::NOW,
        DatabaseBackend::MySql => mysql::NOW,
        _ => sqlite::NOW,
    })
}

/// The database's current time minus `age`.
pub(crate) fn db_time_ago(backend: DatabaseBackend, age: Duration) -> SimpleExpr {
    Expr::cust(match backend {
        DatabaseBackend::Postgres => postgres::time_ago(age),
        DatabaseBackend::MySql => mysql::time_ago(age),
        _ => sqlite::time_ago(age),
    })
}

/// On backends that have one, an expression giving one row per percent of
/// `percents`, in their order: the nearest-rank percentile of `column`'s
/// non-null values. `None` where ranks are read with `ROW_NUMBER()`.
pub(crate) fn percentiles(backend: DatabaseBackend, column: &str, percents: &[u8]) -> Option<String> {
    match backend {
        DatabaseBackend::Postgres => Some(postgres::percentiles(column, percents)),
        _ => None,
    }
}

/// The sum of an integer column as a 64-bit integer (PostgreSQL and MySQL
/// sum 64-bit integers into decimals).
pub(crate) fn sum_as_bigint(backend: DatabaseBackend, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => postgres::sum_as_bigint(column),
        DatabaseBackend::MySql => mysql::sum_as_bigint(column),
        _ => format!("SUM({column})"),
    }
}

/// Takes, for the rest of `db`'s transaction, the lock that serialises
/// changes of the `child_jobs` graph, so that a write checking the graph for
/// a cycle sees every link written before it: a transaction-level advisory
/// lock on PostgreSQL, a locked row on MySQL. SQLite needs none: a
/// transaction from [`begin_write`](crate::entity::job_info::begin_write)
/// holds the database's one write lock from its start. Outside a
/// transaction the lock ends with the statement.
pub(crate) async fn lock_child_graph<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        #[cfg(feature = "postgres")]
        DatabaseBackend::Postgres => postgres::lock_child_graph_sql(),
        DatabaseBackend::MySql => mysql::LOCK_CHILD_GRAPH.to_owned(),
        _ => return Ok(()),
    };
    let backend = db.get_database_backend();
    match db.query_one_raw(Statement::from_string(backend, sql)).await? {
        Some(_) => Ok(()),
        None => Err(DbErr::Custom(
            "the child_jobs lock's row in ruqi_migrations is missing; run ruqi::migrate".to_owned(),
        )),
    }
}
