//! The first-sign-in wizard's pages: authenticator app, phone check, new password,
//! policies. Each page shows only when it is the flow's current step.

use super::signin::{CodeForm, at_step, flow_cookie, go, recover};
use super::{country_codes, field_errors, page};
use crate::WebState;
use crate::error::WebError;
use crate::extract::ClientIp;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::policies;
use tessera_core::signin::flow::Step;
use tessera_core::signin::new_password::{PasswordChange, reset_initial};
use tessera_core::signin::{phone, totp};
use tessera_domain::{DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route(
            "/signin/setup/authenticator",
            get(authenticator_page).post(authenticator_submit),
        )
        .route("/signin/setup/phone", get(phone_page).post(phone_send))
        .route("/signin/setup/phone/verify", post(phone_verify))
        .route(
            "/signin/setup/password",
            get(password_page).post(password_submit),
        )
        .route(
            "/signin/setup/policies",
            get(policies_page).post(policies_submit),
        )
}

/// `+6591234567` → (`+65`, `91234567`) for a known calling code (the longest that fits).
fn split_calling_code(e164: &str) -> (String, String) {
    tessera_core::lifecycle::form::COUNTRY_CALLING_CODES
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| e164.starts_with(code))
        .max_by_key(|code| code.len())
        .map(|code| (code.to_owned(), e164[code.len()..].to_owned()))
        .unwrap_or_else(|| (String::new(), e164.to_owned()))
}

fn step_context(step: Step) -> minijinja::Value {
    context! { number => step.wizard_number().unwrap_or(0), of => 4 }
}

async fn authenticator_form(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    error: &str,
) -> Result<Response, WebError> {
    let current = match at_step(state, jar, Step::EnrolTotp).await? {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    let user = current.proven_user()?;
    let e = totp::start_enrolment(&state.app, user).await?;
    page(
        state,
        status,
        "setup_authenticator.html",
        context! {
            page_title => "Set up your authenticator app",
            // Only new accounts walk the four-step wizard; others just add the app.
            step => if user.state == tessera_domain::user::UserState::Pending {
                step_context(Step::EnrolTotp)
            } else {
                context! { number => 0, of => 4 }
            },
            qr_svg => minijinja::Value::from_safe_string(e.qr_svg),
            key_text => e.key_text,
            uri => e.uri,
            username => user.username.as_str(),
            errors => context!{ code => error },
            form_error => if error.is_empty() { "" } else { "Check the field marked below." },
        },
    )
}

async fn authenticator_page(
    State(state): State<WebState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    authenticator_form(&state, &jar, StatusCode::OK, "").await
}

/// The statuses and messages every code-checking step answers with.
async fn code_failure(
    state: &WebState,
    jar: &CookieJar,
    e: CoreError,
    retry: impl AsyncFnOnce(StatusCode, String) -> Result<Response, WebError>,
) -> Result<Response, WebError> {
    match e {
        CoreError::Domain(DomainError::Invalid(errors)) => {
            let message = errors
                .get("code")
                .unwrap_or("That code is not right.")
                .to_owned();
            retry(StatusCode::UNPROCESSABLE_ENTITY, message).await
        }
        CoreError::Domain(DomainError::TooManyAttempts(m)) => {
            retry(StatusCode::TOO_MANY_REQUESTS, m).await
        }
        other => recover(state, jar, other).await,
    }
}

async fn authenticator_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match totp::confirm_in_flow(&state.app, &flow_cookie(&jar, &state), &f.code, ip).await {
        Ok(step) => Ok(go(step)),
        Err(e) => {
            code_failure(&state, &jar, e, async |status, m| {
                authenticator_form(&state, &jar, status, &m).await
            })
            .await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneForm {
    mobile_country: String,
    mobile: String,
}

async fn phone_form(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    values: &PhoneForm,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    if let Err(r) = at_step(state, jar, Step::VerifyPhone).await? {
        return Ok(r);
    }
    let s = phone::state(&state.app, &flow_cookie(jar, state)).await?;
    // The registered number, split into the picker's code and the national number.
    let (country, mobile) = if values.mobile.is_empty() {
        split_calling_code(&s.mobile)
    } else {
        (values.mobile_country.clone(), values.mobile.clone())
    };
    page(
        state,
        status,
        "setup_phone.html",
        context! {
            page_title => "Verify your mobile number",
            step => step_context(Step::VerifyPhone),
            countries => country_codes(&country),
            mobile,
            sent_to => s.code_sent_to.unwrap_or_default(),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the field marked below." },
            notice,
        },
    )
}

async fn phone_page(State(state): State<WebState>, jar: CookieJar) -> Result<Response, WebError> {
    phone_form(
        &state,
        &jar,
        StatusCode::OK,
        &PhoneForm::default(),
        &FieldErrors::new(),
        "",
    )
    .await
}

async fn phone_send(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<PhoneForm>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    match phone::send_code(&state.app, &cookie, &f.mobile_country, &f.mobile, ip).await {
        Ok(()) => {
            state.wake_outbox();
            phone_form(
                &state,
                &jar,
                StatusCode::OK,
                &f,
                &FieldErrors::new(),
                "We sent a six-digit code by SMS. It expires in 10 minutes.",
            )
            .await
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            phone_form(&state, &jar, StatusCode::UNPROCESSABLE_ENTITY, &f, &e, "").await
        }
        Err(other) => recover(&state, &jar, other).await,
    }
}

async fn phone_verify(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    match phone::verify_code(&state.app, &cookie, &f.code, ip).await {
        Ok(step) => Ok(go(step)),
        Err(e) => {
            code_failure(&state, &jar, e, async |status, m| {
                let mut errors = FieldErrors::new();
                errors.add("code", m);
                phone_form(&state, &jar, status, &PhoneForm::default(), &errors, "").await
            })
            .await
        }
    }
}

async fn password_form(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let current = match at_step(state, jar, Step::ResetPassword).await? {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    page(
        state,
        status,
        "setup_password.html",
        context! {
            page_title => "Choose your password",
            step => step_context(Step::ResetPassword),
            username => current.flow.username,
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
        },
    )
}

async fn password_page(
    State(state): State<WebState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    password_form(&state, &jar, StatusCode::OK, &FieldErrors::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn password_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let change = PasswordChange {
        current: f.current_password,
        new: f.new_password,
        confirm: f.confirm_password,
    };
    match reset_initial(&state.app, &flow_cookie(&jar, &state), &change, ip).await {
        Ok(step) => Ok(go(step)),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            password_form(&state, &jar, StatusCode::UNPROCESSABLE_ENTITY, &e).await
        }
        Err(other) => recover(&state, &jar, other).await,
    }
}

async fn policies_form(
    state: &WebState,
    jar: &CookieJar,
    status: StatusCode,
    error: &str,
) -> Result<Response, WebError> {
    if let Err(r) = at_step(state, jar, Step::AcceptPolicies).await? {
        return Ok(r);
    }
    let Some((doc, html)) = policies::next_for_flow(&state.app, &flow_cookie(jar, state)).await?
    else {
        return Ok(go(Step::Done));
    };
    page(
        state,
        status,
        "setup_policies.html",
        context! {
            page_title => doc.title.clone(),
            step => step_context(Step::AcceptPolicies),
            policy => context! {
                kind => doc.kind.as_str(),
                version => doc.version,
                title => doc.title,
                html => minijinja::Value::from_safe_string(html),
            },
            errors => context! { accept => error },
            form_error => if error.is_empty() { "" } else { "Check the field marked below." },
        },
    )
}

async fn policies_page(
    State(state): State<WebState>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    policies_form(&state, &jar, StatusCode::OK, "").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    kind: String,
    version: i32,
    accept: Option<String>,
}

async fn policies_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(f): Form<AcceptForm>,
) -> Result<Response, WebError> {
    let cookie = flow_cookie(&jar, &state);
    let ticked = f.accept.is_some();
    match policies::accept_in_flow(&state.app, &cookie, &f.kind, f.version, ticked, ip).await {
        Ok(step) => Ok(go(step)),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            let m = e
                .get("accept")
                .unwrap_or("Tick the box to accept.")
                .to_owned();
            policies_form(&state, &jar, StatusCode::UNPROCESSABLE_ENTITY, &m).await
        }
        Err(other) => recover(&state, &jar, other).await,
    }
}
