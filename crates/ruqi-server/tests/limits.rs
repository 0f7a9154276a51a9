//! The server's limits, seen by clients over real connections to the
//! `ruqi-server` binary: half-sent requests are closed after the header read
//! timeout while `/api/health` keeps answering, a stalled body is cut after
//! the idle timeout, connections beyond the cap
//! wait while open ones are served, oversized URLs and bodies are answered
//! with JSON 414 and 413 (and nothing is written), as is a request that is
//! not HTTP (400), and event streams are capped.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../tests/common/mod.rs"]
mod shared;

use std::time::Duration;

use common::server::{DEADLINE, ServerProcess, closed_by_server, read_answer};
use serde_json::{Value, json};
use shared::{Backend, TestDb};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// `host:port` of the server.
fn address(server: &ServerProcess) -> String {
    server.base.strip_prefix("http://").unwrap().to_owned()
}

/// A connection that sent the start of a request's headers and stops there.
async fn half_sent(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: ").await.unwrap();
    stream
}

/// Whether the server has neither answered nor closed `stream` yet.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout_while_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--header-read-timeout", "2s", "--max-connections", "1000"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    let address = address(&server);

    // More than the 256 descriptors that once sufficed to starve the server.
    let mut stalled = Vec::new();
    for _ in 0..300 {
        stalled.push(half_sent(&address).await);
    }
    let opened = Instant::now();
    let (status, health) = server.get("/api/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(
        stalled.iter().all(still_open),
        "health answered only once stalled connections were gone ({:?})",
        opened.elapsed()
    );

    for stream in &mut stalled {
        assert!(closed_by_server(stream).await, "a half-sent request is still open");
    }
    assert!(
        opened.elapsed() >= Duration::from_secs(1),
        "closed after {:?}, well before the 2s timeout",
        opened.elapsed()
    );
    let (status, _) = server.get("/api/health").await;
    assert_eq!(status, 200);
    assert!(server.terminate().await.success(), "{}", server.output());
}

#[tokio::test]
async fn beyond_the_connection_cap_new_connections_wait_and_open_ones_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--max-connections", "4", "--header-read-timeout", "3s"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    let address = address(&server);
    let health = format!("GET /api/health HTTP/1.1\r\nHost: {address}\r\n\r\n");

    // A keep-alive connection served before the places fill up.
    let mut kept = TcpStream::connect(&address).await.unwrap();
    kept.write_all(health.as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut kept).await.0, 200);
    // The rest of the places (one may be the harness's own pooled connection).
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(half_sent(&address).await);
    }

    // A new connection's complete request waits while every place is taken…
    let mut waiting = TcpStream::connect(&address).await.unwrap();
    waiting.write_all(health.as_bytes()).await.unwrap();
    let early = tokio::time::timeout(Duration::from_secs(1), read_answer(&mut waiting)).await;
    assert!(early.is_err(), "answered beyond the cap: {early:?}");
    // …while the open connection is still served.
    kept.write_all(health.as_bytes()).await.unwrap();
    let (status, _, body) = read_answer(&mut kept).await;
    assert_eq!(status, 200, "{body}");

    // Once the stalled requests time out, the waiting one is answered.
    let (status, _, body) = tokio::time::timeout(DEADLINE, read_answer(&mut waiting)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    for stream in &mut stalled {
        assert!(closed_by_server(stream).await);
    }
    assert!(server.terminate().await.success(), "{}", server.output());
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_cut_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--idle-timeout", "1s", "--header-read-timeout", "30s"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
        address(&server)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(br#"{"job_id": "#).await.unwrap();
    let stalled = Instant::now();
    assert!(
        closed_by_server(&mut stream).await,
        "a stalled body is still being waited for"
    );
    assert!(
        stalled.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the 1s idle timeout",
        stalled.elapsed()
    );
    assert_eq!(server.get("/api/jobs").await.1["total"], 0);
    assert!(server.terminate().await.success(), "{}", server.output());
}

async fn oversized_urls_and_bodies_are_refused_with_json(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--database-url", test_db.url.as_str(), "--max-body-size", "4KiB"];
    let mut server = ServerProcess::start(dir.path(), &args, &[]).await;

    // A URL longer than the server reads (and than clients such as reqwest send).
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    let request = format!(
        "GET /api/jobs?job_id={} HTTP/1.1\r\nHost: {}\r\n\r\n",
        "a".repeat(70 * 1024),
        address(&server)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, head, body) = read_answer(&mut stream).await;
    assert_eq!(status, 414, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "uri_too_long", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");

    // A request that is not HTTP at all gets the same shape from the parser.
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream.write_all(b"HELLO THERE\r\n\r\n").await.unwrap();
    let (status, head, body) = read_answer(&mut stream).await;
    assert_eq!(status, 400, "{head}{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "bad_request", "{body}");

    // A body over the limit, with its length declared…
    let job = |job_id: &str, description_bytes: usize| {
        json!({
            "job_id": job_id, "func": "log", "trigger": "interval", "rule": "1h",
            "description": "d".repeat(description_bytes),
        })
    };
    let (status, body) = server.post("/api/jobs", job("declared", 5000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "too_large", "{body}");
    assert!(body["message"].as_str().unwrap().contains("--max-body-size"), "{body}");

    // …and sent in chunks without a length.
    let payload = job("chunked", 5000).to_string();
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    let mut request = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        address(&server)
    )
    .into_bytes();
    for piece in payload.as_bytes().chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // In one write: the server answers once it has read past the limit.
    stream.write_all(&request).await.unwrap();
    let (status, head, body) = read_answer(&mut stream).await;
    assert_eq!(status, 413, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "too_large", "{body}");

    // Under the limit, the same job is written; the refused ones are not.
    let (status, body) = server.post("/api/jobs", job("small", 1000)).await;
    assert_eq!(status, 201, "{body}");
    let (status, list) = server.get("/api/jobs").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["small"], "{list}");

    assert!(server.terminate().await.success(), "{}", server.output());
    test_db.drop_database().await;
}

#[tokio::test]
async fn event_streams_beyond_the_cap_are_refused_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--max-event-streams", "2"], &[]).await;
    let events = format!("{}/api/events", server.base);
    // A client of its own per stream, so each is a connection of its own.
    let follow = || async {
        reqwest::Client::new()
            .get(&events)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap()
    };
    let first = follow().await;
    let second = follow().await;
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);

    let third = follow().await;
    assert_eq!(third.status(), 503);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("--max-event-streams"),
        "{body}"
    );

    // Closing one stream frees its place.
    drop(first);
    let give_up = Instant::now() + DEADLINE;
    loop {
        let again = follow().await;
        if again.status() == 200 {
            break;
        }
        assert_eq!(again.status(), 503);
        assert!(Instant::now() < give_up, "the closed stream's place was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(second);
    assert!(server.terminate().await.success(), "{}", server.output());
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

on_every_backend!(oversized_urls_and_bodies_are_refused_with_json);
