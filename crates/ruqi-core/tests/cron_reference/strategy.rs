//! Random rules and instants.
//!
//! The distributions lean towards what finds mistakes: hours around the
//! daylight-saving changes (0 to 3 in most zones), both kinds of rule
//! (wall-clock and elapsed-time), both readings of the day fields, names in
//! every case, and instants near a change of offset; and towards rules that
//! fire within the reference's search horizon.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::model::{Field, Item, Kind, Rule, Spelling};

/// Zones with every kind of change: none, an hour at 02:00 or 03:00 (north
/// and south), at midnight (Santiago, Havana, Sao Paulo until 2019), half an
/// hour (Lord Howe), at 02:45 (Chatham), two hours (Troll), odd offsets
/// (Kolkata, Kathmandu), a skipped day (Apia, 2011) and Ramadan changes
/// (Casablanca).
pub(crate) const ZONES: [&str; 16] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/London",
    "America/Los_Angeles",
    "America/Havana",
    "America/Sao_Paulo",
    "Antarctica/Troll",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Africa/Casablanca",
];

/// One generated case.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) rule: Rule,
    pub(crate) zone: usize,
    pub(crate) year: i64,
    /// `Some((n, shift))`: `shift` seconds from the zone's n-th change of
    /// offset in `year`; `None`: `second_of_year` into the year.
    pub(crate) near_change: Option<(usize, i64)>,
    pub(crate) second_of_year: i64,
    pub(crate) millisecond: i64,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    select(vec![
        Spelling::Number,
        Spelling::Upper,
        Spelling::Lower,
        Spelling::Title,
    ])
}

/// Steps, mostly the usual ones, sometimes past the end of the range.
fn step() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => select(vec![1u32, 2, 3, 4, 5, 6, 7, 10, 12, 15, 20, 30]),
        1 => 1u32..=70,
    ]
}

fn ordered(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

/// A plain item of a field: a value, a range, a step on a range, the
/// lenient `a/n`, or `*` and `*/n` inside a list.
fn plain_item(kind: Kind, value: BoxedStrategy<u32>) -> BoxedStrategy<Item> {
    let (_, max) = kind.bounds();
    let open_max = if kind == Kind::DayOfWeek { 6 } else { max };
    let open_start = value.clone().prop_map(move |v| v.min(open_max));
    prop_oneof![
        8 => (value.clone(), spelling()).prop_map(|(v, s)| Item::Value(v, s)),
        3 => (value.clone(), value.clone(), spelling()).prop_map(|(a, b, s)| {
            let (a, b) = ordered(a, b);
            Item::Range(a, b, s)
        }),
        2 => (value.clone(), value, step(), spelling()).prop_map(|(a, b, n, s)| {
            let (a, b) = ordered(a, b);
            Item::RangeStep(a, b, n, s)
        }),
        1 => (open_start, step(), spelling()).prop_map(|(a, n, s)| Item::OpenStep(a, n, s)),
        1 => step().prop_map(Item::StarStep),
        1 => Just(Item::Star),
    ]
    .boxed()
}

/// A field: `*`, `*/n`, `/n` or a list of one to three items.
fn field(item: BoxedStrategy<Item>, star: u32, star_step: u32, list: u32) -> BoxedStrategy<Field> {
    prop_oneof![
        star => Just(Field::star()),
        star_step => step().prop_map(|n| Field::of(vec![Item::StarStep(n)])),
        1 => step().prop_map(|n| Field::of(vec![Item::LenientStar(n)])),
        list => vec(item, 1..=3).prop_map(Field::of),
    ]
    .boxed()
}

fn time_field(kind: Kind, favoured: Vec<u32>) -> BoxedStrategy<Field> {
    let (min, max) = kind.bounds();
    let value = prop_oneof![3 => select(favoured), 1 => min..=max].boxed();
    field(plain_item(kind, value), 2, 2, 10)
}

fn day_of_month() -> BoxedStrategy<Field> {
    let value = prop_oneof![2 => select(vec![1u32, 13, 15, 28, 29, 30, 31]), 3 => 1u32..=31].boxed();
    let item = prop_oneof![
        6 => plain_item(Kind::DayOfMonth, value),
        1 => spelling().prop_map(Item::Last),
        1 => spelling().prop_map(Item::LastWeekday),
        1 => (prop_oneof![1u32..=31, select(vec![1u32, 15, 29, 30, 31])], spelling())
            .prop_map(|(day, s)| Item::NearestWeekday(day, s)),
    ]
    .boxed();
    prop_oneof![
        12 => field(item, 1, 2, 8),
        2 => Just(Field::star()),
        1 => Just(Field { items: Vec::new(), question: true, plus: false }),
    ]
    .boxed()
}

fn month() -> BoxedStrategy<Field> {
    field(plain_item(Kind::Month, (1u32..=12).boxed()), 8, 1, 4)
}

fn day_of_week() -> BoxedStrategy<Field> {
    let item = prop_oneof![
        6 => plain_item(Kind::DayOfWeek, (0u32..=7).boxed()),
        1 => (0u32..=6, 0u32..=6, spelling()).prop_map(|(a, b, s)| {
            let (a, b) = ordered(a, b);
            Item::LastOf(a, if b - a > 1 { a } else { b }, s)
        }),
        1 => (0u32..=6, 0u32..=1, 1u32..=5).prop_map(|(a, wide, n)| Item::Nth(a, (a + wide).min(6), n)),
    ]
    .boxed();
    let listed = prop_oneof![
        10 => field(item, 1, 1, 6),
        1 => Just(Field { items: Vec::new(), question: true, plus: false }),
    ];
    (
        prop_oneof![8 => Just(Field::star()), 5 => listed],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(mut field, plus)| {
            field.plus = plus;
            field
        })
        .boxed()
}

/// Year fields around the case's year: values are offsets from two years
/// before it, replaced by years once the case's year is known.
fn year_offsets() -> BoxedStrategy<Field> {
    let offset = (0u32..=8).boxed();
    prop_oneof![
        3 => vec(plain_item(Kind::Second, offset), 1..=3).prop_map(Field::of),
        1 => (1u32..=4).prop_map(|n| Field::of(vec![Item::StarStep(n)])),
        1 => Just(Field::star()),
    ]
    .boxed()
}

fn rebase_years(field: &mut Field, year: i64) {
    let base = (year - 2).clamp(1970, 4990) as u32;
    for item in &mut field.items {
        *item = match *item {
            Item::Value(v, s) => Item::Value(base + v, s),
            Item::Range(a, b, s) => Item::Range(base + a, base + b, s),
            Item::RangeStep(a, b, n, s) => Item::RangeStep(base + a, base + b, n, s),
            Item::OpenStep(a, n, s) => Item::OpenStep(base + a, n, s),
            ref other => other.clone(),
        };
    }
}

pub(crate) fn rule() -> impl Strategy<Value = (Rule, Option<Field>)> {
    let seconds = prop::option::weighted(0.35, time_field(Kind::Second, vec![0, 0, 0, 30, 59]));
    let minutes = time_field(Kind::Minute, vec![0, 0, 15, 30, 45, 59]);
    let hours = time_field(Kind::Hour, vec![0, 1, 2, 2, 3, 4, 12, 23]);
    let years = prop::option::weighted(0.25, year_offsets());
    (seconds, minutes, hours, day_of_month(), month(), day_of_week(), years).prop_map(
        |(second, minute, hour, day_of_month, month, day_of_week, year)| {
            let year = if second.is_some() { year } else { None };
            let rule = Rule {
                second,
                minute,
                hour,
                day_of_month,
                month,
                day_of_week,
                year: None,
            };
            (rule, year)
        },
    )
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    // Some at the very end, where a zone's clock reaches 5000 before UTC does.
    let year = prop_oneof![
        6 => 1970i64..=2037,
        4 => 2038i64..=2099,
        8 => 2100i64..=2400,
        2 => 2401i64..=4999,
        1 => 4998i64..=4999,
    ];
    // Half of the shifts land within 90 minutes of the change: inside a
    // repeated or skipped stretch more often.
    let shift = prop_oneof![-6 * 3600i64..=6 * 3600, -5400i64..=5400];
    let near_change = prop::option::weighted(0.6, (0usize..4, shift));
    let millisecond = prop_oneof![3 => Just(0i64), 1 => 0i64..1000];
    (
        rule(),
        0..ZONES.len(),
        year,
        near_change,
        0i64..366 * 86_400,
        millisecond,
    )
        .prop_map(
            |((mut rule, year_field), zone, year, near_change, second_of_year, millisecond)| {
                rule.year = year_field.map(|mut field| {
                    rebase_years(&mut field, year);
                    field
                });
                Case {
                    rule,
                    zone,
                    year,
                    near_change,
                    second_of_year,
                    millisecond,
                }
            },
        )
}
