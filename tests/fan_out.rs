//! A function that fans out: one fire becomes several runs, each its own
//! row that records its arguments, started beside each other whatever the
//! job's `max_instances`, retried on its own, and run again with its own
//! arguments when it is lost with its node.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{executions, job, start, start_with, t, wait_until};
use ruqi::entity::{job_execution, job_info, scheduler_node};
use ruqi::{JobContext, ManualClock, Registry, Scheduler};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

/// `per_tenant` runs once per tenant its job lists; the tenant `flaky`
/// fails its first attempt.
fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("per_tenant", |ctx: JobContext| async move {
        let tenant = ctx.args()["tenant"].as_str().unwrap_or("none").to_owned();
        if tenant == "flaky" && ctx.attempt() == 1 {
            return Err(format!("{tenant} failed"));
        }
        Ok(format!("done for {tenant}"))
    })
    .fan_out(|args| async move {
        if args.get("tenant").is_some() {
            return Vec::new();
        }
        args["tenants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|tenant| json!({ "tenant": tenant }))
            .collect()
    });
    r
}

fn recorded_args(run: &job_execution::Model) -> Value {
    run.args
        .as_deref()
        .map_or(Value::Null, |text| serde_json::from_str(text).unwrap())
}

/// Advances the clock in small steps until `job_id` has `count` rows, none running.
async fn ended(db: &DatabaseConnection, scheduler: &Scheduler, clock: &ManualClock, count: usize) {
    wait_until(scheduler, "every run has ended", || async {
        clock.advance(chrono::Duration::milliseconds(200));
        let rows = executions(db, "tenants").await;
        rows.len() == count && rows.iter().all(|e| e.status != "running")
    })
    .await;
}

async fn a_fire_becomes_one_run_per_part_each_retried_alone(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry()).await;
    job_info::ActiveModel {
        args: Set(Some(r#"{"tenants": ["acme", "flaky", "globex"]}"#.into())),
        max_retries: Set(1),
        retry_backoff: Set("fixed".into()),
        retry_delay: Set("1s".into()),
        ..job("tenants", "per_tenant", "interval", "1m")
    }
    .insert(&db)
    .await
    .unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("tenants").is_some()
    })
    .await;
    clock.advance(chrono::Duration::seconds(60));
    // Three parts (max_instances is 1: they are one fire), and the retry of the one that failed.
    ended(&db, &scheduler, &clock, 4).await;

    let runs = executions(&db, "tenants").await;
    assert!(runs.iter().all(|e| e.scheduled_for == t(60)), "one fire: {runs:?}");
    let mut seen: Vec<(String, i32, &str, &str)> = runs
        .iter()
        .map(|e| {
            (
                recorded_args(e)["tenant"].as_str().unwrap().to_owned(),
                e.attempt,
                e.trigger_source.as_str(),
                e.status.as_str(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("acme".to_owned(), 1, "schedule", "success"),
            ("flaky".to_owned(), 1, "schedule", "failed"),
            ("flaky".to_owned(), 2, "retry", "success"),
            ("globex".to_owned(), 1, "schedule", "success"),
        ]
    );
    let acme = runs.iter().find(|e| recorded_args(e)["tenant"] == "acme").unwrap();
    assert_eq!(acme.output.as_deref(), Some("done for acme"));

    // A run given the arguments of one part is that part alone: it is not split again.
    scheduler
        .run_now_with_args("tenants", json!({"tenant": "solo"}))
        .await
        .unwrap()
        .unwrap();
    ended(&db, &scheduler, &clock, 5).await;
    let manual: Vec<_> = executions(&db, "tenants")
        .await
        .into_iter()
        .filter(|e| e.trigger_source == "manual")
        .collect();
    assert_eq!(manual.len(), 1, "{manual:?}");
    assert_eq!(recorded_args(&manual[0]), json!({"tenant": "solo"}));
    assert_eq!(manual[0].output.as_deref(), Some("done for solo"));
}

async fn a_part_lost_with_its_node_runs_again_with_its_own_args(db: DatabaseConnection) {
    job_info::ActiveModel {
        args: Set(Some(r#"{"tenants": ["acme", "globex"]}"#.into())),
        ..job("tenants", "per_tenant", "cron", "0 0 1 1 *")
    }
    .insert(&db)
    .await
    .unwrap();
    scheduler_node::ActiveModel {
        node: Set("crashed".into()),
        host: Set(None),
        pid: Set(None),
        started_at: Set(t(-7200)),
        heartbeat_at: Set(t(-3600)),
    }
    .insert(&db)
    .await
    .unwrap();
    common::add_running(&db, "part-globex", "tenants", "crashed", t(0)).await;
    job_execution::Entity::update_many()
        .col_expr(job_execution::Column::Args, Expr::value(r#"{"tenant":"globex"}"#))
        .filter(job_execution::Column::Id.eq("part-globex"))
        .exec(&db)
        .await
        .unwrap();
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(Duration::from_millis(200)))
        .await
        .unwrap();
    wait_until(&scheduler, "the lost part runs again", || async {
        executions(&db, "tenants").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs = executions(&db, "tenants").await;
    assert_eq!(runs.len(), 2, "the lost part alone runs again: {runs:?}");
    let again = runs.iter().find(|e| e.id != "part-globex").unwrap();
    assert_eq!((again.trigger_source.as_str(), again.attempt), ("retry", 2));
    assert_eq!(recorded_args(again), json!({"tenant": "globex"}));
    assert_eq!(again.output.as_deref(), Some("done for globex"));
}

backend_tests!(
    a_fire_becomes_one_run_per_part_each_retried_alone,
    a_part_lost_with_its_node_runs_again_with_its_own_args,
);
