//! The userinfo endpoint (OIDC Core §5.3) and the bearer-token check it shares with
//! introspection: our signature, our issuer, unexpired, not revoked.

use super::token_cache::{self, Known};
use super::{ErrorCode, OAuthError, OidcError, keys, tokens};
use crate::App;
use serde_json::Value;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::oauth::scope::Scopes;

/// The claims of a live access token we issued, or `None`. A token checked before is
/// answered from `token_cache` (no second signature check; a recent "not revoked" reused
/// for at most two seconds, never after a revocation on this node).
pub async fn live_access_token(app: &App, token: &str) -> Result<Option<Arc<Value>>, OidcError> {
    let cache = &app.keys.tokens;
    let key = token_cache::key_of(token);
    let now = app.clock.now();
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let set = keys::current(app).await?;
    let (c, revocation_checked) = match cache.get(&key, now_ms, |kid| set.knows(kid)) {
        Some(Known::Revoked) => return Ok(None),
        Some(Known::Valid {
            claims,
            revocation_checked,
        }) => (claims, revocation_checked),
        None => {
            let Some(v) = keys::verify(app, token).await? else {
                return Ok(None);
            };
            if v.typ.as_deref() != Some("at+jwt") {
                return Ok(None);
            }
            (
                cache.verified(key, v.kid, v.claims, now.unix_timestamp()),
                false,
            )
        }
    };
    let exp_ok = c
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|e| e > now.unix_timestamp());
    let iss_ok = c.get("iss").and_then(Value::as_str) == Some(app.settings.issuer.as_str());
    let Some(jti) = c.get("jti").and_then(Value::as_str) else {
        return Ok(None);
    };
    if !exp_ok || !iss_ok {
        return Ok(None);
    }
    if !revocation_checked {
        // The generation before the read: a revocation on this node while the read is in
        // flight keeps this answer from being reused.
        let generation = cache.generation();
        let revoked = app.db.read().await?.access_token_revoked(jti).await?;
        cache.revocation_read(&key, revoked, generation, now_ms);
        if revoked {
            return Ok(None);
        }
    }
    Ok(Some(c))
}

pub async fn userinfo(app: &App, bearer: Option<&str>) -> Result<Value, OidcError> {
    let invalid = || {
        OAuthError::new(
            ErrorCode::InvalidToken,
            "the access token is invalid, expired or revoked",
        )
    };
    let token = bearer.ok_or_else(invalid)?;
    let claims = live_access_token(app, token).await?.ok_or_else(invalid)?;
    let scope = Scopes::parse(claims.get("scope").and_then(Value::as_str).unwrap_or(""))
        .unwrap_or_default();
    if !scope.contains("openid") {
        // RFC 6750 §3.1: a valid token without the needed scope.
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token was not issued with the openid scope",
        )
        .into());
    }
    let user_id: UserId = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    let user = app
        .db
        .read()
        .await?
        .user_by_id(user_id)
        .await?
        .filter(|u| u.state.may_sign_in())
        .ok_or_else(invalid)?;
    Ok(Value::Object(tokens::user_claims(&user, &scope)))
}
