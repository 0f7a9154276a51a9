//! The engine end to end on a real database: fires, history rows, misfires,
//! overlap, manual runs, pause and resume, start-up and shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use common::{executions, job, row, start, start_with, t, trigger_col, wait_until};
use ruqi::entity::job_info;
use ruqi::{JobContext, Registry, Scheduler};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, IntoActiveModel};
use tokio::sync::Semaphore;

/// A registry whose `block` function waits until the test adds a permit to `gate`.
fn registry(gate: Arc<Semaphore>) -> Registry {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Greeting {
        name: String,
    }
    let mut r = Registry::new();
    r.register("hello", |ctx: JobContext| async move {
        ctx.log(format!("hello at {}", ctx.scheduled_for().to_rfc3339()));
        Ok::<_, String>("done")
    });
    r.register_typed("greet", |_ctx, g: Greeting| async move {
        Ok::<_, String>(format!("hi {}", g.name))
    });
    r.register("fails", |_ctx| async { Err::<(), _>("boom: the mail server said no") });
    r.register("panics", |_ctx| async {
        if true {
            panic!("index out of bounds");
        }
        Ok::<_, String>(())
    });
    r.register_blocking("blocking", |ctx: JobContext| {
        ctx.log("ran on a blocking thread");
        Ok::<_, String>(())
    });
    // Gives its run slot back, then waits like `block` (for work done elsewhere).
    r.register("elsewhere", {
        let gate = gate.clone();
        move |ctx: JobContext| {
            let gate = gate.clone();
            async move {
                ctx.release_slot();
                gate.acquire().await.map_err(|e| e.to_string())?.forget();
                Ok::<_, String>("finished elsewhere")
            }
        }
    });
    r.register("block", move |ctx: JobContext| {
        let gate = gate.clone();
        async move {
            tokio::select! {
                permit = gate.acquire() => { permit.map_err(|e| e.to_string())?.forget(); Ok::<_, String>("released") }
                () = ctx.cancellation_token().cancelled() => Err("stopped".to_owned()),
            }
        }
    });
    r.register("forever", |_ctx| async {
        std::future::pending::<()>().await;
        Ok::<_, String>(())
    });
    r
}

fn gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

async fn finished(db: &DatabaseConnection, job_id: &str, status: &str, n: usize) -> bool {
    executions(db, job_id)
        .await
        .iter()
        .filter(|e| e.status == status)
        .count()
        >= n
}

async fn scheduled_fire_runs_and_records_history(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(gate())).await;
    job("every-minute", "hello", "interval", "1m")
        .insert(&db)
        .await
        .unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("every-minute").is_some()
    })
    .await;
    assert_eq!(
        scheduler.preview("every-minute", 3).unwrap(),
        vec![t(60), t(120), t(180)]
    );
    clock.advance(chrono::Duration::seconds(60));
    wait_until(&scheduler, "the run succeeded", || {
        finished(&db, "every-minute", "success", 1)
    })
    .await;

    let runs = executions(&db, "every-minute").await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.scheduled_for, t(60));
    assert_eq!(run.started_at, Some(t(60)));
    assert_eq!(run.trigger_source, "schedule");
    assert_eq!(run.attempt, 1);
    assert_eq!(run.node.as_deref(), Some("test-node"));
    assert_eq!(run.output.as_deref(), Some("hello at 2026-05-01T00:01:00+00:00\ndone"));
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());

    let stored = row(&db, "every-minute").await.unwrap();
    assert_eq!(stored.next_run_time, Some(t(120)));
    assert_eq!(stored.last_status.as_deref(), Some("success"));
    assert!(!stored.is_running);
    assert_eq!(scheduler.live("every-minute").unwrap().next_run_time, Some(t(120)));
}

/// A fire is claimed `claim_ahead` (10 ms) before its instant and its
/// function starts at the instant; a job deleted in between does not run.
async fn fires_are_claimed_ahead_and_start_at_their_instant(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(gate())).await;
    for id in ["kept", "deleted"] {
        job(id, "hello", "interval", "1m").insert(&db).await.unwrap();
    }
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("kept").is_some() && scheduler.live("deleted").is_some()
    })
    .await;
    clock.advance(chrono::Duration::seconds(60) - chrono::Duration::milliseconds(5));
    wait_until(&scheduler, "both fires claimed", || async {
        let mut claimed = true;
        for id in ["kept", "deleted"] {
            claimed &= row(&db, id).await.unwrap().next_run_time == Some(t(120));
        }
        claimed
    })
    .await;
    // The claim named its run on the job's row; its function has not started.
    let kept = row(&db, "kept").await.unwrap();
    let (Some(kept_run), Some("test-node"), Some(claimed_for)) =
        (kept.claim_id.clone(), kept.claim_node.as_deref(), kept.claim_for)
    else {
        panic!("the claim names its run: {kept:?}");
    };
    assert_eq!(claimed_for, t(60));
    assert!(
        executions(&db, "kept").await.iter().all(|e| e.output.is_none()),
        "nothing starts before its instant"
    );
    let deleted_run = row(&db, "deleted").await.unwrap().claim_id.unwrap();
    row(&db, "deleted")
        .await
        .unwrap()
        .into_active_model()
        .delete(&db)
        .await
        .unwrap();
    // The claim's run is on record from the delete itself (migration 17):
    // had this node died now, a reaper would find the run and mark it lost.
    let on_record: Vec<_> = executions(&db, "deleted")
        .await
        .into_iter()
        .map(|e| (e.id, e.status, e.node, e.scheduled_for))
        .collect();
    assert_eq!(
        on_record,
        vec![(
            deleted_run.clone(),
            "running".to_owned(),
            Some("test-node".to_owned()),
            t(60)
        )]
    );
    wait_until(&scheduler, "deleted job dropped", || async {
        scheduler.live("deleted").is_none()
    })
    .await;

    clock.advance(chrono::Duration::milliseconds(5));
    wait_until(&scheduler, "the run succeeded", || finished(&db, "kept", "success", 1)).await;
    let runs = executions(&db, "kept").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, kept_run, "the run is the one its claim named");
    assert_eq!(runs[0].scheduled_for, t(60));
    assert_eq!(
        row(&db, "kept").await.unwrap().claim_id,
        None,
        "a finished run's row stands for itself"
    );
    assert_eq!(
        runs[0].started_at,
        Some(t(60)),
        "started at the instant, not when it was claimed"
    );
    wait_until(&scheduler, "the deleted job's fire settled", || async {
        executions(&db, "deleted").await.iter().all(|e| e.status != "running")
    })
    .await;
    let deleted = executions(&db, "deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].id, deleted_run);
    assert_eq!(
        deleted[0].status, "missed",
        "a job deleted before its instant does not run"
    );
    assert_eq!(deleted[0].started_at, None);
    assert!(
        deleted[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("deleted before its instant"),
        "{deleted:?}"
    );
}

async fn failures_and_panics_are_recorded(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(gate())).await;
    job("f", "fails", "interval", "1h").insert(&db).await.unwrap();
    job("p", "panics", "interval", "1h").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("p").is_some() && scheduler.live("f").is_some()
    })
    .await;
    assert!(scheduler.run_now("f").await.unwrap().is_some());
    assert!(scheduler.run_now("p").await.unwrap().is_some());
    wait_until(&scheduler, "both failed", || async {
        finished(&db, "f", "failed", 1).await && finished(&db, "p", "failed", 1).await
    })
    .await;
    let f = &executions(&db, "f").await[0];
    assert_eq!(f.error.as_deref(), Some("boom: the mail server said no"));
    assert_eq!(f.trigger_source, "manual");
    let p = &executions(&db, "p").await[0];
    assert!(
        p.error.as_deref().unwrap().contains("panicked: index out of bounds"),
        "{:?}",
        p.error
    );
    let stored = row(&db, "f").await.unwrap();
    assert_eq!(stored.last_status.as_deref(), Some("failed"));
    assert_eq!(stored.last_error.as_deref(), Some("boom: the mail server said no"));
}

async fn typed_args_and_blocking_functions_run(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(gate())).await;
    job_info::ActiveModel {
        args: Set(Some(r#"{"name": "Ada"}"#.into())),
        ..job("g", "greet", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap();
    job("b", "blocking", "interval", "1h").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("g").is_some() && scheduler.live("b").is_some()
    })
    .await;
    scheduler.run_now("g").await.unwrap();
    scheduler.run_now("b").await.unwrap();
    wait_until(&scheduler, "both ran", || async {
        finished(&db, "g", "success", 1).await && finished(&db, "b", "success", 1).await
    })
    .await;
    assert_eq!(executions(&db, "g").await[0].output.as_deref(), Some("hi Ada"));
    assert_eq!(
        executions(&db, "b").await[0].output.as_deref(),
        Some("ran on a blocking thread\n")
    );
}

async fn startup_schedules_valid_rows_and_keeps_invalid_ones(db: DatabaseConnection) {
    let trig = trigger_col(&db);
    for (id, func, rule) in [
        ("ok", "hello", "5m"),
        ("no-func", "missing", "5m"),
        ("bad-rule", "hello", "5 parsecs"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO job_info (job_id, func, {trig}, rule) VALUES ('{id}', '{func}', 'interval', '{rule}')"
        ))
        .await
        .unwrap();
    }
    let (scheduler, _clock) = start(&db, registry(gate())).await;

    let ok = row(&db, "ok").await.unwrap();
    assert!(
        ok.next_run_time.is_some(),
        "a plain SQL insert gets its next_run_time written back"
    );
    assert!(ok.version >= 1);
    assert!(scheduler.live("ok").unwrap().scheduled);

    for (id, field) in [
        ("no-func", "invalid func \"missing\""),
        ("bad-rule", "invalid rule \"5 parsecs\""),
    ] {
        let kept = row(&db, id).await.expect("an unschedulable row is never deleted");
        let error = kept.last_error.unwrap();
        assert!(error.starts_with(ruqi::UNSCHEDULABLE_PREFIX), "{error}");
        assert!(error.contains(field), "{error}");
        let live = scheduler.live(id).unwrap();
        assert!(!live.scheduled);
        assert_eq!(live.error.as_deref(), Some(error.as_str()));
    }
    let status = scheduler.status();
    assert_eq!((status.jobs, status.invalid), (1, 2));

    // Fixing the row through the ORM schedules it and clears the reason.
    let mut fix = row(&db, "bad-rule").await.unwrap().into_active_model();
    fix.rule = Set("5m".into());
    fix.update(&db).await.unwrap();
    wait_until(&scheduler, "the fixed row is scheduled", || async {
        scheduler.live("bad-rule").is_some_and(|l| l.scheduled)
    })
    .await;
    wait_until(&scheduler, "last_error is cleared", || async {
        row(&db, "bad-rule").await.unwrap().last_error.is_none()
    })
    .await;
}

async fn misfires_follow_grace_and_policy(db: DatabaseConnection) {
    // Rows whose next fire passed while no scheduler was running.
    for (id, policy, next) in [
        ("late-skip", "skip", -150),
        ("late-run-once", "run_once", -150),
        ("in-grace", "skip", -3),
    ] {
        let mut model = job(id, "hello", "interval", "1m");
        // Written before any scheduler runs, so the hooks read the real clock: pin the anchor.
        model.created_at = Set(t(-210));
        model.misfire_policy = Set(policy.into());
        model.next_run_time = Set(Some(t(next)));
        model.insert(&db).await.unwrap();
    }
    let (scheduler, _clock) = start(&db, registry(gate())).await;

    wait_until(&scheduler, "the late fires are handled", || async {
        executions(&db, "late-skip").await.len() >= 3
            && finished(&db, "late-run-once", "success", 1).await
            && finished(&db, "in-grace", "success", 1).await
    })
    .await;
    let skip = executions(&db, "late-skip").await;
    assert!(skip.iter().all(|e| e.status == "missed"), "{skip:?}");
    assert_eq!(
        skip.iter().map(|e| e.scheduled_for).collect::<Vec<_>>(),
        vec![t(-150), t(-90), t(-30)]
    );
    assert!(skip[0].error.as_deref().unwrap().contains("misfire_grace_s = 5"));
    assert_eq!(row(&db, "late-skip").await.unwrap().next_run_time, Some(t(30)));

    let once = executions(&db, "late-run-once").await;
    let ran: Vec<_> = once.iter().filter(|e| e.status == "success").collect();
    assert_eq!(ran.len(), 1, "run_once runs once for all missed fires");
    assert_eq!(ran[0].scheduled_for, t(-30));
    assert_eq!(once.iter().filter(|e| e.status == "missed").count(), 2);

    let grace = executions(&db, "in-grace").await;
    assert_eq!(grace.len(), 1);
    assert_eq!(grace[0].scheduled_for, t(-3));
}

/// A fire in time when it was claimed, kept waiting for a run slot
/// (`max_concurrent_runs`) until past its grace, is recorded `missed` at the
/// instant it would have started, and not run.
async fn a_fire_kept_waiting_past_its_grace_is_missed(db: DatabaseConnection) {
    let gate = gate();
    let (scheduler, clock) = start_with(&db, registry(gate.clone()), |b| b.max_concurrent_runs(1))
        .await
        .unwrap();
    job("holder", "block", "interval", "1h").insert(&db).await.unwrap();
    job("late", "hello", "interval", "1m").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("holder").is_some() && scheduler.live("late").is_some()
    })
    .await;
    assert!(scheduler.run_now("holder").await.unwrap().is_some());
    wait_until(&scheduler, "the only run slot is taken", || async {
        finished(&db, "holder", "running", 1).await
    })
    .await;

    clock.advance(chrono::Duration::seconds(60));
    wait_until(&scheduler, "the fire is claimed and waits for the slot", || async {
        scheduler.live("late").is_some_and(|l| l.running == 1)
    })
    .await;
    clock.advance(chrono::Duration::seconds(6));
    gate.add_permits(1);
    wait_until(&scheduler, "the late fire is recorded", || {
        finished(&db, "late", "missed", 1)
    })
    .await;
    let runs = executions(&db, "late").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].scheduled_for, t(60));
    let reason = runs[0].error.as_deref().unwrap();
    assert!(
        reason.contains("only 6.000s after its instant") && reason.contains("misfire_grace_s = 5"),
        "{reason}"
    );
}

/// A run that gives its slot back keeps running while others take the slot.
async fn a_run_that_gives_its_slot_back_lets_others_start(db: DatabaseConnection) {
    let gate = gate();
    let (scheduler, _clock) = start_with(&db, registry(gate.clone()), |b| b.max_concurrent_runs(1))
        .await
        .unwrap();
    job("remote", "elsewhere", "interval", "1h").insert(&db).await.unwrap();
    job("local", "hello", "interval", "1h").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("remote").is_some() && scheduler.live("local").is_some()
    })
    .await;
    assert!(scheduler.run_now("remote").await.unwrap().is_some());
    wait_until(&scheduler, "the remote run is going", || async {
        finished(&db, "remote", "running", 1).await
    })
    .await;
    // The only slot is free again: this run starts and ends while the other waits.
    assert!(scheduler.run_now("local").await.unwrap().is_some());
    wait_until(&scheduler, "the local run ended", || {
        finished(&db, "local", "success", 1)
    })
    .await;
    assert_eq!(scheduler.live("remote").unwrap().running, 1);
    assert_eq!(executions(&db, "remote").await[0].status, "running");
    gate.add_permits(1);
    wait_until(&scheduler, "the remote run ended", || {
        finished(&db, "remote", "success", 1)
    })
    .await;
}

async fn overlap_skip_and_queue(db: DatabaseConnection) {
    let gate = gate();
    let (scheduler, _clock) = start(&db, registry(gate.clone())).await;
    job("skip", "block", "interval", "1h").insert(&db).await.unwrap();
    job_info::ActiveModel {
        overlap: Set("queue".into()),
        ..job("queue", "block", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("queue").is_some() && scheduler.live("skip").is_some()
    })
    .await;

    assert!(scheduler.run_now("skip").await.unwrap().is_some());
    assert!(
        scheduler.run_now("skip").await.unwrap().is_none(),
        "a second run is skipped while one runs"
    );
    wait_until(&scheduler, "the skip is recorded", || {
        finished(&db, "skip", "missed", 1)
    })
    .await;
    let missed = executions(&db, "skip")
        .await
        .into_iter()
        .find(|e| e.status == "missed")
        .unwrap();
    assert!(missed.error.unwrap().contains("overlap = skip"));

    assert!(scheduler.run_now("queue").await.unwrap().is_some());
    assert!(
        scheduler.run_now("queue").await.unwrap().is_none(),
        "queued, not started"
    );
    assert_eq!(scheduler.live("queue").unwrap().running, 1);
    gate.add_permits(3);
    wait_until(&scheduler, "both queued runs finished", || {
        finished(&db, "queue", "success", 2)
    })
    .await;
    wait_until(&scheduler, "the skip job finished", || {
        finished(&db, "skip", "success", 1)
    })
    .await;
}

async fn overlap_replace_and_allow(db: DatabaseConnection) {
    let gate = gate();
    let (scheduler, _clock) = start(&db, registry(gate.clone())).await;
    job_info::ActiveModel {
        overlap: Set("replace".into()),
        ..job("replace", "block", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap();
    job_info::ActiveModel {
        overlap: Set("allow".into()),
        max_instances: Set(2),
        ..job("allow", "block", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("replace").is_some() && scheduler.live("allow").is_some()
    })
    .await;

    let first = scheduler.run_now("replace").await.unwrap().unwrap();
    let second = scheduler.run_now("replace").await.unwrap().unwrap();
    assert_ne!(first, second);
    wait_until(&scheduler, "the first run is cancelled", || {
        finished(&db, "replace", "cancelled", 1)
    })
    .await;
    let cancelled = executions(&db, "replace")
        .await
        .into_iter()
        .find(|e| e.id == first)
        .unwrap();
    assert!(cancelled.error.unwrap().contains("replaced by a newer run"));

    assert!(scheduler.run_now("allow").await.unwrap().is_some());
    assert!(scheduler.run_now("allow").await.unwrap().is_some());
    assert!(scheduler.run_now("allow").await.unwrap().is_none(), "max_instances = 2");
    wait_until(&scheduler, "two allow runs in progress", || async {
        scheduler.live("allow").unwrap().running == 2
    })
    .await;
    gate.add_permits(3);
    wait_until(&scheduler, "all finished", || async {
        finished(&db, "allow", "success", 2).await && finished(&db, "replace", "success", 1).await
    })
    .await;
}

async fn run_right_now_runs_once_and_resets(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(gate())).await;
    let saved = job("j", "hello", "interval", "1h").insert(&db).await.unwrap();
    let mut am = saved.into_active_model();
    am.run_right_now = Set(true);
    am.update(&db).await.unwrap();
    wait_until(&scheduler, "the manual run succeeded", || {
        finished(&db, "j", "success", 1)
    })
    .await;
    wait_until(&scheduler, "the flag is reset", || async {
        !row(&db, "j").await.unwrap().run_right_now
    })
    .await;
    let runs = executions(&db, "j").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger_source, "manual");
    assert_eq!(
        row(&db, "j").await.unwrap().next_run_time,
        Some(t(3600)),
        "the schedule is untouched"
    );
}

async fn pause_and_resume(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(gate())).await;
    job("j", "hello", "interval", "1m").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async { scheduler.live("j").is_some() }).await;

    scheduler.pause("j").await.unwrap();
    let paused = row(&db, "j").await.unwrap();
    assert!(paused.is_paused);
    assert_eq!(paused.next_run_time, None);
    clock.advance(chrono::Duration::seconds(330));
    scheduler.resume("j").await.unwrap();
    assert_eq!(
        row(&db, "j").await.unwrap().next_run_time,
        Some(t(360)),
        "resumed from now on the interval grid"
    );
    assert!(executions(&db, "j").await.is_empty(), "nothing ran while paused");

    // The same through the ORM.
    let mut am = row(&db, "j").await.unwrap().into_active_model();
    am.is_paused = Set(true);
    let stored = am.update(&db).await.unwrap();
    assert_eq!(stored.next_run_time, None);
    wait_until(&scheduler, "paused in memory", || async {
        scheduler.live("j").unwrap().next_run_time.is_none()
    })
    .await;
    assert_eq!(scheduler.status().paused, 1);
}

async fn finished_date_job_keeps_its_row(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(gate())).await;
    job("once", "hello", "date", "2026-05-01 00:00:30")
        .insert(&db)
        .await
        .unwrap();
    wait_until(&scheduler, "scheduled", || async { scheduler.live("once").is_some() }).await;
    clock.advance(chrono::Duration::seconds(30));
    wait_until(&scheduler, "ran", || finished(&db, "once", "success", 1)).await;
    wait_until(&scheduler, "finished", || async {
        row(&db, "once").await.unwrap().next_run_time.is_none()
    })
    .await;
    let stored = row(&db, "once").await.unwrap();
    assert_eq!(stored.last_status.as_deref(), Some("success"));
    assert!(!scheduler.live("once").unwrap().scheduled);
    clock.advance(chrono::Duration::days(1));
    assert_eq!(executions(&db, "once").await.len(), 1);
}

async fn bulk_writes_reach_the_scheduler_through_the_change_feed(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(gate())).await;
    // Bulk inserts skip the hooks, so created_at (the interval's anchor) is set here.
    let bulk = |id: &str| job_info::ActiveModel {
        created_at: Set(t(0)),
        ..job(id, "hello", "interval", "1m")
    };
    job_info::Entity::insert_many([bulk("bulk-1"), bulk("bulk-2")])
        .exec(&db)
        .await
        .unwrap();
    // The rows of one statement are applied side by side, in no set order.
    wait_until(&scheduler, "the bulk insert is scheduled", || async {
        scheduler.live("bulk-1").and_then(|l| l.next_run_time) == Some(t(60))
            && scheduler.live("bulk-2").and_then(|l| l.next_run_time) == Some(t(60))
    })
    .await;
    assert_eq!(row(&db, "bulk-1").await.unwrap().next_run_time, Some(t(60)));
    assert_eq!(row(&db, "bulk-2").await.unwrap().next_run_time, Some(t(60)));

    job_info::Entity::update_many()
        .col_expr(job_info::Column::Rule, sea_orm::sea_query::Expr::value("10m"))
        .exec(&db)
        .await
        .unwrap();
    wait_until(&scheduler, "the bulk update is applied", || async {
        scheduler.live("bulk-1").and_then(|l| l.next_run_time) == Some(t(600))
            && scheduler.live("bulk-2").and_then(|l| l.next_run_time) == Some(t(600))
    })
    .await;

    job_info::Entity::delete_many().exec(&db).await.unwrap();
    wait_until(&scheduler, "the bulk delete is applied", || async {
        scheduler.live("bulk-1").is_none() && scheduler.live("bulk-2").is_none()
    })
    .await;
    // Nothing is left for a full comparison to find.
    let report = scheduler.reconcile().await.unwrap();
    assert_eq!((report.rows, report.applied, report.removed), (0, 0, 0));
}

async fn a_second_scheduler_is_refused(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(gate())).await;
    let again = ruqi::scheduler(db.clone(), Registry::new()).start().await;
    assert!(
        matches!(again, Err(ruqi::CoreError::AlreadyStarted { .. })),
        "{again:?}"
    );
    assert!(std::ptr::eq(Scheduler::global().unwrap().config(), scheduler.config()));
}

async fn timeout_and_shutdown_are_recorded_honestly(db: DatabaseConnection) {
    let config = ruqi::SchedulerConfig {
        shutdown_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let scheduler = ruqi::scheduler(db.clone(), registry(gate()))
        .config(config)
        .start()
        .await
        .unwrap();
    job_info::ActiveModel {
        timeout_s: Set(Some(1)),
        ..job("slow", "forever", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap();
    job("stuck", "forever", "interval", "1h").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async {
        scheduler.live("slow").is_some() && scheduler.live("stuck").is_some()
    })
    .await;
    scheduler.run_now("slow").await.unwrap();
    wait_until(&scheduler, "timed out", || finished(&db, "slow", "timeout", 1)).await;
    assert!(
        executions(&db, "slow").await[0]
            .error
            .as_deref()
            .unwrap()
            .contains("timed out after 1s")
    );

    scheduler.run_now("stuck").await.unwrap();
    wait_until(&scheduler, "running", || finished(&db, "stuck", "running", 1)).await;
    scheduler.shutdown().await;
    let run = &executions(&db, "stuck").await[0];
    assert_eq!(run.status, "cancelled");
    assert!(run.error.as_deref().unwrap().contains("shut down"));
    assert!(scheduler.status().shutting_down);
}

async fn cron_in_a_time_zone_crosses_spring_forward(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(gate())).await;
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap());
    let saved = job_info::ActiveModel {
        timezone: Set(Some("America/New_York".into())),
        ..job("ny", "hello", "cron", "30 2 * * *")
    }
    .insert(&db)
    .await
    .unwrap();
    // 02:30 does not exist on 2026-03-08 in New York: it fires at 03:00 EDT.
    let skipped_to = chrono::Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap();
    assert_eq!(saved.next_run_time, Some(skipped_to));
    wait_until(&scheduler, "scheduled", || async { scheduler.live("ny").is_some() }).await;
    clock.set(skipped_to);
    wait_until(&scheduler, "ran", || finished(&db, "ny", "success", 1)).await;
    let next = chrono::Utc.with_ymd_and_hms(2026, 3, 9, 6, 30, 0).unwrap();
    wait_until(&scheduler, "next day at 02:30 EDT", || async {
        row(&db, "ny").await.unwrap().next_run_time == Some(next)
    })
    .await;
}

backend_tests!(
    scheduled_fire_runs_and_records_history,
    fires_are_claimed_ahead_and_start_at_their_instant,
    failures_and_panics_are_recorded,
    typed_args_and_blocking_functions_run,
    startup_schedules_valid_rows_and_keeps_invalid_ones,
    misfires_follow_grace_and_policy,
    a_fire_kept_waiting_past_its_grace_is_missed,
    a_run_that_gives_its_slot_back_lets_others_start,
    overlap_skip_and_queue,
    overlap_replace_and_allow,
    run_right_now_runs_once_and_resets,
    pause_and_resume,
    finished_date_job_keeps_its_row,
    bulk_writes_reach_the_scheduler_through_the_change_feed,
    a_second_scheduler_is_refused,
    timeout_and_shutdown_are_recorded_honestly,
    cron_in_a_time_zone_crosses_spring_forward,
);

/// SQLite stores whatever text it is given: a row whose timestamp is not a
/// timestamp must not stop the others from loading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_unreadable_row_is_kept_and_marked() {
    common::run(
        |db: DatabaseConnection| async move {
            for (id, next) in [("good", "NULL"), ("garbled", "'next tuesday-ish'")] {
                db.execute_unprepared(&format!(
                    "INSERT INTO job_info (job_id, func, \"trigger\", rule, next_run_time) \
                     VALUES ('{id}', 'hello', 'interval', '5m', {next})"
                ))
                .await
                .unwrap();
            }
            let (scheduler, _clock) = start(&db, registry(gate())).await;
            assert!(scheduler.live("good").unwrap().scheduled);
            assert!(scheduler.live("garbled").is_none());
            let error: Option<String> = sea_orm::FromQueryResult::find_by_statement(sea_orm::Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT last_error FROM job_info WHERE job_id = 'garbled'",
            ))
            .one(&db)
            .await
            .unwrap()
            .map(|row: LastError| row.last_error)
            .unwrap();
            let error = error.expect("the unreadable row says why");
            assert!(
                error.starts_with(ruqi::UNSCHEDULABLE_PREFIX) && error.contains("cannot be read"),
                "{error}"
            );
        },
        common::Backend::Sqlite,
    )
    .await;
}

#[derive(sea_orm::FromQueryResult)]
struct LastError {
    last_error: Option<String>,
}
