//! The node registry: heartbeats, refusing a node name that is in use, and
//! taking the runs of a dead node as `lost` (and running them again when the
//! misfire policy says so).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{executions, job, row, start, start_with, t, wait_until};
use ruqi::entity::{job_execution, job_info, scheduler_node};
use ruqi::{JobContext, Registry};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

const HEARTBEAT: Duration = Duration::from_millis(200);

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("hello", |_ctx: JobContext| async { Ok::<_, String>("again") });
    r
}

async fn add_node(db: &DatabaseConnection, node: &str, heartbeat_age: chrono::Duration) {
    scheduler_node::ActiveModel {
        node: Set(node.into()),
        host: Set(Some("elsewhere".into())),
        pid: Set(Some(4242)),
        started_at: Set(Utc::now() - chrono::Duration::hours(1)),
        heartbeat_at: Set(Utc::now() - heartbeat_age),
    }
    .insert(db)
    .await
    .unwrap();
}

async fn status(db: &DatabaseConnection, id: &str) -> String {
    job_execution::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn status_lists_the_live_nodes(db: DatabaseConnection) {
    add_node(&db, "web-2", chrono::Duration::zero()).await;
    let (scheduler, _clock) = start(&db, registry()).await;
    let nodes: Vec<String> = scheduler.status().nodes.into_iter().map(|n| n.node).collect();
    assert_eq!(nodes, ["test-node", "web-2"]);
    scheduler.shutdown().await;
    let left: Vec<String> = scheduler_node::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert_eq!(left, ["web-2"], "a node leaves the registry when it shuts down");
}

/// Keeps the registry entry of `node` alive, as a live process would,
/// until the returned task is aborted.
fn keep_beating(db: &DatabaseConnection, node: &str) -> tokio::task::JoinHandle<()> {
    let (db, node) = (db.clone(), node.to_owned());
    tokio::spawn(async move {
        loop {
            scheduler_node::Entity::update_many()
                .col_expr(
                    scheduler_node::Column::HeartbeatAt,
                    sea_orm::sea_query::Expr::value(Utc::now()),
                )
                .filter(scheduler_node::Column::Node.eq(node.as_str()))
                .exec(&db)
                .await
                .unwrap();
            tokio::time::sleep(HEARTBEAT / 4).await;
        }
    })
}

/// A node of the same name that keeps heartbeating is waited for, for its
/// lease and a heartbeat interval more, then refused.
async fn a_node_name_in_use_is_refused(db: DatabaseConnection) {
    add_node(&db, "test-node", chrono::Duration::zero()).await;
    let alive = keep_beating(&db, "test-node");
    let began = std::time::Instant::now();
    let refused = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT)).await;
    alive.abort();
    match refused {
        Err(ruqi::CoreError::NodeNameInUse { node, .. }) => assert_eq!(node, "test-node"),
        other => panic!("expected NodeNameInUse, got {:?}", other.map(|_| ())),
    }
    assert!(began.elapsed() >= HEARTBEAT * 4, "it waited for the other node's lease");
    assert!(ruqi::Scheduler::global().is_none(), "nothing was started");
}

/// A process restarted under its name right after it was killed finds its
/// predecessor's entry still fresh: it waits for that lease to run out,
/// takes the entry over, and marks what the predecessor left running `lost`.
async fn a_restart_under_the_same_name_waits_for_the_old_lease(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    add_node(&db, "test-node", chrono::Duration::zero()).await;
    common::add_running(&db, "run-1", "j", "test-node", t(-3600)).await;
    let began = std::time::Instant::now();
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    assert!(began.elapsed() >= HEARTBEAT * 3, "not before the old lease ran out");
    assert_eq!(status(&db, "run-1").await, "lost");
    let entry = scheduler_node::Entity::find_by_id("test-node".to_owned())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.pid, Some(i64::from(std::process::id())));
    assert_eq!(scheduler.status().nodes.len(), 1);
}

/// Waits until job `j`'s run `run-1`, of node `crashed`, is `lost` and run
/// again as a retry for the same instant, `t(0)`; returns the lost row.
async fn lost_and_run_again(db: &DatabaseConnection, scheduler: &ruqi::Scheduler) -> job_execution::Model {
    wait_until(scheduler, "the lost run is run again", || async {
        executions(db, "j").await.iter().any(|e| e.status == "success")
    })
    .await;
    let runs = executions(db, "j").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let lost = runs.iter().find(|e| e.id == "run-1").unwrap();
    assert_eq!(lost.status, "lost");
    assert!(
        lost.error.as_deref().unwrap_or_default().contains("crashed"),
        "{lost:?}"
    );
    let again = runs.iter().find(|e| e.id != "run-1").unwrap();
    assert_eq!((again.trigger_source.as_str(), again.attempt), ("retry", 2));
    assert_eq!(again.scheduled_for, t(0));
    lost.clone()
}

async fn runs_of_a_dead_node_are_lost_and_run_again_within_grace(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    add_node(&db, "crashed", chrono::Duration::hours(1)).await;
    // Scheduled at the manual clock's now: within misfire_grace_s, so it runs again.
    common::add_running(&db, "run-1", "j", "crashed", t(0)).await;
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    lost_and_run_again(&db, &scheduler).await;
    assert!(
        scheduler_node::Entity::find_by_id("crashed".to_owned())
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
}

async fn late_lost_run_is_not_repeated_under_skip(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    add_node(&db, "crashed", chrono::Duration::hours(1)).await;
    // An hour before the manual clock's now: far past misfire_grace_s.
    common::add_running(&db, "run-1", "j", "crashed", t(-3600)).await;
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    wait_until(&scheduler, "the run is marked lost", || async {
        status(&db, "run-1").await == "lost"
    })
    .await;
    let stored = row(&db, "j").await.unwrap();
    assert_eq!(stored.last_status.as_deref(), Some("lost"));
    assert!(!stored.is_running);
    // The registry check that marked it has finished; nothing else was started.
    assert_eq!(scheduler.status().running, 0);
    assert_eq!(executions(&db, "j").await.len(), 1);
}

async fn a_node_that_stops_heartbeating_is_taken_for_dead(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    // Alive now (a fresh heartbeat) but it never beats again.
    add_node(&db, "stalled", chrono::Duration::zero()).await;
    common::add_running(&db, "run-1", "j", "stalled", t(-3600)).await;
    let started = std::time::Instant::now();
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    assert_eq!(scheduler.status().nodes.len(), 2);
    wait_until(&scheduler, "the stalled node's run is lost", || async {
        status(&db, "run-1").await == "lost"
    })
    .await;
    let took = started.elapsed();
    // Its lease is three heartbeat intervals, and this node must have
    // renewed its own without a break for as long before judging it.
    assert!(took >= HEARTBEAT * 3, "not before its lease ran out ({took:?})");
    wait_until(&scheduler, "the status no longer lists it", || async {
        scheduler.status().nodes.len() == 1
    })
    .await;
}

/// With a second live node in the registry, each job's fires belong to one of
/// the two. This node claims its own at their instant and leaves the other's
/// alone until `takeover_after` has passed; the other node here is only a
/// row that never claims, so this node then takes those fires over.
async fn fires_are_shared_with_a_live_node_and_taken_over_when_it_does_not_claim(db: DatabaseConnection) {
    const JOBS: usize = 40;
    let takeover = chrono::Duration::seconds(2);
    add_node(&db, "web-2", chrono::Duration::zero()).await;
    let (scheduler, clock) = start_with(&db, registry(), |b| b.takeover_after(takeover.to_std().unwrap()))
        .await
        .unwrap();
    let ids: Vec<String> = (0..JOBS).map(|i| format!("shared-{i}")).collect();
    for id in &ids {
        job(id, "hello", "interval", "1m").insert(&db).await.unwrap();
    }
    wait_until(&scheduler, "every job is scheduled", || async {
        ids.iter()
            .all(|id| scheduler.live(id).is_some_and(|l| l.next_run_time == Some(t(60))))
    })
    .await;

    let nodes = ["test-node", "web-2"];
    let (own, others): (Vec<&String>, Vec<&String>) = ids
        .iter()
        .partition(|id| ruqi::fire_owner(id, &nodes) == Some("test-node"));
    assert!(
        (JOBS / 4..=JOBS * 3 / 4).contains(&own.len()),
        "each of the two nodes owns about half of the jobs; this one owns {} of {JOBS}",
        own.len()
    );

    clock.advance(chrono::Duration::seconds(60));
    // Own fires are claimed (moved on to t(120)); the other node's wait, and
    // the timer's next wake-up is their takeover.
    wait_until(
        &scheduler,
        "this node's fires are claimed and the rest wait",
        || async {
            if scheduler.status().next_wakeup != Some(t(60) + takeover) {
                return false;
            }
            for id in &ids {
                let expected = Some(if own.contains(&id) { t(120) } else { t(60) });
                let live = scheduler.live(id).and_then(|l| l.next_run_time);
                let stored = row(&db, id).await.and_then(|r| r.next_run_time);
                if live != expected || stored != expected {
                    return false;
                }
            }
            true
        },
    )
    .await;
    wait_until(&scheduler, "this node's own runs are recorded", || {
        all_succeeded(&db, &own)
    })
    .await;
    for id in &others {
        assert!(executions(&db, id).await.is_empty(), "{id} is left to its owner");
    }

    clock.advance(takeover);
    wait_until(&scheduler, "the other node's fires are taken over", || {
        all_succeeded(&db, &others)
    })
    .await;
    for id in &ids {
        let runs = executions(&db, id).await;
        assert_eq!(runs.len(), 1, "{id} ran once");
        assert_eq!(runs[0].scheduled_for, t(60));
        assert_eq!(runs[0].node.as_deref(), Some("test-node"));
        let started = if own.contains(&id) { t(60) } else { t(60) + takeover };
        assert_eq!(runs[0].started_at, Some(started), "{id}");
        assert_eq!(row(&db, id).await.unwrap().next_run_time, Some(t(120)));
    }
    scheduler.shutdown().await;
}

/// Whether each of `ids` has a `success` row.
async fn all_succeeded(db: &DatabaseConnection, ids: &[&String]) -> bool {
    for id in ids {
        if !executions(db, id).await.iter().any(|e| e.status == "success") {
            return false;
        }
    }
    true
}

async fn runs_of_an_unregistered_node_are_lost(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    common::add_running(&db, "run-1", "j", "gone-without-a-trace", t(-3600)).await;
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    wait_until(&scheduler, "the orphaned run is lost", || async {
        status(&db, "run-1").await == "lost"
    })
    .await;
}

/// Names a run on `job_id`'s row as its last claim would, with no row of
/// its own: what a node leaves behind when it dies between a claim and the
/// write of its run's row.
async fn add_claim(db: &DatabaseConnection, job_id: &str, run: &str, node: &str, at: chrono::DateTime<Utc>) {
    job_info::Entity::update_many()
        .col_expr(job_info::Column::ClaimId, Expr::value(run))
        .col_expr(job_info::Column::ClaimNode, Expr::value(node))
        .col_expr(job_info::Column::ClaimFor, Expr::value(at))
        .filter(job_info::Column::JobId.eq(job_id))
        .exec(db)
        .await
        .unwrap();
}

async fn a_dead_nodes_claim_without_a_row_is_lost_and_run_again(db: DatabaseConnection) {
    job("j", "hello", "cron", "0 0 1 1 *").insert(&db).await.unwrap();
    add_node(&db, "crashed", chrono::Duration::hours(1)).await;
    add_claim(&db, "j", "run-1", "crashed", t(0)).await;
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    let lost = lost_and_run_again(&db, &scheduler).await;
    assert_eq!((lost.scheduled_for, lost.node.as_deref()), (t(0), Some("crashed")));
}

/// A claim that replaces the claim columns first writes the row of the run
/// they named, if it has none: here a peer's claim whose row was never
/// written. The peer is not registered, so that row is then taken as lost.
async fn a_claim_records_the_run_it_replaces_on_the_row(db: DatabaseConnection) {
    let (scheduler, clock) = start_with(&db, registry(), |b| b.heartbeat_interval(HEARTBEAT))
        .await
        .unwrap();
    job("j", "hello", "interval", "1m").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async { scheduler.live("j").is_some() }).await;
    add_claim(&db, "j", "run-1", "gone-without-a-trace", t(-60)).await;
    clock.advance(chrono::Duration::seconds(60));
    wait_until(
        &scheduler,
        "the fire ran and the replaced claim is on record",
        || async {
            let runs = executions(&db, "j").await;
            runs.iter().any(|e| e.status == "success") && runs.iter().any(|e| e.id == "run-1" && e.status == "lost")
        },
    )
    .await;
    let runs = executions(&db, "j").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let recorded = runs.iter().find(|e| e.id == "run-1").unwrap();
    assert_eq!(recorded.scheduled_for, t(-60));
    assert_eq!(recorded.node.as_deref(), Some("gone-without-a-trace"));
}

backend_tests!(
    a_dead_nodes_claim_without_a_row_is_lost_and_run_again,
    a_claim_records_the_run_it_replaces_on_the_row,
    status_lists_the_live_nodes,
    a_node_name_in_use_is_refused,
    a_restart_under_the_same_name_waits_for_the_old_lease,
    runs_of_a_dead_node_are_lost_and_run_again_within_grace,
    late_lost_run_is_not_repeated_under_skip,
    a_node_that_stops_heartbeating_is_taken_for_dead,
    runs_of_an_unregistered_node_are_lost,
    fires_are_shared_with_a_live_node_and_taken_over_when_it_does_not_claim,
);
