//! XXL-JOB executors registering with `ruqi-server` as their users run it:
//! the executor API at `/xxl-job-admin/api` (or `--xxl-prefix`), its access
//! token, requests as executors send them passing the server's request rules
//! (`Content-Type: application/json;charset=UTF-8`, the `Host` of the
//! server's address), and the live executors in `GET /api/executors`.
//!
//! One test runs a real pyxxl executor (version 0.4.8) with the
//! Python named by `RUQI_TEST_PYXXL_PYTHON`; `.ci/run` installs pyxxl in a
//! virtual environment and sets the variable. Without it that test says so
//! and passes, except with `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

#[allow(dead_code, unreachable_pub)]
#[path = "common/pyxxl.rs"]
mod pyxxl;

use pyxxl::{Executor, eventually, live_addresses, pyxxl_python};
use serde_json::{Value, json};
use server::{ServerProcess, free_port};

const TOKEN: &str = "executor-token";

/// POSTs `body` to the executor API as executors do; returns the envelope.
async fn post_as_executor(server: &ServerProcess, path: &str, token: Option<&str>, body: &Value) -> Value {
    let mut request = server
        .http
        .post(format!("{}{path}", server.base))
        .header("Content-Type", "application/json;charset=UTF-8")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("XXL-JOB-ACCESS-TOKEN", token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.unwrap()
}

fn registration(app: &str, address: &str) -> Value {
    json!({"registryGroup": "EXECUTOR", "registryKey": app, "registryValue": address})
}

#[tokio::test]
async fn executors_register_and_leave_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // No admin token: the Host rule applies to executors too, and passes.
    let server = ServerProcess::start(dir.path(), &["--xxl-access-token", TOKEN], &[]).await;
    let registry = "/xxl-job-admin/api/registry";
    let ok = json!({"code": 200, "msg": null, "content": null, "data": null});

    let wrong = post_as_executor(
        &server,
        registry,
        Some("guess"),
        &registration("billing", "http://10.0.0.1:9999/"),
    )
    .await;
    assert_eq!(wrong["code"], 500);
    assert_eq!(wrong["msg"], "The access token is wrong.");
    assert!(live_addresses(&server, "billing").await.is_empty());

    for address in ["http://10.0.0.1:9999/", "http://10.0.0.1:9999"] {
        let answer = post_as_executor(&server, registry, Some(TOKEN), &registration("billing", address)).await;
        assert_eq!(answer, ok);
    }
    assert_eq!(live_addresses(&server, "billing").await, ["http://10.0.0.1:9999"]);

    let blank = post_as_executor(
        &server,
        registry,
        Some(TOKEN),
        &registration("", "http://10.0.0.2:9999"),
    )
    .await;
    assert_eq!(blank["msg"], "Illegal Argument.");

    let callback = json!([{"logId": 1, "logDateTim": 1_700_000_000_000_i64, "handleCode": 200, "handleMsg": "done"}]);
    assert_eq!(
        post_as_executor(&server, "/xxl-job-admin/api/callback", Some(TOKEN), &callback).await,
        ok
    );

    let remove = "/xxl-job-admin/api/registryRemove";
    let answer = post_as_executor(
        &server,
        remove,
        Some(TOKEN),
        &registration("billing", "http://10.0.0.1:9999/"),
    )
    .await;
    assert_eq!(answer, ok);
    assert!(live_addresses(&server, "billing").await.is_empty());
}

#[tokio::test]
async fn the_prefix_can_be_moved() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[], &[("RUQI_XXL_PREFIX", "/center/api/")]).await;
    let answer = post_as_executor(
        &server,
        "/center/api/registry",
        None,
        &registration("billing", "http://10.0.0.1:9999"),
    )
    .await;
    assert_eq!(answer["code"], 200, "{answer}");
    assert_eq!(live_addresses(&server, "billing").await, ["http://10.0.0.1:9999"]);
    let (status, _) = server.post("/xxl-job-admin/api/registry", json!({})).await;
    assert_eq!(status, 404, "the default prefix is not served when another is given");
}

#[tokio::test]
async fn a_pyxxl_executor_registers_and_leaves() {
    let Some(python) = pyxxl_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--xxl-access-token", TOKEN], &[]).await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let base_url = format!("{}/xxl-job-admin/api/", server.base);
    let mut executor = Executor::start(&python, dir.path(), &base_url, port, "pyxxl-demo", TOKEN);

    eventually(&server, "pyxxl registered", async || {
        live_addresses(&server, "pyxxl-demo").await == [address.clone()]
    })
    .await;

    executor.terminate().await;
    assert!(
        live_addresses(&server, "pyxxl-demo").await.is_empty(),
        "registryRemove takes it out at once:\n{}",
        executor.output()
    );
}
