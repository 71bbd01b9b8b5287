//! The invitation link's page: `/register?token=…` shows the registration form, or a page
//! saying the link has expired or was used and whom to ask.

use super::{country_codes, field_errors, page};
use crate::WebState;
use crate::error::WebError;
use crate::extract::ClientIp;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::lifecycle::form::RegistrationForm;
use tessera_core::lifecycle::invitations::{InvitationView, register, view};
use tessera_core::lifecycle::provision::human_date;
use tessera_domain::DomainError;
use tessera_domain::FieldErrors;
use tessera_domain::invitation::InvitationStatus;

pub fn router() -> Router<WebState> {
    Router::new().route("/register", get(show).post(submit))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn show(
    State(state): State<WebState>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    match view(&state.app, &q.token).await? {
        Some(v) if v.status == InvitationStatus::Sent => form_page(
            &state,
            StatusCode::OK,
            &q.token,
            &v,
            &Submission::default(),
            &FieldErrors::new(),
        ),
        other => closed(&state, other.as_ref()),
    }
}

/// What the form posts; kept to re-render it after an error.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(default)]
struct Submission {
    #[serde(skip_serializing)]
    token: String,
    username: String,
    given_name: String,
    family_name: String,
    mobile_country: String,
    mobile: String,
    department: String,
    reporting_officer_name: String,
    reporting_officer_email: String,
    company_address: String,
}

fn form_page(
    state: &WebState,
    status: StatusCode,
    token: &str,
    v: &InvitationView,
    values: &Submission,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "register.html",
        context! {
            page_title => "Register",
            token,
            invitation => context! {
                email => v.email.clone(), sponsor_name => v.sponsor_name.clone(),
                needs_offshore_details => v.needs_offshore_details,
                expires => human_date(v.expires_at),
            },
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            countries => country_codes(&values.mobile_country),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
        },
    )
}

fn closed(state: &WebState, v: Option<&InvitationView>) -> Result<Response, WebError> {
    let (title, reason) = match v.map(|v| v.status) {
        Some(InvitationStatus::Expired) => (
            "This invitation has expired",
            "Invitation links work for a limited time, and this one has passed it.",
        ),
        Some(InvitationStatus::Registered) => (
            "This invitation has been used",
            "Someone has already registered with this link. If that was you, sign in with the username from your onboarding email.",
        ),
        Some(InvitationStatus::Revoked) => (
            "This invitation was withdrawn",
            "Your sponsor withdrew this invitation.",
        ),
        _ => (
            "This link does not work",
            "The link is incomplete, or a newer invitation replaced it. Use the link in the most recent invitation email.",
        ),
    };
    page(
        state,
        StatusCode::GONE,
        "register_closed.html",
        context! {
            page_title => title,
            title,
            reason,
            sponsor_name => v.map(|v| v.sponsor_name.clone()).unwrap_or_default(),
            sponsor_email => v.map(|v| v.sponsor_email.clone()).unwrap_or_default(),
        },
    )
}

async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Form(s): Form<Submission>,
) -> Result<Response, WebError> {
    let form = RegistrationForm {
        username: s.username.clone(),
        given_name: s.given_name.clone(),
        family_name: s.family_name.clone(),
        mobile_country: s.mobile_country.clone(),
        mobile: s.mobile.clone(),
        department: s.department.clone(),
        reporting_officer_name: s.reporting_officer_name.clone(),
        reporting_officer_email: s.reporting_officer_email.clone(),
        company_address: s.company_address.clone(),
    };
    match register(&state.app, &s.token, &form, ip).await {
        Ok(user) => {
            state.wake_outbox();
            page(
                &state,
                StatusCode::OK,
                "register_done.html",
                context! {
                    page_title => "Registration complete",
                    username => user.username.as_str(),
                    email => user.email.as_str(),
                    deadline => user.activation_deadline.map(human_date).unwrap_or_default(),
                    device_onboarding => user.device_onboarding,
                },
            )
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            match view(&state.app, &s.token).await? {
                Some(v) if v.status == InvitationStatus::Sent => form_page(
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &s.token,
                    &v,
                    &s,
                    &errors,
                ),
                other => closed(&state, other.as_ref()),
            }
        }
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => {
            let v = view(&state.app, &s.token).await?;
            closed(&state, v.as_ref())
        }
        Err(other) => Err(other.into()),
    }
}
