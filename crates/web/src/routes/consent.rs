//! The consent decision (a portal form) and "Apps you allowed" in the user's account.

use super::page;
use crate::WebState;
use crate::error::WebError;
use crate::extract::{ClientIp, Session, user_context};
use crate::routes::oidc::send_reply;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::account::{allowed_apps, revoke_app};
use tessera_core::oidc::authorize::{
    AuthorizeParams, Refusal, SessionCheck, check_session, decide_consent, issue_code, validate,
};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/authorize/consent", post(decide))
        .route("/account/apps", get(apps))
        .route("/account/apps/revoke", post(revoke))
}

#[derive(Deserialize)]
struct Decision {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(default)]
    decision: String,
}

async fn decide(
    State(state): State<WebState>,
    Session(who): Session,
    Form(d): Form<Decision>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let v = match validate(app, &d.params).await {
        Ok(v) => v,
        Err(Refusal::Redirect(r)) => return send_reply(&state, r),
        Err(Refusal::Page(_)) => return Err(WebError::NotFound),
        Err(Refusal::Core(e)) => return Err(e.into()),
    };
    // The consent form can be replayed: the session must still satisfy the request.
    if check_session(app, &v, Some(&who)) != SessionCheck::Proceed {
        return Err(WebError::SignInRequired {
            next: String::new(),
        });
    }
    match decide_consent(app, &v, &who, d.decision == "allow").await? {
        Some(refused) => send_reply(&state, refused),
        None => send_reply(&state, issue_code(app, &v, &who).await?),
    }
}

async fn apps(State(state): State<WebState>, Session(who): Session) -> Result<Response, WebError> {
    let list: Vec<_> = allowed_apps(&state.app, &who)
        .await?
        .into_iter()
        .map(|(client, consent)| {
            context! {
                client_id => client.client_id,
                name => client.name,
                scope => consent.scope,
                granted_at => consent.granted_at.date().to_string(),
            }
        })
        .collect();
    page(
        &state,
        StatusCode::OK,
        "account_apps.html",
        context! { page_title => "Apps you allowed", current_user => user_context(&who), apps => list },
    )
}

#[derive(Deserialize)]
struct Revoke {
    #[serde(default)]
    client_id: String,
}

async fn revoke(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(r): Form<Revoke>,
) -> Result<Response, WebError> {
    revoke_app(&state.app, &who, &r.client_id, ip).await?;
    Ok(Redirect::to("/account/apps").into_response())
}
