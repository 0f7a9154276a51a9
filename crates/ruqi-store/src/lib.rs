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

pub use error::{Error, Result};
pub use feed::FeedConfig;
pub use ruqi_migration::{Migrator, migrate};
pub use store::SeaOrmStore;

use std::sync::Arc;

use ruqi_core::{Registry, Scheduler, SchedulerBuilder};
use sea_orm::DatabaseConnection;

/// A [`SchedulerBuilder`] over `db` with the functions in `registry`.
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
    Scheduler::builder(Arc::new(SeaOrmStore::new(db)), registry)
}
