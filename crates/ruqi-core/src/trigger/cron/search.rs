//! Finding the next fire of a compiled rule in a zone.

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};

use super::{CronRule, FIRST_YEAR, LAST_YEAR};
use crate::trigger::timezone::{Zone, zoned_instant};

impl CronRule {
    /// The first fire strictly after `after`, evaluated in `zone`.
    ///
    /// Fires lie from the start of 1970 to the end of 4999, both in UTC and
    /// on the zone's clock: at either end of that range the zone's date and
    /// the UTC date can be in different years.
    pub(crate) fn next_after(&self, zone: &Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // No zone is a day away from UTC, so the zone's own year boundary is
        // looked up only within two days of the UTC one.
        let near = TimeDelta::days(2);
        let first = year_start(FIRST_YEAR)?;
        let end = year_start(LAST_YEAR + 1)?;
        if after >= end {
            return None;
        }
        // One millisecond before, so that a fire at the very start counts.
        let mut after = after.max(first - TimeDelta::milliseconds(1));
        if after < first + near {
            let local_first = zone.resolve_local(first.naive_utc())?;
            after = after.max(local_first - TimeDelta::milliseconds(1));
        }
        let fire = if self.wall_clock {
            self.next_wall_clock(zone, after)
        } else {
            self.next_elapsed(zone, after)
        }?;
        let inside = fire < end && (fire < end - near || fire < zone.resolve_local(end.naive_utc())?);
        inside.then_some(fire)
    }

    /// Elapsed-time rules: croner's zoned search already skips wall-clock
    /// times that do not exist and visits both passes of a repeated hour.
    fn next_elapsed(&self, zone: &Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zoned = zone.zoned(after)?;
        let fire = self.cron.find_next_occurrence(&zoned, false).ok()?;
        zoned_instant(&fire)
    }

    /// Wall-clock rules: croner searches naive wall-clock time (where nothing
    /// is missing or repeated) and each match is mapped to its instant, a
    /// skipped time to the end of its gap and a repeated one to its first
    /// occurrence: the first instant the clock shows that time or later.
    /// That mapping never runs backwards, so the first match whose instant is
    /// past `after` is the answer.
    fn next_wall_clock(&self, zone: &Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // In the second pass of a repeated stretch every match in the rest of
        // that stretch has already fired in the first pass, so the search
        // resumes where the stretch ends.
        let (mut from, mut inclusive) = zone.wall_clock_search_start(after)?;
        // By the reasoning above the first match is the answer; the bound
        // only keeps a zone with surprising transitions from looping.
        for _ in 0..16 {
            let wall: NaiveDateTime = self.cron.find_next_occurrence(&from, inclusive).ok()?;
            let fire = zone.resolve_local(wall)?;
            if fire > after {
                return Some(fire);
            }
            from = wall;
            inclusive = false;
        }
        None
    }
}

/// The first instant of a year in UTC.
fn year_start(year: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(i32::try_from(year).ok()?, 1, 1, 0, 0, 0).single()
}
