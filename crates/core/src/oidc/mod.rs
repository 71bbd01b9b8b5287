//! The OpenID Connect provider: one module per endpoint or grant; client authentication,
//! scope checks and token minting live once (here and in `token.rs`), so no grant can skip
//! them.

pub mod assertion;
pub mod authorize;
pub mod clients;
pub mod device;
pub mod discovery;
pub mod grants;
pub mod introspect;
pub mod jws;
pub mod keys;
pub mod logout;
pub mod par;
pub mod revoke;
pub mod token;
pub mod token_cache;
pub mod tokens;
pub mod userinfo;

pub use tessera_proto::oauth::ErrorCode;

/// An OAuth error as RFC 6749 §5.2 describes it; `web/error.rs` renders it as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }
}

/// Either the protocol says no, or something underneath failed.
#[derive(Debug)]
pub enum OidcError {
    OAuth(OAuthError),
    Core(crate::CoreError),
}

impl From<OAuthError> for OidcError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl<E: Into<crate::CoreError>> From<E> for OidcError {
    fn from(e: E) -> Self {
        Self::Core(e.into())
    }
}

/// The scopes of user flows this provider understands.
pub const USER_SCOPES: &[&str] = &["openid", "profile", "email", "phone", "offline_access"];

/// `acr` for a password-only session (issue 5 adds MFA levels).
pub const ACR_PASSWORD: &str = "urn:tessera:acr:pwd";
/// Password and a second factor.
pub const ACR_MFA: &str = "urn:tessera:acr:mfa";
