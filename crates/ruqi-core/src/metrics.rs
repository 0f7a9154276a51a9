//! Prometheus metrics of one scheduler.

use std::time::Duration;

use crate::events::SchedulerEvent;
use crate::scheduler::SchedulerStatus;

/// The scheduler's counters and histograms, fed by its events.
#[derive(Debug, Default)]
pub(crate) struct Metrics {}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Counts an event.
    pub(crate) fn observe(&self, _event: &SchedulerEvent) {}

    /// Records how long the last change took from commit to being applied.
    pub(crate) fn observe_feed_lag(&self, _lag: Duration) {}

    /// The Prometheus text exposition, with the gauges read from `status`.
    pub(crate) fn render(&self, _status: &SchedulerStatus) -> String {
        String::new()
    }
}
