//! `/api/v1/users`: the platform's accounts, for platform administrators (paged by
//! username), and the user view the other resources reuse (tenant admins, group members).

use super::auth::ApiAuth;
use super::extract::{ApiPath, ApiQuery};
use super::pagination::{Page, PageQuery, trim_fetched};
use super::problem::{ApiError, ApiResult};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tessera_domain::user::User;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An account, as administrators see it (never a password or a secret).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub email: String,
    pub department: String,
    /// `officer` or `vendor`.
    pub user_type: String,
    /// `pending`, `active`, `suspended` or `terminated`.
    pub state: String,
    pub platform_admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            display_name: u.display_name(),
            email: u.email.as_str().to_owned(),
            department: u.department.clone(),
            user_type: u.user_type.as_str().to_owned(),
            state: u.state.as_str().to_owned(),
            platform_admin: u.platform_admin,
            created_at: u.created_at,
        }
    }
}

/// Every account, by username.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(PageQuery),
    responses((status = 200, description = "A page of accounts, by username", body = Page<UserView>))
)]
pub async fn list_users(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let admin = auth.platform()?;
    let limit = page.limit()?;
    let after = page.after::<String>()?;
    let users = tessera_core::admin::list_users(&state.app, &admin, after.as_deref(), limit + 1)
        .await
        .map_err(|e| ApiError::from_core_renamed(e, &[("after", "cursor")]))?;
    let (users, next_cursor) = trim_fetched(users, limit, |u| u.username.as_str().to_owned());
    Ok(Json(Page {
        items: users.iter().map(UserView::from).collect(),
        next_cursor,
    }))
}

/// One account, by id or username.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user}",
    tag = "users",
    params(("user" = String, Path, description = "The user's id or username")),
    responses((status = 200, description = "The account", body = UserView))
)]
pub async fn get_user(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    let admin = auth.platform()?;
    let user = tessera_core::admin::find_user(&state.app, &admin, &user).await?;
    Ok(Json(UserView::from(&user)))
}
