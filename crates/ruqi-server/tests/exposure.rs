//! What a tokenless server on loopback refuses so that a web page or a job
//! cannot use it behind the operator's back, over real HTTP against the
//! `ruqi-server` binary: writes a browser could send from another site
//! (form or text bodies, no body at all), a `Host` that does not name the
//! server (DNS rebinding), and `http` jobs or alert webhooks aimed at the
//! server's own API, directly or through a redirect. Other local services
//! stay reachable.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../tests/common/mod.rs"]
mod shared;

use std::time::Duration;

use common::server::{DEADLINE, ServerProcess};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Redirect;
use poem::{Route, Server, handler};
use reqwest::Method;
use serde_json::{Value, json};
use shared::{Backend, TestDb};
use tokio::time::Instant;

const EVIL_ORIGIN: &str = "http://evil.example";

/// The ids of the server's jobs.
async fn job_ids(server: &ServerProcess) -> Vec<String> {
    let (status, list) = server.get("/api/jobs").await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn writes_a_browser_could_send_from_another_site_are_refused(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--database-url", test_db.url.as_str()], &[]).await;
    let job = json!({"job_id": "nightly", "func": "log", "trigger": "interval", "rule": "1h"});
    let (status, body) = server.post("/api/jobs", job).await;
    assert_eq!(status, 201, "{body}");

    // What an HTML form or a no-cors fetch can send without a preflight.
    let simple_bodies: [(Option<&str>, &str); 4] = [
        (Some("application/x-www-form-urlencoded"), "job_id=planted"),
        (Some("text/plain"), r#"{"job_id": "planted"}"#),
        (Some("multipart/form-data; boundary=x"), "--x--\r\n"),
        (None, ""),
    ];
    let targets = [
        (Method::POST, "/api/jobs"),
        (Method::POST, "/api/jobs/nightly/run"),
        (Method::POST, "/api/jobs/nightly/pause"),
        (Method::POST, "/api/jobs/nightly/cancel"),
        (Method::POST, "/api/scheduler/wake-up"),
        (Method::DELETE, "/api/jobs/nightly"),
    ];
    for (content_type, body) in simple_bodies {
        for (method, path) in &targets {
            let mut request = server
                .http
                .request(method.clone(), format!("{}{path}", server.base))
                .header("origin", EVIL_ORIGIN)
                .body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{method} {path} as {content_type:?}");
            let refusal: Value = response.json().await.unwrap();
            assert_eq!(refusal["code"], "unsupported_media_type", "{refusal}");
            assert_eq!(refusal["field"], "Content-Type", "{refusal}");
            assert!(
                refusal["message"].as_str().unwrap().contains("application/json"),
                "{refusal}"
            );
        }
    }
    // Nothing happened: the job is there, not paused, never run.
    assert_eq!(job_ids(&server).await, ["nightly"]);
    let (_, job) = server.get("/api/jobs/nightly").await;
    assert_eq!(job["is_paused"], false, "{job}");
    let (_, runs) = server.get("/api/executions?job_id=nightly").await;
    assert_eq!(runs["total"], 0, "{runs}");

    // The same writes as JSON go through, body or not.
    let json_write = |method: Method, path: &str| {
        server
            .http
            .request(method, format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .send()
    };
    let response = json_write(Method::POST, "/api/jobs/nightly/run").await.unwrap();
    assert_eq!(response.status(), 202);
    let response = json_write(Method::POST, "/api/jobs/nightly/pause").await.unwrap();
    assert_eq!(response.status(), 200);
    let paused: Value = response.json().await.unwrap();
    assert_eq!(paused["is_paused"], true, "{paused}");
    let response = json_write(Method::DELETE, "/api/jobs/nightly").await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(job_ids(&server).await.is_empty());

    assert!(server.terminate().await.success(), "{}", server.output());
    test_db.drop_database().await;
}

/// Sends `GET /api/health` to `server` with `Host: host`.
async fn health_as(server: &ServerProcess, host: &str) -> (u16, Value) {
    let response = server
        .http
        .get(format!("{}/api/health", server.base))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_host_that_does_not_name_the_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--allowed-host", "ruqi.test"], &[]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("ruqi.test:{port}"),
    ] {
        let (status, body) = health_as(&server, &host).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    for host in [
        format!("evil.example:{port}"),
        "localhost:1".to_owned(),
        "evil.example".to_owned(),
    ] {
        let (status, refusal) = health_as(&server, &host).await;
        assert_eq!(status, 403, "{host}: {refusal}");
        assert_eq!(refusal["code"], "forbidden", "{refusal}");
        assert_eq!(refusal["field"], "Host", "{refusal}");
        assert!(
            refusal["message"].as_str().unwrap().contains("--allowed-host"),
            "{refusal}"
        );
    }
    // A rebound name cannot write either, JSON or not.
    let response = server
        .http
        .post(format!("{}/api/jobs", server.base))
        .header("host", format!("evil.example:{port}"))
        .json(&json!({"job_id": "planted", "func": "log", "trigger": "interval", "rule": "1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(server.get("/api/jobs").await.1["total"], 0);
    assert!(server.terminate().await.success(), "{}", server.output());

    // With a token, the Host is checked only when hosts are listed.
    let env = [("RUQI_TOKEN", "admin-secret")];
    let mut server = ServerProcess::start(dir.path(), &[], &env).await;
    assert_eq!(health_as(&server, "evil.example").await.0, 200);
    assert!(server.terminate().await.success(), "{}", server.output());
    let mut server = ServerProcess::start(dir.path(), &["--allowed-host", "ruqi.test"], &env).await;
    assert_eq!(health_as(&server, "ruqi.test").await.0, 200);
    assert_eq!(health_as(&server, "evil.example").await.0, 403);
    assert!(server.terminate().await.success(), "{}", server.output());
}

/// A server on another local port that redirects `/to?url=…` there with 307.
async fn redirector() -> String {
    #[handler]
    fn to(poem::web::Query(target): poem::web::Query<std::collections::HashMap<String, String>>) -> Redirect {
        Redirect::temporary(target.get("url").cloned().unwrap_or_default())
    }
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(Route::new().at("/to", to)));
    format!("http://{addr}")
}

/// The body an `http` job POSTs to plant a job through the API.
fn planted_job() -> Value {
    json!({"job_id": "planted", "func": "log", "trigger": "interval", "rule": "1h"})
}

/// Creates an `http` job POSTing [`planted_job`] to `url`.
async fn http_job(server: &ServerProcess, job_id: &str, url: &str) {
    let job = json!({
        "job_id": job_id, "func": "http", "trigger": "interval", "rule": "1h",
        "args": {"url": url, "json": planted_job()},
    });
    let (status, body) = server.post("/api/jobs", job).await;
    assert_eq!(status, 201, "{body}");
}

async fn http_jobs_and_alerts_cannot_reach_the_servers_own_api(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let elsewhere = common::http_server().await;
    let redirect = redirector().await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--database-url", test_db.url.as_str()], &[]).await;
    let own_api = format!("{}/api/jobs", server.base);
    let port = server.base.rsplit(':').next().unwrap().to_owned();

    for (job_id, url) in [
        ("direct", own_api.clone()),
        ("by-name", format!("http://localhost:{port}/api/jobs")),
        ("redirected", format!("{redirect}/to?url={own_api}")),
    ] {
        http_job(&server, job_id, &url).await;
        let run = server.run_to_end(job_id).await;
        assert_eq!(run["status"], "failed", "{job_id}: {run}");
        let error = run["error"].as_str().unwrap();
        assert!(error.contains("own admin API"), "{job_id}: {error}");
        assert!(error.contains("--allow-self-requests"), "{job_id}: {error}");
    }
    // Another port of the same host stays reachable, through a redirect too.
    http_job(&server, "elsewhere", &format!("{redirect}/to?url={elsewhere}/echo")).await;
    let run = server.run_to_end("elsewhere").await;
    assert_eq!(run["status"], "success", "{run}");
    let output = run["output"].as_str().unwrap();
    assert!(output.contains(r#""method":"POST""#), "{output}");
    assert!(output.contains("planted"), "{output}");
    // By name too: `localhost` on another port is not the server.
    let by_name = elsewhere.replace("127.0.0.1", "localhost");
    http_job(&server, "elsewhere-by-name", &format!("{by_name}/echo")).await;
    let run = server.run_to_end("elsewhere-by-name").await;
    assert_eq!(run["status"], "success", "{run}");

    // An alert aimed at the API is not sent either; the log says why.
    let job = json!({
        "job_id": "alerting", "func": "http", "trigger": "interval", "rule": "1h",
        "args": format!("{elsewhere}/fail"), "alert_url": own_api,
    });
    let (status, body) = server.post("/api/jobs", job).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.run_to_end("alerting").await["status"], "failed");
    let give_up = Instant::now() + DEADLINE;
    while !server.output().contains("alert not delivered") {
        assert!(Instant::now() < give_up, "no word of the alert:\n{}", server.output());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.output();
    let line = log.lines().find(|l| l.contains("alert not delivered")).unwrap();
    assert!(line.contains("own admin API"), "{line}");

    let mut ids = job_ids(&server).await;
    ids.sort();
    assert_eq!(
        ids,
        [
            "alerting",
            "by-name",
            "direct",
            "elsewhere",
            "elsewhere-by-name",
            "redirected"
        ]
    );
    assert!(server.terminate().await.success(), "{}", server.output());

    // Allowed by the operator, the same job reaches the API.
    let args = ["--database-url", test_db.url.as_str(), "--allow-self-requests"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    http_job(&server, "allowed", &format!("{}/api/jobs", server.base)).await;
    let run = server.run_to_end("allowed").await;
    assert_eq!(run["status"], "success", "{run}");
    assert!(job_ids(&server).await.contains(&"planted".to_owned()));
    assert!(server.terminate().await.success(), "{}", server.output());
    test_db.drop_database().await;
}

macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name(super::Backend::MySql).await;
                }
            }
        )+
    };
}

on_every_backend!(
    writes_a_browser_could_send_from_another_site_are_refused,
    http_jobs_and_alerts_cannot_reach_the_servers_own_api,
);
