//! Several `ruqi-server` processes on one database: each (job, instant) runs
//! exactly once across them, the work spreads over all of them, and a process
//! killed with SIGKILL loses no fire — its unfinished runs become `lost`.
//!
//! Real processes on PostgreSQL and MariaDB (when their URLs are set; in CI
//! they must be) and on one SQLite file. Jobs are written with plain SQL.

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Backend, TestDb, trigger_col};
use ruqi::entity::{job_execution, job_info};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

/// Heartbeat interval of the test servers: a killed node's runs are lost within four of these.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// One `ruqi-server` process, killed if the test ends without stopping it.
struct Node {
    name: String,
    child: Child,
    port: u16,
}

impl Node {
    fn start(url: &str, name: &str, allow_shell: bool) -> Node {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ruqi-server"));
        command
            .args(["--database-url", url, "--node-name", name])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--heartbeat-interval", &format!("{}ms", HEARTBEAT.as_millis())])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if allow_shell {
            command.arg("--allow-shell");
        }
        Node {
            name: name.to_owned(),
            child: command.spawn().unwrap(),
            port,
        }
    }

    /// Waits until the server answers its health check.
    async fn ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/api/health", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited before it was ready: {status}", self.name);
            }
            assert!(Instant::now() < deadline, "{} never became ready", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_nodes(url: &str, names: &[&str], allow_shell: bool) -> Vec<Node> {
    let mut nodes: Vec<Node> = names.iter().map(|n| Node::start(url, n, allow_shell)).collect();
    for node in &mut nodes {
        node.ready().await;
    }
    nodes
}

/// Inserts `n` jobs firing every second, with plain SQL; `overlap` is the
/// jobs' overlap policy (`allow` lets up to three runs of a job go at once).
async fn insert_jobs(db: &DatabaseConnection, n: usize, func: &str, args: &str, overlap: &str) {
    let values: Vec<String> = (0..n)
        .map(|i| format!("('job-{i:02}', '{func}', '{args}', 'interval', '1s', 60, '{overlap}', 3)"))
        .collect();
    let statement = format!(
        "INSERT INTO job_info (job_id, func, args, {}, rule, misfire_grace_s, overlap, max_instances) VALUES {}",
        trigger_col(db),
        values.join(", ")
    );
    db.execute_unprepared(&statement).await.unwrap();
}

async fn all_runs(db: &DatabaseConnection) -> Vec<job_execution::Model> {
    job_execution::Entity::find().all(db).await.unwrap()
}

/// Stops every job with plain SQL and waits until no fire is left: none
/// claimed and not yet started (`is_running` is set by the claim), none in
/// progress. Pausing rather than deleting lets a fire that came due before
/// the pause run, however late its node starts it (a slow claim, a lease
/// renewed late), so the test's own ending decides no fire's fate.
async fn stop_jobs(db: &DatabaseConnection) {
    db.execute_unprepared("UPDATE job_info SET is_paused = TRUE")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let busy = job_info::Entity::find()
            .filter(job_info::Column::IsRunning.eq(true))
            .count(db)
            .await
            .unwrap();
        let running = all_runs(db).await.iter().filter(|r| r.status == "running").count();
        if busy == 0 && running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{busy} jobs and {running} runs still busy 30 s after the jobs were paused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (job, instant) pairs that ran more than once, not counting `lost` rows.
fn duplicates(runs: &[job_execution::Model]) -> Vec<(String, DateTime<Utc>, usize)> {
    let mut count: BTreeMap<(String, DateTime<Utc>), usize> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.status != "lost" && r.status != "missed") {
        *count.entry((run.job_id.clone(), run.scheduled_for)).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((j, t), n)| (j, t, n))
        .collect()
}

/// For each job, the instants between its first and last run that have no
/// run other than a `lost` one.
fn gaps(runs: &[job_execution::Model]) -> Vec<(String, DateTime<Utc>)> {
    gaps_among(runs, |run| run.status != "lost" && run.status != "missed")
}

/// The one-second instants, between each job's first and last, that have
/// no row of any status: fires nobody recorded.
fn unrecorded(runs: &[job_execution::Model]) -> Vec<(String, DateTime<Utc>)> {
    gaps_among(runs, |_| true)
}

fn gaps_among(
    runs: &[job_execution::Model],
    counts: impl Fn(&job_execution::Model) -> bool,
) -> Vec<(String, DateTime<Utc>)> {
    let mut by_job: BTreeMap<&str, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
    for run in runs.iter().filter(|r| counts(r)) {
        by_job.entry(&run.job_id).or_default().insert(run.scheduled_for);
    }
    let mut missing = Vec::new();
    for (job, instants) in by_job {
        let (Some(first), Some(last)) = (instants.first(), instants.last()) else {
            continue;
        };
        let mut at = *first;
        while at < *last {
            if !instants.contains(&at) {
                missing.push((job.to_owned(), at));
            }
            at += chrono::Duration::seconds(1);
        }
    }
    missing
}

async fn three_processes_run_every_fire_exactly_once(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let db = test_db.db.clone();
    // One SQLite file takes every write in turn: fewer jobs keep it well inside its means.
    let jobs = if backend == Backend::Sqlite { 10 } else { 50 };
    let names = ["node-a", "node-b", "node-c"];
    let nodes = start_nodes(&test_db.url, &names, false).await;
    insert_jobs(&db, jobs, "log", r#"{"hello": "cluster"}"#, "skip").await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    stop_jobs(&db).await;
    for node in nodes {
        node.stop();
    }

    let runs = all_runs(&db).await;
    assert!(
        runs.len() >= jobs * 15,
        "only {} runs of {jobs} jobs in 20 s",
        runs.len()
    );
    assert_eq!(duplicates(&runs), vec![], "fires that ran more than once");
    assert_eq!(gaps(&runs), vec![], "fires that did not run");
    let not_ok: Vec<_> = runs.iter().filter(|r| r.status != "success").collect();
    assert!(not_ok.is_empty(), "runs that did not succeed: {not_ok:?}");
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for run in &runs {
        *per_node.entry(run.node.clone().unwrap_or_default()).or_default() += 1;
    }
    let ran: Vec<&str> = per_node.keys().map(String::as_str).collect();
    assert_eq!(ran, names, "every process ran some fires: {per_node:?}");
    test_db.drop_database().await;
}

async fn a_killed_process_loses_no_fire(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let db = test_db.db.clone();
    let jobs = if backend == Backend::Sqlite { 6 } else { 20 };
    let names = ["node-a", "node-b", "node-c"];
    let mut nodes = start_nodes(&test_db.url, &names, true).await;
    // Each run takes half its interval. A lost fire runs again on a node that
    // may be running the job's next fire: `allow` lets both go.
    insert_jobs(&db, jobs, "shell", r#"{"argv": ["sleep", "0.5"]}"#, "allow").await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Kill node-b while it has runs in progress (every job fires at the same
    // instant, so half of each second nothing runs).
    let mut victim = nodes.remove(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_runs(&db)
        .await
        .iter()
        .any(|r| r.node.as_deref() == Some("node-b") && r.status == "running")
    {
        assert!(Instant::now() < deadline, "node-b never had a run in progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_at = Utc::now();
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    // Its unfinished runs become lost once its lease (three heartbeat
    // intervals) has run out, within half an interval more.
    let deadline = Instant::now() + HEARTBEAT * 4 + Duration::from_secs(1);
    loop {
        let left: Vec<_> = all_runs(&db)
            .await
            .into_iter()
            .filter(|r| r.node.as_deref() == Some(victim.name.as_str()) && r.status == "running")
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after the takeover window: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(victim);
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop_jobs(&db).await;
    for node in nodes {
        node.stop();
    }

    let runs = all_runs(&db).await;
    let lost: Vec<_> = runs.iter().filter(|r| r.status == "lost").collect();
    let mut seen: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
    for r in &runs {
        *seen
            .entry((r.node.clone(), r.status.clone(), r.trigger_source.clone()))
            .or_default() += 1;
    }
    assert!(!lost.is_empty(), "the killed node left no lost run: {seen:?}");
    assert!(lost.iter().all(|r| r.node.as_deref() == Some("node-b")), "{lost:?}");
    // Each lost fire, still within its misfire grace, ran again on a live node.
    for run in &lost {
        let again = runs.iter().any(|r| {
            r.job_id == run.job_id
                && r.scheduled_for == run.scheduled_for
                && r.status == "success"
                && r.trigger_source == "retry"
        });
        assert!(again, "lost run {} of {} was not run again", run.id, run.job_id);
    }
    assert_eq!(duplicates(&runs), vec![], "fires that ran more than once");
    // Every fire has a row, whatever became of it.
    assert_eq!(unrecorded(&runs), vec![], "fires with no row at all");
    // Until the victim's lease runs out it still owns its jobs, and the
    // nodes next in their rankings take its fires over `takeover_after`
    // late; fires of a one-second job that come due together then are
    // coalesced into the latest (their rows say so). Outside that window
    // every fire ran.
    let window_end = killed_at + chrono::Duration::from_std(HEARTBEAT * 5).unwrap();
    let beyond: Vec<_> = gaps(&runs)
        .into_iter()
        .filter(|(_, at)| *at < killed_at - chrono::Duration::seconds(1) || *at > window_end)
        .collect();
    assert_eq!(
        beyond,
        vec![],
        "fires that did not run outside the takeover window (killed at {killed_at})"
    );
    let after: BTreeSet<&str> = runs
        .iter()
        .filter(|r| r.scheduled_for > killed_at + chrono::Duration::seconds(1))
        .filter_map(|r| r.node.as_deref())
        .collect();
    assert_eq!(
        after,
        BTreeSet::from(["node-a", "node-c"]),
        "the survivors shared the work"
    );
    test_db.drop_database().await;
}

on_every_backend!(
    three_processes_run_every_fire_exactly_once,
    a_killed_process_loses_no_fire
);
