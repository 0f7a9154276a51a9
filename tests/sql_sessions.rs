//! Plain SQL edits as a person types them mean what the person meant: a
//! hand-lowered `version` still reaches the running scheduler, a truncated
//! `job_info` empties it, and on MySQL/MariaDB a session in another
//! `time_zone` writes the instants it names.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use common::{executions, job, row, start, t, trigger_col, wait_until};
use ruqi::entity::job_change;
use ruqi::{JobContext, Registry, Scheduler};
use sea_orm::sqlx::mysql::MySqlConnection;
use sea_orm::sqlx::{self, Connection};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait};
use sea_orm::{QueryFilter, QueryOrder, TransactionTrait};

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("hello", |ctx: JobContext| async move {
        ctx.log("hello");
        Ok::<_, String>(())
    });
    r
}

async fn sql<C: ConnectionTrait>(db: &C, statement: &str) {
    db.execute_unprepared(statement).await.unwrap();
}

fn next_fire(scheduler: &Scheduler, job_id: &str) -> Option<DateTime<Utc>> {
    scheduler.live(job_id).and_then(|l| l.next_run_time)
}

fn raw_insert_sql(db: &DatabaseConnection, job_id: &str, rule: &str) -> String {
    format!(
        "INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES ('{job_id}', 'hello', 'cron', '{rule}')",
        trigger = trigger_col(db)
    )
}

async fn raw_insert(db: &DatabaseConnection, job_id: &str, rule: &str) {
    sql(db, &raw_insert_sql(db, job_id, rule)).await;
}

/// The versions `job_change` logged for `job_id`, oldest first.
async fn logged_versions(db: &DatabaseConnection, job_id: &str) -> Vec<Option<i64>> {
    job_change::Entity::find()
        .filter(job_change::Column::JobId.eq(job_id))
        .order_by_asc(job_change::Column::Seq)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.version)
        .collect()
}

/// A hand edit that lowers `version` along with the rule, or sets it to 0,
/// reaches the running scheduler, and leaves the row at a higher version
/// than before.
async fn lowered_version_edits_take_effect(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("j", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_until(&scheduler, "the job is scheduled", || async {
        next_fire(&scheduler, "j") == Some(t(240))
    })
    .await;
    let edits = [("8 * * * *", "version - 1", t(480)), ("12 * * * *", "0", t(720))];
    for (rule, version, next) in edits {
        let before = row(&db, "j").await.unwrap().version;
        sql(
            &db,
            &format!("UPDATE job_info SET rule = '{rule}', version = {version} WHERE job_id = 'j'"),
        )
        .await;
        wait_until(&scheduler, "the edit with a lowered version applies", || async {
            next_fire(&scheduler, "j") == Some(next)
        })
        .await;
        let after = row(&db, "j").await.unwrap().version;
        assert!(
            after > before,
            "version {before} became {after} with `version = {version}`"
        );
    }
}

/// The version trigger gives a lowered version `old + 1`, whether the
/// update changed a schedule column or not, and the log holds that version
/// alone; a write that raises the version itself is left as it is.
async fn versions_never_go_down(db: DatabaseConnection) {
    raw_insert(&db, "j", "4 * * * *").await;
    let version = |db: DatabaseConnection| async move { row(&db, "j").await.unwrap().version };
    sql(&db, "UPDATE job_info SET version = 5 WHERE job_id = 'j'").await;
    assert_eq!(version(db.clone()).await, 5, "a raised version is kept");
    sql(
        &db,
        "UPDATE job_info SET rule = '8 * * * *', version = version - 1 WHERE job_id = 'j'",
    )
    .await;
    assert_eq!(version(db.clone()).await, 6, "lowered with a rule change");
    sql(
        &db,
        "UPDATE job_info SET rule = '9 * * * *', version = 0 WHERE job_id = 'j'",
    )
    .await;
    assert_eq!(version(db.clone()).await, 7, "set to 0 with a rule change");
    sql(&db, "UPDATE job_info SET version = 2 WHERE job_id = 'j'").await;
    assert_eq!(version(db.clone()).await, 8, "lowered alone");
    sql(
        &db,
        "UPDATE job_info SET version = 8, description = 'words' WHERE job_id = 'j'",
    )
    .await;
    assert_eq!(version(db.clone()).await, 8, "kept, with no schedule change");
    assert_eq!(
        logged_versions(&db, "j").await,
        [Some(0), Some(5), Some(6), Some(7), Some(8)]
    );
}

/// `TRUNCATE TABLE job_info` (on SQLite, which has none, `DELETE FROM
/// job_info`) with a scheduler running drops every job from it, and rows
/// inserted afterwards are scheduled.
async fn emptied_table_drops_every_job(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    for id in ["a", "b", "c"] {
        raw_insert(&db, id, "4 * * * *").await;
    }
    job("orm", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    wait_until(&scheduler, "the four jobs are scheduled", || async {
        scheduler.status().scheduled == 4
    })
    .await;
    let empty = match db.get_database_backend() {
        DatabaseBackend::Sqlite => "DELETE FROM job_info",
        _ => "TRUNCATE TABLE job_info",
    };
    sql(&db, empty).await;
    wait_until(&scheduler, "every job is dropped", || async {
        scheduler.status().jobs == 0
    })
    .await;
    for id in ["a", "b", "c", "orm"] {
        assert!(scheduler.live(id).is_none(), "{id} is still held");
    }

    raw_insert(&db, "a", "8 * * * *").await;
    raw_insert(&db, "d", "12 * * * *").await;
    wait_until(&scheduler, "the rows inserted again are scheduled", || async {
        next_fire(&scheduler, "a") == Some(t(480)) && next_fire(&scheduler, "d") == Some(t(720))
    })
    .await;
    assert_eq!(scheduler.status().jobs, 2);
}

/// Emptied and filled again at once, before any scheduler has read the
/// table: the rows found are new jobs, though their versions are lower than
/// those of the jobs held under the same ids.
async fn emptied_and_refilled_table_schedules_the_new_rows(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    job("a", "hello", "cron", "4 * * * *").insert(&db).await.unwrap();
    raw_insert(&db, "b", "4 * * * *").await;
    wait_until(&scheduler, "both jobs are scheduled", || async {
        next_fire(&scheduler, "a") == Some(t(240)) && next_fire(&scheduler, "b") == Some(t(240))
    })
    .await;
    let empty = match db.get_database_backend() {
        DatabaseBackend::Sqlite => "DELETE FROM job_info",
        _ => "TRUNCATE TABLE job_info",
    };
    let txn = db.begin().await.unwrap();
    if db.get_database_backend() == DatabaseBackend::MySql {
        // TRUNCATE commits by itself on MySQL: the re-inserts follow it at once.
        drop(txn);
        sql(&db, empty).await;
        raw_insert(&db, "a", "8 * * * *").await;
    } else {
        sql(&txn, empty).await;
        sql(&txn, &raw_insert_sql(&db, "a", "8 * * * *")).await;
        txn.commit().await.unwrap();
    }
    wait_until(
        &scheduler,
        "the row inserted again is scheduled and the other is gone",
        || async { next_fire(&scheduler, "a") == Some(t(480)) && scheduler.live("b").is_none() },
    )
    .await;
    assert_eq!(scheduler.status().jobs, 1);
}

/// PostgreSQL logs a truncation as one marker row, which no row change logs.
async fn postgres_truncation_is_logged_as_a_marker(db: DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    raw_insert(&db, "a", "4 * * * *").await;
    sql(&db, "TRUNCATE TABLE job_info").await;
    let log = job_change::Entity::find()
        .order_by_asc(job_change::Column::Seq)
        .all(&db)
        .await
        .unwrap();
    let marks: Vec<bool> = log.iter().map(job_change::Model::is_truncation).collect();
    assert_eq!(marks, [false, true], "{log:?}");
    assert_eq!(
        (log[1].job_id.as_str(), log[1].version),
        (job_change::TRUNCATED_JOB_ID, Some(job_change::TRUNCATED_VERSION))
    );
}

backend_tests!(
    lowered_version_edits_take_effect,
    versions_never_go_down,
    emptied_table_drops_every_job,
    emptied_and_refilled_table_schedules_the_new_rows,
    postgres_truncation_is_logged_as_a_marker,
    mysql_sessions_in_other_time_zones_write_utc,
    mysql_scheduler_refuses_a_connection_not_in_utc,
);

/// A connection of its own (not one of the pool's, which must stay UTC) in
/// the session `time_zone` `zone`.
async fn session_in(db: &DatabaseConnection, zone: &str) -> MySqlConnection {
    let options = db.get_mysql_connection_pool().connect_options();
    let mut conn = MySqlConnection::connect_with(&options).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET time_zone = '{zone}'")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// `job_id`'s time columns as stored, and the server's UTC clock read in
/// the same statement.
struct StoredTimes {
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    start_at: Option<NaiveDateTime>,
    end_at: Option<NaiveDateTime>,
    utc_now: NaiveDateTime,
}

async fn stored_times(conn: &mut MySqlConnection, job_id: &str) -> StoredTimes {
    let (created_at, updated_at, start_at, end_at, utc_now) = sqlx::query_as(
        "SELECT created_at, updated_at, start_at, end_at, UTC_TIMESTAMP(6) FROM job_info WHERE job_id = ?",
    )
    .bind(job_id)
    .fetch_one(conn)
    .await
    .unwrap();
    StoredTimes {
        created_at,
        updated_at,
        start_at,
        end_at,
        utc_now,
    }
}

fn assert_near(what: &str, stored: Option<NaiveDateTime>, utc_now: NaiveDateTime) {
    let stored = stored.unwrap_or_else(|| panic!("{what} is NULL"));
    let off = (stored - utc_now).abs();
    assert!(
        off < chrono::Duration::seconds(1),
        "{what} is {stored}, UTC is {utc_now}: {off} off"
    );
}

/// MySQL/MariaDB: rows typed in sessions at `+02:00` and `-05:00` (times
/// defaulted, `NOW()`, literals in the session's time, an update) are
/// stored as UTC, and their jobs run: an interval job, a date job for
/// `now`, a job starting `NOW()`. Real time: the sessions' clocks are the
/// server's.
async fn mysql_sessions_in_other_time_zones_write_utc(db: DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::MySql {
        return;
    }
    let scheduler = ruqi::scheduler(db.clone(), registry())
        .node_name("test-node")
        .start()
        .await
        .unwrap();
    let trigger = trigger_col(&db);
    let mut jobs = Vec::new();
    for (zone, tag, hours) in [("+02:00", "east", 2), ("-05:00", "west", -5)] {
        let mut session = session_in(&db, zone).await;
        let local_now = (Utc::now() + chrono::Duration::hours(hours)).naive_utc();
        let local_now = local_now.format("%Y-%m-%d %H:%M:%S%.6f");
        let inserts = [
            format!("('{tag}-interval', 'hello', 'interval', '2s', NULL, NULL)"),
            format!("('{tag}-now', 'hello', 'date', 'now', NULL, NULL)"),
            format!("('{tag}-start', 'hello', 'interval', '2s', NOW(6), NULL)"),
            format!("('{tag}-typed', 'hello', 'interval', '1h', '{local_now}', '2040-06-01 12:00:00')"),
        ];
        let statement = format!(
            "INSERT INTO job_info (job_id, func, {trigger}, rule, start_at, end_at) VALUES {}",
            inserts.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut session)
            .await
            .unwrap();

        let interval = stored_times(&mut session, &format!("{tag}-interval")).await;
        assert_near("a defaulted created_at", Some(interval.created_at), interval.utc_now);
        assert_near("a defaulted updated_at", Some(interval.updated_at), interval.utc_now);
        let start = stored_times(&mut session, &format!("{tag}-start")).await;
        assert_near("start_at = NOW()", start.start_at, start.utc_now);
        let typed = stored_times(&mut session, &format!("{tag}-typed")).await;
        assert_near("a start_at typed in the session's time", typed.start_at, typed.utc_now);
        // Beyond 2038 (out of CONVERT_TZ's range) the offset still comes off.
        let end_at = Utc.with_ymd_and_hms(2040, 6, 1, 12, 0, 0).unwrap() - chrono::Duration::hours(hours);
        assert_eq!(typed.end_at, Some(end_at.naive_utc()), "a far end_at typed in {zone}");

        // An update converts the time it writes, and leaves the others.
        sqlx::query("UPDATE job_info SET end_at = NOW(6), description = 'moved' WHERE job_id = ?")
            .bind(format!("{tag}-typed"))
            .execute(&mut session)
            .await
            .unwrap();
        let updated = stored_times(&mut session, &format!("{tag}-typed")).await;
        assert_near("end_at = NOW() in an update", updated.end_at, updated.utc_now);
        assert_eq!(updated.start_at, typed.start_at, "a time the update left alone");
        assert_eq!(updated.created_at, typed.created_at, "a time the update left alone");
        session.close().await.unwrap();
        jobs.extend(["interval", "now", "start"].map(|kind| format!("{tag}-{kind}")));
    }
    wait_until(&scheduler, "every job typed in another zone has run", || async {
        let mut all_ran = true;
        for job_id in &jobs {
            all_ran &= executions(&db, job_id).await.iter().any(|e| e.status == "success");
        }
        all_ran
    })
    .await;
}

/// A pool whose sessions are not in UTC would have its own writes moved by
/// the session triggers: the scheduler refuses to start on it.
async fn mysql_scheduler_refuses_a_connection_not_in_utc(db: DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::MySql {
        return;
    }
    let options = db
        .get_mysql_connection_pool()
        .connect_options()
        .as_ref()
        .clone()
        .timezone(Some("+02:00".to_owned()));
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let shifted = sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool);
    let started = ruqi::scheduler(shifted.clone(), registry())
        .node_name("test-node")
        .start()
        .await;
    let Err(error) = started else {
        panic!("the scheduler started on a +02:00 connection");
    };
    assert!(error.to_string().contains("time_zone is '+02:00'"), "{error}");
    shifted.close().await.unwrap();
}
