//! A deadline came due: decide what runs and what was missed, claim the fire
//! in the store, then hand the run to `run.rs`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::state::ScheduledJob;
use super::state::{Due, RunRequest};
use super::{Inner, duration_to_chrono};
use crate::events::SchedulerEvent;
use crate::execution::{MissedFire, TriggerSource, new_execution_id};
use crate::job::MisfirePolicy;
use crate::store::JobStateChange;

/// Due instants enumerated after a long outage before the scheduler stops
/// counting them one by one and jumps to the next fire after now.
const CATCH_UP_LIMIT: usize = 10_000;
/// `missed` rows written for one catch-up; older missed instants are summarised in the oldest row.
const MISSED_ROWS_LIMIT: usize = 100;

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
    if let Some(run_at) = run {
        for t in in_time.iter().filter(|t| **t != run_at) {
            missed.push((*t, format!("coalesced into the run for {}", run_at.to_rfc3339())));
        }
        if job.policy.misfire_policy == MisfirePolicy::RunOnce {
            for (_, reason) in missed.iter_mut() {
                reason.push_str(&format!(
                    "; coalesced into the run for {} (misfire_policy = run_once)",
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

impl Inner {
    pub(super) async fn fire_due(self: Arc<Self>, due: Due) {
        let now = self.clock.now();
        let (job, version, scheduled) = {
            let mut state = self.lock();
            let Some(entry) = state.jobs.get(&due.job_id) else {
                return;
            };
            let Some(scheduled) = entry.next else { return };
            if entry.retired || entry.generation != due.generation {
                return;
            }
            let claim = (entry.job.clone(), entry.version, scheduled);
            state.claiming.insert(due.job_id.clone(), claim.1 + 1);
            claim
        };
        let plan = plan_fire(&job, scheduled, now);
        let change = JobStateChange {
            next_run_time: Some(plan.next),
            // Set in the claim itself, so a run costs no extra write before it starts.
            is_running: plan.run.map(|_| true),
            ..JobStateChange::default()
        };
        let claimed = self.store.update_job_state(&job.job_id, version, &change).await;
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
                return;
            }
            Err(error) => {
                tracing::warn!(job_id = %job.job_id, %error, "claiming a fire failed; retrying in 1s");
                self.retry_later(&due.job_id, version);
                return;
            }
        }
        {
            let mut state = self.lock();
            state.claiming.remove(&due.job_id);
            if let Some(entry) = state.jobs.get_mut(&due.job_id)
                && entry.version == version
            {
                entry.version = version + 1;
                let earlier = state.reschedule(&due.job_id, plan.next);
                self.wake_if_earlier(earlier);
            }
        }
        self.bump_revision();
        if !plan.missed.is_empty() {
            let rows: Vec<MissedFire> = plan
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
                })
                .collect();
            tracing::info!(job_id = %job.job_id, missed = rows.len() + plan.missed_unlisted, "fires missed");
            if let Err(error) = self.store.record_missed(&rows).await {
                tracing::warn!(job_id = %job.job_id, %error, "recording missed fires failed");
            }
            for row in &rows {
                self.emit(SchedulerEvent::Missed(row.into()), job.alert_url.as_deref());
            }
        }
        if let Some(at) = plan.run {
            // Claimed ahead of the instant (`claim_ahead`): the function starts at it,
            // unless the job was deleted before the instant came (then there was no fire).
            if at > self.clock.now() {
                self.clock.sleep_until(at).await;
                let removed = self.lock().jobs.get(&due.job_id).is_none_or(|entry| entry.retired);
                if removed {
                    tracing::debug!(job_id = %job.job_id, "job deleted before the instant it was claimed for");
                    return;
                }
            }
            self.start_run(job, RunRequest::new(at, TriggerSource::Schedule)).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobRecord, ValidationContext, compile};
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, s).single().unwrap_or_default()
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
