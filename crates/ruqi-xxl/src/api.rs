//! [`ExecutorApi`]: the executor endpoints as one poem endpoint to nest
//! where executors expect the center's API.

use std::sync::Arc;

use poem::endpoint::{BoxEndpoint, make};
use poem::http::Method;
use poem::{EndpointExt, Request, Response};
use sea_orm::DatabaseConnection;

use crate::dispatch::Waiters;
use crate::envelope::failure;
use crate::token::{WRONG_TOKEN, token_accepted};
use crate::{callback, registry};

/// Where executors look for the center's API by default: the Java executor
/// appends `api/` to its admin address (`http://host:port/xxl-job-admin` out
/// of the box), pyxxl is given the whole base.
pub const DEFAULT_PREFIX: &str = "/xxl-job-admin/api";

/// The requests a center refuses whatever their path or body.
const WRONG_METHOD: &str = "invalid request, HttpMethod not support.";

/// The center's API for XXL-JOB executors over `db`: `registry`,
/// `registryRemove` and `callback`, each a `POST` of JSON answered with
/// XXL-JOB's envelope.
///
/// ```
/// use poem::Route;
/// use ruqi_xxl::{DEFAULT_PREFIX, ExecutorApi};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi::migrate(&db).await?;
///
/// let executors = ExecutorApi::new(db).access_token(Some("default_token"));
/// let app = Route::new().nest(DEFAULT_PREFIX, executors.endpoint());
/// // poem::Server::new(poem::listener::TcpListener::bind("127.0.0.1:8080")).run(app).await?;
/// # drop(app);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ExecutorApi {
    db: DatabaseConnection,
    access_token: Option<String>,
    waiters: Waiters,
}

impl ExecutorApi {
    /// The API over `db` (migrated with `ruqi::migrate`), checking no token. Its callbacks
    /// complete runs through the database; a node that dispatches takes
    /// [`XxlCenter::executor_api`](crate::XxlCenter::executor_api) instead, which also wakes
    /// its own waiting runs at once.
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with_waiters(db, Waiters::default())
    }

    pub(crate) fn with_waiters(db: DatabaseConnection, waiters: Waiters) -> Self {
        Self {
            db,
            access_token: None,
            waiters,
        }
    }

    /// The token executors must send in `XXL-JOB-ACCESS-TOKEN` (their
    /// `xxl.job.accessToken`); `None` or a blank token: no check, as
    /// xxl-job-admin does with a blank token.
    pub fn access_token(mut self, token: Option<&str>) -> Self {
        self.access_token = token.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        self
    }

    /// The endpoint to nest at the prefix executors are given (such as
    /// [`DEFAULT_PREFIX`]). Every answer is HTTP 200 with a JSON envelope
    /// `{"code","msg","content","data"}`: code 200, or 500 with the reason
    /// (a method other than `POST`, a wrong token, an unknown path, a body
    /// with missing or blank fields: `"Illegal Argument."`).
    pub fn endpoint(self) -> BoxEndpoint<'static> {
        let api = Arc::new(self);
        make(move |req: Request| {
            let api = api.clone();
            async move { api.answer(req).await }
        })
        .boxed()
    }

    async fn answer(&self, mut req: Request) -> Response {
        if req.method() != Method::POST {
            return failure(WRONG_METHOD);
        }
        if !token_accepted(self.access_token.as_deref(), &req) {
            tracing::warn!(path = req.uri().path(), "an executor sent a wrong access token");
            return failure(WRONG_TOKEN);
        }
        let path = req.uri().path().trim_matches('/').to_owned();
        let body = match req.take_body().into_bytes().await {
            Ok(body) => body,
            Err(_) => return failure(crate::envelope::ILLEGAL_ARGUMENT),
        };
        match path.as_str() {
            "registry" => registry::registry(&self.db, &body).await,
            "registryRemove" => registry::registry_remove(&self.db, &body).await,
            "callback" => callback::callback(&self.db, &self.waiters, &body).await,
            other => failure(&format!("invalid request, uri-mapping({other}) not found.")),
        }
    }
}
