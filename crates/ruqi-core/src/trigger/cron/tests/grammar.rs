//! Fields, names, steps, day rules, bounded searches and descriptions.

use std::time::Instant;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::*;

#[test]
fn five_fields_are_minute_hour_day_month_weekday() {
    assert_eq!(
        fires("30 2 * * *", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-01T02:30:00Z", "2026-01-02T02:30:00Z"])
    );
}

#[test]
fn six_fields_put_seconds_first() {
    assert_eq!(
        fires("0 20 2 * * *", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-01T02:20:00Z", "2026-01-02T02:20:00Z"])
    );
    assert_eq!(
        fires("15 20 2 * * *", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-01T02:20:15Z"])
    );
}

#[test]
fn seven_fields_put_the_year_last() {
    assert_eq!(
        fires("0 0 12 1 1 * 2028", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2028-01-01T12:00:00Z"])
    );
    assert_eq!(
        fires("0 0 0 1 1 * 2027-2029/2", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        utcs(&["2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z"])
    );
}

#[test]
fn aliases_expand_to_their_rules() {
    let cases = [
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
        ("@monthly", "2026-06-01T00:00:00Z"),
        ("@weekly", "2026-05-17T00:00:00Z"), // 2026-05-17 is a Sunday
        ("@daily", "2026-05-13T00:00:00Z"),
        ("@midnight", "2026-05-13T00:00:00Z"),
        ("@hourly", "2026-05-12T11:00:00Z"),
        ("  @DAILY ", "2026-05-13T00:00:00Z"),
    ];
    for (alias, expected) in cases {
        assert_eq!(
            fires(alias, Tz::UTC, "2026-05-12T10:30:00Z", 1),
            utcs(&[expected]),
            "{alias}"
        );
    }
}

#[test]
fn last_day_of_month_and_last_weekday() {
    assert_eq!(
        fires("0 0 L * *", Tz::UTC, "2026-01-15T00:00:00Z", 3),
        utcs(&["2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"])
    );
    // Last Fridays: 2026-01-30, 2026-02-27.
    assert_eq!(
        fires("0 0 * * 5L", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 * * FRIL", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-30T00:00:00Z"])
    );
    // Last weekday of May 2026 (the 31st is a Sunday): Friday the 29th.
    assert_eq!(
        fires("0 0 LW * *", Tz::UTC, "2026-05-01T00:00:00Z", 1),
        utcs(&["2026-05-29T00:00:00Z"])
    );
}

#[test]
fn nearest_weekday() {
    // 2026-08-15 is a Saturday (fires Friday 14th); 2026-11-15 a Sunday
    // (fires Monday 16th); 2026-09-15 a Tuesday (fires that day).
    assert_eq!(
        fires("0 0 15W 8,9,11 *", Tz::UTC, "2026-08-01T00:00:00Z", 3),
        utcs(&["2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z", "2026-11-16T00:00:00Z"])
    );
}

#[test]
fn nth_weekday() {
    // Second Mondays: 2026-01-12, 2026-02-09.
    assert_eq!(
        fires("0 0 * * 1#2", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-12T00:00:00Z", "2026-02-09T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 * * MON#2", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-12T00:00:00Z"])
    );
    // Last Sunday of March 2026 via #L.
    assert_eq!(
        fires("0 0 * 3 SUN#L", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-03-29T00:00:00Z"])
    );
}

#[test]
fn month_and_weekday_names() {
    // Mondays in January 2027: 4, 11, 18, 25.
    assert_eq!(
        fires("0 9 * JAN MON", Tz::UTC, "2026-02-01T00:00:00Z", 2),
        utcs(&["2027-01-04T09:00:00Z", "2027-01-11T09:00:00Z"])
    );
    assert_eq!(
        fires("0 9 * jan-feb mon-fri", Tz::UTC, "2026-02-27T10:00:00Z", 2),
        utcs(&["2027-01-01T09:00:00Z", "2027-01-04T09:00:00Z"])
    );
    // Sunday as 7 and as the end of a range.
    assert_eq!(
        fires("0 0 * * 7", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-04T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 * * SAT-SUN", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        utcs(&["2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"])
    );
}

#[test]
fn restricted_day_of_month_and_weekday_match_either() {
    // The 13th, or any Friday (2026-02-06, 13 (both), 20, 27, 2026-03-06, 13).
    assert_eq!(
        fires("0 0 13 * FRI", Tz::UTC, "2026-02-01T00:00:00Z", 6),
        utcs(&[
            "2026-02-06T00:00:00Z",
            "2026-02-13T00:00:00Z",
            "2026-02-20T00:00:00Z",
            "2026-02-27T00:00:00Z",
            "2026-03-06T00:00:00Z",
            "2026-03-13T00:00:00Z"
        ])
    );
    // A `+` asks for both: Friday the 13th (2026-02-13, 2026-03-13, 2026-11-13).
    assert_eq!(
        fires("0 0 13 * +FRI", Tz::UTC, "2026-02-01T00:00:00Z", 3),
        utcs(&["2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z", "2026-11-13T00:00:00Z"])
    );
}

#[test]
fn ranges_with_steps() {
    assert_eq!(
        fires("0 9-17/4 * * *", Tz::UTC, "2026-01-01T00:00:00Z", 4),
        utcs(&[
            "2026-01-01T09:00:00Z",
            "2026-01-01T13:00:00Z",
            "2026-01-01T17:00:00Z",
            "2026-01-02T09:00:00Z"
        ])
    );
    assert_eq!(
        fires("10-20/5,45 0 * * *", Tz::UTC, "2026-01-01T00:00:00Z", 4),
        utcs(&[
            "2026-01-01T00:10:00Z",
            "2026-01-01T00:15:00Z",
            "2026-01-01T00:20:00Z",
            "2026-01-01T00:45:00Z"
        ])
    );
}

#[test]
fn the_lenient_step_form_means_a_range_to_the_end() {
    let lenient = fires("5/5 * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 30);
    let explicit = fires("5-59/5 * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 30);
    assert_eq!(lenient, explicit);
    assert_eq!(lenient[0], utc("2026-01-01T00:05:00Z"));
    assert_eq!(lenient[11], utc("2026-01-01T01:05:00Z"));
    assert_eq!(
        fires("/20 * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        fires("*/20 * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 3)
    );
    // A weekday start steps up to Saturday, not to Sunday-as-7.
    assert_eq!(
        fires("0 0 * * 1/2", Tz::UTC, "2026-01-04T00:00:00Z", 4),
        utcs(&[
            "2026-01-05T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "2026-01-09T00:00:00Z",
            "2026-01-12T00:00:00Z"
        ])
    );
}

#[test]
fn question_mark_and_case_are_accepted() {
    assert_eq!(
        fires("0 0 ? * mon", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-05T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 l * ?", Tz::UTC, "2026-01-01T00:00:00Z", 1),
        utcs(&["2026-01-31T00:00:00Z"])
    );
}

#[test]
fn is_evaluated_in_the_jobs_zone() {
    assert_eq!(
        fires("0 9 * * *", Tz::Asia__Tokyo, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"])
    );
    assert_eq!(
        fires("0 9 * * *", BERLIN, "2026-07-01T00:00:00Z", 1),
        utcs(&["2026-07-01T07:00:00Z"])
    );
}

#[test]
fn sub_second_after_values_neither_skip_nor_repeat() {
    let rule = rule("0 20 2 * * *");
    assert_eq!(
        rule.next_after(&zone(Tz::UTC), utc("2026-01-01T02:19:59.999Z")),
        Some(utc("2026-01-01T02:20:00Z"))
    );
    assert_eq!(
        rule.next_after(&zone(Tz::UTC), utc("2026-01-01T02:20:00.001Z")),
        Some(utc("2026-01-02T02:20:00Z"))
    );
    let every = self::rule("*/10 * * * * *");
    assert_eq!(
        every.next_after(&zone(BERLIN), utc("2026-01-01T02:19:59.999Z")),
        Some(utc("2026-01-01T02:20:00Z"))
    );
    assert_eq!(
        every.next_after(&zone(BERLIN), utc("2026-01-01T02:20:00.500Z")),
        Some(utc("2026-01-01T02:20:10Z"))
    );
}

// ---- 29 February ---------------------------------------------------------

#[test]
fn the_29th_of_february_waits_for_a_leap_year() {
    assert_eq!(
        fires("0 0 29 2 *", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
    );
}

#[test]
fn a_daily_rule_crosses_the_leap_day() {
    assert_eq!(
        fires("0 12 * * *", Tz::UTC, "2028-02-28T00:00:00Z", 3),
        utcs(&["2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z", "2028-03-01T12:00:00Z"])
    );
}

// ---- bounded searches -----------------------------------------------------

#[test]
fn a_year_bounded_rule_runs_out_instead_of_spinning() {
    let rule = rule("0 0 0 1 1 * 2030");
    let clock = Instant::now();
    assert_eq!(
        rule.next_after(&zone(Tz::UTC), utc("2026-01-01T00:00:00Z")),
        Some(utc("2030-01-01T00:00:00Z"))
    );
    assert_eq!(rule.next_after(&zone(Tz::UTC), utc("2030-01-01T00:00:00Z")), None);
    assert_eq!(rule.next_after(&zone(NY), utc("2031-06-01T00:00:00Z")), None);
    assert!(clock.elapsed().as_secs() < 5, "took {:?}", clock.elapsed());
}

#[test]
fn searches_stay_inside_the_supported_years() {
    let daily = rule("0 0 * * *");
    let hourly = rule("0 * * * *");
    for rule in [&daily, &hourly] {
        assert_eq!(rule.next_after(&zone(BERLIN), DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(rule.next_after(&zone(BERLIN), utc("4999-12-31T23:30:00Z")), None);
        let first = rule.next_after(&zone(Tz::UTC), DateTime::<Utc>::MIN_UTC).unwrap();
        assert_eq!(first, utc("1970-01-01T00:00:00Z"));
    }
    let last = daily.next_after(&zone(Tz::UTC), utc("4999-12-30T12:00:00Z")).unwrap();
    assert_eq!(last.year(), 4999);
    // The zone's clock stays inside the years too: 23:00 on 4999-12-31 in
    // Berlin is the last hour, and in New York the first is the first hour
    // of 1970 there, 05:00 UTC.
    assert_eq!(
        hourly.next_after(&zone(BERLIN), utc("4999-12-31T21:30:00Z")),
        Some(utc("4999-12-31T22:00:00Z"))
    );
    assert_eq!(hourly.next_after(&zone(BERLIN), utc("4999-12-31T22:00:00Z")), None);
    assert_eq!(
        hourly.next_after(&zone(NY), DateTime::<Utc>::MIN_UTC),
        Some(utc("1970-01-01T05:00:00Z"))
    );
    assert_eq!(
        daily.next_after(&zone(NY), utc("4999-12-31T04:00:00Z")),
        Some(utc("4999-12-31T05:00:00Z"))
    );
    assert_eq!(daily.next_after(&zone(NY), utc("4999-12-31T05:00:00Z")), None);
}

#[test]
fn parsing_an_impossible_rule_stays_fast() {
    // At most 14 years are walked day by day, one of each calendar.
    let clock = Instant::now();
    assert!(CronRule::parse("0 0 31 2 *").is_err());
    assert!(CronRule::parse("0 0 0 29 2 * */4").is_err());
    assert!(CronRule::parse("0 0 0 L 2 MON 4990-4999").is_ok());
    assert!(clock.elapsed().as_secs() < 5, "took {:?}", clock.elapsed());
}

// ---- description ----------------------------------------------------------

#[test]
fn describes_rules_in_english_with_the_zone() {
    assert_eq!(
        rule("0 20 2 * * *").describe(BERLIN),
        "at 02:20 every day (Europe/Berlin)"
    );
    assert_eq!(rule("20 2 * * *").describe(Tz::UTC), "at 02:20 every day (UTC)");
    assert_eq!(rule("*/15 * * * *").describe(Tz::UTC), "every 15 minutes (UTC)");
    assert_eq!(
        rule("0 0 * * 1#2").describe(NY),
        "at 00:00, on the 2nd Monday of the month (America/New_York)"
    );
    assert_eq!(
        rule("0 0 29 2 *").describe(Tz::UTC),
        "at 00:00, on day 29, in February (UTC)"
    );
    // Both day fields must match: croner says "if it is also".
    assert_eq!(
        rule("0 0 */10 * MON").describe(Tz::UTC),
        "at 00:00, on day 1, 11, 21, and 31 (if it is also Monday) (UTC)"
    );
    assert_eq!(
        rule("0 0 1-31/10 * MON").describe(Tz::UTC),
        "at 00:00, on day 1, 11, 21, and 31 or Monday (UTC)"
    );
}

// ---- Vixie cron's rules ------------------------------------------------------

#[test]
fn month_names_work_in_ranges_steps_and_lists() {
    // JUL holds an L, which once made every range or step with it a refusal.
    assert_eq!(
        fires("0 0 1 JUN-JUL *", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        utcs(&["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z", "2027-06-01T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 1 jul-aug *", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z"])
    );
    assert_eq!(
        fires("0 0 1 JUL-DEC/2 *", Tz::UTC, "2026-01-01T00:00:00Z", 4),
        utcs(&[
            "2026-07-01T00:00:00Z",
            "2026-09-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "2027-07-01T00:00:00Z"
        ])
    );
    assert_eq!(
        fires("30 2,14 3-6,16 JUL-OCT *", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        utcs(&["2026-07-03T02:30:00Z", "2026-07-03T14:30:00Z", "2026-07-04T02:30:00Z"])
    );
    // Names, numbers and case mixed in one list, and a name ending a range.
    assert_eq!(
        fires("0 0 1 Jan,3,jUl-8,NOV-dec/1 *", Tz::UTC, "2026-01-01T00:00:00Z", 7),
        fires("0 0 1 1,3,7,8,11,12 *", Tz::UTC, "2026-01-01T00:00:00Z", 7)
    );
    assert_eq!(
        fires("0 0 1 3-JUL *", Tz::UTC, "2026-01-01T00:00:00Z", 5),
        fires("0 0 1 3-7 *", Tz::UTC, "2026-01-01T00:00:00Z", 5)
    );
    assert_eq!(
        error("0 0 1 JULY *"),
        r#"month field: unknown value "JULY" (use 1-12 or JAN-DEC)"#
    );
}

#[test]
fn weekday_names_work_in_ranges_steps_and_lists() {
    // Mondays, Wednesdays and Fridays: 2026-01-05 is a Monday.
    assert_eq!(
        fires("0 0 * * MON-FRI/2", Tz::UTC, "2026-01-04T00:00:00Z", 4),
        utcs(&[
            "2026-01-05T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "2026-01-09T00:00:00Z",
            "2026-01-12T00:00:00Z"
        ])
    );
    // WED holds a W and stays a weekday, in a list, a range and a step.
    for text in ["0 0 * * wed,SAT", "0 0 * * WED-wed,6", "0 0 * * Wed-SAT/3"] {
        assert_eq!(
            fires(text, Tz::UTC, "2026-01-04T00:00:00Z", 4),
            utcs(&[
                "2026-01-07T00:00:00Z",
                "2026-01-10T00:00:00Z",
                "2026-01-14T00:00:00Z",
                "2026-01-17T00:00:00Z"
            ]),
            "{text}"
        );
    }
    assert_eq!(
        fires("0 0 * * FRI-SUN", Tz::UTC, "2026-01-04T00:00:00Z", 30),
        fires("0 0 * * 5-7", Tz::UTC, "2026-01-04T00:00:00Z", 30)
    );
}

#[test]
fn a_day_field_beginning_with_a_star_is_unrestricted_like_vixie() {
    // `*/2` begins with `*`: both fields must match, so Mondays that are odd
    // days of the month.
    assert_eq!(
        fires("0 0 */2 * 1", Tz::UTC, "2026-01-01T00:00:00Z", 4),
        utcs(&[
            "2026-01-05T00:00:00Z",
            "2026-01-19T00:00:00Z",
            "2026-02-09T00:00:00Z",
            "2026-02-23T00:00:00Z"
        ])
    );
    // Written as a range, the field is restricted: odd days or Mondays.
    assert_eq!(
        fires("0 0 1-31/2 * 1", Tz::UTC, "2025-12-31T12:00:00Z", 4),
        utcs(&[
            "2026-01-01T00:00:00Z",
            "2026-01-03T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-01-07T00:00:00Z"
        ])
    );
    // The same in the weekday field: the 1st when it is a Sunday, Tuesday,
    // Thursday or Saturday.
    assert_eq!(
        fires("0 0 1 * */2", Tz::UTC, "2025-12-31T12:00:00Z", 4),
        utcs(&[
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "2026-08-01T00:00:00Z"
        ])
    );
    // `*` in a list also makes the field unrestricted: Mondays only.
    assert_eq!(
        fires("0 0 *,15 * MON", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        utcs(&["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z"])
    );
    // `?` counts as `*`, and `+` asks for both fields whatever they look like.
    assert_eq!(
        fires("0 0 ? * MON", Tz::UTC, "2026-01-01T00:00:00Z", 3),
        fires("0 0 *,15 * MON", Tz::UTC, "2026-01-01T00:00:00Z", 3)
    );
    assert_eq!(
        fires("0 0 1-31/2 * +1", Tz::UTC, "2026-01-01T00:00:00Z", 4),
        fires("0 0 */2 * 1", Tz::UTC, "2026-01-01T00:00:00Z", 4)
    );
}

#[test]
fn star_in_a_list_and_steps_past_the_range_are_accepted_like_vixie() {
    assert_eq!(
        fires("*,5 * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 90),
        fires("* * * * *", Tz::UTC, "2026-01-01T00:00:00Z", 90)
    );
    // A step past the end of its range keeps the first value only.
    for text in [
        "*/61 * * * *",
        "*/60 * * * *",
        "0-9/10 * * * *",
        "*/99999999999999999999 * * * *",
    ] {
        assert_eq!(
            fires(text, Tz::UTC, "2026-01-01T00:30:00Z", 3),
            utcs(&["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"]),
            "{text}"
        );
    }
    assert_eq!(
        fires("0 0 * * */7", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"])
    );
}

#[test]
fn a_time_field_beginning_with_a_star_makes_an_elapsed_time_rule() {
    for (text, wall_clock) in [
        ("30 2 * * *", true),
        ("0-59 2 * * *", true),
        ("5,*/20 2 * * *", true),
        ("*/20 2 * * *", false),
        ("*,5 2 * * *", false),
        ("0 * * * *", false),
        ("0 */2 * * *", false),
        ("/20 2 * * *", false),
        ("*/10 0 2 * * *", false),
        ("0 0 2 */2 * *", true),
    ] {
        assert_eq!(rule(text).wall_clock, wall_clock, "{text}");
    }
}

#[test]
fn a_step_on_star_in_the_year_field_counts_from_1970() {
    assert_eq!(
        fires("0 0 0 1 1 * */100", Tz::UTC, "2026-01-01T00:00:00Z", 2),
        utcs(&["2070-01-01T00:00:00Z", "2170-01-01T00:00:00Z"])
    );
}

#[test]
fn a_nearest_weekday_on_a_day_the_month_lacks_does_not_fire() {
    // April, June and September 2026 have no 31st, so no weekday nearest to
    // it; 2026-05-31 is a Sunday (Friday 29th), 2026-10-31 a Saturday
    // (Friday 30th).
    assert_eq!(
        fires("0 0 31W * *", Tz::UTC, "2026-04-01T00:00:00Z", 5),
        utcs(&[
            "2026-05-29T00:00:00Z",
            "2026-07-31T00:00:00Z",
            "2026-08-31T00:00:00Z",
            "2026-10-30T00:00:00Z",
            "2026-12-31T00:00:00Z"
        ])
    );
    assert!(error("0 0 30W 2 *").starts_with("never fires"));
    // The last weekday of every month is LW.
    assert_eq!(
        fires("0 0 LW 4,6 *", Tz::UTC, "2026-04-01T00:00:00Z", 2),
        utcs(&["2026-04-30T00:00:00Z", "2026-06-30T00:00:00Z"])
    );
}

/// Rules Vixie cron accepts, each beside the numeric rule it means; ruqi
/// must accept both and fire them alike.
#[test]
fn every_rule_vixie_cron_accepts_is_accepted() {
    let pairs = [
        // Names alone, in any case, in both name fields.
        ("0 0 1 jan *", "0 0 1 1 *"),
        ("0 0 * * sun", "0 0 * * 0"),
        ("0 0 1 Jul Wed", "0 0 1 7 3"),
        ("0 0 * * SAT", "0 0 * * 6"),
        // Names starting and ending ranges, mixed with numbers.
        ("0 0 1 JAN-MAR *", "0 0 1 1-3 *"),
        ("0 0 1 jun-jul *", "0 0 1 6-7 *"),
        ("0 0 1 2-JUL *", "0 0 1 2-7 *"),
        ("0 0 1 JUL-12 *", "0 0 1 7-12 *"),
        ("0 0 * * MON-FRI", "0 0 * * 1-5"),
        ("0 0 * * 1-FRI", "0 0 * * 1-5"),
        ("0 0 * * SUN-SAT", "0 0 * * 0-6"),
        ("0 0 * * TUE-THU", "0 0 * * 2-4"),
        // Steps on named ranges and on `*`.
        ("0 0 1 JAN-DEC/3 *", "0 0 1 1,4,7,10 *"),
        ("0 0 1 JUL-DEC/2 *", "0 0 1 7,9,11 *"),
        ("0 0 * * MON-SAT/2", "0 0 * * 1,3,5"),
        ("0 0 1 */4 *", "0 0 1 1,5,9 *"),
        ("*/15 * * * *", "0,15,30,45 * * * *"),
        ("0 */6 * * *", "0 0,6,12,18 * * *"),
        ("0 0 */10 * *", "0 0 1,11,21,31 * *"),
        ("0 0 * * */3", "0 0 * * 0,3,6"),
        // Steps on numeric ranges, past the range's end included.
        (
            "1-59/2 * * * *",
            "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,59 * * * *",
        ),
        ("0 9-17/4 * * *", "0 9,13,17 * * *"),
        ("0 0 1-7/100 * *", "0 0 1 * *"),
        // Lists mixing all of these.
        ("0,30 8-10,*/12 * * *", "0,30 0,8,9,10,12 * * *"),
        ("0 0 1,15,L * *", "0 0 1,15,L * *"),
        ("0 0 1 JAN,mar-MAY,Jul-DEC/2 *", "0 0 1 1,3,4,5,7,9,11 *"),
        ("0 0 * * mon,WED-fri,0", "0 0 * * 0,1,3,4,5"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * 5-7", "0 0 * * 0,5,6"),
        ("0 0 * * 0-7/2", "0 0 * * 0,2,4,6"),
        ("5,*/20 * * * *", "0,5,20,40 * * * *"),
        ("*,3 * * * *", "* * * * *"),
        // Leading zeros, tabs and repeated spaces.
        ("00 09 01 01 *", "0 9 1 1 *"),
        ("0\t12  *\t* 1-5", "0 12 * * 1-5"),
        // Both day fields restricted: either matches.
        ("0 0 1,15 * MON", "0 0 1,15 * 1"),
        ("0 0 13 * FRI", "0 0 13 * 5"),
        // Either day field starting with `*`: both must match.
        ("0 0 */2 * MON", "0 0 1-31/2 * +1"),
        ("0 0 1 * */2", "0 0 1 * +0,2,4,6"),
    ];
    for zone in [Tz::UTC, NY] {
        for (vixie, numeric) in pairs {
            let ours = fires(vixie, zone, "2026-01-01T00:00:00Z", 40);
            assert_eq!(ours.len(), 40, "{vixie}");
            assert_eq!(
                ours,
                fires(numeric, zone, "2026-01-01T00:00:00Z", 40),
                "{vixie} against {numeric}"
            );
        }
    }
}
