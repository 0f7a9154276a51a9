//! MySQL / MariaDB: column types, the `BEFORE INSERT` and `BEFORE UPDATE`
//! triggers (version bumps, session times to UTC), and a named user lock
//! (`GET_LOCK`) that keeps migration runs one at a time.

use super::{VersionBump, any_changed};
#[cfg(feature = "mysql")]
use sea_orm_migration::sea_orm::{DatabaseConnection, DbErr, sqlx};

/// The MySQL/MariaDB user lock that [`migrate`](crate::migrate) holds for its
/// run is named this followed by the database's name (the first 64
/// characters of the whole: the longest name `GET_LOCK` takes), since user
/// locks are server-wide and runs on other databases need not wait for it.
/// `SELECT IS_USED_LOCK('ruqi_migrations.<database>')` gives the holder's
/// connection id.
pub const MYSQL_MIGRATION_LOCK_PREFIX: &str = "ruqi_migrations.";

/// Runs the migrations holding the user lock on a connection of `db`'s pool
/// of its own, and lets it go after, whether the run succeeded or not.
#[cfg(feature = "mysql")]
pub(crate) async fn migrate_holding_lock(db: &DatabaseConnection, max_wait: std::time::Duration) -> Result<(), DbErr> {
    use super::{LockConnection, sqlx_error};
    use sea_orm_migration::MigratorTrait;

    let mut lock = LockConnection::acquire(db.get_mysql_connection_pool()).await?;
    let name = sqlx::query_scalar::<_, String>("SELECT LEFT(CONCAT(?, COALESCE(DATABASE(), '')), 64)")
        .bind(MYSQL_MIGRATION_LOCK_PREFIX)
        .fetch_one(&mut *lock.conn())
        .await
        .map_err(sqlx_error)?;
    take_migration_lock(lock.conn(), &name, max_wait).await?;
    let migrated = crate::Migrator::up(db, None).await;
    let released = sqlx::query_scalar::<_, Option<i64>>("SELECT RELEASE_LOCK(?)")
        .bind(&name)
        .fetch_one(&mut *lock.conn())
        .await;
    match released {
        Ok(Some(1)) => lock.released(),
        // Dropping `lock` closes its connection, and the lock goes with it.
        Ok(_) => tracing::warn!(
            lock = name,
            "the migration lock was not held at the end of the run; closing its connection"
        ),
        Err(error) => {
            tracing::warn!(lock = name, %error, "releasing the migration lock failed; closing its connection");
        }
    }
    migrated
}

/// Takes the lock `name`, waiting at most `max_wait` (in whole seconds,
/// rounded up) for another run to end. `GET_LOCK` answers 1 when it got the
/// lock, 0 when the wait ran out, and NULL on an error (such as the
/// connection being killed).
#[cfg(feature = "mysql")]
async fn take_migration_lock(
    conn: &mut sqlx::MySqlConnection,
    name: &str,
    max_wait: std::time::Duration,
) -> Result<(), DbErr> {
    use super::sqlx_error;

    let get_lock = |timeout_s: u64| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, ?)")
            .bind(name)
            .bind(timeout_s)
    };
    let mut got = get_lock(0).fetch_one(&mut *conn).await.map_err(sqlx_error)?;
    if got == Some(0) {
        tracing::info!(
            lock = name,
            max_wait_s = max_wait.as_secs_f64(),
            "another process is migrating the database; waiting for it"
        );
        let timeout_s = max_wait.as_secs() + u64::from(max_wait.subsec_nanos() > 0);
        got = get_lock(timeout_s).fetch_one(&mut *conn).await.map_err(sqlx_error)?;
    }
    match got {
        Some(1) => Ok(()),
        Some(0) => Err(crate::migrate::lock_wait_timed_out(
            &format!("MySQL user lock '{name}'"),
            max_wait,
        )),
        _ => Err(DbErr::Migration(format!(
            "taking the migration lock (MySQL user lock '{name}') failed: GET_LOCK answered {got:?}"
        ))),
    }
}

/// Timestamps with microseconds (a plain `TIMESTAMP` keeps whole seconds and ends in 2038).
pub(crate) const TIMESTAMP_TYPE: &str = "DATETIME(6)";
/// The current time with microseconds.
pub(crate) const NOW: &str = "CURRENT_TIMESTAMP(6)";
/// Up to 16 MiB of text.
pub(crate) const LONG_TEXT_TYPE: &str = "MEDIUMTEXT";

/// The current time in UTC with microseconds, whatever the session's
/// `time_zone` (what `DATETIME(6)` columns hold).
pub(crate) const UTC_NOW: &str = "UTC_TIMESTAMP(6)";

/// The version trigger of migrations 2 to 10 ([`VersionBump::WhenKept`]).
/// Its `updated_at` is in the session's time zone.
pub(crate) fn create_version_trigger(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NOT (NEW.`{c}` <=> OLD.`{c}`)"));
    let condition = VersionBump::WhenKept.condition(&changed);
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info FOR EACH ROW
BEGIN
    IF {condition} THEN
        SET NEW.version = OLD.version + 1;
        SET NEW.updated_at = {NOW};
    END IF;
END"
        ),
    ]
}

/// `job_info`'s time columns. `DATETIME(6)` holds no zone: ruqi stores UTC
/// in them, and the session triggers bring what other sessions write there.
pub(crate) const JOB_INFO_TIME_COLUMNS: &[&str] = &["start_at", "end_at", "next_run_time", "created_at", "updated_at"];

/// The session's zone ruqi's own connections use (sqlx's MySQL driver sets
/// `time_zone = '+00:00'` on connect unless told otherwise). Sessions in it
/// skip the conversion altogether.
pub(crate) const UTC_SESSION_ZONE: &str = "+00:00";

/// `NEW.<column>`, written in the session's time zone, as UTC.
///
/// `CONVERT_TZ` knows every zone the session can be in (a named zone needs
/// the server's time-zone tables, without which the server refuses to set
/// it), daylight saving time included, but converts only instants within
/// the `TIMESTAMP` range (1970 to 2038) and gives anything outside back
/// as it was. Outside that range (with a day's margin) the session's
/// current offset is taken off instead: exact for a numeric zone such as
/// `+02:00`, and right for a named zone but for its daylight saving time.
/// `NOW(6)` and `UTC_TIMESTAMP(6)` are the same instant (the statement's
/// start), so their difference is that offset. NULL stays NULL.
fn session_time_to_utc(column: &str) -> String {
    format!(
        "COALESCE(\
IF(NEW.`{column}` > '1970-01-02' AND NEW.`{column}` < '2038-01-18', \
CONVERT_TZ(NEW.`{column}`, @@session.time_zone, '{UTC_SESSION_ZONE}'), NULL), \
NEW.`{column}` - INTERVAL TIMESTAMPDIFF(MICROSECOND, {UTC_NOW}, NOW(6)) MICROSECOND)"
    )
}

/// The triggers of migration 11 on `job_info`:
///
/// - `ruqi_job_info_session_times`, `BEFORE INSERT`: every time column
///   typed in a session whose `time_zone` is not UTC (`created_at` and
///   `updated_at` defaulted to `CURRENT_TIMESTAMP(6)` included) is brought
///   to UTC, so `NOW()` or `'2026-12-04 10:00:00'` mean the instant the
///   person meant.
/// - `ruqi_job_info_version`, `BEFORE UPDATE`: first the same for each time
///   column whose value the update changed (one written unchanged is
///   indistinguishable from one left alone, and stays), then the version
///   bump ([`VersionBump::Monotonic`]) with `updated_at` in UTC. One trigger
///   rather than two keeps each claim of a fire, an `UPDATE` of `job_info`,
///   at one trigger call per row, and orders the two steps: the bump
///   compares the converted times.
///
/// A UTC session (ruqi's own) runs neither conversion.
pub(crate) fn create_session_triggers(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NOT (NEW.`{c}` <=> OLD.`{c}`)"));
    let condition = VersionBump::Monotonic.condition(&changed);
    let on_insert: String = JOB_INFO_TIME_COLUMNS
        .iter()
        .map(|c| format!("\n        SET NEW.`{c}` = {};", session_time_to_utc(c)))
        .collect();
    let on_update: String = JOB_INFO_TIME_COLUMNS
        .iter()
        .map(|c| {
            format!(
                "\n        IF NOT (NEW.`{c}` <=> OLD.`{c}`) THEN SET NEW.`{c}` = {}; END IF;",
                session_time_to_utc(c)
            )
        })
        .collect();
    let mut statements = drop_session_triggers();
    statements.extend([
        format!(
            "CREATE TRIGGER ruqi_job_info_session_times BEFORE INSERT ON job_info FOR EACH ROW
BEGIN
    IF @@session.time_zone <> '{UTC_SESSION_ZONE}' THEN{on_insert}
    END IF;
END"
        ),
        format!(
            "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info FOR EACH ROW
BEGIN
    IF @@session.time_zone <> '{UTC_SESSION_ZONE}' THEN{on_update}
    END IF;
    IF {condition} THEN
        SET NEW.version = OLD.version + 1;
        SET NEW.updated_at = {UTC_NOW};
    END IF;
END"
        ),
    ]);
    statements
}

/// Drops the triggers of [`create_session_triggers`].
pub(crate) fn drop_session_triggers() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_session_times".to_owned(),
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec!["DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned()]
}

/// Logs every schedule change of a `job_info` row to `job_change` (after the
/// `BEFORE UPDATE` trigger above has bumped `version`), each stamped
/// `changed_at = <now>`: [`NOW`] (the column's default, in the session's
/// zone) from migration 3, [`UTC_NOW`] from migration 11.
pub(crate) fn create_change_triggers(now: &str) -> Vec<String> {
    let mut statements = drop_change_triggers();
    statements.extend([
        format!(
            "CREATE TRIGGER ruqi_job_info_insert_change AFTER INSERT ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version, changed_at) VALUES (NEW.job_id, NEW.version, {now})"
        ),
        format!(
            "CREATE TRIGGER ruqi_job_info_update_change AFTER UPDATE ON job_info FOR EACH ROW
BEGIN
    IF NOT (BINARY NEW.job_id <=> BINARY OLD.job_id) THEN
        INSERT INTO job_change (job_id, version, changed_at) VALUES (OLD.job_id, NULL, {now});
        INSERT INTO job_change (job_id, version, changed_at) VALUES (NEW.job_id, NEW.version, {now});
    ELSEIF NOT (NEW.version <=> OLD.version) THEN
        INSERT INTO job_change (job_id, version, changed_at) VALUES (NEW.job_id, NEW.version, {now});
    END IF;
END"
        ),
        format!(
            "CREATE TRIGGER ruqi_job_info_delete_change AFTER DELETE ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version, changed_at) VALUES (OLD.job_id, NULL, {now})"
        ),
    ]);
    statements
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    super::drop_per_operation_change_triggers()
}
