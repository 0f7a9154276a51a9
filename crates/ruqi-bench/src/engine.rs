//! The timer engines compared: ruqi's own heap and tokio-cron-scheduler.

use serde::{Deserialize, Serialize};

use ruqi_core::TimerEngine;

/// The largest configuration the tokio-cron-scheduler engine is run at.
pub(crate) const TCS_MAX_JOBS: usize = 100_000;

/// A timer engine as the harness names it on the command line, in JSON and in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Engine {
    /// ruqi's min-heap and one timer sleeping until the earliest deadline.
    Heap,
    /// One one-shot job per deadline in tokio-cron-scheduler (500 ms tick).
    TokioCronScheduler,
}

impl Engine {
    /// Both engines, the reference first.
    pub(crate) const ALL: [Engine; 2] = [Engine::Heap, Engine::TokioCronScheduler];

    /// The name used in tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Engine::Heap => "heap",
            Engine::TokioCronScheduler => "tokio-cron-scheduler",
        }
    }

    /// Whether configurations of `jobs` jobs are run with this engine.
    /// tokio-cron-scheduler is left out above [`TCS_MAX_JOBS`]: it keeps
    /// every job in its own structures besides ruqi's (about 5 KB each at
    /// 100,000) and walks all of them on every 500 ms tick, so a million
    /// would hold gigabytes of a shared machine for minutes per run.
    pub(crate) fn measured_at(self, jobs: usize) -> bool {
        match self {
            Engine::Heap => true,
            Engine::TokioCronScheduler => jobs <= TCS_MAX_JOBS,
        }
    }

    /// The scheduler setting that selects this engine.
    pub(crate) fn timer(self) -> TimerEngine {
        match self {
            Engine::Heap => TimerEngine::Heap,
            Engine::TokioCronScheduler => TimerEngine::TokioCronScheduler,
        }
    }
}
