//! `/api/v1/tenants/{tenant}/groups/{group}/members`: who is in a tenant's group.

use super::auth::ApiAuth;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::idempotency::Idempotent;
use super::pagination::{Page, PageQuery, paginate};
use super::problem::ApiResult;
use super::users::UserView;
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_core::tenants::groups;
use utoipa::ToSchema;

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewMember {
    /// The user's username or id.
    pub user: String,
}

/// The group's members.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/groups/{group}/members",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("group" = String, Path, description = "The group's id or name"),
        PageQuery,
    ),
    responses((status = 200, description = "A page of the group's members, by id", body = Page<UserView>))
)]
pub async fn list_members(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, group)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let all = groups::members(&state.app, &cap, &group).await?;
    let (all, next_cursor) = paginate(all, &page, |u| u.id)?;
    Ok(Json(Page {
        items: all.iter().map(UserView::from).collect(),
        next_cursor,
    }))
}

/// Adds a user to the group (adding a member again changes nothing).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/groups/{group}/members",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("group" = String, Path, description = "The group's id or name"),
    ),
    request_body = NewMember,
    responses((status = 201, description = "The member", body = UserView))
)]
pub async fn add_member(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, group)): ApiPath<(String, String)>,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<NewMember>>,
) -> Response {
    let result = async {
        let cap = auth.tenant(&state, &tenant).await?;
        let user = groups::add_member(&state.app, &cap, &group, &body.user).await?;
        Ok((StatusCode::CREATED, Json(UserView::from(&user))))
    };
    claim.finish(result.await).await
}

/// Removes a user from the group.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/groups/{group}/members/{user}",
    tag = "groups",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("group" = String, Path, description = "The group's id or name"),
        ("user" = String, Path, description = "The member's username or id"),
    ),
    responses((status = 204, description = "The user is no longer a member"))
)]
pub async fn remove_member(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath((tenant, group, user)): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let cap = auth.tenant(&state, &tenant).await?;
    groups::remove_member(&state.app, &cap, &group, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
