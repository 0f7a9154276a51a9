//! sea-orm entities for ruqi's two tables.

pub mod job_execution;
pub mod job_info;
mod job_info_hooks;
