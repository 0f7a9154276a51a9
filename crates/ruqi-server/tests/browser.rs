//! The admin page in a real headless browser: `ruqi-server` started as users
//! start it, with an admin and a read-only token, and `tests/browser/ui.spec.mjs`
//! (playwright-core driving Debian's Chromium) walking through it as an
//! operator would. The script's screenshots of each view land in
//! `target/browser-screenshots/`. A second server is checked by
//! `tests/browser/a11y.spec.mjs`: axe-core on every view in both colour
//! schemes, on a desktop and on a phone, and the phone layout measured; its
//! screenshots land in `target/browser-screenshots-a11y/`. A third,
//! `tests/browser/scale.spec.mjs`, times every view over 10,000 jobs and
//! 200,000 runs (screenshots in `target/browser-screenshots-scale/`). A
//! fourth, `tests/browser/executors.spec.mjs`, registers XXL-JOB executors
//! and watches the Executors view list them and drop one that leaves
//! (screenshots in `target/browser-screenshots-executors/`). The scripts run
//! one at a time, so that no second Chromium slows the timed one.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`), `node`, `sqlite3`
//! (the script edits the server's database by hand, as an operator might),
//! and `npm ci` run in `tests/browser`. Without them the test says what is
//! missing and passes, except with `CI=true`, where it fails naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::server::ServerProcess;

const CHROMIUM: &str = "/usr/bin/chromium";
const ADMIN_TOKEN: &str = "browser-admin-token";
const READ_TOKEN: &str = "browser-read-token";
/// Longest the whole browser journey may take.
const JOURNEY_DEADLINE: Duration = Duration::from_secs(300);
/// Longest the accessibility and phone checks may take: four passes over every view.
const A11Y_DEADLINE: Duration = Duration::from_secs(400);
/// Longest the scale script may take, seeding included.
const SCALE_DEADLINE: Duration = Duration::from_secs(240);
/// Longest the executors script may take.
const EXECUTORS_DEADLINE: Duration = Duration::from_secs(120);

/// The folder with the script, its package.json and (after `npm ci`) node_modules.
fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where a script's screenshots go: `target/<name>`, one folder per script
/// since the tests run at the same time and each clears its own.
fn screenshot_dir(name: &str) -> PathBuf {
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    target_tmp.parent().unwrap_or(target_tmp).join(name)
}

/// What this machine lacks to run the browser test, if anything.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("Chromium at {CHROMIUM} (apt-get install chromium)"));
    }
    for (tool, what) in [
        ("node", "node on the PATH"),
        ("sqlite3", "sqlite3 on the PATH (apt-get install sqlite3)"),
    ] {
        let found = std::process::Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !found.is_ok_and(|status| status.success()) {
            missing.push(what.to_owned());
        }
    }
    if !script_dir().join("node_modules/playwright-core/package.json").exists() {
        missing.push(format!(
            "playwright-core in {} (run `npm ci` there)",
            script_dir().join("node_modules").display()
        ));
    }
    missing
}

/// Says what is missing and answers false, or panics naming it with `CI=true`.
fn prerequisites_met() -> bool {
    let missing = missing_prerequisites();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join("; ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the browser test cannot run: missing {what}");
    }
    eprintln!("skipping the browser test: missing {what}");
    false
}

/// Holds the machine for one browser script at a time: the scale script
/// times each view, which a second Chromium beside it would slow down.
/// Released when dropped (or when the test process ends).
async fn one_browser_at_a_time() -> std::fs::File {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-test.lock");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&path).expect("create the browser test's lock file");
        file.lock().expect("lock the browser test's lock file");
        file
    })
    .await
    .expect("wait for the lock")
}

/// Starts a server with the two tokens and runs `script` against it, its
/// screenshots going to `shots` (cleared first); panics when the script fails
/// or outlasts `deadline`.
async fn run_script(script: &str, shots: &Path, deadline: Duration) {
    let _machine = one_browser_at_a_time().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = ServerProcess::start(
        dir.path(),
        &[],
        &[("RUQI_TOKEN", ADMIN_TOKEN), ("RUQI_READ_TOKEN", READ_TOKEN)],
    )
    .await;

    // Screenshots of an earlier run must not pass for this one's.
    let _ = std::fs::remove_dir_all(shots);
    let mut journey = tokio::process::Command::new("node")
        .arg(script)
        .arg(&server.base)
        .current_dir(script_dir())
        .env("RUQI_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUQI_READ_TOKEN", READ_TOKEN)
        // The server's SQLite file: it runs in `dir` with the default database URL.
        .env("RUQI_DATABASE_FILE", dir.path().join("ruqi.db"))
        .env("RUQI_SCREENSHOT_DIR", shots)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let output = tokio::time::timeout(deadline, async {
        let stdout = journey.stdout.take().expect("piped stdout");
        let stderr = journey.stderr.take().expect("piped stderr");
        let (out, err) = tokio::join!(read_all(stdout), read_all(stderr));
        let status = journey.wait().await.expect("wait for node");
        (status, out, err)
    })
    .await;
    let Ok((status, out, err)) = output else {
        panic!(
            "{script} took longer than {deadline:?}\nserver log:\n{}",
            server.output()
        );
    };
    eprintln!("{out}{err}");
    assert!(
        status.success(),
        "{script} failed ({status}); screenshots in {}\nserver log:\n{}",
        shots.display(),
        server.output()
    );
}

#[tokio::test]
async fn an_operator_manages_jobs_in_the_admin_page() {
    if !prerequisites_met() {
        return;
    }
    let shots = screenshot_dir("browser-screenshots");
    run_script("ui.spec.mjs", &shots, JOURNEY_DEADLINE).await;
    for view in [
        "jobs",
        "job-detail",
        "form-field-error",
        "executions",
        "scheduler",
        "executions-pages",
        "jobs-selected",
        "cleanup-dialog",
        "job-long-id",
        "executions-history",
        "jobs-dark",
    ] {
        assert!(shots.join(format!("{view}.png")).exists(), "no screenshot of {view}");
    }
}

#[tokio::test]
async fn every_view_passes_axe_core_and_fits_a_phone() {
    if !prerequisites_met() {
        return;
    }
    if !script_dir().join("node_modules/axe-core/axe.min.js").exists() {
        // Checked like the other prerequisites, after them: `npm ci` brings both.
        let what = "axe-core in tests/browser/node_modules (run `npm ci` there)";
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "the browser test cannot run: missing {what}"
        );
        eprintln!("skipping the accessibility test: missing {what}");
        return;
    }
    let shots = screenshot_dir("browser-screenshots-a11y");
    run_script("a11y.spec.mjs", &shots, A11Y_DEADLINE).await;
    for view in [
        "token-dialog",
        "jobs",
        "job",
        "run-with-dialog",
        "delete-dialog",
        "new-job",
        "edit",
        "executions",
        "executors",
        "scheduler",
    ] {
        for size in ["desktop", "phone"] {
            for scheme in ["light", "dark"] {
                let name = format!("a11y-{view}-{size}-{scheme}.png");
                assert!(shots.join(&name).exists(), "no screenshot {name}");
            }
        }
    }
}

#[tokio::test]
async fn an_operator_sees_the_executors_registered() {
    if !prerequisites_met() {
        return;
    }
    let shots = screenshot_dir("browser-screenshots-executors");
    run_script("executors.spec.mjs", &shots, EXECUTORS_DEADLINE).await;
    for view in ["executors-empty", "executors", "executors-left"] {
        assert!(shots.join(format!("{view}.png")).exists(), "no screenshot of {view}");
    }
}

/// Every view with 10,000 jobs and 200,000 runs (seeded by SQL): fully
/// rendered within a second (median of five loads), charts and filters
/// counting what SQL counts, and an idle Executions tab that downloads next
/// to nothing. The script prints each view's timings.
#[tokio::test]
async fn the_admin_page_keeps_up_with_ten_thousand_jobs() {
    if !prerequisites_met() {
        return;
    }
    let shots = screenshot_dir("browser-screenshots-scale");
    run_script("scale.spec.mjs", &shots, SCALE_DEADLINE).await;
    for view in ["scale-jobs", "scale-job", "scale-executions-30d", "scale-scheduler"] {
        assert!(shots.join(format!("{view}.png")).exists(), "no screenshot of {view}");
    }
}

async fn read_all(mut stream: impl tokio::io::AsyncRead + Unpin) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text).await;
    text
}
