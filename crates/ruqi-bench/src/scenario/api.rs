//! `api`: the admin API under load over real HTTP.
//!
//! A child serves `ruqi_api::AdminApi` under `/api` on a poem server bound to
//! a free loopback port, over a fresh database holding [`JOBS`] jobs and
//! [`EXECUTIONS`] executions, with its scheduler running. It announces its
//! address and serves until the parent closes its stdin. The parent drives
//! it with reqwest (one client, keep-alive, [`CONCURRENCY`] requests in
//! flight), one operation at a time for a fixed time after a warm-up that
//! is not counted: `GET /api/health` (the baseline: the same server,
//! client and connections, one trivial database round trip), `GET` one job,
//! a random page of the job list, and `POST /api/jobs` with fresh ids.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, ensure};
use chrono::Utc;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server};
use ruqi::entity::{job_execution, job_info};
use ruqi::{JobContext, Registry};
use ruqi_api::{AdminApi, Auth};
use sea_orm::ActiveValue::Set;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::Options;
use super::feed::BackendStatus;
use crate::backend::{self, Backend, Pool, RunDatabase, Target};
use crate::child::{self, start_child};
use crate::db::{self, IDLE_FUNC};
use crate::report::{Bar, Section, run_line, spread, thousands};
use crate::stats::{Spread, percentile, sorted};

/// The scenario's name on the command line and in results.
pub(crate) const NAME: &str = "api";

/// Jobs in the table when the load starts.
pub(crate) const JOBS: usize = 10_000;
/// Executions in the table (two for each of the first half of the jobs).
pub(crate) const EXECUTIONS: usize = 10_000;
/// Requests in flight at once.
pub(crate) const CONCURRENCY: usize = 16;
/// Jobs per page of the list.
const PAGE: usize = 50;
/// Rows per `INSERT` of seeded executions (14 columns: well under every backend's parameter limit).
const INSERT_CHUNK: usize = 500;
/// Where the admin API is mounted.
const PREFIX: &str = "/api";
/// The backends served: the embedded default, and PostgreSQL when its URL is set.
pub(crate) const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// One kind of request the load is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Operation {
    /// `GET /api/health`: the baseline.
    Health,
    /// `GET /api/jobs/{job_id}` of a random seeded job.
    GetJob,
    /// `GET /api/jobs?limit=50`: the first page, as the admin page and most clients ask.
    FirstJobs,
    /// `GET /api/jobs?offset=…&limit=50` at a random page.
    ListJobs,
    /// `GET /api/executions?limit=50`: the newest runs.
    ListExecutions,
    /// `POST /api/jobs` with an id not used before.
    CreateJob,
}

impl Operation {
    /// Every operation, in the order they run (creates last, so the reads see
    /// exactly the seeded table).
    pub(crate) const ALL: [Operation; 6] = [
        Operation::Health,
        Operation::GetJob,
        Operation::FirstJobs,
        Operation::ListJobs,
        Operation::ListExecutions,
        Operation::CreateJob,
    ];

    /// The request as tables name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Operation::Health => "`GET /health` (baseline)",
            Operation::GetJob => "`GET /jobs/{job_id}`",
            Operation::FirstJobs => "`GET /jobs?limit=50`",
            Operation::ListJobs => "`GET /jobs?offset=…&limit=50`",
            Operation::ListExecutions => "`GET /executions?limit=50`",
            Operation::CreateJob => "`POST /jobs`",
        }
    }
}

/// What one child serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// The database (created empty by the parent).
    pub(crate) target: Target,
    /// Jobs to seed.
    pub(crate) jobs: usize,
    /// Executions to seed.
    pub(crate) executions: usize,
}

/// What the child reports once it has stopped serving.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerResult {
    /// The database's version string.
    pub(crate) version: String,
    /// Connections in the pool the API and the scheduler share.
    pub(crate) pool_connections: u32,
    /// Seconds seeding took.
    pub(crate) seed_s: f64,
    /// Rows in `job_info` after the load.
    pub(crate) jobs_after: u64,
}

/// One operation in one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct OperationResult {
    /// The operation.
    pub(crate) operation: Operation,
    /// Requests answered as expected within the measured window.
    pub(crate) requests: usize,
    /// Requests answered otherwise (wrong status or transport error) within it.
    pub(crate) errors: usize,
    /// `requests` ÷ the window's length.
    pub(crate) per_s: f64,
    /// Latency, send → whole body read, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile.
    pub(crate) p99_ms: f64,
    /// Slowest.
    pub(crate) max_ms: f64,
}

/// One run: one server process, every operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// What the server said.
    pub(crate) server: ServerResult,
    /// One entry per operation, in order.
    pub(crate) operations: Vec<OperationResult>,
    /// Jobs created successfully, warm-up included.
    pub(crate) created: usize,
}

impl RunResult {
    /// The result of `operation`.
    pub(crate) fn operation(&self, operation: Operation) -> Option<&OperationResult> {
        self.operations.iter().find(|o| o.operation == operation)
    }

    /// Whether `job_info` holds exactly the seeded jobs plus those created.
    pub(crate) fn creates_add_up(&self, seeded: usize) -> bool {
        u64::try_from(seeded + self.created).is_ok_and(|expected| expected == self.server.jobs_after)
    }
}

/// One backend and operation over the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The backend.
    pub(crate) backend: Backend,
    /// The operation.
    pub(crate) operation: Operation,
    /// Requests per second.
    pub(crate) per_s: Option<Spread>,
    /// Median latency, ms.
    pub(crate) p50_ms: Option<Spread>,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: Option<Spread>,
    /// Requests per second ÷ the health baseline's, run by run.
    pub(crate) per_s_ratio: Option<Spread>,
    /// p99 ÷ the health baseline's p99, run by run.
    pub(crate) p99_ratio: Option<Spread>,
    /// Errors over every run.
    pub(crate) errors: usize,
}

/// The scenario's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Runs per backend.
    pub(crate) runs: usize,
    /// Seconds of load counted per operation.
    pub(crate) seconds: f64,
    /// Seconds of load before that, not counted.
    pub(crate) warm_up_s: f64,
    /// Every backend this scenario serves from, measured or not.
    pub(crate) backends: Vec<BackendStatus>,
    /// One row per backend and operation.
    pub(crate) rows: Vec<Row>,
    /// Every run, per backend.
    pub(crate) runs_by_backend: Vec<(Backend, Vec<RunResult>)>,
}

impl Report {
    fn label(&self, backend: Backend) -> &'static str {
        self.backends
            .iter()
            .find(|s| s.backend == backend)
            .map_or(backend.label(), BackendStatus::label)
    }
}

/// Summarises `runs` on `backend` into one row per operation.
fn rows_of(backend: Backend, runs: &[RunResult]) -> Vec<Row> {
    Operation::ALL
        .into_iter()
        .map(|operation| {
            let of = |figure: fn(&OperationResult) -> f64| {
                Spread::of(runs.iter().filter_map(|r| r.operation(operation)).map(figure))
            };
            let against_health = |figure: fn(&OperationResult) -> f64| {
                Spread::of(runs.iter().filter_map(|r| {
                    let own = figure(r.operation(operation)?);
                    let health = figure(r.operation(Operation::Health)?);
                    (health > 0.0).then(|| own / health)
                }))
            };
            Row {
                backend,
                operation,
                per_s: of(|o| o.per_s),
                p50_ms: of(|o| o.p50_ms),
                p99_ms: of(|o| o.p99_ms),
                per_s_ratio: against_health(|o| o.per_s),
                p99_ratio: against_health(|o| o.p99_ms),
                errors: runs
                    .iter()
                    .filter_map(|r| r.operation(operation))
                    .map(|o| o.errors)
                    .sum(),
            }
        })
        .collect()
}

/// Parent side: `runs` servers per available backend, each loaded with
/// every operation in turn.
pub(crate) async fn run(options: Options) -> Result<Report> {
    let (warm_up, seconds) = if options.quick {
        (Duration::from_secs(1), Duration::from_secs(3))
    } else {
        (Duration::from_secs(2), Duration::from_secs(10))
    };
    let runs = options.runs();
    let mut backends = Vec::new();
    let mut rows = Vec::new();
    let mut runs_by_backend = Vec::new();
    for backend in BACKENDS {
        if let Err(why) = options.availability(backend) {
            backends.push(BackendStatus::skipped("api", backend, why));
            continue;
        }
        let mut results = Vec::new();
        for run in 1..=runs {
            eprintln!(
                "api: {}, {} jobs, {CONCURRENCY} requests in flight, run {run}/{runs}",
                backend.label(),
                thousands(JOBS)
            );
            let database = RunDatabase::create(backend, NAME).await?;
            let result = serve_and_load(&database, run, warm_up, seconds).await;
            database.remove().await;
            let result = result.with_context(|| format!("the api scenario on {}", backend.label()))?;
            for o in &result.operations {
                eprintln!(
                    "  {}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms{}",
                    o.operation.label(),
                    o.per_s,
                    o.p50_ms,
                    o.p99_ms,
                    if o.errors > 0 {
                        format!(", {} errors", o.errors)
                    } else {
                        String::new()
                    }
                );
            }
            if !result.creates_add_up(JOBS) {
                eprintln!(
                    "  warning: job_info holds {} rows after {} creates on {} seeded jobs",
                    result.server.jobs_after, result.created, JOBS
                );
            }
            results.push(result);
        }
        backends.push(BackendStatus {
            backend,
            version: results.first().map(|r| r.server.version.clone()),
            skipped: None,
        });
        rows.extend(rows_of(backend, &results));
        runs_by_backend.push((backend, results));
    }
    Ok(Report {
        runs,
        seconds: seconds.as_secs_f64(),
        warm_up_s: warm_up.as_secs_f64(),
        backends,
        rows,
        runs_by_backend,
    })
}

/// One run: starts the server, loads it with each operation, stops it.
async fn serve_and_load(database: &RunDatabase, run: usize, warm_up: Duration, seconds: Duration) -> Result<RunResult> {
    let config = Config {
        target: database.target(),
        jobs: JOBS,
        executions: EXECUTIONS,
    };
    // Seeding and start-up, the load, and room to spare.
    let load = (warm_up + seconds) * u32::try_from(Operation::ALL.len())?;
    let mut server = start_child(NAME, &config, load + Duration::from_secs(300))?;
    let address = server.ready().await?;
    let base = format!("http://{}{PREFIX}", address.trim());
    // Straight to the loopback address, whatever proxy the environment names.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(30))
        .build()?;
    check_the_table(&client, &base).await?;
    let created = Arc::new(AtomicUsize::new(0));
    let mut operations = Vec::new();
    for operation in Operation::ALL {
        let load = Load {
            client: client.clone(),
            base: base.clone(),
            operation,
            run,
            created: created.clone(),
        };
        operations.push(load.run(warm_up, seconds).await?);
    }
    let server: ServerResult = server.stop().await?;
    Ok(RunResult {
        server,
        operations,
        created: created.load(Ordering::Relaxed),
    })
}

/// The first page of the list, to check the server holds what was seeded.
async fn check_the_table(client: &reqwest::Client, base: &str) -> Result<()> {
    let page: serde_json::Value = client
        .get(format!("{base}/jobs?limit={PAGE}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let total = page["total"].as_u64().unwrap_or_default();
    let items = page["items"].as_array().map_or(0, Vec::len);
    ensure!(
        usize::try_from(total)? == JOBS && items == PAGE,
        "the server lists {total} jobs ({items} on the first page), not {JOBS} ({PAGE})"
    );
    Ok(())
}

/// One operation's load: [`CONCURRENCY`] tasks sending it back to back.
struct Load {
    client: reqwest::Client,
    base: String,
    operation: Operation,
    /// The run's number, part of created jobs' ids.
    run: usize,
    /// Jobs created so far in this run.
    created: Arc<AtomicUsize>,
}

/// One request's outcome.
struct Sample {
    /// When it was sent.
    sent: Instant,
    /// When its whole body had arrived.
    done: Instant,
    /// Whether the status was the one expected.
    ok: bool,
}

impl Load {
    /// Sends requests for `warm_up + seconds` and keeps those sent after the
    /// warm-up that finished within the window.
    async fn run(self, warm_up: Duration, seconds: Duration) -> Result<OperationResult> {
        let began = Instant::now();
        let window_start = began + warm_up;
        let window_end = window_start + seconds;
        let this = Arc::new(self);
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..CONCURRENCY {
            let this = this.clone();
            tasks.spawn(async move { this.send_until(task, window_end).await });
        }
        let mut samples = Vec::new();
        while let Some(done) = tasks.join_next().await {
            samples.extend(done?);
        }
        let counted: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.sent >= window_start && s.done <= window_end)
            .collect();
        let latencies = sorted(
            counted
                .iter()
                .filter(|s| s.ok)
                .map(|s| s.done.duration_since(s.sent).as_secs_f64() * 1000.0)
                .collect(),
        );
        let requests = latencies.len();
        ensure!(
            requests > 0,
            "no {} request was answered within the window",
            this.operation.label()
        );
        Ok(OperationResult {
            operation: this.operation,
            requests,
            errors: counted.len() - requests,
            per_s: requests as f64 / seconds.as_secs_f64(),
            p50_ms: percentile(&latencies, 50.0).unwrap_or_default(),
            p99_ms: percentile(&latencies, 99.0).unwrap_or_default(),
            max_ms: percentile(&latencies, 100.0).unwrap_or_default(),
        })
    }

    /// One task's requests, back to back until `end`.
    async fn send_until(&self, task: usize, end: Instant) -> Vec<Sample> {
        let mut random = Random::seeded(task);
        let mut samples = Vec::new();
        let mut sequence = 0_usize;
        while Instant::now() < end {
            let request = match self.operation {
                Operation::Health => self.client.get(format!("{}/health", self.base)),
                Operation::GetJob => {
                    let i = random.below(JOBS);
                    self.client.get(format!("{}/jobs/idle-{i:06}", self.base))
                }
                Operation::FirstJobs => self.client.get(format!("{}/jobs?limit={PAGE}", self.base)),
                Operation::ListExecutions => self.client.get(format!("{}/executions?limit={PAGE}", self.base)),
                Operation::ListJobs => {
                    let offset = random.below(JOBS / PAGE) * PAGE;
                    self.client
                        .get(format!("{}/jobs?offset={offset}&limit={PAGE}", self.base))
                }
                Operation::CreateJob => {
                    sequence += 1;
                    let body = serde_json::json!({
                        "job_id": format!("api-{}-{task:02}-{sequence:06}", self.run),
                        "func": IDLE_FUNC,
                        "trigger": "interval",
                        "rule": "1d",
                    });
                    self.client.post(format!("{}/jobs", self.base)).json(&body)
                }
            };
            let sent = Instant::now();
            let ok = match request.send().await {
                Ok(response) => {
                    let expected = match self.operation {
                        Operation::CreateJob => reqwest::StatusCode::CREATED,
                        _ => reqwest::StatusCode::OK,
                    };
                    let status = response.status();
                    // The whole body counts: a client has not got its answer before.
                    response.bytes().await.is_ok() && status == expected
                }
                Err(_) => false,
            };
            if ok && self.operation == Operation::CreateJob {
                self.created.fetch_add(1, Ordering::Relaxed);
            }
            samples.push(Sample {
                sent,
                done: Instant::now(),
                ok,
            });
        }
        samples
    }
}

/// Random job ids and pages: SplitMix64, seeded from the clock and the task.
struct Random {
    state: u64,
}

impl Random {
    fn seeded(task: usize) -> Random {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Random {
            state: (nanos as u64) ^ ((task as u64) << 48),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, n)` (0 for `n` = 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }
}

/// `count` executions, two for each of the first `count / 2` jobs, as
/// finished runs an hour and a day ago.
fn seeded_executions(count: usize) -> impl Iterator<Item = job_execution::ActiveModel> {
    let now = Utc::now();
    (0..count).map(move |i| {
        let at = now - chrono::Duration::hours(if i % 2 == 0 { 1 } else { 24 });
        job_execution::ActiveModel {
            id: Set(format!("api-execution-{i:06}")),
            job_id: Set(format!("idle-{:06}", i / 2)),
            job_name: Set(Some("bench".to_owned())),
            scheduled_for: Set(at),
            started_at: Set(Some(at)),
            finished_at: Set(Some(at + chrono::Duration::milliseconds(3))),
            duration_ms: Set(Some(3)),
            status: Set("success".to_owned()),
            attempt: Set(1),
            output: Set(Some("done".to_owned())),
            error: Set(None),
            node: Set(Some("ruqi-bench".to_owned())),
            trigger_source: Set("schedule".to_owned()),
            cancel_requested_at: Set(None),
            args: Set(None),
        }
    })
}

/// Inserts the seeded executions in chunks inside one transaction.
async fn insert_executions(db: &DatabaseConnection, count: usize) -> Result<()> {
    let txn = db.begin().await?;
    let mut rows = seeded_executions(count).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        job_execution::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Child side: seeds the database, starts the scheduler, serves the admin
/// API on a free loopback port until the parent closes stdin.
pub(crate) async fn measure(config: Config) -> Result<ServerResult> {
    let db = config.target.connect(Pool::Default).await?;
    ruqi::migrate(&db).await?;
    let version = backend::server_version(&db).await?;
    let pool_connections = super::throughput::pool_connections(&db);
    let seeding = Instant::now();
    db::insert_jobs(&db, db::idle_jobs(config.jobs, Utc::now())).await?;
    insert_executions(&db, config.executions).await?;
    let seed_s = seeding.elapsed().as_secs_f64();

    let mut registry = Registry::new();
    registry.register(IDLE_FUNC, |_ctx: JobContext| async { Ok::<_, String>(()) });
    let scheduler = ruqi::scheduler(db.clone(), registry)
        .node_name("ruqi-bench")
        .start()
        .await?;
    let app = Route::new().nest(
        PREFIX,
        AdminApi::new(db.clone(), scheduler.clone())
            .auth(Auth::disabled())
            .endpoint(PREFIX),
    );
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let address = acceptor
        .local_addr()
        .iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .ok_or_else(|| anyhow!("the listener has no address"))?;
    child::announce_ready(&address.to_string())?;
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, child::stop_requested(), Some(Duration::from_secs(5)))
        .await?;
    let jobs_after = job_info::Entity::find().count(&db).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler.shutdown()).await;
    Ok(ServerResult {
        version,
        pool_connections,
        seed_s,
        jobs_after,
    })
}

/// The API section of `BENCHMARKS.md`.
/// The bar: a first page of jobs served at this share of the health baseline's rate or more…
pub(crate) const BAR_LIST_RATIO: f64 = 0.5;
/// …with a p99 at most this multiple of the baseline's.
pub(crate) const BAR_LIST_P99_RATIO: f64 = 2.0;

/// One bar per backend the bar names (SQLite and PostgreSQL): `GET /jobs?limit=50`
/// against `GET /health` with the seeded jobs.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .map(|backend| {
            let what = format!(
                "{}: `GET /jobs?limit={PAGE}` ≥ {BAR_LIST_RATIO} of `GET /health` requests/s, p99 ≤ {BAR_LIST_P99_RATIO}× \
                 its p99, with {} jobs (api)",
                backend.label(),
                thousands(JOBS)
            );
            let row = report.and_then(|r| {
                r.rows
                    .iter()
                    .find(|row| row.backend == backend && row.operation == Operation::FirstJobs)
            });
            match row.and_then(|row| Some((row.per_s_ratio?, row.p99_ratio?))) {
                Some((rate, p99)) => Bar {
                    what,
                    measured: format!(
                        "{} of the baseline's requests/s, p99 {}× (median of runs, min–max)",
                        rate.display(2),
                        p99.display(1)
                    ),
                    pass: Some(rate.median >= BAR_LIST_RATIO && p99.median <= BAR_LIST_P99_RATIO),
                },
                None => Bar::unmeasured(what, "—"),
            }
        })
        .collect()
}

pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Admin API under load (`api`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "What the admin API (`ruqi_api::AdminApi`, mounted at `{PREFIX}` on a poem server, no authentication) \
         serves over real HTTP. Each run is a fresh child process on a fresh database (SQLite: a file in a \
         temporary directory; PostgreSQL: `CREATE DATABASE ruqi_b_…`, dropped after) holding {jobs} jobs \
         (interval `1d`, none due during the run) and {executions} executions, with its scheduler running and \
         API and scheduler sharing sea-orm's default pool. The parent process loads it on the loopback \
         interface with one reqwest client (keep-alive, so connections are reused): {concurrency} tasks each \
         send a request, read the whole answer and send the next, for {warm_up} s not counted and then {seconds} s \
         counted, one operation after the other. A request counts when it was sent within the counted window, \
         was answered within it and had the expected status (200; 201 for a create); latency is send → whole \
         body read. Operations:\n\n\
         - `GET {PREFIX}/health`, the **baseline**: the same server, client and connections; it pings the \
         database and reads the scheduler's status (counts the scheduler keeps as its jobs change, so \
         reading them does not walk the {jobs} jobs).\n\
         - `GET {PREFIX}/jobs/{{job_id}}` of a random seeded job: the row read with the scheduler's live state \
         laid over it.\n\
         - `GET {PREFIX}/jobs?limit={page}`, the first page (what the admin page and most clients ask first, \
         again and again): the newest change-log entry read from the database, and the page answered from \
         memory while it and the scheduler's state are unchanged and the page is under a second old; \
         otherwise read as the next line says.\n\
         - `GET {PREFIX}/jobs?offset=…&limit={page}` at a random page (offset a multiple of {page}), the cost \
         of reading a page: the page's rows (past the 500th job found by key first), the scheduler's live \
         state laid over each row, and the total (counted once per change of `job_info` the scheduler learns \
         of, kept in between). Of the {pages} pages asked at random, at most 32 are kept at once, so most \
         asks read their page.\n\
         - `GET {PREFIX}/executions?limit={page}`: the newest runs and the count of all {executions}.\n\
         - `POST {PREFIX}/jobs` with an id not used before (interval `1d`): validated through the `job_info` \
         hooks, inserted, applied to the running scheduler and read back. Run last, so the reads see exactly \
         the seeded table; afterwards `job_info` must hold the seeded jobs plus every job created.\n\n\
         Client and server share the machine's cores, so every figure includes the client's own work; the \
         ratios to the baseline, taken run by run, are the figures to compare. {runs} run(s) per backend; \
         median over runs with the range in brackets.\n\n",
        jobs = thousands(JOBS),
        executions = thousands(EXECUTIONS),
        concurrency = CONCURRENCY,
        warm_up = report.warm_up_s,
        seconds = report.seconds,
        page = PAGE,
        pages = JOBS / PAGE,
        runs = report.runs,
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter(|s| s.version.is_some())
        .map(|s| {
            let pool = report
                .runs_by_backend
                .iter()
                .find(|(b, _)| *b == s.backend)
                .and_then(|(_, runs)| runs.first())
                .map_or(0, |r| r.server.pool_connections);
            format!("{} (pool of {pool})", s.describe())
        })
        .collect();
    let skipped: Vec<String> = report
        .backends
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| format!("{} ({why})", s.label())))
        .collect();
    let _ = write!(
        md,
        "Backends measured: {}.",
        if measured.is_empty() {
            "none".to_owned()
        } else {
            measured.join(", ")
        }
    );
    if !skipped.is_empty() {
        let _ = write!(md, " Not measured: {}.", skipped.join(", "));
    }
    md.push_str("\n\n");
    md.push_str(
        "| backend | request | requests/s | p50 (ms) | p99 (ms) | requests/s ÷ baseline | p99 ÷ baseline | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let baseline = row.operation == Operation::Health;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            row.operation.label(),
            spread(row.per_s, 0),
            spread(row.p50_ms, 2),
            spread(row.p99_ms, 2),
            if baseline {
                "1".to_owned()
            } else {
                spread(row.per_s_ratio, 2)
            },
            if baseline {
                "1".to_owned()
            } else {
                spread(row.p99_ratio, 1)
            },
            row.errors,
        );
    }
    let checks: Vec<String> = report
        .runs_by_backend
        .iter()
        .map(|(backend, runs)| {
            let bad = runs.iter().filter(|r| !r.creates_add_up(JOBS)).count();
            let created: Vec<String> = runs.iter().map(|r| thousands(r.created)).collect();
            if bad == 0 {
                format!(
                    "{}: `job_info` held the seeded jobs plus every job created in each run ({} created)",
                    report.label(*backend),
                    created.join(", ")
                )
            } else {
                format!(
                    "{}: **in {bad} run(s) `job_info` did not hold the seeded jobs plus those created**",
                    report.label(*backend)
                )
            }
        })
        .collect();
    if !checks.is_empty() {
        let _ = writeln!(md, "\nChecked after each run: {}.", checks.join("; "));
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_stay_below_the_bound() {
        let mut random = Random { state: 1 };
        let draws: Vec<usize> = (0..2000).map(|_| random.below(JOBS / PAGE)).collect();
        assert!(draws.iter().all(|d| *d < JOBS / PAGE));
        assert!(draws.iter().any(|d| *d > JOBS / PAGE / 2));
        assert_eq!(random.below(0), 0);
    }

    #[test]
    fn ratios_are_taken_against_the_health_baseline() {
        let op = |operation, per_s, p99_ms| OperationResult {
            operation,
            requests: 1,
            errors: 0,
            per_s,
            p50_ms: 1.0,
            p99_ms,
            max_ms: p99_ms,
        };
        let run = RunResult {
            server: ServerResult {
                version: "SQLite 3".into(),
                pool_connections: 1,
                seed_s: 0.0,
                jobs_after: (JOBS + 5) as u64,
            },
            operations: vec![op(Operation::Health, 1000.0, 2.0), op(Operation::GetJob, 250.0, 8.0)],
            created: 5,
        };
        assert!(run.creates_add_up(JOBS));
        let rows = rows_of(Backend::Sqlite, &[run]);
        let get = rows.iter().find(|r| r.operation == Operation::GetJob).unwrap();
        assert_eq!(get.per_s_ratio.unwrap().median, 0.25);
        assert_eq!(get.p99_ratio.unwrap().median, 4.0);
        let list = rows.iter().find(|r| r.operation == Operation::ListJobs).unwrap();
        assert_eq!(list.per_s, None);
    }
}
