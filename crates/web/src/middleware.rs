//! Cross-cutting request handling: error pages with the request id, request metrics, the
//! panic guard, and the tracing span.

use crate::WebState;
use crate::error::ErrorPage;
use crate::extract::user_context;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use std::any::Any;
use std::time::Instant;
use tessera_core::signin::resolve_session;

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Turns responses marked with [`ErrorPage`] (and bare 5xx) into the styled error page,
/// carrying the request id so a user can quote it.
pub async fn render_error_pages(
    State(state): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let rid = request_id(&req);
    let cookies = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .cloned()
        .collect::<Vec<_>>();
    let response = next.run(req).await;
    let status = response.status();
    let page = match response.extensions().get::<ErrorPage>() {
        Some(p) => p.clone(),
        None if status.is_server_error() && !is_html_or_json(&response) => ErrorPage {
            title: "Something went wrong",
            message: "Tessera could not complete this request. Try again in a moment.".into(),
        },
        None => return response,
    };
    // Only now look up who is signed in, so ordinary responses pay nothing for it.
    let mut headers = axum::http::HeaderMap::new();
    for c in cookies {
        headers.append(header::COOKIE, c);
    }
    let jar = axum_extra::extract::CookieJar::from_headers(&headers);
    let who = match crate::extract::session_tokens(&jar, &state).first() {
        Some(c) => resolve_session(&state.app, c).await.ok().flatten(),
        None => None,
    };
    let ctx = minijinja::context! {
        page_title => page.title,
        title => page.title,
        message => page.message,
        status => status.as_u16(),
        request_id => rid.clone(),
        current_user => who.as_ref().map(user_context),
    };
    match state.templates.render("error.html", ctx) {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            (status, format!("Error {status}. Request ID: {rid}")).into_response()
        }
    }
}

fn is_html_or_json(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.contains("json"))
}

/// Counts requests and their latency by route template (never by raw path, which would
/// let clients create unbounded label values).
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A panic in a handler becomes a plain 500 (then styled by `render_error_pages`); the
/// panic's text goes to the log, never to the client.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    tracing::error!(panic = %detail, "handler panicked");
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(ErrorPage {
        title: "Something went wrong",
        message: "Tessera could not complete this request. Try again in a moment.".into(),
    });
    r
}

pub fn request_span(req: &Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id(req),
    )
}
