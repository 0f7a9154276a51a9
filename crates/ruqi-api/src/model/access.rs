//! What the caller's token may do, as the API tells it.

use poem_openapi::{Enum, Object};

use crate::auth::Scope;

/// A token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub(crate) enum ScopeName {
    /// Every `GET`.
    Read,
    /// Everything: writes and actions as well.
    Admin,
}

impl From<Scope> for ScopeName {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Read => ScopeName::Read,
            Scope::Admin => ScopeName::Admin,
        }
    }
}

/// The scope of the token that made the request: a client such as the admin
/// page shows write actions only to an `admin` scope.
#[derive(Debug, Clone, PartialEq, Object)]
pub(crate) struct TokenScope {
    /// `read` or `admin`; always `admin` when the API checks no tokens.
    pub(crate) scope: ScopeName,
    /// Whether the API checks tokens at all (`false`: `Auth::disabled()`).
    pub(crate) auth_enabled: bool,
}
