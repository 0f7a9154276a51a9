//! Bearer tokens and their scopes: a read-only scope for the `GET`
//! operations, an admin scope for writes and actions.

use std::sync::Arc;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every `GET`: jobs, executions, functions, scheduler status, previews.
    Read,
    /// Everything: writes, actions (pause, resume, run, cancel, wake-up) and
    /// history cleanup, as well as all that `Read` allows.
    Admin,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// Who may call the admin API.
///
/// ```
/// use ruqi_api::{Auth, Scope};
///
/// let auth = Auth::bearer().admin_token("s3cret-admin").read_token("s3cret-viewer");
/// assert_eq!(auth.scope_of("s3cret-viewer"), Some(Scope::Read));
/// assert_eq!(auth.scope_of("guess"), None);
/// assert!(Auth::disabled().scope_of("anything").is_some());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// `None`: no check at all.
    tokens: Option<Vec<(String, Scope)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        match &self.tokens {
            None => f.write_str("Auth::disabled()"),
            Some(tokens) => f
                .debug_struct("Auth")
                .field(
                    "admin_tokens",
                    &tokens.iter().filter(|(_, s)| *s == Scope::Admin).count(),
                )
                .field("read_tokens", &tokens.iter().filter(|(_, s)| *s == Scope::Read).count())
                .finish(),
        }
    }
}

impl Default for Auth {
    /// Bearer tokens, none configured yet: every request but the health
    /// check is refused until tokens are added.
    fn default() -> Self {
        Self::bearer()
    }
}

impl Auth {
    /// Bearer tokens, none yet: add them with [`Auth::admin_token`] and
    /// [`Auth::read_token`]. Requests without a known token get 401.
    pub fn bearer() -> Self {
        Self {
            tokens: Some(Vec::new()),
        }
    }

    /// No authentication: every request may do everything. Only for an API
    /// that nothing but trusted clients can reach (a loopback address).
    pub fn disabled() -> Self {
        Self { tokens: None }
    }

    /// Adds a token with the admin scope. Empty tokens are ignored.
    pub fn admin_token(self, token: impl Into<String>) -> Self {
        self.token(token.into(), Scope::Admin)
    }

    /// Adds a token with the read-only scope. Empty tokens are ignored.
    pub fn read_token(self, token: impl Into<String>) -> Self {
        self.token(token.into(), Scope::Read)
    }

    fn token(mut self, token: String, scope: Scope) -> Self {
        if token.is_empty() {
            return self;
        }
        self.tokens.get_or_insert_with(Vec::new).push((token, scope));
        self
    }

    /// Whether requests must carry a token.
    pub fn is_enabled(&self) -> bool {
        self.tokens.is_some()
    }

    /// The scope `token` grants; with authentication disabled, [`Scope::Admin`].
    pub fn scope_of(&self, token: &str) -> Option<Scope> {
        let Some(tokens) = &self.tokens else {
            return Some(Scope::Admin);
        };
        // Every configured token is compared, each in constant time, so the
        // time taken does not tell how much of a guess was right.
        let mut granted = None;
        for (known, scope) in tokens {
            if constant_time_eq(known.as_bytes(), token.as_bytes()) {
                granted = granted.max(Some(*scope));
            }
        }
        granted
    }

    /// Checks the request's `Authorization: Bearer` header against `needed`
    /// and answers the scope the caller has.
    fn authorize(&self, req: &Request, needed: Scope) -> Result<Scope, ApiError> {
        if self.tokens.is_none() {
            return Ok(Scope::Admin);
        }
        let Some(header) = req.headers().get(poem::http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "a bearer token is required (Authorization: Bearer <token>)",
            ));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token else {
            return Err(ApiError::unauthorized(
                "the Authorization header must read `Bearer <token>`",
            ));
        };
        match self.scope_of(token) {
            None => Err(ApiError::unauthorized("the bearer token is not valid")),
            Some(scope) if scope >= needed => Ok(scope),
            Some(scope) => Err(ApiError::forbidden(format!(
                "this token has the {} scope; this operation needs the {} scope",
                scope.as_str(),
                needed.as_str()
            ))),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The name of the security scheme in the OpenAPI document.
const SCHEME_NAME: &str = "bearer";

fn register_scheme(registry: &mut Registry) {
    registry.create_security_scheme(
        SCHEME_NAME,
        MetaSecurityScheme {
            ty: "http",
            description: Some(
                "A token from the server's configuration: a read-only token for GETs, an admin token for everything.",
            ),
            name: None,
            key_in: None,
            scheme: Some("bearer"),
            bearer_format: None,
            flows: None,
            openid_connect_url: None,
        },
    );
}

async fn extract(req: &Request, needed: Scope) -> poem::Result<Scope> {
    let auth = req
        .data::<Arc<Auth>>()
        .ok_or_else(|| poem::Error::from(ApiError::internal(&"the admin API was mounted without its Auth")))?;
    auth.authorize(req, needed).map_err(poem::Error::from)
}

macro_rules! scope_extractor {
    ($(#[$doc:meta])* $name:ident, $scope:expr) => {
        $(#[$doc])*
        pub(crate) struct $name(
            /// The scope the caller's token has (at least the one required).
            #[allow(dead_code)]
            pub(crate) Scope,
        );

        impl<'a> ApiExtractor<'a> for $name {
            const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
            type ParamType = ();
            type ParamRawType = ();

            fn register(registry: &mut Registry) {
                register_scheme(registry);
            }

            fn security_schemes() -> Vec<&'static str> {
                vec![SCHEME_NAME]
            }

            async fn from_request(
                req: &'a Request,
                _body: &mut RequestBody,
                _param_opts: ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                extract(req, $scope).await.map($name)
            }
        }
    };
}

scope_extractor!(
    /// An operation parameter that admits tokens with the read (or admin) scope.
    ReadAccess,
    Scope::Read
);
scope_extractor!(
    /// An operation parameter that admits only tokens with the admin scope.
    AdminAccess,
    Scope::Admin
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_includes_read_and_unknown_tokens_get_nothing() {
        let auth = Auth::bearer().admin_token("a").read_token("r");
        assert_eq!(auth.scope_of("a"), Some(Scope::Admin));
        assert_eq!(auth.scope_of("r"), Some(Scope::Read));
        assert_eq!(auth.scope_of(""), None);
        assert_eq!(auth.scope_of("ab"), None);
        assert!(Scope::Admin > Scope::Read);
    }

    #[test]
    fn empty_tokens_are_ignored_and_debug_hides_tokens() {
        let auth = Auth::bearer().admin_token("").read_token("visible-secret");
        assert_eq!(auth.scope_of(""), None);
        let shown = format!("{auth:?}");
        assert!(!shown.contains("visible-secret"), "{shown}");
        assert!(shown.contains("read_tokens: 1"), "{shown}");
    }

    #[test]
    fn headers_are_checked_by_scheme_and_token() {
        let auth = Auth::bearer().admin_token("a").read_token("r");
        let req = |h: &str| Request::builder().header("authorization", h).finish();
        assert_eq!(auth.authorize(&req("Bearer a"), Scope::Admin).ok(), Some(Scope::Admin));
        assert_eq!(auth.authorize(&req("Bearer a"), Scope::Read).ok(), Some(Scope::Admin));
        assert_eq!(auth.authorize(&req("bearer r"), Scope::Read).ok(), Some(Scope::Read));
        assert!(matches!(
            auth.authorize(&req("Bearer r"), Scope::Admin),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            auth.authorize(&req("Basic YTpi"), Scope::Read),
            Err(ApiError::Unauthorized(..))
        ));
        assert!(matches!(
            auth.authorize(&Request::builder().finish(), Scope::Read),
            Err(ApiError::Unauthorized(..))
        ));
        assert_eq!(
            Auth::disabled()
                .authorize(&Request::builder().finish(), Scope::Read)
                .ok(),
            Some(Scope::Admin)
        );
    }
}
