//! The executor side of an XXL-JOB scheduling center ("xxl-job-admin") for
//! ruqi: executors written for XXL-JOB (the Java `xxl-job-core`, Python's
//! pyxxl, or any following its RESTful API) register with ruqi, leave it,
//! and report run results to it as they would to xxl-job-admin.
//!
//! - the envelope (`envelope.rs`): HTTP 200, JSON, with both the `content`
//!   (XXL-JOB ≤ 3.2) and `data` (3.3+) keys, so every executor version reads
//!   it;
//! - the `XXL-JOB-ACCESS-TOKEN` header (`token.rs`), checked when a token is
//!   configured;
//! - `registry` and `registryRemove` (`registry.rs`): the executor registry in the database
//!   (`xxl_executor`), shared by every ruqi node; an address is live for 90 s
//!   after its last beat;
//! - `callback` (`callback.rs`): run results, written to the run's dispatch
//!   row on whichever node they arrive; a result for an unknown `logId` is
//!   acknowledged and ignored, as xxl-job-admin does;
//! - the function `xxl` (`dispatch/`): a job row whose `func` is `xxl` runs
//!   a handler on a live executor of an app, picked by one of XXL-JOB's
//!   routing strategies, and ends with the executor's callback.
//!
//! Build one [`XxlCenter`] per process: register its function in the
//! scheduler's registry, and mount its [`XxlCenter::executor_api`] where
//! executors expect the center's API: `/xxl-job-admin/api` by default
//! ([`DEFAULT_PREFIX`]).

mod api;
mod callback;
mod dispatch;
mod envelope;
mod registry;
mod token;

pub use api::{DEFAULT_PREFIX, ExecutorApi};
pub use dispatch::{BlockStrategy, Route, Shard, XXL_FUNCTION, XxlArgs, XxlCenter, XxlOptions};
