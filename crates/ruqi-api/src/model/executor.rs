//! XXL-JOB executors as the API shows them.

use chrono::{DateTime, Utc};
use poem_openapi::Object;

/// An app name with its live executors and the addresses given by hand for it.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct ExecutorApp {
    /// The app name the executors registered under (their `appname`).
    pub(crate) app: String,
    /// Its live addresses, in order: each beat within the last 90 seconds.
    pub(crate) addresses: Vec<ExecutorAddress>,
    /// The addresses given by hand (`PUT /executors/{app}/addresses`), in order. When there are
    /// any, runs of the app go to them instead of to the live ones.
    pub(crate) manual_addresses: Vec<String>,
}

/// The addresses to give an app by hand.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ManualAddresses {
    /// Base URLs of its executors (`http://host:port`), at most 100; runs go to them in this
    /// order under the job's route. An empty list takes the addresses away again.
    #[oai(validator(max_items = 100))]
    pub(crate) addresses: Vec<String>,
}

/// One live executor.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct ExecutorAddress {
    /// Its base URL, without a trailing `/`.
    pub(crate) address: String,
    /// Its first beat since it last left or went stale.
    pub(crate) first_beat_at: DateTime<Utc>,
    /// Its latest beat.
    pub(crate) last_beat_at: DateTime<Utc>,
}

impl From<ruqi::query::ExecutorApp> for ExecutorApp {
    fn from(app: ruqi::query::ExecutorApp) -> Self {
        Self {
            app: app.app,
            addresses: app
                .addresses
                .into_iter()
                .map(|a| ExecutorAddress {
                    address: a.address,
                    first_beat_at: a.first_beat_at,
                    last_beat_at: a.last_beat_at,
                })
                .collect(),
            manual_addresses: app.manual_addresses,
        }
    }
}
