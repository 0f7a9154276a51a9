//! Alert webhooks over HTTP: the [`WebhookTransport`] that `ruqi-core`'s
//! alerter sends through, on `reqwest`.

use std::sync::Arc;
use std::time::Duration;

use ruqi_core::alert::{PostFuture, TransportError, WebhookTransport};
use serde_json::Value;

/// POSTs alerts over HTTP(S) with one shared `reqwest` client.
///
/// [`crate::scheduler`] installs one as the process's default alert
/// transport; build one yourself to hand a scheduler built with
/// [`ruqi_core::Scheduler::builder`] a transport of its own, or a client
/// with proxies or certificates of your choosing ([`HttpTransport::with_client`]).
///
/// ```
/// use std::sync::Arc;
/// use ruqi_core::AlertConfig;
/// use ruqi_store::HttpTransport;
///
/// let alerts = AlertConfig {
///     default_url: Some("https://hooks.example.com/ruqi".to_owned()),
///     transport: Some(Arc::new(HttpTransport::new())),
///     ..Default::default()
/// };
/// # assert!(alerts.transport.is_some());
/// ```
#[derive(Debug, Clone)]
pub struct HttpTransport {
    /// Why there is no client, when building it failed: every alert is then refused with that reason.
    client: Result<reqwest::Client, Arc<str>>,
}

impl HttpTransport {
    /// A transport with a client of its own, sending `User-Agent: ruqi/<version>`.
    ///
    /// Should the client not build (no TLS backend), the failure is logged
    /// and every alert is refused with its reason, rather than a panic.
    ///
    /// ```
    /// let transport = ruqi_store::HttpTransport::new();
    /// # let _ = transport;
    /// ```
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("ruqi/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                let reason = error_chain(&error);
                tracing::warn!(error = %reason, "no HTTP client: alerts cannot be sent");
                Arc::from(format!("no HTTP client: {reason}"))
            });
        Self { client }
    }

    /// A transport sending with `client`, as configured: its user agent,
    /// proxies and certificates. Each request's timeout is set from
    /// [`AlertConfig::request_timeout`](ruqi_core::AlertConfig::request_timeout).
    ///
    /// ```
    /// let client = reqwest::Client::builder().user_agent("billing-alerts/2").build()?;
    /// let transport = ruqi_store::HttpTransport::with_client(client);
    /// # let _ = transport;
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client: Ok(client) }
    }
}

impl Default for HttpTransport {
    /// [`HttpTransport::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookTransport for HttpTransport {
    /// POSTs `body` as JSON. Any answer is `Ok(status)`; a URL `reqwest`
    /// cannot use and a redirect loop are [`TransportError::Invalid`];
    /// connection errors and timeouts are [`TransportError::Unreachable`].
    /// Messages leave out the URL.
    fn post<'a>(&'a self, url: &'a str, body: &'a Value, timeout: Duration) -> PostFuture<'a> {
        Box::pin(async move {
            let client = self
                .client
                .as_ref()
                .map_err(|reason| TransportError::Invalid(reason.to_string()))?;
            match client.post(url).timeout(timeout).json(body).send().await {
                Ok(response) => Ok(response.status().as_u16()),
                Err(error) if error.is_builder() || error.is_redirect() => {
                    Err(TransportError::Invalid(error_chain(&error.without_url())))
                }
                Err(error) => Err(TransportError::Unreachable(error_chain(&error.without_url()))),
            }
        })
    }
}

/// An error with its causes: `error sending request: connection refused`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use super::*;

    /// A request as the test webhook read it.
    #[derive(Debug)]
    struct Received {
        head: String,
        body: Value,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim())
            })
        }
    }

    /// A webhook on a local port that reads one request, hands it to the
    /// test and answers `status`, or with `None` never answers.
    async fn webhook(status: Option<u16>) -> (String, oneshot::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/services/T0/secret", listener.local_addr().unwrap());
        let (received, receiver) = oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut data = Vec::new();
            let mut chunk = [0; 4096];
            let head_end = loop {
                if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the connection closed mid-request");
                data.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(str::to_owned)
                })
                .map_or(0, |l| l.trim().parse().unwrap());
            while data.len() < head_end + length {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the connection closed mid-body");
                data.extend_from_slice(&chunk[..n]);
            }
            let body = serde_json::from_slice(&data[head_end..head_end + length]).unwrap();
            let _ = received.send(Received { head, body });
            match status {
                Some(status) => {
                    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    stream.write_all(answer.as_bytes()).await.unwrap();
                    stream.shutdown().await.unwrap();
                }
                None => std::future::pending().await,
            }
        });
        (url, receiver)
    }

    #[tokio::test]
    async fn posts_json_and_returns_the_status_whatever_it_is() {
        for status in [200, 429, 503] {
            let (url, received) = webhook(Some(status)).await;
            let body = serde_json::json!({"event": "failed", "job_id": "nightly-report"});
            let answer = HttpTransport::new().post(&url, &body, Duration::from_secs(10)).await;
            assert_eq!(answer, Ok(status));
            let request = received.await.unwrap();
            assert!(
                request.head.starts_with("POST /services/T0/secret "),
                "{}",
                request.head
            );
            assert_eq!(request.header("content-type"), Some("application/json"));
            let user_agent = concat!("ruqi/", env!("CARGO_PKG_VERSION"));
            assert_eq!(request.header("user-agent"), Some(user_agent));
            assert_eq!(request.body, body);
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_the_message_hides_the_url() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/services/T0/secret", listener.local_addr().unwrap());
        drop(listener);
        let answer = HttpTransport::default()
            .post(&url, &Value::Null, Duration::from_secs(10))
            .await;
        let Err(TransportError::Unreachable(message)) = answer else {
            panic!("{answer:?}");
        };
        assert!(!message.contains("secret"), "{message}");
    }

    #[tokio::test]
    async fn a_silent_webhook_times_out_as_unreachable() {
        let (url, received) = webhook(None).await;
        let answer = HttpTransport::new()
            .post(&url, &Value::Null, Duration::from_millis(200))
            .await;
        assert!(received.await.is_ok());
        let Err(TransportError::Unreachable(message)) = answer else {
            panic!("{answer:?}");
        };
        assert!(!message.contains("secret"), "{message}");
    }

    #[tokio::test]
    async fn a_url_that_cannot_be_used_is_invalid() {
        for url in ["not a url", "ftp://hooks.example.com/secret"] {
            let answer = HttpTransport::new()
                .post(url, &Value::Null, Duration::from_secs(1))
                .await;
            let Err(TransportError::Invalid(message)) = answer else {
                panic!("{url}: {answer:?}");
            };
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
