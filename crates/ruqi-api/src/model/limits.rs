//! The bounds of a job's fields as the API takes them: the length of each
//! text and the range of each number. The longest texts are checked here on
//! every write (a longer one answers 422 naming its field, before anything is
//! written); blank texts and numbers out of range are refused, the same way,
//! by the scheduler's own validation. The OpenAPI document states both from
//! these tables.

use ruqi::FieldError;
use ruqi::job::{JOB_ID_MAX_LEN, MAX_INSTANCES_LIMIT, MAX_RETRIES_LIMIT};

/// The length bounds of one text field, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextLimit {
    /// The field (a `job_info` column).
    pub(crate) field: &'static str,
    /// Fewest characters: 1 for the fields that must not be blank, which
    /// the scheduler's validation refuses (naming the field) when they are.
    pub(crate) min: usize,
    /// Most characters: the column's size where it has one, otherwise what
    /// a person could sensibly write there.
    pub(crate) max: usize,
}

const fn text(field: &'static str, min: usize, max: usize) -> TextLimit {
    TextLimit { field, min, max }
}

/// The text fields of a job and their bounds.
pub(crate) const JOB_TEXT_LIMITS: [TextLimit; 13] = [
    text("job_id", 1, JOB_ID_MAX_LEN),
    text("job_name", 1, JOB_ID_MAX_LEN),
    text("description", 0, 16_384),
    text("func", 1, 191),
    text("trigger", 1, 16),
    text("rule", 1, 255),
    text("timezone", 1, 64),
    text("misfire_policy", 1, 16),
    text("overlap", 1, 16),
    text("retry_backoff", 1, 16),
    text("retry_delay", 1, 32),
    // Up to 100 children of up to 191 characters each, with their commas.
    text("child_jobs", 0, 19_300),
    text("alert_url", 1, 2_048),
];

/// The range of one integer field of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumberLimit {
    /// The field (a `job_info` column).
    pub(crate) field: &'static str,
    /// Smallest value.
    pub(crate) min: i32,
    /// Largest value.
    pub(crate) max: i32,
}

/// The integer fields of a job and the ranges the scheduler accepts.
pub(crate) const JOB_NUMBER_LIMITS: [NumberLimit; 4] = [
    NumberLimit {
        field: "misfire_grace_s",
        min: 0,
        max: i32::MAX,
    },
    NumberLimit {
        field: "max_instances",
        min: 1,
        max: MAX_INSTANCES_LIMIT,
    },
    NumberLimit {
        field: "timeout_s",
        min: 1,
        max: i32::MAX,
    },
    NumberLimit {
        field: "max_retries",
        min: 0,
        max: MAX_RETRIES_LIMIT,
    },
];

/// Refuses the first text of `values` (field, value) longer than its field takes.
/// The refused value is quoted only in part: it may be very long.
pub(crate) fn check_texts<'a>(values: impl IntoIterator<Item = (&'static str, &'a str)>) -> Result<(), FieldError> {
    for (field, value) in values {
        let Some(limit) = JOB_TEXT_LIMITS.iter().find(|l| l.field == field) else {
            continue;
        };
        let length = value.chars().count();
        if length > limit.max {
            let start: String = value.chars().take(32).collect();
            return Err(FieldError::new(
                field,
                format!("{start}…"),
                format!("is {length} characters long: at most {} are taken", limit.max),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_out_of_bounds_are_refused_naming_the_field() {
        assert!(check_texts([("description", ""), ("rule", "* * * * *")]).is_ok());
        let long = "x".repeat(300);
        let error = check_texts([("func", "ping"), ("rule", long.as_str())]).unwrap_err();
        assert_eq!(error.field, "rule");
        assert_eq!(error.reason, "is 300 characters long: at most 255 are taken");
        assert!(error.value.chars().count() < 40, "{}", error.value);
        // Characters, not bytes: 191 letters of two bytes each fit a job_id.
        assert!(check_texts([("job_id", "ä".repeat(191).as_str())]).is_ok());
    }
}
