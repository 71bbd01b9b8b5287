//! Token revocation (RFC 7009): a client revokes its own access or refresh tokens. The
//! answer is 200 whether or not the token was known, so it cannot be used as an oracle.

use super::clients::{ClientAuth, authenticate};
use super::{OidcError, keys};
use crate::App;
use serde_json::Value;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::secret::SecretHash;

pub async fn revoke(app: &App, auth: &ClientAuth, token: Option<&str>) -> Result<(), OidcError> {
    let client = authenticate(app, auth).await?;
    let Some(token) = token else {
        return Err(super::OAuthError::invalid_request("token is required").into());
    };
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if token.contains('.') {
        if let Some(v) = keys::verify(app, token).await?
            && v.claims.get("client_id").and_then(Value::as_str) == Some(client.client_id.as_str())
            && let Some(jti) = v.claims.get("jti").and_then(Value::as_str)
        {
            let exp = v.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            tx.revoke_access_token(jti, tessera_domain::clock::from_unix(exp))
                .await?;
        }
    } else if let Some((family, owner)) = tx.refresh_token_family(&SecretHash::of(token)).await?
        && owner == client.id
    {
        tx.revoke_refresh_family(family, now).await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::System, "oauth.revoke", Outcome::Success)
            .target(format!("app:{}", client.id)),
    )
    .await?;
    tx.commit().await?;
    // After the commit: introspection on this node stops reusing "not revoked" answers.
    app.keys.tokens.revoked_here();
    Ok(())
}
