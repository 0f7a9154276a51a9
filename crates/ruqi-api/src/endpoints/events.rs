//! The scheduler's events as a server-sent event stream.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use poem_openapi::OpenApi;
use poem_openapi::payload::EventStream;
use serde_json::Value;

use super::{ApiTags, Ctx};
use crate::auth::ReadAccess;
use crate::error::ApiError;

/// The event stream operation.
pub(crate) struct EventsApi(pub(crate) Arc<Ctx>);

#[OpenApi(tag = "ApiTags::Scheduler")]
impl EventsApi {
    /// Follow scheduler events
    ///
    /// A `text/event-stream` of this process's scheduler events from now on,
    /// one JSON object per event with its kind in `event`: `job_added`,
    /// `job_modified`, `job_removed`, `job_invalid`, `submitted`, `succeeded`,
    /// `failed`, `timed_out`, `cancelled`, `missed`, `skipped_overlap`, `lost`.
    /// Each node reports the runs it starts; follow every node for all of them.
    #[oai(path = "/events", method = "get", operation_id = "followEvents")]
    async fn follow(&self, _auth: ReadAccess) -> Result<EventStream<BoxStream<'static, Value>>, ApiError> {
        let events = self
            .0
            .scheduler
            .events()
            .into_stream()
            .map(|event| serde_json::to_value(&event).unwrap_or(Value::Null))
            .boxed();
        Ok(EventStream::new(events).keep_alive(std::time::Duration::from_secs(15)))
    }
}
