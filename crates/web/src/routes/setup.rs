//! The first-run setup page: `/setup?token=…` creates the first platform administrator.

use super::page;
use crate::WebState;
use crate::error::WebError;
use crate::extract::ClientIp;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;
use tessera_core::CoreError;
use tessera_core::setup::{AdminForm, complete_setup, setup_link_is_valid};
use tessera_domain::DomainError;

pub fn router() -> Router<WebState> {
    Router::new().route("/setup", get(show).post(submit))
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
    if !setup_link_is_valid(&state.app, &q.token).await? {
        return invalid(
            &state,
            "This link has expired, has been used already, or is incomplete.",
        );
    }
    page(
        &state,
        StatusCode::OK,
        "setup.html",
        context! { page_title => "Set up Tessera", token => q.token, values => BTreeMap::<&str, &str>::new(), errors => BTreeMap::<&str, &str>::new(), form_error => "" },
    )
}

#[derive(Deserialize)]
struct SetupSubmission {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    Form(f): Form<SetupSubmission>,
) -> Result<Response, WebError> {
    let form = AdminForm {
        username: f.username.clone(),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        email: f.email.clone(),
        mobile: f.mobile.clone(),
        password: f.password,
        password_confirm: f.password_confirm,
    };
    match complete_setup(&state.app, &f.token, &form, ip).await {
        Ok(_) => {
            state.wake_outbox();
            Ok(Redirect::to("/signin?setup=done").into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(errors))) => {
            let errors: BTreeMap<String, String> = errors
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            // What was typed comes back, except the passwords.
            let values = context! {
                username => f.username, given_name => f.given_name, family_name => f.family_name,
                email => f.email, mobile => f.mobile,
            };
            page(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "setup.html",
                context! { page_title => "Set up Tessera", token => f.token, values, errors, form_error => "Check the fields marked below." },
            )
        }
        Err(CoreError::Domain(DomainError::NoLongerValid(_))) => {
            invalid(&state, "This link has expired or has been used already.")
        }
        Err(CoreError::Domain(DomainError::InvalidState(message))) => invalid(&state, &message),
        Err(other) => Err(other.into()),
    }
}

fn invalid(state: &WebState, reason: &str) -> Result<Response, WebError> {
    page(
        state,
        StatusCode::GONE,
        "setup_invalid.html",
        context! { page_title => "Setup link no longer valid", reason },
    )
}
