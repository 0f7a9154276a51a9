//! ruqi's admin API on poem-openapi: what an operator needs to manage a ruqi
//! scheduler over HTTP, mounted by the application under any path.
//!
//! - **jobs**: list (filters, paging, order), create, get, replace, update, delete;
//! - **actions**: pause, resume, run now (answers with the execution id at
//!   once), cancel running instances, preview the next fire times of a job or
//!   of a rule not saved yet;
//! - **executions**: of a job, of all jobs (filters, paging), one with its
//!   output, and history cleanup;
//! - **functions** with their argument JSON Schema; **scheduler** status and
//!   wake-up; **health**; the caller's token **scope**; the live XXL-JOB
//!   **executors** (registered through `ruqi-xxl`);
//! - **the admin page** at `<prefix>/ui/`: jobs, their runs and logs, a job
//!   form, history charts and the scheduler's nodes in a browser, shipped
//!   inside the binary (plain HTML, CSS and JavaScript; no build step).
//!
//! Writes go through the `job_info` sea-orm ActiveModel, so the API validates
//! exactly as the ORM hooks do (a refused value answers 422 naming its field,
//! and nothing is written); reads go through `ruqi::query`; actions through
//! the [`ruqi::Scheduler`]. The OpenAPI document and Swagger UI are generated
//! from the same Rust types as the operations. See [`AdminApi`] for mounting
//! and [`Auth`] for tokens.

mod admin;
mod auth;
mod body_field;
mod endpoints;
mod error;
mod methods;
mod model;
mod nul;
mod optional_body;
mod paths;
mod spec;
mod ui;

pub use admin::AdminApi;
pub use auth::{Auth, Scope};
pub use error::{ApiError, ErrorBody, error_to_json};
