//! `/api/v1/tenants/{tenant}/access-requests`: requests of people an app refused, and the
//! tenant admin's decision (approval lists the person on the app; both are emailed).

use super::auth::ApiAuth;
use super::extract::{ApiPath, ApiQuery};
use super::idempotency::{Idempotent, NoBody};
use super::pagination::{Page, PageQuery, paginate};
use super::problem::ApiResult;
use crate::WebState;
use crate::extract::ClientIp;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::tenants::access;
use tessera_domain::AccessRequestId;
use tessera_domain::tenancy::{AccessRequest, AccessRequestStatus};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl From<AccessRequestStatus> for RequestStatus {
    fn from(s: AccessRequestStatus) -> Self {
        match s {
            AccessRequestStatus::Pending => Self::Pending,
            AccessRequestStatus::Approved => Self::Approved,
            AccessRequestStatus::Rejected => Self::Rejected,
        }
    }
}

impl From<RequestStatus> for AccessRequestStatus {
    fn from(s: RequestStatus) -> Self {
        match s {
            RequestStatus::Pending => Self::Pending,
            RequestStatus::Approved => Self::Approved,
            RequestStatus::Rejected => Self::Rejected,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilter {
    /// Only requests in this state.
    pub status: Option<RequestStatus>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccessRequestView {
    pub id: String,
    pub app_id: String,
    pub user_id: String,
    /// Why the person needs the app, in their words.
    pub reason: String,
    pub status: RequestStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    /// Who decided, as in the audit log (`user:<id>`, `client:<client_id>`, `cli`).
    pub decided_by: Option<String>,
}

impl From<&AccessRequest> for AccessRequestView {
    fn from(r: &AccessRequest) -> Self {
        Self {
            id: r.id.to_string(),
            app_id: r.app_id.to_string(),
            user_id: r.user_id.to_string(),
            reason: r.reason.clone(),
            status: r.status.into(),
            created_at: r.created_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by.clone(),
        }
    }
}

/// The tenant's access requests.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/access-requests",
    tag = "access requests",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        StatusFilter,
        PageQuery,
    ),
    responses((status = 200, description = "A page of access requests, by id", body = Page<AccessRequestView>))
)]
pub async fn list_requests(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(filter): ApiQuery<StatusFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AccessRequestView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let all = access::list(&state.app, &cap, filter.status.map(Into::into)).await?;
    let (all, next_cursor) = paginate(all, &page, |r| r.id)?;
    Ok(Json(Page {
        items: all.iter().map(AccessRequestView::from).collect(),
        next_cursor,
    }))
}

async fn decide(
    state: &WebState,
    auth: &ApiAuth,
    tenant: &str,
    id: AccessRequestId,
    approve: bool,
    ip: Option<String>,
) -> ApiResult<Json<AccessRequestView>> {
    let cap = auth.tenant(state, tenant).await?;
    let decided = access::decide(&state.app, &cap, id, approve, ip).await?;
    state.wake_outbox();
    Ok(Json(AccessRequestView::from(&decided)))
}

/// Approves a pending request: the person is listed on the app and emailed.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/access-requests/{id}/approve",
    tag = "access requests",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("id" = String, Path, format = Uuid, description = "The request's id"),
    ),
    responses((status = 200, description = "The decided request", body = AccessRequestView))
)]
pub async fn approve(
    State(state): State<WebState>,
    auth: ApiAuth,
    ClientIp(ip): ClientIp,
    ApiPath((tenant, id)): ApiPath<(String, AccessRequestId)>,
    Idempotent(claim, NoBody): Idempotent<NoBody>,
) -> Response {
    claim
        .finish(decide(&state, &auth, &tenant, id, true, ip).await)
        .await
}

/// Rejects a pending request; the person is emailed.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/access-requests/{id}/reject",
    tag = "access requests",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        ("id" = String, Path, format = Uuid, description = "The request's id"),
    ),
    responses((status = 200, description = "The decided request", body = AccessRequestView))
)]
pub async fn reject(
    State(state): State<WebState>,
    auth: ApiAuth,
    ClientIp(ip): ClientIp,
    ApiPath((tenant, id)): ApiPath<(String, AccessRequestId)>,
    Idempotent(claim, NoBody): Idempotent<NoBody>,
) -> Response {
    claim
        .finish(decide(&state, &auth, &tenant, id, false, ip).await)
        .await
}
