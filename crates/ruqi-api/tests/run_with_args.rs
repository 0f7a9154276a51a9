//! `POST /jobs/{job_id}/run` with other arguments: the run (and its retries)
//! gets them, its execution shows them, the job keeps its own; arguments that
//! do not fit the function are refused before anything runs. Every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN, Backend, READ, TestApi, wait_until};
use reqwest::Method;
use ruqi::entity::job_execution;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// Runs `job_id` now with `body` and waits for the run to end.
async fn run_to_the_end(api: &TestApi, job_id: &str, body: Option<Value>) -> Value {
    let answer = api
        .call(Method::POST, &format!("/jobs/{job_id}/run"), Some(ADMIN), body)
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body["started"], true, "{answer:?}");
    let id = answer.body["execution_id"].as_str().unwrap().to_owned();
    api.wait_for_execution(&id, |e| e["status"] != "running").await
}

async fn a_run_takes_the_arguments_it_is_given(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let created = api
        .create(json!({
            "job_id": "say", "func": "echo", "args": {"text": "from the job"},
            "trigger": "interval", "rule": "1h",
        }))
        .await;

    let given = run_to_the_end(&api, "say", Some(json!({"args": {"text": "given by hand"}}))).await;
    assert_eq!(given["status"], "success", "{given}");
    assert_eq!(given["output"], "given by hand\n", "{given}");
    assert_eq!(given["args"], json!({"text": "given by hand"}));
    assert_eq!(given["trigger_source"], "manual");

    // The job keeps its own arguments, and a run without a body (or
    // without `args`) takes them; its execution has no `args`.
    let job = api.get("/jobs/say").await.body;
    assert_eq!(job["args"], json!({"text": "from the job"}));
    assert_eq!(job["version"], created["version"], "{job}");
    for body in [None, Some(json!({}))] {
        let plain = run_to_the_end(&api, "say", body).await;
        assert_eq!(plain["output"], "from the job\n", "{plain}");
        assert!(plain.get("args").is_none(), "{plain}");
    }

    // The history list shows which run was given what.
    let list = api.get("/jobs/say/executions").await.body;
    let listed: Vec<Option<&Value>> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run.get("args"))
        .collect();
    assert_eq!(listed.len(), 3, "{list}");
    assert_eq!(listed.iter().filter(|args| args.is_some()).count(), 1, "{list}");
    assert!(listed.contains(&Some(&json!({"text": "given by hand"}))), "{list}");
    api.finish().await;
}

async fn arguments_that_do_not_fit_start_nothing(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    api.create(json!({
        "job_id": "say", "func": "echo", "args": {"text": "from the job"},
        "trigger": "interval", "rule": "1h",
    }))
    .await;
    api.post("/jobs/say/run", json!({"args": {"text": 5}}))
        .await
        .assert_error(422, "invalid", Some("args/text"));
    api.post("/jobs/say/run", json!({"args": null}))
        .await
        .assert_error(422, "invalid", Some("args"));
    let long = "x".repeat(70_000);
    api.post("/jobs/say/run", json!({"args": {"text": long}}))
        .await
        .assert_error(422, "invalid", Some("args"));
    let not_an_object = api.post("/jobs/say/run", json!(["text"])).await;
    assert_eq!(not_an_object.status, 400, "{not_an_object:?}");
    api.post("/jobs/nope/run", json!({"args": {"text": "x"}}))
        .await
        .assert_error(404, "not_found", None);
    assert_eq!(api.execution_count().await, 0, "nothing ran and nothing was recorded");
    assert_eq!(api.get("/jobs/say").await.body["args"], json!({"text": "from the job"}));
    api.finish().await;
}

async fn secrets_given_to_a_run_are_not_recorded(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    api.create(json!({
        "job_id": "up", "func": "upload", "args": {"bucket": "b1", "access_key": "OLD"},
        "trigger": "interval", "rule": "1h",
    }))
    .await;
    let run = run_to_the_end(
        &api,
        "up",
        Some(json!({"args": {"bucket": "b2", "access_key": "NEW-SECRET"}})),
    )
    .await;
    // The function got the secret (it answers the key's length)…
    assert_eq!(run["output"], "uploading to b2 with 0 tags\n10", "{run}");
    // …but no reader, and no row, holds it.
    let id = run["id"].as_str().unwrap();
    for token in [ADMIN, READ] {
        let shown = api
            .call(Method::GET, &format!("/executions/{id}"), Some(token), None)
            .await
            .body;
        assert_eq!(shown["args"], json!({"bucket": "b2", "access_key": "***"}), "{shown}");
    }
    let row = job_execution::Entity::find_by_id(id.to_owned())
        .one(&api.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.args.unwrap().contains("NEW-SECRET"));
    api.finish().await;
}

async fn the_retries_of_a_run_keep_its_arguments(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    api.create(json!({
        "job_id": "flaky", "func": "fail", "args": {"n": 1}, "trigger": "interval", "rule": "1h",
        "max_retries": 1, "retry_backoff": "fixed", "retry_delay": "30s",
    }))
    .await;
    let first = run_to_the_end(&api, "flaky", Some(json!({"args": {"n": 2}}))).await;
    assert_eq!(first["status"], "failed", "{first}");
    api.clock.advance(chrono::Duration::seconds(31));
    let runs = wait_until(|| async {
        let list = api.get("/jobs/flaky/executions?status=failed").await.body;
        (list["total"] == 2).then_some(list)
    })
    .await;
    for run in runs["items"].as_array().unwrap() {
        assert_eq!(run["args"], json!({"n": 2}), "{runs}");
    }
    let sources: Vec<&Value> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["trigger_source"])
        .collect();
    assert!(sources.contains(&&json!("retry")), "{runs}");
    api.finish().await;
}

backend_tests!(
    a_run_takes_the_arguments_it_is_given,
    arguments_that_do_not_fit_start_nothing,
    secrets_given_to_a_run_are_not_recorded,
    the_retries_of_a_run_keep_its_arguments,
);
