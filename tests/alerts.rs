//! Alert webhooks end to end: a failing job POSTs its failure to its own
//! `alert_url` or else to the scheduler's default webhook; a succeeding job
//! sends nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{executions, start_with, wait_until};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Path};
use poem::{EndpointExt, Route, Server, handler, post};
use ruqi::entity::job_info;
use ruqi::{AlertConfig, JobContext, Registry};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseConnection};
use serde_json::Value;
use tokio::sync::mpsc;

/// What a webhook received: the last segment of its path and the JSON body.
type Received = (String, Value);

/// A local webhook server that answers 200 to every `POST /{name}` and
/// hands what it received to the test.
struct Webhook {
    base: String,
    received: mpsc::UnboundedReceiver<Received>,
}

#[handler]
fn receive(
    Path(name): Path<String>,
    Json(body): Json<Value>,
    sent: Data<&mpsc::UnboundedSender<Received>>,
) -> StatusCode {
    let _ = sent.send((name, body));
    StatusCode::OK
}

impl Webhook {
    async fn start() -> Webhook {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let (sent, received) = mpsc::unbounded_channel();
        let app = Route::new().at("/:name", post(receive)).data(sent);
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Webhook {
            base: format!("http://{addr}"),
            received,
        }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// The next alert received, waiting up to 20 s for it.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.received.recv())
            .await
            .expect("no alert reached the webhook within 20 s")
            .unwrap()
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("succeeds", |_ctx: JobContext| async { Ok::<_, String>("fine") });
    r.register("fails", |_ctx: JobContext| async {
        Err::<(), _>("boom: the mail server said no")
    });
    r
}

fn job_alerting(job_id: &str, func: &str, alert_url: Option<String>) -> job_info::ActiveModel {
    job_info::ActiveModel {
        alert_url: Set(alert_url),
        ..job_info::ActiveModel::new_job(job_id, func, "interval", "1h")
    }
}

async fn ran(db: &DatabaseConnection, job_id: &str, status: &str) -> bool {
    executions(db, job_id).await.iter().any(|e| e.status == status)
}

async fn failures_alert_their_webhook_and_successes_do_not(db: DatabaseConnection) {
    let mut hook = Webhook::start().await;
    let alerts = AlertConfig {
        default_url: Some(hook.url("default")),
        initial_backoff: Duration::from_millis(20),
        ..Default::default()
    };
    let (scheduler, _clock) = start_with(&db, registry(), |b| b.alerts(alerts)).await.unwrap();
    job_alerting("fine", "succeeds", Some(hook.url("fine")))
        .insert(&db)
        .await
        .unwrap();
    job_alerting("broken", "fails", Some(hook.url("own")))
        .insert(&db)
        .await
        .unwrap();
    job_alerting("broken-too", "fails", None).insert(&db).await.unwrap();
    wait_until(&scheduler, "all three scheduled", || async {
        ["fine", "broken", "broken-too"]
            .iter()
            .all(|id| scheduler.live(id).is_some_and(|live| live.scheduled))
    })
    .await;

    scheduler.run_now("fine").await.unwrap();
    wait_until(&scheduler, "fine succeeded", || ran(&db, "fine", "success")).await;

    let execution_id = scheduler.run_now("broken").await.unwrap().unwrap();
    let (name, body) = hook.next().await;
    assert_eq!(name, "own", "a job's own alert_url wins: {body}");
    assert_eq!(body["event"], "failed");
    assert_eq!(body["job_id"], "broken");
    assert_eq!(body["execution_id"], execution_id.as_str());
    assert_eq!(body["error"], "boom: the mail server said no");
    assert_eq!(body["trigger_source"], "manual");
    assert_eq!(body["node"], "test-node");
    assert_eq!(body["sent_by"], "test-node");
    assert_eq!(
        body["summary"],
        "job broken failed: boom: the mail server said no (attempt 1)"
    );
    assert!(body["sent_at"].is_string());
    wait_until(&scheduler, "broken failed", || ran(&db, "broken", "failed")).await;
    assert_eq!(executions(&db, "broken").await[0].id, execution_id);

    scheduler.run_now("broken-too").await.unwrap();
    let (name, body) = hook.next().await;
    assert_eq!(name, "default", "a job without alert_url uses the default: {body}");
    assert_eq!(body["event"], "failed");
    assert_eq!(body["job_id"], "broken-too");

    // Both failures ran after `fine` had finished and were delivered; an
    // alert for `fine` would have been queued before them.
    let early: Vec<Received> = std::iter::from_fn(|| hook.received.try_recv().ok()).collect();
    assert!(early.is_empty(), "a success sent an alert: {early:?}");
}

backend_tests!(failures_alert_their_webhook_and_successes_do_not);
