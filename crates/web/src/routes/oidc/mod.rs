//! OpenID Connect endpoints. They sit outside the portal's CSRF layer: relying services
//! legitimately POST to them across sites, and they authenticate by client credentials or
//! bearer tokens rather than cookies (except /authorize, which only reads the session).

pub(crate) mod authorize;

pub(crate) use authorize::send as send_reply;
mod endpoints;

use crate::WebState;
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub fn router() -> Router<WebState> {
    // Browser-based clients (SPAs) call these directly: any origin, never with cookies.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let api = endpoints::router().layer(cors);
    Router::new().merge(authorize::router()).merge(api)
}

pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
