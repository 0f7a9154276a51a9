//! The ruqi node of an `xxl` run: one scheduler in a child process of its
//! own, as an application runs it, with the XXL-JOB center registered in
//! its function registry and the center's executor API served on a
//! loopback port.
//!
//! The child announces the API's address, waits until the executors it is
//! told of have registered, writes N one-shot jobs due at one instant T,
//! starts the scheduler, and counts the runs' ends until all N succeeded
//! (see [`crate::scenario::ends`]). Then, before stopping the scheduler, it
//! reads back every `job_execution` row of the jobs and every `xxl_dispatch`
//! row, and reports them to the parent, which holds them against what the
//! executors received.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server};
use ruqi::entity::{job_execution, job_info, xxl_dispatch};
use ruqi::{Registry, query};
use ruqi_server::builtin::{BuiltinOptions, register_builtins};
use ruqi_xxl::{DEFAULT_PREFIX, XxlCenter, XxlOptions};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use super::tally::Dispatch;
use super::{APP, Function, HANDLER, JOB_PREFIX};
use crate::backend::{self, Pool, Target};
use crate::child;
use crate::db;
use crate::scenario::ends::{EndCounter, confirm_in_database};
use crate::scenario::throughput::{MISFIRE_GRACE_S, pool_connections};
use crate::stats::{percentile, sorted};

/// The child's name for `__child`.
pub(crate) const NAME: &str = "xxl-node";

/// How long the node waits for the executors to register.
const REGISTRY_WAIT: Duration = Duration::from_secs(60);

/// What one node child does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeConfig {
    /// The database (created empty by the parent).
    pub(crate) target: Target,
    /// One-shot jobs, all due at one instant.
    pub(crate) jobs: usize,
    /// What they run.
    pub(crate) function: Function,
    /// How far ahead of the start of seeding they are due.
    pub(crate) lead_ms: u64,
}

/// What one node child measured and read back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct NodeResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Connections in the pool the scheduler and the center share.
    pub(crate) pool_connections: u32,
    /// Seconds writing the jobs took.
    pub(crate) seed_s: f64,
    /// Seconds `start()` took.
    pub(crate) start_s: f64,
    /// Seconds between the scheduler being ready and T.
    pub(crate) slack_s: f64,
    /// Start-up was not over by T: nothing else was measured.
    pub(crate) overran: bool,
    /// N ÷ seconds from T until the last success was recorded; `None` when
    /// not every job succeeded.
    pub(crate) runs_per_s: Option<f64>,
    /// Seconds from T until the last success was recorded (or the wait gave up).
    pub(crate) duration_s: f64,
    /// Whether that instant is the last `succeeded` event's arrival (else a
    /// poll of `job_execution`).
    pub(crate) end_from_events: bool,
    /// `success` rows of the measured jobs.
    pub(crate) success_rows: usize,
    /// Jobs with more than one `success` row: runs beyond the first.
    pub(crate) duplicates: usize,
    /// Jobs with no `success` row.
    pub(crate) lost: usize,
    /// Rows still `running` when every end was in (or the wait gave up).
    pub(crate) running: usize,
    /// Rows of any other status, as `status: count`.
    pub(crate) other_rows: Vec<(String, usize)>,
    /// `started_at` − `scheduled_for`, median, ms: fire → start.
    pub(crate) start_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub(crate) start_p99_ms: Option<f64>,
    /// Every measured run's `job_execution.id`.
    pub(crate) runs: Vec<String>,
    /// Every dispatch row (none for `log`).
    pub(crate) dispatches: Vec<Dispatch>,
    /// Dispatch rows with no result yet.
    pub(crate) open_dispatches: usize,
    /// Dispatch rows whose result is not a success (code ≠ 200).
    pub(crate) failed_dispatches: usize,
}

/// `count` one-shot jobs running `function`, due at `due_at`, written as the
/// scheduler leaves a scheduled row; misfire grace [`MISFIRE_GRACE_S`], so
/// that every one runs however far behind the scheduler is.
pub(crate) fn one_shot_jobs(
    count: usize,
    function: &Function,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> impl Iterator<Item = job_info::ActiveModel> {
    let rule = due_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let (func, args) = match function {
        Function::Log => ("log", serde_json::json!("ruqi-bench")),
        Function::Xxl { route, .. } => (
            ruqi_xxl::XXL_FUNCTION,
            serde_json::json!({ "app": APP, "handler": HANDLER, "route": route }),
        ),
    };
    let args = args.to_string();
    (0..count).map(move |i| {
        let mut row = db::interval_job(format!("{JOB_PREFIX}{i:06}"), func, "1d", now, due_at);
        row.trigger = Set("date".to_owned());
        row.rule = Set(rule.clone());
        row.args = Set(Some(args.clone()));
        row.misfire_grace_s = Set(MISFIRE_GRACE_S);
        row
    })
}

/// Milliseconds from `from` to `to`.
fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Child side: one node, one backend, one function.
pub(crate) async fn measure(config: NodeConfig) -> Result<NodeResult> {
    let db = config.target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let version = backend::server_version(&db).await?;
    let pool_connections = pool_connections(&db);

    let center = XxlCenter::new(db.clone(), XxlOptions::default());
    let mut registry = Registry::new();
    center.register(&mut registry);
    register_builtins(&mut registry, &BuiltinOptions::default());
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let address = acceptor
        .local_addr()
        .iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .ok_or_else(|| anyhow!("the center's listener has no address"))?;
    let app = Route::new().nest(DEFAULT_PREFIX, center.executor_api().endpoint());
    let server = tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    child::announce_ready(&format!("http://{address}{DEFAULT_PREFIX}"))?;
    if let Function::Xxl { executors, .. } = config.function {
        wait_for_executors(&db, executors).await?;
    }

    let seeding = Instant::now();
    let now = Utc::now();
    let due_at = (now + chrono::Duration::milliseconds(i64::try_from(config.lead_ms)?))
        .duration_trunc(chrono::Duration::milliseconds(1))?;
    db::insert_jobs(&db, one_shot_jobs(config.jobs, &config.function, due_at, now)).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let starting = Instant::now();
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name("ruqi-bench")
        .start()
        .await?;
    let start_s = starting.elapsed().as_secs_f64();
    let ends = EndCounter::spawn(scheduler.events(), JOB_PREFIX, config.jobs, due_at)?;
    let slack_s = ms(Utc::now(), due_at) / 1000.0;
    let mut result = NodeResult {
        version,
        pool_connections,
        seed_s,
        start_s,
        slack_s,
        ..NodeResult::default()
    };
    if slack_s <= 0.0 {
        // The runs began during start-up: no figure of this run would mean what it says.
        result.overran = true;
        let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
        return Ok(result);
    }

    let ends = ends.finish().await?;
    let confirmed = confirm_in_database(&db, JOB_PREFIX, config.jobs).await?;
    let all_seen = ends.succeeded.len() == config.jobs && ends.dropped == 0;
    let (last_end, end_from_events) = match ends.succeeded.iter().max() {
        Some(last) if all_seen => (*last, true),
        _ => (confirmed.at, false),
    };
    // Read while the scheduler still runs: a row `running` now was left so.
    read_back(&db, config.jobs, &mut result).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
    server.abort();

    result.duration_s = ms(due_at, last_end) / 1000.0;
    result.end_from_events = end_from_events;
    result.runs_per_s = (result.lost == 0 && confirmed.complete && result.duration_s > 0.0)
        .then(|| config.jobs as f64 / result.duration_s);
    Ok(result)
}

/// Waits until `executors` addresses of [`APP`] are live in the registry.
async fn wait_for_executors(db: &DatabaseConnection, executors: usize) -> Result<()> {
    let began = Instant::now();
    loop {
        let live = query::live_addresses(db, APP, Utc::now()).await?.len();
        if live >= executors {
            return Ok(());
        }
        if began.elapsed() >= REGISTRY_WAIT {
            bail!(
                "{live} of {executors} executor(s) had registered after {} s",
                REGISTRY_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads every `job_execution` row of the measured jobs and every
/// `xxl_dispatch` row into `result`.
async fn read_back(db: &DatabaseConnection, jobs: usize, result: &mut NodeResult) -> Result<()> {
    type Columns = (String, String, String, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Columns> = job_execution::Entity::find()
        .select_only()
        .column(job_execution::Column::Id)
        .column(job_execution::Column::JobId)
        .column(job_execution::Column::Status)
        .column(job_execution::Column::ScheduledFor)
        .column(job_execution::Column::StartedAt)
        .filter(job_execution::Column::JobId.starts_with(JOB_PREFIX))
        .into_tuple()
        .all(db)
        .await
        .context("reading back job_execution")?;
    let mut successes_per_job = HashMap::<String, usize>::with_capacity(jobs);
    let mut other = BTreeMap::<String, usize>::new();
    let mut to_start_ms = Vec::with_capacity(rows.len());
    let mut scheduled_for = HashMap::with_capacity(rows.len());
    for (id, job_id, status, scheduled, started_at) in rows {
        if let Some(started_at) = started_at {
            to_start_ms.push(ms(scheduled, started_at));
        }
        match status.as_str() {
            "success" => *successes_per_job.entry(job_id).or_default() += 1,
            "running" => result.running += 1,
            _ => *other.entry(status).or_default() += 1,
        }
        scheduled_for.insert(id.clone(), scheduled.timestamp_micros());
        result.runs.push(id);
    }
    let to_start_ms = sorted(to_start_ms);
    result.success_rows = successes_per_job.values().sum();
    result.duplicates = successes_per_job.values().map(|n| n - 1).sum();
    result.lost = jobs.saturating_sub(successes_per_job.len());
    result.other_rows = other.into_iter().collect();
    result.start_p50_ms = percentile(&to_start_ms, 50.0);
    result.start_p99_ms = percentile(&to_start_ms, 99.0);

    let dispatches: Vec<(i64, String, i32, Option<i32>)> = xxl_dispatch::Entity::find()
        .select_only()
        .column(xxl_dispatch::Column::LogId)
        .column(xxl_dispatch::Column::ExecutionId)
        .column(xxl_dispatch::Column::JobNumber)
        .column(xxl_dispatch::Column::HandleCode)
        .into_tuple()
        .all(db)
        .await
        .context("reading back xxl_dispatch")?;
    for (log_id, execution_id, job_number, handle_code) in dispatches {
        match handle_code {
            None => result.open_dispatches += 1,
            Some(200) => {}
            Some(_) => result.failed_dispatches += 1,
        }
        // A dispatch of a run that has no row (none should) gets the epoch as its instant.
        let scheduled_for_us = scheduled_for.get(&execution_id).copied().unwrap_or_default();
        result.dispatches.push(Dispatch {
            log_id,
            execution_id,
            job_number: i64::from(job_number),
            scheduled_for_us,
        });
    }
    Ok(())
}
