//! Actions over real HTTP: run now, cancel, pause, resume, previews.

mod common;

use common::{TestApi, job};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

#[tokio::test]
async fn run_now_answers_with_the_execution_id_before_the_run_ends() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "slow", "func": "gated", "trigger": "interval", "rule": "1h"}))
        .await;
    let answer = api.post_empty("/jobs/slow/run").await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body["started"], true);
    assert_eq!(answer.body["job_id"], "slow");
    let id = answer.body["execution_id"].as_str().unwrap().to_owned();
    // The function is still blocked on the gate: the answer came before the run ended.
    let running = api.wait_for_execution(&id, |e| e["status"] == "running").await;
    assert_eq!(running["trigger_source"], "manual");
    assert_eq!(api.get("/jobs/slow").await.body["running"], 1);

    api.gate.add_permits(1);
    let done = api.wait_for_execution(&id, |e| e["status"] != "running").await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["output"], "let through");
}

#[tokio::test]
async fn run_now_while_running_follows_the_overlap_policy() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "one", "func": "gated", "trigger": "interval", "rule": "1h"}))
        .await;
    let first = api.post_empty("/jobs/one/run").await;
    assert_eq!(first.body["started"], true);
    let second = api.post_empty("/jobs/one/run").await;
    assert_eq!(second.status, 202);
    assert_eq!(second.body["started"], false, "{second:?}");
    assert_eq!(second.body["execution_id"], Value::Null);
    let missed = common::wait_until(|| async {
        let list = api.get("/jobs/one/executions?status=missed").await;
        (list.body["total"] == 1).then_some(list.body)
    })
    .await;
    assert!(
        missed["items"][0]["error"].as_str().unwrap().contains("overlap"),
        "{missed}"
    );
    assert_eq!(missed["items"][0]["trigger_source"], "manual", "{missed}");
    // The skipped run leaves the job's status to the run that goes on.
    let job = api.get("/jobs/one").await.body;
    assert_ne!(job["last_status"], "missed", "{job}");
    assert_eq!(job["running"], 1, "{job}");
    api.gate.add_permits(1);
    let done = api
        .wait_for_execution(first.body["execution_id"].as_str().unwrap(), |e| {
            e["status"] != "running"
        })
        .await;
    assert_eq!(done["status"], "success", "{done}");
}

#[tokio::test]
async fn run_now_of_an_unknown_job_is_404() {
    let api = TestApi::start().await;
    api.post_empty("/jobs/nope/run")
        .await
        .assert_error(404, "not_found", None);
    assert_eq!(api.execution_count().await, 0);
}

#[tokio::test]
async fn cancel_stops_the_running_instances() {
    let api = TestApi::start().await;
    api.create(json!({
        "job_id": "many", "func": "gated", "trigger": "interval", "rule": "1h",
        "overlap": "allow", "max_instances": 3,
    }))
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let run = api.post_empty("/jobs/many/run").await;
        ids.push(run.body["execution_id"].as_str().unwrap().to_owned());
    }
    let answer = api.post_empty("/jobs/many/cancel").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"job_id": "many", "cancelled": 2, "requested_elsewhere": 0})
    );
    for id in &ids {
        let ended = api.wait_for_execution(id, |e| e["status"] != "running").await;
        assert_eq!(ended["status"], "cancelled", "{ended}");
    }
    let answer = api.post_empty("/jobs/many/cancel").await;
    assert_eq!(answer.body["cancelled"], 0, "nothing is running any more");
    api.post_empty("/jobs/nope/cancel")
        .await
        .assert_error(404, "not_found", None);
}

#[tokio::test]
async fn pause_and_resume() {
    let api = TestApi::start().await;
    api.create(job("p")).await;
    let paused = api.post_empty("/jobs/p/pause").await;
    assert_eq!(paused.status, 200, "{paused:?}");
    assert_eq!(paused.body["is_paused"], true);
    assert_eq!(paused.body["next_run_time"], Value::Null);
    assert!(api.rows().await[0].is_paused, "written to the row");
    assert_eq!(api.get("/scheduler/status").await.body["paused"], 1);
    assert_eq!(
        api.get("/jobs/p/next-run-times").await.body["next_run_times"],
        json!([])
    );

    api.clock.advance(chrono::Duration::minutes(13));
    let resumed = api.post_empty("/jobs/p/resume").await;
    assert_eq!(resumed.status, 200, "{resumed:?}");
    assert_eq!(resumed.body["is_paused"], false);
    assert_eq!(
        resumed.body["next_run_time"], "2026-05-01T08:20:00+00:00",
        "the first fire after now on the job's grid"
    );
    assert!(!api.rows().await[0].is_paused);

    api.post_empty("/jobs/nope/pause")
        .await
        .assert_error(404, "not_found", None);
    api.post_empty("/jobs/nope/resume")
        .await
        .assert_error(404, "not_found", None);
}

#[tokio::test]
async fn actions_on_a_row_that_cannot_be_scheduled_are_409() {
    let api = TestApi::start().await;
    api.create(job("broken")).await;
    // An edit by hand that no validation saw.
    api.db
        .execute_unprepared("UPDATE job_info SET rule = '5 parsecs' WHERE job_id = 'broken'")
        .await
        .unwrap();
    api.scheduler.reconcile().await.unwrap();
    let row = api.get("/jobs/broken").await;
    assert!(
        row.body["last_error"].as_str().unwrap().contains("cannot be scheduled"),
        "{row:?}"
    );
    for action in ["pause", "resume", "run"] {
        let answer = api.post_empty(&format!("/jobs/broken/{action}")).await;
        answer.assert_error(409, "not_schedulable", None);
        assert!(
            answer.body["message"].as_str().unwrap().contains("5 parsecs"),
            "{answer:?}"
        );
    }
    api.get("/jobs/broken/next-run-times")
        .await
        .assert_error(409, "not_schedulable", None);
    assert_eq!(api.execution_count().await, 0);
    // Fixing the row through the API makes it schedulable again.
    let fixed = api.patch("/jobs/broken", json!({"rule": "5m"})).await;
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(fixed.body["last_error"], Value::Null);
    assert_eq!(api.post_empty("/jobs/broken/pause").await.status, 200);
}

#[tokio::test]
async fn preview_of_a_saved_job() {
    let api = TestApi::start().await;
    api.create(job("every-10m")).await;
    let answer = api.get("/jobs/every-10m/next-run-times?n=3").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["next_run_times"],
        json!([
            "2026-05-01T08:10:00+00:00",
            "2026-05-01T08:20:00+00:00",
            "2026-05-01T08:30:00+00:00"
        ])
    );
    assert_eq!(answer.body["description"], "every 10m");
    let default = api.get("/jobs/every-10m/next-run-times").await;
    assert_eq!(default.body["next_run_times"].as_array().unwrap().len(), 5);
    api.get("/jobs/every-10m/next-run-times?n=101")
        .await
        .assert_error(400, "bad_request", Some("n"));
    api.get("/jobs/nope/next-run-times")
        .await
        .assert_error(404, "not_found", None);
}

#[tokio::test]
async fn preview_of_an_unsaved_rule() {
    let api = TestApi::start().await;
    let answer = api
        .get("/preview?trigger=cron&rule=0%2020%202%20*%20*%20*&timezone=Asia/Shanghai&n=2")
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["next_run_times"],
        json!(["2026-05-01T18:20:00+00:00", "2026-05-02T18:20:00+00:00"])
    );
    assert_eq!(answer.body["description"], "at 02:20 every day (Asia/Shanghai)");
    let utc = api.get("/preview?trigger=interval&rule=90s&n=1").await;
    assert_eq!(utc.body["next_run_times"], json!(["2026-05-01T08:01:30+00:00"]));
    let default_zone = api.get("/preview?trigger=cron&rule=*/15%20*%20*%20*%20*&n=1").await;
    assert_eq!(
        default_zone.body["description"], "every 15 minutes (UTC)",
        "read in the scheduler's zone"
    );
    api.get("/preview?trigger=cron&rule=0%2025%20*%20*%20*")
        .await
        .assert_error(422, "invalid", Some("rule"));
    api.get("/preview?trigger=cron&rule=@daily&timezone=Mars/Olympus")
        .await
        .assert_error(422, "invalid", Some("timezone"));
    api.get("/preview?trigger=weekly&rule=1w")
        .await
        .assert_error(422, "invalid", Some("trigger"));
    api.get("/preview?trigger=cron")
        .await
        .assert_error(400, "bad_request", Some("rule"));
    assert!(api.rows().await.is_empty(), "a preview saves nothing");
}
