//! The function registry: the names `job_info.func` may refer to.
//!
//! A job row names a function; the registry maps that name to Rust code, an
//! optional description and an optional JSON Schema for its `args`. The same
//! registry validates rows (unknown name, arguments that do not fit) and runs
//! them.

mod context;
pub(crate) mod function;
mod job_error;
mod log_layer;
mod secret;

pub(crate) use context::RunSlot;
pub use context::{JobContext, LogSink, LogTail, OUTPUT_LIMIT_BYTES, RunInfo, tail_text};
pub use function::{FunctionInfo, IntoJobOutput, RegisteredFunction};
pub use job_error::{IntoJobError, JobError, RetryAdvice};
pub(crate) use log_layer::attach_run_log;
pub use log_layer::{RUN_SPAN_NAME, RunLogLayer, run_log_layer};
pub use secret::{REDACTED, SECRET_KEYWORD, SecretArgs};

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::FieldError;
use function::{ArgsCheck, Handler};

/// Named functions that jobs can run.
///
/// ```
/// use ruqi_core::{JobContext, Registry};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Report { to: String }
///
/// let mut registry = Registry::new();
/// registry
///     .register("ping", |ctx: JobContext| async move {
///         ctx.log("pong");
///         Ok::<_, String>(())
///     })
///     .description("Writes pong to the execution log");
/// registry.register_typed("send_report", |_ctx, args: Report| async move {
///     Ok::<_, String>(format!("sent to {}", args.to))
/// });
/// registry.register_blocking("compress", |_ctx| Ok::<_, String>("done"));
///
/// assert!(registry.get("ping").is_some());
/// assert!(registry.validate_args("send_report", &serde_json::json!({"to": 3})).is_err());
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    functions: BTreeMap<String, Arc<RegisteredFunction>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.functions.keys()).finish()
    }
}

/// Returned by the `register*` methods to add details to the function just registered.
pub struct FunctionEntry<'a> {
    function: &'a mut Arc<RegisteredFunction>,
}

impl FunctionEntry<'_> {
    /// Sets the human description shown by the admin API.
    pub fn description(self, text: impl Into<String>) -> Self {
        if let Some(function) = Arc::get_mut(self.function) {
            function.description = Some(text.into());
        }
        self
    }

    /// Lets each run of the function become several runs of the same fire
    /// (a broadcast to every worker of a pool, one run per tenant).
    ///
    /// Before a run starts, `split` receives the arguments it would run with
    /// and returns the arguments of the runs it becomes. Empty: the run goes
    /// on as it is. Otherwise the first takes the run's own place and row,
    /// and each other one starts beside it: for the same instant, with the
    /// same trigger source and attempt, outside the job's `max_instances`
    /// (they are one fire). Each is its own `job_execution` row that records
    /// its arguments, ends on its own, and is retried on its own with them;
    /// a run lost with its node runs again with them too. So `split` must
    /// return nothing for arguments it made itself.
    ///
    /// ```
    /// use ruqi_core::{JobContext, Registry};
    /// use serde_json::{Value, json};
    ///
    /// let mut registry = Registry::new();
    /// registry
    ///     .register("greet", |ctx: JobContext| async move {
    ///         Ok::<_, String>(format!("hello, {}", ctx.args()["tenant"]))
    ///     })
    ///     .fan_out(|args| async move {
    ///         if args.get("tenant").is_some() {
    ///             return Vec::new(); // one part already
    ///         }
    ///         ["acme", "globex"].iter().map(|t| json!({"tenant": t})).collect::<Vec<Value>>()
    ///     });
    /// assert!(registry.get("greet").unwrap().fans_out());
    /// ```
    pub fn fan_out<F, Fut>(self, split: F) -> Self
    where
        F: Fn(Arc<serde_json::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<serde_json::Value>> + Send + 'static,
    {
        if let Some(function) = Arc::get_mut(self.function) {
            function.fan_out = Some(Arc::new(move |args| Box::pin(split(args))));
        }
        self
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an async function that reads its arguments (if any) from
    /// [`JobContext::args`]. `Ok` records success with its output; `Err`
    /// records a failure with its message. A second registration under the
    /// same name replaces the first.
    pub fn register<F, Fut, O, E>(&mut self, name: impl Into<String>, f: F) -> FunctionEntry<'_>
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
        O: IntoJobOutput,
        E: IntoJobError,
    {
        let f = Arc::new(f);
        let handler = Handler::Async(Arc::new(move |ctx| {
            let fut = f(ctx);
            Box::pin(async move {
                fut.await
                    .map(IntoJobOutput::into_job_output)
                    .map_err(IntoJobError::into_job_error)
            })
        }));
        self.insert(name.into(), handler, None)
    }

    /// Registers an async function with typed arguments. The JSON Schema of
    /// `A` is published, and rows whose `args` do not deserialize into `A`
    /// are refused when they are written.
    pub fn register_typed<A, F, Fut, O, E>(&mut self, name: impl Into<String>, f: F) -> FunctionEntry<'_>
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(JobContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
        O: IntoJobOutput,
        E: IntoJobError,
    {
        let f = Arc::new(f);
        let handler = Handler::Async(Arc::new(move |ctx: JobContext| {
            let args = serde_json::from_value::<A>(ctx.args().clone());
            let fut = args.map(|args| f(ctx, args));
            Box::pin(async move {
                match fut {
                    Ok(fut) => fut
                        .await
                        .map(IntoJobOutput::into_job_output)
                        .map_err(IntoJobError::into_job_error),
                    Err(e) => Err(JobError::abort(format!("invalid args: {e}"))),
                }
            })
        }));
        self.insert(name.into(), handler, Some(ArgsCheck::of::<A>()))
    }

    /// Registers a blocking function; it runs on tokio's blocking thread
    /// pool so it never stalls the scheduler or the web server.
    pub fn register_blocking<F, O, E>(&mut self, name: impl Into<String>, f: F) -> FunctionEntry<'_>
    where
        F: Fn(JobContext) -> Result<O, E> + Send + Sync + 'static,
        O: IntoJobOutput,
        E: IntoJobError,
    {
        let handler = Handler::Blocking(Arc::new(move |ctx| {
            f(ctx)
                .map(IntoJobOutput::into_job_output)
                .map_err(IntoJobError::into_job_error)
        }));
        self.insert(name.into(), handler, None)
    }

    /// Registers a blocking function with typed arguments.
    pub fn register_blocking_typed<A, F, O, E>(&mut self, name: impl Into<String>, f: F) -> FunctionEntry<'_>
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(JobContext, A) -> Result<O, E> + Send + Sync + 'static,
        O: IntoJobOutput,
        E: IntoJobError,
    {
        let handler = Handler::Blocking(Arc::new(move |ctx: JobContext| {
            let args = serde_json::from_value::<A>(ctx.args().clone())
                .map_err(|e| JobError::abort(format!("invalid args: {e}")))?;
            f(ctx, args)
                .map(IntoJobOutput::into_job_output)
                .map_err(IntoJobError::into_job_error)
        }));
        self.insert(name.into(), handler, Some(ArgsCheck::of::<A>()))
    }

    fn insert(&mut self, name: String, handler: Handler, args: Option<ArgsCheck>) -> FunctionEntry<'_> {
        let function = Arc::new(RegisteredFunction::new(name.clone(), handler, args));
        let slot = self.functions.entry(name).or_insert_with(|| function.clone());
        *slot = function;
        FunctionEntry { function: slot }
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<RegisteredFunction>> {
        self.functions.get(name)
    }

    /// Every registered function, by name.
    pub fn functions(&self) -> impl Iterator<Item = &Arc<RegisteredFunction>> {
        self.functions.values()
    }

    /// Checks that `func` is registered and `args` fits its schema.
    pub fn validate_args(&self, func: &str, args: &serde_json::Value) -> Result<(), FieldError> {
        let function = self.get(func).ok_or_else(|| self.unknown(func))?;
        function.validate_args(args)
    }

    /// Replaces the secret values in `args` of a job running `func` by [`REDACTED`], for a
    /// reader who may not see them (see [`SECRET_KEYWORD`]). The arguments of a function that
    /// is not registered here cannot be told apart: every value in them is masked.
    pub fn redact_args(&self, func: &str, args: &mut serde_json::Value) {
        match self.get(func) {
            Some(function) => function.redact_args(args),
            None => secret::mask(args),
        }
    }

    /// Whether the `args` of a job running `func` may hold a secret: its function marks one,
    /// or is not registered here.
    pub fn may_hold_secrets(&self, func: &str) -> bool {
        self.get(func).is_none_or(|function| !function.secret_args().is_empty())
    }

    /// The error for a function name that is not registered.
    pub fn unknown(&self, func: &str) -> FieldError {
        let known: Vec<&str> = self.functions.keys().map(String::as_str).collect();
        let reason = if known.is_empty() {
            "no function is registered under this name (the registry is empty)".to_owned()
        } else {
            format!(
                "no function is registered under this name (registered: {})",
                known.join(", ")
            )
        };
        FieldError::new("func", func, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Mail {
        to: String,
        retries: Option<u8>,
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register_typed("mail", |_ctx, m: Mail| async move { Ok::<_, String>(m.to) });
        r.register("free", |_ctx| async { Ok::<_, String>(()) });
        r
    }

    #[test]
    fn unknown_function_names_the_field_and_lists_known_ones() {
        let err = registry().validate_args("nope", &json!(null)).unwrap_err();
        assert_eq!(err.field, "func");
        assert!(err.reason.contains("free, mail"), "{err}");
    }

    #[test]
    fn typed_args_are_checked_against_the_schema() {
        let r = registry();
        assert!(r.validate_args("mail", &json!({"to": "a@b.c"})).is_ok());
        let err = r.validate_args("mail", &json!({"to": 5})).unwrap_err();
        assert!(err.field.starts_with("args"), "{err}");
        assert!(r.validate_args("mail", &json!({"to": "x", "retries": 300})).is_err());
        let err = r.validate_args("mail", &json!({})).unwrap_err();
        assert!(err.to_string().contains("to"), "{err}");
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Call {
        url: String,
        #[serde(default)]
        #[schemars(extend("x-ruqi-secret" = true))]
        headers: BTreeMap<String, String>,
    }

    fn with_secrets() -> Registry {
        let mut r = registry();
        r.register_typed("call", |_ctx, c: Call| async move { Ok::<_, String>(c.url) });
        r
    }

    #[test]
    fn secret_args_are_redacted_and_unknown_functions_masked() {
        let r = with_secrets();
        let mut args = json!({"url": "https://x", "headers": {"Authorization": "Bearer s3cret"}});
        r.redact_args("call", &mut args);
        assert_eq!(
            args,
            json!({"url": "https://x", "headers": {"Authorization": REDACTED}})
        );
        let mut plain = json!({"to": "a@b.c"});
        r.redact_args("mail", &mut plain);
        assert_eq!(plain, json!({"to": "a@b.c"}));
        let mut unknown = json!({"key": "k", "n": [1]});
        r.redact_args("gone", &mut unknown);
        assert_eq!(unknown, json!({"key": REDACTED, "n": [REDACTED]}));
        assert!(r.may_hold_secrets("call"));
        assert!(r.may_hold_secrets("gone"));
        assert!(!r.may_hold_secrets("mail"));
        assert!(!r.may_hold_secrets("free"));
    }

    #[test]
    fn refused_args_never_quote_a_secret() {
        let r = with_secrets();
        let err = r
            .validate_args(
                "call",
                &json!({"url": "https://x", "headers": {"Authorization": 12345}}),
            )
            .unwrap_err();
        assert_eq!(err.field, "args/headers/Authorization");
        assert!(!err.to_string().contains("12345"), "{err}");
        let err = r
            .validate_args(
                "call",
                &json!({"url": 7, "headers": {"Authorization": "Bearer s3cret"}}),
            )
            .unwrap_err();
        assert_eq!(err.field, "args/url");
        assert!(
            err.to_string().contains('7'),
            "a value that is not secret is quoted: {err}"
        );
        let err = r
            .validate_args(
                "call",
                &json!({"url": "https://x", "headers": {"A": "Bearer s3cret"}, "extra": 1}),
            )
            .unwrap_err();
        assert_eq!(err.field, "args");
        assert!(err.to_string().contains("extra"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn untyped_functions_accept_any_args() {
        assert!(registry().validate_args("free", &json!([1, 2])).is_ok());
    }

    #[test]
    fn schema_is_published() {
        let r = registry();
        let schema = r.get("mail").unwrap().info().args_schema.unwrap();
        assert_eq!(schema["properties"]["to"]["type"], "string");
    }
}
