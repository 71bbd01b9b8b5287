//! The push authenticator's API (`/api/push/v1`): register a device key with an enrolment
//! token, list the account's open challenges, answer one. Requests are signed by the device
//! key; errors are RFC 9457 problem JSON.

use crate::WebState;
use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tessera_core::push::{
    self, Answer, DeviceRegistration, DeviceResponse, PushError, authenticate_device,
};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/api/push/v1/devices", post(register))
        .route("/api/push/v1/challenges", get(list))
        .route("/api/push/v1/challenges/{id}", post(answer))
}

/// An RFC 9457 problem response.
pub(crate) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refused(e: PushError) -> Response {
    match e {
        PushError::Unauthorized => problem(
            StatusCode::UNAUTHORIZED,
            "Not signed by a registered device",
            "Sign the request with the device key, with the current time.",
        ),
        PushError::EnrolmentGone => problem(
            StatusCode::GONE,
            "Enrolment link no longer valid",
            "This enrolment link was used already or has expired. Show a new QR code.",
        ),
        PushError::NotOpen => problem(
            StatusCode::CONFLICT,
            "Sign-in request no longer open",
            "It expired or was answered already.",
        ),
        PushError::Invalid(m) => problem(StatusCode::BAD_REQUEST, "Invalid request", &m),
        PushError::Core(e) => {
            tracing::error!(error = %e, "push API failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "Tessera could not complete this request; nothing was changed.",
            )
        }
    }
}

fn bad_json(e: JsonRejection) -> Response {
    problem(StatusCode::BAD_REQUEST, "Invalid request", &e.body_text())
}

async fn register(
    State(state): State<WebState>,
    body: Result<Json<DeviceRegistration>, JsonRejection>,
) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    match push::register_device(&state.app, &r).await {
        Ok((device, user)) => (
            StatusCode::CREATED,
            Json(json!({
                "device_id": device.id.to_string(),
                "username": user.username.as_str(),
                "issuer": state.app.settings.issuer,
            })),
        )
            .into_response(),
        Err(e) => refused(e),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn list(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let device = match authenticate_device(
        &state.app,
        header(&headers, "x-tessera-device"),
        header(&headers, "x-tessera-time"),
        header(&headers, "x-tessera-signature"),
        "list",
    )
    .await
    {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    match push::open_challenges(&state.app, &device).await {
        Ok(list) => {
            let items: Vec<_> = list
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id.to_string(),
                        "app_name": c.app_name,
                        "source_ip": c.source_ip,
                        "created_at": rfc3339(c.created_at),
                        "expires_at": rfc3339(c.expires_at),
                    })
                })
                .collect();
            Json(json!({ "challenges": items })).into_response()
        }
        Err(e) => refused(e),
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn answer(
    State(state): State<WebState>,
    Path(id): Path<String>,
    body: Result<Json<DeviceResponse>, JsonRejection>,
) -> Response {
    let Json(r) = match body {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    match push::respond(&state.app, &id, &r).await {
        Ok(a) => {
            let (status, left) = match a {
                Answer::Approved => ("approved", None),
                Answer::Denied => ("denied", None),
                Answer::Reported => ("reported", None),
                Answer::WrongNumber { tries_left } => ("wrong_number", Some(tries_left)),
            };
            Json(json!({ "status": status, "tries_left": left })).into_response()
        }
        Err(e) => refused(e),
    }
}
