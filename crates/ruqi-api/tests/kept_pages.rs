//! `GET /jobs` answers a page it has kept only while nothing the page shows
//! has changed: the answer after every kind of change is the one a fresh
//! read gives, on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN, Backend, READ, TestApi, job, wait_until};
use reqwest::Method;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::{Value, json};

/// The ids listed on the first page, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The job `job_id` as the first page shows it.
fn listed<'a>(page: &'a Value, job_id: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["job_id"] == job_id)
        .unwrap_or_else(|| panic!("{job_id} is not listed: {page}"))
}

async fn first_page(api: &TestApi) -> Value {
    let answer = api.get("/jobs?limit=50").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body
}

async fn a_kept_page_follows_every_change(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    api.create(job("a")).await;
    api.create(json!({"job_id": "slow", "func": "gated", "trigger": "interval", "rule": "1d"}))
        .await;
    let before = first_page(&api).await;
    assert_eq!(ids(&before), ["a", "slow"]);
    assert_eq!(first_page(&api).await, before, "the same page twice");

    // A row typed in plain SQL shows on the next ask.
    let trigger = match api.db.get_database_backend() {
        DatabaseBackend::MySql => "`trigger`",
        _ => "\"trigger\"",
    };
    let statement =
        format!("INSERT INTO job_info (job_id, func, {trigger}, rule) VALUES ('b', 'noop', 'interval', '1h')");
    api.db.execute_unprepared(&statement).await.unwrap();
    assert_eq!(ids(&first_page(&api).await), ["a", "b", "slow"]);

    // So does a run this node starts, and its end.
    let run = api.post_empty("/jobs/slow/run").await;
    assert_eq!(run.status, 202, "{run:?}");
    let page = first_page(&api).await;
    assert_eq!(listed(&page, "slow")["running"], 1, "{page}");
    assert_eq!(listed(&page, "slow")["is_running"], true, "{page}");
    api.gate.add_permits(1);
    let single = wait_until(|| async {
        let answer = api.get("/jobs/slow").await;
        (answer.body["last_status"] == "success" && answer.body["running"] == 0).then_some(answer.body)
    })
    .await;
    let page = first_page(&api).await;
    assert_eq!(listed(&page, "slow"), &single, "the list agrees with the single read");

    // A change through the API: the answer to the write and the list agree.
    let paused = api.post_empty("/jobs/a/pause").await;
    assert_eq!(paused.status, 200, "{paused:?}");
    let single = api.get("/jobs/a").await.body;
    assert_eq!(single["is_paused"], true, "{single}");
    assert_eq!(listed(&first_page(&api).await, "a"), &single);

    // A deleted row is gone from the next page.
    api.db
        .execute_unprepared("DELETE FROM job_info WHERE job_id = 'b'")
        .await
        .unwrap();
    assert_eq!(ids(&first_page(&api).await), ["a", "slow"]);

    // A column no mark follows (as another node's run end writes it) shows
    // once the kept page has aged out, and the single read at once.
    api.db
        .execute_unprepared("UPDATE job_info SET last_status = 'failed' WHERE job_id = 'a'")
        .await
        .unwrap();
    assert_eq!(api.get("/jobs/a").await.body["last_status"], "failed");
    wait_until(|| async { (listed(&first_page(&api).await, "a")["last_status"] == "failed").then_some(()) }).await;
    api.finish().await;
}

async fn pages_are_kept_apart_by_who_asks(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    api.create(json!({
        "job_id": "up",
        "func": "upload",
        "trigger": "interval",
        "rule": "1d",
        "args": {"bucket": "b", "access_key": "AKIA-SECRET"}
    }))
    .await;
    let access_key = |token: &'static str| {
        let api = &api;
        async move {
            let answer = api.call(Method::GET, "/jobs?limit=50", Some(token), None).await;
            assert_eq!(answer.status, 200, "{answer:?}");
            listed(&answer.body, "up")["args"]["access_key"].clone()
        }
    };
    assert_eq!(access_key(ADMIN).await, "AKIA-SECRET");
    assert_eq!(
        access_key(READ).await,
        "***",
        "a read-only token never gets the admin's page"
    );
    assert_eq!(access_key(ADMIN).await, "AKIA-SECRET");
    api.finish().await;
}

backend_tests!(a_kept_page_follows_every_change, pages_are_kept_apart_by_who_asks);
