//! `POST registry` (an executor's beat: sent at its start, then every 10 s
//! by pyxxl or 30 s by the Java executor) and `POST registryRemove` (sent
//! once at an orderly shutdown). Both take
//! `{"registryGroup":"EXECUTOR","registryKey":<app>,"registryValue":<address>}`.

use chrono::Utc;
use poem::Response;
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use crate::envelope::{ILLEGAL_ARGUMENT, failure, success};

/// The only registry group executors use.
const EXECUTOR_GROUP: &str = "EXECUTOR";

/// A registry request, as every executor version spells it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryRequest {
    #[serde(default)]
    registry_group: Option<String>,
    #[serde(default)]
    registry_key: Option<String>,
    #[serde(default)]
    registry_value: Option<String>,
}

/// The app name and address of a well-formed request; `None` when a field
/// is missing or blank, or the group is not `EXECUTOR`.
fn app_and_address(body: &[u8]) -> Option<(String, String)> {
    let request: RegistryRequest = serde_json::from_slice(body).ok()?;
    let group = request.registry_group?;
    let app = request.registry_key?;
    let address = request.registry_value?;
    let blank = |s: &str| s.trim().is_empty();
    if group.trim() != EXECUTOR_GROUP || blank(&app) || blank(address.trim().trim_end_matches('/')) {
        return None;
    }
    Some((app, address))
}

/// Records the beat; a malformed request writes nothing.
pub(crate) async fn registry(db: &DatabaseConnection, body: &[u8]) -> Response {
    let Some((app, address)) = app_and_address(body) else {
        return failure(ILLEGAL_ARGUMENT);
    };
    match ruqi::query::beat_executor(db, &app, &address, Utc::now()).await {
        Ok(()) => {
            tracing::debug!(app, address, "executor beat");
            success()
        }
        Err(error) => refused(&app, &address, &error),
    }
}

/// Takes the address out of the registry; a malformed request writes nothing.
pub(crate) async fn registry_remove(db: &DatabaseConnection, body: &[u8]) -> Response {
    let Some((app, address)) = app_and_address(body) else {
        return failure(ILLEGAL_ARGUMENT);
    };
    match ruqi::query::remove_executor(db, &app, &address).await {
        Ok(removed) => {
            tracing::info!(app, address, removed, "executor left the registry");
            success()
        }
        Err(error) => refused(&app, &address, &error),
    }
}

fn refused(app: &str, address: &str, error: &ruqi::Error) -> Response {
    match error {
        ruqi::Error::Invalid(field) => failure(&format!("{ILLEGAL_ARGUMENT} {field}")),
        other => {
            tracing::warn!(app, address, error = %other, "the executor registry could not be written");
            failure("the executor registry could not be written; see the center's log")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_requests_give_app_and_address() {
        let body = br#"{"registryGroup":"EXECUTOR","registryKey":"app","registryValue":"http://a:1/"}"#;
        assert_eq!(app_and_address(body), Some(("app".into(), "http://a:1/".into())));
    }

    #[test]
    fn missing_blank_or_odd_fields_are_refused() {
        for body in [
            &br#"{"registryKey":"app","registryValue":"http://a:1"}"#[..],
            br#"{"registryGroup":"EXECUTOR","registryKey":" ","registryValue":"http://a:1"}"#,
            br#"{"registryGroup":"EXECUTOR","registryKey":"app","registryValue":"/"}"#,
            br#"{"registryGroup":"ADMIN","registryKey":"app","registryValue":"http://a:1"}"#,
            br#"{"registryGroup":"EXECUTOR","registryKey":7,"registryValue":"http://a:1"}"#,
            br#"[]"#,
            b"not json",
        ] {
            assert_eq!(app_and_address(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
