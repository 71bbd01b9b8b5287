//! Apps (OAuth clients): registration with a secret shown once, and authentication at the
//! token endpoint (client_secret_basic, client_secret_post, none for public clients).

use super::{OAuthError, OidcError};
use crate::admin::PlatformAdmin;
use crate::{App, CoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use tessera_domain::audit::{AuditEvent, Outcome};
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::oauth::{
    ClientKind, GrantType, OAuthClient, SigningAlg, validate_redirect_uri,
};
use tessera_domain::secret::BearerSecret;
use tessera_domain::tenant::parse_slug;
use tessera_domain::{AppId, DomainError, FieldErrors};

/// What an administrator asks for.
#[derive(Clone, Debug, Default)]
pub struct NewApp {
    pub tenant: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty means the default: authorization_code and refresh_token.
    pub grant_types: Vec<String>,
    /// Scopes a client_credentials token may carry.
    pub scopes: Vec<String>,
    /// RS256 (default) or ES256.
    pub id_token_alg: Option<String>,
    /// Authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Public keys (a JWKS document) for private_key_jwt; no secret is issued then.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Ask users before the first sign-in (third-party apps).
    pub consent_required: bool,
    /// Resources (RFC 8707) client_credentials tokens may be issued for.
    pub resources: Vec<String>,
    /// Sign-ins need phishing-resistant MFA (a passkey).
    pub require_phishing_resistant: bool,
    /// What the app is for.
    pub description: String,
    /// Token lifetimes in seconds; `None` keeps the defaults.
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_idle_ttl_secs: Option<i64>,
    pub refresh_absolute_ttl_secs: Option<i64>,
}

#[derive(Debug)]
pub struct CreatedApp {
    pub client: OAuthClient,
    /// Shown once; only its HMAC is stored.
    pub secret: Option<String>,
}

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 300;
pub const DEFAULT_REFRESH_IDLE_TTL: i64 = 86_400;
pub const DEFAULT_REFRESH_ABSOLUTE_TTL: i64 = 30 * 86_400;

pub async fn create_app(
    app: &App,
    admin: &PlatformAdmin,
    new: NewApp,
) -> Result<CreatedApp, CoreError> {
    let mut errors = FieldErrors::new();
    let checked = check(&new, &mut errors);
    let slug = errors.check("tenant", parse_slug(&new.tenant));
    errors.into_result()?;
    let tenant = match slug {
        Some(s) => app.db.read().await?.tenant_by_slug(&s).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::field("tenant", format!("There is no tenant {:?}.", new.tenant)))?;
    register(app, &tenant, admin.actor(), new, checked).await
}

/// The validated parts of a [`NewApp`] (the rest is taken as given).
#[derive(Clone, Debug)]
pub struct CheckedApp {
    pub name: String,
    pub kind: ClientKind,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub id_token_alg: SigningAlg,
    pub description: String,
    pub access_token_ttl_secs: i64,
    pub refresh_idle_ttl_secs: i64,
    pub refresh_absolute_ttl_secs: i64,
}

/// Checks every field of an app registration, adding a message per bad field.
pub fn check(new: &NewApp, errors: &mut FieldErrors) -> CheckedApp {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        errors.add("name", "An app name has 1–120 characters.");
    }
    let kind = if new.public {
        ClientKind::Public
    } else {
        ClientKind::Confidential
    };
    let mut grant_types = Vec::new();
    let requested = if new.grant_types.is_empty() {
        vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
    } else {
        new.grant_types.clone()
    };
    for g in &requested {
        match GrantType::parse_lenient(g) {
            Some(GrantType::ClientCredentials) if kind == ClientKind::Public => {
                errors.add("grant", "A public client cannot use client_credentials: it has no secret.")
            }
            Some(grant) if !grant_types.contains(&grant) => grant_types.push(grant),
            Some(_) => {}
            None => errors.add(
                "grant",
                format!(
                    "Unknown grant type {g:?}; use authorization_code, refresh_token, client_credentials or device_code."
                ),
            ),
        }
    }
    for uri in &new.redirect_uris {
        if let Err(m) = validate_redirect_uri(uri) {
            errors.add("redirect_uri", m);
        }
    }
    for uri in &new.post_logout_redirect_uris {
        if let Err(m) = validate_redirect_uri(uri) {
            errors.add("post_logout_redirect_uri", m);
        }
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        // OIDC Back-Channel Logout §2.2: an absolute http(s) URI without a fragment.
        let checked = validate_redirect_uri(uri).and_then(|()| {
            if uri.starts_with("http") {
                Ok(())
            } else {
                Err(format!("{uri:?} must be an https URL"))
            }
        });
        if let Err(m) = checked {
            errors.add("backchannel_logout_uri", m);
        }
    }
    for r in &new.resources {
        if !url::Url::parse(r).is_ok_and(|u| u.fragment().is_none() && u.has_host()) {
            errors.add(
                "resource",
                format!("{r:?} must be an absolute URI without a fragment (RFC 8707)."),
            );
        }
    }
    if let Some(doc) = &new.jwks {
        let keys = serde_json::from_str::<serde_json::Value>(doc)
            .ok()
            .and_then(|v| v.get("keys").and_then(|k| k.as_array()).map(|k| k.len()));
        if !matches!(keys, Some(n) if n > 0) {
            errors.add(
                "jwks",
                "Give a JWKS document: {\"keys\": [ … ]} with at least one public key.",
            );
        }
    }
    if let Some(uri) = &new.jwks_uri
        && !url::Url::parse(uri).is_ok_and(|u| {
            u.scheme() == "https"
                || (u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1")))
        })
    {
        errors.add(
            "jwks_uri",
            "The JWKS URI must be https (http only for localhost).",
        );
    }
    if (new.jwks.is_some() || new.jwks_uri.is_some()) && kind == ClientKind::Public {
        errors.add("jwks", "A public client has no keys to authenticate with.");
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        errors.add(
            "redirect_uri",
            "The authorization_code grant needs at least one redirect URI.",
        );
    }
    let scopes = match Scopes::parse(&new.scopes.join(" ")) {
        Ok(s) => s.iter().map(str::to_owned).collect(),
        Err(m) => {
            errors.add("scope", m);
            Vec::new()
        }
    };
    let id_token_alg = match new.id_token_alg.as_deref() {
        None => SigningAlg::RS256,
        Some(a) => SigningAlg::parse(a).unwrap_or_else(|| {
            errors.add("id_token_alg", "Use RS256, ES256 or EdDSA.");
            SigningAlg::RS256
        }),
    };
    let description = errors
        .check(
            "description",
            tessera_domain::tenancy::parse_description(&new.description),
        )
        .unwrap_or_default();
    let access_token_ttl_secs = new
        .access_token_ttl_secs
        .unwrap_or(DEFAULT_ACCESS_TOKEN_TTL);
    if !(60..=86_400).contains(&access_token_ttl_secs) {
        errors.add(
            "access_token_ttl",
            "An access token lives between 60 seconds and 24 hours (86400).",
        );
    }
    let refresh_idle_ttl_secs = new
        .refresh_idle_ttl_secs
        .unwrap_or(DEFAULT_REFRESH_IDLE_TTL);
    if !(300..=90 * 86_400).contains(&refresh_idle_ttl_secs) {
        errors.add(
            "refresh_idle_ttl",
            "A refresh token's idle lifetime is between 300 seconds and 90 days (7776000).",
        );
    }
    let refresh_absolute_ttl_secs = new
        .refresh_absolute_ttl_secs
        .unwrap_or(DEFAULT_REFRESH_ABSOLUTE_TTL.max(refresh_idle_ttl_secs));
    if !(refresh_idle_ttl_secs..=365 * 86_400).contains(&refresh_absolute_ttl_secs) {
        errors.add(
            "refresh_absolute_ttl",
            "A refresh token's absolute lifetime is at least its idle lifetime and at most 365 days (31536000).",
        );
    }
    CheckedApp {
        name,
        kind,
        grant_types,
        scopes,
        id_token_alg,
        description,
        access_token_ttl_secs,
        refresh_idle_ttl_secs,
        refresh_absolute_ttl_secs,
    }
}

/// Registers a checked app under `tenant`, with its first secret (shown once), in one
/// transaction with its audit event.
pub async fn register(
    app: &App,
    tenant: &tessera_domain::tenant::Tenant,
    actor: &tessera_domain::audit::Actor,
    new: NewApp,
    checked: CheckedApp,
) -> Result<CreatedApp, CoreError> {
    let CheckedApp {
        name,
        kind,
        grant_types,
        scopes,
        id_token_alg,
        description,
        access_token_ttl_secs,
        refresh_idle_ttl_secs,
        refresh_absolute_ttl_secs,
    } = checked;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let mut id = [0u8; 16];
    app.random.fill(&mut id);
    let client = OAuthClient {
        id: AppId::new_at(now, app.random.as_ref()),
        tenant_id: tenant.id,
        client_id: URL_SAFE_NO_PAD.encode(id),
        name,
        kind,
        redirect_uris: new.redirect_uris,
        grant_types,
        allowed_scopes: scopes,
        id_token_alg,
        access_token_ttl_secs,
        refresh_idle_ttl_secs,
        refresh_absolute_ttl_secs,
        require_par: new.require_par,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout_uri: new.backchannel_logout_uri,
        jwks: new.jwks,
        jwks_uri: new.jwks_uri,
        consent_required: new.consent_required,
        allowed_resources: new.resources,
        created_at: now,
        require_phishing_resistant: new.require_phishing_resistant,
        description,
        access: Default::default(),
    };
    tx.insert_client(&client).await?;
    let secret = match kind {
        ClientKind::Confidential if client.uses_private_key_jwt() => None,
        ClientKind::Confidential => {
            let secret = BearerSecret::generate(app.random.as_ref());
            tx.insert_client_secret(
                client.id,
                &app.secrets.client_secret_hmac(secret.expose()),
                now,
                None,
            )
            .await?;
            Some(secret.expose().to_owned())
        }
        ClientKind::Public => None,
    };
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, actor, "app.create", Outcome::Success)
            .tenant(tenant.id)
            .target(format!("app:{}", client.id))
            .detail(serde_json::json!({ "tenant": tenant.slug, "client_id": client.client_id, "name": client.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedApp { client, secret })
}

/// How a client presented itself at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `Authorization: Basic` (client_secret_basic).
    Basic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the form (client_secret_post).
    Post { client_id: String, secret: String },
    /// Only `client_id` (public clients).
    None { client_id: String },
    /// A signed client assertion (private_key_jwt, RFC 7523 §2.2).
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
    /// Nothing at all.
    Missing,
}

/// Authenticates a client. Every failure is the same `invalid_client`.
pub async fn authenticate(app: &App, auth: &ClientAuth) -> Result<OAuthClient, OidcError> {
    let (client_id, secret) = match auth {
        ClientAuth::Basic { client_id, secret } | ClientAuth::Post { client_id, secret } => {
            (client_id.as_str(), Some(secret.as_str()))
        }
        ClientAuth::None { client_id } => (client_id.as_str(), None),
        ClientAuth::Missing => return Err(OAuthError::invalid_client().into()),
        ClientAuth::Assertion {
            client_id,
            assertion,
        } => {
            return super::assertion::authenticate(app, client_id.as_deref(), assertion).await;
        }
    };
    if let Some(hit) = app
        .keys
        .clients
        .get(client_id, app.clock.now().unix_timestamp())
        && let Some(client) = accept(app, &hit, secret)
    {
        return Ok(client);
    }
    // Not cached, stale, or the secret matched none of the cached HMACs (it may be one
    // added since): ask the database, which decides.
    let mut r = app.db.read().await?;
    let Some(client) = r.client_by_client_id(client_id).await? else {
        return Err(OAuthError::invalid_client().into());
    };
    let now = app.clock.now();
    let (hmacs, valid_until) = if client.kind == ClientKind::Confidential {
        // The entry must not outlive the first secret to expire (a rotation's overlap).
        let valid_until = r
            .client_secrets(client.id)
            .await?
            .iter()
            .filter(|s| s.valid_at(now))
            .filter_map(|s| s.expires_at)
            .min()
            .map(|t| t.unix_timestamp());
        (r.client_secret_hmacs(client.id, now).await?, valid_until)
    } else {
        (Vec::new(), None)
    };
    drop(r);
    let entry = CachedClient {
        client,
        hmacs,
        valid_until,
    };
    let accepted = accept(app, &entry, secret);
    app.keys
        .clients
        .put(client_id, entry, app.clock.now().unix_timestamp());
    accepted.ok_or_else(|| OAuthError::invalid_client().into())
}

/// The client, if `secret` (or its absence) authenticates it against `entry`.
fn accept(app: &App, entry: &CachedClient, secret: Option<&str>) -> Option<OAuthClient> {
    let client = &entry.client;
    if client.uses_private_key_jwt() {
        // Registered keys mean assertions only: a secret (or nothing) is not enough.
        return None;
    }
    let ok = match (client.kind, secret) {
        (ClientKind::Public, None) => true,
        (ClientKind::Confidential, Some(secret)) => entry
            .hmacs
            .iter()
            .any(|h| app.secrets.client_secret_matches(secret, h)),
        _ => false,
    };
    ok.then(|| client.clone())
}

/// A registration and the HMACs of its valid secrets, as last read from the database.
#[derive(Clone)]
pub struct CachedClient {
    client: OAuthClient,
    hmacs: Vec<[u8; 32]>,
    /// When the first of these secrets expires: the entry is stale from then on.
    valid_until: Option<i64>,
}

/// Client registrations cached for [`CLIENT_CACHE_SECS`], so the token, introspection and
/// revocation endpoints do not read two rows per request (on SQLite each read is a hand-off
/// to the connection's thread and back, which cost more than the whole rest of a
/// client_credentials grant). Only registrations found in the database are kept, at most
/// [`CLIENT_CACHE_MAX`], so made-up client ids cannot fill it. A secret the cache does not
/// know is checked against the database, so a new secret works at once; a registration
/// or secret removed elsewhere keeps working on this node for at most the cache's lifetime,
/// the same bound as a signing-key rotation's (see `keys`).
#[derive(Default)]
pub struct ClientCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, (i64, Arc<CachedClient>)>>,
}

pub const CLIENT_CACHE_SECS: i64 = 5;
pub const CLIENT_CACHE_MAX: usize = 10_000;

impl ClientCache {
    fn get(&self, client_id: &str, now: i64) -> Option<Arc<CachedClient>> {
        let map = self.entries.read().ok()?;
        let (at, entry) = map.get(client_id)?;
        let fresh = now - at < CLIENT_CACHE_SECS
            && now >= *at
            && entry.valid_until.is_none_or(|until| now < until);
        fresh.then(|| entry.clone())
    }

    fn put(&self, client_id: &str, entry: CachedClient, now: i64) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= CLIENT_CACHE_MAX && !map.contains_key(client_id) {
                map.retain(|_, (at, _)| now - *at < CLIENT_CACHE_SECS);
                if map.len() >= CLIENT_CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(client_id.to_owned(), (now, Arc::new(entry)));
        }
    }
}

pub async fn list_apps(app: &App, _: &PlatformAdmin) -> Result<Vec<OAuthClient>, CoreError> {
    Ok(app.db.read().await?.list_clients(None).await?)
}
