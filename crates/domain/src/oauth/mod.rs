//! OAuth 2 / OpenID Connect concepts: clients ("apps"), scopes, PKCE, grants, signing keys.

pub mod client;
pub mod grant;
pub mod keys;
pub mod pkce;
pub mod scope;

pub use client::{ClientKind, GrantType, OAuthClient, redirect_uri_matches, validate_redirect_uri};
pub use grant::{
    Authentication, AuthorizationCode, CodeRedemption, DeviceGrant, DevicePoll, DeviceStatus,
    PushedRequest, RefreshToken, RefreshUse,
};
pub use keys::{SigningAlg, SigningKeyRecord};
pub use scope::Scopes;
