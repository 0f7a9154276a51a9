//! Shared harness of the admin API tests: a real poem server on a free
//! loopback port, over a SQLite file of its own, with this process's one
//! scheduler (the tests run one process per test under `cargo nextest`).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod backend;

pub use backend::{Backend, TestDb};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, Server};
use reqwest::Method;
use ruqi::entity::job_info;
use ruqi::{JobContext, ManualClock, Registry, Scheduler};
use ruqi_api::{AdminApi, Auth};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The admin token of [`TestApi::start`].
pub const ADMIN: &str = "admin-token-for-tests";
/// The read-only token of [`TestApi::start`].
pub const READ: &str = "read-token-for-tests";
/// Where [`TestApi::start`] mounts the API.
pub const PREFIX: &str = "/admin/jobs";
/// Longest a test waits for a condition before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The manual clock's start: the scheduler's "now" until a test moves it.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    text: String,
}

/// The arguments of `upload`: a function of the application with a secret argument.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UploadArgs {
    bucket: String,
    #[schemars(extend("x-ruqi-secret" = true))]
    access_key: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// An answer: status, headers and the JSON body (`null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts the JSON error shape with this status, code and field.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["code"], code, "{self:?}");
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{self:?}");
        match field {
            Some(field) => assert_eq!(self.body["field"], field, "{self:?}"),
            None => assert!(self.body.get("field").is_none(), "{self:?}"),
        }
    }
}

/// A running admin API.
pub struct TestApi {
    /// `http://127.0.0.1:<port>` + the prefix.
    pub base: String,
    pub db: DatabaseConnection,
    pub scheduler: Scheduler,
    pub clock: ManualClock,
    /// `gated` runs wait for a permit from here (or for cancellation).
    pub gate: Arc<Semaphore>,
    pub http: reqwest::Client,
    database: Option<TestDb>,
}

impl TestApi {
    /// The API at [`PREFIX`] with an admin and a read-only token.
    pub async fn start() -> Self {
        Self::start_with(Auth::bearer().admin_token(ADMIN).read_token(READ), PREFIX).await
    }

    /// The API at `prefix` with `auth`.
    pub async fn start_with(auth: Auth, prefix: &str) -> Self {
        Self::start_mounted(prefix, move |admin| admin.auth(auth)).await
    }

    /// The API at `prefix`, configured by `configure`.
    pub async fn start_mounted(prefix: &str, configure: impl FnOnce(AdminApi) -> AdminApi) -> Self {
        let database = TestDb::new(Backend::Sqlite).await.unwrap();
        Self::start_on_database(database, prefix, configure).await
    }

    /// The API at [`PREFIX`] with an admin and a read-only token, over a
    /// fresh database of `backend`; `None` when its URL is not set (outside
    /// CI). [`TestApi::finish`] drops the database.
    pub async fn start_on(backend: Backend) -> Option<Self> {
        let database = TestDb::new(backend).await?;
        let auth = Auth::bearer().admin_token(ADMIN).read_token(READ);
        Some(Self::start_on_database(database, PREFIX, move |admin| admin.auth(auth)).await)
    }

    async fn start_on_database(database: TestDb, prefix: &str, configure: impl FnOnce(AdminApi) -> AdminApi) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let db = database.db.clone();
        ruqi::migrate(&db).await.unwrap();
        let gate = Arc::new(Semaphore::new(0));
        let clock = ManualClock::new(epoch());
        let scheduler = ruqi::scheduler(db.clone(), registry(gate.clone()))
            .node_name("api-test")
            .clock(Arc::new(clock.clone()))
            .start()
            .await
            .unwrap();
        let admin = configure(AdminApi::new(db.clone(), scheduler.clone()));
        // As an application mounts it: its own router's refusals are JSON too.
        let app = Route::new()
            .nest(prefix, admin.endpoint(prefix))
            .catch_all_error(ruqi_api::error_to_json);
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self {
            base: format!("http://{addr}{}", prefix.trim_end_matches('/')),
            db,
            scheduler,
            clock,
            gate,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            database: Some(database),
        }
    }

    /// Shuts the scheduler down and drops the database.
    pub async fn finish(mut self) {
        self.scheduler.shutdown().await;
        if let Some(database) = self.database.take() {
            database.drop_database().await;
        }
    }

    /// Sends `method path` with `token` and a JSON `body`.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        Self::answer(response).await
    }

    /// Reads a response into an [`Answer`].
    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Answer { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(ADMIN), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(ADMIN), Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Answer {
        self.call(Method::POST, path, Some(ADMIN), None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(ADMIN), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(ADMIN), Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, Some(ADMIN), None).await
    }

    /// Creates a job through the API and returns it; panics unless 201.
    pub async fn create(&self, job: Value) -> Value {
        let answer = self.post("/jobs", job).await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body
    }

    /// Every `job_info` row, straight from the database.
    pub async fn rows(&self) -> Vec<job_info::Model> {
        job_info::Entity::find()
            .order_by_asc(job_info::Column::JobId)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// How many `job_execution` rows there are.
    pub async fn execution_count(&self) -> u64 {
        ruqi::entity::job_execution::Entity::find()
            .count(&self.db)
            .await
            .unwrap()
    }

    /// Polls `GET /executions/{id}` until `done` holds for it.
    pub async fn wait_for_execution(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/executions/{id}");
        wait_until(|| async {
            let answer = self.get(&path).await;
            (answer.status == 200 && done(&answer.body)).then_some(answer.body)
        })
        .await
    }
}

/// Polls `check` until it gives a value, failing the test after [`DEADLINE`].
pub async fn wait_until<T, F, Fut>(check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "condition not met within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The functions the tests' jobs run.
fn registry(gate: Arc<Semaphore>) -> Registry {
    let mut registry = Registry::new();
    registry
        .register("noop", |_ctx: JobContext| async { Ok::<_, String>("done") })
        .description("Does nothing");
    registry
        .register_typed("echo", |ctx: JobContext, args: EchoArgs| async move {
            ctx.log(&args.text);
            Ok::<_, String>(())
        })
        .description("Writes its text to the output");
    registry
        .register_typed("upload", |ctx: JobContext, args: UploadArgs| async move {
            ctx.log(format!("uploading to {} with {} tags", args.bucket, args.tags.len()));
            Ok::<_, String>(args.access_key.len().to_string())
        })
        .description("Uploads to a bucket; its access key is secret");
    registry.register("fail", |_ctx: JobContext| async { Err::<(), _>("boom") });
    let chatty_gate = gate.clone();
    registry.register("chatty", move |ctx: JobContext| {
        let gate = chatty_gate.clone();
        async move {
            ctx.log("line 1");
            ctx.log("line 2");
            gate.acquire().await.map_err(|e| e.to_string())?.forget();
            ctx.log("line 3");
            Ok::<_, String>("returned")
        }
    });
    registry.register("gated", move |ctx: JobContext| {
        let gate = gate.clone();
        async move {
            tokio::select! {
                permit = gate.acquire() => {
                    permit.map_err(|e| e.to_string())?.forget();
                    Ok::<_, String>("let through")
                }
                () = ctx.cancellation_token().cancelled() => Err("cancelled while waiting".to_owned()),
            }
        }
    });
    registry
}

/// A valid job body.
pub fn job(job_id: &str) -> Value {
    json!({"job_id": job_id, "func": "noop", "trigger": "interval", "rule": "10m"})
}
