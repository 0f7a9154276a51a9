//! PostgreSQL: a `BEFORE UPDATE` trigger function bumps `version`, and a
//! session advisory lock keeps migration runs one at a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;
#[cfg(feature = "postgres")]
use sea_orm_migration::sea_orm::{DatabaseConnection, sqlx};

use super::{VersionBump, any_changed};

/// The key of the PostgreSQL advisory lock that [`migrate`](crate::migrate)
/// holds for its run: `"ruqimigr"` in ASCII. Advisory locks belong to one
/// database, so runs on other databases of the server do not wait for it.
/// `pg_locks` shows the holder as `locktype = 'advisory'`, `classid = 1920299369`
/// (the key's upper 32 bits), `objid = 1835624306` (its lower 32 bits) and
/// `objsubid = 1`.
pub const POSTGRES_MIGRATION_LOCK_KEY: i64 = 0x7275_7169_6d69_6772;

/// Runs the migrations holding the advisory lock on a connection of `db`'s
/// pool of its own, and lets it go after, whether the run succeeded or not.
#[cfg(feature = "postgres")]
pub(crate) async fn migrate_holding_lock(db: &DatabaseConnection, max_wait: std::time::Duration) -> Result<(), DbErr> {
    use super::LockConnection;
    use sea_orm_migration::MigratorTrait;

    let mut lock = LockConnection::acquire(db.get_postgres_connection_pool()).await?;
    take_migration_lock(lock.conn(), max_wait).await?;
    let migrated = crate::Migrator::up(db, None).await;
    let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
        .bind(POSTGRES_MIGRATION_LOCK_KEY)
        .fetch_one(&mut *lock.conn())
        .await;
    match unlocked {
        Ok(true) => lock.released(),
        // Dropping `lock` closes its connection, and the lock goes with it.
        Ok(false) => tracing::warn!("the migration lock was not held at the end of the run; closing its connection"),
        Err(error) => tracing::warn!(%error, "releasing the migration lock failed; closing its connection"),
    }
    migrated
}

/// Takes the advisory lock, waiting at most `max_wait` for another run to
/// end. The wait is PostgreSQL's own `lock_timeout`, set for one transaction
/// (`set_config(…, true)`) so the pooled connection keeps its settings; the
/// session lock outlives that transaction.
#[cfg(feature = "postgres")]
async fn take_migration_lock(conn: &mut sqlx::PgConnection, max_wait: std::time::Duration) -> Result<(), DbErr> {
    use super::sqlx_error;
    use sqlx::Connection;

    let free = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(POSTGRES_MIGRATION_LOCK_KEY)
        .fetch_one(&mut *conn)
        .await
        .map_err(sqlx_error)?;
    if free {
        return Ok(());
    }
    tracing::info!(
        key = POSTGRES_MIGRATION_LOCK_KEY,
        max_wait_s = max_wait.as_secs_f64(),
        "another process is migrating the database; waiting for it"
    );
    let mut transaction = conn.begin().await.map_err(sqlx_error)?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{}ms", max_wait.as_millis().max(1)))
        .execute(&mut *transaction)
        .await
        .map_err(sqlx_error)?;
    let locked = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(POSTGRES_MIGRATION_LOCK_KEY)
        .execute(&mut *transaction)
        .await;
    match locked {
        Ok(_) => transaction.commit().await.map_err(sqlx_error),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
            Err(crate::migrate::lock_wait_timed_out(
                &format!("PostgreSQL advisory lock {POSTGRES_MIGRATION_LOCK_KEY}"),
                max_wait,
            ))
        }
        Err(error) => Err(sqlx_error(error)),
    }
}

/// SQLSTATE `lock_not_available`: `lock_timeout` ran out.
#[cfg(feature = "postgres")]
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Runs `statements` (see [`super::run`]) when the database is PostgreSQL;
/// on the other backends the migration has nothing to do.
pub(crate) async fn run_if_postgres(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    super::run(manager, statements).await
}

/// The function, and a trigger that calls it only `WHEN` the row needs a
/// bump (see [`VersionBump`]): a write that moves `version` up itself (a
/// claim) or touches only bookkeeping columns (a run's outcome) calls no
/// function at all, which is most of the writes on `job_info`.
pub(crate) fn create_version_trigger(columns: &[&str], bump: VersionBump) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NEW.\"{c}\" IS DISTINCT FROM OLD.\"{c}\""));
    let condition = bump.condition(&changed);
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION ruqi_job_info_bump_version() RETURNS trigger AS $$
BEGIN
    IF {condition} THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql"
        ),
        "DROP TRIGGER IF EXISTS ruqi_job_info_version ON job_info".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version BEFORE UPDATE ON job_info \
             FOR EACH ROW WHEN ({condition}) \
             EXECUTE FUNCTION ruqi_job_info_bump_version()"
        ),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version ON job_info".to_owned(),
        "DROP FUNCTION IF EXISTS ruqi_job_info_bump_version()".to_owned(),
    ]
}

/// Logs every schedule change of a `job_info` row to `job_change` and wakes
/// the listening schedulers. The notification carries no payload, so
/// PostgreSQL folds a bulk change into one notification per transaction;
/// the readers take the rows from the log.
pub(crate) fn create_change_triggers() -> Vec<String> {
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION ruqi_job_info_log_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSIF NEW.job_id IS DISTINCT FROM OLD.job_id THEN
        INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSIF NEW.version IS DISTINCT FROM OLD.version THEN
        INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('{channel}', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql",
            channel = crate::CHANGE_CHANNEL
        ),
        "DROP TRIGGER IF EXISTS ruqi_job_info_change ON job_info".to_owned(),
        "CREATE TRIGGER ruqi_job_info_change AFTER INSERT OR UPDATE OR DELETE ON job_info \
         FOR EACH ROW EXECUTE FUNCTION ruqi_job_info_log_change()"
            .to_owned(),
    ]
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_change ON job_info".to_owned(),
        "DROP FUNCTION IF EXISTS ruqi_job_info_log_change()".to_owned(),
    ]
}

/// What each statement-level trigger of [`create_statement_change_triggers`]
/// logs: `INSERT` and `DELETE` log every row, `UPDATE` the rows whose key or
/// version moved (a renamed key logs its old name as deleted).
const STATEMENT_CHANGES: [(&str, &str, &str); 3] = [
    (
        "insert",
        "NEW TABLE AS new_rows",
        "SELECT n.job_id, n.version FROM new_rows n",
    ),
    (
        "delete",
        "OLD TABLE AS old_rows",
        "SELECT o.job_id, NULL::bigint FROM old_rows o",
    ),
    (
        "update",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT o.job_id, NULL::bigint FROM old_rows o \
         WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.job_id = o.job_id) \
         UNION ALL \
         SELECT n.job_id, n.version FROM new_rows n \
         WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.job_id = n.job_id AND o.version = n.version)",
    ),
];

/// The change log written once per statement instead of once per row: each
/// operation's trigger sees the statement's rows as a transition table and
/// logs them with one `INSERT … SELECT`, and notifies only when it logged
/// something. A batch of 2,000 claims then costs one statement in the
/// trigger, not 2,000 calls of a PL/pgSQL function; a run's outcome, which
/// moves no version, logs nothing.
///
/// The `INSERT` is run with `EXECUTE`, so it is planned for each statement
/// with that statement's row count. A plan cached from a one-row update
/// would join the old and new rows by nested loop, and a batch of 2,000
/// would then take a second instead of a few milliseconds.
pub(crate) fn create_statement_change_triggers() -> Vec<String> {
    let mut statements = drop_change_triggers();
    for ((op, tables, _), function) in STATEMENT_CHANGES
        .iter()
        .zip(statement_change_functions(Notify::UnlessSkipped))
    {
        statements.push(function);
        statements.push(format!(
            "CREATE TRIGGER ruqi_job_info_{op}_changes AFTER {} ON job_info \
             REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION ruqi_job_info_log_{op}s()",
            op.to_uppercase()
        ));
    }
    statements
}

/// The functions of the statement-level change triggers
/// (`CREATE OR REPLACE`). Whether the `INSERT` logged anything is read with
/// `GET DIAGNOSTICS`: `EXECUTE` leaves `FOUND` as it was.
///
/// With `notify` [`Notify::UnlessSkipped`], a transaction that has set
/// [`SKIP_NOTIFY_SETTING`](crate::SKIP_NOTIFY_SETTING) to `on` logs its
/// changes without a `NOTIFY`; the schedulers read them at their next poll
/// of the log. A transaction that notifies takes a lock on the notification
/// queue, held until its commit record is on disk, so notifying commits run
/// one at a time across the whole server; batches of the schedulers' own
/// claims skip it.
pub(crate) fn statement_change_functions(notify: Notify) -> Vec<String> {
    let condition = match notify {
        Notify::Always => "logged > 0".to_owned(),
        Notify::UnlessSkipped => format!(
            "logged > 0 AND current_setting('{}', true) IS DISTINCT FROM 'on'",
            crate::SKIP_NOTIFY_SETTING
        ),
    };
    STATEMENT_CHANGES
        .iter()
        .map(|(op, _, rows)| {
            format!(
                "CREATE OR REPLACE FUNCTION ruqi_job_info_log_{op}s() RETURNS trigger AS $$
DECLARE
    logged bigint;
BEGIN
    EXECUTE 'INSERT INTO job_change (job_id, version) {rows}';
    GET DIAGNOSTICS logged = ROW_COUNT;
    IF {condition} THEN
        PERFORM pg_notify('{channel}', '');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql",
                channel = crate::CHANGE_CHANNEL
            )
        })
        .collect()
}

/// When the change log's statement triggers send a `NOTIFY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Whenever the statement logged a change (migrations 5 and 7).
    Always,
    /// Whenever it logged a change, unless the transaction asked not to
    /// (migration 8 on).
    UnlessSkipped,
}

/// Drops the statement-level change triggers and their functions.
pub(crate) fn drop_statement_change_triggers() -> Vec<String> {
    STATEMENT_CHANGES
        .iter()
        .flat_map(|(op, _, _)| {
            [
                format!("DROP TRIGGER IF EXISTS ruqi_job_info_{op}_changes ON job_info"),
                format!("DROP FUNCTION IF EXISTS ruqi_job_info_log_{op}s()"),
            ]
        })
        .collect()
}

/// Logs a `TRUNCATE` of `job_info`, which fires no row trigger, as one
/// marker row in `job_change` ([`TRUNCATED_JOB_ID`](crate::TRUNCATED_JOB_ID),
/// [`TRUNCATED_VERSION`](crate::TRUNCATED_VERSION)) and notifies as the other
/// change triggers do; a scheduler that reads the marker compares the whole
/// table with memory and drops the jobs whose rows are gone.
pub(crate) fn create_truncate_trigger() -> Vec<String> {
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION ruqi_job_info_log_truncate() RETURNS trigger AS $$
BEGIN
    INSERT INTO job_change (job_id, version) VALUES ('{job_id}', {version});
    IF current_setting('{skip}', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('{channel}', '');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql",
            job_id = crate::TRUNCATED_JOB_ID,
            version = crate::TRUNCATED_VERSION,
            skip = crate::SKIP_NOTIFY_SETTING,
            channel = crate::CHANGE_CHANNEL,
        ),
        "DROP TRIGGER IF EXISTS ruqi_job_info_truncate_changes ON job_info".to_owned(),
        "CREATE TRIGGER ruqi_job_info_truncate_changes AFTER TRUNCATE ON job_info \
         FOR EACH STATEMENT EXECUTE FUNCTION ruqi_job_info_log_truncate()"
            .to_owned(),
    ]
}

/// Drops the `TRUNCATE` trigger and its function.
pub(crate) fn drop_truncate_trigger() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_truncate_changes ON job_info".to_owned(),
        "DROP FUNCTION IF EXISTS ruqi_job_info_log_truncate()".to_owned(),
    ]
}

/// Room left free in each `job_info` page, so that the new version of a row
/// an update writes fits beside the old one. A write that changes no indexed
/// column (a run's outcome) is then a heap-only update: no index entry is
/// written for it.
pub(crate) const JOB_INFO_FILLFACTOR: u8 = 80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_rows_fit_in_a_quoted_literal() {
        // Each query is written inside '…' in its function's body.
        for (_, _, rows) in STATEMENT_CHANGES {
            assert!(!rows.contains('\''), "{rows}");
        }
    }
}
