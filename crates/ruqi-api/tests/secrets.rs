//! Secret arguments over real HTTP: an application's own function marks an
//! argument secret in its schema (`"x-ruqi-secret": true`); a read-only token
//! sees its value as `"***"` in every job answer, the admin scope sees and
//! edits it in full, and an edit that leaves `args` alone keeps it.

mod common;

use common::{READ, TestApi, job};
use reqwest::Method;
use ruqi_api::Auth;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const ACCESS_KEY: &str = "AKIA-for-admins-only";

fn upload_job() -> Value {
    json!({
        "job_id": "nightly-upload", "func": "upload", "trigger": "cron", "rule": "0 3 * * *",
        "args": {"bucket": "backups", "access_key": ACCESS_KEY, "tags": ["db", "files"]},
    })
}

/// The args as a reader with the read scope must see them.
fn redacted_args() -> Value {
    json!({"bucket": "backups", "access_key": "***", "tags": ["db", "files"]})
}

#[tokio::test]
async fn a_read_token_sees_the_secret_argument_of_an_application_function_redacted() {
    let api = TestApi::start().await;
    let created = api.create(upload_job()).await;
    assert_eq!(
        created["args"]["access_key"], ACCESS_KEY,
        "the admin who wrote it reads it back"
    );

    let one = api.call(Method::GET, "/jobs/nightly-upload", Some(READ), None).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body["args"], redacted_args());
    let list = api.call(Method::GET, "/jobs", Some(READ), None).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["items"][0]["args"], redacted_args());
    let filtered = api
        .call(Method::GET, "/jobs?func=upload&text=nightly", Some(READ), None)
        .await;
    assert_eq!(filtered.body["items"][0]["args"], redacted_args());
    for answer in [&one, &list, &filtered] {
        assert!(!answer.body.to_string().contains(ACCESS_KEY), "{answer:?}");
    }

    let admin = api.get("/jobs/nightly-upload").await;
    assert_eq!(admin.body["args"]["access_key"], ACCESS_KEY);
    let admin_list = api.get("/jobs").await;
    assert_eq!(admin_list.body["items"][0]["args"]["access_key"], ACCESS_KEY);

    // The schema clients read says which argument is secret.
    let functions = api.call(Method::GET, "/functions", Some(READ), None).await;
    let upload = functions
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "upload")
        .unwrap();
    assert_eq!(
        upload["args_schema"]["properties"]["access_key"]["x-ruqi-secret"], true,
        "{upload}"
    );
}

#[tokio::test]
async fn the_admin_edits_secret_arguments_and_an_edit_without_args_keeps_them() {
    let api = TestApi::start().await;
    api.create(upload_job()).await;
    let stored_args = || async {
        let row = api
            .rows()
            .await
            .into_iter()
            .find(|r| r.job_id == "nightly-upload")
            .unwrap();
        serde_json::from_str::<Value>(row.args.as_deref().unwrap()).unwrap()
    };

    let patched = api
        .patch(
            "/jobs/nightly-upload",
            json!({"description": "moved to 04:00", "rule": "0 4 * * *"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["args"]["access_key"], ACCESS_KEY);
    assert_eq!(
        stored_args().await["access_key"],
        ACCESS_KEY,
        "the key survives an edit of other fields"
    );

    let patched = api
        .patch(
            "/jobs/nightly-upload",
            json!({"args": {"bucket": "archive", "access_key": "rotated-key"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(
        stored_args().await,
        json!({"bucket": "archive", "access_key": "rotated-key"})
    );
    let read = api.call(Method::GET, "/jobs/nightly-upload", Some(READ), None).await;
    assert_eq!(read.body["args"], json!({"bucket": "archive", "access_key": "***"}));

    // A token with the read scope cannot write the marker back over the key.
    let refused = api
        .call(
            Method::PATCH,
            "/jobs/nightly-upload",
            Some(READ),
            Some(json!({"args": read.body["args"].clone()})),
        )
        .await;
    refused.assert_error(403, "forbidden", None);
    assert_eq!(stored_args().await["access_key"], "rotated-key");

    let mut replacement = upload_job();
    replacement["args"]["access_key"] = json!("replaced-key");
    let replaced = api.put("/jobs/nightly-upload", replacement).await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_eq!(stored_args().await["access_key"], "replaced-key");
}

#[tokio::test]
async fn refused_secret_arguments_are_not_quoted() {
    let api = TestApi::start().await;
    let mut bad = upload_job();
    bad["args"]["access_key"] = json!(424242);
    let refused = api.post("/jobs", bad).await;
    refused.assert_error(422, "invalid", Some("args/access_key"));
    assert!(!refused.body.to_string().contains("424242"), "{refused:?}");
    assert!(api.rows().await.is_empty());

    // A row edited by hand whose secret no longer fits: `last_error`, which
    // the read scope sees, names the argument without quoting it.
    api.create(upload_job()).await;
    api.db
        .execute_unprepared(
            r#"UPDATE job_info SET args = '{"bucket": "backups", "access_key": 777777}' WHERE job_id = 'nightly-upload'"#,
        )
        .await
        .unwrap();
    api.scheduler.reconcile().await.unwrap();
    let read = api.call(Method::GET, "/jobs/nightly-upload", Some(READ), None).await;
    let last_error = read.body["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("args/access_key"), "{read:?}");
    assert!(!read.body.to_string().contains("777777"), "{read:?}");
    assert_eq!(read.body["args"], json!({"bucket": "backups", "access_key": "***"}));
}

#[tokio::test]
async fn the_args_of_a_function_this_process_does_not_know_are_masked_for_readers() {
    let api = TestApi::start().await;
    api.create(job("retired")).await;
    api.db
        .execute_unprepared(
            r#"UPDATE job_info SET func = 'retired_fn', args = '{"token": "t-secret", "n": [1]}' WHERE job_id = 'retired'"#,
        )
        .await
        .unwrap();
    api.scheduler.reconcile().await.unwrap();
    let read = api.call(Method::GET, "/jobs/retired", Some(READ), None).await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(
        read.body["args"],
        json!({"token": "***", "n": ["***"]}),
        "keys stay, values go"
    );
    assert!(!read.body.to_string().contains("t-secret"), "{read:?}");
    assert_eq!(api.get("/jobs/retired").await.body["args"]["token"], "t-secret");
}

#[tokio::test]
async fn without_token_checks_every_caller_is_admin_and_sees_secrets() {
    let api = TestApi::start_with(Auth::disabled(), common::PREFIX).await;
    api.create(upload_job()).await;
    let open = api.call(Method::GET, "/jobs/nightly-upload", None, None).await;
    assert_eq!(open.body["args"]["access_key"], ACCESS_KEY, "{open:?}");
}
