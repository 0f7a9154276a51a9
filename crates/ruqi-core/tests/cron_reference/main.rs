//! ruqi's cron triggers against a brute-force model of Vixie cron.
//!
//! The model (`model.rs`, `calendar.rs`, `reference.rs`) is written from the
//! definitions alone: the sets of values each field names, Vixie cron's rule
//! for the two day fields, and the daylight-saving rules the README states.
//! It shares nothing with ruqi but jiff's zone data, as offsets over time.
//!
//! The property test runs 100,000 random cases with a fixed seed, split in
//! shards that run in parallel. `RUQI_CRON_CASES` sets another count and
//! `RUQI_CRON_SEED` (a number) another seed, e.g.
//! `RUQI_CRON_CASES=2000000 cargo test -p ruqi-core --test cron_reference`.
//! Run with `--nocapture` to see what the cases covered.

mod calendar;
mod model;
mod reference;
mod strategy;

use std::cell::Cell;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prop_assert;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use ruqi_core::trigger::{Schedule, TriggerKind, parse_timezone};

use calendar::{civil_from_days, days_from_civil, weekday};
use model::{Field, Item, Meaning, Rule, Spelling};
use reference::{Expected, ceiling, next_fire};
use strategy::{Case, ZONES};

const DEFAULT_CASES: u64 = 100_000;
const SHARDS: u64 = 4;
/// How far ahead the reference looks for a fire.
const HORIZON_DAYS: i64 = 3 * 366;

fn utc_of_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("instant in range")
}

fn show(ms: i64) -> String {
    utc_of_ms(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn schedule(rule: &str, zone: &str, anchor_ms: i64) -> Result<Schedule, ruqi_core::FieldError> {
    let tz = parse_timezone(zone).expect("known zone");
    Schedule::parse(TriggerKind::Cron, rule, tz, None, None, utc_of_ms(anchor_ms))
}

/// What a shard's cases covered.
#[derive(Default)]
struct Tally {
    cases: Cell<u64>,
    fires: Cell<u64>,
    wall_clock: Cell<u64>,
    near_change: Cell<u64>,
    after_2099: Cell<u64>,
    /// Refused as never firing, or for L beside LW.
    refused: Cell<u64>,
}

impl Tally {
    fn add(cell: &Cell<u64>) {
        cell.set(cell.get() + 1);
    }
}

/// The case's instant: near one of the zone's changes of offset in its
/// year, or anywhere in the year.
fn instant_of(case: &Case, zone: &TimeZone) -> i64 {
    let start = days_from_civil(case.year, 1, 1) * 86_400;
    let near_change = case.near_change.and_then(|(nth, shift)| {
        let from = Timestamp::from_second(start).expect("in range");
        zone.following(from)
            .map(|change| change.timestamp().as_second())
            .take_while(|at| *at < start + 366 * 86_400)
            .nth(nth)
            .map(|at| at + shift)
    });
    let second = near_change
        .unwrap_or(start + case.second_of_year)
        .clamp(0, ceiling() - 1);
    second * 1000 + case.millisecond
}

fn check(case: &Case, zones: &[TimeZone], tally: &Tally) -> Result<(), TestCaseError> {
    let zone = &zones[case.zone];
    let zone_name = ZONES[case.zone];
    let text = case.rule.text();
    let meaning = Meaning::of(&case.rule);
    let mut after = instant_of(case, zone);
    Tally::add(&tally.cases);
    if case.near_change.is_some() {
        Tally::add(&tally.near_change);
    }
    if case.year >= 2100 {
        Tally::add(&tally.after_2099);
    }
    let parsed = schedule(&text, zone_name, after);
    if case.rule.has_last_and_last_weekday() {
        // Documented: one list cannot hold both.
        let refusal = parsed.err().map(|err| err.reason);
        prop_assert!(
            refusal
                .as_deref()
                .is_some_and(|reason| reason.contains("L and LW cannot share a list")),
            "\"{text}\": {refusal:?}"
        );
        Tally::add(&tally.refused);
        return Ok(());
    }
    let schedule = match parsed {
        Ok(schedule) => schedule,
        Err(err) if err.reason.starts_with("never fires") => {
            Tally::add(&tally.refused);
            prop_assert!(
                !reference::fires_on_some_day(&meaning),
                "\"{text}\" was refused as never firing, but the model finds a day: {err}"
            );
            return Ok(());
        }
        Err(err) => return Err(TestCaseError::fail(format!("\"{text}\" was refused: {err}"))),
    };
    if meaning.wall_clock {
        Tally::add(&tally.wall_clock);
    }
    // The next fire, and the one after it.
    for _ in 0..2 {
        let expected = next_fire(&meaning, zone, after, HORIZON_DAYS);
        let actual = schedule
            .next_fire_after(utc_of_ms(after))
            .map(|fire| fire.timestamp_millis());
        let context = || {
            format!(
                "\"{text}\" in {zone_name} after {} ({} rule): ruqi {:?}, model {:?}",
                show(after),
                if meaning.wall_clock {
                    "wall-clock"
                } else {
                    "elapsed-time"
                },
                actual.map(show),
                match expected {
                    Expected::At(at) => format!("at {}", show(at)),
                    Expected::NotBefore(bound) => format!("none before {}", show(bound)),
                }
            )
        };
        match expected {
            Expected::At(at) => {
                prop_assert!(actual == Some(at), "{}", context());
                Tally::add(&tally.fires);
                after = at;
            }
            Expected::NotBefore(bound) => {
                prop_assert!(actual.is_none_or(|fire| fire >= bound), "{}", context());
                break;
            }
        }
    }
    Ok(())
}

fn cases_wanted() -> u64 {
    std::env::var("RUQI_CRON_CASES")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn run_shard(shard: u64) {
    let cases = cases_wanted().div_ceil(SHARDS);
    let seed = std::env::var("RUQI_CRON_SEED")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(20_260_512);
    // XorShift: ChaCha costs more than everything else together in a debug build.
    let mut seed_bytes = [0u8; 16];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    seed_bytes[8..16].copy_from_slice(&shard.to_le_bytes());
    let config = Config {
        cases: u32::try_from(cases).unwrap_or(u32::MAX),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::XorShift, &seed_bytes));
    let zones: Vec<TimeZone> = ZONES
        .iter()
        .map(|name| TimeZone::get(name).expect("bundled zone"))
        .collect();
    let tally = Tally::default();
    let started = std::time::Instant::now();
    let outcome = runner.run(&strategy::case(), |case| check(&case, &zones, &tally));
    if let Err(failure) = outcome {
        panic!("seed {seed}, shard {shard}: {failure}");
    }
    let count = tally.cases.get();
    eprintln!(
        "shard {shard}: {count} cases in {:.1} s; {} fires compared, {} wall-clock rules, {} near a change of \
         offset, {} from 2100 on, {} refused",
        started.elapsed().as_secs_f64(),
        tally.fires.get(),
        tally.wall_clock.get(),
        tally.near_change.get(),
        tally.after_2099.get(),
        tally.refused.get(),
    );
    // The distributions must keep the comparison meaningful.
    assert!(count >= cases, "{count} cases run");
    assert!(tally.fires.get() > count, "only {} fires compared", tally.fires.get());
    assert!(tally.wall_clock.get() * 5 > count && tally.wall_clock.get() * 5 < count * 4);
    assert!(tally.near_change.get() * 3 > count && tally.after_2099.get() * 3 > count);
}

#[test]
fn agrees_with_a_brute_force_model_of_vixie_cron_shard_0() {
    run_shard(0);
}

#[test]
fn agrees_with_a_brute_force_model_of_vixie_cron_shard_1() {
    run_shard(1);
}

#[test]
fn agrees_with_a_brute_force_model_of_vixie_cron_shard_2() {
    run_shard(2);
}

#[test]
fn agrees_with_a_brute_force_model_of_vixie_cron_shard_3() {
    run_shard(3);
}

// ---- the model itself ----------------------------------------------------------

#[test]
fn the_models_calendar_agrees_with_chrono() {
    use chrono::{Datelike, NaiveDate};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
    for days in (0..days_from_civil(5001, 1, 1)).step_by(7) {
        let date = epoch + chrono::Days::new(days as u64);
        let (year, month, day) = civil_from_days(days);
        assert_eq!((year, month, day), (i64::from(date.year()), date.month(), date.day()));
        assert_eq!(days_from_civil(year, month, day), days);
        assert_eq!(weekday(days), i64::from(date.weekday().num_days_from_sunday()));
    }
}

fn numbers(kind_values: &[u32]) -> Field {
    Field::of(kind_values.iter().map(|&v| Item::Value(v, Spelling::Number)).collect())
}

fn ms(text: &str) -> i64 {
    text.parse::<DateTime<Utc>>().expect("instant").timestamp_millis()
}

#[test]
fn the_model_follows_the_documented_daylight_saving_rules() {
    let new_york = TimeZone::get("America/New_York").expect("zone");
    let daily = |minute: u32, hour: Field| Rule {
        second: None,
        minute: numbers(&[minute]),
        hour,
        day_of_month: Field::star(),
        month: Field::star(),
        day_of_week: Field::star(),
        year: None,
    };
    let next = |rule: &Rule, after: &str| next_fire(&Meaning::of(rule), &new_york, ms(after), 10);
    // 02:30 is skipped on 2026-03-08 and fires when the clock jumps, 07:00Z.
    let half_past_two = daily(30, numbers(&[2]));
    assert_eq!(
        next(&half_past_two, "2026-03-08T00:00:00Z"),
        Expected::At(ms("2026-03-08T07:00:00Z"))
    );
    // 01:30 happens twice on 2026-11-01 and fires the first time only.
    let half_past_one = daily(30, numbers(&[1]));
    assert_eq!(
        next(&half_past_one, "2026-11-01T00:00:00Z"),
        Expected::At(ms("2026-11-01T05:30:00Z"))
    );
    assert_eq!(
        next(&half_past_one, "2026-11-01T05:30:00Z"),
        Expected::At(ms("2026-11-02T06:30:00Z"))
    );
    assert_eq!(
        next(&half_past_one, "2026-11-01T06:10:00Z"),
        Expected::At(ms("2026-11-02T06:30:00Z"))
    );
    // An elapsed-time rule fires in both passes and not in the gap.
    let hourly = daily(0, Field::star());
    assert_eq!(
        next(&hourly, "2026-11-01T05:00:00Z"),
        Expected::At(ms("2026-11-01T06:00:00Z"))
    );
    assert_eq!(
        next(&hourly, "2026-03-08T06:00:00Z"),
        Expected::At(ms("2026-03-08T07:00:00Z"))
    );
    let mut every_minute_at_two = daily(0, numbers(&[2]));
    every_minute_at_two.minute = Field::of(vec![Item::StarStep(1)]);
    assert_eq!(
        next(&every_minute_at_two, "2026-03-08T00:00:00Z"),
        Expected::At(ms("2026-03-09T06:00:00Z"))
    );
    // July 2100 is summer time.
    let noon = daily(0, numbers(&[12]));
    assert_eq!(
        next(&noon, "2100-07-01T00:00:00Z"),
        Expected::At(ms("2100-07-01T16:00:00Z"))
    );
}

// ---- the system's zoneinfo -------------------------------------------------------

/// From 2100 to 2200, around every change of offset of five zones, ruqi's
/// fires are the model's computed on the system's own zone files (a
/// separate copy of the database, read by jiff's TZif parser), so this
/// checks ruqi's zone rules past the compiled tables against the
/// system's.
#[test]
fn fires_from_2100_to_2200_agree_with_the_systems_zoneinfo() {
    let root = Path::new("/usr/share/zoneinfo");
    let rules = [
        daily_rule("30 2 * * *"),
        daily_rule("0 0 * * *"),
        daily_rule("45 1,2,3 * * *"),
        daily_rule("*/15 * * * *"),
        daily_rule("0 * * * *"),
    ];
    let mut compared = 0;
    for name in [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Sydney",
        "America/Santiago",
        "Australia/Lord_Howe",
    ] {
        let Ok(data) = std::fs::read(root.join(name)) else {
            eprintln!("no {name} under {}: nothing to compare with", root.display());
            return;
        };
        let system = TimeZone::tzif(name, &data).expect("the system's zone file parses");
        let from = Timestamp::from_second(days_from_civil(2100, 1, 1) * 86_400).expect("in range");
        let until = days_from_civil(2201, 1, 1) * 86_400;
        let changes: Vec<i64> = system
            .following(from)
            .map(|change| change.timestamp().as_second())
            .take_while(|at| *at < until)
            .collect();
        assert!(
            changes.len() >= 200,
            "{name}: {} changes from 2100 to 2200",
            changes.len()
        );
        for change in changes {
            for (text, rule) in &rules {
                let meaning = Meaning::of(rule);
                let start = (change - 4 * 3600) * 1000;
                let schedule = schedule(text, name, start).expect("rule parses");
                let mut after = start;
                while after < (change + 4 * 3600) * 1000 {
                    let Expected::At(want) = next_fire(&meaning, &system, after, 2) else {
                        panic!("\"{text}\" in {name}: no fire within two days of {}", show(after));
                    };
                    let got = schedule
                        .next_fire_after(utc_of_ms(after))
                        .map(|fire| fire.timestamp_millis());
                    assert_eq!(
                        got.map(show),
                        Some(show(want)),
                        "\"{text}\" in {name} after {}",
                        show(after)
                    );
                    compared += 1;
                    after = want;
                }
            }
        }
    }
    assert!(compared > 10_000, "only {compared} fires compared");
}

/// A 5-field rule of plain numbers and `*`, `*/n` as text and as model.
fn daily_rule(text: &'static str) -> (&'static str, Rule) {
    let field = |part: &str| {
        if part == "*" {
            Field::star()
        } else if let Some(step) = part.strip_prefix("*/") {
            Field::of(vec![Item::StarStep(step.parse().expect("step"))])
        } else {
            Field::of(
                part.split(',')
                    .map(|value| Item::Value(value.parse().expect("number"), Spelling::Number))
                    .collect(),
            )
        }
    };
    let parts: Vec<&str> = text.split(' ').collect();
    let rule = Rule {
        second: None,
        minute: field(parts[0]),
        hour: field(parts[1]),
        day_of_month: field(parts[2]),
        month: field(parts[3]),
        day_of_week: field(parts[4]),
        year: None,
    };
    assert_eq!(rule.text(), text);
    (text, rule)
}

// ---- the three reported defects, through the public API ------------------------

#[test]
fn month_ranges_with_jul_parse_and_fire_in_july() {
    for (text, first_july) in [
        ("0 0 1 JUN-JUL *", "2026-07-01T00:00:00Z"),
        ("0 0 1 jul-aug *", "2026-07-01T00:00:00Z"),
        ("0 0 1 JUL-DEC/2 *", "2026-07-01T00:00:00Z"),
        ("30 2 3-6,16 JUL-OCT *", "2026-07-03T02:30:00Z"),
        ("30 2,14 3-6,16 JUL-OCT *", "2026-07-03T02:30:00Z"),
    ] {
        let schedule = schedule(text, "UTC", ms("2026-06-15T00:00:00Z")).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            schedule
                .next_fire_after(utc_of_ms(ms("2026-06-15T00:00:00Z")))
                .map(|at| at.timestamp_millis()),
            Some(ms(first_july)),
            "{text}"
        );
    }
}

#[test]
fn noon_in_new_york_in_july_2100_is_summer_time() {
    let schedule = schedule("0 12 * 7 *", "America/New_York", 0).expect("rule parses");
    let next = |after: &str| {
        schedule
            .next_fire_after(utc_of_ms(ms(after)))
            .map(|at| at.timestamp_millis())
    };
    assert_eq!(next("2100-06-30T00:00:00Z"), Some(ms("2100-07-01T16:00:00Z")));
    assert_eq!(next("2345-06-30T00:00:00Z"), Some(ms("2345-07-01T16:00:00Z")));
    let sydney = self::schedule("0 12 * 1,7 *", "Australia/Sydney", 0).expect("rule parses");
    assert_eq!(
        sydney
            .next_fire_after(utc_of_ms(ms("2150-06-30T00:00:00Z")))
            .map(|at| at.timestamp_millis()),
        Some(ms("2150-07-01T02:00:00Z"))
    );
    assert_eq!(
        sydney
            .next_fire_after(utc_of_ms(ms("2150-01-01T00:00:00Z")))
            .map(|at| at.timestamp_millis()),
        Some(ms("2150-01-01T01:00:00Z"))
    );
}

#[test]
fn a_stepped_day_of_month_and_a_weekday_must_both_match() {
    let schedule = schedule("0 0 */2 * 1", "UTC", 0).expect("rule parses");
    let fires = schedule.preview(utc_of_ms(ms("2026-01-01T00:00:00Z")), 30);
    assert_eq!(fires.len(), 30);
    for fire in fires {
        let days = fire.timestamp().div_euclid(86_400);
        let (_, _, day) = civil_from_days(days);
        assert!(
            day % 2 == 1 && weekday(days) == 1,
            "{fire} is not an odd-numbered Monday"
        );
    }
}
