//! Calling a job's function: polled by its run's own task (or, blocking, on
//! a thread of the runtime's blocking pool), its timeout and cancellation, a
//! panic taken as a failure, and the wait for a blocking function that was
//! recorded as ended before it really stopped.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tracing::Instrument;
use tracing::instrument::Instrumented;

use super::state::RunHandle;
use crate::execution::ExecutionStatus;
use crate::registry::function::{Handler, HandlerResult};
use crate::registry::{JobContext, LogSink, RetryAdvice};

/// How long a stopped run that has no timeout may take to really stop.
const STOP_GRACE_DEFAULT: Duration = Duration::from_secs(30);
/// The longest a run that ignores its timeout or cancellation keeps its overlap slot.
const STOP_GRACE_MAX: Duration = Duration::from_secs(300);

/// How a run ended, before it is written down.
pub(super) struct Outcome {
    pub(super) status: ExecutionStatus,
    pub(super) output: Option<String>,
    pub(super) error: Option<String>,
    pub(super) retry: RetryAdvice,
    /// A blocking function's task when the run was recorded as ended
    /// before the function stopped (timeout or cancellation).
    pub(super) still_going: Option<JoinHandle<HandlerResult>>,
}

impl Outcome {
    pub(super) fn failed(error: String) -> Self {
        Self {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(error),
            retry: RetryAdvice::Policy,
            still_going: None,
        }
    }
}

/// A run's output as stored: what it logged, then what its function
/// returned; `None` when both are empty.
pub(super) fn run_output(log: &LogSink, returned: Option<String>) -> Option<String> {
    let mut output = log.contents();
    if let Some(returned) = returned {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&returned);
    }
    (!output.is_empty()).then(|| cap_output(output))
}

/// The function's output as stored: cut a little past the log's own cap,
/// saying so.
fn cap_output(mut output: String) -> String {
    let limit = crate::registry::OUTPUT_LIMIT_BYTES + 256;
    if output.len() > limit {
        let mut cut = limit;
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        output.truncate(cut);
        output.push_str("\n[output cut]");
    }
    output
}

/// Waits for a function whose run was already recorded as ended (timed out
/// or cancelled) to really stop, for as long as its timeout again (30 s
/// without one), at most five minutes; then abandons it.
pub(super) async fn wait_until_stopped(
    task: JoinHandle<HandlerResult>,
    timeout: Option<Duration>,
    span: &tracing::Span,
) {
    let grace = timeout.unwrap_or(STOP_GRACE_DEFAULT).min(STOP_GRACE_MAX);
    match tokio::time::timeout(grace, task).await {
        Ok(Err(join)) if join.is_cancelled() => {}
        Ok(_) => tracing::info!(
            parent: span,
            "the function returned after its run was recorded as ended; its result was dropped"
        ),
        Err(_) => tracing::warn!(
            parent: span,
            grace_s = grace.as_secs(),
            "the function still runs after its timeout or cancellation; abandoned (no longer counted by the overlap policy)"
        ),
    }
}

/// How the wait for a function ended.
enum Waited {
    /// It returned, or panicked (the panic's text).
    Returned(Result<HandlerResult, String>),
    Deadline,
    Cancelled,
}

/// An async function's call, polled by the run itself: a panic is caught
/// at each poll.
type InlineCall = futures::future::CatchUnwind<AssertUnwindSafe<Instrumented<BoxFuture<'static, HandlerResult>>>>;

/// Where a function runs.
enum Call {
    /// An async function: polled by the run's own task, so a run costs no
    /// task of its own; dropping it stops the function at its current await.
    Inline(InlineCall),
    /// A blocking function: on the runtime's blocking threads, where it runs
    /// on until it returns, whatever the run does meanwhile.
    Thread(JoinHandle<HandlerResult>),
}

impl Call {
    async fn returned(&mut self) -> Result<HandlerResult, String> {
        match self {
            Self::Inline(call) => call
                .await
                .map_err(|payload| format!("the function panicked: {}", panic_text(&*payload))),
            Self::Thread(task) => task.await.map_err(panic_message),
        }
    }
}

/// Calls the handler and returns the wait for it: a panic is a failure, the
/// deadline a timeout, the token a cancellation.
///
/// The call is made here, not when the wait is first polled, so that the
/// context and span moved into it are not also kept in the run's state.
pub(super) fn run_handler<'a>(
    handler: &Handler,
    ctx: JobContext,
    timeout: Option<Duration>,
    handle: &'a RunHandle,
    span: tracing::Span,
) -> impl Future<Output = Outcome> + Send + 'a {
    let mut call = match handler {
        Handler::Async(f) => Call::Inline(AssertUnwindSafe(f(ctx).instrument(span)).catch_unwind()),
        Handler::Blocking(f) => {
            let f = f.clone();
            Call::Thread(tokio::task::spawn_blocking(move || span.in_scope(|| f(ctx))))
        }
    };
    async move {
        let token = &handle.cancel;
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        // The token and the deadline first: an async function polled here
        // sees its token in the same poll and may return at once (an error
        // saying it stopped), but the run was cancelled or timed out.
        let waited = tokio::select! {
            biased;
            () = token.cancelled() => Waited::Cancelled,
            () = deadline => Waited::Deadline,
            returned = call.returned() => Waited::Returned(returned),
        };
        let (status, error) = match waited {
            Waited::Returned(Ok(Ok(output))) => {
                return Outcome {
                    status: ExecutionStatus::Success,
                    output,
                    error: None,
                    retry: RetryAdvice::Policy,
                    still_going: None,
                };
            }
            Waited::Returned(Ok(Err(failure))) => {
                let status = if failure.is_timeout() {
                    ExecutionStatus::Timeout
                } else if failure.is_lost() {
                    ExecutionStatus::Lost
                } else {
                    ExecutionStatus::Failed
                };
                return Outcome {
                    status,
                    retry: failure.retry(),
                    ..Outcome::failed(failure.message().to_owned())
                };
            }
            Waited::Returned(Err(panicked)) => return Outcome::failed(panicked),
            Waited::Deadline => (
                ExecutionStatus::Timeout,
                format!("timed out after {}s (timeout_s)", timeout.map_or(0, |t| t.as_secs())),
            ),
            Waited::Cancelled => (
                ExecutionStatus::Cancelled,
                handle
                    .marks
                    .cancel_reason
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "cancelled".to_owned()),
            ),
        };
        // An async function stops here, where its future is dropped; a
        // blocking one only when it checks its token (or, not started yet,
        // never starts).
        token.cancel();
        let still_going = match call {
            Call::Inline(call) => {
                drop(call);
                None
            }
            Call::Thread(task) => {
                task.abort();
                Some(task)
            }
        };
        Outcome {
            status,
            still_going,
            ..Outcome::failed(error)
        }
    }
}

/// Why a blocking function's task ended without its result.
fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "the run was aborted".to_owned();
    }
    match join.try_into_panic() {
        Ok(payload) => format!("the function panicked: {}", panic_text(&*payload)),
        Err(_) => "the run ended abnormally".to_owned(),
    }
}

/// The text a panic was raised with.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}
