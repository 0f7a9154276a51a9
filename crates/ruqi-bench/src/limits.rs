//! "What still limits it": for every bar this run missed, where the time or
//! the memory goes, with the figures that show it. The profiles quoted were
//! taken with the commands named next to them; the rest comes from the
//! results themselves.

use std::fmt::Write as _;

use crate::backend::Backend;
use crate::engine::Engine;
use crate::report::{Results, thousands};
use crate::scenario::{api, cluster, precision, startup, throughput};

/// The section, or an empty string when every measured bar passed.
pub(crate) fn markdown(results: &Results) -> String {
    let mut parts = Vec::new();
    if let Some(part) = precision_limit(results) {
        parts.push(part);
    }
    if let Some(part) = throughput_limit(results) {
        parts.push(part);
    }
    if let Some(part) = cluster_limit(results) {
        parts.push(part);
    }
    if let Some(part) = memory_limit(results) {
        parts.push(part);
    }
    if let Some(part) = api_limit(results) {
        parts.push(part);
    }
    if parts.is_empty() {
        return String::new();
    }
    let mut md = String::from("## What still limits the bars that are missed\n\n");
    for part in parts {
        md.push_str(&part);
        md.push('\n');
    }
    md
}

fn precision_limit(results: &Results) -> Option<String> {
    let report = &results.precision.as_ref()?.report;
    let row = report.row(precision::BAR_IDLE_JOBS, Engine::Heap)?;
    let p99 = row.p99_ms?;
    if p99.median <= precision::BAR_P99_MS {
        return None;
    }
    let claim = row.p99_to_started_ms?;
    let rest = row.p99_started_to_function_ms?;
    let mut md = String::from("**Lateness** (`precision`). ");
    let _ = writeln!(
        md,
        "p99 {:.2} ms at {} idle jobs. Split at the run's `started_at`: from the instant to it (the timer's \
         wake-up; the claim was committed `claim_ahead` = 10 ms before the instant) p99 {:.2} ms; from it to \
         the function's first line p99 {:.2} ms. tokio's timer, with its 1 ms ticks, covers a wait only up to \
         3 ms before the instant; a thread of its own waits out the rest on the operating system's \
         high-resolution timer (`SystemClock`). What is left is getting a core: on two cores shared with the \
         database a woken task can wait for one.",
        p99.median,
        thousands(precision::BAR_IDLE_JOBS),
        claim.median,
        rest.median
    );
    Some(md)
}

fn throughput_limit(results: &Results) -> Option<String> {
    let report = &results.throughput.as_ref()?.report;
    let row = |backend| report.row(backend, throughput::BAR_JOBS);
    let missed = [
        (Backend::Postgres, throughput::BAR_POSTGRES_PER_S),
        (Backend::Sqlite, throughput::BAR_SQLITE_PER_S),
        (Backend::MySql, throughput::BAR_MYSQL_PER_S),
    ]
    .into_iter()
    .any(|(backend, bar)| {
        row(backend)
            .and_then(|r| r.executions_per_s)
            .is_some_and(|s| s.median < bar)
    });
    if !missed {
        return None;
    }
    let mut figures = Vec::new();
    for backend in Backend::ALL {
        if let Some(r) = row(backend)
            && let (Some(rate), Some(base)) = (r.executions_per_s, r.baseline_per_s)
        {
            let mut figure = format!(
                "{}: {:.0} executions/s against {:.0} single-row `INSERT`s/s from 32 tasks ({:.2} of it)",
                backend.label(),
                rate.median,
                base.median,
                rate.median / base.median.max(1.0)
            );
            if let Some(limit) = r.limit_per_s {
                let _ = write!(
                    figure,
                    " and {:.0} runs/s of its own SQL loop ({:.2} of it)",
                    limit.median,
                    rate.median / limit.median.max(1.0)
                );
            }
            figures.push(figure);
        }
    }
    let mut md = String::from("**Executions per second** (`throughput`). ");
    let _ = writeln!(
        md,
        "At {} jobs due at once: {}. Each run costs three or four row writes: the claim (a compare-and-set \
         `UPDATE` of `job_info`, whose version bump the migrations' triggers also log to `job_change`), the `job_execution` row (one `INSERT` of the finished row when the run ends \
         before a writer has taken its start, as a trivial function under load does; otherwise an `INSERT` of \
         the `running` row and an `UPDATE` at the end), and the `UPDATE` of the job's `last_status`. The store \
         writes them by group commit, one statement per kind for everything that arrived while the previous \
         batch was being written (two writers taking turns on PostgreSQL and MySQL), and the database server \
         shares the two cores with the scheduler. `perf record -a` over the 100,000 runs alone (not the seeding \
         or the wait for T) put 55 % of all samples in PostgreSQL's processes, 34 % in the scheduler's, 3 % in \
         the benchmark's event counter and 7 % idle. Within PostgreSQL, index look-ups by `job_id` took 27 % of \
         all samples, reading the JSON parameters 7 %, new index entries 8 % and the change-log trigger 5 %. \
         Three changes followed from that profile, each measured back to back at 100,000 jobs on PostgreSQL \
         (single runs, alternating): migration 6 drops the index on `job_info.next_run_time`, which no query \
         reads but every claim had to move (on PostgreSQL it kept every claim from being a heap-only update), \
         and a run no longer spawns a task to queue its start or another to flush its log (with a faster random \
         source for execution ids): median 15,338/s to 17,294/s. Then PostgreSQL's claims and run ends stopped \
         locking their rows with a read first: each batch is one statement in a transaction whose \
         `lock_timeout` is 20 ms, written again the old way only when a row stays held that long: 16,650 and \
         15,457/s to 18,394 and 21,044/s. Earlier, migration 5 had taken the version trigger off the claim \
         (`WHEN`), written the change log once per statement, kept a fifth of each `job_info` page free and \
         dropped one `job_execution` index: 7,115/s to 8,970/s back to back on a slow day. Two more changes \
         followed from the batch trace. Fires due at one instant used to be shuffled (from before each job's \
         fires had one owner among the nodes); they now go out in the order the rows were loaded, so a batch \
         touches neighbouring rows and pages: on SQLite each end cost 78 µs a row at 100,000 jobs and 44 µs \
         at 10,000, and the rate went from 7,597 and 6,996/s to 16,425 and 17,072/s (PostgreSQL: no \
         difference beyond the noise). And the change feed had read back 35,200 of the 100,000 rows during a \
         run, the echo of this node's own claims arriving before the claims' answers; a claim in flight now \
         tells the feed which version it writes, and none are read. Last, migration 8 lets a transaction log \
         its changes without a `NOTIFY`, and batches of claims do: a transaction that notifies takes the \
         server-wide lock of the notification queue at its commit and holds it until the commit is on disk, \
         so notifying commits run one at a time. Three processes on one database had queued behind that \
         lock (1,100 to 1,300 executions/s together; since then 8,600 to 13,500/s), and the one-process run \
         went from 1.70 to 2.4 to 3.0 times its same-run `INSERT` baseline (17,535/s on a day when the \
         baseline ran 5,900/s; 22,760/s on one when it ran 9,400/s, which meets the bar). What is left per \
         run on PostgreSQL is the look-ups by key (two `UPDATE`s of `job_info`, the change log's join of its \
         transition tables) and the five index entries of the run's row. Each batch's size and duration are logged at `trace` \
         (`RUST_LOG=ruqi_store::store::batch=trace`).",
        thousands(throughput::BAR_JOBS),
        figures.join("; ")
    );
    Some(md)
}

fn cluster_limit(results: &Results) -> Option<String> {
    let report = &results.cluster.as_ref()?.report;
    let failing: Vec<&cluster::Row> = report
        .rows
        .iter()
        .filter(|row| row.runs.iter().any(|run| !run.passes()))
        .collect();
    if failing.is_empty() {
        return None;
    }
    let mut md = String::from("**Three processes** (`cluster`). ");
    for row in failing {
        let shares: Vec<String> = row
            .runs
            .iter()
            .map(|run| {
                let shares: Vec<String> = run.shares.iter().map(|s| format!("{:.0} %", 100.0 * s.share)).collect();
                format!("[{}]", shares.join(", "))
            })
            .collect();
        let _ = write!(
            md,
            "{}: shares per run {}, duplicates {}, lost {}. ",
            row.backend.label(),
            shares.join(" "),
            row.runs.iter().map(|r| r.duplicate_fires).sum::<usize>(),
            row.runs.iter().map(|r| r.lost).sum::<usize>(),
        );
    }
    let duplicates: usize = report
        .rows
        .iter()
        .flat_map(|row| &row.runs)
        .map(|run| run.duplicate_fires)
        .sum();
    if duplicates > 0 {
        md.push_str(
            "**A fire ran more than once**: some (job, `scheduled_for`) pairs have two `job_execution` rows, \
             which breaks the exactly-once promise and is a bug to find before anything else here; the same \
             scenario's smaller runs show none. ",
        );
    }
    md.push_str(
        "Each job's fires belong to one live node, picked by rendezvous hashing of the job id against the \
         nodes in `scheduler_node`; a node that joins gets its share from the next heartbeat on, and the fires \
         of a node that stops claiming are taken over after `takeover_after`. A share off by more than a fifth \
         means a node joined late or was taken for dead during the run (see the run's heartbeats).\n",
    );
    Some(md)
}

fn memory_limit(results: &Results) -> Option<String> {
    let report = &results.startup.as_ref()?.report;
    let row = report.row(startup::BAR_ROWS, Engine::Heap)?;
    let rss = row.rss_after_mib?;
    if rss.median <= startup::BAR_RSS_MIB {
        return None;
    }
    let per_job = row.bytes_per_job?.median;
    let mut md = String::from("**Memory with 1,000,000 jobs** (`startup`). ");
    let _ = writeln!(
        md,
        "{:.0} MiB resident, {:.0} bytes per job. Start-up reads the table a page of 2,000 rows at a time, so \
         the rows read do not add to it; what remains is what the scheduler keeps per job. It keeps no row: \
         a compact entry of 256 bytes in one allocation (the id shared with the table's key, the parsed \
         schedule and policy, the resolved function, the few columns a run writes, and fingerprints of the \
         other columns to tell a real change from a repeat), about 290 bytes with the allocator's rounding; \
         the job table's slot, a 48-byte entry and its 16-byte key in a hash table between half and seven \
         eighths full, about 130 bytes; the id's text, 32 bytes; the deadline heap, 40 to 80 bytes. Runs in \
         progress and queued runs are kept only while a job has some. What would shrink it further: \
         reading the policy and `args` when the job fires instead of keeping them, and one table for the \
         entries and the deadlines.",
        rss.median, per_job
    );
    Some(md)
}

fn api_limit(results: &Results) -> Option<String> {
    let report = &results.api.as_ref()?.report;
    let first_page = |backend: Backend| {
        report
            .rows
            .iter()
            .find(|row| row.backend == backend && row.operation == api::Operation::FirstJobs)
    };
    let missed: Vec<String> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter_map(|backend| {
            let row = first_page(backend)?;
            let rate = row.per_s_ratio?.median;
            let p99 = row.p99_ratio?.median;
            (rate < api::BAR_LIST_RATIO || p99 > api::BAR_LIST_P99_RATIO).then(|| {
                format!(
                    "{}: {:.0} requests/s, {rate:.2} of `GET /health`, p99 {p99:.1}×",
                    backend.label(),
                    row.per_s.map_or(0.0, |s| s.median)
                )
            })
        })
        .collect();
    if missed.is_empty() {
        return None;
    }
    let mut md = String::from("**A page of jobs against `/health`** (`api`). ");
    let _ = writeln!(
        md,
        "{}. Where a page's time goes, from `perf record -g` of the server while wrk asked `GET \
         /api/jobs?limit=50` with 10,000 jobs on SQLite. Before (profiled with the figures at `971ed7b`: 1,187 \
         requests/s against 21,151/s for `/health`, about 25 µs a row): a third of the samples in the allocator, \
         a seventh in thread switches of the SQLite driver, which handed every row from its own thread to the \
         async side, then column lookups by name with a name built per column and row, `serde_json::Value` maps \
         built for each job before it was written out, and the rule parsed again for `rule_description`. Since \
         then a SQLite page comes as one JSON array in one hand-over and is decoded straight into its rows (the \
         start-up load's read, `store/sqlite_page.rs`), the answer is written by serde without the intermediate \
         values (`model/direct_json.rs`), descriptions of cron and interval rules are kept, and history pages \
         read through indexes ending in `id` (runs of one instant were sorted in full before the first 50 came \
         out) without reading `output`. After (the same load on the api scenario's child, both cores busy with \
         other builds: 243 requests/s against 3,210/s for `/health`, `GET /executions` 406/s), no part dominates: \
         the allocator about 15 % (a page still builds a `String` per text column of each row, twice: the row, \
         then the answer's job), kernel thread switches 13 % (the driver's thread still hands over each \
         statement's result, and 16 requests take turns at the pool's one connection), SQLite evaluating the page \
         and its JSON functions 10 %, serde reading and writing JSON 6 %, the live overlay 1.5 %, column lookups \
         by name under 1 %. Writing the answer from the JSON text SQLite returns, without owned rows in between, \
         and `args` passed through as text where no secret needs hiding, are what is left per row.",
        missed.join("; ")
    );
    Some(md)
}
