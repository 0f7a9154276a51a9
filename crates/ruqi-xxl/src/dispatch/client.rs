//! Calls from the center to an executor: `POST {address}/beat`,
//! `/idleBeat`, `/run`, `/kill` and `/log`, JSON in and out, with the
//! access token. Executors answer with XXL-JOB's envelope; the Java one
//! labels it `text/html`, so the body is read as JSON whatever its type.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::token::TOKEN_HEADER;

/// How long a call may take: xxl-job-admin's default.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How long `/kill` may take: pyxxl answers only once the killed run has
/// called back.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// An executor's answer: code 200 or a failure with its message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) code: i64,
    pub(crate) msg: Option<String>,
    /// The payload, from `data` (3.3+) or `content` (earlier).
    pub(crate) payload: Value,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        self.code == 200
    }

    /// `code 200` or `code 500: <msg>`, for the run's log.
    pub(crate) fn describe(&self) -> String {
        match &self.msg {
            Some(msg) if !msg.is_empty() => format!("code {}: {msg}", self.code),
            _ => format!("code {}", self.code),
        }
    }
}

/// The twelve fields of `/run`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Trigger<'a> {
    pub(crate) job_id: i32,
    pub(crate) executor_handler: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) executor_params: Option<&'a str>,
    pub(crate) executor_block_strategy: &'a str,
    pub(crate) executor_timeout: u64,
    pub(crate) log_id: i64,
    pub(crate) log_date_time: i64,
    pub(crate) glue_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) glue_source: Option<&'a str>,
    pub(crate) glue_updatetime: i64,
    pub(crate) broadcast_index: u32,
    pub(crate) broadcast_total: u32,
}

/// A page of an executor's log for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct LogPage {
    pub(crate) from_line_num: i64,
    pub(crate) to_line_num: i64,
    pub(crate) log_content: Option<String>,
    pub(crate) is_end: bool,
}

/// The HTTP client executors are called with.
#[derive(Debug, Clone)]
pub(crate) struct ExecutorClient {
    http: reqwest::Client,
    access_token: Option<String>,
}

impl ExecutorClient {
    pub(crate) fn new(access_token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { http, access_token }
    }

    /// `POST {address}/beat`: whether it is up.
    pub(crate) async fn beat(&self, address: &str) -> Result<Answer, String> {
        self.call(address, "beat", &Value::Null, CALL_TIMEOUT).await
    }

    /// `POST {address}/idleBeat`: whether job `job_id` is idle there.
    pub(crate) async fn idle_beat(&self, address: &str, job_id: i32) -> Result<Answer, String> {
        self.call(address, "idleBeat", &json!({ "jobId": job_id }), CALL_TIMEOUT)
            .await
    }

    /// `POST {address}/run`.
    pub(crate) async fn run(&self, address: &str, trigger: &Trigger<'_>) -> Result<Answer, String> {
        let body = serde_json::to_value(trigger).map_err(|e| e.to_string())?;
        self.call(address, "run", &body, CALL_TIMEOUT).await
    }

    /// `POST {address}/kill`: stops job `job_id` there.
    pub(crate) async fn kill(&self, address: &str, job_id: i32) -> Result<Answer, String> {
        self.call(address, "kill", &json!({ "jobId": job_id }), KILL_TIMEOUT)
            .await
    }

    /// `POST {address}/log`: run `log_id`'s log from line `from_line` (1-based).
    pub(crate) async fn log(
        &self,
        address: &str,
        log_id: i64,
        log_date_time: i64,
        from_line: i64,
    ) -> Result<LogPage, String> {
        let body = json!({
            "logId": log_id,
            "logDateTim": log_date_time,
            "logDateTime": log_date_time,
            "fromLineNum": from_line,
        });
        let answer = self.call(address, "log", &body, CALL_TIMEOUT).await?;
        if !answer.ok() {
            return Err(answer.describe());
        }
        serde_json::from_value(answer.payload).map_err(|e| format!("an unreadable log page: {e}"))
    }

    async fn call(&self, address: &str, path: &str, body: &Value, timeout: Duration) -> Result<Answer, String> {
        let url = format!("{}/{path}", address.trim_end_matches('/'));
        let mut request = self.http.post(&url).timeout(timeout).json(body);
        if let Some(token) = &self.access_token {
            request = request.header(TOKEN_HEADER, token);
        }
        let response = request.send().await.map_err(|e| describe_error(&url, &e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| describe_error(&url, &e))?;
        if !status.is_success() {
            return Err(format!("{url} answered HTTP {}", status.as_u16()));
        }
        read_answer(&bytes).ok_or_else(|| format!("{url} answered something other than XXL-JOB's envelope"))
    }
}

fn describe_error(url: &str, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("{url} did not answer in time")
    } else if error.is_connect() {
        format!("{url} could not be reached")
    } else {
        format!("{url}: {error}")
    }
}

/// Reads `{"code", "msg", "content" | "data"}`.
fn read_answer(bytes: &[u8]) -> Option<Answer> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let code = value.get("code")?.as_i64()?;
    let msg = match value.get("msg") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let payload = match value.get("data") {
        Some(data) if !data.is_null() => data.clone(),
        _ => value.get("content").cloned().unwrap_or(Value::Null),
    };
    Some(Answer { code, msg, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_envelopes_are_read() {
        let old = read_answer(
            br#"{"code":200,"msg":null,"content":{"fromLineNum":1,"toLineNum":2,"logContent":"a\nb","isEnd":false}}"#,
        )
        .unwrap();
        let new = read_answer(
            br#"{"code":200,"data":{"fromLineNum":1,"toLineNum":2,"logContent":"a\nb","isEnd":false},"content":null}"#,
        )
        .unwrap();
        assert_eq!(old.payload, new.payload);
        let refused = read_answer(br#"{"code":500,"msg":"handler x not found."}"#).unwrap();
        assert!(!refused.ok());
        assert_eq!(refused.describe(), "code 500: handler x not found.");
        assert!(read_answer(b"<html>").is_none());
    }

    #[test]
    fn a_trigger_has_the_protocols_names() {
        let trigger = Trigger {
            job_id: 3,
            executor_handler: "h",
            executor_params: None,
            executor_block_strategy: "SERIAL_EXECUTION",
            executor_timeout: 0,
            log_id: 9,
            log_date_time: 1,
            glue_type: "BEAN",
            glue_source: None,
            glue_updatetime: 1,
            broadcast_index: 0,
            broadcast_total: 1,
        };
        let value = serde_json::to_value(&trigger).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 10, "{keys:?}");
        for key in [
            "jobId",
            "executorHandler",
            "executorBlockStrategy",
            "executorTimeout",
            "logId",
            "logDateTime",
            "glueType",
            "glueUpdatetime",
            "broadcastIndex",
            "broadcastTotal",
        ] {
            assert!(keys.contains(&key), "{key}");
        }
    }
}
