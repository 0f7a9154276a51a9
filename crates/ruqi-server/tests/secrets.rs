//! Secrets in `ruqi-server` as its users run it: tokens read from files stay
//! off the command line (which every user of the host can read), an empty
//! token file fails the start, `shell` commands get none of the server's
//! environment but the `env` their job gives, and a read-only token sees the
//! `headers` of an `http` job and the `env` of a `shell` job as `"***"`.
//!
//! Real processes over HTTP, on a SQLite file, PostgreSQL and MariaDB (when
//! their URLs are set; in CI they must be).

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/common/mod.rs"]
mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "common/server.rs"]
mod server;

use common::{Backend, TestDb};
use reqwest::Method;
use ruqi::entity::job_info;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use server::{DEADLINE, ServerProcess};

const ADMIN: &str = "admin-token-kept-in-a-file";
const READ: &str = "read-token-kept-in-a-file";

/// The `args` of a job as stored, straight from the database.
async fn stored_args(db: &sea_orm::DatabaseConnection, job_id: &str) -> Value {
    let row = job_info::Entity::find_by_id(job_id).one(db).await.unwrap().unwrap();
    serde_json::from_str(row.args.as_deref().unwrap()).unwrap()
}

async fn token_files_guard_the_api_and_stay_off_the_command_line(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let admin_file = dir.path().join("admin.token");
    std::fs::write(&admin_file, format!("\n   {ADMIN}  \n\n")).unwrap();
    let read_file = dir.path().join("read.token");
    std::fs::write(&read_file, format!("{READ}\n")).unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--token-file", admin_file.to_str().unwrap()],
        &[
            ("RUQI_READ_TOKEN_FILE", read_file.to_str().unwrap()),
            ("RUQI_DATABASE_URL", &test_db.url),
        ],
    )
    .await;

    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("--token-file"), "{cmdline}");
        assert!(!cmdline.contains(ADMIN) && !cmdline.contains(READ), "{cmdline}");
    }

    let (status, refused) = server.get("/api/jobs").await;
    assert_eq!(status, 401, "{refused}");
    let (status, scope) = server.call(Method::GET, "/api/auth/scope", Some(READ), None).await;
    assert_eq!((status, &scope["scope"]), (200, &json!("read")), "{scope}");
    let (status, scope) = server.call(Method::GET, "/api/auth/scope", Some(ADMIN), None).await;
    assert_eq!((status, &scope["scope"]), (200, &json!("admin")), "{scope}");
    let job = json!({"job_id": "j", "func": "log", "trigger": "interval", "rule": "1h"});
    let (status, refused) = server
        .call(Method::POST, "/api/jobs", Some(READ), Some(job.clone()))
        .await;
    assert_eq!(status, 403, "{refused}");
    let (status, created) = server.call(Method::POST, "/api/jobs", Some(ADMIN), Some(job)).await;
    assert_eq!(status, 201, "{created}");

    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    test_db.drop_database().await;
}

#[tokio::test]
async fn an_empty_or_unreadable_token_file_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.token");
    std::fs::write(&blank, "\n   \n\t\n").unwrap();
    let mut server = ServerProcess::spawn(dir.path(), &["--token-file", blank.to_str().unwrap()], &[]);
    let exit = server.exit_status().await;
    assert!(!exit.success(), "{exit}");
    let log = server.output();
    assert!(log.contains("--token-file") && log.contains("holds no token"), "{log}");
    assert!(
        !dir.path().join("ruqi.db").exists(),
        "it stops before opening the database"
    );

    let missing = dir.path().join("missing.token");
    let mut server = ServerProcess::spawn(dir.path(), &[], &[("RUQI_READ_TOKEN_FILE", missing.to_str().unwrap())]);
    let exit = server.exit_status().await;
    assert!(!exit.success(), "{exit}");
    let log = server.output();
    assert!(
        log.contains("--read-token-file") && log.contains("cannot be read"),
        "{log}"
    );
}

async fn shell_jobs_see_their_env_and_nothing_of_the_servers(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--allow-shell"],
        &[
            ("RUQI_TOKEN", ADMIN),
            ("RUQI_DATABASE_URL", &test_db.url),
            ("SERVER_ONLY_SETTING", "not-for-jobs"),
        ],
    )
    .await;

    let job = json!({
        "job_id": "show-env", "func": "shell", "trigger": "interval", "rule": "1h",
        "args": {"argv": ["env"], "env": {"JOB_SETTING": "for-this-job"}},
    });
    let (status, created) = server.call(Method::POST, "/api/jobs", Some(ADMIN), Some(job)).await;
    assert_eq!(status, 201, "{created}");
    let run = server.run_to_end_as("show-env", Some(ADMIN)).await;
    assert_eq!(run["status"], "success", "{run}");
    let output = run["output"].as_str().unwrap();
    assert!(output.contains("JOB_SETTING=for-this-job\n"), "{output}");
    assert!(output.contains("PATH=/usr/local/bin:/usr/bin:/bin\n"), "{output}");
    for leak in [
        ADMIN,
        "RUQI_",
        "SERVER_ONLY_SETTING",
        "not-for-jobs",
        test_db.url.as_str(),
    ] {
        assert!(!output.contains(leak), "{leak} reached the command:\n{output}");
    }

    // Bad variables are refused by the schema, naming the field, and nothing is written.
    for (env, field) in [
        (json!({"A=B": "1"}), "args/env"),
        (json!({"COUNT": 3}), "args/env/COUNT"),
    ] {
        let job = json!({
            "job_id": "bad-env", "func": "shell", "trigger": "interval", "rule": "1h",
            "args": {"script": "true", "env": env},
        });
        let (status, refused) = server.call(Method::POST, "/api/jobs", Some(ADMIN), Some(job)).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["field"], field, "{refused}");
    }
    let (_, jobs) = server.call(Method::GET, "/api/jobs", Some(ADMIN), None).await;
    assert_eq!(jobs["total"], 1, "{jobs}");

    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    test_db.drop_database().await;
}

async fn read_tokens_see_http_headers_and_shell_env_redacted(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--allow-shell", "--poll-interval", "100ms"],
        &[
            ("RUQI_TOKEN", ADMIN),
            ("RUQI_READ_TOKEN", READ),
            ("RUQI_DATABASE_URL", &test_db.url),
        ],
    )
    .await;
    let hook_args = json!({
        "url": "https://example.invalid/hook", "json": {"k": 1},
        "headers": {"Authorization": "Bearer upstream-secret", "X-Team": "ops"},
    });
    for job in [
        json!({"job_id": "hook", "func": "http", "trigger": "interval", "rule": "1h", "args": hook_args}),
        json!({"job_id": "deploy", "func": "shell", "trigger": "interval", "rule": "1h",
               "args": {"argv": ["true"], "env": {"API_KEY": "deploy-secret"}}}),
    ] {
        let (status, created) = server.call(Method::POST, "/api/jobs", Some(ADMIN), Some(job)).await;
        assert_eq!(status, 201, "{created}");
    }

    let (status, hook) = server.call(Method::GET, "/api/jobs/hook", Some(READ), None).await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(
        hook["args"],
        json!({"url": "https://example.invalid/hook", "json": {"k": 1}, "headers": {"Authorization": "***", "X-Team": "***"}})
    );
    let (status, list) = server.call(Method::GET, "/api/jobs", Some(READ), None).await;
    assert_eq!(status, 200, "{list}");
    let deploy = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "deploy")
        .unwrap();
    assert_eq!(deploy["args"], json!({"argv": ["true"], "env": {"API_KEY": "***"}}));
    for answer in [&hook, &list] {
        let text = answer.to_string();
        assert!(
            !text.contains("upstream-secret") && !text.contains("deploy-secret"),
            "{text}"
        );
    }

    let (_, hook) = server.call(Method::GET, "/api/jobs/hook", Some(ADMIN), None).await;
    assert_eq!(hook["args"], hook_args, "the admin scope sees them in full");

    // An edit that leaves args alone keeps the secrets.
    let (status, patched) = server
        .call(
            Method::PATCH,
            "/api/jobs/hook",
            Some(ADMIN),
            Some(json!({"description": "calls the hook"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["args"], hook_args);
    assert_eq!(stored_args(&test_db.db, "hook").await, hook_args);

    // A row edited by plain SQL whose header no longer fits: the reason, in
    // `last_error` for every reader, names the header without quoting it.
    test_db
        .db
        .execute_unprepared(
            r#"UPDATE job_info SET args = '{"url": "https://example.invalid/hook", "headers": {"Authorization": 31337}}' WHERE job_id = 'hook'"#,
        )
        .await
        .unwrap();
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let hook = loop {
        let (_, hook) = server.call(Method::GET, "/api/jobs/hook", Some(READ), None).await;
        if !hook["last_error"].is_null() {
            break hook;
        }
        assert!(tokio::time::Instant::now() < give_up, "never marked invalid: {hook}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let last_error = hook["last_error"].as_str().unwrap();
    assert!(last_error.contains("args/headers/Authorization"), "{last_error}");
    assert!(!hook.to_string().contains("31337"), "{hook}");
    assert!(
        !server.output().contains("31337"),
        "the server log does not quote it either"
    );

    let exit = server.terminate().await;
    assert!(exit.success(), "{exit}:\n{}", server.output());
    test_db.drop_database().await;
}

macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name(super::Backend::MySql).await;
                }
            }
        )+
    };
}

on_every_backend!(
    token_files_guard_the_api_and_stay_off_the_command_line,
    shell_jobs_see_their_env_and_nothing_of_the_servers,
    read_tokens_see_http_headers_and_shell_env_redacted,
);
