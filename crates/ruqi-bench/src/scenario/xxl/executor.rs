//! The benchmark's own XXL-JOB executors: as little as the protocol asks,
//! so that what is timed is the center.
//!
//! A child process serves [`ExecutorConfig::executors`] executors, each on a
//! loopback port of its own, and registers each with the center (`registry`,
//! again every 30 s as the Java executor beats). Each answers
//!
//! - `/run` with code 200 at once, after noting the instant its handler
//!   began and the trigger's `logId` and `jobId`; the run's success then
//!   goes to the executor's callback queue;
//! - `/log` with an empty, finished page; `/beat`, `/idleBeat` and `/kill`
//!   with code 200; each call counted.
//!
//! Each executor has one callback task, as the Java executor has one
//! callback thread: it takes every result queued by then, POSTs them to the
//! center's `callback` as one list, and waits for the answer before the
//! next list. A list the center does not take (not code 200) is sent again
//! up to [`CALLBACK_TRIES`] times.
//!
//! The child runs until the parent closes its stdin, then reports every
//! `/run` it received and the counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, Server, handler, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::tally::Received;
use crate::child;

/// The child's name for `__child`.
pub(crate) const NAME: &str = "xxl-executors";

/// How often each executor beats (`registry`): the Java executor's period.
const BEAT_EVERY: Duration = Duration::from_secs(30);

/// How long a call to the center may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Tries per callback list before its results are given up (and their
/// runs left waiting, which the scenario then reports).
pub(crate) const CALLBACK_TRIES: usize = 5;

/// How long the callback tasks may take to send what is queued once the
/// parent asks the child to stop.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What the child serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecutorConfig {
    /// The center's executor API, e.g. `http://127.0.0.1:1234/xxl-job-admin/api`.
    pub(crate) center: String,
    /// The app the executors register as.
    pub(crate) app: String,
    /// How many executors.
    pub(crate) executors: usize,
}

/// Calls the executors answered, by path, over all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Calls {
    /// `/run`.
    pub(crate) run: usize,
    /// `/log`: the center's once-a-second read of a waiting run's log.
    pub(crate) log: usize,
    /// `/beat`.
    pub(crate) beat: usize,
    /// `/idleBeat`.
    pub(crate) idle_beat: usize,
    /// `/kill`.
    pub(crate) kill: usize,
    /// `/run` bodies that were not a trigger (answered code 500).
    pub(crate) malformed: usize,
}

/// What the callback tasks sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Callbacks {
    /// Lists the center took.
    pub(crate) posts: usize,
    /// Results in them.
    pub(crate) results: usize,
    /// The longest list.
    pub(crate) largest: usize,
    /// Lists sent again after a refusal or an error.
    pub(crate) retries: usize,
    /// Results given up after [`CALLBACK_TRIES`] tries.
    pub(crate) given_up: usize,
    /// Seconds spent waiting for the center's answers, over every list.
    pub(crate) waiting_s: f64,
}

/// What the child reports when stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExecutorResult {
    /// Every `/run` received, in no particular order.
    pub(crate) received: Vec<Received>,
    /// Calls answered, by path.
    pub(crate) calls: Calls,
    /// Callbacks sent.
    pub(crate) callbacks: Callbacks,
}

/// One executor's state: where its results go, and what it noted.
struct Executor {
    index: usize,
    done: mpsc::UnboundedSender<Done>,
    noted: Arc<Noted>,
}

/// A finished run, waiting in the callback queue.
#[derive(Debug, Clone, Copy)]
struct Done {
    log_id: i64,
    log_date_time: i64,
}

/// What every executor of the child notes, together.
#[derive(Default)]
struct Noted {
    received: Mutex<Vec<Received>>,
    run: AtomicUsize,
    log: AtomicUsize,
    beat: AtomicUsize,
    idle_beat: AtomicUsize,
    kill: AtomicUsize,
    malformed: AtomicUsize,
    callbacks: Mutex<Callbacks>,
}

impl Noted {
    fn calls(&self) -> Calls {
        Calls {
            run: self.run.load(Ordering::Relaxed),
            log: self.log.load(Ordering::Relaxed),
            beat: self.beat.load(Ordering::Relaxed),
            idle_beat: self.idle_beat.load(Ordering::Relaxed),
            kill: self.kill.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
        }
    }
}

/// The fields of `/run` the executor reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trigger {
    job_id: i64,
    log_id: i64,
    #[serde(default)]
    log_date_time: i64,
}

/// XXL-JOB's envelope with code 200.
fn success() -> Json<Value> {
    Json(json!({ "code": 200, "msg": null }))
}

#[handler]
fn run(executor: Data<&Arc<Executor>>, body: Vec<u8>) -> Json<Value> {
    let at = Utc::now();
    let noted = &executor.noted;
    noted.run.fetch_add(1, Ordering::Relaxed);
    let Ok(trigger) = serde_json::from_slice::<Trigger>(&body) else {
        noted.malformed.fetch_add(1, Ordering::Relaxed);
        return Json(json!({ "code": 500, "msg": "not a trigger" }));
    };
    noted.received.lock().unwrap_or_else(|p| p.into_inner()).push(Received {
        log_id: trigger.log_id,
        job_id: trigger.job_id,
        executor: executor.index,
        at_us: at.timestamp_micros(),
    });
    // The handler does nothing: the run is over as soon as it was received.
    let _ = executor.done.send(Done {
        log_id: trigger.log_id,
        log_date_time: trigger.log_date_time,
    });
    success()
}

#[handler]
fn log(executor: Data<&Arc<Executor>>) -> Json<Value> {
    executor.noted.log.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "code": 200,
        "msg": null,
        "content": { "fromLineNum": 1, "toLineNum": 0, "logContent": "", "isEnd": true },
    }))
}

#[handler]
fn beat(executor: Data<&Arc<Executor>>) -> Json<Value> {
    executor.noted.beat.fetch_add(1, Ordering::Relaxed);
    success()
}

#[handler]
fn idle_beat(executor: Data<&Arc<Executor>>) -> Json<Value> {
    executor.noted.idle_beat.fetch_add(1, Ordering::Relaxed);
    success()
}

#[handler]
fn kill(executor: Data<&Arc<Executor>>) -> Json<Value> {
    executor.noted.kill.fetch_add(1, Ordering::Relaxed);
    success()
}

/// Child side: serves the executors until the parent closes stdin.
pub(crate) async fn serve(config: ExecutorConfig) -> Result<ExecutorResult> {
    // Straight to the loopback address, whatever proxy the environment names.
    let client = reqwest::Client::builder().no_proxy().timeout(CALL_TIMEOUT).build()?;
    let noted = Arc::new(Noted::default());
    let center = config.center.trim_end_matches('/').to_owned();
    let mut addresses = Vec::with_capacity(config.executors);
    let mut servers = tokio::task::JoinSet::new();
    let mut callers = tokio::task::JoinSet::new();
    for index in 0..config.executors {
        let (done, queue) = mpsc::unbounded_channel();
        callers.spawn(call_back(
            client.clone(),
            format!("{center}/callback"),
            queue,
            noted.clone(),
        ));
        let executor = Arc::new(Executor {
            index,
            done,
            noted: noted.clone(),
        });
        let app = Route::new()
            .at("/run", post(run))
            .at("/log", post(log))
            .at("/beat", post(beat))
            .at("/idleBeat", post(idle_beat))
            .at("/kill", post(kill))
            .data(executor);
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let address = acceptor
            .local_addr()
            .iter()
            .find_map(|addr| addr.as_socket_addr().copied())
            .ok_or_else(|| anyhow!("the executor's listener has no address"))?;
        addresses.push(format!("http://{address}"));
        servers.spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });
    }
    for address in &addresses {
        register(&client, &center, &config.app, address).await?;
    }
    let beats = tokio::spawn({
        let (client, center, app, addresses) = (client.clone(), center.clone(), config.app.clone(), addresses.clone());
        async move {
            let mut every = tokio::time::interval(BEAT_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                for address in &addresses {
                    if let Err(error) = register(&client, &center, &app, address).await {
                        eprintln!("warning: an executor's beat failed: {error:#}");
                    }
                }
            }
        }
    });
    child::announce_ready(&addresses.join(" "))?;
    child::stop_requested().await;

    beats.abort();
    // The servers hold the queues' senders: once they are gone, each
    // callback task sends what is left and ends.
    servers.abort_all();
    while servers.join_next().await.is_some() {}
    if tokio::time::timeout(DRAIN_LIMIT, async { while callers.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        eprintln!("warning: the executors' callbacks were still being sent when the child stopped");
    }
    let received = std::mem::take(&mut *noted.received.lock().unwrap_or_else(|p| p.into_inner()));
    let callbacks = noted.callbacks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(ExecutorResult {
        received,
        calls: noted.calls(),
        callbacks,
    })
}

/// One beat of the executor at `address`: `registry`, which must answer code 200.
async fn register(client: &reqwest::Client, center: &str, app: &str, address: &str) -> Result<()> {
    let body = json!({ "registryGroup": "EXECUTOR", "registryKey": app, "registryValue": address });
    let answer: Value = client
        .post(format!("{center}/registry"))
        .json(&body)
        .send()
        .await
        .context("registering an executor with the center")?
        .error_for_status()?
        .json()
        .await?;
    if answer.get("code").and_then(Value::as_i64) != Some(200) {
        bail!("the center refused to register {address}: {answer}");
    }
    Ok(())
}

/// One executor's callback task: everything queued by the time the last
/// list was answered goes in the next list.
async fn call_back(client: reqwest::Client, url: String, mut queue: mpsc::UnboundedReceiver<Done>, noted: Arc<Noted>) {
    while let Some(first) = queue.recv().await {
        let mut list = vec![first];
        while let Ok(more) = queue.try_recv() {
            list.push(more);
        }
        // As the Java executor writes it: `logDateTim` (sic), and no
        // `handleMsg` for a silent success.
        let body: Vec<Value> = list
            .iter()
            .map(|done| json!({ "logId": done.log_id, "logDateTim": done.log_date_time, "handleCode": 200 }))
            .collect();
        let mut tries = 0;
        let sent = loop {
            tries += 1;
            let began = std::time::Instant::now();
            let taken = post_list(&client, &url, &body).await;
            noted.callbacks.lock().unwrap_or_else(|p| p.into_inner()).waiting_s += began.elapsed().as_secs_f64();
            match taken {
                Ok(()) => break true,
                Err(error) if tries < CALLBACK_TRIES => {
                    eprintln!(
                        "warning: a callback of {} result(s) failed, sending it again: {error:#}",
                        list.len()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    eprintln!("warning: giving up a callback of {} result(s): {error:#}", list.len());
                    break false;
                }
            }
        };
        let mut callbacks = noted.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        callbacks.retries += tries - 1;
        if sent {
            callbacks.posts += 1;
            callbacks.results += list.len();
            callbacks.largest = callbacks.largest.max(list.len());
        } else {
            callbacks.given_up += list.len();
        }
    }
}

/// POSTs one callback list; `Ok` when the center answered code 200.
async fn post_list(client: &reqwest::Client, url: &str, body: &[Value]) -> Result<()> {
    let answer: Value = client
        .post(url)
        .json(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    match answer.get("code").and_then(Value::as_i64) {
        Some(200) => Ok(()),
        _ => bail!("the center answered {answer}"),
    }
}
