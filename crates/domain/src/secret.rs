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

/// A six-digit code for a person to type (email and SMS checks), uniform over 000000–999999.
/// Short codes are guessable, so every use counts attempts and expires quickly.
pub fn six_digit_code(random: &dyn Random) -> String {
    // Rejection sampling: 2^32 is not a multiple of 10^6, and the skew would favour low codes.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let mut b = [0u8; 4];
        random.fill(&mut b);
        let n = u32::from_le_bytes(b);
        if n < LIMIT {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// A random password for a first sign-in, sent by SMS: 14 characters from an alphabet
/// without look-alikes (no 0/O, 1/l/I), about 80 bits.
pub fn initial_password(random: &dyn Random) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(14);
    while out.len() < 14 {
        let mut b = [0u8; 1];
        random.fill(&mut b);
        // Reject bytes past the last whole multiple of the alphabet's size, to stay uniform.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(b[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    out
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

    #[test]
    fn codes_and_initial_passwords_have_their_shape() {
        let r = SeededRandom::new(9);
        let c = six_digit_code(&r);
        assert_eq!(c.len(), 6);
        assert!(c.chars().all(|ch| ch.is_ascii_digit()));
        assert_ne!(c, six_digit_code(&r));
        let p = initial_password(&r);
        assert_eq!(p.chars().count(), 14);
        assert!(!p.contains(['0', 'O', '1', 'l', 'I']));
    }
}
