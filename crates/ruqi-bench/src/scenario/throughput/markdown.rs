//! The throughput section of `BENCHMARKS.md` and its lines of the Bars table.

use std::fmt::Write as _;

use super::limit::MAX_CONCURRENT_RUNS;
use super::{
    BAR_JOBS, BAR_LIMIT_RATIO, BAR_MYSQL_PER_S, BAR_POSTGRES_PER_S, BAR_SQLITE_PER_S, BASELINE_TASKS, MISFIRE_GRACE_S,
    Report, Row, SEQUENTIAL_ROWS, SOCKET_RUNS, TRANSPORT_TOLERANCE,
};
use crate::backend::{Backend, Transport};
use crate::report::{Bar, Section, run_line, spread, thousands};
use crate::scenario::feed::BackendStatus;

/// The throughput section of `BENCHMARKS.md`.
pub(crate) fn markdown(section: &Section<Report>) -> String {
    let report = &section.report;
    let mut md = String::from("## Execution throughput (`throughput`)\n\n");
    md.push_str(&run_line(section));
    let _ = write!(
        md,
        "How many runs one process gets through when N jobs come due at the same instant, with every run's \
         history recorded. Each run is a fresh process on a fresh database (SQLite: a file in a temporary \
         directory; PostgreSQL, MySQL/MariaDB: `CREATE DATABASE ruqi_b_…` on the server, dropped after) and \
         sea-orm's default pool. It writes N one-shot jobs (trigger `date`, all due at one instant T, written as \
         the scheduler leaves a scheduled row, `misfire_grace_s` = {grace} so that each runs however far behind \
         the scheduler is) whose function returns at once, starts the scheduler with \
         `ruqi::scheduler(db, registry).start()` (default settings: at most {permits} runs at once, the change feed \
         on), and checks that start-up was over and every job held before T (T is set a lead of 3 s + 80 µs per job \
         ahead of the start of writing, doubled for a run whose start-up overran it). ruqi does what it always does per run: claim the fire \
         (`UPDATE job_info … WHERE version = v`, which names the run in the row's claim columns), queue the \
         `running` row of `job_execution`, run the function, write the row's outcome (the whole row when its \
         start is still queued), and write `last_status` to `job_info`.\n\n\
         **How the servers are reached.** The headline figures (and the Bars) are over TCP to 127.0.0.1, \
         as the URLs `RUQI_TEST_POSTGRES_URL` and `RUQI_TEST_MYSQL_URL` are written and as the README tells \
         users to connect. When such a server also has a Unix socket on this machine, the same runs are made \
         over that socket too ({socket_runs} runs at {bar_jobs} jobs, alternating with the TCP runs; one at the \
         size of a `--quick` run), everything else the same: **TCP ÷ socket** is the median executions/s \
         over TCP ÷ the median over the socket. With `TCP_NODELAY` set on every connection (the workspace's \
         patched sqlx-core, see `vendor/README.md`) the two should agree within {tolerance:.0} %; without it, \
         a batch statement larger than one TCP segment waits out the server's delayed acknowledgement. Every \
         row says how it reached its server; both baselines of a run go the same way as its scheduler.\n\n\
         **Allocator.** `ruqi-bench` runs with mimalloc as its global allocator, as `ruqi-server` does and as \
         the README recommends to applications (\"Allocator\" there); the scheduler, its SQL loop and both \
         baselines share it. Under glibc's allocator the scheduler spends about a third more CPU per run \
         (see `docs/bench/profiles.md`).\n\n\
         - **executions/s** = N ÷ (the instant the last run's end was recorded − T). A thread of its own counts \
         the scheduler's `succeeded` events (`scheduler.events()`), which it sends after writing a run's end, \
         so the arrival of the N-th is that instant (the thread reads what arrived every millisecond with \
         `EventStream::try_next`, so the scheduler never has to wake it: awaiting each event cost a thread \
         wake-up per event, about a twentieth of the scheduler's CPU); the count is then confirmed in \
         `job_execution`. Should \
         the counter fall more than the stream's 4,096 events behind, the instant a 20 ms poll of \
         `job_execution` first finds all N rows stands in (marked in the table).\n\
         - **first start**, **lateness** (p50, p99) = `job_execution.started_at` − T over the N runs (the \
         scheduler takes `started_at` once it has claimed the fire); **end recorded** (p50, p99) = arrival of \
         the run's `succeeded` event − T: how the recorded ends spread out (the function itself takes \
         microseconds).\n\
         - **verified**: afterwards every `job_execution` row of the jobs is read back: one `success` row per \
         job is expected; a second one is a duplicate, none is a lost job, and rows of any other status are \
         listed.\n\
         - **its own SQL loop** (the limit baseline), in the same process on a third fresh database of the same \
         backend: the same N jobs are written, and the same N runs' writes are made through the store \
         (`SeaOrmStore` on the same default pool) with no scheduler around them: one task per fire, all \
         spawned at once from a task on the runtime in the order the rows were written, as the timer hands out \
         fires due at one instant; \
         each calls `JobStore::claim_fire` (the compare-and-set naming the run in the claim columns, \
         `next_run_time` cleared, `is_running` set), takes one of {permits} permits for its function's instant \
         as the scheduler does, calls `JobStore::record_start` (the `running` row, queued) and \
         `JobStore::record_end` (the row's outcome, or the whole row, and the job's `last_status`). These are the \
         store's own methods, so the loop issues exactly the statements ruqi issues, batched by the same group \
         commit, whatever they are at the commit measured; every claim must win and every job get its \
         `success` row. Runs/s = N ÷ (the last end answered − the first claim issued): the database work \
         alone. **÷ SQL loop** = executions/s ÷ that, run by run: how close the engine comes to what its \
         own statements allow (bar: ≥ {limit_bar} on every backend).\n\
         - **baseline**, in the same process on a second fresh database of the same backend: N single-row \
         `INSERT`s (autocommit) of rows like `job_execution`'s through sea-orm, issued by {tasks} tasks over the \
         same default pool (as many in flight as it has connections): the rate at which the database takes \
         one-statement writes from this process. **÷ baseline** = executions/s ÷ that rate, run by run. Each \
         run costs ruqi three or four row writes (the claim, whose version bump the migrations' trigger also \
         logs to `job_change`; the `INSERT` of the `job_execution` row, and its `UPDATE` when the start was \
         written before the end came; `last_status` in `job_info`), \
         which the store writes by group commit: the writes that arrive while a batch is being written go \
         together in the next, one statement per kind. One statement per write would reach roughly 0.25; \
         above 1, batching beats the database's own one-statement rate. Also \
         {sequential} `INSERT`s one after another on one connection, the per-statement round trip and commit \
         alone.\n\n\
         {runs} run(s) per backend and N over the headline transport (at most two at 100,000: each takes \
         minutes); figures are the median over runs with the range in brackets.\n\n",
        grace = thousands(usize::try_from(MISFIRE_GRACE_S).unwrap_or_default()),
        permits = MAX_CONCURRENT_RUNS,
        socket_runs = SOCKET_RUNS,
        bar_jobs = thousands(BAR_JOBS),
        tolerance = TRANSPORT_TOLERANCE * 100.0,
        limit_bar = BAR_LIMIT_RATIO,
        tasks = BASELINE_TASKS,
        sequential = thousands(SEQUENTIAL_ROWS),
        runs = report.runs,
    );
    let measured: Vec<String> = report
        .backends
        .iter()
        .filter(|s| s.version.is_some())
        .map(BackendStatus::describe)
        .collect();
    let skipped: Vec<String> = report
        .backends
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| format!("{} ({why})", s.label())))
        .collect();
    let pools: Vec<String> = report
        .rows
        .iter()
        .filter_map(|row| Some((row.backend, row.runs.first()?.pool_connections)))
        .fold(Vec::new(), |mut seen: Vec<(Backend, u32)>, item| {
            if !seen.iter().any(|(b, _)| *b == item.0) {
                seen.push(item);
            }
            seen
        })
        .into_iter()
        .map(|(backend, pool)| format!("{} {pool}", report.label(backend)))
        .collect();
    let _ = write!(
        md,
        "Backends measured: {}; pool connections: {}.",
        list_or_none(&measured),
        list_or_none(&pools)
    );
    if !skipped.is_empty() {
        let _ = write!(md, " Not measured: {}.", skipped.join(", "));
    }
    for (backend, why) in &report.no_socket {
        let _ = write!(md, " {} over TCP alone: {why}.", report.label(*backend));
    }
    md.push_str("\n\n");

    md.push_str(
        "| backend | reached | jobs (N) | executions/s | its own SQL loop, runs/s | ÷ SQL loop \
         | baseline `INSERT`s/s | ÷ baseline | `INSERT`s/s one at a time | verified |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in &report.rows {
        let mut rate = spread(row.executions_per_s, 0);
        if row.incomplete_runs() > 0 {
            let _ = write!(
                rate,
                " (**{} of {} runs incomplete**)",
                row.incomplete_runs(),
                row.runs.len()
            );
        }
        if row
            .runs
            .iter()
            .any(|r| r.executions_per_s.is_some() && !r.end_from_events)
        {
            rate.push_str(" (end from the poll)");
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            reached(row),
            thousands(row.jobs),
            rate,
            spread(row.limit_per_s, 0),
            spread(row.limit_ratio, 2),
            spread(row.baseline_per_s, 0),
            spread(row.ratio, 2),
            spread(row.sequential_per_s, 0),
            verified(row),
        );
    }
    let pairs: Vec<(&Row, &Row)> = report
        .rows
        .iter()
        .filter(|r| r.transport == Some(Transport::Tcp) && !r.beside)
        .filter_map(|tcp| Some((tcp, report.socket_row(tcp.backend, tcp.jobs)?)))
        .collect();
    if !pairs.is_empty() {
        md.push_str(
            "\nTCP against the Unix socket of the same server (medians over runs; within ± 10 % is the aim):\n\n\
             | backend | jobs (N) | executions/s over TCP | over the Unix socket | TCP ÷ socket \
             | SQL loop, TCP ÷ socket | `INSERT` baseline, TCP ÷ socket |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for (tcp, socket) in pairs {
            let quotient = |figure: fn(&Row) -> Option<f64>| match (figure(tcp), figure(socket)) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "—".to_owned(),
            };
            let mut agreement = quotient(|r| Some(r.executions_per_s?.median));
            if let Some(ratio) = report.tcp_over_socket(tcp.backend, tcp.jobs) {
                agreement.push_str(if within_tolerance(ratio) { " ✅" } else { " ❌" });
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                report.label(tcp.backend),
                thousands(tcp.jobs),
                spread(tcp.executions_per_s, 0),
                spread(socket.executions_per_s, 0),
                agreement,
                quotient(|r| Some(r.limit_per_s?.median)),
                quotient(|r| Some(r.baseline_per_s?.median)),
            );
        }
    }
    md.push_str(
        "\nWhen the runs started and ended, relative to T (ms), and how long before T start-up was over (s):\n\n\
         | backend | reached | jobs (N) | first start | lateness p50 | lateness p99 | end recorded p50 \
         | end recorded p99 | start-up over before T (s) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report.label(row.backend),
            reached(row),
            thousands(row.jobs),
            spread(row.first_start_ms, 1),
            spread(row.lateness_p50_ms, 0),
            spread(row.lateness_p99_ms, 0),
            spread(row.recorded_p50_ms, 0),
            spread(row.recorded_p99_ms, 0),
            spread(row.slack_s, 1),
        );
    }
    md.push('\n');
    md
}

/// How a row's runs reached the database, for the tables.
fn reached(row: &Row) -> String {
    match (&row.via, row.transport) {
        (_, Some(Transport::File)) => "file".to_owned(),
        (Some(via), _) => via.clone(),
        // Figures from before the harness recorded it: the run line says.
        (None, _) => "as the run line says".to_owned(),
    }
}

/// Whether TCP ÷ socket is within [`TRANSPORT_TOLERANCE`] of 1, either way.
fn within_tolerance(ratio: f64) -> bool {
    (ratio - 1.0).abs() <= TRANSPORT_TOLERANCE
}

/// The verification column: every run's rows as expected, or what was not.
fn verified(row: &Row) -> String {
    let others: usize = row.runs.iter().flat_map(|r| r.other_rows.iter().map(|(_, n)| n)).sum();
    if row.duplicates() == 0 && row.lost() == 0 && others == 0 {
        return format!("✅ {} `success` row(s) per run, one per job", thousands(row.jobs));
    }
    let mut statuses = std::collections::BTreeMap::<&str, usize>::new();
    for (status, n) in row.runs.iter().flat_map(|r| r.other_rows.iter()) {
        *statuses.entry(status.as_str()).or_default() += n;
    }
    let mut text = format!(
        "❌ **{} duplicate(s), {} lost** over {} run(s)",
        row.duplicates(),
        row.lost(),
        row.runs.len()
    );
    for (status, n) in statuses {
        let _ = write!(text, "; {n} `{status}` row(s)");
    }
    text
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The headline row at [`BAR_JOBS`] a bar of `backend` is held to, or the
/// bar's line saying why there is none. A server's bars are held over TCP.
fn bar_row<'a>(report: Option<&'a Report>, backend: Backend, what: &str) -> Result<&'a Row, Bar> {
    let Some(report) = report else {
        return Err(Bar::unmeasured(what.to_owned(), "—"));
    };
    if let Some(why) = report.status(backend).and_then(|s| s.skipped.as_ref()) {
        return Err(Bar::unmeasured(what.to_owned(), format!("skipped: {why}")));
    }
    let Some(row) = report.row(backend, BAR_JOBS) else {
        let measured = report
            .rows
            .iter()
            .filter(|r| r.backend == backend && !r.beside)
            .filter_map(|r| {
                Some(format!(
                    "{}/s with {} jobs",
                    r.executions_per_s?.display(0),
                    thousands(r.jobs)
                ))
            })
            .collect::<Vec<_>>();
        return Err(Bar::unmeasured(
            what.to_owned(),
            format!(
                "not at {} jobs in this (quick) run: {}",
                thousands(BAR_JOBS),
                list_or_none(&measured)
            ),
        ));
    };
    match row.transport {
        Some(Transport::Socket) => Err(Bar::unmeasured(
            what.to_owned(),
            "not over TCP: the server's URL goes over its Unix socket",
        )),
        // Saved before the way to the server was recorded: it may not have
        // been TCP, so the figure does not count for a bar held over TCP.
        None if backend != Backend::Sqlite => Err(Bar::unmeasured(
            what.to_owned(),
            "not known to be over TCP: these results predate the record of how the server was reached",
        )),
        _ => Ok(row),
    }
}

/// How a server's headline row reached it, for a bar's measured column.
fn over(row: &Row) -> String {
    match (&row.via, row.transport) {
        (Some(via), Some(Transport::Tcp | Transport::Socket)) => format!(" {via}"),
        _ => String::new(),
    }
}

/// The throughput bars, each at [`BAR_JOBS`] jobs due at once from one
/// process and over TCP for the servers: executions per second on each
/// backend, ruqi ÷ its own SQL loop on each, and TCP against the Unix
/// socket on each server measured both ways.
pub(crate) fn bars(report: Option<&Report>) -> Vec<Bar> {
    let mut all: Vec<Bar> = [
        (Backend::Postgres, BAR_POSTGRES_PER_S),
        (Backend::Sqlite, BAR_SQLITE_PER_S),
        (Backend::MySql, BAR_MYSQL_PER_S),
    ]
    .into_iter()
    .map(|(backend, bar)| {
        let transport = if backend == Backend::Sqlite { "" } else { " over TCP" };
        let what = format!(
            "{}{transport}: ≥ {} executions/s from one process, {} one-shot jobs due at once, history recorded (throughput)",
            backend.label(),
            thousands(bar as usize),
            thousands(BAR_JOBS)
        );
        let row = match bar_row(report, backend, &what) {
            Ok(row) => row,
            Err(line) => return line,
        };
        let incomplete = row.incomplete_runs();
        match row.executions_per_s {
            Some(rate) if incomplete == 0 => Bar {
                what,
                measured: format!(
                    "{}/s{} (median of runs, min–max); {} of the baseline's `INSERT`s/s",
                    rate.display(0),
                    over(row),
                    spread(row.ratio, 2)
                ),
                pass: Some(rate.median >= bar),
            },
            _ => Bar {
                what,
                measured: format!("{incomplete} of {} runs did not run every job", row.runs.len()),
                pass: Some(false),
            },
        }
    })
    .collect();
    for backend in Backend::ALL {
        let transport = if backend == Backend::Sqlite { "" } else { " over TCP" };
        let what = format!(
            "{}{transport}: ruqi ÷ its own SQL loop (the store's batched writes for the same runs, no scheduler) \
             ≥ {BAR_LIMIT_RATIO} at {} jobs due at once (throughput)",
            backend.label(),
            thousands(BAR_JOBS)
        );
        let row = match bar_row(report, backend, &what) {
            Ok(row) => row,
            Err(line) => {
                all.push(line);
                continue;
            }
        };
        all.push(match (row.limit_ratio, row.limit_per_s) {
            (Some(ratio), Some(limit)) if row.incomplete_runs() == 0 => Bar {
                what,
                measured: format!(
                    "{} (median of runs, min–max): {}/s against {} runs/s{}",
                    ratio.display(2),
                    spread(row.executions_per_s, 0),
                    limit.display(0),
                    over(row)
                ),
                pass: Some(ratio.median >= BAR_LIMIT_RATIO),
            },
            _ if row.incomplete_runs() > 0 => Bar {
                what,
                measured: format!(
                    "{} of {} runs did not run every job",
                    row.incomplete_runs(),
                    row.runs.len()
                ),
                pass: Some(false),
            },
            _ => Bar::unmeasured(what, "the limit baseline was not measured in this run"),
        });
    }
    for backend in [Backend::Postgres, Backend::MySql] {
        let what = format!(
            "{}: executions/s over TCP within {:.0} % of the same over the Unix socket, {} jobs due at once (throughput)",
            backend.label(),
            TRANSPORT_TOLERANCE * 100.0,
            thousands(BAR_JOBS)
        );
        let row = match bar_row(report, backend, &what) {
            Ok(row) => row,
            Err(line) => {
                all.push(line);
                continue;
            }
        };
        let Some(report) = report else { continue };
        all.push(match report.tcp_over_socket(backend, BAR_JOBS) {
            Some(ratio) => Bar {
                what,
                measured: format!(
                    "TCP ÷ socket {ratio:.2}: {}/s{} against {}/s over the socket",
                    spread(row.executions_per_s, 0),
                    over(row),
                    spread(report.socket_row(backend, BAR_JOBS).and_then(|r| r.executions_per_s), 0)
                ),
                pass: Some(within_tolerance(ratio)),
            },
            None => {
                let why = report
                    .no_socket
                    .iter()
                    .find(|(b, _)| *b == backend)
                    .map_or_else(|| "not measured over the socket".to_owned(), |(_, why)| why.clone());
                Bar::unmeasured(what, why)
            }
        });
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::throughput::RunResult;

    fn run(rate: Option<f64>, limit: f64) -> RunResult {
        RunResult {
            executions_per_s: rate,
            baseline_per_s: 1000.0,
            limit_per_s: Some(limit),
            ..RunResult::default()
        }
    }

    fn tcp(backend: Backend, jobs: usize, runs: Vec<RunResult>) -> Row {
        Row::new(backend, jobs, runs).over(Transport::Tcp, "over TCP to `127.0.0.1:5432`".to_owned(), false)
    }

    fn socket(backend: Backend, jobs: usize, runs: Vec<RunResult>) -> Row {
        Row::new(backend, jobs, runs).over(
            Transport::Socket,
            "over the Unix socket `/var/run/postgresql`".to_owned(),
            true,
        )
    }

    fn find<'a>(bars: &'a [Bar], starts: &str, contains: &str) -> &'a Bar {
        bars.iter()
            .find(|b| b.what.starts_with(starts) && b.what.contains(contains))
            .unwrap_or_else(|| panic!("no bar {starts} … {contains}"))
    }

    #[test]
    fn a_server_row_saved_without_its_transport_holds_no_bar() {
        let report = Report {
            runs: 1,
            backends: Vec::new(),
            rows: vec![
                Row::new(Backend::Postgres, BAR_JOBS, vec![run(Some(25_000.0), 26_000.0)]),
                Row::new(Backend::Sqlite, BAR_JOBS, vec![run(Some(12_000.0), 13_000.0)]),
            ],
            no_socket: Vec::new(),
        };
        let held = bars(Some(&report));
        let postgres = find(&held, "PostgreSQL over TCP", "executions/s");
        assert_eq!(postgres.pass, None);
        assert!(
            postgres.measured.contains("not known to be over TCP"),
            "{}",
            postgres.measured
        );
        assert_eq!(find(&held, "SQLite", "executions/s").pass, Some(true));
    }

    #[test]
    fn bars_need_the_large_configuration() {
        let report = Report {
            runs: 1,
            backends: Vec::new(),
            rows: vec![
                tcp(Backend::Postgres, BAR_JOBS, vec![run(Some(25_000.0), 26_000.0)]),
                Row::new(Backend::Sqlite, 2_000, vec![run(Some(12_000.0), 13_000.0)]),
            ],
            no_socket: Vec::new(),
        };
        let held = bars(Some(&report));
        assert_eq!(find(&held, "PostgreSQL over TCP", "executions/s").pass, Some(true));
        let sqlite = find(&held, "SQLite", "executions/s");
        assert_eq!(sqlite.pass, None);
        assert!(
            sqlite.measured.contains("12000/s with 2,000 jobs"),
            "{}",
            sqlite.measured
        );
        let failing = Report {
            rows: vec![tcp(Backend::Postgres, BAR_JOBS, vec![run(None, 26_000.0)])],
            ..report
        };
        assert_eq!(
            find(&bars(Some(&failing)), "PostgreSQL over TCP", "executions/s").pass,
            Some(false)
        );
    }

    #[test]
    fn the_limit_bar_divides_by_the_runs_own_sql_loop() {
        let report = Report {
            runs: 2,
            backends: Vec::new(),
            rows: vec![
                tcp(
                    Backend::Postgres,
                    BAR_JOBS,
                    vec![run(Some(18_000.0), 20_000.0), run(Some(16_000.0), 20_000.0)],
                ),
                Row::new(Backend::Sqlite, BAR_JOBS, vec![run(Some(10_000.0), 20_000.0)]).over(
                    Transport::File,
                    "a file".to_owned(),
                    false,
                ),
            ],
            no_socket: Vec::new(),
        };
        let median = report.rows[0].limit_ratio.unwrap().median;
        assert!((median - 0.85).abs() < 1e-9, "{median}");
        let held = bars(Some(&report));
        let postgres = find(&held, "PostgreSQL over TCP", "SQL loop");
        assert_eq!(postgres.pass, Some(true));
        assert!(
            postgres.measured.starts_with("0.85 (0.80–0.90)"),
            "{}",
            postgres.measured
        );
        assert_eq!(find(&held, "SQLite", "SQL loop").pass, Some(false));
        // A row from before the loop was measured has no figure to hold.
        let old = Report {
            rows: vec![Row::new(
                Backend::Postgres,
                BAR_JOBS,
                vec![RunResult {
                    executions_per_s: Some(20_000.0),
                    ..RunResult::default()
                }],
            )],
            ..report
        };
        assert_eq!(find(&bars(Some(&old)), "PostgreSQL", "SQL loop").pass, None);
    }

    #[test]
    fn the_headline_is_tcp_and_the_socket_is_compared_beside_it() {
        let report = Report {
            runs: 2,
            backends: Vec::new(),
            rows: vec![
                tcp(
                    Backend::Postgres,
                    BAR_JOBS,
                    vec![run(Some(19_000.0), 20_000.0), run(Some(21_000.0), 20_000.0)],
                ),
                socket(
                    Backend::Postgres,
                    BAR_JOBS,
                    vec![run(Some(30_000.0), 31_000.0), run(Some(30_000.0), 31_000.0)],
                ),
            ],
            no_socket: vec![(Backend::MySql, "no socket at `/x`".to_owned())],
        };
        // The bar is held to the TCP figure, not to the faster socket's.
        assert_eq!(
            report.row(Backend::Postgres, BAR_JOBS).unwrap().transport,
            Some(Transport::Tcp)
        );
        let held = bars(Some(&report));
        let rate = find(&held, "PostgreSQL over TCP", "executions/s from one process");
        assert_eq!(rate.pass, Some(true));
        assert!(
            rate.measured.contains("over TCP to `127.0.0.1:5432`"),
            "{}",
            rate.measured
        );
        let ratio = report.tcp_over_socket(Backend::Postgres, BAR_JOBS).unwrap();
        assert!((ratio - 20_000.0 / 30_000.0).abs() < 1e-9);
        let agree = find(&held, "PostgreSQL", "Unix socket");
        assert_eq!(agree.pass, Some(false));
        assert!(agree.measured.starts_with("TCP ÷ socket 0.67"), "{}", agree.measured);
        assert_eq!(find(&held, "MySQL/MariaDB", "Unix socket").pass, None);
        let section = markdown(&Section {
            run: crate::section::RunInfo::now(std::path::Path::new("."), &[], false),
            load_average: [String::new(), String::new()],
            report: report.clone(),
        });
        assert!(
            section.contains("| PostgreSQL | over the Unix socket `/var/run/postgresql` | 100,000 |"),
            "{section}"
        );
        assert!(
            section.contains("| PostgreSQL | 100,000 | 20000 (19000–21000) | 30000 | 0.67 ❌ |"),
            "{section}"
        );
        assert!(
            section.contains("MySQL/MariaDB over TCP alone: no socket at `/x`."),
            "{section}"
        );
        // Within 10 % either way passes.
        assert!(within_tolerance(1.09) && within_tolerance(0.91) && !within_tolerance(0.89));
    }
}
