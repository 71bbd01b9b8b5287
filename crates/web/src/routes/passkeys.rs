//! Passkey pages and their JSON ceremony endpoints: "My account" lists, adds and removes
//! passkeys; the sign-in page offers passwordless sign-in (conditional UI on the username
//! field, or a button); the second-factor page and the wizard offer a passkey; and the
//! step-up page adds a passkey to a session an app requires it of. `static/passkey.js`
//! runs the browser half (same-origin fetches, so the CSRF layer lets them through); the
//! pages work without script except for passkeys themselves.

use super::signin::{at_step, cookie, flow_cookie, flow_cookie_name};
use super::{page, when};
use crate::WebState;
use crate::error::{WebError, safe_next, urlencode};
use crate::extract::{ClientIp, Session, user_context};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::passkeys::{self, Started};
use tessera_core::signin::flow::Step;
use tessera_core::signin::passkey_step;
use tessera_domain::{CredentialId, DomainError};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/account/passkeys", get(account_page))
        .route("/account/passkeys/start", post(account_start))
        .route("/account/passkeys/finish", post(account_finish))
        .route("/account/passkeys/{id}/remove", post(account_remove))
        .route("/signin/passkey/start", post(passwordless_start))
        .route("/signin/passkey/finish", post(passwordless_finish))
        .route("/signin/passkey/factor/start", post(factor_start))
        .route("/signin/passkey/factor/finish", post(factor_finish))
        .route("/signin/setup/passkey/start", post(enrol_start))
        .route("/signin/setup/passkey/finish", post(enrol_finish))
        .route("/signin/step-up", get(step_up_page))
        .route("/signin/step-up/start", post(step_up_start))
        .route("/signin/step-up/finish", post(step_up_finish))
}

/// What the script posts to finish a ceremony.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Finish {
    token: String,
    credential: serde_json::Value,
    /// The passkey's name (registration).
    name: String,
    /// Where to go afterwards (a local path).
    next: String,
}

fn started(s: Started) -> Response {
    Json(s).into_response()
}

/// Where the script sends the browser next.
fn go_to(path: &str) -> Response {
    Json(serde_json::json!({ "redirect": path })).into_response()
}

/// A ceremony's failure as JSON for the script to show; other errors map as usual.
fn failed(e: CoreError) -> Result<Response, WebError> {
    let (status, message) = match e {
        CoreError::Domain(DomainError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .get("passkey")
                .unwrap_or("The passkey could not be verified.")
                .to_owned(),
        ),
        CoreError::Domain(DomainError::NoLongerValid(_)) => (
            StatusCode::GONE,
            "The passkey request expired or was used already. Try again.".to_owned(),
        ),
        CoreError::Domain(DomainError::InvalidState(m)) => (StatusCode::CONFLICT, m),
        CoreError::Domain(DomainError::Unauthenticated) => (
            StatusCode::UNAUTHORIZED,
            "That passkey cannot sign in. Use your username and password.".to_owned(),
        ),
        CoreError::Domain(DomainError::TooManyAttempts(m)) => (StatusCode::TOO_MANY_REQUESTS, m),
        other => return Err(other.into()),
    };
    Ok((status, Json(serde_json::json!({ "error": message }))).into_response())
}

fn reply(r: Result<Response, CoreError>) -> Result<Response, WebError> {
    match r {
        Ok(r) => Ok(r),
        Err(e) => failed(e),
    }
}

// ---- My account ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

async fn account_view(
    state: &WebState,
    who: &tessera_core::signin::SignedIn,
    status: StatusCode,
    notice: &str,
    error: &str,
) -> Result<Response, WebError> {
    let keys = passkeys::passkeys_of(&state.app, who.user.id).await?;
    page(
        state,
        status,
        "account_passkeys.html",
        context! {
            page_title => "Passkeys",
            current_user => user_context(who),
            notice,
            form_error => error,
            passkeys => keys.iter().map(|k| context! {
                id => k.id.to_string(),
                name => k.name.clone(),
                added_at => when(k.created_at),
                last_used_at => k.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            }).collect::<Vec<_>>(),
        },
    )
}

async fn account_page(
    State(state): State<WebState>,
    Session(who): Session,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let notice = match q.notice.as_str() {
        "added" => "The passkey was added. You can now sign in with it.",
        "removed" => "The passkey was removed.",
        _ => "",
    };
    account_view(&state, &who, StatusCode::OK, notice, "").await
}

async fn account_start(
    State(state): State<WebState>,
    Session(who): Session,
) -> Result<Response, WebError> {
    reply(
        passkeys::start_registration(&state.app, &who.user)
            .await
            .map(started),
    )
}

async fn account_finish(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    reply(
        passkeys::finish_registration(&state.app, &who, &f.token, &f.credential, &f.name, ip)
            .await
            .map(|_| go_to("/account/passkeys?notice=added")),
    )
}

async fn account_remove(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: CredentialId = id.parse().map_err(|_| WebError::NotFound)?;
    match passkeys::remove(&state.app, &who, id, ip).await {
        Ok(()) => Ok(Redirect::to("/account/passkeys?notice=removed").into_response()),
        Err(CoreError::Domain(DomainError::InvalidState(m))) => {
            account_view(&state, &who, StatusCode::CONFLICT, "", &m).await
        }
        Err(other) => Err(other.into()),
    }
}

// ---- sign-in ------------------------------------------------------------------------------

async fn passwordless_start(State(state): State<WebState>) -> Result<Response, WebError> {
    reply(
        passkey_step::start_passwordless(&state.app)
            .await
            .map(started),
    )
}

async fn passwordless_finish(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    let next = safe_next(&f.next).unwrap_or("");
    match passkey_step::finish_passwordless(&state.app, &f.token, &f.credential, next, ip).await {
        Ok(done) => {
            let jar = jar.add(cookie(
                &state,
                flow_cookie_name(&state),
                done.flow.expose().to_owned(),
            ));
            Ok((jar, go_to(done.step.path())).into_response())
        }
        Err(e) => failed(e),
    }
}

async fn factor_start(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    reply(
        passkey_step::start_second_factor(&state.app, &flow_cookie(&jar, &state))
            .await
            .map(started),
    )
}

async fn factor_finish(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    reply(
        passkey_step::finish_second_factor(&state.app, &cookie, &f.token, &f.credential, ip)
            .await
            .map(|step| go_to(step.path())),
    )
}

async fn enrol_start(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    reply(
        passkey_step::start_enrolment(&state.app, &flow_cookie(&jar, &state))
            .await
            .map(started),
    )
}

async fn enrol_finish(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    reply(
        passkey_step::finish_enrolment(&state.app, &cookie, &f.token, &f.credential, &f.name, ip)
            .await
            .map(|step| go_to(step.path())),
    )
}

/// Whether the second-factor page should offer a passkey.
pub(crate) async fn offer_on_code_page(state: &WebState, jar: &CookieJar) -> bool {
    match at_step(state, jar, Step::SecondFactor).await {
        Ok(Ok(current)) => match current.proven_user() {
            Ok(u) => passkey_step::offers_passkey(&state.app, u.id)
                .await
                .unwrap_or(false),
            Err(_) => false,
        },
        _ => false,
    }
}

// ---- step-up ------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct StepUpQuery {
    next: String,
}

/// An app requires phishing-resistant MFA: a passkey of the signed-in account adds it.
async fn step_up_page(
    State(state): State<WebState>,
    who: Option<Session>,
    Query(q): Query<StepUpQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(&q.next).unwrap_or("/").to_owned();
    let Some(Session(who)) = who else {
        return Ok(Redirect::to(&format!("/signin?next={}", urlencode(&next))).into_response());
    };
    if passkeys::is_phishing_resistant(&who) {
        return Ok(Redirect::to(&next).into_response());
    }
    let has_passkey = !passkeys::passkeys_of(&state.app, who.user.id)
        .await?
        .is_empty();
    page(
        &state,
        StatusCode::OK,
        "signin_step_up.html",
        context! {
            page_title => "Confirm with a passkey",
            current_user => user_context(&who),
            next,
            has_passkey,
        },
    )
}

async fn step_up_start(
    State(state): State<WebState>,
    Session(who): Session,
) -> Result<Response, WebError> {
    reply(
        passkeys::start_authentication(&state.app, who.user.id)
            .await
            .map(started),
    )
}

async fn step_up_finish(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    let next = safe_next(&f.next).unwrap_or("/").to_owned();
    reply(
        passkeys::finish_step_up(&state.app, &who, &f.token, &f.credential, ip)
            .await
            .map(|()| go_to(&next)),
    )
}
