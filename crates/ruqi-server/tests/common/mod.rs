//! Shared harness for the integration tests: job contexts without a scheduler, a
//! loopback HTTP server to send requests to, and the `ruqi-server` binary as a
//! process ([`server`]).

#![allow(dead_code, unreachable_pub)]

pub mod server;

use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Json;
use poem::{Body, Request, Response, Route, Server, handler};
use ruqi::TriggerSource;
use ruqi::registry::{JobContext, LogSink, RunInfo};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A context like the one the engine builds for a run, with its log sink and cancellation token.
pub struct Run {
    pub ctx: JobContext,
    pub log: LogSink,
    pub cancel: CancellationToken,
}

impl Run {
    pub fn new() -> Self {
        let log = LogSink::new();
        let cancel = CancellationToken::new();
        let ctx = JobContext::new(
            RunInfo {
                job_id: "test-job".into(),
                execution_id: "test-execution".into(),
                scheduled_for: chrono::Utc::now(),
                attempt: 1,
                trigger_source: TriggerSource::Manual,
                timeout: None,
                args: Arc::new(Value::Null),
            },
            cancel.clone(),
            log.clone(),
        );
        Self { ctx, log, cancel }
    }

    /// The execution's output so far.
    pub fn output(&self) -> String {
        self.log.contents()
    }
}

/// The size of `/big`'s body.
pub const BIG_BODY_BYTES: usize = 100 * 1024;

/// Starts a server on 127.0.0.1 with an ephemeral port and returns its base URL.
///
/// - `/ok`: 200 `hello from the test server`
/// - `/echo`: any method; 200 with JSON `{method, content_type, body}` describing the request
/// - `/fail`: 500 `database down`
/// - `/slow`: answers after 30 s
/// - `/big`: 200 with [`BIG_BODY_BYTES`] of `x`
pub async fn http_server() -> String {
    let app = Route::new()
        .at("/ok", ok)
        .at("/echo", echo)
        .at("/fail", fail)
        .at("/slow", slow)
        .at("/big", big);
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind 127.0.0.1:0");
    let addr = *acceptor.local_addr()[0].as_socket_addr().expect("a socket address");
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    format!("http://{addr}")
}

#[handler]
fn ok() -> &'static str {
    "hello from the test server"
}

#[handler]
fn echo(req: &Request, body: String) -> Json<Value> {
    Json(json!({
        "method": req.method().as_str(),
        "content_type": req.header("content-type"),
        "body": body,
    }))
}

#[handler]
fn fail() -> Response {
    Response::builder()
        .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
        .body("database down")
}

#[handler]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

#[handler]
fn big() -> Body {
    Body::from_string("x".repeat(BIG_BODY_BYTES))
}
