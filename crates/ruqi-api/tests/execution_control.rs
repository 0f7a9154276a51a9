//! Execution control over real HTTP: tailing a run's log, cancelling one
//! execution, the event stream, and the retry and child-job fields.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN, READ, TestApi, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

async fn run(api: &TestApi, job_id: &str) -> String {
    let run = api.post_empty(&format!("/jobs/{job_id}/run")).await;
    assert_eq!(run.status, 202, "{run:?}");
    run.body["execution_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_runs_log_can_be_tailed_while_it_runs_and_after() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "chatty", "func": "chatty", "trigger": "interval", "rule": "1h"}))
        .await;
    let id = run(&api, "chatty").await;
    let path = format!("/executions/{id}/log");

    let first = wait_until(|| async {
        let answer = api.get(&format!("{path}?from_line=0")).await;
        (answer.body["lines"].as_array().map_or(0, Vec::len) == 2).then_some(answer.body)
    })
    .await;
    assert_eq!(
        first,
        json!({
            "execution_id": id, "status": "running", "from_line": 0,
            "lines": ["line 1", "line 2"], "next_line": 2, "finished": false, "truncated": false,
        })
    );
    // Nothing new yet: the same place again.
    let again = api.get(&format!("{path}?from_line=2")).await;
    assert_eq!(
        (again.body["lines"].clone(), again.body["next_line"].clone()),
        (json!([]), json!(2))
    );

    api.gate.add_permits(1);
    let rest = wait_until(|| async {
        let answer = api.get(&format!("{path}?from_line=2")).await;
        (answer.body["finished"] == true).then_some(answer.body)
    })
    .await;
    assert_eq!(rest["status"], "success");
    assert_eq!(rest["lines"], json!(["line 3", "returned"]));
    assert_eq!(rest["next_line"], 4);

    // A finished run is read from its row, from any line on.
    let whole = api.get(&format!("{path}?from_line=1")).await;
    assert_eq!(whole.body["lines"], json!(["line 2", "line 3", "returned"]));
    api.get("/executions/nope/log")
        .await
        .assert_error(404, "not_found", None);
    let read = api.call(Method::GET, &path, Some(READ), None).await;
    assert_eq!(read.status, 200, "the read scope may tail");
}

#[tokio::test]
async fn one_execution_can_be_cancelled() {
    let api = TestApi::start().await;
    api.create(json!({
        "job_id": "waits", "func": "gated", "trigger": "interval", "rule": "1h",
        "overlap": "allow", "max_instances": 2,
    }))
    .await;
    let first = run(&api, "waits").await;
    let second = run(&api, "waits").await;
    let cancel = format!("/executions/{first}/cancel");

    let denied = api.call(Method::POST, &cancel, Some(READ), None).await;
    denied.assert_error(403, "forbidden", None);
    let answer = api.call(Method::POST, &cancel, Some(ADMIN), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"execution_id": first, "cancelled_here": true, "requested_elsewhere": false})
    );
    let ended = api.wait_for_execution(&first, |e| e["status"] != "running").await;
    assert_eq!(ended["status"], "cancelled");
    assert_eq!(ended["error"], "cancelled by request");

    // The other run was not touched; cancelling a finished run is a conflict.
    let other = api.get(&format!("/executions/{second}")).await;
    assert_eq!(other.body["status"], "running");
    api.post_empty(&cancel).await.assert_error(409, "conflict", None);
    api.post_empty("/executions/nope/cancel")
        .await
        .assert_error(404, "not_found", None);
    api.gate.add_permits(1);
    let done = api.wait_for_execution(&second, |e| e["status"] != "running").await;
    assert_eq!(done["status"], "success");
}

#[tokio::test]
async fn events_stream_as_server_sent_events() {
    let api = TestApi::start().await;
    let denied = api.call(Method::GET, "/events", None, None).await;
    denied.assert_error(401, "unauthorized", None);

    let response = api
        .http
        .get(format!("{}/events", api.base))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut response = response;

    api.create(json!({"job_id": "quick", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    let id = run(&api, "quick").await;
    let mut seen: Vec<Value> = Vec::new();
    let mut text = String::new();
    tokio::time::timeout(common::DEADLINE, async {
        while !seen.iter().any(|e| e["event"] == "succeeded") {
            let chunk = response.chunk().await.unwrap().expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let message: String = text.drain(..end + 2).collect();
                for line in message.lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        seen.push(serde_json::from_str(data).unwrap());
                    }
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no succeeded event; saw {seen:?}"));
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(kinds.contains(&"job_added"), "{kinds:?}");
    let submitted = seen.iter().find(|e| e["event"] == "submitted").unwrap();
    assert_eq!(submitted["execution_id"], id);
    assert_eq!(submitted["trigger_source"], "manual");
    let succeeded = seen.iter().find(|e| e["event"] == "succeeded").unwrap();
    assert_eq!(
        (succeeded["job_id"].clone(), succeeded["error"].clone()),
        (json!("quick"), Value::Null)
    );
}

#[tokio::test]
async fn retry_and_child_fields_are_validated_and_shown() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "after", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    let created = api
        .create(json!({
            "job_id": "before", "func": "noop", "trigger": "interval", "rule": "1h",
            "max_retries": 3, "retry_backoff": "fixed", "retry_delay": "30s",
            "child_jobs": "after", "alert_url": "https://alerts.example.com/hook",
        }))
        .await;
    assert_eq!(created["retry_backoff"], "fixed");
    assert_eq!(created["retry_delay"], "30s");
    assert_eq!(created["child_jobs"], "after");
    assert_eq!(created["alert_url"], "https://alerts.example.com/hook");
    let defaults = api.get("/jobs/after").await.body;
    assert_eq!(
        (defaults["retry_backoff"].clone(), defaults["retry_delay"].clone()),
        (json!("exponential"), json!("10s"))
    );

    let cases = [
        (json!({"retry_backoff": "linear"}), "retry_backoff"),
        (json!({"retry_delay": "soon"}), "retry_delay"),
        (json!({"child_jobs": "ghost"}), "child_jobs"),
        (json!({"alert_url": "mailto:ops@example.com"}), "alert_url"),
    ];
    for (patch, field) in cases {
        api.patch("/jobs/after", patch.clone())
            .await
            .assert_error(422, "invalid", Some(field));
    }
    // after → before would close before → after → before.
    let cycle = api.patch("/jobs/after", json!({"child_jobs": "before"})).await;
    cycle.assert_error(422, "invalid", Some("child_jobs"));
    assert!(
        cycle.body["message"]
            .as_str()
            .unwrap()
            .contains("after → before → after"),
        "{cycle:?}"
    );
    assert_eq!(
        api.get("/jobs/after").await.body["child_jobs"],
        Value::Null,
        "nothing was written"
    );
    let cleared = api.patch("/jobs/before", json!({"child_jobs": null})).await;
    assert_eq!(cleared.body["child_jobs"], Value::Null, "{cleared:?}");
}
