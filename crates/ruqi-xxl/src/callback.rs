//! `POST callback`: the results of runs. XXL-JOB 2.x to 3.4 send a list of
//! `{"logId","logDateTim","handleCode","handleMsg"}` (`logDateTim` sic);
//! 3.5 sends `{"callbackList":[…]}` with `logDateTime`. `handleMsg` may be
//! any JSON value (pyxxl sends a handler's return value as it is), and
//! unknown keys are allowed.
//!
//! ruqi dispatches no runs to executors yet, so every `logId` is unknown:
//! each item is checked, logged and ignored, and the answer is code 200.
//! An executor answered with anything else sends the result again, as a
//! failure.

use poem::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::envelope::{ILLEGAL_ARGUMENT, failure, success};

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

/// Acknowledges the results; a malformed body is refused.
pub(crate) fn callback(body: &[u8]) -> Response {
    let Some(items) = items(body) else {
        return failure(ILLEGAL_ARGUMENT);
    };
    for item in &items {
        tracing::debug!(
            log_id = item.log_id,
            log_date_time = item.log_date_tim,
            handle_code = item.handle_code,
            handle_msg = %item.handle_msg,
            "callback for a run this center does not know; ignored"
        );
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
