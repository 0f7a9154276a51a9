//! sea-orm entities for ruqi's tables.

pub mod job_change;
pub mod job_execution;
pub mod job_info;
mod job_info_hooks;
pub mod scheduler_node;
pub mod xxl_app;
pub mod xxl_dispatch;
pub mod xxl_executor;
pub mod xxl_job;
