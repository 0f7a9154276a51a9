//! The schema on every backend: migrations that can run again and be undone,
//! that several processes can start at once, history that outlives its job,
//! the trigger that keeps `version` honest for plain SQL writers, and
//! timestamps that keep their sub-second part.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use common::{Backend, TestDb, executions, job, row, t, trigger_col};
use ruqi::Migrator;
use ruqi::entity::{job_change, job_execution, job_info, scheduler_node, xxl_app, xxl_dispatch, xxl_executor, xxl_job};
use ruqi_migration::MigratorTrait;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryOrder, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::Barrier;

const MIGRATIONS: [&str; 20] = [
    "m20261121_000001_create_job_tables",
    "m20261121_000002_create_version_triggers",
    "m20261121_000003_create_change_feed",
    "m20261121_000004_add_execution_control",
    "m20261121_000005_lighter_run_writes",
    "m20261121_000006_unindexed_next_run_time",
    "m20261122_000007_notify_logged_changes",
    "m20261122_000008_claims_without_notify",
    "m20261203_000009_running_runs_index",
    "m20261204_000010_schedule_hash",
    "m20261204_000011_sql_session_edits",
    "m20261205_000012_execution_list_order",
    "m20261205_000013_execution_stats_indexes",
    "m20261206_000014_claim_columns",
    "m20261207_000015_record_replaced_claims",
    "m20261207_000016_lighter_run_indexes",
    "m20261208_000017_record_deleted_claims",
    "m20261209_000018_run_arguments",
    "m20261210_000020_xxl_executor_registry",
    "m20261211_000021_xxl_dispatch",
];

/// The migrations recorded in ruqi's own migration table, in order.
async fn applied(db: &DatabaseConnection) -> Vec<String> {
    let sql = "SELECT version FROM ruqi_migrations ORDER BY version";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "version").unwrap())
        .collect()
}

/// Runs a plain SQL statement and returns the job's `version` after it.
async fn version_after(db: &DatabaseConnection, sql: &str) -> i64 {
    db.execute_unprepared(sql).await.unwrap();
    row(db, "j").await.unwrap().version
}

fn history(id: &str, job_id: &str) -> job_execution::ActiveModel {
    job_execution::ActiveModel {
        id: Set(id.into()),
        job_id: Set(job_id.into()),
        job_name: Set(None),
        scheduled_for: Set(t(0)),
        started_at: Set(Some(t(0))),
        finished_at: Set(Some(t(1))),
        duration_ms: Set(Some(1_000)),
        status: Set("success".into()),
        attempt: Set(1),
        output: Set(Some("ok".into())),
        error: Set(None),
        node: Set(Some("test-node".into())),
        trigger_source: Set("schedule".into()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
}

async fn migrate_is_idempotent(db: DatabaseConnection) {
    // The harness has migrated once already.
    ruqi::migrate(&db).await.unwrap();
    ruqi::migrate(&db).await.unwrap();
    assert_eq!(applied(&db).await, MIGRATIONS);
    // ruqi keeps out of the application's own migration table.
    let app_table = Statement::from_string(db.get_database_backend(), "SELECT version FROM seaql_migrations");
    assert!(
        db.query_all_raw(app_table).await.is_err(),
        "seaql_migrations should not exist"
    );

    let saved = job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    assert_eq!(row(&db, "j").await.unwrap(), saved);
}

async fn migrations_go_down_and_up_again(db: DatabaseConnection) {
    job("before", "noop", "interval", "10m").insert(&db).await.unwrap();

    Migrator::down(&db, None).await.unwrap();
    assert!(applied(&db).await.is_empty());
    assert!(
        job_info::Entity::find().all(&db).await.is_err(),
        "job_info should be gone"
    );
    assert!(
        job_execution::Entity::find().all(&db).await.is_err(),
        "job_execution should be gone"
    );
    assert!(
        job_change::Entity::find().all(&db).await.is_err(),
        "job_change should be gone"
    );
    assert!(
        scheduler_node::Entity::find().all(&db).await.is_err(),
        "scheduler_node should be gone"
    );
    assert!(
        xxl_executor::Entity::find().all(&db).await.is_err(),
        "xxl_executor should be gone"
    );
    assert!(
        xxl_job::Entity::find().all(&db).await.is_err(),
        "xxl_job should be gone"
    );
    assert!(
        xxl_dispatch::Entity::find().all(&db).await.is_err(),
        "xxl_dispatch should be gone"
    );
    assert!(
        xxl_app::Entity::find().all(&db).await.is_err(),
        "xxl_app should be gone"
    );

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(applied(&db).await, MIGRATIONS);
    assert_eq!(row(&db, "before").await, None);
    job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    // The trigger is back too.
    let before = row(&db, "j").await.unwrap().version;
    let after = version_after(&db, "UPDATE job_info SET rule = '20m' WHERE job_id = 'j'").await;
    assert_eq!(after, before + 1);
    // And so is the change log: the insert and the edit, each with the version it made.
    let logged: Vec<(String, Option<i64>)> = job_change::Entity::find()
        .order_by_asc(job_change::Column::Seq)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.job_id, c.version))
        .collect();
    assert_eq!(logged.first(), Some(&("j".to_owned(), Some(before))));
    assert_eq!(logged.last(), Some(&("j".to_owned(), Some(after))));
}

async fn history_is_kept_when_its_job_is_deleted(db: DatabaseConnection) {
    let saved = job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    job_execution::Entity::insert_many([history("run-1", "j"), history("run-2", "j")])
        .exec_without_returning(&db)
        .await
        .unwrap();

    saved.into_active_model().delete(&db).await.unwrap();
    assert_eq!(row(&db, "j").await, None);
    let kept: Vec<String> = executions(&db, "j").await.into_iter().map(|e| e.id).collect();
    assert_eq!(kept, ["run-1", "run-2"]);
}

async fn plain_sql_schedule_changes_bump_the_version_once(db: DatabaseConnection) {
    let saved = job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    assert_eq!(saved.version, 1);

    let v = version_after(&db, "UPDATE job_info SET rule = '2h' WHERE job_id = 'j'").await;
    assert_eq!(v, 2, "a rule change");

    // Bookkeeping columns are not schedule changes.
    let v = version_after(&db, "UPDATE job_info SET last_status = 'success' WHERE job_id = 'j'").await;
    assert_eq!(v, 2, "a last_status change");
    let v = version_after(&db, "UPDATE job_info SET description = 'nightly' WHERE job_id = 'j'").await;
    assert_eq!(v, 2, "a description change");
    // Writing a schedule column without changing it is no change either.
    let v = version_after(&db, "UPDATE job_info SET rule = '2h' WHERE job_id = 'j'").await;
    assert_eq!(v, 2, "a rule rewritten unchanged");

    // A writer that bumps the version itself is not bumped again.
    let v = version_after(
        &db,
        "UPDATE job_info SET rule = '3h', version = version + 1 WHERE job_id = 'j'",
    )
    .await;
    assert_eq!(v, 3, "a rule change that bumps the version itself");

    let sql = format!(
        "UPDATE job_info SET {} = 'cron', rule = '0 0 * * * *' WHERE job_id = 'j'",
        trigger_col(&db)
    );
    let v = version_after(&db, &sql).await;
    assert_eq!(v, 4, "a trigger and rule change in one statement");

    // The execution-control columns change how the job runs, so they count too.
    let v = version_after(&db, "UPDATE job_info SET retry_delay = '1m' WHERE job_id = 'j'").await;
    assert_eq!(v, 5, "a retry_delay change");
    let v = version_after(&db, "UPDATE job_info SET child_jobs = 'k' WHERE job_id = 'j'").await;
    assert_eq!(v, 6, "a child_jobs change");

    let stored = row(&db, "j").await.unwrap();
    assert_eq!((stored.trigger.as_str(), stored.rule.as_str()), ("cron", "0 0 * * * *"));
    assert_eq!(stored.description.as_deref(), Some("nightly"));
    assert_eq!(stored.last_status.as_deref(), Some("success"));
}

async fn timestamps_keep_sub_second_precision(db: DatabaseConnection) {
    let first = t(600) + Duration::milliseconds(123);
    let saved = job_info::ActiveModel {
        next_run_time: Set(Some(first)),
        ..job("j", "noop", "interval", "10m")
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(saved.next_run_time, Some(first));
    assert_eq!(row(&db, "j").await.unwrap().next_run_time, Some(first));

    // Microseconds, as the migration promises for every backend.
    let second = t(1200) + Duration::microseconds(456_789);
    let mut am = saved.into_active_model();
    am.next_run_time = Set(Some(second));
    let updated = am.update(&db).await.unwrap();
    assert_eq!(updated.next_run_time, Some(second));
    assert_eq!(row(&db, "j").await.unwrap().next_run_time, Some(second));

    let mut run = history("run-1", "j");
    run.scheduled_for = Set(second);
    run.finished_at = Set(Some(second + Duration::microseconds(1)));
    run.insert(&db).await.unwrap();
    let stored = &executions(&db, "j").await[0];
    assert_eq!(
        (stored.scheduled_for, stored.finished_at),
        (second, Some(second + Duration::microseconds(1)))
    );
}

/// Pools, each standing for a process of its own, that migrate one fresh
/// database at the same instant.
const SIMULTANEOUS_MIGRATORS: usize = 4;

/// Fresh databases migrated that way per backend: a race that one start in a
/// few would lose must not hide.
const SIMULTANEOUS_ROUNDS: usize = 4;

async fn pools_migrating_a_fresh_database_at_once_all_succeed(backend: Backend) {
    common::init_tracing();
    for round in 1..=SIMULTANEOUS_ROUNDS {
        let Some(test_db) = TestDb::empty(backend).await else {
            return;
        };
        let start = Arc::new(Barrier::new(SIMULTANEOUS_MIGRATORS));
        let migrators: Vec<_> = (0..SIMULTANEOUS_MIGRATORS)
            .map(|_| {
                let (url, start) = (test_db.url.clone(), start.clone());
                tokio::spawn(async move {
                    let db = Database::connect(&url).await.unwrap();
                    start.wait().await;
                    let migrated = ruqi::migrate(&db).await;
                    db.close().await.unwrap();
                    migrated
                })
            })
            .collect();
        let mut failures = Vec::new();
        for (i, migrator) in migrators.into_iter().enumerate() {
            if let Err(e) = migrator.await.unwrap() {
                failures.push(format!("pool {i}: {e}"));
            }
        }
        assert!(failures.is_empty(), "round {round} on {backend:?}: {failures:#?}");

        // The schema is complete, and recorded once.
        let db = &test_db.db;
        assert_eq!(applied(db).await, MIGRATIONS, "round {round} on {backend:?}");
        job("j", "noop", "interval", "10m").insert(db).await.unwrap();
        let after = version_after(db, "UPDATE job_info SET rule = '20m' WHERE job_id = 'j'").await;
        assert_eq!(after, 2, "the version trigger, round {round} on {backend:?}");
        let logged = job_change::Entity::find().all(db).await.unwrap();
        assert_eq!(logged.len(), 2, "the change log, round {round} on {backend:?}");
        scheduler_node::Entity::find().all(db).await.unwrap();
        xxl_executor::Entity::find().all(db).await.unwrap();
        xxl_job::Entity::find().all(db).await.unwrap();
        xxl_dispatch::Entity::find().all(db).await.unwrap();
        xxl_app::Entity::find().all(db).await.unwrap();
        test_db.drop_database().await;
    }
}

mod pools_migrating_a_fresh_database_at_once_all_succeed {
    use super::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::pools_migrating_a_fresh_database_at_once_all_succeed(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::pools_migrating_a_fresh_database_at_once_all_succeed(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::pools_migrating_a_fresh_database_at_once_all_succeed(Backend::MySql).await;
    }
}

/// ruqi's migration lock, held on a connection of its own the way a process
/// in the middle of migrating holds it.
struct LockHolder {
    transaction: DatabaseTransaction,
}

impl LockHolder {
    async fn hold(url: &str) -> LockHolder {
        let holder = Database::connect(url).await.unwrap();
        let backend = holder.get_database_backend();
        let (transaction, take) = match backend {
            // The file's write lock, held from the start of the transaction.
            DatabaseBackend::Sqlite => {
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                (holder.begin_with_options(options).await.unwrap(), None)
            }
            // Session locks: the transaction only keeps their connection apart.
            DatabaseBackend::Postgres => (
                holder.begin().await.unwrap(),
                Some(format!(
                    "SELECT pg_try_advisory_lock({})::int::bigint AS got",
                    ruqi_migration::POSTGRES_MIGRATION_LOCK_KEY
                )),
            ),
            _ => (
                holder.begin().await.unwrap(),
                Some(format!(
                    "SELECT GET_LOCK(CONCAT('{}', DATABASE()), 0) AS got",
                    ruqi_migration::MYSQL_MIGRATION_LOCK_PREFIX
                )),
            ),
        };
        if let Some(take) = take {
            let row = transaction
                .query_one_raw(Statement::from_string(backend, take))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get::<i64>("", "got").unwrap(), 1, "the lock is free");
        }
        LockHolder { transaction }
    }

    async fn release(self) {
        let backend = self.transaction.get_database_backend();
        let unlock = match backend {
            DatabaseBackend::Postgres => Some(format!(
                "SELECT pg_advisory_unlock({})",
                ruqi_migration::POSTGRES_MIGRATION_LOCK_KEY
            )),
            DatabaseBackend::MySql => Some(format!(
                "SELECT RELEASE_LOCK(CONCAT('{}', DATABASE()))",
                ruqi_migration::MYSQL_MIGRATION_LOCK_PREFIX
            )),
            _ => None,
        };
        if let Some(unlock) = unlock {
            self.transaction.execute_unprepared(&unlock).await.unwrap();
        }
        self.transaction.rollback().await.unwrap();
    }
}

async fn migrate_gives_up_when_the_lock_stays_held(backend: Backend) {
    common::init_tracing();
    let Some(test_db) = TestDb::empty(backend).await else {
        return;
    };
    let db = &test_db.db;
    let holder = LockHolder::hold(&test_db.url).await;
    let max_wait = std::time::Duration::from_secs(1);
    let started = Instant::now();
    let error = ruqi_migration::migrate_waiting(db, max_wait).await.unwrap_err();
    assert!(started.elapsed() >= max_wait, "gave up after {:?}", started.elapsed());
    let message = error.to_string();
    let lock = match backend {
        Backend::Postgres => format!("advisory lock {}", ruqi_migration::POSTGRES_MIGRATION_LOCK_KEY),
        Backend::MySql => "lock 'ruqi_migrations.ruqi_t_".to_owned(),
        Backend::Sqlite => "SQLite write lock".to_owned(),
    };
    assert!(
        message.contains("waiting 1.0 s for the migration lock") && message.contains(&lock),
        "{message}"
    );
    let recorded = Statement::from_string(db.get_database_backend(), "SELECT version FROM ruqi_migrations");
    assert!(
        db.query_all_raw(recorded).await.is_err(),
        "nothing is migrated without the lock"
    );

    holder.release().await;
    ruqi_migration::migrate_waiting(db, max_wait).await.unwrap();
    assert_eq!(applied(db).await, MIGRATIONS);
    test_db.drop_database().await;
}

async fn a_pool_of_one_connection_migrates_only_on_sqlite(backend: Backend) {
    common::init_tracing();
    let Some(test_db) = TestDb::empty(backend).await else {
        return;
    };
    let mut options = sea_orm::ConnectOptions::new(test_db.url.clone());
    options.max_connections(1);
    let single = Database::connect(options).await.unwrap();
    let migrated = ruqi::migrate(&single).await;
    single.close().await.unwrap();
    if backend == Backend::Sqlite {
        // The run is one transaction on the one connection.
        migrated.unwrap();
        assert_eq!(applied(&test_db.db).await, MIGRATIONS);
    } else {
        // The lock would hold the one connection the migrations need.
        let message = migrated.unwrap_err().to_string();
        assert!(message.contains("a pool of at least two connections"), "{message}");
    }
    test_db.drop_database().await;
}

mod a_pool_of_one_connection_migrates_only_on_sqlite {
    use super::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_pool_of_one_connection_migrates_only_on_sqlite(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_pool_of_one_connection_migrates_only_on_sqlite(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::a_pool_of_one_connection_migrates_only_on_sqlite(Backend::MySql).await;
    }
}

mod migrate_gives_up_when_the_lock_stays_held {
    use super::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::migrate_gives_up_when_the_lock_stays_held(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::migrate_gives_up_when_the_lock_stays_held(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::migrate_gives_up_when_the_lock_stays_held(Backend::MySql).await;
    }
}

backend_tests!(
    migrate_is_idempotent,
    migrations_go_down_and_up_again,
    history_is_kept_when_its_job_is_deleted,
    plain_sql_schedule_changes_bump_the_version_once,
    timestamps_keep_sub_second_precision,
);
