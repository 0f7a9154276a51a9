//! MySQL / MariaDB: column types, a `BEFORE UPDATE` trigger, and a named
//! user lock (`GET_LOCK`) that keeps migration runs one at a time.

use super::any_changed;
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

pub(crate) fn create_version_trigger(columns: &[&str]) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NOT (NEW.`{c}` <=> OLD.`{c}`)"));
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info FOR EACH ROW
BEGIN
    IF NEW.version = OLD.version AND ({changed}) THEN
        SET NEW.version = OLD.version + 1;
        SET NEW.updated_at = {NOW};
    END IF;
END"
        ),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec!["DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned()]
}

/// Logs every schedule change of a `job_info` row to `job_change` (after the
/// `BEFORE UPDATE` trigger above has bumped `version`).
pub(crate) fn create_change_triggers() -> Vec<String> {
    let mut statements = drop_change_triggers();
    statements.extend([
        "CREATE TRIGGER ruqi_job_info_insert_change AFTER INSERT ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version)"
            .to_owned(),
        "CREATE TRIGGER ruqi_job_info_update_change AFTER UPDATE ON job_info FOR EACH ROW
BEGIN
    IF NOT (BINARY NEW.job_id <=> BINARY OLD.job_id) THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSEIF NOT (NEW.version <=> OLD.version) THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    END IF;
END"
        .to_owned(),
        "CREATE TRIGGER ruqi_job_info_delete_change AFTER DELETE ON job_info FOR EACH ROW
    INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL)"
            .to_owned(),
    ]);
    statements
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    super::drop_per_operation_change_triggers()
}
