//! "Get started": officer self-registration (email → code → short form) and the page where
//! the new officer follows their request with the low-assurance session it opened.

use super::{country_codes, field_errors, page};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{AnySession, ClientIp};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::lifecycle::form::RegistrationForm;
use tessera_core::lifecycle::provision::human_date;
use tessera_core::lifecycle::self_registration::{complete, current, resend, start, verify};
use tessera_domain::self_registration::{MAX_CODE_ATTEMPTS, SelfRegistration};
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/get-started", get(email_page).post(email_submit))
        .route("/get-started/code", get(code_page).post(code_submit))
        .route("/get-started/resend", post(code_resend))
        .route(
            "/get-started/details",
            get(details_page).post(details_submit),
        )
        .route("/my-request", get(my_request))
}

/// The cookie naming the browser's request. Strict: it is only ever used on these pages.
fn cookie_name(state: &WebState) -> &'static str {
    if state.settings.secure_cookies {
        "__Host-tessera_signup"
    } else {
        "tessera_signup"
    }
}

fn request_cookie(state: &WebState, value: String) -> Cookie<'static> {
    Cookie::build((cookie_name(state), value))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies)
        .same_site(SameSite::Strict)
        .build()
}

async fn request_of(
    state: &WebState,
    jar: &CookieJar,
) -> Result<Option<SelfRegistration>, WebError> {
    match jar.get(cookie_name(state)) {
        Some(c) => Ok(current(&state.app, c.value()).await?),
        None => Ok(None),
    }
}

fn start_again() -> Response {
    Redirect::to("/get-started?again=1").into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    email: String,
    again: String,
}

fn email_form(
    state: &WebState,
    status: StatusCode,
    email: &str,
    error: &str,
    notice: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "get_started.html",
        context! {
            page_title => "Get started",
            values => context! { email },
            errors => context! { email => error },
            form_error => if error.is_empty() { "" } else { "Check the field marked below." },
            notice,
        },
    )
}

async fn email_page(
    State(state): State<WebState>,
    axum::extract::Query(q): axum::extract::Query<EmailForm>,
) -> Result<Response, WebError> {
    let notice = if q.again.is_empty() {
        ""
    } else {
        "Your previous request can no longer be used. Enter your email address to start again."
    };
    email_form(&state, StatusCode::OK, "", "", notice)
}

async fn email_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    match start(&state.app, &f.email, ip).await {
        Ok(secret) => {
            state.wake_outbox();
            let jar = jar.add(request_cookie(&state, secret.expose().to_owned()));
            Ok((jar, Redirect::to("/get-started/code")).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => email_form(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f.email,
            e.get("email").unwrap_or("Check this address."),
            "",
        ),
        Err(other) => Err(other.into()),
    }
}

fn code_form(
    state: &WebState,
    status: StatusCode,
    request: &SelfRegistration,
    error: &str,
    notice: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "get_started_code.html",
        context! {
            page_title => "Enter your code",
            email => request.email.as_str(),
            errors => context! { code => error },
            form_error => if error.is_empty() { "" } else { "Check the field marked below." },
            notice,
        },
    )
}

async fn code_page(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    match request_of(&state, &jar).await? {
        Some(r) if r.verified_at.is_some() && r.completed_user.is_none() => {
            Ok(Redirect::to("/get-started/details").into_response())
        }
        Some(r) if r.completed_user.is_none() => code_form(&state, StatusCode::OK, &r, "", ""),
        _ => Ok(start_again()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

async fn code_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let Some(cookie) = jar.get(cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Ok(start_again());
    };
    match verify(&state.app, &cookie, &f.code, ip).await {
        Ok(()) => Ok(Redirect::to("/get-started/details").into_response()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            let Some(r) = current(&state.app, &cookie).await? else {
                return Ok(start_again());
            };
            code_form(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                &r,
                e.get("code").unwrap_or("That code is not right."),
                "",
            )
        }
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => Ok(start_again()),
        Err(other) => Err(other.into()),
    }
}

async fn code_resend(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> Result<Response, WebError> {
    let Some(cookie) = jar.get(cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Ok(start_again());
    };
    let outcome = resend(&state.app, &cookie, ip).await;
    let Some(r) = current(&state.app, &cookie).await? else {
        return Ok(start_again());
    };
    match outcome {
        Ok(()) => {
            state.wake_outbox();
            code_form(
                &state,
                StatusCode::OK,
                &r,
                "",
                "We sent a new code. The previous code no longer works.",
            )
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => code_form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &r,
            e.get("code").unwrap_or("No new code can be sent now."),
            "",
        ),
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => Ok(start_again()),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct DetailsForm {
    given_name: String,
    family_name: String,
    mobile_country: String,
    mobile: String,
    department: String,
}

fn details_form(
    state: &WebState,
    status: StatusCode,
    request: &SelfRegistration,
    values: &DetailsForm,
    errors: &FieldErrors,
    form_error: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "get_started_details.html",
        context! {
            page_title => "Your details",
            email => request.email.as_str(),
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            countries => country_codes(&values.mobile_country),
            errors => field_errors(errors),
            form_error => if !form_error.is_empty() { form_error } else if errors.is_empty() { "" } else { "Check the fields marked below." },
        },
    )
}

async fn details_page(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    let now = state.app.clock.now();
    match request_of(&state, &jar).await? {
        Some(r) if r.may_complete(now) => details_form(
            &state,
            StatusCode::OK,
            &r,
            &DetailsForm::default(),
            &FieldErrors::new(),
            "",
        ),
        Some(r)
            if r.verified_at.is_none()
                && r.completed_user.is_none()
                && r.attempts < MAX_CODE_ATTEMPTS =>
        {
            Ok(Redirect::to("/get-started/code").into_response())
        }
        _ => Ok(start_again()),
    }
}

async fn details_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<DetailsForm>,
) -> Result<Response, WebError> {
    let Some(cookie) = jar.get(cookie_name(&state)).map(|c| c.value().to_owned()) else {
        return Ok(start_again());
    };
    let form = RegistrationForm {
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        mobile_country: f.mobile_country.clone(),
        mobile: f.mobile.clone(),
        department: f.department.clone(),
        ..RegistrationForm::default()
    };
    match complete(&state.app, &cookie, &form, ip).await {
        Ok(done) => {
            state.wake_outbox();
            let session = Cookie::build((
                state.session_cookie_name(),
                done.session.expose().to_owned(),
            ))
            .path("/")
            .http_only(true)
            .secure(state.settings.secure_cookies)
            .same_site(SameSite::Lax)
            .build();
            let ended = Cookie::build((cookie_name(&state), "")).path("/").build();
            let jar = jar.remove(ended).add(session);
            Ok((jar, Redirect::to("/my-request")).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let Some(r) = current(&state.app, &cookie).await? else {
                return Ok(start_again());
            };
            details_form(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                &r,
                &f,
                &errors,
                "",
            )
        }
        Err(CoreError::Domain(DomainError::InvalidState(message))) => {
            let Some(r) = current(&state.app, &cookie).await? else {
                return Ok(start_again());
            };
            details_form(
                &state,
                StatusCode::CONFLICT,
                &r,
                &f,
                &FieldErrors::new(),
                &message,
            )
        }
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => Ok(start_again()),
        Err(other) => Err(other.into()),
    }
}

/// The officer's request as they follow it: account state, username, deadline, next step.
async fn my_request(
    State(state): State<WebState>,
    who: Option<AnySession>,
) -> Result<Response, WebError> {
    let Some(AnySession(who)) = who else {
        return Err(WebError::SignInRequired {
            next: "/my-request".into(),
        });
    };
    let u = &who.user;
    page(
        &state,
        StatusCode::OK,
        "my_request.html",
        context! {
            page_title => "Your request",
            current_user => crate::extract::user_context(&who),
            account => context! {
                username => u.username.as_str(),
                display_name => u.display_name(),
                email => u.email.as_str(),
                state => u.state.as_str(),
                deadline => u.activation_deadline.map(human_date).unwrap_or_default(),
            },
            low_assurance => !who.is_fully_signed_in(),
        },
    )
}
