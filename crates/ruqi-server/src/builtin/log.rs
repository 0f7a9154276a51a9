//! `log`: writes the job's args to its output and to the server's log; for trying things out.

use ruqi::JobContext;
use serde_json::Value;

/// Writes `args` as one line to the execution's output and as a `tracing` info event, and
/// returns that line.
///
/// A string without line breaks is written as it is; anything else as compact JSON, so the
/// line is always one line.
///
/// ```
/// use ruqi::registry::{JobContext, LogSink, RunInfo};
/// use ruqi::TriggerSource;
///
/// let log = LogSink::new();
/// let ctx = JobContext::new(
///     RunInfo {
///         job_id: "try".into(),
///         execution_id: "1".into(),
///         scheduled_for: Default::default(),
///         attempt: 1,
///         trigger_source: TriggerSource::Manual,
///         timeout: None,
///         args: serde_json::json!(null).into(),
///     },
///     Default::default(),
///     log.clone(),
/// );
/// let line = ruqi_server::builtin::run_log(&ctx, &serde_json::json!({"hello": "world"}));
/// assert_eq!(line, r#"{"hello":"world"}"#);
/// assert_eq!(log.contents(), "{\"hello\":\"world\"}\n");
/// ```
pub fn run_log(ctx: &JobContext, args: &Value) -> String {
    let line = log_line(args);
    tracing::info!(job_id = ctx.job_id(), execution_id = ctx.execution_id(), "{line}");
    ctx.log(&line);
    line
}

fn log_line(args: &Value) -> String {
    match args {
        Value::String(text) if !text.contains(['\n', '\r']) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_written_as_they_are_and_the_rest_as_json() {
        assert_eq!(log_line(&json!("hello")), "hello");
        assert_eq!(log_line(&json!("two\nlines")), r#""two\nlines""#);
        assert_eq!(log_line(&json!({"a": [1, 2]})), r#"{"a":[1,2]}"#);
        assert_eq!(log_line(&json!(null)), "null");
        assert_eq!(log_line(&json!(3.5)), "3.5");
    }
}
