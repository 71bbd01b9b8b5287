//! Configuration: command-line flags, each also readable from a `DOCS_PORTAL_*` variable.

use anyhow::{Context, bail};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

/// Docs portal: an example relying service that signs people in with Tessera.
#[derive(Parser, Debug)]
#[command(name = "docs-portal", version)]
pub struct Config {
    /// Tessera's issuer URL (discovery is at <issuer>/.well-known/openid-configuration).
    #[arg(
        long,
        env = "DOCS_PORTAL_ISSUER",
        default_value = "http://localhost:8080"
    )]
    pub issuer: String,

    /// The client_id printed by `tessera admin app create`.
    #[arg(long, env = "DOCS_PORTAL_CLIENT_ID")]
    pub client_id: String,

    /// The client secret (sent with client_secret_basic). Leave unset for a public app
    /// (`--public`): PKCE only. Prefer the environment variable to the flag, which other
    /// local users can see in the process list.
    #[arg(long, env = "DOCS_PORTAL_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,

    /// Address to listen on.
    #[arg(long, env = "DOCS_PORTAL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// This service's own public base URL; the redirect URI is <url>/callback and the
    /// post-logout redirect URI <url>/.
    #[arg(long, env = "DOCS_PORTAL_URL", default_value = "http://localhost:3000")]
    pub url: String,

    /// How long to keep retrying discovery while the issuer is not up yet, in seconds.
    #[arg(long, env = "DOCS_PORTAL_DISCOVERY_WAIT", default_value_t = 10)]
    pub discovery_wait: u64,
}

/// The checked configuration the service runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub listen: SocketAddr,
    /// The base URL without a trailing slash.
    pub base_url: String,
    /// The base URL's path without a trailing slash ("" at the root): links and the
    /// cookie path start with it.
    pub base_path: String,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
    /// Cookies get `Secure` when the service is reached over HTTPS.
    pub secure_cookies: bool,
    pub discovery_wait: Duration,
}

impl Config {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        if self.client_id.trim().is_empty() {
            bail!("--client-id (DOCS_PORTAL_CLIENT_ID) is empty");
        }
        let url = Url::parse(&self.url)
            .with_context(|| format!("--url (DOCS_PORTAL_URL) {:?} is not a URL", self.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            bail!("--url (DOCS_PORTAL_URL) must be an http(s) URL with a host");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("--url (DOCS_PORTAL_URL) must not have a query or fragment");
        }
        let base_url = url.as_str().trim_end_matches('/').to_owned();
        let base_path = url.path().trim_end_matches('/').to_owned();
        Url::parse(&self.issuer).with_context(|| {
            format!(
                "--issuer (DOCS_PORTAL_ISSUER) {:?} is not a URL",
                self.issuer
            )
        })?;
        Ok(Settings {
            issuer: self.issuer.clone(),
            client_id: self.client_id.trim().to_owned(),
            client_secret: self.client_secret.clone().filter(|s| !s.is_empty()),
            listen: self.listen,
            redirect_uri: format!("{base_url}/callback"),
            post_logout_redirect_uri: format!("{base_url}/"),
            secure_cookies: url.scheme() == "https",
            base_url,
            base_path,
            discovery_wait: Duration::from_secs(self.discovery_wait),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["docs-portal", "--client-id", "abc"];
        all.extend_from_slice(args);
        match Config::try_parse_from(all) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn derives_the_redirect_uris_from_the_base_url() -> anyhow::Result<()> {
        let s = parse(&["--url", "https://docs.example/portal/"]).settings()?;
        assert_eq!(s.redirect_uri, "https://docs.example/portal/callback");
        assert_eq!(s.post_logout_redirect_uri, "https://docs.example/portal/");
        assert_eq!(s.base_path, "/portal");
        assert!(s.secure_cookies);
        let s = parse(&["--client-secret", ""]).settings()?;
        assert_eq!(s.redirect_uri, "http://localhost:3000/callback");
        assert_eq!(s.base_path, "");
        assert!(
            s.client_secret.is_none(),
            "an empty secret means a public client"
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(parse(&["--url", "ftp://x"]).settings().is_err());
        assert!(parse(&["--url", "http://x/?a=b"]).settings().is_err());
        assert!(parse(&["--issuer", "not a url"]).settings().is_err());
    }
}
