//! MySQL / MariaDB: the clock in UTC, as `DATETIME(6)` columns hold it.

use std::time::Duration;

pub(super) const NOW: &str = "UTC_TIMESTAMP(6)";

pub(super) fn time_ago(age: Duration) -> String {
    format!("(UTC_TIMESTAMP(6) - INTERVAL {} MICROSECOND)", age.as_micros())
}
