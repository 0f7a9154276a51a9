//! Starting `ruqi-server` the way the README's several-processes recipe does:
//! three processes started at the same instant on an empty database all come
//! up (one migrates, the others wait for it and find the schema done), and a
//! start that cannot bind its port leaves no node behind in the registry, so
//! the same node name starts again at once.
//!
//! Real processes on one SQLite file, PostgreSQL and MariaDB (when their URLs
//! are set; in CI they must be).

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

use common::{Backend, TestDb};
use ruqi::entity::scheduler_node;
use sea_orm::{DatabaseConnection, EntityTrait};
use server::ServerProcess;

/// The node names of the three processes started at once.
const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

/// Fresh databases that three processes start on at once, per backend: a race
/// that one start in a few would lose must not hide.
const ROUNDS: usize = 5;

/// The names in the node registry, sorted.
async fn registered(db: &DatabaseConnection) -> Vec<String> {
    let mut nodes: Vec<String> = scheduler_node::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    nodes.sort();
    nodes
}

async fn three_servers_started_at_once_on_an_empty_database_all_come_up(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    for round in 1..=ROUNDS {
        let Some(test_db) = TestDb::empty(backend).await else {
            return;
        };
        // Spawned back to back, as the README's shell loop does: all three
        // reach the database while it is still empty.
        let mut servers: Vec<ServerProcess> = NODES
            .iter()
            .map(|name| ServerProcess::spawn(dir.path(), &["--database-url", &test_db.url, "--node-name", name], &[]))
            .collect();
        for server in &mut servers {
            server.wait_healthy().await;
        }
        assert_eq!(registered(&test_db.db).await, NODES, "round {round}");
        for mut server in servers {
            let exit = server.terminate().await;
            assert!(exit.success(), "round {round}: {exit}:\n{}", server.output());
        }
        test_db.drop_database().await;
    }
}

async fn a_start_that_cannot_bind_its_port_leaves_no_node_behind(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();

    let mut refused = ServerProcess::spawn(
        dir.path(),
        &[
            "--database-url",
            &test_db.url,
            "--node-name",
            "node-a",
            "--listen",
            &listen,
        ],
        &[],
    );
    let exit = refused.exit_status().await;
    assert!(!exit.success(), "{exit}");
    let log = refused.output();
    assert!(log.contains(&format!("listen address \"{listen}\"")), "{log}");
    assert_eq!(registered(&test_db.db).await, Vec::<String>::new(), "{log}");

    // The same name at once, on a free port.
    let mut restarted = ServerProcess::start(
        dir.path(),
        &["--database-url", &test_db.url, "--node-name", "node-a"],
        &[],
    )
    .await;
    assert_eq!(registered(&test_db.db).await, ["node-a"]);
    let exit = restarted.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", restarted.output());
    drop(taken);
    test_db.drop_database().await;
}

on_every_backend!(
    three_servers_started_at_once_on_an_empty_database_all_come_up,
    a_start_that_cannot_bind_its_port_leaves_no_node_behind,
);
