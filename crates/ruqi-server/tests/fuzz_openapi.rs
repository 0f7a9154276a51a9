//! schemathesis over the whole OpenAPI document that `ruqi-server` serves at
//! `/api/openapi.json`: every check, every phase (examples, coverage,
//! fuzzing and the stateful phase that follows the document's links), valid
//! and invalid data, at least [`MIN_CASES`] generated requests, once with an
//! admin token and once with a read token. The test fails on any failed
//! check and on any panic in the server's log.
//!
//! Needs the schemathesis CLI (version [`SCHEMATHESIS_VERSION`]) named by
//! `RUQI_TEST_SCHEMATHESIS`; `.ci/run` installs it in a virtual environment
//! and sets the variable. Without it the test says so and passes, except
//! with `CI=true`, where it fails. Runs on a SQLite file, and on PostgreSQL
//! when `RUQI_TEST_POSTGRES_URL` is set.
//!
//! One setting differs from schemathesis's defaults, in the configuration
//! written by [`config`]: a request that matches the document may be answered
//! 422 as well as 2xx. The document states each field's type, length and
//! range, but it cannot state what only the scheduler can judge: whether a
//! cron rule parses, a time zone exists, `func` names a registered function
//! whose argument schema `args` matches, or `child_jobs` would close a cycle.
//! Such a request is well formed and is refused with 422 naming the field;
//! a 400 to a request that matches the document still fails the check.

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Backend, TestDb};
use server::ServerProcess;

/// The environment variable naming the schemathesis CLI.
const SCHEMATHESIS_VAR: &str = "RUQI_TEST_SCHEMATHESIS";
/// The version the checks and settings here are written for (`.ci/run` pins it).
const SCHEMATHESIS_VERSION: &str = "4.32.5";
const ADMIN_TOKEN: &str = "fuzz-admin-token";
const READ_TOKEN: &str = "fuzz-read-token";
/// Fewest requests one run (one token) must generate.
const MIN_CASES: u64 = 5_000;
/// Examples per operation and phase: with the 25 operations this gives
/// about 5,700 cases per token, each run taking three to four minutes on a
/// busy two-core machine.
const MAX_EXAMPLES: u32 = 170;
/// The same requests on every run, so that a failure reproduces.
const SEED: u64 = 20_261_203;
/// Longest one schemathesis run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(600);

/// The schemathesis CLI, or `None` (after saying why) when this machine has
/// none and the run is not CI's.
fn schemathesis() -> Option<PathBuf> {
    let cli = std::env::var_os(SCHEMATHESIS_VAR).map(PathBuf::from);
    let problem = match &cli {
        None => format!("{SCHEMATHESIS_VAR} is not set"),
        Some(path) if !path.exists() => format!("{SCHEMATHESIS_VAR} names {}, which does not exist", path.display()),
        Some(_) => return cli,
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the schemathesis test cannot run: {problem} (.ci/run installs it)");
    }
    eprintln!("skipping the schemathesis test: {problem}");
    None
}

/// schemathesis's configuration file: see the module's doc for why 422 is
/// an acceptable answer to a request that matches the document.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("schemathesis.toml");
    std::fs::write(
        &path,
        "[checks.positive_data_acceptance]\n\
         expected-statuses = [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"422\", \"429\", \"5xx\"]\n",
    )
    .unwrap();
    path
}

/// Runs schemathesis against `server` with `token` and returns how many
/// requests it generated; fails the test on any failed check.
async fn run_schemathesis(cli: &Path, dir: &Path, server: &ServerProcess, token: &str) -> u64 {
    let mut command = tokio::process::Command::new(cli);
    command
        .arg("--config-file")
        .arg(config(dir))
        .arg("run")
        .arg(format!("{}/api/openapi.json", server.base))
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--mode", "all"])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", &SEED.to_string()])
        // One worker: the same requests in the same order on every run, and no
        // generation from several threads at once, which trips a thread-safety
        // bug of Python 3.11's `ast` module inside hypothesis.
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // ruqi-server asks every write to say it is JSON, even without a body
        // (the document's 415); schemathesis sends the header only with a body.
        .args(["--header", "Content-Type: application/json"])
        .arg("--no-color")
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis took longer than {RUN_DEADLINE:?}"))
        .expect("start schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures with the token {token:?} ({}):\n{text}\nserver log:\n{}",
        output.status,
        server.output()
    );
    generated_cases(&text).unwrap_or_else(|| panic!("no count of generated cases in:\n{text}"))
}

/// The `N generated` of schemathesis's summary.
fn generated_cases(output: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        let (count, rest) = line.trim().split_once(" generated, ")?;
        rest.contains("passed").then(|| count.parse().ok()).flatten()
    })
}

async fn every_check_passes_with_both_tokens(backend: Backend) {
    let Some(cli) = schemathesis() else { return };
    let version = std::process::Command::new(&cli)
        .arg("--version")
        .output()
        .expect("run schemathesis --version");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains(SCHEMATHESIS_VERSION),
        "{SCHEMATHESIS_VAR} is schemathesis {version}, not the pinned {SCHEMATHESIS_VERSION}"
    );
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--database-url", &test_db.url],
        &[("RUQI_TOKEN", ADMIN_TOKEN), ("RUQI_READ_TOKEN", READ_TOKEN)],
    )
    .await;

    for token in [ADMIN_TOKEN, READ_TOKEN] {
        let cases = run_schemathesis(&cli, dir.path(), &server, token).await;
        eprintln!("schemathesis with {token}: {cases} cases, no failure");
        assert!(cases >= MIN_CASES, "only {cases} cases generated with {token}");
    }

    let log = server.output();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    test_db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    every_check_passes_with_both_tokens(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    every_check_passes_with_both_tokens(Backend::Postgres).await;
}

#[test]
fn the_case_count_is_read_from_the_summary() {
    let summary =
        "2 operations mostly rejected generated data\nTest cases:\n  5321 generated, 5321 passed, 18 skipped\n";
    assert_eq!(generated_cases(summary), Some(5321));
    assert_eq!(generated_cases("nothing here"), None);
}
