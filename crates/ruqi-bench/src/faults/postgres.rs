//! A PostgreSQL server of the suite's own: `initdb` into a temporary
//! directory, `pg_ctl` to start it on a spare 127.0.0.1 port (socket in
//! the same directory) and to stop it fast or immediately. As root it runs as
//! the `postgres` system user (`runuser`), which PostgreSQL insists on.
//!
//! Trust authentication for everyone over loopback, `fsync` on (a crash
//! restart must find what was committed), the server's log in
//! `<dir>/postgres.log`. Dropping the instance stops the server (immediate
//! shutdown) and removes the directory (kept with `RUQI_BENCH_KEEP_DB`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};

use super::instance::{
    READY_LIMIT, Restart, find_binary, free_port, hand_over, service_user, tail, wait_until_accepting,
};
use crate::backend::Backend;
use crate::db::TempDir;

/// Where Debian's packages put each major version's server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The system user the server runs as when the suite runs as root.
const SERVICE_USER: &str = "postgres";

/// Connections the server takes: three nodes' pools and their control
/// pools, the harness's, and room for a node started again before its old
/// connections are gone.
const MAX_CONNECTIONS: u32 = 300;

/// A private PostgreSQL server. Its fields drop after [`Drop::drop`] has
/// stopped the server, the directory last.
#[derive(Debug)]
pub(crate) struct PostgresInstance {
    /// The directory holding `initdb` and `pg_ctl`.
    bin: PathBuf,
    /// Who the server runs as (`None`: the current user).
    user: Option<nix::unistd::User>,
    port: u16,
    /// Whether the server was started and not stopped since.
    running: bool,
    /// Data directory, socket and log.
    dir: TempDir,
}

impl PostgresInstance {
    /// The directory with this machine's `initdb` and `pg_ctl`: the newest
    /// of Debian's `/usr/lib/postgresql/<major>/bin`, else `PATH`.
    pub(crate) fn binaries() -> Result<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
            .map(|entries| {
                entries
                    .filter_map(|entry| {
                        let entry = entry.ok()?;
                        let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
                        Some((major, entry.path().join("bin")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        let dirs: Vec<PathBuf> = versions.into_iter().rev().map(|(_, dir)| dir).collect();
        let pg_ctl = find_binary(&["pg_ctl"], &dirs).ok_or_else(|| {
            anyhow!("no PostgreSQL server binaries (`pg_ctl`, `initdb`) in {DEBIAN_ROOT}/*/bin or on PATH; install the `postgresql` package")
        })?;
        let bin = pg_ctl.parent().map(Path::to_path_buf).unwrap_or_default();
        if !bin.join("initdb").is_file() {
            bail!("{} has `pg_ctl` but no `initdb`", bin.display());
        }
        Ok(bin)
    }

    /// `initdb` into a fresh directory, start, wait until it accepts connections.
    pub(crate) async fn start() -> Result<PostgresInstance> {
        let bin = Self::binaries()?;
        let user = service_user(SERVICE_USER)?;
        let dir = TempDir::new("faults-postgres")?;
        hand_over(dir.path(), user.as_ref())?;
        let mut instance = PostgresInstance {
            bin,
            user,
            port: free_port()?,
            running: false,
            dir,
        };
        let data = instance.data_dir();
        let output = instance
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        instance.launch().await?;
        wait_until_accepting(Backend::Postgres, &instance.url("postgres"), READY_LIMIT)
            .await
            .with_context(|| format!("its log ends:\n{}", tail(&instance.log(), 20)))?;
        Ok(instance)
    }

    /// Starts the server (`pg_ctl start` without waiting: the caller waits
    /// for a connection, which is the instant that counts).
    pub(crate) async fn launch(&mut self) -> Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections={MAX_CONNECTIONS}",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log())
            .args(["-W", "-s", "-o", &options])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .await
            .context("running pg_ctl start")?;
        if !status.success() {
            bail!(
                "pg_ctl start failed ({status}); the log ends:\n{}",
                tail(&self.log(), 20)
            );
        }
        self.running = true;
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast` or `-m immediate`) and waits
    /// until it is down.
    pub(crate) async fn stop(&mut self, kind: Restart) -> Result<()> {
        let mode = match kind {
            Restart::Fast => "fast",
            Restart::Crash => "immediate",
        };
        let status = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", "60", "-s"])
            .stdin(Stdio::null())
            .status()
            .await
            .context("running pg_ctl stop")?;
        if !status.success() {
            bail!("pg_ctl stop -m {mode} failed ({status})");
        }
        self.running = false;
        Ok(())
    }

    /// The URL of `database`, over TCP.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The instance's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log.
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program` from the server's binaries, as the service user, in the
    /// instance's directory (which that user can read).
    fn command(&self, program: &str) -> tokio::process::Command {
        tokio::process::Command::from(self.std_command(program))
    }

    fn std_command(&self, program: &str) -> std::process::Command {
        let program = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut runuser = std::process::Command::new("runuser");
                runuser.args(["-u", &user.name, "--"]).arg(program);
                runuser
            }
            None => std::process::Command::new(program),
        };
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for PostgresInstance {
    fn drop(&mut self) {
        if self.running {
            // Blocking, and quick: an immediate shutdown does not wait for anything.
            let _ = self
                .std_command("pg_ctl")
                .arg("stop")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "-t", "30", "-s"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
