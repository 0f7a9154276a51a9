//! What the figures were measured on and from: the machine, the commit, the
//! process's memory.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The machine a run measured, as `nproc`, `/proc/cpuinfo` and `free` describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// CPUs available to the process (`nproc`).
    pub(crate) cpus: String,
    /// The first `model name` in `/proc/cpuinfo`.
    pub(crate) cpu_model: String,
    /// The `Mem:` line of `free -m`, or the total from `/proc/meminfo`.
    pub(crate) memory: String,
    /// The kernel release.
    pub(crate) kernel: String,
}

impl Machine {
    /// Describes this machine; parts that cannot be read say `unknown`.
    pub(crate) fn describe() -> Machine {
        let cpus = command_output("nproc", &[])
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.to_string()))
            .unwrap_or_else(unknown);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(unknown);
        let memory = command_output("free", &["-m"])
            .and_then(|free| free.lines().find(|l| l.starts_with("Mem:")).map(describe_free))
            .unwrap_or_else(unknown);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|_| unknown());
        Machine {
            cpus,
            cpu_model,
            memory,
            kernel,
        }
    }
}

/// `Mem: total used free shared buff/cache available` (MiB) as a sentence.
fn describe_free(line: &str) -> String {
    let fields: Vec<&str> = line.split_whitespace().skip(1).collect();
    match (fields.first(), fields.get(5)) {
        (Some(total), Some(available)) => format!("{total} MiB total, {available} MiB available (`free -m`)"),
        _ => line.to_owned(),
    }
}

fn unknown() -> String {
    "unknown".to_owned()
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    command_output_in(program, args, None)
}

fn command_output_in(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The commit of the work tree at `root` (`git rev-parse --short HEAD`),
/// noting uncommitted changes. Only reads: `--no-optional-locks` keeps
/// `git status` from refreshing the index.
pub(crate) fn git_commit(root: &Path) -> String {
    let Some(head) = command_output_in("git", &["rev-parse", "--short", "HEAD"], Some(root)) else {
        return "unknown (not a git work tree)".to_owned();
    };
    match command_output_in("git", &["--no-optional-locks", "status", "--porcelain"], Some(root)) {
        Some(changes) if changes.is_empty() => head,
        Some(_) => format!("{head} + uncommitted changes"),
        None => head,
    }
}

/// Resident and peak resident memory of this process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now.
    pub(crate) rss: u64,
    /// `VmHWM`: the most ever resident.
    pub(crate) peak: u64,
}

impl Memory {
    /// Reads `/proc/self/status`.
    pub(crate) fn now() -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| anyhow::anyhow!("{name} missing from /proc/self/status"))?;
            let kib: u64 = line
                .trim_start_matches(name)
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kib * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }
}

/// Bytes as MiB.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_memory() {
        let memory = Memory::now().unwrap();
        assert!(memory.rss > 0 && memory.peak >= memory.rss);
    }

    #[test]
    fn free_line_becomes_a_sentence() {
        let line = "Mem:           24105        1222       15532         127        7792       22882";
        assert_eq!(describe_free(line), "24105 MiB total, 22882 MiB available (`free -m`)");
    }
}
