//! `ruqi-server`: ruqi as a standalone service, for people who only need to
//! fire HTTP requests or run commands on a schedule (the RuQi / Cronicle use).
//!
//! The binary serves ruqi's admin API ([`ruqi_api::AdminApi`]) under `/api`,
//! with the admin page at `/api/ui/` (where `/` leads a browser), its OpenAPI
//! document at `/api/openapi.json` and Swagger UI at `/api/docs`, over an
//! embedded SQLite file by default (PostgreSQL or
//! MySQL/MariaDB by URL). Its jobs run the built-in functions of
//! [`builtin`]: `http` (send a request), `log` (write the job's args to its
//! output) and, only when the operator allows it, `shell` (run a command).
//! [`Options`] are its flags; [`serve`] runs it until Ctrl-C or SIGTERM.

pub mod builtin;
mod connections;
mod error;
mod options;
mod outbound;
mod request_rules;
mod serve;

pub use error::Error;
pub use options::{DEFAULT_DATABASE_URL, DEFAULT_LISTEN, Options};
pub use outbound::{OwnAddresses, Refused};
pub use serve::serve;
