//! Tessera's HTTP layer: parses and authorises requests, calls a `tessera-core` flow, and
//! renders the answer. Errors become responses in exactly one place, `error.rs`.

mod api;
mod error;
mod extract;
mod middleware;
mod routes;
mod state;
mod templates;

pub use state::{WebSettings, WebState};
pub use templates::Templates;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: portal pages behind CSRF protection, plus machine endpoints.
pub fn router(state: WebState) -> Router {
    let portal = Router::new()
        .merge(routes::setup::router())
        .merge(routes::signin::router())
        .merge(routes::signin_setup::router())
        .merge(routes::chooser::router())
        .merge(routes::signin_push::router())
        .merge(routes::passkeys::router())
        .merge(routes::password_reset::router())
        .merge(routes::admin::router())
        .merge(routes::admin_users::router())
        .merge(routes::admin_policies::router())
        .merge(routes::invitations::router())
        .merge(routes::register::router())
        .merge(routes::get_started::router())
        .merge(routes::device::router())
        .merge(routes::consent::router())
        .merge(routes::logout::router())
        .merge(routes::my_account::router())
        .merge(routes::tenant_portal::router())
        .merge(routes::tenant_invite::router())
        .merge(routes::admin_tenants::router())
        .merge(routes::admin_audit::router())
        .merge(routes::access_requests::router())
        .layer(CsrfLayer::new());

    let machine = Router::new()
        .merge(routes::health::router())
        .merge(routes::assets::router())
        .merge(routes::oidc::router())
        .merge(routes::push_api::router())
        .merge(api::router());

    let security_headers = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            // same-origin, not no-referrer: with no-referrer some browsers send `Origin: null` on
            // our own form posts, which the CSRF check must then refuse.
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ));
    let hsts = state.settings.secure_cookies.then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });

    Router::new()
        .merge(portal)
        .merge(machine)
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::render_error_pages,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower::util::option_layer(hsts))
        .layer(security_headers)
        .layer(TraceLayer::new_for_http().make_span_with(middleware::request_span))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
