//! Bearer secrets (session cookies, setup links): random, shown once, stored only as a hash.

use crate::Random;
use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A freshly minted secret. Its plain text leaves the process once (in a cookie, a link or
/// a message) and is never stored; the database keeps only [`SecretHash`].
pub struct BearerSecret(String);

impl BearerSecret {
    /// 256 random bits, base64url without padding (43 characters).
    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl std::fmt::Debug for BearerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerSecret(<redacted>)")
    }
}

/// SHA-256 of a high-entropy secret. Plain SHA-256 suffices here: these secrets have 256 bits
/// of entropy, so unlike passwords they cannot be guessed from the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(presented: &str) -> Self {
        let d = digest::digest(&digest::SHA256, presented.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn matches(&self, other: &SecretHash) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededRandom;

    #[test]
    fn secrets_are_long_distinct_and_hash_stably() {
        let r = SeededRandom::new(3);
        let a = BearerSecret::generate(&r);
        let b = BearerSecret::generate(&r);
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(a.hash().matches(&SecretHash::of(a.expose())));
        assert!(!a.hash().matches(&b.hash()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
