//! The center's side of a run: the built-in function `xxl`, which sends a
//! run to an executor of an app and follows it until its callback.
//!
//! A run of an `xxl` job
//! 1. numbers the job (`jobId`, [`ruqi::query::xxl_job_number`]) and lists
//!    the app's addresses: those given by hand, else its live executors
//!    from the shared registry;
//! 2. picks one by the job's route (`route.rs`; FAILOVER and BUSYOVER ask
//!    each executor in turn), and writes why in the run's log. A
//!    SHARDING_BROADCAST fire is split before it starts (the function's
//!    fan-out): one run per live executor, each its own row whose args name
//!    its `shard`, each sent to the executor at its shard's place;
//! 3. records the dispatch, which gives it its `logId`, and POSTs `/run`
//!    (`client.rs`); a refusal fails the run at once, and the job's retry
//!    policy decides about a new attempt with a new `logId`;
//! 4. waits for the callback: on this node it arrives through memory, on
//!    any other node through the `xxl_dispatch` row, which one task per node
//!    reads every second for all its waiting runs at once. Meanwhile the
//!    executor's log is copied into the run's log (`/log`): every second
//!    while it grows, at most every 8 s while it is quiet;
//! 5. ends with the result: code 200 a success with `handleMsg` as output,
//!    502 (or a failure once the job's `timeout_s` has passed) a timeout,
//!    anything else a failure.
//!
//! A run stopped by the engine (cancelled, timed out, replaced) is killed
//! on its executor at once (`/kill`), and the runs the executor dropped
//! with it are closed. A run whose executor left the registry and has not
//! called back within [`XxlOptions::lost_after`] ends `lost`, and runs
//! again as any lost run does (within `misfire_grace_s`, or under
//! `misfire_policy = run_once`).

mod args;
mod client;
mod route;

pub use args::{BlockStrategy, Route, Shard, XxlArgs};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use ruqi::query::{
    DispatchResult, close_dropped_dispatches, complete_dispatch, dispatch_addresses, dispatch_results, live_addresses,
    record_dispatch, registered_forms, xxl_job_number,
};
use ruqi::{JobContext, JobError, Registry};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::api::ExecutorApi;
use client::{ExecutorClient, Trigger};
use route::RouteState;

/// The name the function is registered under.
pub const XXL_FUNCTION: &str = "xxl";

/// How often a node reads the results of its runs' dispatches that other nodes took, and a
/// waiting run the executor's log while it grows.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The longest a waiting run goes without reading the executor's log while it is quiet.
const LOG_QUIET_EVERY: Duration = Duration::from_secs(8);

/// The code of a success in `handleCode`.
const HANDLE_SUCCESS: i32 = 200;

/// The code of a timeout in `handleCode`.
const HANDLE_TIMEOUT: i32 = 502;

/// The code a failure is recorded with.
const HANDLE_FAILURE: i32 = 500;

/// How the center dispatches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XxlOptions {
    /// The token sent to executors and asked of them (`XXL-JOB-ACCESS-TOKEN`); `None`: none.
    pub access_token: Option<String>,
    /// How long a run may wait for its callback once its executor has left the registry
    /// before it fails as lost (xxl-job: 10 minutes).
    pub lost_after: Duration,
}

impl Default for XxlOptions {
    fn default() -> Self {
        Self {
            access_token: None,
            lost_after: Duration::from_secs(600),
        }
    }
}

/// The callbacks this node's runs wait for, by `logId`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Waiters(Arc<Mutex<HashMap<i64, oneshot::Sender<DispatchResult>>>>);

impl Waiters {
    fn insert(&self, log_id: i64) -> oneshot::Receiver<DispatchResult> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(log_id, tx);
        rx
    }

    fn forget(&self, log_id: i64) {
        self.lock().remove(&log_id);
    }

    /// The `logId`s runs here wait for.
    fn open(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    /// Hands `result` to the run waiting for `log_id` here, if any; returns whether one took it.
    pub(crate) fn deliver(&self, log_id: i64, result: DispatchResult) -> bool {
        match self.lock().remove(&log_id) {
            // A run that stopped waiting reads nothing: it has ended.
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, oneshot::Sender<DispatchResult>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes a result to its dispatch row and wakes the run waiting for it on this node; returns
/// whether the row took it (false: unknown, or it already had one).
pub(crate) async fn complete(
    db: &DatabaseConnection,
    waiters: &Waiters,
    log_id: i64,
    result: DispatchResult,
) -> Result<bool, ruqi::Error> {
    let written = complete_dispatch(db, log_id, &result, Utc::now()).await?;
    if written {
        waiters.deliver(log_id, result);
    }
    Ok(written)
}

/// `future` outside the run's span: the database driver's statement log
/// belongs in the process's log, not in the run's.
fn quiet<F: Future>(future: F) -> tracing::instrument::Instrumented<F> {
    future.instrument(tracing::Span::none())
}

/// An XXL-JOB scheduling center over a ruqi database: the `xxl` function that dispatches runs
/// to executors, and the executor API ([`XxlCenter::executor_api`]) they register and call
/// back with. Build one per process and give both to every place that needs them.
///
/// ```
/// use ruqi_xxl::{DEFAULT_PREFIX, XxlCenter, XxlOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi::migrate(&db).await?;
/// let center = XxlCenter::new(db.clone(), XxlOptions::default());
///
/// let mut registry = ruqi::Registry::new();
/// center.register(&mut registry);
/// assert!(registry.validate_args("xxl", &serde_json::json!({"app": "billing", "handler": "close_day"})).is_ok());
/// assert!(registry.validate_args("xxl", &serde_json::json!({"app": "billing", "handler": "h", "route": "NEAREST"})).is_err());
///
/// let app = poem::Route::new().nest(DEFAULT_PREFIX, center.executor_api().endpoint());
/// # drop(app);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct XxlCenter {
    inner: Arc<Center>,
}

#[derive(Debug)]
struct Center {
    db: DatabaseConnection,
    client: ExecutorClient,
    options: XxlOptions,
    waiters: Waiters,
    routes: RouteState,
    /// The `jobId` of each job run here so far (`xxl_job` never changes a job's number).
    numbers: Mutex<HashMap<String, i32>>,
    /// Set once the reader of results that arrived on other nodes runs.
    reading_results: std::sync::OnceLock<()>,
}

impl XxlCenter {
    /// A center over `db` (migrated with `ruqi::migrate`).
    pub fn new(db: DatabaseConnection, mut options: XxlOptions) -> Self {
        options.access_token = options
            .access_token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        Self {
            inner: Arc::new(Center {
                db,
                client: ExecutorClient::new(options.access_token.clone()),
                options,
                waiters: Waiters::default(),
                routes: RouteState::default(),
                numbers: Mutex::default(),
                reading_results: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The executor API of this center: callbacks that arrive through it wake this node's
    /// waiting runs at once (those of other nodes read the database).
    pub fn executor_api(&self) -> ExecutorApi {
        ExecutorApi::with_waiters(self.inner.db.clone(), self.inner.waiters.clone())
            .access_token(self.inner.options.access_token.as_deref())
    }

    /// Registers the function `xxl` (args: [`XxlArgs`]) in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let center = self.clone();
        registry
            .register_typed(XXL_FUNCTION, move |ctx: JobContext, args: XxlArgs| {
                let center = center.clone();
                async move { center.run(&ctx, &args).await }
            })
            .fan_out({
                let center = self.clone();
                move |args| {
                    let center = center.clone();
                    async move { center.shards(&args).await }
                }
            })
            .description(
                "Runs a handler on an XXL-JOB executor of an app and waits for its callback. Args: {app, handler, \
                 params, route (FIRST, LAST, ROUND, RANDOM, CONSISTENT_HASH, LEAST_FREQUENTLY_USED, \
                 LEAST_RECENTLY_USED, FAILOVER, BUSYOVER, SHARDING_BROADCAST), block_strategy (SERIAL_EXECUTION, \
                 DISCARD_LATER, COVER_EARLY)}.",
            );
    }

    /// One run of an `xxl` job.
    async fn run(&self, ctx: &JobContext, args: &XxlArgs) -> Result<Option<String>, JobError> {
        let db = &self.inner.db;
        let job_number = self.job_number(ctx.job_id()).await?;
        let addresses = quiet(dispatch_addresses(db, &args.app, Utc::now()))
            .await
            .map_err(|e| JobError::new(format!("reading the executor registry failed: {e}")))?;
        if addresses.is_empty() {
            return Err(JobError::new(format!(
                "no live executor of app `{}`: none has registered in the last 90 s, and it has no addresses given \
                 by hand",
                args.app
            )));
        }
        if args.route == Route::ShardingBroadcast {
            let shard = args.shard.unwrap_or(Shard::WHOLE);
            if shard.index >= shard.total {
                return Err(JobError::abort(format!(
                    "args/shard: index {} is not below total {}",
                    shard.index, shard.total
                )));
            }
            // The executors may have changed since the fire was split (a retry, a lost shard
            // run again): the shard goes to the one at its place among those live now, or to
            // the first when fewer are live, as xxl-job re-sends a shard.
            let address = addresses.get(shard.index as usize).unwrap_or(&addresses[0]);
            ctx.log(format!(
                "route SHARDING_BROADCAST: shard {} of {} to {address} ({} live executor(s) of app `{}`)",
                shard.index,
                shard.total,
                addresses.len(),
                args.app
            ));
            return self.dispatch(ctx, args, job_number, address, shard).await;
        }
        let address = self.choose(ctx, args, job_number, &addresses).await?;
        self.dispatch(ctx, args, job_number, &address, Shard::WHOLE).await
    }

    /// The runs a SHARDING_BROADCAST fire becomes: its args with one `shard` per live
    /// executor of the app. Nothing for other routes, for a run that is a shard already, or
    /// when the registry cannot be read (the run then says why itself).
    async fn shards(&self, args: &serde_json::Value) -> Vec<serde_json::Value> {
        let Ok(parsed) = XxlArgs::deserialize(args) else {
            return Vec::new();
        };
        if parsed.route != Route::ShardingBroadcast || parsed.shard.is_some() {
            return Vec::new();
        }
        let Ok(addresses) = quiet(dispatch_addresses(&self.inner.db, &parsed.app, Utc::now())).await else {
            return Vec::new();
        };
        let total = u32::try_from(addresses.len()).unwrap_or(u32::MAX);
        (0..total)
            .map(|index| {
                let mut part = args.clone();
                if let Some(fields) = part.as_object_mut() {
                    fields.insert("shard".to_owned(), serde_json::json!(Shard { index, total }));
                }
                part
            })
            .collect()
    }

    /// Starts, the first time, the task that reads once a second the results of this node's
    /// dispatches that reached another node (one statement for all of them) and hands them
    /// to their runs. It ends with the center.
    fn read_results_elsewhere(&self) {
        if self.inner.reading_results.set(()).is_err() {
            return;
        }
        let center = Arc::downgrade(&self.inner);
        tokio::spawn(quiet(async move {
            let mut every = tokio::time::interval(FOLLOW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(center) = center.upgrade() else { return };
                let open = center.waiters.open();
                if open.is_empty() {
                    continue;
                }
                match dispatch_results(&center.db, &open).await {
                    Ok(results) => {
                        for (log_id, result) in results {
                            center.waiters.deliver(log_id, result);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "reading the results of dispatches failed"),
                }
            }
        }));
    }

    /// The job's `jobId` for executors: read (or given) once, then kept, as a job keeps its
    /// number for good.
    async fn job_number(&self, job_id: &str) -> Result<i32, JobError> {
        let known = self
            .inner
            .numbers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(job_id)
            .copied();
        if let Some(number) = known {
            return Ok(number);
        }
        let number = quiet(xxl_job_number(&self.inner.db, job_id))
            .await
            .map_err(|e| JobError::new(format!("numbering the job for its executors failed: {e}")))?;
        self.inner
            .numbers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job_id.to_owned(), number);
        Ok(number)
    }

    /// Picks the executor by the route and logs why.
    async fn choose(
        &self,
        ctx: &JobContext,
        args: &XxlArgs,
        job_number: i32,
        addresses: &[String],
    ) -> Result<String, JobError> {
        let route = args.route.as_str();
        let live = addresses.len();
        let ring_keys = if args.route == Route::ConsistentHash {
            quiet(registered_forms(&self.inner.db, &args.app, addresses))
                .await
                .unwrap_or_else(|_| addresses.to_vec())
        } else {
            Vec::new()
        };
        if let Some(index) = self.inner.routes.pick(args.route, job_number, addresses, &ring_keys) {
            let address = addresses[index].clone();
            ctx.log(format!(
                "route {route}: {address} ({} of {live} live executor(s) of app `{}`)",
                index + 1,
                args.app
            ));
            return Ok(address);
        }
        let client = &self.inner.client;
        for address in addresses {
            let answer = match args.route {
                Route::Busyover => client.idle_beat(address, job_number).await,
                _ => client.beat(address).await,
            };
            let asked = if args.route == Route::Busyover {
                "idleBeat"
            } else {
                "beat"
            };
            match answer {
                Ok(answer) if answer.ok() => {
                    ctx.log(format!(
                        "route {route}: {address} answered {asked} with {}",
                        answer.describe()
                    ));
                    return Ok(address.clone());
                }
                Ok(answer) => ctx.log(format!(
                    "route {route}: {address} answered {asked} with {}",
                    answer.describe()
                )),
                Err(error) => ctx.log(format!("route {route}: {asked}: {error}")),
            }
        }
        Err(JobError::new(format!(
            "route {route}: none of the {live} live executor(s) of app `{}` {}",
            args.app,
            if args.route == Route::Busyover {
                "is idle"
            } else {
                "answered"
            }
        )))
    }

    /// Sends the run to `address` and waits for its result.
    async fn dispatch(
        &self,
        ctx: &JobContext,
        args: &XxlArgs,
        job_number: i32,
        address: &str,
        shard: Shard,
    ) -> Result<Option<String>, JobError> {
        let center = &self.inner;
        let sent_at = Utc::now();
        let log_id = quiet(record_dispatch(
            &center.db,
            ctx.execution_id(),
            job_number,
            address,
            sent_at,
        ))
        .await
        .map_err(|e| JobError::new(format!("recording the dispatch failed: {e}")))?;
        // Waiting starts before `/run` is sent: the callback may come first.
        let mut callback = center.waiters.insert(log_id);
        self.read_results_elsewhere();
        let mut sent = Sent {
            center: self.clone(),
            address: address.to_owned(),
            job_number,
            log_id,
            open: true,
        };
        let log_date_time = sent_at.timestamp_millis();
        let trigger = Trigger {
            job_id: job_number,
            executor_handler: &args.handler,
            executor_params: args.params.as_deref(),
            executor_block_strategy: args.block_strategy.as_str(),
            executor_timeout: ctx.timeout().map_or(0, |t| t.as_secs_f64().ceil() as u64),
            log_id,
            log_date_time,
            glue_type: "BEAN",
            glue_source: None,
            glue_updatetime: 0,
            broadcast_index: shard.index,
            broadcast_total: shard.total,
        };
        let refused = match center.client.run(address, &trigger).await {
            Ok(answer) if answer.ok() => {
                ctx.log(format!(
                    "{address} took the run: logId {log_id}, jobId {job_number} ({})",
                    answer.describe()
                ));
                None
            }
            Ok(answer) => Some(format!("{address} refused the run ({})", answer.describe())),
            Err(error) => Some(format!("sending the run failed: {error}")),
        };
        if let Some(reason) = refused {
            sent.open = false;
            let result = DispatchResult {
                code: HANDLE_FAILURE,
                message: Some(reason.clone()),
            };
            center.waiters.forget(log_id);
            if let Err(error) = quiet(complete(&center.db, &center.waiters, log_id, result)).await {
                tracing::warn!(log_id, %error, "recording a refused dispatch failed");
            }
            return Err(JobError::new(reason));
        }

        let waited = Instant::now();
        let mut next_line = 1;
        // The executor's log is read every second while it grows, less often while it is quiet.
        let mut log_every = FOLLOW_EVERY;
        let mut next_log_read = Instant::now() + log_every;
        // The result comes through `callback`: from this node's executor API at once, or from
        // the node's reader of results written by other nodes. Should that channel close
        // unanswered, the run reads its row itself.
        let mut waiting = true;
        let mut follow = tokio::time::interval(FOLLOW_EVERY);
        follow.tick().await;
        let result = loop {
            tokio::select! {
                got = &mut callback, if waiting => match got {
                    Ok(result) => break result,
                    Err(_) => waiting = false,
                },
                _ = follow.tick() => {
                    if Instant::now() >= next_log_read {
                        let from = next_line;
                        next_line = self.copy_log(ctx, address, log_id, log_date_time, from).await;
                        log_every = if next_line > from { FOLLOW_EVERY } else { (log_every * 2).min(LOG_QUIET_EVERY) };
                        next_log_read = Instant::now() + log_every;
                    }
                    if !waiting {
                        match quiet(dispatch_results(&center.db, &[log_id])).await {
                            Ok(found) => if let Some((_, result)) = found.into_iter().next() {
                                break result;
                            },
                            Err(error) => tracing::warn!(log_id, %error, "reading a dispatch's result failed"),
                        }
                    }
                    if waited.elapsed() >= center.options.lost_after
                        && let Some(lost) = self.lost(&args.app, address, log_id).await
                    {
                        sent.open = false;
                        return Err(JobError::lost(lost));
                    }
                }
            }
        };
        sent.open = false;
        center.waiters.forget(log_id);
        self.copy_log(ctx, address, log_id, log_date_time, next_line).await;
        let message = result.message.unwrap_or_default();
        match result.code {
            HANDLE_SUCCESS => Ok((!message.is_empty()).then_some(message)),
            HANDLE_TIMEOUT => Err(JobError::timed_out(format!(
                "the executor timed the run out: {message}"
            ))),
            code if ctx.timeout().is_some_and(|limit| waited.elapsed() >= limit) => Err(JobError::timed_out(format!(
                "the executor stopped the run at its timeout (handleCode {code}): {message}"
            ))),
            code => Err(JobError::new(format!("handleCode {code}: {message}"))),
        }
    }

    /// Copies the executor's new log lines from `from_line` into the run's log; returns the
    /// line to ask for next. An empty page means nothing new (pyxxl then answers
    /// `toLineNum == fromLineNum`), so the next read asks for the same line again.
    async fn copy_log(&self, ctx: &JobContext, address: &str, log_id: i64, log_date_time: i64, from_line: i64) -> i64 {
        match self.inner.client.log(address, log_id, log_date_time, from_line).await {
            Ok(page) => {
                let text = page.log_content.unwrap_or_default();
                if text.is_empty() || page.to_line_num < from_line {
                    return from_line;
                }
                for line in text.lines() {
                    ctx.log(line);
                }
                page.to_line_num + 1
            }
            Err(error) => {
                tracing::debug!(log_id, %error, "reading an executor's log failed");
                from_line
            }
        }
    }

    /// When `address` is no longer a live executor of `app`: closes dispatch `log_id` as lost
    /// and says so.
    async fn lost(&self, app: &str, address: &str, log_id: i64) -> Option<String> {
        let center = &self.inner;
        // An address given by hand never registers, so it never leaves either.
        let now = Utc::now();
        let live = quiet(live_addresses(&center.db, app, now)).await.ok()?;
        let given = quiet(dispatch_addresses(&center.db, app, now)).await.ok()?;
        if live.iter().chain(&given).any(|a| a == address) {
            return None;
        }
        let message = format!(
            "result lost: no callback after {} s and {address} has left the registry",
            center.options.lost_after.as_secs()
        );
        let result = DispatchResult {
            code: HANDLE_FAILURE,
            message: Some(message.clone()),
        };
        center.waiters.forget(log_id);
        match quiet(complete(&center.db, &center.waiters, log_id, result)).await {
            Ok(true) => Some(message),
            // The callback came in meanwhile: the next read finds it.
            Ok(false) | Err(_) => None,
        }
    }

    /// Stops job `job_number` on `address` for dispatch `log_id`, whose run the engine has
    /// ended, and closes the runs the executor dropped with it.
    async fn kill(&self, address: String, job_number: i32, log_id: i64) {
        let center = &self.inner;
        let stopped_at = Utc::now();
        let stopped = DispatchResult {
            code: HANDLE_FAILURE,
            message: Some("stopped by the center".to_owned()),
        };
        center.waiters.forget(log_id);
        if let Err(error) = complete(&center.db, &center.waiters, log_id, stopped).await {
            tracing::warn!(log_id, %error, "recording a stopped dispatch failed");
        }
        match center.client.kill(&address, job_number).await {
            Ok(answer) if answer.ok() => {
                tracing::info!(log_id, job_number, %address, "the executor stopped the job");
                let dropped = DispatchResult {
                    code: HANDLE_FAILURE,
                    message: Some(format!("dropped by {address} when job {job_number} was killed there")),
                };
                match close_dropped_dispatches(&center.db, job_number, &address, stopped_at, log_id, &dropped).await {
                    Ok(closed) => {
                        for other in closed {
                            center.waiters.deliver(other, dropped.clone());
                        }
                    }
                    Err(error) => tracing::warn!(job_number, %error, "closing the runs a kill dropped failed"),
                }
            }
            Ok(answer) => {
                tracing::warn!(log_id, %address, answer = %answer.describe(), "the executor refused to kill the job");
            }
            Err(error) => tracing::warn!(log_id, %error, "killing the job on its executor failed"),
        }
    }
}

/// A run sent to an executor and not yet ended there: dropped while open (the engine stopped
/// the function: cancelled, timed out, replaced, shut down), it has the executor kill it.
struct Sent {
    center: XxlCenter,
    address: String,
    job_number: i32,
    log_id: i64,
    open: bool,
}

impl Drop for Sent {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let center = self.center.clone();
        let address = std::mem::take(&mut self.address);
        let (job_number, log_id) = (self.job_number, self.log_id);
        runtime.spawn(async move { center.kill(address, job_number, log_id).await });
    }
}
