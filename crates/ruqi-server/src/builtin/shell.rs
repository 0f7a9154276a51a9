//! `shell`: runs a command as the server's user and records what it prints.
//!
//! Only registered when the operator allows it ([`BuiltinOptions::allow_shell`]): whoever can
//! write a `job_info` row — through the admin API, the ORM or plain SQL — could otherwise run
//! any command with the server's permissions.
//!
//! Commands do not inherit the server's environment, where its tokens and database URL may
//! be: they start with [`SHELL_PATH`] as `PATH`, the server's `HOME`, `USER`, `LOGNAME` and
//! `LANG` (who runs them and how text is encoded; nothing secret), and the variables the job's
//! `env` sets, which may replace any of these. `env` is a secret argument: a read-only token
//! sees its names, not its values.
//!
//! [`BuiltinOptions::allow_shell`]: super::BuiltinOptions::allow_shell

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use ruqi::JobContext;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::seconds;

/// How much of the end of stderr a failure message quotes.
const STDERR_TAIL_BYTES: usize = 1024;

/// A line longer than this is written out in pieces, so one endless line cannot fill memory.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// How long to keep reading output after the command exited, for what is still in the pipes.
/// A background process it left behind may hold them open for ever; the run does not wait for it.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// The prefix of lines the command wrote to stderr, in the execution's output.
pub const STDERR_LABEL: &str = "[stderr] ";

/// The `PATH` a command starts with, unless the job's `env` sets another.
pub const SHELL_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The variables of the server's environment a command sees (when they are set): who it runs
/// as and the locale. Everything else, the server's tokens and database URL included, stays out.
pub const INHERITED_VARS: [&str; 4] = ["HOME", "USER", "LOGNAME", "LANG"];

/// The arguments of `shell`, checked: exactly one of `argv` and `script`.
///
/// ```
/// use ruqi_server::builtin::{ShellArgs, ShellCommand};
///
/// let args: ShellArgs = serde_json::from_value(serde_json::json!({"script": "ls | wc -l", "cwd": "/tmp"})).unwrap();
/// assert_eq!(args.command, ShellCommand::Script("ls | wc -l".to_owned()));
///
/// let both = serde_json::json!({"argv": ["ls"], "script": "ls"});
/// assert!(serde_json::from_value::<ShellArgs>(both).unwrap_err().to_string().contains("not both"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShellArgs {
    /// What to run.
    pub command: ShellCommand,
    /// The working directory; the server's own when `None`.
    pub cwd: Option<PathBuf>,
    /// Variables set for the command, on top of `PATH` ([`SHELL_PATH`]) and the few
    /// [`INHERITED_VARS`]; nothing else of the server's environment is passed on.
    pub env: BTreeMap<String, String>,
    /// How long the command may run before it is killed; `None` leaves it to the job's `timeout_s`.
    pub timeout: Option<Duration>,
}

/// What `shell` runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ShellCommand {
    /// A program and its arguments, started directly: no shell parses them.
    Argv(Vec<String>),
    /// Text run by `sh -c`, with pipes, redirections and the rest of the shell's syntax.
    Script(String),
}

impl ShellCommand {
    /// A short name for messages: the program, or `sh -c`.
    fn program(&self) -> &str {
        match self {
            Self::Argv(argv) => argv.first().map_or("", String::as_str),
            Self::Script(_) => "sh -c",
        }
    }
}

/// The arguments as written in `job_info.args`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ShellFields {
    /// The program and its arguments, run without a shell. Give this or `script`.
    #[schemars(length(min = 1))]
    argv: Option<Vec<String>>,
    /// Text run by `sh -c`. Give this or `argv`.
    script: Option<String>,
    /// The working directory (default: the server's).
    cwd: Option<PathBuf>,
    /// Variables for the command (names without `=`; no NUL anywhere). It starts with only
    /// `PATH` (/usr/local/bin:/usr/bin:/bin) and the server's `HOME`, `USER`, `LOGNAME` and
    /// `LANG`; these may be replaced. Secret: a read-only token sees the names, not the values.
    #[serde(default)]
    #[schemars(extend(
        "x-ruqi-secret" = true,
        "propertyNames" = { "minLength": 1, "pattern": "^[^=\\x00]*$" },
        "additionalProperties" = { "type": "string", "pattern": "^[^\\x00]*$" },
    ))]
    env: BTreeMap<String, String>,
    /// Seconds before the command is killed (default: only the job's own `timeout_s` applies).
    #[schemars(extend("exclusiveMinimum" = 0))]
    timeout_s: Option<f64>,
}

impl ShellFields {
    fn check(self) -> Result<ShellArgs, String> {
        let command = match (self.argv, self.script) {
            (Some(_), Some(_)) => return Err("give `argv` or `script`, not both".to_owned()),
            (None, None) => {
                return Err("give `argv` (a program and its arguments) or `script` (run by sh -c)".to_owned());
            }
            (Some(argv), None) if argv.first().is_none_or(String::is_empty) => {
                return Err("argv: the first element must name the program to run".to_owned());
            }
            (Some(argv), None) => ShellCommand::Argv(argv),
            (None, Some(script)) => ShellCommand::Script(script),
        };
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!(
                    "env: `{name}` is not a variable name (empty, or holds `=` or NUL)"
                ));
            }
            if value.contains('\0') {
                return Err(format!("env.{name}: a value cannot hold NUL"));
            }
        }
        let timeout = self.timeout_s.map(|s| seconds("timeout_s", s)).transpose()?;
        Ok(ShellArgs {
            command,
            cwd: self.cwd,
            env: self.env,
            timeout,
        })
    }
}

impl<'de> Deserialize<'de> for ShellArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShellFields::deserialize(deserializer)?
            .check()
            .map_err(D::Error::custom)
    }
}

impl JsonSchema for ShellArgs {
    fn schema_name() -> Cow<'static, str> {
        "ShellArgs".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // "Exactly one of argv and script" stays out of the schema: a `oneOf` would be
        // reported as "not valid under any of the schemas", the deserializer says which.
        let mut schema = ShellFields::json_schema(generator);
        schema.insert(
            "description".to_owned(),
            json!("Exactly one of `argv` and `script`; optional `cwd`, `env` and `timeout_s`."),
        );
        schema
    }
}

/// Runs the command, writing each line it prints to the execution's output (stderr lines
/// prefixed with [`STDERR_LABEL`]).
///
/// Exit code 0 is success; anything else fails the run with `exit code N: <end of stderr>`.
/// On `timeout_s` or cancellation the command and every process it started in its process
/// group are killed at once; the same happens when the run's future is dropped.
pub async fn run_shell(ctx: &JobContext, args: ShellArgs) -> Result<(), String> {
    if ctx.is_cancelled() {
        return Err("cancelled before the command started".to_owned());
    }
    if let Some(cwd) = &args.cwd {
        match tokio::fs::metadata(cwd).await {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(format!("cwd `{}` is not a directory", cwd.display())),
            Err(e) => return Err(format!("cwd `{}`: {e}", cwd.display())),
        }
    }
    let mut command = match &args.command {
        ShellCommand::Argv(argv) => {
            // Deserialized args always name a program; these fields are public, so check again.
            let Some((program, rest)) = argv.split_first() else {
                return Err("argv: the first element must name the program to run".to_owned());
            };
            let mut command = Command::new(program);
            command.args(rest);
            command
        }
        ShellCommand::Script(script) => {
            let mut command = Command::new("sh");
            command.arg("-c").arg(script);
            command
        }
    };
    command
        .env_clear()
        .env("PATH", SHELL_PATH)
        .envs(
            INHERITED_VARS
                .iter()
                .filter_map(|name| Some((name, std::env::var_os(name)?))),
        )
        .envs(&args.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &args.cwd {
        command.current_dir(cwd);
    }
    // Its own process group, so a timeout also kills what a script started (`sleep 30 | cat`).
    #[cfg(unix)]
    command.process_group(0);

    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start `{}`: {e}", args.command.program()))?;
    // Declared after `child` so it is dropped first: the group is killed while its leader is
    // still unreaped and its id cannot have been reused.
    let mut group = ProcessGroup::of(&child);
    tracing::debug!(
        job_id = ctx.job_id(),
        execution_id = ctx.execution_id(),
        program = args.command.program(),
        pid = child.id(),
        "shell command started"
    );

    let mut stderr_tail = Tail::default();
    let deadline = async {
        match args.timeout {
            Some(timeout) => tokio::time::sleep(timeout).await,
            None => std::future::pending().await,
        }
    };
    let why = tokio::select! {
        biased;
        () = ctx.cancellation_token().cancelled() => "cancelled".to_owned(),
        () = deadline => format!("timed out after {}s (timeout_s)", args.timeout.unwrap_or_default().as_secs_f64()),
        status = wait_and_collect(&mut child, &mut group, ctx, &mut stderr_tail) => {
            let status = status.map_err(|e| format!("waiting for `{}` failed: {e}", args.command.program()))?;
            return exit_result(status, stderr_tail.into_text());
        }
    };
    group.kill();
    // The leader is dead or dying; reaping it takes no time worth mentioning.
    let _ = child.kill().await;
    Err(format!("{why}; `{}` was killed", args.command.program()))
}

/// Waits for the command to exit while copying its output into the log, line by line.
async fn wait_and_collect(
    child: &mut Child,
    group: &mut ProcessGroup,
    ctx: &JobContext,
    stderr_tail: &mut Tail,
) -> std::io::Result<ExitStatus> {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut output = pin!(async {
        tokio::join!(
            copy_lines(stdout, |line| ctx.log(line)),
            copy_lines(stderr, |line| {
                ctx.log(format!("{STDERR_LABEL}{line}"));
                stderr_tail.push(line);
            }),
        )
    });
    let mut output_done = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = &mut output, if !output_done => output_done = true,
        }
    };
    // Reaped: from here on the group id may belong to someone else.
    group.disarm();
    if !output_done && tokio::time::timeout(DRAIN_AFTER_EXIT, &mut output).await.is_err() {
        ctx.log("[output no longer collected: a background process still holds stdout or stderr open]");
    }
    Ok(status)
}

fn exit_result(status: ExitStatus, stderr_tail: String) -> Result<(), String> {
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("exit code {code}"),
        None => killed_by(status),
    };
    if stderr_tail.is_empty() {
        Err(format!("{how} (nothing on stderr)"))
    } else {
        Err(format!("{how}: {stderr_tail}"))
    }
}

#[cfg(unix)]
fn killed_by(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(name) => format!("killed by signal {signal} ({name})"),
            Err(_) => format!("killed by signal {signal}"),
        },
        None => format!("ended without an exit code ({status})"),
    }
}

#[cfg(not(unix))]
fn killed_by(status: ExitStatus) -> String {
    format!("ended without an exit code ({status})")
}

/// Reads `stream` to its end and hands each line to `on_line`, without its line ending.
async fn copy_lines<R: AsyncRead + Unpin>(stream: Option<R>, mut on_line: impl FnMut(&str)) {
    let Some(mut stream) = stream else { return };
    let mut emit = |bytes: &[u8]| {
        let line = String::from_utf8_lossy(bytes);
        on_line(line.strip_suffix('\r').unwrap_or(&line));
    };
    let mut chunk = [0_u8; 8 * 1024];
    let mut pending = Vec::new();
    // A read error ends the copy like the end of the stream: the exit status still decides the run.
    while let Ok(read @ 1..) = stream.read(&mut chunk).await {
        pending.extend_from_slice(&chunk[..read]);
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            emit(&pending[start..start + newline]);
            start += newline + 1;
        }
        pending.drain(..start);
        if pending.len() > MAX_LINE_BYTES {
            emit(&pending);
            pending.clear();
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
}

/// The last [`STDERR_TAIL_BYTES`] of stderr, for the failure message.
#[derive(Default)]
struct Tail {
    text: String,
}

impl Tail {
    fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > 2 * STDERR_TAIL_BYTES {
            self.keep_last(STDERR_TAIL_BYTES);
        }
    }

    fn keep_last(&mut self, bytes: usize) {
        if self.text.len() > bytes {
            let mut cut = self.text.len() - bytes;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
        }
    }

    fn into_text(mut self) -> String {
        self.keep_last(STDERR_TAIL_BYTES);
        self.text.trim().to_owned()
    }
}

/// The command's process group, killed when this is dropped unless disarmed.
struct ProcessGroup {
    #[cfg(unix)]
    leader: Option<nix::unistd::Pid>,
}

impl ProcessGroup {
    #[cfg(unix)]
    fn of(child: &Child) -> Self {
        let leader = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(nix::unistd::Pid::from_raw);
        Self { leader }
    }

    #[cfg(not(unix))]
    fn of(_child: &Child) -> Self {
        Self {}
    }

    /// Forgets the group: once the leader is reaped its id may be reused.
    fn disarm(&mut self) {
        #[cfg(unix)]
        {
            self.leader = None;
        }
    }

    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(leader) = self.leader.take() {
            // Fails only when the group is already gone, which is what we want anyway.
            let _ = nix::sys::signal::killpg(leader, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(args: Value) -> Result<ShellArgs, String> {
        serde_json::from_value(args).map_err(|e| e.to_string())
    }

    #[test]
    fn argv_and_script_forms() {
        let args = parse(json!({"argv": ["echo", "hi"]})).unwrap();
        assert_eq!(
            args.command,
            ShellCommand::Argv(vec!["echo".to_owned(), "hi".to_owned()])
        );
        assert_eq!(args.timeout, None);
        let args = parse(json!({"script": "echo hi | tr a-z A-Z", "env": {"A": "1"}, "timeout_s": 1.5})).unwrap();
        assert_eq!(args.command, ShellCommand::Script("echo hi | tr a-z A-Z".to_owned()));
        assert_eq!(args.env["A"], "1");
        assert_eq!(args.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn exactly_one_of_argv_and_script() {
        let err = parse(json!({"argv": ["ls"], "script": "ls"})).unwrap_err();
        assert!(err.contains("give `argv` or `script`, not both"), "{err}");
        let err = parse(json!({"cwd": "/"})).unwrap_err();
        assert!(err.contains("give `argv`"), "{err}");
        let err = parse(json!({"argv": []})).unwrap_err();
        assert!(err.contains("argv: the first element"), "{err}");
    }

    #[test]
    fn bad_fields_are_named() {
        let err = parse(json!({"script": "x", "env": {"A=B": "1"}})).unwrap_err();
        assert!(err.contains("env: `A=B`"), "{err}");
        let err = parse(json!({"script": "x", "timeout_s": -1})).unwrap_err();
        assert!(err.contains("timeout_s"), "{err}");
        let err = parse(json!({"script": "x", "command": "y"})).unwrap_err();
        assert!(err.contains("unknown field `command`"), "{err}");
        let err = parse(json!("ls")).unwrap_err();
        assert!(err.contains("expected struct"), "{err}");
    }

    #[test]
    fn tail_keeps_the_end_of_stderr() {
        let mut tail = Tail::default();
        for i in 0..1000 {
            tail.push(&format!("line {i}"));
        }
        let text = tail.into_text();
        assert!(text.len() <= STDERR_TAIL_BYTES);
        assert!(text.ends_with("line 999"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn exit_messages() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_result(ExitStatus::from_raw(0), String::new()), Ok(()));
        assert_eq!(
            exit_result(ExitStatus::from_raw(3 << 8), "boom".to_owned()),
            Err("exit code 3: boom".to_owned())
        );
        assert_eq!(
            exit_result(ExitStatus::from_raw(1 << 8), String::new()),
            Err("exit code 1 (nothing on stderr)".to_owned())
        );
        let killed = exit_result(ExitStatus::from_raw(9), String::new()).unwrap_err();
        assert!(killed.starts_with("killed by signal 9 (SIGKILL)"), "{killed}");
    }

    #[tokio::test]
    async fn long_lines_are_split_and_crlf_trimmed() {
        let mut input = vec![b'x'; 3 * MAX_LINE_BYTES];
        input.extend_from_slice(b"\r\nlast");
        let mut lines = Vec::new();
        copy_lines(Some(&input[..]), |line| lines.push(line.len())).await;
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|&len| len <= 2 * MAX_LINE_BYTES), "{lines:?}");
        assert_eq!(lines.iter().sum::<usize>(), 3 * MAX_LINE_BYTES + 4);
        assert_eq!(lines.last(), Some(&4));
    }
}
