//! [`AllowedMethods`]: which methods each path of the API takes, read from
//! its OpenAPI document, so that a 405 can say what would have been allowed.

use poem::http::Method;

use crate::paths::{Template, best_match, segments, template_of};

/// The methods of each operation path of the API, in the document's order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedMethods {
    paths: Vec<(Template, Vec<Method>)>,
}

/// The order methods are listed in an `Allow` header.
const ORDER: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

impl AllowedMethods {
    /// The paths and methods of `spec` (an OpenAPI document as JSON). A
    /// document that does not parse gives no paths: a 405 then goes without
    /// an `Allow` header rather than failing.
    pub(crate) fn from_spec(spec: &str) -> Self {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(spec) else {
            return Self::default();
        };
        let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
            return Self::default();
        };
        let paths = paths
            .iter()
            .map(|(template, operations)| {
                let methods = ORDER
                    .iter()
                    .filter(|m| operations.get(m.as_str().to_lowercase()).is_some())
                    .cloned()
                    .collect();
                (template_of(template), methods)
            })
            .collect();
        Self { paths }
    }

    /// The `Allow` header for `path` (relative to the API's prefix): the
    /// methods of the operation path it matches, literal segments before
    /// parameters as the router prefers them; `None` when none matches.
    pub(crate) fn allow(&self, path: &str) -> Option<String> {
        best_match(&self.paths, |(template, _)| template, &segments(path))
            .map(|(_, methods)| methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedMethods;

    #[test]
    fn literal_paths_win_over_parameters() {
        let spec = r#"{"paths": {
            "/jobs": {"get": {}, "post": {}},
            "/executions/{id}": {"get": {}},
            "/executions/cleanup": {"post": {}},
            "/jobs/{job_id}": {"delete": {}, "get": {}, "patch": {}, "put": {}}
        }}"#;
        let allowed = AllowedMethods::from_spec(spec);
        assert_eq!(allowed.allow("/jobs").as_deref(), Some("GET, POST"));
        assert_eq!(allowed.allow("/jobs/x/").as_deref(), Some("GET, PUT, PATCH, DELETE"));
        assert_eq!(allowed.allow("/executions/cleanup").as_deref(), Some("POST"));
        assert_eq!(allowed.allow("/executions/0190").as_deref(), Some("GET"));
        assert_eq!(allowed.allow("/nothing"), None);
        assert_eq!(AllowedMethods::from_spec("not json").allow("/jobs"), None);
    }
}
