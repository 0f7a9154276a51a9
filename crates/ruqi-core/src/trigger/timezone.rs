//! Time-zone names and the mapping between wall-clock times and instants.
//!
//! Cron rules and local date rules are written in wall-clock time, but fire
//! instants are UTC. Around daylight-saving changes a wall-clock time can be
//! missing (spring forward) or happen twice (autumn back); the helpers here
//! settle both cases the same way for every trigger kind: a missing time moves
//! to the first instant after the gap, a repeated time takes its first
//! occurrence.
//!
//! # Which rules
//!
//! Zone names are chrono-tz's ([`Tz`]), so the names ruqi accepts and shows
//! are the same everywhere. The offsets come from jiff's own copy of the IANA
//! database, compiled into the binary, which also carries each zone's rule
//! for the years after its table of transitions ends (the POSIX TZ string at
//! the end of the zone's data). chrono-tz's tables stop in 2099 and it keeps
//! the last offset after that, so a New York summer in 2100 would be on
//! standard time; with jiff every year ruqi accepts (up to 4999) follows the
//! zone's current rules.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Timelike, Utc};
use chrono_tz::Tz;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{Timestamp, Zoned, civil};

use crate::FieldError;

/// Parses an IANA time-zone name such as `Europe/Berlin`, `America/New_York` or `UTC`.
///
/// Surrounding spaces are ignored. A name in the wrong case (`europe/berlin`)
/// is accepted and returned as its canonical zone, because the database column
/// is free text and the case carries no meaning in the IANA database.
///
/// # Errors
///
/// A [`FieldError`] on field `timezone` when the name is blank (empty or only
/// spaces: a row means the default zone by NULL, never by a blank name) or
/// not in the IANA time-zone database (fixed offsets such as `+02:00` are not
/// names).
pub fn parse_timezone(name: &str) -> Result<Tz, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(
            "timezone",
            name,
            "must not be blank: leave it out or null for the scheduler's default",
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

/// A time zone as triggers compute with it: its name, and its rules for
/// every year.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    tz: Tz,
    rules: TimeZone,
}

impl Zone {
    /// The rules of a named zone.
    ///
    /// # Errors
    ///
    /// A [`FieldError`] on field `timezone` if the bundled database lacks the
    /// zone. Every name chrono-tz knows is in it (a test checks), so this is
    /// a safety net for a future chrono-tz with a newer zone.
    pub(crate) fn new(tz: Tz) -> Result<Self, FieldError> {
        Ok(Self {
            tz,
            rules: rules_of(tz)?,
        })
    }

    /// The zone's name.
    pub(crate) fn tz(&self) -> Tz {
        self.tz
    }

    /// The wall-clock time of `instant`, or `None` outside the years jiff
    /// represents (-9999 to 9999).
    pub(crate) fn local_time(&self, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
        to_naive(self.rules.to_datetime(to_timestamp(instant)?))
    }

    /// `instant` as a jiff time in this zone, for croner's zoned search.
    pub(crate) fn zoned(&self, instant: DateTime<Utc>) -> Option<Zoned> {
        Some(Zoned::new(to_timestamp(instant)?, self.rules.clone()))
    }

    /// The instant a wall-clock time stands for.
    ///
    /// A repeated time (autumn change) gives its first occurrence. A time
    /// inside a spring-forward gap gives the first real instant after the gap,
    /// the moment the clock jumped. Put together: the first instant at which
    /// the zone's clock shows `local` or later. `None` only for a time outside
    /// the years jiff represents.
    pub(crate) fn resolve_local(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let wall = to_civil(local)?;
        let ambiguous = self.rules.to_ambiguous_timestamp(wall);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
                from_timestamp(ambiguous.earlier().ok()?)
            }
            AmbiguousOffset::Gap { before, after } => from_timestamp(self.end_of_gap(wall, before, after)?),
        }
    }

    /// The instant the clock jumped over `wall`, a time inside a gap between
    /// the offsets `before` and `after`.
    ///
    /// The gap is the wall-clock stretch `[jump + before, jump + after)`, so
    /// the jump lies in `(wall - after, wall - before]`: the first transition
    /// to `after` past `wall - after`.
    fn end_of_gap(&self, wall: civil::DateTime, before: Offset, after: Offset) -> Option<Timestamp> {
        let earliest = after.to_timestamp(wall).ok()?;
        let latest = before.to_timestamp(wall).ok()?;
        self.rules
            .following(earliest)
            .take_while(|transition| transition.timestamp() <= latest)
            .find(|transition| transition.offset() == after)
            .map(|transition| transition.timestamp())
    }

    /// Where a walk over wall-clock times looking for the first fire after
    /// `instant` starts: `(local, false)`, strictly after the wall-clock time
    /// of `instant`; or, when `instant` lies in the second pass of a stretch
    /// repeated by an autumn change, `(end, true)`, at the wall-clock time the
    /// stretch ends, since every time before it already had its first
    /// occurrence. `None` outside the years jiff represents.
    ///
    /// The stretch is `[change + after, change + before)` for the change of
    /// offset from `before` to `after`, the last one at or before `instant`.
    pub(crate) fn wall_clock_search_start(&self, instant: DateTime<Utc>) -> Option<(NaiveDateTime, bool)> {
        let at = to_timestamp(instant)?;
        let offset = self.rules.to_offset(at);
        let wall = offset.to_datetime(at);
        let end_of_repeat = match self.rules.to_ambiguous_timestamp(wall).offset() {
            AmbiguousOffset::Fold { before, after } if offset == after && before != after => {
                // `preceding` yields transitions strictly before its argument.
                // A transition that changes only the zone's abbreviation keeps
                // the offset, so the change is the earliest of the run of
                // transitions to `after`.
                let just_after = at.checked_add(jiff::SignedDuration::from_nanos(1)).ok()?;
                let change = self
                    .rules
                    .preceding(just_after)
                    .take(8)
                    .take_while(|transition| transition.offset() == after)
                    .last()?;
                Some(before.to_datetime(change.timestamp()))
            }
            _ => None,
        };
        match end_of_repeat {
            Some(end) => Some((to_naive(end)?, true)),
            None => Some((to_naive(wall)?, false)),
        }
    }
}

/// The rules of `tz`, looked up once per zone and process: every job of a
/// zone shares them, and a million jobs load without a million look-ups by
/// name. UTC needs no look-up at all.
fn rules_of(tz: Tz) -> Result<TimeZone, FieldError> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, RwLock};
    static LOOKED_UP: LazyLock<RwLock<HashMap<Tz, TimeZone>>> = LazyLock::new(RwLock::default);
    if tz == Tz::UTC {
        return Ok(TimeZone::UTC);
    }
    if let Some(rules) = LOOKED_UP.read().unwrap_or_else(|p| p.into_inner()).get(&tz) {
        return Ok(rules.clone());
    }
    let rules = jiff::tz::db().get(tz.name()).map_err(|_| {
        FieldError::new(
            "timezone",
            tz.name(),
            "no rules for this zone in the time-zone database",
        )
    })?;
    LOOKED_UP
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(tz, rules.clone());
    Ok(rules)
}

/// chrono's instant as jiff's, to the nanosecond; `None` outside jiff's years.
fn to_timestamp(instant: DateTime<Utc>) -> Option<Timestamp> {
    let nanos = i128::from(instant.timestamp()) * 1_000_000_000 + i128::from(instant.timestamp_subsec_nanos());
    Timestamp::from_nanosecond(nanos).ok()
}

/// jiff's instant as chrono's.
fn from_timestamp(at: Timestamp) -> Option<DateTime<Utc>> {
    let nanos = at.as_nanosecond();
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    DateTime::from_timestamp(seconds, subsec)
}

/// chrono's wall-clock time as jiff's; `None` outside jiff's years.
fn to_civil(local: NaiveDateTime) -> Option<civil::DateTime> {
    use chrono::Datelike;
    // chrono keeps a leap second as a nanosecond count past 999,999,999.
    let nanos = i32::try_from(local.nanosecond().min(999_999_999)).ok()?;
    civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        i8::try_from(local.month()).ok()?,
        i8::try_from(local.day()).ok()?,
        i8::try_from(local.hour()).ok()?,
        i8::try_from(local.minute()).ok()?,
        i8::try_from(local.second()).ok()?,
        nanos,
    )
    .ok()
}

/// jiff's wall-clock time as chrono's.
fn to_naive(wall: civil::DateTime) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(
        i32::from(wall.year()),
        u32::try_from(wall.month()).ok()?,
        u32::try_from(wall.day()).ok()?,
    )?
    .and_hms_nano_opt(
        u32::try_from(wall.hour()).ok()?,
        u32::try_from(wall.minute()).ok()?,
        u32::try_from(wall.second()).ok()?,
        u32::try_from(wall.subsec_nanosecond()).ok()?,
    )
}

/// jiff's instant from a croner search, as chrono's.
pub(crate) fn zoned_instant(zoned: &Zoned) -> Option<DateTime<Utc>> {
    from_timestamp(zoned.timestamp())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

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
        for blank in ["", "  ", "\t"] {
            let err = parse_timezone(blank).unwrap_err();
            assert_eq!(err.field, "timezone");
            assert_eq!(
                err.reason, "must not be blank: leave it out or null for the scheduler's default",
                "{err}"
            );
        }
    }

    #[test]
    fn truncates_to_milliseconds() {
        let t = utc("2026-01-01T00:00:00.123456789Z");
        assert_eq!(truncate_to_millis(t), utc("2026-01-01T00:00:00.123Z"));
        let whole = utc("2026-01-01T00:00:00Z");
        assert_eq!(truncate_to_millis(whole), whole);
    }

    fn zone(tz: Tz) -> Zone {
        Zone::new(tz).unwrap()
    }

    #[test]
    fn every_accepted_name_has_rules() {
        for tz in chrono_tz::TZ_VARIANTS {
            let zone = Zone::new(tz).unwrap_or_else(|err| panic!("{}: {err}", tz.name()));
            assert_eq!(zone.tz(), tz);
        }
    }

    #[test]
    fn local_time_outside_the_representable_years_is_none() {
        assert!(
            zone(Tz::Pacific__Kiritimati)
                .local_time(DateTime::<Utc>::MAX_UTC)
                .is_none()
        );
        assert!(
            zone(Tz::America__Los_Angeles)
                .local_time(DateTime::<Utc>::MIN_UTC)
                .is_none()
        );
        assert_eq!(
            zone(Tz::Europe__Berlin).local_time(utc("2026-07-01T10:00:00Z")),
            Some(naive(2026, 7, 1, 12, 0, 0))
        );
        assert_eq!(
            zone(Tz::Europe__Berlin).local_time(utc("1969-12-31T22:59:59.250Z")),
            Some(naive(1969, 12, 31, 23, 59, 59) + TimeDelta::milliseconds(250))
        );
    }

    #[test]
    fn summer_time_goes_on_after_2099() {
        // The compiled tables of the zone database end in 2099; the zones'
        // rules do not.
        let new_york = zone(Tz::America__New_York);
        assert_eq!(
            new_york.resolve_local(naive(2100, 7, 1, 12, 0, 0)),
            Some(utc("2100-07-01T16:00:00Z"))
        );
        assert_eq!(
            new_york.resolve_local(naive(2100, 1, 1, 12, 0, 0)),
            Some(utc("2100-01-01T17:00:00Z"))
        );
        // Second Sunday of March 2150 is the 8th: 02:30 does not exist.
        assert_eq!(
            new_york.resolve_local(naive(2150, 3, 8, 2, 30, 0)),
            Some(utc("2150-03-08T07:00:00Z"))
        );
        let sydney = zone(Tz::Australia__Sydney);
        assert_eq!(
            sydney.local_time(utc("4321-07-01T00:00:00Z")),
            Some(naive(4321, 7, 1, 10, 0, 0))
        );
        assert_eq!(
            sydney.local_time(utc("4321-01-01T00:00:00Z")),
            Some(naive(4321, 1, 1, 11, 0, 0))
        );
    }

    #[test]
    fn resolves_an_ordinary_time() {
        assert_eq!(
            zone(Tz::Europe__Berlin).resolve_local(naive(2026, 1, 15, 9, 30, 0)),
            Some(utc("2026-01-15T08:30:00Z"))
        );
        assert_eq!(
            zone(Tz::UTC).resolve_local(naive(2026, 1, 15, 9, 30, 0) + TimeDelta::milliseconds(7)),
            Some(utc("2026-01-15T09:30:00.007Z"))
        );
    }

    #[test]
    fn a_time_in_a_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // New York: 02:00 EST jumps to 03:00 EDT at 07:00Z.
        assert_eq!(
            zone(Tz::America__New_York).resolve_local(naive(2026, 3, 8, 2, 30, 0)),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Berlin: 02:00 CET jumps to 03:00 CEST at 01:00Z.
        let in_gap = naive(2026, 3, 29, 2, 0, 0) + TimeDelta::milliseconds(1);
        assert_eq!(
            zone(Tz::Europe__Berlin).resolve_local(in_gap),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // Lord Howe: 02:00 jumps to 02:30 (+10:30 to +11) at 15:30Z.
        assert_eq!(
            zone(Tz::Australia__Lord_Howe).resolve_local(naive(2026, 10, 4, 2, 10, 0)),
            Some(utc("2026-10-03T15:30:00Z"))
        );
    }

    #[test]
    fn a_skipped_day_moves_to_the_next_day() {
        // Samoa skipped 2011-12-30 entirely, jumping from UTC-10 to UTC+14.
        assert_eq!(
            zone(Tz::Pacific__Apia).resolve_local(naive(2011, 12, 30, 12, 0, 0)),
            Some(utc("2011-12-30T10:00:00Z"))
        );
    }

    #[test]
    fn a_repeated_time_takes_its_first_occurrence() {
        // New York: 02:00 EDT falls back to 01:00 EST at 06:00Z.
        assert_eq!(
            zone(Tz::America__New_York).resolve_local(naive(2026, 11, 1, 1, 30, 0)),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        // Berlin: 03:00 CEST falls back to 02:00 CET at 01:00Z.
        assert_eq!(
            zone(Tz::Europe__Berlin).resolve_local(naive(2026, 10, 25, 2, 30, 0)),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_wall_clock_search_skips_the_rest_of_a_second_pass() {
        let new_york = zone(Tz::America__New_York);
        let start = |at: &str| new_york.wall_clock_search_start(utc(at));
        // 01:30 EST, the second 01:30 of 2026-11-01: the stretch ends at 02:00.
        assert_eq!(start("2026-11-01T06:30:00Z"), Some((naive(2026, 11, 1, 2, 0, 0), true)));
        assert_eq!(start("2026-11-01T06:00:00Z"), Some((naive(2026, 11, 1, 2, 0, 0), true)));
        // The first pass, the instant before the change and after the stretch.
        assert_eq!(
            start("2026-11-01T05:30:00Z"),
            Some((naive(2026, 11, 1, 1, 30, 0), false))
        );
        assert_eq!(
            start("2026-11-01T05:59:59.999Z"),
            Some((naive(2026, 11, 1, 1, 59, 59) + TimeDelta::milliseconds(999), false))
        );
        assert_eq!(
            start("2026-11-01T07:00:00Z"),
            Some((naive(2026, 11, 1, 2, 0, 0), false))
        );
        // Lord Howe repeats half an hour, and in 2190 as in 2026.
        assert_eq!(
            zone(Tz::Australia__Lord_Howe).wall_clock_search_start(utc("2190-04-03T15:10:00Z")),
            Some((naive(2190, 4, 4, 2, 0, 0), true))
        );
        assert_eq!(zone(Tz::UTC).wall_clock_search_start(DateTime::<Utc>::MAX_UTC), None);
    }
}
