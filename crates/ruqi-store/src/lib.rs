//! ruqi's database layer on sea-orm: the `job_info` and `job_execution`
//! entities with the hooks that validate writes and keep the scheduler in
//! step, the scheduler's store (compare-and-set claims, history rows), and
//! the query layer that overlays live state on what it reads.

mod backend;
mod convert;
pub mod entity;
mod error;
mod feed;
pub mod query;
mod store;
mod webhook;

pub use error::{Error, Result};
pub use feed::FeedConfig;
pub use ruqi_migration::{Migrator, migrate};
pub use store::{GroupCommitStats, SeaOrmStore};
pub use webhook::HttpTransport;

use std::sync::Arc;

use ruqi_core::{Registry, Scheduler, SchedulerBuilder};
use sea_orm::DatabaseConnection;

/// A [`SchedulerBuilder`] over `db` with the functions in `registry`.
///
/// Also makes [`HttpTransport`] the process's default alert transport
/// ([`ruqi_core::alert::set_default_transport`]) unless one was installed
/// before, so that alerts need no more than a URL in
/// [`AlertConfig`](ruqi_core::AlertConfig); a transport set in
/// [`AlertConfig::transport`](ruqi_core::AlertConfig::transport) still wins.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi_store::migrate(&db).await?;
/// let mut registry = ruqi_core::Registry::new();
/// registry.register("ping", |_ctx| async { Ok::<_, String>("pong") });
/// let scheduler = ruqi_store::scheduler(db, registry).node_name("web-1").start().await?;
/// assert_eq!(scheduler.status().node, "web-1");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub fn scheduler(db: DatabaseConnection, registry: Registry) -> SchedulerBuilder {
    if ruqi_core::alert::default_transport().is_none() {
        ruqi_core::alert::set_default_transport(Arc::new(HttpTransport::new()));
    }
    Scheduler::builder(Arc::new(SeaOrmStore::new(db)), registry)
}
