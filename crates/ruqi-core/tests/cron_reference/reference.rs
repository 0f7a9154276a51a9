//! The next fire of a rule by brute force, straight from the definitions.
//!
//! The zone enters only as "which offset holds from when": a list of
//! stretches of constant UTC offset, read from the zone's transitions. Every
//! instant is in whole seconds except `after`, in milliseconds.
//!
//! - An elapsed-time rule fires at every whole second whose wall-clock time
//!   matches. Within a stretch wall-clock time is instant + offset, so the
//!   first fire in it is the first matching wall-clock time from the
//!   stretch's start, if that still lies inside the stretch.
//! - A wall-clock rule fires, for each matching wall-clock time `w`, at
//!   `first(w)`: the first instant at which the zone's clock shows `w` or
//!   later. For a time that happens once that is its instant, for a repeated
//!   one its first occurrence, and for one skipped by a gap the instant the
//!   clock jumped over it. `first` never decreases as `w` grows (a later
//!   `w` asks for more), and `first(w) <= after` for every `w` up to the
//!   wall-clock time of `after` (the clock showed `w` or later at `after`),
//!   so the answer is the first matching `w` after that wall-clock time with
//!   `first(w) > after`.
//!
//! Matching wall-clock times are found day by day: a date that matches, then
//! the smallest (hour, minute, second) of the rule's sets at or after a time
//! of day.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::calendar::{civil_from_days, days_from_civil};
use crate::model::Meaning;

const DAY: i64 = 86_400;
/// No zone's offset reaches 15 hours either way.
const MAX_OFFSET: i64 = 15 * 3600;

/// 5000-01-01T00:00:00Z: ruqi's rules fire before it.
pub(crate) fn ceiling() -> i64 {
    days_from_civil(5000, 1, 1) * DAY
}

/// What the reference found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// The next fire, in milliseconds since the epoch.
    At(i64),
    /// No fire before this instant (milliseconds), the end of the search.
    NotBefore(i64),
}

/// A stretch `[start, end)` of instants with one UTC offset, in seconds.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    start: i64,
    end: i64,
    offset: i64,
}

fn timestamp(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("instant in range")
}

/// The stretches covering `[from, to)`, the first one starting at `from`.
fn stretches(zone: &TimeZone, from: i64, to: i64) -> Vec<Stretch> {
    let mut out = Vec::new();
    let mut start = from;
    let mut offset = i64::from(zone.to_offset(timestamp(from)).seconds());
    for transition in zone.following(timestamp(from)) {
        let at = transition.timestamp().as_second();
        if at >= to {
            break;
        }
        let next = i64::from(transition.offset().seconds());
        if next != offset {
            out.push(Stretch { start, end: at, offset });
            start = at;
            offset = next;
        }
    }
    out.push(Stretch { start, end: to, offset });
    out
}

/// The first matching wall-clock time (seconds since 1970-01-01T00:00 on the
/// wall clock) in `[from, last]`.
fn next_match(meaning: &Meaning, from: i64, last: i64) -> Option<i64> {
    let mut days = from.div_euclid(DAY);
    let mut second_of_day = from.rem_euclid(DAY);
    while days * DAY <= last {
        let (year, month, day) = civil_from_days(days);
        if year > 4999 {
            return None;
        }
        if meaning.matches_day(year, month, day, days)
            && let Some(time) = meaning.first_time_from(second_of_day)
        {
            let found = days * DAY + time;
            return (found <= last).then_some(found);
        }
        days += 1;
        second_of_day = 0;
    }
    None
}

/// The next fire strictly after `after_ms`, searching `horizon_days` ahead.
pub(crate) fn next_fire(meaning: &Meaning, zone: &TimeZone, after_ms: i64, horizon_days: i64) -> Expected {
    // The first whole second after `after`.
    let first = after_ms.div_euclid(1000) + 1;
    let end = (first + horizon_days * DAY).min(ceiling());
    if meaning.wall_clock {
        next_wall_clock(meaning, zone, after_ms, end)
    } else {
        next_elapsed(meaning, zone, first, end)
    }
}

fn next_elapsed(meaning: &Meaning, zone: &TimeZone, first: i64, end: i64) -> Expected {
    for stretch in stretches(zone, first, end) {
        let wall = |instant: i64| instant + stretch.offset;
        if let Some(found) = next_match(meaning, wall(stretch.start), wall(stretch.end) - 1) {
            return Expected::At((found - stretch.offset) * 1000);
        }
    }
    Expected::NotBefore(end * 1000)
}

fn next_wall_clock(meaning: &Meaning, zone: &TimeZone, after_ms: i64, end: i64) -> Expected {
    let after = after_ms.div_euclid(1000);
    let stretches = stretches(zone, after - 3 * DAY, end + 3 * DAY);
    // first(w): the earliest instant of any stretch whose clock shows w or
    // later there.
    let first_showing = |wall: i64| {
        stretches
            .iter()
            .map(|stretch| stretch.start.max(wall - stretch.offset))
            .zip(&stretches)
            .filter(|(instant, stretch)| *instant < stretch.end)
            .map(|(instant, _)| instant)
            .min()
    };
    let offset_at_after = i64::from(
        zone.to_offset(Timestamp::from_millisecond(after_ms).expect("in range"))
            .seconds(),
    );
    let mut wall = (after_ms + offset_at_after * 1000).div_euclid(1000) + 1;
    // A time past `last` is first shown after `end`.
    let last = end + MAX_OFFSET;
    while let Some(found) = next_match(meaning, wall, last) {
        let Some(instant) = first_showing(found) else {
            break;
        };
        if instant * 1000 > after_ms {
            return if instant < ceiling() {
                Expected::At(instant * 1000)
            } else {
                Expected::NotBefore(ceiling() * 1000)
            };
        }
        wall = found + 1;
    }
    Expected::NotBefore(end * 1000)
}

/// Whether any day from 1970 to 4999 matches: ruqi refuses a rule that never
/// fires. The calendar repeats every 400 years, so one year of each class
/// of years modulo 400 that the rule allows stands for all of them.
pub(crate) fn fires_on_some_day(meaning: &Meaning) -> bool {
    let mut seen = [false; 400];
    for year in 1970i64..=4999 {
        let class = year.rem_euclid(400) as usize;
        if seen[class] || !meaning.allows_year(year) {
            continue;
        }
        seen[class] = true;
        let start = days_from_civil(year, 1, 1);
        for days in start..days_from_civil(year + 1, 1, 1) {
            let (y, month, day) = civil_from_days(days);
            if meaning.matches_day(y, month, day, days) {
                return true;
            }
        }
    }
    false
}
