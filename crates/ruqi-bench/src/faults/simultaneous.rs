//! The simultaneous-start check: three nodes spawned at the same instant on
//! a fresh database with no table yet (each runs the migrations as it
//! starts), counted healthy if their health check answers. A node that
//! exits instead is not started again: the count is what a deployment
//! that starts its processes together gets on the first try.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::fault_run::{NODES, create_database, node_name};
use super::instance::Instance;
use super::nodes::{HEALTHY_LIMIT, Node, STOP_LIMIT};

/// One simultaneous start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SimultaneousStart {
    /// Nodes started.
    pub(crate) nodes: usize,
    /// Nodes whose health check answered.
    pub(crate) healthy: usize,
    /// Why each of the others did not get there (exit status, last log line).
    pub(crate) failures: Vec<String>,
}

/// Starts [`NODES`] nodes at once on the fresh database `database` of
/// `instance`, waits for each to be healthy or to exit, then stops them.
pub(crate) async fn start_at_once(instance: &Instance, database: &str, dir: &Path) -> Result<SimultaneousStart> {
    create_database(instance, database).await?;
    let url = instance.url(database);
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|i| Node::new(&node_name(i), &url, dir))
        .collect::<Result<_>>()?;
    for node in &mut nodes {
        node.spawn()?;
    }
    let healthy = futures::future::join_all(nodes.iter_mut().map(|n| n.wait_healthy(HEALTHY_LIMIT))).await;
    let mut result = SimultaneousStart {
        nodes: NODES,
        healthy: 0,
        failures: Vec::new(),
    };
    for (node, healthy) in nodes.iter().zip(healthy) {
        match healthy {
            Ok(true) => result.healthy += 1,
            Ok(false) => result.failures.push(format!(
                "{}: {}",
                node.name(),
                node.starts().last().and_then(|s| s.failure.clone()).unwrap_or_default()
            )),
            Err(error) => result.failures.push(format!("{error:#}")),
        }
    }
    for node in nodes
        .iter_mut()
        .filter(|n| n.starts().last().is_some_and(|s| s.healthy_at.is_some()))
    {
        node.terminate()?;
        node.wait_exit(STOP_LIMIT).await?;
    }
    Ok(result)
}
