//! Requests the server sends on its own (the `http` built-in, alert
//! webhooks), kept away from its own admin API: a job or an alert URL aimed
//! at the server itself could otherwise write jobs with the server's own
//! authority (a tokenless server trusts whoever reaches it on loopback).
//!
//! Redirects are followed here, hop by hop, so that each hop is checked too.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use reqwest::{Client, Method, Request, Response, StatusCode, Url};
use ruqi_core::alert::{PostFuture, TransportError, WebhookTransport};
use serde_json::Value;
use tokio::time::Instant;

/// How many redirects one request may follow, as browsers and `reqwest` allow.
const MAX_REDIRECTS: usize = 10;

/// The addresses this server listens on, which its outbound requests refuse
/// to reach (its admin API), on any hop of a redirect. Other ports of the
/// same host stay reachable.
///
/// ```
/// use ruqi_server::OwnAddresses;
///
/// let own = OwnAddresses::new(vec!["127.0.0.1:8200".parse().unwrap()]);
/// assert!(own.is_own("127.0.0.1:8200".parse().unwrap()));
/// assert!(own.is_own("[::ffff:127.0.0.1]:8200".parse().unwrap()));
/// assert!(!own.is_own("127.0.0.1:9000".parse().unwrap()));
/// assert!(!OwnAddresses::none().is_own("127.0.0.1:8200".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnAddresses {
    listen: Arc<[SocketAddr]>,
}

impl OwnAddresses {
    /// The addresses the server is bound to (with their real ports).
    pub fn new(listen: Vec<SocketAddr>) -> Self {
        Self { listen: listen.into() }
    }

    /// No address refused: what `--allow-self-requests` asks for.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether a connection to `target` would reach this server: the same
    /// port, on the address it listens on, or on any address of this
    /// machine when it listens on all of them (`0.0.0.0`, `::`).
    pub fn is_own(&self, target: SocketAddr) -> bool {
        let ip = target.ip().to_canonical();
        self.listen.iter().any(|listen| {
            let listen_ip = listen.ip().to_canonical();
            listen.port() == target.port()
                && (listen_ip == ip
                    // Connecting to 0.0.0.0 or :: reaches this machine.
                    || (ip.is_unspecified() && (listen_ip.is_loopback() || listen_ip.is_unspecified()))
                    || (listen_ip.is_unspecified() && is_local(ip)))
        })
    }

    /// Refuses `url` when its host (resolved, if it is a name) is one of
    /// this server's addresses on its port. A name that does not resolve is
    /// let through: the request then fails on its own, with its own reason.
    pub async fn check(&self, url: &Url) -> Result<(), Refused> {
        if self.listen.is_empty() {
            return Ok(());
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Ok(());
        };
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
        let targets: Vec<SocketAddr> = match literal {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => match tokio::net::lookup_host((host, port)).await {
                Ok(addrs) => addrs.collect(),
                Err(_) => Vec::new(),
            },
        };
        if let Some(target) = targets.iter().find(|target| self.is_own(**target)) {
            return Err(Refused {
                url: url.clone(),
                target: *target,
            });
        }
        if literal.is_err() && !targets.is_empty() {
            VettedNames::global().remember(host, targets.iter().map(SocketAddr::ip).collect());
        }
        Ok(())
    }
}

/// How many names [`VettedNames`] keeps before it starts afresh.
const MAX_VETTED_NAMES: usize = 1024;

/// The addresses [`OwnAddresses::check`] last found for each name it let
/// through, which the clients of [`client_builder`] connect to instead of
/// asking DNS again: a name whose answer changes between the check and the
/// connection (DNS rebinding) cannot lead that request to this server.
/// Names never checked are resolved as usual.
///
/// Kept by name alone (the resolver is not told the port), so two requests
/// racing to one name on different ports while its answer flips could still
/// swap addresses; each request's own check narrows that to such a race.
#[derive(Debug, Default)]
struct VettedNames {
    names: std::sync::Mutex<std::collections::HashMap<String, Vec<IpAddr>>>,
}

impl VettedNames {
    /// The one table of the process, shared by every client of this module.
    fn global() -> &'static Self {
        static NAMES: std::sync::OnceLock<VettedNames> = std::sync::OnceLock::new();
        NAMES.get_or_init(Self::default)
    }

    fn remember(&self, name: &str, addrs: Vec<IpAddr>) {
        let mut names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.len() >= MAX_VETTED_NAMES && !names.contains_key(name) {
            names.clear();
        }
        names.insert(name.to_ascii_lowercase(), addrs);
    }

    fn get(&self, name: &str) -> Option<Vec<IpAddr>> {
        let names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        names.get(&name.to_ascii_lowercase()).cloned()
    }
}

/// Resolves through [`VettedNames`], and DNS for names not checked.
#[derive(Debug)]
struct VettedResolver;

impl reqwest::dns::Resolve for VettedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let vetted = VettedNames::global().get(name.as_str());
        let name = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port in.
            let addrs: Vec<SocketAddr> = match vetted {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                None => tokio::net::lookup_host((name.as_str(), 0)).await?.collect(),
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is an address of this machine: one a socket can bind to.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// A request (or one of its redirects) aimed at this server's own API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused to send a request to {url}: {target} is this server's own admin API \
     (start the server with --allow-self-requests to allow it)"
)]
pub struct Refused {
    /// The URL refused (the first one, or a redirect's).
    pub url: Url,
    /// The address it resolved to.
    pub target: SocketAddr,
}

impl Refused {
    /// The reason without the URL, whose path may hold a secret (alert webhooks).
    pub fn without_url(&self) -> String {
        format!(
            "{} is this server's own admin API (start the server with --allow-self-requests to allow it)",
            self.target
        )
    }
}

/// Why [`send`] got no final answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// A hop was aimed at this server.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The request failed (connection, timeout, body).
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("gave up after {MAX_REDIRECTS} redirects, the last to {0}")]
    TooManyRedirects(Url),
}

/// A client that leaves redirects to [`send`] and connects to the addresses
/// its checks found.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    Client::builder()
        .user_agent(concat!("ruqi/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(VettedResolver))
}

/// Sends `request` with `client` (built by [`client_builder`]), following
/// redirects as a browser does (303, and 301/302 after a POST, turn into a
/// GET without a body; 307 and 308 repeat the request) and checking every
/// hop against `own`. Credentials are dropped when a redirect leaves the
/// origin. `timeout` bounds the whole exchange, redirects included, up to
/// the final answer's headers; the caller bounds the body's reading.
pub(crate) async fn send(
    client: &Client,
    own: &OwnAddresses,
    mut request: Request,
    timeout: Duration,
) -> Result<Response, SendError> {
    let deadline = Instant::now() + timeout;
    for _ in 0..=MAX_REDIRECTS {
        own.check(request.url()).await?;
        let next = request.try_clone();
        *request.timeout_mut() = Some(deadline.saturating_duration_since(Instant::now()));
        let response = client.execute(request).await?;
        let Some(location) = redirect_target(&response) else {
            return Ok(response);
        };
        let Some(mut next) = next else {
            // A streamed body cannot be sent twice: the redirect is the answer.
            return Ok(response);
        };
        follow(&mut next, response.status(), location);
        request = next;
    }
    Err(SendError::TooManyRedirects(request.url().clone()))
}

/// Alert webhooks over HTTP(S), like `ruqi::HttpTransport`, but sent through
/// [`send`]: a webhook (or a redirect from it) aimed at this server's own
/// API is refused, and not retried.
#[derive(Debug)]
pub(crate) struct GuardedWebhooks {
    /// Why there is no client, when building it failed.
    client: Result<Client, Arc<str>>,
    own: OwnAddresses,
}

impl GuardedWebhooks {
    /// Webhooks that refuse `own`.
    pub(crate) fn new(own: OwnAddresses) -> Self {
        let client = client_builder().build().map_err(|error| {
            let reason = error_chain(&error);
            tracing::warn!(error = %reason, "no HTTP client: alerts cannot be sent");
            Arc::from(format!("no HTTP client: {reason}"))
        });
        Self { client, own }
    }
}

impl WebhookTransport for GuardedWebhooks {
    fn post<'a>(&'a self, url: &'a str, body: &'a Value, timeout: Duration) -> PostFuture<'a> {
        Box::pin(async move {
            let client = self
                .client
                .as_ref()
                .map_err(|reason| TransportError::Invalid(reason.to_string()))?;
            let request = client
                .post(url)
                .json(body)
                .build()
                .map_err(|error| TransportError::Invalid(error_chain(&error.without_url())))?;
            match send(client, &self.own, request, timeout).await {
                Ok(response) => Ok(response.status().as_u16()),
                Err(SendError::Refused(refused)) => Err(TransportError::Invalid(refused.without_url())),
                Err(SendError::TooManyRedirects(_)) => Err(TransportError::Invalid(format!(
                    "gave up after {MAX_REDIRECTS} redirects"
                ))),
                Err(SendError::Http(error)) if error.is_builder() => {
                    Err(TransportError::Invalid(error_chain(&error.without_url())))
                }
                Err(SendError::Http(error)) => Err(TransportError::Unreachable(error_chain(&error.without_url()))),
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
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The URL a redirect answer leads to, if it is one with a usable `Location`.
fn redirect_target(response: &Response) -> Option<Url> {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    matches!(target.scheme(), "http" | "https").then_some(target)
}

/// Turns `request` into the next hop of a redirect `status` to `to`.
fn follow(request: &mut Request, status: StatusCode, to: Url) {
    let becomes_get = status == StatusCode::SEE_OTHER && *request.method() != Method::HEAD
        || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && *request.method() == Method::POST;
    if becomes_get {
        *request.method_mut() = Method::GET;
        *request.body_mut() = None;
        request.headers_mut().remove(CONTENT_TYPE);
        request.headers_mut().remove(CONTENT_LENGTH);
    }
    let from = request.url();
    let same_origin = from.scheme() == to.scheme()
        && from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default();
    if !same_origin {
        for header in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
            request.headers_mut().remove(header);
        }
    }
    *request.url_mut() = to;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_listen_port_is_own_other_ports_are_not() {
        let own = OwnAddresses::new(vec![addr("127.0.0.1:8200"), addr("[::1]:8200")]);
        assert!(own.is_own(addr("127.0.0.1:8200")));
        assert!(own.is_own(addr("[::1]:8200")));
        assert!(own.is_own(addr("0.0.0.0:8200")));
        assert!(!own.is_own(addr("127.0.0.1:8201")));
        assert!(!own.is_own(addr("192.0.2.7:8200")));
    }

    #[test]
    fn listening_everywhere_makes_every_local_address_own() {
        let own = OwnAddresses::new(vec![addr("0.0.0.0:8200")]);
        assert!(own.is_own(addr("127.0.0.1:8200")));
        assert!(own.is_own(addr("127.0.0.2:8200")));
        // TEST-NET-1: never an address of this machine.
        assert!(!own.is_own(addr("192.0.2.7:8200")));
    }

    #[tokio::test]
    async fn names_are_resolved_and_literals_read() {
        let own = OwnAddresses::new(vec![addr("127.0.0.1:8200")]);
        let refused = own
            .check(&Url::parse("http://localhost:8200/api/jobs").unwrap())
            .await
            .unwrap_err();
        assert_eq!(refused.target, addr("127.0.0.1:8200"));
        assert!(refused.to_string().contains("--allow-self-requests"), "{refused}");
        assert!(own.check(&Url::parse("http://127.0.0.1:8200/").unwrap()).await.is_err());
        assert!(own.check(&Url::parse("http://localhost:9000/").unwrap()).await.is_ok());
        assert!(
            OwnAddresses::none()
                .check(&Url::parse("http://127.0.0.1:8200/").unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_checked_name_connects_to_the_addresses_checked() {
        let own = OwnAddresses::new(vec![addr("127.0.0.1:8200")]);
        own.check(&Url::parse("http://LocalHost:9000/").unwrap()).await.unwrap();
        let vetted = VettedNames::global().get("localhost").unwrap();
        assert!(vetted.iter().all(IpAddr::is_loopback), "{vetted:?}");
        // What the client connects to is what was checked, not a fresh answer.
        VettedNames::global().remember("rebound.test", vec!["192.0.2.7".parse().unwrap()]);
        let resolved: Vec<SocketAddr> =
            reqwest::dns::Resolve::resolve(&VettedResolver, "rebound.test".parse().unwrap())
                .await
                .unwrap()
                .collect();
        assert_eq!(resolved, [addr("192.0.2.7:0")]);
    }

    #[test]
    fn redirects_turn_posts_into_gets_and_drop_credentials_across_origins() {
        let client = Client::new();
        let mut request = client
            .post("http://a.example/x")
            .header(AUTHORIZATION, "Bearer t")
            .body("{}")
            .build()
            .unwrap();
        follow(
            &mut request,
            StatusCode::FOUND,
            Url::parse("http://b.example/y").unwrap(),
        );
        assert_eq!(*request.method(), Method::GET);
        assert!(request.body().is_none());
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(request.url().as_str(), "http://b.example/y");

        let mut request = client
            .post("http://a.example/x")
            .header(AUTHORIZATION, "Bearer t")
            .body("{}")
            .build()
            .unwrap();
        follow(
            &mut request,
            StatusCode::TEMPORARY_REDIRECT,
            Url::parse("http://a.example/z").unwrap(),
        );
        assert_eq!(*request.method(), Method::POST);
        assert!(request.body().is_some());
        assert!(request.headers().get(AUTHORIZATION).is_some());
    }
}
