//! Shared harness of the integration tests.
//!
//! Every test runs once per backend: SQLite always, PostgreSQL when
//! `RUQI_TEST_POSTGRES_URL` is set, MySQL/MariaDB when `RUQI_TEST_MYSQL_URL`
//! is set. With `CI=true` a missing URL fails the test instead of skipping
//! it. Each test gets a database of its own, and (the tests run one process
//! per test under `cargo nextest`) its own process-wide scheduler.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ruqi::entity::{job_execution, job_info};
use ruqi::{ManualClock, Registry, Scheduler, SchedulerBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("RUQI_TEST_POSTGRES_URL"),
            Backend::MySql => Some("RUQI_TEST_MYSQL_URL"),
        }
    }
}

/// A fresh, migrated database of one backend.
pub struct TestDb {
    pub backend: Backend,
    pub db: DatabaseConnection,
    /// The URL other processes connect with.
    pub url: String,
    admin: Option<(DatabaseConnection, String)>,
    /// Holds a SQLite file's directory until the database is dropped.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new database, or `None` when the backend's URL is not set (outside CI).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let test_db = TestDb::empty(backend).await?;
        ruqi::migrate(&test_db.db).await.unwrap();
        Some(test_db)
    }

    /// A new database with nothing in it, not even ruqi's schema, or `None`
    /// when the backend's URL is not set (outside CI).
    pub async fn empty(backend: Backend) -> Option<TestDb> {
        let Some(var) = backend.env_var() else {
            // A file, not `sqlite::memory:`: an in-memory database vanishes
            // with its connection, and the pool may recycle connections.
            let dir = tempfile::Builder::new().prefix("ruqi-test-").tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("ruqi.db").display());
            let db = Database::connect(&url).await.unwrap();
            return Some(TestDb {
                backend,
                db,
                url,
                admin: None,
                _dir: Some(dir),
            });
        };
        let url = match std::env::var(var) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{var} must be set in CI"),
            _ => {
                eprintln!("skipped: {var} is not set");
                return None;
            }
        };
        let admin = Database::connect(&url).await.expect("connect to the test server");
        let name = format!("ruqi_t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        let db = Database::connect(&url).await.unwrap();
        Some(TestDb {
            backend,
            db,
            url,
            admin: Some((admin, name)),
            _dir: None,
        })
    }

    /// Drops the database: the server's, or the SQLite file's directory.
    pub async fn drop_database(self) {
        let TestDb { db, admin, .. } = self;
        let _ = db.close().await;
        if let Some((admin, name)) = admin {
            // A scheduler the test started on its own (not the process-wide
            // one) may still hold connections: PostgreSQL would wait five
            // seconds for them and then refuse, leaving the database behind.
            let force = if admin.get_database_backend() == DatabaseBackend::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                .await;
        }
    }
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(TestDb)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run(super::$name, $crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run(super::$name, $crate::common::Backend::Postgres).await;
                }
            )+
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run(super::$name, $crate::common::Backend::MySql).await;
                }
            )+
        }
    };
}

/// Runs `test` on a fresh database of `backend` (or skips it), then drops the database.
pub async fn run<F, Fut>(test: F, backend: Backend)
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()>,
{
    init_tracing();
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    test(test_db.db.clone()).await;
    if let Some(s) = Scheduler::global() {
        s.shutdown().await;
    }
    test_db.drop_database().await;
}

/// Logs to the test output (filtered by `RUST_LOG`) and captures every
/// event inside a run into that run's log, as an application would set it up.
pub fn init_tracing() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
        )
        .with(ruqi::run_log_layer())
        .try_init();
}

/// 2026-05-01 00:00:00 UTC plus `secs`: the tests' epoch.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// Starts the process-wide scheduler on `db` with `registry` and a manual clock at `t(0)`.
pub async fn start(db: &DatabaseConnection, registry: Registry) -> (Scheduler, ManualClock) {
    start_with(db, registry, |b| b).await.unwrap()
}

/// [`start`], with the builder adjusted by `configure` first; returns the start's result.
pub async fn start_with(
    db: &DatabaseConnection,
    registry: Registry,
    configure: impl FnOnce(SchedulerBuilder) -> SchedulerBuilder,
) -> Result<(Scheduler, ManualClock), ruqi::CoreError> {
    let clock = ManualClock::new(t(0));
    let builder = ruqi::scheduler(db.clone(), registry)
        .node_name("test-node")
        .clock(Arc::new(clock.clone()));
    let scheduler = configure(builder).start().await?;
    Ok((scheduler, clock))
}

/// The `job_info` column named `trigger`, quoted for plain SQL on `db`'s
/// backend (it is a reserved word).
pub fn trigger_col(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DatabaseBackend::MySql => "`trigger`",
        _ => "\"trigger\"",
    }
}

/// `at` as a timestamp literal for plain SQL on `db`'s backend, in the form
/// that backend stores it.
pub fn ts(db: &DatabaseConnection, at: DateTime<Utc>) -> String {
    match db.get_database_backend() {
        DatabaseBackend::MySql => at.format("'%Y-%m-%d %H:%M:%S%.6f'").to_string(),
        DatabaseBackend::Postgres => at.format("'%Y-%m-%d %H:%M:%S%.6f+00'").to_string(),
        _ => format!("'{}'", at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
    }
}

/// Waits (up to 20 s of real time) until `check` holds, re-checking whenever
/// the scheduler reports a change.
pub async fn wait_until<F, Fut>(scheduler: &Scheduler, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut changes = scheduler.subscribe_changes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        changes.borrow_and_update();
        if check().await {
            return;
        }
        // Some conditions (a row written by another connection) change
        // without a scheduler event; re-check at least every 50 ms.
        let wait = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(50)),
            changes.changed(),
        );
        let _ = wait.await;
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
    }
}

/// All executions of `job_id`, oldest scheduled first.
pub async fn executions(db: &DatabaseConnection, job_id: &str) -> Vec<job_execution::Model> {
    job_execution::Entity::find()
        .filter(job_execution::Column::JobId.eq(job_id))
        .order_by_asc(job_execution::Column::ScheduledFor)
        .order_by_asc(job_execution::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// The stored row of `job_id`.
pub async fn row(db: &DatabaseConnection, job_id: &str) -> Option<job_info::Model> {
    job_info::Entity::find_by_id(job_id.to_owned()).one(db).await.unwrap()
}

/// A job ActiveModel with the four required fields set.
pub fn job(job_id: &str, func: &str, trigger: &str, rule: &str) -> job_info::ActiveModel {
    use sea_orm::ActiveValue::Set;
    job_info::ActiveModel {
        job_id: Set(job_id.into()),
        func: Set(func.into()),
        trigger: Set(trigger.into()),
        rule: Set(rule.into()),
        ..<job_info::ActiveModel as sea_orm::ActiveModelBehavior>::new()
    }
}

/// Inserts a `running` execution of `job_id` left by `node`.
pub async fn add_running(db: &DatabaseConnection, id: &str, job_id: &str, node: &str, scheduled_for: DateTime<Utc>) {
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;
    job_execution::ActiveModel {
        id: Set(id.into()),
        job_id: Set(job_id.into()),
        job_name: Set(None),
        scheduled_for: Set(scheduled_for),
        started_at: Set(Some(scheduled_for)),
        finished_at: Set(None),
        duration_ms: Set(None),
        status: Set("running".into()),
        attempt: Set(1),
        output: Set(None),
        error: Set(None),
        node: Set(Some(node.into())),
        trigger_source: Set("schedule".into()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
}

/// Ends execution `id` with `status`, as its node would.
pub async fn end_run(db: &DatabaseConnection, id: &str, status: &str) {
    use sea_orm::sea_query::Expr;
    job_execution::Entity::update_many()
        .col_expr(job_execution::Column::Status, Expr::value(status))
        .col_expr(job_execution::Column::FinishedAt, Expr::value(t(1)))
        .filter(job_execution::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
}

/// Declares, for each test function `name(backend: Backend)` given, a module `name`
/// with one test per backend (`sqlite`, `postgres`, `mysql`); a backend whose URL is
/// not set skips (and fails under `CI=true`) as [`TestDb`] decides.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name(super::Backend::MySql).await;
                }
            }
        )+
    };
}
