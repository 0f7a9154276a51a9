//! What the OpenAPI document says beyond what poem-openapi derives from the
//! Rust types, so that it states every rule the server enforces:
//!
//! - `additionalProperties: false` on the bodies that refuse unknown fields;
//! - the length and range bounds of a job's fields (checked by the API and
//!   the scheduler with a 422 rather than by the request parser);
//! - the 413 and 415 answers of every write;
//! - links from a created job and a started run to the operations on them,
//!   so that clients and stateful testers can follow them.

use serde_json::{Map, Value, json};

use crate::model::{JOB_NUMBER_LIMITS, JOB_TEXT_LIMITS};

/// The request bodies whose type refuses fields it does not know.
const CLOSED_BODIES: [&str; 4] = ["JobSpec", "JobPatch", "Cleanup", "ManualAddresses"];

/// The job bodies whose fields are bounded by [`JOB_TEXT_LIMITS`] and [`JOB_NUMBER_LIMITS`].
const JOB_BODIES: [&str; 2] = ["JobSpec", "JobPatch"];

/// The bounds of query parameters of type `u64` that the API checks itself
/// (poem-openapi would write them as floats, which cannot hold them exactly):
/// both fit the signed 64 bits that databases count rows in (see
/// [`requested_page`](crate::endpoints::requested_page)) and many OpenAPI
/// readers take bounds in.
const PARAMETER_BOUNDS: [(&str, u64, u64); 2] = [("offset", 0, i64::MAX as u64), ("from_line", 0, i64::MAX as u64)];

/// What every text parameter and text field of a body matches: no NUL
/// character (see [`TextParameters`](crate::nul::TextParameters)).
const NO_NUL: &str = r"^[^\x00]*$";

/// Operations reached from a created or read job, with its `job_id`.
const JOB_LINKS: [(&str, &str); 10] = [
    ("GetJob", "getJob"),
    ("UpdateJob", "updateJob"),
    ("DeleteJob", "deleteJob"),
    ("PauseJob", "pauseJob"),
    ("ResumeJob", "resumeJob"),
    ("RunJob", "runJob"),
    ("CancelJobRuns", "cancelJobRuns"),
    ("PreviewJob", "previewJob"),
    ("ListJobExecutions", "listJobExecutions"),
    ("ReplaceJob", "replaceJob"),
];

/// Operations reached from a started run, with its `execution_id`.
const EXECUTION_LINKS: [(&str, &str); 3] = [
    ("GetExecution", "getExecution"),
    ("TailExecutionLog", "tailExecutionLog"),
    ("CancelExecution", "cancelExecution"),
];

/// `document` (as poem-openapi wrote it) with the rules above added. A
/// document that does not parse is returned as it is.
pub(crate) fn complete(document: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(document) else {
        return document.to_owned();
    };
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        close_bodies(schemas);
        bound_job_fields(schemas);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (method, operation) in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.iter_mut())
        {
            document_body_refusals(method, operation);
            bound_parameters(operation);
            add_links(operation);
        }
    }
    integer_bounds_as_integers(&mut doc);
    let enums = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, schema)| schema.get("enum").is_some())
                .map(|(name, schema)| (format!("#/components/schemas/{name}"), schema.clone()))
                .collect::<Map<String, Value>>()
        })
        .unwrap_or_default();
    inline_enum_refs(&mut doc, &enums);
    serde_json::to_string(&doc).unwrap_or_else(|_| document.to_owned())
}

/// poem-openapi describes a field of an enum type as `allOf: [{$ref}, {description}]`,
/// which some client generators refuse ("cannot take allOf a non-object"):
/// such a field gets the enum's schema itself, with its own description.
fn inline_enum_refs(value: &mut Value, enums: &Map<String, Value>) {
    match value {
        Value::Object(object) => {
            let target = match object.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                Some([reference, rest @ ..]) if rest.iter().all(|r| r.get("$ref").is_none()) => reference
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| enums.get(r))
                    .cloned(),
                _ => None,
            };
            if let Some(Value::Object(mut schema)) = target {
                object.remove("allOf");
                schema.extend(std::mem::take(object));
                *object = schema;
            }
            object.values_mut().for_each(|v| inline_enum_refs(v, enums));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| inline_enum_refs(v, enums)),
        _ => {}
    }
}

/// poem-openapi writes every bound as a float (`100.0`); an integer's bounds
/// read better, and convert without loss in every client, as integers.
fn integer_bounds_as_integers(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("type").and_then(Value::as_str) == Some("integer") {
                for key in ["minimum", "maximum"] {
                    if let Some(bound) = object.get(key).and_then(Value::as_f64)
                        && bound.fract() == 0.0
                        && bound.abs() <= 9_007_199_254_740_992.0
                    {
                        // Exact: an integral float of at most 2^53 is an integer.
                        object.insert(key.to_owned(), json!(bound as i64));
                    }
                }
            }
            object.values_mut().for_each(integer_bounds_as_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(integer_bounds_as_integers),
        _ => {}
    }
}

fn close_bodies(schemas: &mut Map<String, Value>) {
    for name in CLOSED_BODIES {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            schema.insert("additionalProperties".to_owned(), Value::Bool(false));
            if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                properties.values_mut().for_each(forbid_nul);
            }
        }
    }
}

/// A plain text schema (no format, no enum) gets the [`NO_NUL`] pattern,
/// and so do the items of a list of texts.
fn forbid_nul(schema: &mut Value) {
    let Some(schema) = schema.as_object_mut() else { return };
    if schema.get("type").and_then(Value::as_str) == Some("array") {
        if let Some(items) = schema.get_mut("items") {
            forbid_nul(items);
        }
        return;
    }
    if schema.get("type").and_then(Value::as_str) == Some("string")
        && !schema.contains_key("format")
        && !schema.contains_key("enum")
    {
        schema.insert("pattern".to_owned(), json!(NO_NUL));
    }
}

fn bound_job_fields(schemas: &mut Map<String, Value>) {
    for name in JOB_BODIES {
        let Some(properties) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for limit in JOB_TEXT_LIMITS {
            if let Some(field) = properties.get_mut(limit.field).and_then(Value::as_object_mut) {
                field.insert("minLength".to_owned(), json!(limit.min));
                field.insert("maxLength".to_owned(), json!(limit.max));
            }
        }
        for limit in JOB_NUMBER_LIMITS {
            if let Some(field) = properties.get_mut(limit.field).and_then(Value::as_object_mut) {
                field.insert("minimum".to_owned(), json!(limit.min));
                field.insert("maximum".to_owned(), json!(limit.max));
            }
        }
    }
}

fn bound_parameters(operation: &mut Value) {
    let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for parameter in parameters.iter_mut() {
        if let Some(schema) = parameter.get_mut("schema") {
            forbid_nul(schema);
        }
        let Some(name) = parameter.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some((_, min, max)) = PARAMETER_BOUNDS.iter().find(|(bounded, _, _)| *bounded == name) else {
            continue;
        };
        if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) {
            schema.insert("minimum".to_owned(), json!(min));
            schema.insert("maximum".to_owned(), json!(max));
        }
    }
}

/// A write can carry a body too large (413) or not be declared as JSON
/// (415: ruqi-server asks `Content-Type: application/json` of every write,
/// even one without a body); both answer an `ErrorBody`.
fn document_body_refusals(method: &str, operation: &mut Value) {
    if method == "get" {
        return;
    }
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(content) = responses.get("400").and_then(|r| r.get("content")).cloned() else {
        return;
    };
    for (status, description) in [
        ("413", "The request body is larger than this server takes."),
        (
            "415",
            "The request is not declared as JSON (`Content-Type: application/json`), which \
             ruqi-server asks of every write, even one without a body.",
        ),
    ] {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description, "content": content }));
    }
}

fn add_links(operation: &mut Value) {
    let (status, links, parameter, source): (&str, &[(&str, &str)], &str, &str) =
        match operation.get("operationId").and_then(Value::as_str) {
            Some("createJob") => ("201", &JOB_LINKS, "job_id", "$response.body#/job_id"),
            Some("getJob" | "updateJob" | "replaceJob") => ("200", &JOB_LINKS, "job_id", "$response.body#/job_id"),
            Some("runJob") => ("202", &EXECUTION_LINKS, "id", "$response.body#/execution_id"),
            _ => return,
        };
    let Some(response) = operation
        .pointer_mut(&format!("/responses/{status}"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let links: Map<String, Value> = links
        .iter()
        .map(|(name, target)| {
            (
                (*name).to_owned(),
                json!({ "operationId": target, "parameters": { parameter: source } }),
            )
        })
        .collect();
    response.insert("links".to_owned(), Value::Object(links));
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn a_document_that_does_not_parse_is_left_alone() {
        assert_eq!(complete("not json"), "not json");
    }
}
