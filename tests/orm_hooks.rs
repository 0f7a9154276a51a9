//! Writes through the sea-orm ActiveModel: validated before they reach the
//! table, and followed by the scheduler after they commit.

#![allow(clippy::unwrap_used)]

mod common;

use common::{job, row, start, t, wait_until};
use ruqi::Registry;
use ruqi::entity::job_info;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, TransactionTrait};

fn registry() -> Registry {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct MailArgs {
        to: String,
    }
    let mut r = Registry::new();
    r.register("noop", |_ctx| async { Ok::<_, String>(()) });
    r.register_typed("mail", |_ctx, _a: MailArgs| async { Ok::<_, String>(()) });
    r
}

async fn valid_insert_is_scheduled(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    let saved = job("every-10m", "noop", "interval", "10m").insert(&db).await.unwrap();
    assert_eq!(saved.next_run_time, Some(t(600)));
    assert_eq!(saved.version, 1);
    wait_until(&scheduler, "the job is scheduled", || async {
        scheduler.live("every-10m").is_some_and(|l| l.scheduled)
    })
    .await;
    assert_eq!(scheduler.live("every-10m").unwrap().next_run_time, Some(t(600)));
}

async fn invalid_insert_names_the_field_and_writes_nothing(db: DatabaseConnection) {
    let (_scheduler, _clock) = start(&db, registry()).await;
    let cases: Vec<(job_info::ActiveModel, &str)> = vec![
        (job("a", "noop", "cron", "0 25 * * *"), "invalid rule"),
        (job("b", "noop", "weekly", "x"), "invalid trigger"),
        (job("c", "nope", "interval", "5m"), "invalid func"),
        (
            job_info::ActiveModel {
                timezone: Set(Some("Mars/Olympus".into())),
                ..job("d", "noop", "interval", "5m")
            },
            "invalid timezone",
        ),
        (
            job_info::ActiveModel {
                args: Set(Some(r#"{"to": 5}"#.into())),
                ..job("e", "mail", "interval", "5m")
            },
            "invalid args",
        ),
        (
            job_info::ActiveModel {
                overlap: Set("sometimes".into()),
                ..job("f", "noop", "interval", "5m")
            },
            "invalid overlap",
        ),
        (job("g", "noop", "date", "2020-01-01 00:00:00"), "would never fire"),
    ];
    for (model, expected) in cases {
        let err = model.insert(&db).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err:?} should contain {expected:?}");
    }
    assert_eq!(job_info::Entity::find().count(&db).await.unwrap(), 0);
}

async fn update_reschedules_and_invalid_update_changes_nothing(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    let saved = job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    let mut am = saved.clone().into_active_model();
    am.rule = Set("1m".into());
    let updated = am.update(&db).await.unwrap();
    assert_eq!(updated.next_run_time, Some(t(60)));
    assert!(updated.version > saved.version);
    wait_until(&scheduler, "the new rule is live", || async {
        scheduler.live("j").is_some_and(|l| l.next_run_time == Some(t(60)))
    })
    .await;

    let mut bad = updated.clone().into_active_model();
    bad.rule = Set("every tuesday".into());
    assert!(bad.update(&db).await.unwrap_err().to_string().contains("invalid rule"));
    assert_eq!(row(&db, "j").await.unwrap(), updated);
}

async fn delete_unschedules(db: DatabaseConnection) {
    let (scheduler, _clock) = start(&db, registry()).await;
    let saved = job("j", "noop", "interval", "10m").insert(&db).await.unwrap();
    wait_until(&scheduler, "scheduled", || async { scheduler.live("j").is_some() }).await;
    saved.into_active_model().delete(&db).await.unwrap();
    wait_until(&scheduler, "removed", || async { scheduler.live("j").is_none() }).await;
}

async fn rolled_back_write_schedules_nothing(db: DatabaseConnection) {
    let config = ruqi::SchedulerConfig {
        change_confirm_window: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let clock = ruqi::ManualClock::new(t(0));
    let scheduler = ruqi::scheduler(db.clone(), registry())
        .config(config)
        .clock(std::sync::Arc::new(clock))
        .start()
        .await
        .unwrap();

    let tx = db.begin().await.unwrap();
    job("rolled-back", "noop", "interval", "10m").insert(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    wait_until(&scheduler, "the announced change is given up", || async {
        scheduler.pending_changes() == 0
    })
    .await;
    assert!(scheduler.live("rolled-back").is_none());
    scheduler.reconcile().await.unwrap();
    assert!(scheduler.live("rolled-back").is_none());

    let tx = db.begin().await.unwrap();
    job("committed", "noop", "interval", "10m").insert(&tx).await.unwrap();
    tx.commit().await.unwrap();
    wait_until(&scheduler, "the committed job is scheduled", || async {
        scheduler.live("committed").is_some()
    })
    .await;
}

backend_tests!(
    valid_insert_is_scheduled,
    invalid_insert_names_the_field_and_writes_nothing,
    update_reschedules_and_invalid_update_changes_nothing,
    delete_unschedules,
    rolled_back_write_schedules_nothing,
);
