//! Finding the next fire of a compiled rule in a zone.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::{CronRule, FIRST_YEAR, LAST_YEAR};
use crate::trigger::timezone::{Zone, zoned_instant};

impl CronRule {
    /// The first fire strictly after `after`, evaluated in `zone`.
    pub(crate) fn next_after(&self, zone: &Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (floor, ceiling) = search_window()?;
        if after >= ceiling {
            return None;
        }
        let after = after.max(floor);
        let fire = if self.wall_clock {
            self.next_wall_clock(zone, after)
        } else {
            self.next_elapsed(zone, after)
        }?;
        (fire < ceiling).then_some(fire)
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

/// The instants searches are confined to: from 1970 to the end of 4999.
fn search_window() -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let year_start = |year: u32| Utc.with_ymd_and_hms(i32::try_from(year).ok()?, 1, 1, 0, 0, 0).single();
    // One millisecond before 1970 so that a fire at 1970-01-01T00:00Z counts.
    let floor = year_start(FIRST_YEAR)? - chrono::TimeDelta::milliseconds(1);
    Some((floor, year_start(LAST_YEAR + 1)?))
}
