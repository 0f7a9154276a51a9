//! Changes the schedule with plain SQL while the scheduler runs, and prints
//! what the scheduler makes of each change. No ORM and no hooks are involved
//! in the edits: the database's triggers log every change of `job_info` and
//! the scheduler's change feed picks it up.
//!
//! Run it with `cargo run --example direct_sql`. It uses `DATABASE_URL` if
//! set (try a PostgreSQL URL to see `LISTEN/NOTIFY` make each change arrive
//! in milliseconds), otherwise a fresh SQLite file `direct_sql.db` in the
//! working directory, where the feed polls once a second.
//!
//! What to look at: after each statement, the line below it shows how long
//! the scheduler took to see the change and what it now holds for the job:
//! the fire it waits for, whether it is paused, the error that keeps an
//! invalid row from running, and the runs in `job_execution`.

// Printing what happens is this example's whole point.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use ruqi::entity::job_execution;
use ruqi::{JobContext, Registry, Scheduler};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let _ = std::fs::remove_file("direct_sql.db");
            "sqlite://direct_sql.db?mode=rwc".to_owned()
        }
    };
    let db = Database::connect(&url).await?;
    ruqi::migrate(&db).await?;
    db.execute_unprepared("DELETE FROM job_info WHERE job_id = 'report'")
        .await?;

    let mut registry = Registry::new();
    registry.register("build_report", |ctx: JobContext| async move {
        ctx.log(format!("report for {}", ctx.scheduled_for()));
        Ok::<_, String>(())
    });
    let scheduler = ruqi::scheduler(db.clone(), registry).start().await?;
    let trigger = match db.get_database_backend() {
        DatabaseBackend::MySql => "`trigger`",
        _ => "\"trigger\"",
    };

    let steps: [(&str, String); 7] = [
        (
            "a new row",
            format!(
                "INSERT INTO job_info (job_id, func, {trigger}, rule) \
                 VALUES ('report', 'build_report', 'cron', '0 2 * * *')"
            ),
        ),
        (
            "a new rule",
            "UPDATE job_info SET rule = '30 6 * * mon-fri' WHERE job_id = 'report'".to_owned(),
        ),
        (
            "paused",
            "UPDATE job_info SET is_paused = TRUE WHERE job_id = 'report'".to_owned(),
        ),
        (
            "resumed",
            "UPDATE job_info SET is_paused = FALSE WHERE job_id = 'report'".to_owned(),
        ),
        (
            "run right now",
            "UPDATE job_info SET run_right_now = TRUE WHERE job_id = 'report'".to_owned(),
        ),
        (
            "an invalid rule",
            "UPDATE job_info SET rule = 'when pigs fly' WHERE job_id = 'report'".to_owned(),
        ),
        ("deleted", "DELETE FROM job_info WHERE job_id = 'report'".to_owned()),
    ];
    for (what, statement) in steps {
        println!("\n{what}:\n  {statement}");
        let mut changes = scheduler.subscribe_changes();
        changes.borrow_and_update();
        let before = describe(&scheduler, &db).await;
        let sent = Instant::now();
        db.execute_unprepared(&statement).await?;
        let mut now = before.clone();
        // Wait for the scheduler to report a change that alters what it holds.
        while now == before && sent.elapsed() < Duration::from_secs(5) {
            let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
            now = describe(&scheduler, &db).await;
        }
        println!("  seen after {:>4} ms: {now}", sent.elapsed().as_millis());
    }
    scheduler.shutdown().await;
    Ok(())
}

/// One line on what the scheduler holds for `report` and its runs so far.
async fn describe(scheduler: &Scheduler, db: &DatabaseConnection) -> String {
    let runs = job_execution::Entity::find()
        .filter(job_execution::Column::JobId.eq("report"))
        .all(db)
        .await
        .map(|rows| rows.len())
        .unwrap_or(0);
    match scheduler.live("report") {
        None => format!("not scheduled (no row); {runs} run(s) recorded"),
        Some(live) => match (live.error, live.next_run_time) {
            (Some(error), _) => format!("kept but not run: {error}"),
            (None, Some(next)) => format!("next fire {next}; {runs} run(s) recorded"),
            (None, None) => format!("paused; {runs} run(s) recorded"),
        },
    }
}
