//! `/api/v1/tenants/{tenant}/apps`: a tenant's apps (OIDC clients) — register, read,
//! replace settings, delete — and who may use each app (its access rules).

use super::auth::ApiAuth;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::idempotency::{Idempotent, ShownOnce};
use super::pagination::{Page, PageQuery, paginate};
use super::problem::{ApiError, ApiResult};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::oidc::clients::NewApp;
use tessera_core::tenants::apps;
use tessera_domain::oauth::OAuthClient;
use tessera_domain::tenancy::Audience;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An app's registration (never its secrets).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AppView {
    pub id: String,
    pub tenant_id: String,
    /// What the app sends as `client_id`.
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// `confidential` (has secrets or keys) or `public` (PKCE only).
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Scopes a client_credentials token may carry.
    pub scopes: Vec<String>,
    pub id_token_alg: String,
    pub access_token_ttl_secs: i64,
    pub refresh_idle_ttl_secs: i64,
    pub refresh_absolute_ttl_secs: i64,
    pub require_par: bool,
    pub backchannel_logout_uri: Option<String>,
    /// The app authenticates with keys given as a JWKS document.
    pub has_jwks: bool,
    pub jwks_uri: Option<String>,
    pub consent_required: bool,
    pub resources: Vec<String>,
    pub require_phishing_resistant: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&OAuthClient> for AppView {
    fn from(c: &OAuthClient) -> Self {
        Self {
            id: c.id.to_string(),
            tenant_id: c.tenant_id.to_string(),
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            kind: c.kind.as_str().to_owned(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scopes: c.allowed_scopes.clone(),
            id_token_alg: c.id_token_alg.as_str().to_owned(),
            access_token_ttl_secs: c.access_token_ttl_secs,
            refresh_idle_ttl_secs: c.refresh_idle_ttl_secs,
            refresh_absolute_ttl_secs: c.refresh_absolute_ttl_secs,
            require_par: c.require_par,
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            has_jwks: c.jwks.is_some(),
            jwks_uri: c.jwks_uri.clone(),
            consent_required: c.consent_required,
            resources: c.allowed_resources.clone(),
            require_phishing_resistant: c.require_phishing_resistant,
            created_at: c.created_at,
        }
    }
}

/// An app's settings, for registering it or replacing them all.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct AppInput {
    /// 1–120 characters.
    pub name: String,
    /// What the app is for (at most 500 characters).
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public app (PKCE only, no secret). Cannot change after registration.
    #[serde(default)]
    pub public: bool,
    /// Empty: authorization_code and refresh_token.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Scopes a client_credentials token may carry. Only platform administrators can grant
    /// `tessera:admin`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RS256 (default), ES256 or EdDSA.
    pub id_token_alg: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    /// The app's public keys (a JWKS document) for private_key_jwt; no secret is issued then.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub consent_required: bool,
    #[serde(default)]
    pub require_par: bool,
    /// Resources (RFC 8707) client_credentials tokens may be issued for.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Sign-ins need phishing-resistant MFA (a passkey). Absent: unchanged (false for a
    /// new app), so an edit of other settings never switches it off.
    #[serde(default)]
    pub require_phishing_resistant: Option<bool>,
    /// 60–86400; default 300.
    pub access_token_ttl_secs: Option<i64>,
    /// 300–7776000; default 86400.
    pub refresh_idle_ttl_secs: Option<i64>,
    /// At least the idle lifetime, at most 31536000; default 2592000.
    pub refresh_absolute_ttl_secs: Option<i64>,
}

impl AppInput {
    fn into_new_app(self) -> NewApp {
        NewApp {
            tenant: String::new(),
            name: self.name,
            redirect_uris: self.redirect_uris,
            public: self.public,
            grant_types: self.grant_types,
            scopes: self.scopes,
            id_token_alg: self.id_token_alg,
            require_par: self.require_par,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            // An explicit null is no keys.
            jwks: self.jwks.filter(|j| !j.is_null()).map(|j| j.to_string()),
            jwks_uri: self.jwks_uri,
            consent_required: self.consent_required,
            resources: self.resources,
            require_phishing_resistant: self.require_phishing_resistant.unwrap_or(false),
            description: self.description,
            access_token_ttl_secs: self.access_token_ttl_secs,
            refresh_idle_ttl_secs: self.refresh_idle_ttl_secs,
            refresh_absolute_ttl_secs: self.refresh_absolute_ttl_secs,
        }
    }
}

/// The core's field names, as this API names them.
const APP_FIELDS: &[(&str, &str)] = &[
    ("grant", "grant_types"),
    ("redirect_uri", "redirect_uris"),
    ("post_logout_redirect_uri", "post_logout_redirect_uris"),
    ("scope", "scopes"),
    ("resource", "resources"),
    ("access_token_ttl", "access_token_ttl_secs"),
    ("refresh_idle_ttl", "refresh_idle_ttl_secs"),
    ("refresh_absolute_ttl", "refresh_absolute_ttl_secs"),
];

/// A registered app with its first secret, shown only in this response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AppCreated {
    pub app: AppView,
    /// The client secret (confidential apps without keys). Shown once: a replay of this
    /// request with its Idempotency-Key has null here and says so in `secret_note`.
    pub client_secret: Option<String>,
    pub secret_note: Option<String>,
}

/// The app's access rules as a tenant admin sets them.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct AccessInput {
    /// Only the listed users and the members of the listed groups (else every active user).
    #[serde(default)]
    pub listed_only: bool,
    /// Usernames or ids; listed people are always admitted.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group ids or names of this tenant.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `officer`, `vendor`; empty: every type.
    #[serde(default)]
    pub user_types: Vec<String>,
    /// Whether vendors working offshore may use the app (default true).
    #[serde(default = "yes")]
    pub offshore_allowed: bool,
    /// Sign-ins need phishing-resistant MFA. Absent: unchanged.
    #[serde(default)]
    pub require_phishing_resistant: Option<bool>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ListedUser {
    pub id: String,
    pub username: String,
    pub active: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ListedGroup {
    pub id: String,
    pub name: String,
}

/// Who may use an app.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccessView {
    pub listed_only: bool,
    pub users: Vec<ListedUser>,
    pub groups: Vec<ListedGroup>,
    pub user_types: Vec<String>,
    pub offshore_allowed: bool,
    pub require_phishing_resistant: bool,
}

async fn access_view(
    state: &WebState,
    cap: &tessera_core::tenants::TenantAdmin,
    client: &OAuthClient,
) -> ApiResult<AccessView> {
    let users = apps::listed_users(&state.app, client)
        .await?
        .into_iter()
        .map(|(id, username, active)| ListedUser {
            id: id.to_string(),
            username,
            active,
        })
        .collect();
    let groups = tessera_core::tenants::groups::list(&state.app, cap)
        .await?
        .into_iter()
        .filter(|g| client.access.groups.contains(&g.id))
        .map(|g| ListedGroup {
            id: g.id.to_string(),
            name: g.name,
        })
        .collect();
    Ok(AccessView {
        listed_only: client.access.audience == Audience::Listed,
        users,
        groups,
        user_types: client
            .access
            .user_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        offshore_allowed: client.access.offshore_allowed,
        require_phishing_resistant: client.require_phishing_resistant,
    })
}

/// The tenant's apps.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/apps",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        PageQuery,
    ),
    responses((status = 200, description = "A page of the tenant's apps, by id", body = Page<AppView>))
)]
pub async fn list_apps(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AppView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let all = apps::list(&state.app, &cap).await?;
    let (all, next_cursor) = paginate(all, &page, |c| c.id)?;
    Ok(Json(Page {
        items: all.iter().map(AppView::from).collect(),
        next_cursor,
    }))
}

/// Registers an app in the tenant; a confidential app's first secret is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/apps",
    tag = "apps",
    params(("tenant" = String, Path, description = "The tenant's handle (slug) or id")),
    request_body = AppInput,
    responses((status = 201, description = "The new app and its secret (shown once)", body = AppCreated))
)]
pub async fn create_app(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<AppInput>>,
) -> Response {
    let result = async {
        let cap = auth.tenant(&state, &tenant).await?;
        let created = apps::create(&state.app, &cap, body.into_new_app())
            .await
            .map_err(|e| ApiError::from_core_renamed(e, APP_FIELDS))?;
        let view = AppCreated {
            app: AppView::from(&created.client),
            client_secret: created.secret,
            secret_note: None,
        };
        let mut r = (StatusCode::CREATED, Json(view)).into_response();
        r.extensions_mut().insert(ShownOnce(&["client_secret"]));
        // The body holds a secret: no cache may keep it.
        r.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        Ok::<_, ApiError>(r)
    };
    claim.finish(result.await).await
}

/// One of the tenant's apps.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/apps/{app}",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    responses((status = 200, description = "The app", body = AppView))
)]
pub async fn get_app(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
) -> ApiResult<Json<AppView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let client = apps::get(&state.app, &cap, &app).await?;
    Ok(Json(AppView::from(&client)))
}

/// Replaces the app's settings (all of them; `public` cannot change).
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/apps/{app}",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    request_body = AppInput,
    responses((status = 200, description = "The app with its new settings", body = AppView))
)]
pub async fn update_app(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AppInput>,
) -> ApiResult<Json<AppView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let current = apps::get(&state.app, &cap, &app).await?;
    let mut body = body;
    body.require_phishing_resistant = body
        .require_phishing_resistant
        .or(Some(current.require_phishing_resistant));
    let client = apps::update(&state.app, &cap, &app, body.into_new_app())
        .await
        .map_err(|e| ApiError::from_core_renamed(e, APP_FIELDS))?;
    Ok(Json(AppView::from(&client)))
}

/// Deletes the app, its secrets and everything issued to it.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/apps/{app}",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    responses((status = 204, description = "The app is gone"))
)]
pub async fn delete_app(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let cap = auth.tenant(&state, &tenant).await?;
    apps::delete(&state.app, &cap, &app).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who may use the app.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/apps/{app}/access",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    responses((status = 200, description = "The app's access rules", body = AccessView))
)]
pub async fn get_access(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccessView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let client = apps::get(&state.app, &cap, &app).await?;
    Ok(Json(access_view(&state, &cap, &client).await?))
}

/// Replaces who may use the app.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/apps/{app}/access",
    tag = "apps",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("app" = String, Path, description = "The app's id or client_id"),
    ),
    request_body = AccessInput,
    responses((status = 200, description = "The app's new access rules", body = AccessView))
)]
pub async fn set_access(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, app)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AccessInput>,
) -> ApiResult<Json<AccessView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let current = apps::get(&state.app, &cap, &app).await?;
    let edit = apps::AccessEdit {
        listed_only: body.listed_only,
        users: body.users,
        groups: body.groups,
        user_types: body.user_types,
        offshore_allowed: body.offshore_allowed,
        require_phishing_resistant: body
            .require_phishing_resistant
            .unwrap_or(current.require_phishing_resistant),
    };
    let client = apps::set_access(&state.app, &cap, &app, edit).await?;
    Ok(Json(access_view(&state, &cap, &client).await?))
}
