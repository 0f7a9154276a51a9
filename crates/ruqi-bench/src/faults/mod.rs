//! The fault-injection suite's instruments, driven by the `faults` scenario
//! (`scenario/faults.rs`):
//!
//! - [`instance`]: database servers of the suite's own that it may stop and
//!   crash (`postgres.rs`, `mariadb.rs`, one file per backend);
//! - [`nodes`]: `ruqi-server` processes it may kill and start again;
//! - [`load`]: the jobs, and the slow endpoint some of them call;
//! - [`fault_run`]: one run's faults and their [`Timeline`];
//! - [`simultaneous`]: three nodes started at once on an empty database;
//! - [`counts`]: what a user would see, counted from `job_execution`.

mod counts;
mod fault_run;
mod instance;
mod load;
mod mariadb;
mod nodes;
mod postgres;
mod simultaneous;

pub(crate) use counts::{CUTOFF_BEFORE_STOP, Counts, Lateness, WINDOW_AFTER_RECOVERY, count};
pub(crate) use fault_run::{NODES, Plan, Timeline, connect, node_name, run};
pub(crate) use instance::{Instance, Restart};
pub(crate) use load::{GROUPS, SLOW_ANSWER, job_count};
pub(crate) use nodes::{NODE_ARG, NODE_LOG_DEFAULT, NODE_LOG_ENV, RESTART_PAUSE, serve_as_node, settings_from_env};
pub(crate) use simultaneous::{SimultaneousStart, start_at_once};
