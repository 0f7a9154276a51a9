//! PostgreSQL: the clock, and the `LISTEN` side of the change feed (the
//! migrations' trigger sends a `NOTIFY` when `job_info` changes).

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseConnection, DbErr};

pub(super) const NOW: &str = "clock_timestamp()";

pub(super) fn time_ago(age: Duration) -> String {
    format!("(clock_timestamp() - make_interval(secs => {:.6}))", age.as_secs_f64())
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
