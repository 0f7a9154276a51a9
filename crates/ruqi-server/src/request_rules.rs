//! What every request must satisfy before it reaches the API: a `Host` that
//! names this server (against DNS rebinding), writes sent as JSON (which a
//! web page on another site cannot send without the browser asking first),
//! a body within the size limit, and room for one more event stream.
//! Each refusal is JSON in the API's shape.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use poem::http::{Method, StatusCode, header};
use poem::web::Json;
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The checks, as configured by the server's flags.
#[derive(Debug)]
pub(crate) struct RequestRules {
    /// Which `Host` headers are accepted; `None`: any.
    hosts: Option<HostRule>,
    /// Where the API is mounted: writes under it must be JSON.
    api_prefix: &'static str,
    /// The largest body accepted, in bytes.
    max_body_size: usize,
    /// One permit per open event stream.
    event_streams: Arc<Semaphore>,
    max_event_streams: usize,
}

/// The `Host` headers that name this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostRule {
    /// The addresses the server is bound to.
    listen: Vec<SocketAddr>,
    /// Further names, lower case: `name` (any port) or `name:port`; `*` is any host.
    allowed: Vec<String>,
}

impl HostRule {
    /// The listen addresses and their loopback names, and `allowed` besides.
    pub(crate) fn new(listen: Vec<SocketAddr>, allowed: &[String]) -> Self {
        let allowed = allowed
            .iter()
            .map(|host| host.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|host| !host.is_empty())
            .collect();
        Self { listen, allowed }
    }

    /// Whether `host` (a `Host` header: `name`, `name:port`, `[v6]:port`)
    /// names this server: an IP literal it listens on (any literal, when it
    /// listens on all addresses: a rebound name is never a literal), or
    /// `localhost` when it listens on loopback, on its port; or one of the
    /// allowed names.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host(&host);
        let name = name.trim_end_matches('.');
        let with_port = format!("{name}:{}", port.unwrap_or(80));
        if self
            .allowed
            .iter()
            .any(|allowed| allowed == "*" || *allowed == name || *allowed == with_port)
        {
            return true;
        }
        let port = port.unwrap_or(80);
        let literal = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        self.listen.iter().filter(|listen| listen.port() == port).any(|listen| {
            let ip = listen.ip();
            match literal {
                Some(literal) => literal.to_canonical() == ip.to_canonical() || ip.is_unspecified(),
                None => name == "localhost" && (ip.is_loopback() || ip.is_unspecified()),
            }
        })
    }
}

/// `name:port` → (`name`, port); `[::1]:80` → (`[::1]`, 80); `name` → (`name`, none).
fn split_host(host: &str) -> (&str, Option<u16>) {
    let port_at = match host.rfind(']') {
        Some(bracket) => host[bracket..].find(':').map(|at| bracket + at),
        None => host.rfind(':'),
    };
    match port_at {
        Some(at) => match host[at + 1..].parse() {
            Ok(port) => (&host[..at], Some(port)),
            Err(_) => (host, None),
        },
        None => (host, None),
    }
}

impl RequestRules {
    /// Rules checking `hosts` (when given), JSON writes under `api_prefix`,
    /// bodies up to `max_body_size` bytes and at most `max_event_streams`
    /// open event streams.
    pub(crate) fn new(
        hosts: Option<HostRule>,
        api_prefix: &'static str,
        max_body_size: usize,
        max_event_streams: usize,
    ) -> Self {
        Self {
            hosts,
            api_prefix,
            max_body_size,
            event_streams: Arc::new(Semaphore::new(max_event_streams)),
            max_event_streams,
        }
    }

    /// Checks `req` and passes it to `ep`, or answers the refusal.
    pub(crate) async fn apply<E: Endpoint>(&self, ep: &E, mut req: Request) -> poem::Result<Response> {
        if let Some(refusal) = self.refuse_host(&req).or_else(|| self.refuse_write(&req)) {
            return Ok(refusal);
        }
        if let Some(refusal) = self.limit_body(&mut req).await {
            return Ok(refusal);
        }
        let events = req.method() == Method::GET && req.uri().path() == format!("{}/events", self.api_prefix);
        let permit = if events {
            match self.event_streams.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return Ok(refusal(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        format!(
                            "{} clients follow the events already, as many as this server serves \
                             (--max-event-streams); try again later",
                            self.max_event_streams
                        ),
                        None,
                    ));
                }
            }
        } else {
            None
        };
        let mut response = ep.call(req).await?.into_response();
        if let Some(permit) = permit {
            // The stream's place is taken until its body is dropped.
            let body = response.take_body().into_async_read();
            response.set_body(Body::from_async_read(HoldingPermit {
                inner: body,
                _permit: permit,
            }));
        }
        Ok(response)
    }

    fn refuse_host(&self, req: &Request) -> Option<Response> {
        let rule = self.hosts.as_ref()?;
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
        if rule.allows(&host) {
            return None;
        }
        Some(refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "Host {host:?} does not name this server; use its listen address, or start it with \
                 --allowed-host {host} to accept that name"
            ),
            Some("Host"),
        ))
    }

    fn refuse_write(&self, req: &Request) -> Option<Response> {
        if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        let path = req.uri().path();
        let under_api = path
            .strip_prefix(self.api_prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if !under_api {
            return None;
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if is_json {
            return None;
        }
        Some(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "{} requests must be sent with Content-Type: application/json, even without a body \
                 (a web page on another site cannot send that without the browser asking first)",
                req.method()
            ),
            Some("Content-Type"),
        ))
    }

    /// Refuses a body over the limit, reading at most one byte more than
    /// the limit; the body read is handed on to the API.
    async fn limit_body(&self, req: &mut Request) -> Option<Response> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.trim().parse::<u64>().ok());
        let too_large = |size: String| {
            refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the request body is {size} bytes; this server takes at most {} (--max-body-size)",
                    self.max_body_size
                ),
                None,
            )
        };
        let limit = u64::try_from(self.max_body_size).unwrap_or(u64::MAX);
        match declared {
            Some(0) => return None,
            Some(length) if length > limit => return Some(too_large(length.to_string())),
            Some(_) => {}
            // No length and no chunked body: there is none.
            None if !req.headers().contains_key(header::TRANSFER_ENCODING) => return None,
            None => {}
        }
        let mut bytes = Vec::new();
        let read = req
            .take_body()
            .into_async_read()
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .await;
        if let Err(error) = read {
            return Some(refusal(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the request body could not be read: {error}"),
                None,
            ));
        }
        if bytes.len() > self.max_body_size {
            return Some(too_large(format!("more than {}", self.max_body_size)));
        }
        req.set_body(bytes);
        None
    }
}

/// A refusal in the API's error shape.
fn refusal(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Response {
    let mut body = serde_json::json!({ "code": code, "message": message });
    if let Some(field) = field {
        body["field"] = field.into();
    }
    (status, Json(body)).into_response()
}

/// A response body that keeps an event stream's permit while it is read.
struct HoldingPermit<R> {
    inner: R,
    _permit: OwnedSemaphorePermit,
}

impl<R: AsyncRead + Unpin> AsyncRead for HoldingPermit<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(listen: &str, allowed: &[&str]) -> HostRule {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        HostRule::new(vec![listen.parse().unwrap()], &allowed)
    }

    #[test]
    fn loopback_names_and_the_listen_address_are_accepted() {
        let rule = rule("127.0.0.1:8200", &[]);
        for host in ["127.0.0.1:8200", "localhost:8200", "LOCALHOST.:8200"] {
            assert!(rule.allows(host), "{host}");
        }
        for host in [
            "evil.example:8200",
            "127.0.0.1:8201",
            "localhost",
            "127.0.0.2:8200",
            "[::1]:8200",
        ] {
            assert!(!rule.allows(host), "{host}");
        }
    }

    #[test]
    fn v6_and_all_addresses() {
        assert!(rule("[::1]:8200", &[]).allows("[::1]:8200"));
        assert!(rule("[::1]:8200", &[]).allows("localhost:8200"));
        let everywhere = rule("0.0.0.0:8200", &[]);
        assert!(everywhere.allows("192.0.2.7:8200"));
        assert!(!everywhere.allows("rebound.example:8200"));
    }

    #[test]
    fn allowed_names_with_or_without_a_port() {
        let names = rule(
            "127.0.0.1:8200",
            &["ruqi.internal", "proxy.example:443", " Admin.Example. "],
        );
        assert!(names.allows("ruqi.internal:8200"));
        assert!(names.allows("ruqi.internal"));
        assert!(names.allows("proxy.example:443"));
        assert!(!names.allows("proxy.example:444"));
        assert!(names.allows("admin.example"));
        assert!(rule("127.0.0.1:8200", &["*"]).allows("anything.example"));
    }

    #[test]
    fn hosts_split_at_their_port() {
        assert_eq!(split_host("a.example:80"), ("a.example", Some(80)));
        assert_eq!(split_host("[::1]:8200"), ("[::1]", Some(8200)));
        assert_eq!(split_host("[::1]"), ("[::1]", None));
        assert_eq!(split_host("a.example"), ("a.example", None));
        assert_eq!(split_host("a.example:x"), ("a.example:x", None));
    }
}
