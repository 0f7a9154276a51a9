//! A database server of the suite's own, on a spare loopback port, in a
//! temporary directory: one backend per file (`postgres.rs`, `mariadb.rs`),
//! chosen at run time. The suite stops, crashes and starts it again, which
//! it must never do to the machine's shared servers.
//!
//! The server's own binaries (PostgreSQL's `initdb` and `pg_ctl`, MariaDB's
//! `mariadb-install-db` and `mariadbd`) come from the Debian packages `.ci/run`
//! installs (`postgresql`, `mariadb-server`). PostgreSQL refuses to run as
//! root, so as root both run as their packages' system users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use sea_orm::sqlx::{Connection, MySqlConnection, PgConnection};
use serde::{Deserialize, Serialize};

use super::mariadb::MariaDbInstance;
use super::postgres::PostgresInstance;
use crate::backend::Backend;

/// How long a server may take to accept connections after a start (crash
/// recovery included).
pub(crate) const READY_LIMIT: Duration = Duration::from_secs(60);

/// How often a server that is starting is tried.
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// How long one connection attempt may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a restart takes the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Restart {
    /// A clean stop: PostgreSQL's fast shutdown (`pg_ctl stop -m fast`: open
    /// transactions roll back, a checkpoint is written), MariaDB's SIGTERM.
    Fast,
    /// A crash: PostgreSQL's immediate shutdown (`pg_ctl stop -m
    /// immediate`: every process quits at once, the next start replays the
    /// WAL), MariaDB's SIGKILL (InnoDB recovers from its redo log).
    Crash,
}

impl Restart {
    /// The restart in words, per backend.
    pub(crate) fn describe(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Restart::Fast, Backend::Postgres) => "fast restart (`pg_ctl stop -m fast`, start)",
            (Restart::Crash, Backend::Postgres) => "crash restart (`pg_ctl stop -m immediate`, start)",
            (Restart::Fast, _) => "clean restart (SIGTERM, start)",
            (Restart::Crash, _) => "crash restart (SIGKILL, start)",
        }
    }
}

/// One restart of a server as the suite measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Outage {
    /// How it was taken down.
    pub(crate) kind: Restart,
    /// When the stop was issued: from here on it takes no new connection.
    pub(crate) down_at: DateTime<Utc>,
    /// When the start was issued (after the hold).
    pub(crate) start_at: DateTime<Utc>,
    /// The first successful connection after the start.
    pub(crate) up_at: DateTime<Utc>,
}

impl Outage {
    /// Seconds the server took no connection: stop issued → first successful connection.
    pub(crate) fn unavailable_s(&self) -> f64 {
        seconds_between(self.down_at, self.up_at)
    }

    /// Seconds from the start being issued to the first successful connection (crash recovery included).
    pub(crate) fn startup_s(&self) -> f64 {
        seconds_between(self.start_at, self.up_at)
    }
}

/// `to − from` in seconds.
pub(crate) fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().map_or(f64::NAN, |us| us as f64 / 1e6)
}

/// A private server of either backend.
#[derive(Debug)]
pub(crate) enum Instance {
    /// PostgreSQL.
    Postgres(PostgresInstance),
    /// MariaDB.
    MariaDb(MariaDbInstance),
}

impl Instance {
    /// Whether this machine has what `backend` needs: `Ok`, or what is missing.
    pub(crate) fn availability(backend: Backend) -> Result<(), String> {
        match backend {
            Backend::Postgres => PostgresInstance::binaries().map(drop).map_err(|e| format!("{e:#}")),
            Backend::MySql => MariaDbInstance::binaries().map(drop).map_err(|e| format!("{e:#}")),
            Backend::Sqlite => Err("the fault suite runs on database servers only".to_owned()),
        }
    }

    /// Creates and starts a fresh server of `backend`, and waits until it
    /// accepts connections.
    pub(crate) async fn start(backend: Backend) -> Result<Instance> {
        match backend {
            Backend::Postgres => Ok(Instance::Postgres(PostgresInstance::start().await?)),
            Backend::MySql => Ok(Instance::MariaDb(MariaDbInstance::start().await?)),
            Backend::Sqlite => bail!("the fault suite runs on database servers only"),
        }
    }

    /// The backend.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Instance::Postgres(_) => Backend::Postgres,
            Instance::MariaDb(_) => Backend::MySql,
        }
    }

    /// The URL of `database` on this server, over TCP to 127.0.0.1 as a
    /// user's nodes would reach it (no password: the server trusts loopback).
    pub(crate) fn url(&self, database: &str) -> String {
        match self {
            Instance::Postgres(pg) => pg.url(database),
            Instance::MariaDb(maria) => maria.url(database),
        }
    }

    /// The URL of the database that always exists (to create others from).
    pub(crate) fn admin_url(&self) -> String {
        match self {
            Instance::Postgres(pg) => pg.url("postgres"),
            Instance::MariaDb(maria) => maria.url("mysql"),
        }
    }

    /// The server's directory (data, socket, log).
    pub(crate) fn dir(&self) -> &Path {
        match self {
            Instance::Postgres(pg) => pg.dir(),
            Instance::MariaDb(maria) => maria.dir(),
        }
    }

    /// The server's log.
    pub(crate) fn log(&self) -> PathBuf {
        match self {
            Instance::Postgres(pg) => pg.log(),
            Instance::MariaDb(maria) => maria.log(),
        }
    }

    /// Takes the server down the `kind` way, keeps it down for `hold`,
    /// starts it again and waits until it accepts connections.
    pub(crate) async fn restart(&mut self, kind: Restart, hold: Duration) -> Result<Outage> {
        let down_at = Utc::now();
        match self {
            Instance::Postgres(pg) => pg.stop(kind).await?,
            Instance::MariaDb(maria) => maria.stop(kind).await?,
        }
        // The hold counts from the stop's return, when the server is down for sure.
        tokio::time::sleep(hold).await;
        let start_at = Utc::now();
        match self {
            Instance::Postgres(pg) => pg.launch().await?,
            Instance::MariaDb(maria) => maria.launch()?,
        }
        let up_at = wait_until_accepting(self.backend(), &self.admin_url(), READY_LIMIT)
            .await
            .with_context(|| format!("its log ends:\n{}", tail(&self.log(), 20)))?;
        Ok(Outage {
            kind,
            down_at,
            start_at,
            up_at,
        })
    }
}

/// Tries to connect to `url` every [`PROBE_EVERY`] until it works, and
/// returns the instant it did.
pub(crate) async fn wait_until_accepting(backend: Backend, url: &str, limit: Duration) -> Result<DateTime<Utc>> {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = async {
            match backend {
                Backend::Postgres => PgConnection::connect(url).await?.close().await,
                _ => MySqlConnection::connect(url).await?.close().await,
            }
        };
        let last_error = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
            Ok(Ok(())) => return Ok(Utc::now()),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        };
        if Instant::now() >= deadline {
            bail!(
                "the {} server did not accept a connection within {} s (last: {last_error})",
                backend.label(),
                limit.as_secs()
            );
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub(crate) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The first of `names` found in `dirs` and then on `PATH`.
pub(crate) fn find_binary(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.iter()
        .chain(&path_dirs)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The system user a server runs as when the suite runs as root (the
/// servers refuse root, or should not have it); `None` when not root: the
/// server then runs as the current user.
pub(crate) fn service_user(name: &str) -> Result<Option<nix::unistd::User>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name(name)? {
        Some(user) => Ok(Some(user)),
        None => bail!("running as root, and there is no `{name}` system user to run the server as"),
    }
}

/// Gives `path` to `user` (when there is one), so that the server can write it.
pub(crate) fn hand_over(path: &Path, user: Option<&nix::unistd::User>) -> Result<()> {
    if let Some(user) = user {
        std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .with_context(|| format!("giving {} to {}", path.display(), user.name))?;
    }
    Ok(())
}

/// The last `lines` lines of the file at `path`, for an error message.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database};

    /// The self-check of the instances: a committed row survives a fast and
    /// a crash restart, each outage is measured, and nothing is left behind.
    async fn survives_restarts(backend: Backend) {
        if let Err(why) = Instance::availability(backend) {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
            return;
        }
        let mut instance = Instance::start(backend).await.unwrap();
        let dir = instance.dir().to_path_buf();
        let db = Database::connect(instance.admin_url()).await.unwrap();
        db.execute_unprepared("CREATE TABLE faults_check (n INT)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO faults_check VALUES (1)")
            .await
            .unwrap();
        let fast = instance
            .restart(Restart::Fast, Duration::from_millis(500))
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO faults_check VALUES (2)")
            .await
            .unwrap();
        let crash = instance
            .restart(Restart::Crash, Duration::from_millis(300))
            .await
            .unwrap();
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT n FROM faults_check",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "committed rows after a fast and a crash restart");
        for outage in [&fast, &crash] {
            assert!(outage.unavailable_s() >= 0.3, "{outage:?}");
            assert!(outage.startup_s() < outage.unavailable_s(), "{outage:?}");
        }
        let _ = db.close().await;
        drop(instance);
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }

    #[tokio::test]
    async fn a_private_postgres_survives_restarts_and_leaves_nothing_behind() {
        survives_restarts(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn a_private_mariadb_survives_restarts_and_leaves_nothing_behind() {
        survives_restarts(Backend::MySql).await;
    }
}
