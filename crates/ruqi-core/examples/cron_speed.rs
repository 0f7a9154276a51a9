//! Measures how fast cron schedules answer "when next?", and shows where a
//! few of them fire in the years 2026 and 2100.
//!
//! Run it with `cargo run -p ruqi-core --example cron_speed` (add
//! `--release` for optimised figures; the README quotes the debug build,
//! which is what `cargo test` runs). It takes a few seconds.
//!
//! What to look at: the microseconds per `next_fire_after` call for each
//! rule and zone, first from 2026 and then from 2100, and the UTC instants of
//! the sample fires, which should keep their local time of day in both
//! years (noon in New York is 16:00Z in July and 17:00Z in January).

// Printing the figures is this example's whole point.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use chrono::{DateTime, Utc};
use ruqi_core::trigger::{Schedule, TriggerKind, parse_timezone};

/// Rules of both daylight-saving kinds: fixed wall-clock times and rules
/// with a wildcard in a time field.
const RULES: [&str; 6] = [
    "30 2 * * *",
    "0 9-17 * * 1-5",
    "0 0 L * *",
    "*/15 * * * *",
    "0 * * * *",
    "*/10 * * * * *",
];

const ZONES: [&str; 4] = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"];

/// Successive fires computed per rule, zone and starting year.
const FIRES: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let starts: [DateTime<Utc>; 2] = ["2026-01-01T00:00:00Z".parse()?, "2100-01-01T00:00:00Z".parse()?];
    println!(
        "{:<16} {:<22} {:>12} {:>12}",
        "rule", "zone", "2026 µs/call", "2100 µs/call"
    );
    let mut total_calls = 0usize;
    let mut total_seconds = 0f64;
    for rule in RULES {
        for zone in ZONES {
            let schedule = Schedule::parse(TriggerKind::Cron, rule, parse_timezone(zone)?, None, None, starts[0])?;
            let mut per_call = Vec::new();
            for start in starts {
                let clock = Instant::now();
                let fires = schedule.preview(start, FIRES);
                let seconds = clock.elapsed().as_secs_f64();
                assert_eq!(fires.len(), FIRES, "{rule} in {zone} ran out of fires");
                total_calls += FIRES;
                total_seconds += seconds;
                per_call.push(seconds * 1e6 / FIRES as f64);
            }
            println!("{rule:<16} {zone:<22} {:>12.2} {:>12.2}", per_call[0], per_call[1]);
        }
    }
    println!(
        "\nall: {total_calls} calls in {total_seconds:.2} s, {:.2} µs per call",
        total_seconds * 1e6 / total_calls as f64
    );

    println!("\nsample fires (UTC):");
    for (rule, zone, after) in [
        ("0 12 * 7 *", "America/New_York", "2026-06-30T00:00:00Z"),
        ("0 12 * 7 *", "America/New_York", "2100-06-30T00:00:00Z"),
        ("0 12 * 1 *", "America/New_York", "2100-01-01T00:00:00Z"),
        ("0 12 * 1 *", "Australia/Sydney", "2100-01-01T00:00:00Z"),
        ("0 12 * 7 *", "Australia/Sydney", "2100-07-01T00:00:00Z"),
        ("30 2 * 3 0", "Europe/Berlin", "2100-03-27T00:00:00Z"),
    ] {
        let after: DateTime<Utc> = after.parse()?;
        let schedule = Schedule::parse(TriggerKind::Cron, rule, parse_timezone(zone)?, None, None, after)?;
        let next = schedule.next_fire_after(after).map(|fire| fire.to_rfc3339());
        println!("  {rule:<12} {zone:<20} after {after}: {}", next.unwrap_or_default());
    }
    Ok(())
}
