//! Who calls the admin API: an app with a client_credentials access token holding
//! `tessera:admin` or `tessera:tenant`, or a person signed in to the portal (whose unsafe
//! requests have passed the CSRF check). Anyone else gets a 401 problem.
//!
//! Authorisation is not decided here: handlers get a `TenantAdmin` only from
//! `caller.tenant(app, slug)` and a `PlatformAdmin` only from `caller.platform()`.

use super::problem::ApiError;
use crate::WebState;
use crate::extract::Session;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tessera_core::admin::PlatformAdmin;
use tessera_core::tenants::{ApiCaller, TenantAdmin, api_caller};

/// The authenticated caller.
pub struct ApiAuth(pub ApiCaller);

/// The caller resolved once per request (the idempotency layer needs it before the
/// handler runs), kept in the request's extensions.
#[derive(Clone)]
pub struct Resolved(pub Option<ApiCaller>, pub bool);

/// Resolves the caller: a bearer token if one is sent (a bad token is not rescued by a
/// cookie), else the portal session. The flag says whether a token was sent.
pub async fn resolve(parts: &mut Parts, state: &WebState) -> Result<Resolved, ApiError> {
    if let Some(r) = parts.extensions.get::<Resolved>() {
        return Ok(r.clone());
    }
    let resolved = match parts.headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty());
            let caller = match token {
                Some(t) => api_caller(&state.app, t).await?,
                None => None,
            };
            Resolved(caller, true)
        }
        None => {
            let session =
                <Session as OptionalFromRequestParts<WebState>>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| ApiError::Internal("session lookup failed".into()))?;
            Resolved(
                session.map(|Session(who)| ApiCaller::Person(Box::new(who))),
                false,
            )
        }
    };
    parts.extensions.insert(resolved.clone());
    Ok(resolved)
}

impl FromRequestParts<WebState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        match resolve(parts, state).await? {
            Resolved(Some(caller), _) => Ok(Self(caller)),
            Resolved(None, token_given) => Err(ApiError::Unauthenticated { token_given }),
        }
    }
}

impl ApiAuth {
    /// The capability over one tenant; another tenant's is "not found".
    pub async fn tenant(&self, state: &WebState, tenant: &str) -> Result<TenantAdmin, ApiError> {
        Ok(self.0.tenant(&state.app, tenant).await?)
    }

    /// The platform capability, or 403.
    pub fn platform(&self) -> Result<PlatformAdmin, ApiError> {
        self.0.platform().ok_or_else(ApiError::forbidden_platform)
    }
}
