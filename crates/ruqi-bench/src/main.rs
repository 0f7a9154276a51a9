//! `ruqi-bench`: ruqi's benchmark harness.
//!
//! Run it from the workspace root, always as a release build:
//!
//! ```text
//! cargo run --release -p ruqi-bench -- all          # every scenario but xxl and faults
//! cargo run --release -p ruqi-bench -- precision    # or one: precision, startup, feed, throughput, cluster, api, xxl, faults
//! cargo run --release -p ruqi-bench -- all --quick  # smoke run: 1 run each, short windows, fewer rows
//! cargo run --release -p ruqi-bench -- all --full   # adds feed's 100,000-job configuration
//! cargo run --release -p ruqi-bench -- faults --quick --backend postgres --no-save   # one short fault run, nothing written
//! cargo run --release -p ruqi-bench -- render       # rewrite BENCHMARKS.md from the saved results
//! ```
//!
//! What it measures, for ruqi's own timer (`heap`) and the
//! `tokio-cron-scheduler` engine side by side, on a SQLite file in a
//! temporary directory:
//!
//! - `precision`: how late a job's function starts after the instant it was
//!   scheduled for (p50, p99, max), with 1 and 10,000 jobs in the scheduler;
//! - `startup`: how long `start()` takes to load, validate and schedule
//!   100,000 rows, and the resident memory they cost;
//!
//! and for the change feed, on SQLite and on the PostgreSQL and
//! MySQL/MariaDB servers named by `RUQI_TEST_POSTGRES_URL` and
//! `RUQI_TEST_MYSQL_URL` when they are set (a fresh database each run,
//! dropped after; a backend whose URL is unset is skipped and the report
//! says so):
//!
//! - `feed`: how long after the commit of a plain SQL `UPDATE` from another
//!   connection the running scheduler has rescheduled the job, next to the
//!   same edit through the ORM's hooks, and for a 1,000-row `UPDATE`;
//! - `throughput`: executions per second when 10,000 or 100,000 one-shot
//!   jobs come due at once in one process, history recorded, next to the
//!   rate of plain single-row `INSERT`s on the same backend and to the
//!   store's own writes for the same runs with no scheduler around them;
//!   the servers over TCP as their URLs say, and over their Unix sockets
//!   beside that;
//! - `cluster` (servers only): three processes on one database running
//!   30,000 one-shot jobs due at once — duplicates, lost jobs, each
//!   process's share;
//! - `api`: the admin API over real HTTP (SQLite, and PostgreSQL when set):
//!   requests per second and latency of getting, listing and creating jobs,
//!   next to `GET /health` on the same server;
//! - `xxl` (runnable by name, not part of `all`: about ten minutes with
//!   both servers): one ruqi node as an XXL-JOB scheduling center, 10,000
//!   one-shot `xxl` jobs due at once dispatched to the harness's own
//!   executors (one, and four by route ROUND) that answer at once: runs per
//!   second and fire → `/run` received, next to the same jobs running the
//!   in-process `log` function; every run must be dispatched and received
//!   exactly once, or the command fails;
//!
//! and, on a PostgreSQL and a MariaDB server of its own (started from the
//! `postgresql` and `mariadb-server` packages' binaries on a spare loopback
//! port, so that it may stop and kill them; no URL needed):
//!
//! - `faults`: three `ruqi-server` nodes and 300 jobs, one node killed with
//!   SIGKILL and started again, a fast and a crash restart of the database,
//!   then, from `job_execution`: fires run twice, fires with no row, runs
//!   started past their grace, live nodes taken for dead, rows left
//!   `running`; and three nodes started at once on an empty database. Every
//!   count must be 0: the command fails otherwise, and prints one
//!   `RUQI_FAULTS_SUMMARY` JSON line per backend. Not part of `all` (about
//!   25 minutes; `--quick`, one run per backend, about 2).
//!
//! What to look at: the tables on stdout (progress goes to stderr) and the
//! bars at the end — lateness p99 ≤ 5 ms with 10,000 jobs, 100,000 rows
//! scheduled in ≤ 3 s, a direct edit applied within p99 100 ms on PostgreSQL
//! and within the poll interval + 50 ms on SQLite and MySQL, ≥ 20,000
//! executions/s on PostgreSQL and ≥ 10,000 on SQLite from one process, and
//! three processes sharing the work with no fire run twice or lost. The same tables
//! are written to `BENCHMARKS.md` at the workspace root and every run's
//! figures to `docs/bench/results.json`.
//!
//! ruqi's scheduler is one per process, so each measurement runs in a child
//! process: this binary started again with a hidden `__child` argument (or,
//! for a `faults` node, `__ruqi-server` and the server's own flags).
//! `--no-save` prints the tables without writing `results.json` or
//! `BENCHMARKS.md`.
//! `RUQI_BENCH_NOTE` adds its text to the run line of every section the
//! run writes: what else the machine was doing, when it was busy.
//! When a run looks wrong, `RUST_LOG=debug` shows the scheduler's (and
//! tokio-cron-scheduler's) logs on stderr, and `RUQI_BENCH_KEEP_DB=1` keeps
//! each run's SQLite file or server database (its path or name is printed)
//! for a look at `job_info`, `job_execution` and `job_change` (for `faults`,
//! the servers' data directories, and the nodes' logs, which are kept
//! anyway when a run found something).

mod backend;
mod child;
mod db;
mod engine;
mod faults;
mod limits;
mod machine;
mod plot;
mod report;
mod scenario;
mod section;
mod stats;
mod telemetry;

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::backend::Backend;
use crate::child::CHILD_ARG;
use crate::faults::NODE_ARG;
use crate::report::{Results, RunInfo, Section};
use crate::scenario::faults::Faults;
use crate::scenario::xxl::{self, Xxl};
use crate::scenario::{Options, Scenario as _, api, cluster, feed, precision, startup, throughput};

const USAGE: &str =
    "usage: ruqi-bench <all|precision|startup|feed|throughput|cluster|api|xxl|faults> [--quick] [--full]
                  [--backend sqlite|postgres|mysql] [--no-save]
       ruqi-bench render

  all         every scenario but xxl and faults
  precision   timer lateness with 1, 10,000, 100,000 and 1,000,000 idle jobs, heap vs
              tokio-cron-scheduler
  startup     start() over 10,000, 100,000 and 1,000,000 rows: time and resident
              memory; idle CPU with 100,000 jobs
  feed        commit of a plain SQL edit -> applied by the running scheduler, with
              1,000 and 10,000 idle jobs, on SQLite and on the servers whose
              RUQI_TEST_POSTGRES_URL / RUQI_TEST_MYSQL_URL are set
  throughput  executions/s of 10,000 and 100,000 one-shot jobs due at once in one
              process, history recorded, against single-row INSERTs/s and against
              the store's own writes for the same runs alone (all backends; the
              servers as their URLs say, and over a local Unix socket beside TCP:
              RUQI_BENCH_POSTGRES_SOCKET / RUQI_BENCH_MYSQL_SOCKET, default
              /var/run/postgresql and /run/mysqld/mysqld.sock)
  cluster     three processes on one server database, 30,000 jobs due at once:
              duplicates, lost jobs, each process's share (PostgreSQL, MySQL/MariaDB)
  api         the admin API over HTTP, 16 requests in flight: get, list, create
              against GET /health (SQLite, and PostgreSQL when its URL is set)
  xxl         one node as an XXL-JOB center, 10,000 one-shot xxl jobs due at once to the
              harness's own executors (1, and 4 by ROUND) that answer at once: runs/s and
              fire -> /run received p50/p99, against the same jobs running the in-process
              log function; every run dispatched and received exactly once, 0 left running
              (the command fails otherwise). All backends. About 10 minutes, 1 with --quick
  faults      three ruqi-server processes on a PostgreSQL and a MariaDB server of
              the harness's own, 300 jobs: a node killed and started again, a fast
              and a crash restart of the database; fires run twice, fires with no
              row, runs past their grace, live nodes taken for dead, rows left
              running (all must be 0; the command fails otherwise); and three nodes
              started at once on an empty database. About 25 minutes, 3 with --quick
  render      rewrite BENCHMARKS.md from docs/bench/results.json, measuring nothing

  --quick     one run per configuration, fewer samples, shorter windows, fewer rows or jobs (a smoke run)
  --full      adds 100,000 idle jobs to the feed scenario
  --backend   measures on that backend alone; the scenario's section then lists the
              others as skipped
  --no-save   prints the tables but writes neither results.json nor BENCHMARKS.md

Writes docs/bench/results.json and rewrites BENCHMARKS.md; run it with --release.";

/// A scenario the parent can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Precision,
    Startup,
    Feed,
    Throughput,
    Cluster,
    Api,
    Faults,
    Xxl,
}

impl Scenario {
    /// Every scenario, in the order `all` runs them.
    const ALL: [Scenario; 6] = [
        Scenario::Precision,
        Scenario::Startup,
        Scenario::Feed,
        Scenario::Throughput,
        Scenario::Cluster,
        Scenario::Api,
    ];
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    /// Measure these scenarios and report.
    Run { scenarios: Vec<Scenario>, options: Options },
    /// Be a child: one measurement, result on stdout.
    Child { scenario: String, config: String },
    /// Be a `ruqi-server` node of the `faults` scenario, with these flags.
    Node { args: Vec<String> },
    /// Rewrite `BENCHMARKS.md` from the saved results.
    Render,
    /// Print the usage.
    Help,
}

fn parse_args(args: &[String]) -> Result<Invocation> {
    if args.first().map(String::as_str) == Some(CHILD_ARG) {
        let [_, scenario, config] = args else {
            bail!("{CHILD_ARG} takes a scenario and its configuration");
        };
        return Ok(Invocation::Child {
            scenario: scenario.clone(),
            config: config.clone(),
        });
    }
    if let Some((first, rest)) = args.split_first()
        && first == NODE_ARG
    {
        return Ok(Invocation::Node { args: rest.to_vec() });
    }
    if args == ["render"] {
        return Ok(Invocation::Render);
    }
    let mut scenarios = None;
    let mut options = Options {
        quick: false,
        full: false,
        only: None,
        save: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--backend" => {
                options.only = Some(match args.next().map(String::as_str) {
                    Some("sqlite") => Backend::Sqlite,
                    Some("postgres") => Backend::Postgres,
                    Some("mysql") => Backend::MySql,
                    other => bail!("--backend takes sqlite, postgres or mysql, not {other:?}\n\n{USAGE}"),
                });
            }
            "--full" => options.full = true,
            "--no-save" => options.save = false,
            "-h" | "--help" | "help" => return Ok(Invocation::Help),
            name if !name.starts_with('-') && scenarios.is_none() => {
                scenarios = Some(match name {
                    "all" => Scenario::ALL.to_vec(),
                    "precision" => vec![Scenario::Precision],
                    "startup" => vec![Scenario::Startup],
                    "feed" => vec![Scenario::Feed],
                    "throughput" => vec![Scenario::Throughput],
                    "cluster" => vec![Scenario::Cluster],
                    "api" => vec![Scenario::Api],
                    Faults::NAME => vec![Scenario::Faults],
                    Xxl::NAME => vec![Scenario::Xxl],
                    other => bail!("unknown scenario {other:?}\n\n{USAGE}"),
                });
            }
            other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    match scenarios {
        Some(scenarios) => Ok(Invocation::Run { scenarios, options }),
        None => bail!("name a scenario\n\n{USAGE}"),
    }
}

/// The allocator `ruqi-server` runs with and the README recommends to
/// applications (see "Allocator" there), so the figures are what a
/// deployment that follows it gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invocation = parse_args(&args)?;
    if let Invocation::Node { args } = &invocation {
        // A node logs as the `ruqi-server` binary does, not as the harness.
        return faults::serve_as_node(args).await;
    }
    telemetry::init();
    match invocation {
        Invocation::Help => {
            writeln!(std::io::stdout(), "{USAGE}")?;
            Ok(())
        }
        Invocation::Child { scenario, config } => {
            run_child(&scenario, &config).await?;
            // Exit at once: the scheduler's background tasks have nothing left
            // to do, and the parent has the result.
            std::process::exit(0)
        }
        Invocation::Run { scenarios, options } => run_parent(&args, &scenarios, options).await,
        Invocation::Node { .. } => Ok(()),
        Invocation::Render => {
            let root = report::workspace_root();
            let markdown = report::write_benchmarks_md(&root, &report::load(&root))?;
            eprintln!("wrote {}", markdown.display());
            Ok(())
        }
    }
}

async fn run_child(scenario: &str, config: &str) -> Result<()> {
    match scenario {
        precision::NAME => child::emit(&precision::measure(serde_json::from_str(config)?).await?),
        startup::NAME => child::emit(&startup::measure(serde_json::from_str(config)?).await?),
        feed::NAME => child::emit(&feed::measure(serde_json::from_str(config)?).await?),
        throughput::NAME => child::emit(&throughput::measure(serde_json::from_str(config)?).await?),
        cluster::NAME => child::emit(&cluster::measure(serde_json::from_str(config)?).await?),
        api::NAME => child::emit(&api::measure(serde_json::from_str(config)?).await?),
        xxl::node::NAME => child::emit(&xxl::node::measure(serde_json::from_str(config)?).await?),
        xxl::executor::NAME => child::emit(&xxl::executor::serve(serde_json::from_str(config)?).await?),
        other => bail!("unknown child scenario {other:?}"),
    }
}

async fn run_parent(args: &[String], scenarios: &[Scenario], options: Options) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for figures worth quoting");
    }
    let began = Instant::now();
    let root = report::workspace_root();
    let run = RunInfo::now(&root, args, options.quick);
    let mut results: Results = report::load(&root);
    let mut out = String::new();
    let mut failures = Vec::new();
    for scenario in scenarios {
        match scenario {
            Scenario::Precision => {
                let load_before = report::load_average();
                let report = precision::run(options).await.context("the precision scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&report::precision_markdown(&section));
                results.precision = Some(section);
            }
            Scenario::Startup => {
                let load_before = report::load_average();
                let report = startup::run(options).await.context("the startup scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&report::startup_markdown(&section));
                results.startup = Some(section);
            }
            Scenario::Feed => {
                let load_before = report::load_average();
                let report = feed::run(options).await.context("the feed scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&report::feed_markdown(&section));
                results.feed = Some(section);
            }
            Scenario::Throughput => {
                let load_before = report::load_average();
                let report = throughput::run(options).await.context("the throughput scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&throughput::markdown(&section));
                results.throughput = Some(section);
            }
            Scenario::Cluster => {
                let load_before = report::load_average();
                let report = cluster::run(options).await.context("the cluster scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&cluster::markdown(&section));
                results.cluster = Some(section);
            }
            Scenario::Api => {
                let load_before = report::load_average();
                let report = api::run(options).await.context("the api scenario")?;
                let section = Section {
                    run: run.clone(),
                    load_average: [load_before, report::load_average()],
                    report,
                };
                out.push_str(&api::markdown(&section));
                results.api = Some(section);
            }
            Scenario::Faults => failures.extend(run_reported::<Faults>(options, &run, &mut results, &mut out).await?),
            Scenario::Xxl => failures.extend(run_reported::<Xxl>(options, &run, &mut results, &mut out).await?),
        }
        // Saved after each scenario, so a failure later keeps what was measured.
        if options.save {
            report::save(&root, &results)?;
        }
    }
    out.push_str("## Bars\n\n");
    out.push_str(&report::bars_markdown(&results));
    writeln!(std::io::stdout().lock(), "\n{out}")?;
    if options.save {
        let json = report::save(&root, &results)?;
        let markdown = report::write_benchmarks_md(&root, &results)?;
        eprintln!(
            "wrote {} and {} in {:.0} s",
            json.display(),
            markdown.display(),
            began.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("--no-save: wrote nothing, in {:.0} s", began.elapsed().as_secs_f64());
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// Runs a scenario that reaches the report through [`scenario::Scenario`]:
/// its section goes into `results` and its markdown into `out`; returns why
/// the command should fail, if it should.
async fn run_reported<S: scenario::Scenario>(
    options: Options,
    run: &RunInfo,
    results: &mut Results,
    out: &mut String,
) -> Result<Option<String>> {
    let load_before = report::load_average();
    let report = S::run(options)
        .await
        .with_context(|| format!("the {} scenario", S::NAME))?;
    let mut run = run.clone();
    if !S::SHARED_SERVERS {
        run.servers.clear();
    }
    let section = Section {
        run,
        load_average: [load_before, report::load_average()],
        report,
    };
    out.push_str(&S::markdown(&section));
    let failure = S::failure(&section.report);
    results
        .reported
        .insert(S::NAME.to_owned(), serde_json::to_value(&section)?);
    Ok(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_scenarios_and_flags() {
        assert_eq!(
            parse_args(&args("all --quick")).unwrap(),
            Invocation::Run {
                scenarios: vec![
                    Scenario::Precision,
                    Scenario::Startup,
                    Scenario::Feed,
                    Scenario::Throughput,
                    Scenario::Cluster,
                    Scenario::Api
                ],
                options: Options {
                    quick: true,
                    full: false,
                    only: None,
                    save: true
                },
            }
        );
        assert_eq!(
            parse_args(&args("--full startup")).unwrap(),
            Invocation::Run {
                scenarios: vec![Scenario::Startup],
                options: Options {
                    quick: false,
                    full: true,
                    only: None,
                    save: true
                },
            }
        );
        assert_eq!(
            parse_args(&args("feed")).unwrap(),
            Invocation::Run {
                scenarios: vec![Scenario::Feed],
                options: Options {
                    quick: false,
                    full: false,
                    only: None,
                    save: true
                },
            }
        );
        for (name, scenario) in [
            ("throughput", Scenario::Throughput),
            ("cluster", Scenario::Cluster),
            ("api", Scenario::Api),
            ("xxl", Scenario::Xxl),
        ] {
            assert_eq!(
                parse_args(&args(&format!("{name} --quick"))).unwrap(),
                Invocation::Run {
                    scenarios: vec![scenario],
                    options: Options {
                        quick: true,
                        full: false,
                        only: None,
                        save: true
                    },
                }
            );
        }
        assert_eq!(
            parse_args(&args("throughput --backend postgres")).unwrap(),
            Invocation::Run {
                scenarios: vec![Scenario::Throughput],
                options: Options {
                    quick: false,
                    full: false,
                    only: Some(Backend::Postgres),
                    save: true
                },
            }
        );
        assert!(parse_args(&args("throughput --backend")).is_err());
        assert!(parse_args(&args("throughput --backend oracle")).is_err());
        assert!(parse_args(&args("throughput cluster")).is_err());
        assert!(parse_args(&args("latency")).is_err());
        assert!(parse_args(&args("--quick")).is_err());
        assert!(parse_args(&args("all precision")).is_err());
        assert_eq!(
            parse_args(&args("faults --quick --backend mysql --no-save")).unwrap(),
            Invocation::Run {
                scenarios: vec![Scenario::Faults],
                options: Options {
                    quick: true,
                    full: false,
                    only: Some(Backend::MySql),
                    save: false
                },
            }
        );
        for left_out in [Scenario::Faults, Scenario::Xxl] {
            assert!(
                !parse_args(&args("all"))
                    .is_ok_and(|i| matches!(i, Invocation::Run { scenarios, .. } if scenarios.contains(&left_out)))
            );
        }
        assert_eq!(parse_args(&args("--help")).unwrap(), Invocation::Help);
        assert_eq!(parse_args(&args("render")).unwrap(), Invocation::Render);
    }

    #[test]
    fn parses_the_hidden_child_mode() {
        assert_eq!(
            parse_args(&args("__child precision {}")).unwrap(),
            Invocation::Child {
                scenario: "precision".into(),
                config: "{}".into()
            }
        );
        assert_eq!(
            parse_args(&args("__child xxl-executors {}")).unwrap(),
            Invocation::Child {
                scenario: "xxl-executors".into(),
                config: "{}".into()
            }
        );
        assert_eq!(
            parse_args(&args("__child cluster {}")).unwrap(),
            Invocation::Child {
                scenario: "cluster".into(),
                config: "{}".into()
            }
        );
        assert!(parse_args(&args("__child precision")).is_err());
        assert_eq!(
            parse_args(&args("__ruqi-server --node-name n1 --listen 127.0.0.1:1")).unwrap(),
            Invocation::Node {
                args: args("--node-name n1 --listen 127.0.0.1:1")
            }
        );
    }
}
