//! The benchmark's database: a SQLite file in a temporary directory (see
//! [`crate::backend`] for the servers), and `job_info` rows written in bulk
//! exactly as the scheduler itself leaves them.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, DurationRound, Utc};
use ruqi::entity::job_info;
use sea_orm::ActiveValue::Set;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, TransactionTrait};

/// How the benchmark's SQLite connection is set up, for the report.
pub(crate) const SQLITE_SETUP: &str = "a SQLite file in a temporary directory, `journal_mode=WAL`, \
    `synchronous=NORMAL` (set on every pooled connection), sea-orm's default SQLite pool (one connection), \
    statement logging off";

/// Rows per `INSERT`: 500 rows of 25 columns stay well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// The function idle jobs name; it never runs during a measurement.
pub(crate) const IDLE_FUNC: &str = "bench_idle";

/// Set this environment variable to keep the temporary databases for a look
/// at their `job_info` and `job_execution` rows after a run.
pub(crate) const KEEP_ENV: &str = "RUQI_BENCH_KEEP_DB";

/// A directory removed (with everything in it) when dropped, unless [`KEEP_ENV`] is set.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory under the system temporary directory.
    pub(crate) fn new(purpose: &str) -> Result<TempDir> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("ruqi-bench-{purpose}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("{KEEP_ENV} is set: keeping {}", self.path.display());
            return;
        }
        // Best effort: a leftover directory in /tmp is no reason to fail a benchmark.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Opens (creating it if needed) the SQLite file at `path`.
pub(crate) async fn connect(path: &Path) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|sqlite| {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    });
    Database::connect(options)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// Folds the write-ahead log into the database file and closes the
/// connection, so that the file alone can be copied.
pub(crate) async fn checkpoint_and_close(db: DatabaseConnection) -> Result<()> {
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    db.close().await?;
    Ok(())
}

/// Inserts `rows` in chunks of [`INSERT_CHUNK`] inside one transaction.
///
/// `insert_many` bypasses the `job_info` hooks, so the rows must already be
/// what the scheduler would have written: see [`interval_job`].
pub(crate) async fn insert_jobs(
    db: &DatabaseConnection,
    rows: impl IntoIterator<Item = job_info::ActiveModel>,
) -> Result<usize> {
    let txn = db.begin().await?;
    let mut rows = rows.into_iter().peekable();
    let mut written = 0;
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        written += chunk.len();
        job_info::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// A valid, scheduled `interval` row with every scheduler-relevant column
/// set: `version = 1` and `next_run_time` on the rule's grid (the interval
/// counts from `created_at`), so start-up schedules it without writing it back.
pub(crate) fn interval_job(
    job_id: String,
    func: &str,
    rule: &str,
    created_at: DateTime<Utc>,
    next_run_time: DateTime<Utc>,
) -> job_info::ActiveModel {
    scheduled_job(job_id, func, "interval", rule, created_at, next_run_time)
}

/// A valid, scheduled `cron` row (zone NULL: UTC) as the scheduler leaves
/// it; `next_run_time` must be the rule's first fire after now.
pub(crate) fn cron_job(
    job_id: String,
    func: &str,
    rule: &str,
    created_at: DateTime<Utc>,
    next_run_time: DateTime<Utc>,
) -> job_info::ActiveModel {
    scheduled_job(job_id, func, "cron", rule, created_at, next_run_time)
}

fn scheduled_job(
    job_id: String,
    func: &str,
    trigger: &str,
    rule: &str,
    created_at: DateTime<Utc>,
    next_run_time: DateTime<Utc>,
) -> job_info::ActiveModel {
    job_info::ActiveModel {
        job_id: Set(job_id),
        job_name: Set(Some("bench".to_owned())),
        description: Set(None),
        func: Set(func.to_owned()),
        args: Set(None),
        trigger: Set(trigger.to_owned()),
        rule: Set(rule.to_owned()),
        timezone: Set(None),
        start_at: Set(None),
        end_at: Set(None),
        next_run_time: Set(Some(next_run_time)),
        is_paused: Set(false),
        is_running: Set(false),
        run_right_now: Set(false),
        misfire_grace_s: Set(5),
        misfire_policy: Set("skip".to_owned()),
        overlap: Set("skip".to_owned()),
        max_instances: Set(1),
        timeout_s: Set(None),
        max_retries: Set(0),
        retry_backoff: Set("exponential".to_owned()),
        retry_delay: Set("10s".to_owned()),
        child_jobs: Set(None),
        alert_url: Set(None),
        version: Set(1),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        last_status: Set(None),
        last_error: Set(None),
        // As a writer that does not plan leaves it: `next_run_time` stands.
        schedule_hash: Set(None),
        claim_id: Set(None),
        claim_node: Set(None),
        claim_for: Set(None),
    }
}

/// `count` daily jobs that do not fire for at least an hour after `now`:
/// their creation instants are spread over the 23 hours before `now`, so
/// their deadlines are spread over the day after it.
pub(crate) fn idle_jobs(count: usize, now: DateTime<Utc>) -> impl Iterator<Item = job_info::ActiveModel> {
    let now = millis(now);
    let spread_ms = 23 * 3_600_000 / i64::try_from(count.max(1)).unwrap_or(i64::MAX);
    (0..count).map(move |i| {
        let created_at = now - Duration::milliseconds(spread_ms * i64::try_from(i).unwrap_or(0));
        interval_job(
            format!("idle-{i:06}"),
            IDLE_FUNC,
            "1d",
            created_at,
            created_at + Duration::days(1),
        )
    })
}

/// `count` jobs firing every second, their phases spread evenly across the
/// second (probe `i` fires at `i * 1000 / count` ms past each whole second).
///
/// Their first fire is within the second that began before `now`, so that
/// every probe fires in every second of a window starting a second or more
/// after `now` (the first fires, late by the time start-up took, run during
/// the warm-up).
pub(crate) fn probe_jobs(count: usize, func: &str, now: DateTime<Utc>) -> impl Iterator<Item = job_info::ActiveModel> {
    let second = now.duration_trunc(Duration::seconds(1)).unwrap_or(now) - Duration::seconds(1);
    let count_i64 = i64::try_from(count.max(1)).unwrap_or(i64::MAX);
    let func = func.to_owned();
    (0..count).map(move |i| {
        let phase = Duration::milliseconds(i64::try_from(i).unwrap_or(0) * 1000 / count_i64);
        let created_at = second + phase;
        interval_job(
            format!("probe-{i:04}"),
            &func,
            "1s",
            created_at,
            created_at + Duration::seconds(1),
        )
    })
}

/// `at` cut to the millisecond, as the scheduler keeps instants.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::milliseconds(1)).unwrap_or(at)
}

/// Copies the database file `from` to `to` (the write-ahead log must have
/// been checkpointed into it).
pub(crate) fn copy_database(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Removes a database file and its `-wal` and `-shm` companions.
pub(crate) fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
