//! A deadline came due: decide what runs and what was missed, claim the fire
//! in the store, then hand the run to `run.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;

use super::state::ScheduledJob;
use super::state::{Due, RunRequest};
use super::{Inner, duration_to_chrono};
use crate::events::SchedulerEvent;
use crate::execution::{ExecutionStart, ExecutionStatus, MissedFire, TriggerSource, new_execution_id};
use crate::job::MisfirePolicy;
use crate::store::JobStateChange;

/// Due instants enumerated after a long outage before the scheduler stops
/// counting them one by one and jumps to the next fire after now.
const CATCH_UP_LIMIT: usize = 10_000;
/// `missed` rows written for one catch-up; older missed instants are summarised in the oldest row.
const MISSED_ROWS_LIMIT: usize = 100;
/// Fires that may wait for their claims at once; the timer hands out the
/// next fire due as one of them is claimed. Twice the group commit's
/// largest batch keeps the writer's queue full, while a burst of 100,000
/// fires due at one instant no longer becomes 100,000 tasks at once, whose
/// fresh memory (the allocator growing its heaps, page faults) took about a
/// tenth of the scheduler's CPU.
pub(super) const FIRES_IN_FLIGHT: usize = 4_096;

/// What one due deadline turns into.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FirePlan {
    /// The instant to run for, if any.
    pub(super) run: Option<DateTime<Utc>>,
    /// Instants that will not run, each with the reason.
    pub(super) missed: Vec<(DateTime<Utc>, String)>,
    /// Missed instants not listed in `missed` (beyond the row limit).
    pub(super) missed_unlisted: usize,
    /// The new `next_run_time`.
    pub(super) next: Option<DateTime<Utc>>,
}

/// Works out a due fire: every instant from `due_at` up to `now` is either
/// run (on time, or the one coalesced run of `run_once`) or missed.
pub(super) fn plan_fire(job: &ScheduledJob, due_at: DateTime<Utc>, now: DateTime<Utc>) -> FirePlan {
    let grace = duration_to_chrono(job.policy.misfire_grace);
    let mut instants = vec![due_at];
    let mut cursor = due_at;
    let mut truncated = false;
    while let Some(t) = job.schedule.next_fire_after(cursor) {
        if t > now {
            break;
        }
        if instants.len() >= CATCH_UP_LIMIT {
            truncated = true;
            break;
        }
        instants.push(t);
        cursor = t;
    }
    let next = job.schedule.next_fire_after(now.max(cursor));
    let late = |t: &DateTime<Utc>| now - *t > grace;
    let split = instants.iter().position(|t| !late(t)).unwrap_or(instants.len());
    let (too_late, in_time) = instants.split_at(split);
    let mut missed: Vec<(DateTime<Utc>, String)> = too_late
        .iter()
        .map(|t| {
            let by = (now - *t).num_milliseconds() as f64 / 1000.0;
            (
                *t,
                format!(
                    "missed by {by:.3}s (misfire_grace_s = {})",
                    job.policy.misfire_grace.as_secs()
                ),
            )
        })
        .collect();
    let run = match (in_time.last(), job.policy.misfire_policy) {
        (Some(last), _) => Some(*last),
        (None, MisfirePolicy::RunOnce) => missed.pop().map(|(t, _)| t),
        (None, MisfirePolicy::Skip) => None,
    };
    // The reasons name the fire that was chosen to run, not its outcome:
    // whether it ran is on its own row (it may still be skipped or missed
    // when it comes to start).
    if let Some(run_at) = run {
        for t in in_time.iter().filter(|t| **t != run_at) {
            missed.push((
                *t,
                format!(
                    "coalesced: due together with the fire for {}, which was chosen to run instead",
                    run_at.to_rfc3339()
                ),
            ));
        }
        if job.policy.misfire_policy == MisfirePolicy::RunOnce {
            for (_, reason) in missed.iter_mut() {
                reason.push_str(&format!(
                    "; coalesced: the fire for {} was chosen to run instead (misfire_policy = run_once)",
                    run_at.to_rfc3339()
                ));
            }
        }
    }
    missed.sort_by_key(|(t, _)| *t);
    let mut missed_unlisted = if truncated { 1 } else { 0 };
    if missed.len() > MISSED_ROWS_LIMIT {
        missed_unlisted += missed.len() - MISSED_ROWS_LIMIT;
        missed.drain(..missed.len() - MISSED_ROWS_LIMIT);
    }
    if missed_unlisted > 0
        && let Some((_, reason)) = missed.first_mut()
    {
        let more = if truncated { "at least " } else { "" };
        reason.push_str(&format!(
            "; {more}{missed_unlisted} earlier missed fires are not listed one by one"
        ));
    }
    FirePlan {
        run,
        missed,
        missed_unlisted,
        next,
    }
}

/// A fire this node claimed, with a run to start at its instant.
struct ClaimedFire {
    job: Arc<ScheduledJob>,
    /// The instant it was scheduled for.
    at: DateTime<Utc>,
    /// The execution row its claim wrote.
    row: Arc<str>,
    /// The lease's epoch when it was claimed.
    epoch: u64,
}

impl Inner {
    /// Starts the fire of `due` as a task of its own once fewer than
    /// [`FIRES_IN_FLIGHT`] fires wait for their claims; `false` when the
    /// scheduler shut down first.
    pub(super) async fn spawn_fire(self: &Arc<Self>, due: Due) -> bool {
        let slot = tokio::select! {
            () = self.shutdown.cancelled() => return false,
            slot = self.fire_slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { return false };
        self.tasks.spawn(self.clone().fire_due(due, slot));
        true
    }

    /// A deadline came due: plans the fire, claims it (with its rows), and
    /// starts its run at its instant. `slot` is held until the claim is
    /// settled.
    ///
    /// `async` blocks rather than `async fn`s here and below, which would
    /// keep their arguments twice: every fire due is a task holding this.
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    pub(super) fn fire_due(
        self: Arc<Self>,
        due: Due,
        slot: OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            if let Some(claimed) = self.claim_due(&due, slot).await {
                Box::pin(self.start_claimed(claimed)).await;
            }
        }
    }

    /// [`Inner::fire_due`] up to a claim that was won with a run to start.
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    fn claim_due<'a>(
        self: &'a Arc<Self>,
        due: &'a Due,
        slot: OwnedSemaphorePermit,
    ) -> impl Future<Output = Option<ClaimedFire>> + Send + 'a {
        async move {
            let (job, version, scheduled) = {
                let mut state = self.lock();
                let entry = state.jobs.get(&due.job_id)?;
                let scheduled = entry.next?;
                if entry.retired || entry.generation != due.generation {
                    return None;
                }
                let claim = (entry.job.clone(), entry.version, scheduled);
                state.claiming.insert(due.job_id.clone(), claim.1 + 1);
                claim
            };
            if !self.lease.is_held(self.config.fence_after()) {
                // Fenced: this node claims nothing until its lease is renewed. A
                // peer takes the fire over meanwhile, or this node claims it then.
                self.lock().claiming.remove(&due.job_id);
                tracing::debug!(job_id = %job.job_id, "fire not claimed: this node does not hold its lease");
                self.retry_later(&due.job_id, version);
                return None;
            }
            let epoch = self.lease.epoch();
            let now = self.clock.now();
            let plan = plan_fire(&job, scheduled, now);
            let start = plan.run.map(|at| ExecutionStart {
                id: new_execution_id(),
                job_id: job.job_id.to_string(),
                job_name: job.job_name.as_deref().map(str::to_owned),
                scheduled_for: at,
                started_at: at.max(now),
                attempt: 1,
                trigger_source: TriggerSource::Schedule,
                node: self.config.node_name.clone(),
                args: None,
            });
            let missed: Vec<MissedFire> = plan
                .missed
                .iter()
                .map(|(t, reason)| MissedFire {
                    id: new_execution_id(),
                    job_id: job.job_id.to_string(),
                    job_name: job.job_name.as_deref().map(str::to_owned),
                    scheduled_for: *t,
                    noticed_at: now,
                    reason: reason.clone(),
                    node: self.config.node_name.clone(),
                    trigger_source: TriggerSource::Schedule,
                })
                .collect();
            let change = JobStateChange {
                next_run_time: Some(plan.next),
                // Set in the claim itself, so a run costs no extra write before it starts.
                is_running: plan.run.map(|_| true),
                ..JobStateChange::default()
            };
            // Boxed, as the start below: every fire due waits here as a task of
            // its own, so the wait is kept small (see the test below).
            let claimed = Box::pin(self.claim_settled(&job.job_id, version, &change, start.as_ref(), &missed)).await;
            drop(slot);
            if !matches!(claimed, Ok(true)) {
                self.lock().claiming.remove(&due.job_id);
            }
            match claimed {
                Ok(true) => {}
                Ok(false) => {
                    // Another process claimed this fire, or the row changed under us:
                    // the row as it is now decides.
                    tracing::debug!(job_id = %job.job_id, "fire claimed elsewhere or row changed; re-reading");
                    if let Err(error) = self.sync_job(&job.job_id).await {
                        tracing::warn!(job_id = %job.job_id, %error, "re-reading a job after a lost claim failed");
                        self.retry_later(&due.job_id, version);
                    }
                    return None;
                }
                Err(error) => {
                    tracing::warn!(job_id = %job.job_id, %error, "claiming a fire failed; retrying in 1s");
                    self.retry_later(&due.job_id, version);
                    return None;
                }
            }
            {
                let mut state = self.lock();
                state.claiming.remove(&due.job_id);
                let won = match state.jobs.get_mut(&due.job_id) {
                    Some(mut entry) if entry.version == version => {
                        entry.version = version + 1;
                        true
                    }
                    _ => false,
                };
                if won {
                    let earlier = state.reschedule(&due.job_id, plan.next);
                    self.wake_if_earlier(earlier);
                }
            }
            self.bump_revision();
            if !missed.is_empty() {
                tracing::info!(job_id = %job.job_id, missed = missed.len() + plan.missed_unlisted, "fires missed");
                for row in &missed {
                    self.emit(SchedulerEvent::Missed(row.into()), job.alert_url.as_deref());
                }
            }
            start.map(|start| ClaimedFire {
                job,
                at: start.scheduled_for,
                row: start.id.into(),
                epoch,
            })
        }
    }

    /// Claims a fire with its rows ([`JobStore::claim_fire`]). When the
    /// store fails to answer, the claim may have committed all the same (the
    /// connection broke after the commit was sent): the claim is then looked
    /// up ([`JobStore::claim_status`]), as often as it takes for the store to
    /// answer (until shutdown), so a fire that was claimed is never left
    /// unrun and unrecorded. `Err` when the claim surely did not commit.
    async fn claim_settled(
        &self,
        job_id: &str,
        version: i64,
        change: &JobStateChange,
        start: Option<&ExecutionStart>,
        missed: &[MissedFire],
    ) -> crate::Result<bool> {
        let error = match self.store.claim_fire(job_id, version, change, start, missed).await {
            Ok(won) => return Ok(won),
            Err(error) => error,
        };
        let Some(witness) = start.map(|s| s.id.as_str()).or(missed.first().map(|m| m.id.as_str())) else {
            return Err(error);
        };
        let mut pause = self.config.heartbeat_interval / 4;
        loop {
            match self.store.claim_status(job_id, witness).await {
                Ok(Some(_)) => {
                    tracing::info!(job_id, execution_id = witness, %error, "the claim's answer was lost, but it was written");
                    return Ok(true);
                }
                Ok(None) => return Err(error),
                Err(lookup) => {
                    tracing::debug!(job_id, %lookup, "cannot tell yet whether a claim was written; asking again");
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return Err(error),
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Starts the run of a fire this node claimed, at its instant: after the
    /// lease is held again if this node is fenced, and only if it can still
    /// start within the job's grace (the misfire rules are applied to the
    /// time it really starts). A fire that does not start finishes the row
    /// its claim wrote, saying why.
    ///
    /// (An `async` block rather than an `async fn`, which would keep its
    /// arguments twice: every claimed fire waits here for its instant.)
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep its arguments twice (see above)
    fn start_claimed(self: Arc<Self>, claimed: ClaimedFire) -> impl Future<Output = ()> + Send + 'static {
        async move {
            let ClaimedFire { job, at, row, epoch } = claimed;
            // Claimed ahead of the instant (`claim_ahead`): the function starts at it.
            let ahead = at > self.clock.now();
            if ahead {
                self.clock.sleep_until(at).await;
            }
            let fenced = !self.lease.is_held(self.config.fence_after());
            if fenced {
                tokio::select! {
                    () = self.shutdown.cancelled() => {}
                    () = self.lease.held_again() => {}
                }
            }
            let mut req = RunRequest::new(at, TriggerSource::Schedule);
            req.claimed_row = Some(row);
            req.start_by = (job.policy.misfire_policy == MisfirePolicy::Skip)
                .then(|| at + duration_to_chrono(job.policy.misfire_grace));
            // What the fire waited for when the scheduler stopped or the job went.
            let waited_for = if fenced {
                "while this node waited to renew its lease"
            } else if ahead {
                "before its instant"
            } else {
                "before its run could start (its claim was late)"
            };
            let not_run = if self.shutdown.is_cancelled() {
                Some((
                    ExecutionStatus::Missed,
                    format!("not run: the scheduler shut down {waited_for}"),
                ))
            } else if self.lease.epoch() != epoch {
                Some((
                    ExecutionStatus::Cancelled,
                    "not run: a peer took this node for dead after the fire was claimed".to_owned(),
                ))
            } else if self.lock().jobs.get(&job.job_id).is_none_or(|entry| entry.retired) {
                Some((
                    ExecutionStatus::Missed,
                    format!("not run: the job was deleted {waited_for}"),
                ))
            } else {
                req.start_by
                    .and_then(|by| missed_start(&job, at, by, self.clock.now()))
                    .map(|reason| (ExecutionStatus::Missed, reason))
            };
            match not_run {
                Some((status, reason)) => Box::pin(self.settle_unstarted(&job, &req, status, reason, false)).await,
                None => self.start_run_here(job, req).await,
            }
        }
    }

    /// Puts a fire that could not be claimed (store unreachable) back on the
    /// timer a second from now; when it runs, the misfire rules decide.
    fn retry_later(&self, job_id: &Arc<str>, version: i64) {
        let retry_at = self.clock.now() + chrono::Duration::seconds(1);
        let mut state = self.lock();
        if state.jobs.get(job_id).is_some_and(|e| e.version == version) {
            let earlier = state.rearm(job_id, retry_at);
            drop(state);
            self.wake_if_earlier(earlier);
        }
    }
}

/// Why a scheduled fire is recorded `missed` instead of run when it could
/// start only `at`, past `start_by` (its instant plus the job's grace), or
/// `None` while it is still in time.
pub(super) fn missed_start(
    job: &ScheduledJob,
    scheduled_for: DateTime<Utc>,
    start_by: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Option<String> {
    (at > start_by).then(|| {
        format!(
            "missed: it could start only {:.3}s after its instant (misfire_grace_s = {})",
            (at - scheduled_for).num_milliseconds() as f64 / 1000.0,
            job.policy.misfire_grace.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobRecord, ValidationContext, compile};
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, s).single().unwrap_or_default()
    }

    /// Every fire that waits for its claim is a task holding this future:
    /// with 100,000 fires due at once, each kilobyte of it is 100 MB of
    /// fresh memory. The claim and the start are boxed once reached. The
    /// start, allocated once per run, stays under about a kilobyte, which
    /// glibc's allocator serves from its per-thread cache (see
    /// `a_running_run_holds_its_function_once` in `run.rs`).
    #[test]
    fn a_fire_waiting_for_its_claim_is_small() {
        fn future_size<A, B, C, F: Future>(_: impl Fn(A, B, C) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(Inner::fire_due);
        assert!(size <= 600, "a waiting fire holds {size} bytes");
        fn start_size<A, B, F: Future>(_: impl Fn(A, B) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let size = start_size(Inner::start_claimed);
        assert!(size <= 1_000, "a claimed fire's start holds {size} bytes");
    }

    fn job(rule: &str, policy: &str) -> ScheduledJob {
        let mut r = JobRecord::new("j", "f", "interval", rule);
        r.created_at = t(0, 0, 0);
        r.misfire_policy = policy.into();
        let compiled = compile(r, ValidationContext::default()).unwrap();
        ScheduledJob::new(compiled, &crate::registry::Registry::new())
    }

    #[test]
    fn on_time_fire_runs_and_moves_on() {
        let plan = plan_fire(&job("1m", "skip"), t(0, 1, 0), t(0, 1, 0));
        assert_eq!(plan.run, Some(t(0, 1, 0)));
        assert!(plan.missed.is_empty());
        assert_eq!(plan.next, Some(t(0, 2, 0)));
    }

    #[test]
    fn late_within_grace_still_runs() {
        let plan = plan_fire(&job("1m", "skip"), t(0, 1, 0), t(0, 1, 4));
        assert_eq!(plan.run, Some(t(0, 1, 0)));
        assert_eq!(plan.next, Some(t(0, 2, 0)));
    }

    #[test]
    fn beyond_grace_with_skip_records_every_missed_fire() {
        let plan = plan_fire(&job("1m", "skip"), t(0, 1, 0), t(0, 3, 30));
        assert_eq!(plan.run, None);
        let missed: Vec<_> = plan.missed.iter().map(|(t, _)| *t).collect();
        assert_eq!(missed, vec![t(0, 1, 0), t(0, 2, 0), t(0, 3, 0)]);
        assert!(plan.missed[0].1.contains("misfire_grace_s = 5"), "{}", plan.missed[0].1);
        assert_eq!(plan.next, Some(t(0, 4, 0)));
    }

    #[test]
    fn beyond_grace_with_run_once_runs_the_latest_once() {
        let plan = plan_fire(&job("1m", "run_once"), t(0, 1, 0), t(0, 3, 30));
        assert_eq!(plan.run, Some(t(0, 3, 0)));
        assert_eq!(plan.missed.len(), 2);
        assert!(plan.missed[0].1.contains("coalesced"));
    }

    #[test]
    fn the_last_fire_within_grace_runs_and_older_ones_are_missed() {
        let plan = plan_fire(&job("1m", "skip"), t(0, 1, 0), t(0, 3, 2));
        assert_eq!(plan.run, Some(t(0, 3, 0)));
        assert_eq!(plan.missed.len(), 2);
    }

    #[test]
    fn a_long_outage_is_summarised() {
        let plan = plan_fire(&job("1s", "skip"), t(0, 0, 1), t(2, 0, 0));
        assert_eq!(plan.missed.len(), MISSED_ROWS_LIMIT);
        assert!(plan.missed_unlisted > 0);
        assert!(plan.missed[0].1.contains("not listed one by one"));
        assert_eq!(plan.next, Some(t(2, 0, 1)));
    }
}
