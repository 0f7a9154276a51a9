//! Daylight saving: skipped and repeated wall-clock times, checked by hand
//! and against a brute-force search around every change of a year.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::*;

#[test]
fn new_york_spring_forward_moves_a_skipped_time_to_the_end_of_the_gap() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z). 02:30 does not
    // exist and fires at 03:00 EDT; the next day 02:30 EDT is 06:30Z.
    assert_eq!(
        fires("30 2 * * *", NY, "2026-03-07T12:00:00Z", 3),
        utcs(&["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"])
    );
}

#[test]
fn new_york_fall_back_fires_a_repeated_time_once() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z), so 01:30
    // happens at 05:30Z (EDT) and 06:30Z (EST); only the first fires.
    assert_eq!(
        fires("30 1 * * *", NY, "2026-10-31T12:00:00Z", 3),
        utcs(&["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"])
    );
    // Asked from inside the second pass, it does not fire again either.
    let rule = rule("30 1 * * *");
    assert_eq!(
        rule.next_after(&zone(NY), utc("2026-11-01T06:10:00Z")),
        Some(utc("2026-11-02T06:30:00Z"))
    );
    assert_eq!(
        rule.next_after(&zone(NY), utc("2026-11-01T05:30:00Z")),
        Some(utc("2026-11-02T06:30:00Z"))
    );
}

#[test]
fn berlin_spring_forward_and_fall_back() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-03-28T12:00:00Z", 2),
        utcs(&["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
    );
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z).
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-10-24T12:00:00Z", 2),
        utcs(&["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
    );
}

#[test]
fn wall_clock_rules_with_lists_or_ranges_keep_their_skipped_run() {
    // croner alone skips 02:00 here because the hour field has two values.
    assert_eq!(
        fires("0 2,14 * * *", NY, "2026-03-08T00:00:00Z", 2),
        utcs(&["2026-03-08T07:00:00Z", "2026-03-08T18:00:00Z"])
    );
    // 02:00 (skipped) and 03:00 both land on 03:00 EDT: one fire.
    assert_eq!(
        fires("0 1-3 * * *", NY, "2026-03-08T05:00:00Z", 3),
        utcs(&["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-09T05:00:00Z"])
    );
    // In the repeated hour every listed minute fires once.
    assert_eq!(
        fires("0,30 1 * * *", NY, "2026-11-01T04:00:00Z", 3),
        utcs(&["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"])
    );
}

#[test]
fn wildcard_hour_rules_follow_real_time_through_a_gap() {
    // New York: 01:45 EST (06:45Z) is followed by 03:00 EDT (07:00Z).
    assert_eq!(
        fires("*/15 * * * *", NY, "2026-03-08T06:30:00Z", 3),
        utcs(&["2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"])
    );
    assert_eq!(
        fires("0 * * * *", BERLIN, "2026-03-28T23:30:00Z", 3),
        utcs(&["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
    );
    assert_eq!(
        fires("*/10 * * * * *", BERLIN, "2026-03-29T00:59:40Z", 3),
        utcs(&["2026-03-29T00:59:50Z", "2026-03-29T01:00:00Z", "2026-03-29T01:00:10Z"])
    );
}

#[test]
fn wildcard_hour_rules_fire_in_both_passes_of_a_repeated_hour() {
    assert_eq!(
        fires("0 * * * *", NY, "2026-11-01T03:30:00Z", 4),
        utcs(&[
            "2026-11-01T04:00:00Z", // 00:00 EDT
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
        ])
    );
    let quarter = fires("*/15 * * * *", BERLIN, "2026-10-24T23:50:00Z", 9);
    let expected: Vec<_> = (0..9)
        .map(|i| utc("2026-10-25T00:00:00Z") + TimeDelta::minutes(15 * i))
        .collect();
    assert_eq!(quarter, expected);
    let seconds = fires("*/10 * * * * *", NY, "2026-11-01T05:59:40Z", 4);
    assert_eq!(
        seconds,
        utcs(&[
            "2026-11-01T05:59:50Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:00:10Z",
            "2026-11-01T06:00:20Z"
        ])
    );
}

#[test]
fn a_wildcard_minute_with_a_fixed_hour_follows_real_time_like_vixie() {
    // Vixie cron counts a `*` in the minute field as a wildcard job too:
    // no catch-up for the missing 02:xx, both passes of 01:xx.
    assert_eq!(
        fires("*/30 2 * * *", NY, "2026-03-07T12:00:00Z", 2),
        utcs(&["2026-03-09T06:00:00Z", "2026-03-09T06:30:00Z"])
    );
    assert_eq!(
        fires("*/30 1 * * *", NY, "2026-11-01T04:00:00Z", 5),
        utcs(&[
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-02T06:00:00Z"
        ])
    );
}

/// Every fire in `[from, to)` by brute force over each second: for
/// elapsed-time rules every instant whose wall-clock time matches, for
/// wall-clock rules every matching wall-clock time mapped to its instant.
fn brute_force(rule: &CronRule, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let zone = zone(tz);
    let local_time = |at| zone.local_time(at);
    let resolve_local = |wall| zone.resolve_local(wall);
    let mut out = BTreeSet::new();
    if rule.wall_clock {
        let mut wall = local_time(from).unwrap() - TimeDelta::hours(3);
        let end = local_time(to).unwrap() + TimeDelta::hours(3);
        while wall < end {
            if rule.cron.is_time_matching(&wall).unwrap() {
                let fire = resolve_local(wall).unwrap();
                if fire >= from && fire < to {
                    out.insert(fire);
                }
            }
            wall += TimeDelta::seconds(1);
        }
    } else {
        let mut at = from;
        while at < to {
            if rule.cron.is_time_matching(&local_time(at).unwrap()).unwrap() {
                out.insert(at);
            }
            at += TimeDelta::seconds(1);
        }
    }
    out.into_iter().collect()
}

/// Every change of UTC offset of `tz` in `[from, to)`, to the second.
fn transitions(tz: Tz, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let zone = zone(tz);
    let offset = |at: DateTime<Utc>| zone.local_time(at).unwrap() - at.naive_utc();
    let mut found = Vec::new();
    let mut at = utc(from);
    while at < utc(to) {
        let next = at + TimeDelta::hours(1);
        if offset(at) != offset(next) {
            let (mut lo, mut hi) = (at, next);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == offset(at) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found.push(hi);
        }
        at = next;
    }
    found
}

#[test]
fn agrees_with_brute_force_around_every_transition() {
    let zones = [
        (NY, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        (BERLIN, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        // Half-hour daylight saving.
        (Tz::Australia__Lord_Howe, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        // Changes at midnight.
        (Tz::America__Santiago, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        // A whole day skipped (2011-12-30) besides two ordinary changes.
        (Tz::Pacific__Apia, "2011-01-01T00:00:00Z", "2012-01-01T00:00:00Z"),
        // Past the end of the compiled tables: the zone's rule goes on.
        (Tz::Australia__Sydney, "2188-01-01T00:00:00Z", "2189-01-01T00:00:00Z"),
    ];
    let rules = [
        "30 2 * * *",
        "30 1 * * *",
        "0 0 * * *",
        "30 0 * * *",
        "0 2,3 * * *",
        "15 1-3 * * *",
        "0 0,30 2 * * *",
        "*/15 * * * *",
        "0 * * * *",
        "*/20 2 * * *",
        "*/10 * * * * *",
        "30 */2 * * *",
    ];
    let mut checked = 0;
    for (tz, year_start, year_end) in zones {
        let changes = transitions(tz, year_start, year_end);
        assert!(changes.len() >= 2, "{tz}: {changes:?}");
        for change in changes {
            let from = change - TimeDelta::hours(5);
            let to = change + TimeDelta::hours(5);
            for text in rules {
                let rule = rule(text);
                let expected = brute_force(&rule, tz, from, to);
                let mut found = Vec::new();
                let mut after = from - TimeDelta::milliseconds(1);
                while let Some(next) = rule.next_after(&zone(tz), after) {
                    if next >= to {
                        break;
                    }
                    found.push(next);
                    after = next;
                }
                assert_eq!(found, expected, "{text} in {tz} around {change}");
                checked += found.len();
                // Asking from any point, including inside a repeated
                // stretch, gives the first expected fire after it.
                let mut probe = from;
                while probe < to - TimeDelta::hours(1) {
                    if let Some(want) = expected.iter().copied().find(|fire| *fire > probe) {
                        assert_eq!(
                            rule.next_after(&zone(tz), probe),
                            Some(want),
                            "{text} in {tz} after {probe}"
                        );
                    }
                    probe += TimeDelta::seconds(437);
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} fires compared");
}
