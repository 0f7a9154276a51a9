//! `ruqi-server`: ruqi as a standalone service, for people who only need to
//! fire HTTP requests or run commands on a schedule (the RuQi / Cronicle use).
//!
//! For now this crate holds the built-in job functions the server registers:
//! `http` (send a request), `log` (write the job's args to its output) and,
//! only when the operator allows it, `shell` (run a command). Register them
//! with [`builtin::register_builtins`]; every one publishes the JSON Schema of
//! its `args`, so a `job_info` row with arguments that do not fit is refused
//! when it is written.

pub mod builtin;
