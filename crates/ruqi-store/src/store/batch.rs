//! Group commit: the claims, run starts and run ends that arrive while the
//! previous batch is being written are written together, one statement per
//! kind, instead of one statement and one commit each.
//!
//! When thousands of fires come due at once, a statement per write would
//! queue them for the pool's connections and commit each on its own; the
//! database would spend its time on commits, and every write would wait
//! behind all the others. Here one writer task takes whatever has arrived
//! (at most [`BATCH_LIMIT`] claims and ends), writes it, answers each caller, and
//! takes the next lot. With one write at a time in flight, a batch is a
//! single operation and costs what it did before; under load, batches grow
//! by themselves. On PostgreSQL and MySQL two writers take turns at the
//! queue, so one batch runs in the server while the next is gathered and
//! encoded. A run's claim and start are each awaited before the next write
//! of the run is made.
//!
//! A run's start is answered as soon as it is queued, and the store keeps
//! the order of that run's writes itself: an end that finds its start still
//! queued takes it along and writes the whole run as one row (a short run
//! then costs one `INSERT` instead of an `INSERT` and an `UPDATE`), and an
//! end whose start a writer is writing waits for that write. So the writers
//! never reorder the writes of one run; the rows
//! that both writers reach for at once are handled as rows another
//! transaction holds (see `claim::Locking`). A batch statement that fails
//! is retried operation by operation, so one bad row fails only its own
//! caller. A start that could not be written is queued again (after a pause
//! that grows, when the database was out of reach), or goes with its end if
//! that comes first. A scheduled fire's claim names its run on the job's
//! row meanwhile (see `claim::Claim`), so its start may wait in the queue
//! like any other.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ruqi_core::{ExecutionEnd, ExecutionStart, JobStateChange, MissedFire};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot, watch};

use super::claim::{self, Claim, Locking};
use super::{history, retry, writers};

/// Most claims and ends written in one batch. Run starts come along besides,
/// up to as many again: most of them write nothing of their own, their end
/// having taken them along (see [`GroupCommit::start`]), and counted as
/// writes they had kept each batch to about two thirds of its claims and
/// ends when many fires come due together. Measured with `ruqi-bench
/// throughput` at 100,000 jobs over TCP, 2 alternating pairs: PostgreSQL
/// 22,459 and 23,138 runs/s with starts counted, 25,296 and 25,840/s not;
/// SQLite and MariaDB within the noise (33,659–34,805/s and 34,024–37,109/s;
/// 14,151–14,699/s and 14,641–15,469/s).
pub(crate) const BATCH_LIMIT: usize = 2_000;

/// Where the answer to one operation goes.
type Reply<T> = oneshot::Sender<Result<T, DbErr>>;

/// A write waiting for the writer, with where its answer goes.
enum Op {
    Claim {
        job_id: String,
        expected_version: i64,
        change: JobStateChange,
        /// The run it claims, which the claim names in the row's claim
        /// columns (its own row is written by [`GroupCommit::start`]).
        start: Option<Box<ExecutionStart>>,
        /// Rows of instants that will not run, written with the claim too.
        missed: Vec<MissedFire>,
        reply: Reply<bool>,
    },
    /// The run's start waits in [`Starts`] under this execution id.
    Start { id: String },
    End {
        end: ExecutionEnd,
        /// The run's start, when it was never written: the whole run is one new row.
        start: Option<Arc<ExecutionStart>>,
        still_running: bool,
        reply: Reply<()>,
    },
}

/// The starts that are queued or being written, by execution id.
#[derive(Debug, Default)]
struct Starts(Mutex<HashMap<String, StartState>>);

#[derive(Debug)]
enum StartState {
    /// No writer has taken it yet: its end may still take it along. Also a
    /// start whose write failed: it is queued again after `pause`.
    Queued {
        start: Arc<ExecutionStart>,
        pause: Duration,
    },
    /// A writer is writing it; the receiver sees the writer's sender
    /// dropped once the write is over.
    Writing(watch::Receiver<()>),
}

impl Starts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StartState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The way to the writer tasks of one store; they are started on first use
/// (on the writers' own runtime, see [`writers::runtime`]) and again if
/// they have gone.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    sender: Mutex<Option<mpsc::UnboundedSender<Op>>>,
    counts: Arc<Counts>,
    starts: Arc<Starts>,
}

/// How many batches the writer wrote, and how many operations they held.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    operations: AtomicU64,
    split: AtomicU64,
    whole_runs: AtomicU64,
}

/// What a store's group commit has written so far: see [`SeaOrmStore::group_commit_stats`](super::SeaOrmStore::group_commit_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCommitStats {
    /// Batches written.
    pub batches: u64,
    /// Claims, run starts and run ends in them.
    pub operations: u64,
    /// Batch statements that failed and were written again one operation
    /// at a time (a bad row, a deadlock between nodes).
    pub split: u64,
    /// Runs whose end came while their start was still queued, written as
    /// one finished row.
    pub whole_runs: u64,
}

impl GroupCommit {
    /// The counts so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counts.batches.load(Ordering::Relaxed),
            operations: self.counts.operations.load(Ordering::Relaxed),
            split: self.counts.split.load(Ordering::Relaxed),
            whole_runs: self.counts.whole_runs.load(Ordering::Relaxed),
        }
    }

    /// A compare-and-set on `job_info` (see [`claim::compare_and_set`]),
    /// with the rows of the fire it claims when it wins (see [`claim::claim_alone`]).
    pub(crate) async fn claim(
        &self,
        db: &DatabaseConnection,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
        start: Option<&ExecutionStart>,
        missed: &[MissedFire],
    ) -> Result<bool, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.send(
            db,
            Op::Claim {
                job_id: job_id.to_owned(),
                expected_version,
                change: change.clone(),
                start: start.map(|s| Box::new(s.clone())),
                missed: missed.to_vec(),
                reply,
            },
        );
        answer.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Queues a run's `running` row (see [`history::record_starts`]) and
    /// returns at once: the row is written by the next writer to get to it,
    /// or together with the run's end if that comes first. A start that
    /// cannot be written is queued again; the run's end is still written
    /// after it.
    pub(crate) fn start(&self, db: &DatabaseConnection, start: &ExecutionStart) {
        let id = start.id.clone();
        self.starts.lock().insert(
            id.clone(),
            StartState::Queued {
                start: Arc::new(start.clone()),
                pause: retry::FIRST_PAUSE,
            },
        );
        self.send(db, Op::Start { id });
    }

    /// Writes a run's end (see [`history::record_ends`]) after its start:
    /// with it, when the start is still queued; once it is written, when a
    /// writer has it in hand.
    ///
    /// The write is idempotent (see [`history::record_ends`]), so one that
    /// failed for a passing reason — the connection broke, the database is
    /// restarting — is made again, with a growing pause, until it lands: a
    /// run never stays `running` because its end met a database restart.
    /// One the database refused for good is given up after a few tries.
    pub(crate) async fn end(
        &self,
        db: &DatabaseConnection,
        end: &ExecutionEnd,
        still_running: bool,
    ) -> Result<(), DbErr> {
        let start = loop {
            let taken = self.starts.lock().remove(&end.id);
            match taken {
                Some(StartState::Queued { start, .. }) => break Some(start),
                Some(StartState::Writing(mut written)) => {
                    // The writer removes the entry itself once it is done (or
                    // queues the start again if its write failed); until then
                    // this end must not overtake the row it updates.
                    let _ = written.changed().await;
                }
                None => break None,
            }
        };
        let mut pause = retry::FIRST_PAUSE;
        let mut refusals = 0;
        loop {
            let (reply, answer) = oneshot::channel();
            self.send(
                db,
                Op::End {
                    end: end.clone(),
                    start: start.clone(),
                    still_running,
                    reply,
                },
            );
            let error = match answer.await.unwrap_or_else(|_| Err(writer_gone())) {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if !retry::is_passing(&error) {
                refusals += 1;
                if refusals >= retry::REFUSALS_LIMIT {
                    return Err(error);
                }
            }
            tracing::warn!(
                job_id = %end.job_id,
                execution_id = %end.id,
                %error,
                retry_in_ms = pause.as_millis() as u64,
                "writing the end of a run failed; writing it again"
            );
            tokio::time::sleep(pause).await;
            pause = retry::next_pause(pause);
        }
    }

    fn send(&self, db: &DatabaseConnection, op: Op) {
        let mut sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let op = match sender.as_ref() {
            Some(open) => match open.send(op) {
                Ok(()) => return,
                Err(mpsc::error::SendError(op)) => op,
            },
            None => op,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..writer_count(db) {
            let writer = Writer {
                db: db.clone(),
                counts: self.counts.clone(),
                starts: self.starts.clone(),
                // Weak, so that the writers end once the store is dropped.
                again: tx.downgrade(),
            };
            writers::spawn(write_batches(writer, queue.clone()));
        }
        // The receiver is alive: it was made just now.
        let _ = tx.send(op);
        *sender = Some(tx);
    }
}

/// `error` again, for each caller of a batch that failed with it (an error
/// on the way to the database, which is what [`retry::may_have_committed`] lets through).
fn copy_error(error: &DbErr) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(error.to_string()))
}

fn writer_gone() -> DbErr {
    DbErr::Custom("the store's writer stopped before answering".to_owned())
}

/// How many writers write batches at once: one on SQLite, which has one
/// writer at a time anyway; on a server, [`SERVER_WRITERS`], so that one
/// batch is gathered and answered while another runs in the database, and
/// the server runs them on as many cores.
fn writer_count(db: &DatabaseConnection) -> usize {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        return 1;
    }
    SERVER_WRITERS
}

/// Writers on PostgreSQL and MySQL. Measured back to back with `ruqi-bench
/// throughput` at 100,000 jobs on PostgreSQL: one writer 7,857 runs/s, two
/// 11,765/s, three 11,090/s (the server and the scheduler share two cores).
const SERVER_WRITERS: usize = 2;

/// What a writer task writes with.
struct Writer {
    db: DatabaseConnection,
    counts: Arc<Counts>,
    starts: Arc<Starts>,
    /// The queue's way in, for starts whose write failed.
    again: mpsc::WeakUnboundedSender<Op>,
}

/// A writer: takes what has arrived (while the other writers wait their
/// turn at the queue), writes it, answers, repeats; ends when the store is
/// dropped.
async fn write_batches(writer: Writer, queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Op>>>) {
    loop {
        let ops = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let counted = |op: &Op| usize::from(!matches!(op, Op::Start { .. }));
            let mut writes = counted(&first);
            let mut ops = vec![first];
            while writes < BATCH_LIMIT && ops.len() < 2 * BATCH_LIMIT {
                match queue.try_recv() {
                    Ok(op) => {
                        writes += counted(&op);
                        ops.push(op);
                    }
                    Err(_) => break,
                }
            }
            ops
        };
        writer.counts.batches.fetch_add(1, Ordering::Relaxed);
        writer.counts.operations.fetch_add(ops.len() as u64, Ordering::Relaxed);
        write_batch(&writer, ops).await;
    }
}

/// Writes one batch: the claims, then the starts, then the ends.
async fn write_batch(writer: &Writer, ops: Vec<Op>) {
    let (db, counts, queued) = (&writer.db, &*writer.counts, &*writer.starts);
    let mut claims = Vec::new();
    let mut start_ids = Vec::new();
    let mut ends = Vec::new();
    for op in ops {
        match op {
            Op::Claim {
                job_id,
                expected_version,
                change,
                start,
                missed,
                reply,
            } => claims.push(PendingClaim {
                job_id,
                expected_version,
                change,
                start,
                missed,
                reply,
            }),
            Op::Start { id } => start_ids.push(id),
            Op::End {
                end,
                start,
                still_running,
                reply,
            } => {
                if start.is_some() {
                    counts.whole_runs.fetch_add(1, Ordering::Relaxed);
                }
                ends.push(PendingEnd {
                    end,
                    start,
                    still_running,
                    reply,
                });
            }
        }
    }
    // Taken from the queue: from here on their ends wait for them. A start
    // that is gone was taken along by its end.
    let (written, writing) = watch::channel(());
    let starts: Vec<(Arc<ExecutionStart>, Duration)> = {
        let mut queued = queued.lock();
        start_ids
            .iter()
            .filter_map(|id| {
                let entry = queued.get_mut(id)?;
                match std::mem::replace(entry, StartState::Writing(writing.clone())) {
                    StartState::Queued { start, pause } => Some((start, pause)),
                    StartState::Writing(other) => {
                        *entry = StartState::Writing(other);
                        None
                    }
                }
            })
            .collect()
    };
    let began = std::time::Instant::now();
    let sizes = (claims.len(), starts.len(), ends.len());
    let split_before = counts.split.load(Ordering::Relaxed);
    write_claims(db, claims, counts).await;
    let claimed_us = began.elapsed().as_micros() as u64;
    let failed = write_starts(db, &starts, counts).await;
    let started_us = began.elapsed().as_micros() as u64;
    {
        let mut queued = queued.lock();
        for (start, pause) in &starts {
            queued.remove(&start.id);
            if let Some(passing) = failed.get(start.id.as_str()) {
                // Queued again: its end takes it along if it comes first.
                queued.insert(
                    start.id.clone(),
                    StartState::Queued {
                        start: start.clone(),
                        pause: retry::next_pause(*pause),
                    },
                );
                if *passing {
                    write_again_later(writer, start.id.clone(), *pause);
                }
            }
        }
    }
    drop(written);
    write_ends(db, ends, counts).await;
    tracing::trace!(
        claims = sizes.0,
        starts = sizes.1,
        ends = sizes.2,
        split = counts.split.load(Ordering::Relaxed) - split_before,
        claims_us = claimed_us,
        starts_us = started_us - claimed_us,
        elapsed_us = began.elapsed().as_micros() as u64,
        "batch written"
    );
}

impl Counts {
    /// Counts a batch statement that failed and is written again one
    /// operation at a time; called before any of its callers is answered.
    fn split(&self) {
        self.split.fetch_add(1, Ordering::Relaxed);
    }
}

/// A claim waiting to be written.
struct PendingClaim {
    job_id: String,
    expected_version: i64,
    change: JobStateChange,
    start: Option<Box<ExecutionStart>>,
    missed: Vec<MissedFire>,
    reply: Reply<bool>,
}

/// Claims of distinct rows go in one statement (after the rows of the runs
/// their jobs' claim columns still name, if any were never written); a second claim of a row
/// already in the batch is written after it, on its own (it will usually
/// lose, as it should: the first one moved the version), and so is a claim
/// that comes with `missed` rows (a fire that was late), which is rare.
async fn write_claims(db: &DatabaseConnection, claims: Vec<PendingClaim>, counts: &Counts) {
    let mut rows = HashSet::new();
    let (together, after): (Vec<_>, Vec<_>) = claims
        .into_iter()
        .partition(|c| c.missed.is_empty() && rows.insert(c.job_id.clone()));
    if together.len() > 1 {
        let batch: Vec<Claim<'_>> = together
            .iter()
            .map(|c| Claim {
                job_id: &c.job_id,
                expected_version: c.expected_version,
                change: &c.change,
                start: c.start.as_deref(),
            })
            .collect();
        match claim::compare_and_set_many(db, &batch).await {
            Ok(answers) => {
                drop(batch);
                let mut held = Vec::new();
                for (claim, answer) in together.into_iter().zip(answers) {
                    match answer {
                        Some(won) => {
                            let _ = claim.reply.send(Ok(won));
                        }
                        // Another transaction held the row: claim it alone.
                        None => held.push(claim),
                    }
                }
                write_one_by_one(db, held.into_iter().chain(after).collect()).await;
                return;
            }
            Err(error) if retry::may_have_committed(&error) => {
                // The batch may have committed with its answer lost: claiming
                // again would lose to the batch's own version bump and leave its
                // runs to nobody. Each caller settles its claim by looking it
                // up instead (`JobStore::claim_status`).
                tracing::debug!(%error, claims = batch.len(), "a batch of claims may or may not have committed");
                drop(batch);
                for claim in together {
                    let _ = claim.reply.send(Err(copy_error(&error)));
                }
                write_one_by_one(db, after).await;
                return;
            }
            Err(error) => {
                tracing::debug!(%error, claims = batch.len(), "a batch of claims failed; claiming one by one");
                drop(batch);
                counts.split();
                write_one_by_one(db, together.into_iter().chain(after).collect()).await;
                return;
            }
        }
    }
    write_one_by_one(db, together.into_iter().chain(after).collect()).await;
}

/// Claims written alone run beside the writer, not on it, on PostgreSQL and
/// MySQL: a row that another transaction holds makes its claim wait, and
/// that wait must not hold up every batch behind it.
///
/// On SQLite the writer writes them itself. There a claim can wait only for
/// the database's one write lock, which every batch waits for just as well,
/// and a claim written beside the writer would not let the queue gather: when
/// thousands of fires come due at once, the writer would take them one by one
/// as they arrive and start each as a transaction of its own, all queued for
/// the one connection (measured at 100,000 jobs due at once: the first 3,000
/// fires claimed one at a time took 0.6 s, about 200 µs a claim, against 23
/// µs a claim in the batches of 2,000 that follow).
async fn write_one_by_one(db: &DatabaseConnection, claims: Vec<PendingClaim>) {
    let inline = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    for claim in claims {
        let db = db.clone();
        let write = async move {
            let won = claim::claim_alone(
                &db,
                &claim.job_id,
                claim.expected_version,
                &claim.change,
                claim.start.as_deref(),
                &claim.missed,
            )
            .await;
            let _ = claim.reply.send(won);
        };
        if inline {
            write.await;
        } else {
            tokio::spawn(write);
        }
    }
}

/// Writes the `running` rows of `starts` and returns the ids of those that
/// could not be written, each with whether the error was a passing one (the
/// way to the database): the caller queues them again.
async fn write_starts(
    db: &DatabaseConnection,
    starts: &[(Arc<ExecutionStart>, Duration)],
    counts: &Counts,
) -> HashMap<String, bool> {
    let mut failed = HashMap::new();
    if starts.len() > 1 {
        let rows: Vec<&ExecutionStart> = starts.iter().map(|(start, _)| &**start).collect();
        match history::record_starts(db, &rows).await {
            Ok(()) => return failed,
            Err(error) if retry::is_passing(&error) => {
                // The database is out of reach: one by one would fail the same way.
                tracing::warn!(%error, starts = rows.len(), "recording the starts of runs failed; writing them again shortly");
                failed.extend(rows.iter().map(|start| (start.id.clone(), true)));
                return failed;
            }
            Err(error) => {
                tracing::debug!(%error, starts = rows.len(), "a batch of run starts failed; writing one by one");
                counts.split();
            }
        }
    }
    for (start, _) in starts {
        if let Err(error) = history::record_starts(db, &[start]).await {
            tracing::warn!(job_id = %start.job_id, execution_id = %start.id, %error, "recording the start of a run failed; its end writes it");
            failed.insert(start.id.clone(), retry::is_passing(&error));
        }
    }
    failed
}

/// Queues the start `id` for the writers again after `pause`, unless its
/// end has taken it along meanwhile.
fn write_again_later(writer: &Writer, id: String, pause: Duration) {
    let again = writer.again.clone();
    tokio::spawn(async move {
        tokio::time::sleep(pause).await;
        if let Some(queue) = again.upgrade() {
            let _ = queue.send(Op::Start { id });
        }
    });
}

/// A run's end waiting to be written, with its start when that was never written.
struct PendingEnd {
    end: ExecutionEnd,
    start: Option<Arc<ExecutionStart>>,
    still_running: bool,
    reply: Reply<()>,
}

impl PendingEnd {
    fn row(&self) -> history::RunEnd<'_> {
        history::RunEnd {
            end: &self.end,
            start: self.start.as_deref(),
            still_running: self.still_running,
        }
    }
}

async fn write_ends(db: &DatabaseConnection, ends: Vec<PendingEnd>, counts: &Counts) {
    let count = ends.len();
    if count == 0 {
        return;
    }
    let Err((error, ends)) = write_ends_together(db, ends).await else {
        return;
    };
    if count == 1 {
        for pending in ends {
            let _ = pending.reply.send(Err(error.clone()));
        }
        return;
    }
    tracing::debug!(%error, ends = count, "a batch of run ends failed; writing one by one");
    counts.split();
    for end in ends {
        if let Err((error, unanswered)) = write_ends_together(db, vec![end]).await {
            for pending in unanswered {
                let _ = pending.reply.send(Err(error.clone()));
            }
        }
    }
}

/// Writes `ends` in one transaction and answers their callers, except the
/// ends of jobs whose rows another transaction holds: those are written
/// beside the writer, a job at a time and in the order given, each waiting
/// for its row, and answered once written. On error nothing is written and
/// `ends` come back unanswered.
async fn write_ends_together(db: &DatabaseConnection, ends: Vec<PendingEnd>) -> Result<(), (DbErr, Vec<PendingEnd>)> {
    let rows: Vec<history::RunEnd<'_>> = ends.iter().map(PendingEnd::row).collect();
    let held = match history::record_ends(db, &rows, Locking::SkipHeld).await {
        Ok(held) => held,
        Err(error) => {
            drop(rows);
            return Err((error, ends));
        }
    };
    drop(rows);
    let mut waiting: Vec<(String, Vec<PendingEnd>)> = Vec::new();
    for (pending, held) in ends.into_iter().zip(held) {
        if !held {
            let _ = pending.reply.send(Ok(()));
        } else if let Some((_, same_job)) = waiting.iter_mut().find(|(job_id, _)| *job_id == pending.end.job_id) {
            same_job.push(pending);
        } else {
            waiting.push((pending.end.job_id.clone(), vec![pending]));
        }
    }
    for (_, ends) in waiting {
        let db = db.clone();
        tokio::spawn(async move {
            let rows: Vec<history::RunEnd<'_>> = ends.iter().map(PendingEnd::row).collect();
            let written = history::record_ends(&db, &rows, Locking::Wait).await.map(drop);
            drop(rows);
            for pending in ends {
                let _ = pending.reply.send(written.clone());
            }
        });
    }
    Ok(())
}
