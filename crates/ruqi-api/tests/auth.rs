//! Bearer tokens and scopes over real HTTP: 401 without a (known) token, 403
//! with the read scope on a write, and refused requests write nothing.

mod common;

use common::{ADMIN, READ, TestApi, job};
use reqwest::Method;
use ruqi_api::Auth;
use serde_json::{Value, json};

/// Every operation but health, with a body where it takes one.
fn operations() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/jobs", None),
        (Method::POST, "/jobs", Some(job("new"))),
        (Method::GET, "/jobs/j", None),
        (Method::PUT, "/jobs/j", Some(job("j"))),
        (Method::PATCH, "/jobs/j", Some(json!({"description": "x"}))),
        (Method::DELETE, "/jobs/j", None),
        (Method::POST, "/jobs/j/pause", None),
        (Method::POST, "/jobs/j/resume", None),
        (Method::POST, "/jobs/j/run", None),
        (Method::POST, "/jobs/j/cancel", None),
        (Method::GET, "/jobs/j/next-run-times", None),
        (Method::GET, "/preview?trigger=interval&rule=1m", None),
        (Method::GET, "/jobs/j/executions", None),
        (Method::GET, "/executions", None),
        (Method::GET, "/executions/x", None),
        (Method::POST, "/executions/cleanup", Some(json!({"older_than_days": 1}))),
        (Method::GET, "/functions", None),
        (Method::GET, "/scheduler/status", None),
        (Method::POST, "/scheduler/wake-up", None),
        (Method::GET, "/auth/scope", None),
    ]
}

#[tokio::test]
async fn without_a_known_token_every_operation_is_401_and_writes_nothing() {
    let api = TestApi::start().await;
    api.create(job("j")).await;
    let before = api.rows().await;
    for (method, path, body) in operations() {
        let answer = api.call(method.clone(), path, None, body.clone()).await;
        answer.assert_error(401, "unauthorized", None);
        assert_eq!(answer.headers["www-authenticate"], "Bearer", "{method} {path}");
        let answer = api.call(method.clone(), path, Some("guessed"), body.clone()).await;
        answer.assert_error(401, "unauthorized", None);
    }
    let basic = api
        .http
        .get(format!("{}/jobs", api.base))
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    TestApi::answer(basic).await.assert_error(401, "unauthorized", None);
    assert_eq!(api.rows().await, before);
    assert_eq!(api.execution_count().await, 0);
}

#[tokio::test]
async fn the_read_scope_reads_and_is_403_on_everything_else() {
    let api = TestApi::start().await;
    api.create(job("j")).await;
    let before = api.rows().await;
    for (method, path, body) in operations() {
        let answer = api.call(method.clone(), path, Some(READ), body).await;
        if method == Method::GET {
            assert!(
                answer.status == 200 || answer.status == 404,
                "{method} {path}: {answer:?}"
            );
        } else {
            answer.assert_error(403, "forbidden", None);
            assert!(
                answer.body["message"].as_str().unwrap().contains("admin scope"),
                "{answer:?}"
            );
        }
    }
    assert_eq!(api.rows().await, before);
    assert_eq!(api.execution_count().await, 0);
}

#[tokio::test]
async fn the_admin_scope_does_everything() {
    let api = TestApi::start().await;
    api.create(job("j")).await;
    for (method, path, body) in operations() {
        let answer = api.call(method.clone(), path, Some(ADMIN), body).await;
        assert!(
            ![401, 403].contains(&answer.status) && answer.status < 500,
            "{method} {path}: {answer:?}"
        );
    }
    assert_eq!(api.get("/jobs/new").await.status, 200);
}

#[tokio::test]
async fn disabled_auth_lets_every_request_through() {
    let api = TestApi::start_with(Auth::disabled(), "/api").await;
    let created = api.call(Method::POST, "/jobs", None, Some(job("open"))).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(api.call(Method::GET, "/jobs/open", None, None).await.status, 200);
}

#[tokio::test]
async fn an_api_without_configured_tokens_refuses_all_but_health() {
    let api = TestApi::start_mounted("/api", |admin| admin).await;
    api.call(Method::GET, "/jobs", Some("anything"), None)
        .await
        .assert_error(401, "unauthorized", None);
    assert_eq!(api.call(Method::GET, "/health", None, None).await.status, 200);
}

#[tokio::test]
async fn the_scope_operation_tells_a_client_what_its_token_may_do() {
    let api = TestApi::start().await;
    let admin = api.call(Method::GET, "/auth/scope", Some(ADMIN), None).await;
    assert_eq!(admin.status, 200, "{admin:?}");
    assert_eq!(admin.body, json!({"scope": "admin", "auth_enabled": true}));
    let read = api.call(Method::GET, "/auth/scope", Some(READ), None).await;
    assert_eq!(read.body, json!({"scope": "read", "auth_enabled": true}));
    api.call(Method::GET, "/auth/scope", Some("guessed"), None)
        .await
        .assert_error(401, "unauthorized", None);
    api.call(Method::GET, "/auth/scope", None, None)
        .await
        .assert_error(401, "unauthorized", None);
}

#[tokio::test]
async fn without_auth_the_scope_is_admin_for_anyone() {
    let api = TestApi::start_with(Auth::disabled(), "/api").await;
    let anyone = api.call(Method::GET, "/auth/scope", None, None).await;
    assert_eq!(anyone.status, 200, "{anyone:?}");
    assert_eq!(anyone.body, json!({"scope": "admin", "auth_enabled": false}));
}
