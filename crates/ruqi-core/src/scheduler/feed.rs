//! Following the change feed: rows changed by any writer in any process
//! (plain SQL included) are read again and applied, a batch at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::store::{ChangeBatch, ChangeFeed, RowChange};

/// Rows read back per statement when a bulk change arrives.
pub(super) const READ_CHUNK: usize = 500;
/// Longest pause after a failing feed or store before trying again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Inner {
    /// Applies what the feed reports until shutdown.
    pub(super) async fn follow_changes(self: Arc<Self>, mut feed: Box<dyn ChangeFeed>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return,
                batch = feed.next_batch() => batch,
            };
            let applied = match batch {
                Ok(ChangeBatch::Rows(rows)) => self.apply_changes(rows).await,
                Ok(ChangeBatch::Resync) => {
                    tracing::info!("change feed lost track; comparing the whole table");
                    self.reconcile_all().await.map(|_| ())
                }
                Ok(ChangeBatch::Truncated) => {
                    tracing::info!("job_info was emptied; every job is dropped and the table read again");
                    self.forget_every_job();
                    self.reconcile_all().await.map(|_| ())
                }
                Err(error) => Err(error),
            };
            match applied {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "following the change feed failed");
                    tokio::select! {
                        () = self.shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Reads back the rows this scheduler has not seen at their reported
    /// version and applies them; rows that are gone are dropped. Retries a
    /// failed read until it succeeds, so no reported change is lost.
    async fn apply_changes(self: &Arc<Self>, changes: Vec<RowChange>) -> crate::Result<()> {
        let oldest = changes.iter().filter_map(|c| c.changed_at).min();
        // Rows deleted since this scheduler read them: one found again was
        // inserted anew under its key, and is a new job whatever its version.
        let mut deleted = HashSet::new();
        let unseen: Vec<String> = {
            let state = self.lock();
            changes
                .into_iter()
                .filter(|change| {
                    change
                        .version
                        .is_none_or(|reported| state.is_news(&change.job_id, reported))
                })
                .map(|change| {
                    if change.version.is_none() {
                        deleted.insert(change.job_id.clone());
                    }
                    change.job_id
                })
                .collect()
        };
        if unseen.is_empty() {
            self.observe_feed_lag(oldest);
            return Ok(());
        }
        tracing::debug!(rows = unseen.len(), "applying changed rows");
        for chunk in unseen.chunks(READ_CHUNK) {
            let mut backoff = Duration::from_millis(100);
            while let Err(error) = self.reread_rows(chunk, &deleted).await {
                tracing::warn!(%error, retry_in = ?backoff, "reading changed rows failed");
                tokio::select! {
                    () = self.shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        self.bump_revision();
        self.observe_feed_lag(oldest);
        Ok(())
    }

    /// Reads the rows of `job_ids` (at most [`READ_CHUNK`] of them) in one
    /// statement and applies them; jobs whose row is gone are dropped, and
    /// those in `deleted` that have a row again start over as new jobs. The
    /// rows are applied side by side, so the writes they need (plans of
    /// `next_run_time`) go to the store together and are written in batches.
    pub(super) async fn reread_rows(
        self: &Arc<Self>,
        job_ids: &[String],
        deleted: &HashSet<String>,
    ) -> crate::Result<()> {
        let rows = self.store.load_jobs_by_id(job_ids).await?;
        let present: HashSet<String> = rows.iter().map(|row| row.job_id.clone()).collect();
        for job_id in job_ids
            .iter()
            .filter(|id| deleted.contains(*id) || !present.contains(id.as_str()))
        {
            self.remove_job(job_id);
        }
        futures::future::join_all(rows.into_iter().map(|row| self.apply_or_sync(row))).await;
        Ok(())
    }

    /// Drops every job held (their rows are gone); runs in progress finish
    /// and are recorded.
    fn forget_every_job(&self) {
        let held: Vec<String> = {
            let state = self.lock();
            state
                .jobs
                .iter()
                .filter(|(_, entry)| !entry.retired)
                .map(|(id, _)| id.to_string())
                .chain(state.invalid.keys().map(|id| id.to_string()))
                .collect()
        };
        for job_id in held {
            self.remove_job(&job_id);
        }
    }

    /// Reports how long the oldest change of a batch took from its commit
    /// to being applied here (0 when the clocks disagree the other way).
    fn observe_feed_lag(&self, oldest: Option<chrono::DateTime<chrono::Utc>>) {
        if let Some(at) = oldest {
            let lag = (self.clock.now() - at).to_std().unwrap_or_default();
            self.metrics.observe_feed_lag(lag);
        }
    }
}
