//! The fault-injection suite in its short form, on PostgreSQL and MariaDB:
//! `ruqi-bench faults --quick --no-save` per backend (a server of its own,
//! three `ruqi-server` nodes, one run with a node killed and started again,
//! a fast and a crash restart of the database, and three simultaneous
//! starts), and every count it reads from `job_execution` must be 0: no
//! fire run twice, none without a row, none run past its grace, no live
//! node taken for dead, no row left `running`, every node healthy when
//! started together.
//!
//! The bench prints one `RUQI_FAULTS_SUMMARY` line of JSON per backend;
//! this test reads it. Without the database servers' binaries (packages
//! `postgresql` and `mariadb-server`) a backend is skipped with a message,
//! and with `CI=true` that fails the test instead. Both backends run in
//! this one test, one after the other, so that the two suites never share
//! the machine's cores.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// The marker of the bench's summary lines.
const SUMMARY_PREFIX: &str = "RUQI_FAULTS_SUMMARY ";

/// How long one backend's short suite may take before it is killed.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs the short suite on `backend` (`postgres` or `mysql`, as `--backend`
/// takes it; `json_name` as the summary names it) and returns its summary
/// line, with the bench's exit status.
async fn run_suite(backend: &str, json_name: &str) -> (Value, std::process::ExitStatus) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ruqi-bench"))
        .args(["faults", "--quick", "--no-save", "--backend", backend])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // The bench's progress, with the offending rows, goes to the test's output.
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the {backend} suite did not finish within {} s", LIMIT.as_secs()))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .filter_map(|line| line.strip_prefix(SUMMARY_PREFIX))
        .map(|json| serde_json::from_str::<Value>(json).unwrap())
        .find(|summary| summary["backend"] == json_name)
        .unwrap_or_else(|| panic!("the {backend} suite printed no summary ({}):\n{stdout}", output.status));
    (summary, output.status)
}

/// What is wrong on one backend, if anything; `None` when it was skipped
/// outside CI.
async fn failures_on(backend: &str, json_name: &str) -> Option<Vec<String>> {
    let (summary, status) = run_suite(backend, json_name).await;
    let label = summary["label"].as_str().unwrap_or(backend).to_owned();
    if let Some(why) = summary["skipped"].as_str() {
        if std::env::var("CI").as_deref() == Ok("true") {
            return Some(vec![format!("{label} was not tested: {why}")]);
        }
        eprintln!("skipped {label}: {why} (with CI=true this fails)");
        return None;
    }
    let mut failures: Vec<String> = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{label}: {}", f.as_str().unwrap()))
        .collect();
    for (name, n) in summary["counts"].as_object().unwrap() {
        if n.as_u64() != Some(0) {
            failures.push(format!("{label}: {name} = {n}"));
        }
    }
    // The bench fails exactly when it found something.
    if status.success() != failures.is_empty() {
        failures.push(format!("{label}: the bench exited with {status}"));
    }
    if summary["runs"].as_u64() != Some(1) || summary["simultaneous_starts"].as_u64() < Some(2) {
        failures.push(format!(
            "{label}: one fault run and at least two simultaneous starts expected, not {} and {}",
            summary["runs"], summary["simultaneous_starts"]
        ));
    }
    if !failures.is_empty() {
        for example in summary["examples"].as_array().unwrap() {
            failures.push(format!("{label}: e.g. {}", example.as_str().unwrap()));
        }
    }
    Some(failures)
}

#[tokio::test]
async fn nodes_and_databases_fail_and_every_fire_still_runs_once() {
    let mut failures = Vec::new();
    for (backend, json_name) in [("postgres", "postgres"), ("mysql", "my-sql")] {
        failures.extend(failures_on(backend, json_name).await.unwrap_or_default());
    }
    assert!(failures.is_empty(), "the fault suite found:\n{}", failures.join("\n"));
}
