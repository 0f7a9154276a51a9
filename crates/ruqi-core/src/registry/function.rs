//! One registered function: its handler, description and argument schema.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use super::JobContext;
use super::secret::{REDACTED, SecretArgs};
use crate::FieldError;

/// What a handler produces: the output text on success, the failure otherwise.
pub(crate) type HandlerResult = Result<Option<String>, super::JobError>;

pub(crate) enum Handler {
    Async(Arc<dyn Fn(JobContext) -> BoxFuture<'static, HandlerResult> + Send + Sync>),
    Blocking(Arc<dyn Fn(JobContext) -> HandlerResult + Send + Sync>),
}

/// Splits a run into the arguments of the runs it becomes (see
/// [`FunctionEntry::fan_out`](super::FunctionEntry::fan_out)).
pub(crate) type FanOut = Arc<dyn Fn(Arc<Value>) -> BoxFuture<'static, Vec<Value>> + Send + Sync>;

/// Tries to deserialize `args` into the function's argument type.
type ArgsDeserializer = Box<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// The argument check of a typed function: its JSON Schema, and the
/// deserialization itself, which is the final word on what `A` accepts.
pub(crate) struct ArgsCheck {
    schema: Value,
    validator: Option<jsonschema::Validator>,
    deserialize: ArgsDeserializer,
}

impl ArgsCheck {
    pub(crate) fn of<A: serde::de::DeserializeOwned + schemars::JsonSchema>() -> Self {
        let schema = serde_json::to_value(schemars::schema_for!(A)).unwrap_or(Value::Null);
        let validator = jsonschema::validator_for(&schema).ok();
        Self {
            schema,
            validator,
            deserialize: Box::new(|v| {
                serde_json::from_value::<A>(v.clone())
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        }
    }
}

/// A function in the [`Registry`](super::Registry).
pub struct RegisteredFunction {
    name: String,
    pub(super) description: Option<String>,
    pub(crate) handler: Handler,
    args: Option<ArgsCheck>,
    secrets: SecretArgs,
    pub(super) fan_out: Option<FanOut>,
}

impl fmt::Debug for RegisteredFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredFunction")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A registered function as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionInfo {
    /// The name `job_info.func` refers to.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// The JSON Schema of its `args`, for typed functions.
    pub args_schema: Option<Value>,
    /// Whether it runs on the blocking thread pool.
    pub blocking: bool,
}

impl RegisteredFunction {
    pub(super) fn new(name: String, handler: Handler, args: Option<ArgsCheck>) -> Self {
        let secrets = args
            .as_ref()
            .map_or_else(SecretArgs::default, |check| SecretArgs::from_schema(&check.schema));
        Self {
            name,
            description: None,
            handler,
            args,
            secrets,
            fan_out: None,
        }
    }

    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Name, description and argument schema.
    pub fn info(&self) -> FunctionInfo {
        FunctionInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            args_schema: self.args.as_ref().map(|a| a.schema.clone()),
            blocking: matches!(self.handler, Handler::Blocking(_)),
        }
    }

    /// Whether its runs may be split into several (it was registered with a
    /// [`fan_out`](super::FunctionEntry::fan_out)).
    pub fn fans_out(&self) -> bool {
        self.fan_out.is_some()
    }

    /// The arguments of the runs a run with `args` becomes; empty: it runs as it is.
    pub(crate) async fn split(&self, args: Arc<Value>) -> Vec<Value> {
        match &self.fan_out {
            Some(split) => split(args).await,
            None => Vec::new(),
        }
    }

    /// The arguments its schema marks secret (see [`SECRET_KEYWORD`](super::SECRET_KEYWORD)).
    pub fn secret_args(&self) -> &SecretArgs {
        &self.secrets
    }

    /// Replaces the secret values in `args` by [`REDACTED`], keeping everything else.
    pub fn redact_args(&self, args: &mut Value) {
        self.secrets.redact(args);
    }

    /// Checks `args` against the function's schema; untyped functions accept anything.
    ///
    /// The error never quotes a secret argument: its `value` shows the arguments redacted,
    /// and its reason leaves out a value that is secret or holds one.
    pub fn validate_args(&self, args: &Value) -> Result<(), FieldError> {
        let Some(check) = &self.args else { return Ok(()) };
        let shown = || {
            let mut shown = args.clone();
            self.secrets.redact(&mut shown);
            shown
        };
        if let Some(validator) = &check.validator
            && let Some(error) = validator.iter_errors(args).next()
        {
            let path = error.instance_path().to_string();
            let field = if path.is_empty() {
                "args".to_owned()
            } else {
                format!("args{path}")
            };
            let shown = shown();
            let value = shown.pointer(&path).unwrap_or(&shown);
            let hides_secret = args.pointer(&path).is_none_or(|raw| raw != value);
            let reason = if hides_secret {
                error.masked_with(REDACTED).to_string()
            } else {
                error.to_string()
            };
            return Err(FieldError::new(
                field,
                value.to_string(),
                format!("does not match the argument schema of {}: {reason}", self.name),
            ));
        }
        (check.deserialize)(args).map_err(|reason| {
            FieldError::new(
                "args",
                shown().to_string(),
                format!("does not fit the arguments of {}: {reason}", self.name),
            )
        })
    }
}

/// What a function may return on success; it becomes the execution's output.
pub trait IntoJobOutput {
    /// The output text, or `None` for no output.
    fn into_job_output(self) -> Option<String>;
}

impl IntoJobOutput for () {
    fn into_job_output(self) -> Option<String> {
        None
    }
}

impl IntoJobOutput for String {
    fn into_job_output(self) -> Option<String> {
        Some(self)
    }
}

impl IntoJobOutput for &'static str {
    fn into_job_output(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl IntoJobOutput for Option<String> {
    fn into_job_output(self) -> Option<String> {
        self
    }
}

impl IntoJobOutput for Value {
    fn into_job_output(self) -> Option<String> {
        Some(self.to_string())
    }
}
