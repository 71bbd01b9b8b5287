//! Sponsors' invitation pages: invite by email, see each invitation's status, resend or
//! revoke. Platform administrators see everyone's.

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::lifecycle::invitations::{
    InvitationRequest, Sponsor, invite, list, resend, revoke,
};
use tessera_core::signin::SignedIn;
use tessera_domain::invitation::{Invitation, InvitationStatus};
use tessera_domain::{DomainError, FieldErrors, InvitationId};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/invitations", get(index).post(create))
        .route("/invitations/{id}/resend", post(resend_one))
        .route("/invitations/{id}/revoke", post(revoke_one))
}

fn sponsor(who: &SignedIn) -> Result<Sponsor, WebError> {
    who.sponsor().ok_or(WebError::Forbidden)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    status: String,
    before: String,
    notice: String,
}

fn row(i: &Invitation, now: time::OffsetDateTime) -> minijinja::Value {
    let status = i.status_at(now);
    context! {
        id => i.id.to_string(),
        email => i.email.as_str(),
        status => status.as_str(),
        offshore => i.terms.offshore,
        seed => i.terms.seed,
        sends => i.sends,
        created_at => when(i.created_at),
        expires_at => when(i.expires_at),
        may_resend => i.may_resend(),
        may_revoke => i.may_revoke(),
    }
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct NewInvitation {
    email: String,
    offshore: Option<String>,
    odc: Option<String>,
    seed: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &WebState,
    who: &SignedIn,
    sponsor: &Sponsor,
    status: StatusCode,
    q: &ListQuery,
    values: &NewInvitation,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    let filter = match q.status.as_str() {
        "" => None,
        s => Some(InvitationStatus::parse(s).ok_or(WebError::NotFound)?),
    };
    let before = match q.before.as_str() {
        "" => None,
        s => Some(s.parse::<InvitationId>().map_err(|_| WebError::NotFound)?),
    };
    let now = state.app.clock.now();
    let items = list(&state.app, sponsor, filter, before, 50).await?;
    let next = (items.len() == 50)
        .then(|| items.last().map(|i| i.id.to_string()))
        .flatten()
        .unwrap_or_default();
    page(
        state,
        status,
        "invitations.html",
        context! {
            page_title => "Invitations",
            current_user => user_context(who),
            invitations => items.iter().map(|i| row(i, now)).collect::<Vec<_>>(),
            filter => q.status.clone(),
            next,
            values => context! {
                email => values.email.clone(),
                offshore => values.offshore.is_some(),
                odc => values.odc.is_some(),
                seed => values.seed.is_some(),
            },
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the field marked below." },
            notice,
        },
    )
}

async fn index(
    State(state): State<WebState>,
    Session(who): Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let s = sponsor(&who)?;
    let notice = match q.notice.as_str() {
        "sent" => "Invitation sent.",
        "resent" => "A new link was sent; the previous link no longer works.",
        "revoked" => "Invitation revoked; its link no longer works.",
        _ => "",
    };
    render(
        &state,
        &who,
        &s,
        StatusCode::OK,
        &q,
        &NewInvitation::default(),
        &FieldErrors::new(),
        notice,
    )
    .await
}

async fn create(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<NewInvitation>,
) -> Result<Response, WebError> {
    let s = sponsor(&who)?;
    let request = InvitationRequest {
        email: f.email.clone(),
        offshore: f.offshore.is_some(),
        odc: f.odc.is_some(),
        seed: f.seed.is_some(),
    };
    match invite(&state.app, &s, &request, ip).await {
        Ok(_) => {
            state.wake_outbox();
            Ok(Redirect::to("/invitations?notice=sent").into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            render(
                &state,
                &who,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &ListQuery::default(),
                &f,
                &errors,
                "",
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

fn parse_id(id: &str) -> Result<InvitationId, WebError> {
    id.parse().map_err(|_| WebError::NotFound)
}

async fn resend_one(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let s = sponsor(&who)?;
    resend(&state.app, &s, parse_id(&id)?, ip).await?;
    state.wake_outbox();
    Ok(Redirect::to("/invitations?notice=resent").into_response())
}

async fn revoke_one(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let s = sponsor(&who)?;
    revoke(&state.app, &s, parse_id(&id)?, ip).await?;
    Ok(Redirect::to("/invitations?notice=revoked").into_response())
}
