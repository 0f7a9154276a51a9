//! Refused rules and what their messages say.

use super::*;

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
        error("1-2-3 * * * *"),
        r#"minute field: "1-2-3" is not a range (write start-end, e.g. 1-5)"#
    );
    assert_eq!(error("5- * * * *"), r#"minute field: range "5-" is missing its end"#);
    assert_eq!(
        error("0 0 ?,5 * *"),
        "day-of-month field: ? cannot be combined with other entries in a list"
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
    for never in [
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 0 29 2 * 2027",
        "0 0 0 29 2 * 2100",
        "0 0 0 29 2 * 4001-4003",
        // A weekday field beginning with `*` must match too: no help.
        "0 0 30 2 */2",
        "0 0 30W 2 *",
        // The 1st is never the last of its weekday in the month.
        "0 0 1 * +1L",
    ] {
        let reason = error(never);
        assert!(reason.starts_with("never fires"), "{never}: {reason}");
    }
    // Restricted weekdays rescue an impossible day of month (either matches).
    assert!(CronRule::parse("0 0 30 2 MON").is_ok());
    for fires in [
        "0 0 0 29 2 * 2096",
        "0 0 0 29 2 MON 4998-4999",
        "0 0 0 31 12 * 4999",
        "0 0 25 * +6L",
    ] {
        assert!(CronRule::parse(fires).is_ok(), "{fires}");
    }
    assert_eq!(
        error("0 0 L,LW * *"),
        "day-of-month field: L and LW cannot share a list (L is the last day of the month, LW its last \
         weekday; use one)"
    );
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
