//! Cron triggers, evaluated in the job's time zone.
//!
//! # Grammar
//!
//! 5 fields (`minute hour day-of-month month day-of-week`), 6 fields (seconds
//! first) or 7 fields (seconds first, year last), or one of the aliases
//! `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//! `@hourly`. Fields take `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`
//! and `a-b/n` (and the lenient `a/n`, meaning `a-max/n`), month names
//! `JAN`-`DEC` and weekday names `SUN`-`SAT` in any case and anywhere a
//! number goes (`JUN-JUL`, `JUL-DEC/2`, `mon-fri,SUN`; 0 and 7 are Sunday),
//! `?` for `*` in the day fields, and the extensions `L` (last day of the
//! month, or `5L` last Friday), `LW` (last weekday of the month), `15W`
//! (weekday nearest the 15th) and `1#2` (second Monday). As in Vixie cron,
//! `*` may also stand in a list (`*,5` is every value) and a step may be
//! larger than its range (`*/90` in the minute field is minute 0). A step on
//! `*` counts from the field's first value; in the year field that is 1970.
//! Years run from 1970 to 4999.
//!
//! # Day of month and day of week
//!
//! Vixie cron's rule: a day field that begins with `*` (`*`, `*/2`, `*,5`,
//! and `?` here) is *unrestricted*. When either day field is unrestricted a
//! day must match both; when both are restricted a day matching either one
//! fires. So `0 0 */2 * MON` fires on the Mondays that are odd days of the
//! month, while `0 0 1,15 * MON` fires on the 1st, the 15th and every Monday.
//! Two ways to ask for the other reading:
//!
//! - a `+` before the day-of-week field asks for both whatever the fields
//!   look like: `0 0 1-7 * +MON` is the first Monday of the month;
//! - writing the range out makes a stepped field restricted, so
//!   `0 0 1-31/2 * MON` fires on odd days *or* Mondays.
//!
//! `15W` looks for the nearest weekday inside the month. A month without the
//! day has no weekday nearest to it, so `31W` does not fire in a 30-day month
//! (nor `30W` in February), just as `31` does not; `LW` is the last weekday of
//! every month.
//!
//! # Daylight saving
//!
//! Vixie cron sorts rules in two kinds, and so does this module:
//!
//! - *wall-clock rules*, none of whose second, minute and hour fields begins
//!   with `*` (`30 2 * * *`, `0 2,14 * * *`, `0 9-17 * * 1-5`): a time
//!   skipped by spring-forward fires once, at the first instant after the gap,
//!   and a time repeated in autumn fires once, at its first occurrence;
//! - *elapsed-time rules*, with a time field beginning with `*` (`*/15 * * *
//!   *`, `0 * * * *`, `*/10 * * * * *`): they run "more frequently than
//!   hourly" and follow real time, so nothing fires for the missing hour and
//!   both passes of a repeated hour fire.
//!
//! The zones' rules come from [`super::timezone`], and hold for every year a
//! rule can fire in, 2100 and after included.
//!
//! # Why croner is wrapped
//!
//! croner parses the rules and finds matching wall-clock times, but:
//!
//! - it treats a rule as fixed-time only when second, minute and hour are each
//!   one single value, so `0 2,14 * * *` would lose its 02:00 run on a
//!   spring-forward day. Wall-clock rules are therefore searched here on naive
//!   wall-clock time and mapped to instants by
//!   [`Zone::resolve_local`](super::timezone::Zone::resolve_local);
//!   croner's own zoned search (on jiff's zoned times), whose behaviour is
//!   exactly the elapsed-time one, is kept for the other kind;
//! - it has no `@midnight` alias, it takes only a bare `*` as an unrestricted
//!   day field, it refuses `*` inside a list, a step larger than its range
//!   and a name in a range, and with its names replaced over the whole
//!   pattern a weekday name is taken even in the month field; rules are
//!   therefore checked and normalised field by field here first
//!   (`fields.rs`), which also gives error messages naming the field and the
//!   problem (croner's say "Number out of bounds." without a field);
//! - it errors out only at year 5000 for a rule that never matches, so such a
//!   rule is refused when it is parsed, and searches are clamped to the years
//!   1970-4999 so that neither chrono nor croner is asked for times it
//!   cannot represent.
//!
//! The files: `fields.rs` reads the fields, `search.rs` finds fires, and
//! `tests/` holds the unit tests; the comparison with a brute-force model of
//! Vixie cron is the integration test `tests/cron_reference.rs`.

mod fields;
mod search;
#[cfg(test)]
mod tests;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, CronPattern};

use crate::FieldError;
use fields::{Field, NormalizedField, normalize_field};

/// The first year a rule can fire in.
const FIRST_YEAR: u32 = 1970;
/// The last year a rule can fire in; croner's search ends at 5000.
const LAST_YEAR: u32 = 4999;

const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// A compiled cron rule.
#[derive(Debug, Clone)]
pub(crate) struct CronRule {
    cron: Cron,
    /// Whether DST is handled the wall-clock way (see the module docs).
    wall_clock: bool,
}

impl CronRule {
    /// Parses and checks a cron rule.
    pub(crate) fn parse(rule: &str) -> Result<Self, FieldError> {
        use Field::{DayOfMonth, DayOfWeek, Hour, Minute, Month, Second, Year as YearField};

        let fail = |reason: String| FieldError::new("rule", rule, reason);
        let text = rule.trim();
        if text.is_empty() {
            return Err(fail(
                "empty cron rule (write 5 fields: minute hour day-of-month month day-of-week, \
                 e.g. 30 2 * * *)"
                    .to_owned(),
            ));
        }
        let expanded = if text.starts_with('@') {
            ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(text))
                .map(|(_, pattern)| *pattern)
                .ok_or_else(|| {
                    fail(format!(
                        "unknown alias \"{text}\" (use @yearly, @annually, @monthly, @weekly, \
                         @daily, @midnight or @hourly)"
                    ))
                })?
        } else {
            text
        };

        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let fields: &[Field] = match parts.len() {
            5 => &[Minute, Hour, DayOfMonth, Month, DayOfWeek],
            6 => &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek],
            7 => &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek, YearField],
            count => {
                return Err(fail(format!(
                    "{count} field{} given, but a cron rule has 5 fields (minute hour \
                     day-of-month month day-of-week), 6 with seconds first, or 7 with seconds \
                     first and year last",
                    if count == 1 { "" } else { "s" }
                )));
            }
        };

        // Defaults for the fields a 5- or 6-field rule leaves out.
        let default = |text: &str| NormalizedField {
            text: text.to_owned(),
            unrestricted: text == "*",
            plus: false,
        };
        let mut normalized: [NormalizedField; 7] = std::array::from_fn(|_| default("*"));
        normalized[Second.index()] = default("0");
        for (&field, part) in fields.iter().zip(&parts) {
            normalized[field.index()] =
                normalize_field(field, part).map_err(|reason| fail(format!("{} field: {reason}", field.name())))?;
        }

        // Vixie cron: with either day field unrestricted a day must match
        // both; croner does that for a bare `*` only, or when told by `+`.
        let day_of_month = &normalized[DayOfMonth.index()];
        let day_of_week = &normalized[DayOfWeek.index()];
        // A bare `*` needs no `+`, and leaving it out keeps croner's
        // description of every-day rules plain.
        let both_days = (day_of_week.plus || day_of_month.unrestricted || day_of_week.unrestricted)
            && day_of_month.text != "*"
            && day_of_week.text != "*";
        let pattern = normalized
            .iter()
            .enumerate()
            .map(|(index, field)| {
                if index == DayOfWeek.index() && both_days {
                    format!("+{}", field.text)
                } else {
                    field.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let wall_clock = ![Second, Minute, Hour]
            .into_iter()
            .any(|field| normalized[field.index()].unrestricted);

        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .build()
            .parse(&pattern)
            // The fields were checked above, so this is a safety net only.
            .map_err(|err| fail(err.to_string().to_lowercase()))?;

        // croner would search up to year 5000 on every call before giving up
        // on a rule like `0 0 30 2 *`; find that out once, here, and refuse it.
        if !fires_on_some_day(&cron.pattern) {
            return Err(fail(format!(
                "never fires: no date from {FIRST_YEAR} to {LAST_YEAR} matches its day, month \
                 and year fields"
            )));
        }

        Ok(Self { cron, wall_clock })
    }

    /// croner's English description, adjusted to read as a phrase: "at 02:20
    /// every day (Europe/Berlin)".
    pub(crate) fn describe(&self, tz: Tz) -> String {
        let raw = self.cron.describe();
        let raw = raw.trim_end_matches('.');
        let mut text = match raw.chars().next() {
            Some(first) => first.to_lowercase().chain(raw.chars().skip(1)).collect(),
            None => String::new(),
        };
        if let Some(rest) = text.strip_prefix("at every ") {
            text = format!("every {rest}");
        }
        let pattern = &self.cron.pattern;
        let every_day = pattern.is_dom_wildcard()
            && pattern.is_dow_wildcard()
            && pattern.months.values().len() == 12
            && pattern.years.from_wildcard;
        let at_a_time = text
            .strip_prefix("at ")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if every_day && at_a_time {
            text.push_str(" every day");
        }
        format!("{text} ({})", tz.name())
    }
}

/// Whether any date from 1970 to 4999 matches the rule's year, month and day
/// fields (every day has a matching time: no time field is empty).
///
/// Whether a date matches depends on its year only through the calendar of
/// that year: leap or not, and the weekday of 1 January. So one year of each
/// of those 14 kinds that the year field allows stands for all of them, and
/// no more than 14 years are walked day by day.
fn fires_on_some_day(pattern: &CronPattern) -> bool {
    let mut seen = [[false; 7]; 2];
    for year in FIRST_YEAR..=LAST_YEAR {
        let Ok(year) = i32::try_from(year) else {
            return false;
        };
        let Some(first_day) = NaiveDate::from_ymd_opt(year, 1, 1) else {
            return false;
        };
        let kind = &mut seen[usize::from(first_day.leap_year())][first_day.weekday().num_days_from_sunday() as usize];
        if *kind || !pattern.year_match(year).unwrap_or(false) {
            continue;
        }
        *kind = true;
        for month in 1..=12 {
            if !pattern.month_match(month).unwrap_or(false) {
                continue;
            }
            let Some(first_of_month) = NaiveDate::from_ymd_opt(year, month, 1) else {
                return false;
            };
            let weekday_of_first = first_of_month.weekday().num_days_from_sunday();
            for day in 1..=croner::time::days_in_month(year, month) {
                let weekday = croner::Weekday::from_days_from_sunday(weekday_of_first + day - 1);
                if pattern.day_match(year, month, day, weekday).unwrap_or(false) {
                    return true;
                }
            }
        }
    }
    false
}
