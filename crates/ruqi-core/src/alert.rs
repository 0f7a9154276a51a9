//! Alerts: a webhook POST for each failure, timeout, missed fire and lost run.
//!
//! Every event the scheduler publishes is offered to the alerter. Those of
//! an alerting kind ([`AlertConfig::on`]: by default `failed`, `timed_out`,
//! `missed` and `lost`) are POSTed as JSON to the job's own `alert_url`, or
//! else to [`AlertConfig::default_url`]; with neither, nothing is sent.
//!
//! # Body
//!
//! The serialized [`SchedulerEvent`] (its kind in `event`, then its own
//! fields) with three more: `sent_by`, the node name of the scheduler that
//! sends it; `sent_at`, when this attempt was sent (RFC 3339); and
//! `summary`, one line for a person, meant to be shown as is by a chat relay.
//! Events that carry no `node` of their own get `node` set to `sent_by`, so
//! `node` is always there: the node that ran the run or noticed the missed
//! fire, or for `lost` the node that died.
//!
//! ```json
//! {
//!   "event": "failed",
//!   "job_id": "nightly-report",
//!   "job_name": "reports",
//!   "execution_id": "0196a3c2-5e1f-7d40-9b6e-2f0c8a1d4e77",
//!   "scheduled_for": "2026-05-01T02:00:00Z",
//!   "started_at": "2026-05-01T02:00:00.004Z",
//!   "finished_at": "2026-05-01T02:00:01.297Z",
//!   "duration_ms": 1293,
//!   "attempt": 1,
//!   "trigger_source": "schedule",
//!   "node": "web-1-4242",
//!   "error": "connection refused",
//!   "retry_at": null,
//!   "sent_by": "web-1-4242",
//!   "sent_at": "2026-05-01T02:00:01.301Z",
//!   "summary": "job nightly-report failed: connection refused (attempt 1)"
//! }
//! ```
//!
//! # Transport
//!
//! This crate decides what to send, when and how often; a
//! [`WebhookTransport`] does the POST. `ruqi-store` provides the HTTP one
//! (`ruqi_store::HttpTransport`), and `ruqi::scheduler` installs it as the
//! process's [default](set_default_transport), so alerts need no more than
//! a URL. A scheduler uses [`AlertConfig::transport`] if set, else the
//! default; with neither it sends no alerts and logs one warning.
//!
//! # Delivery
//!
//! The scheduler never waits for an alert: it puts the alert on a bounded
//! queue ([`AlertConfig::queue_capacity`]) and, when the queue is full,
//! drops it, counts it and warns at most once a minute. One background task takes
//! alerts off the queue and delivers each in a task of its own, at most
//! [`AlertConfig::max_in_flight`] at once, so that one slow or failing
//! webhook retrying with backoff does not hold up the alerts behind it;
//! alerts therefore arrive in no guaranteed order. An unreachable webhook
//! ([`TransportError::Unreachable`], or no answer within
//! [`AlertConfig::request_timeout`]), a 5xx or a 429 answer is retried after
//! a delay that starts at [`AlertConfig::initial_backoff`] and doubles each
//! time (plus up to half again of random jitter), until
//! [`AlertConfig::max_attempts`]; any other answer that is not a 2xx, and an
//! alert the transport cannot send at all ([`TransportError::Invalid`]), is
//! final. Logs name the webhook by its origin only: webhook paths often hold
//! a secret.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::task::TaskTracker;

use crate::events::SchedulerEvent;

/// The longest delay between two attempts, however many attempts are allowed.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How often, at most, dropped alerts are reported in the log.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Every event kind ([`SchedulerEvent::kind`]), to catch a misspelt [`AlertConfig::on`].
const EVENT_KINDS: [&str; 12] = [
    "job_added",
    "job_modified",
    "job_removed",
    "job_invalid",
    "submitted",
    "succeeded",
    "failed",
    "timed_out",
    "cancelled",
    "missed",
    "skipped_overlap",
    "lost",
];

/// Sends one alert body to a webhook; `ruqi-store` provides the HTTP implementation.
///
/// The transport only carries the body: which events alert, retries,
/// backoff and logging stay with the alerter. It answers with the status
/// code the webhook gave, whatever it is, and with an error only when no
/// answer came.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use ruqi_core::AlertConfig;
/// use ruqi_core::alert::{PostFuture, WebhookTransport};
/// use serde_json::Value;
///
/// /// Writes each alert's summary to the log instead of posting it.
/// #[derive(Debug)]
/// struct LogOnly;
///
/// impl WebhookTransport for LogOnly {
///     fn post<'a>(&'a self, _url: &'a str, body: &'a Value, _timeout: Duration) -> PostFuture<'a> {
///         Box::pin(async move {
///             tracing::info!(summary = %body["summary"], "alert");
///             Ok(204)
///         })
///     }
/// }
///
/// let alerts = AlertConfig {
///     default_url: Some("log:".to_owned()),
///     transport: Some(Arc::new(LogOnly)),
///     ..Default::default()
/// };
/// assert!(alerts.transport.is_some());
/// ```
pub trait WebhookTransport: Send + Sync + fmt::Debug + 'static {
    /// POSTs `body` as JSON to `url`, giving up after `timeout`.
    ///
    /// `Ok(status)` when the webhook answered (any status: the alerter
    /// decides what it means); [`TransportError::Unreachable`] when no
    /// answer came (retried); [`TransportError::Invalid`] when the alert
    /// cannot be sent at all (not retried). Error messages must not contain
    /// `url`, whose path often holds a secret.
    fn post<'a>(&'a self, url: &'a str, body: &'a Value, timeout: Duration) -> PostFuture<'a>;
}

/// What [`WebhookTransport::post`] returns: the webhook's status code, or why it gave none.
pub type PostFuture<'a> = BoxFuture<'a, Result<u16, TransportError>>;

/// Why a [`WebhookTransport`] got no answer from a webhook.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The webhook could not be reached or did not answer in time (network
    /// error, refused connection, timeout); the alert is retried.
    #[error("webhook unreachable: {0}")]
    Unreachable(String),
    /// The alert cannot be sent, now or later (a malformed URL, a redirect
    /// loop, no client); it is not retried.
    #[error("alert cannot be sent: {0}")]
    Invalid(String),
}

/// The transport of schedulers whose [`AlertConfig::transport`] is `None`.
static DEFAULT_TRANSPORT: OnceLock<Arc<dyn WebhookTransport>> = OnceLock::new();

/// Makes `transport` the one alerts go through when
/// [`AlertConfig::transport`] is `None`, for every scheduler started
/// afterwards in this process. The first call wins: returns `false`, and
/// keeps the transport installed before, if there was one.
///
/// `ruqi::scheduler` (`ruqi_store::scheduler`) installs the HTTP transport
/// this way; call this first to make another transport the default, or set
/// [`AlertConfig::transport`] to choose one for a single scheduler.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use ruqi_core::alert::{PostFuture, WebhookTransport, default_transport, set_default_transport};
/// use serde_json::Value;
///
/// /// Accepts every alert and sends none.
/// #[derive(Debug)]
/// struct Discard;
///
/// impl WebhookTransport for Discard {
///     fn post<'a>(&'a self, _url: &'a str, _body: &'a Value, _timeout: Duration) -> PostFuture<'a> {
///         Box::pin(async { Ok(200) })
///     }
/// }
///
/// set_default_transport(Arc::new(Discard));
/// assert!(default_transport().is_some());
/// ```
pub fn set_default_transport(transport: Arc<dyn WebhookTransport>) -> bool {
    DEFAULT_TRANSPORT.set(transport).is_ok()
}

/// The transport installed with [`set_default_transport`], if any.
///
/// ```
/// use ruqi_core::AlertConfig;
/// use ruqi_core::alert::default_transport;
///
/// let alerts = AlertConfig::default();
/// // What a scheduler started with `alerts` sends through; `None`: nothing.
/// let transport = alerts.transport.clone().or_else(default_transport);
/// # let _ = transport;
/// ```
pub fn default_transport() -> Option<Arc<dyn WebhookTransport>> {
    DEFAULT_TRANSPORT.get().cloned()
}

/// Where and how alerts are sent.
///
/// ```
/// use std::time::Duration;
/// use ruqi_core::AlertConfig;
///
/// let mut alerts = AlertConfig {
///     default_url: Some("https://hooks.example.com/ruqi".to_owned()),
///     max_attempts: 3,
///     ..Default::default()
/// };
/// // Also tell somebody when the overlap policy skips a fire.
/// alerts.on.push("skipped_overlap".to_owned());
/// assert_eq!(alerts.on, ["failed", "timed_out", "missed", "lost", "skipped_overlap"]);
/// assert_eq!(alerts.request_timeout, Duration::from_secs(10));
/// // Sent through the process's default transport: HTTP once `ruqi::scheduler` ran.
/// assert!(alerts.transport.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The webhook for jobs without an `alert_url` of their own; `None`: only per-job URLs.
    pub default_url: Option<String>,
    /// The event kinds that alert, as [`SchedulerEvent::kind`] names them
    /// (default: `failed`, `timed_out`, `missed`, `lost`). Empty: no alerts.
    pub on: Vec<String>,
    /// Alerts waiting to be sent before new ones are dropped (default 1,000).
    pub queue_capacity: usize,
    /// Alerts being sent (retries included) at once (default 16).
    pub max_in_flight: usize,
    /// How long one attempt may take, connection included (default 10 s).
    pub request_timeout: Duration,
    /// The delay before the second attempt; it doubles for each one after,
    /// up to five minutes (default 1 s).
    pub initial_backoff: Duration,
    /// Attempts per alert, the first included (default 5).
    pub max_attempts: u32,
    /// What POSTs the alerts; `None` (the default): the process's default
    /// transport ([`set_default_transport`]), which `ruqi::scheduler`
    /// makes `ruqi_store::HttpTransport`. With neither, no alerts are sent.
    pub transport: Option<Arc<dyn WebhookTransport>>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            default_url: None,
            on: ["failed", "timed_out", "missed", "lost"].map(str::to_owned).to_vec(),
            queue_capacity: 1_000,
            max_in_flight: 16,
            request_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_secs(1),
            max_attempts: 5,
            transport: None,
        }
    }
}

/// One alert waiting to be sent.
#[derive(Debug)]
struct Alert {
    url: String,
    event: SchedulerEvent,
}

/// The warning for a scheduler that has alerts to send and nothing to send them with.
const NO_TRANSPORT: &str = "alerts are off: no webhook transport; ruqi::scheduler() installs the HTTP one";

/// Sends alerts in the background.
#[derive(Debug)]
pub(crate) struct Alerter {
    /// `None` when nothing can be sent: no event kind alerts, no runtime or no transport.
    queue: Option<mpsc::Sender<Alert>>,
    on: Vec<String>,
    default_url: Option<String>,
    drops: DropCounter,
    /// Set while [`NO_TRANSPORT`] is still to be logged, at the first alert
    /// to a job's own URL: without a default URL, nothing at start tells
    /// whether any alert will ever be due.
    warn_no_transport: AtomicBool,
    /// The sender task; it ends once `queue` is dropped and the deliveries in flight are done.
    #[cfg_attr(not(test), allow(dead_code))]
    sender: Option<tokio::task::JoinHandle<()>>,
}

impl Alerter {
    /// Starts the sender task, with [`AlertConfig::transport`] or else the default transport.
    pub(crate) fn start(config: &AlertConfig, node: &str) -> Self {
        let transport = config.transport.clone().or_else(default_transport);
        Self::start_with(config, node, transport)
    }

    /// Starts the sender task with `transport`.
    fn start_with(config: &AlertConfig, node: &str, transport: Option<Arc<dyn WebhookTransport>>) -> Self {
        for kind in config.on.iter().filter(|kind| !EVENT_KINDS.contains(&kind.as_str())) {
            tracing::warn!(kind = %kind, known = ?EVENT_KINDS, "alerts.on names no event kind; it never alerts");
        }
        let mut alerter = Self {
            queue: None,
            on: config.on.clone(),
            default_url: config.default_url.clone(),
            drops: DropCounter::new(),
            warn_no_transport: AtomicBool::new(false),
            sender: None,
        };
        if config.on.is_empty() {
            return alerter;
        }
        let Some(transport) = transport else {
            if config.default_url.is_some() {
                tracing::warn!("{NO_TRANSPORT}");
            } else {
                alerter.warn_no_transport.store(true, Ordering::Relaxed);
            }
            return alerter;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("alerts are off: the scheduler was started outside a tokio runtime");
            return alerter;
        };
        let delivery = Arc::new(Delivery {
            transport,
            node: node.to_owned(),
            request_timeout: config.request_timeout,
            initial_backoff: config.initial_backoff,
            max_attempts: config.max_attempts.max(1),
        });
        let (queue, pending) = mpsc::channel(config.queue_capacity.max(1));
        alerter.queue = Some(queue);
        alerter.sender = Some(runtime.spawn(send_alerts(pending, delivery, config.max_in_flight.max(1))));
        alerter
    }

    /// Queues an alert for `event` if it is one that alerts, to `job_url` or the default URL.
    pub(crate) fn offer(&self, event: &SchedulerEvent, job_url: Option<&str>) {
        let Some(queue) = &self.queue else {
            if job_url.is_some()
                && self.on.iter().any(|kind| kind == event.kind())
                && self.warn_no_transport.swap(false, Ordering::Relaxed)
            {
                tracing::warn!(job_id = %event.job_id(), event = event.kind(), "{NO_TRANSPORT}");
            }
            return;
        };
        if !self.on.iter().any(|kind| kind == event.kind()) {
            return;
        }
        let Some(url) = job_url.or(self.default_url.as_deref()) else {
            return;
        };
        let alert = Alert {
            url: url.to_owned(),
            event: event.clone(),
        };
        match queue.try_send(alert) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(alert)) => self.drops.count(&alert),
            // Only after the sender task died with its runtime: nothing left to send with.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Alerts dropped because the queue was full.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.drops.total.load(Ordering::Relaxed)
    }

    /// Closes the queue and waits until everything queued or in flight was delivered or given up.
    #[cfg(test)]
    pub(crate) async fn finish(mut self) {
        self.queue = None;
        if let Some(sender) = self.sender.take() {
            let _ = sender.await;
        }
    }
}

/// Counts dropped alerts and reports them, at most once per [`DROP_WARNING_INTERVAL`].
#[derive(Debug)]
struct DropCounter {
    total: AtomicU64,
    since_warning: AtomicU64,
    origin: Instant,
    /// Milliseconds after `origin` before which no new warning is logged.
    quiet_until_ms: AtomicU64,
}

impl DropCounter {
    fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            since_warning: AtomicU64::new(0),
            origin: Instant::now(),
            quiet_until_ms: AtomicU64::new(0),
        }
    }

    fn count(&self, alert: &Alert) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.since_warning.fetch_add(1, Ordering::Relaxed);
        let now_ms = millis(self.origin.elapsed());
        let quiet_until = self.quiet_until_ms.load(Ordering::Relaxed);
        let next = now_ms.saturating_add(millis(DROP_WARNING_INTERVAL));
        // One caller wins the right to warn; the others keep counting.
        if now_ms >= quiet_until
            && self
                .quiet_until_ms
                .compare_exchange(quiet_until, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let dropped = self.since_warning.swap(0, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                total = self.total.load(Ordering::Relaxed),
                job_id = %alert.event.job_id(),
                event = alert.event.kind(),
                "alert queue full: alerts dropped (webhooks slower than failures arrive)"
            );
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Takes alerts off the queue and delivers each in its own task, at most
/// `max_in_flight` at once; once the queue is closed and drained, waits for
/// the deliveries in flight.
async fn send_alerts(mut pending: mpsc::Receiver<Alert>, delivery: Arc<Delivery>, max_in_flight: usize) {
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let deliveries = TaskTracker::new();
    loop {
        // The permit first, so that while all are taken the queue holds its full capacity.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let Some(alert) = pending.recv().await else {
            break;
        };
        let delivery = delivery.clone();
        deliveries.spawn(async move {
            delivery.deliver(alert).await;
            drop(permit);
        });
    }
    deliveries.close();
    deliveries.wait().await;
}

/// What is needed to deliver one alert.
#[derive(Debug)]
struct Delivery {
    transport: Arc<dyn WebhookTransport>,
    node: String,
    request_timeout: Duration,
    initial_backoff: Duration,
    max_attempts: u32,
}

/// How one attempt went.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Delivered,
    /// Worth another try: an unreachable webhook, a 5xx or a 429.
    Retry(String),
    /// Not worth another try.
    Refused(String),
}

impl Attempt {
    /// What the transport's outcome means for the alert.
    fn from_outcome(outcome: Result<u16, TransportError>) -> Self {
        match outcome {
            Ok(200..=299) => Attempt::Delivered,
            Ok(status @ (429 | 500..=599)) => Attempt::Retry(format!("answered {status}")),
            Ok(status) => Attempt::Refused(format!("answered {status}")),
            Err(error @ TransportError::Unreachable(_)) => Attempt::Retry(error.to_string()),
            Err(error @ TransportError::Invalid(_)) => Attempt::Refused(error.to_string()),
        }
    }
}

impl Delivery {
    /// POSTs `alert`, retrying with backoff, and logs the outcome.
    async fn deliver(&self, alert: Alert) {
        let event = &alert.event;
        let (job_id, execution_id, kind) = (event.job_id(), execution_id(event).unwrap_or_default(), event.kind());
        let mut body = alert_body(event, &self.node);
        let webhook = origin(&alert.url);
        let mut attempt = 1;
        loop {
            if let Value::Object(fields) = &mut body {
                let sent_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
                fields.insert("sent_at".to_owned(), Value::String(sent_at));
            }
            let post = self.transport.post(&alert.url, &body, self.request_timeout);
            // The transport is told the timeout too; this bounds one that ignores it.
            let outcome = match tokio::time::timeout(self.request_timeout, post).await {
                Ok(outcome) => Attempt::from_outcome(outcome),
                Err(_) => Attempt::Retry(format!("no answer within {:?}", self.request_timeout)),
            };
            match outcome {
                Attempt::Delivered => {
                    tracing::debug!(
                        webhook = %webhook, job_id, execution_id, event = kind, attempt,
                        "alert delivered"
                    );
                    return;
                }
                Attempt::Refused(reason) => {
                    tracing::warn!(
                        webhook = %webhook, job_id, execution_id, event = kind, attempt, reason = %reason,
                        "alert not delivered; not retried"
                    );
                    return;
                }
                Attempt::Retry(reason) if attempt >= self.max_attempts => {
                    tracing::warn!(
                        webhook = %webhook, job_id, execution_id, event = kind, attempts = attempt,
                        reason = %reason, "alert not delivered; giving up"
                    );
                    return;
                }
                Attempt::Retry(reason) => {
                    let delay = backoff(self.initial_backoff, attempt);
                    tracing::debug!(
                        webhook = %webhook, job_id, execution_id, event = kind, attempt,
                        reason = %reason, retry_in_ms = millis(delay), "alert not delivered; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The delay after failed attempt `attempt` (1 for the first): `initial`
/// doubled `attempt - 1` times, capped at [`MAX_BACKOFF`], plus up to half
/// of that again at random so that many alerts failing together do not
/// retry together.
fn backoff(initial: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let base = initial.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    base.mul_f64(1.0 + fastrand::f64() / 2.0)
}

/// The JSON body of an alert for `event`, without `sent_at`.
fn alert_body(event: &SchedulerEvent, node: &str) -> Value {
    let mut fields = match serde_json::to_value(event) {
        Ok(Value::Object(fields)) => fields,
        // Events are structs of strings, numbers and instants: always objects.
        _ => Map::new(),
    };
    fields.entry("node").or_insert_with(|| Value::String(node.to_owned()));
    fields.insert("sent_by".to_owned(), Value::String(node.to_owned()));
    fields.insert("summary".to_owned(), Value::String(summary(event)));
    Value::Object(fields)
}

/// The execution an event is about, for the events about one.
fn execution_id(event: &SchedulerEvent) -> Option<&str> {
    match event {
        SchedulerEvent::Submitted(run) => Some(&run.execution_id),
        SchedulerEvent::Succeeded(run)
        | SchedulerEvent::Failed(run)
        | SchedulerEvent::TimedOut(run)
        | SchedulerEvent::Cancelled(run) => Some(&run.execution_id),
        SchedulerEvent::Missed(fire) | SchedulerEvent::SkippedOverlap(fire) => Some(&fire.execution_id),
        SchedulerEvent::Lost { execution_id, .. } => Some(execution_id),
        SchedulerEvent::JobAdded { .. }
        | SchedulerEvent::JobModified { .. }
        | SchedulerEvent::JobRemoved { .. }
        | SchedulerEvent::JobInvalid { .. } => None,
    }
}

/// One line saying what happened, e.g. `job nightly-report failed: connection refused (attempt 1)`.
fn summary(event: &SchedulerEvent) -> String {
    let job = event.job_id();
    let at = |instant: &chrono::DateTime<Utc>| instant.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let error = |error: &Option<String>| match error {
        Some(error) => format!(": {error}"),
        None => String::new(),
    };
    let retry = |run: &crate::events::RunEnded| match &run.retry_at {
        Some(when) => format!("attempt {}, retrying at {}", run.attempt, at(when)),
        None => format!("attempt {}", run.attempt),
    };
    match event {
        SchedulerEvent::JobAdded { .. } => format!("job {job} added"),
        SchedulerEvent::JobModified { .. } => format!("job {job} modified"),
        SchedulerEvent::JobRemoved { .. } => format!("job {job} removed"),
        SchedulerEvent::JobInvalid { error, .. } => format!("job {job} cannot be scheduled: {error}"),
        SchedulerEvent::Submitted(run) => format!("job {job} started (attempt {})", run.attempt),
        SchedulerEvent::Succeeded(run) => format!(
            "job {job} succeeded in {} (attempt {})",
            human_duration(run.duration_ms),
            run.attempt
        ),
        SchedulerEvent::Failed(run) => format!("job {job} failed{} ({})", error(&run.error), retry(run)),
        SchedulerEvent::TimedOut(run) => {
            format!(
                "job {job} timed out after {} ({})",
                human_duration(run.duration_ms),
                retry(run)
            )
        }
        SchedulerEvent::Cancelled(run) => {
            format!("job {job} was cancelled{} (attempt {})", error(&run.error), run.attempt)
        }
        SchedulerEvent::Missed(fire) => {
            format!(
                "job {job} missed its run at {}: {}",
                at(&fire.scheduled_for),
                fire.reason
            )
        }
        SchedulerEvent::SkippedOverlap(fire) => {
            format!(
                "job {job} skipped its run at {}: {}",
                at(&fire.scheduled_for),
                fire.reason
            )
        }
        SchedulerEvent::Lost {
            scheduled_for, node, ..
        } => format!(
            "job {job} lost its run for {}: node {node} stopped before it finished",
            at(scheduled_for)
        ),
    }
}

/// `1500` → `1.5s`, `30000` → `30s`, `250` → `250ms`.
fn human_duration(ms: i64) -> String {
    if ms.abs() < 1_000 {
        format!("{ms}ms")
    } else if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{:.1}s", ms as f64 / 1_000.0)
    }
}

/// `scheme://host[:port]` of `url`, with an ellipsis for the rest: enough to
/// tell webhooks apart in a log without printing a secret in their path.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // Credentials before an `@` are a secret too.
    let host = rest[..end].rsplit('@').next().unwrap_or_default();
    let ellipsis = if end < rest.len() { "/…" } else { "" };
    if scheme.is_empty() {
        format!("{host}{ellipsis}")
    } else {
        format!("{scheme}://{host}{ellipsis}")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use chrono::{DateTime, TimeZone};

    use super::*;
    use crate::events::{FireMissed, RunEnded, RunStarted};
    use crate::execution::TriggerSource;

    /// How the scripted transport answers one post.
    #[derive(Debug, Clone)]
    enum Answer {
        Status(u16),
        Unreachable,
        Invalid,
        /// Never answers.
        Silent,
    }

    /// A post as the transport received it.
    #[derive(Debug)]
    struct Sent {
        /// On tokio's clock, which the timing tests pause.
        at: tokio::time::Instant,
        url: String,
        timeout: Duration,
        body: Value,
    }

    /// An in-memory webhook: answers its n-th post with `script[n]` (the
    /// last one again once they run out; with an empty script it never
    /// answers) and hands every post to the test.
    #[derive(Debug)]
    struct Scripted {
        script: Vec<Answer>,
        posts: AtomicUsize,
        sent: mpsc::UnboundedSender<Sent>,
    }

    impl WebhookTransport for Scripted {
        fn post<'a>(&'a self, url: &'a str, body: &'a Value, timeout: Duration) -> PostFuture<'a> {
            let n = self.posts.fetch_add(1, Ordering::SeqCst);
            let answer = self.script.get(n).or(self.script.last()).cloned();
            let _ = self.sent.send(Sent {
                at: tokio::time::Instant::now(),
                url: url.to_owned(),
                timeout,
                body: body.clone(),
            });
            Box::pin(async move {
                match answer.unwrap_or(Answer::Silent) {
                    Answer::Status(status) => Ok(status),
                    Answer::Unreachable => Err(TransportError::Unreachable("connection refused".to_owned())),
                    Answer::Invalid => Err(TransportError::Invalid("relative URL without a base".to_owned())),
                    Answer::Silent => std::future::pending().await,
                }
            })
        }
    }

    /// A scripted webhook and what it receives.
    struct Webhook {
        transport: Arc<dyn WebhookTransport>,
        sent: mpsc::UnboundedReceiver<Sent>,
    }

    impl Webhook {
        fn new(script: impl Into<Vec<Answer>>) -> Self {
            let (sent, receiver) = mpsc::unbounded_channel();
            Self {
                transport: Arc::new(Scripted {
                    script: script.into(),
                    posts: AtomicUsize::new(0),
                    sent,
                }),
                sent: receiver,
            }
        }

        /// Answers every post with `status`.
        fn answering(status: u16) -> Self {
            Self::new([Answer::Status(status)])
        }

        /// Everything posted so far.
        fn drain(&mut self) -> Vec<Sent> {
            std::iter::from_fn(|| self.sent.try_recv().ok()).collect()
        }

        /// A configuration sending through this webhook, to `default_url` by default.
        fn config(&self, default_url: Option<&str>) -> AlertConfig {
            AlertConfig {
                default_url: default_url.map(str::to_owned),
                initial_backoff: Duration::from_millis(20),
                transport: Some(self.transport.clone()),
                ..Default::default()
            }
        }
    }

    const DEFAULT_URL: &str = "https://hooks.example.com/services/default";
    const JOB_URL: &str = "https://hooks.example.com/services/nightly-report";

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 2, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn run(job_id: &str) -> RunEnded {
        RunEnded {
            job_id: job_id.to_owned(),
            job_name: Some("reports".to_owned()),
            execution_id: format!("exec-{job_id}"),
            scheduled_for: at(0),
            started_at: at(0),
            finished_at: at(0) + chrono::Duration::milliseconds(1293),
            duration_ms: 1293,
            attempt: 1,
            trigger_source: TriggerSource::Schedule,
            node: "node-a".to_owned(),
            error: Some("connection refused".to_owned()),
            retry_at: None,
        }
    }

    fn failed(job_id: &str) -> SchedulerEvent {
        SchedulerEvent::Failed(run(job_id))
    }

    fn fire(job_id: &str) -> FireMissed {
        FireMissed {
            job_id: job_id.to_owned(),
            job_name: None,
            execution_id: format!("missed-{job_id}"),
            scheduled_for: at(0),
            reason: "60s late, beyond misfire_grace_s 5".to_owned(),
            node: "node-a".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_failure_is_posted_to_the_jobs_url_or_else_the_default() {
        let mut hook = Webhook::answering(200);
        let alerter = Alerter::start(&hook.config(Some(DEFAULT_URL)), "node-a");
        alerter.offer(&failed("nightly-report"), Some(JOB_URL));
        alerter.offer(&failed("cleanup"), None);
        alerter.finish().await;

        let sent = hook.drain();
        assert_eq!(sent.len(), 2, "{sent:?}");
        let own = sent
            .iter()
            .find(|s| s.url == JOB_URL)
            .expect("nothing posted to the job's URL");
        assert_eq!(own.timeout, Duration::from_secs(10));
        let body = &own.body;
        assert_eq!(body["event"], "failed");
        assert_eq!(body["job_id"], "nightly-report");
        assert_eq!(body["job_name"], "reports");
        assert_eq!(body["execution_id"], "exec-nightly-report");
        assert_eq!(body["scheduled_for"], "2026-05-01T02:00:00Z");
        assert_eq!(body["attempt"], 1);
        assert_eq!(body["trigger_source"], "schedule");
        assert_eq!(body["error"], "connection refused");
        assert_eq!(body["node"], "node-a");
        assert_eq!(body["sent_by"], "node-a");
        assert_eq!(
            body["summary"],
            "job nightly-report failed: connection refused (attempt 1)"
        );
        let sent_at = body["sent_at"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(sent_at).is_ok(), "{sent_at}");

        let default = sent
            .iter()
            .find(|s| s.url == DEFAULT_URL)
            .expect("nothing posted to the default URL");
        assert_eq!(default.body["job_id"], "cleanup");
    }

    #[tokio::test]
    async fn without_any_url_nothing_is_sent() {
        let mut hook = Webhook::answering(200);
        let alerter = Alerter::start(&hook.config(None), "node-a");
        alerter.offer(&failed("nightly-report"), None);
        assert_eq!(alerter.queue.as_ref().unwrap().capacity(), 1_000);
        alerter.finish().await;
        assert!(hook.drain().is_empty());
    }

    #[tokio::test]
    async fn without_a_transport_nothing_is_queued() {
        let config = AlertConfig {
            default_url: Some(DEFAULT_URL.to_owned()),
            ..Default::default()
        };
        let alerter = Alerter::start_with(&config, "node-a", None);
        assert!(alerter.queue.is_none() && alerter.sender.is_none());
        // The warning was logged at start: there is a default URL.
        assert!(!alerter.warn_no_transport.load(Ordering::Relaxed));
        alerter.offer(&failed("nightly-report"), Some(JOB_URL));
        assert_eq!(alerter.dropped(), 0);

        // Without a default URL it waits for the first alert that finds no transport.
        let alerter = Alerter::start_with(&AlertConfig::default(), "node-a", None);
        assert!(alerter.warn_no_transport.load(Ordering::Relaxed));
        alerter.offer(&SchedulerEvent::Succeeded(run("a")), Some(JOB_URL));
        alerter.offer(&failed("a"), None);
        assert!(alerter.warn_no_transport.load(Ordering::Relaxed));
        alerter.offer(&failed("a"), Some(JOB_URL));
        assert!(!alerter.warn_no_transport.load(Ordering::Relaxed));
        assert!(alerter.queue.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_and_too_many_requests_are_retried_with_growing_delays() {
        let mut hook = Webhook::new([Answer::Status(500), Answer::Status(429), Answer::Status(200)]);
        let alerter = Alerter::start(&hook.config(Some(DEFAULT_URL)), "node-a");
        alerter.offer(&failed("nightly-report"), None);
        alerter.finish().await;

        let attempts = hook.drain();
        assert_eq!(attempts.len(), 3, "{attempts:?}");
        assert!(attempts.iter().all(|a| a.body["execution_id"] == "exec-nightly-report"));
        // 20 ms, then 40 ms, each with up to half again of jitter.
        let first = attempts[1].at - attempts[0].at;
        assert!(
            first >= Duration::from_millis(20) && first <= Duration::from_millis(30),
            "{first:?}"
        );
        let second = attempts[2].at - attempts[1].at;
        assert!(
            second >= Duration::from_millis(40) && second <= Duration::from_millis(60),
            "{second:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_webhook_is_retried_until_the_attempts_run_out() {
        let mut hook = Webhook::new([Answer::Unreachable, Answer::Status(503)]);
        let config = AlertConfig {
            max_attempts: 3,
            ..hook.config(Some(DEFAULT_URL))
        };
        let alerter = Alerter::start(&config, "node-a");
        alerter.offer(&failed("nightly-report"), None);
        alerter.finish().await;
        assert_eq!(hook.drain().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_that_never_answers_is_retried_after_the_request_timeout() {
        let mut hook = Webhook::new([Answer::Silent]);
        let config = AlertConfig {
            max_attempts: 2,
            request_timeout: Duration::from_secs(10),
            ..hook.config(Some(DEFAULT_URL))
        };
        let alerter = Alerter::start(&config, "node-a");
        alerter.offer(&failed("nightly-report"), None);
        alerter.finish().await;
        let attempts = hook.drain();
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert!(attempts[1].at - attempts[0].at >= Duration::from_secs(10) + Duration::from_millis(20));
    }

    #[tokio::test]
    async fn a_client_error_is_not_retried() {
        let mut hook = Webhook::new([Answer::Status(400), Answer::Status(200)]);
        let alerter = Alerter::start(&hook.config(Some(DEFAULT_URL)), "node-a");
        alerter.offer(&failed("nightly-report"), None);
        alerter.finish().await;
        assert_eq!(hook.drain().len(), 1);
    }

    #[tokio::test]
    async fn an_alert_that_cannot_be_sent_is_not_retried() {
        let mut hook = Webhook::new([Answer::Invalid, Answer::Status(200)]);
        let alerter = Alerter::start(&hook.config(Some(DEFAULT_URL)), "node-a");
        alerter.offer(&failed("nightly-report"), None);
        alerter.finish().await;
        assert_eq!(hook.drain().len(), 1);
    }

    #[test]
    fn answers_are_delivered_retried_or_refused() {
        for status in [200, 202, 204, 299] {
            assert_eq!(Attempt::from_outcome(Ok(status)), Attempt::Delivered, "{status}");
        }
        for status in [429, 500, 502, 503, 599] {
            assert!(
                matches!(Attempt::from_outcome(Ok(status)), Attempt::Retry(_)),
                "{status}"
            );
        }
        for status in [100, 301, 400, 401, 404, 410, 600] {
            assert!(
                matches!(Attempt::from_outcome(Ok(status)), Attempt::Refused(_)),
                "{status}"
            );
        }
        assert_eq!(
            Attempt::from_outcome(Err(TransportError::Unreachable("timed out".to_owned()))),
            Attempt::Retry("webhook unreachable: timed out".to_owned())
        );
        assert_eq!(
            Attempt::from_outcome(Err(TransportError::Invalid("bad URL".to_owned()))),
            Attempt::Refused("alert cannot be sent: bad URL".to_owned())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offer_never_waits_for_a_silent_webhook() {
        let mut hook = Webhook::new([]);
        let config = AlertConfig {
            queue_capacity: 4,
            max_in_flight: 2,
            request_timeout: Duration::from_secs(60),
            ..hook.config(Some(DEFAULT_URL))
        };
        let alerter = Alerter::start(&config, "node-a");
        let started = Instant::now();
        for _ in 0..2_000 {
            alerter.offer(&failed("nightly-report"), None);
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        // At most the queue, the deliveries in flight and the one the sender holds got through.
        assert!(alerter.dropped() >= 2_000 - 4 - 2 - 1, "{}", alerter.dropped());
        // The sends that did start are stuck on the webhook, not on the queue.
        for _ in 0..2 {
            assert_eq!(hook.sent.recv().await.unwrap().body["event"], "failed");
        }
        let started = Instant::now();
        alerter.offer(&failed("nightly-report"), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn only_the_configured_kinds_alert() {
        let mut hook = Webhook::answering(200);
        let alerter = Alerter::start(&hook.config(Some(DEFAULT_URL)), "node-a");
        alerter.offer(&SchedulerEvent::SkippedOverlap(fire("a")), None);
        alerter.offer(&SchedulerEvent::Succeeded(run("a")), None);
        alerter.offer(&SchedulerEvent::Cancelled(run("a")), None);
        alerter.offer(&SchedulerEvent::JobAdded { job_id: "a".to_owned() }, None);
        alerter.offer(&SchedulerEvent::Missed(fire("b")), None);
        alerter.finish().await;
        let sent = hook.drain();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].body["event"], "missed");
        assert_eq!(sent[0].body["job_id"], "b");

        let config = AlertConfig {
            on: vec!["skipped_overlap".to_owned()],
            ..hook.config(Some(DEFAULT_URL))
        };
        let alerter = Alerter::start(&config, "node-a");
        alerter.offer(&failed("a"), None);
        alerter.offer(&SchedulerEvent::SkippedOverlap(fire("c")), None);
        alerter.finish().await;
        let sent = hook.drain();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].body["event"], "skipped_overlap");

        let config = AlertConfig {
            on: Vec::new(),
            ..hook.config(Some(DEFAULT_URL))
        };
        let alerter = Alerter::start(&config, "node-a");
        alerter.offer(&failed("a"), None);
        assert!(alerter.queue.is_none());
        alerter.finish().await;
        assert!(hook.drain().is_empty());
    }

    #[test]
    fn a_lost_run_names_the_node_that_died_and_the_one_that_noticed() {
        let lost = SchedulerEvent::Lost {
            job_id: "nightly-report".to_owned(),
            execution_id: "exec-1".to_owned(),
            scheduled_for: at(0),
            node: "web-2-77".to_owned(),
        };
        let body = alert_body(&lost, "web-1-42");
        assert_eq!(body["event"], "lost");
        assert_eq!(body["node"], "web-2-77");
        assert_eq!(body["sent_by"], "web-1-42");
        assert_eq!(
            body["summary"],
            "job nightly-report lost its run for 2026-05-01T02:00:00Z: node web-2-77 stopped before it finished"
        );
        let added = alert_body(&SchedulerEvent::JobAdded { job_id: "a".to_owned() }, "web-1-42");
        assert_eq!(added["node"], "web-1-42");
    }

    #[test]
    fn summaries_read_as_one_line() {
        let timed_out = RunEnded {
            duration_ms: 30_000,
            error: Some("timed out after 30s (timeout_s)".to_owned()),
            retry_at: Some(at(60)),
            ..run("sync")
        };
        assert_eq!(
            summary(&SchedulerEvent::TimedOut(timed_out)),
            "job sync timed out after 30s (attempt 1, retrying at 2026-05-01T02:01:00Z)"
        );
        assert_eq!(
            summary(&SchedulerEvent::Missed(fire("sync"))),
            "job sync missed its run at 2026-05-01T02:00:00Z: 60s late, beyond misfire_grace_s 5"
        );
        assert_eq!(
            summary(&SchedulerEvent::Succeeded(run("sync"))),
            "job sync succeeded in 1.3s (attempt 1)"
        );
    }

    #[test]
    fn logs_name_a_webhook_without_its_secret_path() {
        assert_eq!(
            origin("https://hooks.slack.com/services/T0/B0/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(origin("http://user:pw@127.0.0.1:9000?key=1"), "http://127.0.0.1:9000/…");
        assert_eq!(origin("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let initial = Duration::from_millis(20);
        for _ in 0..100 {
            let first = backoff(initial, 1);
            assert!(first >= initial && first <= initial * 3 / 2, "{first:?}");
            let third = backoff(initial, 3);
            assert!(third >= initial * 4 && third <= initial * 6, "{third:?}");
        }
        assert!(backoff(Duration::from_secs(1), 40) <= MAX_BACKOFF * 3 / 2);
    }

    #[test]
    fn every_event_kind_is_known() {
        let events = [
            SchedulerEvent::JobAdded { job_id: "a".into() },
            SchedulerEvent::JobModified { job_id: "a".into() },
            SchedulerEvent::JobRemoved { job_id: "a".into() },
            SchedulerEvent::JobInvalid {
                job_id: "a".into(),
                error: "bad".into(),
            },
            SchedulerEvent::Submitted(RunStarted {
                job_id: "a".into(),
                job_name: None,
                execution_id: "e".into(),
                scheduled_for: at(0),
                started_at: at(0),
                attempt: 1,
                trigger_source: TriggerSource::Manual,
                node: "node-a".into(),
            }),
            SchedulerEvent::Succeeded(run("a")),
            SchedulerEvent::Failed(run("a")),
            SchedulerEvent::TimedOut(run("a")),
            SchedulerEvent::Cancelled(run("a")),
            SchedulerEvent::Missed(fire("a")),
            SchedulerEvent::SkippedOverlap(fire("a")),
            SchedulerEvent::Lost {
                job_id: "a".into(),
                execution_id: "e".into(),
                scheduled_for: at(0),
                node: "node-b".into(),
            },
        ];
        let kinds: Vec<&str> = events.iter().map(SchedulerEvent::kind).collect();
        assert_eq!(kinds, EVENT_KINDS);
    }
}
