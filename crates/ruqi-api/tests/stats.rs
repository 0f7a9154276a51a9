//! Execution statistics, per-job summaries, completions and the server-side
//! filters over real HTTP, on every backend: the numbers the statistics
//! answer equal the totals the history list answers for the same filters,
//! and bad parameters are refused naming them.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{Backend, TestApi, epoch};
use ruqi::entity::{job_execution, job_info};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const STATUSES: [&str; 5] = ["success", "success", "failed", "missed", "timeout"];

fn run(i: usize, job_id: &str, at: DateTime<Utc>) -> job_execution::ActiveModel {
    let status = STATUSES[i % STATUSES.len()];
    job_execution::ActiveModel {
        id: Set(format!("run-{i:06}")),
        job_id: Set(job_id.to_owned()),
        job_name: Set(Some(
            if job_id.starts_with("mon") {
                "monitoring"
            } else {
                "reports"
            }
            .to_owned(),
        )),
        scheduled_for: Set(at),
        started_at: Set((status != "missed").then_some(at)),
        finished_at: Set(None),
        duration_ms: Set((status != "missed").then_some((i as i64 * 37) % 5_000)),
        status: Set(status.to_owned()),
        attempt: Set(1),
        output: Set(None),
        error: Set((status == "failed").then(|| format!("Disk FULL on volume {}", i % 3))),
        node: Set(None),
        trigger_source: Set("schedule".to_owned()),
        cancel_requested_at: Set(None),
        args: Set(None),
    }
}

/// 1,200 runs of three jobs, one every 47 s from the epoch.
async fn seed(api: &TestApi) {
    let jobs = ["mon-disk", "mon-cpu", "report"];
    let rows: Vec<_> = (0..1_200)
        .map(|i| run(i, jobs[i % 3], epoch() + Duration::seconds(47 * i as i64)))
        .collect();
    for chunk in rows.chunks(400) {
        job_execution::Entity::insert_many(chunk.to_vec())
            .exec(&api.db)
            .await
            .unwrap();
    }
}

/// `pairs` as a query string (`+` of a time offset escaped).
fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "%20")))
        .collect::<Vec<_>>()
        .join("&")
}

fn sum(buckets: &Value, status: &str) -> u64 {
    buckets
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["counts"][status].as_u64().unwrap())
        .sum()
}

async fn stats_equal_the_lists_counts(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    seed(&api).await;
    let from = (epoch() + Duration::minutes(61)).to_rfc3339();
    let to = (epoch() + Duration::minutes(71)).to_rfc3339();
    let filters: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("from", from.clone()), ("to", to.clone())],
        vec![("job_id_prefix", "MON-".into())],
        vec![("job_name", "reports".into()), ("from", from.clone())],
        vec![("error", "disk full".into())],
        vec![("job_id", "mon-cpu".into()), ("status", "failed".into())],
    ];
    for filter in filters {
        let q = query(&filter);
        let stats = api.get(&format!("/executions/stats?{q}")).await;
        assert_eq!(stats.status, 200, "{stats:?}");
        let listed = api.get(&format!("/executions?{q}&limit=1")).await;
        assert_eq!(stats.body["total"], listed.body["total"], "{q}: {}", stats.body);
        for status in ["success", "failed", "missed", "timeout"] {
            let one = api.get(&format!("/executions?{q}&status={status}&limit=1")).await;
            let wanted = one.body["total"].as_u64().unwrap();
            let skip_status = filter.iter().any(|(k, v)| *k == "status" && v != status);
            if !skip_status {
                assert_eq!(stats.body["counts"][status].as_u64(), Some(wanted), "{q} {status}");
            }
            assert_eq!(
                sum(&stats.body["buckets"], status),
                stats.body["counts"][status].as_u64().unwrap()
            );
        }
    }

    // Ten minutes typed to the minute: ten minute buckets, the range kept.
    let ten = api
        .get(&format!(
            "/executions/stats?{}",
            query(&[("from", from.clone()), ("to", to.clone())])
        ))
        .await;
    assert_eq!(ten.body["bucket"], "minute");
    assert_eq!(ten.body["bucket_seconds"], 60);
    assert_eq!(ten.body["buckets"].as_array().unwrap().len(), 10);
    let start: DateTime<Utc> = ten.body["buckets"][0]["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, epoch() + Duration::minutes(61));
    assert_eq!(
        ten.body["total"], 13,
        "runs every 47 s in ten minutes from 61 min on: {}",
        ten.body
    );
    let durations = &ten.body["durations"];
    assert!(durations["p50_ms"].as_i64().unwrap() <= durations["p90_ms"].as_i64().unwrap());
    assert!(durations["p99_ms"].as_i64().unwrap() <= durations["max_ms"].as_i64().unwrap());
    let rate = ten.body["success_rate"].as_f64().unwrap();
    let counts = &ten.body["counts"];
    let ended = ["success", "failed", "timeout"]
        .map(|s| counts[s].as_u64().unwrap())
        .iter()
        .sum::<u64>();
    assert_eq!(rate, counts["success"].as_u64().unwrap() as f64 / ended as f64);

    // Days of UTC+2 start at 22:00 UTC.
    let days = api.get("/executions/stats?bucket=day&utc_offset_minutes=120").await;
    assert_eq!(days.status, 200, "{days:?}");
    assert_eq!(days.body["buckets"][0]["start"], "2026-04-30T22:00:00+00:00");

    // Per job, in the order asked, zeros for a job that never ran.
    let per_job = api
        .get("/executions/stats/jobs?job_id=report&job_id=nobody&job_id=mon-cpu")
        .await;
    assert_eq!(per_job.status, 200, "{per_job:?}");
    let items = per_job.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["job_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["report", "nobody", "mon-cpu"]);
    assert_eq!(items[0]["total"], 400);
    let report = api.get("/executions/stats?job_id=report").await;
    assert_eq!(items[0]["success_rate"], report.body["success_rate"]);
    assert_eq!(items[0]["avg_duration_ms"], report.body["durations"]["avg_ms"]);
    assert_eq!(items[1]["total"], 0);
    assert_eq!(items[1]["success_rate"], Value::Null);
    api.finish().await;
}

/// A job deleted and created again under its id: with `since_created`, its
/// summary counts only the runs since it was created.
async fn a_jobs_own_runs_leave_out_an_earlier_jobs(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let created = api
        .create(json!({"job_id": "report", "func": "noop", "trigger": "interval", "rule": "1h"}))
        .await;
    let created_at: DateTime<Utc> = created["created_at"].as_str().unwrap().parse().unwrap();
    // Five runs of an earlier job under the same id, in the days before, and
    // three of this one; one run of a job that no longer exists.
    let rows: Vec<_> = (0..5)
        .map(|i| run(i, "report", created_at - Duration::days(5 - i as i64)))
        .chain((0..3).map(|i| job_execution::ActiveModel {
            id: Set(format!("own-{i}")),
            ..run(0, "report", created_at + Duration::minutes(i + 1))
        }))
        .chain([run(99, "gone", created_at)])
        .collect();
    job_execution::Entity::insert_many(rows).exec(&api.db).await.unwrap();

    let all = api.get("/executions/stats/jobs?job_id=report").await;
    assert_eq!(all.body["items"][0]["total"], 8, "{all:?}");
    let since = api
        .get("/executions/stats/jobs?job_id=report&job_id=gone&since_created=true")
        .await;
    assert_eq!(since.status, 200, "{since:?}");
    let items = since.body["items"].as_array().unwrap();
    assert_eq!(items[0]["total"], 3, "only the job's own runs: {since:?}");
    assert_eq!(items[0]["counts"]["success"], 3, "{since:?}");
    assert_eq!(items[0]["success_rate"], 1.0, "{since:?}");
    assert_eq!(
        items[1]["total"], 0,
        "a job that does not exist has no runs of its own: {since:?}"
    );
    api.finish().await;
}

async fn refusals_name_the_parameter(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    seed(&api).await;
    // 1,200 runs × 47 s: about 940 minutes, 16 hours; a minute bucket over
    // a month is too many.
    let month = query(&[
        ("from", epoch().to_rfc3339()),
        ("to", (epoch() + Duration::days(30)).to_rfc3339()),
    ]);
    api.get(&format!("/executions/stats?{month}&bucket=minute"))
        .await
        .assert_error(422, "invalid", Some("bucket"));
    api.get("/executions/stats?bucket=week")
        .await
        .assert_error(400, "bad_request", Some("bucket"));
    api.get("/executions/stats?utc_offset_minutes=841").await.assert_error(
        400,
        "bad_request",
        Some("utc_offset_minutes"),
    );
    api.get("/executions/stats?from=today")
        .await
        .assert_error(400, "bad_request", Some("from"));
    api.get(&format!("/executions?job_id_prefix={}", "x".repeat(192)))
        .await
        .assert_error(400, "bad_request", Some("job_id_prefix"));
    api.get("/executions/stats/jobs")
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    let many = (0..101).map(|i| format!("job_id=j{i}")).collect::<Vec<_>>().join("&");
    api.get(&format!("/executions/stats/jobs?{many}"))
        .await
        .assert_error(400, "bad_request", Some("job_id"));
    api.get("/suggestions?prefix=mo")
        .await
        .assert_error(400, "bad_request", Some("field"));
    api.get("/suggestions?field=job_id&limit=101")
        .await
        .assert_error(400, "bad_request", Some("limit"));
    api.get("/jobs?last_status=fine")
        .await
        .assert_error(400, "bad_request", Some("last_status"));
    api.finish().await;
}

async fn completions_and_last_status_from_the_whole_schedule(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    for (job_id, group, last) in [
        ("mon-disk", "monitoring", Some("failed")),
        ("mon-cpu", "monitoring", Some("success")),
        ("report", "Reports", None),
        ("monthly", "reports-monthly", Some("failed")),
    ] {
        api.create(json!({"job_id": job_id, "job_name": group, "func": "noop", "trigger": "interval", "rule": "1h"}))
            .await;
        // The last status as runs on any node leave it.
        job_info::Entity::update_many()
            .col_expr(job_info::Column::LastStatus, Expr::value(last.map(str::to_owned)))
            .filter(job_info::Column::JobId.eq(job_id))
            .exec(&api.db)
            .await
            .unwrap();
    }
    let ids = api.get("/suggestions?field=job_id&prefix=MON-").await;
    assert_eq!(ids.status, 200, "{ids:?}");
    let mut found: Vec<String> = serde_json::from_value(ids.body["items"].clone()).unwrap();
    found.sort();
    assert_eq!(found, ["mon-cpu", "mon-disk"]);
    let groups = api.get("/suggestions?field=job_name&prefix=rep").await;
    let mut found: Vec<String> = serde_json::from_value(groups.body["items"].clone()).unwrap();
    found.sort();
    assert_eq!(found, ["Reports", "reports-monthly"]);

    let failed = api.get("/jobs?last_status=failed").await;
    assert_eq!(failed.body["total"], 2, "{failed:?}");
    let never = api.get("/jobs?last_status=never").await;
    assert_eq!(never.body["total"], 1);
    assert_eq!(never.body["items"][0]["job_id"], "report");
    api.finish().await;
}

backend_tests!(
    stats_equal_the_lists_counts,
    a_jobs_own_runs_leave_out_an_earlier_jobs,
    refusals_name_the_parameter,
    completions_and_last_status_from_the_whole_schedule,
);
