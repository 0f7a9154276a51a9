//! The harness's tracing subscriber: logs only when `RUST_LOG` asks for
//! them, and always a watch on tokio-cron-scheduler's own error events.
//!
//! Why the watch: tokio-cron-scheduler 0.15 passes every new job to its job
//! store and to its code store over broadcast channels of 200 slots. When
//! jobs are added faster than the code store's listener takes them (ruqi's
//! engine on it hands over every deadline loaded at start in one burst), that
//! listener lags, logs `Error receiving Lagged(n)` and stops listening for
//! good: every job added after that has no code, and when it comes due the
//! runner logs `Error getting <id> from job code` and drops it. Nothing else
//! reports it — the scheduler just never fires again — so the harness listens
//! for these two events to tell a stalled run from a slow one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the watch has seen of tokio-cron-scheduler's failures.
#[derive(Debug, Default)]
pub(crate) struct TcsWatch {
    lagged: AtomicBool,
    lost_activations: AtomicUsize,
    changed: Notify,
}

impl TcsWatch {
    /// Whether the code store's listener has stopped (jobs added since will never run).
    pub(crate) fn stalled(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }

    /// Due jobs tokio-cron-scheduler dropped for want of their code.
    pub(crate) fn lost_activations(&self) -> usize {
        self.lost_activations.load(Ordering::Acquire)
    }

    /// Completes once the code store's listener has stopped.
    pub(crate) async fn wait_stalled(&self) {
        self.wait_for(Self::stalled).await;
    }

    /// Completes once tokio-cron-scheduler has dropped a due job for want of its code.
    pub(crate) async fn wait_lost_activation(&self) {
        self.wait_for(|watch| watch.lost_activations() > 0).await;
    }

    async fn wait_for(&self, seen: impl Fn(&Self) -> bool) {
        loop {
            let changed = self.changed.notified();
            if seen(self) {
                return;
            }
            changed.await;
        }
    }
}

static WATCH: OnceLock<Arc<TcsWatch>> = OnceLock::new();

/// The watch installed by [`init`] (a fresh, never-triggered one if `init` was not called).
pub(crate) fn tcs_watch() -> Arc<TcsWatch> {
    WATCH.get_or_init(Arc::default).clone()
}

/// Installs the process's subscriber: the watch, plus formatted logs on
/// stderr filtered by `RUST_LOG` when it is set. Without `RUST_LOG` only
/// tokio-cron-scheduler's error events are enabled, so ruqi's own spans and
/// events cost nothing during a measurement.
pub(crate) fn init() {
    // A per-layer filter, so that it neither hides events from the logs nor
    // enables anything else when there are no logs.
    let watch = WatchLayer { watch: tcs_watch() }.with_filter(filter_fn(is_tcs_error));
    let installed = if std::env::var_os("RUST_LOG").is_some() {
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(EnvFilter::from_default_env());
        tracing_subscriber::registry().with(watch).with(logs).try_init()
    } else {
        tracing_subscriber::registry().with(watch).try_init()
    };
    if let Err(error) = installed {
        eprintln!("could not install the tracing subscriber: {error}");
    }
}

struct WatchLayer {
    watch: Arc<TcsWatch>,
}

fn is_tcs_error(metadata: &Metadata<'_>) -> bool {
    *metadata.level() == Level::ERROR && metadata.target().starts_with("tokio_cron_scheduler")
}

impl<S: Subscriber> Layer<S> for WatchLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let target = event.metadata().target();
        let mut message = Message(String::new());
        event.record(&mut message);
        if target.ends_with("::to_code") && message.0.starts_with("Error receiving") {
            self.watch.lagged.store(true, Ordering::Release);
            self.watch.changed.notify_waiters();
        } else if target.ends_with("::runner") && message.0.starts_with("Error getting") {
            self.watch.lost_activations.fetch_add(1, Ordering::AcqRel);
            self.watch.changed.notify_waiters();
        }
    }
}

/// The `message` field of an event.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
