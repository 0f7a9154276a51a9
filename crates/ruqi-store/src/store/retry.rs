//! Which failed writes are worth making again, and how long to wait between
//! attempts.
//!
//! A write that failed because the connection broke, the database was
//! restarting or a lock wait was given up may have an outcome nobody knows
//! (the commit may have landed before the answer was lost); ruqi's history
//! writes are idempotent, so they are simply made again until they land. A
//! write the database refused for a reason of its own (a constraint, a
//! value it cannot store) would be refused again: it is tried a few times
//! only.

use std::time::Duration;

use sea_orm::{DbErr, RuntimeErr};

/// The first pause before a failed write is made again.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two attempts.
const LONGEST_PAUSE: Duration = Duration::from_secs(2);
/// How many times a write the database refused for good is tried.
pub(crate) const REFUSALS_LIMIT: u32 = 3;

/// The pause after `pause`: twice as long, at most [`LONGEST_PAUSE`].
pub(crate) fn next_pause(pause: Duration) -> Duration {
    (pause * 2).min(LONGEST_PAUSE)
}

/// Whether `error` may pass if the same write is made again: anything on
/// the way to the database (connection, pool, I/O, protocol), and the
/// database's own errors that say "not now" (shutting down or starting up,
/// too many connections, a deadlock, a lock or serialization conflict, a
/// busy SQLite file).
pub(crate) fn is_passing(error: &DbErr) -> bool {
    let runtime = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(error) = runtime else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(database) = &**error else {
        // I/O, TLS, protocol, pool timeouts and closed pools: the way to the database.
        return true;
    };
    database.code().is_some_and(|code| is_passing_code(&code))
}

/// Whether a write that failed with `error` may have committed all the
/// same: the error came on the way to or from the database (the connection
/// broke, the server went away), so the answer to a `COMMIT` that landed may
/// be what was lost. A refusal, a connection never acquired, and a conflict
/// the database resolved by rolling the transaction back (deadlock,
/// serialization failure, lock wait given up, busy SQLite file) did not
/// commit.
pub(crate) fn may_have_committed(error: &DbErr) -> bool {
    if !is_passing(error) || matches!(error, DbErr::ConnectionAcquire(_)) {
        return false;
    }
    const ROLLED_BACK: [&str; 7] = ["40001", "40P01", "55P03", "1205", "1213", "5", "6"];
    let code = match error {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            sea_orm::sqlx::Error::Database(database) => database.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    };
    !code.is_some_and(|code| ROLLED_BACK.contains(&code.as_str()))
}

/// The database error codes of [`is_passing`]: PostgreSQL SQLSTATEs, MySQL
/// error numbers, SQLite result codes.
fn is_passing_code(code: &str) -> bool {
    const POSTGRES_CLASSES: [&str; 2] = [
        "08", // connection exception
        "57", // operator intervention: shutting down, starting up
    ];
    const POSTGRES: [&str; 4] = [
        "40001", // serialization failure
        "40P01", // deadlock
        "55P03", // lock not available
        "53300", // too many connections
    ];
    const MYSQL: [&str; 7] = [
        "1040", // too many connections
        "1053", // server shutdown in progress
        "1205", // lock wait timeout
        "1213", // deadlock
        "1927", // connection was killed
        "2006", // server has gone away
        "2013", // lost connection during query
    ];
    const SQLITE: [&str; 2] = [
        "5", // SQLITE_BUSY
        "6", // SQLITE_LOCKED
    ];
    POSTGRES_CLASSES
        .iter()
        .any(|class| code.len() == 5 && code.starts_with(class))
        || POSTGRES.contains(&code)
        || MYSQL.contains(&code)
        || SQLITE.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_to_the_database_passes_and_refusals_do_not() {
        assert!(is_passing(&DbErr::Conn(RuntimeErr::Internal("reset".into()))));
        assert!(!is_passing(&DbErr::Custom("bad row".into())));
        assert!(!is_passing(&DbErr::Exec(RuntimeErr::Internal("no sqlx".into()))));
        assert!(is_passing_code("57P01"));
        assert!(is_passing_code("08006"));
        assert!(is_passing_code("1213"));
        assert!(is_passing_code("5"));
        assert!(!is_passing_code("23505"));
        assert!(!is_passing_code("1062"));
        assert!(!is_passing_code("57"));
    }

    #[test]
    fn a_broken_connection_may_have_committed_and_a_refusal_did_not() {
        assert!(may_have_committed(&DbErr::Conn(RuntimeErr::Internal("reset".into()))));
        assert!(!may_have_committed(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(!may_have_committed(&DbErr::Custom("bad row".into())));
        let io = sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(may_have_committed(&DbErr::Exec(RuntimeErr::SqlxError(io.into()))));
    }

    #[test]
    fn pauses_grow_to_a_limit() {
        let mut pause = FIRST_PAUSE;
        for _ in 0..10 {
            pause = next_pause(pause);
        }
        assert_eq!(pause, LONGEST_PAUSE);
    }
}
