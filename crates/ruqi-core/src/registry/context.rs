//! What a registered function receives when it runs.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::execution::TriggerSource;

/// The most output (log lines plus the returned value) kept for one execution.
pub const OUTPUT_LIMIT_BYTES: usize = 64 * 1024;

/// The run a function is executing: which job, which execution, which
/// scheduled instant, its arguments, a cancellation token and a log sink.
#[derive(Debug, Clone)]
pub struct JobContext {
    job_id: Arc<str>,
    execution_id: Arc<str>,
    scheduled_for: DateTime<Utc>,
    attempt: u32,
    trigger_source: TriggerSource,
    args: Arc<Value>,
    cancel: CancellationToken,
    log: LogSink,
}

/// The parts a [`JobContext`] is built from; the engine fills it in.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The job's `job_id`.
    pub job_id: Arc<str>,
    /// The `job_execution.id` of this run.
    pub execution_id: Arc<str>,
    /// The instant the run was scheduled for.
    pub scheduled_for: DateTime<Utc>,
    /// 1 for the first attempt of a fire, 2 for its first retry, and so on.
    pub attempt: u32,
    /// Why this run happened.
    pub trigger_source: TriggerSource,
    /// The job's `args`.
    pub args: Arc<Value>,
}

impl JobContext {
    /// Builds a context; the engine does this for every run.
    pub fn new(info: RunInfo, cancel: CancellationToken, log: LogSink) -> Self {
        Self {
            job_id: info.job_id,
            execution_id: info.execution_id,
            scheduled_for: info.scheduled_for,
            attempt: info.attempt,
            trigger_source: info.trigger_source,
            args: info.args,
            cancel,
            log,
        }
    }

    /// The job's `job_id`.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The `job_execution.id` of this run.
    pub fn execution_id(&self) -> &str {
        &self.execution_id
    }

    /// The instant this run was scheduled for (not when it started).
    pub fn scheduled_for(&self) -> DateTime<Utc> {
        self.scheduled_for
    }

    /// 1 for the first attempt, 2 for the first retry, and so on.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Why this run happened: its schedule, a manual run, a retry or a parent job.
    pub fn trigger_source(&self) -> TriggerSource {
        self.trigger_source
    }

    /// The job's `args` as stored in `job_info`.
    pub fn args(&self) -> &Value {
        &self.args
    }

    /// Cancelled when the run is cancelled, replaced, timed out or the scheduler shuts down.
    /// Long-running functions should check it or `select!` on [`CancellationToken::cancelled`].
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the run has been asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Appends a line to this execution's output (`job_execution.output`).
    pub fn log(&self, line: impl AsRef<str>) {
        self.log.line(line.as_ref());
    }

    /// The log sink, for handing to code that writes lines of its own.
    pub fn log_sink(&self) -> &LogSink {
        &self.log
    }
}

/// Collects an execution's output, capped at [`OUTPUT_LIMIT_BYTES`].
///
/// Once the cap is reached further text is dropped and the stored output ends
/// with a note saying it was cut, so nobody mistakes a cut log for a whole one.
#[derive(Debug, Clone, Default)]
pub struct LogSink {
    inner: Arc<Mutex<Output>>,
}

#[derive(Debug, Default)]
struct Output {
    text: String,
    dropped_bytes: usize,
}

impl LogSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `line` and a newline.
    pub fn line(&self, line: &str) {
        let mut out = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.append(line);
        out.append("\n");
    }

    /// Appends `text` as it is.
    pub fn append(&self, text: &str) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).append(text);
    }

    /// The collected output, with a closing note when some of it was dropped.
    pub fn contents(&self) -> String {
        let out = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if out.dropped_bytes == 0 {
            out.text.clone()
        } else {
            format!(
                "{}\n[output cut at {} bytes; {} more bytes dropped]",
                out.text, OUTPUT_LIMIT_BYTES, out.dropped_bytes
            )
        }
    }
}

impl Output {
    fn append(&mut self, text: &str) {
        let room = OUTPUT_LIMIT_BYTES.saturating_sub(self.text.len());
        if text.len() <= room {
            self.text.push_str(text);
            return;
        }
        let mut keep = room;
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        self.text.push_str(&text[..keep]);
        self.dropped_bytes += text.len() - keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_and_says_so() {
        let sink = LogSink::new();
        sink.line("first");
        sink.append(&"é".repeat(OUTPUT_LIMIT_BYTES));
        let text = sink.contents();
        assert!(text.starts_with("first\n"));
        assert!(text.contains("[output cut at 65536 bytes;"));
        assert!(text.len() < OUTPUT_LIMIT_BYTES + 100);
    }

    #[test]
    fn short_output_is_kept_whole() {
        let sink = LogSink::new();
        sink.line("a");
        sink.line("b");
        assert_eq!(sink.contents(), "a\nb\n");
    }
}
