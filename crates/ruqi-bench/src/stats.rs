//! Percentiles of one run's samples, and the median and spread of a figure over runs.

use serde::{Deserialize, Serialize};

/// The `q`-th percentile (0–100) of `sorted` by the nearest-rank method: the
/// smallest sample with at least `q` % of the samples at or below it. `None`
/// for no samples.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sorts samples for [`percentile`]; NaN (which no clock produces) sorts last.
pub(crate) fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

/// One figure over several runs: its median and the range the runs spanned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Spread {
    /// The median over runs (the mean of the middle two for an even count).
    pub(crate) median: f64,
    /// The smallest run.
    pub(crate) min: f64,
    /// The largest run.
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let values = sorted(values.into_iter().collect());
        let (first, last) = (*values.first()?, *values.last()?);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        Some(Spread {
            median,
            min: first,
            max: last,
        })
    }

    /// `median (min–max)` with `decimals` digits, or just the median for a
    /// single run; negative numbers get a real minus sign and the range reads
    /// `min to max`, so that `−5 (−9 to 3)` cannot be misread.
    pub(crate) fn display(&self, decimals: usize) -> String {
        let number = |x: f64| {
            let text = format!("{x:.decimals$}");
            match text.strip_prefix('-') {
                Some(magnitude) => format!("−{magnitude}"),
                None => text,
            }
        };
        if number(self.min) == number(self.max) {
            number(self.median)
        } else if self.min < 0.0 {
            format!("{} ({} to {})", number(self.median), number(self.min), number(self.max))
        } else {
            format!("{} ({}–{})", number(self.median), number(self.min), number(self.max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = sorted((1..=100).rev().map(f64::from).collect());
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn median_and_spread_over_runs() {
        let odd = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 3.0));
        assert_eq!(odd.display(1), "2.0 (1.0–3.0)");
        let even = Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Spread::of([5.0]).unwrap().display(2), "5.00");
        assert_eq!(Spread::of([-5.0, -9.0, 3.0]).unwrap().display(0), "−5 (−9 to 3)");
        assert_eq!(Spread::of([]), None);
    }
}
