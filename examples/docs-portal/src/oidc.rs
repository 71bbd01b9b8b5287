//! The OpenID Connect side: discovery, the HTTP client the `openidconnect` crate uses, and
//! the ID-token type that keeps every claim (not only the standard ones) for display.

use crate::config::Settings;
use anyhow::Context;
use openidconnect::core::{
    CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClientId, ClientSecret, EndSessionUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, ProviderMetadataWithLogout, RedirectUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The client as built from discovery: the authorization endpoint is always known; the
/// token and userinfo endpoints are checked when used.
pub type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Claims beyond the standard ones (`sid`, Tessera's own, …), kept so the page shows all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// An ID token whose claims include [`OtherClaims`].
pub type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What discovery gives us.
pub struct Provider {
    pub client: Client,
    /// The issuer, exactly as the discovery document gives it.
    pub issuer: IssuerUrl,
    pub end_session_endpoint: Option<EndSessionUrl>,
}

/// Discovers the issuer, retrying while it is not reachable yet (e.g. started together).
pub async fn discover_with_retry(http: &Http, settings: &Settings) -> anyhow::Result<Provider> {
    let deadline = Instant::now() + settings.discovery_wait;
    loop {
        match discover(http, settings).await {
            Ok(p) => return Ok(p),
            Err(e) if Instant::now() < deadline => {
                tracing::warn!("issuer not ready yet ({e:#}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fetches the discovery document and the JWKS, and builds the client.
pub async fn discover(http: &Http, settings: &Settings) -> anyhow::Result<Provider> {
    let issuer = IssuerUrl::new(settings.issuer.clone())
        .with_context(|| format!("issuer {:?} is not a URL", settings.issuer))?;
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, http)
        .await
        .with_context(|| format!("OpenID Connect discovery at {} failed", settings.issuer))?;
    let issuer = metadata.issuer().clone();
    let end_session_endpoint = metadata.additional_metadata().end_session_endpoint.clone();
    let redirect = RedirectUrl::new(settings.redirect_uri.clone())
        .with_context(|| format!("redirect URI {:?}", settings.redirect_uri))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        settings.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);
    Ok(Provider {
        client,
        issuer,
        end_session_endpoint,
    })
}

/// An HTTP failure, as the `openidconnect` crate wants it.
#[derive(Debug)]
pub struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The `openidconnect` crate's HTTP client, over reqwest. Redirects are not followed (the
/// specifications require it, against server-side request forgery).
#[derive(Clone)]
pub struct Http(reqwest::Client);

impl Http {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("docs-portal/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self(client))
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(error_chain(&e)))?;
            let mut out = http::Response::builder().status(response.status());
            for (k, v) in response.headers() {
                out = out.header(k, v);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpError(error_chain(&e)))?
                .to_vec();
            out.body(body).map_err(|e| HttpError(e.to_string()))
        })
    }
}

/// An error with its causes ("error sending request: connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn other_claims_survive_parsing() {
        use base64::Engine;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        let claims = serde_json::json!({
            "iss": "http://localhost:8080", "aud": "c", "sub": "u1", "exp": 2000000000,
            "iat": 1700000000, "name": "Root", "sid": "s-1", "amr": ["pwd"],
        });
        let jwt = format!("{}.{}.c2ln", b64(&header), b64(&claims));
        let token = IdToken::from_str(&jwt).unwrap();
        let all = serde_json::to_value(
            token
                .claims(
                    &openidconnect::IdTokenVerifier::<openidconnect::core::CoreJsonWebKey>::new_insecure_without_verification(),
                    |_: Option<&openidconnect::Nonce>| Ok(()),
                )
                .unwrap(),
        )
        .unwrap();
        assert_eq!(all["sid"], "s-1");
        assert_eq!(all["name"], "Root");
        assert_eq!(all["amr"], serde_json::json!(["pwd"]));
        assert_eq!(all["exp"], 2000000000);
    }
}
