//! SQLite: an `AFTER UPDATE` trigger (SQLite triggers cannot assign to `NEW`)
//! that writes the bumped `version` with a second, non-recursive update, and
//! migration runs inside one write transaction, one process at a time.

use std::time::Duration;

use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{
    DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::{VersionBump, any_changed};

/// Runs the migrations inside one `BEGIN IMMEDIATE` transaction: it holds
/// the file's write lock from its start, so of several processes starting at
/// once on one file only one migrates; each other one gets the lock after
/// that commit, and its run, reading the committed schema, has nothing left
/// to do. SQLite changes its schema transactionally, so a run that fails
/// leaves nothing behind; and the run needs only the one connection an
/// in-memory database has.
pub(crate) async fn migrate_in_write_transaction(db: &DatabaseConnection, max_wait: Duration) -> Result<(), DbErr> {
    let transaction = begin_write(db, max_wait).await?;
    crate::Migrator::up(&transaction, None).await?;
    transaction.commit().await
}

/// Pause between two attempts at the write lock. Each attempt itself waits
/// up to the connection's `busy_timeout` (five seconds unless configured
/// otherwise); the pause matters only when that is shorter.
const WRITE_LOCK_RETRY: Duration = Duration::from_millis(100);

/// Begins the write transaction, retrying while another connection holds the
/// write lock, until `max_wait` has passed.
async fn begin_write(
    db: &DatabaseConnection,
    max_wait: Duration,
) -> Result<sea_orm_migration::sea_orm::DatabaseTransaction, DbErr> {
    let give_up = tokio::time::Instant::now() + max_wait;
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let mut told = false;
    loop {
        match db.begin_with_options(options).await {
            Ok(transaction) => return Ok(transaction),
            Err(error) if is_busy(&error) => {
                if tokio::time::Instant::now() >= give_up {
                    return Err(crate::migrate::lock_wait_timed_out("SQLite write lock", max_wait));
                }
                if !told {
                    told = true;
                    tracing::info!(
                        max_wait_s = max_wait.as_secs_f64(),
                        "another connection holds the database's write lock (another process migrating?); waiting for it"
                    );
                }
                let left = give_up.saturating_duration_since(tokio::time::Instant::now());
                tokio::time::sleep(WRITE_LOCK_RETRY.min(left)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether `error` is `SQLITE_BUSY` (primary result code 5, whatever the
/// extended code): another connection holds the lock.
#[cfg(feature = "sqlite")]
fn is_busy(error: &DbErr) -> bool {
    use sea_orm_migration::sea_orm::RuntimeErr::SqlxError;
    const SQLITE_BUSY: i32 = 5;
    match error {
        DbErr::Query(SqlxError(e)) | DbErr::Exec(SqlxError(e)) | DbErr::Conn(SqlxError(e)) => e
            .as_database_error()
            .and_then(|e| e.code())
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_BUSY),
        _ => false,
    }
}

/// Without sqlx's SQLite driver (a mock connection), nothing is ever busy.
#[cfg(not(feature = "sqlite"))]
fn is_busy(_: &DbErr) -> bool {
    false
}

/// The current time in the text form sqlx writes for a UTC timestamp.
/// SQLite compares timestamps as text, so what triggers and defaults write
/// must use the same form for `ORDER BY updated_at` to be right.
pub(crate) const NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))";

/// The trigger, bumping `version` as `bump` says (see [`VersionBump`]).
pub(crate) fn create_version_trigger(columns: &[&str], bump: VersionBump) -> Vec<String> {
    let changed = any_changed(columns, |c| format!("NEW.\"{c}\" IS NOT OLD.\"{c}\""));
    let condition = bump.condition(&changed);
    vec![
        "DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_version AFTER UPDATE ON job_info FOR EACH ROW
WHEN {condition}
BEGIN
    UPDATE job_info
       SET version = OLD.version + 1,
           updated_at = {NOW}
     WHERE job_id = NEW.job_id;
END"
        ),
    ]
}

pub(crate) fn drop_version_trigger() -> Vec<String> {
    vec!["DROP TRIGGER IF EXISTS ruqi_job_info_version".to_owned()]
}

/// Logs every schedule change of a `job_info` row to `job_change`. An update
/// that the version trigger (bumping as `bump` says) corrects is logged when
/// that trigger writes the bumped version (its inner `UPDATE` fires this
/// trigger), so the log holds the version the row ends with: with
/// [`VersionBump::WhenKept`] an update is logged when it moved `version`
/// itself, with [`VersionBump::Monotonic`] only when it raised it (a
/// lowered version is bumped past the old one at once).
pub(crate) fn create_change_triggers(bump: VersionBump) -> Vec<String> {
    let version_moved = match bump {
        VersionBump::WhenKept => "NEW.version IS NOT OLD.version",
        VersionBump::Monotonic => "NEW.version > OLD.version",
    };
    let mut statements = drop_change_triggers();
    statements.extend([
        "CREATE TRIGGER ruqi_job_info_insert_change AFTER INSERT ON job_info FOR EACH ROW
BEGIN
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
END"
        .to_owned(),
        format!(
            "CREATE TRIGGER ruqi_job_info_update_change AFTER UPDATE ON job_info FOR EACH ROW
WHEN {version_moved} OR NEW.job_id IS NOT OLD.job_id
BEGIN
    INSERT INTO job_change (job_id, version) SELECT OLD.job_id, NULL WHERE NEW.job_id IS NOT OLD.job_id;
    INSERT INTO job_change (job_id, version) VALUES (NEW.job_id, NEW.version);
END"
        ),
        "CREATE TRIGGER ruqi_job_info_delete_change AFTER DELETE ON job_info FOR EACH ROW
BEGIN
    INSERT INTO job_change (job_id, version) VALUES (OLD.job_id, NULL);
END"
        .to_owned(),
    ]);
    statements
}

pub(crate) fn drop_change_triggers() -> Vec<String> {
    super::drop_per_operation_change_triggers()
}
