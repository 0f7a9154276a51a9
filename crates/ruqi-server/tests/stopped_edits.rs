//! Plain SQL edits made while every `ruqi-server` is stopped take effect
//! when one starts again: a rule changed by hand, a job resumed by hand.
//! Real processes stopped with SIGTERM, on a SQLite file, PostgreSQL and
//! MariaDB (when their URLs are set; in CI they must be).

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

use common::{Backend, TestDb};
use sea_orm::ConnectionTrait;
use serde_json::json;
use server::{DEADLINE, ServerProcess};

/// Waits until the job's API view says `check`, or fails with what it said last.
async fn wait_for_job(server: &ServerProcess, job_id: &str, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, job) = server.get(&format!("/api/jobs/{job_id}")).await;
        if status == 200 && check(&job) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{job_id}: {what}; last seen {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn edits_made_while_stopped_apply_at_the_next_start(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--database-url", test_db.url.as_str(), "--node-name", "only"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    for body in [
        json!({"job_id": "hourly", "func": "log", "trigger": "interval", "rule": "1h"}),
        json!({"job_id": "paused", "func": "log", "trigger": "interval", "rule": "1s", "is_paused": true}),
    ] {
        let (status, job) = server.post("/api/jobs", body).await;
        assert_eq!(status, 201, "{job}");
    }
    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());

    let db = &test_db.db;
    db.execute_unprepared("UPDATE job_info SET rule = '1s' WHERE job_id = 'hourly'")
        .await
        .unwrap();
    db.execute_unprepared("UPDATE job_info SET is_paused = false WHERE job_id = 'paused'")
        .await
        .unwrap();

    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    for job_id in ["hourly", "paused"] {
        wait_for_job(&server, job_id, "runs every second after the start", |job| {
            job["last_status"] == "success"
        })
        .await;
    }
    let (_, hourly) = server.get("/api/jobs/hourly").await;
    assert_eq!(hourly["rule"], "1s", "{hourly}");
    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    test_db.drop_database().await;
}

on_every_backend!(edits_made_while_stopped_apply_at_the_next_start);
