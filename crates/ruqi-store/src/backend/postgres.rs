//! PostgreSQL: the clock, and the `LISTEN` side of the change feed (the
//! migrations' trigger sends a `NOTIFY` when `job_info` changes).

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseConnection, DbErr};

pub(super) const NOW: &str = "clock_timestamp()";

pub(super) fn time_ago(age: Duration) -> String {
    format!("(clock_timestamp() - make_interval(secs => {:.6}))", age.as_secs_f64())
}

/// One row per percent of `percents`, in their order: the nearest-rank
/// percentile of `column` (rank `ceil(percent × count / 100)`), all from one
/// sort. `percentile_disc(f)` answers rank `ceil(f × count)` in floating
/// point; `f` a trillionth under `percent / 100` keeps an exact product from
/// rounding up a rank, and moves no other rank below 10⁹ values.
pub(super) fn percentiles(column: &str, percents: &[u8]) -> String {
    let fractions: Vec<String> = percents
        .iter()
        .map(|percent| format!("{:.17}", f64::from(*percent) / 100.0 - 1e-12))
        .collect();
    format!(
        "unnest(percentile_disc(ARRAY[{}]::float8[]) WITHIN GROUP (ORDER BY {column}))",
        fractions.join(", ")
    )
}

/// A `bigint` sum (`SUM(bigint)` is `numeric`).
pub(super) fn sum_as_bigint(column: &str) -> String {
    format!("SUM({column})::bigint")
}

/// A dedicated connection listening on the change channel.
pub(crate) struct ChangeListener {
    listener: PgListener,
}

impl ChangeListener {
    /// Opens the connection and starts listening. Call it before reading the
    /// log's position, so no commit falls between the two unnoticed.
    pub(crate) async fn connect(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let mut listener = PgListener::connect_with(db.get_postgres_connection_pool())
            .await
            .map_err(sqlx_error)?;
        listener
            .listen(ruqi_migration::CHANGE_CHANNEL)
            .await
            .map_err(sqlx_error)?;
        Ok(Self { listener })
    }

    /// Returns when a change was committed, or when the connection dropped
    /// (notifications may have been lost: the log must be read either way).
    /// The listener reconnects, and listens again, on the next call.
    pub(crate) async fn changed(&mut self) -> Result<(), DbErr> {
        match self.listener.try_recv().await.map_err(sqlx_error)? {
            Some(_) => {}
            None => tracing::info!("change listener lost its connection; reconnecting"),
        }
        Ok(())
    }
}

fn sqlx_error(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Custom(format!("change listener: {error}"))
}

/// The key of the transaction-level advisory lock that serialises changes of
/// the `child_jobs` graph ("ruqichld"); `pg_locks` shows its holder as
/// `locktype = 'advisory'`, `classid = 1920299369`, `objid = 1667787876`.
pub(crate) const CHILD_GRAPH_LOCK_KEY: i64 = 0x7275_7169_6368_6c64;

/// Takes [`CHILD_GRAPH_LOCK_KEY`] until the transaction ends, waiting for
/// the transaction that holds it.
pub(crate) fn lock_child_graph_sql() -> String {
    format!("SELECT pg_advisory_xact_lock({CHILD_GRAPH_LOCK_KEY})")
}
