//! One fault run: three nodes started at the same instant on a fresh, empty
//! database, the load written, then — with running time between — one node
//! killed with SIGKILL and started again under its name, a fast restart of
//! the database and a crash restart, and finally every node stopped with
//! SIGTERM. What was done and when is the run's [`Timeline`], which the
//! counts read next to the tables.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use ruqi::entity::job_execution;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde::{Deserialize, Serialize};

use super::instance::{Instance, Outage, Restart};
use super::load::{self, SlowEndpoint};
use super::nodes::{HEALTHY_LIMIT, Node, STOP_LIMIT, Start};

/// Nodes sharing the database.
pub(crate) const NODES: usize = 3;

/// How far ahead of the insert the jobs' first fires are: room for the
/// change feed (MariaDB polls once a second) to bring the rows to every node.
const FIRST_FIRE_LEAD: TimeDelta = TimeDelta::seconds(4);

/// How long the first run may take to appear after the first fire.
const FIRST_RUN_LIMIT: Duration = Duration::from_secs(30);

/// How often the table is read while waiting for the first run.
const TABLE_POLL: Duration = Duration::from_millis(100);

/// The name of the `index`th node.
pub(crate) fn node_name(index: usize) -> String {
    format!("faults-node-{}", index + 1)
}

/// What a run does and how long it leaves between faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// Running time from the first run to the kill.
    pub(crate) warm_up: Duration,
    /// The node killed (an index into the node names).
    pub(crate) killed_node: usize,
    /// From the kill to starting the node again.
    pub(crate) restart_after: Duration,
    /// Running time after each fault, before the next.
    pub(crate) between: Duration,
    /// How long the database stays down in the fast restart.
    pub(crate) fast_hold: Duration,
    /// How long it stays down in the crash restart.
    pub(crate) crash_hold: Duration,
    /// Running time after the last fault, before the stop.
    pub(crate) settle: Duration,
}

/// A node killed with SIGKILL and started again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Kill {
    /// Its name.
    pub(crate) node: String,
    /// The instant of the SIGKILL.
    pub(crate) killed_at: DateTime<Utc>,
    /// When it was started again.
    pub(crate) restarted_at: DateTime<Utc>,
    /// When it answered its health check again.
    pub(crate) healthy_at: DateTime<Utc>,
    /// Starts it took to come back (more than one when a start exited, say
    /// because the database still held its name).
    pub(crate) starts: usize,
}

/// How a node ended when every node was stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NodeEnd {
    /// Its name.
    pub(crate) node: String,
    /// Seconds from SIGTERM to its exit.
    pub(crate) exit_s: f64,
    /// Its exit status, or why there is none.
    pub(crate) status: String,
    /// Whether it exited by itself with status 0.
    pub(crate) clean: bool,
}

/// What a run did, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Timeline {
    /// The plan carried out.
    pub(crate) plan: Plan,
    /// The node names.
    pub(crate) nodes: Vec<String>,
    /// Nodes healthy at their first start (all three spawned at once on the empty database).
    pub(crate) healthy_at_first_start: usize,
    /// Every start of every node, by node.
    pub(crate) starts: Vec<(String, Vec<Start>)>,
    /// When the jobs were written.
    pub(crate) jobs_written_at: DateTime<Utc>,
    /// When the first run started (from the table).
    pub(crate) first_run_at: Option<DateTime<Utc>>,
    /// The node kills.
    pub(crate) kills: Vec<Kill>,
    /// The database restarts.
    pub(crate) outages: Vec<Outage>,
    /// When SIGTERM went to every node.
    pub(crate) stopped_at: DateTime<Utc>,
    /// How each node ended.
    pub(crate) ends: Vec<NodeEnd>,
    /// Requests the slow endpoint answered or was answering.
    pub(crate) slow_requests: usize,
}

/// A connection of the harness's own to the run's database: small, and
/// quiet in the logs.
pub(crate) async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(2)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10));
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Creates the empty database `name` on `instance`.
pub(crate) async fn create_database(instance: &Instance, name: &str) -> Result<()> {
    let admin = connect(&instance.admin_url()).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating the database {name}"))?;
    let _ = admin.close().await;
    Ok(())
}

/// Carries out `plan` on a fresh database `database` of `instance`, with
/// the nodes' logs in `dir`.
pub(crate) async fn run(instance: &mut Instance, database: &str, plan: &Plan, dir: &Path) -> Result<Timeline> {
    if plan.killed_node >= NODES {
        bail!("node {} is to be killed, of {NODES}", plan.killed_node);
    }
    create_database(instance, database).await?;
    let url = instance.url(database);
    let slow = SlowEndpoint::start().await?;
    let names: Vec<String> = (0..NODES).map(node_name).collect();
    let mut nodes: Vec<Node> = names
        .iter()
        .map(|name| Node::new(name, &url, dir))
        .collect::<Result<_>>()?;

    // All three at once, on a database with no table yet.
    for node in &mut nodes {
        node.spawn()?;
    }
    let first_starts = futures::future::join_all(nodes.iter_mut().map(|n| n.wait_healthy(HEALTHY_LIMIT))).await;
    let healthy_at_first_start = first_starts.iter().filter(|r| matches!(r, Ok(true))).count();
    for (node, first) in nodes.iter_mut().zip(first_starts) {
        if !first? {
            eprintln!(
                "    {} failed its first start ({}); starting it again",
                node.name(),
                node.starts().last().and_then(|s| s.failure.clone()).unwrap_or_default()
            );
            node.start_until_healthy(HEALTHY_LIMIT).await?;
        }
    }

    let db = connect(&url).await?;
    let jobs_written_at = Utc::now();
    load::insert_jobs(&db, jobs_written_at + FIRST_FIRE_LEAD, slow.url()).await?;
    let first_run_at = wait_for_first_run(&db).await?;
    eprintln!("    {} jobs written; first run started", load::job_count());

    tokio::time::sleep(plan.warm_up).await;
    let killed = &mut nodes[plan.killed_node];
    let killed_at = killed.kill().await?;
    eprintln!("    killed {} (SIGKILL) at {}", killed.name(), clock(killed_at));
    tokio::time::sleep(plan.restart_after).await;
    let restarted_at = Utc::now();
    let starts_before = killed.starts().len();
    killed.start_until_healthy(HEALTHY_LIMIT).await?;
    let kill = Kill {
        node: killed.name().to_owned(),
        killed_at,
        restarted_at,
        healthy_at: killed
            .starts()
            .last()
            .and_then(|s| s.healthy_at)
            .unwrap_or(restarted_at),
        starts: killed.starts().len() - starts_before,
    };
    eprintln!(
        "    {} healthy again {:.1} s after the kill ({} start(s))",
        kill.node,
        (kill.healthy_at - killed_at).as_seconds_f64(),
        kill.starts
    );

    let mut outages = Vec::new();
    for (kind, hold) in [(Restart::Fast, plan.fast_hold), (Restart::Crash, plan.crash_hold)] {
        tokio::time::sleep(plan.between).await;
        let outage = instance
            .restart(kind, hold)
            .await
            .with_context(|| format!("the database's {}", kind.describe(instance.backend())))?;
        eprintln!(
            "    database {} at {}: unavailable {:.2} s, {:.2} s of them from the start to the first connection",
            kind.describe(instance.backend()),
            clock(outage.down_at),
            outage.unavailable_s(),
            outage.startup_s()
        );
        outages.push(outage);
    }

    tokio::time::sleep(plan.settle).await;
    let stopped_at = Utc::now();
    for node in &nodes {
        node.terminate()?;
    }
    eprintln!("    SIGTERM to every node at {}", clock(stopped_at));
    let ends = futures::future::join_all(nodes.iter_mut().map(|node| async move {
        let began = Instant::now();
        let exited = node.wait_exit(STOP_LIMIT).await;
        let exit_s = began.elapsed().as_secs_f64();
        match exited {
            Ok(status) => NodeEnd {
                node: node.name().to_owned(),
                exit_s,
                status: status.to_string(),
                clean: status.success(),
            },
            Err(error) => NodeEnd {
                node: node.name().to_owned(),
                exit_s,
                status: format!("{error:#}"),
                clean: false,
            },
        }
    }))
    .await;
    let _ = db.close().await;
    for end in ends.iter().filter(|e| !e.clean) {
        eprintln!(
            "    {} did not stop cleanly after SIGTERM at {}: {}",
            end.node,
            clock(stopped_at),
            end.status
        );
    }
    Ok(Timeline {
        plan: plan.clone(),
        nodes: names,
        healthy_at_first_start,
        starts: nodes
            .iter()
            .map(|n| (n.name().to_owned(), n.starts().to_vec()))
            .collect(),
        jobs_written_at,
        first_run_at,
        kills: vec![kill],
        outages,
        stopped_at,
        ends,
        slow_requests: slow.requests(),
    })
}

/// Polls `job_execution` until the first row appears; the earliest `started_at` then.
async fn wait_for_first_run(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>> {
    let deadline = Instant::now() + FIRST_RUN_LIMIT;
    loop {
        if job_execution::Entity::find().count(db).await? > 0 {
            let rows = job_execution::Entity::find().all(db).await?;
            return Ok(rows.iter().filter_map(|r| r.started_at).min());
        }
        if Instant::now() >= deadline {
            bail!(
                "no job_execution row within {} s of the jobs' first fire",
                FIRST_RUN_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(TABLE_POLL).await;
    }
}

/// An instant as the progress lines show it: `HH:MM:SS.mmm` UTC.
fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}
