//! The XXL-JOB executors registered with this center.

use std::sync::Arc;

use chrono::Utc;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::{ApiTags, Ctx};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::model::ExecutorApp;

/// The executor registry operations.
pub(crate) struct ExecutorsApi(pub(crate) Arc<Ctx>);

#[OpenApi(tag = "ApiTags::Executors")]
impl ExecutorsApi {
    /// List live XXL-JOB executors
    ///
    /// Every app name with the addresses of its live executors: those that
    /// registered (`POST <xxl prefix>/registry`) within the last 90 seconds
    /// and have not left since. Apps without a live executor are left out.
    #[oai(path = "/executors", method = "get", operation_id = "listExecutors")]
    async fn list_executors(&self, _auth: ReadAccess) -> Result<Json<Vec<ExecutorApp>>, ApiError> {
        let apps = ruqi::query::live_executors(&self.0.db, Utc::now()).await?;
        Ok(Json(apps.into_iter().map(ExecutorApp::from).collect()))
    }
}
