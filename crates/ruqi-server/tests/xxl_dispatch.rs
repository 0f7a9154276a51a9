//! `ruqi-server` as an XXL-JOB scheduling center driving real executors, on
//! SQLite, PostgreSQL and MariaDB: jobs whose `func` is `xxl` are sent to
//! pyxxl executors (version 0.4.8, the Python named by
//! `RUQI_TEST_PYXXL_PYTHON`) and end with their callbacks — success,
//! failure, timeout, a kill that reaches the handler, the executor's log
//! copied line by line while the run goes on; the routes over two
//! executors (FIRST, ROUND, BUSYOVER, FAILOVER with one executor killed,
//! SHARDING_BROADCAST); the block strategies DISCARD_LATER and
//! SERIAL_EXECUTION. A minimal executor written here implements only
//! `/run` and calls back to another node than the one that sent the run,
//! as a hand-written executor following XXL-JOB's RESTful API would; a run
//! whose executor left without calling back ends `lost`, runs again within
//! its misfire grace, and keeps a late result as a line of its output.
//!
//! Without pyxxl the pyxxl tests say so and pass, except with `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

#[allow(dead_code, unreachable_pub)]
#[path = "common/pyxxl.rs"]
mod pyxxl;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use pyxxl::{Executor, eventually, live_addresses, pyxxl_python};
use serde_json::{Value, json};
use server::{DEADLINE, ServerProcess, free_port};
use tempfile::TempDir;

/// The app name the pyxxl executors register under.
const APP: &str = "pyxxl-demo";

/// A ruqi-server on a fresh database of one backend.
struct Center {
    test_db: TestDb,
    dir: TempDir,
    server: ServerProcess,
}

impl Center {
    async fn start(backend: Backend, args: &[&str]) -> Option<Self> {
        let test_db = TestDb::new(backend).await?;
        let dir = tempfile::tempdir().unwrap();
        let server = Self::node(&test_db, dir.path(), args).await;
        Some(Self { test_db, dir, server })
    }

    /// Another node on the same database.
    async fn node(test_db: &TestDb, dir: &Path, args: &[&str]) -> ServerProcess {
        let mut all = vec!["--database-url", &test_db.url];
        all.extend_from_slice(args);
        ServerProcess::start(dir, &all, &[]).await
    }

    /// The executor API base as pyxxl is given it.
    fn admin_base(&self) -> String {
        format!("{}/xxl-job-admin/api/", self.server.base)
    }

    /// Starts a pyxxl executor in a folder of its own; returns it with its address.
    async fn pyxxl(&self, python: &Path, name: &str) -> (Executor, String) {
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
    async fn job(&self, job_id: &str, args: Value, extra: Value) {
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
    async fn start_run(&self, job_id: &str) -> String {
        let (status, run) = self.server.post(&format!("/api/jobs/{job_id}/run"), json!({})).await;
        assert_eq!(status, 202, "{run}");
        run["execution_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{run}"))
            .to_owned()
    }

    /// The execution once it has ended.
    async fn ended(&self, execution_id: &str) -> Value {
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
    async fn log(&self, execution_id: &str) -> Vec<String> {
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
    async fn log_shows(&self, execution_id: &str, text: &str) {
        eventually(
            &self.server,
            &format!("the log of {execution_id} shows {text:?}"),
            async || self.log(execution_id).await.iter().any(|l| l.contains(text)),
        )
        .await;
    }

    async fn finish(self) {
        drop(self.server);
        self.test_db.drop_database().await;
    }
}

/// Waits for attempt `attempt` of `job_id` to have ended; returns it.
async fn eventually_run(center: &Center, job_id: &str, attempt: u64) -> Value {
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
fn dispatches(output: &str) -> Vec<(String, i64)> {
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

fn output_of(execution: &Value) -> String {
    execution["output"].as_str().unwrap_or_default().to_owned()
}

/// The one executor and `logId` of a run.
fn dispatched_once(execution: &Value) -> (String, i64) {
    let sent = dispatches(&output_of(execution));
    assert_eq!(sent.len(), 1, "one dispatch: {execution}");
    sent.into_iter().next().unwrap()
}

/// Waits for the file a stopped `slow` handler writes.
async fn stopped_marker(dir: &Path, log_id: i64, within: Duration) -> bool {
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

per_backend!(
    pyxxl_runs_end_by_their_callbacks,
    routes_choose_among_two_pyxxl_executors,
    block_strategies_are_the_executors,
    a_restful_executor_calls_back_to_another_node,
);

async fn pyxxl_runs_end_by_their_callbacks(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (executor, address) = center.pyxxl(&python, "one").await;
    let executor_dir = center.dir.path().join("one");

    center
        .job("hello", json!({"app": APP, "handler": "hello"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("hello").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert!(output_of(&run).ends_with("hello from pyxxl"), "{run}");
    assert!(output_of(&run).contains(&format!("route FIRST: {address}")), "{run}");
    assert_eq!(dispatched_once(&run).0, address);

    center
        .job("fail", json!({"app": APP, "handler": "fail"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("fail").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("no such account"), "{run}");

    center
        .job("unknown", json!({"app": APP, "handler": "nobody"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("unknown").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("refused the run"), "{run}");

    // The executor's log is copied into the run's, each line once and in order.
    center
        .job(
            "lines",
            json!({"app": APP, "handler": "lines", "params": "40"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("lines").await).await;
    assert_eq!(run["status"], "success", "{run}");
    let numbers: Vec<u32> = output_of(&run)
        .lines()
        .filter_map(|line| line.rsplit_once(" line ").and_then(|(_, n)| n.trim().parse().ok()))
        .collect();
    assert_eq!(numbers, (1..=40).collect::<Vec<u32>>(), "{run}");

    // timeout_s reaches the executor as executorTimeout, and the run is a timeout.
    center
        .job(
            "late",
            json!({"app": APP, "handler": "slow", "params": "30"}),
            json!({"timeout_s": 1}),
        )
        .await;
    let run = center.ended(&center.start_run("late").await).await;
    assert_eq!(run["status"], "timeout", "{run}");
    let (_, log_id) = dispatched_once(&run);
    assert!(
        stopped_marker(&executor_dir, log_id, DEADLINE).await,
        "the handler was stopped"
    );

    // Cancelling a run kills it on the executor within a second; its log
    // is followed while it runs.
    center
        .job(
            "long",
            json!({"app": APP, "handler": "slow", "params": "30"}),
            json!({}),
        )
        .await;
    let id = center.start_run("long").await;
    center.log_shows(&id, "sleeping 30.0 s").await;
    let log_id = dispatches(&center.log(&id).await.join("\n"))[0].1;
    let (status, body) = center
        .server
        .post(&format!("/api/executions/{id}/cancel"), json!({}))
        .await;
    assert!(status < 300, "{status} {body}");
    assert!(
        stopped_marker(&executor_dir, log_id, Duration::from_secs(1)).await,
        "the kill reached the handler within 1 s\n{}",
        executor.output()
    );
    let run = center.ended(&id).await;
    assert_eq!(run["status"], "cancelled", "{run}");

    // A late or repeated callback changes no ended run.
    let (status, answer) = center
        .server
        .post(
            "/xxl-job-admin/api/callback",
            json!([{"logId": log_id, "handleCode": 200, "handleMsg": "late"}]),
        )
        .await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));
    assert_eq!(center.ended(&id).await["status"], "cancelled");

    drop(executor);
    center.finish().await;
}

async fn routes_choose_among_two_pyxxl_executors(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (first_executor, a) = center.pyxxl(&python, "a").await;
    let (second_executor, b) = center.pyxxl(&python, "b").await;
    let mut sorted = [a.clone(), b.clone()];
    sorted.sort();
    let overlap = json!({"overlap": "allow", "max_instances": 4});

    let targets = async |job_id: &str, runs: usize| -> Vec<String> {
        let mut targets = Vec::new();
        for _ in 0..runs {
            let run = center.ended(&center.start_run(job_id).await).await;
            assert_eq!(run["status"], "success", "{run}");
            targets.push(dispatched_once(&run).0);
        }
        targets
    };

    center
        .job(
            "first",
            json!({"app": APP, "handler": "hello", "route": "FIRST"}),
            json!({}),
        )
        .await;
    assert_eq!(targets("first", 2).await, [sorted[0].clone(), sorted[0].clone()]);
    center
        .job(
            "last",
            json!({"app": APP, "handler": "hello", "route": "LAST"}),
            json!({}),
        )
        .await;
    assert_eq!(targets("last", 2).await, [sorted[1].clone(), sorted[1].clone()]);

    center
        .job(
            "round",
            json!({"app": APP, "handler": "hello", "route": "ROUND"}),
            json!({}),
        )
        .await;
    let round = targets("round", 4).await;
    assert_ne!(round[0], round[1], "{round:?}");
    assert_eq!((&round[0], &round[1]), (&round[2], &round[3]), "{round:?}");

    center
        .job(
            "hashed",
            json!({"app": APP, "handler": "hello", "route": "CONSISTENT_HASH"}),
            json!({}),
        )
        .await;
    let hashed = targets("hashed", 3).await;
    assert!(hashed.iter().all(|t| *t == hashed[0]), "{hashed:?}");

    // One run, one shard on each executor, each with its own logId.
    center
        .job(
            "broadcast",
            json!({"app": APP, "handler": "shard", "route": "SHARDING_BROADCAST"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("broadcast").await).await;
    assert_eq!(run["status"], "success", "{run}");
    let shards = dispatches(&output_of(&run));
    assert_eq!(shards.len(), 2, "{run}");
    let mut reached: Vec<&str> = shards.iter().map(|(address, _)| address.as_str()).collect();
    reached.sort();
    assert_eq!(reached, [sorted[0].as_str(), sorted[1].as_str()]);
    assert_ne!(shards[0].1, shards[1].1);
    for shard in ["shard 0 of 2", "shard 1 of 2"] {
        assert!(output_of(&run).contains(shard), "{shard}: {run}");
    }

    // BUSYOVER: the job is busy on the first executor, so the next run goes to the second.
    center
        .job(
            "busy",
            json!({"app": APP, "handler": "slow", "params": "30", "route": "BUSYOVER"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("busy").await;
    center.log_shows(&first, "sleeping").await;
    let second = center.start_run("busy").await;
    center.log_shows(&second, "sleeping").await;
    let went = |lines: Vec<String>| dispatches(&lines.join("\n"))[0].0.clone();
    assert_eq!(went(center.log(&first).await), sorted[0]);
    assert_eq!(went(center.log(&second).await), sorted[1]);
    for id in [&first, &second] {
        center
            .server
            .post(&format!("/api/executions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(center.ended(id).await["status"], "cancelled");
    }

    // FAILOVER: the first executor is killed without leaving the registry;
    // its heartbeat fails and the run goes to the other.
    let (mut gone, stays) = if sorted[0] == a {
        (first_executor, second_executor)
    } else {
        (second_executor, first_executor)
    };
    gone.kill();
    assert!(live_addresses(&center.server, APP).await.contains(&sorted[0]));
    center
        .job(
            "failover",
            json!({"app": APP, "handler": "hello", "route": "FAILOVER"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("failover").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(dispatched_once(&run).0, sorted[1]);
    assert!(
        output_of(&run).contains(&format!("{}/beat could not be reached", sorted[0])),
        "{run}"
    );

    drop(stays);
    center.finish().await;
}

async fn block_strategies_are_the_executors(backend: Backend) {
    let Some(python) = pyxxl_python() else { return };
    let Some(center) = Center::start(backend, &[]).await else {
        return;
    };
    let (executor, _) = center.pyxxl(&python, "one").await;
    let overlap = json!({"overlap": "allow", "max_instances": 4});

    // DISCARD_LATER: a second run while the first goes on is refused.
    center
        .job(
            "discard",
            json!({"app": APP, "handler": "slow", "params": "30", "block_strategy": "DISCARD_LATER"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("discard").await;
    center.log_shows(&first, "sleeping").await;
    let refused = center.ended(&center.start_run("discard").await).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("refused the run"),
        "{refused}"
    );
    center
        .server
        .post(&format!("/api/executions/{first}/cancel"), json!({}))
        .await;
    assert_eq!(center.ended(&first).await["status"], "cancelled");

    // SERIAL_EXECUTION: the second waits on the executor and ends after the first.
    center
        .job(
            "serial",
            json!({"app": APP, "handler": "slow", "params": "1"}),
            overlap.clone(),
        )
        .await;
    let first = center.start_run("serial").await;
    center.log_shows(&first, "sleeping").await;
    let second = center.start_run("serial").await;
    let (first, second) = (center.ended(&first).await, center.ended(&second).await);
    for run in [&first, &second] {
        assert_eq!(run["status"], "success", "{run}");
    }
    let ended = |run: &Value| chrono::DateTime::parse_from_rfc3339(run["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        ended(&second) - ended(&first) >= chrono::TimeDelta::milliseconds(900),
        "{first}\n{second}"
    );

    // Killing the running one drops the run queued behind it on the
    // executor without a callback; the center closes it.
    center
        .job("queue", json!({"app": APP, "handler": "slow", "params": "30"}), overlap)
        .await;
    let running = center.start_run("queue").await;
    center.log_shows(&running, "sleeping").await;
    let queued = center.start_run("queue").await;
    center.log_shows(&queued, "took the run").await;
    center
        .server
        .post(&format!("/api/executions/{running}/cancel"), json!({}))
        .await;
    assert_eq!(center.ended(&running).await["status"], "cancelled");
    let dropped = center.ended(&queued).await;
    assert_eq!(dropped["status"], "failed", "{dropped}");
    assert!(
        dropped["error"].as_str().unwrap().contains("when job")
            && dropped["error"].as_str().unwrap().contains("was killed there"),
        "{dropped}"
    );

    drop(executor);
    center.finish().await;
}

/// A minimal executor following XXL-JOB's RESTful API: it serves only
/// `/run`, answers at once, and sends each result to `callback_to` a
/// moment later; the handler `silent` never calls back.
struct RestfulExecutor {
    address: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl RestfulExecutor {
    async fn start(callback_to: String) -> Self {
        use poem::web::Json;
        use poem::{EndpointExt, Route, handler, post};

        let received = Arc::new(Mutex::new(Vec::new()));
        let port = free_port();
        let seen = received.clone();
        #[handler]
        async fn run(
            Json(trigger): Json<Value>,
            poem::web::Data(state): poem::web::Data<&(String, Arc<Mutex<Vec<Value>>>)>,
        ) -> Json<Value> {
            let (callback_to, seen) = state.clone();
            seen.lock().unwrap().push(trigger.clone());
            if trigger["executorHandler"] != "silent" {
                tokio::spawn(async move {
                    let result = json!([{
                        "logId": trigger["logId"],
                        "logDateTim": trigger["logDateTime"],
                        "handleCode": 200,
                        "handleMsg": format!("done by a RESTful executor with {}", trigger["executorParams"]),
                    }]);
                    let answer = reqwest::Client::new().post(&callback_to).json(&result).send().await;
                    assert_eq!(answer.map(|a| a.status().as_u16()).ok(), Some(200));
                });
            }
            Json(json!({"code": 200, "msg": null}))
        }
        let app = Route::new().at("/run", post(run)).data((callback_to, seen));
        let listener = poem::listener::TcpListener::bind(format!("127.0.0.1:{port}"));
        let acceptor = poem::listener::Listener::into_acceptor(listener).await.unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self {
            address: format!("http://127.0.0.1:{port}"),
            received,
        }
    }
}

async fn a_restful_executor_calls_back_to_another_node(backend: Backend) {
    let Some(center) = Center::start(backend, &["--xxl-lost-after", "1s"]).await else {
        return;
    };
    let other = Center::node(&center.test_db, center.dir.path(), &[]).await;
    let executor = RestfulExecutor::start(format!("{}/xxl-job-admin/api/callback", other.base)).await;
    let registration =
        json!({"registryGroup": "EXECUTOR", "registryKey": "restful", "registryValue": executor.address});
    let (status, answer) = center
        .server
        .post("/xxl-job-admin/api/registry", registration.clone())
        .await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));

    // Sent by the first node, completed by a callback to the second.
    center
        .job(
            "restful",
            json!({"app": "restful", "handler": "report", "params": "p-1"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("restful").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert!(
        output_of(&run).ends_with("done by a RESTful executor with \"p-1\""),
        "{run}"
    );
    let (_, log_id) = dispatched_once(&run);
    let trigger = executor.received.lock().unwrap()[0].clone();
    assert_eq!(trigger["logId"], log_id);
    assert_eq!(trigger["executorHandler"], "report");
    assert_eq!(trigger["executorBlockStrategy"], "SERIAL_EXECUTION");
    assert_eq!(trigger["glueType"], "BEAN");
    assert_eq!(
        (trigger["broadcastIndex"].clone(), trigger["broadcastTotal"].clone()),
        (json!(0), json!(1))
    );

    // The job keeps its jobId; every dispatch has a new logId.
    let again = center.ended(&center.start_run("restful").await).await;
    let second = executor.received.lock().unwrap()[1].clone();
    assert_eq!(second["jobId"], trigger["jobId"]);
    assert!(dispatched_once(&again).1 > log_id, "{again}");

    // Addresses given by hand serve an app whose executors do not register.
    let (status, refused) = center
        .server
        .call(
            reqwest::Method::PUT,
            "/api/executors/by-hand/addresses",
            None,
            Some(json!({"addresses": ["10.0.0.1:9999"]})),
        )
        .await;
    assert_eq!(
        (status, refused["field"].clone()),
        (422, json!("addresses/0")),
        "{refused}"
    );
    let (status, app) = center
        .server
        .call(
            reqwest::Method::PUT,
            "/api/executors/by-hand/addresses",
            None,
            Some(json!({"addresses": [format!("{}/", executor.address)]})),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["manual_addresses"], json!([executor.address]));
    center
        .job("by-hand", json!({"app": "by-hand", "handler": "report"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("by-hand").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(dispatched_once(&run).0, executor.address);
    let (status, _) = center
        .server
        .call(reqwest::Method::DELETE, "/api/executors/by-hand/addresses", None, None)
        .await;
    assert_eq!(status, 204);
    let (_, apps) = center.server.get("/api/executors").await;
    assert!(apps.as_array().unwrap().iter().all(|a| a["app"] != "by-hand"), "{apps}");

    // A route that does not exist is refused when the job is written.
    let (status, refused) = center
        .server
        .post(
            "/api/jobs",
            json!({"job_id": "nearest", "func": "xxl", "trigger": "interval", "rule": "1h",
                   "args": {"app": "restful", "handler": "report", "route": "NEAREST"}}),
        )
        .await;
    assert_eq!(
        (status, refused["field"].clone()),
        (422, json!("args/route")),
        "{refused}"
    );
    let (status, _) = center.server.get("/api/jobs/nearest").await;
    assert_eq!(status, 404);

    // A run whose executor leaves without calling back is lost after
    // --xxl-lost-after, and runs again within its misfire grace (5 s) as any
    // lost run does: here to no executor at all.
    center
        .job("silent", json!({"app": "restful", "handler": "silent"}), json!({}))
        .await;
    let id = center.start_run("silent").await;
    center.log_shows(&id, "took the run").await;
    let (status, _) = center
        .server
        .post("/xxl-job-admin/api/registryRemove", registration)
        .await;
    assert_eq!(status, 200);
    let run = center.ended(&id).await;
    assert_eq!(run["status"], "lost", "{run}");
    assert!(run["error"].as_str().unwrap().contains("result lost"), "{run}");
    let rerun = eventually_run(&center, "silent", 2).await;
    assert_eq!(
        (rerun["trigger_source"].clone(), rerun["status"].clone()),
        (json!("retry"), json!("failed")),
        "{rerun}"
    );
    assert!(
        rerun["error"]
            .as_str()
            .unwrap()
            .contains("no live executor of app `restful`"),
        "{rerun}"
    );

    // The executor comes back and calls back late: the lost run stays
    // lost, and keeps the result as a line of its output.
    let (_, log_id) = dispatched_once(&run);
    let late = json!([{"logId": log_id, "handleCode": 200, "handleMsg": "finished after all"}]);
    let (status, answer) = center.server.post("/xxl-job-admin/api/callback", late).await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));
    let (_, after) = center.server.get(&format!("/api/executions/{id}")).await;
    assert_eq!(after["status"], "lost", "{after}");
    assert!(
        output_of(&after).ends_with(&format!(
            "late result from the executor (logId {log_id}): handleCode 200: finished after all"
        )),
        "{after}"
    );

    // A job of an app with no live executor fails at once, saying why.
    let run = center.ended(&center.start_run("restful").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("no live executor of app `restful`"),
        "{run}"
    );

    drop(other);
    center.finish().await;
}
