//! One measurement per process: ruqi's scheduler is process-wide, so the
//! parent runs every engine and configuration in a child process (this same
//! binary with the hidden [`CHILD_ARG`]) and reads its result back as JSON.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The hidden first argument that makes the binary run one measurement:
/// `ruqi-bench __child <scenario> <config as JSON>`.
pub(crate) const CHILD_ARG: &str = "__child";

/// Marks the one stdout line that carries the child's result.
const RESULT_PREFIX: &str = "RUQI_BENCH_RESULT ";

/// Runs `scenario` with `config` in a child process and returns its result.
/// The child is killed if it has not finished within `limit`.
pub(crate) async fn run_in_child<C: Serialize, R: DeserializeOwned>(
    scenario: &str,
    config: &C,
    limit: Duration,
) -> Result<R> {
    let exe = std::env::current_exe().context("finding this executable to start a child")?;
    let child = tokio::process::Command::new(exe)
        .arg(CHILD_ARG)
        .arg(scenario)
        .arg(serde_json::to_string(config)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting a child process")?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| {
            anyhow!(
                "the {scenario} child did not finish within {} s and was killed",
                limit.as_secs()
            )
        })?
        .context("waiting for the child")?;
    if !output.status.success() {
        bail!("the {scenario} child failed ({})", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| anyhow!("the {scenario} child printed no result"))?;
    serde_json::from_str(line).with_context(|| format!("reading the {scenario} child's result"))
}

/// Child side: writes `result` as the line [`run_in_child`] looks for.
pub(crate) fn emit<R: Serialize>(result: &R) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{RESULT_PREFIX}{}", serde_json::to_string(result)?)?;
    stdout.flush()?;
    Ok(())
}
