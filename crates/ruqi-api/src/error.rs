//! The one error shape of the admin API, and the one place where the errors
//! of the store, the scheduler and the request parser become HTTP statuses.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::error::{ParseParamError, ParsePathError};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use ruqi::{CoreError, FieldError};
use sea_orm::{DbErr, SqlErr};

/// Every error the admin API answers with: a machine-readable `code`, a
/// sentence for people, and the refused field when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorBody {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `already_exists`, `not_schedulable`, `invalid`,
    /// `unsupported_media_type`, `unavailable` or `internal`.
    pub code: String,
    /// What went wrong, in lower case.
    pub message: String,
    /// The `job_info` column (or argument path, such as `args/url`) that was
    /// refused, on `invalid` and `already_exists`; the query, path or body
    /// parameter that was refused, on a `bad_request` about one parameter.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

/// The error responses of the admin API; every body is an [`ErrorBody`].
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed: a body that is not JSON of the documented
    /// shape, a query or path parameter that does not parse.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No bearer token, or one this server does not know.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The token's scope does not allow this operation (a read-only token on a write).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such job or execution, including a job a concurrent `DELETE`
    /// removed while this request was under way.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// A job with this `job_id` exists already; the job's row cannot be
    /// scheduled and so cannot be paused, resumed, run or previewed; or
    /// (`conflict`) concurrent writes of the job kept winning and this one
    /// was not applied: nothing changed, it may be sent again.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// A value was refused (rule, time zone, function, args, policy…);
    /// `field` names it. Nothing was written.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// The server failed; its log has the details.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The scheduler is shutting down.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

fn body(code: &str, message: impl Into<String>, field: Option<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: code.to_owned(),
        message: message.into(),
        field,
    })
}

impl ApiError {
    /// 400 `bad_request` about one parameter, naming it.
    pub(crate) fn bad_parameter(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(body("bad_request", message, Some(field.to_owned())))
    }

    /// 401 `unauthorized`.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(body("unauthorized", message, None), "Bearer".to_owned())
    }

    /// 403 `forbidden`.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(body("forbidden", message, None))
    }

    /// 404 `not_found`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(body("not_found", message, None))
    }

    /// 404 for a job id.
    pub(crate) fn job_not_found(job_id: &str) -> Self {
        Self::not_found(format!("no job with job_id {job_id:?}"))
    }

    /// 409 `not_schedulable`: the row exists but the scheduler cannot hold it.
    pub(crate) fn not_schedulable(job_id: &str, why: &str) -> Self {
        Self::Conflict(body(
            "not_schedulable",
            format!("job {job_id:?} {why}; fix the row first"),
            None,
        ))
    }

    /// 409 `conflict`: the request does not fit the current state.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(body("conflict", message, None))
    }

    /// 422 `invalid`, naming the field.
    pub(crate) fn invalid(error: &FieldError) -> Self {
        Self::Invalid(body("invalid", error.to_string(), Some(error.field.clone())))
    }

    /// 500 `internal`; the details go to the log, not to the client.
    pub(crate) fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "admin API request failed");
        Self::Internal(body("internal", "internal error; the server log has the details", None))
    }

    /// The JSON error for a status raised outside the operations (the
    /// request parser, the router): its code follows from the status; `field`
    /// names the parameter the parser refused, if it was one.
    pub(crate) fn from_status(status: StatusCode, message: String, field: Option<String>) -> Response {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_client_error() => "bad_request",
            _ => "internal",
        };
        let message = if message.is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            message
        };
        (status, body(code, message, field)).into_response()
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid(&error)
    }
}

impl From<ruqi::Error> for ApiError {
    fn from(error: ruqi::Error) -> Self {
        match error {
            ruqi::Error::Invalid(field_error) => Self::invalid(&field_error),
            ruqi::Error::Db(db_err) => db_error(db_err),
            ruqi::Error::Core(core) => core.into(),
            other => Self::internal(&other),
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(error: DbErr) -> Self {
        // Through the store's error first: it recovers what the hooks refused.
        ruqi::Error::from(error).into()
    }
}

fn db_error(error: DbErr) -> ApiError {
    if let DbErr::RecordNotFound(message) = &error {
        return ApiError::not_found(message.clone());
    }
    if let Some(SqlErr::UniqueConstraintViolation(_)) = error.sql_err() {
        return ApiError::Conflict(body(
            "already_exists",
            "a job with this job_id exists already",
            Some("job_id".to_owned()),
        ));
    }
    ApiError::internal(&error)
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Invalid(field_error) => Self::invalid(&field_error),
            CoreError::JobNotFound { job_id } => Self::job_not_found(&job_id),
            conflict @ CoreError::Conflict { .. } => Self::conflict(conflict.to_string()),
            CoreError::ShutDown => Self::Unavailable(body("unavailable", "the scheduler is shutting down", None)),
            other => Self::internal(&other),
        }
    }
}

/// Turns an error that reached the edge of the application into the API's
/// JSON shape: the API's own errors pass as they are; the rest (a body that
/// does not parse, an unknown path, a wrong method, a path that does not
/// decode) keep their status and get an [`ErrorBody`].
///
/// [`AdminApi::endpoint`](crate::AdminApi::endpoint) answers this way
/// already; an application's own router refuses some requests before they
/// reach the API (a path under the prefix that is not UTF-8 once decoded),
/// so wrap it too:
///
/// ```
/// use poem::{EndpointExt, Route};
///
/// let app = Route::new().catch_all_error(ruqi_api::error_to_json);
/// # drop(app);
/// ```
pub async fn error_to_json(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    let status = error.status();
    let field = if let Some(param) = error.downcast_ref::<ParseParamError>() {
        Some(param.name.to_owned())
    } else {
        error.downcast_ref::<ParsePathError>().map(|path| path.name.to_owned())
    };
    ApiError::from_status(status, error.to_string(), field)
}
