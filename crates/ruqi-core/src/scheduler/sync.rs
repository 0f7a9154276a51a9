//! Keeping memory in step with the table: applying a row, re-reading one
//! after a hook announced it, the full reconcile pass, pause and resume.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

use super::Inner;
use super::state::{InvalidJob, JobEntry, Known, RunRequest, ScheduledJob};
use crate::events::SchedulerEvent;
use crate::execution::TriggerSource;
use crate::job::{Before, JobRecord, compile_or_return, no_fire_left, plan_next_run_time};
use crate::store::JobStateChange;
use crate::{Error, Result};

/// Prefix of the `last_error` written for a row that cannot be scheduled; a
/// later valid version of the row clears exactly these.
pub const UNSCHEDULABLE_PREFIX: &str = "cannot be scheduled: ";

/// What a hook saw it write, so the scheduler can tell when the write has
/// become visible (committed) to its own connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeExpectation {
    /// The row exists with at least this `version`.
    Version(i64),
    /// The row no longer exists.
    Deleted,
}

/// What a [`Scheduler::reconcile`](super::Scheduler::reconcile) pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Rows read.
    pub rows: usize,
    /// Rows (re)applied because they were new or differed from memory.
    pub applied: usize,
    /// Valid jobs now waiting on the timer.
    pub scheduled: usize,
    /// Rows that cannot be scheduled (each has `last_error`).
    pub invalid: usize,
    /// Jobs dropped from memory because their row is gone.
    pub removed: usize,
}

/// How applying one row went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    Unchanged,
    Stale,
    Scheduled,
    Invalid,
    /// A compare-and-set lost against a concurrent writer: read the row again.
    Raced,
}

/// Rows read per query when the whole table is read.
const LOAD_PAGE: usize = 2_000;

/// Attempts at applying a row that keeps changing under us before giving up until the next change.
const APPLY_ATTEMPTS: usize = 5;

/// Attempts at pausing or resuming a job whose row keeps changing under us
/// before answering [`Error::Conflict`]. Each lost attempt means another
/// write of the row won meanwhile (an edit, a run starting or ending), and
/// the next attempt starts from the row as that write left it; so only a
/// row written over and over without a pause fails them all.
const PAUSE_ATTEMPTS: usize = 64;

impl Inner {
    /// Reads the whole table, a page of [`LOAD_PAGE`] rows at a time, and
    /// brings memory in line with it.
    pub(super) async fn reconcile_all(self: &Arc<Self>) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        // The ids of the rows read, as the keys memory already holds (no copy
        // of the text): whatever memory holds beyond them has lost its row.
        let mut seen: foldhash::HashSet<Arc<str>> = foldhash::HashSet::default();
        // Each page is read while the one before it is applied: on SQLite the
        // read runs on the driver's own thread, so both cores work.
        let read_page = |after: Option<String>| {
            let store = self.store.clone();
            tokio::spawn(async move { store.load_jobs_after(after.as_deref(), LOAD_PAGE).await })
        };
        let mut next_page = read_page(None);
        // Time spent waiting for a page, and applying pages.
        let (mut reading, mut applying) = (Duration::ZERO, Duration::ZERO);
        loop {
            let read_at = std::time::Instant::now();
            let rows = next_page
                .await
                .map_err(|error| Error::Store(format!("reading job_info stopped: {error}")))??;
            reading += read_at.elapsed();
            let apply_at = std::time::Instant::now();
            let Some(last) = rows.last() else { break };
            next_page = read_page(Some(last.job_id.clone()));
            report.rows += rows.len();
            let ids: Vec<String> = rows.iter().map(|row| row.job_id.clone()).collect();
            for row in rows {
                if self.apply_or_sync(row).await {
                    report.applied += 1;
                }
            }
            let state = self.lock();
            seen.extend(ids.iter().map(|id| {
                state
                    .jobs
                    .get_key_value(id.as_str())
                    .map(|(key, _)| key.clone())
                    .or_else(|| state.invalid.get_key_value(id.as_str()).map(|(key, _)| key.clone()))
                    .unwrap_or_else(|| Arc::from(id.as_str()))
            }));
            drop(state);
            applying += apply_at.elapsed();
        }
        tracing::debug!(
            rows = report.rows,
            read_s = reading.as_secs_f64(),
            apply_s = applying.as_secs_f64(),
            "read the whole table"
        );
        let gone: Vec<String> = {
            let state = self.lock();
            state
                .jobs
                .iter()
                .filter(|(_, e)| !e.retired)
                .map(|(id, _)| id)
                .chain(state.invalid.keys())
                .filter(|id| !seen.contains(id.as_ref()))
                .map(|id| id.to_string())
                .collect()
        };
        drop(seen);
        report.removed = gone.len();
        for job_id in gone {
            self.remove_job(&job_id);
        }
        let state = self.lock();
        report.invalid = state.invalid.len();
        report.scheduled = state.jobs.values().filter(|e| !e.retired && e.next.is_some()).count();
        drop(state);
        self.bump_revision();
        Ok(report)
    }

    /// Applies a row just read; when a compare-and-set on it loses, reads it
    /// again. Returns whether memory changed. Failures are logged: the next
    /// change of the row, or the next reconcile, applies it.
    pub(super) async fn apply_or_sync(self: &Arc<Self>, row: JobRecord) -> bool {
        let job_id = row.job_id.clone();
        let applied = match self.apply_row(row).await {
            Ok(Applied::Scheduled | Applied::Invalid) => Ok(true),
            Ok(Applied::Raced) => self.sync_job(&job_id).await.map(|()| true),
            Ok(Applied::Unchanged | Applied::Stale) => Ok(false),
            Err(error) => Err(error),
        };
        applied.unwrap_or_else(|error| {
            tracing::warn!(job_id, %error, "applying a row failed");
            false
        })
    }

    /// Reads one row and applies it (or drops the job if the row is gone).
    /// (Boxed because applying a row can lead back here through a lost claim.)
    pub(super) fn sync_job(self: &Arc<Self>, job_id: &str) -> BoxFuture<'static, Result<()>> {
        let inner = self.clone();
        let job_id = job_id.to_owned();
        Box::pin(async move { inner.sync_job_inner(&job_id).await })
    }

    async fn sync_job_inner(self: &Arc<Self>, job_id: &str) -> Result<()> {
        for _ in 0..APPLY_ATTEMPTS {
            match self.store.load_job(job_id).await? {
                None => {
                    self.remove_job(job_id);
                    return Ok(());
                }
                Some(row) => {
                    if self.apply_row(row).await? != Applied::Raced {
                        return Ok(());
                    }
                }
            }
        }
        tracing::warn!(
            job_id,
            "row kept changing while being applied; the next change will apply it"
        );
        Ok(())
    }

    /// Re-reads a row announced by a hook until the write is visible (its
    /// transaction committed) or the confirm window passes (it rolled back).
    pub(super) fn spawn_change_sync(self: Arc<Self>, job_id: String, expect: ChangeExpectation) {
        self.pending_changes.fetch_add(1, Ordering::AcqRel);
        let inner = self.clone();
        self.tasks.spawn(async move {
            let give_up = tokio::time::Instant::now() + inner.config.change_confirm_window;
            let mut delay = Duration::from_millis(2);
            loop {
                match inner.store.load_job(&job_id).await {
                    Ok(row) => {
                        let visible = match (expect, &row) {
                            (ChangeExpectation::Version(v), Some(row)) => row.version >= v,
                            (ChangeExpectation::Deleted, None) => true,
                            _ => false,
                        };
                        if visible {
                            let applied = match row {
                                Some(_) => inner.sync_job(&job_id).await,
                                None => {
                                    inner.remove_job(&job_id);
                                    Ok(())
                                }
                            };
                            if let Err(error) = applied {
                                tracing::warn!(job_id, %error, "applying a changed row failed");
                            }
                            break;
                        }
                    }
                    Err(error) => tracing::warn!(job_id, %error, "reading a changed row failed"),
                }
                if tokio::time::Instant::now() >= give_up {
                    tracing::debug!(
                        job_id,
                        ?expect,
                        "announced change never became visible; taken as rolled back"
                    );
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = inner.shutdown.cancelled() => break,
                }
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            inner.pending_changes.fetch_sub(1, Ordering::AcqRel);
            inner.bump_revision();
        });
    }

    async fn apply_row(self: &Arc<Self>, row: JobRecord) -> Result<Applied> {
        let now = self.clock.now();
        let (existing, was_invalid) = {
            let state = self.lock();
            match state.jobs.get(row.job_id.as_str()).filter(|e| !e.retired) {
                Some(entry) => (Some(entry.known()), false),
                None => match state.invalid.get(row.job_id.as_str()) {
                    Some(invalid) => (Some(Known::of_record(&invalid.record)), true),
                    None => (None, false),
                },
            }
        };
        // Hashed once: the comparison and the rule for next_run_time both need it.
        let fingerprint = existing.as_ref().map(|_| row.fingerprint());
        if let (Some(existing), Some(fingerprint)) = (&existing, fingerprint) {
            if row.version < existing.version {
                return Ok(Applied::Stale);
            }
            if !existing.differs(&row, fingerprint) && !was_invalid {
                return Ok(Applied::Unchanged);
            }
        }
        let mut job = match compile_or_return(row, self.validation_context()) {
            Ok(job) => job,
            Err((error, row)) => {
                let message = format!("{UNSCHEDULABLE_PREFIX}{error}");
                self.mark_invalid(*row, &message).await?;
                return Ok(Applied::Invalid);
            }
        };
        let unseen_raw_insert = job.record.version == 0 && job.record.next_run_time.is_none();
        let basis = job.record.plan_basis();
        let stored_basis = job.record.schedule_hash;
        // Planned from the rule as it is now, whatever `next_run_time` says:
        // a row no scheduler has planned yet; a row a writer that does not
        // plan (plain SQL) edited since it was planned, which memory may not
        // know of (it changed while no scheduler ran); a row that could not
        // run and was repaired, which has no plan to keep.
        let replan = unseen_raw_insert
            || stored_basis.is_some_and(|stored| stored != basis)
            || (was_invalid && job.record.next_run_time.is_none());
        let planned = match (&existing, fingerprint) {
            _ if replan => plan_next_run_time(Some(Before::EDITED), &job, now),
            (Some(existing), Some(fingerprint)) => plan_next_run_time(Some(existing.before(fingerprint)), &job, now),
            _ if job.record.is_paused => None,
            _ => job.record.next_run_time,
        };
        if planned != job.record.next_run_time || job.record.version == 0 || stored_basis.is_some_and(|s| s != basis) {
            let change = JobStateChange {
                next_run_time: Some(planned),
                schedule_hash: Some(basis),
                ..JobStateChange::default()
            };
            if !self
                .store
                .update_job_state(&job.record.job_id, job.record.version, &change)
                .await?
            {
                return Ok(Applied::Raced);
            }
            job.record.version += 1;
            job.record.next_run_time = planned;
            job.record.schedule_hash = Some(basis);
        }
        let replanned = replan
            || existing
                .as_ref()
                .zip(fingerprint)
                .is_some_and(|(existing, fingerprint)| {
                    let before = existing.before(fingerprint);
                    before.schedule_changed || before.paused
                });
        if replanned && planned.is_none() && !job.record.is_paused {
            // Nothing left to fire (a date moved into the past, bounds that end
            // before now): say so on the row, as a writer through the API is told.
            let message = format!("{UNSCHEDULABLE_PREFIX}{}", no_fire_left(&job));
            if job.record.last_error.as_deref() != Some(message.as_str()) {
                self.store.set_last_error(&job.record.job_id, Some(&message)).await?;
            }
            job.record.last_error = Some(message);
        } else if (planned.is_some() || job.record.is_paused)
            && job
                .record
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(UNSCHEDULABLE_PREFIX))
        {
            self.store.set_last_error(&job.record.job_id, None).await?;
            job.record.last_error = None;
        }
        let run_right_now = job.record.run_right_now;
        let version = job.record.version;
        let job = Arc::new(ScheduledJob::new(job, &self.registry));
        let job_id = job.job_id.clone();
        let (earlier, added) = {
            let mut state = self.lock();
            let was_invalid = state.invalid.remove(&job_id).is_some();
            let (activity, added) = match state.jobs.remove(&job_id) {
                Some(mut old) => (old.take_activity(), old.retired && !was_invalid),
                None => (None, !was_invalid),
            };
            state.jobs.insert(
                job_id.clone(),
                JobEntry::new(job.clone(), version, planned, run_right_now, activity),
            );
            (state.reschedule(&job_id, planned), added)
        };
        self.wake_if_earlier(earlier);
        let job_id_text = job_id.to_string();
        self.emit(
            if added {
                SchedulerEvent::JobAdded { job_id: job_id_text }
            } else {
                SchedulerEvent::JobModified { job_id: job_id_text }
            },
            None,
        );
        tracing::debug!(job_id = %job_id, next_run_time = ?planned, "job scheduled");
        if run_right_now && !job.is_paused {
            let inner = self.clone();
            self.tasks
                .spawn(async move { inner.take_run_right_now(job, version).await });
        }
        self.bump_revision();
        Ok(Applied::Scheduled)
    }

    async fn mark_invalid(&self, row: JobRecord, message: &str) -> Result<()> {
        tracing::warn!(job_id = %row.job_id, error = message, "job cannot be scheduled; its row is kept");
        if row.last_error.as_deref() != Some(message) {
            self.store.set_last_error(&row.job_id, Some(message)).await?;
        }
        let job_id: Arc<str> = row.job_id.as_str().into();
        self.retire(&job_id);
        let mut record = row;
        record.last_error = Some(message.to_owned());
        self.lock().invalid.insert(
            job_id.clone(),
            InvalidJob {
                record,
                error: message.to_owned(),
            },
        );
        self.emit(
            SchedulerEvent::JobInvalid {
                job_id: job_id.to_string(),
                error: message.to_owned(),
            },
            None,
        );
        self.bump_revision();
        Ok(())
    }

    /// Drops a job whose row is gone. Runs in progress finish and are recorded.
    pub(super) fn remove_job(&self, job_id: &str) {
        let known = {
            let mut state = self.lock();
            state.invalid.remove(job_id).is_some() || state.jobs.get(job_id).is_some_and(|e| !e.retired)
        };
        self.retire(job_id);
        if known {
            self.emit(
                SchedulerEvent::JobRemoved {
                    job_id: job_id.to_owned(),
                },
                None,
            );
        }
        self.bump_revision();
    }

    fn retire(&self, job_id: &str) {
        let mut state = self.lock();
        state.unschedule(job_id);
        let Some(mut entry) = state.jobs.get_mut(job_id) else {
            return;
        };
        if entry.is_running() {
            // The runs queued behind them stay until the slot frees: those
            // that are claimed fires then finish their rows saying why
            // they did not run (`leave_overlap_slot`).
            entry.retired = true;
        } else {
            drop(entry);
            state.jobs.remove(job_id);
        }
    }

    /// `run_right_now` was set on the row: claim the flag, then run once.
    async fn take_run_right_now(self: Arc<Self>, job: Arc<ScheduledJob>, version: i64) {
        let job_id = job.job_id.clone();
        let change = JobStateChange {
            run_right_now: Some(false),
            is_running: Some(true),
            ..JobStateChange::default()
        };
        match self.store.update_job_state(&job_id, version, &change).await {
            Ok(true) => {
                {
                    let mut state = self.lock();
                    if let Some(mut entry) = state.jobs.get_mut(&job_id)
                        && entry.version == version
                    {
                        entry.version = version + 1;
                        entry.run_right_now = false;
                    }
                }
                let now = self.clock.now();
                self.start_run(job, RunRequest::new(now, TriggerSource::Manual)).await;
            }
            Ok(false) => {
                if let Err(error) = self.sync_job(&job_id).await {
                    tracing::warn!(%job_id, %error, "re-reading a job after a lost run_right_now claim failed");
                }
            }
            Err(error) => tracing::warn!(%job_id, %error, "claiming run_right_now failed"),
        }
    }

    /// Pauses or resumes a job through a compare-and-set on its row.
    pub(super) async fn set_paused(self: &Arc<Self>, job_id: &str, paused: bool) -> Result<()> {
        for _ in 0..PAUSE_ATTEMPTS {
            let (job, version) = {
                let state = self.lock();
                let entry = state.active(job_id)?;
                (entry.job.clone(), entry.version)
            };
            if job.is_paused == paused {
                return Ok(());
            }
            let updated = ScheduledJob {
                is_paused: paused,
                ..(*job).clone()
            };
            let next = if paused {
                None
            } else {
                updated.first_fire(self.clock.now())
            };
            let change = JobStateChange {
                is_paused: Some(paused),
                next_run_time: Some(next),
                schedule_hash: Some(crate::job::plan_basis_if_paused(job.schedule_basis, paused)),
                ..JobStateChange::default()
            };
            if self.store.update_job_state(job_id, version, &change).await? {
                let job_id = job.job_id.clone();
                let earlier = {
                    let mut state = self.lock();
                    if let Some(mut entry) = state.jobs.get_mut(&job_id)
                        && entry.version == version
                    {
                        entry.job = Arc::new(updated);
                        entry.version = version + 1;
                    }
                    state.reschedule(&job_id, next)
                };
                self.wake_if_earlier(earlier);
                self.bump_revision();
                // This node's copy is already at the new version, so the change
                // feed brings nothing here to announce it by.
                self.emit(
                    SchedulerEvent::JobModified {
                        job_id: job_id.to_string(),
                    },
                    None,
                );
                return Ok(());
            }
            self.sync_job(job_id).await?;
        }
        Err(Error::Conflict {
            job_id: job_id.to_owned(),
            action: if paused { "paused" } else { "resumed" },
        })
    }
}
