//! This node's short memory of the access tokens it has checked (introspection, userinfo).
//! A resource server presents the same token on every call, and each check used to cost an
//! ECDSA verification (~50 µs) and a revocation read (a database round trip): together
//! about two thirds of an introspection's CPU.
//!
//! What is kept, by SHA-256 of the token:
//! - the claims of a token whose signature checked out. A signature does not stop being
//!   valid, so this needs no expiry of its own: a hit still requires that the signing key is
//!   in the current key set, and the caller still checks `exp` and `iss` every time;
//! - when the database last said the token was **not** revoked. That answer is reused for
//!   at most [`NOT_REVOKED_FOR_MS`], and never after a revocation made on this node (each
//!   revoking flow calls [`TokenCache::revoked_here`], which makes every remembered answer
//!   stale). So a revocation shows at once on the node that made it, and within
//!   `NOT_REVOKED_FOR_MS` on the others;
//! - that it **is** revoked: revocation is final, so that answer is kept.
//!
//! At most [`TOKEN_CACHE_MAX`] tokens; when full, expired ones go, then everything.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How long "not revoked" may be reused: the bound on how late a revocation made on
/// another node shows here.
pub const NOT_REVOKED_FOR_MS: i64 = 2_000;
pub const TOKEN_CACHE_MAX: usize = 4_096;

pub type TokenKey = [u8; 32];

/// The cache key for `token`.
pub fn key_of(token: &str) -> TokenKey {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

struct Entry {
    kid: String,
    claims: Arc<Value>,
    exp: i64,
    revocation: Revocation,
}

#[derive(Clone, Copy)]
enum Revocation {
    Unknown,
    /// Not revoked, per the database read at this time (ms), in this generation.
    NotRevokedAt {
        at_ms: i64,
        generation: u64,
    },
    Revoked,
}

/// What the cache knows about a token whose signature already checked out.
pub enum Known {
    Revoked,
    /// The claims; `revocation_checked` when a recent enough "not revoked" applies.
    Valid {
        claims: Arc<Value>,
        revocation_checked: bool,
    },
}

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<TokenKey, Entry>>,
    /// Bumped by every revocation on this node; "not revoked" answers of an older
    /// generation are not reused.
    generation: AtomicU64,
}

impl TokenCache {
    /// The current generation: read it before asking the database, pass it to
    /// [`Self::not_revoked`], so a revocation that lands in between is not masked.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called by every flow that revokes access tokens (directly or through their refresh
    /// family), after its statements: no earlier "not revoked" answer is reused.
    pub fn revoked_here(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// `key_known`: whether the signing key is still in the key set.
    pub fn get(
        &self,
        key: &TokenKey,
        now_ms: i64,
        key_known: impl Fn(&str) -> bool,
    ) -> Option<Known> {
        let map = self.entries.lock().ok()?;
        let e = map.get(key)?;
        if !key_known(&e.kid) {
            return None;
        }
        let generation = self.generation();
        Some(match e.revocation {
            Revocation::Revoked => Known::Revoked,
            Revocation::NotRevokedAt {
                at_ms,
                generation: g,
            } => Known::Valid {
                claims: e.claims.clone(),
                revocation_checked: g == generation
                    && now_ms >= at_ms
                    && now_ms - at_ms < NOT_REVOKED_FOR_MS,
            },
            Revocation::Unknown => Known::Valid {
                claims: e.claims.clone(),
                revocation_checked: false,
            },
        })
    }

    /// Remembers a token whose signature checked out; returns its claims, shared.
    pub fn verified(&self, key: TokenKey, kid: String, claims: Value, now_s: i64) -> Arc<Value> {
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let claims = Arc::new(claims);
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= TOKEN_CACHE_MAX && !map.contains_key(&key) {
                map.retain(|_, e| e.exp > now_s);
                if map.len() >= TOKEN_CACHE_MAX {
                    map.clear();
                }
            }
            map.entry(key).or_insert(Entry {
                kid,
                claims: claims.clone(),
                exp,
                revocation: Revocation::Unknown,
            });
        }
        claims
    }

    /// Records the database's answer, read in `generation` at `now_ms`.
    pub fn revocation_read(&self, key: &TokenKey, revoked: bool, generation: u64, now_ms: i64) {
        if let Ok(mut map) = self.entries.lock()
            && let Some(e) = map.get_mut(key)
            && !matches!(e.revocation, Revocation::Revoked)
        {
            e.revocation = if revoked {
                Revocation::Revoked
            } else {
                Revocation::NotRevokedAt {
                    at_ms: now_ms,
                    generation,
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn checked(c: &TokenCache, k: &TokenKey, now_ms: i64) -> Option<bool> {
        match c.get(k, now_ms, |_| true)? {
            Known::Revoked => None,
            Known::Valid {
                revocation_checked, ..
            } => Some(revocation_checked),
        }
    }

    #[test]
    fn not_revoked_is_reused_briefly_and_never_after_a_local_revocation() {
        let c = TokenCache::default();
        let k = key_of("a.b.c");
        c.verified(k, "kid".into(), json!({ "exp": 100 }), 0);
        assert_eq!(checked(&c, &k, 0), Some(false));
        let g = c.generation();
        c.revocation_read(&k, false, g, 1_000);
        assert_eq!(checked(&c, &k, 1_500), Some(true));
        assert_eq!(checked(&c, &k, 1_000 + NOT_REVOKED_FOR_MS), Some(false));
        c.revocation_read(&k, false, g, 5_000);
        c.revoked_here();
        assert_eq!(checked(&c, &k, 5_001), Some(false));
        // A read that began before the revocation does not count either.
        c.revocation_read(&k, false, g, 5_002);
        assert_eq!(checked(&c, &k, 5_003), Some(false));
        c.revocation_read(&k, true, c.generation(), 6_000);
        assert_eq!(checked(&c, &k, 6_001), None);
    }

    #[test]
    fn a_key_no_longer_published_forgets_the_token() {
        let c = TokenCache::default();
        let k = key_of("a.b.c");
        c.verified(k, "old".into(), json!({ "exp": 100 }), 0);
        assert!(c.get(&k, 0, |kid| kid != "old").is_none());
    }

    #[test]
    fn bounded() {
        let c = TokenCache::default();
        for i in 0..TOKEN_CACHE_MAX + 10 {
            c.verified(key_of(&i.to_string()), "k".into(), json!({ "exp": 100 }), 0);
        }
        assert!(c.entries.lock().unwrap().len() <= TOKEN_CACHE_MAX);
    }
}
