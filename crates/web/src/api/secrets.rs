//! `/api/v1/tenants/{tenant}/apps/{app}/secrets`: an app's client secrets — list (never the
//! secret itself), add or rotate with an overlap (the new secret shown once), revoke.

use super::auth::ApiAuth;
use super::extract::{ApiPath, ApiQuery, OptionalJson};
use super::idempotency::{Idempotent, ShownOnce};
use super::pagination::{Page, PageQuery, paginate};
use super::problem::{ApiError, ApiResult};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::tenants::apps;
use tessera_domain::tenancy::AppSecret;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A client secret as its owners see it: when it was made and until when it works.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SecretView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Null: valid until revoked. Set by a rotation to the end of its overlap.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether the secret works now.
    pub valid: bool,
}

impl SecretView {
    fn new(s: &AppSecret, now: OffsetDateTime) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            valid: s.valid_at(now),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct NewSecret {
    /// Rotate: every other valid secret stops working this many seconds from now (0 to
    /// 2592000; 0 ends them at once). Leave out to add a secret and keep the others.
    pub rotate_overlap_seconds: Option<i64>,
}

/// A new secret, shown only in this response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SecretCreated {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The secret. Shown once: a replay of this request with its Idempotency-Key has null
    /// here and says so in `secret_note`.
    pub client_secret: Option<String>,
    pub secret_note: Option<String>,
}

/// The app's secrets, oldest first (expired ones too, until revoked).
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/apps/{app}/secrets",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
        PageQuery,
    ),
    responses((status = 200, description = "A page of the app's secrets", body = Page<SecretView>))
)]
pub async fn list_secrets(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<SecretView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let all = apps::secrets(&state.app, &cap, &app).await?;
    let now = state.app.clock.now();
    let (all, next_cursor) = paginate(all, &page, |s| s.id)?;
    Ok(Json(Page {
        items: all.iter().map(|s| SecretView::new(s, now)).collect(),
        next_cursor,
    }))
}

/// Adds a secret, or rotates with `rotate_overlap_seconds`. The secret is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/apps/{app}/secrets",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    request_body(content = Option<NewSecret>, description = "Optional: leave out to add a secret without rotating"),
    responses((status = 201, description = "The new secret (shown once)", body = SecretCreated))
)]
pub async fn create_secret(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
    Idempotent(claim, OptionalJson(body)): Idempotent<OptionalJson<NewSecret>>,
) -> Response {
    claim
        .finish(add_secret(&state, &auth, &tenant, &app, body).await)
        .await
}

async fn add_secret(
    state: &WebState,
    auth: &ApiAuth,
    tenant: &str,
    app: &str,
    body: NewSecret,
) -> ApiResult<Response> {
    let cap = auth.tenant(state, tenant).await?;
    let overlap = match body.rotate_overlap_seconds {
        None => None,
        Some(s) if (0..=apps::MAX_OVERLAP.whole_seconds()).contains(&s) => {
            Some(time::Duration::seconds(s))
        }
        Some(_) => {
            return Err(ApiError::field(
                "rotate_overlap_seconds",
                "The overlap is between 0 and 30 days (2592000 seconds).",
            ));
        }
    };
    let (secret, shown) = apps::new_secret(&state.app, &cap, app, overlap)
        .await
        .map_err(|e| ApiError::from_core_renamed(e, &[("overlap", "rotate_overlap_seconds")]))?;
    let view = SecretCreated {
        id: secret.id,
        created_at: secret.created_at,
        expires_at: secret.expires_at,
        client_secret: Some(shown),
        secret_note: None,
    };
    let mut r = (StatusCode::CREATED, Json(view)).into_response();
    // The body holds a secret: no cache may keep it.
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r.extensions_mut().insert(ShownOnce(&["client_secret"]));
    Ok(r)
}

/// Revokes one secret at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/apps/{app}/secrets/{secret}",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
        ("secret" = i64, Path, description = "The secret's id"),
    ),
    responses((status = 204, description = "The secret no longer works"))
)]
pub async fn revoke_secret(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app, secret)): ApiPath<(String, String, i64)>,
) -> ApiResult<StatusCode> {
    let cap = auth.tenant(&state, &tenant).await?;
    apps::revoke_secret(&state.app, &cap, &app, secret).await?;
    Ok(StatusCode::NO_CONTENT)
}
