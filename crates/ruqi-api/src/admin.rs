//! [`AdminApi`]: the admin endpoints, their OpenAPI document, Swagger UI and
//! the admin page as one poem endpoint to nest under a path of the
//! application's choice.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::endpoint::make_sync;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, EndpointExt, IntoResponse, Route};
use poem_openapi::{OpenApiService, ServerObject};
use ruqi::Scheduler;
use sea_orm::DatabaseConnection;

use crate::auth::Auth;
use crate::body_field::BodySchemas;
use crate::endpoints::{Apis, Ctx, JobPages, apis};
use crate::error::{ApiError, error_to_json};
use crate::methods::AllowedMethods;
use crate::nul::TextParameters;
use crate::spec;
use crate::ui;

/// The admin API of one scheduler: every job, history, function and
/// scheduler operation, with its OpenAPI document at `<prefix>/openapi.json`,
/// Swagger UI at `<prefix>/docs` and the admin page at `<prefix>/ui/`.
///
/// ```
/// use poem::Route;
/// use ruqi_api::{AdminApi, Auth};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ruqi::migrate(&db).await?;
/// let scheduler = ruqi::scheduler(db.clone(), ruqi::Registry::new()).start().await?;
///
/// let admin = AdminApi::new(db, scheduler.clone()).auth(Auth::bearer().admin_token("s3cret"));
/// let app = Route::new().nest("/admin/jobs", admin.endpoint("/admin/jobs"));
/// // poem::Server::new(poem::listener::TcpListener::bind("127.0.0.1:8080")).run(app).await?;
/// # drop(app);
/// scheduler.shutdown().await;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct AdminApi {
    db: DatabaseConnection,
    scheduler: Scheduler,
    auth: Auth,
}

impl AdminApi {
    /// The admin API over `db` and `scheduler`: writes go through the
    /// `job_info` ActiveModel (validated by its hooks), reads through
    /// `ruqi::query`, actions through `scheduler`.
    ///
    /// Until [`AdminApi::auth`] is called it accepts no token: every request
    /// but `GET <prefix>/health` answers 401.
    pub fn new(db: DatabaseConnection, scheduler: Scheduler) -> Self {
        Self {
            db,
            scheduler,
            auth: Auth::default(),
        }
    }

    /// Who may call it: bearer tokens with a read or an admin scope, or
    /// nobody checked at all ([`Auth::disabled`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// The endpoint to nest at `prefix` (such as `/admin/jobs`): the
    /// operations, `openapi.json`, Swagger UI at `docs` (`<prefix>` itself
    /// leads there), and the admin page at `ui/` for operators in a browser.
    /// `prefix` must be the path it is nested at: the OpenAPI document names
    /// it as the server, so that Swagger UI's "try it out" sends its requests
    /// there.
    ///
    /// The page's files are served without a token (they hold no data); the
    /// page asks for a token and sends it with each call, and shows write
    /// actions only to a token with the admin scope.
    ///
    /// Every error comes back as JSON `{code, message, field?}`: the API's
    /// own, and those of the request parser and router (a body that does not
    /// parse, an unknown path); a 405 carries an `Allow` header listing the
    /// path's methods. The application's router refuses a few requests
    /// before they get here: wrap it in [`error_to_json`](crate::error_to_json)
    /// too.
    pub fn endpoint(self, prefix: &str) -> BoxEndpoint<'static> {
        let prefix = normalize_prefix(prefix);
        let service = self.service(&prefix);
        let document = spec::complete(&service.spec());
        let docs = service.swagger_ui();
        let allowed = Arc::new(AllowedMethods::from_spec(&document));
        let bodies = Arc::new(BodySchemas::from_document(&document));
        let texts = Arc::new(TextParameters::from_document(&document));
        let spec = make_sync(move |_| {
            poem::Response::builder()
                .content_type("application/json")
                .body(document.clone())
        });
        Route::new()
            .nest("/", service)
            .at("/openapi.json", spec)
            .nest("/docs", docs)
            .nest("/ui", ui::endpoint())
            .data(Arc::new(self.auth))
            .catch_all_error(error_to_json)
            .around(move |ep, mut req| {
                let allowed = allowed.clone();
                let bodies = bodies.clone();
                let texts = texts.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let method = req.method().clone();
                    if let Some(field) = texts.with_nul(&method, &path, req.uri().query()) {
                        let message = format!("{field} holds the NUL character (%00), which no text may hold");
                        return Ok(ApiError::bad_parameter(&field, message).into_response());
                    }
                    // Kept to name the field of a body the parser refuses (see `name_refused_field`).
                    let body = if bodies.takes_body(&method, &path) {
                        let bytes = req.take_body().into_bytes().await?;
                        req.set_body(bytes.clone());
                        Some(bytes)
                    } else {
                        None
                    };
                    let mut response = ep.call(req).await?;
                    if let Some(body) = body
                        && response.status() == StatusCode::BAD_REQUEST
                        && let Some(field) = bodies.refused_field(&method, &path, &body)
                    {
                        response = name_refused_field(response, field).await?;
                    }
                    if response.status() == StatusCode::METHOD_NOT_ALLOWED
                        && !response.headers().contains_key(header::ALLOW)
                        && let Some(value) = allowed.allow(&path).and_then(|a| HeaderValue::from_str(&a).ok())
                    {
                        response.headers_mut().insert(header::ALLOW, value);
                    }
                    Ok(response)
                }
            })
            .boxed()
    }

    /// The OpenAPI 3 document (JSON) as served at `<prefix>/openapi.json`.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// # ruqi::migrate(&db).await?;
    /// # let scheduler = ruqi::scheduler(db.clone(), ruqi::Registry::new()).start().await?;
    /// let spec = ruqi_api::AdminApi::new(db, scheduler).spec("/api");
    /// let spec: serde_json::Value = serde_json::from_str(&spec)?;
    /// assert_eq!(spec["servers"][0]["url"], "/api");
    /// assert!(spec["paths"]["/jobs/{job_id}"]["patch"].is_object());
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn spec(&self, prefix: &str) -> String {
        spec::complete(&self.service(&normalize_prefix(prefix)).spec())
    }

    fn service(&self, prefix: &str) -> OpenApiService<Apis, ()> {
        let ctx = Arc::new(Ctx {
            db: self.db.clone(),
            scheduler: self.scheduler.clone(),
            job_pages: JobPages::default(),
        });
        OpenApiService::new(apis(ctx), "ruqi admin API", env!("CARGO_PKG_VERSION"))
            .description(
                "Manage the jobs of a ruqi scheduler: the rows of `job_info` are the schedule. \
                 Every error answers JSON `{code, message, field?}`. GETs need a token with the read \
                 (or admin) scope, everything else the admin scope; `/health` needs none.",
            )
            .server(ServerObject::new(prefix).description("this server"))
    }
}

/// A 400 about a request body whose error names no field gets `field`: the
/// one [`BodySchemas::refused_field`] found.
async fn name_refused_field(mut response: poem::Response, field: String) -> poem::Result<poem::Response> {
    let content = response.take_body().into_bytes().await?;
    let named = match serde_json::from_slice::<serde_json::Value>(&content) {
        Ok(serde_json::Value::Object(mut error)) if !error.contains_key("field") => {
            error.insert("field".to_owned(), serde_json::Value::String(field));
            serde_json::to_vec(&error).ok()
        }
        _ => None,
    };
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response.set_body(named.unwrap_or_else(|| content.to_vec()));
    Ok(response)
}

/// `/admin/jobs/` → `/admin/jobs`; `` and `/` → `/`.
fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_matches('/');
    format!("/{trimmed}")
}

#[cfg(test)]
mod tests {
    use super::normalize_prefix;

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix("/admin/jobs/"), "/admin/jobs");
        assert_eq!(normalize_prefix("api"), "/api");
        assert_eq!(normalize_prefix(""), "/");
        assert_eq!(normalize_prefix("/"), "/");
    }
}
