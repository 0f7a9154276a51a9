//! What the XXL-JOB dispatch tests share: a ruqi-server on a fresh
//! database of one backend (`Center`) with its calls, reading which
//! executor and `logId` a run went to from its log, and one test per
//! backend (`per_backend!`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{Backend, TestDb};
use crate::pyxxl::{Executor, eventually, live_addresses};
use crate::server::{DEADLINE, ServerProcess, free_port};

/// The app name the pyxxl executors register under.
pub const APP: &str = "pyxxl-demo";

/// A ruqi-server on a fresh database of one backend.
pub struct Center {
    pub test_db: TestDb,
    pub dir: TempDir,
    pub server: ServerProcess,
}

impl Center {
    pub async fn start(backend: Backend, args: &[&str]) -> Option<Self> {
        let test_db = TestDb::new(backend).await?;
        let dir = tempfile::tempdir().unwrap();
        let server = Self::node(&test_db, dir.path(), args).await;
        Some(Self { test_db, dir, server })
    }

    /// Another node on the same database.
    pub async fn node(test_db: &TestDb, dir: &Path, args: &[&str]) -> ServerProcess {
        let mut all = vec!["--database-url", &test_db.url];
        all.extend_from_slice(args);
        ServerProcess::start(dir, &all, &[]).await
    }

    /// The executor API base as pyxxl is given it.
    pub fn admin_base(&self) -> String {
        format!("{}/xxl-job-admin/api/", self.server.base)
    }

    /// Starts a pyxxl executor in a folder of its own; returns it with its address.
    pub async fn pyxxl(&self, python: &Path, name: &str) -> (Executor, String) {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let executor = Executor::start(python, &dir, &self.admin_base(), port, APP, "");
        let address = format!("http://127.0.0.1:{port}");
        eventually(&self.server, "the executor registered", async || {
            live_addresses(&self.server, APP).await.contains(&address)
        })
        .await;
        (executor, address)
    }

    /// Creates an `xxl` job that fires only when run by hand.
    pub async fn job(&self, job_id: &str, args: Value, extra: Value) {
        let mut job = json!({
            "job_id": job_id,
            "func": "xxl",
            "trigger": "date",
            "rule": "2099-01-01T00:00:00Z",
            "args": args,
        });
        for (key, value) in extra.as_object().unwrap() {
            job[key] = value.clone();
        }
        let (status, body) = self.server.post("/api/jobs", job).await;
        assert_eq!(status, 201, "{body}");
    }

    /// Starts a run of `job_id` now; returns its execution id.
    pub async fn start_run(&self, job_id: &str) -> String {
        let (status, run) = self.server.post(&format!("/api/jobs/{job_id}/run"), json!({})).await;
        assert_eq!(status, 202, "{run}");
        run["execution_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{run}"))
            .to_owned()
    }

    /// The execution once it has ended.
    pub async fn ended(&self, execution_id: &str) -> Value {
        let give_up = Instant::now() + DEADLINE;
        loop {
            let (status, execution) = self.server.get(&format!("/api/executions/{execution_id}")).await;
            if status == 200 && execution["status"] != "running" {
                return execution;
            }
            assert!(
                Instant::now() < give_up,
                "run {execution_id} did not end: {execution}\n{}",
                self.server.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The lines of a run's log so far (live while it runs).
    pub async fn log(&self, execution_id: &str) -> Vec<String> {
        let (status, tail) = self.server.get(&format!("/api/executions/{execution_id}/log")).await;
        if status != 200 {
            return Vec::new();
        }
        tail["lines"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| l.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until a run's live log has a line containing `text`.
    pub async fn log_shows(&self, execution_id: &str, text: &str) {
        eventually(
            &self.server,
            &format!("the log of {execution_id} shows {text:?}"),
            async || self.log(execution_id).await.iter().any(|l| l.contains(text)),
        )
        .await;
    }

    pub async fn finish(self) {
        drop(self.server);
        self.test_db.drop_database().await;
    }
}

/// Waits for attempt `attempt` of `job_id` to have ended; returns it.
pub async fn eventually_run(center: &Center, job_id: &str, attempt: u64) -> Value {
    let mut found = Value::Null;
    eventually(
        &center.server,
        &format!("attempt {attempt} of {job_id} ended"),
        async || {
            let (_, runs) = center.server.get(&format!("/api/executions?job_id={job_id}")).await;
            let run = runs["items"].as_array().and_then(|items| {
                items
                    .iter()
                    .find(|r| r["attempt"] == attempt && r["status"] != "running")
            });
            if let Some(run) = run {
                found = run.clone();
            }
            run.is_some()
        },
    )
    .await;
    found
}

/// The executor a run was sent to and its `logId`, from the line the center logs when the
/// executor takes the run: `<address> took the run: logId <n>, …`.
pub fn dispatches(output: &str) -> Vec<(String, i64)> {
    output
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" took the run: logId ")?;
            let address = before.rsplit(' ').next()?.to_owned();
            let log_id = after.split(',').next()?.parse().ok()?;
            Some((address, log_id))
        })
        .collect()
}

pub fn output_of(execution: &Value) -> String {
    execution["output"].as_str().unwrap_or_default().to_owned()
}

/// The one executor and `logId` of a run.
pub fn dispatched_once(execution: &Value) -> (String, i64) {
    let sent = dispatches(&output_of(execution));
    assert_eq!(sent.len(), 1, "one dispatch: {execution}");
    sent.into_iter().next().unwrap()
}

/// Waits for the file a stopped `slow` handler writes.
pub async fn stopped_marker(dir: &Path, log_id: i64, within: Duration) -> bool {
    let marker = dir.join(format!("stopped-{log_id}"));
    let give_up = Instant::now() + within;
    while Instant::now() < give_up {
        if marker.exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    marker.exists()
}

macro_rules! per_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )+
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::MySql).await;
                }
            )+
        }
    };
}
