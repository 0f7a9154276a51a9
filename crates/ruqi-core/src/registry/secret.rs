//! Secret arguments: marked in a function's argument schema, hidden from whoever may only read.
//!
//! A property of the schema carrying `"x-ruqi-secret": true` is secret: a password, an API key,
//! request headers with credentials. The admin API shows a read-only caller the job's `args`
//! with every secret value replaced by [`REDACTED`] (keys kept, so the reader still sees which
//! headers or variables are set), and validation errors, which end up in `last_error` and the
//! logs, never quote one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The schema keyword that marks an argument secret: `"x-ruqi-secret": true` on its property.
///
/// With `schemars`, put `#[schemars(extend("x-ruqi-secret" = true))]` on the field:
///
/// ```
/// use ruqi_core::Registry;
/// use serde_json::json;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Upload {
///     bucket: String,
///     #[schemars(extend("x-ruqi-secret" = true))]
///     access_key: String,
/// }
///
/// let mut registry = Registry::new();
/// registry.register_typed("upload", |_ctx, args: Upload| async move { Ok::<_, String>(args.bucket) });
///
/// let mut args = json!({"bucket": "backups", "access_key": "AKIA-not-for-readers"});
/// registry.redact_args("upload", &mut args);
/// assert_eq!(args, json!({"bucket": "backups", "access_key": "***"}));
/// ```
pub const SECRET_KEYWORD: &str = "x-ruqi-secret";

/// What a secret value is shown as.
pub const REDACTED: &str = "***";

/// The secret arguments of one function: its argument schema, kept when it marks any.
///
/// A value's schema is found through `properties`, `additionalProperties`,
/// `patternProperties` (every pattern, whether or not the name matches), `items`,
/// `prefixItems`, `$ref` (into the same schema) and every branch of `allOf`, `anyOf` and
/// `oneOf`: a value is secret when any schema that could describe it says so. The walk follows
/// the value, so a recursive schema is honoured at every depth the value has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretArgs {
    /// `None` when nothing in the schema is marked.
    schema: Option<Value>,
}

impl SecretArgs {
    /// The secret arguments `schema` marks with [`SECRET_KEYWORD`].
    ///
    /// ```
    /// use ruqi_core::registry::SecretArgs;
    /// use serde_json::json;
    ///
    /// let secrets = SecretArgs::from_schema(&json!({
    ///     "type": "object",
    ///     "properties": {
    ///         "url": {"type": "string"},
    ///         "headers": {"type": "object", "additionalProperties": {"type": "string"}, "x-ruqi-secret": true}
    ///     }
    /// }));
    /// let mut args = json!({"url": "https://example.com", "headers": {"Authorization": "Bearer abc"}});
    /// secrets.redact(&mut args);
    /// assert_eq!(args, json!({"url": "https://example.com", "headers": {"Authorization": "***"}}));
    /// ```
    pub fn from_schema(schema: &Value) -> Self {
        Self {
            schema: marks_secrets(schema).then(|| schema.clone()),
        }
    }

    /// Whether no argument is secret.
    pub fn is_empty(&self) -> bool {
        self.schema.is_none()
    }

    /// Replaces each secret value in `args` by [`REDACTED`]: a string, number or boolean
    /// becomes `"***"`, an object keeps its keys with each value masked, an array its length,
    /// and `null` (nothing set) stays `null`.
    pub fn redact(&self, args: &mut Value) {
        if let Some(schema) = &self.schema {
            redact_below(args, vec![schema], schema);
        }
    }

    /// Whether `args` shows anything secret: redacting it would change it.
    pub fn reveals(&self, args: &Value) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut redacted = args.clone();
        self.redact(&mut redacted);
        redacted != *args
    }
}

/// Replaces every value inside `value` by [`REDACTED`], keeping object keys, array lengths
/// and `null`s.
pub(crate) fn mask(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::Object(object) => object.values_mut().for_each(mask),
        Value::Array(items) => items.iter_mut().for_each(mask),
        other => *other = Value::String(REDACTED.to_owned()),
    }
}

/// Whether the keyword is set anywhere in `schema`.
fn marks_secrets(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => {
            object.get(SECRET_KEYWORD) == Some(&Value::Bool(true)) || object.values().any(marks_secrets)
        }
        Value::Array(items) => items.iter().any(marks_secrets),
        _ => false,
    }
}

/// Redacts `value`, which `schemas` (of the document `root`) describe.
fn redact_below(value: &mut Value, schemas: Vec<&Value>, root: &Value) {
    let schemas = resolve(schemas, root);
    if schemas
        .iter()
        .any(|schema| schema.get(SECRET_KEYWORD) == Some(&Value::Bool(true)))
    {
        mask(value);
        return;
    }
    match value {
        Value::Object(object) => {
            for (name, value) in object.iter_mut() {
                let below: Vec<&Value> = schemas
                    .iter()
                    .flat_map(|schema| property_schemas(schema, name))
                    .collect();
                if !below.is_empty() {
                    redact_below(value, below, root);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let below: Vec<&Value> = schemas.iter().filter_map(|schema| item_schema(schema, index)).collect();
                if !below.is_empty() {
                    redact_below(item, below, root);
                }
            }
        }
        _ => {}
    }
}

/// `schemas` with every `$ref` and `allOf`/`anyOf`/`oneOf` branch they lead to; each `$ref` is
/// followed once, so a cycle of references ends.
fn resolve<'a>(mut pending: Vec<&'a Value>, root: &'a Value) -> Vec<&'a Map<String, Value>> {
    let mut followed = BTreeSet::new();
    let mut resolved = Vec::new();
    while let Some(schema) = pending.pop() {
        let Value::Object(schema) = schema else { continue };
        resolved.push(schema);
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str)
            && followed.insert(reference)
            && let Some(target) = reference.strip_prefix('#').and_then(|pointer| root.pointer(pointer))
        {
            pending.push(target);
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            pending.extend(schema.get(keyword).and_then(Value::as_array).into_iter().flatten());
        }
    }
    resolved
}

/// The schemas of the property `name` of an object `schema` describes.
fn property_schemas<'a>(schema: &'a Map<String, Value>, name: &str) -> Vec<&'a Value> {
    let named = schema.get("properties").and_then(|properties| properties.get(name));
    let other = match named {
        Some(_) => None,
        None => schema.get("additionalProperties"),
    };
    let patterns = schema
        .get("patternProperties")
        .and_then(Value::as_object)
        .map(Map::values)
        .into_iter()
        .flatten();
    named.into_iter().chain(other).chain(patterns).collect()
}

/// The schema of element `index` of an array `schema` describes.
fn item_schema(schema: &Map<String, Value>, index: usize) -> Option<&Value> {
    // `prefixItems` (2020-12) or `items` as an array (draft 7) describe the first elements.
    let tuple = schema
        .get("prefixItems")
        .or_else(|| schema.get("items").filter(|items| items.is_array()))
        .and_then(Value::as_array);
    match tuple {
        Some(tuple) if index < tuple.len() => tuple.get(index),
        Some(_) => schema
            .get("items")
            .filter(|items| !items.is_array())
            .or_else(|| schema.get("additionalItems")),
        None => schema.get("items"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Login {
        user: String,
        #[schemars(extend("x-ruqi-secret" = true))]
        password: Option<String>,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Deploy {
        target: String,
        login: Option<Login>,
        logins: Vec<Login>,
        #[schemars(extend("x-ruqi-secret" = true))]
        env: std::collections::BTreeMap<String, String>,
        #[schemars(extend("x-ruqi-secret" = true))]
        tokens: Vec<String>,
    }

    fn secrets_of<T: schemars::JsonSchema>() -> SecretArgs {
        SecretArgs::from_schema(&serde_json::to_value(schemars::schema_for!(T)).unwrap())
    }

    #[test]
    fn derived_schemas_mark_fields_through_refs_options_and_arrays() {
        let secrets = secrets_of::<Deploy>();
        let mut args = json!({
            "target": "prod",
            "login": {"user": "ops", "password": "hunter2"},
            "logins": [{"user": "a", "password": "pa"}, {"user": "b", "password": null}],
            "env": {"API_KEY": "k", "REGION": "eu"},
            "tokens": ["t1", "t2"],
        });
        assert!(secrets.reveals(&args));
        secrets.redact(&mut args);
        assert_eq!(
            args,
            json!({
                "target": "prod",
                "login": {"user": "ops", "password": "***"},
                "logins": [{"user": "a", "password": "***"}, {"user": "b", "password": null}],
                "env": {"API_KEY": "***", "REGION": "***"},
                "tokens": ["***", "***"],
            })
        );
        assert!(!secrets.reveals(&args), "redacted args reveal nothing more");
    }

    #[test]
    fn schemas_without_the_keyword_have_no_secrets() {
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Plain {
            to: String,
        }
        let secrets = secrets_of::<Plain>();
        assert!(secrets.is_empty());
        let mut args = json!({"to": "a@b.c"});
        secrets.redact(&mut args);
        assert_eq!(args, json!({"to": "a@b.c"}));
        assert!(SecretArgs::from_schema(&json!(true)).is_empty());
    }

    #[test]
    fn a_secret_object_keeps_its_keys_and_other_forms_pass() {
        let secrets = SecretArgs::from_schema(&json!({
            "type": ["object", "string"],
            "properties": {"auth": {"x-ruqi-secret": true}},
        }));
        let mut args = json!({"auth": {"user": "u", "pass": ["p", 1, true, null]}});
        secrets.redact(&mut args);
        assert_eq!(
            args,
            json!({"auth": {"user": "***", "pass": ["***", "***", "***", null]}})
        );
        let mut shorthand = json!("https://example.com");
        secrets.redact(&mut shorthand);
        assert_eq!(shorthand, json!("https://example.com"));
    }

    #[test]
    fn recursive_schemas_end() {
        let secrets = SecretArgs::from_schema(&json!({
            "$ref": "#/$defs/Tree",
            "$defs": {"Tree": {
                "type": "object",
                "properties": {
                    "key": {"type": "string", "x-ruqi-secret": true},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                },
            }},
        }));
        let mut args = json!({"key": "a", "children": [{"key": "b", "children": [{"key": "c"}]}]});
        secrets.redact(&mut args);
        assert_eq!(
            args,
            json!({"key": "***", "children": [{"key": "***", "children": [{"key": "***"}]}]})
        );
        // References that only lead to each other end too.
        let looping = SecretArgs::from_schema(&json!({
            "$ref": "#/$defs/A",
            "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A", "properties": {"k": {"x-ruqi-secret": true}}}},
        }));
        let mut args = json!({"k": 1});
        looping.redact(&mut args);
        assert_eq!(args, json!({"k": "***"}));
    }
}
