//! What every scenario's figures carry and how the report shows them: how
//! and where they were taken ([`RunInfo`], [`Section`], [`run_line`]) and
//! the lines of the Bars table ([`Bar`]). Scenarios depend on this module,
//! not on the report that renders them.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::SQLITE_SETUP;
use crate::machine::Machine;

/// How and where one scenario's figures were taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// When the run started (UTC, RFC 3339).
    pub(crate) date: String,
    /// The command that ran it.
    pub(crate) command: String,
    /// The commit measured.
    pub(crate) commit: String,
    /// `release`, or `debug` (figures not to be quoted).
    pub(crate) build: String,
    /// Whether it was a `--quick` run.
    pub(crate) quick: bool,
    /// The machine.
    pub(crate) machine: Machine,
    /// How the database was set up.
    pub(crate) database: String,
    /// How each server was reached (see `backend::server_connections`).
    #[serde(default)]
    pub(crate) servers: Vec<String>,
    /// What the machine was doing besides, in the words of whoever ran it
    /// ([`NOTE_ENV`]); shown in the run line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// Set this environment variable to say in each section's run line what
/// else the machine was doing (other builds, a test run): the load average
/// shows that it was busy, not with what.
pub(crate) const NOTE_ENV: &str = "RUQI_BENCH_NOTE";

impl RunInfo {
    /// Describes a run starting now with `args` (the command-line arguments after the program name).
    pub(crate) fn now(root: &Path, args: &[String], quick: bool) -> RunInfo {
        let build = if cfg!(debug_assertions) { "debug" } else { "release" };
        let args = args.join(" ");
        // `cargo run` sets CARGO for the program it runs.
        let command = if std::env::var_os("CARGO").is_some() {
            let release = if cfg!(debug_assertions) { "" } else { " --release" };
            format!("cargo run{release} -p ruqi-bench -- {args}")
        } else {
            format!("ruqi-bench {args}")
        };
        RunInfo {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            command,
            commit: crate::machine::git_commit(root),
            build: build.to_owned(),
            quick,
            machine: Machine::describe(),
            database: SQLITE_SETUP.to_owned(),
            servers: crate::backend::server_connections(),
            note: std::env::var(NOTE_ENV)
                .ok()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
        }
    }
}

/// A scenario's figures with how they were taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Section<T> {
    /// How and where.
    pub(crate) run: RunInfo,
    /// The machine's load average (1, 5, 15 min) when the scenario began and
    /// when it ended: other work on the machine shows up here.
    pub(crate) load_average: [String; 2],
    /// The figures.
    pub(crate) report: T,
}

/// A target the figures are held to: one line of the "Bars" table.
pub(crate) struct Bar {
    /// The goal, in words ("lateness p99 ≤ 2 ms with 100,000 jobs").
    pub(crate) what: String,
    /// What this run measured, in words and numbers, or why it was not measured.
    pub(crate) measured: String,
    /// `None` when this run did not measure it.
    pub(crate) pass: Option<bool>,
}

impl Bar {
    /// A bar this run did not measure, with why in `measured`.
    pub(crate) fn unmeasured(what: String, why: impl Into<String>) -> Bar {
        Bar {
            what,
            measured: why.into(),
            pass: None,
        }
    }
}

/// The italic line under a section's heading: when, with what command, at
/// which commit, under what load.
pub(crate) fn run_line<T>(section: &Section<T>) -> String {
    let run = &section.run;
    let mut line = format!(
        "*Measured {} with `{}` at commit `{}` ({} build); load average {} before, {} after",
        run.date, run.command, run.commit, run.build, section.load_average[0], section.load_average[1]
    );
    if !run.servers.is_empty() {
        let _ = write!(line, "; {}", run.servers.join(", "));
    }
    if let Some(note) = &run.note {
        let _ = write!(line, "; {note}");
    }
    if run.quick {
        line.push_str("; a `--quick` smoke run: one run per configuration, shorter windows, fewer rows");
    }
    if run.build != "release" {
        line.push_str("; **a debug build: do not quote these figures**");
    }
    line.push_str(".*\n\n");
    line
}
