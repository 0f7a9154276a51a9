//! Unit tests of cron rules, by concern.

#![allow(clippy::unwrap_used)]

mod daylight_saving;
mod errors;
mod grammar;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::CronRule;
use crate::trigger::timezone::Zone;

const NY: Tz = Tz::America__New_York;
const BERLIN: Tz = Tz::Europe__Berlin;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn zone(tz: Tz) -> Zone {
    Zone::new(tz).unwrap()
}

fn rule(text: &str) -> CronRule {
    CronRule::parse(text).unwrap_or_else(|err| panic!("{err}"))
}

/// The next `n` fires after `after`.
fn fires(text: &str, tz: Tz, after: &str, n: usize) -> Vec<DateTime<Utc>> {
    let rule = rule(text);
    let zone = zone(tz);
    let mut out = Vec::new();
    let mut at = utc(after);
    for _ in 0..n {
        let Some(next) = rule.next_after(&zone, at) else {
            break;
        };
        out.push(next);
        at = next;
    }
    out
}

fn utcs(texts: &[&str]) -> Vec<DateTime<Utc>> {
    texts.iter().map(|text| utc(text)).collect()
}

fn error(text: &str) -> String {
    let err = CronRule::parse(text).map(|_| ()).unwrap_err();
    assert_eq!(err.field, "rule");
    assert_eq!(err.value, text);
    err.reason
}
