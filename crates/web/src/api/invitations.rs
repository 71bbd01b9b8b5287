//! `/api/v1/invitations`: platform administrators invite people by email and see every
//! invitation. A signed-in administrator sponsors their own invitations; an API client is
//! nobody, so it names the sponsor (an active public officer or administrator), as
//! `tessera admin invite --sponsor` does.

use super::auth::ApiAuth;
use super::extract::{ApiJson, ApiQuery};
use super::idempotency::Idempotent;
use super::pagination::{Page, PageQuery, trim_fetched};
use super::problem::{ApiError, ApiResult};
use crate::WebState;
use crate::extract::ClientIp;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::lifecycle::invitations::{self, InvitationRequest, Sponsor};
use tessera_core::tenants::ApiCaller;
use tessera_domain::InvitationId;
use tessera_domain::invitation::{Invitation, InvitationStatus};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Sent,
    Registered,
    Expired,
    Revoked,
}

impl From<InvitationStatus> for InvitationState {
    fn from(s: InvitationStatus) -> Self {
        match s {
            InvitationStatus::Sent => Self::Sent,
            InvitationStatus::Registered => Self::Registered,
            InvitationStatus::Expired => Self::Expired,
            InvitationStatus::Revoked => Self::Revoked,
        }
    }
}

impl From<InvitationState> for InvitationStatus {
    fn from(s: InvitationState) -> Self {
        match s {
            InvitationState::Sent => Self::Sent,
            InvitationState::Registered => Self::Registered,
            InvitationState::Expired => Self::Expired,
            InvitationState::Revoked => Self::Revoked,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationFilter {
    /// Only invitations in this state.
    pub status: Option<InvitationState>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    /// The sponsoring user's id.
    pub sponsor: String,
    /// `officer` or `vendor`, decided by the address and the terms.
    pub user_type: String,
    pub offshore: bool,
    pub odc: bool,
    pub seed: bool,
    pub status: InvitationState,
    /// The account made from it, once registered.
    pub registered_user: Option<String>,
    /// How many links were sent (1 + resends).
    pub sends: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl InvitationView {
    fn new(i: &Invitation, now: OffsetDateTime) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email.as_str().to_owned(),
            sponsor: i.sponsor.to_string(),
            user_type: i.user_type.as_str().to_owned(),
            offshore: i.terms.offshore,
            odc: i.terms.odc,
            seed: i.terms.seed,
            status: i.status_at(now).into(),
            registered_user: i.registered_user.map(|u| u.to_string()),
            sends: i.sends,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewInvitation {
    pub email: String,
    /// Works from outside the country.
    #[serde(default)]
    pub offshore: bool,
    /// Works from an Offshore Development Centre (with `offshore`).
    #[serde(default)]
    pub odc: bool,
    /// Device onboarding (SEED) requested; always on for offshore vendors.
    #[serde(default)]
    pub seed: bool,
    /// For API clients (required there): the username of the sponsor, an active public
    /// officer or administrator. A signed-in administrator sponsors their own invitations
    /// and leaves this out.
    pub sponsor: Option<String>,
}

/// Every invitation, newest first (platform administrators).
#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    tag = "invitations",
    params(InvitationFilter, PageQuery),
    responses((status = 200, description = "A page of invitations, newest first", body = Page<InvitationView>))
)]
pub async fn list_invitations(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiQuery(filter): ApiQuery<InvitationFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<InvitationView>>> {
    auth.platform()?;
    // A platform administrator's own sponsor right sees every invitation, as does the
    // operator's; an API client is neither a person nor a sponsor.
    let sponsor = match &auth.0 {
        ApiCaller::Person(who) => who.sponsor().ok_or_else(ApiError::forbidden_platform)?,
        _ => Sponsor::operator_at_cli(),
    };
    let limit = page.limit()?;
    let before = page.after::<InvitationId>()?;
    let found = invitations::list(
        &state.app,
        &sponsor,
        filter.status.map(Into::into),
        before,
        limit + 1,
    )
    .await?;
    let (found, next_cursor) = trim_fetched(found, limit, |i| i.id);
    let now = state.app.clock.now();
    Ok(Json(Page {
        items: found.iter().map(|i| InvitationView::new(i, now)).collect(),
        next_cursor,
    }))
}

/// Invites a person by email (platform administrators). The invitee is emailed a link.
#[utoipa::path(
    post,
    path = "/api/v1/invitations",
    tag = "invitations",
    request_body = NewInvitation,
    responses((status = 201, description = "The invitation, sent", body = InvitationView))
)]
pub async fn create_invitation(
    State(state): State<WebState>,
    auth: ApiAuth,
    ClientIp(ip): ClientIp,
    Idempotent(claim, ApiJson(body)): Idempotent<ApiJson<NewInvitation>>,
) -> Response {
    claim.finish(invite(&state, &auth, ip, body).await).await
}

async fn invite(
    state: &WebState,
    auth: &ApiAuth,
    ip: Option<String>,
    body: NewInvitation,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let platform = auth.platform()?;
    let sponsor = match (&auth.0, body.sponsor.as_deref()) {
        (ApiCaller::Person(who), _) => who.sponsor().ok_or_else(ApiError::forbidden_platform)?,
        (_, Some(name)) => Sponsor::named_for(&state.app, &platform, name).await?,
        (_, None) => {
            return Err(ApiError::field(
                "sponsor",
                "Name the sponsor: the username of an active public officer or administrator.",
            ));
        }
    };
    let request = InvitationRequest {
        email: body.email,
        offshore: body.offshore,
        odc: body.odc,
        seed: body.seed,
    };
    let invitation = invitations::invite(&state.app, &sponsor, &request, ip).await?;
    state.wake_outbox();
    let now = state.app.clock.now();
    Ok((
        StatusCode::CREATED,
        Json(InvitationView::new(&invitation, now)),
    ))
}
