//! The node registry's own connection.
//!
//! A node is taken for dead when its heartbeat is late, so the heartbeat must
//! never wait behind the node's own work. When thousands of fires come due
//! together, their claims and history rows queue for the connections of the
//! application's pool; a heartbeat queued behind them can be seconds late,
//! and the peers would then take a busy node for dead and run its fires a
//! second time. On PostgreSQL and MySQL the registry statements (heartbeat,
//! cancellation requests, reaping) therefore go through a small pool of their
//! own, opened with the same settings as the application's. On a SQLite file
//! the registry has one connection of its own: it still waits for the file's
//! write lock, but each holder keeps it only for one transaction, while the
//! application's pool can have seconds of work queued. An in-memory SQLite
//! database exists only inside its own pool, so it keeps that one (and a
//! database no other process can open has no peer to take it for dead).

use sea_orm::DatabaseConnection;

/// Connections in the registry's pool: a heartbeat and a reap may overlap.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const CONTROL_CONNECTIONS: u32 = 2;

/// The connection for the node registry: a pool of its own beside `db` on
/// PostgreSQL and MySQL (opened on first use), `db` itself otherwise.
pub(crate) fn control_connection(db: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::DatabaseBackend;
    match db.get_database_backend() {
        #[cfg(feature = "postgres")]
        DatabaseBackend::Postgres => {
            use sea_orm::sqlx::postgres::PgPoolOptions;
            let options = (*db.get_postgres_connection_pool().connect_options()).clone();
            let pool = PgPoolOptions::new()
                .max_connections(CONTROL_CONNECTIONS)
                .min_connections(0)
                .connect_lazy_with(options);
            sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
        }
        #[cfg(feature = "mysql")]
        DatabaseBackend::MySql => {
            use sea_orm::sqlx::mysql::MySqlPoolOptions;
            let options = (*db.get_mysql_connection_pool().connect_options()).clone();
            let pool = MySqlPoolOptions::new()
                .max_connections(CONTROL_CONNECTIONS)
                .min_connections(0)
                .connect_lazy_with(options);
            sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool)
        }
        #[cfg(feature = "sqlite")]
        DatabaseBackend::Sqlite => sqlite_connection_beside(db).unwrap_or_else(|| db.clone()),
        #[allow(unreachable_patterns)]
        _ => db.clone(),
    }
}

/// A pool of one connection of its own (opened on first use, with the same
/// settings) to the SQLite file `db` reaches, or `None` when `db` is a SQLite
/// database in memory, which exists only inside its own pool, or is not
/// SQLite at all.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_connection_beside(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    use sea_orm::sqlx::sqlite::SqlitePoolOptions;
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return None;
    }
    let options = (*db.get_sqlite_connection_pool().connect_options()).clone();
    if is_in_memory(&options) {
        return None;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .connect_lazy_with(options);
    Some(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Whether SQLite connections opened with `options` reach an in-memory database.
///
/// sqlx has a setter for that flag but no getter, and rebuilding a URL from
/// the options panics for some file names (its own `file:sqlx-in-memory-N`
/// among them), so the flag is read by comparing the options with a copy that
/// has it set; `:memory:` as a bare file name (set through the low-level API)
/// is in-memory to SQLite itself.
#[cfg(feature = "sqlite")]
fn is_in_memory(options: &sea_orm::sqlx::sqlite::SqliteConnectOptions) -> bool {
    options.get_filename().as_os_str() == ":memory:"
        || format!("{options:?}") == format!("{:?}", options.clone().in_memory(true))
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::is_in_memory;
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;

    fn in_memory(url: &str) -> bool {
        is_in_memory(&SqliteConnectOptions::from_str(url).expect("a valid SQLite URL"))
    }

    #[test]
    fn in_memory_databases_are_recognised_in_every_spelling() {
        assert!(in_memory("sqlite::memory:"));
        assert!(in_memory("sqlite://:memory:"));
        assert!(in_memory("sqlite://?mode=memory"));
        assert!(in_memory("sqlite:shared?mode=memory&cache=shared"));
        assert!(is_in_memory(&SqliteConnectOptions::new().filename(":memory:")));
    }

    #[test]
    fn files_are_not_in_memory_whatever_their_name() {
        assert!(!in_memory("sqlite://ruqi.db?mode=rwc"));
        assert!(!in_memory("sqlite:///tmp/a:b.db"));
        assert!(!in_memory("sqlite:file:memory.db"));
        assert!(!in_memory("sqlite://in_memory: true.db"));
    }
}
