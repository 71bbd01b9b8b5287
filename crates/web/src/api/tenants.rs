//! `/api/v1/tenants`: the tenants a caller administers, creating tenants (platform
//! administrators), and naming each tenant's admins.

use super::auth::ApiAuth;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::idempotency::Idempotent;
use super::pagination::{Page, PageQuery, paginate};
use super::problem::{ApiError, ApiResult};
use super::users::UserView;
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::tenants::ApiCaller;
use tessera_domain::tenant::Tenant;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    /// The short handle used in URLs: 2–63 of `a-z 0-9 -`.
    pub slug: String,
    pub display_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.clone(),
            display_name: t.display_name.clone(),
            created_at: t.created_at,
        }
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewTenant {
    /// 2–63 lowercase letters, digits or hyphens.
    pub slug: String,
    /// 1–120 characters.
    pub display_name: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewTenantAdmin {
    /// The user's username or id. The account must be active.
    pub user: String,
}

/// The tenants the caller administers: every tenant for a platform administrator.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "tenants",
    params(PageQuery),
    responses((status = 200, description = "A page of tenants, by id", body = Page<TenantView>))
)]
pub async fn list_tenants(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<TenantView>>> {
    let app = &state.app;
    let tenants = match &auth.0 {
        ApiCaller::Platform(p) => tessera_core::admin::list_tenants(app, p).await?,
        ApiCaller::Tenant(t) => vec![t.tenant().clone()],
        ApiCaller::Person(who) => tessera_core::tenants::administered_by(app, who).await?,
    };
    let (tenants, next_cursor) = paginate(tenants, &page, |t| t.id)?;
    Ok(Json(Page {
        items: tenants.iter().map(TenantView::from).collect(),
        next_cursor,
    }))
}

/// Creates a tenant (platform administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "tenants",
    request_body = NewTenant,
    responses((status = 201, description = "The new tenant", body = TenantView))
)]
pub async fn create_tenant(
    State(state): State<WebState>,
    auth: ApiAuth,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<NewTenant>>,
) -> Response {
    let result = async {
        let admin = auth.platform()?;
        let tenant =
            tessera_core::admin::create_tenant(&state.app, &admin, &body.slug, &body.display_name)
                .await
                .map_err(|e| ApiError::from_core_renamed(e, &[("name", "display_name")]))?;
        Ok((StatusCode::CREATED, Json(TenantView::from(&tenant))))
    };
    claim.finish(result.await).await
}

/// One tenant the caller administers.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}",
    tag = "tenants",
    params(("tenant" = String, Path, description = "The tenant's handle (slug) or id")),
    responses((status = 200, description = "The tenant", body = TenantView))
)]
pub async fn get_tenant(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Json<TenantView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    Ok(Json(TenantView::from(cap.tenant())))
}

/// The tenant's admins.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/admins",
    tag = "tenants",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        PageQuery,
    ),
    responses((status = 200, description = "A page of the tenant's admins, by id", body = Page<UserView>))
)]
pub async fn list_admins(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let admins = tessera_core::tenants::admins(&state.app, &cap).await?;
    let (admins, next_cursor) = paginate(admins, &page, |u| u.id)?;
    Ok(Json(Page {
        items: admins.iter().map(UserView::from).collect(),
        next_cursor,
    }))
}

/// Names an active user as an admin of the tenant (platform administrators only).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/admins",
    tag = "tenants",
    params(("tenant" = String, Path, description = "The tenant's handle (slug) or id")),
    request_body = NewTenantAdmin,
    responses((status = 201, description = "The user, now an admin of the tenant", body = UserView))
)]
pub async fn add_admin(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<NewTenantAdmin>>,
) -> Response {
    let result = async {
        let admin = auth.platform()?;
        let user =
            tessera_core::tenants::add_admin(&state.app, &admin, &tenant, &body.user).await?;
        Ok((StatusCode::CREATED, Json(UserView::from(&user))))
    };
    claim.finish(result.await).await
}

/// Removes an admin from the tenant (platform administrators only).
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/admins/{user}",
    tag = "tenants",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("user" = String, Path, description = "The admin's username or id"),
    ),
    responses((status = 204, description = "The user no longer administers the tenant"))
)]
pub async fn remove_admin(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, user)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let admin = auth.platform()?;
    tessera_core::tenants::remove_admin(&state.app, &admin, &tenant, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
