//! One module per feature; each exposes `router()`.

pub mod admin;
pub mod assets;
pub mod consent;
pub mod device;
pub mod health;
pub mod logout;
pub mod oidc;
pub mod setup;
pub mod signin;

use crate::WebState;
use crate::error::WebError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

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
