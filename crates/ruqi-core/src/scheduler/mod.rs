//! The engine: one scheduler per process.
//!
//! It keeps every valid job in memory, sleeps until the earliest deadline
//! (a min-heap and one timer; no polling tick), claims each due fire in the
//! store with a compare-and-set before running it, runs it on tokio under a
//! concurrency limit, and writes the outcome and the next fire back.
//!
//! Changes reach it four ways: [`Scheduler::notify_changed`] (called by the
//! sea-orm hooks after a write), the store's change feed (every write by any
//! client, plain SQL included), [`Scheduler::reconcile`] (a full comparison
//! of the table with memory: at start-up, on demand, and when the feed lost
//! track), and its own failed claims (a claim that loses re-reads the row).
//! Several schedulers may share one database: see `cluster.rs`.

mod call;
mod cluster;
mod feed;
mod fire;
mod lease;
mod run;
mod state;
mod sync;
mod table;
#[cfg(feature = "tokio-cron-scheduler")]
mod timer_tcs;

pub use cluster::fire_owner;
pub use sync::{ChangeExpectation, ReconcileReport, UNSCHEDULABLE_PREFIX};

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alert::{AlertConfig, Alerter};
use crate::clock::{Clock, SystemClock};
use crate::events::{EVENT_BUFFER, EventStream, SchedulerEvent};
use crate::execution::TriggerSource;
use crate::job::ValidationContext;
use crate::metrics::Metrics;
use crate::registry::LogSink;
use crate::registry::Registry;
use crate::store::{CancelTarget, ChangeFeed, JobStore, LostRun, NodeInfo};
use crate::{Error, Result};
use serde_json::Value;
use state::State;
use state::{GivenArgs, RunRequest};

static GLOBAL: OnceLock<Scheduler> = OnceLock::new();
static STARTING: Mutex<bool> = Mutex::new(false);

/// Settings of a scheduler; [`SchedulerBuilder`] sets them.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// This process's name in `job_execution.node` (default: host name and process id).
    pub node_name: String,
    /// Most functions running at once in this process (default 256). A run
    /// holds its slot while its function runs; its history row is written
    /// after it has given the slot back.
    pub max_concurrent_runs: usize,
    /// Zone of rows whose `timezone` is NULL (default UTC).
    pub default_timezone: Tz,
    /// Longest the timer sleeps without re-checking the heap (default 60 s):
    /// a guard against a lost wake-up or a stepped wall clock.
    pub safety_recheck: Duration,
    /// How long shutdown waits for running jobs (default 30 s).
    pub shutdown_timeout: Duration,
    /// How long a change announced by a hook may take to become visible
    /// (its transaction to commit) before it is taken as rolled back (default 30 s).
    pub change_confirm_window: Duration,
    /// What waits for the deadlines (default: ruqi's own timer heap).
    pub timer: TimerEngine,
    /// Alert webhooks (default: none but the jobs' own `alert_url`).
    pub alerts: AlertConfig,
    /// The time unit of this node's lease in the node registry (default
    /// 1 s). The node renews its lease twice per interval (four times while
    /// renewals fail) and looks for dead peers as often. One that has not
    /// renewed it for [`fence_after`](Self::fence_after) (two intervals)
    /// fences itself: it starts no run and cancels the runs it has going.
    /// Its peers take it for dead only after
    /// [`dead_after`](Self::dead_after) (three intervals) of silence during
    /// which their own renewals went through, so a database that was down
    /// for everyone makes no node dead, and a node cut off alone has
    /// stopped its runs before a peer marks them `lost` and runs them again.
    pub heartbeat_interval: Duration,
    /// How long before its instant a fire is claimed (default 10 ms). The
    /// claim's write then happens while the timer would otherwise sleep, and
    /// the function starts at the instant itself; an edit committed within
    /// this window before the instant applies from the next fire on.
    pub claim_ahead: Duration,
    /// How long the other nodes leave a scheduled fire to the node that owns
    /// it before they claim it themselves (default 2 s).
    ///
    /// With several live nodes on one database, each job's scheduled fires
    /// belong to one of them, chosen by hashing the job id against the live
    /// node names (rendezvous hashing), so the nodes share the work evenly
    /// instead of racing for every row. A fire its owner has not claimed this
    /// long after its instant — the owner died, hangs or is far behind — is
    /// claimed by the node next in the job's ranking (the one after it waits
    /// twice as long, and so on), after it has read the row again, with the
    /// same compare-and-set as ever; once a dead node leaves the registry,
    /// its jobs move to the live ones. Zero turns ownership off: every node
    /// races for every fire.
    pub takeover_after: Duration,
}

impl SchedulerConfig {
    /// How long a node's lease lasts: how old its last heartbeat must be, by
    /// the database's clock, before a peer whose own heartbeats went through
    /// all that time takes it for dead: three heartbeat intervals (3 s by
    /// default). Peers look twice per interval, so a killed node's runs are
    /// marked `lost`, and run again, within three and a half intervals of its
    /// last heartbeat.
    pub fn dead_after(&self) -> Duration {
        self.heartbeat_interval * 3
    }

    /// How long a node goes on without renewing its lease before it fences
    /// itself (starts nothing, cancels its runs): two heartbeat intervals,
    /// one interval before any peer may take it for dead.
    pub fn fence_after(&self) -> Duration {
        self.heartbeat_interval * 2
    }
}

/// What waits for the deadlines. Everything else — claims, misfires,
/// overlap, history — is the same whichever is chosen.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimerEngine {
    /// A min-heap and one timer sleeping until the earliest deadline (the default).
    #[default]
    Heap,
    /// One one-shot job per deadline in `tokio-cron-scheduler`, which checks
    /// its jobs on a 500 ms tick. Kept so the benchmark can compare the two.
    #[cfg(feature = "tokio-cron-scheduler")]
    TokioCronScheduler,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            node_name: default_node_name(),
            max_concurrent_runs: 256,
            default_timezone: Tz::UTC,
            safety_recheck: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            change_confirm_window: Duration::from_secs(30),
            timer: TimerEngine::Heap,
            heartbeat_interval: Duration::from_secs(1),
            alerts: AlertConfig::default(),
            claim_ahead: Duration::from_millis(10),
            takeover_after: Duration::from_secs(2),
        }
    }
}

fn default_node_name() -> String {
    let host = cluster::host_name().unwrap_or_else(|| "node".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Builds and starts the process-wide [`Scheduler`].
pub struct SchedulerBuilder {
    store: Arc<dyn JobStore>,
    registry: Registry,
    config: SchedulerConfig,
    clock: Arc<dyn Clock>,
}

impl SchedulerBuilder {
    /// Sets the node name written to `job_execution.node`.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.config.node_name = name.into();
        self
    }

    /// Sets the most runs in progress at once.
    pub fn max_concurrent_runs(mut self, n: usize) -> Self {
        self.config.max_concurrent_runs = n.max(1);
        self
    }

    /// Sets the zone of rows whose `timezone` is NULL.
    pub fn default_timezone(mut self, tz: Tz) -> Self {
        self.config.default_timezone = tz;
        self
    }

    /// Chooses what waits for the deadlines.
    pub fn timer(mut self, timer: TimerEngine) -> Self {
        self.config.timer = timer;
        self
    }

    /// The time unit of this node's lease (default 1 s); see [`SchedulerConfig::heartbeat_interval`].
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// How long before its instant a fire is claimed (default 10 ms, at most
    /// 1 s); see [`SchedulerConfig::claim_ahead`].
    pub fn claim_ahead(mut self, lead: Duration) -> Self {
        self.config.claim_ahead = lead.min(Duration::from_secs(1));
        self
    }

    /// How long other nodes leave a fire to its owner before claiming it
    /// (default 2 s; zero: every node races for every fire); see
    /// [`SchedulerConfig::takeover_after`].
    pub fn takeover_after(mut self, wait: Duration) -> Self {
        self.config.takeover_after = wait;
        self
    }

    /// Sets the alert webhooks; see [`AlertConfig`].
    pub fn alerts(mut self, alerts: AlertConfig) -> Self {
        self.config.alerts = alerts;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: SchedulerConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses `clock` instead of the system clock (tests, simulations).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts the scheduler and installs it as this process's one scheduler.
    ///
    /// Loads and validates every row, schedules the valid ones, records why
    /// the others cannot run, and starts the timer. Call it once, before the
    /// web server spawns its workers; a second call returns
    /// [`Error::AlreadyStarted`] and starts nothing.
    pub async fn start(self) -> Result<Scheduler> {
        {
            let mut starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(existing) = GLOBAL.get() {
                return Err(Error::AlreadyStarted {
                    node: existing.inner.config.node_name.clone(),
                });
            }
            if *starting {
                return Err(Error::AlreadyStarted {
                    node: self.config.node_name.clone(),
                });
            }
            *starting = true;
        }
        let result = self.start_inner().await;
        let mut starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        *starting = false;
        result
    }

    async fn start_inner(self) -> Result<Scheduler> {
        let (revision, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            permits: Arc::new(Semaphore::new(self.config.max_concurrent_runs)),
            fire_slots: Arc::new(Semaphore::new(fire::FIRES_IN_FLIGHT)),
            started_at: self.clock.now(),
            store: self.store,
            registry: Arc::new(self.registry),
            clock: self.clock,
            config: self.config.clone(),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            revision,
            table_revision: AtomicU64::new(0),
            view_revision: AtomicU64::new(0),
            pending_changes: AtomicUsize::new(0),
            nodes: Mutex::new(Vec::new()),
            lease: lease::Lease::new(),
            events: broadcast::channel(EVENT_BUFFER).0,
            metrics: Metrics::new(),
            alerter: Alerter::start(&self.config.alerts, &self.config.node_name),
        });
        let (feed, lost) = inner.clone().start_following().await?;
        let scheduler = Scheduler { inner: inner.clone() };
        // Installed before the first load so that a hook firing during the
        // load queues its change instead of being lost.
        GLOBAL.set(scheduler.clone()).map_err(|_| Error::AlreadyStarted {
            node: inner.config.node_name.clone(),
        })?;
        // The lease is renewed while the schedule loads (seconds, at a
        // million jobs): the timer starts with it held, and no peer takes
        // this node for dead meanwhile.
        let report = inner.keep_lease_during(inner.reconcile_all()).await?;
        tracing::info!(
            node = %inner.config.node_name,
            scheduled = report.scheduled,
            invalid = report.invalid,
            "ruqi scheduler started"
        );
        match inner.config.timer {
            TimerEngine::Heap => {
                let timer = inner.clone();
                inner.tasks.spawn(async move { timer.run_timer().await });
            }
            #[cfg(feature = "tokio-cron-scheduler")]
            TimerEngine::TokioCronScheduler => timer_tcs::start(inner.clone()).await?,
        }
        if let Some(feed) = feed {
            let follower = inner.clone();
            inner.tasks.spawn(async move { follower.follow_changes(feed).await });
        }
        let heart = inner.clone();
        inner.tasks.spawn(async move { heart.keep_lease().await });
        let guard = inner.clone();
        inner.tasks.spawn(async move { guard.guard_lease().await });
        if !lost.is_empty() {
            let reaper = inner.clone();
            inner.tasks.spawn(async move { reaper.rerun_lost(lost).await });
        }
        Ok(scheduler)
    }
}

/// The process-wide job scheduler. Cheap to clone; all clones are the same scheduler.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("node", &self.inner.config.node_name)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    config: SchedulerConfig,
    state: Mutex<State>,
    /// Wakes the timer when a deadline earlier than the one it sleeps for appears.
    wake: Notify,
    permits: Arc<Semaphore>,
    /// One per fire waiting for its claim ([`fire::FIRES_IN_FLIGHT`]).
    fire_slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    started_at: DateTime<Utc>,
    /// Bumped whenever the scheduler's view of a job changes or a run ends.
    revision: watch::Sender<u64>,
    /// Moves on whenever a row of `job_info` may have changed: with every
    /// revision, and at once when a write is announced (before it is applied).
    table_revision: AtomicU64,
    /// Moves on after every change of [`State`] (see [`StateGuard`]).
    view_revision: AtomicU64,
    pending_changes: AtomicUsize,
    /// The live nodes as the last heartbeat saw them.
    nodes: Mutex<Vec<NodeInfo>>,
    /// This node's lease in the node registry.
    lease: lease::Lease,
    /// Where events are published.
    events: broadcast::Sender<SchedulerEvent>,
    metrics: Metrics,
    alerter: Alerter,
}

/// The live state of one job, for overlaying on its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveJob {
    /// The fire the scheduler waits for; `None` when paused, finished or not schedulable.
    pub next_run_time: Option<DateTime<Utc>>,
    /// Runs in progress in this process.
    pub running: u32,
    /// Runs waiting in this process for one in progress to end (`overlap =
    /// queue`, or a fire that came due before a late run took its place).
    pub queued: u32,
    /// Whether the scheduler holds the job on its timer.
    pub scheduled: bool,
    /// Why the row cannot be scheduled, when it cannot.
    pub error: Option<String>,
}

/// What a cancellation reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CancelOutcome {
    /// Runs in this process told to stop.
    pub here: usize,
    /// Runs on other nodes asked to stop (at their next heartbeat).
    pub elsewhere: u64,
}

/// What the scheduler is doing (RuQi's `scheduler_status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerStatus {
    /// This process's node name.
    pub node: String,
    /// When the scheduler started.
    pub started_at: DateTime<Utc>,
    /// Valid jobs held in memory.
    pub jobs: usize,
    /// Jobs waiting on the timer.
    pub scheduled: usize,
    /// Paused jobs.
    pub paused: usize,
    /// Rows that cannot be scheduled.
    pub invalid: usize,
    /// Runs in progress in this process.
    pub running: usize,
    /// The earliest deadline.
    pub next_wakeup: Option<DateTime<Utc>>,
    /// Whether shutdown has begun.
    pub shutting_down: bool,
    /// The live scheduler nodes on this database (this one included), as of
    /// the last heartbeat; empty for a store without a node registry.
    pub nodes: Vec<NodeInfo>,
}

impl Scheduler {
    /// Starts building the scheduler over `store` with the functions in `registry`.
    pub fn builder(store: Arc<dyn JobStore>, registry: Registry) -> SchedulerBuilder {
        SchedulerBuilder {
            store,
            registry,
            config: SchedulerConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The scheduler of this process, once started.
    pub fn global() -> Option<&'static Scheduler> {
        GLOBAL.get()
    }

    /// The functions jobs may name.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Its configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.inner.config
    }

    /// The clock it reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// What validation of a row consults: this scheduler's registry and default zone.
    pub fn validation_context(&self) -> ValidationContext<'_> {
        ValidationContext {
            registry: Some(&self.inner.registry),
            default_timezone: self.inner.config.default_timezone,
        }
    }

    /// Announces that the row `job_id` was written (or deleted). The scheduler
    /// re-reads it through its own connection, so a write whose transaction
    /// has not committed yet is applied once it commits and never if it rolls
    /// back. Returns at once.
    pub fn notify_changed(&self, job_id: &str, expect: ChangeExpectation) {
        self.inner.table_revision.fetch_add(1, Ordering::AcqRel);
        self.inner.clone().spawn_change_sync(job_id.to_owned(), expect);
    }

    /// A number that moves on whenever this scheduler learns that a row of
    /// `job_info` may have changed: a write announced through the hooks (at
    /// once), a change read from the feed, a reconcile. Anything derived from
    /// the table alone (the query layer's counts) stays valid while it stays.
    pub fn table_revision(&self) -> u64 {
        self.inner.table_revision.load(Ordering::Acquire)
    }

    /// A number that moves on after every change of this scheduler's state
    /// of its jobs and runs — what [`Scheduler::live`] tells of any job —
    /// once the change is made. Something read from [`Scheduler::live`]
    /// after reading this number is still what `live` would tell while the
    /// number stays.
    pub fn view_revision(&self) -> u64 {
        self.inner.view_revision.load(Ordering::Acquire)
    }

    /// Compares the whole table with memory and brings memory in line:
    /// new rows are scheduled, changed rows rescheduled, deleted rows
    /// dropped, invalid rows marked. Writes that bypass the hooks (bulk
    /// `update_many`, raw SQL) are picked up this way.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        self.inner.reconcile_all().await
    }

    /// Re-reads one row and applies it now.
    pub async fn sync_job(&self, job_id: &str) -> Result<()> {
        self.inner.sync_job(job_id).await
    }

    /// Runs the job once now (trigger source `manual`), whatever its
    /// schedule, honouring its overlap policy. Returns the execution id at
    /// once, before the run ends, or `None` when the overlap policy skipped it
    /// (a `missed` row says so) or queued it.
    pub async fn run_now(&self, job_id: &str) -> Result<Option<String>> {
        let job = self.inner.compiled(job_id)?;
        let at = self.inner.clock.now();
        Ok(self
            .inner
            .clone()
            .start_run(job, RunRequest::new(at, TriggerSource::Manual))
            .await)
    }

    /// As [`run_now`](Self::run_now), with `args` given to this one run
    /// (and its retries) instead of the job's own; the job is not changed,
    /// and the run's `job_execution` row records them, with the values the
    /// function marks secret replaced by
    /// [`REDACTED`](crate::registry::REDACTED). They are checked
    /// against the function's argument schema first: a misfit fails with
    /// [`Error::Invalid`](crate::Error::Invalid) naming the argument (under
    /// `args`) and starts nothing, as do arguments longer than
    /// [`RUN_ARGS_MAX_BYTES`](crate::execution::RUN_ARGS_MAX_BYTES) as JSON.
    pub async fn run_now_with_args(&self, job_id: &str, args: Value) -> Result<Option<String>> {
        let job = self.inner.compiled(job_id)?;
        crate::execution::check_run_args(&args)?;
        let function = match &job.function {
            Ok(function) => function,
            Err(name) => return Err(self.inner.registry.unknown(name).into()),
        };
        function.validate_args(&args)?;
        let mut recorded = args.clone();
        function.redact_args(&mut recorded);
        let at = self.inner.clock.now();
        let req = RunRequest {
            args: Some(GivenArgs {
                value: Arc::new(args),
                recorded: Arc::new(recorded),
            }),
            ..RunRequest::new(at, TriggerSource::Manual)
        };
        Ok(self.inner.clone().start_run(job, req).await)
    }

    /// The job's next `n` fire instants: its pending `next_run_time` first,
    /// then what its schedule gives after it. Empty when paused or finished.
    pub fn preview(&self, job_id: &str, n: usize) -> Result<Vec<DateTime<Utc>>> {
        let state = self.inner.read();
        let entry = state.active(job_id)?;
        let Some(next) = entry.next.filter(|_| n > 0 && !entry.job.is_paused) else {
            return Ok(Vec::new());
        };
        let mut fires = vec![next];
        fires.extend(entry.job.schedule.preview(next, n - 1));
        Ok(fires)
    }

    /// Pauses the job: no fire until it is resumed. Writes `is_paused` and
    /// `next_run_time = NULL` to the row, by a compare-and-set that is tried
    /// again from the row as it is whenever another write won; fails with
    /// [`Error::Conflict`](crate::Error::Conflict), changing nothing, only
    /// if the row kept changing through every attempt.
    pub async fn pause(&self, job_id: &str) -> Result<()> {
        self.inner.set_paused(job_id, true).await
    }

    /// Resumes a paused job from its next fire after now. Concurrent writes
    /// of the row: as for [`pause`](Self::pause).
    pub async fn resume(&self, job_id: &str) -> Result<()> {
        self.inner.set_paused(job_id, false).await
    }

    /// Cancels every run of the job in progress in this process; returns how many.
    pub fn cancel_running(&self, job_id: &str) -> usize {
        let state = self.inner.lock();
        let Some(entry) = state.jobs.get(job_id) else { return 0 };
        for run in &entry.activity().running {
            run.cancel("cancelled by request");
        }
        entry.activity().running.len()
    }

    /// Cancels every run of the job in progress, here and on the other nodes
    /// sharing the database. Runs here stop at once; the other nodes pick the
    /// request up at their next heartbeat (within half a heartbeat interval).
    /// Each run is recorded as `cancelled` once it has stopped.
    pub async fn cancel_job(&self, job_id: &str) -> Result<CancelOutcome> {
        let here = self.cancel_running(job_id);
        let elsewhere = self
            .inner
            .store
            .request_cancel(&CancelTarget::Job(job_id.to_owned()), &self.inner.config.node_name)
            .await?;
        Ok(CancelOutcome { here, elsewhere })
    }

    /// Cancels one execution, on whichever node runs it (see [`cancel_job`](Self::cancel_job)).
    /// Both counts are 0 when it is not running.
    pub async fn cancel_execution(&self, execution_id: &str) -> Result<CancelOutcome> {
        if let Some(run) = self.inner.lock().run(execution_id).filter(|run| !run.is_recorded()) {
            run.cancel("cancelled by request");
            return Ok(CancelOutcome { here: 1, elsewhere: 0 });
        }
        let elsewhere = self
            .inner
            .store
            .request_cancel(
                &CancelTarget::Execution(execution_id.to_owned()),
                &self.inner.config.node_name,
            )
            .await?;
        Ok(CancelOutcome { here: 0, elsewhere })
    }

    /// The log of a run in progress in this process, for tailing it; `None`
    /// once it has ended (its `job_execution.output` holds it then) or when
    /// another node runs it (its row holds the log up to a second ago).
    pub fn run_log(&self, execution_id: &str) -> Option<LogSink> {
        self.inner
            .read()
            .run(execution_id)
            .filter(|run| !run.is_recorded())
            .map(|run| run.log.clone())
    }

    /// The live state of a job, or `None` if this scheduler does not know it.
    pub fn live(&self, job_id: &str) -> Option<LiveJob> {
        let state = self.inner.read();
        if let Some(entry) = state.jobs.get(job_id) {
            return Some(LiveJob {
                next_run_time: if entry.retired { None } else { entry.next },
                running: u32::try_from(entry.activity().running.len()).unwrap_or(u32::MAX),
                queued: u32::try_from(entry.activity().queued.len()).unwrap_or(u32::MAX),
                scheduled: !entry.retired && entry.next.is_some(),
                error: None,
            });
        }
        state.invalid.get(job_id).map(|invalid| LiveJob {
            next_run_time: None,
            running: 0,
            queued: 0,
            scheduled: false,
            error: Some(invalid.error.clone()),
        })
    }

    /// Counts and the next wake-up.
    pub fn status(&self) -> SchedulerStatus {
        // `earliest` drops stale timer entries: nothing a job's view shows.
        let mut state = self.inner.read();
        let next_wakeup = state.earliest();
        let tally = state.jobs.tally();
        SchedulerStatus {
            node: self.inner.config.node_name.clone(),
            started_at: self.inner.started_at,
            jobs: tally.jobs,
            scheduled: tally.scheduled,
            paused: tally.paused,
            invalid: state.invalid.len(),
            running: tally.running,
            next_wakeup,
            shutting_down: self.inner.shutdown.is_cancelled(),
            nodes: self.inner.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Wakes the timer to re-check its deadlines now.
    pub fn wake_up(&self) {
        self.inner.wake.notify_one();
    }

    /// A receiver that changes whenever a job is added, changed, removed or
    /// finishes a run: tests and UIs wait on it instead of sleeping.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.inner.revision.subscribe()
    }

    /// Subscribes to this scheduler's [events](crate::SchedulerEvent) from now on:
    /// jobs added, modified and removed, runs submitted, succeeded, failed,
    /// timed out and cancelled, fires missed or skipped by the overlap policy.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.events.subscribe())
    }

    /// The scheduler's metrics in the Prometheus text exposition format:
    /// executions by status, run duration and fire lateness histograms, jobs
    /// by state, runs in progress and change-feed lag.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render_at(&self.status(), self.inner.clock.now())
    }

    /// Hook notifications still waiting for their write to become visible.
    pub fn pending_changes(&self) -> usize {
        self.inner.pending_changes.load(Ordering::Acquire)
    }

    /// Stops firing, waits up to the configured shutdown timeout for running
    /// jobs, then cancels the rest and records them as `cancelled`.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.wake.notify_one();
        self.inner.tasks.close();
        let waited = tokio::time::timeout(self.inner.config.shutdown_timeout, self.inner.tasks.wait()).await;
        if waited.is_err() {
            self.inner
                .cancel_all_runs("the scheduler shut down before the run finished");
            // Cancelled runs record themselves at once; give them a moment to write.
            let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tasks.wait()).await;
        }
        if let Err(error) = self.inner.store.deregister_node(&self.inner.config.node_name).await {
            tracing::warn!(node = %self.inner.config.node_name, %error, "leaving the node registry failed");
        }
        tracing::info!(node = %self.inner.config.node_name, "ruqi scheduler stopped");
    }
}

impl Inner {
    /// Before the start-up load: opens the change feed (so nothing written
    /// during the load is missed) and joins the node registry (taking over
    /// the runs of a dead node of the same name).
    async fn start_following(self: Arc<Self>) -> Result<(Option<Box<dyn ChangeFeed>>, Vec<LostRun>)> {
        let feed = self.store.open_change_feed().await?;
        let lost = self.register().await?;
        let sent = tokio::time::Instant::now();
        let beat = self.store.heartbeat(&self.node_info()).await?;
        self.lease_renewed(sent, beat);
        Ok((feed, lost))
    }

    /// Joins the node registry. A node of the same name whose lease has not
    /// run out yet (this process's predecessor, killed a moment ago) is
    /// waited for, up to its lease and a heartbeat interval more; a name
    /// still in use after that is an error.
    async fn register(&self) -> Result<Vec<LostRun>> {
        let patience = self.config.dead_after() + self.config.heartbeat_interval;
        let give_up = tokio::time::Instant::now() + patience;
        let mut told = false;
        loop {
            match self
                .store
                .register_node(&self.node_info(), self.config.dead_after())
                .await
            {
                Err(Error::NodeNameInUse { .. }) if tokio::time::Instant::now() < give_up => {
                    if !told {
                        tracing::warn!(
                            node = %self.config.node_name,
                            "a node of this name is registered and its lease has not run out; waiting for it"
                        );
                        told = true;
                    }
                    tokio::time::sleep(self.config.heartbeat_interval / 4).await;
                }
                registered => return registered,
            }
        }
    }

    /// The state, to change: the view revision moves on once the guard is dropped.
    fn lock(&self) -> StateGuard<'_> {
        StateGuard {
            state: self.read(),
            view_revision: &self.view_revision,
        }
    }

    /// The state, to read (or to change only what no view shows).
    fn read(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes an event: metrics count it, the alerter sends what alerts
    /// (to `alert_url`, the job's own webhook, or the default), and the
    /// subscribers receive it. Never waits.
    fn emit(&self, event: SchedulerEvent, alert_url: Option<&str>) {
        self.metrics.observe(&event);
        self.alerter.offer(&event, alert_url);
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    fn bump_revision(&self) {
        self.table_revision.fetch_add(1, Ordering::AcqRel);
        self.revision.send_modify(|r| *r += 1);
    }

    fn validation_context(&self) -> ValidationContext<'_> {
        ValidationContext {
            registry: Some(&self.registry),
            default_timezone: self.config.default_timezone,
        }
    }

    fn compiled(&self, job_id: &str) -> Result<Arc<state::ScheduledJob>> {
        let state = self.read();
        state.active(job_id).map(|e| e.job.clone())
    }

    /// Applies a reschedule result: wakes the timer when a new earliest deadline appeared.
    fn wake_if_earlier(&self, earlier: Option<DateTime<Utc>>) {
        if earlier.is_some() {
            self.wake.notify_one();
        }
    }

    /// The timer: sleep until the earliest deadline (or a wake-up), then fire what is due.
    async fn run_timer(self: Arc<Self>) {
        loop {
            let now = self.clock.now();
            // `earliest` drops stale timer entries: nothing a job's view shows.
            let earliest = self.read().earliest();
            let recheck =
                now + chrono::Duration::from_std(self.config.safety_recheck).unwrap_or(chrono::Duration::seconds(60));
            let ahead = duration_to_chrono(self.config.claim_ahead);
            // Woken `claim_ahead` early: the fires are claimed now and their
            // functions started at their instant (see `fire_due`).
            let deadline = earliest.map_or(recheck, |e| (e - ahead).min(recheck));
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = self.clock.sleep_until(deadline) => {}
            }
            if self.shutdown.is_cancelled() {
                return;
            }
            let now = self.clock.now();
            let (due, later) = {
                let mut state = self.lock();
                let due = state.pop_due(now + ahead);
                let split = self.leave_to_owners(&mut state, due, now);
                state.compact_if_needed();
                split
            };
            if !later.is_empty() {
                let inner = self.clone();
                self.tasks.spawn(async move { inner.take_over(later).await });
            }
            // Fires due at one instant go out in the heap's order: for jobs
            // loaded together that is the order the database returned them
            // in, close to the order their rows are stored in, so a batch of
            // claims or run ends touches neighbouring rows and pages.
            for item in due {
                if !self.spawn_fire(item).await {
                    return;
                }
            }
        }
    }
}

pub(crate) fn duration_to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The scheduler's state held to be changed: dropping it moves the view
/// revision on, after the change and before the lock is released, so a
/// reader that took the revision before reading the state never keeps a
/// view older than the revision it holds.
struct StateGuard<'a> {
    state: MutexGuard<'a, State>,
    view_revision: &'a AtomicU64,
}

impl Deref for StateGuard<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.view_revision.fetch_add(1, Ordering::AcqRel);
    }
}
