//! private_key_jwt (RFC 7523 §2.2, OIDC Core §9): a client proves itself with a short-lived
//! JWT signed by a key it registered. Each assertion's `jti` is recorded, so a captured
//! assertion cannot be replayed.

use super::jws::{self, Verifier};
use super::{OAuthError, OidcError};
use crate::App;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::time::Duration;
use tessera_domain::oauth::OAuthClient;

/// Assertions may not claim to live longer than this (they are single use anyway).
const MAX_LIFETIME_SECS: i64 = 600;

fn invalid() -> OidcError {
    OAuthError::invalid_client().into()
}

fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Fetched client key sets, kept a few minutes so assertions do not each cost a fetch.
static FETCHED: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, (i64, Value)>>,
> = std::sync::OnceLock::new();
const FETCHED_TTL_SECS: i64 = 300;

async fn client_keys(app: &App, client: &OAuthClient) -> Option<Value> {
    if let Some(doc) = &client.jwks {
        return serde_json::from_str(doc).ok();
    }
    let uri = client.jwks_uri.as_deref()?;
    let now = app.clock.now().unix_timestamp();
    let cache = FETCHED.get_or_init(Default::default);
    if let Some((at, doc)) = cache.lock().ok()?.get(uri)
        && now - at < FETCHED_TTL_SECS
    {
        return Some(doc.clone());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let response = http.get(uri).send().await.ok()?;
    if !response.status().is_success() {
        tracing::warn!(client = %client.client_id, status = %response.status(), "client JWKS fetch failed");
        return None;
    }
    let doc: Value = response.json().await.ok()?;
    if let Ok(mut c) = cache.lock() {
        c.insert(uri.to_owned(), (now, doc.clone()));
    }
    Some(doc)
}

/// The audience must be the issuer itself, as a single string (or the token endpoint, for
/// clients written to RFC 7523's older advice). Arrays and other endpoints are refused: a
/// client that trusts a second, malicious server could otherwise be made to sign an
/// assertion that the other server replays here (the 2025 audience-injection disclosure;
/// draft-ietf-oauth-rfc7523bis).
fn audience_ok(app: &App, claims: &Value) -> bool {
    let iss = &app.settings.issuer;
    matches!(claims.get("aud"), Some(Value::String(a)) if a == iss || *a == format!("{iss}/token"))
}

pub async fn authenticate(
    app: &App,
    form_client_id: Option<&str>,
    assertion: &str,
) -> Result<OAuthClient, OidcError> {
    let claims = unverified_claims(assertion).ok_or_else(invalid)?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    if claims.get("sub").and_then(Value::as_str) != Some(issuer)
        || form_client_id.is_some_and(|c| c != issuer)
    {
        return Err(invalid());
    }
    let client = app
        .db
        .read()
        .await?
        .client_by_client_id(issuer)
        .await?
        .ok_or_else(invalid)?;
    if !client.uses_private_key_jwt() {
        return Err(invalid());
    }
    let keys = client_keys(app, &client).await.ok_or_else(invalid)?;
    let verified = jws::verify(assertion, |kid, alg| {
        keys.get("keys")?.as_array()?.iter().find_map(|k| {
            let kid_ok = kid.is_empty()
                || k.get("kid")
                    .and_then(Value::as_str)
                    .is_none_or(|k| k == kid);
            let alg_ok = k
                .get("alg")
                .and_then(Value::as_str)
                .is_none_or(|a| a == alg);
            let kty_ok = alg == "EdDSA" && k.get("kty").and_then(Value::as_str) == Some("OKP")
                || matches!(
                    (alg, k.get("kty").and_then(Value::as_str)),
                    ("RS256", Some("RSA")) | ("ES256", Some("EC"))
                );
            (kid_ok && alg_ok && kty_ok)
                .then(|| Verifier::from_jwk(k))
                .flatten()
        })
    })
    .ok_or_else(invalid)?;
    let c = verified.claims;
    let now = app.clock.now().unix_timestamp();
    let exp = c.get("exp").and_then(Value::as_i64).ok_or_else(invalid)?;
    let jti = c
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(invalid)?;
    // RFC 7523 §3: an assertion that is not yet valid is refused too.
    let not_yet = c
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + 5);
    if exp <= now || exp > now + MAX_LIFETIME_SECS || not_yet || !audience_ok(app, &c) {
        return Err(invalid());
    }
    let mut tx = app.db.begin().await?;
    let fresh = tx
        .record_assertion_jti(client.id, jti, tessera_domain::clock::from_unix(exp))
        .await?;
    tx.commit().await?;
    if !fresh {
        tracing::warn!(client = %client.client_id, "a client assertion was replayed");
        return Err(invalid());
    }
    Ok(client)
}
