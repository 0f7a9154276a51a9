//! Plain SQL edits of `job_info` — no ORM, no hooks — reach the running
//! scheduler through the change feed (the migrations' triggers and the
//! `job_change` log), on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Timelike;
use common::{executions, job, row, start, t, trigger_col, ts, wait_until};
use ruqi::entity::{job_change, job_info};
use ruqi::{FeedConfig, JobContext, ManualClock, Registry, Scheduler, SeaOrmStore};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, TransactionTrait};

// Rules are chosen not to match the manual clock's start (t(0), a full hour):
// a cron job created at an instant its rule matches fires at that instant.

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("hello", |ctx: JobContext| async move {
        ctx.log("hello");
        Ok::<_, String>(())
    });
    r
}

async fn sql(db: &DatabaseConnection, statement: &str) {
    db.execute_unprepared(statement).await.unwrap();
}

async fn next_fire(scheduler: &Scheduler, job_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    scheduler.live(job_id).and_then(|l| l.next_run_time)
}

async fn raw_insert(db: &DatabaseConnection, job_id: &str, rule: &str) {
    let statement = format!(
        "INSERT INTO job_info (job_id, job_name, func, {trigger}, rule) VALUES ('{job_id}', 'raw', 'hello', 'cron', '{rule}')",
        trigger = trigger_col(db)
    );
    sql(db, &statement).await;
}

async fn inserted_row_is_validated_scheduled_and_written_back(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    raw_insert(&db, "raw", "4 * * * *").await;
    wait_until(&scheduler, "the inserted row is scheduled", || async {
        next_fire(&scheduler, "raw").await == Some(t(240))
    })
    .await;
    wait_until(&scheduler, "next_run_time is written back", || async {
        row(&db, "raw").await.unwrap().next_run_time == Some(t(240))
    })
    .await;
}

async fn changed_rule_reschedules(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_until(&scheduler, "the job is scheduled", || async {
        next_fire(&scheduler, "j").await == Some(t(240))
    })
    .await;
    sql(&db, "UPDATE job_info SET rule = '8 * * * *' WHERE job_id = 'j'").await;
    wait_until(&scheduler, "the new rule applies", || async {
        next_fire(&scheduler, "j").await == Some(t(480))
    })
    .await;
    assert_eq!(row(&db, "j").await.unwrap().next_run_time, Some(t(480)));
}

async fn changed_next_run_time_alone_moves_the_next_fire(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    let statement = format!(
        "UPDATE job_info SET next_run_time = {} WHERE job_id = 'j'",
        ts(&db, t(42))
    );
    sql(&db, &statement).await;
    wait_until(&scheduler, "the moved fire is adopted", || async {
        next_fire(&scheduler, "j").await == Some(t(42))
    })
    .await;
}

async fn pause_and_resume_by_flag(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    sql(&db, "UPDATE job_info SET is_paused = TRUE WHERE job_id = 'j'").await;
    wait_until(&scheduler, "the job is paused", || async {
        scheduler.live("j").is_some_and(|l| !l.scheduled)
    })
    .await;
    assert_eq!(row(&db, "j").await.unwrap().next_run_time, None);

    sql(&db, "UPDATE job_info SET is_paused = FALSE WHERE job_id = 'j'").await;
    wait_until(&scheduler, "the job is resumed", || async {
        next_fire(&scheduler, "j").await == Some(t(240))
    })
    .await;
    wait_until(&scheduler, "the resumed fire is written back", || async {
        row(&db, "j").await.unwrap().next_run_time == Some(t(240))
    })
    .await;
}

async fn run_right_now_runs_once_and_resets(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    sql(&db, "UPDATE job_info SET run_right_now = TRUE WHERE job_id = 'j'").await;
    wait_until(&scheduler, "the job ran once", || async {
        executions(&db, "j").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs = executions(&db, "j").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].trigger_source, "manual");
    assert!(!row(&db, "j").await.unwrap().run_right_now);
}

async fn invalid_edit_unschedules_only_that_job(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("bad", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    job("good", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    sql(&db, "UPDATE job_info SET rule = 'every full moon' WHERE job_id = 'bad'").await;
    wait_until(&scheduler, "the bad row is unscheduled with its reason", || async {
        scheduler.live("bad").is_some_and(|l| l.error.is_some())
    })
    .await;
    let stored = row(&db, "bad").await.unwrap();
    let error = stored.last_error.unwrap_or_default();
    assert!(error.starts_with(ruqi::UNSCHEDULABLE_PREFIX), "{error}");
    assert!(error.contains("rule"), "{error:?} / {:?}", scheduler.live("bad"));
    wait_until(&scheduler, "the other job stays scheduled", || async {
        next_fire(&scheduler, "good").await == Some(t(240))
    })
    .await;

    sql(&db, "UPDATE job_info SET rule = '8 * * * *' WHERE job_id = 'bad'").await;
    wait_until(&scheduler, "the repaired row is scheduled again", || async {
        next_fire(&scheduler, "bad").await == Some(t(480))
    })
    .await;
    wait_until(&scheduler, "its last_error is cleared", || async {
        row(&db, "bad").await.unwrap().last_error.is_none()
    })
    .await;
}

async fn bulk_delete_stops_firing(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    for id in ["a", "b", "c"] {
        raw_insert(&db, id, "4 * * * *").await;
    }
    job("kept", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_until(&scheduler, "the inserted rows are scheduled", || async {
        scheduler.status().scheduled == 4
    })
    .await;
    sql(&db, "DELETE FROM job_info WHERE job_name = 'raw'").await;
    wait_until(&scheduler, "the deleted rows are dropped", || async {
        scheduler.status().scheduled == 1
    })
    .await;
    assert!(scheduler.live("a").is_none());
    assert_eq!(next_fire(&scheduler, "kept").await, Some(t(240)));
}

async fn rolled_back_edit_changes_nothing(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    let tx = db.begin().await.unwrap();
    tx.execute_unprepared("UPDATE job_info SET rule = '8 * * * *' WHERE job_id = 'j'")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // The feed is read in order: once a later edit is applied, the rolled-back
    // one would have been too.
    raw_insert(&db, "later", "7 * * * *").await;
    wait_until(&scheduler, "the later edit is applied", || async {
        next_fire(&scheduler, "later").await.is_some()
    })
    .await;
    assert_eq!(next_fire(&scheduler, "j").await, Some(t(240)));
    assert_eq!(row(&db, "j").await.unwrap().rule, "4 * * * *");
}

/// A change whose transaction commits after a later one has committed (its
/// log number is lower than one already read) still arrives.
async fn change_committed_out_of_order_still_arrives(db: DatabaseConnection) {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // SQLite has one writer at a time: commits cannot overtake each other.
        return;
    }
    let (scheduler, _clock) = start(&db, registry()).await;
    let slow = db.begin().await.unwrap();
    let statement = format!(
        "INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES ('slow', 'hello', 'cron', '4 * * * *')",
        trigger = trigger_col(&db)
    );
    slow.execute_unprepared(&statement).await.unwrap();
    raw_insert(&db, "fast", "7 * * * *").await;
    wait_until(&scheduler, "the later commit is applied", || async {
        next_fire(&scheduler, "fast").await.is_some()
    })
    .await;
    let log = job_change::Entity::find().all(&db).await.unwrap();
    let slow_seq_hidden = log.iter().all(|c| c.job_id != "slow");
    assert!(slow_seq_hidden, "the open transaction's change is not visible yet");
    slow.commit().await.unwrap();
    wait_until(&scheduler, "the earlier, slower commit is applied", || async {
        next_fire(&scheduler, "slow").await == Some(t(240))
    })
    .await;
}

/// The log is the feed's alone and stays small: rows carry the version each change made.
async fn log_records_each_change_with_its_version(db: DatabaseConnection) {
    raw_insert(&db, "j", "4 * * * *").await;
    sql(&db, "UPDATE job_info SET rule = '8 * * * *' WHERE job_id = 'j'").await;
    // Not a schedule change: no log row.
    sql(&db, "UPDATE job_info SET description = 'just words' WHERE job_id = 'j'").await;
    sql(&db, "DELETE FROM job_info WHERE job_id = 'j'").await;
    let mut log = job_change::Entity::find().all(&db).await.unwrap();
    log.sort_by_key(|c| c.seq);
    let entries: Vec<(String, Option<i64>)> = log.into_iter().map(|c| (c.job_id, c.version)).collect();
    let versions: Vec<Option<i64>> = entries.iter().map(|(_, v)| *v).collect();
    assert_eq!(versions, vec![Some(0), Some(1), None], "{entries:?}");
    assert!(job_info::Entity::find().all(&db).await.unwrap().is_empty());
}

/// One statement that changes several rows logs each of them once, a key
/// renamed in SQL is logged as the old key gone and the new key at its
/// version, and a write of the outcome columns alone logs nothing.
async fn bulk_writes_and_renamed_keys_are_logged_row_by_row(db: DatabaseConnection) {
    for job_id in ["a", "b", "c"] {
        raw_insert(&db, job_id, "4 * * * *").await;
    }
    let inserted = job_change::Entity::find().all(&db).await.unwrap().len();
    sql(&db, "UPDATE job_info SET rule = '8 * * * *' WHERE job_id IN ('a', 'b')").await;
    sql(&db, "UPDATE job_info SET job_id = 'renamed' WHERE job_id = 'c'").await;
    sql(&db, "UPDATE job_info SET last_status = 'success', is_running = FALSE").await;

    let mut log = job_change::Entity::find().all(&db).await.unwrap();
    log.sort_by_key(|c| c.seq);
    let mut entries: Vec<(String, Option<i64>)> =
        log.into_iter().skip(inserted).map(|c| (c.job_id, c.version)).collect();
    assert_eq!(entries.len(), 4, "{entries:?}");
    // The order within one statement is the database's own.
    entries[..2].sort();
    entries[2..].sort();
    let expected = [("a", Some(1)), ("b", Some(1)), ("c", None), ("renamed", Some(0))];
    let expected: Vec<(String, Option<i64>)> = expected.iter().map(|(id, v)| ((*id).to_owned(), *v)).collect();
    assert_eq!(entries, expected);
}

/// Start-up reads the table a page at a time (on SQLite, each page as one
/// JSON array): every field must come back as the entity reads it,
/// including a date typed in by hand in another format (on SQLite that
/// page is read the ordinary way).
async fn paged_read_matches_the_entity_read(db: DatabaseConnection) {
    use ruqi::{JobStore, SeaOrmStore};
    use sea_orm::ActiveValue::Set;
    let mut full = job("full", "hello", "interval", "90s");
    full.job_name = Set(Some("group".to_owned()));
    full.description = Set(Some("every \"field\" set, with 'quotes' and ünïcode".to_owned()));
    full.args = Set(Some(r#"{"a": [1, 2.5, null]}"#.to_owned()));
    full.timezone = Set(Some("Europe/Paris".to_owned()));
    full.start_at = Set(Some(t(30)));
    full.end_at = Set(Some(t(86_400)));
    full.is_paused = Set(true);
    full.run_right_now = Set(true);
    full.timeout_s = Set(Some(12));
    full.max_retries = Set(3);
    full.child_jobs = Set(Some("plain".to_owned()));
    full.alert_url = Set(Some("http://127.0.0.1:9/alert".to_owned()));
    job("plain", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    full.insert(&db).await.unwrap();
    for i in 0..5 {
        job(&format!("p{i}"), "hello", "date", "2030-01-01 00:00:00")
            .insert(&db)
            .await
            .unwrap();
    }
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // Typed in by hand: no offset, a space instead of the `T`.
        sql(
            &db,
            "UPDATE job_info SET start_at = '2026-01-01 00:00:30' WHERE job_id = 'p4'",
        )
        .await;
    }
    let store = SeaOrmStore::new(db.clone());
    let mut entity_read: Vec<ruqi::JobRecord> = store.load_jobs().await.unwrap();
    entity_read.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.load_jobs_after(after.as_deref(), 3).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 3);
        after = Some(last.job_id.clone());
        paged.extend(page);
    }
    assert_eq!(paged, entity_read);
    assert_eq!(paged.len(), 7);
}

/// A scheduler whose feed polls the change log once an hour, so what
/// arrives sooner came by `NOTIFY`.
async fn start_polling_hourly(db: &DatabaseConnection) -> Scheduler {
    let store = SeaOrmStore::new(db.clone()).change_feed(FeedConfig {
        poll_interval: Duration::from_secs(3600),
        ..FeedConfig::default()
    });
    Scheduler::builder(Arc::new(store), registry())
        .node_name("test-node")
        .clock(Arc::new(ManualClock::new(t(0))))
        .start()
        .await
        .unwrap()
}

/// On PostgreSQL a plain SQL edit is announced by `NOTIFY` at its commit:
/// with the log's poll an hour apart, it still arrives at once.
async fn postgres_edits_arrive_by_notify_before_any_poll(db: DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        // SQLite and MySQL have no notification: the poll is how edits arrive.
        return;
    }
    let scheduler = start_polling_hourly(&db).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_until(&scheduler, "the job is scheduled", || async {
        next_fire(&scheduler, "j").await == Some(t(240))
    })
    .await;
    for (rule, next) in [("8 * * * *", t(480)), ("12 * * * *", t(720))] {
        sql(&db, &format!("UPDATE job_info SET rule = '{rule}' WHERE job_id = 'j'")).await;
        wait_until(&scheduler, "the edit arrives without a poll", || async {
            next_fire(&scheduler, "j").await == Some(next)
        })
        .await;
    }
}

/// On PostgreSQL a transaction that sets `ruqi.skip_notify` (as ruqi's
/// batches of claims do) logs its changes without waking the listeners;
/// every other write still notifies. The quiet change is in the log, and a
/// scheduler reads it with the next change that does notify.
async fn postgres_quiet_writes_are_logged_without_a_notify(db: DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(db.get_postgres_connection_pool())
        .await
        .unwrap();
    // Markers go on a channel of their own, so that they do not wake the
    // scheduler's feed; one listener receives both channels in commit order.
    const MARKERS: &str = "ruqi_test_markers";
    listener
        .listen_all([ruqi_migration::CHANGE_CHANNEL, MARKERS])
        .await
        .unwrap();
    let quiet_edit = |rule: &'static str| {
        let db = db.clone();
        async move {
            let txn = db.begin().await.unwrap();
            txn.execute_unprepared(&format!("SET LOCAL {} = on", ruqi_migration::SKIP_NOTIFY_SETTING))
                .await
                .unwrap();
            txn.execute_unprepared(&format!("UPDATE job_info SET rule = '{rule}' WHERE job_id = 'quiet'"))
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
    };
    // No scheduler yet: nothing but this test writes, so every notification
    // is one of the test's own.
    for id in ["quiet", "loud"] {
        job(id, "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
        assert_eq!(listener.recv().await.unwrap().payload(), "", "an insert notifies");
    }
    quiet_edit("8 * * * *").await;
    let version = row(&db, "quiet").await.unwrap().version;
    let logged = job_change::Entity::find().all(&db).await.unwrap();
    assert!(
        logged.iter().any(|c| c.job_id == "quiet" && c.version == Some(version)),
        "the quiet edit is logged: {logged:?}"
    );
    // Notifications arrive in commit order: had the quiet edit notified,
    // its notification would come before this one.
    let notify = |payload: &str| format!("SELECT pg_notify('{MARKERS}', '{payload}')");
    sql(&db, &notify("marker")).await;
    assert_eq!(
        listener.recv().await.unwrap().payload(),
        "marker",
        "the quiet edit notified"
    );

    // The rows were planned by the hooks on the wall clock, not the
    // scheduler's: the minute of each next fire tells its rule.
    let scheduler = start_polling_hourly(&db).await;
    let minute = |job_id: &'static str| {
        let scheduler = &scheduler;
        async move { next_fire(scheduler, job_id).await.map(|at| at.minute()) }
    };
    wait_until(&scheduler, "both jobs are scheduled", || async {
        minute("quiet").await == Some(8) && minute("loud").await == Some(4)
    })
    .await;
    quiet_edit("16 * * * *").await;
    sql(&db, "UPDATE job_info SET rule = '12 * * * *' WHERE job_id = 'loud'").await;
    wait_until(&scheduler, "the loud edit brings the quiet one along", || async {
        minute("loud").await == Some(12) && minute("quiet").await == Some(16)
    })
    .await;
}

backend_tests!(
    postgres_quiet_writes_are_logged_without_a_notify,
    postgres_edits_arrive_by_notify_before_any_poll,
    inserted_row_is_validated_scheduled_and_written_back,
    changed_rule_reschedules,
    changed_next_run_time_alone_moves_the_next_fire,
    pause_and_resume_by_flag,
    run_right_now_runs_once_and_resets,
    invalid_edit_unschedules_only_that_job,
    bulk_delete_stops_firing,
    rolled_back_edit_changes_nothing,
    change_committed_out_of_order_still_arrives,
    log_records_each_change_with_its_version,
    bulk_writes_and_renamed_keys_are_logged_row_by_row,
    paged_read_matches_the_entity_read,
);
