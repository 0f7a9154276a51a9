//! The built-in functions run the way the scheduler runs them, without a database: a
//! `JobContext` of our own, its log sink read back as the execution's output.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{BIG_BODY_BYTES, Run, http_server};
use ruqi::Registry;
use ruqi_server::builtin::{
    BuiltinOptions, HttpArgs, INHERITED_VARS, RESPONSE_BODY_LIMIT_BYTES, SHELL_PATH, ShellArgs, ShellCommand,
    register_builtins, run_http, run_log, run_shell,
};
use serde_json::{Value, json};

/// Longest a cancelled or timed-out run may take to return.
const PROMPT: Duration = Duration::from_secs(3);

fn http_args(args: Value) -> HttpArgs {
    serde_json::from_value(args).expect("valid http args")
}

fn shell_args(args: Value) -> ShellArgs {
    serde_json::from_value(args).expect("valid shell args")
}

/// The JSON the `/echo` endpoint answered, from an output of `HTTP 200 OK\n{...}\n`.
fn echoed(output: &str) -> Value {
    let mut lines = output.lines();
    assert_eq!(lines.next(), Some("HTTP 200 OK"), "{output}");
    serde_json::from_str(lines.next().expect("a body line")).expect("echo answers JSON")
}

// ---- http ----

#[tokio::test]
async fn http_get_records_status_and_body() {
    let base = http_server().await;
    let run = Run::new();
    run_http(&run.ctx, http_args(json!(format!("{base}/ok"))))
        .await
        .unwrap();
    assert_eq!(run.output(), "HTTP 200 OK\nhello from the test server\n");
}

#[tokio::test]
async fn http_posts_json_with_its_content_type() {
    let base = http_server().await;
    let run = Run::new();
    let args = http_args(json!({"url": format!("{base}/echo"), "json": {"k": 1, "s": "é"}}));
    run_http(&run.ctx, args).await.unwrap();
    let echo = echoed(&run.output());
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["content_type"], "application/json");
    let body: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"k": 1, "s": "é"}));
}

#[tokio::test]
async fn http_sends_method_headers_and_text_body() {
    let base = http_server().await;
    let run = Run::new();
    let args = http_args(json!({
        "method": "PUT",
        "url": format!("{base}/echo"),
        "headers": {"Content-Type": "text/csv"},
        "body": "a,b\n1,2",
    }));
    run_http(&run.ctx, args).await.unwrap();
    let echo = echoed(&run.output());
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["content_type"], "text/csv");
    assert_eq!(echo["body"], "a,b\n1,2");
}

#[tokio::test]
async fn http_shorthand_posts_the_json_after_the_hash() {
    let base = http_server().await;
    let run = Run::new();
    run_http(&run.ctx, http_args(json!(format!(r#"{base}/echo#{{"k": 1}}"#))))
        .await
        .unwrap();
    let echo = echoed(&run.output());
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["content_type"], "application/json");
    assert_eq!(echo["body"], r#"{"k":1}"#);
}

#[tokio::test]
async fn http_500_fails_naming_the_status_and_the_body() {
    let base = http_server().await;
    let run = Run::new();
    let err = run_http(&run.ctx, http_args(json!(format!("{base}/fail"))))
        .await
        .unwrap_err();
    assert!(err.starts_with("HTTP 500 Internal Server Error"), "{err}");
    assert!(err.contains("expected 2xx"), "{err}");
    assert!(err.contains("database down"), "{err}");
    assert_eq!(run.output(), "HTTP 500 Internal Server Error\ndatabase down\n");
}

#[tokio::test]
async fn http_expect_status_decides_success() {
    let base = http_server().await;
    let run = Run::new();
    let args = http_args(json!({"url": format!("{base}/fail"), "expect_status": [500, 503]}));
    run_http(&run.ctx, args).await.unwrap();

    let run = Run::new();
    let args = http_args(json!({"url": format!("{base}/ok"), "expect_status": [204]}));
    let err = run_http(&run.ctx, args).await.unwrap_err();
    assert!(err.starts_with("HTTP 200 OK") && err.contains("expected 204"), "{err}");
}

#[tokio::test]
async fn http_response_body_is_capped_and_says_so() {
    let base = http_server().await;
    let run = Run::new();
    run_http(&run.ctx, http_args(json!(format!("{base}/big"))))
        .await
        .unwrap();
    let output = run.output();
    assert!(output.len() < RESPONSE_BODY_LIMIT_BYTES + 200, "{}", output.len());
    assert!(
        output.contains(&format!(
            "[response body cut at {RESPONSE_BODY_LIMIT_BYTES} bytes of {BIG_BODY_BYTES}]"
        )),
        "{}",
        &output[output.len() - 100..]
    );
}

#[tokio::test]
async fn http_timeout_fails_the_run() {
    let base = http_server().await;
    let run = Run::new();
    let started = Instant::now();
    let args = http_args(json!({"url": format!("{base}/slow"), "timeout_s": 0.3}));
    let err = run_http(&run.ctx, args).await.unwrap_err();
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert!(err.contains("timed out after 0.3s (timeout_s)"), "{err}");
}

#[tokio::test]
async fn http_cancellation_stops_a_slow_request() {
    let base = http_server().await;
    let run = Run::new();
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let err = run_http(&run.ctx, http_args(json!(format!("{base}/slow"))))
        .await
        .unwrap_err();
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert!(err.starts_with("cancelled"), "{err}");
}

#[tokio::test]
async fn http_connection_refused_says_so() {
    // A port that was free a moment ago, and now has nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = Run::new();
    let err = run_http(&run.ctx, http_args(json!(format!("http://127.0.0.1:{port}/"))))
        .await
        .unwrap_err();
    assert!(err.contains("could not connect"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[tokio::test]
async fn http_non_http_urls_are_refused() {
    let registry = registry(false);
    for url in ["ftp://127.0.0.1/file", "file:///etc/passwd"] {
        let err = registry.validate_args("http", &json!(url)).unwrap_err().to_string();
        assert!(err.contains("only http and https"), "{err}");
        let err = registry
            .validate_args("http", &json!({ "url": url }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only http and https"), "{err}");
    }
    // Built by hand, past the deserializer: the run refuses it too.
    let mut args = http_args(json!("http://127.0.0.1/"));
    args.url = "ftp://127.0.0.1/file".parse().unwrap();
    let run = Run::new();
    let err = run_http(&run.ctx, args).await.unwrap_err();
    assert!(err.contains("only http and https"), "{err}");
}

// ---- shell ----

#[tokio::test]
async fn shell_argv_echo() {
    let run = Run::new();
    run_shell(&run.ctx, shell_args(json!({"argv": ["echo", "hello world"]})))
        .await
        .unwrap();
    assert_eq!(run.output(), "hello world\n");
}

#[tokio::test]
async fn shell_script_with_a_pipe() {
    let run = Run::new();
    run_shell(&run.ctx, shell_args(json!({"script": "printf 'b\\na\\n' | sort"})))
        .await
        .unwrap();
    assert_eq!(run.output(), "a\nb\n");
}

#[tokio::test]
async fn shell_honours_cwd_and_env() {
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let run = Run::new();
    let args = shell_args(json!({
        "script": "pwd; echo \"$RUQI_GREETING\"",
        "cwd": dir,
        "env": {"RUQI_GREETING": "hi there"},
    }));
    run_shell(&run.ctx, args).await.unwrap();
    assert_eq!(run.output(), format!("{}\nhi there\n", dir.display()));
}

#[tokio::test]
async fn shell_commands_see_only_path_a_few_inherited_variables_and_their_env() {
    let run = Run::new();
    run_shell(
        &run.ctx,
        shell_args(json!({"argv": ["env"], "env": {"JOB_SETTING": "on"}})),
    )
    .await
    .unwrap();
    let output = run.output();
    let mut names: Vec<&str> = output
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name)
        .collect();
    names.sort_unstable();
    let allowed: Vec<&str> = ["PATH", "JOB_SETTING"].into_iter().chain(INHERITED_VARS).collect();
    assert!(names.iter().all(|name| allowed.contains(name)), "{output}");
    assert!(output.contains(&format!("PATH={SHELL_PATH}\n")), "{output}");
    assert!(output.contains("JOB_SETTING=on\n"), "{output}");
    // The test runner's own variables (cargo sets many) stay out.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    assert!(!output.contains("CARGO_"), "{output}");

    // `env` may replace PATH too.
    let run = Run::new();
    run_shell(
        &run.ctx,
        shell_args(json!({"script": "echo \"$PATH\"", "env": {"PATH": "/bin:/usr/bin"}})),
    )
    .await
    .unwrap();
    assert_eq!(run.output(), "/bin:/usr/bin\n");
}

#[tokio::test]
async fn shell_labels_stderr_lines() {
    let run = Run::new();
    run_shell(&run.ctx, shell_args(json!({"script": "echo out; echo warn >&2"})))
        .await
        .unwrap();
    let output = run.output();
    assert!(output.contains("out\n"), "{output}");
    assert!(output.contains("[stderr] warn\n"), "{output}");
}

#[tokio::test]
async fn shell_exit_code_3_fails_with_the_code_and_stderr() {
    let run = Run::new();
    let err = run_shell(
        &run.ctx,
        shell_args(json!({"script": "echo partial; echo first >&2; echo 'it broke' >&2; exit 3"})),
    )
    .await
    .unwrap_err();
    assert_eq!(err, "exit code 3: first\nit broke");
    // What it printed before failing is kept as the output.
    let output = run.output();
    assert!(
        output.contains("partial\n") && output.contains("[stderr] it broke\n"),
        "{output}"
    );
}

#[tokio::test]
async fn shell_timeout_kills_the_command() {
    let run = Run::new();
    let started = Instant::now();
    let err = run_shell(&run.ctx, shell_args(json!({"argv": ["sleep", "30"], "timeout_s": 0.3})))
        .await
        .unwrap_err();
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(err, "timed out after 0.3s (timeout_s); `sleep` was killed");
}

#[tokio::test]
async fn shell_cancellation_kills_the_command() {
    let run = Run::new();
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let err = run_shell(&run.ctx, shell_args(json!({"argv": ["sleep", "30"]})))
        .await
        .unwrap_err();
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(err, "cancelled; `sleep` was killed");
}

/// Whether process `pid` has ended (gone, or a zombie nobody has reaped yet).
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_until_ended(pid: u32) -> bool {
    let deadline = Instant::now() + PROMPT;
    while Instant::now() < deadline {
        if has_ended(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn first_line(run: &Run) -> String {
    let deadline = Instant::now() + PROMPT;
    loop {
        if let Some(line) = run.output().lines().next() {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "the command printed nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn shell_timeout_also_kills_what_the_script_started() {
    if !Path::new("/proc/self/stat").exists() {
        return;
    }
    let run = Run::new();
    let args = shell_args(json!({"script": "sleep 30 & echo $!; wait", "timeout_s": 0.5}));
    let err = run_shell(&run.ctx, args).await.unwrap_err();
    assert!(err.starts_with("timed out"), "{err}");
    let pid: u32 = first_line(&run).await.parse().unwrap();
    assert!(
        wait_until_ended(pid).await,
        "the script's sleep {pid} outlived the timeout"
    );
}

#[tokio::test]
async fn shell_dropped_run_kills_its_processes() {
    // The engine aborts a run's task on its job's timeout_s; dropping the future must kill.
    if !Path::new("/proc/self/stat").exists() {
        return;
    }
    let run = Run::new();
    let ctx = run.ctx.clone();
    let task =
        tokio::spawn(async move { run_shell(&ctx, shell_args(json!({"script": "sleep 30 & echo $!; wait"}))).await });
    let pid: u32 = first_line(&run).await.parse().unwrap();
    assert!(!has_ended(pid));
    task.abort();
    assert!(wait_until_ended(pid).await, "sleep {pid} outlived the aborted run");
}

#[tokio::test]
async fn shell_missing_program_or_cwd_fails_clearly() {
    let run = Run::new();
    let err = run_shell(&run.ctx, shell_args(json!({"argv": ["/nonexistent/ruqi-program"]})))
        .await
        .unwrap_err();
    assert!(err.starts_with("could not start `/nonexistent/ruqi-program`"), "{err}");
    let err = run_shell(
        &run.ctx,
        shell_args(json!({"argv": ["true"], "cwd": "/nonexistent/dir"})),
    )
    .await
    .unwrap_err();
    assert!(err.starts_with("cwd `/nonexistent/dir`"), "{err}");
    // Built by hand, past the deserializer: refused, not a panic.
    let empty = ShellArgs {
        command: ShellCommand::Argv(Vec::new()),
        cwd: None,
        env: Default::default(),
        timeout: None,
    };
    let err = run_shell(&run.ctx, empty).await.unwrap_err();
    assert!(err.starts_with("argv:"), "{err}");
}

#[tokio::test]
async fn shell_argv_and_script_together_or_neither_are_refused() {
    let registry = registry(true);
    let err = registry
        .validate_args("shell", &json!({"argv": ["ls"], "script": "ls"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("give `argv` or `script`, not both"), "{err}");
    let err = registry
        .validate_args("shell", &json!({"cwd": "/"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("give `argv` (a program and its arguments) or `script`"),
        "{err}"
    );
}

// ---- log ----

#[tokio::test]
async fn log_writes_its_args_as_the_output_line() {
    let run = Run::new();
    let line = run_log(&run.ctx, &json!({"hello": ["world", 1]}));
    assert_eq!(line, r#"{"hello":["world",1]}"#);
    assert_eq!(run.output(), "{\"hello\":[\"world\",1]}\n");

    let run = Run::new();
    run_log(&run.ctx, &json!("plain text"));
    assert_eq!(run.output(), "plain text\n");
}

// ---- registration ----

fn registry(allow_shell: bool) -> Registry {
    let mut registry = Registry::new();
    register_builtins(
        &mut registry,
        &BuiltinOptions {
            allow_shell,
            ..Default::default()
        },
    );
    registry
}

#[test]
fn shell_is_registered_only_when_allowed() {
    assert!(!BuiltinOptions::default().allow_shell);
    let names = |r: &Registry| r.functions().map(|f| f.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&registry(false)), ["http", "log"]);
    assert_eq!(names(&registry(true)), ["http", "log", "shell"]);
}

#[test]
fn every_builtin_publishes_a_schema_and_a_description() {
    let registry = registry(true);
    for name in ["http", "log", "shell"] {
        let info = registry.get(name).unwrap().info();
        assert!(info.args_schema.is_some(), "{name} has no schema");
        assert!(!info.blocking, "{name}");
        let description = info.description.unwrap_or_default();
        assert!(description.contains("Args:"), "{name}: {description}");
    }
    let http = registry.get("http").unwrap().info().args_schema.unwrap();
    assert_eq!(http["required"], json!(["url"]));
    assert_eq!(http["properties"]["url"]["type"], "string");
    let shell = registry.get("shell").unwrap().info().args_schema.unwrap();
    assert!(shell["properties"]["argv"].is_object(), "{shell}");
    assert!(shell["properties"]["script"].is_object(), "{shell}");
}

#[test]
fn schemas_and_deserializers_agree_on_good_args() {
    let registry = registry(true);
    for (func, args) in [
        ("http", json!("https://example.com/")),
        ("http", json!(r#"https://example.com/hook#{"k": 1}"#)),
        (
            "http",
            json!({"url": "https://example.com/", "method": "PATCH", "json": [1], "timeout_s": 1, "expect_status": [200]}),
        ),
        (
            "shell",
            json!({"argv": ["ls", "-l"], "cwd": "/tmp", "env": {"A": "1"}, "timeout_s": 2.5}),
        ),
        ("shell", json!({"script": "date"})),
        ("log", json!(null)),
        ("log", json!({"anything": [1, "two"]})),
    ] {
        registry
            .validate_args(func, &args)
            .unwrap_or_else(|e| panic!("{func} {args}: {e}"));
    }
}

#[test]
fn schemas_refuse_bad_args_naming_the_field() {
    let registry = registry(true);
    for (func, args, mention) in [
        ("http", json!({"method": "GET"}), "url"),
        (
            "http",
            json!({"url": "https://example.com/", "method": "FETCH"}),
            "FETCH",
        ),
        (
            "http",
            json!({"url": "https://example.com/", "timeout_s": 0}),
            "timeout_s",
        ),
        (
            "http",
            json!({"url": "https://example.com/", "json": 1, "body": "x"}),
            "not both",
        ),
        ("http", json!(42), "args"),
        ("shell", json!({"argv": []}), "argv"),
        ("shell", json!({"script": "x", "timeout_s": "soon"}), "timeout_s"),
        ("shell", json!({"script": "x", "user": "root"}), "user"),
    ] {
        let err = registry.validate_args(func, &args).unwrap_err().to_string();
        assert!(err.contains(mention), "{func} {args}: {err}");
    }
}

#[test]
fn shell_env_is_checked_by_the_schema_naming_the_variable() {
    let registry = registry(true);
    for (env, field) in [
        (json!({"A=B": "1"}), "args/env"),
        (json!({"": "1"}), "args/env"),
        (json!({"A": 5}), "args/env/A"),
        (json!({"A": "nul\u{0}inside"}), "args/env/A"),
        (json!(["A=1"]), "args/env"),
    ] {
        let args = json!({"script": "true", "env": env});
        let err = registry.validate_args("shell", &args).unwrap_err();
        assert_eq!(err.field, field, "{args}: {err}");
        assert!(
            !err.to_string().contains("nul"),
            "a secret value is never quoted: {err}"
        );
    }
}

#[test]
fn http_headers_and_shell_env_are_secret() {
    let registry = registry(true);
    let mut http =
        json!({"url": "https://example.com/", "headers": {"Authorization": "Bearer s3cret", "Accept": "text/plain"}});
    registry.redact_args("http", &mut http);
    assert_eq!(
        http,
        json!({"url": "https://example.com/", "headers": {"Authorization": "***", "Accept": "***"}})
    );
    let mut shorthand = json!("https://example.com/hook");
    registry.redact_args("http", &mut shorthand);
    assert_eq!(shorthand, json!("https://example.com/hook"));
    let mut shell = json!({"argv": ["deploy"], "env": {"API_KEY": "k"}});
    registry.redact_args("shell", &mut shell);
    assert_eq!(shell, json!({"argv": ["deploy"], "env": {"API_KEY": "***"}}));
    let mut log = json!({"anything": "shown"});
    registry.redact_args("log", &mut log);
    assert_eq!(log, json!({"anything": "shown"}));
}
