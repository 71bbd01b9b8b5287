//! The token endpoint's dispatcher: authenticates the client and checks the grant type
//! once, then hands over to the grant's own module.

use super::clients::{ClientAuth, authenticate};
use super::grants;
use super::{ErrorCode, OAuthError, OidcError};
use crate::App;
use tessera_domain::oauth::GrantType;
use tessera_proto::oauth::TokenResponse;

/// The token request's form fields (RFC 6749 §4.1.3, §6, §4.4; RFC 8707 `resource`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub device_code: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

pub async fn exchange(
    app: &App,
    auth: &ClientAuth,
    p: &TokenParams,
) -> Result<TokenResponse, OidcError> {
    let grant_type = p
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let client = authenticate(app, auth).await?;
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {grant_type:?} is not supported"),
        )
    })?;
    if !client.allows(grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use {grant_type}"),
        )
        .into());
    }
    match grant {
        GrantType::AuthorizationCode => grants::authorization_code::exchange(app, &client, p).await,
        GrantType::RefreshToken => grants::refresh_token::exchange(app, &client, p).await,
        GrantType::ClientCredentials => grants::client_credentials::exchange(app, &client, p).await,
        GrantType::DeviceCode => grants::device_code::exchange(app, &client, p).await,
    }
}
