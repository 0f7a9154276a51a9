//! A MariaDB server of the suite's own: `mariadb-install-db` into a
//! temporary directory, then `mariadbd` on a spare 127.0.0.1 port with its
//! socket, pid file and error log in the same directory. As root the server
//! runs as the `mysql` system user (`--user`).
//!
//! The grant tables are real (`--auth-root-authentication-method=normal`:
//! `root` with an empty password from `127.0.0.1`, as on the shared server),
//! `--skip-name-resolve`, InnoDB's defaults (every commit flushed to the
//! redo log, so a SIGKILL loses nothing committed). A clean stop is SIGTERM,
//! a crash SIGKILL. Dropping the instance kills the server and removes the
//! directory (kept with `RUQI_BENCH_KEEP_DB`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::instance::{
    READY_LIMIT, Restart, find_binary, free_port, hand_over, service_user, tail, wait_until_accepting,
};
use crate::backend::Backend;
use crate::db::TempDir;

/// The system user the server runs as when the suite runs as root.
const SERVICE_USER: &str = "mysql";

/// Where Debian's packages put the server.
const SBIN: &str = "/usr/sbin";

/// How long a clean stop may take before the server is killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// How often a stopping server is checked for its exit.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// Connections the server takes (see the PostgreSQL instance).
const MAX_CONNECTIONS: u32 = 300;

/// A private MariaDB server. Its fields drop after [`Drop::drop`] has
/// killed the server, the directory last.
#[derive(Debug)]
pub(crate) struct MariaDbInstance {
    server: PathBuf,
    user: Option<nix::unistd::User>,
    port: u16,
    /// The running server, if it runs.
    child: Option<Child>,
    /// Data directory, socket, pid file and error log.
    dir: TempDir,
}

impl MariaDbInstance {
    /// This machine's `mariadbd` and `mariadb-install-db`.
    pub(crate) fn binaries() -> Result<(PathBuf, PathBuf)> {
        let sbin = [PathBuf::from(SBIN)];
        let server = find_binary(&["mariadbd", "mysqld"], &sbin).ok_or_else(|| {
            anyhow!("no MariaDB server (`mariadbd`) in {SBIN} or on PATH; install the `mariadb-server` package")
        })?;
        let install = find_binary(&["mariadb-install-db", "mysql_install_db"], &[])
            .ok_or_else(|| anyhow!("no `mariadb-install-db` on PATH; install the `mariadb-server` package"))?;
        Ok((server, install))
    }

    /// `mariadb-install-db` into a fresh directory, start, wait until it accepts connections.
    pub(crate) async fn start() -> Result<MariaDbInstance> {
        let (server, install) = Self::binaries()?;
        let user = service_user(SERVICE_USER)?;
        let dir = TempDir::new("faults-mariadb")?;
        hand_over(dir.path(), user.as_ref())?;
        let mut instance = MariaDbInstance {
            server,
            user,
            port: free_port()?,
            child: None,
            dir,
        };
        let mut command = tokio::process::Command::new(install);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", instance.data_dir().display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .current_dir(instance.dir.path())
            .stdin(Stdio::null());
        if let Some(user) = &instance.user {
            command.arg(format!("--user={}", user.name));
        }
        let output = command.output().await.context("running mariadb-install-db")?;
        if !output.status.success() {
            bail!(
                "mariadb-install-db failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        instance.launch()?;
        wait_until_accepting(Backend::MySql, &instance.url("mysql"), READY_LIMIT)
            .await
            .with_context(|| format!("its error log ends:\n{}", tail(&instance.log(), 20)))?;
        Ok(instance)
    }

    /// Starts `mariadbd` (the caller waits for a connection).
    pub(crate) fn launch(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("the MariaDB server is already running");
        }
        let dir = self.dir.path();
        let mut command = Command::new(&self.server);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.log().display()))
            .arg(format!("--max-connections={MAX_CONNECTIONS}"))
            .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = &self.user {
            command.arg(format!("--user={}", user.name));
        }
        self.child = Some(command.spawn().context("starting mariadbd")?);
        Ok(())
    }

    /// Stops the server: SIGTERM and wait for it to exit (SIGKILL after
    /// [`STOP_LIMIT`]), or SIGKILL at once.
    pub(crate) async fn stop(&mut self, kind: Restart) -> Result<()> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| anyhow!("the MariaDB server is not running"))?;
        match kind {
            Restart::Crash => child.kill().context("killing mariadbd")?,
            Restart::Fast => {
                let pid = Pid::from_raw(i32::try_from(child.id())?);
                kill(pid, Signal::SIGTERM).context("sending SIGTERM to mariadbd")?;
            }
        }
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = child.try_wait()? {
                if kind == Restart::Fast && !status.success() {
                    bail!(
                        "mariadbd exited with {status} after SIGTERM; its error log ends:\n{}",
                        tail(&self.log(), 20)
                    );
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "mariadbd did not stop within {} s of SIGTERM and was killed",
                    STOP_LIMIT.as_secs()
                );
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    /// The URL of `database`, over TCP, as `root` without a password.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    /// The instance's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's error log.
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.path().join("mariadb.err")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for MariaDbInstance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Blocking, and quick: SIGKILL does not wait for anything.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
