//! What the XXL-JOB tests share: real pyxxl executors (the Python named by
//! `RUQI_TEST_PYXXL_PYTHON`, which `.ci/run` sets), the live executors the
//! server lists, and a wait for a condition.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::server::{DEADLINE, ServerProcess};

/// The environment variable naming the Python that has pyxxl.
const PYXXL_VAR: &str = "RUQI_TEST_PYXXL_PYTHON";
/// The pyxxl release these tests are written for (`.ci/run` pins it).
const PYXXL_VERSION: &str = "0.4.8";

/// The live addresses of `app` in `GET /api/executors`.
pub async fn live_addresses(server: &ServerProcess, app: &str) -> Vec<String> {
    let (status, apps) = server.get("/api/executors").await;
    assert_eq!(status, 200, "{apps}");
    apps.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["app"] == app)
        .flat_map(|a| a["addresses"].as_array().unwrap().iter())
        .map(|a| a["address"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `check` until it holds, failing with the server's log after [`DEADLINE`].
pub async fn eventually(server: &ServerProcess, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{what}: not in time\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Python with pyxxl, or `None` (after saying why) when this machine has
/// none and the run is not CI's.
pub fn pyxxl_python() -> Option<PathBuf> {
    let python = std::env::var_os(PYXXL_VAR).map(PathBuf::from);
    let problem = match &python {
        None => format!("{PYXXL_VAR} is not set"),
        Some(path) if !path.exists() => format!("{PYXXL_VAR} names {}, which does not exist", path.display()),
        Some(_) => return python,
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the pyxxl test cannot run: {problem} (.ci/run installs pyxxl {PYXXL_VERSION})");
    }
    eprintln!("skipping the pyxxl test: {problem}");
    None
}

/// A pyxxl executor process, killed if the test fails before stopping it.
pub struct Executor {
    child: Child,
    dir: PathBuf,
}

impl Executor {
    pub fn start(python: &Path, dir: &Path, base_url: &str, port: u16, app: &str, token: &str) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xxl/pyxxl_executor.py");
        let log = std::fs::File::create(dir.join("executor.out")).unwrap();
        let child = Command::new(python)
            .arg(script)
            .args([base_url, &port.to_string(), app, token])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self {
            child,
            dir: dir.to_owned(),
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("executor.out")).unwrap_or_default()
    }

    /// SIGKILL: gone without a word, still in the registry until its beats are missed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as a service manager stops it; waits for it to exit.
    pub async fn terminate(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let give_up = tokio::time::Instant::now() + DEADLINE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                tokio::time::Instant::now() < give_up,
                "pyxxl did not stop:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
