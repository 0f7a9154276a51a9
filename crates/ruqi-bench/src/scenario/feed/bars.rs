//! The change feed's bars: single edits (p99 on PostgreSQL, the slowest
//! edit where the poll finds them) and bulk edits, judged over every table
//! size measured.

use super::{Latency, Report, Row};
use crate::backend::Backend;
use crate::report::thousands;

/// The PostgreSQL bar: p99 of commit → applied, every table size.
pub(crate) const BAR_POSTGRES_P99_MS: f64 = 100.0;
/// The SQLite and MySQL bar: every edit applied within the poll interval plus this.
pub(crate) const BAR_POLL_SLACK_MS: f64 = 50.0;
/// The bulk bar on PostgreSQL: every row of a bulk `UPDATE` applied within this.
pub(crate) const BAR_BULK_POSTGRES_MS: f64 = 300.0;
/// The bulk bar elsewhere: within the poll interval plus this.
pub(crate) const BAR_BULK_POLL_SLACK_MS: f64 = 300.0;

/// What a backend's bar says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BarResult {
    /// The bar, e.g. `p99 ≤ 100 ms`.
    pub(crate) bar: String,
    /// The figure held to it (the worst over table sizes), with what it is.
    pub(crate) measured: String,
    /// Whether every size kept it.
    pub(crate) pass: bool,
}

impl Report {
    /// The bar `backend` is held to, in words.
    pub(crate) fn bar_text(backend: Backend, poll_interval_ms: u64) -> String {
        match backend {
            Backend::Postgres => format!("p99 ≤ {BAR_POSTGRES_P99_MS} ms"),
            _ => format!(
                "every edit ≤ poll interval + {BAR_POLL_SLACK_MS} ms = {} ms",
                thousands(usize::try_from(poll_interval_ms).unwrap_or(usize::MAX) + BAR_POLL_SLACK_MS as usize)
            ),
        }
    }

    /// Whether one row keeps its backend's bar: p99 on PostgreSQL (`LISTEN`
    /// makes it a latency target), the slowest edit elsewhere (the poll makes
    /// it a bound).
    pub(crate) fn row_passes(&self, row: &Row) -> Option<bool> {
        let direct = row.direct?;
        Some(row.run.unapplied == 0 && self.bar_figure(row.backend, &direct) <= self.bar_limit(row.backend))
    }

    fn bar_figure(&self, backend: Backend, latency: &Latency) -> f64 {
        match backend {
            Backend::Postgres => latency.p99_ms,
            _ => latency.max_ms,
        }
    }

    fn bar_limit(&self, backend: Backend) -> f64 {
        match backend {
            Backend::Postgres => BAR_POSTGRES_P99_MS,
            _ => self.poll_interval_ms as f64 + BAR_POLL_SLACK_MS,
        }
    }

    /// `backend`'s bar over every size measured; `None` if it was not measured.
    pub(crate) fn bar(&self, backend: Backend) -> Option<BarResult> {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.backend == backend).collect();
        let worst = rows.iter().filter_map(|r| Some((*r, r.direct?))).max_by(|a, b| {
            self.bar_figure(backend, &a.1)
                .total_cmp(&self.bar_figure(backend, &b.1))
        })?;
        let (row, latency) = worst;
        let what = match backend {
            Backend::Postgres => "p99",
            _ => "slowest edit",
        };
        let mut measured = format!(
            "{what} {:.1} ms (of {} edits, at {} idle jobs; p50 {:.1} ms)",
            self.bar_figure(backend, &latency),
            latency.samples,
            thousands(row.idle_jobs),
            latency.p50_ms
        );
        let unapplied: usize = rows.iter().map(|r| r.run.unapplied).sum();
        if unapplied > 0 {
            measured.push_str(&format!("; **{unapplied} edit(s) never applied**"));
        }
        Some(BarResult {
            bar: Report::bar_text(backend, self.poll_interval_ms),
            measured,
            pass: rows.iter().all(|r| self.row_passes(r) == Some(true)),
        })
    }

    /// The bulk bar of `backend`, in words.
    pub(crate) fn bulk_bar_text(&self, backend: Backend, poll_interval_ms: u64) -> String {
        let rows = thousands(self.bulk_rows);
        match backend {
            Backend::Postgres => {
                format!("{rows} rows changed by one statement all applied ≤ {BAR_BULK_POSTGRES_MS} ms")
            }
            _ => format!(
                "{rows} rows changed by one statement all applied ≤ poll interval + {BAR_BULK_POLL_SLACK_MS} ms = {} ms",
                thousands(usize::try_from(poll_interval_ms).unwrap_or(usize::MAX) + BAR_BULK_POLL_SLACK_MS as usize)
            ),
        }
    }

    /// `backend`'s bulk bar: the slowest bulk edit, from the statement's
    /// return until its last row was applied, over every size measured.
    pub(crate) fn bulk_bar(&self, backend: Backend) -> Option<BarResult> {
        let rows: Vec<&Row> = self.rows.iter().filter(|r| r.backend == backend).collect();
        let (row, slowest) = rows
            .iter()
            .filter_map(|r| Some((*r, r.bulk_all?)))
            .max_by(|a, b| a.1.max_ms.total_cmp(&b.1.max_ms))?;
        let limit = match backend {
            Backend::Postgres => BAR_BULK_POSTGRES_MS,
            _ => self.poll_interval_ms as f64 + BAR_BULK_POLL_SLACK_MS,
        };
        let unapplied: usize = rows.iter().map(|r| r.run.unapplied).sum();
        Some(BarResult {
            bar: self.bulk_bar_text(backend, self.poll_interval_ms),
            measured: format!(
                "slowest {:.1} ms (of {} bulk edits, at {} idle jobs; p50 {:.1} ms)",
                slowest.max_ms,
                slowest.samples,
                thousands(row.idle_jobs),
                slowest.p50_ms
            ),
            pass: unapplied == 0 && rows.iter().all(|r| r.bulk_all.is_some_and(|b| b.max_ms <= limit)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::feed::{BULK_ROWS, RunResult};

    #[test]
    fn bars_take_p99_on_postgres_and_the_slowest_edit_elsewhere() {
        let run = |direct_ms: Vec<f64>| RunResult {
            direct_ms,
            ..RunResult::default()
        };
        let mut slow_tail: Vec<f64> = vec![5.0; 99];
        slow_tail.push(400.0);
        let report = Report {
            poll_interval_ms: 1000,
            bulk_rows: BULK_ROWS,
            direct_edits: 100,
            hook_edits: 0,
            bulk_edits: 0,
            backends: Vec::new(),
            rows: vec![
                Row::new(Backend::Postgres, 1_000, run(slow_tail)),
                Row::new(Backend::Sqlite, 1_000, run(vec![500.0, 1049.0])),
                Row::new(Backend::MySql, 1_000, run(vec![500.0, 1051.0])),
            ],
        };
        assert!(report.bar(Backend::Postgres).unwrap().pass);
        assert!(report.bar(Backend::Sqlite).unwrap().pass);
        assert!(!report.bar(Backend::MySql).unwrap().pass);
    }

    #[test]
    fn bulk_bars_take_the_slowest_bulk_edit() {
        let run = |bulk_all_ms: Vec<f64>| RunResult {
            bulk_all_ms,
            ..RunResult::default()
        };
        let report = Report {
            poll_interval_ms: 1000,
            bulk_rows: BULK_ROWS,
            direct_edits: 0,
            hook_edits: 0,
            bulk_edits: 2,
            backends: Vec::new(),
            rows: vec![
                Row::new(Backend::Postgres, 1_000, run(vec![120.0, 299.0])),
                Row::new(Backend::Postgres, 10_000, run(vec![120.0, 301.0])),
                Row::new(Backend::Sqlite, 1_000, run(vec![900.0, 1_299.0])),
            ],
        };
        let postgres = report.bulk_bar(Backend::Postgres).unwrap();
        assert!(!postgres.pass);
        assert!(
            postgres.measured.starts_with("slowest 301.0 ms"),
            "{}",
            postgres.measured
        );
        assert!(report.bulk_bar(Backend::Sqlite).unwrap().pass);
        assert!(report.bulk_bar(Backend::MySql).is_none());
    }
}
