//! The device page (RFC 8628 §3.3): a signed-in user enters the code a device shows, sees
//! which app is asking, and approves or denies.

use super::page;
use crate::WebState;
use crate::error::WebError;
use crate::extract::{ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::oidc::device::{decide, normalize_user_code, pending};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/device", get(enter).post(lookup))
        .route("/device/decide", post(decision))
}

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    user_code: String,
}

async fn enter(
    State(state): State<WebState>,
    Session(who): Session,
    Query(q): Query<CodeQuery>,
) -> Result<Response, WebError> {
    if !q.user_code.is_empty() {
        return confirm_or_retry(&state, &who, &q.user_code).await;
    }
    page(
        &state,
        StatusCode::OK,
        "device.html",
        context! { page_title => "Connect a device", current_user => user_context(&who), user_code => "", error => "" },
    )
}

async fn lookup(
    State(state): State<WebState>,
    Session(who): Session,
    Form(f): Form<CodeQuery>,
) -> Result<Response, WebError> {
    confirm_or_retry(&state, &who, &f.user_code).await
}

async fn confirm_or_retry(
    state: &WebState,
    who: &tessera_core::signin::SignedIn,
    code: &str,
) -> Result<Response, WebError> {
    match pending(&state.app, code).await? {
        Some((grant, client)) => page(
            state,
            StatusCode::OK,
            "device_confirm.html",
            context! {
                page_title => "Allow this device?",
                current_user => user_context(who),
                app_name => client.name,
                user_code => grant.user_code,
                scope => grant.scope,
            },
        ),
        None => page(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "device.html",
            context! {
                page_title => "Connect a device",
                current_user => user_context(who),
                user_code => normalize_user_code(code),
                error => "This code is not valid. Check it against the device, or start again there: codes expire after 10 minutes.",
            },
        ),
    }
}

#[derive(Deserialize)]
struct Decision {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    decision: String,
}

async fn decision(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<Decision>,
) -> Result<Response, WebError> {
    let approve = f.decision == "approve";
    let done = decide(&state.app, &who, &f.user_code, approve, ip).await?;
    let (title, message) = match (done, approve) {
        (true, true) => (
            "Device connected",
            "You can close this page and return to your device.",
        ),
        (true, false) => (
            "Request denied",
            "The device was not given access. You can close this page.",
        ),
        (false, _) => (
            "Code no longer valid",
            "This code has expired or was already used. Start again on the device.",
        ),
    };
    page(
        &state,
        if done {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        "device_done.html",
        context! { page_title => title, current_user => user_context(&who), title, message },
    )
}
