//! ruqi (如期, "on schedule"): a table-driven job scheduler for Rust web backends.
//!
//! The rows of one database table, `job_info`, are the schedule. Register
//! your functions by name, start the one process-wide scheduler before your
//! web server spawns its workers, and every insert, update or delete of a
//! `job_info` row made through sea-orm adds, replaces or removes a job. Every
//! run leaves a `job_execution` row.
//!
//! ```
//! use ruqi::entity::job_info;
//! use sea_orm::{ActiveModelTrait, Database};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect("sqlite::memory:").await?;
//! ruqi::migrate(&db).await?;
//!
//! let mut registry = ruqi::Registry::new();
//! registry.register("say_hello", |ctx: ruqi::JobContext| async move {
//!     ctx.log(format!("hello from {}", ctx.job_id()));
//!     Ok::<_, String>(())
//! });
//! let scheduler = ruqi::scheduler(db.clone(), registry).start().await?;
//!
//! // Validated by the ActiveModel hooks and scheduled as soon as it commits.
//! job_info::ActiveModel::new_job("hello", "say_hello", "interval", "10s").insert(&db).await?;
//!
//! let page = ruqi::query::list_jobs(&db, &Default::default(), Default::default(), Default::default()).await?;
//! assert_eq!(page.items[0].job.job_id, "hello");
//! scheduler.shutdown().await;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```
//!
//! The crates behind this facade: `ruqi-core` (triggers, registry, engine;
//! no database code), `ruqi-store` (sea-orm entities, hooks, store, query
//! layer) and `ruqi-migration` (the schema).

pub use ruqi_core::{
    AlertConfig, ChangeBatch, ChangeExpectation, ChangeFeed, Clock, CompiledJob, Error as CoreError, ExecutionPolicy,
    ExecutionStatus, FieldError, FunctionInfo, Heartbeat, JobContext, JobRecord, JobStateChange, JobStore, LiveJob,
    LogSink, LostRun, ManualClock, MisfirePolicy, NodeInfo, Overlap, ReconcileReport, Registry, RowChange, Schedule,
    Scheduler, SchedulerBuilder, SchedulerConfig, SchedulerStatus, SystemClock, TriggerKind, TriggerSource,
    UNSCHEDULABLE_PREFIX, ValidationContext, compile, execution, fire_owner, job, registry, trigger,
};
pub use ruqi_core::{
    CancelOutcome, CancelTarget, EventStream, FireMissed, IntoJobError, JobError, LogTail, RetryAdvice, RunEnded,
    RunLogLayer, RunStarted, SchedulerEvent, events, run_log_layer, tail_text,
};
pub use ruqi_store::{
    Error, FeedConfig, GroupCommitStats, HttpTransport, Migrator, Result, SeaOrmStore, entity, migrate, query,
    scheduler,
};
