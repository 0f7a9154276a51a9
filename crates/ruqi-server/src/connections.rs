//! The connection loop: accepts connections up to a cap, serves each with
//! hyper (HTTP/1.1, and HTTP/2 for clients that speak it from the start),
//! closes connections whose headers do not arrive in time or that go quiet,
//! gives hyper's own refusals the API's JSON body, and stops gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, BoxAcceptor, BoxIo};
use poem::{Endpoint, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long to wait before accepting again after `accept` failed (out of
/// file descriptors, say), rather than spinning on the error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The limits each connection is served under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// How long a request's headers may take to arrive, from the opening of
    /// the connection or the end of the previous answer.
    pub(crate) header_read_timeout: Duration,
    /// How long a connection may go without a byte read or written.
    pub(crate) idle_timeout: Duration,
    /// How many connections are served at once.
    pub(crate) max_connections: usize,
}

/// Serves `app` on the connections of `acceptor` until `stop` resolves, then
/// stops accepting, lets requests in flight finish for up to `grace`, and
/// returns. Beyond [`ConnectionLimits::max_connections`] open connections,
/// new ones wait in the listen backlog until one closes.
pub(crate) async fn serve_connections(
    mut acceptor: BoxAcceptor,
    app: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let app = Arc::new(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = acceptor.accept() => accepted,
        };
        let (io, local_addr, remote_addr, scheme) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "could not accept a connection");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let request = poem::Request::from((req, local_addr.clone(), remote_addr.clone(), scheme.clone()));
            async move { Ok::<_, Infallible>(hyper::Response::from(app.get_response(request).await)) }
        });
        connections.spawn(serve_one(io, service, limits, stopping.clone(), slot));
    }
    drop(acceptor);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait()).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still busy {}s after the stop; closing them",
            grace.as_secs()
        );
    }
}

/// Serves one connection until it ends, goes idle, or the server stops;
/// `_slot` frees its place under the cap when dropped.
async fn serve_one<S, B>(
    io: BoxIo,
    service: S,
    limits: ConnectionLimits,
    stopping: CancellationToken,
    _slot: OwnedSemaphorePermit,
) where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ConnectionIo::new(io, activity.clone()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = activity.idle_for(limits.idle_timeout) => {
            tracing::debug!("closing a connection idle for {}s", limits.idle_timeout.as_secs_f64());
            return;
        }
        () = stopping.cancelled() => {}
    }
    // Stopping: answer what is in flight, take no new request.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection => {}
        () = activity.idle_for(limits.idle_timeout) => {}
    }
}

/// When a connection last read or wrote a byte.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(millis, Ordering::Relaxed);
    }

    /// Resolves once nothing was read or written for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A connection's stream, noting its activity, and giving the bodiless
/// answers hyper writes on its own to requests it cannot parse (400, 414,
/// 431) the API's JSON body.
struct ConnectionIo {
    inner: BoxIo,
    activity: Arc<Activity>,
    /// The JSON answer being written in place of hyper's bodiless one, and
    /// how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl ConnectionIo {
    fn new(inner: BoxIo, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            replacement: None,
        }
    }
}

impl AsyncRead for ConnectionIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for ConnectionIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_none()
            && let Some(json) = json_refusal(buf)
        {
            this.replacement = Some((json, 0));
        }
        if let Some((bytes, written)) = &mut this.replacement
            && *written < bytes.len()
        {
            // hyper retries with the same buffer while this is pending, and
            // takes all of it as written once the replacement is out.
            while *written < bytes.len() {
                match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        *written += n;
                        this.activity.touch();
                    }
                    other => return other,
                }
            }
            return Poll::Ready(Ok(buf.len()));
        }
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// When `buf` is exactly the head of one of hyper's own answers to a
/// request it could not parse (status 400, 414 or 431 with
/// `content-length: 0`; the application's errors always carry a JSON body),
/// the same answer with a JSON body in the API's shape.
fn json_refusal(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf.strip_suffix(b"\r\n\r\n")?).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let (code, message) = match status {
        "400" => ("bad_request", "the request could not be parsed as HTTP"),
        "414" => ("uri_too_long", "the URL is longer than this server reads (64 KiB)"),
        "431" => (
            "headers_too_large",
            "the request's headers are larger than this server reads",
        ),
        _ => return None,
    };
    let headers: Vec<&str> = lines.collect();
    if !headers.iter().any(|h| h.eq_ignore_ascii_case("content-length: 0")) {
        return None;
    }
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    let mut answer = format!("{status_line}\r\n");
    for header in headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("content-length:"))
    {
        answer.push_str(header);
        answer.push_str("\r\n");
    }
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("connection:"))
    {
        answer.push_str("connection: close\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::json_refusal;

    #[test]
    fn hypers_bodiless_refusals_get_json() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 09:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(json_refusal(head).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("date: Thu"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "uri_too_long");
    }

    #[test]
    fn other_answers_pass_as_they_are() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n",
        ] {
            assert!(json_refusal(bytes).is_none(), "{}", String::from_utf8_lossy(bytes));
        }
    }
}
