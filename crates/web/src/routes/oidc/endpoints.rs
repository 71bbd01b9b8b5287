//! Discovery, JWKS, token, userinfo, introspection and revocation.

use super::no_store;
use crate::WebState;
use crate::error::WebError;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use tessera_core::oidc::authorize::AuthorizeParams;
use tessera_core::oidc::clients::ClientAuth;
use tessera_core::oidc::token::{TokenParams, exchange};
use tessera_core::oidc::{
    OAuthError, device, discovery, introspect, keys, par as pushed, revoke, userinfo,
};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks.json", get(jwks))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo_get).post(userinfo_post))
        .route("/introspect", post(introspect_token))
        .route("/revoke", post(revoke_token))
        .route("/par", post(par))
        .route("/device_authorization", post(device_authorization))
}

async fn metadata(State(state): State<WebState>) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
        Json(discovery::metadata(&state.app)),
    )
        .into_response()
}

async fn jwks(State(state): State<WebState>) -> Result<Response, WebError> {
    let set = keys::current(&state.app).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
            // Short: a rotation must reach clients well before the old key leaves.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
        ],
        set.jwks.as_ref().clone(),
    )
        .into_response())
}

/// The form fields of RFC 7523 client assertions.
#[derive(Deserialize, Default)]
struct AssertionFields {
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Reads client authentication: a client assertion (RFC 7523), the Basic header, or the
/// form (RFC 6749 §2.3.1). Exactly one method may be used.
fn client_auth(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
    assertion: &AssertionFields,
) -> Result<ClientAuth, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(a) = &assertion.client_assertion {
        if assertion.client_assertion_type.as_deref() != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        if basic.is_some() || form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        return Ok(ClientAuth::Assertion {
            client_id: form_id.map(str::to_owned),
            assertion: a.clone(),
        });
    }
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        )),
        (Some(b64), None) => {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(OAuthError::invalid_client)?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(OAuthError::invalid_client)?;
            // The id and secret are form-urlencoded before Basic encoding.
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let client_id = unescape(id);
            if form_id.is_some_and(|f| f != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the form differs from the Basic credentials",
                ));
            }
            Ok(ClientAuth::Basic {
                client_id,
                secret: unescape(secret),
            })
        }
        (None, Some(secret)) => match form_id {
            Some(id) => Ok(ClientAuth::Post {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            None => Err(OAuthError::invalid_client()),
        },
        (None, None) => Ok(match form_id {
            Some(id) => ClientAuth::None {
                client_id: id.to_owned(),
            },
            None => ClientAuth::Missing,
        }),
    }
}

fn form_or_error<T>(form: Result<Form<T>, FormRejection>) -> Result<T, WebError> {
    form.map(|Form(f)| f).map_err(|e| {
        WebError::OAuth(OAuthError::invalid_request(format!(
            "the body must be application/x-www-form-urlencoded: {}",
            e.body_text()
        )))
    })
}

async fn token(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<TokenParams>, FormRejection>,
) -> Result<Response, WebError> {
    let p = form_or_error(form)?;
    let assertion = AssertionFields {
        client_assertion_type: p.client_assertion_type.clone(),
        client_assertion: p.client_assertion.clone(),
    };
    let auth = client_auth(
        &headers,
        p.client_id.as_deref(),
        p.client_secret.as_deref(),
        &assertion,
    )
    .map_err(WebError::OAuth)?;
    let response = exchange(&state.app, &auth, &p).await?;
    Ok((StatusCode::OK, no_store(), Json(response)).into_response())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

async fn userinfo_get(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let claims = userinfo::userinfo(&state.app, bearer(&headers)).await?;
    Ok((no_store(), Json(claims)).into_response())
}

#[derive(Deserialize, Default)]
struct BodyToken {
    access_token: Option<String>,
}

/// RFC 6750 §2.2: the token may also come in a form body.
async fn userinfo_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<BodyToken>, FormRejection>,
) -> Result<Response, WebError> {
    let body = form.map(|Form(f)| f).unwrap_or_default();
    let token = bearer(&headers).map(str::to_owned).or(body.access_token);
    let claims = userinfo::userinfo(&state.app, token.as_deref()).await?;
    Ok((no_store(), Json(claims)).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(flatten)]
    assertion: AssertionFields,
}

async fn introspect_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, WebError> {
    let f = form_or_error(form)?;
    let auth = client_auth(
        &headers,
        f.client_id.as_deref(),
        f.client_secret.as_deref(),
        &f.assertion,
    )
    .map_err(WebError::OAuth)?;
    let answer = introspect::introspect(&state.app, &auth, f.token.as_deref()).await?;
    Ok((no_store(), Json(answer)).into_response())
}

async fn revoke_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, WebError> {
    let f = form_or_error(form)?;
    let auth = client_auth(
        &headers,
        f.client_id.as_deref(),
        f.client_secret.as_deref(),
        &f.assertion,
    )
    .map_err(WebError::OAuth)?;
    revoke::revoke(&state.app, &auth, f.token.as_deref()).await?;
    Ok((StatusCode::OK, no_store()).into_response())
}

#[derive(Deserialize)]
struct PushedForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    client_secret: Option<String>,
    #[serde(flatten)]
    assertion: AssertionFields,
}

/// RFC 9126: 201 with the request_uri.
async fn par(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<PushedForm>, FormRejection>,
) -> Result<Response, WebError> {
    let f = form_or_error(form)?;
    let auth = client_auth(
        &headers,
        f.params.client_id.as_deref(),
        f.client_secret.as_deref(),
        &f.assertion,
    )
    .map_err(WebError::OAuth)?;
    let answer = pushed::push(&state.app, &auth, f.params).await?;
    Ok((StatusCode::CREATED, no_store(), Json(answer)).into_response())
}

#[derive(Deserialize)]
struct DeviceForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    #[serde(flatten)]
    assertion: AssertionFields,
}

/// RFC 8628 §3.1–3.2.
async fn device_authorization(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Result<Response, WebError> {
    let f = form_or_error(form)?;
    let auth = client_auth(
        &headers,
        f.client_id.as_deref(),
        f.client_secret.as_deref(),
        &f.assertion,
    )
    .map_err(WebError::OAuth)?;
    let answer = device::authorize_device(&state.app, &auth, f.scope.as_deref()).await?;
    Ok((StatusCode::OK, no_store(), Json(answer)).into_response())
}
