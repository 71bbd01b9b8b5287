//! Pushed authorization requests (RFC 9126): the client posts its authorization request
//! directly, authenticated, and gets a one-time `request_uri` to send the browser with.

use super::authorize::{AuthorizeParams, Refusal, validate_params};
use super::clients::{ClientAuth, authenticate};
use super::{ErrorCode, OAuthError, OidcError};
use crate::App;
use tessera_domain::oauth::PushedRequest;
use tessera_domain::oauth::grant::PUSHED_REQUEST_LIFETIME;
use tessera_domain::secret::BearerSecret;
use tessera_proto::oauth::PushedAuthorizationResponse;

pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

pub async fn push(
    app: &App,
    auth: &ClientAuth,
    mut p: AuthorizeParams,
) -> Result<PushedAuthorizationResponse, OidcError> {
    let client = authenticate(app, auth).await?;
    if p.client_id
        .as_deref()
        .is_some_and(|c| c != client.client_id)
    {
        return Err(
            OAuthError::invalid_request("client_id differs from the authenticated client").into(),
        );
    }
    if p.request_uri.is_some() {
        return Err(OAuthError::invalid_request("request_uri cannot be pushed").into());
    }
    p.client_id = Some(client.client_id.clone());
    match validate_params(app, &p, None, true).await {
        Ok(_) => {}
        Err(Refusal::Page(m)) => return Err(OAuthError::invalid_request(m).into()),
        Err(Refusal::Redirect(reply)) => {
            let find = |k: &str| {
                reply
                    .params
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            let code = find("error")
                .and_then(|c| {
                    serde_json::from_value::<ErrorCode>(serde_json::Value::String(c)).ok()
                })
                .unwrap_or(ErrorCode::InvalidRequest);
            return Err(
                OAuthError::new(code, find("error_description").unwrap_or_default()).into(),
            );
        }
        Err(Refusal::Core(e)) => return Err(e.into()),
    }
    let now = app.clock.now();
    let secret = BearerSecret::generate(app.random.as_ref());
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", secret.expose());
    let params =
        serde_json::to_string(&p).map_err(|e| crate::CoreError::Internal(e.to_string()))?;
    let mut tx = app.db.begin().await?;
    tx.insert_pushed_request(&PushedRequest {
        request_hash: tessera_domain::secret::SecretHash::of(&request_uri),
        client: client.id,
        params,
        created_at: now,
        expires_at: now + PUSHED_REQUEST_LIFETIME,
    })
    .await?;
    tx.commit().await?;
    Ok(PushedAuthorizationResponse {
        request_uri,
        expires_in: PUSHED_REQUEST_LIFETIME.whole_seconds(),
    })
}
