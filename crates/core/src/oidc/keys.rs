//! Signing keys: generated per algorithm, sealed in the database, cached in memory, and
//! published as a JWKS. A rotation makes new keys sign at once; the old ones stay in the
//! JWKS until every token they signed has expired. Each node reloads the key set every
//! few seconds, so a rotation on one node is served by all.

use super::jws::{self, Signer, Verified, Verifier};
use crate::{App, CoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::{SigningAlg, SigningKeyRecord};
use time::Duration;

/// Retired keys stay published this long: longer than any token's lifetime (access tokens
/// live at most a day, ID tokens an hour).
pub const RETIRED_KEY_PUBLICATION: Duration = Duration::hours(25);
/// How stale a node's view of the key set may get.
const RELOAD_AFTER_SECS: i64 = 10;

/// The provider's short-lived in-memory state: the signing keys, the client registrations
/// the endpoints authenticate against (see `clients::ClientCache`), and the access tokens
/// already checked (see `token_cache`).
#[derive(Default)]
pub struct Keyring {
    state: RwLock<Option<Arc<KeySet>>>,
    loaded_at: AtomicI64,
    pub(crate) clients: super::clients::ClientCache,
    /// Access tokens this node has checked (see `token_cache`).
    pub tokens: super::token_cache::TokenCache,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring")
    }
}

pub struct KeySet {
    active: HashMap<SigningAlg, Arc<Signer>>,
    verifiers: HashMap<String, (SigningAlg, Verifier)>,
    /// The JWKS document, rendered once per load.
    pub jwks: Arc<String>,
    pub records: Vec<SigningKeyRecord>,
}

impl KeySet {
    pub fn signer(&self, alg: SigningAlg) -> Result<Arc<Signer>, CoreError> {
        self.active
            .get(&alg)
            .cloned()
            .ok_or_else(|| CoreError::Internal(format!("no active {} signing key", alg.as_str())))
    }

    pub fn verify(&self, token: &str) -> Option<Verified> {
        jws::verify(token, |kid, alg| {
            self.verifiers
                .get(kid)
                .filter(|(a, _)| a.as_str() == alg)
                .map(|(_, v)| v.clone())
        })
    }

    pub(crate) fn knows(&self, kid: &str) -> bool {
        self.verifiers.contains_key(kid)
    }
}

fn seal_context(kid: &str) -> Vec<u8> {
    format!("signing-key:{kid}").into_bytes()
}

fn new_kid(app: &App, alg: SigningAlg) -> String {
    let mut b = [0u8; 9];
    app.random.fill(&mut b);
    use base64::Engine;
    format!(
        "{}-{}",
        alg.as_str().to_lowercase(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// The current key set, reloaded from the database when it is a few seconds old.
pub async fn current(app: &App) -> Result<Arc<KeySet>, CoreError> {
    let now = app.clock.now().unix_timestamp();
    let fresh = now - app.keys.loaded_at.load(Ordering::Relaxed) < RELOAD_AFTER_SECS;
    if fresh && let Some(set) = app.keys.state.read().ok().and_then(|s| s.clone()) {
        return Ok(set);
    }
    reload(app).await
}

async fn reload(app: &App) -> Result<Arc<KeySet>, CoreError> {
    let now = app.clock.now();
    let records = app.db.read().await?.published_signing_keys(now).await?;
    let mut active = HashMap::new();
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    for r in &records {
        let jwk: serde_json::Value = serde_json::from_str(&r.public_jwk)
            .map_err(|e| CoreError::Internal(format!("signing key {}: stored JWK: {e}", r.kid)))?;
        if let Some(v) = Verifier::from_jwk(&jwk) {
            verifiers.insert(r.kid.clone(), (r.alg, v));
        }
        jwks.push(jwk);
        // Newest first: the first unretired key of an algorithm signs.
        if r.retired_at.is_none() && !active.contains_key(&r.alg) {
            let pkcs8 = app.secrets.open(&r.sealed_private, &seal_context(&r.kid))?;
            active.insert(
                r.alg,
                Arc::new(Signer::from_pkcs8(r.alg, r.kid.clone(), &pkcs8)?),
            );
        }
    }
    let doc = serde_json::json!({ "keys": jwks }).to_string();
    let set = Arc::new(KeySet {
        active,
        verifiers,
        jwks: Arc::new(doc),
        records,
    });
    if let Ok(mut s) = app.keys.state.write() {
        *s = Some(set.clone());
    }
    app.keys
        .loaded_at
        .store(now.unix_timestamp(), Ordering::Relaxed);
    Ok(set)
}

/// Verifies a token signed by one of our keys; reloads once for an unknown `kid` (a key
/// another node just created).
pub async fn verify(app: &App, token: &str) -> Result<Option<Verified>, CoreError> {
    let set = current(app).await?;
    if let Some(kid) = jws::peek_kid(token)
        && !set.knows(&kid)
    {
        // At most one reload a second: made-up kids must not turn every request into a
        // database read and three key decryptions.
        let now = app.clock.now().unix_timestamp();
        if now - app.keys.loaded_at.load(Ordering::Relaxed) >= 1 {
            return Ok(reload(app).await?.verify(token));
        }
        return Ok(None);
    }
    Ok(set.verify(token))
}

/// Creates a signing key for every algorithm that has none (first start).
pub async fn ensure(app: &App) -> Result<(), CoreError> {
    let set = reload(app).await?;
    let missing: Vec<SigningAlg> = SigningAlg::ALL
        .into_iter()
        .filter(|a| set.signer(*a).is_err())
        .collect();
    if !missing.is_empty() {
        add_keys(app, &missing, &Actor::System, "keys.create").await?;
    }
    Ok(())
}

/// Rotates every algorithm's key (the CLI's `keys rotate`, and the schedule).
pub async fn rotate(app: &App, actor: &Actor) -> Result<Vec<String>, CoreError> {
    add_keys(app, &SigningAlg::ALL, actor, "keys.rotate").await
}

async fn add_keys(
    app: &App,
    algs: &[SigningAlg],
    actor: &Actor,
    action: &str,
) -> Result<Vec<String>, CoreError> {
    let now = app.clock.now();
    // RSA key generation takes tens of milliseconds: keep it off the async threads.
    let mut generated = Vec::new();
    for &alg in algs {
        let kid = new_kid(app, alg);
        let made = tokio::task::spawn_blocking(move || Signer::generate(alg, kid))
            .await
            .map_err(|e| CoreError::Internal(format!("key generation task: {e}")))??;
        generated.push(made);
    }
    let mut tx = app.db.begin().await?;
    let mut kids = Vec::new();
    for (signer, pkcs8) in &generated {
        let record = SigningKeyRecord {
            kid: signer.kid.clone(),
            alg: signer.alg,
            sealed_private: app.secrets.seal(
                pkcs8,
                &seal_context(&signer.kid),
                app.random.as_ref(),
            )?,
            public_jwk: signer.public_jwk().to_string(),
            created_at: now,
            retired_at: None,
            expires_at: None,
        };
        tx.insert_signing_key(&record).await?;
        tx.retire_signing_keys(signer.alg, &signer.kid, now, now + RETIRED_KEY_PUBLICATION)
            .await?;
        kids.push(signer.kid.clone());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, actor, action, Outcome::Success)
            .detail(serde_json::json!({ "new_kids": kids })),
    )
    .await?;
    tx.commit().await?;
    reload(app).await?;
    Ok(kids)
}

/// Signing keys older than this are replaced by the scheduled rotation.
pub const ROTATE_AFTER: Duration = Duration::days(30);

/// Rotates when the oldest signing key has served `ROTATE_AFTER` (run periodically by
/// every node; a rare double rotation only publishes one extra key for a day).
pub async fn rotate_if_due(app: &App) -> Result<Option<Vec<String>>, CoreError> {
    let set = reload(app).await?;
    let now = app.clock.now();
    let due = set
        .records
        .iter()
        .filter(|r| r.retired_at.is_none())
        .any(|r| now - r.created_at >= ROTATE_AFTER);
    if !due {
        return Ok(None);
    }
    add_keys(
        app,
        &SigningAlg::ALL,
        &Actor::System,
        "keys.rotate_scheduled",
    )
    .await
    .map(Some)
}
