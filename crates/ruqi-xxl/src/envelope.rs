//! The answer envelope every executor parses: HTTP 200 and
//! `Content-Type: application/json` whatever happened (pyxxl refuses any
//! other content type), `code` 200 for success and 500 for failure. The
//! payload goes under both `content` (XXL-JOB 2.x to 3.2) and `data` (3.3
//! and later), so each version finds it where it looks.

use poem::Response;
use poem::http::StatusCode;
use serde_json::json;

/// The code of a success.
pub(crate) const SUCCESS_CODE: u16 = 200;

/// The code of a failure.
pub(crate) const FAILURE_CODE: u16 = 500;

/// The message of a request whose fields are missing, blank or malformed.
pub(crate) const ILLEGAL_ARGUMENT: &str = "Illegal Argument.";

/// `{"code":200,"msg":null,"content":null,"data":null}`.
pub(crate) fn success() -> Response {
    envelope(SUCCESS_CODE, None)
}

/// `{"code":500,"msg":<msg>,"content":null,"data":null}`.
pub(crate) fn failure(msg: &str) -> Response {
    envelope(FAILURE_CODE, Some(msg))
}

fn envelope(code: u16, msg: Option<&str>) -> Response {
    let body = json!({ "code": code, "msg": msg, "content": null, "data": null });
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_payload_keys_are_present() {
        let body = failure("nope").into_body().into_string().await.unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(
            value,
            json!({"code": 500, "msg": "nope", "content": null, "data": null})
        );
    }
}
