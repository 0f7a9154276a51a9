//! Jobs over real HTTP: create, list, get, replace, update, delete — and
//! every refusal writes nothing.

mod common;

use common::{ADMIN, TestApi, job};
use serde_json::{Value, json};

#[tokio::test]
async fn create_answers_201_with_the_scheduled_job_and_its_location() {
    let api = TestApi::start().await;
    let answer = api
        .post(
            "/jobs",
            json!({
                "job_id": "hello world",
                "job_name": "greetings",
                "description": "says hello",
                "func": "echo",
                "args": {"text": "hi"},
                "trigger": "cron",
                "rule": "0 20 2 * * *",
                "timezone": "Asia/Shanghai",
                "timeout_s": 30,
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.headers["location"], "/admin/jobs/jobs/hello%20world");
    let job = &answer.body;
    assert_eq!(job["job_id"], "hello world");
    assert_eq!(job["args"], json!({"text": "hi"}));
    assert_eq!(job["timezone"], "Asia/Shanghai");
    assert_eq!(job["timeout_s"], 30);
    assert_eq!(job["overlap"], "skip", "defaults are filled in");
    assert_eq!(job["misfire_grace_s"], 5);
    // 02:20 in Shanghai is 18:20 UTC; the clock stands at 08:00 UTC on May 1st.
    assert_eq!(job["next_run_time"], "2026-05-01T18:20:00+00:00");
    assert_eq!(job["scheduled"], true, "the scheduler holds it when the answer comes");
    assert_eq!(job["rule_description"], "at 02:20 every day (Asia/Shanghai)");

    let rows = api.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].args.as_deref(), Some(r#"{"text":"hi"}"#));
    let fetched = api.get("/jobs/hello%20world").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, answer.body);
}

#[tokio::test]
async fn create_without_a_job_id_generates_one() {
    let api = TestApi::start().await;
    let job = api
        .create(json!({"func": "noop", "trigger": "interval", "rule": "5m"}))
        .await;
    let id = job["job_id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(job["args"], Value::Null);
    assert_eq!(job["rule_description"], "every 5m");
    assert_eq!(api.get(&format!("/jobs/{id}")).await.status, 200);
}

#[tokio::test]
async fn invalid_values_are_422_naming_the_field_and_write_nothing() {
    let api = TestApi::start().await;
    api.create(job("kept")).await;
    let before = api.rows().await;
    let cases = [
        (json!({"func": "noop", "trigger": "cron", "rule": "0 25 * * *"}), "rule"),
        (json!({"func": "noop", "trigger": "interval", "rule": "10x"}), "rule"),
        (json!({"func": "noop", "trigger": "hourly", "rule": "1h"}), "trigger"),
        (
            json!({"func": "noop", "trigger": "cron", "rule": "@daily", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (json!({"func": "nope", "trigger": "interval", "rule": "1h"}), "func"),
        (
            json!({"func": "echo", "args": {"text": 5}, "trigger": "interval", "rule": "1h"}),
            "args/text",
        ),
        (json!({"func": "echo", "trigger": "interval", "rule": "1h"}), "args"),
        (
            json!({"func": "noop", "trigger": "interval", "rule": "1h", "overlap": "parallel"}),
            "overlap",
        ),
        (
            json!({"func": "noop", "trigger": "interval", "rule": "1h", "max_instances": 0}),
            "max_instances",
        ),
        (
            json!({"func": "noop", "trigger": "interval", "rule": "1h", "timeout_s": 0}),
            "timeout_s",
        ),
        (
            json!({"func": "noop", "trigger": "date", "rule": "2020-01-01 00:00:00"}),
            "rule",
        ),
        (
            json!({"job_id": "x".repeat(192), "func": "noop", "trigger": "interval", "rule": "1h"}),
            "job_id",
        ),
    ];
    for (body, field) in cases {
        let answer = api.post("/jobs", body.clone()).await;
        answer.assert_error(422, "invalid", Some(field));
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("invalid {field} ")),
            "{answer:?}"
        );
        assert_eq!(api.rows().await, before, "{body} wrote something");
    }
    assert_eq!(api.get("/jobs").await.body["total"], 1);
}

#[tokio::test]
async fn a_taken_job_id_is_409_and_the_first_job_stays() {
    let api = TestApi::start().await;
    api.create(job("daily")).await;
    let before = api.rows().await;
    let mut again = job("daily");
    again["rule"] = json!("1m");
    api.post("/jobs", again)
        .await
        .assert_error(409, "already_exists", Some("job_id"));
    assert_eq!(api.rows().await, before);
    assert_eq!(api.get("/jobs/daily").await.body["rule"], "10m");
}

#[tokio::test]
async fn malformed_requests_are_400_in_the_json_shape() {
    let api = TestApi::start().await;
    let raw = |body: &'static str, content_type: &'static str| {
        api.http
            .post(format!("{}/jobs", api.base))
            .bearer_auth(ADMIN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let answer = TestApi::answer(raw("{not json", "application/json").await.unwrap()).await;
    answer.assert_error(400, "bad_request", None);
    let answer = TestApi::answer(raw(r#"{"func": "noop"}"#, "application/json").await.unwrap()).await;
    answer.assert_error(400, "bad_request", Some("trigger"));
    let answer = TestApi::answer(
        raw(
            r#"{"func": "noop", "trigger": "interval", "rule": "1m", "rulle": "x"}"#,
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    answer.assert_error(400, "bad_request", Some("rulle"));
    let answer = TestApi::answer(
        raw(
            r#"{"func": "noop", "trigger": "interval", "rule": ["1m"]}"#,
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    answer.assert_error(400, "bad_request", Some("rule"));
    let answer = TestApi::answer(raw("func=noop", "application/x-www-form-urlencoded").await.unwrap()).await;
    answer.assert_error(415, "unsupported_media_type", None);
    api.get("/jobs?limit=0")
        .await
        .assert_error(400, "bad_request", Some("limit"));
    api.get("/jobs?paused=maybe")
        .await
        .assert_error(400, "bad_request", Some("paused"));
    api.get("/jobs?order=random")
        .await
        .assert_error(400, "bad_request", Some("order"));
    assert!(api.rows().await.is_empty());
}

#[tokio::test]
async fn unknown_jobs_are_404() {
    let api = TestApi::start().await;
    api.get("/jobs/nope").await.assert_error(404, "not_found", None);
    api.put("/jobs/nope", job("nope"))
        .await
        .assert_error(404, "not_found", None);
    api.patch("/jobs/nope", json!({"rule": "1m"}))
        .await
        .assert_error(404, "not_found", None);
    api.delete("/jobs/nope").await.assert_error(404, "not_found", None);
    assert!(api.rows().await.is_empty(), "a PUT is no upsert");
}

#[tokio::test]
async fn list_filters_pages_and_orders() {
    let api = TestApi::start().await;
    for (id, name, func, rule) in [
        ("a-report", "reports", "noop", "30m"),
        ("b-cleanup", "maintenance", "echo", "10m"),
        ("c-report", "reports", "noop", "20m"),
        ("d-Backup", "maintenance", "noop", "40m"),
    ] {
        let mut body = json!({"job_id": id, "job_name": name, "func": func, "trigger": "interval", "rule": rule});
        if func == "echo" {
            body["args"] = json!({"text": "x"});
        }
        api.create(body).await;
    }
    api.post_empty("/jobs/d-Backup/pause").await;
    let ids = |answer: &common::Answer| -> Vec<String> {
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = api.get("/jobs").await;
    assert_eq!(ids(&all), ["a-report", "b-cleanup", "c-report", "d-Backup"]);
    assert_eq!(all.body["total"], 4);
    assert_eq!(all.body["offset"], 0);
    assert_eq!(all.body["limit"], 50);
    assert_eq!(ids(&api.get("/jobs?job_name=reports").await), ["a-report", "c-report"]);
    assert_eq!(ids(&api.get("/jobs?func=echo").await), ["b-cleanup"]);
    assert_eq!(ids(&api.get("/jobs?paused=true").await), ["d-Backup"]);
    assert_eq!(
        ids(&api.get("/jobs?paused=false&text=REPORT").await),
        ["a-report", "c-report"]
    );
    assert_eq!(ids(&api.get("/jobs?text=backup").await), ["d-Backup"]);
    let page = api.get("/jobs?offset=1&limit=2").await;
    assert_eq!(ids(&page), ["b-cleanup", "c-report"]);
    assert_eq!(page.body["total"], 4);
    assert_eq!(page.body["offset"], 1);
    assert_eq!(page.body["limit"], 2);
    assert_eq!(
        ids(&api.get("/jobs?order=next_run_time").await),
        ["b-cleanup", "c-report", "a-report", "d-Backup"],
        "soonest first, paused last"
    );
    assert_eq!(
        ids(&api.get("/jobs?order=job_name").await),
        ["b-cleanup", "d-Backup", "a-report", "c-report"]
    );
}

#[tokio::test]
async fn replace_sets_every_field_and_defaults_what_is_left_out() {
    let api = TestApi::start().await;
    api.create(json!({
        "job_id": "r", "job_name": "g", "description": "old", "func": "noop",
        "trigger": "interval", "rule": "10m", "timeout_s": 9, "overlap": "queue",
    }))
    .await;
    let replaced = api
        .put(
            "/jobs/r",
            json!({"func": "echo", "args": {"text": "new"}, "trigger": "interval", "rule": "1h"}),
        )
        .await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    let job = &replaced.body;
    assert_eq!(job["func"], "echo");
    assert_eq!(job["description"], Value::Null);
    assert_eq!(job["job_name"], Value::Null);
    assert_eq!(job["timeout_s"], Value::Null);
    assert_eq!(job["overlap"], "skip");
    assert_eq!(
        job["next_run_time"], "2026-05-01T09:00:00+00:00",
        "a new rule is planned from now"
    );
    assert_eq!(job["version"], 2);

    // The body's job_id may be repeated, not changed.
    let answer = api.put("/jobs/r", job_with_id("other")).await;
    answer.assert_error(422, "invalid", Some("job_id"));
    assert_eq!(api.put("/jobs/r", job_with_id("r")).await.status, 200);

    let before = api.rows().await;
    let answer = api
        .put(
            "/jobs/r",
            json!({"func": "noop", "trigger": "cron", "rule": "61 * * * *"}),
        )
        .await;
    answer.assert_error(422, "invalid", Some("rule"));
    assert_eq!(api.rows().await, before);
}

fn job_with_id(id: &str) -> Value {
    json!({"job_id": id, "func": "noop", "trigger": "interval", "rule": "1h"})
}

#[tokio::test]
async fn update_changes_only_what_it_names_and_null_clears() {
    let api = TestApi::start().await;
    api.create(json!({
        "job_id": "u", "job_name": "g", "description": "d", "func": "noop",
        "trigger": "interval", "rule": "10m", "timeout_s": 9,
    }))
    .await;
    let answer = api.patch("/jobs/u", json!({"description": "changed"})).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["description"], "changed");
    assert_eq!(answer.body["job_name"], "g");
    assert_eq!(answer.body["timeout_s"], 9);
    assert_eq!(answer.body["next_run_time"], "2026-05-01T08:10:00+00:00");

    let answer = api.patch("/jobs/u", json!({"job_name": null, "timeout_s": null})).await;
    assert_eq!(answer.body["job_name"], Value::Null);
    assert_eq!(answer.body["timeout_s"], Value::Null);
    assert_eq!(answer.body["description"], "changed");

    let answer = api
        .patch("/jobs/u", json!({"next_run_time": "2026-05-02T00:00:00Z"}))
        .await;
    assert_eq!(
        answer.body["next_run_time"], "2026-05-02T00:00:00+00:00",
        "the next fire moved"
    );
    let answer = api.patch("/jobs/u", json!({"is_paused": true})).await;
    assert_eq!(answer.body["is_paused"], true);
    assert_eq!(answer.body["next_run_time"], Value::Null);

    let before = api.rows().await;
    api.patch("/jobs/u", json!({"timezone": "Nowhere/Land"}))
        .await
        .assert_error(422, "invalid", Some("timezone"));
    api.patch("/jobs/u", json!({"func": "echo"}))
        .await
        .assert_error(422, "invalid", Some("args"));
    api.patch("/jobs/u", json!({"version": 7}))
        .await
        .assert_error(400, "bad_request", Some("version"));
    assert_eq!(api.rows().await, before);
}

#[tokio::test]
async fn delete_unschedules_the_job_and_keeps_its_history() {
    let api = TestApi::start().await;
    api.create(job("gone")).await;
    let run = api.post_empty("/jobs/gone/run").await;
    let id = run.body["execution_id"].as_str().unwrap().to_owned();
    api.wait_for_execution(&id, |e| e["status"] == "success").await;

    let answer = api.delete("/jobs/gone").await;
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(answer.body, Value::Null);
    assert!(api.rows().await.is_empty());
    assert!(
        api.scheduler.live("gone").is_none(),
        "the scheduler let go of it at once"
    );
    api.get("/jobs/gone").await.assert_error(404, "not_found", None);
    api.delete("/jobs/gone").await.assert_error(404, "not_found", None);
    assert_eq!(api.get("/jobs/gone/executions").await.body["total"], 1);
    assert_eq!(api.scheduler.status().jobs, 0);
}

#[tokio::test]
async fn blank_names_are_refused_by_field_on_every_write() {
    let api = TestApi::start().await;
    api.create(job("kept")).await;
    let before = api.rows().await;
    let blank_zone = "must not be blank: leave it out or null for the scheduler's default";
    for blank in ["", " ", "\t"] {
        let with = |field: &str| {
            let mut body = job("new");
            body[field] = json!(blank);
            body
        };
        for (body, field) in [
            (with("timezone"), "timezone"),
            (with("func"), "func"),
            (with("job_name"), "job_name"),
            (with("job_id"), "job_id"),
        ] {
            api.post("/jobs", body.clone())
                .await
                .assert_error(422, "invalid", Some(field));
            if field == "job_id" {
                // A replace names its job in the path; a body's differing id is a 400 of its own.
                continue;
            }
            let mut replacement = body;
            replacement["job_id"] = json!("kept");
            api.put("/jobs/kept", replacement)
                .await
                .assert_error(422, "invalid", Some(field));
            api.patch("/jobs/kept", json!({field: blank}))
                .await
                .assert_error(422, "invalid", Some(field));
        }
        let zone = api.post("/jobs", with("timezone")).await;
        assert!(zone.body["message"].as_str().unwrap().ends_with(blank_zone), "{zone:?}");
        let encoded = blank.replace('\t', "%09").replace(' ', "%20");
        api.get(&format!("/preview?trigger=interval&rule=1h&timezone={encoded}"))
            .await
            .assert_error(422, "invalid", Some("timezone"));
        assert_eq!(api.rows().await, before, "{blank:?} wrote something");
    }
    // Left out or null: the scheduler's default zone.
    let mut null_zone = job("default-zone");
    null_zone["timezone"] = Value::Null;
    assert_eq!(api.create(null_zone).await["timezone"], Value::Null);
    let cleared = api
        .patch("/jobs/kept", json!({"timezone": null, "job_name": null}))
        .await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
}
