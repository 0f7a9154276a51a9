//! Execution control on a real database: timeouts, cancellation (here and
//! through another node), retries, child jobs, per-run logs and events.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{executions, job, row, start, wait_until};
use ruqi::entity::{job_execution, job_info, scheduler_node};
use ruqi::{JobContext, JobError, ManualClock, Registry, Scheduler, SchedulerEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel};
use tokio::sync::Notify;

/// What the test functions report back to the test.
#[derive(Default)]
struct Probe {
    /// Calls of `stubborn`.
    stubborn_calls: AtomicUsize,
    /// Signalled when a `stubborn` call returns.
    stubborn_returned: Notify,
}

fn registry(probe: Arc<Probe>) -> Registry {
    let mut r = Registry::new();
    r.register("ok", |ctx: JobContext| async move {
        ctx.log("ok ran");
        Ok::<_, String>(())
    });
    r.register("fails", |_ctx| async { Err::<(), _>("the upstream answered 503") });
    r.register("refuses", |_ctx| async {
        Err::<(), _>(JobError::abort("the account is closed; retrying cannot help"))
    });
    r.register("busy", |ctx: JobContext| async move {
        if ctx.attempt() == 1 {
            Err(JobError::retry_after("rate limited", Duration::from_millis(10)))
        } else {
            Ok(())
        }
    });
    r.register("forever", |ctx: JobContext| async move {
        ctx.log("waiting forever");
        std::future::pending::<()>().await;
        Ok::<_, String>(())
    });
    let p = probe.clone();
    // Blocking, and deaf to its cancellation token the first time it runs.
    r.register_blocking("stubborn", move |_ctx: JobContext| {
        if p.stubborn_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(3_000));
        }
        p.stubborn_returned.notify_one();
        Ok::<_, String>("late result")
    });
    r.register("traced", |ctx: JobContext| async move {
        ctx.log("from the context");
        tracing::info!(step = 1, "warming up");
        let inner = tracing::info_span!("inner_work");
        async {
            tracing::warn!(free_mb = 12, "disk almost full");
        }
        .instrument_in(inner)
        .await;
        Ok::<_, String>("returned value")
    });
    r.register_blocking("traced_blocking", |_ctx: JobContext| {
        tracing::info!("on a blocking thread");
        Ok::<_, String>(())
    });
    r
}

/// `Instrument` without importing the trait name into every test.
trait InstrumentIn: std::future::Future + Sized {
    fn instrument_in(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, span)
    }
}
impl<F: std::future::Future> InstrumentIn for F {}

async fn insert(db: &DatabaseConnection, model: job_info::ActiveModel) {
    model.insert(db).await.unwrap();
}

/// A job running `func` hourly whose successes run `children`.
fn parent(job_id: &str, func: &str, children: &str) -> job_info::ActiveModel {
    job_info::ActiveModel {
        child_jobs: Set(Some(children.into())),
        ..job(job_id, func, "interval", "1h")
    }
}

async fn scheduled(scheduler: &Scheduler, job_ids: &[&str]) {
    wait_until(scheduler, "the jobs are scheduled", || async {
        job_ids.iter().all(|id| scheduler.live(id).is_some_and(|l| l.scheduled))
    })
    .await;
}

/// Waits until `job_id` has `count` executions, none of them running.
async fn ended(
    db: &DatabaseConnection,
    scheduler: &Scheduler,
    job_id: &str,
    count: usize,
) -> Vec<job_execution::Model> {
    wait_until(scheduler, &format!("{count} finished run(s) of {job_id}"), || async {
        let rows = executions(db, job_id).await;
        rows.len() == count && rows.iter().all(|e| e.status != "running")
    })
    .await;
    executions(db, job_id).await
}

async fn an_async_run_past_its_timeout_is_stopped_and_recorded(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    insert(
        &db,
        job_info::ActiveModel {
            timeout_s: Set(Some(1)),
            ..job("slow", "forever", "interval", "1h")
        },
    )
    .await;
    scheduled(&scheduler, &["slow"]).await;
    scheduler.run_now("slow").await.unwrap();
    let runs = ended(&db, &scheduler, "slow", 1).await;
    assert_eq!(runs[0].status, "timeout");
    assert!(
        runs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("timed out after 1s (timeout_s)")
    );
    assert_eq!(
        runs[0].output.as_deref(),
        Some("waiting forever\n"),
        "the log up to the deadline is kept"
    );
    // Aborted at the deadline: the job is free at once.
    wait_until(&scheduler, "the job is idle", || async {
        scheduler.live("slow").unwrap().running == 0
    })
    .await;
    assert_eq!(row(&db, "slow").await.unwrap().last_status.as_deref(), Some("timeout"));
}

async fn a_blocking_run_that_ignores_its_timeout_keeps_its_slot_until_abandoned(db: DatabaseConnection) {
    let probe = Arc::new(Probe::default());
    let (scheduler, _clock) = start(&db, registry(probe.clone())).await;
    insert(
        &db,
        job_info::ActiveModel {
            timeout_s: Set(Some(1)),
            ..job("deaf", "stubborn", "interval", "1h")
        },
    )
    .await;
    scheduled(&scheduler, &["deaf"]).await;
    let first = scheduler.run_now("deaf").await.unwrap().unwrap();
    let runs = ended(&db, &scheduler, "deaf", 1).await;
    assert_eq!(
        runs[0].status, "timeout",
        "recorded at the deadline, not when the thread returns"
    );
    assert!(runs[0].duration_ms.unwrap() < 2_500, "{:?}", runs[0].duration_ms);

    // The thread still runs: for the overlap policy the job is still running.
    assert_eq!(scheduler.live("deaf").unwrap().running, 1);
    assert_eq!(scheduler.run_now("deaf").await.unwrap(), None, "overlap = skip");
    let skipped = ended(&db, &scheduler, "deaf", 2).await;
    assert!(
        skipped
            .iter()
            .any(|e| e.status == "missed" && e.error.as_deref().unwrap().contains("still in progress"))
    );

    // A further timeout_s on, it is abandoned and the job can run again.
    wait_until(&scheduler, "the stuck run is abandoned", || async {
        scheduler.live("deaf").unwrap().running == 0
    })
    .await;
    assert!(scheduler.run_now("deaf").await.unwrap().is_some());

    // When the first thread finally returns, its result changes nothing.
    tokio::time::timeout(Duration::from_secs(20), async {
        while probe.stubborn_calls.load(Ordering::SeqCst) < 2 {
            probe.stubborn_returned.notified().await;
        }
        probe.stubborn_returned.notified().await;
    })
    .await
    .unwrap();
    let runs = ended(&db, &scheduler, "deaf", 3).await;
    let first = runs.iter().find(|e| e.id == first).unwrap();
    assert_eq!(first.status, "timeout");
    assert_eq!(first.output, None, "the late result is dropped");
}

async fn cancelling_one_execution_or_a_jobs_runs(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    insert(
        &db,
        job_info::ActiveModel {
            overlap: Set("allow".into()),
            max_instances: Set(3),
            ..job("long", "forever", "interval", "1h")
        },
    )
    .await;
    scheduled(&scheduler, &["long"]).await;
    let a = scheduler.run_now("long").await.unwrap().unwrap();
    let b = scheduler.run_now("long").await.unwrap().unwrap();
    let c = scheduler.run_now("long").await.unwrap().unwrap();

    let outcome = scheduler.cancel_execution(&a).await.unwrap();
    assert_eq!((outcome.here, outcome.elsewhere), (1, 0));
    wait_until(&scheduler, "one run is cancelled", || async {
        executions(&db, "long")
            .await
            .iter()
            .any(|e| e.id == a && e.status == "cancelled")
    })
    .await;
    // Once the aborted function has stopped, it no longer counts as running.
    wait_until(&scheduler, "two runs go on", || async {
        scheduler.live("long").unwrap().running == 2
    })
    .await;
    // A run's `running` row is written alongside its function's start.
    let running_rows = || async {
        executions(&db, "long")
            .await
            .into_iter()
            .filter(|e| e.status == "running")
            .map(|e| e.id)
            .collect::<Vec<String>>()
    };
    wait_until(&scheduler, "the two runs' rows say running", || async {
        running_rows().await.len() == 2
    })
    .await;
    let going = running_rows().await;
    assert!(going.contains(&b) && going.contains(&c), "{going:?}");

    let outcome = scheduler.cancel_job("long").await.unwrap();
    assert_eq!(outcome.here, 2);
    let runs = ended(&db, &scheduler, "long", 3).await;
    assert!(runs.iter().all(|e| e.status == "cancelled"), "{runs:?}");
    assert!(runs.iter().all(|e| e.error.as_deref() == Some("cancelled by request")));
    let unknown = scheduler.cancel_execution("no-such-run").await.unwrap();
    assert_eq!((unknown.here, unknown.elsewhere), (0, 0));
}

async fn cancellation_reaches_runs_on_other_nodes(db: DatabaseConnection) {
    let (scheduler, _clock) = common::start_with(&db, registry(Arc::default()), |b| {
        b.heartbeat_interval(Duration::from_millis(200))
    })
    .await
    .unwrap();
    insert(&db, job("long", "forever", "interval", "1h")).await;
    scheduled(&scheduler, &["long"]).await;

    // A run of another live node: asking for its cancellation marks its row.
    let live_until = chrono::Utc::now() + chrono::Duration::hours(1);
    scheduler_node::ActiveModel {
        node: Set("other-node".into()),
        host: Set(None),
        pid: Set(None),
        started_at: Set(chrono::Utc::now()),
        heartbeat_at: Set(live_until),
    }
    .insert(&db)
    .await
    .unwrap();
    common::add_running(&db, "on-other-node", "long", "other-node", chrono::Utc::now()).await;
    let outcome = scheduler.cancel_execution("on-other-node").await.unwrap();
    assert_eq!((outcome.here, outcome.elsewhere), (0, 1));
    let marked = job_execution::Entity::find_by_id("on-other-node".to_owned())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(marked.cancel_requested_at.is_some());

    // A run here that another node asked to cancel stops at the next heartbeat.
    let id = scheduler.run_now("long").await.unwrap().unwrap();
    wait_until(&scheduler, "its running row is written", || async {
        executions(&db, "long").await.iter().any(|e| e.id == id)
    })
    .await;
    let sql = format!("UPDATE job_execution SET cancel_requested_at = updated_at_placeholder WHERE id = '{id}'")
        .replace("updated_at_placeholder", "started_at");
    db.execute_unprepared(&sql).await.unwrap();
    wait_until(&scheduler, "the run is cancelled through the request", || async {
        executions(&db, "long")
            .await
            .iter()
            .any(|e| e.id == id && e.status == "cancelled")
    })
    .await;
    let run = executions(&db, "long").await.into_iter().find(|e| e.id == id).unwrap();
    assert!(run.error.unwrap().contains("through another node"));
}

/// Advances the manual clock a little on every check, so retry waits pass.
async fn ended_advancing(
    db: &DatabaseConnection,
    scheduler: &Scheduler,
    clock: &ManualClock,
    job_id: &str,
    count: usize,
) -> Vec<job_execution::Model> {
    wait_until(scheduler, &format!("{count} finished run(s) of {job_id}"), || async {
        clock.advance(chrono::Duration::milliseconds(200));
        let rows = executions(db, job_id).await;
        rows.len() == count && rows.iter().all(|e| e.status != "running")
    })
    .await;
    executions(db, job_id).await
}

async fn failures_are_retried_with_backoff_each_attempt_its_own_row(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(Arc::default())).await;
    let mut events = scheduler.events();
    insert(
        &db,
        job_info::ActiveModel {
            max_retries: Set(2),
            retry_backoff: Set("fixed".into()),
            retry_delay: Set("1s".into()),
            ..job("flaky", "fails", "interval", "1h")
        },
    )
    .await;
    scheduled(&scheduler, &["flaky"]).await;
    scheduler.run_now("flaky").await.unwrap();
    let runs = ended_advancing(&db, &scheduler, &clock, "flaky", 3).await;
    let attempts: Vec<(i32, &str, &str)> = runs
        .iter()
        .map(|e| (e.attempt, e.trigger_source.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(
        attempts,
        [(1, "manual", "failed"), (2, "retry", "failed"), (3, "retry", "failed")]
    );
    assert!(
        runs.iter().all(|e| e.scheduled_for == runs[0].scheduled_for),
        "one fire, three attempts"
    );
    // Each retry waited its fixed delay on the scheduler's clock.
    for pair in runs.windows(2) {
        let gap = pair[1].started_at.unwrap() - pair[0].finished_at.unwrap();
        assert!(gap >= chrono::Duration::seconds(1), "{gap}");
    }
    // The failure events say when the next attempt comes, the last says none.
    let mut retry_at = Vec::new();
    while retry_at.len() < 3 {
        if let Some(SchedulerEvent::Failed(run)) = events.next().await {
            retry_at.push(run.retry_at.map(|at| at - run.finished_at));
        }
    }
    assert_eq!(
        retry_at,
        [
            Some(chrono::Duration::seconds(1)),
            Some(chrono::Duration::seconds(1)),
            None
        ]
    );
}

async fn a_handler_can_refuse_a_retry_or_ask_for_one_sooner(db: DatabaseConnection) {
    let (scheduler, clock) = start(&db, registry(Arc::default())).await;
    for (id, func) in [("closed", "refuses"), ("limited", "busy")] {
        insert(
            &db,
            job_info::ActiveModel {
                max_retries: Set(5),
                retry_delay: Set("1h".into()),
                ..job(id, func, "interval", "1h")
            },
        )
        .await;
    }
    scheduled(&scheduler, &["closed", "limited"]).await;
    scheduler.run_now("closed").await.unwrap();
    scheduler.run_now("limited").await.unwrap();
    // `busy` asked for 10 ms instead of the hour its backoff would wait.
    let limited = ended_advancing(&db, &scheduler, &clock, "limited", 2).await;
    assert_eq!(
        limited.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
        ["failed", "success"]
    );
    assert!(limited[1].started_at.unwrap() - limited[0].finished_at.unwrap() < chrono::Duration::minutes(1));
    let closed = ended(&db, &scheduler, "closed", 1).await;
    assert_eq!(closed.len(), 1, "an aborted failure is not retried: {closed:?}");
    assert!(closed[0].error.as_deref().unwrap().contains("retrying cannot help"));
}

async fn a_success_runs_the_child_jobs_and_a_failure_does_not(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    for id in ["report", "archive", "notify"] {
        insert(&db, job(id, "ok", "interval", "1h")).await;
    }
    insert(&db, parent("extract", "ok", "report, archive")).await;
    insert(&db, parent("broken", "fails", "notify")).await;
    scheduled(&scheduler, &["report", "archive", "notify", "extract", "broken"]).await;
    scheduler.run_now("broken").await.unwrap();
    ended(&db, &scheduler, "broken", 1).await;
    scheduler.run_now("extract").await.unwrap();
    for child in ["report", "archive"] {
        let runs = ended(&db, &scheduler, child, 1).await;
        assert_eq!(
            (runs[0].trigger_source.as_str(), runs[0].status.as_str()),
            ("child", "success")
        );
    }
    assert!(
        executions(&db, "notify").await.is_empty(),
        "a failed parent triggers nothing"
    );
}

async fn child_links_that_close_a_cycle_are_refused(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    insert(&db, job("c", "ok", "interval", "1h")).await;
    insert(&db, parent("b", "ok", "c")).await;
    insert(&db, parent("a", "ok", "b")).await;
    // c → a would close a → b → c → a.
    let mut c = row(&db, "c").await.unwrap().into_active_model();
    c.child_jobs = Set(Some("a".into()));
    let error = ruqi::Error::from(c.update(&db).await.unwrap_err());
    let ruqi::Error::Invalid(field) = error else {
        panic!("{error}")
    };
    assert_eq!(field.field, "child_jobs");
    assert!(field.reason.contains("c → a → b → c"), "{}", field.reason);
    assert_eq!(row(&db, "c").await.unwrap().child_jobs, None, "nothing was written");

    let unknown = job_info::ActiveModel {
        child_jobs: Set(Some("ghost".into())),
        ..job("d", "ok", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(
        unknown.to_string().contains("no job with job_id \"ghost\""),
        "{unknown}"
    );
    let itself = job_info::ActiveModel {
        child_jobs: Set(Some("e".into())),
        ..job("e", "ok", "interval", "1h")
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(itself.to_string().contains("its own child"), "{itself}");

    // A cycle written in plain SQL, behind validation's back, runs each job once per chain.
    db.execute_unprepared("UPDATE job_info SET child_jobs = 'a' WHERE job_id = 'c'")
        .await
        .unwrap();
    wait_until(&scheduler, "the edit is applied", || async {
        scheduler.live("c").is_some() && row(&db, "c").await.unwrap().child_jobs.is_some()
    })
    .await;
    scheduler.sync_job("c").await.unwrap();
    scheduled(&scheduler, &["a", "b", "c"]).await;
    scheduler.run_now("a").await.unwrap();
    for id in ["b", "c"] {
        ended(&db, &scheduler, id, 1).await;
    }
    assert_eq!(
        executions(&db, "a").await.len(),
        1,
        "a is not run again by its grandchild"
    );
}

async fn the_run_log_holds_context_lines_and_tracing_events(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    insert(&db, job("traced", "traced", "interval", "1h")).await;
    insert(&db, job("blocking", "traced_blocking", "interval", "1h")).await;
    scheduled(&scheduler, &["traced", "blocking"]).await;
    scheduler.run_now("traced").await.unwrap();
    scheduler.run_now("blocking").await.unwrap();
    let run = ended(&db, &scheduler, "traced", 1).await.remove(0);
    let output = run.output.unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "from the context");
    assert!(
        lines[1].starts_with("INFO ") && lines[1].contains("warming up") && lines[1].contains("step=1"),
        "{output}"
    );
    assert!(
        lines[2].starts_with("WARN ") && lines[2].contains("disk almost full free_mb=12"),
        "{output}"
    );
    assert_eq!(lines[3], "returned value");
    let blocking = ended(&db, &scheduler, "blocking", 1).await.remove(0);
    assert!(blocking.output.unwrap().contains("on a blocking thread"));
}

async fn events_report_what_happens(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry(Arc::default())).await;
    let mut events = scheduler.events();
    insert(&db, job("fine", "ok", "interval", "1h")).await;
    insert(&db, job("bad", "fails", "interval", "1h")).await;
    insert(
        &db,
        job_info::ActiveModel {
            timeout_s: Set(Some(1)),
            ..job("slow", "forever", "interval", "1h")
        },
    )
    .await;
    scheduled(&scheduler, &["fine", "bad", "slow"]).await;
    scheduler.run_now("fine").await.unwrap();
    scheduler.run_now("bad").await.unwrap();
    scheduler.run_now("slow").await.unwrap();
    assert_eq!(scheduler.run_now("slow").await.unwrap(), None, "skipped by overlap");
    let mut fine = row(&db, "fine").await.unwrap().into_active_model();
    fine.rule = Set("2h".into());
    fine.update(&db).await.unwrap();
    job_info::Entity::delete_by_id("bad".to_owned())
        .exec(&db)
        .await
        .unwrap();
    // A pause through the scheduler is a change of the job as much as an edit.
    scheduler.pause("slow").await.unwrap();

    let wanted = [
        ("job_added", "fine"),
        ("submitted", "fine"),
        ("succeeded", "fine"),
        ("failed", "bad"),
        ("skipped_overlap", "slow"),
        ("timed_out", "slow"),
        ("job_modified", "fine"),
        ("job_removed", "bad"),
        ("job_modified", "slow"),
    ];
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !wanted.iter().all(|w| seen.contains(&(w.0.to_owned(), w.1.to_owned()))) {
            let event = events.next().await.unwrap();
            seen.push((event.kind().to_owned(), event.job_id().to_owned()));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("missing events; saw {seen:?}"));
    // Serialized with their kind, as subscribers over HTTP see them.
    let json = serde_json::to_value(SchedulerEvent::JobRemoved { job_id: "bad".into() }).unwrap();
    assert_eq!(json, serde_json::json!({"event": "job_removed", "job_id": "bad"}));
}

backend_tests!(
    an_async_run_past_its_timeout_is_stopped_and_recorded,
    a_blocking_run_that_ignores_its_timeout_keeps_its_slot_until_abandoned,
    cancelling_one_execution_or_a_jobs_runs,
    cancellation_reaches_runs_on_other_nodes,
    failures_are_retried_with_backoff_each_attempt_its_own_row,
    a_handler_can_refuse_a_retry_or_ask_for_one_sooner,
    a_success_runs_the_child_jobs_and_a_failure_does_not,
    child_links_that_close_a_cycle_are_refused,
    the_run_log_holds_context_lines_and_tracing_events,
    events_report_what_happens,
);
