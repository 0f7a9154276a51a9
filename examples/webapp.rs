//! A small poem web backend that uses ruqi as a library: the shape of a real
//! service that keeps its own data (an `orders` table) and runs scheduled jobs
//! over the same database.
//!
//! Run it with `cargo run --example webapp`. It uses `DATABASE_URL` if set,
//! otherwise a SQLite file `webapp.db` in the working directory; it listens on
//! `WEBAPP_LISTEN` (default `127.0.0.1:8080`) and logs at `RUST_LOG` (default
//! `info,sqlx=warn`). Then try:
//!
//! ```text
//! curl -s localhost:8080/jobs                      # job rows with the live next_run_time
//! curl -s localhost:8080/jobs/hello/executions     # the run history of `hello`
//! curl -s localhost:8080/orders
//! curl -s -X POST localhost:8080/orders -H 'content-type: application/json' \
//!      -d '{"shop": "berlin", "item": "coffee"}'
//! ```
//!
//! What to look at: every 10 s the `hello` job runs, the log shows `run
//! finished status=success`, and a new execution appears at the top of
//! `/jobs/hello/executions` with the line `say_hello` wrote in its `output`.
//! `/jobs` shows `hello`'s `next_run_time` moving forward and `orders-nightly`
//! waiting for 02:20 Berlin time. Ctrl-C stops the server, then the scheduler.
//! A second start on the same database keeps both jobs as they are stored
//! (edit a row with SQL in between and the edit survives the restart).

use std::time::Duration;

use poem::error::InternalServerError;
use poem::listener::TcpListener;
use poem::middleware::Tracing;
use poem::web::{Data, Json, Path};
use poem::{EndpointExt, Route, Server, get, handler};
use ruqi::entity::{job_execution, job_info};
use ruqi::query::{Counting, ExecutionFilter, JobFilter, JobOrder, JobView, Page, Paged, list_executions, list_jobs};
use ruqi::{JobContext, Registry};
use ruqi_api::{AdminApi, Auth};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, SqlErr,
};
use serde::Deserialize;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The app's own data: one row per order.
mod order {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
    #[sea_orm(table_name = "orders")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) shop: String,
        pub(crate) item: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The arguments of `count_orders`; rows whose `args` do not fit are refused on write.
#[derive(Deserialize, schemars::JsonSchema)]
struct CountOrdersArgs {
    /// The shop whose orders are counted.
    shop: String,
}

/// The body of `POST /orders`.
#[derive(Deserialize)]
struct NewOrder {
    shop: String,
    item: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                // sqlx logs every statement at info: too much for watching the jobs run.
                .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))),
        )
        // `tracing` events inside a job's run also go to that run's log.
        .with(ruqi::run_log_layer().with_filter(LevelFilter::INFO))
        .init();

    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://webapp.db?mode=rwc".to_owned());
    let db = Database::connect(&url).await?;
    ruqi::migrate(&db).await?;
    create_orders_table(&db).await?;

    // One scheduler per process, started before the server spawns its
    // workers: every handler and every ORM hook then finds the same
    // scheduler, and a job never fires twice from one process. Started before
    // the jobs are inserted, too, so the hooks check `func` and `args`
    // against this registry.
    let scheduler = ruqi::scheduler(db.clone(), registry(&db)).start().await?;

    ensure_job(
        &db,
        job_info::ActiveModel {
            job_id: Set("hello".into()),
            description: Set(Some("Says hello every 10 seconds".into())),
            func: Set("say_hello".into()),
            trigger: Set("interval".into()),
            rule: Set("10s".into()),
            ..job_info::ActiveModel::new()
        },
    )
    .await?;
    ensure_job(
        &db,
        job_info::ActiveModel {
            job_id: Set("orders-nightly".into()),
            description: Set(Some("Counts the Berlin shop's orders at 02:20 Berlin time".into())),
            func: Set("count_orders".into()),
            args: Set(Some(serde_json::json!({ "shop": "berlin" }).to_string())),
            trigger: Set("cron".into()),
            rule: Set("0 20 2 * * *".into()),
            timezone: Set(Some("Europe/Berlin".into())),
            ..job_info::ActiveModel::new()
        },
    )
    .await?;

    // The admin API (Swagger UI at /admin/jobs/docs, the admin page at /admin/jobs/ui/). Set ADMIN_TOKEN to
    // require it; without one the example serves it unauthenticated, on
    // the loopback address only.
    let auth = match std::env::var("ADMIN_TOKEN") {
        Ok(token) => Auth::bearer().admin_token(token),
        Err(_) => Auth::disabled(),
    };
    let admin = AdminApi::new(db.clone(), scheduler.clone()).auth(auth);
    let app = Route::new()
        .at("/orders", get(list_orders).post(add_order))
        .at("/jobs", get(jobs))
        .at("/jobs/:id/executions", get(job_executions))
        .nest("/admin/jobs", admin.endpoint("/admin/jobs"))
        .data(db)
        .with(Tracing);
    let listen = std::env::var("WEBAPP_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    Server::new(TcpListener::bind(listen))
        .run_with_graceful_shutdown(
            app,
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
            Some(Duration::from_secs(5)),
        )
        .await?;

    // The server has stopped taking requests; let running jobs finish (or be
    // recorded as cancelled) before the process exits.
    scheduler.shutdown().await;
    Ok(())
}

/// The functions the jobs may name in `job_info.func`.
fn registry(db: &DatabaseConnection) -> Registry {
    let mut registry = Registry::new();
    registry
        .register("say_hello", |ctx: JobContext| async move {
            ctx.log(format!(
                "hello from job {} scheduled for {}",
                ctx.job_id(),
                ctx.scheduled_for()
            ));
            Ok::<_, String>(())
        })
        .description("Writes a greeting to the execution's output");

    let db = db.clone();
    registry
        .register_typed("count_orders", move |ctx: JobContext, args: CountOrdersArgs| {
            let db = db.clone();
            async move {
                let count = order::Entity::find()
                    .filter(order::Column::Shop.eq(&args.shop))
                    .count(&db)
                    .await?;
                ctx.log(format!("counted the orders of {}", args.shop));
                Ok::<_, DbErr>(format!("shop {}: {count} order(s)", args.shop))
            }
        })
        .description("Counts the orders of one shop");
    registry
}

/// Creates the app's `orders` table with plain SQL, as an app without
/// migrations of its own might; only the id column differs per backend.
async fn create_orders_table(db: &DatabaseConnection) -> Result<(), DbErr> {
    let (id, text) = match db.get_database_backend() {
        DbBackend::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT"),
        DbBackend::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(191)"),
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
    };
    let sql = format!("CREATE TABLE IF NOT EXISTS orders (id {id}, shop {text} NOT NULL, item {text} NOT NULL)");
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// Inserts `job` unless a row with its `job_id` exists. The job_id is the
/// key, and the stored row wins: an edit made since (through the ORM, the
/// admin API or SQL) survives a restart.
async fn ensure_job(db: &DatabaseConnection, job: job_info::ActiveModel) -> Result<(), DbErr> {
    let job_id = job.job_id.try_as_ref().cloned().unwrap_or_default();
    if job_info::Entity::find_by_id(job_id.clone()).one(db).await?.is_some() {
        tracing::info!(job_id, "job kept as stored");
        return Ok(());
    }
    // The hooks validate the row and schedule it; a bad row fails here with
    // an error naming the field, and nothing is written.
    match job.insert(db).await {
        Ok(row) => {
            tracing::info!(job_id, next_run_time = ?row.next_run_time, "job created");
            Ok(())
        }
        // Another process sharing the database inserted it first.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `GET /orders`: every order, oldest first.
#[handler]
async fn list_orders(Data(db): Data<&DatabaseConnection>) -> poem::Result<Json<Vec<order::Model>>> {
    let orders = order::Entity::find()
        .order_by_asc(order::Column::Id)
        .all(db)
        .await
        .map_err(InternalServerError)?;
    Ok(Json(orders))
}

/// `POST /orders`: adds an order and returns it with its id.
#[handler]
async fn add_order(Data(db): Data<&DatabaseConnection>, Json(new): Json<NewOrder>) -> poem::Result<Json<order::Model>> {
    let saved = order::ActiveModel {
        shop: Set(new.shop),
        item: Set(new.item),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(InternalServerError)?;
    Ok(Json(saved))
}

/// `GET /jobs`: the job rows, soonest fire first, with the scheduler's live
/// `next_run_time`, `is_running` and `scheduled` laid over them.
#[handler]
async fn jobs(Data(db): Data<&DatabaseConnection>) -> poem::Result<Json<Paged<JobView>>> {
    let page = list_jobs(db, &JobFilter::default(), JobOrder::NextRunTime, Page::default())
        .await
        .map_err(InternalServerError)?;
    Ok(Json(page))
}

/// `GET /jobs/:id/executions`: the job's last 20 executions, newest first.
#[handler]
async fn job_executions(
    Data(db): Data<&DatabaseConnection>,
    Path(job_id): Path<String>,
) -> poem::Result<Json<Paged<job_execution::Model>>> {
    let filter = ExecutionFilter {
        job_id: Some(job_id),
        ..ExecutionFilter::default()
    };
    let page = list_executions(db, &filter, Page::first(20), Counting::DEFAULT)
        .await
        .map_err(InternalServerError)?;
    Ok(Json(page))
}
