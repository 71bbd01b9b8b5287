//! `client_credentials` (RFC 6749 §4.4): a service acting for itself, with the scopes its
//! registration allows and an RFC 8707 `resource` as the audience. Nothing is written:
//! this is the hot path, and such tokens are revoked by `jti`.

use crate::App;
use crate::oidc::token::TokenParams;
use crate::oidc::{ErrorCode, OAuthError, OidcError, tokens};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::oauth::scope::Scopes;
use tessera_proto::oauth::TokenResponse;

pub async fn exchange(
    app: &App,
    client: &OAuthClient,
    p: &TokenParams,
) -> Result<TokenResponse, OidcError> {
    let allowed: Vec<&str> = client.allowed_scopes.iter().map(String::as_str).collect();
    let scope = match p.scope.as_deref() {
        Some(s) => Scopes::parse(s).map_err(|m| OAuthError::new(ErrorCode::InvalidScope, m))?,
        None => Scopes::parse(&client.allowed_scopes.join(" ")).unwrap_or_default(),
    };
    let refused = scope.not_in(&allowed);
    if !refused.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("not allowed for this client: {}", refused.join(" ")),
        )
        .into());
    }
    // RFC 8707 §2: a token only for a resource this app was registered for.
    let audience = match p.resource.as_deref() {
        Some(r) if client.allowed_resources.iter().any(|a| a == r) => r.to_owned(),
        Some(r) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("this client may not get tokens for the resource {r:?}"),
            )
            .into());
        }
        None => app.settings.issuer.clone(),
    };
    let at = tokens::access_token(app, client, &client.client_id, &scope, &audience, None).await?;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer".into(),
        expires_in: client.access_token_ttl_secs,
        refresh_token: None,
        id_token: None,
        scope: scope.to_string(),
    })
}
