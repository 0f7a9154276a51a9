//! A node's lease: a node cut off from the database fences itself before a
//! peer may take its runs over; a database outage that every node saw makes
//! no live node dead; a claim whose answer was lost still runs its fire
//! once; a claim that comes back late does not push the next fire out; and
//! history writes can be made again without harm.
//!
//! The node under test runs on a store that passes everything to the real
//! one, except while the test has "cut it off": then what this node asks of
//! the node registry fails, as it would with the database out of reach.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::{executions, job, t, wait_until};
use ruqi::entity::{job_info, scheduler_node};
use ruqi::execution::{ExecutionEnd, ExecutionStart, MissedFire};
use ruqi::{
    CancelTarget, ChangeFeed, CoreError, ExecutionStatus, Heartbeat, JobContext, JobRecord, JobStateChange, JobStore,
    LostRun, ManualClock, NodeInfo, Registry, Scheduler, SeaOrmStore,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter};

/// The heartbeat interval here: the lease is fenced after 400 ms and runs
/// out for the peers after 600 ms.
const HEARTBEAT: Duration = Duration::from_millis(200);

/// The real store, with switches.
struct Switched {
    inner: SeaOrmStore,
    /// This node cannot reach the node registry (heartbeats, reaping).
    cut_off: Arc<AtomicBool>,
    /// How many of the next claims lose their answer after they were written.
    lose_claim_answers: Arc<AtomicUsize>,
    /// While `true`, claims wait before they reach the database.
    hold_claims: Arc<watch::Sender<bool>>,
    /// Claims that have waited on `hold_claims`.
    claims_held: Arc<AtomicUsize>,
    /// While `true`, loads of the schedule wait before they reach the database.
    hold_loads: Arc<watch::Sender<bool>>,
}

impl Switched {
    async fn load_allowed(&self) {
        let _ = self.hold_loads.subscribe().wait_for(|held| !*held).await;
    }
}

fn unreachable() -> CoreError {
    CoreError::Store("the database cannot be reached (cut off by the test)".into())
}

#[async_trait]
impl JobStore for Switched {
    async fn load_jobs(&self) -> Result<Vec<JobRecord>, CoreError> {
        self.load_allowed().await;
        self.inner.load_jobs().await
    }
    async fn load_jobs_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<JobRecord>, CoreError> {
        self.load_allowed().await;
        self.inner.load_jobs_after(after, limit).await
    }
    async fn load_job(&self, job_id: &str) -> Result<Option<JobRecord>, CoreError> {
        self.inner.load_job(job_id).await
    }
    async fn load_jobs_by_id(&self, job_ids: &[String]) -> Result<Vec<JobRecord>, CoreError> {
        self.inner.load_jobs_by_id(job_ids).await
    }
    async fn update_job_state(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
    ) -> Result<bool, CoreError> {
        self.inner.update_job_state(job_id, expected_version, change).await
    }
    async fn claim_fire(
        &self,
        job_id: &str,
        expected_version: i64,
        change: &JobStateChange,
        start: Option<&ExecutionStart>,
        missed: &[MissedFire],
    ) -> Result<bool, CoreError> {
        let mut hold = self.hold_claims.subscribe();
        if *hold.borrow_and_update() {
            self.claims_held.fetch_add(1, Ordering::AcqRel);
            let _ = hold.wait_for(|held| !*held).await;
        }
        let won = self
            .inner
            .claim_fire(job_id, expected_version, change, start, missed)
            .await?;
        let lose = self
            .lose_claim_answers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if lose {
            return Err(CoreError::Store("connection reset after the commit was sent".into()));
        }
        Ok(won)
    }
    async fn execution_status(&self, id: &str) -> Result<Option<ExecutionStatus>, CoreError> {
        self.inner.execution_status(id).await
    }
    async fn claim_status(&self, job_id: &str, execution_id: &str) -> Result<Option<ExecutionStatus>, CoreError> {
        self.inner.claim_status(job_id, execution_id).await
    }
    async fn set_last_error(&self, job_id: &str, error: Option<&str>) -> Result<(), CoreError> {
        self.inner.set_last_error(job_id, error).await
    }
    async fn record_missed(&self, fires: &[MissedFire]) -> Result<(), CoreError> {
        self.inner.record_missed(fires).await
    }
    async fn record_start(&self, start: &ExecutionStart) -> Result<(), CoreError> {
        self.inner.record_start(start).await
    }
    async fn record_end(&self, end: &ExecutionEnd, still_running: bool) -> Result<(), CoreError> {
        // As the real store does with a passing error: wait, then write.
        while self.cut_off.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.inner.record_end(end, still_running).await
    }
    async fn open_change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, CoreError> {
        self.inner.open_change_feed().await
    }
    async fn register_node(&self, node: &NodeInfo, dead_after: Duration) -> Result<Vec<LostRun>, CoreError> {
        self.inner.register_node(node, dead_after).await
    }
    async fn heartbeat(&self, node: &NodeInfo) -> Result<Heartbeat, CoreError> {
        if self.cut_off.load(Ordering::Acquire) {
            return Err(unreachable());
        }
        self.inner.heartbeat(node).await
    }
    async fn reap_dead_nodes(
        &self,
        me: &str,
        dead_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<LostRun>, CoreError> {
        if self.cut_off.load(Ordering::Acquire) {
            return Err(unreachable());
        }
        self.inner.reap_dead_nodes(me, dead_after, now).await
    }
    async fn record_progress(&self, execution_id: &str, output: &str) -> Result<(), CoreError> {
        self.inner.record_progress(execution_id, output).await
    }
    async fn request_cancel(&self, target: &CancelTarget, except_node: &str) -> Result<u64, CoreError> {
        self.inner.request_cancel(target, except_node).await
    }
    async fn cancel_requests(&self, node: &str) -> Result<Vec<String>, CoreError> {
        if self.cut_off.load(Ordering::Acquire) {
            return Err(unreachable());
        }
        self.inner.cancel_requests(node).await
    }
    async fn deregister_node(&self, node: &str) -> Result<(), CoreError> {
        self.inner.deregister_node(node).await
    }
}

struct Node {
    scheduler: Scheduler,
    clock: ManualClock,
    cut_off: Arc<AtomicBool>,
    lose_claim_answers: Arc<AtomicUsize>,
    hold_claims: Arc<watch::Sender<bool>>,
    claims_held: Arc<AtomicUsize>,
}

async fn start_node(db: &DatabaseConnection, registry: Registry) -> Node {
    start_node_loading(db, registry, Arc::new(watch::Sender::new(false))).await
}

/// Starts the node under test; its loads of the schedule wait while `hold_loads` is `true`.
async fn start_node_loading(db: &DatabaseConnection, registry: Registry, hold_loads: Arc<watch::Sender<bool>>) -> Node {
    let cut_off = Arc::new(AtomicBool::new(false));
    let lose_claim_answers = Arc::new(AtomicUsize::new(0));
    let hold_claims = Arc::new(watch::Sender::new(false));
    let claims_held = Arc::new(AtomicUsize::new(0));
    let store = Switched {
        inner: SeaOrmStore::new(db.clone()),
        cut_off: cut_off.clone(),
        lose_claim_answers: lose_claim_answers.clone(),
        hold_claims: hold_claims.clone(),
        claims_held: claims_held.clone(),
        hold_loads,
    };
    let clock = ManualClock::new(t(0));
    let scheduler = Scheduler::builder(Arc::new(store), registry)
        .node_name("test-node")
        .heartbeat_interval(HEARTBEAT)
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .unwrap();
    Node {
        scheduler,
        clock,
        cut_off,
        lose_claim_answers,
        hold_claims,
        claims_held,
    }
}

/// Notes when the run holding it stopped (an async run that is cancelled
/// is dropped at its next await).
struct StopWatch(Arc<std::sync::Mutex<Option<Instant>>>);

impl Drop for StopWatch {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(Instant::now());
    }
}

/// A function that runs until it is stopped, and says when that was.
fn until_cancelled(cancelled_at: Arc<std::sync::Mutex<Option<Instant>>>) -> Registry {
    let mut registry = Registry::new();
    registry.register("long", move |_ctx: JobContext| {
        let watch = StopWatch(cancelled_at.clone());
        async move {
            let _watch = watch;
            std::future::pending::<()>().await;
            Ok::<_, String>("never")
        }
    });
    registry.register("hello", |_ctx: JobContext| async { Ok::<_, String>("hello") });
    registry
}

async fn add_peer(db: &DatabaseConnection, node: &str) {
    scheduler_node::ActiveModel {
        node: Set(node.into()),
        host: Set(Some("elsewhere".into())),
        pid: Set(Some(4242)),
        started_at: Set(Utc::now()),
        heartbeat_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    beat(db, node).await;
}

/// Writes `node`'s heartbeat as a live node does: the database's time, in
/// the form the registry compares.
async fn beat(db: &DatabaseConnection, node: &str) {
    let now = match db.get_database_backend() {
        DatabaseBackend::Postgres => "clock_timestamp()",
        DatabaseBackend::MySql => "UTC_TIMESTAMP(6)",
        _ => "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
    };
    scheduler_node::Entity::update_many()
        .col_expr(scheduler_node::Column::HeartbeatAt, Expr::cust(now))
        .filter(scheduler_node::Column::Node.eq(node))
        .exec(db)
        .await
        .unwrap();
}

async fn status_of(db: &DatabaseConnection, id: &str) -> String {
    ruqi::entity::job_execution::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .unwrap()
        .map(|row| row.status)
        .unwrap_or_default()
}

/// A node that cannot renew its lease cancels its runs after two heartbeat
/// intervals — before its peers could take it for dead after three — and
/// records them once it reaches the database again.
async fn a_cut_off_node_fences_itself_before_its_lease_runs_out(db: DatabaseConnection) {
    let cancelled_at = Arc::new(std::sync::Mutex::new(None));
    let node = start_node(&db, until_cancelled(cancelled_at.clone())).await;
    job("j", "long", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    wait_until(&node.scheduler, "scheduled", || async {
        node.scheduler.live("j").is_some()
    })
    .await;
    let id = node.scheduler.run_now("j").await.unwrap().unwrap();
    wait_until(&node.scheduler, "running", || async {
        status_of(&db, &id).await == "running"
    })
    .await;

    let cut_at = Instant::now();
    node.cut_off.store(true, Ordering::Release);
    wait_until(&node.scheduler, "the run is cancelled", || async {
        cancelled_at.lock().unwrap().is_some()
    })
    .await;
    let fenced_after = cancelled_at.lock().unwrap().unwrap() - cut_at;
    assert!(
        fenced_after < HEARTBEAT * 3,
        "fenced {fenced_after:?} after the cut, not before the lease ran out for the peers"
    );
    assert!(
        fenced_after >= HEARTBEAT,
        "fenced {fenced_after:?} after the cut: before its lease was at risk"
    );

    node.cut_off.store(false, Ordering::Release);
    wait_until(&node.scheduler, "the run is recorded", || async {
        status_of(&db, &id).await == "cancelled"
    })
    .await;
    let row = &executions(&db, "j").await[0];
    assert!(
        row.error
            .as_deref()
            .unwrap_or_default()
            .contains("could not renew its lease"),
        "{row:?}"
    );
}

/// The database was out of reach for every node (this one cut off, the
/// peer silent) for several leases. When it is back, this node does not
/// take the peer for dead at once: the peer renews within a lease and keeps
/// its run. A peer that stays silent is taken for dead a lease later.
async fn an_outage_for_everyone_makes_no_live_node_dead(db: DatabaseConnection) {
    let node = start_node(&db, until_cancelled(Arc::default())).await;
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    add_peer(&db, "peer").await;
    common::add_running(&db, "peer-run", "j", "peer", t(0)).await;
    // A lease of good heartbeats, with the peer beating too.
    let until = Instant::now() + HEARTBEAT * 4;
    while Instant::now() < until {
        beat(&db, "peer").await;
        tokio::time::sleep(HEARTBEAT / 4).await;
    }
    assert_eq!(node.scheduler.status().nodes.len(), 2);

    // The outage: nobody's heartbeat goes through for five leases' worth.
    node.cut_off.store(true, Ordering::Release);
    tokio::time::sleep(HEARTBEAT * 10).await;
    node.cut_off.store(false, Ordering::Release);
    // The peer comes back a little later than this node, within a lease.
    tokio::time::sleep(HEARTBEAT * 2).await;
    let until = Instant::now() + HEARTBEAT * 6;
    let mut last_beat = Instant::now();
    while Instant::now() < until {
        last_beat = Instant::now();
        beat(&db, "peer").await;
        tokio::time::sleep(HEARTBEAT / 4).await;
    }
    assert_eq!(
        status_of(&db, "peer-run").await,
        "running",
        "a live peer's run was taken as lost"
    );

    // Now the peer really stops.
    wait_until(&node.scheduler, "the silent peer's run is lost", || async {
        status_of(&db, "peer-run").await == "lost"
    })
    .await;
    assert!(last_beat.elapsed() >= HEARTBEAT * 3, "not before its lease ran out");
}

/// The claim of a fire is written, but its answer is lost on the way back:
/// the node finds its row, and the fire runs once, on time.
async fn a_claim_whose_answer_was_lost_still_runs_once(db: DatabaseConnection) {
    let node = start_node(&db, until_cancelled(Arc::default())).await;
    job("j", "hello", "interval", "1m").insert(&db).await.unwrap();
    wait_until(&node.scheduler, "scheduled", || async {
        node.scheduler.live("j").is_some()
    })
    .await;
    node.lose_claim_answers.store(1, Ordering::Release);
    node.clock.advance(chrono::Duration::seconds(60));
    wait_until(&node.scheduler, "the run succeeded", || async {
        executions(&db, "j").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs = executions(&db, "j").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].scheduled_for, t(60));
    assert_eq!(
        node.lose_claim_answers.load(Ordering::Acquire),
        0,
        "the answer was lost"
    );
}

/// A claim that comes back a minute late starts its run after the job's
/// next instant has passed. That late run does not push the next fire out
/// (`overlap = skip` skips only a fire that finds a run already in
/// progress at its instant): the next fire waits behind it, and both run.
async fn a_late_run_does_not_push_the_next_fire_out(db: DatabaseConnection) {
    let gate = Arc::new(Semaphore::new(0));
    let mut registry = Registry::new();
    let opened = gate.clone();
    registry.register("gated", move |_ctx: JobContext| {
        let gate = opened.clone();
        async move {
            gate.acquire().await.map_err(|e| e.to_string())?.forget();
            Ok::<_, String>("through")
        }
    });
    let node = start_node(&db, registry).await;
    job_info::ActiveModel {
        misfire_grace_s: Set(3600),
        ..job("j", "gated", "interval", "1m")
    }
    .insert(&db)
    .await
    .unwrap();
    wait_until(&node.scheduler, "scheduled", || async {
        node.scheduler
            .live("j")
            .is_some_and(|live| live.next_run_time == Some(t(60)))
    })
    .await;

    // The claim of the fire for t(60) is held back until t(125), past the next instant.
    node.hold_claims.send_replace(true);
    node.clock.advance(chrono::Duration::seconds(60));
    wait_until(&node.scheduler, "the claim waits", || async {
        node.claims_held.load(Ordering::Acquire) == 1
    })
    .await;
    node.clock.advance(chrono::Duration::seconds(65));
    node.hold_claims.send_replace(false);

    // The late run holds the job's one place; the fire for t(120) waits behind it.
    wait_until(&node.scheduler, "one run in progress and one waiting", || async {
        node.scheduler
            .live("j")
            .is_some_and(|live| live.running == 1 && live.queued == 1)
    })
    .await;
    gate.add_permits(2);
    wait_until(&node.scheduler, "both runs ended", || async {
        executions(&db, "j")
            .await
            .iter()
            .filter(|e| e.status == "success")
            .count()
            == 2
    })
    .await;
    let runs: Vec<_> = executions(&db, "j")
        .await
        .into_iter()
        .map(|e| (e.scheduled_for, e.status, e.error))
        .collect();
    assert_eq!(
        runs,
        vec![
            (t(60), "success".to_owned(), None),
            (t(120), "success".to_owned(), None)
        ]
    );
}

/// The end of a run written twice (its first answer lost) leaves one row,
/// and an end that comes after a peer marked the run `lost` keeps `lost`.
async fn history_writes_can_be_made_again(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    let store = SeaOrmStore::new(db.clone());
    let start = ExecutionStart {
        id: "run-1".into(),
        job_id: "j".into(),
        job_name: None,
        scheduled_for: t(0),
        started_at: t(0),
        attempt: 1,
        trigger_source: ruqi::TriggerSource::Manual,
        node: "test-node".into(),
        args: None,
    };
    let end = ExecutionEnd {
        id: "run-1".into(),
        job_id: "j".into(),
        status: ExecutionStatus::Success,
        started_at: Some(t(0)),
        finished_at: t(1),
        duration_ms: 1_000,
        output: Some("done".into()),
        error: None,
    };
    // Start still queued: the end writes the whole row; then again.
    store.record_start(&start).await.unwrap();
    store.record_end(&end, false).await.unwrap();
    store.record_end(&end, false).await.unwrap();
    let runs = executions(&db, "j").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].status.as_str(), runs[0].output.as_deref()),
        ("success", Some("done"))
    );

    common::add_running(&db, "run-2", "j", "test-node", t(60)).await;
    ruqi::entity::job_execution::Entity::update_many()
        .col_expr(ruqi::entity::job_execution::Column::Status, Expr::value("lost"))
        .filter(ruqi::entity::job_execution::Column::Id.eq("run-2"))
        .exec(&db)
        .await
        .unwrap();
    let late = ExecutionEnd {
        id: "run-2".into(),
        ..end.clone()
    };
    store.record_end(&late, false).await.unwrap();
    assert_eq!(status_of(&db, "run-2").await, "lost");

    let missed = MissedFire {
        id: "missed-1".into(),
        job_id: "j".into(),
        job_name: None,
        scheduled_for: t(120),
        noticed_at: t(130),
        reason: "missed by 10s".into(),
        node: "test-node".into(),
        trigger_source: ruqi::TriggerSource::Schedule,
    };
    store.record_missed(std::slice::from_ref(&missed)).await.unwrap();
    store.record_missed(std::slice::from_ref(&missed)).await.unwrap();
    assert_eq!(executions(&db, "j").await.len(), 3);
}

/// A pool of two connections on the test's database (one of them held by
/// the change feed on PostgreSQL), as a small application pool that other
/// work can take up entirely; waiting for one of them fails after 500 ms.
async fn small_pool(db: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::sqlx::{mysql::MySqlPoolOptions, postgres::PgPoolOptions, sqlite::SqlitePoolOptions};
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let options = (*db.get_postgres_connection_pool().connect_options()).clone();
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_millis(500))
                .connect_with(options);
            sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool.await.unwrap())
        }
        DatabaseBackend::MySql => {
            let options = (*db.get_mysql_connection_pool().connect_options()).clone();
            let pool = MySqlPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_millis(500))
                .connect_with(options);
            sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool.await.unwrap())
        }
        _ => {
            let options = (*db.get_sqlite_connection_pool().connect_options()).clone();
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_millis(500))
                .connect_with(options);
            sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.await.unwrap())
        }
    }
}

async fn heartbeat_of(db: &DatabaseConnection, node: &str) -> DateTime<Utc> {
    scheduler_node::Entity::find_by_id(node.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .heartbeat_at
}

/// A node whose every pooled connection is taken up by other work (as when
/// thousands of fires come due at once) still renews its lease through a
/// connection of its own, so it neither fences itself nor stops its runs.
async fn a_node_with_a_busy_pool_keeps_its_lease(db: DatabaseConnection) {
    let small = small_pool(&db).await;
    let cancelled_at = Arc::new(std::sync::Mutex::new(None));
    let node = start_node(&small, until_cancelled(cancelled_at.clone())).await;
    job("j", "long", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    wait_until(&node.scheduler, "scheduled", || async {
        node.scheduler.live("j").is_some()
    })
    .await;
    let id = node.scheduler.run_now("j").await.unwrap().unwrap();
    wait_until(&node.scheduler, "running", || async {
        status_of(&db, &id).await == "running"
    })
    .await;

    // Other work takes every connection of the pool that is free.
    let mut busy = Vec::new();
    while let Ok(txn) = sea_orm::TransactionTrait::begin(&small).await {
        busy.push(txn);
    }
    assert!(!busy.is_empty());
    let from = heartbeat_of(&db, "test-node").await;
    let lease = chrono::Duration::from_std(HEARTBEAT * 3).unwrap();
    wait_until(&node.scheduler, "renewals for a whole lease", || async {
        heartbeat_of(&db, "test-node").await - from >= lease
    })
    .await;
    assert!(
        cancelled_at.lock().unwrap().is_none(),
        "the run was stopped while the node kept renewing its lease"
    );
    assert_eq!(status_of(&db, &id).await, "running");
    drop(busy);
    node.scheduler.cancel_running("j");
}

/// A node whose first load of the schedule takes longer than a lease (a
/// million jobs take seconds) renews its lease meanwhile, so its timer
/// starts with the lease held and no peer could take it for dead; its first
/// fire then runs on its instant, once, with no `missed` row.
async fn a_long_first_load_keeps_the_lease(db: DatabaseConnection) {
    job("j", "hello", "interval", "1m").insert(&db).await.unwrap();
    let hold_loads = Arc::new(watch::Sender::new(true));
    let starting = {
        let db = db.clone();
        let hold_loads = hold_loads.clone();
        tokio::spawn(async move { start_node_loading(&db, until_cancelled(Arc::default()), hold_loads).await })
    };
    // The load waits while the node's heartbeats go on for a whole lease.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lease = chrono::Duration::from_std(HEARTBEAT * 3).unwrap();
    let mut registered_at = None;
    loop {
        let row = scheduler_node::Entity::find_by_id("test-node".to_owned())
            .one(&db)
            .await
            .unwrap();
        if let Some(node) = row {
            let first = *registered_at.get_or_insert(node.heartbeat_at);
            if node.heartbeat_at - first >= lease {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no heartbeats for a whole lease while the schedule loaded"
        );
        tokio::time::sleep(HEARTBEAT / 4).await;
    }
    assert!(!starting.is_finished(), "the load was held, yet the node started");
    hold_loads.send_replace(false);
    let node = starting.await.unwrap();

    let at = node.scheduler.live("j").and_then(|live| live.next_run_time).unwrap();
    node.clock.advance(at - ruqi::Clock::now(&node.clock));
    wait_until(&node.scheduler, "the fire ran", || async {
        executions(&db, "j").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs: Vec<_> = executions(&db, "j")
        .await
        .into_iter()
        .map(|e| (e.scheduled_for, e.status, e.error))
        .collect();
    assert_eq!(runs, vec![(at, "success".to_owned(), None)]);
}

backend_tests!(
    a_long_first_load_keeps_the_lease,
    a_node_with_a_busy_pool_keeps_its_lease,
    a_cut_off_node_fences_itself_before_its_lease_runs_out,
    an_outage_for_everyone_makes_no_live_node_dead,
    a_claim_whose_answer_was_lost_still_runs_once,
    a_late_run_does_not_push_the_next_fire_out,
    history_writes_can_be_made_again,
);
