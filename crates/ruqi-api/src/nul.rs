//! [`TextParameters`]: refuses a path or query parameter holding the NUL
//! character (`%00`), naming it. SQLite would store it, PostgreSQL refuses it
//! in text ("invalid byte sequence"); the API refuses it on every backend,
//! and its document says so with a `pattern` on every text parameter.

use poem::http::Method;
use serde_json::Value;

use crate::paths::{self, Template, is_parameter};

/// The text parameters of each operation: its path template and the names
/// of its `string` parameters in the path and in the query.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextParameters {
    operations: Vec<Operation>,
}

#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    template: Template,
    query: Vec<String>,
}

impl TextParameters {
    /// The text parameters of every operation of `document`.
    pub(crate) fn from_document(document: &str) -> Self {
        let Ok(doc) = serde_json::from_str::<Value>(document) else {
            return Self::default();
        };
        let operations = paths::operations(&doc)
            .into_iter()
            .map(|(method, template, operation)| Operation {
                method,
                template,
                query: operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query" && is_text(&p["schema"]))
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect(),
            })
            .collect();
        Self { operations }
    }

    /// The parameter of a request for `method` on `path` (relative to the
    /// API's prefix, still percent-encoded) with `query` that holds `%00`.
    pub(crate) fn with_nul(&self, method: &Method, path: &str, query: Option<&str>) -> Option<String> {
        let segments = paths::segments(path);
        let same_method = self.operations.iter().filter(|o| o.method == *method);
        let operation = paths::best_match(same_method, |o| &o.template, &segments)?;
        for (template, segment) in operation.template.iter().zip(&segments) {
            if is_parameter(template) && has_nul(segment) {
                return Some(template.trim_matches(['{', '}']).to_owned());
            }
        }
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, value)| has_nul(value) && operation.query.iter().any(|q| q == name))
            .map(|(name, _)| name.to_owned())
    }
}

/// A text schema, or a list of texts (a parameter given once per value).
fn is_text(schema: &Value) -> bool {
    match schema["type"].as_str() {
        Some("string") => true,
        Some("array") => schema.pointer("/items/type").and_then(Value::as_str) == Some("string"),
        _ => false,
    }
}

fn has_nul(encoded: &str) -> bool {
    encoded.contains("%00")
}

#[cfg(test)]
mod tests {
    use super::TextParameters;
    use poem::http::Method;

    #[test]
    fn a_nul_in_a_text_parameter_is_found_by_name() {
        let doc = r#"{"paths": {
            "/jobs/{job_id}": {"get": {"parameters": [{"name": "job_id", "in": "path", "schema": {"type": "string"}}]}},
            "/jobs": {"get": {"parameters": [
                {"name": "text", "in": "query", "schema": {"type": "string"}},
                {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "offset", "in": "query", "schema": {"type": "integer"}}
            ]}}
        }}"#;
        let params = TextParameters::from_document(doc);
        let get = Method::GET;
        assert_eq!(params.with_nul(&get, "/jobs/a%00b", None).as_deref(), Some("job_id"));
        assert_eq!(params.with_nul(&get, "/jobs/ab", None), None);
        assert_eq!(
            params.with_nul(&get, "/jobs", Some("offset=1&text=x%00")).as_deref(),
            Some("text")
        );
        assert_eq!(
            params.with_nul(&get, "/jobs", Some("ids=a&ids=b%00")).as_deref(),
            Some("ids"),
            "a list of texts is checked value by value"
        );
        // Not a text parameter of this operation: not this check's business.
        assert_eq!(params.with_nul(&get, "/jobs", Some("other=%00")), None);
        assert_eq!(params.with_nul(&Method::POST, "/jobs/a%00", None), None);
    }
}
