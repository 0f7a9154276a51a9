//! `ruqi-server`: ruqi as a service with an HTTP admin API.
//!
//! Run it with `cargo run --release -p ruqi-server` (`--help` lists the flags;
//! each has an environment variable). It keeps its jobs in `ruqi.db` in the
//! working directory unless `--database-url` says otherwise, listens on
//! `127.0.0.1:8200`, and logs at `RUST_LOG` (default `info,sqlx=warn`). Open
//! <http://127.0.0.1:8200/> for the admin page (jobs, runs and their logs, a
//! job form, history charts), <http://127.0.0.1:8200/api/docs> for Swagger UI,
//! or use curl against `/api`: create a job with `func` `http` and it fires
//! its request on schedule; every run shows up under `/api/executions` with
//! the response status and body.
//! Ctrl-C or SIGTERM stops taking requests, lets running jobs finish, and exits.

use std::process::ExitCode;

use clap::Parser;
use ruqi_server::{Options, serve};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// mimalloc rather than the system's allocator: the scheduler allocates a
/// few dozen small values per run on one thread and frees many of them on
/// another (the store's writer), which glibc's allocator serves slowly. See
/// "Allocator" in the README for the measurement.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))),
        )
        // `tracing` events inside a run (the built-in functions' own) go to its log.
        .with(ruqi::run_log_layer().with_filter(LevelFilter::INFO))
        .init();
    match serve(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
