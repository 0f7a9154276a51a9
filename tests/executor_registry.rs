//! The XXL-JOB executor registry on every backend: beats upsert one row per
//! normalised address, a removed address is gone at once, an address goes
//! stale 90 s after its last beat, and concurrent beats of one address
//! (several executors threads or ruqi nodes at once) all succeed; addresses
//! given by hand take the place of the registered ones until taken back,
//! and a refused list writes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::t;
use ruqi::query::{
    ExecutorApp, beat_executor, dispatch_addresses, live_executors, registered_forms, remove_executor,
    set_manual_addresses,
};
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
    // The latest spelling is kept for xxl-job's consistent-hash ring.
    let address = ["http://10.0.0.1:9999".to_owned()];
    assert_eq!(registered_forms(&db, "billing", &address).await.unwrap(), address);
    beat_executor(&db, "billing", "http://10.0.0.1:9999/", t(20))
        .await
        .unwrap();
    assert_eq!(
        registered_forms(&db, "billing", &address).await.unwrap(),
        ["http://10.0.0.1:9999/"]
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

async fn manual_addresses_take_the_place_of_registered_ones(db: DatabaseConnection) {
    beat_executor(&db, "billing", "http://10.0.0.1:9999", t(0))
        .await
        .unwrap();
    assert_eq!(
        dispatch_addresses(&db, "billing", t(1)).await.unwrap(),
        ["http://10.0.0.1:9999"]
    );

    let given = ["http://10.0.0.9:9999/", "http://10.0.0.8:9999", "http://10.0.0.9:9999"].map(str::to_owned);
    let stored = set_manual_addresses(&db, "billing", &given, t(1)).await.unwrap();
    assert_eq!(stored, ["http://10.0.0.9:9999", "http://10.0.0.8:9999"]);
    assert_eq!(dispatch_addresses(&db, "billing", t(2)).await.unwrap(), stored);
    set_manual_addresses(&db, "reports", &["https://reports.internal".to_owned()], t(1))
        .await
        .unwrap();
    let apps = live_executors(&db, t(2)).await.unwrap();
    assert_eq!(
        addresses(&apps),
        [("billing", vec!["http://10.0.0.1:9999"]), ("reports", vec![])]
    );
    assert_eq!(apps[0].manual_addresses, stored);
    assert_eq!(apps[1].manual_addresses, ["https://reports.internal"]);

    // Set again: replaced, not added to.
    let again = set_manual_addresses(&db, "billing", &["http://10.0.0.7:9999".to_owned()], t(3))
        .await
        .unwrap();
    assert_eq!(dispatch_addresses(&db, "billing", t(3)).await.unwrap(), again);

    let refused = set_manual_addresses(
        &db,
        "billing",
        &["http://ok:1".to_owned(), "10.0.0.6:9999".to_owned()],
        t(4),
    )
    .await;
    assert!(matches!(refused, Err(ruqi::Error::Invalid(e)) if e.field == "addresses/1"));
    assert_eq!(dispatch_addresses(&db, "billing", t(4)).await.unwrap(), again);

    set_manual_addresses(&db, "billing", &[], t(5)).await.unwrap();
    assert_eq!(
        dispatch_addresses(&db, "billing", t(6)).await.unwrap(),
        ["http://10.0.0.1:9999"]
    );
}

backend_tests!(
    manual_addresses_take_the_place_of_registered_ones,
    beats_list_each_app_with_its_addresses,
    trailing_slash_or_not_is_one_address,
    removed_addresses_are_gone_at_once,
    addresses_go_stale_ninety_seconds_after_their_last_beat,
    concurrent_beats_of_one_address_all_succeed,
    blank_values_write_nothing,
);
