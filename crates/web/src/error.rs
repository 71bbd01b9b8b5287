//! The one place where errors become HTTP responses. Handlers return `WebError`; this file
//! decides the status and the words. Pages are rendered later by
//! `middleware::render_error_pages`, which knows the request id and the signed-in user.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tessera_core::CoreError;
use tessera_core::oidc::{ErrorCode, OAuthError, OidcError};
use tessera_domain::DomainError;
use tessera_proto::oauth::ErrorResponse;
use tessera_store::StoreError;

#[derive(Debug)]
pub enum WebError {
    Core(CoreError),
    /// Not signed in: go to the sign-in page and come back to `next` afterwards.
    SignInRequired {
        next: String,
    },
    NotFound,
    Forbidden,
    /// A template failed to render: a bug, reported as a 500 and logged.
    Template(String),
    /// An OAuth endpoint's error: RFC 6749 JSON, never a page.
    OAuth(OAuthError),
}

impl From<OidcError> for WebError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::OAuth(o) => Self::OAuth(o),
            OidcError::Core(c) => Self::Core(c),
        }
    }
}

/// RFC 6749 §5.2 / RFC 6750 §3: status and headers by error code.
fn oauth_response(e: OAuthError) -> Response {
    use axum::http::{HeaderValue, header};
    let status = match e.code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let challenge = match e.code {
        ErrorCode::InvalidClient => Some(HeaderValue::from_static("Basic realm=\"tessera\"")),
        ErrorCode::InvalidToken => Some(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
        ErrorCode::InsufficientScope => Some(HeaderValue::from_static(
            "Bearer error=\"insufficient_scope\", scope=\"openid\"",
        )),
        _ => None,
    };
    let body = ErrorResponse {
        error: e.code,
        error_description: Some(e.description),
    };
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = challenge {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, c);
    }
    r
}

impl From<CoreError> for WebError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<minijinja::Error> for WebError {
    fn from(e: minijinja::Error) -> Self {
        Self::Template(format!("{e:#}"))
    }
}

/// Marks a response whose body the error-page middleware should render.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

pub fn error_page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(ErrorPage {
        title,
        message: message.into(),
    });
    response
}

fn internal(detail: &str) -> Response {
    tracing::error!(error = %detail, "request failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Tessera could not complete this request. Nothing was changed. Try again in a moment.",
    )
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            Self::SignInRequired { next } => {
                let target = if next.is_empty() || next == "/" {
                    "/signin".to_owned()
                } else {
                    format!("/signin?next={}", urlencode(&next))
                };
                Redirect::to(&target).into_response()
            }
            Self::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no page at this address. Check the link, or start again from the start page.",
            ),
            Self::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account does not have access to this page.",
            ),
            Self::Template(detail) => internal(&detail),
            Self::OAuth(e) => oauth_response(e),
            Self::Core(CoreError::Domain(d)) => match d {
                DomainError::NotFound(what) => error_page(
                    StatusCode::NOT_FOUND,
                    "Not found",
                    format!("The {what} you asked for does not exist."),
                ),
                DomainError::Forbidden => Self::Forbidden.into_response(),
                DomainError::Unauthenticated => Self::SignInRequired {
                    next: String::new(),
                }
                .into_response(),
                DomainError::NoLongerValid(what) => error_page(
                    StatusCode::GONE,
                    "Link no longer valid",
                    format!("This {what} has expired or has been used already."),
                ),
                DomainError::Invalid(errors) => error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Check your input",
                    errors.to_string(),
                ),
                DomainError::Conflict { message, .. } => {
                    error_page(StatusCode::CONFLICT, "Already exists", message)
                }
                DomainError::InvalidState(message) => {
                    error_page(StatusCode::CONFLICT, "Not possible now", message)
                }
                DomainError::TooManyAttempts(message) => {
                    error_page(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", message)
                }
            },
            Self::Core(CoreError::Store(StoreError::Unavailable(detail))) => {
                tracing::error!(error = %detail, "database unavailable");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Tessera cannot reach its database right now. Nothing was changed. Try again in a moment.",
                )
            }
            Self::Core(other) => internal(&other.to_string()),
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Accepts only a local path (`/…`, not `//…` or `/\…`) as a place to return to, so a
/// crafted link cannot bounce a user to another site after sign-in.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_next("/admin/outbox"), Some("/admin/outbox"));
        assert_eq!(safe_next("//evil.example"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
        assert_eq!(safe_next("https://evil.example"), None);
        assert_eq!(safe_next(""), None);
    }

    #[test]
    fn errors_map_to_statuses() {
        let cases: Vec<(WebError, StatusCode)> = vec![
            (WebError::NotFound, StatusCode::NOT_FOUND),
            (WebError::Forbidden, StatusCode::FORBIDDEN),
            (
                WebError::SignInRequired {
                    next: "/admin".into(),
                },
                StatusCode::SEE_OTHER,
            ),
            (
                CoreError::Domain(DomainError::NoLongerValid("link")).into(),
                StatusCode::GONE,
            ),
            (
                CoreError::Store(StoreError::Unavailable("down".into())).into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                CoreError::Store(StoreError::Backend("boom".into())).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (err, status) in cases {
            let label = format!("{err:?}");
            let response = err.into_response();
            assert_eq!(response.status(), status, "{label}");
        }
    }
}
