//! The API's operations as its OpenAPI document lists them, and a request
//! path matched to its operation the way the router matches it: segment by
//! segment, a `{parameter}` taking any one segment, literal segments
//! preferred over parameters.

use poem::http::Method;
use serde_json::Value;

/// A path template split into its segments (`/jobs/{job_id}` → `jobs`, `{job_id}`).
pub(crate) type Template = Vec<String>;

/// Each operation of `doc`: its method, its path template and its object.
pub(crate) fn operations(doc: &Value) -> Vec<(Method, Template, &Value)> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (template, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for (method, operation) in item {
            if let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) {
                found.push((method, template_of(template), operation));
            }
        }
    }
    found
}

/// `template` split into its segments.
pub(crate) fn template_of(template: &str) -> Template {
    segments(template).into_iter().map(str::to_owned).collect()
}

/// The non-empty segments of `path`.
pub(crate) fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Whether a template segment is a `{parameter}`.
pub(crate) fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// Of `candidates`, the one whose template (given by `template`) matches
/// `path`'s `segments`, the one with the most literal segments if several do.
pub(crate) fn best_match<'a, T>(
    candidates: impl IntoIterator<Item = &'a T>,
    template: impl Fn(&T) -> &Template,
    segments: &[&str],
) -> Option<&'a T> {
    candidates
        .into_iter()
        .filter(|c| {
            let t = template(c);
            t.len() == segments.len() && t.iter().zip(segments).all(|(t, s)| is_parameter(t) || t == s)
        })
        .max_by_key(|c| template(c).iter().filter(|t| !is_parameter(t)).count())
}
