//! The API's one error shape: RFC 9457 `application/problem+json`. Every error the admin
//! API returns — a domain error, a bad request, a missing credential, a CSRF refusal, an
//! unknown route — goes through [`ApiError`] and comes out as a [`Problem`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use tessera_core::CoreError;
use tessera_domain::DomainError;
use tessera_store::StoreError;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Clone, Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` or a Tessera problem type).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// For invalid input: one message per field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

/// Why a request failed. Converted to a [`Problem`] in [`IntoResponse`], and nowhere else.
#[derive(Debug)]
pub enum ApiError {
    /// No or an unusable credential. `token_given` adds `error="invalid_token"`.
    Unauthenticated {
        token_given: bool,
    },
    /// Authenticated, but this needs another kind of caller (platform administration).
    Forbidden(String),
    NotFound(String),
    /// A malformed request: bad JSON, a bad path or query parameter.
    BadRequest(String),
    /// A request body that is not JSON.
    UnsupportedMediaType,
    /// Well-formed input that breaks a rule, per field.
    Invalid(BTreeMap<String, String>),
    /// A uniqueness rule or the resource's state stands in the way.
    Conflict(String),
    /// The `Idempotency-Key` was used for another request.
    KeyReused,
    TooManyAttempts(String),
    Gone(String),
    PayloadTooLarge,
    /// A bug or an unreachable database: logged, never detailed to the client.
    Internal(String),
    Unavailable(String),
}

impl ApiError {
    pub fn forbidden_platform() -> Self {
        Self::Forbidden("Only platform administrators can do this.".into())
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    /// The error of a core call, with the core's field names renamed to the API's
    /// (`renames` maps core name → API name).
    pub fn from_core_renamed(e: CoreError, renames: &[(&str, &str)]) -> Self {
        match Self::from(e) {
            Self::Invalid(errors) => Self::Invalid(
                errors
                    .into_iter()
                    .map(|(f, m)| {
                        let name = renames
                            .iter()
                            .find(|(from, _)| *from == f)
                            .map_or(f, |(_, to)| (*to).to_owned());
                        (name, m)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) | Self::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (kind, detail, errors) = match self {
            Self::Unauthenticated { .. } => (
                "unauthenticated",
                "Send an access token (Authorization: Bearer …) of an app holding the tessera:admin or tessera:tenant scope, or sign in to the portal.".to_owned(),
                None,
            ),
            Self::Forbidden(d) => ("forbidden", d.clone(), None),
            Self::NotFound(d) => ("not-found", d.clone(), None),
            Self::BadRequest(d) => ("bad-request", d.clone(), None),
            Self::UnsupportedMediaType => (
                "unsupported-media-type",
                "Send the request body as JSON (Content-Type: application/json).".to_owned(),
                None,
            ),
            Self::Invalid(errors) => (
                "invalid-input",
                errors
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(errors.clone()),
            ),
            Self::Conflict(d) => ("conflict", d.clone(), None),
            Self::KeyReused => (
                "idempotency-key-reused",
                "This Idempotency-Key was used for a different request. Use a new key for a new request.".to_owned(),
                None,
            ),
            Self::TooManyAttempts(d) => ("too-many-attempts", d.clone(), None),
            Self::Gone(d) => ("gone", d.clone(), None),
            Self::PayloadTooLarge => (
                "payload-too-large",
                "The request body is too large.".to_owned(),
                None,
            ),
            Self::Internal(_) => (
                "internal",
                "Tessera could not complete this request. Try again in a moment.".to_owned(),
                None,
            ),
            Self::Unavailable(_) => (
                "unavailable",
                "Tessera cannot reach its database right now. Nothing was changed. Try again in a moment.".to_owned(),
                None,
            ),
        };
        Problem {
            kind: format!("https://tessera.invalid/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

/// A problem response with the given status and detail (for statuses built elsewhere, like
/// axum's 405).
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "API request failed"),
            Self::Unavailable(detail) => tracing::error!(error = %detail, "database unavailable"),
            _ => {}
        }
        let mut r = problem_response(&self.problem());
        if let Self::Unauthenticated { token_given } = self {
            let challenge = if token_given {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        r
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => Self::Invalid(
                errors
                    .iter()
                    .map(|(f, m)| (f.to_owned(), m.to_owned()))
                    .collect(),
            ),
            DomainError::NotFound(what) => {
                Self::NotFound(format!("The {what} you asked for does not exist."))
            }
            DomainError::Conflict { message, .. } => Self::Conflict(message),
            DomainError::Unauthenticated => Self::Unauthenticated { token_given: false },
            DomainError::Forbidden => Self::Forbidden("You may not do this.".into()),
            DomainError::NoLongerValid(what) => {
                Self::Gone(format!("This {what} has expired or has been used already."))
            }
            DomainError::InvalidState(message) => Self::Conflict(message),
            DomainError::TooManyAttempts(message) => Self::TooManyAttempts(message),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Domain(d) => d.into(),
            CoreError::Store(StoreError::Unavailable(detail)) => Self::Unavailable(detail),
            // A uniqueness rule the core did not translate: still the caller's conflict.
            CoreError::Store(StoreError::Duplicate { field }) => {
                Self::Conflict(format!("The {field} is taken already."))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        CoreError::from(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_map_to_problem_statuses() {
        let mut fields = tessera_domain::FieldErrors::new();
        fields.add("name", "Give a name.");
        let cases: Vec<(ApiError, u16)> = vec![
            (DomainError::Invalid(fields).into(), 422),
            (DomainError::NotFound("tenant").into(), 404),
            (DomainError::Forbidden.into(), 403),
            (DomainError::InvalidState("no".into()).into(), 409),
            (
                DomainError::Conflict {
                    field: "name",
                    message: "taken".into(),
                }
                .into(),
                409,
            ),
            (ApiError::Unauthenticated { token_given: true }, 401),
            (
                CoreError::Store(StoreError::Backend("boom".into())).into(),
                500,
            ),
        ];
        for (err, status) in cases {
            let p = err.problem();
            assert_eq!(p.status, status, "{err:?}");
            let r = err.into_response();
            assert_eq!(r.status().as_u16(), status);
            assert_eq!(
                r.headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some(PROBLEM_JSON)
            );
        }
    }

    #[test]
    fn field_names_are_renamed_for_the_api() {
        let mut fields = tessera_domain::FieldErrors::new();
        fields.add("name", "Give a name.");
        let e = ApiError::from_core_renamed(
            DomainError::Invalid(fields).into(),
            &[("name", "display_name")],
        );
        let p = e.problem();
        assert_eq!(
            p.errors
                .and_then(|e| e.get("display_name").cloned())
                .as_deref(),
            Some("Give a name.")
        );
    }
}
