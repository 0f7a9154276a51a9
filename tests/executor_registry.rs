//! The XXL-JOB executor registry on every backend: beats upsert one row per
//! normalised address, a removed address is gone at once, an address goes
//! stale 90 s after its last beat, and concurrent beats of one address
//! (several executors threads or ruqi nodes at once) all succeed.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::t;
use ruqi::query::{ExecutorApp, beat_executor, live_executors, remove_executor};
use sea_orm::{DatabaseConnection, EntityTrait};

fn addresses(apps: &[ExecutorApp]) -> Vec<(&str, Vec<&str>)> {
    apps.iter()
        .map(|app| {
            (
                app.app.as_str(),
                app.addresses.iter().map(|a| a.address.as_str()).collect(),
            )
        })
        .collect()
}

async fn beats_list_each_app_with_its_addresses(db: DatabaseConnection) {
    beat_executor(&db, "billing", "http://10.0.0.2:9999/", t(0))
        .await
        .unwrap();
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(1))
        .await
        .unwrap();
    beat_executor(&db, "audit", "http://10.0.0.3:9999", t(2)).await.unwrap();
    let live = live_executors(&db, t(3)).await.unwrap();
    assert_eq!(
        addresses(&live),
        vec![
            ("audit", vec!["http://10.0.0.3:9999"]),
            ("billing", vec!["http://10.0.0.1:9999", "http://10.0.0.2:9999"]),
        ]
    );
    assert_eq!(live[0].addresses[0].first_beat_at, t(2));
    assert_eq!(live[0].addresses[0].last_beat_at, t(2));
}

async fn trailing_slash_or_not_is_one_address(db: DatabaseConnection) {
    beat_executor(&db, "billing", "http://10.0.0.1:9999/", t(0))
        .await
        .unwrap();
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(10))
        .await
        .unwrap();
    let live = live_executors(&db, t(10)).await.unwrap();
    assert_eq!(addresses(&live), vec![("billing", vec!["http://10.0.0.1:9999"])]);
    assert_eq!(live[0].addresses[0].first_beat_at, t(0));
    assert_eq!(live[0].addresses[0].last_beat_at, t(10));
    assert_eq!(
        ruqi::entity::xxl_executor::Entity::find().all(&db).await.unwrap().len(),
        1
    );
}

async fn removed_addresses_are_gone_at_once(db: DatabaseConnection) {
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(0))
        .await
        .unwrap();
    beat_executor(&db, "billing", "http://10.0.0.2:9999", t(0))
        .await
        .unwrap();
    assert!(remove_executor(&db, "billing", "http://10.0.0.1:9999/").await.unwrap());
    assert!(!remove_executor(&db, "billing", "http://10.0.0.1:9999").await.unwrap());
    let live = live_executors(&db, t(1)).await.unwrap();
    assert_eq!(addresses(&live), vec![("billing", vec!["http://10.0.0.2:9999"])]);
}

async fn addresses_go_stale_ninety_seconds_after_their_last_beat(db: DatabaseConnection) {
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(0))
        .await
        .unwrap();
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(30))
        .await
        .unwrap();
    assert_eq!(live_executors(&db, t(120)).await.unwrap().len(), 1);
    assert!(
        live_executors(&db, t(120) + Duration::milliseconds(1))
            .await
            .unwrap()
            .is_empty()
    );

    // A late beat from a slow node never moves the last beat back.
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(20))
        .await
        .unwrap();
    assert_eq!(
        live_executors(&db, t(120)).await.unwrap()[0].addresses[0].last_beat_at,
        t(30)
    );

    // Back after going stale: a new first beat.
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(500))
        .await
        .unwrap();
    let live = live_executors(&db, t(500)).await.unwrap();
    assert_eq!(live[0].addresses[0].first_beat_at, t(500));
    assert_eq!(live[0].addresses[0].last_beat_at, t(500));
}

async fn concurrent_beats_of_one_address_all_succeed(db: DatabaseConnection) {
    let beats: Vec<_> = (0..16)
        .map(|i| {
            let db = db.clone();
            let address = if i % 2 == 0 {
                "http://10.0.0.1:9999/"
            } else {
                "http://10.0.0.1:9999"
            };
            tokio::spawn(async move { beat_executor(&db, "billing", address, t(i)).await })
        })
        .collect();
    for beat in beats {
        beat.await.unwrap().unwrap();
    }
    let live = live_executors(&db, t(20)).await.unwrap();
    assert_eq!(addresses(&live), vec![("billing", vec!["http://10.0.0.1:9999"])]);
    assert_eq!(live[0].addresses[0].last_beat_at, t(15));
    assert_eq!(
        ruqi::entity::xxl_executor::Entity::find().all(&db).await.unwrap().len(),
        1
    );
}

async fn blank_values_write_nothing(db: DatabaseConnection) {
    assert!(matches!(
        beat_executor(&db, " ", "http://10.0.0.1:9999", t(0)).await,
        Err(ruqi::Error::Invalid(e)) if e.field == "app"
    ));
    assert!(matches!(
        beat_executor(&db, "billing", "/", t(0)).await,
        Err(ruqi::Error::Invalid(e)) if e.field == "address"
    ));
    assert!(live_executors(&db, t(0)).await.unwrap().is_empty());
}

backend_tests!(
    beats_list_each_app_with_its_addresses,
    trailing_slash_or_not_is_one_address,
    removed_addresses_are_gone_at_once,
    addresses_go_stale_ninety_seconds_after_their_last_beat,
    concurrent_beats_of_one_address_all_succeed,
    blank_values_write_nothing,
);
