//! `ruqi-server` as an XXL-JOB scheduling center driving real executors, on
//! SQLite, PostgreSQL and MariaDB: jobs whose `func` is `xxl` are sent to
//! pyxxl executors (version 0.4.8, the Python named by
//! `RUQI_TEST_PYXXL_PYTHON`) and end with their callbacks — success,
//! failure, timeout, a kill that reaches the handler, the executor's log
//! copied line by line while the run goes on; the routes over two
//! executors (FIRST, ROUND, BUSYOVER, FAILOVER with one executor killed,
//! SHARDING_BROADCAST); the block strategies DISCARD_LATER and
//! SERIAL_EXECUTION, and a run queued behind a killed one closed. The
//! executors that do not register, and runs lost with them, are in
//! `xxl_restful.rs`.
//!
//! Without pyxxl the pyxxl tests say so and pass, except with `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

#[allow(dead_code, unreachable_pub)]
#[path = "common/pyxxl.rs"]
mod pyxxl;

#[allow(dead_code, unreachable_pub)]
#[macro_use]
#[path = "common/xxl_center.rs"]
mod xxl_center;

use std::time::Duration;

use common::Backend;
use pyxxl::{eventually, live_addresses, pyxxl_python};
use serde_json::{Value, json};
use server::DEADLINE;
use xxl_center::{APP, Center, dispatched_once, dispatches, output_of, stopped_marker};

per_backend!(
    pyxxl_runs_end_by_their_callbacks,
    routes_choose_among_two_pyxxl_executors,
    block_strategies_are_the_executors,
);

async fn pyxxl_runs_end_by_their_callbacks(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (executor, address) = center.pyxxl(&python, "one").await;
    let executor_dir = center.dir.path().join("one");

    center
        .job("hello", json!({"app": APP, "handler": "hello"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("hello").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert!(output_of(&run).ends_with("hello from pyxxl"), "{run}");
    assert!(output_of(&run).contains(&format!("route FIRST: {address}")), "{run}");
    assert_eq!(dispatched_once(&run).0, address);

    center
        .job("fail", json!({"app": APP, "handler": "fail"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("fail").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("no such account"), "{run}");

    center
        .job("unknown", json!({"app": APP, "handler": "nobody"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("unknown").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("refused the run"), "{run}");

    // The executor's log is copied into the run's, each line once and in order.
    center
        .job(
            "lines",
            json!({"app": APP, "handler": "lines", "params": "40"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("lines").await).await;
    assert_eq!(run["status"], "success", "{run}");
    let numbers: Vec<u32> = output_of(&run)
        .lines()
        .filter_map(|line| line.rsplit_once(" line ").and_then(|(_, n)| n.trim().parse().ok()))
        .collect();
    assert_eq!(numbers, (1..=40).collect::<Vec<u32>>(), "{run}");

    // timeout_s reaches the executor as executorTimeout, and the run is a timeout.
    center
        .job(
            "late",
            json!({"app": APP, "handler": "slow", "params": "30"}),
            json!({"timeout_s": 1}),
        )
        .await;
    let run = center.ended(&center.start_run("late").await).await;
    assert_eq!(run["status"], "timeout", "{run}");
    let (_, log_id) = dispatched_once(&run);
    assert!(
        stopped_marker(&executor_dir, log_id, DEADLINE).await,
        "the handler was stopped"
    );

    // Cancelling a run kills it on the executor within a second; its log
    // is followed while it runs.
    center
        .job(
            "long",
            json!({"app": APP, "handler": "slow", "params": "30"}),
            json!({}),
        )
        .await;
    let id = center.start_run("long").await;
    center.log_shows(&id, "sleeping 30.0 s").await;
    let log_id = dispatches(&center.log(&id).await.join("\n"))[0].1;
    let (status, body) = center
        .server
        .post(&format!("/api/executions/{id}/cancel"), json!({}))
        .await;
    assert!(status < 300, "{status} {body}");
    assert!(
        stopped_marker(&executor_dir, log_id, Duration::from_secs(1)).await,
        "the kill reached the handler within 1 s\n{}",
        executor.output()
    );
    let run = center.ended(&id).await;
    assert_eq!(run["status"], "cancelled", "{run}");

    // A late or repeated callback changes no ended run.
    let (status, answer) = center
        .server
        .post(
            "/xxl-job-admin/api/callback",
            json!([{"logId": log_id, "handleCode": 200, "handleMsg": "late"}]),
        )
        .await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));
    assert_eq!(center.ended(&id).await["status"], "cancelled");

    drop(executor);
    center.finish().await;
}

async fn routes_choose_among_two_pyxxl_executors(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (first_executor, a) = center.pyxxl(&python, "a").await;
    let (second_executor, b) = center.pyxxl(&python, "b").await;
    let mut sorted = [a.clone(), b.clone()];
    sorted.sort();
    let overlap = json!({"overlap": "allow", "max_instances": 4});

    let targets = async |job_id: &str, runs: usize| -> Vec<String> {
        let mut targets = Vec::new();
        for _ in 0..runs {
            let run = center.ended(&center.start_run(job_id).await).await;
            assert_eq!(run["status"], "success", "{run}");
            targets.push(dispatched_once(&run).0);
        }
        targets
    };

    center
        .job(
            "first",
            json!({"app": APP, "handler": "hello", "route": "FIRST"}),
            json!({}),
        )
        .await;
    assert_eq!(targets("first", 2).await, [sorted[0].clone(), sorted[0].clone()]);
    center
        .job(
            "last",
            json!({"app": APP, "handler": "hello", "route": "LAST"}),
            json!({}),
        )
        .await;
    assert_eq!(targets("last", 2).await, [sorted[1].clone(), sorted[1].clone()]);

    center
        .job(
            "round",
            json!({"app": APP, "handler": "hello", "route": "ROUND"}),
            json!({}),
        )
        .await;
    let round = targets("round", 4).await;
    assert_ne!(round[0], round[1], "{round:?}");
    assert_eq!((&round[0], &round[1]), (&round[2], &round[3]), "{round:?}");

    center
        .job(
            "hashed",
            json!({"app": APP, "handler": "hello", "route": "CONSISTENT_HASH"}),
            json!({}),
        )
        .await;
    let hashed = targets("hashed", 3).await;
    assert!(hashed.iter().all(|t| *t == hashed[0]), "{hashed:?}");

    // One fire, one run per live executor: each its own row naming its shard, sent to the
    // executor at its shard's place with its own logId.
    center
        .job(
            "broadcast",
            json!({"app": APP, "handler": "shard", "route": "SHARDING_BROADCAST"}),
            json!({}),
        )
        .await;
    center.start_run("broadcast").await;
    let mut shards = Vec::new();
    eventually(&center.server, "both shards ended", async || {
        let (_, runs) = center.server.get("/api/executions?job_id=broadcast").await;
        shards = runs["items"].as_array().cloned().unwrap_or_default();
        shards.len() == 2 && shards.iter().all(|r| r["status"] != "running")
    })
    .await;
    let mut log_ids = Vec::new();
    let mut reached = Vec::new();
    for listed in &shards {
        let run = center.ended(listed["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "success", "{run}");
        assert_eq!(run["scheduled_for"], shards[0]["scheduled_for"], "one fire: {run}");
        let shard = &run["args"]["shard"];
        assert_eq!(shard["total"], 2, "{run}");
        let index = shard["index"].as_u64().unwrap();
        let (address, log_id) = dispatched_once(&run);
        assert_eq!(address, sorted[index as usize], "{run}");
        assert!(output_of(&run).contains(&format!("shard {index} of 2")), "{run}");
        reached.push(index);
        log_ids.push(log_id);
    }
    reached.sort();
    assert_eq!(reached, [0, 1]);
    assert_ne!(log_ids[0], log_ids[1]);

    // BUSYOVER: the job is busy on the first executor, so the next run goes to the second.
    center
        .job(
            "busy",
            json!({"app": APP, "handler": "slow", "params": "30", "route": "BUSYOVER"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("busy").await;
    center.log_shows(&first, "sleeping").await;
    let second = center.start_run("busy").await;
    center.log_shows(&second, "sleeping").await;
    let went = |lines: Vec<String>| dispatches(&lines.join("\n"))[0].0.clone();
    assert_eq!(went(center.log(&first).await), sorted[0]);
    assert_eq!(went(center.log(&second).await), sorted[1]);
    for id in [&first, &second] {
        center
            .server
            .post(&format!("/api/executions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(center.ended(id).await["status"], "cancelled");
    }

    // FAILOVER: the first executor is killed without leaving the registry;
    // its heartbeat fails and the run goes to the other.
    let (mut gone, stays) = if sorted[0] == a {
        (first_executor, second_executor)
    } else {
        (second_executor, first_executor)
    };
    gone.kill();
    assert!(live_addresses(&center.server, APP).await.contains(&sorted[0]));
    center
        .job(
            "failover",
            json!({"app": APP, "handler": "hello", "route": "FAILOVER"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("failover").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(dispatched_once(&run).0, sorted[1]);
    assert!(
        output_of(&run).contains(&format!("{}/beat could not be reached", sorted[0])),
        "{run}"
    );

    drop(stays);
    center.finish().await;
}

async fn block_strategies_are_the_executors(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (executor, _) = center.pyxxl(&python, "one").await;
    let overlap = json!({"overlap": "allow", "max_instances": 4});

    // DISCARD_LATER: a second run while the first goes on is refused.
    center
        .job(
            "discard",
            json!({"app": APP, "handler": "slow", "params": "30", "block_strategy": "DISCARD_LATER"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("discard").await;
    center.log_shows(&first, "sleeping").await;
    let refused = center.ended(&center.start_run("discard").await).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("refused the run"),
        "{refused}"
    );
    center
        .server
        .post(&format!("/api/executions/{first}/cancel"), json!({}))
        .await;
    assert_eq!(center.ended(&first).await["status"], "cancelled");

    // SERIAL_EXECUTION: the second waits on the executor and ends after the first.
    center
        .job(
            "serial",
            json!({"app": APP, "handler": "slow", "params": "1"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("serial").await;
    center.log_shows(&first, "sleeping").await;
    let second = center.start_run("serial").await;
    let (first, second) = (center.ended(&first).await, center.ended(&second).await);
    for run in [&first, &second] {
        assert_eq!(run["status"], "success", "{run}");
    }
    let ended = |run: &Value| chrono::DateTime::parse_from_rfc3339(run["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        ended(&second) - ended(&first) >= chrono::TimeDelta::milliseconds(900),
        "{first}\n{second}"
    );

    // Killing the running one drops the run queued behind it on the
    // executor without a callback; the center closes it.
    center
        .job("queue", json!({"app": APP, "handler": "slow", "params": "30"}), overlap)
        .await;
    let running = center.start_run("queue").await;
    center.log_shows(&running, "sleeping").await;
    let queued = center.start_run("queue").await;
    center.log_shows(&queued, "took the run").await;
    center
        .server
        .post(&format!("/api/executions/{running}/cancel"), json!({}))
        .await;
    assert_eq!(center.ended(&running).await["status"], "cancelled");
    let dropped = center.ended(&queued).await;
    assert_eq!(dropped["status"], "failed", "{dropped}");
    assert!(
        dropped["error"].as_str().unwrap().contains("when job")
            && dropped["error"].as_str().unwrap().contains("was killed there"),
        "{dropped}"
    );

    drop(executor);
    center.finish().await;
}
