//! `Idempotency-Key` on POST: a retried request with the same key and the same content
//! replays the first answer instead of acting twice.
//!
//! POST handlers read their body through [`Idempotent`] and answer through
//! [`Claim::finish`]. Keys belong to the caller (`caller.principal()`), so two callers'
//! keys never meet. The key is reserved in its own transaction before the handler runs; a
//! second request with the key while the first still runs gets 409, one with another
//! method, path or body gets 422. A 2xx answer is stored and replayed (with
//! `Idempotent-Replayed: true`); any other answer frees the key, so a corrected retry runs.
//!
//! Secrets are shown once: a response that carries one marks it with [`ShownOnce`], and
//! the stored copy has those fields set to null plus a `secret_note`, so the key table
//! never holds a secret in clear.

use super::auth::{Resolved, resolve};
use super::problem::ApiError;
use crate::WebState;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_store::{IdempotencyRecord, StoreError};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Marks the JSON fields of a response that hold a secret shown once.
#[derive(Clone, Copy, Debug)]
pub struct ShownOnce(pub &'static [&'static str]);

pub const SECRET_NOTE: &str = "The secret was shown once, in the first response to this \
    request, and is not repeated. If it was lost, create a new secret.";

/// A key is 1–255 visible ASCII characters (a UUID, typically).
fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "An Idempotency-Key is 1–255 visible ASCII characters, such as a UUID.".into(),
            )
        })
}

fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(method.as_str().as_bytes());
    ctx.update(b"\n");
    ctx.update(path.as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A POST's body extractor `B`, run under the request's `Idempotency-Key` (if it has one).
/// The handler hands its result to [`Claim::finish`], which stores or frees the key.
/// A request whose key was used before never reaches the handler: the extractor's
/// rejection is the replay, or the 409/422 problem.
pub struct Idempotent<B>(pub Claim, pub B);

/// The key this request holds, if any.
pub struct Claim {
    state: WebState,
    held: Option<(String, String)>,
}

impl<B> FromRequest<WebState> for Idempotent<B>
where
    B: FromRequest<WebState, Rejection = ApiError> + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Response> {
        let unclaimed = |b| {
            Self(
                Claim {
                    state: state.clone(),
                    held: None,
                },
                b,
            )
        };
        let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY).cloned() else {
            let body = B::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            return Ok(unclaimed(body));
        };
        let (mut parts, body) = req.into_parts();
        let key = parse_key(&raw_key).map_err(IntoResponse::into_response)?;
        let Resolved(Some(caller), _) = resolve(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?
        else {
            // Handlers authenticate before reading the body, so this is not reached; if
            // it were, there is nobody to key on.
            let body = B::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
            return Ok(unclaimed(body));
        };
        let bytes = axum::body::to_bytes(body, super::MAX_BODY)
            .await
            .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
        let record = IdempotencyRecord {
            principal: caller.principal(),
            key,
            fingerprint: fingerprint(&parts.method, parts.uri.path(), &bytes),
            status: None,
            body: None,
            created_at: state.app.clock.now(),
        };
        if !reserve(state, &record)
            .await
            .map_err(IntoResponse::into_response)?
        {
            return Err(earlier(state, &record).await);
        }
        let claim = Claim {
            state: state.clone(),
            held: Some((record.principal, record.key)),
        };
        match B::from_request(Request::from_parts(parts, Body::from(bytes)), state).await {
            Ok(body) => Ok(Self(claim, body)),
            Err(e) => Err(claim.finish(Err::<(), _>(e)).await),
        }
    }
}

impl Claim {
    /// The response to send: a 2xx is stored for replays (without secrets shown once),
    /// anything else frees the key so that a corrected retry runs.
    pub async fn finish(mut self, result: Result<impl IntoResponse, ApiError>) -> Response {
        let response = result.into_response();
        let Some((principal, key)) = self.held.take() else {
            return response;
        };
        if !response.status().is_success() {
            if let Err(e) = release(&self.state, &principal, &key).await {
                tracing::error!(error = ?e, "could not free an idempotency key");
            }
            return response;
        }
        let shown_once = response.extensions().get::<ShownOnce>().copied();
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "could not read a response to store it");
                return ApiError::Internal("response body".into()).into_response();
            }
        };
        let stored = stored_body(&bytes, shown_once);
        if let Err(e) = complete(
            &self.state,
            &principal,
            &key,
            parts.status.as_u16(),
            &stored,
        )
        .await
        {
            // The work is done and committed; the client gets its answer. A retry with
            // this key will be told the request is still running rather than act twice.
            tracing::error!(error = ?e, "could not store an idempotent response");
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

impl Drop for Claim {
    /// A claim dropped unfinished (a bad body, a panic) frees its key.
    fn drop(&mut self) {
        if let Some((principal, key)) = self.held.take() {
            let state = self.state.clone();
            tokio::spawn(async move {
                if let Err(e) = release(&state, &principal, &key).await {
                    tracing::error!(error = ?e, "could not free an idempotency key");
                }
            });
        }
    }
}

/// A POST without a body (an action such as approve).
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(_: Request, _: &S) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// What is kept for a replay: the body, without any secret shown once.
fn stored_body(bytes: &[u8], shown_once: Option<ShownOnce>) -> String {
    let Some(ShownOnce(fields)) = shown_once else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            for f in fields {
                if map.contains_key(*f) {
                    map.insert((*f).to_owned(), serde_json::Value::Null);
                }
            }
            map.insert("secret_note".into(), SECRET_NOTE.into());
            serde_json::Value::Object(map).to_string()
        }
        // Never store what might be a secret in a shape we do not know.
        _ => serde_json::json!({ "secret_note": SECRET_NOTE }).to_string(),
    }
}

/// True when this request now holds the key; false when it was used before.
async fn reserve(state: &WebState, record: &IdempotencyRecord) -> Result<bool, ApiError> {
    let mut tx = state.app.db.begin().await?;
    match tx.reserve_idempotency_key(record).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(StoreError::Duplicate { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The answer to a request whose key was used before.
async fn earlier(state: &WebState, record: &IdempotencyRecord) -> Response {
    let found = match state.app.db.read().await {
        Ok(mut r) => r.idempotency_record(&record.principal, &record.key).await,
        Err(e) => Err(e),
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match found {
        Some(r) if r.fingerprint != record.fingerprint => ApiError::KeyReused.into_response(),
        Some(IdempotencyRecord {
            status: Some(status),
            body: Some(body),
            ..
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut r = (status, body).into_response();
            let headers = r.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        // Reserved but not finished (or freed a moment ago): the first request still runs.
        _ => ApiError::Conflict(
            "A request with this Idempotency-Key is still being processed. Retry in a moment."
                .into(),
        )
        .into_response(),
    }
}

async fn complete(
    state: &WebState,
    principal: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    let mut tx = state.app.db.begin().await?;
    tx.complete_idempotency_key(principal, key, status, body)
        .await?;
    tx.commit().await
}

async fn release(state: &WebState, principal: &str, key: &str) -> Result<(), StoreError> {
    let mut tx = state.app.db.begin().await?;
    tx.release_idempotency_key(principal, key).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_kept_for_replays() {
        let body = br#"{"app":{"id":"x"},"client_secret":"s3cret"}"#;
        let stored = stored_body(body, Some(ShownOnce(&["client_secret"])));
        assert!(!stored.contains("s3cret"), "{stored}");
        let v: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert!(v["client_secret"].is_null());
        assert_eq!(v["app"]["id"], "x");
        assert!(v["secret_note"].is_string());
        assert_eq!(stored_body(b"{\"a\":1}", None), "{\"a\":1}");
    }

    #[test]
    fn keys_and_fingerprints() {
        assert!(parse_key(&HeaderValue::from_static("abc-123")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        assert_ne!(
            fingerprint(&Method::POST, "/a", b"{}"),
            fingerprint(&Method::POST, "/b", b"{}")
        );
    }
}
