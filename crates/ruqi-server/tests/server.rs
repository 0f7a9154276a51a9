//! The `ruqi-server` binary as its users run it: started with flags or
//! environment variables on a free loopback port, driven over HTTP, and
//! stopped with SIGTERM.

mod common;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Longest the tests wait for the server to come up, a run to end, or the process to exit.
const DEADLINE: Duration = Duration::from_secs(20);

/// Every variable the server reads, so none leaks in from the environment of the test run.
const SERVER_VARS: [&str; 8] = [
    "RUQI_DATABASE_URL",
    "RUQI_LISTEN",
    "RUQI_TOKEN",
    "RUQI_READ_TOKEN",
    "RUQI_NODE_NAME",
    "RUQI_HEARTBEAT_INTERVAL",
    "RUQI_ALLOW_SHELL",
    "RUQI_ALLOW_UNAUTHENTICATED",
];

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    base: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl ServerProcess {
    /// Starts `ruqi-server` in `dir` with `args` and `env`; `--listen` is added
    /// unless the arguments or the environment name it. Does not wait for it.
    fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join(format!("server-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ruqi-server"));
        command.current_dir(dir).args(args);
        for var in SERVER_VARS {
            command.env_remove(var);
        }
        let names_listen = args.contains(&"--listen") || env.iter().any(|(k, _)| *k == "RUQI_LISTEN");
        if !names_listen {
            command.args(["--listen", &listen]);
        }
        command
            .envs(env.iter().copied())
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log file"))
            .stderr(log_file);
        let child = command.spawn().expect("start ruqi-server");
        Self {
            child,
            base: format!("http://{listen}"),
            log,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Starts the server and waits until `/api/health` answers 200.
    async fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut server = Self::spawn(dir, args, env);
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&mut self) {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(response) = self.http.get(format!("{}/api/health", self.base)).send().await
                && response.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                panic!(
                    "ruqi-server exited with {status} before it was healthy:\n{}",
                    self.output()
                );
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "not healthy in time:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// What the server logged.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit on its own.
    async fn exit_status(&mut self) -> ExitStatus {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "still running:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    async fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
        self.exit_status().await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, None, Some(body)).await
    }

    /// Runs `job_id` now and polls its execution until it has ended.
    async fn run_to_end(&self, job_id: &str) -> Value {
        let (status, run) = self
            .call(reqwest::Method::POST, &format!("/api/jobs/{job_id}/run"), None, None)
            .await;
        assert_eq!(status, 202, "{run}");
        let id = run["execution_id"].as_str().expect("an execution id").to_owned();
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, execution) = self.get(&format!("/api/executions/{id}")).await;
            if status == 200 && execution["status"] != "running" {
                return execution;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "run {id} did not end: {execution}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A failed test must not leave the server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

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
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/api/docs");
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
    assert_eq!(names, ["http", "log"], "shell stays off unless allowed");

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
