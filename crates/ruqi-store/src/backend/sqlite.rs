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

/// Whole seconds since the epoch of a timestamp stored as RFC 3339 text;
/// `unixepoch` reads its `+00:00` offset, and answers an integer at a third
/// less cost per row than `CAST(strftime('%s', …) AS INTEGER)`.
pub(super) fn epoch_seconds(column: &str) -> String {
    format!("unixepoch({column})")
}
