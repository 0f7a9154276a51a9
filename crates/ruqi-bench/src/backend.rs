//! The database backends a scenario can run on: a SQLite file always, and
//! the PostgreSQL and MySQL/MariaDB servers named by the test suite's
//! environment URLs when those are set. Every run gets a database of its own
//! (a file in a temporary directory, or `CREATE DATABASE ruqi_b_…` on the
//! server), removed after the run.
//!
//! The child process is told the backend and the database's name, never a
//! URL: it rebuilds the URL from the same environment variable, so that a
//! password in it appears neither in a process list nor in the results.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};

use crate::db::{self, KEEP_ENV, TempDir};

/// A database backend as the harness names it in JSON and in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Backend {
    /// A SQLite file (see [`db::SQLITE_SETUP`]).
    Sqlite,
    /// The server at `RUQI_TEST_POSTGRES_URL`.
    Postgres,
    /// The server at `RUQI_TEST_MYSQL_URL` (MySQL or MariaDB).
    MySql,
}

impl Backend {
    /// Every backend, in the order tables list them.
    pub(crate) const ALL: [Backend; 3] = [Backend::Postgres, Backend::Sqlite, Backend::MySql];

    /// The name used in tables (MariaDB when the server says so, see [`Backend::label_for`]).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL/MariaDB",
        }
    }

    /// The name used in tables, given the server's version string.
    pub(crate) fn label_for(self, version: &str) -> &'static str {
        match self {
            Backend::MySql if version.contains("MariaDB") => "MariaDB",
            Backend::MySql => "MySQL",
            other => other.label(),
        }
    }

    /// The environment variable holding the server's URL; `None` for SQLite.
    pub(crate) fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("RUQI_TEST_POSTGRES_URL"),
            Backend::MySql => Some("RUQI_TEST_MYSQL_URL"),
        }
    }

    /// Whether this run can use the backend: `Ok` for SQLite and for a server
    /// whose URL is set, otherwise why not.
    pub(crate) fn availability(self) -> Result<(), String> {
        match self.env_var() {
            None => Ok(()),
            Some(var) => match std::env::var(var) {
                Ok(url) if !url.trim().is_empty() => Ok(()),
                _ => Err(format!("`{var}` is not set")),
            },
        }
    }

    /// The server's URL from its environment variable.
    fn server_url(self) -> Result<String> {
        let var = self
            .env_var()
            .ok_or_else(|| anyhow!("{} has no server URL", self.label()))?;
        std::env::var(var)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| anyhow!("{var} is not set"))
    }
}

/// How the harness reaches each server whose URL is set, for the report:
/// the transport matters (see [`transport`]), the credentials are left out.
pub(crate) fn server_connections() -> Vec<String> {
    Backend::ALL
        .into_iter()
        .filter_map(|backend| {
            let url = backend.server_url().ok()?;
            Some(format!("{} {}", backend.label(), transport(&url)))
        })
        .collect()
}

/// How a run reaches its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Transport {
    /// A SQLite file: no connection at all.
    File,
    /// TCP, as the README tells users to write the URL.
    Tcp,
    /// The server's Unix socket on this machine.
    Socket,
}

/// Where the harness looks for a server's Unix socket when its URL goes
/// over TCP to this machine: the environment variable naming it, and the
/// Debian default (for PostgreSQL the socket's directory, for MySQL the
/// socket itself).
fn socket_default(backend: Backend) -> Option<(&'static str, &'static str)> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(("RUQI_BENCH_POSTGRES_SOCKET", "/var/run/postgresql")),
        Backend::MySql => Some(("RUQI_BENCH_MYSQL_SOCKET", "/run/mysqld/mysqld.sock")),
    }
}

impl Backend {
    /// How the URL in [`Backend::env_var`] reaches the server.
    pub(crate) fn url_transport(self) -> Option<Transport> {
        if self == Backend::Sqlite {
            return Some(Transport::File);
        }
        let url = self.server_url().ok()?;
        Some(if socket_in(&url).is_some() {
            Transport::Socket
        } else {
            Transport::Tcp
        })
    }

    /// The Unix socket of the same server, when the URL goes over TCP to
    /// this machine (`127.0.0.1`, `localhost`, `::1`) and the socket exists
    /// (`RUQI_BENCH_POSTGRES_SOCKET` / `RUQI_BENCH_MYSQL_SOCKET`, or
    /// `/var/run/postgresql` / `/run/mysqld/mysqld.sock`): `Ok(path)`, or
    /// why there is none.
    pub(crate) fn local_socket(self) -> Result<String, String> {
        let (var, default) = socket_default(self).ok_or_else(|| "a file has no socket".to_owned())?;
        let url = self.server_url().map_err(|e| e.to_string())?;
        if socket_in(&url).is_some() {
            return Err("its URL already goes over the Unix socket".to_owned());
        }
        let (host, port) = host_and_port(&url);
        if !matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]") {
            return Err(format!("its URL goes to `{host}`, not to this machine"));
        }
        let path = std::env::var(var)
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| default.to_owned());
        // PostgreSQL names its socket in the directory after the port.
        let file = match self {
            Backend::Postgres => format!("{path}/.s.PGSQL.{}", port.unwrap_or(5432)),
            _ => path.clone(),
        };
        if std::path::Path::new(&file).exists() {
            Ok(path)
        } else {
            Err(format!("no socket at `{file}` (set `{var}`)"))
        }
    }
}

/// The socket path a URL names (`host=/dir` for PostgreSQL, `socket=/path`
/// for MySQL), if any.
fn socket_in(url: &str) -> Option<&str> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, value)| matches!(*key, "host" | "socket") && value.starts_with('/'))
        .map(|(_, value)| value)
}

/// The host (without credentials) and port of a URL's authority.
fn host_and_port(url: &str) -> (String, Option<u16>) {
    let main = url.split_once('?').map_or(url, |(m, _)| m);
    let authority = main.split_once("://").map_or(main, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    // `[::1]:5432`, `127.0.0.1:5432`, `localhost`.
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.contains(']') => (name.to_owned(), port.parse().ok()),
        _ => (host.to_owned(), None),
    }
}

/// `url` reaching the same server over the Unix socket `path` instead: for
/// PostgreSQL the socket's directory as `host=`, for MySQL the socket as
/// `socket=` (either replacing one already there).
fn over_socket(backend: Backend, url: &str, path: &str) -> String {
    let key = if backend == Backend::Postgres { "host" } else { "socket" };
    let (main, query) = url.split_once('?').map_or((url, ""), |(m, q)| (m, q));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split_once('=').map_or(*pair, |(k, _)| k) != key)
        .map(str::to_owned)
        .collect();
    pairs.push(format!("{key}={path}"));
    format!("{main}?{}", pairs.join("&"))
}

/// Whether `url` reaches its server over a Unix socket (`host=/dir` for
/// PostgreSQL, `socket=/path` for MySQL) or over TCP, and where. sqlx 0.9.0
/// leaves Nagle's algorithm on for TCP, so a statement larger than one
/// segment can wait out the server's delayed acknowledgement (40 ms on
/// Linux); a Unix socket has no such wait.
fn transport(url: &str) -> String {
    if let Some(path) = socket_in(url) {
        return format!("over the Unix socket `{path}`");
    }
    let main = url.split_once('?').map_or(url, |(m, _)| m);
    let authority = main.split_once("://").map_or(main, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("over TCP to `{host}`")
}

/// `url` with its database name replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = url.split_once('?').map_or((url, None), |(m, q)| (m, Some(q)));
    // `scheme://host` with no path at all has only the scheme's slashes.
    let base = match main.rsplit_once('/') {
        Some((base, _)) if !base.ends_with('/') => base,
        _ => main,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A database created for one run, removed by [`RunDatabase::remove`].
#[derive(Debug)]
pub(crate) struct RunDatabase {
    backend: Backend,
    /// The SQLite file's path, or the server database's name.
    name: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    /// The directory holding the SQLite file.
    File(TempDir),
    /// A connection to the server's original database, to drop ours from.
    Server(DatabaseConnection),
}

impl RunDatabase {
    /// Creates an empty database on `backend` (the child migrates it).
    pub(crate) async fn create(backend: Backend, purpose: &str) -> Result<RunDatabase> {
        if backend == Backend::Sqlite {
            let dir = TempDir::new(purpose)?;
            let path: PathBuf = dir.path().join("ruqi.db");
            return Ok(RunDatabase {
                backend,
                name: path.display().to_string(),
                place: Place::File(dir),
            });
        }
        let url = backend.server_url()?;
        let admin = Database::connect(quiet(&url))
            .await
            .with_context(|| format!("connecting to the {} server", backend.label()))?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("ruqi_b_{:x}{:08x}", std::process::id(), nanos & 0xffff_ffff);
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating the database {name} on the {} server", backend.label()))?;
        Ok(RunDatabase {
            backend,
            name,
            place: Place::Server(admin),
        })
    }

    /// What a child needs to connect: the backend and the database's name.
    pub(crate) fn target(&self) -> Target {
        Target {
            backend: self.backend,
            database: self.name.clone(),
            socket: None,
        }
    }

    /// Deletes the database (unless [`KEEP_ENV`] is set). Best effort: a
    /// leftover database is reported, not a reason to fail the benchmark.
    pub(crate) async fn remove(self) {
        match self.place {
            // Dropping the directory removes the file (or keeps it, and says so).
            Place::File(dir) => drop(dir),
            Place::Server(admin) => {
                if std::env::var_os(KEEP_ENV).is_some() {
                    eprintln!(
                        "{KEEP_ENV} is set: keeping the {} database {}",
                        self.backend.label(),
                        self.name
                    );
                } else if let Err(error) = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {}", self.name))
                    .await
                {
                    eprintln!("warning: could not drop the database {}: {error}", self.name);
                }
                let _ = admin.close().await;
            }
        }
    }
}

/// How a run reaches `backend`'s database (over the Unix socket `socket`
/// when set, else as the URL says), and that in words for the report (e.g.
/// ``over TCP to `127.0.0.1:5432` ``), credentials left out.
pub(crate) fn reach(backend: Backend, socket: Option<&str>) -> (Transport, String) {
    if backend == Backend::Sqlite {
        return (Transport::File, "a file".to_owned());
    }
    if let Some(path) = socket {
        return (Transport::Socket, format!("over the Unix socket `{path}`"));
    }
    match backend.server_url() {
        Ok(url) if socket_in(&url).is_some() => (Transport::Socket, transport(&url)),
        Ok(url) => (Transport::Tcp, transport(&url)),
        Err(_) => (Transport::Tcp, "as its URL says".to_owned()),
    }
}

/// Where a child's database is: enough to connect, with no secrets in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Target {
    /// The backend.
    pub(crate) backend: Backend,
    /// The SQLite file's path, or the database's name on the server.
    pub(crate) database: String,
    /// The server's Unix socket to connect through instead of the URL's
    /// own way (see [`Backend::local_socket`]); `None`: as the URL says.
    #[serde(default)]
    pub(crate) socket: Option<String>,
}

/// How many connections a [`Target::connect`] pool may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    /// sea-orm's default pool, as an application would hand the scheduler.
    Default,
    /// Exactly one connection: a client of its own, like a psql session.
    Single,
}

impl Target {
    /// The same database, reached over the Unix socket `path`.
    pub(crate) fn over_socket(mut self, path: Option<String>) -> Target {
        self.socket = path;
        self
    }

    /// Opens a pool on the database (statement logging off).
    pub(crate) async fn connect(&self, pool: Pool) -> Result<DatabaseConnection> {
        if self.backend == Backend::Sqlite {
            return db::connect(std::path::Path::new(&self.database)).await;
        }
        let mut url = with_database(&self.backend.server_url()?, &self.database);
        if let Some(path) = &self.socket {
            url = over_socket(self.backend, &url, path);
        }
        let mut options = quiet(&url);
        if pool == Pool::Single {
            options.max_connections(1).min_connections(1);
        }
        Database::connect(options)
            .await
            .with_context(|| format!("connecting to {} on the {} server", self.database, self.backend.label()))
    }
}

fn quiet(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    options
}

/// The database's own version string, e.g. `PostgreSQL 15.20`,
/// `10.11.19-MariaDB-0+deb12u1`, `SQLite 3.46.0`.
pub(crate) async fn server_version(db: &DatabaseConnection) -> Result<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
        sea_orm::DatabaseBackend::Postgres => "SHOW server_version",
        _ => "SELECT VERSION()",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| anyhow!("{sql} returned no row"))?;
    let version: String = row.try_get_by_index(0)?;
    Ok(match backend {
        sea_orm::DatabaseBackend::Postgres => format!("PostgreSQL {version}"),
        _ => version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_name_in_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "ruqi_b_1"),
            "postgres://postgres@127.0.0.1:5432/ruqi_b_1"
        );
        assert_eq!(
            with_database("mysql://root:pw@db:3306/test?ssl-mode=disabled", "x"),
            "mysql://root:pw@db:3306/x?ssl-mode=disabled"
        );
        assert_eq!(with_database("postgres://localhost", "x"), "postgres://localhost/x");
    }

    #[test]
    fn mariadb_is_named_by_its_version() {
        assert_eq!(Backend::MySql.label_for("10.11.19-MariaDB-0+deb12u1"), "MariaDB");
        assert_eq!(Backend::MySql.label_for("8.4.0"), "MySQL");
        assert_eq!(Backend::Postgres.label_for("PostgreSQL 15.20"), "PostgreSQL");
    }

    #[test]
    fn reaches_the_same_server_over_its_socket() {
        assert_eq!(
            over_socket(
                Backend::Postgres,
                "postgres://postgres@127.0.0.1:5432/ruqi_b_1",
                "/var/run/postgresql"
            ),
            "postgres://postgres@127.0.0.1:5432/ruqi_b_1?host=/var/run/postgresql"
        );
        assert_eq!(
            over_socket(
                Backend::MySql,
                "mysql://root@127.0.0.1:3306/x?ssl-mode=disabled&socket=/tmp/old.sock",
                "/run/mysqld/mysqld.sock"
            ),
            "mysql://root@127.0.0.1:3306/x?ssl-mode=disabled&socket=/run/mysqld/mysqld.sock"
        );
        let url = over_socket(Backend::Postgres, "postgres://u:pw@localhost/x", "/tmp");
        assert_eq!(transport(&url), "over the Unix socket `/tmp`");
        assert_eq!(socket_in("postgres://u@localhost/x?sslmode=disable"), None);
    }

    #[test]
    fn reads_host_and_port_without_the_credentials() {
        assert_eq!(
            host_and_port("postgres://postgres:pw@127.0.0.1:5432/test"),
            ("127.0.0.1".to_owned(), Some(5432))
        );
        assert_eq!(
            host_and_port("mysql://root@localhost/test?x=1"),
            ("localhost".to_owned(), None)
        );
        assert_eq!(
            host_and_port("postgres://[::1]:5433/t"),
            ("[::1]".to_owned(), Some(5433))
        );
        assert_eq!(host_and_port("postgres://[::1]/t"), ("[::1]".to_owned(), None));
    }

    #[test]
    fn names_the_transport_without_the_credentials() {
        assert_eq!(
            transport("postgres://postgres:secret@127.0.0.1:5432/test"),
            "over TCP to `127.0.0.1:5432`"
        );
        assert_eq!(
            transport("postgres://postgres@localhost/test?host=/var/run/postgresql"),
            "over the Unix socket `/var/run/postgresql`"
        );
        assert_eq!(
            transport("mysql://root@localhost/test?socket=/run/mysqld/mysqld.sock"),
            "over the Unix socket `/run/mysqld/mysqld.sock`"
        );
    }
}
