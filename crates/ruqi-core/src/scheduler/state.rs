//! The scheduler's in-memory table: one entry per schedulable job, and a
//! min-heap of deadlines with lazy deletion (an entry's `generation` changes
//! whenever it is rescheduled, so stale heap items are simply skipped).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
// foldhash, not the standard library's SipHash: start-up over a million rows
// spent an eighth of its time hashing job ids with SipHash.
use foldhash::HashMap;
use tokio_util::sync::CancellationToken;

use serde_json::Value;

use crate::execution::TriggerSource;
use crate::job::{Before, CompiledJob, ExecutionPolicy, Fingerprint, JobRecord, first_fire_of};
use crate::registry::{LogSink, RegisteredFunction, Registry};
use crate::trigger::Schedule;

use super::table::JobTable;

/// A deadline in the heap.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Due {
    pub(super) at: DateTime<Utc>,
    pub(super) generation: u64,
    pub(super) job_id: Arc<str>,
}

/// A run in progress in this process.
#[derive(Debug, Clone)]
pub(super) struct RunHandle {
    pub(super) execution_id: Arc<str>,
    pub(super) cancel: CancellationToken,
    /// Why it was cancelled, and whether its end is recorded.
    pub(super) marks: Arc<RunMarks>,
    /// Its log, for tailing while it runs.
    pub(super) log: LogSink,
    /// When it took its place under the overlap policy: a fire due before
    /// then was not overlapped by it (see `Inner::admit`).
    pub(super) admitted_at: DateTime<Utc>,
}

/// What a run's handles share besides its token and log (one allocation).
#[derive(Debug, Default)]
pub(super) struct RunMarks {
    /// Why it was cancelled; set before its token fires.
    pub(super) cancel_reason: OnceLock<String>,
    /// Its end is recorded (a timed-out or cancelled function may still be
    /// stopping, holding its place for the overlap policy).
    pub(super) recorded: std::sync::atomic::AtomicBool,
}

impl RunHandle {
    pub(super) fn cancel(&self, reason: &str) {
        let _ = self.marks.cancel_reason.set(reason.to_owned());
        self.cancel.cancel();
    }

    /// Whether its end is recorded.
    pub(super) fn is_recorded(&self) -> bool {
        self.marks.recorded.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A run to start: which instant, why, which attempt, and through which
/// parent jobs it was triggered (so a `child_jobs` cycle written behind the
/// validation's back cannot loop forever). Also what waits in a queue
/// behind a running one (overlap = queue).
#[derive(Debug, Clone)]
pub(super) struct RunRequest {
    pub(super) scheduled_for: DateTime<Utc>,
    pub(super) source: TriggerSource,
    pub(super) attempt: u32,
    /// The jobs whose success led to this run, oldest first.
    pub(super) lineage: Arc<[Arc<str>]>,
    /// For a scheduled fire, the execution id its claim put on record: the
    /// run keeps it, and a fire that does not start after all is recorded
    /// under it.
    pub(super) claimed_row: Option<Arc<str>>,
    /// The latest instant the run may start at; past it, it is recorded
    /// `missed` and not run (a scheduled fire under `misfire_policy =
    /// skip`: its instant plus its grace). A run queued behind another
    /// (`overlap = queue`) has none: it waits for its turn.
    pub(super) start_by: Option<DateTime<Utc>>,
    /// Arguments given to this run instead of its job's (a run started by
    /// hand with other arguments); its retries keep them.
    pub(super) args: Option<GivenArgs>,
    /// One of the runs a fire was split into by its function's fan-out: it
    /// starts beside the fire's other parts, outside the job's
    /// `max_instances`, and is not split again.
    pub(super) part: bool,
}

/// Arguments a run was given instead of its job's.
#[derive(Debug, Clone)]
pub(super) struct GivenArgs {
    /// What the function receives.
    pub(super) value: Arc<Value>,
    /// What the run's row records: `value` with its secrets redacted.
    pub(super) recorded: Arc<Value>,
}

impl RunRequest {
    /// The first attempt of a run for `scheduled_for`.
    pub(super) fn new(scheduled_for: DateTime<Utc>, source: TriggerSource) -> Self {
        Self {
            scheduled_for,
            source,
            attempt: 1,
            lineage: Arc::from(Vec::new()),
            claimed_row: None,
            start_by: None,
            args: None,
            part: false,
        }
    }
}

/// Most runs a job may have waiting behind a running one; past it, fires are recorded as missed.
pub(super) const QUEUE_LIMIT: usize = 1_000;

/// What the scheduler keeps of a valid row: what it needs to fire and run
/// the job, the live columns in its [`JobEntry`], and of the rest only a
/// [`Fingerprint`]. A million jobs fit in a few hundred megabytes this way;
/// whole rows took more than twice that.
#[derive(Debug, Clone)]
pub(super) struct ScheduledJob {
    /// The key, shared with the table and the timer's deadlines.
    pub(super) job_id: Arc<str>,
    pub(super) job_name: Option<Box<str>>,
    /// The registered function, or the name it was looked up by when the
    /// registry has none of that name (each run then fails saying so).
    pub(super) function: Result<Arc<RegisteredFunction>, Box<str>>,
    pub(super) alert_url: Option<Box<str>>,
    pub(super) is_paused: bool,
    pub(super) schedule: Schedule,
    pub(super) args: Arc<Value>,
    pub(super) policy: ExecutionPolicy,
    /// The jobs a successful run triggers (`child_jobs`), in the order written.
    pub(super) children: Box<[Arc<str>]>,
    pub(super) fingerprint: Fingerprint,
    /// The row's [`JobRecord::schedule_basis`](crate::JobRecord::schedule_basis):
    /// its plan basis, paused or not, is written with a plan made without
    /// re-reading the row (pause and resume).
    pub(super) schedule_basis: u64,
}

impl ScheduledJob {
    /// Keeps what the scheduler needs of a compiled row.
    pub(super) fn new(job: CompiledJob, registry: &Registry) -> Self {
        let CompiledJob {
            record,
            schedule,
            args,
            policy,
            children,
        } = job;
        Self {
            fingerprint: record.fingerprint(),
            schedule_basis: record.schedule_basis(),
            job_id: record.job_id.into(),
            job_name: record.job_name.map(String::into_boxed_str),
            function: registry.get(&record.func).cloned().ok_or(record.func.into_boxed_str()),
            alert_url: record.alert_url.map(String::into_boxed_str),
            is_paused: record.is_paused,
            schedule,
            args,
            policy,
            children: children.into_boxed_slice(),
        }
    }

    /// The first fire from `now` (see [`crate::job::first_fire`]).
    pub(super) fn first_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        first_fire_of(&self.schedule, &self.policy, now)
    }
}

/// What a row read again is compared with: the fingerprint and live columns
/// of the job as this scheduler has it, or of the row it could not schedule.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub(super) fingerprint: Fingerprint,
    pub(super) version: i64,
    pub(super) next_run_time: Option<DateTime<Utc>>,
    pub(super) is_paused: bool,
    pub(super) run_right_now: bool,
}

impl Known {
    pub(super) fn of_record(record: &JobRecord) -> Self {
        Self {
            fingerprint: record.fingerprint(),
            version: record.version,
            next_run_time: record.next_run_time,
            is_paused: record.is_paused,
            run_right_now: record.run_right_now,
        }
    }

    /// Whether `row` acts differently ([`JobRecord::behaviour_differs`]).
    /// `fingerprint` is the row's own, computed once by the caller.
    pub(super) fn differs(&self, row: &JobRecord, fingerprint: Fingerprint) -> bool {
        fingerprint != self.fingerprint
            || row.version != self.version
            || row.next_run_time != self.next_run_time
            || row.is_paused != self.is_paused
            || row.run_right_now != self.run_right_now
    }

    /// What the rule for a written row's `next_run_time` needs of this one.
    pub(super) fn before(&self, fingerprint: Fingerprint) -> Before {
        Before {
            schedule_changed: fingerprint.schedule != self.fingerprint.schedule,
            paused: self.is_paused,
        }
    }
}

pub(super) struct JobEntry {
    pub(super) job: Arc<ScheduledJob>,
    /// The row's version as last read or written by this scheduler.
    pub(super) version: i64,
    /// The fire this scheduler waits for (also the row's `next_run_time`).
    pub(super) next: Option<DateTime<Utc>>,
    pub(super) run_right_now: bool,
    /// The row is gone (or became invalid) but runs are still in progress.
    pub(super) retired: bool,
    pub(super) generation: u64,
    /// Its runs in this process; `None` while it has none, which is most
    /// of the time for most jobs (see [`JobEntry::activity`]).
    activity: Option<Box<Activity>>,
}

/// The runs of a job in this process: in progress, and waiting behind them.
#[derive(Debug, Default)]
pub(super) struct Activity {
    pub(super) running: Vec<RunHandle>,
    pub(super) queued: VecDeque<RunRequest>,
}

/// The activity of a job with none.
static IDLE: Activity = Activity {
    running: Vec::new(),
    queued: VecDeque::new(),
};

impl JobEntry {
    /// A new entry for `job`, with the runs it had before (if any).
    pub(super) fn new(
        job: Arc<ScheduledJob>,
        version: i64,
        next: Option<DateTime<Utc>>,
        run_right_now: bool,
        activity: Option<Box<Activity>>,
    ) -> Self {
        Self {
            job,
            version,
            next,
            run_right_now,
            retired: false,
            generation: 0,
            activity,
        }
    }

    /// The runs in progress and waiting.
    pub(super) fn activity(&self) -> &Activity {
        self.activity.as_deref().unwrap_or(&IDLE)
    }

    /// The same, to change.
    pub(super) fn activity_mut(&mut self) -> &mut Activity {
        self.activity.get_or_insert_with(Box::default)
    }

    /// Takes the runs away (to hand them to the entry replacing this one).
    pub(super) fn take_activity(&mut self) -> Option<Box<Activity>> {
        self.activity.take()
    }

    /// Lets go of the activity's memory once it holds nothing.
    pub(super) fn settle(&mut self) {
        if self
            .activity
            .as_ref()
            .is_some_and(|a| a.running.is_empty() && a.queued.is_empty())
        {
            self.activity = None;
        }
    }

    /// Whether a run is in progress.
    pub(super) fn is_running(&self) -> bool {
        !self.activity().running.is_empty()
    }

    /// What a row read again is compared with.
    pub(super) fn known(&self) -> Known {
        Known {
            fingerprint: self.job.fingerprint,
            version: self.version,
            next_run_time: self.next,
            is_paused: self.job.is_paused,
            run_right_now: self.run_right_now,
        }
    }
}

/// A row that failed validation: kept so the query layer can say why.
pub(super) struct InvalidJob {
    pub(super) record: JobRecord,
    pub(super) error: String,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) jobs: JobTable,
    /// The job of every run in progress, by execution id.
    pub(super) runs: HashMap<Arc<str>, Arc<str>>,
    pub(super) invalid: HashMap<Arc<str>, InvalidJob>,
    /// Fires this scheduler is claiming: the job, and the version its
    /// claim gives the row if it wins. The change feed reports that version
    /// as soon as the claim commits, often before the claim's answer is
    /// back; the answer settles it either way (a won claim moves the
    /// entry's version, a lost one reads the row again), so the feed leaves
    /// such a change to it instead of reading the row.
    pub(super) claiming: HashMap<Arc<str>, i64>,
    heap: BinaryHeap<Reverse<Due>>,
    next_generation: u64,
    /// Every deadline pushed is also sent here when an external timer
    /// engine (not the heap's own timer) does the waiting.
    pub(super) external_timer: Option<tokio::sync::mpsc::UnboundedSender<Due>>,
}

impl State {
    /// The entry of a job that still has its row (not retired), or `JobNotFound`.
    pub(super) fn active(&self, job_id: &str) -> crate::Result<&JobEntry> {
        self.jobs
            .get(job_id)
            .filter(|e| !e.retired)
            .ok_or_else(|| crate::Error::JobNotFound {
                job_id: job_id.to_owned(),
            })
    }

    /// The run in progress with this execution id.
    pub(super) fn run(&self, execution_id: &str) -> Option<&RunHandle> {
        let job_id = self.runs.get(execution_id)?;
        self.jobs
            .get(job_id)?
            .activity()
            .running
            .iter()
            .find(|r| r.execution_id.as_ref() == execution_id)
    }

    /// Whether a change of `job_id`'s row to `version` is news to this
    /// scheduler: a version it has not seen, and not the one its own claim
    /// in flight gives the row (see [`State::claiming`]).
    pub(super) fn is_news(&self, job_id: &str, version: i64) -> bool {
        self.known_version(job_id).is_none_or(|known| known < version) && self.claiming.get(job_id) != Some(&version)
    }

    /// The version of the row as this scheduler last saw it, valid or not.
    pub(super) fn known_version(&self, job_id: &str) -> Option<i64> {
        match self.jobs.get(job_id).filter(|e| !e.retired) {
            Some(entry) => Some(entry.version),
            None => self.invalid.get(job_id).map(|i| i.record.version),
        }
    }

    pub(super) fn new_generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Points `job_id`'s entry at `next` and pushes the deadline; returns the
    /// deadline if it is the new earliest one (the timer must be woken).
    pub(super) fn reschedule(&mut self, job_id: &Arc<str>, next: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let generation = self.new_generation();
        let mut entry = self.jobs.get_mut(job_id)?;
        entry.generation = generation;
        entry.next = next;
        let at = next.filter(|_| !entry.job.is_paused && !entry.retired);
        drop(entry);
        let at = at?;
        self.push(Due {
            at,
            generation,
            job_id: job_id.clone(),
        })
    }

    /// Pushes a deadline; returns it if it is the new earliest one.
    fn push(&mut self, due: Due) -> Option<DateTime<Utc>> {
        let at = due.at;
        let earliest = self.earliest();
        if let Some(timer) = &self.external_timer {
            let _ = timer.send(due.clone());
        }
        self.heap.push(Reverse(due));
        earliest.is_none_or(|e| at < e).then_some(at)
    }

    /// Every live deadline (for handing to an external timer engine at start).
    #[cfg(feature = "tokio-cron-scheduler")]
    pub(super) fn live_deadlines(&self) -> Vec<Due> {
        self.heap
            .iter()
            .map(|Reverse(d)| d)
            .filter(|d| self.is_live(d))
            .cloned()
            .collect()
    }

    /// Claims `due` for firing if it is still live (external timer engines).
    #[cfg(feature = "tokio-cron-scheduler")]
    pub(super) fn take_if_live(&mut self, mut due: Due) -> Option<Due> {
        if !self.is_live(&due) {
            return None;
        }
        self.unschedule(&due.job_id);
        due.generation = self.jobs.get(&due.job_id)?.generation;
        Some(due)
    }

    /// Wakes the timer for `job_id` at `wake_at` without changing the fire it waits for.
    pub(super) fn rearm(&mut self, job_id: &Arc<str>, wake_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let generation = self.new_generation();
        if !self.jobs.set_generation(job_id, generation) {
            return None;
        }
        self.push(Due {
            at: wake_at,
            generation,
            job_id: job_id.clone(),
        })
    }

    /// Takes an entry off the timer without removing it (its heap items go stale).
    pub(super) fn unschedule(&mut self, job_id: &str) {
        let generation = self.new_generation();
        self.jobs.set_generation(job_id, generation);
    }

    /// The earliest live deadline, dropping stale heap items on the way.
    pub(super) fn earliest(&mut self) -> Option<DateTime<Utc>> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                return Some(top.at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns every live deadline at or before `now`. Each
    /// returned entry is marked as being fired (its generation moves on), so
    /// it cannot be returned twice.
    pub(super) fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(Reverse(top)) = self.heap.peek() {
            if !self.is_live(top) {
                self.heap.pop();
                continue;
            }
            if top.at > now {
                break;
            }
            let Some(Reverse(item)) = self.heap.pop() else { break };
            due.push(item);
        }
        for item in &mut due {
            self.unschedule(&item.job_id);
            if let Some(entry) = self.jobs.get(&item.job_id) {
                // The firing task owns the entry until it reschedules it; a
                // sync that replaces the entry meanwhile moves this on.
                item.generation = entry.generation;
            }
        }
        due
    }

    fn is_live(&self, due: &Due) -> bool {
        self.jobs
            .get(&due.job_id)
            .is_some_and(|e| e.generation == due.generation)
    }

    /// Drops stale heap items when they outnumber live ones, so a job edited
    /// a million times does not keep a million dead deadlines.
    pub(super) fn compact_if_needed(&mut self) {
        if self.heap.len() > 1024 && self.heap.len() > 2 * self.jobs.len() {
            let items = std::mem::take(&mut self.heap).into_vec();
            let live: Vec<_> = items.into_iter().filter(|Reverse(d)| self.is_live(d)).collect();
            self.heap = BinaryHeap::from(live);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobRecord, ValidationContext, compile};

    fn state_with_job(job_id: &str, version: i64) -> State {
        let record = JobRecord::new(job_id, "f", "interval", "1m");
        let compiled = compile(record, ValidationContext::default()).expect("a valid job");
        let job = Arc::new(ScheduledJob::new(compiled, &crate::registry::Registry::new()));
        let mut state = State::default();
        state
            .jobs
            .insert(job_id.into(), JobEntry::new(job, version, None, false, None));
        state
    }

    #[test]
    fn a_logged_change_is_news_unless_seen_or_the_echo_of_our_own_claim() {
        let mut state = state_with_job("j", 4);
        assert!(!state.is_news("j", 4), "the version held");
        assert!(!state.is_news("j", 3), "an older version");
        assert!(state.is_news("j", 5), "a newer version");
        assert!(state.is_news("other", 1), "a job not held");

        state.claiming.insert("j".into(), 5);
        assert!(!state.is_news("j", 5), "the version our claim in flight writes");
        assert!(state.is_news("j", 6), "a change beyond our claim");
    }
}
