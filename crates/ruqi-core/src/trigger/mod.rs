//! Triggers: when a job fires.
//!
//! A `job_info` row names a trigger kind (`trigger`), a rule (`rule`), a time
//! zone (`timezone`) and optional bounds (`start_at`, `end_at`).
//! [`Schedule::parse`] compiles them once; [`Schedule::next_fire_after`] then
//! answers "when next?" as a UTC instant, exact to the millisecond.
//!
//! The three kinds:
//!
//! - **cron** ([`TriggerKind::Cron`]): a cron rule of 5, 6 (seconds first) or
//!   7 (seconds first, year last) fields, or an alias such as `@daily`,
//!   evaluated in the job's IANA zone. Month and weekday names work wherever
//!   a number does (`JUN-JUL`, `MON-FRI/2`), and `L`, `W` and `#` are
//!   extensions. The rules are Vixie cron's:
//!   - *the day fields*: a day-of-month or day-of-week field that begins with
//!     `*` (`*`, `*/2`) is unrestricted; when either is, a day must match
//!     both fields, and when both are restricted, either one. `0 0 */2 * MON`
//!     is the Mondays that are odd days of the month, `0 0 1,15 * MON` the
//!     1st, the 15th and every Monday. A `+` before the day-of-week field
//!     asks for both in any case (`0 0 1-7 * +MON`, the first Monday), and a
//!     range written out keeps the either-or reading (`0 0 1-31/2 * MON`, odd
//!     days or Mondays);
//!   - *daylight saving*: a fixed wall-clock time skipped in spring fires at
//!     the end of the gap and a repeated one fires once, while a rule whose
//!     second, minute or hour field begins with `*` follows real time;
//!   - `31W` is the weekday nearest the 31st in the months that have one, and
//!     does not fire in the others (`LW` is the last weekday of every month).
//!
//!   The zones' rules hold for every year a rule can fire in (1970 to 4999),
//!   past the end of the compiled tables of the zone database in 2099. See
//!   `cron/` and `timezone.rs`.
//! - **interval** ([`TriggerKind::Interval`]): a period such as `10s`, `5m` or
//!   `1h30m` ([`parse_interval`]). It fires at `start_at`, `start_at + period`,
//!   … or, without `start_at`, one period after the row was created and every
//!   period after that. Elapsed time, so DST never changes it.
//! - **date** ([`TriggerKind::Date`]): one instant, written as a wall-clock
//!   time in the job's zone (`2026-12-16 18:03:17`), as RFC 3339 with an offset,
//!   or as `now`. It fires once.
//!
//! The files: `cron/`, `interval.rs` and `date.rs` hold one kind each, and
//! `timezone.rs` the zone names ([`parse_timezone`]) and the mapping of
//! wall-clock times to instants shared by cron and date rules.
//!
//! # Example
//!
//! ```
//! use chrono::{DateTime, Datelike, Utc, Weekday};
//! use ruqi_core::trigger::{Schedule, TriggerKind, parse_timezone};
//!
//! let after: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
//! let odd_mondays = Schedule::parse(TriggerKind::Cron, "0 0 */2 * MON", chrono_tz::Tz::UTC, None, None, after)
//!     .unwrap();
//! for fire in odd_mondays.preview(after, 4) {
//!     assert_eq!(fire.weekday(), Weekday::Mon);
//!     assert_eq!(fire.day() % 2, 1);
//! }
//!
//! // Noon in New York is 16:00 UTC in July, in 2100 as in 2026.
//! let noon = Schedule::parse(
//!     TriggerKind::Cron,
//!     "0 12 * JUL *",
//!     parse_timezone("America/New_York").unwrap(),
//!     None,
//!     None,
//!     after,
//! )
//! .unwrap();
//! let july_2100: DateTime<Utc> = "2100-06-30T00:00:00Z".parse().unwrap();
//! assert_eq!(noon.next_fire_after(july_2100).unwrap().to_rfc3339(), "2100-07-01T16:00:00+00:00");
//! ```

mod cron;
mod date;
mod interval;
mod timezone;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;

pub use interval::parse_interval;
pub use timezone::parse_timezone;

use crate::FieldError;
use cron::CronRule;
use date::DateRule;
use interval::{IntervalRule, format_period};
use timezone::{Zone, truncate_to_millis};

/// The kind of a trigger, stored in the `trigger` column as `cron`,
/// `interval` or `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// A cron rule evaluated in the job's time zone, read the way Vixie cron
    /// reads it (see the [module docs](self)).
    Cron,
    /// A fixed period of elapsed time.
    Interval,
    /// A single instant.
    Date,
}

impl TriggerKind {
    /// The name stored in the `trigger` column: `"cron"`, `"interval"` or `"date"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cron => "cron",
            Self::Interval => "interval",
            Self::Date => "date",
        }
    }
}

impl FromStr for TriggerKind {
    type Err = FieldError;

    /// Reads a kind name, ignoring case and surrounding spaces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        [Self::Cron, Self::Interval, Self::Date]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| FieldError::new("trigger", text, "unknown trigger kind (use cron, interval or date)"))
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled trigger with its time zone and bounds.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: TriggerKind,
    zone: Zone,
    rule: Rule,
    start_at: Option<DateTime<Utc>>,
    end_at: Option<DateTime<Utc>>,
}

/// The compiled rule of each kind.
#[derive(Debug, Clone)]
enum Rule {
    // Boxed: a parsed croner pattern is ten times the size of the other rules.
    Cron(Box<CronRule>),
    Interval { period: TimeDelta, rule: IntervalRule },
    Date(DateRule),
}

impl Schedule {
    /// Compiles a trigger.
    ///
    /// `anchor` is the instant an interval counts from when `start_at` is
    /// `None` (the row's creation time), and the instant the date rule `now`
    /// stands for. Every instant is truncated to the millisecond.
    ///
    /// # Errors
    ///
    /// A [`FieldError`] naming the column at fault: `rule` for a rule that
    /// does not parse or a cron rule that never fires, `end_at` when it lies
    /// before `start_at`, `timezone` for a zone without rules in the bundled
    /// database (none of the names [`parse_timezone`] accepts).
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use ruqi_core::trigger::{Schedule, TriggerKind, parse_timezone};
    ///
    /// let created: DateTime<Utc> = "2026-03-07T12:00:00Z".parse().unwrap();
    /// let schedule = Schedule::parse(
    ///     TriggerKind::Cron,
    ///     "30 2 * * *",
    ///     parse_timezone("America/New_York").unwrap(),
    ///     None,
    ///     None,
    ///     created,
    /// )
    /// .unwrap();
    ///
    /// // 02:30 does not exist on 2026-03-08 in New York: it fires at 03:00 EDT.
    /// let next = schedule.next_fire_after(created).unwrap();
    /// assert_eq!(next.to_rfc3339(), "2026-03-08T07:00:00+00:00");
    /// assert_eq!(schedule.describe(), "at 02:30 every day (America/New_York)");
    /// ```
    pub fn parse(
        kind: TriggerKind,
        rule: &str,
        timezone: Tz,
        start_at: Option<DateTime<Utc>>,
        end_at: Option<DateTime<Utc>>,
        anchor: DateTime<Utc>,
    ) -> Result<Schedule, FieldError> {
        let start_at = start_at.map(truncate_to_millis);
        let end_at = end_at.map(truncate_to_millis);
        let anchor = truncate_to_millis(anchor);
        if let (Some(start), Some(end)) = (start_at, end_at)
            && end < start
        {
            return Err(FieldError::new(
                "end_at",
                end.to_rfc3339_opts(SecondsFormat::Millis, true),
                format!(
                    "end_at is before start_at ({})",
                    start.to_rfc3339_opts(SecondsFormat::Millis, true)
                ),
            ));
        }
        let zone = Zone::new(timezone)?;
        let rule = match kind {
            TriggerKind::Cron => Rule::Cron(Box::new(CronRule::parse(rule)?)),
            TriggerKind::Interval => {
                let period = parse_interval(rule)?;
                Rule::Interval {
                    period,
                    rule: IntervalRule::new(period, start_at, anchor),
                }
            }
            TriggerKind::Date => Rule::Date(DateRule::parse(rule, &zone, anchor)?),
        };
        Ok(Schedule {
            kind,
            zone,
            rule,
            start_at,
            end_at,
        })
    }

    /// The trigger kind.
    pub fn kind(&self) -> TriggerKind {
        self.kind
    }

    /// The time zone cron and local date rules are read in.
    pub fn timezone(&self) -> Tz {
        self.zone.tz()
    }

    /// The first fire instant strictly after `after`, honouring `start_at`
    /// (no fire before it) and `end_at` (no fire after it); `None` when there
    /// is none.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use ruqi_core::trigger::{Schedule, TriggerKind};
    ///
    /// let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    /// let end: DateTime<Utc> = "2026-01-01T02:00:00Z".parse().unwrap();
    /// let schedule = Schedule::parse(
    ///     TriggerKind::Interval,
    ///     "1h",
    ///     chrono_tz::Tz::UTC,
    ///     Some(start),
    ///     Some(end),
    ///     start,
    /// )
    /// .unwrap();
    ///
    /// assert_eq!(schedule.next_fire_after(start - chrono::TimeDelta::seconds(1)), Some(start));
    /// assert_eq!(schedule.preview(start, 5).len(), 2); // 01:00 and 02:00, then end_at
    /// assert_eq!(schedule.next_fire_after(end), None);
    /// ```
    pub fn next_fire_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Saves a cron search (up to year 4999 for a sparse rule) for a
        // schedule that is already over.
        if self.end_at.is_some_and(|end| after >= end) {
            return None;
        }
        // Fires fall on whole milliseconds, so "not before start_at" is
        // "strictly after one millisecond before it".
        let after = match self
            .start_at
            .and_then(|start| start.checked_sub_signed(TimeDelta::milliseconds(1)))
        {
            Some(before_start) => after.max(before_start),
            None => after,
        };
        let fire = match &self.rule {
            Rule::Cron(rule) => rule.next_after(&self.zone, after),
            Rule::Interval { rule, .. } => rule.next_after(after),
            Rule::Date(rule) => rule.next_after(after),
        }?;
        match self.end_at {
            Some(end) if fire > end => None,
            _ => Some(fire),
        }
    }

    /// The next `n` fire instants strictly after `after` (fewer if the
    /// schedule ends).
    pub fn preview(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::with_capacity(n.min(1024));
        let mut after = after;
        while fires.len() < n {
            let Some(fire) = self.next_fire_after(after) else {
                break;
            };
            fires.push(fire);
            after = fire;
        }
        fires
    }

    /// A short human description in English, e.g. "at 02:20 every day
    /// (Europe/Berlin)", "every 1h30m", "once at 2026-12-16 18:03:17 UTC".
    pub fn describe(&self) -> String {
        match &self.rule {
            Rule::Cron(rule) => rule.describe(self.zone.tz()),
            Rule::Interval { period, .. } => format!("every {}", format_period(*period)),
            Rule::Date(rule) => rule.describe(&self.zone),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn schedule(kind: TriggerKind, rule: &str, tz: Tz, start_at: Option<&str>, end_at: Option<&str>) -> Schedule {
        Schedule::parse(
            kind,
            rule,
            tz,
            start_at.map(utc),
            end_at.map(utc),
            utc("2026-01-01T00:00:00Z"),
        )
        .unwrap()
    }

    #[test]
    fn trigger_kind_names_round_trip() {
        for kind in [TriggerKind::Cron, TriggerKind::Interval, TriggerKind::Date] {
            assert_eq!(kind.as_str().parse::<TriggerKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(TriggerKind::Cron.as_str(), "cron");
        assert_eq!(TriggerKind::Interval.as_str(), "interval");
        assert_eq!(TriggerKind::Date.as_str(), "date");
    }

    #[test]
    fn trigger_kind_parsing_ignores_case_and_spaces() {
        assert_eq!(" CRON ".parse::<TriggerKind>().unwrap(), TriggerKind::Cron);
        assert_eq!("Interval".parse::<TriggerKind>().unwrap(), TriggerKind::Interval);
        assert_eq!("date\n".parse::<TriggerKind>().unwrap(), TriggerKind::Date);
    }

    #[test]
    fn an_unknown_trigger_kind_lists_the_valid_ones() {
        let err = "weekly".parse::<TriggerKind>().unwrap_err();
        assert_eq!(err.field, "trigger");
        assert_eq!(err.value, "weekly");
        assert_eq!(
            err.to_string(),
            r#"invalid trigger "weekly": unknown trigger kind (use cron, interval or date)"#
        );
    }

    #[test]
    fn schedules_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Schedule>();
        shareable::<TriggerKind>();
    }

    #[test]
    fn exposes_kind_and_timezone() {
        let s = schedule(TriggerKind::Cron, "0 9 * * *", Tz::Europe__Berlin, None, None);
        assert_eq!(s.kind(), TriggerKind::Cron);
        assert_eq!(s.timezone(), Tz::Europe__Berlin);
    }

    #[test]
    fn end_before_start_is_an_error_on_end_at() {
        let err = Schedule::parse(
            TriggerKind::Interval,
            "1h",
            Tz::UTC,
            Some(utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-05-31T23:59:59Z")),
            utc("2026-01-01T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(err.field, "end_at");
        assert_eq!(err.value, "2026-05-31T23:59:59.000Z");
        assert_eq!(err.reason, "end_at is before start_at (2026-06-01T00:00:00.000Z)");
        // Equal bounds are fine: the schedule may fire exactly then.
        let once = schedule(
            TriggerKind::Interval,
            "1h",
            Tz::UTC,
            Some("2026-06-01T00:00:00Z"),
            Some("2026-06-01T00:00:00Z"),
        );
        assert_eq!(
            once.preview(utc("2026-01-01T00:00:00Z"), 3),
            vec![utc("2026-06-01T00:00:00Z")]
        );
    }

    #[test]
    fn errors_from_each_kind_name_their_field() {
        let anchor = utc("2026-01-01T00:00:00Z");
        for (kind, rule) in [
            (TriggerKind::Cron, "0 25 * * *"),
            (TriggerKind::Interval, "10x"),
            (TriggerKind::Date, "someday"),
        ] {
            let err = Schedule::parse(kind, rule, Tz::UTC, None, None, anchor).unwrap_err();
            assert_eq!(err.field, "rule", "{kind}");
            assert_eq!(err.value, rule);
        }
        let never = Schedule::parse(TriggerKind::Cron, "0 0 30 2 *", Tz::UTC, None, None, anchor).unwrap_err();
        assert!(never.reason.starts_with("never fires"), "{never}");
    }

    #[test]
    fn cron_honours_start_at_and_end_at() {
        let s = schedule(
            TriggerKind::Cron,
            "0 12 * * *",
            Tz::UTC,
            Some("2026-03-10T12:00:00Z"),
            Some("2026-03-12T12:00:00Z"),
        );
        assert_eq!(
            s.preview(utc("2026-01-01T00:00:00Z"), 10),
            vec![
                utc("2026-03-10T12:00:00Z"),
                utc("2026-03-11T12:00:00Z"),
                utc("2026-03-12T12:00:00Z")
            ]
        );
        assert_eq!(s.next_fire_after(utc("2026-03-12T12:00:00Z")), None);
    }

    #[test]
    fn start_at_between_fires_moves_to_the_next_fire() {
        let s = schedule(
            TriggerKind::Cron,
            "0 12 * * *",
            Tz::UTC,
            Some("2026-03-10T12:00:00.001Z"),
            None,
        );
        assert_eq!(
            s.next_fire_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-03-11T12:00:00Z"))
        );
    }

    #[test]
    fn interval_counts_from_start_at_or_from_the_anchor() {
        let with_start = schedule(
            TriggerKind::Interval,
            "1h30m",
            Tz::UTC,
            Some("2026-02-01T08:00:00Z"),
            None,
        );
        assert_eq!(
            with_start.preview(utc("2026-01-15T00:00:00Z"), 3),
            vec![
                utc("2026-02-01T08:00:00Z"),
                utc("2026-02-01T09:30:00Z"),
                utc("2026-02-01T11:00:00Z")
            ]
        );
        let from_anchor = schedule(TriggerKind::Interval, "10s", Tz::UTC, None, None);
        assert_eq!(
            from_anchor.preview(utc("2026-01-01T00:00:00Z"), 2),
            vec![utc("2026-01-01T00:00:10Z"), utc("2026-01-01T00:00:20Z")]
        );
        // Years later, the next fire is still on the grid of the anchor.
        assert_eq!(
            from_anchor.next_fire_after(utc("2031-07-04T10:20:35Z")),
            Some(utc("2031-07-04T10:20:40Z"))
        );
    }

    #[test]
    fn interval_ignores_daylight_saving() {
        let s = schedule(
            TriggerKind::Interval,
            "30m",
            Tz::America__New_York,
            Some("2026-11-01T05:00:00Z"),
            None,
        );
        assert_eq!(
            s.preview(utc("2026-11-01T04:59:00Z"), 4),
            vec![
                utc("2026-11-01T05:00:00Z"),
                utc("2026-11-01T05:30:00Z"),
                utc("2026-11-01T06:00:00Z"),
                utc("2026-11-01T06:30:00Z")
            ]
        );
    }

    #[test]
    fn date_fires_once_within_its_bounds() {
        let s = schedule(TriggerKind::Date, "2026-12-16 19:03:17", Tz::Europe__Berlin, None, None);
        assert_eq!(
            s.preview(utc("2026-01-01T00:00:00Z"), 5),
            vec![utc("2026-12-16T18:03:17Z")]
        );
        let late = schedule(
            TriggerKind::Date,
            "2026-12-16T18:03:17Z",
            Tz::UTC,
            None,
            Some("2026-12-01T00:00:00Z"),
        );
        assert_eq!(late.next_fire_after(utc("2026-01-01T00:00:00Z")), None);
        let early = schedule(
            TriggerKind::Date,
            "2026-12-16T18:03:17Z",
            Tz::UTC,
            Some("2026-12-17T00:00:00Z"),
            None,
        );
        assert_eq!(early.next_fire_after(utc("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn date_now_is_the_anchor() {
        let anchor = utc("2026-05-05T05:05:05.555999Z");
        let s = Schedule::parse(TriggerKind::Date, "now", Tz::UTC, None, None, anchor).unwrap();
        assert_eq!(
            s.next_fire_after(utc("2026-05-05T05:05:05Z")),
            Some(utc("2026-05-05T05:05:05.555Z"))
        );
    }

    #[test]
    fn bounds_are_truncated_to_milliseconds() {
        let s = Schedule::parse(
            TriggerKind::Interval,
            "1s",
            Tz::UTC,
            Some(utc("2026-01-01T00:00:00.000900Z")),
            None,
            utc("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            s.next_fire_after(utc("2025-12-31T00:00:00Z")),
            Some(utc("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn preview_stops_when_the_schedule_ends() {
        let s = schedule(TriggerKind::Date, "2026-03-01 00:00:00", Tz::UTC, None, None);
        assert!(s.preview(utc("2026-01-01T00:00:00Z"), 0).is_empty());
        assert_eq!(s.preview(utc("2026-01-01T00:00:00Z"), 3).len(), 1);
        assert!(s.preview(utc("2026-03-01T00:00:00Z"), 3).is_empty());
    }

    #[test]
    fn describes_each_kind() {
        assert_eq!(
            schedule(TriggerKind::Cron, "0 20 2 * * *", Tz::Europe__Berlin, None, None).describe(),
            "at 02:20 every day (Europe/Berlin)"
        );
        assert_eq!(
            schedule(TriggerKind::Interval, "90m", Tz::UTC, None, None).describe(),
            "every 1h30m"
        );
        assert_eq!(
            schedule(TriggerKind::Date, "2026-12-16 18:03:17", Tz::UTC, None, None).describe(),
            "once at 2026-12-16 18:03:17 UTC"
        );
    }
}
