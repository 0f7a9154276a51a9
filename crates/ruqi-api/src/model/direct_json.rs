//! A JSON answer written straight from the value by `serde`, documented
//! exactly as poem-openapi's `Json` documents the same type.
//!
//! poem-openapi's `Json<T>` turns `T` into a `serde_json::Value` first (a
//! map of its own for every object in it) and then writes that tree out;
//! for a page of 50 jobs that was a fifth of the request's time. The list
//! answers derive `serde::Serialize` beside their `Object` schema instead,
//! with the same field names, the same `null`s and dates written as
//! poem-openapi writes them ([`rfc3339`]), so the body is the same bytes
//! while the document keeps describing it through `Json<T>`.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::ToJSON;
use serde::{Serialize, Serializer};

/// A 200 answer of `T` as JSON, written by `T`'s `Serialize`; in the
/// OpenAPI document, the same answer as `Json<T>`. It holds the bytes
/// written, so an answer can be kept and given again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DirectJson<T> {
    body: Vec<u8>,
    of: PhantomData<fn() -> T>,
}

impl<T: ToJSON + Serialize + Send> DirectJson<T> {
    /// `value` written as JSON.
    pub(crate) fn new(value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|error| {
            // Nothing in these answers fails to serialize (no map has keys
            // other than text); should it, the value is written the way
            // poem-openapi writes it.
            tracing::warn!(%error, "an answer is written through poem-openapi's JSON values instead");
            value.to_json_string().into_bytes()
        });
        Self::written(body)
    }

    /// An answer written before, as [`DirectJson::body`] gave it.
    pub(crate) fn written(body: Vec<u8>) -> Self {
        Self { body, of: PhantomData }
    }

    /// The bytes answered.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }
}

impl<T: ToJSON + Serialize + Send> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .header(
                header::CONTENT_TYPE,
                <Json<T> as poem_openapi::payload::Payload>::CONTENT_TYPE,
            )
            .body(self.body)
    }
}

impl<T: ToJSON + Serialize + Send> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as ApiResponse>::register(registry);
    }
}

/// Writes an instant as poem-openapi writes a `DateTime<Utc>`: RFC 3339
/// with `+00:00` and as many digits of the second's fraction as it has.
pub(crate) fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.to_rfc3339())
}

/// [`rfc3339`] for an instant that may be missing (`null`).
pub(crate) fn rfc3339_or_null<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use poem_openapi::types::ToJSON;
    use serde_json::json;

    use super::super::{Execution, ExecutionList, Job, JobList};

    fn at(micros: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 5, 1, 2, 20, 0).unwrap() + chrono::Duration::microseconds(micros)
    }

    fn job(job_id: &str, filled: bool) -> Job {
        Job {
            job_id: job_id.to_owned(),
            job_name: filled.then(|| "It's \"quoted\" ✓".to_owned()),
            description: filled.then(|| "two\nlines 日本 </script>".to_owned()),
            func: "http".to_owned(),
            args: if filled {
                json!({"url": "http://x", "headers": {"a": "***"}, "n": [1, 2.5, null, true]})
            } else {
                serde_json::Value::Null
            },
            trigger: "cron".to_owned(),
            rule: "0 20 2 * * *".to_owned(),
            rule_description: filled.then(|| "at 02:20 every day (Europe/Berlin)".to_owned()),
            timezone: filled.then(|| "Europe/Berlin".to_owned()),
            start_at: filled.then(|| at(123_456)),
            end_at: filled.then(|| at(1_000)),
            next_run_time: filled.then(|| at(0)),
            is_paused: filled,
            is_running: !filled,
            run_right_now: filled,
            misfire_grace_s: 5,
            misfire_policy: "skip".to_owned(),
            overlap: "queue".to_owned(),
            max_instances: i32::MAX,
            timeout_s: filled.then_some(-1),
            max_retries: 3,
            retry_backoff: "exponential".to_owned(),
            retry_delay: "10s".to_owned(),
            child_jobs: filled.then(|| "a,b".to_owned()),
            alert_url: filled.then(|| "http://127.0.0.1:9/alert".to_owned()),
            version: i64::MAX,
            created_at: at(-1),
            updated_at: at(999_999),
            last_status: filled.then(|| "failed".to_owned()),
            last_error: filled.then(|| "boom: \"why\"\u{1}".to_owned()),
            running: u32::MAX,
            scheduled: !filled,
        }
    }

    fn execution(id: &str, filled: bool) -> Execution {
        Execution {
            id: id.to_owned(),
            job_id: "j".to_owned(),
            job_name: filled.then(|| "g".to_owned()),
            scheduled_for: at(0),
            started_at: filled.then(|| at(250)),
            finished_at: filled.then(|| at(1_500_000)),
            duration_ms: filled.then_some(1_500),
            status: "success".to_owned(),
            attempt: 1,
            output: filled.then(|| "out\n".to_owned()),
            error: filled.then(|| "e".to_owned()),
            node: None,
            trigger_source: "schedule".to_owned(),
            args: filled.then(|| serde_json::json!({"to": ["a", null], "n": 1.5})),
        }
    }

    /// What poem-openapi's `Json` writes and what `DirectJson` writes, as JSON values.
    fn both<T: ToJSON + serde::Serialize>(value: &T) -> (serde_json::Value, serde_json::Value) {
        let written: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(value).unwrap()).unwrap();
        (value.to_json().unwrap(), written)
    }

    #[test]
    fn pages_are_written_as_poem_openapi_writes_them() {
        let jobs = JobList {
            items: vec![job("full", true), job("empty", false)],
            total: u64::MAX,
            offset: 7,
            limit: 50,
        };
        let (expected, written) = both(&jobs);
        assert_eq!(written, expected);
        assert_eq!(written["items"][0]["start_at"], "2026-05-01T02:20:00.123456+00:00");
        assert_eq!(written["items"][1]["start_at"], serde_json::Value::Null);

        let runs = ExecutionList {
            items: vec![
                execution("a", true),
                execution("b", false),
                Execution {
                    args: Some(serde_json::Value::Null),
                    ..execution("c", false)
                },
            ],
            total: 2,
            total_exact: false,
            offset: 0,
            limit: 1_000,
        };
        let (expected, written) = both(&runs);
        assert_eq!(written, expected);
        assert!(written["items"][1].get("output").is_none(), "no output: no field");
        assert_eq!(written["items"][1]["node"], serde_json::Value::Null);
    }
}
