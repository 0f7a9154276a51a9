//! `GET /executors`: the live XXL-JOB executors, by app, on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, Utc};
use common::{Backend, READ, TestApi};
use reqwest::Method;

async fn live_executors_are_listed_by_app(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let empty = api.get("/executors").await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body, serde_json::json!([]));

    let now = Utc::now();
    ruqi::query::beat_executor(&api.db, "billing", "http://10.0.0.2:9999/", now)
        .await
        .unwrap();
    ruqi::query::beat_executor(&api.db, "billing", "http://10.0.0.1:9999", now)
        .await
        .unwrap();
    ruqi::query::beat_executor(&api.db, "billing", "http://10.0.0.1:9999/", now)
        .await
        .unwrap();
    ruqi::query::beat_executor(&api.db, "audit", "http://10.0.0.9:9999", now - Duration::seconds(91))
        .await
        .unwrap();

    let answer = api.call(Method::GET, "/executors", Some(READ), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let apps = answer.body.as_array().unwrap();
    assert_eq!(apps.len(), 1, "the stale app is left out: {apps:?}");
    assert_eq!(apps[0]["app"], "billing");
    let addresses: Vec<&str> = apps[0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["http://10.0.0.1:9999", "http://10.0.0.2:9999"]);
    let first = &apps[0]["addresses"][0];
    assert!(
        first["first_beat_at"].is_string() && first["last_beat_at"].is_string(),
        "{first}"
    );

    ruqi::query::remove_executor(&api.db, "billing", "http://10.0.0.1:9999")
        .await
        .unwrap();
    let after = api.get("/executors").await.body;
    assert_eq!(after[0]["addresses"].as_array().unwrap().len(), 1, "{after}");

    let anonymous = api.call(Method::GET, "/executors", None, None).await;
    anonymous.assert_error(401, "unauthorized", None);
    api.finish().await;
}

backend_tests!(live_executors_are_listed_by_app);
