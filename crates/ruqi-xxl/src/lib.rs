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
//! - `callback` (`callback.rs`): run results, parsed and checked. ruqi does not dispatch to
//!   executors yet, so every result is for a run it does not know, and is
//!   acknowledged and ignored, as xxl-job-admin does for an unknown `logId`.
//!
//! Mount [`ExecutorApi::endpoint`] where executors expect the center's API:
//! `/xxl-job-admin/api` by default ([`DEFAULT_PREFIX`]).

mod api;
mod callback;
mod envelope;
mod registry;
mod token;

pub use api::{DEFAULT_PREFIX, ExecutorApi};
