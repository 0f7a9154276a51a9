//! Copies `tracing` events emitted inside a run into that run's log.
//!
//! The engine runs every job inside a [`RUN_SPAN_NAME`] span carrying the
//! execution id, and registers the run's [`LogSink`] under that id for as long
//! as the run lasts. [`RunLogLayer`] finds the sink when the span opens and
//! appends every event recorded beneath the span to it, so what a job (or a
//! library it calls) logs through `tracing` ends up in `job_execution.output`.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::LogSink;

/// The name of the span the engine runs every job in. Its `execution_id`
/// field names the run whose log events beneath it are copied to.
pub const RUN_SPAN_NAME: &str = "ruqi_run";

/// The span field that holds the execution id.
const EXECUTION_ID_FIELD: &str = "execution_id";

/// Whether a [`RunLogLayer`] has been added to a subscriber in this process.
/// Until one is, runs register no log, as nothing would look for it: an
/// application without the layer pays nothing for it per run.
static LAYER_ADDED: AtomicBool = AtomicBool::new(false);

/// Run logs by execution id, for runs that are going now.
static RUN_LOGS: LazyLock<Mutex<HashMap<String, Arc<RunLog>>>> = LazyLock::new(Mutex::default);

/// A run's sink, and whether the run still wants lines: a span can outlive
/// its run (a task the job spawned and left running), and lines written after
/// the run's output was stored would be lost anyway.
#[derive(Debug)]
struct RunLog {
    sink: LogSink,
    attached: AtomicBool,
}

/// Keeps a run's log registered; dropping it detaches the log.
#[derive(Debug)]
#[must_use = "the run's log is detached as soon as the guard is dropped"]
pub(crate) struct RunLogGuard {
    execution_id: String,
    log: Arc<RunLog>,
}

/// Registers `sink` as the log of execution `execution_id`, so that events
/// inside a [`RUN_SPAN_NAME`] span opened for that execution are appended to
/// it. Call it before opening the span and hold the guard for the whole run.
/// `None` while no [`RunLogLayer`] has been added to a subscriber.
pub(crate) fn attach_run_log(execution_id: &str, sink: LogSink) -> Option<RunLogGuard> {
    if !LAYER_ADDED.load(Ordering::Acquire) {
        return None;
    }
    let log = Arc::new(RunLog {
        sink,
        attached: AtomicBool::new(true),
    });
    let mut logs = RUN_LOGS.lock().unwrap_or_else(|p| p.into_inner());
    logs.insert(execution_id.to_owned(), log.clone());
    drop(logs);
    Some(RunLogGuard {
        execution_id: execution_id.to_owned(),
        log,
    })
}

impl Drop for RunLogGuard {
    fn drop(&mut self) {
        self.log.attached.store(false, Ordering::Release);
        let mut logs = RUN_LOGS.lock().unwrap_or_else(|p| p.into_inner());
        // A second attach under the same id replaced this log; leave that one.
        if logs
            .get(&self.execution_id)
            .is_some_and(|log| Arc::ptr_eq(log, &self.log))
        {
            logs.remove(&self.execution_id);
        }
    }
}

fn attached_run_log(execution_id: &str) -> Option<Arc<RunLog>> {
    RUN_LOGS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(execution_id)
        .cloned()
}

/// The span extension that marks a run span and holds its log.
struct RunSpanLog(Arc<RunLog>);

/// A [`Layer`] that appends the `tracing` events recorded inside a run to that
/// run's log; build it with [`run_log_layer`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RunLogLayer;

/// The layer that copies events emitted inside a run into the run's log.
///
/// Libraries never install a subscriber, so the application adds this layer
/// next to its own. Every event recorded inside a run's span, including in
/// spans nested under it, becomes one line of the run's output:
/// `LEVEL target: message key=value ...`. Events outside any run cost one walk
/// up their span scope. To keep chatty levels out of run logs while still
/// printing them, give the layer a filter of its own with
/// [`Layer::with_filter`].
///
/// ```no_run
/// use tracing_subscriber::{fmt, prelude::*};
///
/// tracing_subscriber::registry()
///     .with(fmt::layer())
///     .with(ruqi_core::run_log_layer())
///     .init();
/// ```
pub fn run_log_layer() -> RunLogLayer {
    RunLogLayer
}

impl<S> Layer<S> for RunLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        LAYER_ADDED.store(true, Ordering::Release);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != RUN_SPAN_NAME {
            return;
        }
        let mut visitor = ExecutionIdVisitor::default();
        attrs.record(&mut visitor);
        attach_to_span(visitor.execution_id, id, &ctx);
    }

    // Covers a run span opened with `execution_id = Empty` and recorded later.
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.name() != RUN_SPAN_NAME || span.extensions().get::<RunSpanLog>().is_some() {
            return;
        }
        let mut visitor = ExecutionIdVisitor::default();
        values.record(&mut visitor);
        attach_to_span(visitor.execution_id, id, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(log) = scope
            .into_iter()
            .find_map(|span| span.extensions().get::<RunSpanLog>().map(|run| run.0.clone()))
        else {
            return;
        };
        if log.attached.load(Ordering::Acquire) {
            log.sink.line(&event_line(event));
        }
    }
}

fn attach_to_span<S>(execution_id: Option<String>, id: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(log) = execution_id.as_deref().and_then(attached_run_log) else {
        return;
    };
    if let Some(span) = ctx.span(id) {
        span.extensions_mut().replace(RunSpanLog(log));
    }
}

/// Formats an event as `LEVEL target: message key=value ...`.
fn event_line(event: &Event<'_>) -> String {
    let metadata = event.metadata();
    let mut visitor = EventLineVisitor::default();
    event.record(&mut visitor);
    let mut line = format!("{} {}:", metadata.level(), metadata.target());
    if !visitor.message.is_empty() {
        line.push(' ');
        line.push_str(&visitor.message);
    }
    line.push_str(&visitor.fields);
    line
}

/// Reads the execution id of a run span, whether recorded as `%id`, `?id` or a plain string.
#[derive(Default)]
struct ExecutionIdVisitor {
    execution_id: Option<String>,
}

impl Visit for ExecutionIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == EXECUTION_ID_FIELD {
            self.execution_id = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == EXECUTION_ID_FIELD {
            self.execution_id = Some(format!("{value:?}"));
        }
    }
}

/// Collects an event's message and, separately, its other fields as
/// ` key=value` pairs, so the message can lead whatever order they came in.
/// Values print the way `tracing_subscriber::fmt` prints them: strings quoted,
/// `%` values and errors by `Display`, the rest by `Debug`.
#[derive(Default)]
struct EventLineVisitor {
    message: String,
    fields: String,
}

impl Visit for EventLineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // Writing to a `String` cannot fail.
        let _ = write!(self.fields, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    fn with_run_log_layer(f: impl FnOnce()) {
        let subscriber = tracing_subscriber::registry().with(run_log_layer());
        tracing::subscriber::with_default(subscriber, f);
    }

    #[test]
    fn events_in_a_run_span_and_its_children_are_captured_in_order() {
        let sink = LogSink::new();
        with_run_log_layer(|| {
            let _guard = attach_run_log("layer-e1", sink.clone());
            let run = tracing::info_span!("ruqi_run", job_id = "j", execution_id = %"layer-e1");
            run.in_scope(|| {
                tracing::info!(count = 3, "hello");
                let request = tracing::info_span!("request", url = "http://x");
                request.in_scope(|| tracing::warn!(free_mb = 12, path = "/tmp", "disk almost full"));
            });
            tracing::info!("outside the run");
        });
        let target = module_path!();
        assert_eq!(
            sink.contents(),
            format!("INFO {target}: hello count=3\nWARN {target}: disk almost full free_mb=12 path=\"/tmp\"\n")
        );
    }

    #[test]
    fn message_leads_whatever_the_field_order_and_may_be_absent() {
        let sink = LogSink::new();
        with_run_log_layer(|| {
            let _guard = attach_run_log("layer-order", sink.clone());
            let run = tracing::info_span!("ruqi_run", execution_id = %"layer-order");
            run.in_scope(|| {
                tracing::error!(target: "my_app::jobs", attempt = 2, message = "gave up");
                let error = std::io::Error::other("refused");
                tracing::debug!(target: "my_app::jobs", error = &error as &(dyn std::error::Error + 'static), id = %7);
            });
        });
        assert_eq!(
            sink.contents(),
            "ERROR my_app::jobs: gave up attempt=2\nDEBUG my_app::jobs: error=refused id=7\n"
        );
    }

    #[test]
    fn a_run_span_without_an_attached_log_captures_nothing() {
        let sink = LogSink::new();
        with_run_log_layer(|| {
            drop(attach_run_log("layer-gone", sink.clone()));
            let run = tracing::info_span!("ruqi_run", execution_id = %"layer-gone");
            run.in_scope(|| tracing::info!("nobody listens"));
            let other = tracing::info_span!("ruqi_run", execution_id = %"layer-never-attached");
            other.in_scope(|| tracing::info!("nobody listens either"));
        });
        assert_eq!(sink.contents(), "");
    }

    #[test]
    fn lines_stop_when_the_guard_drops_even_if_the_span_lives_on() {
        let sink = LogSink::new();
        with_run_log_layer(|| {
            let guard = attach_run_log("layer-ended", sink.clone());
            let run = tracing::info_span!("ruqi_run", execution_id = %"layer-ended");
            run.in_scope(|| tracing::info!("during"));
            drop(guard);
            run.in_scope(|| tracing::info!("after"));
        });
        assert_eq!(sink.tail(0).lines, [format!("INFO {}: during", module_path!())]);
    }

    #[test]
    fn parallel_runs_keep_their_lines_apart() {
        let (first, second) = (LogSink::new(), LogSink::new());
        with_run_log_layer(|| {
            let _first_guard = attach_run_log("layer-p1", first.clone());
            let _second_guard = attach_run_log("layer-p2", second.clone());
            let run1 = tracing::info_span!("ruqi_run", job_id = "a", execution_id = %"layer-p1");
            let run2 = tracing::info_span!("ruqi_run", job_id = "b", execution_id = %"layer-p2");
            for step in 0..3 {
                run1.in_scope(|| tracing::info!(step, "one"));
                run2.in_scope(|| tracing::info!(step, "two"));
            }
        });
        let t = module_path!();
        assert_eq!(
            first.tail(0).lines,
            (0..3).map(|s| format!("INFO {t}: one step={s}")).collect::<Vec<_>>()
        );
        assert_eq!(
            second.tail(0).lines,
            (0..3).map(|s| format!("INFO {t}: two step={s}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn parallel_runs_on_threads_keep_their_lines_apart() {
        let subscriber = Arc::new(tracing_subscriber::registry().with(run_log_layer()));
        let sinks: Vec<LogSink> = (0..4).map(|_| LogSink::new()).collect();
        std::thread::scope(|scope| {
            for (n, sink) in sinks.iter().enumerate() {
                let subscriber = subscriber.clone();
                scope.spawn(move || {
                    tracing::subscriber::with_default(subscriber, || {
                        let id = format!("layer-thread-{n}");
                        let _guard = attach_run_log(&id, sink.clone());
                        let run = tracing::info_span!("ruqi_run", execution_id = %id);
                        for step in 0..50 {
                            run.in_scope(|| tracing::info!(run = n, step));
                        }
                    });
                });
            }
        });
        for (n, sink) in sinks.iter().enumerate() {
            let lines = sink.tail(0).lines;
            assert_eq!(lines.len(), 50);
            assert!(lines.iter().all(|l| l.contains(&format!(" run={n} "))), "{lines:?}");
        }
    }

    #[test]
    fn an_execution_id_recorded_after_the_span_opens_is_picked_up() {
        let sink = LogSink::new();
        with_run_log_layer(|| {
            let _guard = attach_run_log("layer-late", sink.clone());
            let run = tracing::info_span!("ruqi_run", execution_id = tracing::field::Empty);
            run.in_scope(|| tracing::info!("too early"));
            run.record("execution_id", "layer-late");
            run.in_scope(|| tracing::info!("in time"));
        });
        assert_eq!(sink.tail(0).lines, [format!("INFO {}: in time", module_path!())]);
    }

    #[test]
    fn a_second_attach_under_the_same_id_survives_the_first_guard() {
        let (old, new) = (LogSink::new(), LogSink::new());
        with_run_log_layer(|| {
            let old_guard = attach_run_log("layer-twice", old.clone());
            let _new_guard = attach_run_log("layer-twice", new.clone());
            drop(old_guard);
            let run = tracing::info_span!("ruqi_run", execution_id = %"layer-twice");
            run.in_scope(|| tracing::info!("kept"));
        });
        assert_eq!(old.line_count(), 0);
        assert_eq!(new.line_count(), 1);
    }
}
