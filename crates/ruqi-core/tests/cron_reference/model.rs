//! A cron rule as plain data: what the property test generates, the text it
//! hands ruqi, and what the rule means, read from the definition of Vixie
//! cron (and of ruqi's documented extensions) without any of ruqi's code.

use std::fmt::Write as _;

use crate::calendar::{days_in_month, weekday};

/// How a number is written where a name could stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    Number,
    Upper,
    Lower,
    Title,
}

/// One entry of a field's comma-separated list.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// `*`
    Star,
    /// `*/n`
    StarStep(u32),
    /// `/n`, ruqi's lenient `*/n`
    LenientStar(u32),
    /// `5`, `JUL`, `mon`
    Value(u32, Spelling),
    /// `a-b`
    Range(u32, u32, Spelling),
    /// `a-b/n`
    RangeStep(u32, u32, u32, Spelling),
    /// `a/n`, ruqi's lenient `a-max/n` (`a-6/n` for weekdays)
    OpenStep(u32, u32, Spelling),
    /// `L` in the day-of-month field
    Last(Spelling),
    /// `LW`
    LastWeekday(Spelling),
    /// `15W`
    NearestWeekday(u32, Spelling),
    /// `5L` or `1-5L`: the last of those weekdays in the month
    LastOf(u32, u32, Spelling),
    /// `1#2` or `1-5#2`: the n-th of those weekdays in the month
    Nth(u32, u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Kind {
    pub(crate) fn bounds(self) -> (u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
            Kind::Year => (1970, 4999),
        }
    }
}

/// A field: `?`, or a list of items, with `+` before a day-of-week field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) items: Vec<Item>,
    pub(crate) question: bool,
    pub(crate) plus: bool,
}

impl Field {
    pub(crate) fn of(items: Vec<Item>) -> Self {
        Self {
            items,
            question: false,
            plus: false,
        }
    }

    pub(crate) fn star() -> Self {
        Self::of(vec![Item::Star])
    }

    /// Vixie cron's "star" flag: the field is written beginning with `*`.
    /// ruqi counts `?` and its lenient `/n` the same way, as documented.
    fn unrestricted(&self) -> bool {
        self.question
            || matches!(
                self.items.first(),
                Some(Item::Star | Item::StarStep(_) | Item::LenientStar(_))
            )
    }

    /// The plain values the field matches (not L, W or #), indexed by value;
    /// Sunday as 7 counts as 0.
    fn values(&self, kind: Kind) -> Vec<bool> {
        let (min, max) = kind.bounds();
        let mut set = vec![false; max as usize + 1];
        let mut mark = |from: u32, to: u32, step: u32| {
            let mut value = from;
            while value <= to {
                set[value as usize] = true;
                value = value.saturating_add(step);
            }
        };
        if self.question {
            mark(min, max, 1);
        }
        for item in &self.items {
            match *item {
                Item::Star => mark(min, max, 1),
                Item::StarStep(step) | Item::LenientStar(step) => mark(min, max, step),
                Item::Value(value, _) => mark(value, value, 1),
                Item::Range(from, to, _) => mark(from, to, 1),
                Item::RangeStep(from, to, step, _) => mark(from, to, step),
                Item::OpenStep(from, step, _) => mark(from, if kind == Kind::DayOfWeek { 6 } else { max }, step),
                _ => {}
            }
        }
        if kind == Kind::DayOfWeek && set[7] {
            set[0] = true;
        }
        set
    }

    /// The field as text.
    fn render(&self, kind: Kind, out: &mut String) {
        if self.plus {
            out.push('+');
        }
        if self.question {
            out.push('?');
            return;
        }
        for (index, item) in self.items.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let name = |value: u32, spelling: Spelling| spell(kind, value, spelling);
            let letters = |text: &str, spelling: Spelling| {
                if spelling == Spelling::Lower {
                    text.to_lowercase()
                } else {
                    text.to_owned()
                }
            };
            let _ = match *item {
                Item::Star => write!(out, "*"),
                Item::StarStep(step) => write!(out, "*/{step}"),
                Item::LenientStar(step) => write!(out, "/{step}"),
                Item::Value(value, spelling) => write!(out, "{}", name(value, spelling)),
                Item::Range(from, to, spelling) => write!(out, "{}-{}", name(from, spelling), name(to, spelling)),
                Item::RangeStep(from, to, step, spelling) => {
                    write!(out, "{}-{}/{step}", name(from, spelling), name(to, spelling))
                }
                Item::OpenStep(from, step, spelling) => write!(out, "{}/{step}", name(from, spelling)),
                Item::Last(spelling) => write!(out, "{}", letters("L", spelling)),
                Item::LastWeekday(spelling) => write!(out, "{}", letters("LW", spelling)),
                Item::NearestWeekday(day, spelling) => write!(out, "{day}{}", letters("W", spelling)),
                Item::LastOf(from, to, spelling) if from == to => {
                    write!(out, "{}{}", name(from, spelling), letters("L", spelling))
                }
                Item::LastOf(from, to, spelling) => {
                    write!(
                        out,
                        "{}-{}{}",
                        name(from, spelling),
                        name(to, spelling),
                        letters("L", spelling)
                    )
                }
                Item::Nth(from, to, nth) if from == to => write!(out, "{from}#{nth}"),
                Item::Nth(from, to, nth) => write!(out, "{from}-{to}#{nth}"),
            };
        }
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A value as a number or, in the month and weekday fields, as a name in
/// the given case. Sunday as 7 stays a number: its name means 0.
fn spell(kind: Kind, value: u32, spelling: Spelling) -> String {
    let name = match kind {
        Kind::Month => MONTHS.get(value as usize - 1),
        Kind::DayOfWeek => WEEKDAYS.get(value as usize),
        _ => None,
    };
    match (name, spelling) {
        (Some(name), Spelling::Upper) => (*name).to_owned(),
        (Some(name), Spelling::Lower) => name.to_lowercase(),
        (Some(name), Spelling::Title) => format!("{}{}", &name[..1], name[1..].to_lowercase()),
        _ => value.to_string(),
    }
}

/// A whole rule: 5 fields, 6 with seconds, 7 with seconds and year.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) second: Option<Field>,
    pub(crate) minute: Field,
    pub(crate) hour: Field,
    pub(crate) day_of_month: Field,
    pub(crate) month: Field,
    pub(crate) day_of_week: Field,
    /// Only with `second`.
    pub(crate) year: Option<Field>,
}

impl Rule {
    /// `L` and `LW` in one day-of-month list, which ruqi refuses.
    pub(crate) fn has_last_and_last_weekday(&self) -> bool {
        let items = &self.day_of_month.items;
        items.iter().any(|item| matches!(item, Item::Last(_)))
            && items.iter().any(|item| matches!(item, Item::LastWeekday(_)))
    }

    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let mut fields = Vec::new();
        if let Some(second) = &self.second {
            fields.push((second, Kind::Second));
        }
        fields.extend([
            (&self.minute, Kind::Minute),
            (&self.hour, Kind::Hour),
            (&self.day_of_month, Kind::DayOfMonth),
            (&self.month, Kind::Month),
            (&self.day_of_week, Kind::DayOfWeek),
        ]);
        if let Some(year) = &self.year {
            fields.push((year, Kind::Year));
        }
        for (index, (field, kind)) in fields.into_iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            field.render(kind, &mut out);
        }
        out
    }
}

/// What a rule matches, ready for quick look-ups.
#[derive(Debug)]
pub(crate) struct Meaning {
    pub(crate) seconds: Vec<u32>,
    pub(crate) minutes: Vec<u32>,
    pub(crate) hours: Vec<u32>,
    /// No time field begins with `*`: daylight saving is handled the
    /// wall-clock way (skipped times fire at the end of the gap, repeated
    /// ones once); otherwise the rule follows elapsed time.
    pub(crate) wall_clock: bool,
    day_of_month: Vec<bool>,
    last_day: bool,
    last_weekday: bool,
    nearest_weekday: Vec<u32>,
    weekdays: Vec<bool>,
    last_of: Vec<bool>,
    nth: Vec<(u32, u32)>,
    /// Both day fields must match; otherwise either does.
    both_days: bool,
    months: Vec<bool>,
    years: Option<Vec<bool>>,
}

impl Meaning {
    pub(crate) fn of(rule: &Rule) -> Self {
        let sorted = |set: Vec<bool>| -> Vec<u32> {
            set.iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(value, _)| value as u32)
                .collect()
        };
        let zero = Field::of(vec![Item::Value(0, Spelling::Number)]);
        let second = rule.second.as_ref().unwrap_or(&zero);
        let mut nearest_weekday = Vec::new();
        let (mut last_day, mut last_weekday) = (false, false);
        for item in &rule.day_of_month.items {
            match *item {
                Item::Last(_) => last_day = true,
                Item::LastWeekday(_) => last_weekday = true,
                Item::NearestWeekday(day, _) => nearest_weekday.push(day),
                _ => {}
            }
        }
        let mut last_of = vec![false; 7];
        let mut nth = Vec::new();
        for item in &rule.day_of_week.items {
            match *item {
                Item::LastOf(from, to, _) => (from..=to).for_each(|day| last_of[day as usize % 7] = true),
                Item::Nth(from, to, n) => (from..=to).for_each(|day| nth.push((day % 7, n))),
                _ => {}
            }
        }
        Self {
            seconds: sorted(second.values(Kind::Second)),
            minutes: sorted(rule.minute.values(Kind::Minute)),
            hours: sorted(rule.hour.values(Kind::Hour)),
            wall_clock: !(second.unrestricted() || rule.minute.unrestricted() || rule.hour.unrestricted()),
            day_of_month: rule.day_of_month.values(Kind::DayOfMonth),
            last_day,
            last_weekday,
            nearest_weekday,
            weekdays: rule.day_of_week.values(Kind::DayOfWeek),
            last_of,
            nth,
            both_days: rule.day_of_week.plus || rule.day_of_month.unrestricted() || rule.day_of_week.unrestricted(),
            months: rule.month.values(Kind::Month),
            years: rule.year.as_ref().map(|year| year.values(Kind::Year)),
        }
    }

    /// Whether the year field allows a year (from 1970 to 4999).
    pub(crate) fn allows_year(&self, year: i64) -> bool {
        (1970..=4999).contains(&year) && self.years.as_ref().is_none_or(|years| years[year as usize])
    }

    /// Whether the rule fires on a date, given as days since 1970-01-01.
    pub(crate) fn matches_day(&self, year: i64, month: u32, day: u32, days: i64) -> bool {
        if !self.allows_year(year) || !self.months[month as usize] {
            return false;
        }
        let length = days_in_month(year, month);
        let weekday = weekday(days);
        let weekday_of = |other: u32| (weekday + 7 * 5 + other as i64 - day as i64).rem_euclid(7);
        let by_day_of_month = self.day_of_month[day as usize]
            || (self.last_day && day == length)
            || (self.last_weekday && day == last_weekday(length, weekday_of(length)))
            || self
                .nearest_weekday
                .iter()
                .any(|&wanted| wanted <= length && nearest_weekday(wanted, length, weekday_of(wanted)) == day);
        let by_weekday = self.weekdays[weekday as usize]
            || (self.last_of[weekday as usize] && day + 7 > length)
            || self
                .nth
                .iter()
                .any(|&(wanted, n)| wanted as i64 == weekday && (day - 1) / 7 + 1 == n);
        if self.both_days {
            by_day_of_month && by_weekday
        } else {
            by_day_of_month || by_weekday
        }
    }

    /// The first matching time of day at or after `second_of_day`.
    pub(crate) fn first_time_from(&self, second_of_day: i64) -> Option<i64> {
        let (hour, minute, second) = (
            (second_of_day / 3600) as u32,
            (second_of_day / 60 % 60) as u32,
            (second_of_day % 60) as u32,
        );
        let at = |h: u32, m: u32, s: u32| i64::from(h * 3600 + m * 60 + s);
        for &h in self.hours.iter().filter(|&&h| h >= hour) {
            if h > hour {
                return Some(at(h, self.minutes[0], self.seconds[0]));
            }
            for &m in self.minutes.iter().filter(|&&m| m >= minute) {
                if m > minute {
                    return Some(at(h, m, self.seconds[0]));
                }
                if let Some(&s) = self.seconds.iter().find(|&&s| s >= second) {
                    return Some(at(h, m, s));
                }
            }
        }
        None
    }
}

/// The last Monday-to-Friday of a month, from its length and the weekday of
/// its last day (0 = Sunday).
fn last_weekday(length: u32, weekday_of_last: i64) -> u32 {
    match weekday_of_last {
        6 => length - 1,
        0 => length - 2,
        _ => length,
    }
}

/// The Monday-to-Friday nearest to `day`, inside its month: a Saturday moves
/// to the Friday before unless that is in the previous month (then to the
/// Monday after), a Sunday to the Monday after unless that is in the next
/// month (then to the Friday before).
fn nearest_weekday(day: u32, length: u32, weekday_of_day: i64) -> u32 {
    match weekday_of_day {
        6 if day == 1 => 3,
        6 => day - 1,
        0 if day == length => day - 2,
        0 => day + 1,
        _ => day,
    }
}
