//! SQLite: the clock as text in the form the other timestamps are stored in,
//! so that comparisons (which are textual in SQLite) order correctly.

use std::time::Duration;

pub(super) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')";

pub(super) fn time_ago(age: Duration) -> String {
    format!(
        "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-{:.3} seconds')",
        age.as_secs_f64()
    )
}
