//! The change feed: reads the `job_change` log that the migrations'
//! triggers append to for every schedule change of a `job_info` row, by any
//! writer. The work per change is one indexed range read of the log plus
//! reading back the rows that changed; the table's size does not matter.
//!
//! On PostgreSQL a `NOTIFY` at commit wakes the reader at once and the poll
//! is only a safety net for a dropped notification; on SQLite and MySQL the
//! poll is how changes are found.
//!
//! A `TRUNCATE` of `job_info` changes no row one by one. On PostgreSQL a
//! trigger logs it as one marker row
//! ([`is_truncation`](crate::entity::job_change::Model::is_truncation)); MySQL has
//! no such trigger, and the feed watches the table's InnoDB id instead
//! ([`TruncationWatch`]); SQLite has no `TRUNCATE`. Either way the
//! scheduler is asked to compare the whole table with memory.
//!
//! A `seq` is taken when a change is made but becomes visible at commit, so
//! a reader can see `seq` 7 before 6 (whose transaction is still open). A
//! skipped number is kept as a gap and looked for again until it appears or
//! the log's retention passes (its transaction rolled back). A reader that
//! starts (or starts over) at the newest change also keeps the missing
//! numbers just below it as gaps: a transaction that began before it may
//! still commit one of them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ruqi_core::{ChangeBatch, ChangeFeed, RowChange};

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::time::Instant;

use crate::backend::mysql::TruncationWatch;
use crate::entity::job_change::{Column, Entity};
use crate::store::store_error;

/// Log rows read per statement.
const READ_LIMIT: u64 = 1_000;
/// Gaps followed at once; beyond this the reader compares the whole table instead.
const MAX_GAPS: usize = 1_000;
/// Numbers below the newest change at start-up that are looked for as gaps
/// when absent: a transaction that began before the start may commit a
/// change numbered below it.
const GAPS_AT_OPEN: i64 = 256;
/// How often a reader prunes the log behind it.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How the change feed reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedConfig {
    /// How often the log is read: the poll on SQLite and MySQL, the safety
    /// poll behind `LISTEN` on PostgreSQL (default 1 s).
    pub poll_interval: Duration,
    /// How long log rows are kept (default 10 min). A reader cut off from the
    /// database for more than half of this compares the whole table once.
    pub retention: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            retention: Duration::from_secs(600),
        }
    }
}

/// A reader of the `job_change` log.
pub(crate) struct LogFeed {
    db: DatabaseConnection,
    config: FeedConfig,
    /// The highest `seq` read.
    cursor: i64,
    /// Numbers below `cursor` not seen yet, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
    /// Too many numbers were skipped to follow them one by one.
    lost_track: bool,
    /// Read again without waiting (the last read was full, or a wake-up came).
    read_now: bool,
    /// `job_info` was truncated: the next batch is a resync.
    truncated: bool,
    /// MySQL: `job_info`'s table id, which a `TRUNCATE` changes.
    truncation_watch: Option<TruncationWatch>,
    /// When the log was last read successfully.
    last_read: Instant,
    /// The cursor at past instants, to prune the log `retention` behind.
    marks: VecDeque<(Instant, i64)>,
    last_prune: Instant,
    #[cfg(feature = "postgres")]
    listener: Option<crate::backend::postgres::ChangeListener>,
}

impl LogFeed {
    /// Starts reading after the newest change now in the log. On MySQL,
    /// refuses a connection whose sessions are not in UTC, and notes
    /// `job_info`'s table id.
    pub(crate) async fn open(db: DatabaseConnection, config: FeedConfig) -> Result<Self, DbErr> {
        let truncation_watch = if db.get_database_backend() == sea_orm::DatabaseBackend::MySql {
            crate::backend::mysql::check_session_is_utc(&db).await?;
            Some(TruncationWatch::start(&db).await)
        } else {
            None
        };
        #[cfg(feature = "postgres")]
        let listener = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            Some(crate::backend::postgres::ChangeListener::connect(&db).await?)
        } else {
            None
        };
        // On a SQLite file in WAL mode the log is read through a connection
        // of its own: the application's pool has one connection, which the
        // group commit's writer keeps busy when many fires come due
        // together; a read of the log queued between its batches held every
        // batch up (`ruqi-bench throughput`, SQLite, 100,000 jobs:
        // 20,400–22,000 runs/s with the reads on the shared connection,
        // 25,000–27,200/s on their own). In WAL mode a reader and a writer do
        // not wait for each other; with a rollback journal a reader's lock
        // holds other connections' commits back, so the log is read through
        // the pool as before.
        #[cfg(feature = "sqlite")]
        let db = match crate::store::sqlite_connection_beside(&db) {
            Some(own) if in_wal_mode(&db).await? => own,
            _ => db,
        };
        let cursor = newest_seq(&db).await?;
        let now = Instant::now();
        let gaps = gaps_below(&db, cursor)
            .await?
            .into_iter()
            .map(|seq| (seq, now))
            .collect();
        Ok(Self {
            db,
            config,
            cursor,
            gaps,
            lost_track: false,
            read_now: false,
            truncated: false,
            truncation_watch,
            last_read: now,
            marks: VecDeque::from([(now, cursor)]),
            last_prune: now,
            #[cfg(feature = "postgres")]
            listener,
        })
    }

    /// Sleeps for the poll interval, or less when PostgreSQL signals a commit.
    async fn wait(&mut self) {
        let poll = tokio::time::sleep(self.config.poll_interval);
        tokio::pin!(poll);
        #[cfg(feature = "postgres")]
        if let Some(listener) = self.listener.as_mut() {
            tokio::select! {
                () = &mut poll => {}
                changed = listener.changed() => {
                    if let Err(error) = changed {
                        tracing::warn!(%error, "change listener failed; polling until it is back");
                        poll.await;
                    }
                }
            }
            return;
        }
        poll.await;
    }

    /// Reads the log after the cursor and the open gaps.
    async fn read(&mut self) -> Result<Vec<RowChange>, DbErr> {
        let mut rows = Entity::find()
            .filter(Column::Seq.gt(self.cursor))
            .order_by_asc(Column::Seq)
            .limit(READ_LIMIT)
            .all(&self.db)
            .await?;
        self.read_now = rows.len() as u64 == READ_LIMIT;
        if !self.gaps.is_empty() {
            let wanted: Vec<i64> = self.gaps.keys().copied().collect();
            let found = Entity::find().filter(Column::Seq.is_in(wanted)).all(&self.db).await?;
            for row in &found {
                self.gaps.remove(&row.seq);
            }
            rows.extend(found);
        }
        let now = Instant::now();
        let mut expected = self.cursor + 1;
        for row in rows.iter().filter(|r| r.seq > self.cursor) {
            if row.seq - expected > MAX_GAPS as i64 {
                self.lost_track = true;
            } else {
                for missing in expected..row.seq {
                    self.gaps.insert(missing, now);
                }
            }
            expected = row.seq + 1;
        }
        if self.gaps.len() > MAX_GAPS {
            self.lost_track = true;
        }
        self.cursor = self.cursor.max(expected - 1);
        let retention = self.config.retention;
        self.gaps
            .retain(|_, first_missed| now.duration_since(*first_missed) < retention);
        // One entry per job: the newest version wins; a deletion (None) means "read it".
        let mut latest: HashMap<String, (Option<i64>, DateTime<Utc>)> = HashMap::with_capacity(rows.len());
        for row in rows {
            if row.is_truncation() {
                self.truncated = true;
                continue;
            }
            latest
                .entry(row.job_id)
                .and_modify(|(v, at)| {
                    *v = v.zip(row.version).map(|(a, b)| a.max(b));
                    *at = (*at).min(row.changed_at);
                })
                .or_insert((row.version, row.changed_at));
        }
        Ok(latest
            .into_iter()
            .map(|(job_id, (version, changed_at))| RowChange {
                job_id,
                version,
                changed_at: Some(changed_at),
            })
            .collect())
    }

    /// Deletes log rows older than the retention, once a minute. Every reader
    /// does it; the statements are idempotent.
    async fn prune_if_due(&mut self) {
        let now = Instant::now();
        if self
            .marks
            .back()
            .is_none_or(|(at, _)| now.duration_since(*at) >= PRUNE_EVERY)
        {
            self.marks.push_back((now, self.cursor));
        }
        if now.duration_since(self.last_prune) < PRUNE_EVERY {
            return;
        }
        self.last_prune = now;
        let mut below = None;
        while let Some((at, seq)) = self.marks.front().copied() {
            if now.duration_since(at) < self.config.retention {
                break;
            }
            below = Some(seq);
            self.marks.pop_front();
        }
        // Never below an open gap: its row may still commit.
        let Some(below) = below.map(|b| self.gaps.keys().next().map_or(b, |g| b.min(*g))) else {
            return;
        };
        match Entity::delete_many().filter(Column::Seq.lt(below)).exec(&self.db).await {
            Ok(done) => tracing::debug!(rows = done.rows_affected, "pruned the change log"),
            Err(error) => tracing::warn!(%error, "pruning the change log failed"),
        }
    }
}

#[async_trait]
impl ChangeFeed for LogFeed {
    async fn next_batch(&mut self) -> ruqi_core::Result<ChangeBatch> {
        loop {
            if !self.read_now {
                self.wait().await;
            }
            let cut_off_for = self.last_read.elapsed();
            let changes = self.read().await.map_err(store_error)?;
            self.last_read = Instant::now();
            if let Some(watch) = self.truncation_watch.as_mut()
                && watch.truncated(&self.db).await
            {
                self.truncated = true;
            }
            let truncated = std::mem::take(&mut self.truncated);
            if cut_off_for > self.config.retention / 2 || self.lost_track {
                self.cursor = newest_seq(&self.db).await.map_err(store_error)?;
                let now = Instant::now();
                self.gaps = gaps_below(&self.db, self.cursor)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|seq| (seq, now))
                    .collect();
                self.lost_track = false;
                self.read_now = false;
                return Ok(if truncated {
                    ChangeBatch::Truncated
                } else {
                    ChangeBatch::Resync
                });
            }
            if truncated {
                // The log itself stays in step: what it lacks is the rows
                // the truncation took, and reading the table again finds them.
                tracing::info!("job_info was truncated; reading the whole table again");
                return Ok(ChangeBatch::Truncated);
            }
            self.prune_if_due().await;
            if !changes.is_empty() {
                return Ok(ChangeBatch::Rows(changes));
            }
        }
    }
}

/// Whether the SQLite database `db` reaches is in WAL mode.
#[cfg(feature = "sqlite")]
async fn in_wal_mode(db: &DatabaseConnection) -> Result<bool, DbErr> {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await?;
    let mode: Option<String> = row.map(|row| row.try_get_by_index(0)).transpose()?;
    Ok(mode.is_some_and(|mode| mode.eq_ignore_ascii_case("wal")))
}

/// The numbers among the [`GAPS_AT_OPEN`] just below `newest` that the log
/// does not hold (yet): the changes of transactions still open, or rolled
/// back, or pruned. Each is looked for like any gap, until it appears or
/// the retention passes.
async fn gaps_below(db: &DatabaseConnection, newest: i64) -> Result<Vec<i64>, DbErr> {
    let lowest = (newest - GAPS_AT_OPEN).max(0) + 1;
    let present: std::collections::HashSet<i64> = Entity::find()
        .select_only()
        .column(Column::Seq)
        .filter(Column::Seq.between(lowest, newest))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok((lowest..newest).filter(|seq| !present.contains(seq)).collect())
}

/// The newest `seq` in the log, or 0 when it is empty.
pub(crate) async fn newest_seq(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let newest: Option<Option<i64>> = Entity::find()
        .select_only()
        .column_as(Column::Seq.max(), "newest")
        .into_tuple()
        .one(db)
        .await?;
    Ok(newest.flatten().unwrap_or(0))
}
