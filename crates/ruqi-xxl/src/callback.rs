//! `POST callback`: the results of runs. XXL-JOB 2.x to 3.4 send a list of
//! `{"logId","logDateTim","handleCode","handleMsg"}` (`logDateTim` sic);
//! 3.5 sends `{"callbackList":[…]}` with `logDateTime`. `handleMsg` may be
//! any JSON value (pyxxl sends a handler's return value as it is), and
//! unknown keys are allowed.
//!
//! Each result is written to its dispatch row (`xxl_dispatch`), whichever
//! node sent the run, and wakes the run if it waits on this node; a run
//! waiting on another node reads the row. A result for an unknown `logId`
//! or for a run that already has one (a repeated callback, a run the
//! center stopped or gave up on) is logged and ignored — a run that has
//! ended keeps it as a line of its output —, and the answer is
//! still code 200: an executor answered with anything else sends the
//! result again, as a failure. Only when the database cannot be written
//! is the answer a failure, so that an executor that keeps results (the
//! Java one) sends them again later.

use std::collections::HashSet;

use chrono::Utc;
use poem::Response;
use ruqi::query::{DispatchResult, complete_dispatches, dispatches_of_ended_runs, note_on_ended_run};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::Value;

use crate::dispatch::Waiters;
use crate::envelope::{ILLEGAL_ARGUMENT, failure, success};

/// The answer when a result could not be written.
const NOT_RECORDED: &str = "the result could not be recorded; send it again later.";

/// One run result.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallbackItem {
    log_id: i64,
    #[serde(default, alias = "logDateTime")]
    log_date_tim: Option<i64>,
    handle_code: i64,
    #[serde(default)]
    handle_msg: Value,
}

/// The body in either shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CallbackBody {
    List(Vec<CallbackItem>),
    Wrapped {
        #[serde(rename = "callbackList")]
        callback_list: Vec<CallbackItem>,
    },
}

/// The items of a well-formed body; `None` when it is not one.
fn items(body: &[u8]) -> Option<Vec<CallbackItem>> {
    match serde_json::from_slice::<CallbackBody>(body).ok()? {
        CallbackBody::List(items) | CallbackBody::Wrapped { callback_list: items } => Some(items),
    }
}

impl CallbackItem {
    /// The result as recorded: `handleMsg` as text (JSON unless it is a string).
    fn result(&self) -> DispatchResult {
        let message = match &self.handle_msg {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        };
        DispatchResult {
            code: i32::try_from(self.handle_code).unwrap_or(i32::MAX),
            message,
        }
    }
}

/// Records the results; a malformed body is refused and changes nothing.
///
/// The results are written together (a Java executor sends all it has in one list, thousands
/// after an outage), then handed to the runs waiting here; a result that no run here took
/// and whose run has ended is noted on that run's row.
pub(crate) async fn callback(db: &DatabaseConnection, waiters: &Waiters, body: &[u8]) -> Response {
    let Some(items) = items(body) else {
        return failure(ILLEGAL_ARGUMENT);
    };
    let results: Vec<(i64, DispatchResult)> = items.iter().map(|item| (item.log_id, item.result())).collect();
    let written: HashSet<i64> = match complete_dispatches(db, &results, Utc::now()).await {
        Ok(written) => written.into_iter().collect(),
        Err(error) => {
            tracing::warn!(results = items.len(), %error, "recording run results failed");
            return failure(NOT_RECORDED);
        }
    };
    let mut elsewhere = Vec::new();
    for (item, (log_id, result)) in items.iter().zip(results) {
        if written.contains(&log_id) {
            tracing::debug!(log_id, handle_code = item.handle_code, "run result recorded");
            if waiters.deliver(log_id, result) {
                continue;
            }
        } else {
            tracing::info!(
                log_id,
                log_date_time = item.log_date_tim,
                handle_code = item.handle_code,
                handle_msg = %item.handle_msg,
                "a result for an unknown run or one that has ended; ignored"
            );
        }
        elsewhere.push(item);
    }
    if elsewhere.is_empty() {
        return success();
    }
    // A run that has ended already (lost, stopped, or its node gone) keeps the late result
    // as a line of its output.
    let ids: Vec<i64> = elsewhere.iter().map(|item| item.log_id).collect();
    let ended: HashSet<i64> = match dispatches_of_ended_runs(db, &ids).await {
        Ok(ended) => ended.into_iter().collect(),
        Err(error) => {
            tracing::warn!(%error, "reading which runs of late results have ended failed");
            HashSet::new()
        }
    };
    for item in elsewhere.into_iter().filter(|item| ended.contains(&item.log_id)) {
        let note = format!(
            "late result from the executor (logId {}): handleCode {}: {}",
            item.log_id,
            item.handle_code,
            item.result().message.unwrap_or_default()
        );
        if let Err(error) = note_on_ended_run(db, item.log_id, &note).await {
            tracing::warn!(log_id = item.log_id, %error, "noting a late result on its run failed");
        }
    }
    success()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_and_loose_items_are_read() {
        let list = br#"[{"logId":7,"logDateTim":1700000000000,"handleCode":200,"handleMsg":{"a":1},"executeResult":{"code":200}}]"#;
        assert_eq!(items(list).map(|i| i.len()), Some(1));
        let wrapped =
            br#"{"callbackList":[{"logId":7,"logDateTime":1,"handleCode":500},{"logId":8,"handleCode":200}]}"#;
        let read = items(wrapped).unwrap_or_default();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].log_date_tim, Some(1));
        assert_eq!(items(b"[]").map(|i| i.len()), Some(0));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &br#"[{"handleCode":200}]"#[..],
            br#"[{"logId":"seven","handleCode":200}]"#,
            br#"{"logId":7,"handleCode":200}"#,
            br#"{"callbackList":null}"#,
            b"",
        ] {
            assert!(items(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }
}
