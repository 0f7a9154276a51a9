//! Cron triggers, evaluated in the job's time zone.
//!
//! # Grammar
//!
//! 5 fields (`minute hour day-of-month month day-of-week`), 6 fields (seconds
//! first) or 7 fields (seconds first, year last), or one of the aliases
//! `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//! `@hourly`. Fields take `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`
//! and `a-b/n` (and the lenient `a/n`, meaning `a-max/n`), month names
//! `JAN`-`DEC`, weekday names `SUN`-`SAT` (0 and 7 are Sunday), `?` for `*` in
//! the day fields, and the extensions `L` (last day of the month, or `5L` last
//! Friday), `LW` (last weekday of the month), `15W` (weekday nearest the 15th)
//! and `1#2` (second Monday). When both day fields are restricted a day
//! matches if either matches (Vixie cron); a `+` before the day-of-week field
//! asks for both instead. Years run from 1970 to 4999.
//!
//! # Daylight saving
//!
//! Vixie cron sorts rules in two kinds, and so does this module:
//!
//! - *wall-clock rules*, whose second, minute and hour fields all name
//!   particular values (`30 2 * * *`, `0 2,14 * * *`, `0 9-17 * * 1-5`): a time
//!   skipped by spring-forward fires once, at the first instant after the gap,
//!   and a time repeated in autumn fires once, at its first occurrence;
//! - *elapsed-time rules*, with `*` (or `*/n`) in the second, minute or hour
//!   field (`*/15 * * * *`, `0 * * * *`, `*/10 * * * * *`): they run "more
//!   frequently than hourly" and follow real time, so nothing fires for the
//!   missing hour and both passes of a repeated hour fire.
//!
//! # Why croner is wrapped
//!
//! croner parses the rules and finds matching wall-clock times, but:
//!
//! - it treats a rule as fixed-time only when second, minute and hour are each
//!   one single value, so `0 2,14 * * *` would lose its 02:00 run on a
//!   spring-forward day. Wall-clock rules are therefore searched here on naive
//!   wall-clock time and mapped to instants by [`resolve_local`]; croner's own
//!   zoned search, whose behaviour is exactly the elapsed-time one, is kept
//!   for the other kind;
//! - it has no `@midnight` alias, and with its names replaced over the whole
//!   pattern a weekday name is taken even in the month field; rules are
//!   therefore checked and normalised field by field here first, which also
//!   gives error messages naming the field and the problem (croner's say
//!   "Number out of bounds." without a field);
//! - it errors out only at year 5000 for a rule that never matches, so such a
//!   rule is refused when it is parsed, and searches are clamped to the years
//!   1970-4999 so that neither chrono nor croner is asked for times it
//!   cannot represent.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::timezone::{end_of_repeat, local_time, resolve_local};
use crate::FieldError;

/// The first year a rule can fire in.
const FIRST_YEAR: u32 = 1970;
/// The last year a rule can fire in; croner's search ends at 5000.
const LAST_YEAR: u32 = 4999;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The fields of a cron rule, in the order of the 7-field form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

use Field::{DayOfMonth, DayOfWeek, Hour, Minute, Month, Second, Year as YearField};

impl Field {
    fn name(self) -> &'static str {
        match self {
            Second => "second",
            Minute => "minute",
            Hour => "hour",
            DayOfMonth => "day-of-month",
            Month => "month",
            DayOfWeek => "day-of-week",
            YearField => "year",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Second | Minute => (0, 59),
            Hour => (0, 23),
            DayOfMonth => (1, 31),
            Month => (1, 12),
            DayOfWeek => (0, 7),
            YearField => (FIRST_YEAR, LAST_YEAR),
        }
    }

    /// The names the field accepts and the number of the first one.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            Month => (&MONTH_NAMES, 1),
            DayOfWeek => (&WEEKDAY_NAMES, 0),
            _ => (&[], 0),
        }
    }

    /// What the field accepts, for error messages.
    fn allowed(self) -> String {
        let (min, max) = self.bounds();
        match self {
            Month => format!("{min}-{max} or JAN-DEC"),
            DayOfWeek => format!("{min}-{max} or SUN-SAT"),
            _ => format!("{min}-{max}"),
        }
    }
}

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
        let mut normalized: [String; 7] = Default::default();
        normalized[Second.index()] = "0".to_owned();
        normalized[YearField.index()] = "*".to_owned();
        for (&field, part) in fields.iter().zip(&parts) {
            normalized[field.index()] =
                normalize_field(field, part).map_err(|reason| fail(format!("{} field: {reason}", field.name())))?;
        }

        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .sloppy_ranges(true)
            .build()
            .parse(&normalized.join(" "))
            // The fields were checked above, so this is a safety net only.
            .map_err(|err| fail(err.to_string().to_lowercase()))?;

        // croner would search up to year 5000 on every call before giving up
        // on a rule like `0 0 30 2 *`; pay that once, here, and refuse it.
        let first_possible = i32::try_from(FIRST_YEAR)
            .ok()
            .and_then(|year| NaiveDate::from_ymd_opt(year, 1, 1))
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .ok_or_else(|| fail("internal error: no start date".to_owned()))?;
        if cron.find_next_occurrence(&first_possible, true).is_err() {
            return Err(fail(format!(
                "never fires: no date from {FIRST_YEAR} to {LAST_YEAR} matches its day, month \
                 and year fields"
            )));
        }

        let pattern = &cron.pattern;
        let wall_clock =
            !(pattern.seconds.from_wildcard || pattern.minutes.from_wildcard || pattern.hours.from_wildcard);
        Ok(Self { cron, wall_clock })
    }

    /// The first fire strictly after `after`, evaluated in `tz`.
    pub(crate) fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (floor, ceiling) = search_window()?;
        if after >= ceiling {
            return None;
        }
        let after = after.max(floor);
        let fire = if self.wall_clock {
            self.next_wall_clock(tz, after)
        } else {
            self.next_elapsed(tz, after)
        }?;
        (fire < ceiling).then_some(fire)
    }

    /// Elapsed-time rules: croner's zoned search already skips wall-clock
    /// times that do not exist and visits both passes of a repeated hour.
    fn next_elapsed(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zoned = after.with_timezone(&tz);
        let fire = self.cron.find_next_occurrence(&zoned, false).ok()?;
        Some(fire.with_timezone(&Utc))
    }

    /// Wall-clock rules: croner searches naive wall-clock time (where nothing
    /// is missing or repeated) and each match is mapped to its instant, a
    /// skipped time to the end of its gap and a repeated one to its first
    /// occurrence. That mapping never runs backwards, so the first match whose
    /// instant is past `after` is the answer.
    fn next_wall_clock(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = local_time(tz, after)?;
        let mut from = local;
        let mut inclusive = false;
        if let LocalResult::Ambiguous(earlier, later) = tz.from_local_datetime(&local)
            && after >= later.with_timezone(&Utc)
        {
            // `after` is in the second pass of a repeated stretch. Every match
            // in the rest of that stretch has already fired in the first pass,
            // so the search resumes where the stretch ends.
            from = end_of_repeat(tz, local, later - earlier)?;
            inclusive = true;
        }
        // By the reasoning above the first match is the answer; the bound
        // only keeps a zone with surprising transitions from looping.
        for _ in 0..16 {
            let wall: NaiveDateTime = self.cron.find_next_occurrence(&from, inclusive).ok()?;
            let fire = resolve_local(tz, wall)?;
            if fire > after {
                return Some(fire);
            }
            from = wall;
            inclusive = false;
        }
        None
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

/// The instants searches are confined to: from 1970 to the end of 4999.
fn search_window() -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let year_start = |year: u32| Utc.with_ymd_and_hms(i32::try_from(year).ok()?, 1, 1, 0, 0, 0).single();
    // One millisecond before 1970 so that a fire at 1970-01-01T00:00Z counts.
    let floor = year_start(FIRST_YEAR)? - chrono::TimeDelta::milliseconds(1);
    Some((floor, year_start(LAST_YEAR + 1)?))
}

/// Checks one field and rewrites it in the numeric form croner reads.
fn normalize_field(field: Field, text: &str) -> Result<String, String> {
    let (plus, body) = match text.strip_prefix('+') {
        Some(body) if field == DayOfWeek => ("+", body),
        _ => ("", text),
    };
    if plus == "+" && body.is_empty() {
        return Err("+ must be followed by weekdays, e.g. +MON".to_owned());
    }
    match body {
        "*" => return Ok(format!("{plus}*")),
        "?" if matches!(field, DayOfMonth | DayOfWeek) => return Ok(format!("{plus}*")),
        "?" => {
            return Err("? is only allowed in the day-of-month and day-of-week fields".to_owned());
        }
        _ => {}
    }
    let mut items = Vec::new();
    for item in body.split(',') {
        if item.is_empty() {
            return Err(format!("empty entry in the list \"{body}\""));
        }
        items.push(normalize_item(field, item)?);
    }
    Ok(format!("{plus}{}", items.join(",")))
}

fn normalize_item(field: Field, item: &str) -> Result<String, String> {
    if item == "*" || item == "?" {
        return Err(format!("{item} cannot be combined with other entries in a list"));
    }
    if let Some((range, step)) = item.split_once('/') {
        return normalize_step(field, item, range, step);
    }
    if item.contains('#') && field != DayOfWeek {
        return Err("# (nth weekday) is only allowed in the day-of-week field".to_owned());
    }
    let has = |c: char| item.contains(c) || item.contains(c.to_ascii_lowercase());
    match field {
        DayOfMonth => {
            if item.eq_ignore_ascii_case("L") {
                return Ok("L".to_owned());
            }
            if item.eq_ignore_ascii_case("LW") {
                return Ok("LW".to_owned());
            }
            if let Some(day) = strip_suffix_ci(item, 'W') {
                if day.contains('-') {
                    return Err(format!(
                        "W cannot be combined with a range in \"{item}\" (use one day, e.g. 15W)"
                    ));
                }
                return Ok(format!("{}W", value(field, day)?));
            }
            if has('L') {
                return Err(format!(
                    "\"{item}\": L stands alone in the day-of-month field (the last day of the \
                     month) or as LW (its last weekday)"
                ));
            }
        }
        DayOfWeek => {
            if let Some((days, nth)) = item.split_once('#') {
                if days.is_empty() {
                    return Err(format!("\"{item}\" is missing the weekday before #"));
                }
                let nth = if nth.eq_ignore_ascii_case("L") {
                    "L".to_owned()
                } else {
                    match nth.parse::<u8>() {
                        Ok(n @ 1..=5) => n.to_string(),
                        _ => {
                            return Err(format!("\"#{nth}\" in \"{item}\" must be #1 to #5 or #L"));
                        }
                    }
                };
                return Ok(format!("{}#{nth}", weekdays(days)?));
            }
            if item.eq_ignore_ascii_case("L") {
                return Err(
                    "L in the day-of-week field needs a weekday before it, e.g. 5L for the last \
                     Friday"
                        .to_owned(),
                );
            }
            // No weekday name ends in L, so a trailing L is always "last".
            if let Some(days) = strip_suffix_ci(item, 'L') {
                return Ok(format!("{}#L", weekdays(days)?));
            }
        }
        Month => {
            if MONTH_NAMES.iter().any(|name| name.eq_ignore_ascii_case(item)) {
                // JUL contains an L, and is fine.
            } else if has('L') {
                return Err("L (last) is only allowed in the day-of-month and day-of-week fields".to_owned());
            }
        }
        Second | Minute | Hour | YearField => {
            if has('L') {
                return Err("L (last) is only allowed in the day-of-month and day-of-week fields".to_owned());
            }
        }
    }
    if field != DayOfMonth && field != DayOfWeek && has('W') {
        return Err("W (nearest weekday) is only allowed in the day-of-month field".to_owned());
    }
    if item.contains('-') {
        let (start, end) = range(field, item)?;
        return Ok(format!("{start}-{end}"));
    }
    Ok(value(field, item)?.to_string())
}

/// `range/step`, where range is `*`, `a-b`, `a` (meaning `a-max`) or empty
/// (meaning `*`), the last two being the lenient forms of old crons.
fn normalize_step(field: Field, item: &str, range_text: &str, step: &str) -> Result<String, String> {
    let (min, max) = field.bounds();
    if step.contains('/') {
        return Err(format!("\"{item}\" has more than one /"));
    }
    if step.is_empty() {
        return Err(format!("\"{item}\" is missing the step after /"));
    }
    let step_value = step
        .parse::<u32>()
        .map_err(|_| format!("step \"{step}\" in \"{item}\" is not a number"))?;
    if step_value == 0 {
        return Err(format!("step 0 in \"{item}\" must be at least 1"));
    }
    let span = max - min + 1;
    if step_value > span {
        return Err(format!(
            "step {step_value} in \"{item}\" is larger than the field's range {min}-{max}"
        ));
    }
    for special in ['L', 'W', '#'] {
        if range_text.contains(special) || range_text.contains(special.to_ascii_lowercase()) {
            // Weekday names contain no L or #, and WED is the only W.
            if !(special == 'W' && field == DayOfWeek) {
                return Err(format!("{special} cannot be combined with a step in \"{item}\""));
            }
        }
    }
    let base = if range_text == "*" || range_text.is_empty() {
        "*".to_owned()
    } else if range_text.contains('-') {
        let (start, end) = range(field, range_text)?;
        format!("{start}-{end}")
    } else {
        let start = value(field, range_text)?;
        // Sunday as 7 would make the range run backwards.
        let end = if field == DayOfWeek { 6 } else { max };
        format!("{start}-{end}")
    };
    Ok(format!("{base}/{step_value}"))
}

/// A weekday or weekday range before `L` or `#`.
fn weekdays(text: &str) -> Result<String, String> {
    if text.contains('-') {
        let (start, end) = range(DayOfWeek, text)?;
        Ok(format!("{start}-{end}"))
    } else {
        Ok(value(DayOfWeek, text)?.to_string())
    }
}

/// `a-b`, both ends checked, start not after end.
fn range(field: Field, text: &str) -> Result<(u32, u32), String> {
    let Some((start_text, end_text)) = text.split_once('-') else {
        return Err(format!("\"{text}\" is not a range"));
    };
    if end_text.contains('-') {
        return Err(format!("\"{text}\" is not a range (write start-end, e.g. 1-5)"));
    }
    if start_text.is_empty() {
        return Err(format!("range \"{text}\" is missing its start"));
    }
    if end_text.is_empty() {
        return Err(format!("range \"{text}\" is missing its end"));
    }
    let start = value(field, start_text)?;
    let mut end = value(field, end_text)?;
    // FRI-SUN: Sunday ends a range as 7.
    if field == DayOfWeek && end == 0 && start > 0 {
        end = 7;
    }
    if start > end {
        return Err(format!(
            "range {text} runs backwards (the start must not be after the end)"
        ));
    }
    Ok((start, end))
}

/// One number or name, checked against the field's range.
fn value(field: Field, text: &str) -> Result<u32, String> {
    let (min, max) = field.bounds();
    if text.is_empty() {
        return Err("missing value".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(number) if (min..=max).contains(&number) => Ok(number),
            _ => Err(format!("{text} is out of range {min}-{max}")),
        };
    }
    let (names, first) = field.names();
    names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .and_then(|index| u32::try_from(index).ok())
        .map(|index| index + first)
        .ok_or_else(|| format!("unknown value \"{text}\" (use {})", field.allowed()))
}

/// `text` without a final `suffix` (either case), if it has one and more.
fn strip_suffix_ci(text: &str, suffix: char) -> Option<&str> {
    text.strip_suffix(suffix)
        .or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{Datelike, Offset, TimeDelta};
    use std::collections::BTreeSet;
    use std::time::Instant;

    const NY: Tz = Tz::America__New_York;
    const BERLIN: Tz = Tz::Europe__Berlin;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn rule(text: &str) -> CronRule {
        CronRule::parse(text).unwrap_or_else(|err| panic!("{err}"))
    }

    /// The next `n` fires after `after`.
    fn fires(text: &str, tz: Tz, after: &str, n: usize) -> Vec<DateTime<Utc>> {
        let rule = rule(text);
        let mut out = Vec::new();
        let mut at = utc(after);
        for _ in 0..n {
            let Some(next) = rule.next_after(tz, at) else {
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

    // ---- fields and grammar -------------------------------------------------

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
            rule.next_after(Tz::UTC, utc("2026-01-01T02:19:59.999Z")),
            Some(utc("2026-01-01T02:20:00Z"))
        );
        assert_eq!(
            rule.next_after(Tz::UTC, utc("2026-01-01T02:20:00.001Z")),
            Some(utc("2026-01-02T02:20:00Z"))
        );
        let every = self::rule("*/10 * * * * *");
        assert_eq!(
            every.next_after(BERLIN, utc("2026-01-01T02:19:59.999Z")),
            Some(utc("2026-01-01T02:20:00Z"))
        );
        assert_eq!(
            every.next_after(BERLIN, utc("2026-01-01T02:20:00.500Z")),
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

    // ---- daylight saving ------------------------------------------------------

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
            rule.next_after(NY, utc("2026-11-01T06:10:00Z")),
            Some(utc("2026-11-02T06:30:00Z"))
        );
        assert_eq!(
            rule.next_after(NY, utc("2026-11-01T05:30:00Z")),
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
        let mut out = BTreeSet::new();
        if rule.wall_clock {
            let mut wall = local_time(tz, from).unwrap() - TimeDelta::hours(3);
            let end = local_time(tz, to).unwrap() + TimeDelta::hours(3);
            while wall < end {
                if rule.cron.is_time_matching(&wall).unwrap() {
                    let fire = resolve_local(tz, wall).unwrap();
                    if fire >= from && fire < to {
                        out.insert(fire);
                    }
                }
                wall += TimeDelta::seconds(1);
            }
        } else {
            let mut at = from;
            while at < to {
                if rule.cron.is_time_matching(&local_time(tz, at).unwrap()).unwrap() {
                    out.insert(at);
                }
                at += TimeDelta::seconds(1);
            }
        }
        out.into_iter().collect()
    }

    /// Every change of UTC offset of `tz` in `[from, to)`, to the second.
    fn transitions(tz: Tz, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let offset = |at: DateTime<Utc>| tz.offset_from_utc_datetime(&at.naive_utc()).fix();
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
                    while let Some(next) = rule.next_after(tz, after) {
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
                            assert_eq!(rule.next_after(tz, probe), Some(want), "{text} in {tz} after {probe}");
                        }
                        probe += TimeDelta::seconds(437);
                    }
                }
            }
        }
        assert!(checked > 10_000, "only {checked} fires compared");
    }

    // ---- errors ----------------------------------------------------------------

    #[test]
    fn the_wrong_number_of_fields_says_how_many_and_what_is_allowed() {
        assert_eq!(
            error("* * *"),
            "3 fields given, but a cron rule has 5 fields (minute hour day-of-month month \
             day-of-week), 6 with seconds first, or 7 with seconds first and year last"
        );
        assert!(error("* * * * * * * *").starts_with("8 fields given"));
        assert!(error("daily").starts_with("1 field given"));
        assert!(error("   ").starts_with("empty cron rule"));
    }

    #[test]
    fn out_of_range_values_name_the_field_and_range() {
        assert_eq!(
            CronRule::parse("0 25 * * *").unwrap_err().to_string(),
            r#"invalid rule "0 25 * * *": hour field: 25 is out of range 0-23"#
        );
        assert_eq!(error("60 * * * *"), "minute field: 60 is out of range 0-59");
        assert_eq!(error("60 * * * * *"), "second field: 60 is out of range 0-59");
        assert_eq!(error("0 0 32 * *"), "day-of-month field: 32 is out of range 1-31");
        assert_eq!(error("0 0 0 * *"), "day-of-month field: 0 is out of range 1-31");
        assert_eq!(error("0 0 * 13 *"), "month field: 13 is out of range 1-12");
        assert_eq!(error("0 0 * * 8"), "day-of-week field: 8 is out of range 0-7");
        assert_eq!(error("0 0 0 1 1 * 1969"), "year field: 1969 is out of range 1970-4999");
        assert_eq!(error("0 0 0 1 1 * 5000"), "year field: 5000 is out of range 1970-4999");
        // Six fields mean seconds first, so a year in the sixth place is a weekday.
        assert_eq!(error("0 0 1 1 * 2030"), "day-of-week field: 2030 is out of range 0-7");
        assert_eq!(error("0 0-99 * * *"), "hour field: 99 is out of range 0-23");
        assert_eq!(
            error("99999999999 * * * *"),
            "minute field: 99999999999 is out of range 0-59"
        );
    }

    #[test]
    fn bad_names_and_syntax_are_explained() {
        assert_eq!(
            error("0 0 * * FUN"),
            r#"day-of-week field: unknown value "FUN" (use 0-7 or SUN-SAT)"#
        );
        assert_eq!(
            error("0 0 * JANUARY *"),
            r#"month field: unknown value "JANUARY" (use 1-12 or JAN-DEC)"#
        );
        assert_eq!(
            error("0 0 * MON *"),
            r#"month field: unknown value "MON" (use 1-12 or JAN-DEC)"#
        );
        assert_eq!(
            error("0 0 1,,2 * *"),
            r#"day-of-month field: empty entry in the list "1,,2""#
        );
        assert_eq!(
            error("0 22-2 * * *"),
            "hour field: range 22-2 runs backwards (the start must not be after the end)"
        );
        assert_eq!(
            error("*/0 * * * *"),
            r#"minute field: step 0 in "*/0" must be at least 1"#
        );
        assert_eq!(
            error("*/x * * * *"),
            r#"minute field: step "x" in "*/x" is not a number"#
        );
        assert_eq!(
            error("*/61 * * * *"),
            r#"minute field: step 61 in "*/61" is larger than the field's range 0-59"#
        );
        assert_eq!(
            error("1-2-3 * * * *"),
            r#"minute field: "1-2-3" is not a range (write start-end, e.g. 1-5)"#
        );
        assert_eq!(error("5- * * * *"), r#"minute field: range "5-" is missing its end"#);
        assert_eq!(
            error("*,5 * * * *"),
            "minute field: * cannot be combined with other entries in a list"
        );
        assert_eq!(
            error("0 ? * * *"),
            "hour field: ? is only allowed in the day-of-month and day-of-week fields"
        );
        assert_eq!(
            error("@reboot"),
            r#"unknown alias "@reboot" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)"#
        );
    }

    #[test]
    fn misplaced_special_characters_are_explained() {
        assert_eq!(
            error("0 0 * * L"),
            "day-of-week field: L in the day-of-week field needs a weekday before it, e.g. 5L \
             for the last Friday"
        );
        assert_eq!(
            error("0 L * * *"),
            "hour field: L (last) is only allowed in the day-of-month and day-of-week fields"
        );
        assert_eq!(
            error("0 0 * 5L *"),
            "month field: L (last) is only allowed in the day-of-month and day-of-week fields"
        );
        assert_eq!(
            error("0 0 1#2 * *"),
            "day-of-month field: # (nth weekday) is only allowed in the day-of-week field"
        );
        assert_eq!(
            error("15W 0 * * *"),
            "minute field: W (nearest weekday) is only allowed in the day-of-month field"
        );
        assert_eq!(
            error("0 0 * * 1#6"),
            r##"day-of-week field: "#6" in "1#6" must be #1 to #5 or #L"##
        );
        assert_eq!(
            error("0 0 1-5W * *"),
            r#"day-of-month field: W cannot be combined with a range in "1-5W" (use one day, e.g. 15W)"#
        );
        assert_eq!(error("0 0 32W * *"), "day-of-month field: 32 is out of range 1-31");
        assert_eq!(
            error("0 0 L/2 * *"),
            r#"day-of-month field: L cannot be combined with a step in "L/2""#
        );
        assert_eq!(
            error("0 0 * * #2"),
            r##"day-of-week field: "#2" is missing the weekday before #"##
        );
        assert_eq!(
            error("0 0 * * +"),
            "day-of-week field: + must be followed by weekdays, e.g. +MON"
        );
    }

    #[test]
    fn a_rule_that_can_never_fire_is_refused() {
        for never in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 29 2 * 2027"] {
            let reason = error(never);
            assert!(reason.starts_with("never fires"), "{never}: {reason}");
        }
        // Restricted weekdays rescue an impossible day of month (either matches).
        assert!(CronRule::parse("0 0 30 2 MON").is_ok());
    }

    #[test]
    fn every_valid_form_is_accepted_by_croner_after_normalising() {
        for text in [
            "* * * * *",
            "0 0 * * 0-7",
            "0 0 * * SUN-SAT",
            "0 0 * * MON-FRI#2",
            "0 0 * * 5-6L",
            "0 0 * * 5-6#L",
            "0 0 L,15 * *",
            "0 0 1W,15W * *",
            "0 0 ? * *",
            "0 0 * * ?",
            "0 0 * JAN,MAR-MAY/2 *",
            "0 0 * * */2",
            "0 0 * * 1/2",
            "0 0 1/10 * *",
            "0 0 0 1 1 * */100",
            "0 0 0 1 1 * 2030/5",
            "0 0 0 1 1 ? 2030,2040",
            "0 0 13 * +5",
        ] {
            assert!(
                CronRule::parse(text).is_ok(),
                "{text}: {:?}",
                CronRule::parse(text).err()
            );
        }
    }

    // ---- bounded searches -----------------------------------------------------

    #[test]
    fn a_year_bounded_rule_runs_out_instead_of_spinning() {
        let rule = rule("0 0 0 1 1 * 2030");
        let clock = Instant::now();
        assert_eq!(
            rule.next_after(Tz::UTC, utc("2026-01-01T00:00:00Z")),
            Some(utc("2030-01-01T00:00:00Z"))
        );
        assert_eq!(rule.next_after(Tz::UTC, utc("2030-01-01T00:00:00Z")), None);
        assert_eq!(rule.next_after(NY, utc("2031-06-01T00:00:00Z")), None);
        assert!(clock.elapsed().as_secs() < 5, "took {:?}", clock.elapsed());
    }

    #[test]
    fn searches_stay_inside_the_supported_years() {
        let daily = rule("0 0 * * *");
        let hourly = rule("0 * * * *");
        for rule in [&daily, &hourly] {
            assert_eq!(rule.next_after(BERLIN, DateTime::<Utc>::MAX_UTC), None);
            assert_eq!(rule.next_after(BERLIN, utc("4999-12-31T23:30:00Z")), None);
            let first = rule.next_after(Tz::UTC, DateTime::<Utc>::MIN_UTC).unwrap();
            assert_eq!(first, utc("1970-01-01T00:00:00Z"));
        }
        let last = daily.next_after(Tz::UTC, utc("4999-12-30T12:00:00Z")).unwrap();
        assert_eq!(last.year(), 4999);
    }

    #[test]
    fn parsing_an_impossible_rule_stays_fast() {
        let clock = Instant::now();
        assert!(CronRule::parse("0 0 31 2 *").is_err());
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
    }
}
