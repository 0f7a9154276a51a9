//! SQL that differs per backend, one file each, chosen at run time from the
//! connection's backend: the database's clock, PostgreSQL's `LISTEN`, and
//! MySQL's session zone and table id.

pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sqlite;

use std::time::Duration;

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Expr, SimpleExpr};

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
