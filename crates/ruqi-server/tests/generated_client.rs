//! A client generated from the served OpenAPI document works against the
//! real server: `openapi-python-client` (version [`GENERATOR_VERSION`])
//! generates a Python package from `/api/openapi.json` of a running
//! `ruqi-server` into a temp dir, and `tests/generated_client/roundtrip.py`
//! drives every documented operation through it with an admin and a read
//! token — create, list, get, replace, update, run, history, log, cancel,
//! cleanup, delete and the rest — checking each answer's status against the
//! document and parsing each body into the generated models.
//!
//! Needs the generator named by `RUQI_TEST_OPENAPI_PYTHON_CLIENT` (the
//! Python beside it runs the script); `.ci/run` installs it in a virtual
//! environment and sets the variable. Without it the test says so and
//! passes, except with `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use server::ServerProcess;

/// The environment variable naming the `openapi-python-client` executable.
const GENERATOR_VAR: &str = "RUQI_TEST_OPENAPI_PYTHON_CLIENT";
/// The version `.ci/run` pins.
const GENERATOR_VERSION: &str = "0.29.1";
const ADMIN_TOKEN: &str = "client-admin-token";
const READ_TOKEN: &str = "client-read-token";

/// The generator, or `None` (after saying why) when this machine has none
/// and the run is not CI's.
fn generator() -> Option<PathBuf> {
    let path = std::env::var_os(GENERATOR_VAR).map(PathBuf::from);
    let problem = match &path {
        None => format!("{GENERATOR_VAR} is not set"),
        Some(path) if !path.exists() => format!("{GENERATOR_VAR} names {}, which does not exist", path.display()),
        Some(_) => return path,
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the generated client test cannot run: {problem} (.ci/run installs it)");
    }
    eprintln!("skipping the generated client test: {problem}");
    None
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Generates the package `ruqi_client` from `document` into `dir/client`;
/// returns the folder to put on `PYTHONPATH`.
fn generate(generator: &Path, dir: &Path, document: &Path) -> PathBuf {
    let config = dir.join("generator.yaml");
    std::fs::write(
        &config,
        "package_name_override: ruqi_client\nproject_name_override: ruqi-client\n",
    )
    .unwrap();
    let root = dir.join("client");
    let output = Command::new(generator)
        .arg("generate")
        .arg("--path")
        .arg(document)
        .args(["--meta", "none"])
        .arg("--config")
        .arg(&config)
        .arg("--output-path")
        .arg(root.join("ruqi_client"))
        .stdin(Stdio::null())
        .output()
        .expect("run openapi-python-client");
    let log = text(&output);
    assert!(output.status.success(), "generation failed:\n{log}");
    // The generator drops what it cannot read and says so; every schema must make it.
    assert!(
        !log.contains("Unable to process"),
        "the generator could not read the document:\n{log}"
    );
    assert!(root.join("ruqi_client/api/jobs/create_job.py").exists(), "{log}");
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_client_round_trips_every_documented_operation() {
    let Some(generator) = generator() else { return };
    let version = Command::new(&generator)
        .arg("--version")
        .output()
        .expect("run the generator");
    assert!(
        text(&version).contains(GENERATOR_VERSION),
        "{GENERATOR_VAR} is {}, not the pinned {GENERATOR_VERSION}",
        text(&version)
    );
    let python = generator.with_file_name("python");
    assert!(python.exists(), "no python beside {}", generator.display());

    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &[],
        &[("RUQI_TOKEN", ADMIN_TOKEN), ("RUQI_READ_TOKEN", READ_TOKEN)],
    )
    .await;
    let response = server
        .http
        .get(format!("{}/api/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document = dir.path().join("openapi.json");
    std::fs::write(&document, response.bytes().await.unwrap()).unwrap();

    let client_root = generate(&generator, dir.path(), &document);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated_client/roundtrip.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(format!("{}/api", server.base))
        .args([ADMIN_TOKEN, READ_TOKEN])
        .env("PYTHONPATH", &client_root)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the round trip took longer than two minutes")
        .expect("run the script");
    let log = text(&output);
    eprintln!("{log}");
    assert!(
        output.status.success(),
        "the generated client failed ({}):\n{log}\nserver log:\n{}",
        output.status,
        server.output()
    );
    assert!(log.contains("every documented operation round-tripped"), "{log}");
    let server_log = server.output();
    assert!(!server_log.contains("panicked"), "the server panicked:\n{server_log}");
    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
}
