//! History over real HTTP: per job, all, one with its output, cleanup.

mod common;

use chrono::Duration;
use common::{Backend, READ, TestApi, epoch};
use reqwest::Method;
use ruqi::entity::job_execution;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

/// Runs `job_id` now and waits for its run to end; returns the execution id.
async fn run_to_end(api: &TestApi, job_id: &str) -> String {
    let run = api.post_empty(&format!("/jobs/{job_id}/run")).await;
    assert_eq!(run.status, 202, "{run:?}");
    let id = run.body["execution_id"].as_str().expect("an execution id").to_owned();
    api.wait_for_execution(&id, |e| e["status"] != "running").await;
    id
}

#[tokio::test]
async fn executions_of_a_job_and_one_with_its_output() {
    let api = TestApi::start().await;
    api.create(json!({
        "job_id": "say", "job_name": "talk", "func": "echo", "args": {"text": "hello there"},
        "trigger": "interval", "rule": "1h",
    }))
    .await;
    let id = run_to_end(&api, "say").await;

    let list = api.get("/jobs/say/executions").await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["total"], 1);
    let item = &list.body["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["status"], "success");
    assert_eq!(item["job_name"], "talk");
    assert_eq!(item["node"], "api-test");
    assert!(item.get("output").is_none(), "lists leave the output out: {item}");

    let one = api.get(&format!("/executions/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["output"], "hello there\n");
    assert_eq!(one.body["scheduled_for"], "2026-05-01T08:00:00+00:00");

    assert_eq!(api.get("/jobs/say/executions?status=failed").await.body["total"], 0);
    assert_eq!(api.get("/jobs/say/executions?status=success").await.body["total"], 1);
    // The statuses are an enum in the document, spelled as it spells them.
    api.get("/jobs/say/executions?status=SUCCESS")
        .await
        .assert_error(400, "bad_request", Some("status"));
    api.get("/jobs/say/executions?status=fine")
        .await
        .assert_error(400, "bad_request", Some("status"));
    api.get("/jobs/say/executions?from=yesterday")
        .await
        .assert_error(400, "bad_request", Some("from"));
    api.get("/jobs/never/executions")
        .await
        .assert_error(404, "not_found", None);
    api.get("/executions/0190-no-such-id")
        .await
        .assert_error(404, "not_found", None);
}

#[tokio::test]
async fn all_executions_filter_and_page() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "ok", "job_name": "good", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    api.create(json!({"job_id": "bad", "job_name": "evil", "func": "fail", "trigger": "interval", "rule": "1h"}))
        .await;
    run_to_end(&api, "ok").await;
    api.clock.advance(Duration::minutes(1));
    let failed = run_to_end(&api, "bad").await;
    api.clock.advance(Duration::minutes(1));
    run_to_end(&api, "ok").await;

    let all = api.get("/executions").await;
    assert_eq!(all.body["total"], 3);
    assert_eq!(
        all.body["total_exact"], true,
        "three runs are well within the count's cap"
    );
    let counted = api.get("/executions?exact_total=true&limit=1").await;
    assert_eq!(
        (&counted.body["total"], &counted.body["total_exact"]),
        (&3.into(), &true.into())
    );
    let statuses: Vec<&Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["status"])
        .collect();
    assert_eq!(statuses, ["success", "failed", "success"], "newest first");
    let bad = api.get("/executions?job_id=bad").await;
    assert_eq!(bad.body["total"], 1);
    assert_eq!(bad.body["items"][0]["id"], failed.as_str());
    assert_eq!(bad.body["items"][0]["error"], "boom");
    assert_eq!(api.get("/executions?job_name=good").await.body["total"], 2);
    assert_eq!(api.get("/executions?status=failed").await.body["total"], 1);
    assert_eq!(
        api.get("/executions?job_name=good&status=failed").await.body["total"],
        0
    );
    let from = "2026-05-01T08:01:00Z";
    let to = "2026-05-01T08:02:00Z";
    let window = api.get(&format!("/executions?from={from}&to={to}")).await;
    assert_eq!(window.body["total"], 1, "{window:?}");
    assert_eq!(window.body["items"][0]["job_id"], "bad");
    let page = api.get("/executions?offset=2&limit=2").await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["limit"], 2);
    api.get("/executions?limit=1001")
        .await
        .assert_error(400, "bad_request", Some("limit"));
    api.get("/executions?status=nope")
        .await
        .assert_error(400, "bad_request", Some("status"));
}

/// A finished history row scheduled `days_ago` days before the epoch.
async fn old_row(api: &TestApi, id: &str, job_id: &str, days_ago: i64) {
    let at = epoch() - Duration::days(days_ago);
    job_execution::ActiveModel {
        id: Set(id.to_owned()),
        job_id: Set(job_id.to_owned()),
        job_name: Set(Some(format!("{job_id}-group"))),
        scheduled_for: Set(at),
        started_at: Set(Some(at)),
        finished_at: Set(Some(at)),
        duration_ms: Set(Some(0)),
        status: Set("success".to_owned()),
        attempt: Set(1),
        output: Set(None),
        error: Set(None),
        node: Set(Some("elsewhere".to_owned())),
        trigger_source: Set("schedule".to_owned()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
    .insert(&api.db)
    .await
    .expect("a history row");
}

#[tokio::test]
async fn cleanup_deletes_old_history_and_says_how_much() {
    let api = TestApi::start().await;
    for (i, days) in [40, 35, 31, 5, 1].into_iter().enumerate() {
        old_row(&api, &format!("a{i}"), "a", days).await;
        old_row(&api, &format!("b{i}"), "b", days).await;
    }
    let answer = api
        .post("/executions/cleanup", json!({"older_than_days": 30, "job_id": "a"}))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, json!({"deleted": 3}));
    assert_eq!(api.get("/executions?job_id=a").await.body["total"], 2);

    let answer = api
        .post("/executions/cleanup", json!({"keep_last": 1, "job_name": "b-group"}))
        .await;
    assert_eq!(answer.body, json!({"deleted": 4}));
    let left = api.get("/executions?job_id=b").await;
    assert_eq!(left.body["items"][0]["id"], "b4", "the newest stays");

    let before = api.execution_count().await;
    api.post("/executions/cleanup", json!({"job_id": "a"}))
        .await
        .assert_error(422, "invalid", Some("older_than_days"));
    api.post("/executions/cleanup", json!({"older_than": 3}))
        .await
        .assert_error(400, "bad_request", Some("older_than"));
    api.post("/executions/cleanup", json!({"older_than_days": -3}))
        .await
        .assert_error(400, "bad_request", Some("older_than_days"));
    // `dry_run` is a boolean or left out; `null` is refused, not read as `false`.
    api.post("/executions/cleanup", json!({"older_than_days": 0, "dry_run": null}))
        .await
        .assert_error(400, "bad_request", Some("dry_run"));
    assert_eq!(api.execution_count().await, before);
}

#[tokio::test]
async fn numbers_too_large_are_refused_by_name_or_reach_past_the_end() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "a", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    old_row(&api, "a-old", "a", 10).await;
    let api = &api;
    let read = |path: String| async move { api.call(Method::GET, &path, Some(READ), None).await };
    for list in ["/jobs", "/executions", "/jobs/a/executions"] {
        // The largest offset a database takes: past the end, an empty page.
        let far = read(format!("{list}?offset=9223372036854775807")).await;
        assert_eq!(far.status, 200, "{list}: {far:?}");
        assert_eq!(far.body["items"], json!([]), "{list}");
        assert_eq!(far.body["total"], 1, "{list}");
        assert_eq!(far.body["offset"], 9_223_372_036_854_775_807_u64, "{list}");
        for offset in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
        ] {
            read(format!("{list}?offset={offset}"))
                .await
                .assert_error(400, "bad_request", Some("offset"));
        }
        for limit in ["18446744073709551616", "1001", "0"] {
            read(format!("{list}?limit={limit}"))
                .await
                .assert_error(400, "bad_request", Some("limit"));
        }
    }
    read("/executions/a-old/log?from_line=9223372036854775807".to_owned())
        .await
        .body["lines"]
        .as_array()
        .map(|lines| assert!(lines.is_empty()))
        .expect("a log tail");
    read("/executions/a-old/log?from_line=9223372036854775808".to_owned())
        .await
        .assert_error(400, "bad_request", Some("from_line"));
    for n in ["101", "18446744073709551616", "-1"] {
        read(format!("/jobs/a/next-run-times?n={n}"))
            .await
            .assert_error(400, "bad_request", Some("n"));
        read(format!("/preview?trigger=interval&rule=1h&n={n}"))
            .await
            .assert_error(400, "bad_request", Some("n"));
    }

    // u32::MAX days reach back before the earliest date there can be: nothing is older.
    for body in [
        json!({"older_than_days": 4_294_967_295_u32}),
        json!({"older_than_days": 4_294_967_295_u32, "keep_last": 0}),
        json!({"keep_last": 4_294_967_295_u32}),
    ] {
        let answer = api.post("/executions/cleanup", body.clone()).await;
        assert_eq!(answer.status, 200, "{body}: {answer:?}");
        assert_eq!(answer.body, json!({"deleted": 0}), "{body}");
    }
    for (field, body) in [
        ("older_than_days", json!({"older_than_days": 4_294_967_296_u64})),
        ("keep_last", json!({"keep_last": 18_446_744_073_709_551_615_u64})),
    ] {
        api.post("/executions/cleanup", body)
            .await
            .assert_error(400, "bad_request", Some(field));
    }
    assert_eq!(api.execution_count().await, 1);
    let cleaned = api.post("/executions/cleanup", json!({"older_than_days": 9})).await;
    assert_eq!(cleaned.body, json!({"deleted": 1}), "small counts still delete");
}

/// `text` as a query value: RFC 3339 offsets carry a `+`.
fn query_value(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

/// A dry run counts what a cleanup would delete, in the same scope (a job,
/// a group), and deletes nothing; the cleanup then deletes exactly that many.
async fn a_dry_run_counts_what_a_cleanup_would_delete(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    for (i, days) in [40, 35, 31, 5, 1].into_iter().enumerate() {
        for job in ["a", "b", "c"] {
            old_row(&api, &format!("{job}{i}"), job, days).await;
        }
    }
    let before = api.execution_count().await;
    for (body, would) in [
        (json!({"older_than_days": 30, "job_id": "a", "dry_run": true}), 3),
        (json!({"keep_last": 1, "job_name": "b-group", "dry_run": true}), 4),
        (json!({"keep_last": 2, "dry_run": true}), 9),
        (json!({"older_than_days": 4_294_967_295_u32, "dry_run": true}), 0),
    ] {
        let answer = api.post("/executions/cleanup", body.clone()).await;
        assert_eq!(answer.status, 200, "{body}: {answer:?}");
        assert_eq!(answer.body, json!({"deleted": 0, "would_delete": would}), "{body}");
    }
    assert_eq!(api.execution_count().await, before, "a dry run deletes nothing");
    api.post("/executions/cleanup", json!({"job_id": "a", "dry_run": true}))
        .await
        .assert_error(422, "invalid", Some("older_than_days"));
    api.post("/executions/cleanup", json!({"keep_last": 1, "dry_run": "yes"}))
        .await
        .assert_error(400, "bad_request", Some("dry_run"));

    let answer = api
        .post(
            "/executions/cleanup",
            json!({"keep_last": 1, "job_name": "b-group", "dry_run": false}),
        )
        .await;
    assert_eq!(answer.body, json!({"deleted": 4}), "as the dry run said");
    assert_eq!(api.get("/executions?job_id=b").await.body["items"][0]["id"], "b4");
    assert_eq!(
        api.get("/executions?job_id=a").await.body["total"],
        5,
        "another group's runs stay"
    );
    api.finish().await;
}

/// A job deleted and created again under its id: `from` set to the new
/// job's `created_at` lists and counts only the new job's runs, and `to`
/// the earlier job's.
async fn runs_since_created_at_leave_an_earlier_jobs_out(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let job = json!({"job_id": "again", "func": "noop", "trigger": "interval", "rule": "1h"});
    api.create(job.clone()).await;
    run_to_end(&api, "again").await;
    api.clock.advance(Duration::minutes(1));
    run_to_end(&api, "again").await;
    assert_eq!(api.delete("/jobs/again").await.status, 204);
    api.clock.advance(Duration::minutes(1));
    let created = api.create(job).await;
    let since = query_value(created["created_at"].as_str().expect("a created_at"));
    let now = run_to_end(&api, "again").await;

    let all = api.get("/jobs/again/executions").await;
    assert_eq!(all.body["total"], 3, "{all:?}");
    let mine = api.get(&format!("/jobs/again/executions?from={since}")).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(mine.body["total"], 1);
    assert_eq!(
        mine.body["items"][0]["id"],
        now.as_str(),
        "a run at the instant of creation is the new job's"
    );
    let earlier = api.get(&format!("/jobs/again/executions?to={since}&limit=1")).await;
    assert_eq!(earlier.body["total"], 2);

    let stats = api
        .get(&format!("/executions/stats/jobs?job_id=again&from={since}"))
        .await;
    assert_eq!(stats.status, 200, "{stats:?}");
    assert_eq!(stats.body["items"][0]["total"], 1);
    let whole = api.get("/executions/stats/jobs?job_id=again").await;
    assert_eq!(whole.body["items"][0]["total"], 3);
    api.get("/jobs/again/executions?from=since-created")
        .await
        .assert_error(400, "bad_request", Some("from"));
    api.get("/executions/stats/jobs?job_id=again&from=yesterday")
        .await
        .assert_error(400, "bad_request", Some("from"));
    api.finish().await;
}

backend_tests!(
    a_dry_run_counts_what_a_cleanup_would_delete,
    runs_since_created_at_leave_an_earlier_jobs_out,
);
