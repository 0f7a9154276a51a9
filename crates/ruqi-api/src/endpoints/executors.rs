//! The XXL-JOB executors registered with this center.

use std::sync::Arc;

use chrono::Utc;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::{ApiTags, Ctx};
use crate::auth::{AdminAccess, ReadAccess};
use crate::error::ApiError;
use crate::model::{ExecutorApp, ManualAddresses};

/// The executor registry operations.
pub(crate) struct ExecutorsApi(pub(crate) Arc<Ctx>);

#[OpenApi(tag = "ApiTags::Executors")]
impl ExecutorsApi {
    /// List live XXL-JOB executors
    ///
    /// Every app name with the addresses of its live executors: those that
    /// registered (`POST <xxl prefix>/registry`) within the last 90 seconds
    /// and have not left since, and the addresses given to it by hand. Apps
    /// with neither are left out.
    #[oai(path = "/executors", method = "get", operation_id = "listExecutors")]
    async fn list_executors(&self, _auth: ReadAccess) -> Result<Json<Vec<ExecutorApp>>, ApiError> {
        let apps = ruqi::query::live_executors(&self.0.db, Utc::now()).await?;
        Ok(Json(apps.into_iter().map(ExecutorApp::from).collect()))
    }

    /// Give an app its executor addresses by hand
    ///
    /// For executors that do not register (xxl-job's manual registration):
    /// runs of `app` go to these addresses, under each job's route, instead
    /// of to its registered executors. An empty list takes them away again,
    /// and runs go to the registered executors. Each address must be an
    /// `http://` or `https://` URL; a refusal names the field
    /// (`addresses/<i>`) and changes nothing.
    #[oai(
        path = "/executors/:app/addresses",
        method = "put",
        operation_id = "setExecutorAddresses"
    )]
    async fn set_addresses(
        &self,
        _auth: AdminAccess,
        app: Path<String>,
        body: Json<ManualAddresses>,
    ) -> Result<Json<ExecutorApp>, ApiError> {
        let now = Utc::now();
        ruqi::query::set_manual_addresses(&self.0.db, &app, &body.addresses, now).await?;
        tracing::info!(app = %app.0, addresses = body.addresses.len(), "executor addresses given by hand through the admin API");
        Ok(Json(self.app(&app, now).await?))
    }

    /// Take back an app's addresses given by hand
    ///
    /// Runs of `app` go to its registered executors again.
    #[oai(
        path = "/executors/:app/addresses",
        method = "delete",
        operation_id = "clearExecutorAddresses"
    )]
    async fn clear_addresses(&self, _auth: AdminAccess, app: Path<String>) -> Result<ClearAddressesResponse, ApiError> {
        ruqi::query::set_manual_addresses(&self.0.db, &app, &[], Utc::now()).await?;
        Ok(ClearAddressesResponse::Cleared)
    }
}

impl ExecutorsApi {
    /// `app` as the list shows it, also when it has nothing (yet).
    async fn app(&self, app: &str, now: chrono::DateTime<Utc>) -> Result<ExecutorApp, ApiError> {
        let apps = ruqi::query::live_executors(&self.0.db, now).await?;
        let found = apps.into_iter().find(|a| a.app == app.trim());
        Ok(found.map_or_else(
            || ExecutorApp {
                app: app.trim().to_owned(),
                addresses: Vec::new(),
                manual_addresses: Vec::new(),
            },
            ExecutorApp::from,
        ))
    }
}

/// The answer to taking an app's addresses back.
#[derive(ApiResponse)]
pub(crate) enum ClearAddressesResponse {
    /// The app has no addresses given by hand (any more).
    #[oai(status = 204)]
    Cleared,
}
