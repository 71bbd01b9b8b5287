//! `/api/v1/tenants/{tenant}/groups`: a tenant's groups (access rules admit groups as a
//! whole). Their members are in `members.rs`.

use super::auth::ApiAuth;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::idempotency::Idempotent;
use super::pagination::{Page, PageQuery, paginate};
use super::problem::ApiResult;
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::tenants::groups;
use tessera_domain::tenancy::TenantGroup;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&TenantGroup> for GroupView {
    fn from(g: &TenantGroup) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone(),
            created_at: g.created_at,
        }
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewGroup {
    /// 1–80 characters, unique in the tenant (any case).
    pub name: String,
    /// At most 500 characters.
    #[serde(default)]
    pub description: String,
}

/// The tenant's groups.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/groups",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        PageQuery,
    ),
    responses((status = 200, description = "A page of the tenant's groups, by id", body = Page<GroupView>))
)]
pub async fn list_groups(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<GroupView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let all = groups::list(&state.app, &cap).await?;
    let (all, next_cursor) = paginate(all, &page, |g| g.id)?;
    Ok(Json(Page {
        items: all.iter().map(GroupView::from).collect(),
        next_cursor,
    }))
}

/// Creates a group in the tenant.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/groups",
    tag = "groups",
    params(("tenant" = String, Path, description = "The tenant's handle (slug) or id")),
    request_body = NewGroup,
    responses((status = 201, description = "The new group", body = GroupView))
)]
pub async fn create_group(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<NewGroup>>,
) -> Response {
    let result = async {
        let cap = auth.tenant(&state, &tenant).await?;
        let group = groups::create(&state.app, &cap, &body.name, &body.description).await?;
        Ok((StatusCode::CREATED, Json(GroupView::from(&group))))
    };
    claim.finish(result.await).await
}

/// One of the tenant's groups.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/groups/{group}",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("group" = String, Path, description = "The group's id or name"),
    ),
    responses((status = 200, description = "The group", body = GroupView))
)]
pub async fn get_group(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, group)): ApiPath<(String, String)>,
) -> ApiResult<Json<GroupView>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let group = groups::get(&state.app, &cap, &group).await?;
    Ok(Json(GroupView::from(&group)))
}

/// Deletes the group and its memberships.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/groups/{group}",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("group" = String, Path, description = "The group's id or name"),
    ),
    responses((status = 204, description = "The group is gone"))
)]
pub async fn delete_group(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, group)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let cap = auth.tenant(&state, &tenant).await?;
    groups::delete(&state.app, &cap, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}
