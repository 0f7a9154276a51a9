//! Strict readers for the text fields of request bodies: poem-openapi reads a
//! JSON number or boolean into a `String` as its text, which would let
//! `"job_name": false` through as `"false"`. A text field takes a JSON
//! string (or `null`, where the field may be empty) and nothing else, and
//! not one with the NUL character, which PostgreSQL cannot store in text;
//! a flag takes a JSON boolean, and never `null`.

use poem_openapi::types::{MaybeUndefined, ParseError, ParseFromJSON, ParseResult, Type};
use serde_json::Value;

/// `Err` unless `value` is absent, `null` or a string.
fn require_string<T: Type>(value: &Option<Value>) -> Result<(), ParseError<T>> {
    match value {
        Some(Value::String(text)) if text.contains('\0') => Err(ParseError::custom(
            "the NUL character (\\u0000) cannot be stored in a text field",
        )),
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(other) => Err(ParseError::custom(format!(
            "expected a string, found {}",
            match other {
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                _ => "an object",
            }
        ))),
    }
}

/// A required text field.
pub(crate) fn string(value: Option<Value>) -> ParseResult<String> {
    require_string(&value)?;
    String::parse_from_json(value)
}

/// A text field that may be left out (or `null`).
pub(crate) fn optional_string(value: Option<Value>) -> ParseResult<Option<String>> {
    require_string(&value)?;
    Option::<String>::parse_from_json(value)
}

/// A text field of a partial update: left out, `null` (cleared) or a string.
pub(crate) fn maybe_string(value: Option<Value>) -> ParseResult<MaybeUndefined<String>> {
    require_string(&value)?;
    MaybeUndefined::<String>::parse_from_json(value)
}

/// A flag that may be left out, but is not `null`: poem-openapi reads `null`
/// as left out for a field with a default, which a schema without
/// `nullable` does not allow.
pub(crate) fn optional_flag(value: Option<Value>) -> ParseResult<Option<bool>> {
    match value {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(flag)),
        Some(_) => Err(ParseError::custom("expected a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flags_are_booleans_or_left_out() {
        assert_eq!(optional_flag(None).unwrap(), None);
        assert_eq!(optional_flag(Some(json!(true))).unwrap(), Some(true));
        assert!(optional_flag(Some(Value::Null)).is_err());
        assert!(optional_flag(Some(json!("true"))).is_err());
    }

    #[test]
    fn only_strings_and_null_are_text() {
        assert_eq!(string(Some(json!("a"))).unwrap(), "a");
        assert!(string(Some(json!(false))).is_err());
        assert!(string(Some(json!(5))).is_err());
        assert!(string(Some(json!("a\u{0}b"))).is_err());
        assert_eq!(optional_string(Some(Value::Null)).unwrap(), None);
        assert_eq!(optional_string(None).unwrap(), None);
        assert!(optional_string(Some(json!([]))).is_err());
        assert!(maybe_string(Some(Value::Null)).unwrap().is_null());
        assert!(maybe_string(None).unwrap().is_undefined());
        assert!(maybe_string(Some(json!({}))).is_err());
    }
}
