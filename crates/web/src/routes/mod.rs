//! One module per feature; each exposes `router()`.

pub mod access_requests;
pub mod admin;
pub mod admin_audit;
pub mod admin_policies;
pub mod admin_tenants;
pub mod admin_users;
pub mod assets;
pub mod chooser;
pub mod consent;
pub mod device;
pub mod get_started;
pub mod health;
pub mod invitations;
pub mod logout;
pub mod my_account;
pub mod oidc;
pub mod passkeys;
pub mod password_reset;
pub mod push_api;
pub mod register;
pub mod setup;
pub mod signin;
pub mod signin_push;
pub mod signin_setup;
pub mod tenant_invite;
pub mod tenant_portal;

use crate::WebState;
use crate::error::WebError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Field messages as templates read them (`errors.<field>`).
pub fn field_errors(
    errors: &tessera_domain::FieldErrors,
) -> std::collections::BTreeMap<String, String> {
    errors
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The mobile field's country-code picker, with the chosen code marked.
pub fn country_codes(chosen: &str) -> Vec<minijinja::Value> {
    let chosen = if chosen.is_empty() { "+65" } else { chosen };
    tessera_core::lifecycle::form::COUNTRY_CALLING_CODES
        .iter()
        .map(|(code, name)| minijinja::context! { code => *code, name => *name, selected => *code == chosen })
        .collect()
}

/// A date and time as administrators read it.
pub fn when(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(f).unwrap_or_default()
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

/// Renders a page with a status; pages are never cached (they may show personal data).
pub fn page(
    state: &WebState,
    status: StatusCode,
    template: &str,
    context: minijinja::Value,
) -> Result<Response, WebError> {
    let html = state.templates.render(template, context)?;
    let mut r = (status, Html(html)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
