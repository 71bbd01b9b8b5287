//! Portal sign-in and sign-out with a server-side session cookie.

use super::page;
use crate::WebState;
use crate::error::{WebError, safe_next};
use crate::extract::{AnySession, ClientIp, Session, user_context};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::signin::{sign_in, sign_out};
use tessera_domain::DomainError;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/", get(start))
        .route("/signin", get(show).post(submit))
        .route("/signout", post(leave))
}

async fn start(State(state): State<WebState>, who: Option<Session>) -> Result<Response, WebError> {
    match who {
        None => Ok(Redirect::to("/signin").into_response()),
        Some(Session(w)) if w.user.platform_admin => Ok(Redirect::to("/admin").into_response()),
        Some(Session(w)) => page(
            &state,
            StatusCode::OK,
            "home.html",
            context! { page_title => "Welcome", current_user => user_context(&w) },
        ),
    }
}

#[derive(Deserialize)]
struct SignInQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    setup: String,
    /// Set when an app demands a fresh sign-in (prompt=login, max_age) from a signed-in user.
    #[serde(default)]
    reauth: String,
    #[serde(default)]
    login_hint: String,
}

async fn show(
    State(state): State<WebState>,
    who: Option<Session>,
    Query(q): Query<SignInQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(&q.next).unwrap_or("");
    if who.is_some() && q.reauth.is_empty() {
        return Ok(Redirect::to(if next.is_empty() { "/" } else { next }).into_response());
    }
    let notice = if q.setup == "done" {
        "Administrator created. Sign in with your username and password."
    } else {
        ""
    };
    form(&state, StatusCode::OK, &q.login_hint, notice, "", next)
}

fn form(
    state: &WebState,
    status: StatusCode,
    username: &str,
    notice: &str,
    form_error: &str,
    next: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "signin.html",
        context! { page_title => "Sign in", values => context!{ username }, notice, form_error, next },
    )
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    previous: Option<AnySession>,
    Form(c): Form<Credentials>,
) -> Result<Response, WebError> {
    let next = safe_next(&c.next).unwrap_or("").to_owned();
    match sign_in(&state.app, &c.username, &c.password, ip.clone()).await {
        Ok((secret, user)) => {
            // The new session replaces the old one: end it properly, so a copy of the old
            // cookie dies and the apps it reached hear of it.
            // The new session is already committed: a failure here must not turn the
            // successful sign-in into an error page (the old session then simply expires).
            if let Some(AnySession(old)) = previous {
                match sign_out(&state.app, &old, ip).await {
                    Ok(()) => state.wake_outbox(),
                    Err(e) => tracing::warn!(error = %e, "could not end the previous session"),
                }
            }
            let cookie = Cookie::build((state.session_cookie_name(), secret.expose().to_owned()))
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies)
                // Lax, not Strict: a user arriving from a relying service's "Login with
                // Tessera" link is a cross-site navigation and must still be recognised.
                .same_site(SameSite::Lax)
                .build();
            let target = if !next.is_empty() {
                next
            } else if user.platform_admin {
                "/admin".to_owned()
            } else {
                "/".to_owned()
            };
            Ok((jar.add(cookie), Redirect::to(&target)).into_response())
        }
        Err(CoreError::Domain(DomainError::Unauthenticated)) => form(
            &state,
            StatusCode::UNAUTHORIZED,
            &c.username,
            "",
            "Incorrect username or password.",
            &next,
        ),
        Err(other) => Err(other.into()),
    }
}

async fn leave(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    who: Option<AnySession>,
) -> Result<Response, WebError> {
    if let Some(AnySession(w)) = who {
        sign_out(&state.app, &w, ip).await?;
        // Back-channel logout notices were queued; send them now.
        state.wake_outbox();
    }
    let removal = Cookie::build((state.session_cookie_name(), ""))
        .path("/")
        .build();
    Ok((jar.remove(removal), Redirect::to("/signin")).into_response())
}
