//! "Forgot your password?": username → SMS code → authenticator code → new password.
//! A cookie of its own names the reset, so it never mixes with a sign-in in progress.

use super::{field_errors, page};
use crate::WebState;
use crate::error::WebError;
use crate::extract::ClientIp;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::signin::reset::{self, ResetStep};
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/signin/forgot", get(start_page).post(start))
        .route("/signin/forgot/code", get(sms_page).post(sms_submit))
        .route(
            "/signin/forgot/authenticator",
            get(totp_page).post(totp_submit),
        )
        .route(
            "/signin/forgot/password",
            get(password_page).post(password_submit),
        )
}

fn cookie_name(state: &WebState) -> &'static str {
    if state.settings.secure_cookies {
        "__Host-tessera_reset"
    } else {
        "tessera_reset"
    }
}

fn reset_cookie(jar: &CookieJar, state: &WebState) -> String {
    jar.get(cookie_name(state))
        .map(|c| c.value().to_owned())
        .unwrap_or_default()
}

fn go(step: ResetStep) -> Response {
    Redirect::to(step.path()).into_response()
}

fn start_again() -> Response {
    Redirect::to("/signin/forgot?expired=1").into_response()
}

/// Renders the page of `this` step, or sends the browser to the reset's real step.
async fn at(
    state: &WebState,
    jar: &CookieJar,
    this: ResetStep,
) -> Result<Result<(), Response>, WebError> {
    match reset::load(&state.app, &reset_cookie(jar, state)).await {
        Ok(cur) => {
            let step = reset::step_of(&cur);
            Ok(if step == this { Ok(()) } else { Err(go(step)) })
        }
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => Ok(Err(start_again())),
        Err(other) => Err(other.into()),
    }
}

fn form(
    state: &WebState,
    status: StatusCode,
    template: &str,
    title: &str,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        template,
        context! {
            page_title => title,
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the field marked below." },
            notice,
            values => context! { username => "" },
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StartQuery {
    expired: String,
}

async fn start_page(
    State(state): State<WebState>,
    axum::extract::Query(q): axum::extract::Query<StartQuery>,
) -> Result<Response, WebError> {
    let notice = if q.expired.is_empty() {
        ""
    } else {
        "Your reset took too long or was finished. Start again."
    };
    form(
        &state,
        StatusCode::OK,
        "reset_start.html",
        "Reset your password",
        &FieldErrors::new(),
        notice,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UsernameForm {
    username: String,
}

async fn start(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<UsernameForm>,
) -> Result<Response, WebError> {
    match reset::start(&state.app, &f.username, ip).await {
        Ok(secret) => {
            state.wake_outbox();
            let c = Cookie::build((cookie_name(&state), secret.expose().to_owned()))
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies)
                .same_site(SameSite::Strict)
                .build();
            Ok((jar.add(c), go(ResetStep::SmsCode)).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => form(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset_start.html",
            "Reset your password",
            &e,
            "",
        ),
        Err(other) => Err(other.into()),
    }
}

async fn sms_page(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    if let Err(r) = at(&state, &jar, ResetStep::SmsCode).await? {
        return Ok(r);
    }
    form(
        &state,
        StatusCode::OK,
        "reset_code.html",
        "Enter the code from the SMS",
        &FieldErrors::new(),
        "",
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// Maps a step's failure: the same page with the message, or a restart.
fn failed(
    state: &WebState,
    e: CoreError,
    template: &str,
    title: &str,
) -> Result<Response, WebError> {
    match e {
        CoreError::Domain(DomainError::Invalid(errors)) => form(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            template,
            title,
            &errors,
            "",
        ),
        CoreError::Domain(DomainError::TooManyAttempts(m)) => {
            let mut errors = FieldErrors::new();
            errors.add("code", m);
            form(
                state,
                StatusCode::TOO_MANY_REQUESTS,
                template,
                title,
                &errors,
                "",
            )
        }
        CoreError::Domain(DomainError::NoLongerValid(_)) => Ok(start_again()),
        other => Err(other.into()),
    }
}

async fn sms_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match reset::verify_sms(&state.app, &reset_cookie(&jar, &state), &f.code, ip).await {
        Ok(step) => Ok(go(step)),
        Err(e) => failed(&state, e, "reset_code.html", "Enter the code from the SMS"),
    }
}

async fn totp_page(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    if let Err(r) = at(&state, &jar, ResetStep::Authenticator).await? {
        return Ok(r);
    }
    form(
        &state,
        StatusCode::OK,
        "reset_authenticator.html",
        "Enter your authenticator code",
        &FieldErrors::new(),
        "",
    )
}

async fn totp_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match reset::verify_authenticator(&state.app, &reset_cookie(&jar, &state), &f.code, ip).await {
        Ok(step) => Ok(go(step)),
        Err(e) => failed(
            &state,
            e,
            "reset_authenticator.html",
            "Enter your authenticator code",
        ),
    }
}

async fn password_page(
    State(state): State<WebState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    if let Err(r) = at(&state, &jar, ResetStep::NewPassword).await? {
        return Ok(r);
    }
    form(
        &state,
        StatusCode::OK,
        "reset_password.html",
        "Choose a new password",
        &FieldErrors::new(),
        "",
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    new_password: String,
    confirm_password: String,
}

async fn password_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let cookie = reset_cookie(&jar, &state);
    match reset::set_password(
        &state.app,
        &cookie,
        &f.new_password,
        &f.confirm_password,
        ip,
    )
    .await
    {
        Ok(()) => {
            state.wake_outbox();
            let jar = jar
                .remove(Cookie::build((cookie_name(&state), "")).path("/").build())
                .remove(
                    Cookie::build((state.session_cookie_name(), ""))
                        .path("/")
                        .build(),
                );
            Ok((jar, Redirect::to("/signin?reset=1")).into_response())
        }
        Err(CoreError::Domain(DomainError::InvalidState(_))) => {
            Ok(Redirect::to("/signin/forgot/code").into_response())
        }
        Err(e) => failed(&state, e, "reset_password.html", "Choose a new password"),
    }
}
