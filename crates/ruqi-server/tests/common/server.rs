//! `ruqi-server` as its users run it: the built binary, started with flags or
//! environment variables on a free loopback port in a directory of its own,
//! driven over HTTP, and stopped with SIGTERM (or killed when a test fails).

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Longest the tests wait for the server to come up, a run to end, or the process to exit.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Every variable the server reads, so none leaks in from the environment of the test run.
const SERVER_VARS: [&str; 19] = [
    "RUQI_DATABASE_URL",
    "RUQI_LISTEN",
    "RUQI_TOKEN",
    "RUQI_READ_TOKEN",
    "RUQI_NODE_NAME",
    "RUQI_HEARTBEAT_INTERVAL",
    "RUQI_ALLOW_SHELL",
    "RUQI_ALLOW_UNAUTHENTICATED",
    "RUQI_ALERT_WEBHOOK",
    "RUQI_ALLOW_SELF_REQUESTS",
    "RUQI_ALLOWED_HOSTS",
    "RUQI_HEADER_READ_TIMEOUT",
    "RUQI_IDLE_TIMEOUT",
    "RUQI_MAX_BODY_SIZE",
    "RUQI_MAX_CONNECTIONS",
    "RUQI_MAX_EVENT_STREAMS",
    "RUQI_POLL_INTERVAL",
    "RUQI_XXL_PREFIX",
    "RUQI_XXL_ACCESS_TOKEN",
];

/// The files the server reads tokens from, cleared like [`SERVER_VARS`].
const TOKEN_FILE_VARS: [&str; 2] = ["RUQI_TOKEN_FILE", "RUQI_READ_TOKEN_FILE"];

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// A running `ruqi-server` process and an HTTP client for it.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    log: PathBuf,
    pub http: reqwest::Client,
}

impl ServerProcess {
    /// Starts `ruqi-server` in `dir` with `args` and `env`; `--listen` is added
    /// unless the arguments or the environment name it. Does not wait for it.
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join(format!("server-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ruqi-server"));
        command.current_dir(dir).args(args);
        for var in SERVER_VARS.into_iter().chain(TOKEN_FILE_VARS) {
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
                // Below the shortest keep-alive a test gives the server (1 s):
                // a connection the server is closing as idle is not reused.
                .pool_idle_timeout(Duration::from_millis(500))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Starts the server and waits until `/api/health` answers 200.
    pub async fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut server = Self::spawn(dir, args, env);
        server.wait_healthy().await;
        server
    }

    pub async fn wait_healthy(&mut self) {
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

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit on its own.
    pub async fn exit_status(&mut self) -> ExitStatus {
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
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
        self.exit_status().await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        } else if method != reqwest::Method::GET {
            // The server takes writes only as JSON, body or not.
            request = request.header("content-type", "application/json");
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

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, None, Some(body)).await
    }

    /// Runs `job_id` now and polls its execution until it has ended.
    pub async fn run_to_end(&self, job_id: &str) -> Value {
        self.run_to_end_as(job_id, None).await
    }

    /// [`ServerProcess::run_to_end`] with `token` on every request.
    pub async fn run_to_end_as(&self, job_id: &str, token: Option<&str>) -> Value {
        let (status, run) = self
            .call(reqwest::Method::POST, &format!("/api/jobs/{job_id}/run"), token, None)
            .await;
        assert_eq!(status, 202, "{run}");
        let id = run["execution_id"].as_str().expect("an execution id").to_owned();
        let give_up = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, execution) = self
                .call(reqwest::Method::GET, &format!("/api/executions/{id}"), token, None)
                .await;
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

/// Reads one HTTP/1.1 answer from `stream`: its status, its head (lower
/// case) and its body, read by `content-length`.
pub async fn read_answer(stream: &mut tokio::net::TcpStream) -> (u16, String, String) {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut chunk = [0; 16 * 1024];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read the answer");
        assert!(n > 0, "closed before an answer: {}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).expect("a status line");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |l| l.trim().parse().expect("a length"));
    while data.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read the body");
        assert!(n > 0, "closed mid-body");
        data.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned();
    (status, head, body)
}

/// Whether the server closed `stream` (reads end) within [`DEADLINE`]; what
/// it sent before closing is ignored.
pub async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0; 1024];
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(give_up, stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}
