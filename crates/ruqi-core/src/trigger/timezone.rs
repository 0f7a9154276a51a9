//! Time-zone names and the mapping between wall-clock times and instants.
//!
//! Cron rules and local date rules are written in wall-clock time, but fire
//! instants are UTC. Around daylight-saving changes a wall-clock time can be
//! missing (spring forward) or happen twice (autumn back); the helpers here
//! settle both cases the same way for every trigger kind: a missing time moves
//! to the first instant after the gap, a repeated time takes its first
//! occurrence.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, SubsecRound, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::FieldError;

/// Parses an IANA time-zone name such as `Europe/Berlin`, `America/New_York` or `UTC`.
///
/// Surrounding spaces are ignored. A name in the wrong case (`europe/berlin`)
/// is accepted and returned as its canonical zone, because the database column
/// is free text and the case carries no meaning in the IANA database.
///
/// # Errors
///
/// A [`FieldError`] on field `timezone` when the name is empty or not in the
/// IANA time-zone database (fixed offsets such as `+02:00` are not names).
pub fn parse_timezone(name: &str) -> Result<Tz, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(
            "timezone",
            name,
            "empty time zone name (use an IANA name such as Europe/Berlin or UTC)",
        ));
    }
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
        .ok_or_else(|| FieldError::new("timezone", name, "not an IANA time zone name"))
}

/// Drops the sub-millisecond part of an instant: ruqi stores and compares
/// instants to the millisecond.
pub(crate) fn truncate_to_millis(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(3)
}

/// The wall-clock time of `instant` in `tz`, or `None` at the very edges of
/// chrono's range, where adding the offset would overflow (chrono's own
/// `naive_local` panics there).
pub(crate) fn local_time(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
    instant.naive_utc().checked_add_offset(offset)
}

/// The instant a wall-clock time stands for in `tz`.
///
/// A repeated time (autumn change) gives its first occurrence. A time inside a
/// spring-forward gap gives the first real instant after the gap, the moment
/// the clock jumped. `None` only for a gap that does not end within eight days
/// (no zone has had one) or a time outside chrono's range.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        LocalResult::None => {
            let after_gap = first_local_after_gap(tz, local)?;
            match tz.from_local_datetime(&after_gap) {
                LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
                LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
                LocalResult::None => None,
            }
        }
    }
}

/// The first wall-clock time after `in_gap` that exists, for a time inside a gap.
///
/// chrono reports a gap only as "no instant", without its edges, so the edge is
/// found by bisection: existence is false through the gap and true after it
/// (the next gap is months away), and the gap ends on a whole second, so
/// millisecond steps find it exactly. Gaps are usually an hour, but Samoa
/// skipped a whole day in 2011, hence the doubling search for an upper bound.
fn first_local_after_gap(tz: Tz, in_gap: NaiveDateTime) -> Option<NaiveDateTime> {
    let exists = |local: NaiveDateTime| !matches!(tz.from_local_datetime(&local), LocalResult::None);
    let mut lo = in_gap;
    let mut span = TimeDelta::hours(1);
    let mut hi = in_gap.checked_add_signed(span)?;
    while !exists(hi) {
        if span >= TimeDelta::days(8) {
            return None;
        }
        lo = hi;
        span = span * 2;
        hi = in_gap.checked_add_signed(span)?;
    }
    Some(bisect(lo, hi, exists))
}

/// For a wall-clock time that happens twice, the first wall-clock time after it
/// that happens only once: the end of the repeated stretch.
///
/// `repeat` is the length of the repeated stretch, the distance between the two
/// instants of `local`; `local + repeat` is therefore already past it.
pub(crate) fn end_of_repeat(tz: Tz, local: NaiveDateTime, repeat: TimeDelta) -> Option<NaiveDateTime> {
    let once = |local: NaiveDateTime| !matches!(tz.from_local_datetime(&local), LocalResult::Ambiguous(_, _));
    let hi = local.checked_add_signed(repeat)?;
    if !once(hi) {
        return None;
    }
    Some(bisect(local, hi, once))
}

/// The earliest millisecond in `(lo, hi]` where `pred` holds, given that it
/// does not hold at `lo`, holds at `hi`, and flips only once in between.
fn bisect(mut lo: NaiveDateTime, mut hi: NaiveDateTime, pred: impl Fn(NaiveDateTime) -> bool) -> NaiveDateTime {
    while (hi - lo) > TimeDelta::milliseconds(1) {
        let half = TimeDelta::milliseconds((hi - lo).num_milliseconds() / 2);
        let mid = lo + half;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn parses_iana_names() {
        assert_eq!(parse_timezone("Europe/Berlin").unwrap(), Tz::Europe__Berlin);
        assert_eq!(parse_timezone("America/New_York").unwrap(), Tz::America__New_York);
        assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
        assert_eq!(parse_timezone("  Asia/Tokyo ").unwrap(), Tz::Asia__Tokyo);
    }

    #[test]
    fn accepts_names_in_the_wrong_case() {
        assert_eq!(parse_timezone("europe/berlin").unwrap(), Tz::Europe__Berlin);
        assert_eq!(parse_timezone("utc").unwrap(), Tz::UTC);
    }

    #[test]
    fn refuses_unknown_names() {
        let err = parse_timezone("Mars/Base").unwrap_err();
        assert_eq!(err.field, "timezone");
        assert_eq!(err.value, "Mars/Base");
        assert_eq!(
            err.to_string(),
            r#"invalid timezone "Mars/Base": not an IANA time zone name"#
        );
        assert!(parse_timezone("+02:00").is_err());
        assert!(parse_timezone("CEST").is_err());
    }

    #[test]
    fn refuses_an_empty_name() {
        let err = parse_timezone("  ").unwrap_err();
        assert_eq!(err.field, "timezone");
        assert!(err.reason.starts_with("empty time zone name"), "{err}");
    }

    #[test]
    fn truncates_to_milliseconds() {
        let t = utc("2026-01-01T00:00:00.123456789Z");
        assert_eq!(truncate_to_millis(t), utc("2026-01-01T00:00:00.123Z"));
        let whole = utc("2026-01-01T00:00:00Z");
        assert_eq!(truncate_to_millis(whole), whole);
    }

    #[test]
    fn local_time_at_the_edges_of_chrono_does_not_panic() {
        assert!(local_time(Tz::Pacific__Kiritimati, DateTime::<Utc>::MAX_UTC).is_none());
        assert!(local_time(Tz::America__Los_Angeles, DateTime::<Utc>::MIN_UTC).is_none());
        assert_eq!(
            local_time(Tz::Europe__Berlin, utc("2026-07-01T10:00:00Z")),
            Some(naive(2026, 7, 1, 12, 0, 0))
        );
    }

    #[test]
    fn resolves_an_ordinary_time() {
        assert_eq!(
            resolve_local(Tz::Europe__Berlin, naive(2026, 1, 15, 9, 30, 0)),
            Some(utc("2026-01-15T08:30:00Z"))
        );
    }

    #[test]
    fn a_time_in_a_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // New York: 02:00 EST jumps to 03:00 EDT at 07:00Z.
        assert_eq!(
            resolve_local(Tz::America__New_York, naive(2026, 3, 8, 2, 30, 0)),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Berlin: 02:00 CET jumps to 03:00 CEST at 01:00Z.
        let in_gap = naive(2026, 3, 29, 2, 0, 0) + TimeDelta::milliseconds(1);
        assert_eq!(
            resolve_local(Tz::Europe__Berlin, in_gap),
            Some(utc("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn a_skipped_day_moves_to_the_next_day() {
        // Samoa skipped 2011-12-30 entirely, jumping from UTC-10 to UTC+14.
        assert_eq!(
            resolve_local(Tz::Pacific__Apia, naive(2011, 12, 30, 12, 0, 0)),
            Some(utc("2011-12-30T10:00:00Z"))
        );
    }

    #[test]
    fn a_repeated_time_takes_its_first_occurrence() {
        // New York: 02:00 EDT falls back to 01:00 EST at 06:00Z.
        assert_eq!(
            resolve_local(Tz::America__New_York, naive(2026, 11, 1, 1, 30, 0)),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        // Berlin: 03:00 CEST falls back to 02:00 CET at 01:00Z.
        assert_eq!(
            resolve_local(Tz::Europe__Berlin, naive(2026, 10, 25, 2, 30, 0)),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn finds_the_end_of_a_repeated_stretch() {
        let end = end_of_repeat(Tz::America__New_York, naive(2026, 11, 1, 1, 30, 0), TimeDelta::hours(1));
        assert_eq!(end, Some(naive(2026, 11, 1, 2, 0, 0)));
    }
}
