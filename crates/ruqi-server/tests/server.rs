//! The `ruqi-server` binary as its users run it: started with flags or
//! environment variables on a free loopback port, driven over HTTP, and
//! stopped with SIGTERM.

mod common;

use common::server::{ServerProcess, free_port};
use serde_json::json;

#[tokio::test]
async fn starts_with_its_defaults_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = ServerProcess::start(dir.path(), &[], &[]).await;
    assert!(
        dir.path().join("ruqi.db").exists(),
        "the default SQLite file is created"
    );

    let (status, health) = server.get("/api/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let root = server.http.get(&server.base).send().await.expect("an answer");
    assert_eq!(root.status(), 303, "/ leads a browser to the admin page");
    assert_eq!(root.headers()["location"], "/api/ui/");
    let page = server
        .http
        .get(format!("{}/api/ui/", server.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 200, "the page needs no token");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.expect("html").contains(r#"src="app.js""#));
    let docs = server
        .http
        .get(format!("{}/api/docs", server.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.expect("html").contains("SwaggerUIBundle"));
    let (status, spec) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(spec["servers"][0]["url"], "/api");
    assert!(spec["paths"]["/jobs"]["post"].is_object());
    // No token configured, loopback only: the API is open.
    let (status, jobs) = server.get("/api/jobs").await;
    assert_eq!(status, 200, "{jobs}");
    let (status, functions) = server.get("/api/functions").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = functions
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| f["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["http", "log", "xxl"], "shell stays off unless allowed");

    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    let log = server.output();
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(log.contains("ruqi scheduler stopped"), "{log}");
}

#[tokio::test]
async fn http_jobs_send_their_request_and_record_the_response() {
    let target = common::http_server().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = ServerProcess::start(dir.path(), &[], &[]).await;

    // RuQi's shorthand: POST the JSON after the `#`, every 10 minutes.
    let (status, job) = server
        .post(
            "/api/jobs",
            json!({
                "job_id": "ping", "func": "http", "args": format!(r#"{target}/echo#{{"k": 1}}"#),
                "trigger": "cron", "rule": "*/10 * * * *",
            }),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let run = server.run_to_end("ping").await;
    assert_eq!(run["status"], "success", "{run}");
    let output = run["output"].as_str().expect("output");
    assert!(output.starts_with("HTTP 200 OK\n"), "{output}");
    assert!(output.contains(r#""method":"POST""#), "{output}");
    assert!(output.contains(r#"\"k\":1"#), "{output}");

    let (status, job) = server
        .post(
            "/api/jobs",
            json!({"job_id": "down", "func": "http", "args": {"url": format!("{target}/fail")}, "trigger": "interval", "rule": "1h"}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let run = server.run_to_end("down").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"].as_str().expect("an error").starts_with("HTTP 500"),
        "{run}"
    );
    assert_eq!(run["output"], "HTTP 500 Internal Server Error\ndatabase down\n");

    let (status, refused) = server
        .post(
            "/api/jobs",
            json!({"job_id": "ftp", "func": "http", "args": "ftp://example.com/file", "trigger": "interval", "rule": "1h"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["field"], "args");
    assert!(server.terminate().await.success(), "{}", server.output());
}

#[tokio::test]
async fn shell_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = ServerProcess::start(dir.path(), &[], &[]).await;
    let (status, refused) = server
        .post(
            "/api/jobs",
            json!({"job_id": "sh", "func": "shell", "args": {"argv": ["echo", "hi"]}, "trigger": "interval", "rule": "1h"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "invalid");
    assert_eq!(refused["field"], "func");
    assert_eq!(server.get("/api/jobs").await.1["total"], 0);
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn shell_runs_when_allowed_and_sigterm_lets_a_run_finish() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = ServerProcess::start(dir.path(), &["--allow-shell"], &[]).await;
    let (status, job) = server
        .post(
            "/api/jobs",
            json!({"job_id": "hello", "func": "shell", "args": {"argv": ["echo", "hello from sh"]}, "trigger": "cron", "rule": "20 2 * * *"}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let run = server.run_to_end("hello").await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["output"], "hello from sh\n");

    server
        .post(
            "/api/jobs",
            json!({"job_id": "exit3", "func": "shell", "args": {"script": "echo oops >&2; exit 3"}, "trigger": "interval", "rule": "1h"}),
        )
        .await;
    let run = server.run_to_end("exit3").await;
    assert_eq!(run["status"], "failed", "{run}");

    // A run in progress when SIGTERM comes is let finish before the process exits.
    server
        .post(
            "/api/jobs",
            json!({"job_id": "slow", "func": "shell", "args": {"script": "sleep 1; echo finished"}, "trigger": "interval", "rule": "1h"}),
        )
        .await;
    let (status, started) = server
        .call(reqwest::Method::POST, "/api/jobs/slow/run", None, None)
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["execution_id"].as_str().expect("an execution id").to_owned();
    assert!(server.terminate().await.success(), "{}", server.output());

    let server = ServerProcess::start(dir.path(), &["--allow-shell"], &[]).await;
    let (status, execution) = server.get(&format!("/api/executions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(execution["status"], "success", "{execution}");
    assert_eq!(execution["output"], "finished\n");
    assert_eq!(
        server.get("/api/jobs").await.1["total"],
        3,
        "the jobs survive a restart"
    );
}

#[tokio::test]
async fn tokens_from_the_environment_guard_the_api() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("elsewhere.db").display());
    let mut server = ServerProcess::start(
        dir.path(),
        &[],
        &[
            ("RUQI_TOKEN", "admin-secret"),
            ("RUQI_READ_TOKEN", "viewer-secret"),
            ("RUQI_DATABASE_URL", &db),
            ("RUQI_NODE_NAME", "node-from-env"),
        ],
    )
    .await;
    assert!(dir.path().join("elsewhere.db").exists());
    assert!(!dir.path().join("ruqi.db").exists());
    let (status, health) = server.get("/api/health").await;
    assert_eq!(status, 200, "health needs no token");
    assert_eq!(health["node"], "node-from-env");

    let (status, body) = server.get("/api/jobs").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = server
        .call(reqwest::Method::GET, "/api/jobs", Some("viewer-secret"), None)
        .await;
    assert_eq!(status, 200);
    let job = json!({"job_id": "j", "func": "log", "args": "hi", "trigger": "interval", "rule": "1h"});
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            "/api/jobs",
            Some("viewer-secret"),
            Some(job.clone()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    let (status, body) = server
        .call(reqwest::Method::POST, "/api/jobs", Some("admin-secret"), Some(job))
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn an_open_api_is_refused_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = free_port();
    let everywhere = format!("0.0.0.0:{port}");

    let mut refused = ServerProcess::spawn(dir.path(), &["--listen", &everywhere], &[]);
    let exit = refused.exit_status().await;
    assert!(!exit.success(), "{exit}");
    let log = refused.output();
    assert!(log.contains("refusing to listen on 0.0.0.0"), "{log}");
    assert!(log.contains("--allow-unauthenticated"), "{log}");
    assert!(
        !dir.path().join("ruqi.db").exists(),
        "refused before it touched the database"
    );

    let mut allowed = ServerProcess::spawn(dir.path(), &["--listen", &everywhere, "--allow-unauthenticated"], &[]);
    allowed.base = format!("http://127.0.0.1:{port}");
    allowed.wait_healthy().await;
    assert!(allowed.terminate().await.success(), "{}", allowed.output());

    let mut with_token = ServerProcess::spawn(dir.path(), &["--listen", &everywhere], &[("RUQI_TOKEN", "t")]);
    with_token.base = format!("http://127.0.0.1:{port}");
    with_token.wait_healthy().await;
    assert!(with_token.terminate().await.success(), "{}", with_token.output());
}

#[tokio::test]
async fn every_refusal_is_json_in_the_api_shape_inside_api_and_out() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut server = ServerProcess::start(dir.path(), &[], &[]).await;
    // Writes are sent as JSON: the router's own refusals are what is tested.
    let send = |method: reqwest::Method, path: &str| {
        server
            .http
            .request(method, format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .send()
    };
    for (method, path, status, code, allow) in [
        (reqwest::Method::GET, "/api/jobs/%ff", 400, "bad_request", None),
        (reqwest::Method::GET, "/api/nothing/here", 404, "not_found", None),
        (reqwest::Method::GET, "/nothing-here", 404, "not_found", None),
        (
            reqwest::Method::DELETE,
            "/api/functions",
            405,
            "method_not_allowed",
            Some("GET"),
        ),
        (
            reqwest::Method::PATCH,
            "/api/jobs",
            405,
            "method_not_allowed",
            Some("GET, POST"),
        ),
    ] {
        let response = send(method.clone(), path).await.expect("an answer");
        assert_eq!(response.status(), status, "{method} {path}");
        let content_type = response.headers()["content-type"].to_str().expect("text");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type}"
        );
        assert_eq!(
            response.headers().get("allow").and_then(|a| a.to_str().ok()),
            allow,
            "{method} {path}"
        );
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], code, "{method} {path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
}
