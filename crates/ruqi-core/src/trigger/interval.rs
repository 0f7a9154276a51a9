//! Interval triggers: a fixed period of elapsed time.
//!
//! A rule is one or more `<integer><unit>` parts, e.g. `500ms`, `10s`, `5m`,
//! `1h30m` or `1d 12h`; a bare integer is a number of seconds. The period is
//! elapsed time, so daylight-saving changes never stretch or shrink it.
//!
//! Fire instants form the arithmetic sequence `base + k * period`, so the next
//! one is computed directly rather than by stepping through the periods: a job
//! whose last fire lies years back costs the same as one that fired a second
//! ago.

use chrono::{DateTime, TimeDelta, Utc};

use crate::FieldError;

/// The units of the grammar with their length in milliseconds.
const UNITS: [(&str, i64); 6] = [
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const UNIT_HINT: &str = "use ms, s, m, h, d or w";

/// Parses an interval rule such as `10s`, `5m`, `1h30m`, `1h 30m` or `500ms`.
///
/// Units are `ms`, `s`, `m` (minutes), `h`, `d` and `w`, in any case; spaces
/// may separate the parts; a bare integer is a number of seconds. Parts are
/// added up, so `90s` and `1m30s` are the same period.
///
/// # Errors
///
/// A [`FieldError`] on field `rule` for an empty rule, an unknown unit, a
/// fraction, a sign, a zero period, or one too long to represent.
pub fn parse_interval(rule: &str) -> Result<TimeDelta, FieldError> {
    let fail = |reason: String| FieldError::new("rule", rule, reason);
    let text = rule.trim();
    if text.is_empty() {
        return Err(fail(format!(
            "empty interval (write a number and a unit, e.g. 10s, 5m or 1h30m; {UNIT_HINT})"
        )));
    }
    let millis = if text.bytes().all(|b| b.is_ascii_digit()) {
        // A bare number is seconds, the unit people most often mean.
        part_millis(text, "s").map_err(fail)?
    } else {
        sum_parts(text).map_err(fail)?
    };
    if millis == 0 {
        return Err(fail("the interval must be longer than zero".to_owned()));
    }
    TimeDelta::try_milliseconds(millis).ok_or_else(|| fail("the interval is too long".to_owned()))
}

/// Adds up the `<integer><unit>` parts of a rule, in milliseconds.
fn sum_parts(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(first) = rest.chars().next() else {
            return Ok(total);
        };
        if first == '-' {
            return Err("the interval must be positive, not negative".to_owned());
        }
        let digits_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_len == 0 {
            return Err(format!(
                "expected a number at \"{rest}\" (write parts like 10s, 5m or 1h30m)"
            ));
        }
        let (digits, after_digits) = rest.split_at(digits_len);
        let after_digits = after_digits.trim_start();
        let unit_len = after_digits
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_digits.len());
        let (unit, after_unit) = after_digits.split_at(unit_len);
        if unit.is_empty() {
            return Err(match after_digits.chars().next() {
                Some('.' | ',') => "fractions are not supported (use a smaller unit, \
                                    e.g. 1h30m instead of 1.5h)"
                    .to_owned(),
                Some(other) if !other.is_ascii_digit() => {
                    format!("unexpected \"{other}\" after {digits} ({UNIT_HINT})")
                }
                _ => format!("missing unit after {digits} ({UNIT_HINT})"),
            });
        }
        let part = part_millis(digits, unit)?;
        total = total
            .checked_add(part)
            .ok_or_else(|| "the interval is too long".to_owned())?;
        rest = after_unit;
    }
}

/// The length of one `<digits><unit>` part in milliseconds.
fn part_millis(digits: &str, unit: &str) -> Result<i64, String> {
    let lower = unit.to_ascii_lowercase();
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| format!("unknown unit \"{unit}\" ({UNIT_HINT})"))?;
    digits
        .parse::<i64>()
        .ok()
        .and_then(|count| count.checked_mul(scale))
        .ok_or_else(|| format!("{digits}{unit} is too long"))
}

/// Writes a period in the rule grammar, largest units first: `1h30m`, `2w`, `500ms`.
pub(crate) fn format_period(period: TimeDelta) -> String {
    let mut left = period.num_milliseconds();
    let mut out = String::new();
    for (name, scale) in UNITS {
        let count = left / scale;
        if count > 0 {
            out.push_str(&format!("{count}{name}"));
            left -= count * scale;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// A compiled interval: fires at `base + k * period` for every `k >= first`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntervalRule {
    base_ms: i64,
    period_ms: i64,
    first: i64,
}

impl IntervalRule {
    /// With `start_at`, the first fire is `start_at` itself; without it the
    /// rule counts from `anchor` (the row's creation) and first fires one
    /// period later, so a new job does not fire the moment it is created.
    pub(crate) fn new(period: TimeDelta, start_at: Option<DateTime<Utc>>, anchor: DateTime<Utc>) -> Self {
        let (base, first) = match start_at {
            Some(start) => (start, 0),
            None => (anchor, 1),
        };
        Self {
            base_ms: base.timestamp_millis(),
            period_ms: period.num_milliseconds().max(1),
            first,
        }
    }

    /// The first fire strictly after `after`, computed in constant time.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // `timestamp_millis` rounds towards the past, and fires fall on whole
        // milliseconds, so "fire > after" is "fire > floor(after)".
        let since_base = after.timestamp_millis().checked_sub(self.base_ms)?;
        let k = if since_base < 0 {
            0
        } else {
            since_base / self.period_ms + 1
        };
        let k = k.max(self.first);
        let fire = k
            .checked_mul(self.period_ms)
            .and_then(|offset| offset.checked_add(self.base_ms))?;
        DateTime::from_timestamp_millis(fire)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn ms(text: &str) -> i64 {
        parse_interval(text).unwrap().num_milliseconds()
    }

    fn reason(text: &str) -> String {
        let err = parse_interval(text).unwrap_err();
        assert_eq!(err.field, "rule");
        assert_eq!(err.value, text);
        err.reason
    }

    #[test]
    fn parses_each_unit() {
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("10s"), 10_000);
        assert_eq!(ms("5m"), 300_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("1w"), 604_800_000);
    }

    #[test]
    fn parses_compound_rules_with_or_without_spaces() {
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1h 30m"), 5_400_000);
        assert_eq!(ms(" 1d 2h 3m 4s 5ms "), 93_784_005);
        assert_eq!(ms("10 s"), 10_000);
    }

    #[test]
    fn units_are_case_insensitive() {
        assert_eq!(ms("1H30M"), 5_400_000);
        assert_eq!(ms("250MS"), 250);
        assert_eq!(ms("2W"), 2 * 604_800_000);
    }

    #[test]
    fn a_bare_integer_is_seconds_and_so_is_a_trailing_s() {
        assert_eq!(ms("90"), 90_000);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("90s"), ms("1m30s"));
    }

    #[test]
    fn refuses_zero() {
        assert_eq!(reason("0"), "the interval must be longer than zero");
        assert_eq!(reason("0s 0m"), "the interval must be longer than zero");
    }

    #[test]
    fn refuses_negative_values() {
        assert_eq!(reason("-5m"), "the interval must be positive, not negative");
        assert_eq!(reason("-5"), "the interval must be positive, not negative");
    }

    #[test]
    fn refuses_overflow() {
        assert_eq!(reason("99999999999999999999"), "99999999999999999999s is too long");
        assert_eq!(reason("99999999999w"), "99999999999w is too long");
        assert_eq!(
            reason("9000000000000000000ms 9000000000000000000ms"),
            "the interval is too long"
        );
    }

    #[test]
    fn refuses_unknown_units() {
        assert_eq!(
            parse_interval("10x").unwrap_err().to_string(),
            r#"invalid rule "10x": unknown unit "x" (use ms, s, m, h, d or w)"#
        );
        assert_eq!(reason("3 months"), r#"unknown unit "months" (use ms, s, m, h, d or w)"#);
    }

    #[test]
    fn refuses_garbage_with_a_precise_reason() {
        assert!(reason("").starts_with("empty interval"));
        assert!(reason("1.5h").starts_with("fractions are not supported"));
        assert_eq!(reason("10 20"), "missing unit after 10 (use ms, s, m, h, d or w)");
        assert_eq!(
            reason("5m+"),
            r#"expected a number at "+" (write parts like 10s, 5m or 1h30m)"#
        );
        assert_eq!(
            reason("h"),
            r#"expected a number at "h" (write parts like 10s, 5m or 1h30m)"#
        );
        assert_eq!(reason("5_m"), r#"unexpected "_" after 5 (use ms, s, m, h, d or w)"#);
    }

    #[test]
    fn formats_periods_in_the_rule_grammar() {
        let f = |text: &str| format_period(parse_interval(text).unwrap());
        assert_eq!(f("1h30m"), "1h30m");
        assert_eq!(f("90"), "1m30s");
        assert_eq!(f("14d"), "2w");
        assert_eq!(f("1d 12h"), "1d12h");
        assert_eq!(f("1500ms"), "1s500ms");
    }

    #[test]
    fn with_start_at_the_first_fire_is_start_at() {
        let start = utc("2026-01-01T00:00:00Z");
        let rule = IntervalRule::new(TimeDelta::minutes(10), Some(start), utc("2025-06-01T00:00:00Z"));
        assert_eq!(rule.next_after(utc("2025-12-31T23:00:00Z")), Some(start));
        assert_eq!(rule.next_after(start - TimeDelta::milliseconds(1)), Some(start));
        assert_eq!(rule.next_after(start), Some(utc("2026-01-01T00:10:00Z")));
        assert_eq!(
            rule.next_after(utc("2026-01-01T00:15:00Z")),
            Some(utc("2026-01-01T00:20:00Z"))
        );
    }

    #[test]
    fn without_start_at_the_first_fire_is_one_period_after_the_anchor() {
        let anchor = utc("2026-01-01T12:00:00.250Z");
        let rule = IntervalRule::new(TimeDelta::hours(1), None, anchor);
        assert_eq!(
            rule.next_after(utc("2020-01-01T00:00:00Z")),
            Some(utc("2026-01-01T13:00:00.250Z"))
        );
        assert_eq!(rule.next_after(anchor), Some(utc("2026-01-01T13:00:00.250Z")));
        assert_eq!(
            rule.next_after(utc("2026-01-01T13:00:00.250Z")),
            Some(utc("2026-01-01T14:00:00.250Z"))
        );
    }

    #[test]
    fn sub_millisecond_after_values_do_not_skip_or_repeat_a_fire() {
        let rule = IntervalRule::new(
            TimeDelta::seconds(1),
            Some(utc("2026-01-01T00:00:00Z")),
            utc("2026-01-01T00:00:00Z"),
        );
        assert_eq!(
            rule.next_after(utc("2026-01-01T00:00:04.999999Z")),
            Some(utc("2026-01-01T00:00:05Z"))
        );
        assert_eq!(
            rule.next_after(utc("2026-01-01T00:00:05.000001Z")),
            Some(utc("2026-01-01T00:00:06Z"))
        );
    }

    #[test]
    fn after_a_long_gap_the_next_fire_is_computed_directly() {
        let rule = IntervalRule::new(TimeDelta::milliseconds(1), None, utc("2000-01-01T00:00:00Z"));
        let clock = Instant::now();
        // Thirty years of one-millisecond periods: stepping would take ~1e12 steps.
        let next = rule.next_after(utc("2030-06-15T10:20:30.456Z"));
        assert_eq!(next, Some(utc("2030-06-15T10:20:30.457Z")));
        assert!(clock.elapsed().as_millis() < 50);

        let weekly = IntervalRule::new(
            TimeDelta::weeks(1),
            Some(utc("2026-01-05T09:00:00Z")),
            utc("2026-01-01T00:00:00Z"),
        );
        // 2026-01-05 plus 522 weeks (3654 days, two leap days) is 2036-01-07.
        assert_eq!(
            weekly.next_after(utc("2036-01-01T00:00:00Z")),
            Some(utc("2036-01-07T09:00:00Z"))
        );
    }

    #[test]
    fn daylight_saving_does_not_change_the_period() {
        // Berlin springs forward at 2026-03-29T01:00Z; an hourly interval
        // keeps one-hour steps of elapsed time across it.
        let rule = IntervalRule::new(
            TimeDelta::hours(1),
            Some(utc("2026-03-28T23:30:00Z")),
            utc("2026-03-01T00:00:00Z"),
        );
        let mut fires = vec![];
        let mut after = utc("2026-03-28T23:00:00Z");
        for _ in 0..4 {
            after = rule.next_after(after).unwrap();
            fires.push(after);
        }
        assert_eq!(
            fires,
            [
                utc("2026-03-28T23:30:00Z"),
                utc("2026-03-29T00:30:00Z"),
                utc("2026-03-29T01:30:00Z"),
                utc("2026-03-29T02:30:00Z"),
            ]
        );
    }

    #[test]
    fn runs_out_at_the_end_of_time_instead_of_overflowing() {
        let rule = IntervalRule::new(TimeDelta::weeks(52 * 1000), None, utc("2026-01-01T00:00:00Z"));
        assert_eq!(rule.next_after(DateTime::<Utc>::MAX_UTC), None);
        let huge = IntervalRule::new(TimeDelta::MAX, None, utc("2026-01-01T00:00:00Z"));
        assert_eq!(huge.next_after(utc("2026-01-01T00:00:00Z")), None);
    }
}
