//! Logout: RP-initiated logout (OIDC RP-Initiated Logout 1.0) decides where the browser
//! goes afterwards; ending a session notifies every app it signed in to by back-channel
//! logout (OIDC Back-Channel Logout 1.0), through the outbox, in the same transaction.

use super::keys;
use crate::{App, CoreError};
use serde_json::Value;
use tessera_domain::UserId;
use tessera_domain::outbox::{Channel, NewMessage};
use tessera_store::Tx;

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct EndSessionParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

/// Where to send the browser after signing out, or why the request is refused.
pub async fn return_address(app: &App, p: &EndSessionParams) -> Result<Option<String>, String> {
    let Some(uri) = p.post_logout_redirect_uri.as_deref() else {
        return Ok(None);
    };
    // The client is named by client_id, or by the audience of an ID token we issued
    // (expired is fine: it only identifies the client).
    let from_hint = match p.id_token_hint.as_deref() {
        Some(t) => {
            let verified = keys::verify(app, t).await.map_err(|e| {
                tracing::error!(error = %e, "logout: cannot check the id_token_hint");
                "Tessera could not check this request. Try again in a moment.".to_owned()
            })?;
            // Only an ID token we issued names the client (typ JWT, our iss).
            let v = verified
                .filter(|v| v.typ.as_deref() == Some("JWT"))
                .filter(|v| {
                    v.claims.get("iss").and_then(Value::as_str)
                        == Some(app.settings.issuer.as_str())
                })
                .ok_or("The id_token_hint is not an ID token from this Tessera.")?;
            v.claims
                .get("aud")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        None => None,
    };
    if let (Some(given), Some(hinted)) = (&p.client_id, &from_hint)
        && given != hinted
    {
        return Err("The client_id does not match the id_token_hint.".into());
    }
    let client_id = p.client_id.clone().or(from_hint).ok_or(
        "The request does not say which application is asking (client_id or id_token_hint).",
    )?;
    let unavailable = |e: tessera_store::StoreError| {
        tracing::error!(error = %e, "logout: database");
        "Tessera could not check this request. Try again in a moment.".to_owned()
    };
    let mut r = app.db.read().await.map_err(unavailable)?;
    let client = r
        .client_by_client_id(&client_id)
        .await
        .map_err(unavailable)?
        .ok_or("The application that sent you here is not registered with Tessera.")?;
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return Err(format!(
            "The application {:?} asked to send you to an address it has not registered.",
            client.name
        ));
    }
    let mut url =
        url::Url::parse(uri).map_err(|_| "The return address is not a valid URL.".to_owned())?;
    if let Some(s) = &p.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(Some(url.to_string()))
}

/// Called inside the transaction that ends a session: queues a back-channel logout for
/// every app the session reached, and revokes its refresh tokens not meant for offline use.
pub async fn notify_apps(
    app: &App,
    tx: &mut dyn Tx,
    sid: &str,
    user: UserId,
) -> Result<usize, CoreError> {
    let now = app.clock.now();
    let mut queued = 0;
    for id in tx.take_session_clients(sid).await? {
        let Some(client) = tx.client_by_id(id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let body = serde_json::json!({
            "client_id": client.client_id,
            "alg": client.id_token_alg.as_str(),
            "sub": user.to_string(),
            "sid": sid,
        });
        app.queue(
            tx,
            NewMessage {
                channel: Channel::BackchannelLogout,
                recipient: uri,
                subject: client.client_id.clone(),
                body: body.to_string(),
            },
        )
        .await?;
        queued += 1;
    }
    tx.revoke_online_refresh_for_sid(sid, now).await?;
    // Before the caller's commit (it owns the transaction): a check on this node that reads
    // in between may reuse "not revoked" for at most `token_cache::NOT_REVOKED_FOR_MS`.
    app.keys.tokens.revoked_here();
    Ok(queued)
}
