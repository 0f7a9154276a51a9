//! The fields of a cron rule: checking each one and rewriting it in the
//! numeric form croner reads.
//!
//! A field is a list of items separated by commas. An item is `*`, a number
//! or a name, a range `a-b`, any of those with a step (`*/n`, `a-b/n`, and
//! the lenient `a/n` and `/n`), or one of the day extensions `L`, `LW`,
//! `15W`, `5L` and `1#2`. Names are looked up before anything looks for `L`,
//! `W` or `#` in an item, since `JUL` holds an L and `WED` a W: a name works
//! wherever its number does.

use super::{FIRST_YEAR, LAST_YEAR};

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The fields of a cron rule, in the order of the 7-field form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

use Field::{DayOfMonth, DayOfWeek, Hour, Minute, Month, Second, Year};

impl Field {
    pub(super) fn name(self) -> &'static str {
        match self {
            Second => "second",
            Minute => "minute",
            Hour => "hour",
            DayOfMonth => "day-of-month",
            Month => "month",
            DayOfWeek => "day-of-week",
            Year => "year",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Second | Minute => (0, 59),
            Hour => (0, 23),
            DayOfMonth => (1, 31),
            Month => (1, 12),
            DayOfWeek => (0, 7),
            Year => (FIRST_YEAR, LAST_YEAR),
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

    /// Every value of the field, as a range croner reads; Sunday once.
    fn full_range(self) -> String {
        let (min, max) = self.bounds();
        let max = if self == DayOfWeek { 6 } else { max };
        format!("{min}-{max}")
    }
}

/// One field, checked and rewritten.
#[derive(Debug)]
pub(super) struct NormalizedField {
    /// The field in the form croner reads: numbers only, no `+`.
    pub(super) text: String,
    /// Whether the field as written begins with `*` (`*`, `*/2`, `*,5`), is
    /// `?`, or is the lenient `/n` for `*/n`. Vixie cron counts such a field
    /// as unrestricted: in the day fields it decides whether both must
    /// match, in the time fields whether the rule follows elapsed time.
    pub(super) unrestricted: bool,
    /// A `+` stood before the day-of-week field: both day fields must match.
    pub(super) plus: bool,
}

/// Checks one field and rewrites it in the numeric form croner reads.
pub(super) fn normalize_field(field: Field, text: &str) -> Result<NormalizedField, String> {
    let (plus, body) = match text.strip_prefix('+') {
        Some(body) if field == DayOfWeek => (true, body),
        _ => (false, text),
    };
    if plus && body.is_empty() {
        return Err("+ must be followed by weekdays, e.g. +MON".to_owned());
    }
    let unrestricted = body.starts_with('*') || body.starts_with('/') || body == "?";
    let normalized = |text: String| NormalizedField {
        text,
        unrestricted,
        plus,
    };
    match body {
        "*" => return Ok(normalized("*".to_owned())),
        "?" if matches!(field, DayOfMonth | DayOfWeek) => return Ok(normalized("*".to_owned())),
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
    // croner reads L beside LW as LW alone.
    if items.iter().any(|item| item == "L") && items.iter().any(|item| item == "LW") {
        return Err(
            "L and LW cannot share a list (L is the last day of the month, LW its last weekday; \
             use one)"
                .to_owned(),
        );
    }
    Ok(normalized(items.join(",")))
}

fn normalize_item(field: Field, item: &str) -> Result<String, String> {
    match item {
        // Vixie cron takes `*` anywhere in a list; with other entries it
        // still means every value.
        "*" => return Ok(field.full_range()),
        "?" => return Err("? cannot be combined with other entries in a list".to_owned()),
        _ => {}
    }
    if let Some((range, step)) = item.split_once('/') {
        return normalize_step(field, item, range, step);
    }
    let special = match field {
        DayOfMonth => day_of_month_special(item)?,
        DayOfWeek => day_of_week_special(item)?,
        _ => None,
    };
    match special {
        Some(special) => Ok(special),
        None => values(field, item),
    }
}

/// `L`, `LW` and `15W`, or `None` for an ordinary item.
fn day_of_month_special(item: &str) -> Result<Option<String>, String> {
    if item.eq_ignore_ascii_case("L") {
        return Ok(Some("L".to_owned()));
    }
    if item.eq_ignore_ascii_case("LW") {
        return Ok(Some("LW".to_owned()));
    }
    if let Some(day) = strip_suffix_ci(item, 'W') {
        if day.contains('-') {
            return Err(format!(
                "W cannot be combined with a range in \"{item}\" (use one day, e.g. 15W)"
            ));
        }
        return Ok(Some(format!("{}W", value(DayOfMonth, day)?)));
    }
    if item.contains(['L', 'l']) {
        return Err(format!(
            "\"{item}\": L stands alone in the day-of-month field (the last day of the month) \
             or as LW (its last weekday)"
        ));
    }
    Ok(None)
}

/// `5L` and `1#2` (also on weekday ranges, `MON-FRI#2`), or `None` for an
/// ordinary item.
fn day_of_week_special(item: &str) -> Result<Option<String>, String> {
    if let Some((days, nth)) = item.split_once('#') {
        if days.is_empty() {
            return Err(format!("\"{item}\" is missing the weekday before #"));
        }
        let nth = if nth.eq_ignore_ascii_case("L") {
            "L".to_owned()
        } else {
            match nth.parse::<u8>() {
                Ok(n @ 1..=5) => n.to_string(),
                _ => return Err(format!("\"#{nth}\" in \"{item}\" must be #1 to #5 or #L")),
            }
        };
        return Ok(Some(format!("{}#{nth}", values(DayOfWeek, days)?)));
    }
    if item.eq_ignore_ascii_case("L") {
        return Err("L in the day-of-week field needs a weekday before it, e.g. 5L for the last Friday".to_owned());
    }
    // No weekday name ends in L, so a trailing L is always "last".
    match strip_suffix_ci(item, 'L') {
        Some(days) => Ok(Some(format!("{}#L", values(DayOfWeek, days)?))),
        None => Ok(None),
    }
}

/// `range/step`, where range is `*`, `a-b`, `a` (meaning `a-max`) or empty
/// (meaning `*`), the last two being the lenient forms of old crons.
///
/// A step larger than the range is allowed, as in Vixie cron: it keeps the
/// first value only (`*/90` in the minute field is minute 0).
fn normalize_step(field: Field, item: &str, range_text: &str, step: &str) -> Result<String, String> {
    if step.contains('/') {
        return Err(format!("\"{item}\" has more than one /"));
    }
    if step.is_empty() {
        return Err(format!("\"{item}\" is missing the step after /"));
    }
    if !step.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("step \"{step}\" in \"{item}\" is not a number"));
    }
    // Only whether the step passes the end of the range matters, so a huge
    // step is as good as the largest one croner's counters hold.
    let step_value = step.parse::<u32>().unwrap_or(u32::MAX);
    if step_value == 0 {
        return Err(format!("step 0 in \"{item}\" must be at least 1"));
    }
    if matches!(field, DayOfMonth | DayOfWeek) {
        for token in range_text.split('-') {
            if let Some(special) = misplaced_special_char(field, token) {
                return Err(format!("{special} cannot be combined with a step in \"{item}\""));
            }
        }
    }
    let (min, max) = field.bounds();
    let (start, end) = if range_text == "*" || range_text.is_empty() {
        (min, max)
    } else if range_text.contains('-') {
        range(field, range_text)?
    } else {
        // Sunday as 7 would make the range run backwards.
        let end = if field == DayOfWeek { 6 } else { max };
        let start = value(field, range_text)?;
        if start > end {
            return Err(format!(
                "\"{item}\" starts after the end of the field's range {min}-{end}"
            ));
        }
        (start, end)
    };
    let step_value = step_value.min(end - start + 1);
    // croner counts `*` in the year field from year 1; ruqi's years start
    // at 1970, like the range the field accepts.
    if (range_text == "*" || range_text.is_empty()) && field != Year {
        Ok(format!("*/{step_value}"))
    } else {
        Ok(format!("{start}-{end}/{step_value}"))
    }
}

/// A number, a name or a range of them.
fn values(field: Field, text: &str) -> Result<String, String> {
    if text.contains('-') {
        let (start, end) = range(field, text)?;
        Ok(format!("{start}-{end}"))
    } else {
        Ok(value(field, text)?.to_string())
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
    if let Some(index) = names.iter().position(|name| name.eq_ignore_ascii_case(text)) {
        return u32::try_from(index)
            .map(|index| index + first)
            .map_err(|_| format!("unknown value \"{text}\""));
    }
    Err(match misplaced_special_char(field, text) {
        Some('L') if !matches!(field, DayOfMonth | DayOfWeek) => {
            "L (last) is only allowed in the day-of-month and day-of-week fields".to_owned()
        }
        Some('W') if field != DayOfMonth => "W (nearest weekday) is only allowed in the day-of-month field".to_owned(),
        Some('#') if field != DayOfWeek => "# (nth weekday) is only allowed in the day-of-week field".to_owned(),
        Some(_) => format!("\"{text}\" is not a value: L, W and # end an item, as in L, LW, 15W, 5L and 1#2"),
        None => format!("unknown value \"{text}\" (use {})", field.allowed()),
    })
}

/// The first of `L`, `W` and `#` in a token made of digits and those
/// letters only (`5L`, `15W`, `1#2`, `L`), the shape of a day extension;
/// `None` for a name or anything else.
fn misplaced_special_char(field: Field, token: &str) -> Option<char> {
    let (names, _) = field.names();
    if names.iter().any(|name| name.eq_ignore_ascii_case(token)) {
        return None;
    }
    let shaped = token
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c.to_ascii_uppercase(), 'L' | 'W' | '#'));
    if !shaped {
        return None;
    }
    ['L', 'W', '#']
        .into_iter()
        .find(|special| token.contains([*special, special.to_ascii_lowercase()]))
}

/// `text` without a final `suffix` (either case), if it has one and more.
fn strip_suffix_ci(text: &str, suffix: char) -> Option<&str> {
    text.strip_suffix(suffix)
        .or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
        .filter(|rest| !rest.is_empty())
}
