//! The executor API over real HTTP: the envelope every executor reads, the
//! token check, and malformed requests that change nothing.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server};
use ruqi_xxl::{DEFAULT_PREFIX, ExecutorApi};
use sea_orm::{Database, DatabaseConnection};
use serde_json::{Value, json};

/// A server with the API at [`DEFAULT_PREFIX`] over a fresh SQLite database.
async fn serve(token: Option<&str>) -> (String, DatabaseConnection) {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    ruqi::migrate(&db).await.unwrap();
    let app = Route::new().nest(
        DEFAULT_PREFIX,
        ExecutorApi::new(db.clone()).access_token(token).endpoint(),
    );
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let addr: SocketAddr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("http://{addr}{DEFAULT_PREFIX}"), db)
}

/// POSTs `body` as executors do and returns the envelope, checking HTTP 200 and JSON.
async fn post(url: &str, token: Option<&str>, body: &str) -> Value {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json;charset=UTF-8")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.header("XXL-JOB-ACCESS-TOKEN", token);
    }
    envelope(request.send().await.unwrap()).await
}

async fn envelope(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.unwrap()
}

fn ok() -> Value {
    json!({"code": 200, "msg": null, "content": null, "data": null})
}

fn failed(msg: &str) -> Value {
    json!({"code": 500, "msg": msg, "content": null, "data": null})
}

fn beat(app: &str, address: &str) -> String {
    json!({"registryGroup": "EXECUTOR", "registryKey": app, "registryValue": address}).to_string()
}

async fn live(db: &DatabaseConnection) -> Vec<(String, Vec<String>)> {
    ruqi::query::live_executors(db, chrono::Utc::now())
        .await
        .unwrap()
        .into_iter()
        .map(|app| (app.app, app.addresses.into_iter().map(|a| a.address).collect()))
        .collect()
}

#[tokio::test]
async fn registry_and_remove_answer_the_envelope() {
    let (base, db) = serve(None).await;
    assert_eq!(
        post(
            &format!("{base}/registry"),
            None,
            &beat("billing", "http://127.0.0.1:9999/")
        )
        .await,
        ok()
    );
    assert_eq!(
        post(
            &format!("{base}/registry"),
            None,
            &beat("billing", "http://127.0.0.1:9999")
        )
        .await,
        ok()
    );
    assert_eq!(
        live(&db).await,
        vec![("billing".into(), vec!["http://127.0.0.1:9999".into()])]
    );
    let remove = format!("{base}/registryRemove");
    assert_eq!(
        post(&remove, None, &beat("billing", "http://127.0.0.1:9999/")).await,
        ok()
    );
    assert!(live(&db).await.is_empty());
    // Removing again is no error.
    assert_eq!(
        post(&remove, None, &beat("billing", "http://127.0.0.1:9999")).await,
        ok()
    );
}

#[tokio::test]
async fn malformed_requests_fail_and_change_nothing() {
    let (base, db) = serve(None).await;
    for body in [
        json!({"registryGroup": "EXECUTOR", "registryKey": "", "registryValue": "http://a:1"}).to_string(),
        json!({"registryGroup": "EXECUTOR", "registryKey": "app", "registryValue": "  "}).to_string(),
        json!({"registryKey": "app", "registryValue": "http://a:1"}).to_string(),
        "{not json".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            post(&format!("{base}/registry"), None, &body).await,
            failed("Illegal Argument."),
            "{body}"
        );
    }
    assert!(live(&db).await.is_empty());
    let long = beat(&"a".repeat(192), "http://a:1");
    let answer = post(&format!("{base}/registry"), None, &long).await;
    assert_eq!(answer["code"], 500);
    assert!(
        answer["msg"].as_str().unwrap().starts_with("Illegal Argument."),
        "{answer}"
    );
    assert!(live(&db).await.is_empty());

    let callback = format!("{base}/callback");
    assert_eq!(
        post(&callback, None, r#"{"logId": 1}"#).await,
        failed("Illegal Argument.")
    );
    assert_eq!(
        post(&callback, None, r#"[{"handleCode": 200}]"#).await,
        failed("Illegal Argument.")
    );
}

#[tokio::test]
async fn callbacks_for_unknown_runs_are_acknowledged() {
    let (base, _db) = serve(None).await;
    let callback = format!("{base}/callback");
    let list = r#"[{"logId":42,"logDateTim":1700000000000,"handleCode":200,"handleMsg":{"rows":3},"executeResult":{"code":200,"msg":null}}]"#;
    assert_eq!(post(&callback, None, list).await, ok());
    let wrapped = r#"{"callbackList":[{"logId":43,"logDateTime":1700000000000,"handleCode":500,"handleMsg":"boom"}]}"#;
    assert_eq!(post(&callback, None, wrapped).await, ok());
}

#[tokio::test]
async fn other_methods_and_paths_are_refused_in_the_envelope() {
    let (base, db) = serve(None).await;
    let get = reqwest::get(format!("{base}/registry")).await.unwrap();
    assert_eq!(envelope(get).await, failed("invalid request, HttpMethod not support."));
    let unknown = post(&format!("{base}/run"), None, "{}").await;
    assert_eq!(unknown, failed("invalid request, uri-mapping(run) not found."));
    assert!(live(&db).await.is_empty());
}

#[tokio::test]
async fn a_configured_token_must_be_sent() {
    let (base, db) = serve(Some("s3cret")).await;
    let url = format!("{base}/registry");
    let body = beat("billing", "http://127.0.0.1:9999");
    assert_eq!(post(&url, None, &body).await, failed("The access token is wrong."));
    assert_eq!(
        post(&url, Some("guess"), &body).await,
        failed("The access token is wrong.")
    );
    assert!(live(&db).await.is_empty());
    assert_eq!(post(&url, Some("s3cret"), &body).await, ok());
    assert_eq!(live(&db).await.len(), 1);
}

#[tokio::test]
async fn without_a_token_any_header_passes() {
    let (base, _db) = serve(None).await;
    let body = beat("billing", "http://127.0.0.1:9999");
    assert_eq!(post(&format!("{base}/registry"), Some("whatever"), &body).await, ok());
}
