//! OAuth clients — "apps" in the portal: who may ask for tokens, and how.

use crate::{AppId, TenantId};
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Can keep a secret (a server-side web app): authenticates at the token endpoint.
    Confidential,
    /// Cannot (a native or browser app): PKCE only, no client authentication.
    Public,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "refresh_token")]
    RefreshToken,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Accepts the short name `device_code` too (CLI and portal forms).
    pub fn parse_lenient(s: &str) -> Option<Self> {
        if s == "device_code" {
            Some(Self::DeviceCode)
        } else {
            Self::parse(s)
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OAuthClient {
    pub id: AppId,
    pub tenant_id: TenantId,
    /// The public identifier clients send as `client_id`.
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Scopes a client_credentials token may carry (user flows use the OIDC scopes).
    pub allowed_scopes: Vec<String>,
    pub id_token_alg: super::SigningAlg,
    pub access_token_ttl_secs: i64,
    pub refresh_idle_ttl_secs: i64,
    pub refresh_absolute_ttl_secs: i64,
    /// Authorization requests must come through PAR (RFC 9126).
    pub require_par: bool,
    /// Where RP-initiated logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where to POST back-channel logout tokens (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// The app's public keys for private_key_jwt (RFC 7523), as a JWKS document...
    pub jwks: Option<String>,
    /// ...or where to fetch it.
    pub jwks_uri: Option<String>,
    /// Ask the user before the first sign-in (third-party apps); first-party apps skip it.
    pub consent_required: bool,
    /// Resources (RFC 8707) client_credentials tokens may be issued for.
    pub allowed_resources: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Sign-ins for this app need phishing-resistant MFA (a passkey, `amr` `hwk`): a
    /// session without one steps up before a code is issued.
    #[serde(default)]
    pub require_phishing_resistant: bool,
    /// What the app is for, as its tenant admins describe it.
    #[serde(default)]
    pub description: String,
    /// Who may sign in to it (checked at `/authorize`).
    #[serde(default)]
    pub access: crate::tenancy::AccessRules,
}

impl OAuthClient {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Authenticates with signed assertions (private_key_jwt) instead of a secret.
    pub fn uses_private_key_jwt(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }
}

/// Checks a redirect URI when an app is registered: absolute, no fragment; https, or http
/// only on a loopback host (RFC 8252 §8.3), or a private-use scheme for native apps.
pub fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|_| format!("{raw:?} is not an absolute URL"))?;
    if url.fragment().is_some() {
        return Err(format!("{raw:?} must not contain a fragment (#…)"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "{raw:?}: plain http is allowed only for localhost, 127.0.0.1 or [::1]"
        )),
        s if s.contains('.') => Ok(()), // private-use scheme, e.g. sg.gov.app:/callback
        s => Err(format!(
            "{raw:?}: the scheme {s:?} is not allowed; use https or a reverse-domain scheme"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Exact match, except that for loopback IP redirect URIs the port may differ (RFC 8252
/// §7.3: native apps listen on an ephemeral port). `localhost` is not given that leeway.
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    r.scheme() == "http"
        && p.scheme() == "http"
        && matches!(r.host_str(), Some("127.0.0.1" | "[::1]"))
        && r.host_str() == p.host_str()
        && r.path() == p.path()
        && r.query() == p.query()
        && p.fragment().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_or_by_loopback_port() {
        assert!(redirect_uri_matches(
            "https://app.gov.sg/cb",
            "https://app.gov.sg/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://app.gov.sg/cb",
            "https://app.gov.sg/cb/"
        ));
        assert!(!redirect_uri_matches(
            "https://app.gov.sg/cb",
            "https://app.gov.sg/cb?x=1"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53211/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:80/cb",
            "http://[::1]:4000/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53211/other"
        ));
        assert!(!redirect_uri_matches(
            "http://localhost:3000/cb",
            "http://localhost:3001/cb"
        ));
    }

    #[test]
    fn registration_refuses_unsafe_redirect_uris() {
        assert!(validate_redirect_uri("https://app.gov.sg/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost:3000/cb").is_ok());
        assert!(validate_redirect_uri("sg.gov.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://app.gov.sg/cb").is_err());
        assert!(validate_redirect_uri("https://app.gov.sg/cb#x").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
    }
}
