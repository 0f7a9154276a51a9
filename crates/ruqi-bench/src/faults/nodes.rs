//! `ruqi-server` nodes: real processes running the server's own code path
//! (`ruqi_server::serve` with the flags a user passes), which the suite can
//! kill, stop cleanly and start again under the same name.
//!
//! A node is this binary started again with the hidden [`NODE_ARG`] and the
//! server's flags: `--database-url` over TCP to the private server,
//! `--node-name`, `--listen`. Nothing else is passed, so heartbeat and
//! takeover are the product's defaults; the server reads
//! `RUQI_HEARTBEAT_INTERVAL`, `RUQI_TAKEOVER_AFTER` and `RUQI_POLL_INTERVAL`
//! from the environment it inherits, for experiments. A node's stdout and
//! stderr go to `<name>.log` in the run's directory (`RUST_LOG` there is
//! `RUQI_FAULTS_NODE_LOG`, default [`NODE_LOG_DEFAULT`]).
//!
//! A node is ready when `GET /api/health` answers. A start that exits before
//! that is retried after [`RESTART_PAUSE`], as a service manager would
//! (`Restart=on-failure`), and counted.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::Parser as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::process::Child;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::instance::free_port;

/// The hidden first argument that makes this binary a `ruqi-server` node:
/// `ruqi-bench __ruqi-server <ruqi-server's flags>`.
pub(crate) const NODE_ARG: &str = "__ruqi-server";

/// The environment variable with the nodes' `RUST_LOG`.
pub(crate) const NODE_LOG_ENV: &str = "RUQI_FAULTS_NODE_LOG";

/// The nodes' `RUST_LOG` unless [`NODE_LOG_ENV`] says otherwise: warnings
/// (failed writes, nodes taken for dead) and the server's start and stop,
/// without a line per run (a run's 300 jobs would write about 15 MB per node).
pub(crate) const NODE_LOG_DEFAULT: &str = "warn,ruqi_server=info";

/// The server's settings a run may take from the environment (they reach
/// the nodes by inheritance); the report names those that were set.
pub(crate) const SETTINGS_ENV: [&str; 3] = ["RUQI_HEARTBEAT_INTERVAL", "RUQI_TAKEOVER_AFTER", "RUQI_POLL_INTERVAL"];

/// How long a node may take from its start to answering its health check.
pub(crate) const HEALTHY_LIMIT: Duration = Duration::from_secs(60);

/// How long a node may take to exit after SIGTERM: the server lets running
/// jobs finish for up to 30 s, and requests for 10 s.
pub(crate) const STOP_LIMIT: Duration = Duration::from_secs(60);

/// The pause before a start that failed is tried again.
pub(crate) const RESTART_PAUSE: Duration = Duration::from_millis(500);

/// How often the health check is tried.
const HEALTH_POLL: Duration = Duration::from_millis(50);

/// Child side: runs `ruqi-server` with `args` (its own flags) until SIGTERM,
/// logging as the `ruqi-server` binary does, and exits as it does: with
/// status 1 after logging the error that stopped it.
pub(crate) async fn serve_as_node(args: &[String]) -> Result<()> {
    let options =
        ruqi_server::Options::try_parse_from(std::iter::once("ruqi-server".to_owned()).chain(args.iter().cloned()))?;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))),
        )
        .with(ruqi::run_log_layer().with_filter(LevelFilter::INFO))
        .init();
    if let Err(error) = ruqi_server::serve(options).await {
        tracing::error!("{error}");
        std::process::exit(1);
    }
    Ok(())
}

/// How one start of a node went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Start {
    /// When the process was spawned.
    pub(crate) spawned_at: DateTime<Utc>,
    /// When its health check first answered; `None` if it never did.
    pub(crate) healthy_at: Option<DateTime<Utc>>,
    /// Why it did not get there: its exit status and the last line it logged.
    pub(crate) failure: Option<String>,
}

/// One `ruqi-server` process under its node name, across its restarts.
#[derive(Debug)]
pub(crate) struct Node {
    name: String,
    port: u16,
    database_url: String,
    log: PathBuf,
    process: Option<Child>,
    /// Every start, in order.
    starts: Vec<Start>,
}

impl Node {
    /// A node named `name` on `database_url`, logging into `dir`; not started yet.
    pub(crate) fn new(name: &str, database_url: &str, dir: &Path) -> Result<Node> {
        Ok(Node {
            name: name.to_owned(),
            port: free_port()?,
            database_url: database_url.to_owned(),
            log: dir.join(format!("{name}.log")),
            process: None,
            starts: Vec::new(),
        })
    }

    /// The node's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Every start so far.
    pub(crate) fn starts(&self) -> &[Start] {
        &self.starts
    }

    /// Spawns the process and returns at once (see [`Node::wait_healthy`]).
    pub(crate) fn spawn(&mut self) -> Result<()> {
        if self.process.is_some() {
            bail!("{} is already running", self.name);
        }
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let spawned_at = Utc::now();
        writeln!(
            log,
            "==== ruqi-bench: starting {} at {}",
            self.name,
            spawned_at.to_rfc3339()
        )?;
        let exe = std::env::current_exe().context("finding this executable to start a node")?;
        let process = tokio::process::Command::new(exe)
            .arg(NODE_ARG)
            .args(["--database-url", &self.database_url])
            .args(["--node-name", &self.name])
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env(
                "RUST_LOG",
                std::env::var(NODE_LOG_ENV).unwrap_or_else(|_| NODE_LOG_DEFAULT.to_owned()),
            )
            // Plain text in the log file.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.process = Some(process);
        self.starts.push(Start {
            spawned_at,
            healthy_at: None,
            failure: None,
        });
        Ok(())
    }

    /// Waits until the node's health check answers (`Ok(true)`), or until it
    /// exits first (`Ok(false)`; the start records why).
    pub(crate) async fn wait_healthy(&mut self, limit: Duration) -> Result<bool> {
        let url = format!("http://127.0.0.1:{}/api/health", self.port);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build()?;
        let deadline = Instant::now() + limit;
        loop {
            let answered = client.get(&url).send().await.is_ok_and(|r| r.status().is_success());
            let process = self
                .process
                .as_mut()
                .ok_or_else(|| anyhow!("{} is not running", self.name))?;
            if answered {
                self.record(|start| start.healthy_at = Some(Utc::now()));
                return Ok(true);
            }
            if let Some(status) = process.try_wait()? {
                self.process = None;
                let why = format!("exited with {status} before it was healthy: {}", last_line(&self.log));
                self.record(|start| start.failure = Some(why));
                return Ok(false);
            }
            if Instant::now() >= deadline {
                let why = format!("not healthy within {} s", limit.as_secs());
                self.record(|start| start.failure = Some(why.clone()));
                bail!("{} was {why}", self.name);
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    /// Starts the node and waits until it is healthy, starting it again
    /// after a failed start, until `limit` has passed.
    pub(crate) async fn start_until_healthy(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.process.is_none() {
                self.spawn()?;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.wait_healthy(left).await? {
                return Ok(());
            }
            if Instant::now() + RESTART_PAUSE >= deadline {
                bail!(
                    "{} did not come up in {} start(s) within {} s (last: {})",
                    self.name,
                    self.starts.len(),
                    limit.as_secs(),
                    self.starts.last().and_then(|s| s.failure.clone()).unwrap_or_default()
                );
            }
            tokio::time::sleep(RESTART_PAUSE).await;
        }
    }

    /// Kills the process with SIGKILL, waits until it is gone, and returns
    /// the instant it was known gone. The signal takes effect a moment after
    /// it is sent (milliseconds on a loaded machine), and the process can
    /// claim and start a fire in that moment: such a run was in flight when
    /// the process died, so the kill's instant is taken once it is over.
    pub(crate) async fn kill(&mut self) -> Result<DateTime<Utc>> {
        let mut process = self
            .process
            .take()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        process.start_kill()?;
        process.wait().await?;
        Ok(Utc::now())
    }

    /// Sends SIGTERM without waiting (see [`Node::wait_exit`]).
    pub(crate) fn terminate(&self) -> Result<()> {
        let process = self
            .process
            .as_ref()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        let pid = process
            .id()
            .ok_or_else(|| anyhow!("{} has exited already", self.name))?;
        kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGTERM)?;
        Ok(())
    }

    /// Waits up to `limit` for the process to exit; kills it if it has not.
    /// `Ok(status)` when it exited by itself.
    pub(crate) async fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus> {
        let mut process = self
            .process
            .take()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        match tokio::time::timeout(limit, process.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = process.start_kill();
                let _ = process.wait().await;
                bail!(
                    "{} did not exit within {} s of SIGTERM and was killed",
                    self.name,
                    limit.as_secs()
                )
            }
        }
    }

    fn record(&mut self, change: impl FnOnce(&mut Start)) {
        if let Some(start) = self.starts.last_mut() {
            change(start);
        }
    }
}

/// The last non-empty line of a log file, for a one-line reason, without
/// the timestamp and level `tracing` puts in front of an error.
pub(crate) fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim();
    match line.split_once(" ERROR ") {
        Some((_, rest)) => rest.split_once(": ").map_or(rest, |(_, message)| message).to_owned(),
        None => line.to_owned(),
    }
}

/// The server settings this run took from the environment, as `NAME=value`.
pub(crate) fn settings_from_env() -> Vec<String> {
    SETTINGS_ENV
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|value| format!("{name}={value}")))
        .collect()
}
