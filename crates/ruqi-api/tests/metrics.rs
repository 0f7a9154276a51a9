//! Prometheus metrics over real HTTP: the read scope, the exposition's
//! content type, and runs counted by how they ended and why they ran.

mod common;

use common::{ADMIN, READ, TestApi, wait_until};
use reqwest::Method;
use serde_json::json;

/// The content type Prometheus parses as the text exposition format 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` with `token`.
async fn scrape(api: &TestApi, token: &str) -> reqwest::Response {
    api.http
        .get(format!("{}/metrics", api.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("the metrics answer")
}

/// The metrics text as the read token sees it.
async fn metrics(api: &TestApi) -> String {
    let response = scrape(api, READ).await;
    assert_eq!(response.status(), 200);
    response.text().await.expect("a text body")
}

/// The value of the sample `series` (`name{labels}` exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a sample value is a number"))
}

#[tokio::test]
async fn metrics_need_a_token_with_the_read_scope() {
    let api = TestApi::start().await;
    let anonymous = api.call(Method::GET, "/metrics", None, None).await;
    anonymous.assert_error(401, "unauthorized", None);
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    api.call(Method::GET, "/metrics", Some("guessed"), None)
        .await
        .assert_error(401, "unauthorized", None);

    for token in [READ, ADMIN] {
        let response = scrape(&api, token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], PROMETHEUS_TEXT);
        let text = response.text().await.expect("a text body");
        assert!(text.contains("# TYPE ruqi_executions_total counter\n"), "{text}");
        assert_eq!(
            sample(&text, r#"ruqi_executions_total{status="lost"}"#),
            Some(0.0),
            "{text}"
        );
        assert_eq!(sample(&text, r#"ruqi_jobs{state="scheduled"}"#), Some(0.0), "{text}");
        assert_eq!(sample(&text, "ruqi_nodes"), Some(1.0), "{text}");
    }
}

#[tokio::test]
async fn runs_are_counted_by_outcome_and_trigger_source() {
    let api = TestApi::start().await;
    api.create(json!({"job_id": "works", "func": "noop", "trigger": "interval", "rule": "10m"}))
        .await;
    api.create(json!({"job_id": "breaks", "func": "fail", "trigger": "interval", "rule": "10m"}))
        .await;
    api.create(json!({"job_id": "resting", "func": "noop", "trigger": "interval", "rule": "1h", "is_paused": true}))
        .await;

    for (job_id, outcome) in [("works", "success"), ("breaks", "failed")] {
        let run = api.post_empty(&format!("/jobs/{job_id}/run")).await;
        assert_eq!(run.status, 202, "{run:?}");
        let id = run.body["execution_id"].as_str().expect("an execution id").to_owned();
        let ended = api.wait_for_execution(&id, |e| e["status"] != "running").await;
        assert_eq!(ended["status"], outcome, "{ended}");
    }

    // The row is written before the run's event is published: wait for the
    // counters rather than read them once.
    let text = wait_until(|| async {
        let text = metrics(&api).await;
        let success = sample(&text, r#"ruqi_executions_total{status="success"}"#);
        let failed = sample(&text, r#"ruqi_executions_total{status="failed"}"#);
        (success == Some(1.0) && failed == Some(1.0)).then_some(text)
    })
    .await;

    for status in ["timeout", "cancelled", "missed", "lost"] {
        assert_eq!(
            sample(&text, &format!(r#"ruqi_executions_total{{status="{status}"}}"#)),
            Some(0.0),
            "{status}: {text}"
        );
    }
    let durations: f64 = ["success", "failed", "timeout", "cancelled"]
        .iter()
        .filter_map(|status| {
            sample(
                &text,
                &format!(r#"ruqi_run_duration_seconds_count{{status="{status}"}}"#),
            )
        })
        .sum();
    assert!(durations >= 2.0, "{text}");
    assert_eq!(
        sample(&text, r#"ruqi_run_duration_seconds_count{status="failed"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"ruqi_runs_started_total{trigger_source="manual"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"ruqi_runs_started_total{trigger_source="schedule"}"#),
        Some(0.0),
        "the clock has not moved: {text}"
    );
    assert_eq!(sample(&text, "ruqi_fire_lateness_seconds_count"), Some(0.0), "{text}");

    let status = api.get("/scheduler/status").await.body;
    assert_eq!(status["scheduled"], 2, "{status}");
    assert_eq!(sample(&text, r#"ruqi_jobs{state="scheduled"}"#), Some(2.0), "{text}");
    assert_eq!(sample(&text, r#"ruqi_jobs{state="paused"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"ruqi_jobs{state="invalid"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, "ruqi_jobs_held"), Some(3.0), "{text}");
    assert_eq!(sample(&text, "ruqi_runs_in_progress"), Some(0.0), "{text}");
    assert!(
        sample(&text, "ruqi_next_wakeup_seconds").is_some_and(|s| s >= 0.0),
        "jobs are scheduled, so the wake-up is shown: {text}"
    );
}
