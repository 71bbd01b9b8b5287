//! Identifier-first sign-in (username, then password, then the authenticator code) and
//! sign-out. The onboarding wizard's pages live in `signin_setup`; the flow itself, and
//! which step comes next, in `tessera_core::signin::flow`.

use super::page;
use crate::WebState;
use crate::error::{WebError, safe_next};
use crate::extract::{ClientIp, Session, session_tokens, user_context};
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
use tessera_core::signin::flow::{self, Step, begin, complete, submit_password};
use tessera_core::signin::{resolve_session, sign_out, totp};
use tessera_domain::DomainError;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/", get(start))
        .route("/signin", get(show).post(submit_username))
        .route("/signin/password", get(password_page).post(password_submit))
        .route("/signin/code", get(code_page).post(code_submit))
        .route("/signin/complete", get(finish))
        .route("/signout", post(leave))
}

/// The cookie naming the sign-in in progress.
pub(crate) fn flow_cookie_name(state: &WebState) -> &'static str {
    if state.settings.secure_cookies {
        "__Host-tessera_signin"
    } else {
        "tessera_signin"
    }
}

pub(crate) fn flow_cookie(jar: &CookieJar, state: &WebState) -> String {
    jar.get(flow_cookie_name(state))
        .map(|c| c.value().to_owned())
        .unwrap_or_default()
}

pub(crate) fn cookie(state: &WebState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies)
        // Lax, not Strict: a user arriving from a relying service's "Login with Tessera"
        // link is a cross-site navigation and must still be recognised.
        .same_site(SameSite::Lax)
        .build()
}

/// Sends the browser to the page of `step`.
pub(crate) fn go(step: Step) -> Response {
    Redirect::to(step.path()).into_response()
}

/// Where a page of the flow should be: itself, or a redirect to the real current step
/// (visiting a later step's URL early lands on the current one).
pub(crate) async fn at_step(
    state: &WebState,
    jar: &CookieJar,
    this: Step,
) -> Result<Result<flow::Current, Response>, WebError> {
    let Some(current) = flow::current(&state.app, &flow_cookie(jar, state)).await? else {
        return Ok(Err(Redirect::to("/signin?expired=1").into_response()));
    };
    let step = flow::next_step(&state.app, &current).await?;
    if step != this {
        return Ok(Err(go(step)));
    }
    Ok(Ok(current))
}

/// What a flow step's failure becomes when it is not the step's own message: a form posted
/// out of order changed nothing and goes to the current step; a gone flow starts again.
pub(crate) async fn recover(
    state: &WebState,
    jar: &CookieJar,
    e: CoreError,
) -> Result<Response, WebError> {
    match e {
        CoreError::Domain(DomainError::InvalidState(_)) => {
            match flow::current(&state.app, &flow_cookie(jar, state)).await? {
                Some(c) => Ok(go(flow::next_step(&state.app, &c).await?)),
                None => Ok(Redirect::to("/signin?expired=1").into_response()),
            }
        }
        CoreError::Domain(DomainError::NoLongerValid(_)) => {
            Ok(Redirect::to("/signin?expired=1").into_response())
        }
        CoreError::Domain(DomainError::Unauthenticated) => {
            Ok(Redirect::to("/signin").into_response())
        }
        other => Err(other.into()),
    }
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInQuery {
    next: String,
    setup: String,
    expired: String,
    reset: String,
    /// Set when an app demands a fresh sign-in (prompt=login, max_age) from a signed-in
    /// user, or when they choose "use another account".
    reauth: String,
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
    } else if !q.expired.is_empty() {
        "Your sign-in took too long or was finished elsewhere. Start again."
    } else if !q.reset.is_empty() {
        "Your password was changed and every session ended. Sign in with the new password."
    } else {
        ""
    };
    username_form(&state, StatusCode::OK, &q.login_hint, notice, "", next)
}

fn username_form(
    state: &WebState,
    status: StatusCode,
    username: &str,
    notice: &str,
    error: &str,
    next: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "signin.html",
        context! {
            page_title => "Sign in",
            values => context!{ username },
            errors => context!{ username => error },
            form_error => if error.is_empty() { "" } else { "Check the field marked below." },
            notice,
            next,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UsernameForm {
    username: String,
    /// Accepted with the username in one post (scripts, older forms): the same checks run.
    password: String,
    next: String,
}

async fn submit_username(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<UsernameForm>,
) -> Result<Response, WebError> {
    let next = safe_next(&f.next).unwrap_or("").to_owned();
    let secret = match begin(&state.app, &f.username, &next).await {
        Ok(s) => s,
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            return username_form(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.username,
                "",
                e.get("username").unwrap_or("Enter your username."),
                &next,
            );
        }
        Err(other) => return Err(other.into()),
    };
    let value = secret.expose().to_owned();
    let jar = jar.add(cookie(&state, flow_cookie_name(&state), value.clone()));
    if f.password.is_empty() {
        return Ok((jar, go(Step::Password)).into_response());
    }
    match submit_password(&state.app, &value, &f.password, ip).await {
        Ok(step) => Ok((jar, go(step)).into_response()),
        Err(e) => {
            let r = password_error(&state, &jar, &f.username, e).await?;
            Ok((jar, r).into_response())
        }
    }
}

fn password_form(
    state: &WebState,
    status: StatusCode,
    username: &str,
    error: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "signin_password.html",
        context! {
            page_title => "Enter your password",
            username,
            form_error => error,
        },
    )
}

async fn password_error(
    state: &WebState,
    jar: &CookieJar,
    username: &str,
    e: CoreError,
) -> Result<Response, WebError> {
    match e {
        CoreError::Domain(DomainError::Unauthenticated) => password_form(
            state,
            StatusCode::UNAUTHORIZED,
            username,
            "Incorrect username or password.",
        ),
        CoreError::Domain(DomainError::TooManyAttempts(m)) => {
            password_form(state, StatusCode::TOO_MANY_REQUESTS, username, &m)
        }
        other => recover(state, jar, other).await,
    }
}

async fn password_page(
    State(state): State<WebState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    match at_step(&state, &jar, Step::Password).await? {
        Ok(current) => password_form(&state, StatusCode::OK, &current.flow.username, ""),
        Err(r) => Ok(r),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    password: String,
}

async fn password_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    let Some(current) = flow::current(&state.app, &cookie).await? else {
        return Ok(Redirect::to("/signin?expired=1").into_response());
    };
    match submit_password(&state.app, &cookie, &f.password, ip).await {
        Ok(step) => Ok(go(step)),
        Err(e) => password_error(&state, &jar, &current.flow.username, e).await,
    }
}

async fn code_form(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    error: &str,
) -> Result<Response, WebError> {
    let passkey_offered = super::passkeys::offer_on_code_page(state, jar).await;
    page(
        state,
        status,
        "signin_code.html",
        context! { page_title => "Enter your code", errors => context!{ code => error }, form_error => if error.is_empty() { "" } else { "Check the field marked below." }, passkey_offered },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MethodQuery {
    /// `totp` when the user chose "use another method" instead of push.
    method: String,
}

/// The second factor: push approval when the account has it (preferred), else the code.
async fn code_page(
    State(state): State<WebState>,
    jar: CookieJar,
    Query(q): Query<MethodQuery>,
) -> Result<Response, WebError> {
    match at_step(&state, &jar, Step::SecondFactor).await? {
        Ok(current) => {
            let push = tessera_core::signin::push_step::prefers_push(&state.app, &current).await?;
            if push && q.method != "totp" {
                return Ok(Redirect::to("/signin/push").into_response());
            }
            code_form(&state, &jar, StatusCode::OK, "").await
        }
        Err(r) => Ok(r),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CodeForm {
    pub code: String,
}

async fn code_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    match totp::verify_in_flow(&state.app, &cookie, &f.code, ip).await {
        Ok(step) => Ok(go(step)),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            code_form(
                &state,
                &jar,
                StatusCode::UNPROCESSABLE_ENTITY,
                e.get("code").unwrap_or("That code is not right."),
            )
            .await
        }
        Err(CoreError::Domain(DomainError::TooManyAttempts(m))) => {
            code_form(&state, &jar, StatusCode::TOO_MANY_REQUESTS, &m).await
        }
        Err(other) => recover(&state, &jar, other).await,
    }
}

/// The end of the flow: the session cookie, then back where the sign-in began. The new
/// account goes first in the browser's list; an older session of the same account ends.
async fn finish(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let cookie_value = flow_cookie(&jar, &state);
    let done = match complete(&state.app, &cookie_value, ip.clone()).await {
        Ok(d) => d,
        Err(CoreError::Domain(DomainError::InvalidState(_))) => {
            return match flow::current(&state.app, &cookie_value).await? {
                Some(c) => Ok(go(flow::next_step(&state.app, &c).await?)),
                None => Ok(Redirect::to("/signin?expired=1").into_response()),
            };
        }
        Err(other) => return recover(&state, &jar, other).await,
    };
    let mut kept = vec![done.session.expose().to_owned()];
    for token in session_tokens(&jar, &state) {
        match resolve_session(&state.app, &token).await? {
            Some(old) if old.user.id == done.user.id => {
                // Signing in again as the same person replaces their old session. The
                // new one is committed: a failure here must not turn the sign-in into an
                // error page (the old session then simply expires).
                match sign_out(&state.app, &old, ip.clone()).await {
                    Ok(()) => state.wake_outbox(),
                    Err(e) => tracing::warn!(error = %e, "could not end the previous session"),
                }
            }
            Some(other) if other.is_fully_signed_in() && kept.len() < 5 => kept.push(token),
            _ => {}
        }
    }
    let target = if !done.return_to.is_empty() {
        // Signing in from an app's request is choosing this account for it.
        match resolve_session(&state.app, done.session.expose()).await? {
            Some(w) => super::oidc::authorize::with_chosen_proof(&state, &done.return_to, &w),
            None => done.return_to.clone(),
        }
    } else if done.user.platform_admin {
        "/admin".to_owned()
    } else {
        "/".to_owned()
    };
    let jar = jar
        .remove(
            Cookie::build((flow_cookie_name(&state), ""))
                .path("/")
                .build(),
        )
        .add(cookie(&state, state.session_cookie_name(), kept.join(".")));
    Ok((jar, Redirect::to(&target)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignOutForm {
    /// "all" signs out every account in this browser.
    scope: String,
}

/// Signs out the current account (or all of them); other accounts stay signed in.
async fn leave(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<SignOutForm>,
) -> Result<Response, WebError> {
    let tokens = session_tokens(&jar, &state);
    let all = f.scope == "all";
    let mut remaining = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if i == 0 || all {
            if let Some(w) = resolve_session(&state.app, token).await? {
                sign_out(&state.app, &w, ip.clone()).await?;
            }
        } else {
            remaining.push(token.clone());
        }
    }
    // Back-channel logout notices were queued; send them now.
    state.wake_outbox();
    let jar = if remaining.is_empty() {
        jar.remove(
            Cookie::build((state.session_cookie_name(), ""))
                .path("/")
                .build(),
        )
    } else {
        jar.add(cookie(
            &state,
            state.session_cookie_name(),
            remaining.join("."),
        ))
    };
    let target = if remaining.is_empty() { "/signin" } else { "/" };
    Ok((jar, Redirect::to(target)).into_response())
}
