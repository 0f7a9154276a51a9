//! `ruqi-server` as an XXL-JOB center for executors that follow XXL-JOB's
//! RESTful API by hand, on SQLite, PostgreSQL and MariaDB: a minimal
//! executor written here implements only `/run` and calls back to another
//! node than the one that sent the run; an app is given its addresses by
//! hand; a route that does not exist is refused; a run whose executor left
//! without calling back ends `lost`, runs again within its misfire grace,
//! and keeps a late result as a line of its output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

#[allow(dead_code, unreachable_pub)]
#[path = "common/pyxxl.rs"]
mod pyxxl;

#[allow(dead_code, unreachable_pub)]
#[macro_use]
#[path = "common/xxl_center.rs"]
mod xxl_center;

use std::sync::{Arc, Mutex};

use common::Backend;
use serde_json::{Value, json};
use server::free_port;
use xxl_center::{Center, dispatched_once, eventually_run, output_of};

per_backend!(a_restful_executor_calls_back_to_another_node);

/// A minimal executor following XXL-JOB's RESTful API: it serves only
/// `/run`, answers at once, and sends each result to `callback_to` a
/// moment later; the handler `silent` never calls back.
struct RestfulExecutor {
    address: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl RestfulExecutor {
    async fn start(callback_to: String) -> Self {
        use poem::web::Json;
        use poem::{EndpointExt, Route, handler, post};

        let received = Arc::new(Mutex::new(Vec::new()));
        let port = free_port();
        let seen = received.clone();
        #[handler]
        async fn run(
            Json(trigger): Json<Value>,
            poem::web::Data(state): poem::web::Data<&(String, Arc<Mutex<Vec<Value>>>)>,
        ) -> Json<Value> {
            let (callback_to, seen) = state.clone();
            seen.lock().unwrap().push(trigger.clone());
            if trigger["executorHandler"] != "silent" {
                tokio::spawn(async move {
                    let result = json!([{
                        "logId": trigger["logId"],
                        "logDateTim": trigger["logDateTime"],
                        "handleCode": 200,
                        "handleMsg": format!("done by a RESTful executor with {}", trigger["executorParams"]),
                    }]);
                    let answer = reqwest::Client::new().post(&callback_to).json(&result).send().await;
                    assert_eq!(answer.map(|a| a.status().as_u16()).ok(), Some(200));
                });
            }
            Json(json!({"code": 200, "msg": null}))
        }
        let app = Route::new().at("/run", post(run)).data((callback_to, seen));
        let listener = poem::listener::TcpListener::bind(format!("127.0.0.1:{port}"));
        let acceptor = poem::listener::Listener::into_acceptor(listener).await.unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self {
            address: format!("http://127.0.0.1:{port}"),
            received,
        }
    }
}

async fn a_restful_executor_calls_back_to_another_node(backend: Backend) {
    let Some(center) = Center::start(backend, &["--xxl-lost-after", "1s"]).await else {
        return;
    };
    let other = Center::node(&center.test_db, center.dir.path(), &[]).await;
    let executor = RestfulExecutor::start(format!("{}/xxl-job-admin/api/callback", other.base)).await;
    let registration =
        json!({"registryGroup": "EXECUTOR", "registryKey": "restful", "registryValue": executor.address});
    let (status, answer) = center
        .server
        .post("/xxl-job-admin/api/registry", registration.clone())
        .await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));

    // Sent by the first node, completed by a callback to the second.
    center
        .job(
            "restful",
            json!({"app": "restful", "handler": "report", "params": "p-1"}),
            json!({}),
        )
        .await;
    let run = center.ended(&center.start_run("restful").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert!(
        output_of(&run).ends_with("done by a RESTful executor with \"p-1\""),
        "{run}"
    );
    let (_, log_id) = dispatched_once(&run);
    let trigger = executor.received.lock().unwrap()[0].clone();
    assert_eq!(trigger["logId"], log_id);
    assert_eq!(trigger["executorHandler"], "report");
    assert_eq!(trigger["executorBlockStrategy"], "SERIAL_EXECUTION");
    assert_eq!(trigger["glueType"], "BEAN");
    assert_eq!(
        (trigger["broadcastIndex"].clone(), trigger["broadcastTotal"].clone()),
        (json!(0), json!(1))
    );

    // The job keeps its jobId; every dispatch has a new logId.
    let again = center.ended(&center.start_run("restful").await).await;
    let second = executor.received.lock().unwrap()[1].clone();
    assert_eq!(second["jobId"], trigger["jobId"]);
    assert!(dispatched_once(&again).1 > log_id, "{again}");

    // Addresses given by hand serve an app whose executors do not register.
    let (status, refused) = center
        .server
        .call(
            reqwest::Method::PUT,
            "/api/executors/by-hand/addresses",
            None,
            Some(json!({"addresses": ["10.0.0.1:9999"]})),
        )
        .await;
    assert_eq!(
        (status, refused["field"].clone()),
        (422, json!("addresses/0")),
        "{refused}"
    );
    let (status, app) = center
        .server
        .call(
            reqwest::Method::PUT,
            "/api/executors/by-hand/addresses",
            None,
            Some(json!({"addresses": [format!("{}/", executor.address)]})),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["manual_addresses"], json!([executor.address]));
    center
        .job("by-hand", json!({"app": "by-hand", "handler": "report"}), json!({}))
        .await;
    let run = center.ended(&center.start_run("by-hand").await).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(dispatched_once(&run).0, executor.address);
    let (status, _) = center
        .server
        .call(reqwest::Method::DELETE, "/api/executors/by-hand/addresses", None, None)
        .await;
    assert_eq!(status, 204);
    let (_, apps) = center.server.get("/api/executors").await;
    assert!(apps.as_array().unwrap().iter().all(|a| a["app"] != "by-hand"), "{apps}");

    // A route that does not exist is refused when the job is written.
    let (status, refused) = center
        .server
        .post(
            "/api/jobs",
            json!({"job_id": "nearest", "func": "xxl", "trigger": "interval", "rule": "1h",
                   "args": {"app": "restful", "handler": "report", "route": "NEAREST"}}),
        )
        .await;
    assert_eq!(
        (status, refused["field"].clone()),
        (422, json!("args/route")),
        "{refused}"
    );
    let (status, _) = center.server.get("/api/jobs/nearest").await;
    assert_eq!(status, 404);

    // A run whose executor leaves without calling back is lost after
    // --xxl-lost-after, and runs again within its misfire grace (5 s) as any
    // lost run does: here to no executor at all.
    center
        .job("silent", json!({"app": "restful", "handler": "silent"}), json!({}))
        .await;
    let id = center.start_run("silent").await;
    center.log_shows(&id, "took the run").await;
    let (status, _) = center
        .server
        .post("/xxl-job-admin/api/registryRemove", registration)
        .await;
    assert_eq!(status, 200);
    let run = center.ended(&id).await;
    assert_eq!(run["status"], "lost", "{run}");
    assert!(run["error"].as_str().unwrap().contains("result lost"), "{run}");
    let rerun = eventually_run(&center, "silent", 2).await;
    assert_eq!(
        (rerun["trigger_source"].clone(), rerun["status"].clone()),
        (json!("retry"), json!("failed")),
        "{rerun}"
    );
    assert!(
        rerun["error"]
            .as_str()
            .unwrap()
            .contains("no live executor of app `restful`"),
        "{rerun}"
    );

    // The executor comes back and calls back late: the lost run stays
    // lost, and keeps the result as a line of its output.
    let (_, log_id) = dispatched_once(&run);
    let late = json!([{"logId": log_id, "handleCode": 200, "handleMsg": "finished after all"}]);
    let (status, answer) = center.server.post("/xxl-job-admin/api/callback", late).await;
    assert_eq!((status, answer["code"].clone()), (200, json!(200)));
    let (_, after) = center.server.get(&format!("/api/executions/{id}")).await;
    assert_eq!(after["status"], "lost", "{after}");
    assert!(
        output_of(&after).ends_with(&format!(
            "late result from the executor (logId {log_id}): handleCode 200: finished after all"
        )),
        "{after}"
    );

    // A job of an app with no live executor fails at once, saying why.
    let run = center.ended(&center.start_run("restful").await).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("no live executor of app `restful`"),
        "{run}"
    );

    drop(other);
    center.finish().await;
}
