//! [`BodySchemas`]: finds the field of a JSON request body that the request
//! parser refused, so that its 400 can name it. poem-openapi's parse errors
//! say which type failed ("integer(uint32)") but not which field; the body
//! is read again against the operation's schema in the OpenAPI document.

use chrono::DateTime;
use poem::http::Method;
use serde_json::{Map, Value};

use crate::paths::{self, Template};

/// The request body schema of each operation that takes one.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodySchemas {
    operations: Vec<(Method, Template, Map<String, Value>)>,
}

impl BodySchemas {
    /// The body schemas of `document` (the completed OpenAPI document).
    pub(crate) fn from_document(document: &str) -> Self {
        let Ok(doc) = serde_json::from_str::<Value>(document) else {
            return Self::default();
        };
        let mut operations = Vec::new();
        for (method, template, operation) in paths::operations(&doc) {
            let Some(content) = operation.pointer("/requestBody/content").and_then(Value::as_object) else {
                continue;
            };
            let schema = content
                .values()
                .find_map(|media| media.pointer("/schema/$ref"))
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
                .and_then(|name| doc.pointer(&format!("/components/schemas/{name}")))
                .and_then(Value::as_object);
            if let Some(schema) = schema {
                operations.push((method, template, schema.clone()));
            }
        }
        Self { operations }
    }

    /// Whether `method` on `path` (relative to the API's prefix) takes a body.
    pub(crate) fn takes_body(&self, method: &Method, path: &str) -> bool {
        self.schema(method, path).is_some()
    }

    /// The first field of `body` that does not fit the operation's schema:
    /// an unknown one, one of the wrong type or out of range, or a required
    /// one left out. `None` when the body is not a JSON object or every field fits.
    pub(crate) fn refused_field(&self, method: &Method, path: &str, body: &[u8]) -> Option<String> {
        let schema = self.schema(method, path)?;
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let properties = schema.get("properties").and_then(Value::as_object)?;
        for (name, value) in &body {
            match properties.get(name) {
                Some(property) if fits(property, value) => {}
                _ => return Some(name.clone()),
            }
        }
        schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|required| !body.contains_key(*required))
            .map(str::to_owned)
    }

    fn schema(&self, method: &Method, path: &str) -> Option<&Map<String, Value>> {
        let same_method = self.operations.iter().filter(|(m, _, _)| m == method);
        paths::best_match(same_method, |(_, template, _)| template, &paths::segments(path)).map(|(_, _, schema)| schema)
    }
}

/// Whether `value` fits the property schema `property`: its type, format and range.
fn fits(property: &Value, value: &Value) -> bool {
    if value.is_null() {
        return property.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    }
    let format = property.get("format").and_then(Value::as_str);
    match property.get("type").and_then(Value::as_str) {
        Some("string") => match (value.as_str(), format) {
            (Some(text), Some("date-time")) => DateTime::parse_from_rfc3339(text).is_ok(),
            (Some(text), _) if text.contains('\0') => false,
            (Some(_), _) => property
                .get("enum")
                .and_then(Value::as_array)
                .is_none_or(|allowed| allowed.contains(value)),
            (None, _) => false,
        },
        Some("boolean") => value.is_boolean(),
        Some("number") => value.is_number(),
        Some("integer") => integer_fits(property, format, value),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    }
}

fn integer_fits(property: &Value, format: Option<&str>, value: &Value) -> bool {
    let in_format = match format {
        Some("int32") => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        Some("uint32") => value.as_u64().is_some_and(|v| u32::try_from(v).is_ok()),
        Some("uint64") => value.as_u64().is_some(),
        _ => value.as_i64().is_some(),
    };
    let as_float = value.as_f64().unwrap_or(f64::NAN);
    let above_minimum = property
        .get("minimum")
        .and_then(Value::as_f64)
        .is_none_or(|minimum| as_float >= minimum);
    let below_maximum = property
        .get("maximum")
        .and_then(Value::as_f64)
        .is_none_or(|maximum| as_float <= maximum);
    in_format && above_minimum && below_maximum
}

#[cfg(test)]
mod tests {
    use super::BodySchemas;
    use poem::http::Method;

    const DOCUMENT: &str = r##"{
        "paths": {
            "/things/{id}": {"put": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}},
            "/things": {"get": {}}
        },
        "components": {"schemas": {"Thing": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "count": {"type": "integer", "format": "uint32", "nullable": true},
                "small": {"type": "integer", "format": "int32", "maximum": 10},
                "at": {"type": "string", "format": "date-time"},
                "args": {}
            }
        }}}
    }"##;

    #[test]
    fn the_first_field_that_does_not_fit_is_named() {
        let bodies = BodySchemas::from_document(DOCUMENT);
        let put = Method::PUT;
        assert!(bodies.takes_body(&put, "/things/a"));
        assert!(!bodies.takes_body(&Method::GET, "/things"));
        let refused = |body: &str| bodies.refused_field(&put, "/things/a", body.as_bytes());
        assert_eq!(refused(r#"{"name": "a", "count": null, "args": [1]}"#), None);
        assert_eq!(refused(r#"{"name": false}"#).as_deref(), Some("name"));
        assert_eq!(refused(r#"{"name": "a\u0000"}"#).as_deref(), Some("name"));
        assert_eq!(refused(r#"{"name": "a", "count": -1}"#).as_deref(), Some("count"));
        assert_eq!(
            refused(r#"{"name": "a", "count": 4294967296}"#).as_deref(),
            Some("count")
        );
        assert_eq!(refused(r#"{"name": "a", "small": 11}"#).as_deref(), Some("small"));
        assert_eq!(refused(r#"{"name": "a", "at": "yesterday"}"#).as_deref(), Some("at"));
        assert_eq!(refused(r#"{"name": "a", "colour": "red"}"#).as_deref(), Some("colour"));
        assert_eq!(refused(r#"{"count": 1}"#).as_deref(), Some("name"));
        assert_eq!(refused("[1, 2]"), None);
        assert_eq!(refused("{not json"), None);
    }
}
