//! The job functions `ruqi-server` registers for its users: `http`, `log` and `shell`.
//!
//! Each is registered with [`Registry::register_typed`], so the JSON Schema of its `args` is
//! published by the admin API and a row whose `args` do not fit is refused when it is written.
//! The functions themselves are public too ([`run_http`], [`run_log`], [`run_shell`]), for
//! callers that want them under other names or with other defaults.

mod http;
mod log;
mod shell;

pub use http::{
    DEFAULT_HTTP_TIMEOUT, HttpArgs, HttpBody, HttpMethod, RESPONSE_BODY_LIMIT_BYTES, run_http, run_http_guarded,
};
pub use log::run_log;
pub use shell::{INHERITED_VARS, SHELL_PATH, STDERR_LABEL, ShellArgs, ShellCommand, run_shell};

use std::convert::Infallible;
use std::time::Duration;

use ruqi::{JobContext, Registry};
use serde_json::Value;

use crate::OwnAddresses;

/// Which built-ins to register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltinOptions {
    /// Registers `shell`, which runs any command the `args` of a job row name, as the server's
    /// user. Off by default: with it on, whoever can write to `job_info` (the admin API, the ORM,
    /// or anyone with SQL access to the table) can run commands on the server.
    pub allow_shell: bool,
    /// Where `http` must not send requests, on any redirect hop either: the server's own admin
    /// API. Empty by default (nothing refused); `ruqi-server` fills it with its listen addresses
    /// unless `--allow-self-requests` is given.
    pub refused_targets: OwnAddresses,
}

/// Registers `http`, `log` and (only when [`BuiltinOptions::allow_shell`] is set) `shell`.
///
/// ```
/// use ruqi_server::builtin::{BuiltinOptions, register_builtins};
///
/// let mut registry = ruqi::Registry::new();
/// register_builtins(&mut registry, &BuiltinOptions::default());
/// assert!(registry.validate_args("http", &serde_json::json!("https://example.com/ping")).is_ok());
/// assert!(registry.get("shell").is_none());
///
/// register_builtins(&mut registry, &BuiltinOptions { allow_shell: true, ..Default::default() });
/// assert!(registry.validate_args("shell", &serde_json::json!({"argv": ["date"]})).is_ok());
/// ```
pub fn register_builtins(registry: &mut Registry, options: &BuiltinOptions) {
    let refused = options.refused_targets.clone();
    registry
        .register_typed("http", move |ctx: JobContext, args: HttpArgs| {
            let refused = refused.clone();
            async move { run_http_guarded(&ctx, args, &refused).await }
        })
        .description(
            "Sends an HTTP request. Args: a URL string (`https://host/path#{json}` POSTs the JSON) or \
             {url, method, headers, json | body, timeout_s, expect_status}.",
        );
    registry
        .register_typed("log", |ctx: JobContext, args: Value| async move {
            run_log(&ctx, &args);
            Ok::<_, Infallible>(())
        })
        .description("Writes its args to the execution's output and the server log. Args: any JSON.");
    if options.allow_shell {
        registry
            .register_typed("shell", |ctx: JobContext, args: ShellArgs| async move {
                run_shell(&ctx, args).await
            })
            .description(
                "Runs a command as the server's user, without the server's environment. Args: {argv: [program, args…]} \
                 or {script: \"text for sh -c\"}, with optional cwd, env (its only variables besides PATH, HOME, USER, \
                 LOGNAME and LANG) and timeout_s.",
            );
    }
}

/// Reads a `timeout_s`-style field: a finite number of seconds above zero.
fn seconds(field: &str, value: f64) -> Result<Duration, String> {
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("{field}: {value} is not a number of seconds above zero"));
    }
    Duration::try_from_secs_f64(value).map_err(|_| format!("{field}: {value} seconds is too long"))
}
