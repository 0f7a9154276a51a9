//! [`OptionalJson`]: a JSON request body that may be left out. poem-openapi's
//! `Json<Option<T>>` documents an optional body, but still refuses a request
//! without a `Content-Type`, which is how an empty POST is sent; here an empty
//! body is `None` whatever its headers, and a body with content must be JSON.

use poem::{Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

/// A JSON body that may be left out (`None` when it is empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

impl<'a, T: ParseFromJSON + Send> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Json<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes().await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        match request.content_type() {
            Some(content_type) if <Json<T> as Payload>::check_content_type(content_type) => {}
            Some(content_type) => {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into());
            }
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|error| ParseRequestPayloadError {
            reason: error.to_string(),
        })?;
        let parsed = T::parse_from_json(Some(value)).map_err(|error| ParseRequestPayloadError {
            reason: error.into_message(),
        })?;
        Ok(Self(Some(parsed)))
    }
}
