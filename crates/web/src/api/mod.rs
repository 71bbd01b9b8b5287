//! The admin REST API under `/api/v1`: JSON in and out, RFC 9457 problems for every
//! error, cursor pagination, `Idempotency-Key` on POST, and its OpenAPI 3.1 document at
//! `/api/v1/openapi.json`, generated from the handlers below.
//!
//! Callers authenticate with a client_credentials access token (`tessera:admin` or
//! `tessera:tenant`) or a portal session (`auth.rs`); the capability a handler obtains
//! from the caller decides what it may touch.

mod access_requests;
mod apps;
mod audit;
mod auth;
mod extract;
mod groups;
mod idempotency;
mod invitations;
mod members;
mod openapi;
mod pagination;
mod problem;
mod secrets;
mod tenants;
mod users;

use crate::WebState;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use problem::{ApiError, PROBLEM_JSON, Problem, problem_response};
use std::sync::Arc;
use tower_http::csrf::{CsrfLayer, ProtectionError};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest request body the API reads.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The API's routes, and the document that describes them.
fn documented() -> (Router<WebState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::<WebState>::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::get_tenant))
        .routes(routes!(tenants::list_admins, tenants::add_admin))
        .routes(routes!(tenants::remove_admin))
        .routes(routes!(apps::list_apps, apps::create_app))
        .routes(routes!(apps::get_app, apps::update_app, apps::delete_app))
        .routes(routes!(apps::get_access, apps::set_access))
        .routes(routes!(secrets::list_secrets, secrets::create_secret))
        .routes(routes!(secrets::revoke_secret))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::get_group, groups::delete_group))
        .routes(routes!(members::list_members, members::add_member))
        .routes(routes!(members::remove_member))
        .routes(routes!(access_requests::list_requests))
        .routes(routes!(access_requests::approve))
        .routes(routes!(access_requests::reject))
        .routes(routes!(users::list_users))
        .routes(routes!(users::get_user))
        .routes(routes!(
            invitations::list_invitations,
            invitations::create_invitation
        ))
        .routes(routes!(audit::platform_audit))
        .routes(routes!(audit::tenant_audit))
        .split_for_parts();
    (router, openapi::finish(doc))
}

pub fn router() -> Router<WebState> {
    let (router, doc) = documented();
    // Kept as its JSON text (~60 kB), not as a tree of values several times that size.
    let doc = OpenApiText(Arc::from(serde_json::to_string(&doc).unwrap_or_default()));
    router
        // Anything else under /api/v1 is a problem too, not the portal's HTML page.
        .route("/api/v1", axum::routing::any(unknown_route))
        .route("/api/v1/", axum::routing::any(unknown_route))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_route))
        .layer(Extension(doc))
        .layer(axum::middleware::from_fn(problems_only))
        .layer(CsrfLayer::new().with_rejection_response(csrf_rejection))
}

/// This document: the admin API in OpenAPI 3.1.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
async fn openapi_json(Extension(doc): Extension<OpenApiText>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
        .into_response()
}

/// The OpenAPI document, serialised once at start-up.
#[derive(Clone)]
struct OpenApiText(Arc<str>);

async fn unknown_route() -> ApiError {
    ApiError::NotFound("There is no such API endpoint. See /api/v1/openapi.json.".into())
}

fn csrf_rejection(_: ProtectionError) -> Response<Body> {
    ApiError::Forbidden(
        "Cross-site request refused: send unsafe requests from Tessera's own pages, or \
         authenticate with an access token."
            .into(),
    )
    .into_response()
}

/// A safety net: any error the router itself makes (405, a body over the limit, …)
/// leaves as a problem document, never as plain text or an empty body.
async fn problems_only(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON));
    if is_problem {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "This endpoint does not support this method.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
        _ => "The request could not be completed.",
    };
    let mut r = problem_response(&Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: None,
    });
    if let Some(allow) = allow {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_problems_everywhere() {
        let doc = serde_json::to_value(documented().1).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 20, "{:?}", paths.keys());
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                if path.ends_with("openapi.json") {
                    continue;
                }
                for status in ["400", "401", "403", "404", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
                if method == "post" {
                    let params = op["parameters"].as_array().unwrap();
                    assert!(
                        params.iter().any(|p| p["name"] == "Idempotency-Key"),
                        "{path}"
                    );
                }
            }
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
