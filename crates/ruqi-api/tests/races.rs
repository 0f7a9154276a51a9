//! Concurrent writes to one job over real HTTP, on every configured backend:
//! each caller gets a true answer (404 when the row is gone, 409 when a
//! concurrent change won), never a 500, and a `child_jobs` cycle is refused
//! whatever the interleaving.
//!
//! Every round starts its requests together behind a barrier; the rounds of
//! the three tests add up to well over a thousand interleavings per backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Answer, Backend, TestApi};
use reqwest::Method;
use ruqi::entity::job_info;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::sync::Barrier;

/// Rounds of [`writes_racing_delete`]: 9 requests each.
const DELETE_ROUNDS: usize = 150;
/// Rounds of [`pause_racing_patch_resume_run`]: 24 requests each.
const PAUSE_ROUNDS: usize = 60;
/// Writes outside the API in each round of [`pause_racing_patch_resume_run`]:
/// many more than the API's own writes of the round, but a bounded number,
/// so that a pause retrying its compare-and-set wins in the end. (A writer
/// that never stops would make every pause answer 409, rightly.)
const SQL_WRITES: usize = 20;
/// Rounds of [`child_jobs_cycles_racing`]: two or three PATCHes each.
const CYCLE_ROUNDS: usize = 130;

/// One request of a round.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            method,
            path: path.into(),
            body,
        }
    }
}

/// Sends every call at once: each from a task of its own, released together
/// by a barrier. The answers come back in the order of `calls`.
async fn race(api: &Arc<TestApi>, calls: &[Call]) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(calls.len()));
    let tasks: Vec<_> = calls
        .iter()
        .cloned()
        .map(|call| {
            let api = api.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                api.call(call.method, &call.path, Some(common::ADMIN), call.body).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(calls.len());
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Asserts that `answer` to `call` has one of `allowed` statuses, and that an
/// error is the API's JSON error with a code and a message.
#[track_caller]
fn assert_allowed(call: &Call, answer: &Answer, allowed: &[u16]) {
    assert!(
        allowed.contains(&answer.status),
        "{} {} answered {}, expected one of {allowed:?}: {answer:?}",
        call.method,
        call.path,
        answer.status
    );
    if answer.status >= 400 {
        assert!(
            answer.body["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{answer:?}"
        );
        assert!(
            answer.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer:?}"
        );
    }
    if answer.status == 409 {
        assert_eq!(answer.body["code"], "conflict", "{answer:?}");
    }
}

/// PATCH, PUT, pause, resume, run and cancel of one job racing two DELETEs
/// of it: exactly one DELETE answers 204 and the other 404; every other
/// write answers what it did (200 or 202) or 404, never 500; a write that
/// answered 200 shows its own change; afterwards the row is gone.
async fn writes_racing_delete(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let api = Arc::new(api);
    let mut statuses: HashMap<(String, u16), usize> = HashMap::new();
    for round in 0..DELETE_ROUNDS {
        let id = format!("race-{round}");
        api.create(common::job(&id)).await;
        let path = format!("/jobs/{id}");
        let mut put_body = common::job(&id);
        put_body["description"] = json!("put");
        let calls = [
            Call::new(Method::PATCH, &path, Some(json!({"description": "patched"}))),
            Call::new(Method::PUT, &path, Some(put_body)),
            Call::new(Method::DELETE, &path, None),
            Call::new(Method::POST, format!("{path}/pause"), None),
            Call::new(Method::PATCH, &path, Some(json!({"rule": "5m"}))),
            Call::new(Method::POST, format!("{path}/resume"), None),
            Call::new(Method::POST, format!("{path}/run"), None),
            Call::new(Method::POST, format!("{path}/cancel"), None),
            Call::new(Method::DELETE, &path, None),
        ];
        // Rotated each round, so each request is spawned first in some round.
        let mut calls = calls.to_vec();
        let turn = round % calls.len();
        calls.rotate_left(turn);
        let answers = race(&api, &calls).await;
        let mut deleted = 0;
        for (call, answer) in calls.iter().zip(&answers) {
            *statuses
                .entry((
                    format!("{} {}", call.method, call.path.trim_start_matches(&path)),
                    answer.status,
                ))
                .or_default() += 1;
            match call.method {
                Method::DELETE => {
                    assert_allowed(call, answer, &[204, 404]);
                    deleted += usize::from(answer.status == 204);
                }
                Method::POST if call.path.ends_with("/run") => assert_allowed(call, answer, &[202, 404]),
                _ => assert_allowed(call, answer, &[200, 404]),
            }
            if answer.status == 404 {
                assert_eq!(answer.body["code"], "not_found", "{answer:?}");
            }
            if answer.status == 200 && call.method == Method::PATCH {
                // Its own write, unless a later write replaced it before the answer read the row.
                assert_eq!(answer.body["job_id"], id.as_str(), "{answer:?}");
            }
        }
        assert_eq!(deleted, 1, "exactly one DELETE removes the job: {answers:?}");
        api.get(&path).await.assert_error(404, "not_found", None);
        assert!(
            api.rows().await.iter().all(|row| row.job_id != id),
            "the deleted row is back"
        );
    }
    eprintln!("{backend:?}: answers over {DELETE_ROUNDS} rounds: {statuses:?}");
    Arc::into_inner(api).unwrap().finish().await;
}

/// Pause and resume racing each other, a PATCH, runs and a cancel: every
/// request answers what it did or 409, never 500, and the row ends
/// consistent: paused without a `next_run_time`, or active with one; paused
/// only if a pause answered 200, active only if a resume did (or no pause
/// won); the PATCH's change is kept.
async fn pause_racing_patch_resume_run(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let api = Arc::new(api);
    let mut statuses: HashMap<(String, u16), usize> = HashMap::new();
    let mut sql_writes = 0;
    for round in 0..PAUSE_ROUNDS {
        let id = format!("pause-{round}");
        api.create(common::job(&id)).await;
        let path = format!("/jobs/{id}");
        let description = format!("round {round}");
        let mut calls = vec![
            Call::new(Method::POST, format!("{path}/pause"), None),
            Call::new(Method::PATCH, &path, Some(json!({"description": description}))),
            Call::new(Method::POST, format!("{path}/resume"), None),
            Call::new(Method::POST, format!("{path}/run"), None),
            Call::new(Method::POST, format!("{path}/pause"), None),
            Call::new(Method::PATCH, &path, Some(json!({"job_name": "raced"}))),
            Call::new(Method::POST, format!("{path}/run"), None),
            Call::new(Method::POST, format!("{path}/resume"), None),
            Call::new(Method::POST, format!("{path}/cancel"), None),
            Call::new(Method::POST, format!("{path}/pause"), None),
            Call::new(Method::POST, format!("{path}/run"), None),
            Call::new(Method::POST, format!("{path}/resume"), None),
        ];
        calls.extend(calls.clone());
        let turn = round % calls.len();
        calls.rotate_left(turn);
        // Meanwhile another writer (a SQL session, another node) keeps
        // changing the row, so compare-and-sets lose over and over.
        let writing = Arc::new(AtomicBool::new(true));
        let writer = tokio::spawn(write_until_stopped(api.db.clone(), id.clone(), writing.clone()));
        let answers = race(&api, &calls).await;
        writing.store(false, Ordering::Release);
        sql_writes += writer.await.unwrap();
        let (mut paused, mut resumed) = (0, 0);
        for (call, answer) in calls.iter().zip(&answers) {
            *statuses
                .entry((
                    format!("{} {}", call.method, call.path.trim_start_matches(&path)),
                    answer.status,
                ))
                .or_default() += 1;
            if call.path.ends_with("/run") {
                assert_allowed(call, answer, &[202, 409]);
            } else if call.path.ends_with("/cancel") {
                assert_allowed(call, answer, &[200]);
            } else {
                assert_allowed(call, answer, &[200, 409]);
            }
            if answer.status == 200 && call.path.ends_with("/pause") {
                paused += 1;
            }
            if answer.status == 200 && call.path.ends_with("/resume") {
                resumed += 1;
            }
        }
        let row = api.rows().await.into_iter().find(|row| row.job_id == id).unwrap();
        assert_eq!(
            row.is_paused,
            row.next_run_time.is_none(),
            "paused exactly when no next_run_time: {row:?} after {answers:?}"
        );
        if row.is_paused {
            assert!(paused > 0, "paused, but no pause answered 200: {answers:?}");
        } else {
            assert!(
                resumed > 0 || paused == 0,
                "active after a pause won, but no resume answered 200: {answers:?}"
            );
        }
        // A PATCH that answered 200 is in the row: no other write undoes it.
        for (call, answer) in calls.iter().zip(&answers) {
            if call.method == Method::PATCH && answer.status == 200 {
                let (field, value) = call.body.as_ref().unwrap().as_object().unwrap().iter().next().unwrap();
                let stored = match field.as_str() {
                    "description" => row.description.clone(),
                    _ => row.job_name.clone(),
                };
                assert_eq!(stored.as_deref(), value.as_str(), "{field} of {row:?}");
                assert_eq!(&answer.body[field], value, "{answer:?}");
            }
        }
        let job = api.get(&path).await;
        assert_eq!(job.status, 200, "{job:?}");
        assert_eq!(job.body["is_paused"], row.is_paused, "{job:?} {row:?}");
    }
    eprintln!("{backend:?}: answers over {PAUSE_ROUNDS} rounds, {sql_writes} writes outside the API: {statuses:?}");
    Arc::into_inner(api).unwrap().finish().await;
}

/// PATCHes that together would close a `child_jobs` cycle, started at once:
/// `a → b` with `b → a`, and (every other round) `a → b`, `b → c`, `c → a`.
/// Each answers 200 or 422 naming `child_jobs`; at least one is refused; the
/// rows hold no cycle.
async fn child_jobs_cycles_racing(backend: Backend) {
    let Some(api) = TestApi::start_on(backend).await else {
        return;
    };
    let api = Arc::new(api);
    let mut refused_total = 0;
    for round in 0..CYCLE_ROUNDS {
        let ring: Vec<String> = if round % 2 == 0 {
            vec![format!("a{round}"), format!("b{round}")]
        } else {
            vec![format!("a{round}"), format!("b{round}"), format!("c{round}")]
        };
        for id in &ring {
            api.create(common::job(id)).await;
        }
        let calls: Vec<Call> = ring
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let child = &ring[(i + 1) % ring.len()];
                Call::new(Method::PATCH, format!("/jobs/{id}"), Some(json!({"child_jobs": child})))
            })
            .collect();
        let answers = race(&api, &calls).await;
        let mut refused = 0;
        for (call, answer) in calls.iter().zip(&answers) {
            assert_allowed(call, answer, &[200, 422]);
            if answer.status == 422 {
                answer.assert_error(422, "invalid", Some("child_jobs"));
                refused += 1;
            }
        }
        assert_eq!(
            refused, 1,
            "exactly the last link to close the cycle is refused: {answers:?}"
        );
        refused_total += refused;
        assert_no_cycle(&api).await;
    }
    eprintln!("{backend:?}: {refused_total} cycles refused over {CYCLE_ROUNDS} rounds");
    Arc::into_inner(api).unwrap().finish().await;
}

/// Changes `job_id`'s `max_retries` (a versioned column) straight through
/// SQL, past the hooks and the scheduler, until `writing` is cleared or it
/// made [`SQL_WRITES`] writes; returns how many it made.
async fn write_until_stopped(db: DatabaseConnection, job_id: String, writing: Arc<AtomicBool>) -> usize {
    let mut writes = 0;
    while writing.load(Ordering::Acquire) && writes < SQL_WRITES {
        job_info::Entity::update_many()
            .col_expr(
                job_info::Column::MaxRetries,
                Expr::value(i32::try_from(writes % 5).unwrap()),
            )
            .filter(job_info::Column::JobId.eq(job_id.as_str()))
            .exec(&db)
            .await
            .unwrap();
        writes += 1;
    }
    writes
}

/// Fails the test if the stored `child_jobs` links close a cycle.
async fn assert_no_cycle(api: &TestApi) {
    let links: HashMap<String, Vec<String>> = api
        .rows()
        .await
        .into_iter()
        .map(|row| {
            let children = row
                .child_jobs
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            (row.job_id, children)
        })
        .collect();
    // Depth-first from every job; a job met again on the current path closes a cycle.
    fn visit(id: &str, links: &HashMap<String, Vec<String>>, path: &mut Vec<String>, done: &mut HashSet<String>) {
        if done.contains(id) {
            return;
        }
        assert!(!path.iter().any(|p| p == id), "cycle stored: {path:?} → {id}");
        path.push(id.to_owned());
        for child in links.get(id).into_iter().flatten() {
            visit(child, links, path, done);
        }
        path.pop();
        done.insert(id.to_owned());
    }
    let mut done = HashSet::new();
    for id in links.keys() {
        visit(id, &links, &mut Vec::new(), &mut done);
    }
}

/// The OpenAPI document lists 404 and 409, each with the error body, on
/// every write of a job: the answers a writer racing another gets.
#[tokio::test]
async fn the_document_lists_404_and_409_on_every_write_of_a_job() {
    let api = TestApi::start().await;
    let spec = api.get("/openapi.json").await;
    assert_eq!(spec.status, 200, "{spec:?}");
    let writes = [
        ("/jobs/{job_id}", "put"),
        ("/jobs/{job_id}", "patch"),
        ("/jobs/{job_id}", "delete"),
        ("/jobs/{job_id}/pause", "post"),
        ("/jobs/{job_id}/resume", "post"),
        ("/jobs/{job_id}/run", "post"),
        ("/jobs/{job_id}/cancel", "post"),
    ];
    for (path, method) in writes {
        let responses = &spec.body["paths"][path][method]["responses"];
        for status in ["404", "409"] {
            let schema = &responses[status]["content"]["application/json; charset=utf-8"]["schema"]["$ref"];
            assert_eq!(
                schema.as_str().map(|r| r.ends_with("/ErrorBody")),
                Some(true),
                "{method} {path} documents no {status} with the error body: {responses}"
            );
        }
    }
    api.finish().await;
}

backend_tests!(
    writes_racing_delete,
    pause_racing_patch_resume_run,
    child_jobs_cycles_racing
);
