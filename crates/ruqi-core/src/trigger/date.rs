//! Date triggers: one fire at a given instant.
//!
//! Accepted rules:
//! - `YYYY-MM-DD HH:MM:SS[.f]` or `YYYY-MM-DDTHH:MM:SS[.f]` (1 to 9 fraction
//!   digits), a wall-clock time in the job's zone;
//! - RFC 3339 with `Z` or a `+HH:MM`/`-HH:MM` offset, which fixes the instant
//!   by itself (the job's zone is then not used for parsing);
//! - `now`, the anchor the schedule was parsed with (the row's creation time).
//!
//! A wall-clock time skipped by a spring-forward change becomes the first
//! instant after the gap, and a repeated one its first occurrence, the same
//! rule cron triggers follow.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use super::timezone::{Zone, truncate_to_millis};
use crate::FieldError;

const ACCEPTED: &str = "use YYYY-MM-DD HH:MM:SS[.ffffff] or YYYY-MM-DDTHH:MM:SS[.ffffff] \
                        in the job's time zone, RFC 3339 with an offset such as \
                        2026-12-16T18:03:17Z, or now";

/// A compiled date rule: its one fire instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateRule {
    at: DateTime<Utc>,
}

impl DateRule {
    /// Parses a date rule; `now` stands for `anchor`.
    pub(crate) fn parse(rule: &str, zone: &Zone, anchor: DateTime<Utc>) -> Result<Self, FieldError> {
        let fail = |reason: String| FieldError::new("rule", rule, reason);
        let text = rule.trim();
        let at = if text.eq_ignore_ascii_case("now") {
            anchor
        } else {
            let (local, offset) = split(text).map_err(fail)?;
            match offset {
                Some(offset) => local
                    .checked_sub_offset(offset)
                    .map(|utc| utc.and_utc())
                    .ok_or_else(|| fail("the date is out of range".to_owned()))?,
                None => zone
                    .resolve_local(local)
                    .ok_or_else(|| fail("the date is out of range".to_owned()))?,
            }
        };
        Ok(Self {
            at: truncate_to_millis(at),
        })
    }

    /// The fire instant.
    #[cfg(test)]
    pub(crate) fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The fire instant if it lies strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.at > after).then_some(self.at)
    }

    /// "once at 2026-12-16 18:03:17 UTC", or the wall-clock time and zone
    /// name for other zones, since that is how the rule was most likely written.
    pub(crate) fn describe(&self, zone: &Zone) -> String {
        let format = if self.at.timestamp_subsec_millis() == 0 {
            "%Y-%m-%d %H:%M:%S"
        } else {
            "%Y-%m-%d %H:%M:%S%.3f"
        };
        match zone.local_time(self.at) {
            Some(local) if zone.tz() != Tz::UTC => {
                format!("once at {} ({})", local.format(format), zone.tz().name())
            }
            _ => format!("once at {} UTC", self.at.format(format)),
        }
    }
}

/// Splits a rule into its wall-clock part and its offset, if it has one.
fn split(text: &str) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
    let bytes = text.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|part| part.iter().all(u8::is_ascii_digit));
    let at = |index: usize, allowed: &[u8]| bytes.get(index).is_some_and(|b| allowed.contains(b));
    let has_date = digits(0..4) && at(4, b"-") && digits(5..7) && at(7, b"-") && digits(8..10);
    if !has_date {
        return Err(format!("not a date ({ACCEPTED})"));
    }
    if bytes.len() == 10 {
        return Err(format!("missing the time of day ({ACCEPTED})"));
    }
    let has_time = at(10, b" Tt") && digits(11..13) && at(13, b":") && digits(14..16) && at(16, b":") && digits(17..19);
    if !has_time {
        return Err(format!("not a date ({ACCEPTED})"));
    }
    // The shape is fixed, so every slice below is in range and ASCII.
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));

    let mut rest = &text[19..];
    let mut nanos = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.find(|c: char| !c.is_ascii_digit()).unwrap_or(fraction.len());
        if len == 0 {
            return Err(format!("missing digits after the decimal point ({ACCEPTED})"));
        }
        if len > 9 {
            return Err("the fraction of a second has more than 9 digits".to_owned());
        }
        let padded = format!("{:0<9}", &fraction[..len]);
        nanos = padded.parse::<u32>().unwrap_or(0);
        rest = &fraction[len..];
    }
    let offset = parse_offset(rest)?;

    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range 1-12"));
    }
    if !(1..=31).contains(&day) {
        return Err(format!("day {day} is out of range 1-31"));
    }
    let year = i32::try_from(year).unwrap_or(0);
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        format!(
            "{} does not exist (day {day} is past the end of the month)",
            &text[..10]
        )
    })?;
    if hour > 23 {
        return Err(format!("hour {hour} is out of range 0-23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} is out of range 0-59"));
    }
    if second > 59 {
        return Err(format!("second {second} is out of range 0-59"));
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| format!("not a time of day ({ACCEPTED})"))?;
    Ok((date.and_time(time), offset))
}

/// Reads the RFC 3339 offset that may follow the time: `Z`, `+HH:MM` or `-HH:MM`.
fn parse_offset(rest: &str) -> Result<Option<FixedOffset>, String> {
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.eq_ignore_ascii_case("z") {
        return Ok(FixedOffset::east_opt(0));
    }
    let bytes = rest.as_bytes();
    let shaped = bytes.len() == 6
        && matches!(bytes[0], b'+' | b'-')
        && bytes[1..3].iter().all(u8::is_ascii_digit)
        && bytes[3] == b':'
        && bytes[4..6].iter().all(u8::is_ascii_digit);
    if !shaped {
        return Err(format!("unexpected \"{rest}\" after the time ({ACCEPTED})"));
    }
    let hours = rest[1..3].parse::<i32>().unwrap_or(0);
    let minutes = rest[4..6].parse::<i32>().unwrap_or(0);
    if hours > 23 || minutes > 59 {
        return Err(format!("offset {rest} is out of range (-23:59 to +23:59)"));
    }
    let seconds = (hours * 60 + minutes) * 60;
    let signed = if bytes[0] == b'-' { -seconds } else { seconds };
    Ok(FixedOffset::east_opt(signed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const ANCHOR: &str = "2026-06-01T08:00:00.123Z";

    fn zone(tz: Tz) -> Zone {
        Zone::new(tz).unwrap()
    }

    fn at(rule: &str, tz: Tz) -> DateTime<Utc> {
        DateRule::parse(rule, &zone(tz), utc(ANCHOR)).unwrap().at()
    }

    fn reason(rule: &str) -> String {
        let err = DateRule::parse(rule, &zone(Tz::UTC), utc(ANCHOR)).unwrap_err();
        assert_eq!(err.field, "rule");
        assert_eq!(err.value, rule);
        err.reason
    }

    #[test]
    fn a_local_time_is_read_in_the_jobs_zone() {
        assert_eq!(at("2026-12-16 18:03:17", Tz::UTC), utc("2026-12-16T18:03:17Z"));
        assert_eq!(
            at("2026-12-16 19:03:17", Tz::Europe__Berlin),
            utc("2026-12-16T18:03:17Z")
        );
        assert_eq!(
            at("2026-07-04T12:00:00", Tz::America__New_York),
            utc("2026-07-04T16:00:00Z")
        );
        assert_eq!(
            at("2026-07-04t12:00:00", Tz::America__New_York),
            utc("2026-07-04T16:00:00Z")
        );
    }

    #[test]
    fn fractions_keep_millisecond_precision() {
        assert_eq!(at("2026-12-16 18:03:17.5", Tz::UTC), utc("2026-12-16T18:03:17.500Z"));
        assert_eq!(
            at("2026-12-16 18:03:17.123456", Tz::UTC),
            utc("2026-12-16T18:03:17.123Z")
        );
        assert_eq!(
            at("2026-12-16T18:03:17.987654321", Tz::UTC),
            utc("2026-12-16T18:03:17.987Z")
        );
    }

    #[test]
    fn rfc3339_with_an_offset_ignores_the_jobs_zone() {
        assert_eq!(at("2026-12-16T18:03:17Z", Tz::Asia__Tokyo), utc("2026-12-16T18:03:17Z"));
        assert_eq!(
            at("2026-12-16T20:03:17+02:00", Tz::America__New_York),
            utc("2026-12-16T18:03:17Z")
        );
        assert_eq!(
            at("2026-12-16T13:03:17.250-05:00", Tz::Europe__Berlin),
            utc("2026-12-16T18:03:17.250Z")
        );
        assert_eq!(
            at("2026-12-16 18:03:17z", Tz::Europe__Berlin),
            utc("2026-12-16T18:03:17Z")
        );
    }

    #[test]
    fn now_is_the_anchor() {
        assert_eq!(at("now", Tz::Europe__Berlin), utc(ANCHOR));
        assert_eq!(at(" NOW ", Tz::UTC), utc(ANCHOR));
        let precise = utc("2026-06-01T08:00:00.123456Z");
        let rule = DateRule::parse("now", &zone(Tz::UTC), precise).unwrap();
        assert_eq!(rule.at(), utc("2026-06-01T08:00:00.123Z"));
    }

    #[test]
    fn a_time_in_a_spring_forward_gap_fires_at_the_end_of_the_gap() {
        assert_eq!(
            at("2026-03-08 02:30:00", Tz::America__New_York),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            at("2026-03-29 02:15:00.500", Tz::Europe__Berlin),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn a_repeated_time_fires_at_its_first_occurrence() {
        assert_eq!(
            at("2026-11-01 01:30:00", Tz::America__New_York),
            utc("2026-11-01T05:30:00Z")
        );
        assert_eq!(
            at("2026-10-25 02:30:00", Tz::Europe__Berlin),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn a_local_time_after_2099_keeps_the_zones_summer_time() {
        assert_eq!(
            at("2100-07-04 12:00:00", Tz::America__New_York),
            utc("2100-07-04T16:00:00Z")
        );
        assert_eq!(
            at("2250-07-04 12:00:00", Tz::Australia__Sydney),
            utc("2250-07-04T02:00:00Z")
        );
        let rule = DateRule::parse("2100-07-04 12:00:00", &zone(Tz::America__New_York), utc(ANCHOR)).unwrap();
        assert_eq!(
            rule.describe(&zone(Tz::America__New_York)),
            "once at 2100-07-04 12:00:00 (America/New_York)"
        );
    }

    #[test]
    fn fires_once() {
        let rule = DateRule::parse("2026-12-16 18:03:17", &zone(Tz::UTC), utc(ANCHOR)).unwrap();
        let fire = utc("2026-12-16T18:03:17Z");
        assert_eq!(rule.next_after(utc("2026-01-01T00:00:00Z")), Some(fire));
        assert_eq!(rule.next_after(fire - chrono::TimeDelta::milliseconds(1)), Some(fire));
        assert_eq!(rule.next_after(fire), None);
        assert_eq!(rule.next_after(utc("2027-01-01T00:00:00Z")), None);
    }

    #[test]
    fn refuses_garbage_listing_the_accepted_forms() {
        for garbage in ["", "tomorrow", "16/12/2026 18:03", "2026-12-16 18:03", "2026-12-16T18"] {
            let why = reason(garbage);
            assert!(why.starts_with("not a date ("), "{garbage}: {why}");
            assert!(why.contains("YYYY-MM-DD HH:MM:SS"), "{why}");
            assert!(why.contains("RFC 3339"), "{why}");
            assert!(why.contains("now"), "{why}");
        }
        assert!(reason("2026-12-16").starts_with("missing the time of day ("));
        assert!(reason("2026-12-16 18:03:17 CET").starts_with(r#"unexpected " CET" after the time"#));
        assert!(reason("2026-12-16 18:03:17.").starts_with("missing digits after the decimal point"));
    }

    #[test]
    fn refuses_out_of_range_parts_precisely() {
        assert_eq!(reason("2026-13-01 00:00:00"), "month 13 is out of range 1-12");
        assert_eq!(reason("2026-01-00 00:00:00"), "day 0 is out of range 1-31");
        assert_eq!(
            reason("2026-02-30 00:00:00"),
            "2026-02-30 does not exist (day 30 is past the end of the month)"
        );
        assert_eq!(reason("2026-01-01 24:00:00"), "hour 24 is out of range 0-23");
        assert_eq!(reason("2026-01-01 23:60:00"), "minute 60 is out of range 0-59");
        assert_eq!(reason("2026-01-01 23:59:60"), "second 60 is out of range 0-59");
        assert_eq!(
            reason("2026-01-01T00:00:00+24:00"),
            "offset +24:00 is out of range (-23:59 to +23:59)"
        );
        assert_eq!(
            reason("2026-01-01 00:00:00.1234567891"),
            "the fraction of a second has more than 9 digits"
        );
    }

    #[test]
    fn describes_the_fire_time() {
        let rule = DateRule::parse("2026-12-16 18:03:17", &zone(Tz::UTC), utc(ANCHOR)).unwrap();
        assert_eq!(rule.describe(&zone(Tz::UTC)), "once at 2026-12-16 18:03:17 UTC");
        let berlin = DateRule::parse("2026-12-16 19:03:17.250", &zone(Tz::Europe__Berlin), utc(ANCHOR)).unwrap();
        assert_eq!(
            berlin.describe(&zone(Tz::Europe__Berlin)),
            "once at 2026-12-16 19:03:17.250 (Europe/Berlin)"
        );
    }
}
