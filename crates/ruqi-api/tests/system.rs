//! Functions, scheduler status, wake-up and health over real HTTP.

mod common;

use common::{TestApi, job};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn functions_are_listed_with_description_and_schema() {
    let api = TestApi::start().await;
    let answer = api.get("/functions").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let functions = answer.body.as_array().unwrap();
    let names: Vec<&str> = functions.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chatty", "echo", "fail", "gated", "noop", "upload"]);
    let echo = &functions[1];
    assert_eq!(echo["description"], "Writes its text to the output");
    assert_eq!(echo["args_schema"]["properties"]["text"]["type"], "string");
    assert_eq!(echo["blocking"], false);
    let fail = &functions[2];
    assert_eq!(fail["description"], Value::Null);
    assert_eq!(fail["args_schema"], Value::Null, "an untyped function takes any JSON");
}

#[tokio::test]
async fn status_counts_jobs_and_says_when_it_wakes_up() {
    let api = TestApi::start().await;
    let empty = api.get("/scheduler/status").await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body["node"], "api-test");
    assert_eq!(empty.body["jobs"], 0);
    assert_eq!(empty.body["next_wakeup"], Value::Null);
    assert_eq!(empty.body["seconds_until_next_wakeup"], Value::Null);
    assert_eq!(empty.body["started_at"], "2026-05-01T08:00:00+00:00");
    assert_eq!(empty.body["default_timezone"], "UTC");
    let nodes = empty.body["nodes"].as_array().expect("nodes is a list");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(nodes[0]["node"], "api-test");
    assert_eq!(nodes[0]["pid"], i64::from(std::process::id()));

    api.create(job("ten-minutes")).await;
    api.create(json!({"job_id": "hourly", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    api.post_empty("/jobs/hourly/pause").await;
    api.clock.advance(chrono::Duration::seconds(90));
    let status = api.get("/scheduler/status").await.body;
    assert_eq!(status["jobs"], 2);
    assert_eq!(status["scheduled"], 1);
    assert_eq!(status["paused"], 1);
    assert_eq!(status["invalid"], 0);
    assert_eq!(status["running"], 0);
    assert_eq!(status["shutting_down"], false);
    assert_eq!(status["next_wakeup"], "2026-05-01T08:10:00+00:00");
    assert_eq!(status["seconds_until_next_wakeup"], 510.0, "by the scheduler's clock");
}

#[tokio::test]
async fn wake_up_answers_204() {
    let api = TestApi::start().await;
    let answer = api
        .call(Method::POST, "/scheduler/wake-up", Some(common::ADMIN), None)
        .await;
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(answer.body, Value::Null);
}

#[tokio::test]
async fn health_needs_no_token_and_turns_503_on_shutdown() {
    let api = TestApi::start().await;
    let answer = api.call(Method::GET, "/health", None, None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"status": "ok", "node": "api-test", "database": true, "shutting_down": false})
    );
    api.scheduler.shutdown().await;
    let answer = api.call(Method::GET, "/health", None, None).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.body["status"], "unavailable");
    assert_eq!(answer.body["shutting_down"], true);
}
