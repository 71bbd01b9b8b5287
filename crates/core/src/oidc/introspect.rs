//! Token introspection (RFC 7662) for authenticated clients. A revoked JWT access token
//! answers inactive, although its signature is still good.

use super::OidcError;
use super::clients::{ClientAuth, authenticate};
use super::userinfo::live_access_token;
use crate::App;
use serde_json::Value;
use tessera_domain::oauth::ClientKind;
use tessera_proto::oauth::IntrospectionResponse;

pub async fn introspect(
    app: &App,
    auth: &ClientAuth,
    token: Option<&str>,
) -> Result<IntrospectionResponse, OidcError> {
    let caller = authenticate(app, auth).await?;
    if caller.kind != ClientKind::Confidential {
        return Err(super::OAuthError::invalid_client().into());
    }
    let Some(token) = token else {
        return Err(super::OAuthError::invalid_request("token is required").into());
    };
    let Some(c) = live_access_token(app, token).await? else {
        return Ok(IntrospectionResponse::default());
    };
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let i = |k: &str| c.get(k).and_then(Value::as_i64);
    Ok(IntrospectionResponse {
        active: true,
        scope: s("scope"),
        client_id: s("client_id"),
        username: None,
        token_type: Some("Bearer".into()),
        exp: i("exp"),
        iat: i("iat"),
        sub: s("sub"),
        aud: s("aud"),
        iss: s("iss"),
        jti: s("jti"),
    })
}
