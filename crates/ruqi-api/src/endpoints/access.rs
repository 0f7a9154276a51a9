//! What the caller's token may do.

use std::sync::Arc;

use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;

use super::ApiTags;
use crate::auth::{Auth, ReadAccess, Scope};
use crate::error::ApiError;
use crate::model::TokenScope;

/// The token scope operation.
pub(crate) struct AccessApi;

#[OpenApi(tag = "ApiTags::Access")]
impl AccessApi {
    /// The caller's scope
    ///
    /// Which scope the request's bearer token has, `read` or `admin`, and
    /// whether the API checks tokens at all. A client asks once to know which
    /// actions to offer; a token the API does not know gets 401 as anywhere else.
    #[oai(path = "/auth/scope", method = "get", operation_id = "tokenScope")]
    async fn scope(&self, _auth: ReadAccess, req: &Request) -> Result<Json<TokenScope>, ApiError> {
        let auth = req
            .data::<Arc<Auth>>()
            .ok_or_else(|| ApiError::internal(&"the admin API was mounted without its Auth"))?;
        if !auth.is_enabled() {
            return Ok(Json(TokenScope {
                scope: Scope::Admin.into(),
                auth_enabled: false,
            }));
        }
        // `ReadAccess` has checked the header already; this reads the scope it granted.
        let scope = bearer_token(req)
            .and_then(|token| auth.scope_of(token))
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))?;
        Ok(Json(TokenScope {
            scope: scope.into(),
            auth_enabled: true,
        }))
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(req: &Request) -> Option<&str> {
    let header = req.headers().get(poem::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
