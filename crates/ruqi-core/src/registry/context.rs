//! What a registered function receives when it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
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
    timeout: Option<Duration>,
    args: Arc<Value>,
    cancel: CancellationToken,
    log: LogSink,
    slot: RunSlot,
}

/// A run's place among the scheduler's `max_concurrent_runs`, which the
/// function may give back early ([`JobContext::release_slot`]).
/// The default holds no place (and allocates nothing).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunSlot(Option<Arc<Mutex<Option<OwnedSemaphorePermit>>>>);

impl RunSlot {
    pub(crate) fn holding(permit: Option<OwnedSemaphorePermit>) -> Self {
        Self(Some(Arc::new(Mutex::new(permit))))
    }

    /// Gives the place back, if it is still held.
    pub(crate) fn release(&self) {
        if let Some(place) = &self.0 {
            let permit = place.lock().unwrap_or_else(|p| p.into_inner()).take();
            drop(permit);
        }
    }
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
    /// The job's `timeout_s`, after which the run is stopped.
    pub timeout: Option<Duration>,
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
            timeout: info.timeout,
            args: info.args,
            cancel,
            log,
            slot: RunSlot::default(),
        }
    }

    /// The context with the run's place among the concurrent runs attached.
    pub(crate) fn in_slot(mut self, slot: RunSlot) -> Self {
        self.slot = slot;
        self
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

    /// The job's `timeout_s`: how long the run may take before the engine
    /// stops it and records `timeout`.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
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

    /// Gives back this run's place among the scheduler's `max_concurrent_runs`
    /// for the rest of the run, so that another run may start in it: for a
    /// function that from now on only waits for another system to finish the
    /// work (a remote executor's callback, a batch job elsewhere), which
    /// costs this process nothing. The run goes on as before in every other
    /// way: its job's overlap policy counts it, its timeout and cancellation
    /// apply, its row stays `running`. Calling it again does nothing.
    pub fn release_slot(&self) {
        self.slot.release();
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
///
/// ```
/// use ruqi_core::LogSink;
///
/// let sink = LogSink::new();
/// sink.line("connected");
/// sink.append("copying");
/// // The half-written second line is held back until its newline arrives.
/// let tail = sink.tail(0);
/// assert_eq!(tail.lines, ["connected"]);
/// sink.append(" 3 files\n");
/// assert_eq!(sink.tail(tail.next_line).lines, ["copying 3 files"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogSink {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    output: Mutex<Output>,
    /// Told when a line is completed, for [`LogSink::grown_past`].
    grew: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Output {
    text: String,
    dropped_bytes: usize,
    /// Newlines in `text`, counted as it grows so that polling a tail that has
    /// nothing new does not rescan the log.
    complete_lines: usize,
}

/// Lines read from an execution's log, numbered from 0.
///
/// Returned by [`LogSink::tail`] while a run is going and by [`tail_text`] for
/// the stored output of a finished one; a reader polls with `next_line` until
/// the run ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogTail {
    /// The lines from the requested line on, without their line endings.
    pub lines: Vec<String>,
    /// The line number to ask for next time.
    pub next_line: usize,
    /// Whether the log hit [`OUTPUT_LIMIT_BYTES`] and later text was dropped.
    pub truncated: bool,
}

impl LogSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `line` and a newline.
    pub fn line(&self, line: &str) {
        let mut out = self.output();
        out.append(line);
        out.append("\n");
        drop(out);
        self.inner.grew.notify_one();
    }

    /// Appends `text` as it is.
    pub fn append(&self, text: &str) {
        let mut out = self.output();
        let lines = out.complete_lines;
        out.append(text);
        let grew = out.complete_lines > lines;
        drop(out);
        if grew {
            self.inner.grew.notify_one();
        }
    }

    /// Returns once the log holds more than `lines` complete lines (at once
    /// if it does already). One waiter at a time: the run's log flusher.
    pub(crate) async fn grown_past(&self, lines: usize) {
        // A line completed between the count and the wait leaves its
        // notification stored, so the wait ends at once.
        while self.line_count() <= lines {
            self.inner.grew.notified().await;
        }
    }

    fn output(&self) -> std::sync::MutexGuard<'_, Output> {
        self.inner.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The collected output, with a closing note on a line of its own when some
    /// of it was dropped.
    pub fn contents(&self) -> String {
        let out = self.output();
        if out.dropped_bytes == 0 {
            return out.text.clone();
        }
        let mut text = out.text.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&cut_note(out.dropped_bytes));
        text
    }

    /// The complete lines (ended by a newline) collected so far.
    pub fn line_count(&self) -> usize {
        self.output().complete_lines
    }

    /// The complete lines from line `from_line` on.
    ///
    /// A last line still waiting for its newline is left out, so a reader never
    /// sees a line that later grows. Once the log has been cut the cut line and
    /// the note saying so only show in the finished output ([`tail_text`] of
    /// [`LogSink::contents`]), whose lines this numbering is a prefix of.
    pub fn tail(&self, from_line: usize) -> LogTail {
        let out = self.output();
        let truncated = out.dropped_bytes > 0;
        if from_line >= out.complete_lines {
            return LogTail {
                lines: Vec::new(),
                next_line: from_line,
                truncated,
            };
        }
        let (lines, next_line) = read_lines(&out.text, from_line, false);
        LogTail {
            lines,
            next_line,
            truncated,
        }
    }
}

/// The lines of a finished log (such as a stored `job_execution.output`) from
/// line `from_line` on; the last line counts even without a trailing newline.
///
/// `truncated` is set when the text holds the note [`LogSink::contents`] ends a
/// cut log with.
///
/// ```
/// let tail = ruqi_core::tail_text("one\ntwo\nthree", 1);
/// assert_eq!(tail.lines, ["two", "three"]);
/// assert_eq!(tail.next_line, 3);
/// assert!(!tail.truncated);
/// ```
pub fn tail_text(text: &str, from_line: usize) -> LogTail {
    let (lines, next_line) = read_lines(text, from_line, true);
    LogTail {
        lines,
        next_line,
        truncated: contains_cut_note(text),
    }
}

/// Lines `from_line..` of `text` and the number of the line after the last one
/// read. Unless the text is `finished` (will not grow), a last line without a
/// newline is not read.
fn read_lines(text: &str, from_line: usize, finished: bool) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut line_no = 0;
    for piece in text.split_inclusive('\n') {
        let line = match piece.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None if finished => piece,
            None => break,
        };
        if line_no >= from_line {
            lines.push(line.to_owned());
        }
        line_no += 1;
    }
    (lines, line_no.max(from_line))
}

// The cut note is `[output cut at <limit> bytes; <dropped> more bytes dropped]`;
// its pieces are shared by the writer and the reader so the two cannot drift.
const CUT_NOTE_START: &str = "[output cut at ";
const CUT_NOTE_MIDDLE: &str = " bytes; ";
const CUT_NOTE_END: &str = " more bytes dropped]";

fn cut_note(dropped_bytes: usize) -> String {
    format!("{CUT_NOTE_START}{OUTPUT_LIMIT_BYTES}{CUT_NOTE_MIDDLE}{dropped_bytes}{CUT_NOTE_END}")
}

fn contains_cut_note(text: &str) -> bool {
    fn after_number(text: &str) -> Option<&str> {
        let rest = text.trim_start_matches(|c: char| c.is_ascii_digit());
        (rest.len() < text.len()).then_some(rest)
    }
    text.match_indices(CUT_NOTE_START).any(|(at, _)| {
        after_number(&text[at + CUT_NOTE_START.len()..])
            .and_then(|rest| rest.strip_prefix(CUT_NOTE_MIDDLE))
            .and_then(after_number)
            .is_some_and(|rest| rest.starts_with(CUT_NOTE_END))
    })
}

impl Output {
    fn append(&mut self, text: &str) {
        // Nothing is added after a cut, so the stored output is a prefix of
        // what was written and the cut line never grows.
        if self.dropped_bytes > 0 {
            self.dropped_bytes += text.len();
            return;
        }
        let room = OUTPUT_LIMIT_BYTES.saturating_sub(self.text.len());
        let mut keep = text.len().min(room);
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        let kept = &text[..keep];
        self.text.push_str(kept);
        self.complete_lines += kept.bytes().filter(|&b| b == b'\n').count();
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

    #[test]
    fn tail_holds_back_a_partial_last_line() {
        let sink = LogSink::new();
        sink.line("zero");
        sink.append("one");
        assert_eq!(sink.line_count(), 1);
        let tail = sink.tail(0);
        assert_eq!(
            tail,
            LogTail {
                lines: vec!["zero".into()],
                next_line: 1,
                truncated: false
            }
        );

        let nothing_new = sink.tail(tail.next_line);
        assert_eq!(
            nothing_new,
            LogTail {
                lines: vec![],
                next_line: 1,
                truncated: false
            }
        );

        sink.append(" more\ntwo\nthr");
        let tail = sink.tail(1);
        assert_eq!(tail.lines, ["one more", "two"]);
        assert_eq!(tail.next_line, 3);
        assert_eq!(sink.line_count(), 3);
        assert_eq!(sink.tail(2).lines, ["two"]);
        assert_eq!(
            sink.tail(7),
            LogTail {
                lines: vec![],
                next_line: 7,
                truncated: false
            }
        );
    }

    #[test]
    fn tail_text_reads_every_line_of_a_finished_log() {
        assert_eq!(
            tail_text("", 0),
            LogTail {
                lines: vec![],
                next_line: 0,
                truncated: false
            }
        );
        assert_eq!(tail_text("a\r\nb\n", 0).lines, ["a", "b"]);
        let tail = tail_text("a\nb\nc", 1);
        assert_eq!(
            tail,
            LogTail {
                lines: vec!["b".into(), "c".into()],
                next_line: 3,
                truncated: false
            }
        );
        assert_eq!(tail_text("a\n\nc\n", 0).lines, ["a", "", "c"]);
        assert_eq!(
            tail_text("a\nb", 5),
            LogTail {
                lines: vec![],
                next_line: 5,
                truncated: false
            }
        );
    }

    #[test]
    fn a_cut_log_is_flagged_live_and_ends_with_the_note_when_finished() {
        let sink = LogSink::new();
        sink.line("first");
        let long_line = "x".repeat(OUTPUT_LIMIT_BYTES);
        sink.line(&long_line);
        sink.line("after the cut");

        let live = sink.tail(0);
        assert!(live.truncated);
        assert_eq!(live.lines, ["first"], "the cut line has no newline yet");
        assert_eq!(sink.line_count(), 1);

        let finished = tail_text(&sink.contents(), 0);
        assert!(finished.truncated);
        assert_eq!(finished.lines.len(), 3);
        assert_eq!(finished.lines[..live.lines.len()], live.lines[..]);
        assert_eq!(finished.lines[1].len(), OUTPUT_LIMIT_BYTES - "first\n".len());
        assert!(
            finished.lines[2].starts_with("[output cut at 65536 bytes;"),
            "{}",
            finished.lines[2]
        );
        assert!(!sink.contents().contains("after the cut"));
    }

    #[test]
    fn a_cut_at_a_line_end_adds_no_empty_line() {
        let sink = LogSink::new();
        sink.line(&"x".repeat(OUTPUT_LIMIT_BYTES - 1));
        sink.line("dropped");
        let finished = tail_text(&sink.contents(), 0);
        assert_eq!(finished.lines.len(), 2);
        assert!(finished.lines[1].starts_with("[output cut at"));
        assert_eq!(sink.tail(0).lines.len(), 1);
    }

    #[test]
    fn only_the_real_cut_note_marks_a_text_truncated() {
        assert!(tail_text(&format!("a\n{}", cut_note(12)), 0).truncated);
        assert!(tail_text(&format!("a\n{}returned value", cut_note(1)), 0).truncated);
        assert!(!tail_text("[output cut at some point]", 0).truncated);
        assert!(!tail_text("[output cut at 10 bytes; lots more bytes dropped]", 0).truncated);
        assert!(!tail_text("[output cut at ", 0).truncated);
    }
}
