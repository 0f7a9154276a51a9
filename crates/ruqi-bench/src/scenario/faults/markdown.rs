//! The `faults` section of `BENCHMARKS.md` and its bars.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{BACKENDS, Report, label};
use crate::faults::{
    CUTOFF_BEFORE_STOP, GROUPS, Lateness, NODE_LOG_DEFAULT, NODE_LOG_ENV, NODES, RESTART_PAUSE, Restart, SLOW_ANSWER,
    WINDOW_AFTER_RECOVERY, job_count,
};
use crate::section::{Bar, Section, run_line};

/// Seconds with one decimal, or `—`.
fn secs(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |s| format!("{s:.1}"))
}

fn lateness(value: Option<Lateness>) -> String {
    value.map_or_else(
        || "—".to_owned(),
        |l| format!("{:.1} / {:.1} / {:.0}", l.p50, l.p99, l.max),
    )
}

fn flag(n: usize) -> String {
    if n == 0 { "0".to_owned() } else { format!("❌ **{n}**") }
}

/// The `faults` section of `BENCHMARKS.md`.
pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Faults: killed nodes, database restarts, simultaneous starts (`faults`)\n\n");
    md.push_str(&run_line(section));
    let groups: Vec<String> = GROUPS
        .iter()
        .map(|g| {
            format!(
                "{} `{}` `{}` ({})",
                g.count,
                g.trigger,
                g.rule,
                if g.slow {
                    format!(
                        "`http` to a loopback endpoint that answers after {} ms",
                        SLOW_ANSWER.as_millis()
                    )
                } else {
                    "`log`".to_owned()
                }
            )
        })
        .collect();
    let settings = if report.settings.is_empty() {
        let scheduler = ruqi::SchedulerConfig::default();
        let feed = ruqi::FeedConfig::default();
        format!(
            "the product's defaults (heartbeat {} s, takeover after {} s, poll {} s: no such flag passed)",
            scheduler.heartbeat_interval.as_secs_f64(),
            scheduler.takeover_after.as_secs_f64(),
            feed.poll_interval.as_secs_f64()
        )
    } else {
        format!("**not the defaults**: {}", report.settings.join(", "))
    };
    let _ = write!(
        md,
        "What a user sees in `job_execution` when a node is killed, the database restarts cleanly or crashes, \
         or the nodes start together. Each backend is a server of the harness's own on a spare loopback port \
         (PostgreSQL: `initdb`, `pg_ctl`; MariaDB: `mariadb-install-db`, `mariadbd`), so that it may be \
         stopped and killed; each run uses a fresh database on it. The nodes are {NODES} `ruqi-server` processes \
         (`ruqi_server::serve`, the flags a user passes: `--database-url` over TCP, `--node-name`, `--listen`), \
         with {settings}. A run: the {NODES} nodes start at the same instant on the empty database (each runs \
         the migrations); {jobs} jobs are written without the ORM's hooks — {groups}; every policy column at \
         its default (`misfire_grace_s` 5, overlap `skip`), first fires a few seconds ahead (`start_at`); after \
         the warm-up one node is killed with SIGKILL and started again under its name a few seconds later \
         (started again after {pause} ms whenever a start exits, as a service manager would); then a fast \
         restart of the database (PostgreSQL `pg_ctl stop -m fast`, MariaDB SIGTERM) and a crash restart \
         (`pg_ctl stop -m immediate`, SIGKILL), each down for a few seconds, with running time between; then \
         SIGTERM to every node. Then, from the tables:\n\n\
         - **fires run twice**: (job, `scheduled_for`) pairs whose function ran more than once: rows `success`, \
         `failed`, `timeout`, `cancelled`, `running`, and `lost` rows except those of a node killed while that \
         run was in flight (the only row that may stand for a run that did not finish);\n\
         - **unrecorded**: fires with no row of any status (`missed` is a record), from each job's first fire — \
         computed from the row with ruqi's own trigger code — to {cutoff} s before the stop;\n\
         - **past the grace**: runs (not `missed`) that started more than the job's `misfire_grace_s` after their \
         instant;\n\
         - **live nodes reaped**: `lost` rows of a node that was not killed while the run was in flight;\n\
         - **left running**: rows still `running` once every node has stopped;\n\
         - **not healthy at once**: nodes that did not answer `GET /api/health` when started together with the \
         others (the first start of each run, and {starts} more starts of {NODES} nodes on empty databases).\n\n\
         All must be 0. Figures: **takeover** — from the kill to the first run, on another node, of a fire of a \
         job the killed node owned (`ruqi::fire_owner` over the three names), and to the first of its in-flight \
         runs being marked `lost`; **recovery** — from the database accepting connections again to the first \
         run started after it that succeeded, and to every node having one; **lateness** — `started_at` − \
         `scheduled_for` of scheduled runs, p50 / p99 / max in ms, over the run and over the fault windows (each \
         fault until {window} s after its recovery). {runs} run(s) per backend, the killed node and the outages \
         varying from run to run.\n\n",
        jobs = job_count(),
        groups = groups.join(", "),
        pause = RESTART_PAUSE.as_millis(),
        cutoff = CUTOFF_BEFORE_STOP.num_seconds(),
        starts = report.simultaneous_starts,
        window = WINDOW_AFTER_RECOVERY.num_seconds(),
        runs = report.runs,
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter_map(|b| b.version.as_ref().map(|v| format!("{} (`{v}`)", b.label())))
        .collect();
    let _ = write!(
        md,
        "Servers: {}.",
        if measured.is_empty() {
            "none".to_owned()
        } else {
            measured.join(", ")
        }
    );
    for backend in report.backends.iter().filter(|b| b.skipped.is_some()) {
        let _ = write!(
            md,
            " Not measured: {} ({}).",
            backend.label(),
            backend.skipped.as_deref().unwrap_or("")
        );
    }
    md.push_str("\n\n");

    md.push_str(
        "| backend | runs | fires run twice | unrecorded | past the grace | live nodes reaped | left running \
         | not healthy at once | runs that failed |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for backend in report.backends.iter().filter(|b| b.skipped.is_none()) {
        let totals = backend.totals();
        let cells: Vec<String> = totals.iter().map(|(_, n)| flag(*n)).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            backend.label(),
            backend.runs.len(),
            cells.join(" | "),
            flag(backend.failures().len())
        );
    }

    md.push_str(
        "\nRun by run (outages: stop issued → first connection accepted; takeover and recovery in seconds; \
         lateness p50 / p99 / max in ms):\n\n\
         | backend | run | killed, back after (starts) | fast restart down | crash restart down | twice | unrecorded \
         | past grace | live reaped | left running | takeover: first run elsewhere / first `lost` | recovery \
         after fast / crash (first success, every node) | lateness | lateness in fault windows | rows | clean stops |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---:|\n",
    );
    for backend in report.backends.iter().filter(|b| b.skipped.is_none()) {
        for (index, run) in backend.runs.iter().enumerate() {
            let (Some(timeline), Some(counts)) = (&run.timeline, &run.counts) else {
                let _ = writeln!(
                    md,
                    "| {} | {} | ❌ **failed**: {} ||||||||||||||",
                    backend.label(),
                    index + 1,
                    run.failed
                        .as_deref()
                        .unwrap_or("")
                        .replace('|', "\\|")
                        .replace('\n', " ")
                );
                continue;
            };
            let killed = timeline.kills.first().map_or_else(
                || "—".to_owned(),
                |k| {
                    format!(
                        "{} {:.1} s ({} start{})",
                        k.node,
                        (k.healthy_at - k.killed_at).as_seconds_f64(),
                        k.starts,
                        if k.starts == 1 { "" } else { "s" }
                    )
                },
            );
            let down = |kind: Restart| {
                secs(
                    timeline
                        .outages
                        .iter()
                        .find(|o| o.kind == kind)
                        .map(|o| o.unavailable_s()),
                )
            };
            let takeover = counts.takeovers.first().map_or_else(
                || "—".to_owned(),
                |t| format!("{} / {}", secs(t.first_run_elsewhere_s), secs(t.first_marked_lost_s)),
            );
            let recovery: Vec<String> = counts
                .recoveries
                .iter()
                .map(|r| format!("{}, {}", secs(r.first_success_s), secs(r.every_node_s)))
                .collect();
            let rows: Vec<String> = counts.rows_by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let named = counts.named();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} s | {} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
                backend.label(),
                index + 1,
                killed,
                down(Restart::Fast),
                down(Restart::Crash),
                flag(named[0].1),
                flag(named[1].1),
                flag(named[2].1),
                flag(named[3].1),
                flag(named[4].1),
                takeover,
                recovery.join(" / "),
                lateness(counts.lateness_ms),
                lateness(counts.fault_lateness_ms),
                rows.join(", "),
                timeline.ends.iter().filter(|e| e.clean).count(),
                timeline.ends.len(),
            );
        }
    }

    let mut examples = String::new();
    for backend in report.backends.iter().filter(|b| b.skipped.is_none()) {
        for (index, counts) in backend
            .runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.counts.as_ref()?)))
        {
            for (name, lines) in &counts.examples {
                let _ = writeln!(examples, "- {}, run {}, `{name}`:", backend.label(), index + 1);
                for line in lines.iter().take(3) {
                    let _ = writeln!(examples, "  - `{line}`");
                }
            }
        }
    }
    if !examples.is_empty() {
        md.push_str("\nOffending rows (a few per count and run; `job @ scheduled_for attempt status on node`):\n\n");
        md.push_str(&examples);
    }

    md.push_str("\nSimultaneous starts (nodes healthy of those started together, each on an empty database):\n\n");
    md.push_str("| backend | healthy, start by start | why the others were not |\n|---|---|---|\n");
    for backend in report.backends.iter().filter(|b| b.skipped.is_none()) {
        let healthy: Vec<String> = backend
            .simultaneous
            .iter()
            .map(|s| format!("{}/{}", s.healthy, s.nodes))
            .collect();
        // Each reason once, with how many nodes gave it (the node's name aside).
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for failure in backend.simultaneous.iter().flat_map(|s| &s.failures) {
            let reason = failure.split_once(": ").map_or(failure.as_str(), |(_, reason)| reason);
            *reasons.entry(reason).or_default() += 1;
        }
        let failures: Vec<String> = reasons
            .iter()
            .map(|(reason, n)| format!("{n} × `{}`", reason.replace('|', "\\|")))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            backend.label(),
            if healthy.is_empty() {
                "—".to_owned()
            } else {
                healthy.join(", ")
            },
            if failures.is_empty() {
                "—".to_owned()
            } else {
                failures.join("; ")
            }
        );
    }
    let _ = writeln!(
        md,
        "\nThe nodes' logs (`{NODE_LOG_ENV}`, default `{NODE_LOG_DEFAULT}`) are kept in a temporary directory, \
         printed at the end, whenever a run went wrong."
    );
    md.push('\n');
    md
}

/// One bar per server backend: every count 0.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    BACKENDS
        .into_iter()
        .map(|backend| {
            let status = report.and_then(|r| r.backends.iter().find(|b| b.backend == backend));
            let label = label(backend);
            let what = format!(
                "{label}: a node killed, a fast and a crash database restart, {NODES} nodes started at once: 0 fires \
                 run twice, 0 unrecorded, 0 past their grace, 0 live nodes reaped, 0 left running, every node \
                 healthy (faults)"
            );
            let Some(status) = status else {
                return Bar::unmeasured(what, "—");
            };
            if let Some(why) = &status.skipped {
                return Bar::unmeasured(what, format!("skipped: {why}"));
            }
            let nonzero: Vec<String> = status
                .totals()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| format!("{name} {n}"))
                .chain(status.failures())
                .collect();
            Bar {
                measured: format!(
                    "{} over {} run(s) and {} simultaneous start(s)",
                    if nonzero.is_empty() {
                        "all 0".to_owned()
                    } else {
                        nonzero.join(", ")
                    },
                    status.runs.len(),
                    status.simultaneous.len()
                ),
                pass: Some(status.passes()),
                what,
            }
        })
        .collect()
}
