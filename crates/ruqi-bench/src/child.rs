//! One measurement per process: ruqi's scheduler is process-wide, so the
//! parent runs every engine and configuration in a child process (this same
//! binary with the hidden [`CHILD_ARG`]) and reads its result back as JSON.
//!
//! Most children measure and exit ([`run_in_child`]). Some run until the
//! parent has what it needs from them — several schedulers sharing one
//! database, a server the parent loads with requests — so they are started
//! with [`start_child`]: such a child may announce that it is ready (with a
//! detail such as its address, [`announce_ready`]), waits until the parent
//! closes its stdin ([`stop_requested`]), and then writes its result.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The hidden first argument that makes the binary run one measurement:
/// `ruqi-bench __child <scenario> <config as JSON>`.
pub(crate) const CHILD_ARG: &str = "__child";

/// Marks the one stdout line that carries the child's result.
const RESULT_PREFIX: &str = "RUQI_BENCH_RESULT ";

/// Marks the stdout line a long-running child writes once it is ready.
const READY_PREFIX: &str = "RUQI_BENCH_READY ";

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

/// A child started by [`start_child`]: it runs until [`RunningChild::stop`]
/// closes its stdin, and is killed if it is still there at its time limit
/// (or when this value is dropped).
#[derive(Debug)]
pub(crate) struct RunningChild {
    scenario: String,
    child: Child,
    /// The write end of the child's stdin; closing it asks the child to stop.
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The result line, if it came before it was asked for.
    result: Option<String>,
    /// When the child is killed.
    deadline: tokio::time::Instant,
    limit: Duration,
}

/// Starts `scenario` with `config` in a child process that runs until told
/// to stop. The whole life of the child, until [`RunningChild::stop`] has its
/// result, may last `limit`.
pub(crate) fn start_child<C: Serialize>(scenario: &str, config: &C, limit: Duration) -> Result<RunningChild> {
    let exe = std::env::current_exe().context("finding this executable to start a child")?;
    let mut child = tokio::process::Command::new(exe)
        .arg(CHILD_ARG)
        .arg(scenario)
        .arg(serde_json::to_string(config)?)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting a child process")?;
    let stdin = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("the {scenario} child has no stdout"))?;
    Ok(RunningChild {
        scenario: scenario.to_owned(),
        child,
        stdin,
        stdout: BufReader::new(stdout).lines(),
        result: None,
        deadline: tokio::time::Instant::now() + limit,
        limit,
    })
}

impl RunningChild {
    /// The next stdout line of the child's own (ready or result), or an
    /// error when the child exits first or its time limit passes.
    async fn next_line(&mut self) -> Result<String> {
        loop {
            let line = tokio::time::timeout_at(self.deadline, self.stdout.next_line())
                .await
                .map_err(|_| {
                    anyhow!(
                        "the {} child did not finish within {} s and was killed",
                        self.scenario,
                        self.limit.as_secs()
                    )
                })?
                .with_context(|| format!("reading the {} child's output", self.scenario))?;
            let Some(line) = line else {
                let status = self.child.wait().await?;
                bail!("the {} child exited ({status}) before it was done", self.scenario);
            };
            if line.starts_with(READY_PREFIX) || line.starts_with(RESULT_PREFIX) {
                return Ok(line);
            }
        }
    }

    /// Waits until the child announces it is ready and returns the detail
    /// it announced (see [`announce_ready`]).
    pub(crate) async fn ready(&mut self) -> Result<String> {
        let line = self.next_line().await?;
        match line.strip_prefix(READY_PREFIX) {
            Some(detail) => Ok(detail.to_owned()),
            None => {
                // A child may finish without announcing anything (it failed
                // to get ready but still reports why, say): keep its result.
                self.result = Some(line);
                bail!("the {} child finished without getting ready", self.scenario)
            }
        }
    }

    /// Closes the child's stdin, which asks it to stop (see
    /// [`stop_requested`]), and returns the result it writes then.
    pub(crate) async fn stop<R: DeserializeOwned>(mut self) -> Result<R> {
        drop(self.stdin.take());
        let line = match self.result.take() {
            Some(line) => line,
            None => loop {
                let line = self.next_line().await?;
                if line.starts_with(RESULT_PREFIX) {
                    break line;
                }
            },
        };
        let status = tokio::time::timeout_at(self.deadline, self.child.wait())
            .await
            .map_err(|_| anyhow!("the {} child did not exit after its result", self.scenario))??;
        if !status.success() {
            bail!("the {} child failed ({status})", self.scenario);
        }
        let json = line.strip_prefix(RESULT_PREFIX).unwrap_or_default();
        serde_json::from_str(json).with_context(|| format!("reading the {} child's result", self.scenario))
    }
}

/// Child side: tells the parent waiting in [`RunningChild::ready`] that this
/// child is ready, with `detail` (one line: an address, an instant).
pub(crate) fn announce_ready(detail: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{READY_PREFIX}{detail}")?;
    stdout.flush()?;
    Ok(())
}

/// Child side: completes when the parent asks this child to stop by closing
/// its stdin (or has gone away). A child started by [`run_in_child`] has no
/// stdin, so for it this completes at once.
pub(crate) async fn stop_requested() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0_u8; 64];
    // Anything the parent writes is ignored; end of file (or an error) is the signal.
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
}
