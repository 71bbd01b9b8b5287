//! "My account": the signed-in person's profile, mobile number (changed with an SMS code
//! to the new number), second factors, password, signed-in sessions and a link to the
//! apps they allowed. Every page needs a complete sign-in (password and second factor).

use super::{country_codes, field_errors, page, when};
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
use tessera_core::my_account::{self, SessionView, mfa};
use tessera_core::signin::SignedIn;
use tessera_core::signin::new_password::PasswordChange;
use tessera_domain::{CredentialId, DomainError, FieldErrors};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/account", get(index))
        .route("/account/profile", post(profile))
        .route("/account/mobile", post(mobile_send))
        .route("/account/mobile/verify", post(mobile_verify))
        .route(
            "/account/password",
            get(password_page).post(password_submit),
        )
        .route("/account/mfa/add", get(mfa_add_page).post(mfa_add_submit))
        .route("/account/mfa/{id}/remove", post(mfa_remove))
        .route("/account/sessions/end-others", post(end_others))
        .route("/account/sessions/{id}/end", post(end_one))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

fn notice_text(code: &str) -> &'static str {
    match code {
        "profile" => "Your details were saved.",
        "unchanged" => "Nothing to save: your details are as they were.",
        "code_sent" => {
            "We sent a six-digit code by SMS to the new number. It expires in 10 minutes."
        }
        "mobile" => "Your mobile number was changed.",
        "password" => "Your password was changed. Your other sessions were signed out.",
        "mfa_added" => "The authenticator app was added.",
        "mfa_removed" => "The authenticator app was removed.",
        "session_ended" => "That session was signed out.",
        "others_ended" => "Every other session was signed out.",
        _ => "",
    }
}

fn redirect(notice: &str) -> Response {
    Redirect::to(&format!("/account?notice={notice}")).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfileForm {
    given_name: String,
    family_name: String,
    department: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneForm {
    mobile_country: String,
    mobile: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// What a re-rendered overview keeps from the form that failed.
#[derive(Default)]
struct Overview<'a> {
    profile: Option<&'a ProfileForm>,
    phone: Option<&'a PhoneForm>,
    errors: FieldErrors,
    notice: &'a str,
    mfa_error: String,
}

/// RFC 8176 method names in words.
fn methods_text(amr: &[String]) -> String {
    let words: Vec<&str> = amr
        .iter()
        .filter_map(|m| match m.as_str() {
            "pwd" => Some("password"),
            "otp" => Some("authenticator app"),
            "sms" => Some("SMS code"),
            "hwk" | "swk" => Some("passkey"),
            "mfa" => None,
            other => Some(other),
        })
        .collect();
    if words.is_empty() {
        "—".into()
    } else {
        words.join(", ")
    }
}

fn session_row(s: &SessionView) -> minijinja::Value {
    context! {
        id => s.id.clone(),
        current => s.current,
        created_at => when(s.created_at),
        last_seen_at => when(s.last_seen_at),
        source_ip => s.source_ip.clone().unwrap_or_else(|| "unknown".into()),
        methods => methods_text(&s.amr),
    }
}

async fn overview(
    state: &WebState,
    who: &SignedIn,
    status: StatusCode,
    o: Overview<'_>,
) -> Result<Response, WebError> {
    let app = &state.app;
    let user = &who.user;
    let mobile = my_account::mobile_state(app, who).await?;
    let methods = mfa::methods(app, who).await?;
    let sessions = my_account::sessions(app, who).await?;
    let profile = match o.profile {
        Some(f) => context! {
            given_name => f.given_name.clone(),
            family_name => f.family_name.clone(),
            department => f.department.clone(),
        },
        None => context! {
            given_name => user.given_name.clone(),
            family_name => user.family_name.clone(),
            department => user.department.clone(),
        },
    };
    let typed = o
        .phone
        .map(|p| (p.mobile_country.as_str(), p.mobile.as_str()));
    let (country, number) = typed.unwrap_or(("", ""));
    page(
        state,
        status,
        "account.html",
        context! {
            page_title => "My account",
            current_user => user_context(who),
            account => context! {
                username => user.username.as_str(),
                email => user.email.as_str(),
                display_name => user.display_name(),
            },
            profile,
            phone => context! {
                current => mobile.current.as_ref().map(|m| m.as_str().to_owned()).unwrap_or_default(),
                verified => mobile.verified,
                pending => mobile.pending.unwrap_or_default(),
                value => number,
            },
            countries => country_codes(country),
            mfa_methods => methods.iter().map(|m| context! {
                id => m.id.to_string(),
                label => m.label.clone(),
                added_at => when(m.added_at),
            }).collect::<Vec<_>>(),
            mfa_error => o.mfa_error,
            sessions => sessions.iter().map(session_row).collect::<Vec<_>>(),
            other_sessions => sessions.iter().filter(|s| !s.current).count(),
            errors => field_errors(&o.errors),
            form_error => if o.errors.is_empty() { "" } else { "Check the field marked below." },
            notice => o.notice,
        },
    )
}

async fn index(
    State(state): State<WebState>,
    Session(who): Session,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let o = Overview {
        notice: notice_text(&q.notice),
        ..Overview::default()
    };
    overview(&state, &who, StatusCode::OK, o).await
}

async fn profile(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<ProfileForm>,
) -> Result<Response, WebError> {
    match my_account::update_profile(
        &state.app,
        &who,
        &f.given_name,
        &f.family_name,
        &f.department,
        ip,
    )
    .await
    {
        Ok(true) => Ok(redirect("profile")),
        Ok(false) => Ok(redirect("unchanged")),
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let o = Overview {
                profile: Some(&f),
                errors,
                ..Overview::default()
            };
            overview(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, o).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn mobile_send(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<PhoneForm>,
) -> Result<Response, WebError> {
    match my_account::start_mobile_change(&state.app, &who, &f.mobile_country, &f.mobile, ip).await
    {
        Ok(_) => {
            state.wake_outbox();
            Ok(redirect("code_sent"))
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let o = Overview {
                phone: Some(&f),
                errors,
                ..Overview::default()
            };
            overview(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, o).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn mobile_verify(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match my_account::confirm_mobile_change(&state.app, &who, &f.code, ip).await {
        Ok(_) => {
            state.wake_outbox();
            Ok(redirect("mobile"))
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let o = Overview {
                errors,
                ..Overview::default()
            };
            overview(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, o).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn password_form(
    state: &WebState,
    who: &SignedIn,
    status: StatusCode,
    errors: &FieldErrors,
    form_error: &str,
) -> Result<Response, WebError> {
    let form_error = match (form_error, errors.is_empty()) {
        ("", false) => "Check the fields marked below.",
        (m, _) => m,
    };
    page(
        state,
        status,
        "account_password.html",
        context! {
            page_title => "Change your password",
            current_user => user_context(who),
            username => who.user.username.as_str(),
            errors => field_errors(errors),
            form_error,
        },
    )
}

async fn password_page(
    State(state): State<WebState>,
    Session(who): Session,
) -> Result<Response, WebError> {
    password_form(&state, &who, StatusCode::OK, &FieldErrors::new(), "").await
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
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let change = PasswordChange {
        current: f.current_password,
        new: f.new_password,
        confirm: f.confirm_password,
    };
    match my_account::change_password(&state.app, &who, &change, ip).await {
        Ok(_) => {
            state.wake_outbox();
            Ok(redirect("password"))
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            password_form(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, &errors, "").await
        }
        Err(CoreError::Domain(DomainError::TooManyAttempts(m))) => {
            password_form(
                &state,
                &who,
                StatusCode::TOO_MANY_REQUESTS,
                &FieldErrors::new(),
                &m,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddForm {
    code: String,
    label: String,
}

async fn mfa_add_form(
    state: &WebState,
    who: &SignedIn,
    status: StatusCode,
    values: &AddForm,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let e = mfa::start_adding(&state.app, who).await?;
    page(
        state,
        status,
        "account_mfa_add.html",
        context! {
            page_title => "Add an authenticator app",
            current_user => user_context(who),
            enrolment => context! {
                id => e.credential.to_string(),
                qr_svg => minijinja::Value::from_safe_string(e.qr_svg),
                key_text => e.key_text,
                uri => e.uri,
                label => values.label.clone(),
            },
            username => who.user.username.as_str(),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the field marked below." },
        },
    )
}

async fn mfa_add_page(
    State(state): State<WebState>,
    Session(who): Session,
) -> Result<Response, WebError> {
    mfa_add_form(
        &state,
        &who,
        StatusCode::OK,
        &AddForm::default(),
        &FieldErrors::new(),
    )
    .await
}

async fn mfa_add_submit(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Form(f): Form<AddForm>,
) -> Result<Response, WebError> {
    match mfa::confirm_adding(&state.app, &who, &f.code, &f.label, ip).await {
        Ok(()) => Ok(redirect("mfa_added")),
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            mfa_add_form(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, &f, &errors).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn mfa_remove(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: CredentialId = id.parse().map_err(|_| WebError::NotFound)?;
    match mfa::remove(&state.app, &who, id, ip).await {
        Ok(()) => Ok(redirect("mfa_removed")),
        Err(CoreError::Domain(DomainError::InvalidState(message))) => {
            let o = Overview {
                mfa_error: message,
                ..Overview::default()
            };
            overview(&state, &who, StatusCode::CONFLICT, o).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn end_others(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
) -> Result<Response, WebError> {
    my_account::sign_out_elsewhere(&state.app, &who, ip).await?;
    state.wake_outbox();
    Ok(redirect("others_ended"))
}

async fn end_one(
    State(state): State<WebState>,
    Session(who): Session,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    my_account::sign_out_session(&state.app, &who, &id, ip).await?;
    state.wake_outbox();
    Ok(redirect("session_ended"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::methods_text;
    use crate::templates::Templates;
    use minijinja::context;

    #[test]
    fn pages_render_with_only_the_user_known() {
        let t = Templates::new(None).unwrap();
        let user =
            context! { username => "ada", display_name => "Ada Lim", is_platform_admin => false };
        for name in [
            "account.html",
            "account_password.html",
            "account_mfa_add.html",
        ] {
            let html = t
                .render(name, context! { current_user => user.clone() })
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(html.contains("href=\"/account\""), "{name}");
        }
    }

    #[test]
    fn methods_read_as_words() {
        let amr = ["pwd", "otp", "mfa"].map(String::from);
        assert_eq!(methods_text(&amr), "password, authenticator app");
        assert_eq!(methods_text(&[]), "—");
    }
}
